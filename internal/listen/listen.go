// Package listen opens the server's TCP listener with the socket options
// Wharf serves with.
package listen

import (
	"context"
	"net"
	"syscall"
)

// Options are socket options of the accepted connections.
type Options struct {
	// NotSentLowat caps the bytes a connection keeps queued but not yet
	// sent (TCP_NOTSENT_LOWAT; Linux only; 0 = the kernel's default, which
	// is unlimited). With a small cap, a blob GET hands the kernel data as
	// the peer takes it instead of parking megabytes per connection in
	// the send queue: less kernel memory per pull, and the sending work
	// stays on the server's own CPU instead of the ACK-processing path.
	NotSentLowat int
}

// TCP listens on addr. Linux does not copy TCP_NOTSENT_LOWAT from a
// listener to the sockets it accepts, so each accepted connection gets it.
func TCP(ctx context.Context, addr string, o Options) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil || o == (Options{}) {
		return ln, err
	}
	return &listener{Listener: ln, o: o}, nil
}

type listener struct {
	net.Listener
	o Options
}

// Accept sets the options on the connection; one that cannot take them is
// served with the kernel's defaults rather than refused.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) { _ = setOptions(fd, l.o) })
		}
	}
	return c, nil
}
