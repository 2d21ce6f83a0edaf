package load

import (
	"context"
	"syscall"

	"golang.org/x/sys/unix"
)

// bindAddressNoPort lets a connection bound to a local address take its
// port at connect time (IP_BIND_ADDRESS_NO_PORT), when the kernel knows
// the target: a port then serves one connection per target, not one per
// local address, and binding does not search the whole range.
func bindAddressNoPort(_ context.Context, network, _ string, c syscall.RawConn) error {
	if network != "tcp4" {
		return nil
	}
	c.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	return nil
}
