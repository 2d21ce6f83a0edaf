package load

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// lookupNetIP resolves a host name; tests replace it.
var lookupNetIP = net.DefaultResolver.LookupNetIP

// resolveTarget looks the Target's host name up once, before the first
// connection, as tcpkali and vegeta do: every connection then goes to one
// of its addresses, in turn, with no lookup of its own (a login storm
// against a name would otherwise send the resolver as many queries as it
// opens connections). With SourceAddrs, only the addresses of their
// family are kept. When the lookup fails or finds no address of use,
// every dial fails with that error, as a dial by name would, and the run
// counts the outcomes. A Target that is an address, one that is not
// "host:port" and a custom Dial are dialled as given.
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
	addrs, err := lookupNetIP(ctx, "ip", host)
	if err != nil {
		e.lookupErr = &net.OpError{Op: "dial", Net: "tcp", Err: err}
		return
	}
	for _, a := range addrs {
		a = a.Unmap()
		if len(e.cfg.SourceAddrs) > 0 && a.Is4() != e.cfg.SourceAddrs[0].Is4() {
			continue
		}
		e.targets = append(e.targets, net.JoinHostPort(a.String(), port))
	}
	if len(e.targets) == 0 {
		family := "IPv6"
		if len(e.cfg.SourceAddrs) > 0 && e.cfg.SourceAddrs[0].Is4() {
			family = "IPv4"
		}
		e.lookupErr = &net.OpError{Op: "dial", Net: "tcp",
			Err: fmt.Errorf("lookup %s: no %s address, the family of the source addresses (found %v)", host, family, addrs)}
	}
}

// target returns the address connection id dials.
func (e *engine) target(id int64) string {
	if len(e.targets) == 0 {
		return e.cfg.Target
	}
	return e.targets[id%int64(len(e.targets))]
}
