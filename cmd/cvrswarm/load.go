package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/fuzz"
	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/report"
	"github.com/cvrswarm/cvrswarm/metrics"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func init() {
	register(&command{
		name: "load", order: 10, summary: "drive a rate-limited swarm of MSNP clients (VER, then CVR) and measure the server",
		example: "cvrswarm load -target 127.0.0.1:1863 -rate 5000/s -duration 30s -slo 'p99<20ms,errors<1%'",
		details: loadDetails,
		run:     runLoad,
	})
}

// loadFlags are the load command's flags, as given.
type loadFlags struct {
	target, rate, ramp, steps, dialects, corpusDir, shard, startAt, slo string
	sourceAddrs                                                         string
	jsonOut, hdrLog, hgrm                                               string
	duration, warmUp, timeout, batchWindow                              time.Duration
	requests                                                            int64
	conns, maxConns, depth, maxLine                                     int
	churn, quiet                                                        bool
	mutate                                                              float64
	seed                                                                int64
	report                                                              reportFlags
	metrics                                                             metricsFlags
}

func loadFlagSet(f *loadFlags, stdout io.Writer) *flag.FlagSet {
	fs := flagSet("load", stdout)
	fs.StringVar(&f.target, "target", "", "the server's `host:port` (a name is looked up once, at the start); none starts the embedded reference server")
	fs.StringVar(&f.rate, "rate", load.DefaultRate, "constant request `rate`: 500/s, 30000/1m, inf (as fast as replies come)")
	fs.StringVar(&f.ramp, "ramp", "", "a rate going linearly from FROM to TO over -warm-up plus -duration, as `FROM:TO`, e.g. 100/s:5000/s")
	fs.StringVar(&f.steps, "steps", "", "rates held one after the other, `RATE:DUR,...`, e.g. 1000/s:10s,2000/s:10s")
	fs.DurationVar(&f.duration, "duration", 0, "how long to offer load (default 10s unless -requests or -steps bounds the run)")
	fs.Int64Var(&f.requests, "requests", 0, "stop after this many requests (all shards together); 0 for no bound")
	fs.DurationVar(&f.warmUp, "warm-up", 0, "offer load this long before measuring")
	fs.IntVar(&f.conns, "conns", load.DefaultConns, "connections opened before the start (with -rate inf: the connections)")
	fs.IntVar(&f.maxConns, "max-conns", load.DefaultMaxConns, "most connections open at once; past it a request waits and counts as late")
	fs.IntVar(&f.depth, "depth", load.DefaultDepth, "CVRs in flight per connection (pipelined, replies matched by TrID)")
	fs.DurationVar(&f.batchWindow, "batch-window", load.DefaultBatchWindow, batchWindowUsage)
	fs.BoolVar(&f.churn, "churn", false, "a new connection per request: connect, VER, CVR, close (a login storm)")
	fs.StringVar(&f.sourceAddrs, "source-addrs", "", sourceAddrsUsage)
	fs.StringVar(&f.dialects, "dialects", "", "the VER `list`, newest first: MSNP15,MSNP8,CVR0 or a range MSNP8-MSNP18 (default every dialect)")
	fs.StringVar(&f.corpusDir, "corpus", "", "read CVR lines from this corpus `DIR` (go test fuzz v1 files) instead of the embedded seeds")
	fs.Float64Var(&f.mutate, "mutate", 0, "`share` of requests sent mutated, 0 to 1 (e.g. 0.05)")
	fs.DurationVar(&f.timeout, "timeout", load.DefaultTimeout, "bound on a connect, a VER exchange and the wait for a reply")
	fs.IntVar(&f.maxLine, "max-line", msnp.DefaultMaxLineLength, "longest reply line accepted, in `bytes`")
	fs.Int64Var(&f.seed, "seed", 0, "seed for the choice of lines and mutations")
	fs.StringVar(&f.shard, "shard", "", "run shard `i/n` of a load split across n processes (default from "+load.EnvShardIndex+" and "+load.EnvShards+")")
	fs.StringVar(&f.startAt, "start-at", "", "start at this RFC 3339 `time`, so that shards begin together")
	fs.StringVar(&f.slo, "slo", "", "objectives, e.g. 'p99<20ms,errors<1%,rate>4900': exit status 3 when one is breached")
	fs.StringVar(&f.jsonOut, "json", "", "write the result as JSON to `FILE`")
	fs.StringVar(&f.hdrLog, "hdr-log", "", "write an HdrHistogram interval log (one interval a second) to `FILE`")
	fs.StringVar(&f.hgrm, "hgrm", "", "write the response-time percentile distribution (.hgrm, in ms) to `FILE`")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress display")
	f.report.bind(fs)
	f.metrics.bind(fs)
	return fs
}

