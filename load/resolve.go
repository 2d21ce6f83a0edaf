package load

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
)

// lookupNetIP resolves a host name; tests replace it.
var lookupNetIP = net.DefaultResolver.LookupNetIP

// targets are the addresses a Target's host name resolved to, looked up
// once before the first connection, as tcpkali and vegeta do: a login
// storm against a name would otherwise send the resolver a query for
// every connection it opens. A connection tries them in order, as Go's
// dialer tries a name's, starting at the one that last connected: when
// "localhost" resolves to ::1 and 127.0.0.1 and the server listens on
// 127.0.0.1 alone, only the first connection tries ::1.
type targets struct {
	addrs     []string // "ip:port"; none to dial the Target as given
	preferred atomic.Int64
	// lookupErr is why the name did not resolve to an address of use:
	// every dial fails with it
	lookupErr error
}

// resolveTarget looks the Target's host name up. With SourceAddrs, only
// the addresses of their family are kept. When the lookup fails or finds
// no address of use, every dial fails with that error, as a dial by name
// would, and the run counts the outcomes. A Target that is an address,
// one that is not "host:port" and a custom Dial are dialled as given.
func (e *engine) resolveTarget() {
	if e.cfg.Dial != nil {
		return
	}
	host, port, err := net.SplitHostPort(e.cfg.Target)
	if err != nil {
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	found, err := lookupNetIP(ctx, "ip", host)
	if err != nil {
		e.targets.lookupErr = &net.OpError{Op: "dial", Net: "tcp", Err: err}
		return
	}
	for _, a := range found {
		a = a.Unmap()
		if len(e.cfg.SourceAddrs) > 0 && a.Is4() != e.cfg.SourceAddrs[0].Is4() {
			continue
		}
		e.targets.addrs = append(e.targets.addrs, net.JoinHostPort(a.String(), port))
	}
	if len(e.targets.addrs) == 0 {
		family := "IPv6"
		if len(e.cfg.SourceAddrs) > 0 && e.cfg.SourceAddrs[0].Is4() {
			family = "IPv4"
		}
		e.targets.lookupErr = &net.OpError{Op: "dial", Net: "tcp",
			Err: fmt.Errorf("lookup %s: no %s address, the family of the source addresses (found %v)", host, family, found)}
	}
}

// dialTarget connects with dial to the first of the target's addresses
// that takes the connection, starting at the preferred one; it returns
// the first error when none does.
func (e *engine) dialTarget(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error)) (net.Conn, error) {
	t := &e.targets
	if t.lookupErr != nil {
		return nil, t.lookupErr
	}
	if len(t.addrs) == 0 {
		return dial(ctx, "tcp", e.cfg.Target)
	}
	start := t.preferred.Load()
	var first error
	for i := range int64(len(t.addrs)) {
		at := (start + i) % int64(len(t.addrs))
		conn, err := dial(ctx, "tcp", t.addrs[at])
		if err == nil {
			if i > 0 {
				t.preferred.Store(at)
			}
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}
