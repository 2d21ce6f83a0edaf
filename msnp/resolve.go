package msnp

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
)

// LookupFunc resolves a host name to its addresses of a network ("ip",
// "ip4" or "ip6"), as (*net.Resolver).LookupNetIP does.
type LookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// DialFunc opens a connection, as (*net.Dialer).DialContext does.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// ResolvedTCP is a server at a TCP "host:port" whose host name was
// looked up once, by [ResolveTCP]: a tool that opens thousands of
// connections, or one for each fuzz case, would otherwise send the
// resolver a query for each, and a resolver's hiccup would look like a
// server that refuses connections. A connection tries the addresses in
// order, as Go's dialer tries a name's, starting at the one that last
// took a connection: when "localhost" resolves to ::1 and 127.0.0.1 and
// the server listens on 127.0.0.1 alone, only the first connection tries
// ::1. It is safe for concurrent use.
type ResolvedTCP struct {
	name      string
	addrs     []string // "ip:port"
	preferred atomic.Int64
}

var _ Target = (*ResolvedTCP)(nil)

// ResolveTCP looks up the host name of hostport with lookup (nil means
// net.DefaultResolver's), keeping the addresses of network: "ip" for
// any, "ip4" or "ip6". An address, or a hostport that is not
// "host:port", is kept as it is, with no lookup. A failed lookup is
// returned as the *net.OpError a dial by name would have given.
func ResolveTCP(ctx context.Context, hostport, network string, lookup LookupFunc) (*ResolvedTCP, error) {
	r := &ResolvedTCP{name: hostport, addrs: []string{hostport}}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return r, nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return r, nil
	}
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	found, err := lookup(ctx, network, host)
	if err == nil && len(found) == 0 {
		err = &net.DNSError{Err: "no " + network + " address", Name: host, IsNotFound: true}
	}
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	r.addrs = r.addrs[:0]
	for _, a := range found {
		r.addrs = append(r.addrs, net.JoinHostPort(a.Unmap().String(), port))
	}
	return r, nil
}

// Addrs returns the addresses connections try, in order.
func (r *ResolvedTCP) Addrs() []string { return append([]string(nil), r.addrs...) }

// DialWith connects with dial to the first address that takes the
// connection, starting at the one that last did; it returns the first
// error when none does.
func (r *ResolvedTCP) DialWith(ctx context.Context, dial DialFunc) (net.Conn, error) {
	start := r.preferred.Load()
	n := int64(len(r.addrs))
	var first error
	for i := range n {
		at := (start + i) % n
		conn, err := dial(ctx, "tcp", r.addrs[at])
		if err == nil {
			if i > 0 {
				r.preferred.Store(at)
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

// Dial connects as a [TCPTarget] does, to the first address that takes
// the connection; ctx bounds the connect.
func (r *ResolvedTCP) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return r.DialWith(ctx, d.DialContext)
}

// String returns the "host:port" as given.
func (r *ResolvedTCP) String() string { return r.name }