// batchWindowUsage is the usage of -batch-window, in load and capacity.
const batchWindowUsage = "least time between the sender's wake-ups: requests due closer together go out together, up to this late; longer saves CPU at high rates, at up to this much send lag"

// loadConfig maps the flags onto a load.Config, validated; slo is the
// parsed -slo. Its errors are bad input (see badInput).
func loadConfig(f *loadFlags, set map[string]bool, lookupEnv func(string) (string, bool)) (cfg load.Config, slo []load.Objective, err error) {
	cfg = load.Config{Target: f.target, Duration: f.duration, Requests: f.requests, WarmUp: f.warmUp,
		Conns: f.conns, MaxConns: f.maxConns, Depth: f.depth, Churn: f.churn, Mutate: f.mutate,
		Timeout: f.timeout, MaxLineLength: f.maxLine, BatchWindow: f.batchWindow, Seed: f.seed, SLO: f.slo, CorpusDir: f.corpusDir}
	if cfg.Schedule, err = loadSchedule(f, set); err != nil {
		return cfg, nil, err
	}
	if f.mutate > 0 {
		cfg.NewMutator = func() load.Mutator { return &fuzz.Havoc{} }
	}
	if f.sourceAddrs != "" {
		if cfg.SourceAddrs, err = load.ParseSourceAddrs(f.sourceAddrs); err != nil {
			return cfg, nil, err
		}
	}
	if f.dialects != "" {
		if cfg.Dialects, err = msnp.ParseDialects(f.dialects); err != nil {
			return cfg, nil, &flagError{Flag: "dialects", Err: err}
		}
	}
	if f.corpusDir != "" {
		if cfg.Cases, err = loadCases(f.corpusDir); err != nil {
			return cfg, nil, &flagError{Flag: "corpus", Err: err}
		}
	}
	if f.shard != "" {
		if cfg.Shard, err = load.ParseShard(f.shard); err != nil {
			return cfg, nil, err
		}
	} else if sh, ok, err := load.ShardFromEnv(lookupEnv); err != nil {
		return cfg, nil, err
	} else if ok {
		cfg.Shard = sh
	}
	if f.startAt != "" {
		if cfg.StartAt, err = time.Parse(time.RFC3339, f.startAt); err != nil {
			return cfg, nil, badFlag("start-at", "%q: want an RFC 3339 time such as 2030-01-02T15:04:05Z", f.startAt)
		}
	}
	if f.slo != "" {
		if slo, err = load.ParseSLO(f.slo); err != nil {
			return cfg, nil, err
		}
	}
	if err := zeroFlags(set, map[string]bool{"conns": f.conns == 0, "max-conns": f.maxConns == 0, "depth": f.depth == 0,
		"timeout": f.timeout == 0, "max-line": f.maxLine == 0, "batch-window": f.batchWindow == 0}); err != nil {
		return cfg, nil, err
	}
	if err := f.metrics.check(); err != nil {
		return cfg, nil, err
	}
	check := cfg
	if check.Target == "" { // the embedded server's, known once it starts
		check.Target = "127.0.0.1:0"
	}
	return cfg, slo, check.Validate()
}

