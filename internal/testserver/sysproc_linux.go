//go:build linux

package testserver

import "syscall"

// sysProcAttr kills the server if the test binary dies without running its
// cleanups (e.g. on a `go test -timeout` panic).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
