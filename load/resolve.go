package load

import (
	"context"
	"net"

	"github.com/cvrswarm/cvrswarm/msnp"
)

// lookupNetIP resolves a host name; tests replace it.
var lookupNetIP msnp.LookupFunc = net.DefaultResolver.LookupNetIP

// resolveTarget looks the Target's host name up once, before the first
// connection (see [msnp.ResolvedTCP]), for the addresses of the
// SourceAddrs' family when they are given. When the lookup fails, every
// dial fails with its error, as a dial by name would, and the run counts
// the outcomes. A custom Dial is given the Target as it is.
func (e *engine) resolveTarget() {
	if e.cfg.Dial != nil {
		return
	}
	network := "ip"
	if len(e.cfg.SourceAddrs) > 0 {
		network = "ip6"
		if e.cfg.SourceAddrs[0].Is4() {
			network = "ip4"
		}
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	e.target, e.lookupErr = msnp.ResolveTCP(ctx, e.cfg.Target, network, lookupNetIP)
}

// dialTarget connects with dial to the Target: to the first of its
// addresses that takes the connection.
func (e *engine) dialTarget(ctx context.Context, dial msnp.DialFunc) (net.Conn, error) {
	switch {
	case e.lookupErr != nil:
		return nil, e.lookupErr
	case e.target == nil: // a custom Dial
		return dial(ctx, "tcp", e.cfg.Target)
	}
	return e.target.DialWith(ctx, dial)
}
