package load

import (
	"context"
	"net"
	"net/netip"
	"strings"
)

// maxSourceAddrs bounds what [ParseSourceAddrs] accepts: far more local
// addresses than any run needs, and a list that stays small.
const maxSourceAddrs = 4096

// ParseSourceAddrs reads the local addresses of [Config.SourceAddrs]: a
// comma-separated list of addresses and ranges FIRST-LAST of consecutive
// ones, such as "127.0.0.1-127.0.0.8" or "10.0.0.5,10.0.0.7". A bad list
// is a *FieldError of SourceAddrs.
func ParseSourceAddrs(s string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		first, last, isRange := strings.Cut(part, "-")
		from, err := netip.ParseAddr(strings.TrimSpace(first))
		if err != nil {
			return nil, fieldErr("SourceAddrs", "%q: want an IP address or a range such as 127.0.0.1-127.0.0.8", part)
		}
		to := from
		if isRange {
			if to, err = netip.ParseAddr(strings.TrimSpace(last)); err != nil || to.BitLen() != from.BitLen() || to.Less(from) {
				return nil, fieldErr("SourceAddrs", "%q: want a range FIRST-LAST of one family, FIRST not after LAST", part)
			}
		}
		for a := from; ; a = a.Next() {
			if len(addrs) == maxSourceAddrs {
				return nil, fieldErr("SourceAddrs", "%q: more than %d addresses", s, maxSourceAddrs)
			}
			addrs = append(addrs, a)
			if a == to {
				break
			}
		}
	}
	return addrs, nil
}

// dial connects to the target (see [engine.dialTarget]) within the
// timeout: through Config.Dial when it is set, else from the next of the
// SourceAddrs (connection id picks it), or from wherever the system
// chooses.
func (e *engine) dial(id int64) (net.Conn, Outcome) {
	dial := e.cfg.Dial
	if dial == nil {
		// No TCP keep-alive: a run's connections are busy or closed by it,
		// and turning it on costs four system calls a connection.
		d := net.Dialer{KeepAlive: -1}
		if len(e.localAddrs) > 0 {
			d.LocalAddr, d.ControlContext = e.localAddrs[id%int64(len(e.localAddrs))], bindAddressNoPort
		}
		dial = d.DialContext
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.timeout)
	defer cancel()
	conn, err := e.dialTarget(ctx, dial)
	if err != nil {
		return nil, e.causes.noteErr(classifyDial(err), "", err)
	}
	return conn, OutcomeOK
}
