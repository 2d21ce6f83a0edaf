//go:build unix

package load

import (
	"math"
	"os"
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
	if warns := CheckLimits(1, 0); len(warns) != 0 {
		t.Errorf("got %q for one connection, want no warning", warns)
	}
	warns := CheckLimits(int(lim.Cur)+1, 0)
	if len(warns) == 0 || !strings.Contains(warns[0], "open-file limit") || !strings.Contains(warns[0], "ulimit -n") {
		t.Errorf("got %q for more connections than the open-file limit, want a warning with the fix", warns)
	}
	if _, err := os.Stat("/proc/sys/net/ipv4/ip_local_port_range"); err != nil {
		return // no port range to compare with
	}
	for _, rate := range []float64{math.Inf(1), 1e6} { // a million new connections a second hold 60 million ports
		warns := CheckLimits(1, rate)
		if len(warns) != 1 || !strings.Contains(warns[0], "ip_local_port_range") {
			t.Errorf("churn at %v/s: got %q, want a warning about the local port range", rate, warns)
		}
	}
}
