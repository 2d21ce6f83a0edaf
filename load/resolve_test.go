package load

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeLookup answers for the name server.test with addrs (or err), and
// counts the lookups; the test must not run in parallel with another that
// resolves.
func fakeLookup(t *testing.T, addrs []netip.Addr, err error) *atomic.Int64 {
	var lookups atomic.Int64
	old := lookupNetIP
	lookupNetIP = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		if host != "server.test" {
			return nil, errors.New("unexpected host " + host)
		}
		return addrs, err
	}
	t.Cleanup(func() { lookupNetIP = old })
	return &lookups
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
	lookups := fakeLookup(t, []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")}, nil)
	r := run(t, Config{Target: "server.test:" + port, Schedule: Constant(500), Requests: 50, Churn: true})
	if r.Outcomes[OutcomeOK] != 50 || r.Connections.Opened != 50 {
		t.Errorf("got outcomes %v on %d connections, want 50 ok on 50", r.Outcomes, r.Connections.Opened)
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("got %d lookups of server.test, want 1", n)
	}
	if r.Target != "server.test:"+port {
		t.Errorf("got target %q, want it as given", r.Target)
	}
}

// TestFailedLookupIsAnOutcome checks that a name that does not resolve,
// or resolves to no address of the source addresses' family, fails each
// connection with a dial error that says why, and not the run; the name
// is looked up once all the same.
func TestFailedLookupIsAnOutcome(t *testing.T) {
	for _, tt := range []struct {
		name    string
		found   []netip.Addr
		err     error
		sources []netip.Addr
		want    string
	}{
		{"no such host", nil, &net.DNSError{Err: "no such host", Name: "server.test", IsNotFound: true}, nil,
			"dial tcp: lookup server.test: no such host"},
		{"only IPv6", []netip.Addr{netip.MustParseAddr("::1")}, nil, []netip.Addr{netip.MustParseAddr("127.0.0.1")},
			"dial tcp: lookup server.test: no IPv4 address, the family of the source addresses (found [::1])"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lookups := fakeLookup(t, tt.found, tt.err)
			r := run(t, Config{Target: "server.test:1863", Schedule: Constant(100), Requests: 5, Conns: 1, MaxConns: 1,
				Churn: true, SourceAddrs: tt.sources})
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

// TestDialTriesTheAddressesInOrder checks which addresses a connection
// tries: those resolved, of the source addresses' family only, in order
// from the one that last connected; the Target as given when it is an
// address or not "host:port".
func TestDialTriesTheAddressesInOrder(t *testing.T) {
	v4, v4b, v6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1")
	for _, tt := range []struct {
		name    string
		target  string
		sources []netip.Addr
		found   []netip.Addr
		refuse  string     // the address that refuses connections
		want    [][]string // what three connections, one after the other, try
		lookups int64
	}{
		{"an address", "127.0.0.9:1863", nil, []netip.Addr{v4}, "",
			[][]string{{"127.0.0.9:1863"}, {"127.0.0.9:1863"}, {"127.0.0.9:1863"}}, 0},
		{"a name", "server.test:1863", nil, []netip.Addr{v4, v6}, "",
			[][]string{{"127.0.0.1:1863"}, {"127.0.0.1:1863"}, {"127.0.0.1:1863"}}, 1},
		{"the first refuses", "server.test:1863", nil, []netip.Addr{v6, v4}, "[::1]:1863",
			[][]string{{"[::1]:1863", "127.0.0.1:1863"}, {"127.0.0.1:1863"}, {"127.0.0.1:1863"}}, 1},
		{"IPv4 sources", "server.test:1863", []netip.Addr{v4b}, []netip.Addr{v6, v4b, v4}, "127.0.0.2:1863",
			[][]string{{"127.0.0.2:1863", "127.0.0.1:1863"}, {"127.0.0.1:1863"}, {"127.0.0.1:1863"}}, 1},
		{"no port", "server.test", nil, []netip.Addr{v4}, "",
			[][]string{{"server.test"}, {"server.test"}, {"server.test"}}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lookups := fakeLookup(t, tt.found, nil)
			p, err := newPlan(Config{Target: tt.target, Schedule: Constant(1), SourceAddrs: tt.sources})
			if err != nil {
				t.Fatal(err)
			}
			e := &engine{plan: p, ctx: t.Context()}
			e.resolveTarget()
			for i, want := range tt.want {
				var tried []string
				_, err := e.dialTarget(t.Context(), func(_ context.Context, _, addr string) (net.Conn, error) {
					tried = append(tried, addr)
					if addr == tt.refuse {
						return nil, errors.New("refused")
					}
					return nil, nil
				})
				if err != nil || !slices.Equal(tried, want) {
					t.Errorf("connection %d: tried %q (%v), want %q", i, tried, err, want)
				}
			}
			if n := lookups.Load(); n != tt.lookups {
				t.Errorf("got %d lookups, want %d", n, tt.lookups)
			}
		})
	}
}
