package listen

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func setOptions(fd uintptr, o Options) error {
	if o.NotSentLowat > 0 {
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, o.NotSentLowat); err != nil {
			return fmt.Errorf("listen: TCP_NOTSENT_LOWAT: %w", err)
		}
	}
	return nil
}

// notSentLowat reads the option of a socket (tests).
func notSentLowat(fd uintptr) (int, error) {
	return unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
}
