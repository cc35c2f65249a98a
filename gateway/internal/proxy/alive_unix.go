//go:build unix

package proxy

import (
	"errors"
	"net"
	"syscall"
)

// alive reports whether an idle upstream connection is still open: one non-blocking
// peek, which finds nothing to read (EAGAIN) on a live connection, end of file on one
// the upstream closed, and data on one it wrote to unasked (a 408, say), which cannot
// be reused either.
func alive(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var (
		buf  [1]byte
		rerr error
	)
	if err := raw.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait
	}); err != nil {
		return false
	}
	return errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
}