// loadSchedule reads the one of -rate, -ramp and -steps given.
func loadSchedule(f *loadFlags, set map[string]bool) (load.Schedule, error) {
	var given []string
	for _, name := range []string{"rate", "ramp", "steps"} {
		if set[name] {
			given = append(given, name)
		}
	}
	var (
		s   load.Schedule
		err error
	)
	switch {
	case len(given) > 1:
		return s, badFlag("", "give one of -rate, -ramp and -steps")
	case set["ramp"] && f.duration == 0:
		return s, badFlag("ramp", "needs -duration to ramp over")
	case set["ramp"]:
		s, err = load.ParseRamp(f.ramp, f.warmUp+f.duration)
	case set["steps"]:
		s, err = load.ParseSteps(f.steps)
	default:
		s, err = load.ParseRate(f.rate)
		given = []string{"rate"}
	}
	if err != nil {
		return s, &flagError{Flag: given[0], Err: err}
	}
	return s, nil
}

// loadCases reads the CVR lines of a corpus folder: its valid cases, or
// every case of a folder of the user's own lines, not split into valid
// and invalid.
func loadCases(dir string) ([]corpus.Case, error) {
	cases, err := corpus.Load(dir)
	if err != nil {
		return nil, err
	}
	var valid []corpus.Case
	for _, c := range cases {
		if c.Valid {
			valid = append(valid, c)
		}
	}
	if len(valid) == 0 {
		return cases, nil
	}
	return valid, nil
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f loadFlags
	fs := loadFlagSet(&f, stdout)
	set, status, done := loadParseFlags(fs, args, stderr)
	if done {
		return status
	}
	cfg, slo, err := loadConfig(&f, set, os.LookupEnv)
	if err == nil {
		err = loadCheckOutputs(map[string]string{"json": f.jsonOut, "hdr-log": f.hdrLog, "hgrm": f.hgrm, "html": f.report.html})
	}
	var mon load.Monitor
	cfg.Monitor = &mon
	var stopMetrics func()
	if err == nil {
		stopMetrics, err = f.metrics.serve("load", stderr, cfg.Shard, cfg.StartAt, metrics.Load(&mon))
	}
	if err != nil {
		return exitError(stderr, "load", err)
	}
	defer stopMetrics()
	loadWarnLimits("load", cfg, stderr)
	embedded := cfg.Target == ""
	if embedded {
		addr, stop, err := startEmbedded(refserver.Config{MaxConns: f.maxConns + 16}, stderr)
		if err != nil {
			return failure(stderr, "load", err)
		}
		defer stop()
		cfg.Target = addr
	}

	stopProgress := startProgress(ctx, stderr, progressConfig{Label: "load", Quiet: f.quiet}, func() progressReport {
		return loadProgress(mon.Progress())
	})
	r, err := load.Run(ctx, cfg)
	stopProgress()
	if err != nil {
		return failure(stderr, "load", err)
	}
	r.Embedded = embedded
	if slo != nil {
		r.SLO = load.EvaluateSLO(slo, r)
	}
	// the report first: a file that cannot be written must not cost the run's figures
	if err := report.WriteText(stdout, r); err != nil {
		return failure(stderr, "load", err)
	}
	if err := loadWrite(&f, r, stderr); err != nil {
		return failure(stderr, "load", err)
	}
	if r.Partial {
		loadSLOStatus(stderr, "load", r.SLO)
		return interrupted(stderr, "load", "the report and the files cover the part that ran")
	}
	if err := r.CheckAnswered(); err != nil {
		return failure(stderr, "load", err)
	}
	return loadSLOStatus(stderr, "load", r.SLO)
}

// loadSLOStatus names the breached objectives of a result on stderr and
// returns exitSLO, or returns exitOK when none was.
func loadSLOStatus(stderr io.Writer, name string, verdicts []load.SLOVerdict) int {
	breached := load.Breached(verdicts)
	if len(breached) == 0 {
		return exitOK
	}
	names := make([]string, len(breached))
	for i, v := range breached {
		names[i] = v.String()
	}
	fmt.Fprintf(stderr, "cvrswarm %s: SLO %s\n", name, strings.Join(names, "; "))
	return exitSLO
}

