package e2e

import "syscall"

// serverProcAttr makes the kernel kill the server if the test binary dies
// (for example on a `go test -timeout` panic), so no server outlives a run.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
