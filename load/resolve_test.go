package load

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeLookup answers for the name server.test with addrs (or err), and
// counts the lookups and keeps the network of the last; the test must
// not run in parallel with another that resolves.
func fakeLookup(t *testing.T, addrs []netip.Addr, err error) (lookups *atomic.Int64, network *atomic.Value) {
	lookups, network = new(atomic.Int64), new(atomic.Value)
	old := lookupNetIP
	lookupNetIP = func(_ context.Context, nw, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		network.Store(nw)
		if host != "server.test" {
			return nil, errors.New("unexpected host " + host)
		}
		return addrs, err
	}
	t.Cleanup(func() { lookupNetIP = old })
	return lookups, network
}

// TestTargetIsResolvedOnce checks that a login storm against a host name
// looks the name up once, not once a connection, and that the
// connections go to the address found that takes them.
func TestTargetIsResolvedOnce(t *testing.T) {
	addr := startServer(t, scripted(func(c net.Conn, trid, _ string) {
		c.Write([]byte("CVR " + trid + " 1 1 1\r\n"))
	}))
	_, port, _ := net.SplitHostPort(addr)
	// ::1 first, where nothing listens: as with "localhost", the first
	// connection moves on to 127.0.0.1, and the later ones start there
	lookups, network := fakeLookup(t, []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")}, nil)
	r := run(t, Config{Target: "server.test:" + port, Schedule: Constant(500), Requests: 50, Churn: true})
	if r.Outcomes[OutcomeOK] != 50 || r.Connections.Opened != 50 {
		t.Errorf("got outcomes %v on %d connections, want 50 ok on 50", r.Outcomes, r.Connections.Opened)
	}
	if n := lookups.Load(); n != 1 || network.Load() != "ip" {
		t.Errorf("got %d lookups of server.test (the last for %v), want 1 for ip", n, network.Load())
	}
	if r.Target != "server.test:"+port {
		t.Errorf("got target %q, want it as given", r.Target)
	}
}

// TestSourceAddrsPickTheFamily checks that a run from source addresses
// looks up the addresses of their family alone.
func TestSourceAddrsPickTheFamily(t *testing.T) {
	for _, tt := range []struct{ source, want string }{{"127.0.0.1", "ip4"}, {"::1", "ip6"}} {
		_, network := fakeLookup(t, []netip.Addr{netip.MustParseAddr(tt.source)}, nil)
		p, err := newPlan(Config{Target: "server.test:1863", Schedule: Constant(1), SourceAddrs: []netip.Addr{netip.MustParseAddr(tt.source)}})
		if err != nil {
			t.Fatal(err)
		}
		e := &engine{plan: p, ctx: t.Context()}
		e.resolveTarget()
		if got := network.Load(); got != tt.want || e.lookupErr != nil {
			t.Errorf("source %s: looked up %v (%v), want %s", tt.source, got, e.lookupErr, tt.want)
		}
	}
}

// TestFailedLookupIsAnOutcome checks that a name that does not resolve
// fails each connection with a dial error that says why, and not the
// run; the name is looked up once all the same.
func TestFailedLookupIsAnOutcome(t *testing.T) {
	for _, tt := range []struct {
		name  string
		found []netip.Addr
		err   error
		want  string
	}{
		{"no such host", nil, &net.DNSError{Err: "no such host", Name: "server.test", IsNotFound: true},
			"dial tcp: lookup server.test: no such host"},
		{"no address", nil, nil, "dial tcp: lookup server.test: no ip4 address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lookups, _ := fakeLookup(t, tt.found, tt.err)
			r := run(t, Config{Target: "server.test:1863", Schedule: Constant(100), Requests: 5, Conns: 1, MaxConns: 1,
				Churn: true, SourceAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}})
			if r.Outcomes[OutcomeDialError] != 5 || r.Connections.Failed != 5 {
				t.Errorf("got outcomes %v, %d failed connections; want 5 dial errors", r.Outcomes, r.Connections.Failed)
			}
			if n := lookups.Load(); n != 1 {
				t.Errorf("got %d lookups, want 1", n)
			}
			if got := r.FirstErrors[OutcomeDialError]; !strings.Contains(got, tt.want) {
				t.Errorf("got first error %q, want %q", got, tt.want)
			}
		})
	}
}