// loadParseFlags parses a run command's arguments, which take no
// positional ones, and returns the names of the flags given; done, with
// the exit status, when the command ends here (-h, a bad flag, a stray
// argument). The command's name is fs's.
func loadParseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (set map[string]bool, status int, done bool) {
	if done, status := parseFlags(fs, args, stderr); done {
		return nil, status, true
	}
	if fs.NArg() > 0 {
		return nil, usageError(stderr, fs.Name(), fmt.Sprintf("unexpected argument %q", fs.Arg(0))), true
	}
	set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set, exitOK, false
}

// sourceAddrsUsage is the -h text of -source-addrs, on load and capacity.
const sourceAddrsUsage = "open the connections from these local `addresses` in turn, e.g. 127.0.0.1-127.0.0.8: each has its own ephemeral ports (about 28,000 towards one target)"

// loadWarnLimits warns on stderr, as the named command, about each system
// limit this process's share of cfg may hit: its connections (MaxConns)
// and, for a churn run, the local ports its peak rate holds in TIME_WAIT.
func loadWarnLimits(name string, cfg load.Config, stderr io.Writer) {
	for _, w := range load.CheckLimits(cfg) {
		fmt.Fprintf(stderr, "cvrswarm %s: warning: %s\n", name, w)
	}
}

// loadCheckOutputs checks, before a run, that the folder of each output
// file (by flag name) exists, so that a mistyped path is caught at once
// rather than after the run.
func loadCheckOutputs(paths map[string]string) error {
	for name, p := range paths {
		if p == "" {
			continue
		}
		dir := filepath.Dir(p)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return &flagError{Flag: name, Err: fmt.Errorf("%s: folder %s does not exist", p, dir)}
		}
	}
	return nil
}

// loadProgress turns a progress snapshot into the display's figures:
// requests done of those planned, or for an unbounded rate run for a
// duration, milliseconds elapsed of the total. The status leads with
// what a reader watches: the achieved rate (well-formed replies per
// second in the latest whole second, and once the run has ended, the
// report's), p99 and errors.
func loadProgress(p load.Progress) progressReport {
	if !p.Running && p.Done == 0 {
		return progressReport{Status: "starting"}
	}
	r := progressReport{Done: p.Done, Total: p.Planned, Unit: "requests"}
	if p.Planned == 0 && p.Total > 0 { // an unbounded rate for a duration: time is the measure
		r = progressReport{Done: min(p.Elapsed, p.Total).Milliseconds(), Total: p.Total.Milliseconds(), Unit: "ms"}
	}
	p99 := "-"
	if p.P99 > 0 {
		p99 = report.Micros(p.P99.Microseconds())
	}
	r.Status = fmt.Sprintf("achieved %.1f/s  p99 %s  ok %d  err %d  sent %d", p.Rate, p99, p.OK, p.Errors, p.Sent)
	return r
}

// loadWrite writes the files the flags ask for, each atomically. A file
// that cannot be written does not stop the others; the error names each
// one that failed by its flag.
func loadWrite(f *loadFlags, r *load.Result, stderr io.Writer) error {
	var errs []error
	fail := func(flagName, path string, err error) {
		errs = append(errs, fmt.Errorf("-%s %s: %w", flagName, path, err))
	}
	if f.jsonOut != "" {
		if err := load.WriteResult(f.jsonOut, r); err != nil {
			fail("json", f.jsonOut, err)
		} else {
			wrote(stderr, f.jsonOut)
		}
	}
	for _, out := range []struct {
		flag, path string
		write      func(io.Writer, *load.Result) error
	}{{"hdr-log", f.hdrLog, load.WriteHdrLog}, {"hgrm", f.hgrm, load.WritePercentiles}} {
		if out.path == "" {
			continue
		}
		var b bytes.Buffer
		err := out.write(&b, r)
		if err == nil {
			err = corpus.WriteFile(out.path, b.Bytes())
		}
		if err != nil {
			fail(out.flag, out.path, err)
		} else {
			wrote(stderr, out.path)
		}
	}
	if f.report.html != "" || f.report.png != "" {
		page, err := report.LoadPage(r)
		if err == nil {
			err = f.report.write(page, stderr)
		}
		if err != nil {
			name, path := "html", f.report.html
			if path == "" {
				name, path = "png", f.report.png
			}
			fail(name, path, err)
		}
	}
	return errors.Join(errs...)
}
