//go:build unix

package load

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestCheckLimits(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	if lim.Cur > 1<<30 {
		t.Skipf("open-file limit %d: nothing can exceed it", lim.Cur)
	}
	if warns := CheckLimits(Config{Conns: 1, MaxConns: 1}); len(warns) != 0 {
		t.Errorf("got %q for one connection, want no warning", warns)
	}
	warns := CheckLimits(Config{MaxConns: int(lim.Cur) + 1})
	if len(warns) == 0 || !strings.Contains(warns[0], "open-file limit") || !strings.Contains(warns[0], "ulimit -n") {
		t.Errorf("got %q for more connections than the open-file limit, want a warning with the fix", warns)
	}
	if warns := CheckLimits(Config{MaxConns: 2 * int(lim.Cur), Shard: Shard{1, 4}}); len(warns) != 0 {
		t.Errorf("got %q for a quarter of twice the open-file limit, want no warning", warns)
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return // no port range to compare with
	}
	f := strings.Fields(string(b))
	lo, _ := strconv.Atoi(f[0])
	hi, _ := strconv.Atoi(f[1])
	ports := hi - lo + 1
	for _, s := range []Schedule{Unbounded(), Constant(1e6)} { // a million new connections a second hold 60 million ports
		warns := CheckLimits(Config{Conns: 1, MaxConns: 1, Churn: true, Schedule: s})
		if len(warns) != 1 || !strings.Contains(warns[0], "ip_local_port_range") || !strings.Contains(warns[0], "-source-addrs") {
			t.Errorf("churn at %s: got %q, want a warning about the local port range, with its fixes", s, warns)
		}
	}
	// past the fd limit too, but the ports are what this checks
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
	hasPorts := func(ws []string) bool {
		for _, w := range ws {
			if strings.Contains(w, "local ports needed") {
				return true
			}
		}
		return false
	}
	if !hasPorts(CheckLimits(Config{MaxConns: ports + 1})) {
		t.Errorf("got no port warning for %d connections from one address with %d ports", ports+1, ports)
	}
	if ws := CheckLimits(Config{MaxConns: ports + 1, SourceAddrs: addrs}); hasPorts(ws) {
		t.Errorf("got %q for %d connections from two addresses with %d ports each, want no port warning", ws, ports+1, ports)
	}
}
