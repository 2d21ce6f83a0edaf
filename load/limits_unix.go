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

// CheckLimits compares what this process's share of cfg needs with the
// system's limits and returns a warning with its fix for each one that
// may bite: the open file limit (RLIMIT_NOFILE, which Go raises to the
// hard limit at start) against MaxConns, and the local ports towards the
// target (the ephemeral range, once per address of SourceAddrs) against
// MaxConns and, for a churn run, against the ports TIME_WAIT holds for a
// minute after each close at the schedule's peak rate. When a limit bites
// during the run, it shows as the outcome no_fds or no_ports.
func CheckLimits(cfg Config) []string {
	maxConns := cfg.Shard.Share(max(cmp0(cfg.MaxConns, DefaultMaxConns), cmp0(cfg.Conns, DefaultConns)), 1)
	churnRate := 0.0
	if cfg.Churn {
		churnRate = cfg.Schedule.Shard(cfg.Shard).Peak()
	}
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
	addrs := max(len(cfg.SourceAddrs), 1)
	ports := (hi - lo + 1) * addrs
	from := fmt.Sprintf("the %d local ports of the ephemeral range %d-%d", ports, lo, hi)
	if addrs > 1 {
		from = fmt.Sprintf("the %d local ports of the ephemeral range %d-%d on %d source addresses", ports, lo, hi, addrs)
	}
	const fixes = `widen the range (sysctl -w net.ipv4.ip_local_port_range="1024 65535"), spread the connections over more local addresses (-source-addrs 127.0.0.1-127.0.0.8 on loopback), or split the run with -shard across machines`
	if math.IsInf(churnRate, 1) {
		return append(warns, fmt.Sprintf("churn at an unbounded rate can use up %s (TIME_WAIT holds each for about a minute): give a -rate, %s", from, fixes))
	}
	need := maxConns
	if churnRate > 0 {
		need = max(need, int(churnRate*60)) // TIME_WAIT keeps a closed connection's port for about 60 s
	}
	if need > ports {
		warns = append(warns, fmt.Sprintf("up to %d local ports needed towards one target but %s cannot cover them: %s", need, from, fixes))
	}
	return warns
}
