//go:build unix

package load

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection is still usable: not closed
// by the peer and with no unsolicited bytes waiting. It peeks without
// blocking.
func alive(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	switch {
	case err != nil:
		return false
	case perr == syscall.EAGAIN || perr == syscall.EWOULDBLOCK:
		return true // nothing to read: open and quiet
	}
	return false // closed (n == 0), unsolicited bytes (n > 0), or an error
}
