//go:build !linux

package load

import (
	"context"
	"syscall"
)

// bindAddressNoPort has no such option to set on this system.
func bindAddressNoPort(context.Context, string, string, syscall.RawConn) error { return nil }
