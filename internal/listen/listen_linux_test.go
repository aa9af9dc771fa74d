package listen

import (
	"context"
	"net"
	"testing"
)

// The option must be on the connections the listener accepts (they send
// the blobs), and only when asked for.
func TestNotSentLowatOnAcceptedConnections(t *testing.T) {
	for _, want := range []int{16 << 10, 0} {
		ln, err := TCP(context.Background(), "127.0.0.1:0", Options{NotSentLowat: want})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err == nil {
				defer c.Close()
				var b [1]byte
				c.Read(b[:])
			}
		}()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var got int
		var gerr error
		raw.Control(func(fd uintptr) { got, gerr = notSentLowat(fd) })
		c.Close()
		if gerr != nil {
			t.Fatal(gerr)
		}
		if want > 0 && got != want {
			t.Fatalf("accepted connection has TCP_NOTSENT_LOWAT %d, want %d", got, want)
		}
		if want == 0 && got == 16<<10 {
			t.Fatalf("option set without being asked for")
		}
	}
}
