package fuzz

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// fakeLookup answers for server.test with addrs (or err) and counts the
// lookups; the test must not run in parallel with another that resolves.
func fakeLookup(t *testing.T, addrs []netip.Addr, err error) *int {
	lookups := 0
	old := lookupNetIP
	lookupNetIP = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		lookups++
		if host != "server.test" {
			t.Errorf("looked up %q, want server.test", host)
		}
		return addrs, err
	}
	t.Cleanup(func() { lookupNetIP = old })
	return &lookups
}

// TestTargetNameIsResolvedOnce checks that a campaign against a host name
// looks it up once, not for each case, and keeps the name as given; its
// first address refuses connections, as ::1 does for "localhost" when the
// server listens on 127.0.0.1 alone, and no finding comes of it.
func TestTargetNameIsResolvedOnce(t *testing.T) {
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Addr())
	lookups := fakeLookup(t, []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")}, nil)
	res, err := Run(context.Background(), Config{Oracle: Oracle{Target: msnp.TCPTarget("server.test:" + port)}, Seed: 1, Cases: 300})
	if err != nil {
		t.Fatal(err)
	}
	if *lookups != 1 {
		t.Errorf("got %d lookups of server.test, want 1", *lookups)
	}
	if res.Cases != 300 || len(res.Findings) != 0 || res.Target != "server.test:"+port {
		t.Errorf("got %d cases, %d findings against %q; want 300, none, server.test:%s", res.Cases, len(res.Findings), res.Target, port)
	}
}

// TestTargetNameThatDoesNotResolve checks that a campaign against a name
// that does not resolve stops before its first case, saying so.
func TestTargetNameThatDoesNotResolve(t *testing.T) {
	fakeLookup(t, nil, &net.DNSError{Err: "no such host", Name: "server.test", IsNotFound: true})
	res, err := Run(context.Background(), Config{Oracle: Oracle{Target: msnp.TCPTarget("server.test:1863")}, Seed: 1, Cases: 10})
	want := "target server.test:1863: dial tcp: lookup server.test: no such host"
	if err == nil || err.Error() != want || res.Cases != 0 {
		t.Errorf("got %v after %d cases, want %q before any", err, res.Cases, want)
	}
}
