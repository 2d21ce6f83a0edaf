//go:build unix

package load

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// CheckLimits compares what a run needs with the system's limits and
// returns a warning with its fix for each one that may bite: the open
// file limit (RLIMIT_NOFILE, which Go raises to the hard limit at start)
// against maxConns, and the local port range against maxConns and, for a
// churn run at churnRate new connections a second (+Inf for no limit),
// the ports that TIME_WAIT holds for a minute after each close.
// When a limit bites during the run, it shows as the outcome no_fds or
// no_ports.
func CheckLimits(maxConns int, churnRate float64) []string {
	var warns []string
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		const spare = 64 // the process's own files, listeners, an embedded server's side
		if uint64(maxConns)+spare > lim.Cur {
			warns = append(warns, fmt.Sprintf("up to %d connections but the open-file limit is %d: raise it (ulimit -n %d, or LimitNOFILE= for a service)",
				maxConns, lim.Cur, 2*maxConns+spare))
		}
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return warns
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return warns
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi < lo {
		return warns
	}
	ports := hi - lo + 1
	if math.IsInf(churnRate, 1) {
		return append(warns, fmt.Sprintf("churn at an unbounded rate can use up the %d local ports of the ephemeral range %d-%d (TIME_WAIT holds each for about a minute): give a -rate, widen the range (sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"), or split the run with -shard across machines",
			ports, lo, hi))
	}
	need := maxConns
	if churnRate > 0 {
		need = max(need, int(churnRate*60)) // TIME_WAIT keeps a closed connection's port for about 60 s
	}
	if need > ports {
		warns = append(warns, fmt.Sprintf("up to %d local ports needed towards one target but the ephemeral range %d-%d has %d: widen it (sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"), or split the run with -shard across machines",
			need, lo, hi, ports))
	}
	return warns
}
