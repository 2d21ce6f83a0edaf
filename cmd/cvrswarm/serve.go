package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/metrics"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func init() {
	register(&command{
		name: "serve", order: 10, summary: "run the reference CVR server until Ctrl-C",
		example: "cvrswarm serve -addr 127.0.0.1:1863 -role ds",
		details: serveDetails,
		run:     runServe,
	})
}

// serveMaxLine bounds -max-line: each connection holds a buffer that long.
const serveMaxLine = 1 << 20

// serveFlags holds the raw flag values of serve before they are checked.
type serveFlags struct {
	addr, role, dialects                                   string
	recommended, recommended2, minimum, download, fallback string
	maxLine, maxConns, workers                             int
	idle, serviceTime                                      time.Duration
	metrics                                                metricsFlags
}

// serveFlagSet binds the serve command's flags onto f.
func serveFlagSet(f *serveFlags, stdout io.Writer) *flag.FlagSet {
	fs := flagSet("serve", stdout)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:1863", "listen address; a host of 0.0.0.0 or [::] serves other machines, none means 127.0.0.1")
	fs.StringVar(&f.role, "role", "ns", "ns (takes CVR in every dialect) or ds (CVR from MSNP8, CVQ after CVR0)")
	fs.StringVar(&f.dialects, "dialects", "MSNP2-MSNP23", `dialects spoken: a range "MSNP8-MSNP18" (CVR0 added) or a list "MSNP15,MSNP8,CVR0"`)
	fs.StringVar(&f.recommended, "recommended", refserver.DefaultRecommended, "recommended-version in the CVR reply")
	fs.StringVar(&f.recommended2, "recommended2", "", "recommended-version-2 in the CVR reply (default: -recommended)")
	fs.StringVar(&f.minimum, "minimum", refserver.DefaultMinimum, "minimum-allowed-version in the CVR reply")
	fs.StringVar(&f.download, "download-url", refserver.DefaultDownloadURL, "download-url in the CVR reply")
	fs.StringVar(&f.fallback, "fallback-url", refserver.DefaultFallbackURL, "fallback-url in the CVR reply")
	fs.IntVar(&f.maxLine, "max-line", msnp.DefaultMaxLineLength, "longest request line in bytes; a longer one closes the connection")
	fs.DurationVar(&f.idle, "idle-timeout", refserver.DefaultIdleTimeout, "close a connection silent, or not reading its replies, this long (0: never)")
	fs.IntVar(&f.maxConns, "max-conns", refserver.DefaultMaxConns, "connections served at once; more are closed at once (0: no limit)")
	fs.DurationVar(&f.serviceTime, "service-time", 0, "hold one of -workers this long per CVR: capacity -workers/-service-time per second")
	fs.IntVar(&f.workers, "workers", 1, "CVRs served at once with -service-time")
	f.metrics.bind(fs)
	return fs
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f serveFlags
	fs := serveFlagSet(&f, stdout)
	if done, status := parseFlags(fs, args, stderr); done {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "serve", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	cfg, err := serveConfig(f)
	if err == nil {
		err = f.metrics.check()
	}
	if err != nil {
		return usageError(stderr, "serve", err.Error())
	}
	srv, err := refserver.Listen(f.addr, cfg)
	if err != nil {
		return failure(stderr, "serve", err)
	}
	stopMetrics, err := f.metrics.serve("serve", stderr, load.Shard{}, time.Time{}, metrics.Server(srv))
	if err != nil {
		srv.Close()
		return exitError(stderr, "serve", err)
	}
	defer stopMetrics()
	capacity := ""
	if cfg.ServiceTime > 0 {
		capacity = fmt.Sprintf(", capacity %.0f CVR/s", float64(cfg.Workers)/cfg.ServiceTime.Seconds())
	}
	fmt.Fprintf(stderr, "cvrswarm serve: serving on %s (role %s, dialects %s%s); Ctrl-C stops\n",
		srv.Addr(), cfg.Role, f.dialects, capacity)
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return failure(stderr, "serve", err)
	}
	fmt.Fprintln(stderr, "cvrswarm serve: stopped")
	return exitOK
}

// serveConfig checks the flag values and maps them onto a server config.
// Its errors name the flag.
func serveConfig(f serveFlags) (refserver.Config, error) {
	var cfg refserver.Config
	var err error
	if _, _, err := net.SplitHostPort(f.addr); err != nil {
		return cfg, fmt.Errorf("-addr %q: want host:port", f.addr)
	}
	if cfg.Role, err = msnp.ParseRole(f.role); err != nil {
		return cfg, fmt.Errorf("-role %q: want ds or ns", f.role)
	}
	if cfg.Dialects, err = msnp.ParseDialects(f.dialects); err != nil {
		return cfg, fmt.Errorf("-dialects: %w", err)
	}
	for _, field := range []struct {
		flag, value string
		dst         *string
	}{
		{"recommended", f.recommended, &cfg.Recommended},
		{"recommended2", f.recommended2, &cfg.Recommended2},
		{"minimum", f.minimum, &cfg.Minimum},
		{"download-url", f.download, &cfg.DownloadURL},
		{"fallback-url", f.fallback, &cfg.FallbackURL},
	} {
		if i := strings.IndexFunc(field.value, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
			return cfg, fmt.Errorf("-%s %q: a reply field cannot hold spaces or control characters", field.flag, field.value)
		}
		if field.value == "" && field.flag != "recommended2" {
			return cfg, fmt.Errorf("-%s: empty; a CVR reply needs it", field.flag)
		}
		*field.dst = field.value
	}
	switch {
	case f.maxLine < 1 || f.maxLine > serveMaxLine:
		return cfg, fmt.Errorf("-max-line %d: want 1 to %d bytes", f.maxLine, serveMaxLine)
	case f.idle < 0:
		return cfg, fmt.Errorf("-idle-timeout %v: want 0 (never) or more", f.idle)
	case f.maxConns < 0:
		return cfg, fmt.Errorf("-max-conns %d: want 0 (no limit) or more", f.maxConns)
	case f.serviceTime < 0:
		return cfg, fmt.Errorf("-service-time %v: want 0 or more", f.serviceTime)
	case f.workers < 1:
		return cfg, fmt.Errorf("-workers %d: want 1 or more", f.workers)
	}
	cfg.MaxLineLength = f.maxLine
	cfg.IdleTimeout, cfg.MaxConns = f.idle, f.maxConns
	if f.idle == 0 {
		cfg.IdleTimeout = -1 // the flag's 0 is "never"; the config's is the default
	}
	if f.maxConns == 0 {
		cfg.MaxConns = -1
	}
	cfg.ServiceTime, cfg.Workers = f.serviceTime, f.workers
	return cfg, nil
}
