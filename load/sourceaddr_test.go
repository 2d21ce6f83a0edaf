package load

import (
	"errors"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

func TestParseSourceAddrs(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		in   string
		want []netip.Addr
		bad  string // in the error, when it fails
	}{
		{in: "127.0.0.1", want: []netip.Addr{a("127.0.0.1")}},
		{in: "127.0.0.1-127.0.0.3", want: []netip.Addr{a("127.0.0.1"), a("127.0.0.2"), a("127.0.0.3")}},
		{in: "10.0.0.255-10.0.1.0, 10.0.0.7", want: []netip.Addr{a("10.0.0.255"), a("10.0.1.0"), a("10.0.0.7")}},
		{in: "::1-::2", want: []netip.Addr{a("::1"), a("::2")}},
		{in: "", bad: "want an IP address"},
		{in: "localhost", bad: "want an IP address"},
		{in: "127.0.0.9-127.0.0.1", bad: "FIRST not after LAST"},
		{in: "127.0.0.1-::1", bad: "of one family"},
		{in: "10.0.0.0-10.1.0.0", bad: "more than 4096"},
	}
	for _, tt := range tests {
		got, err := ParseSourceAddrs(tt.in)
		if tt.bad != "" {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "SourceAddrs" || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("%q: got error %v, want a SourceAddrs error saying %q", tt.in, err, tt.bad)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%q: got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestSourceAddrs checks that the connections come from the source
// addresses in turn.
func TestSourceAddrs(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	from := map[string]int{}
	srv, err := msnptest.NewServer(func(c net.Conn) {
		mu.Lock()
		from[c.RemoteAddr().(*net.TCPAddr).IP.String()]++
		mu.Unlock()
		msnptest.Canned(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addrs, err := ParseSourceAddrs("127.0.0.2-127.0.0.4")
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, Config{Target: srv.Addr(), Schedule: Constant(1000), Requests: 30, Conns: 6, SourceAddrs: addrs})
	if r.Outcomes[OutcomeOK] != 30 {
		t.Fatalf("got outcomes %v, want 30 ok", r.Outcomes)
	}
	if c := r.Connections; c.SetupOpened != 6 || c.SetupS <= 0 {
		t.Errorf("got %d connections opened before the start in %vs, want 6 in some time", c.SetupOpened, c.SetupS)
	}
	srv.Close()
	// six or more (more when all were busy at a due time), the addresses in turn
	counts := slices.Collect(maps.Values(from))
	if len(from) != 3 || from["127.0.0.2"] < 2 || slices.Max(counts)-slices.Min(counts) > 1 {
		t.Errorf("got connections from %v, want the source addresses in turn, two at least from each", from)
	}
	if err := (Config{Target: "x:1", Schedule: Constant(1), SourceAddrs: addrs, Dial: (&net.Dialer{}).DialContext}).Validate(); err == nil {
		t.Error("got no error for SourceAddrs with Dial, want one")
	}
}
