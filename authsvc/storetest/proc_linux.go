//go:build linux

package storetest

import "syscall"

// childProcAttr makes the kernel kill a server child when the test binary dies
// without reaching Main's cleanup (a panic, a -timeout, a SIGKILL), so no
// redis-server outlives its tests.
//
// PR_SET_PDEATHSIG fires when the OS thread that started the child exits; the Go
// runtime keeps its threads for the life of the process unless a goroutine exits while
// locked to one, which this package never does.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
