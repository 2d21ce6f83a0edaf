package msnp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
)

// TestResolveTCP checks what a target resolves to: an address or a
// hostport that is not "host:port" as it is, with no lookup; a name to
// its addresses, looked up for the network asked; a failed or empty
// lookup to the dial error a dial by name would give.
func TestResolveTCP(t *testing.T) {
	found := []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1"), netip.MustParseAddr("::1")}
	for _, tt := range []struct {
		name, hostport, network string
		found                   []netip.Addr
		err                     error
		want                    []string
		wantErr                 string
		lookups                 int
	}{
		{"an address", "127.0.0.9:1863", "ip", found, nil, []string{"127.0.0.9:1863"}, "", 0},
		{"an IPv6 address", "[::1]:1863", "ip", found, nil, []string{"[::1]:1863"}, "", 0},
		{"no port", "server.test", "ip", found, nil, []string{"server.test"}, "", 0},
		{"a name", "server.test:1863", "ip4", found, nil, []string{"127.0.0.1:1863", "[::1]:1863"}, "", 1},
		{"no such host", "server.test:1863", "ip", nil, &net.DNSError{Err: "no such host", Name: "server.test"},
			nil, "dial tcp: lookup server.test: no such host", 1},
		{"no address", "server.test:1863", "ip6", nil, nil, nil, "dial tcp: lookup server.test: no ip6 address", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lookups := 0
			lookup := func(_ context.Context, network, host string) ([]netip.Addr, error) {
				lookups++
				if network != tt.network || host != "server.test" {
					t.Errorf("looked up %s %q, want %s server.test", network, host, tt.network)
				}
				return tt.found, tt.err
			}
			r, err := ResolveTCP(t.Context(), tt.hostport, tt.network, lookup)
			if lookups != tt.lookups {
				t.Errorf("got %d lookups, want %d", lookups, tt.lookups)
			}
			if tt.wantErr != "" {
				var op *net.OpError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &op) {
					t.Errorf("got %v, want the *net.OpError %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(r.Addrs(), tt.want) || r.String() != tt.hostport {
				t.Errorf("got %v named %q (%v), want %v named %q", r.Addrs(), r.String(), err, tt.want, tt.hostport)
			}
		})
	}
}

// TestResolvedTCPDialsInOrder checks which addresses successive
// connections try: in order, from the one that last took a connection.
func TestResolvedTCPDialsInOrder(t *testing.T) {
	r := &ResolvedTCP{name: "server.test:1863", addrs: []string{"[::1]:1863", "127.0.0.1:1863", "127.0.0.2:1863"}}
	refusing := map[string]bool{"[::1]:1863": true}
	for i, want := range [][]string{
		{"[::1]:1863", "127.0.0.1:1863"}, // the first refuses: the second takes it, and is tried first from now on
		{"127.0.0.1:1863"},
		{"127.0.0.1:1863", "127.0.0.2:1863"}, // then it refuses too
		{"127.0.0.2:1863"},
		{"127.0.0.2:1863", "[::1]:1863", "127.0.0.1:1863"}, // all refuse: the first error
	} {
		if i == 2 {
			refusing["127.0.0.1:1863"] = true
		}
		if i == 4 {
			refusing["127.0.0.2:1863"] = true
		}
		var tried []string
		_, err := r.DialWith(t.Context(), func(_ context.Context, _, addr string) (net.Conn, error) {
			tried = append(tried, addr)
			if refusing[addr] {
				return nil, errors.New("refused by " + addr)
			}
			return nil, nil
		})
		if !slices.Equal(tried, want) {
			t.Errorf("connection %d: tried %q, want %q", i, tried, want)
		}
		if wantErr := i == 4; (err != nil) != wantErr || (wantErr && err.Error() != "refused by 127.0.0.2:1863") {
			t.Errorf("connection %d: got error %v, want one only when all refuse, the first's", i, err)
		}
	}
}

// TestResolvedTCPStopsWithTheContext checks that a connection tries no
// more addresses once its context has ended.
func TestResolvedTCPStopsWithTheContext(t *testing.T) {
	r := &ResolvedTCP{name: "server.test:1863", addrs: []string{"127.0.0.1:1863", "127.0.0.2:1863"}}
	ctx, cancel := context.WithCancel(t.Context())
	tried := 0
	_, err := r.DialWith(ctx, func(ctx context.Context, _, _ string) (net.Conn, error) {
		tried++
		cancel()
		return nil, ctx.Err()
	})
	if tried != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("tried %d addresses (%v), want 1 and the context's error", tried, err)
	}
}
