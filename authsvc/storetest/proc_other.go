//go:build !linux

package storetest

import "syscall"

// childProcAttr returns nil: outside Linux there is no parent-death signal, so a
// server child outlives a test binary that dies before Main's cleanup.
func childProcAttr() *syscall.SysProcAttr {
	return nil
}
