package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
	"github.com/cvrswarm/cvrswarm/load/report"
	"github.com/cvrswarm/cvrswarm/metrics"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func init() {
	register(&command{
		name: "capacity", order: 45,
		summary: "find the highest rate a server sustains within an SLO (geometric steps, then bisection)",
		example: "cvrswarm capacity -slo 'p99<10ms,errors<0.1%' -html capacity.html",
		details: capacityDetails,
		run:     runCapacity,
	})
}

// The embedded reference server a capacity search uses when given no
// -target has a finite capacity: each CVR holds one of 8 workers for
// 2 ms, 4000 CVRs a second.
const (
	capacityServiceTime = 2 * time.Millisecond
	capacityWorkers     = 8
)

// capacityRate is a flag value of requests per second: "4000" or "4000/s".
type capacityRate struct{ v *float64 }

func (r capacityRate) String() string {
	if r.v == nil {
		return ""
	}
	return load.FormatRate(*r.v)
}

func (r capacityRate) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "/s"), 64)
	if err != nil {
		return fmt.Errorf("want a rate per second such as 500/s, got %q", s)
	}
	*r.v = v
	return nil
}

// capacityShare is a flag value of a share: "5%" or "0.05".
type capacityShare struct{ v *float64 }

func (p capacityShare) String() string {
	if p.v == nil {
		return ""
	}
	return strconv.FormatFloat(100**p.v, 'g', -1, 64) + "%"
}

func (p capacityShare) Set(s string) error {
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return fmt.Errorf("want a share such as 5%% or 0.05, got %q", s)
	}
	if pct {
		v /= 100
	}
	*p.v = v
	return nil
}

// capacityFlags are the capacity command's flags, as given.
type capacityFlags struct {
	load        loadFlags // the flags each step's load shares with the load command
	search      capacity.Config
	serviceTime time.Duration
	workers     int
	jsonOut     string
	report      reportFlags
	sync        capacity.SyncConfig // Dir, Timeout and Gap; the shard and start come from load's flags
}

func capacityFlagSet(f *capacityFlags, stdout io.Writer) *flag.FlagSet {
	fs := flagSet("capacity", stdout)
	f.search = capacity.Config{Start: capacity.DefaultStart, Max: capacity.DefaultMax,
		Growth: capacity.DefaultGrowth, Precision: capacity.DefaultPrecision, Tolerance: capacity.DefaultTolerance,
		Warmup: capacity.DefaultWarmup, Dwell: capacity.DefaultDwell, MaxSteps: capacity.DefaultMaxSteps,
		Retries: capacity.DefaultRetries}
	l := &f.load
	fs.StringVar(&l.target, "target", "", "the server's `host:port`; none starts the embedded reference server with a capacity of 4000 CVR/s")
	fs.StringVar(&l.slo, "slo", "", "objectives each step must meet, as in load: 'p99<10ms,errors<0.1%' (default: none, only keep up with the offered rate)")
	fs.Var(capacityRate{&f.search.Start}, "start", "first `rate` offered, per second")
	fs.Var(capacityRate{&f.search.Max}, "max", "highest `rate` offered, per second")
	fs.Float64Var(&f.search.Growth, "growth", f.search.Growth, "`factor` between rates until a step fails")
	fs.Var(capacityShare{&f.search.Precision}, "precision", "converged when the bracket is this narrow, relative to its low end")
	fs.Var(capacityShare{&f.search.Tolerance}, "tolerance", "a step fails when its achieved rate falls this far below the offered, whatever its latency")
	fs.DurationVar(&f.search.Warmup, "warm-up", f.search.Warmup, "offer each rate this long before measuring; 0 for none")
	fs.DurationVar(&f.search.Dwell, "dwell", f.search.Dwell, "measure each rate this long")
	fs.IntVar(&f.search.MaxSteps, "max-steps", f.search.MaxSteps, "give up, not converged, after this many steps (runs again included)")
	fs.IntVar(&f.search.Retries, "retries", f.search.Retries, "run a rate that failed up to this many more times: the majority of its runs decides (2: two failures of three); 0 for none")
	fs.IntVar(&l.conns, "conns", load.DefaultConns, "connections opened before each step")
	fs.IntVar(&l.maxConns, "max-conns", load.DefaultMaxConns, "most connections open at once; past it a request waits and counts as late")
	fs.IntVar(&l.depth, "depth", load.DefaultDepth, "CVRs in flight per connection (pipelined, replies matched by TrID)")
	fs.BoolVar(&l.churn, "churn", false, "a new connection per request: connect, VER, CVR, close (a login storm)")
	fs.DurationVar(&l.batchWindow, "batch-window", load.DefaultBatchWindow, batchWindowUsage)
	fs.StringVar(&l.sourceAddrs, "source-addrs", "", sourceAddrsUsage)
	fs.StringVar(&l.dialects, "dialects", "", "the VER `list`, newest first: MSNP15,MSNP8,CVR0 or a range MSNP8-MSNP18 (default every dialect)")
	fs.StringVar(&l.corpusDir, "corpus", "", "read CVR lines from this corpus `DIR` instead of the embedded seeds")
	fs.DurationVar(&l.timeout, "timeout", load.DefaultTimeout, "bound on a connect, a VER exchange and the wait for a reply")
	fs.IntVar(&l.maxLine, "max-line", msnp.DefaultMaxLineLength, "longest reply line accepted, in `bytes`")
	fs.Int64Var(&l.seed, "seed", 0, "seed for the choice of lines")
	fs.DurationVar(&f.serviceTime, "service-time", capacityServiceTime, "embedded server only: each CVR holds one of -workers this long")
	fs.IntVar(&f.workers, "workers", capacityWorkers, "embedded server only: CVRs served at once")
	fs.StringVar(&l.shard, "shard", "", "run shard `i/n` of a search split across n processes in lockstep through -sync-dir (default from "+load.EnvShardIndex+" and "+load.EnvShards+")")
	fs.StringVar(&l.startAt, "start-at", "", "with -shard: start the first step at this RFC 3339 `time`, the same in every shard")
	fs.StringVar(&f.sync.Dir, "sync-dir", "", "with -shard: the `folder` every shard reads and writes each step's results in")
	fs.DurationVar(&f.sync.Timeout, "sync-timeout", capacity.DefaultSyncTimeout, "with -shard: longest wait for the other shards' results of a step")
	fs.DurationVar(&f.sync.Gap, "sync-gap", capacity.DefaultSyncGap, "with -shard: time from a step's last result to the next step's start")
	fs.StringVar(&f.jsonOut, "json", "", "write the search as JSON to `FILE`: capacity_rps, converged, bracket, stopped, every step (offered, achieved, latency, errors, verdict, reason, outcomes), reruns and the settings")
	fs.BoolVar(&l.quiet, "quiet", false, "no progress display")
	f.report.bind(fs)
	l.metrics.bind(fs)
	return fs
}

// capacityConfig maps the flags onto the search and the load each step
// offers, validated; its errors are bad input (see badInput). With a
// shard, f.sync gets the shard and the start time, which step leaves to
// each step.
func capacityConfig(f *capacityFlags, set map[string]bool, lookupEnv func(string) (string, bool)) (search capacity.Config, step load.Config, err error) {
	f.load.rate = "1/s" // each step sets its own
	step, slo, err := loadConfig(&f.load, map[string]bool{}, lookupEnv)
	if err != nil {
		return search, step, err
	}
	f.sync.Shard, f.sync.StartAt = step.Shard, step.StartAt
	step.Shard, step.StartAt = load.Shard{}, time.Time{}
	switch sharded := f.sync.Shard.Sharded(); {
	case sharded && f.load.target == "":
		return search, step, badFlag("shard", "%s: give -target: the shards of a search load one server", f.sync.Shard)
	case sharded:
		if err := f.sync.Validate(); err != nil {
			return search, step, err
		}
	case set["start-at"] || set["sync-dir"] || set["sync-timeout"] || set["sync-gap"]:
		return search, step, badFlag("", "-start-at, -sync-dir, -sync-timeout and -sync-gap keep the shards of a search in step: give them with -shard i/n")
	}
	if f.load.target != "" && (set["service-time"] || set["workers"]) {
		return search, step, badFlag("", "-service-time and -workers shape the embedded server: they cannot be combined with -target")
	}
	if f.serviceTime < 0 || f.workers < 1 {
		return search, step, badFlag("", "-service-time must not be negative and -workers must be at least 1")
	}
	search = f.search
	// the flags' 0 is none; the config's zero value is the default
	search.NoWarmup, search.NoRetries = search.Warmup == 0, search.Retries == 0
	if err := zeroFlags(set, map[string]bool{"start": search.Start == 0, "max": search.Max == 0, "growth": search.Growth == 0,
		"precision": search.Precision == 0, "tolerance": search.Tolerance == 0, "dwell": search.Dwell == 0,
		"max-steps": search.MaxSteps == 0}); err != nil {
		return search, step, err
	}
	if slo != nil {
		search.SLO = func(r *load.Result) []load.SLOVerdict { return load.EvaluateSLO(slo, r) }
		search.SLOText = f.load.slo
	}
	return search, step, search.Validate()
}

// capacitySearch is a search in progress: what its steps run, and what
// the progress display and the result take from them.
type capacitySearch struct {
	load load.Config // each step's, but for its rate, timing and shard
	sync capacity.SyncConfig
	mon  load.Monitor

	mu       sync.Mutex
	step     capacity.StepSpec // the step running
	bracket  capacity.Bracket
	last     string         // the last step's verdict
	judged   *capacity.Step // the last step judged
	settings *load.Settings // of the steps' load, from the first step's result
}

// runShare runs this process's share of a step, starting at start (at
// once when zero).
func (c *capacitySearch) runShare(ctx context.Context, s capacity.StepSpec, start time.Time) (*load.Result, error) {
	c.mu.Lock()
	c.step = s
	c.mu.Unlock()
	cfg := c.load
	cfg.Schedule = load.Constant(s.Rate) // the whole step's rate: a shard offers its share
	cfg.Duration, cfg.WarmUp = s.Dwell, s.Warmup
	cfg.Shard, cfg.StartAt = c.sync.Shard, start
	return load.Run(ctx, cfg)
}

// steps returns what runs the search's steps: this process alone, or in
// lockstep with the other shards.
func (c *capacitySearch) steps() (capacity.StepRunner, error) {
	var steps capacity.StepRunner = capacity.StepRunnerFunc(func(ctx context.Context, s capacity.StepSpec) (*load.Result, error) {
		return c.runShare(ctx, s, time.Time{})
	})
	if c.sync.Shard.Sharded() {
		var err error
		if steps, err = capacity.ShardedSteps(c.runShare, c.sync); err != nil {
			return nil, err
		}
	}
	return capacity.StepRunnerFunc(func(ctx context.Context, s capacity.StepSpec) (*load.Result, error) {
		r, err := steps.RunStep(ctx, s)
		c.mu.Lock()
		defer c.mu.Unlock()
		if r != nil && c.settings == nil {
			ls := r.Settings
			ls.Rate, ls.Duration, ls.WarmUp, ls.SLO = "", "", "", "" // the search's, not one step's
			c.settings = &ls
		}
		return r, err
	}), nil
}

// onStep notes a step's verdict and the bracket after it.
func (c *capacitySearch) onStep(s capacity.Step, b capacity.Bracket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bracket, c.judged = b, &s
	c.last = fmt.Sprintf("%s passed", load.FormatRate(s.Offered))
	if !s.Pass {
		c.last = fmt.Sprintf("%s failed: %s", load.FormatRate(s.Offered), s.Reason)
	}
}

// status is the progress display's: the step and its load, and under it
// the bracket and the last step's verdict.
func (c *capacitySearch) status() progressReport {
	p := c.mon.Progress()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.step.Index == 0 {
		return progressReport{Status: "starting"}
	}
	r := loadProgress(p)
	r.Head = fmt.Sprintf("step %d %s %s", c.step.Index, c.step.Phase, load.FormatRate(c.step.Rate))
	b := "-"
	if c.bracket.Low > 0 || c.bracket.High > 0 {
		b = load.FormatRate(c.bracket.Low) + ".."
		if c.bracket.High > 0 {
			b += load.FormatRate(c.bracket.High)
		} else {
			b += "?"
		}
	}
	if r.Unit != "" {
		r.Unit = "of the step's " + r.Unit
	}
	r.Detail = "bracket " + b
	if c.last != "" {
		r.Detail += "  last step: " + c.last
	}
	return r
}

// metricsState is what the capacity metrics show of the search.
func (c *capacitySearch) metricsState() metrics.CapacityState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := metrics.CapacityState{Step: c.step.Index, Offered: c.step.Rate, Low: c.bracket.Low, High: c.bracket.High}
	if c.judged != nil {
		st.Judged, st.Passed = true, c.judged.Pass
	}
	return st
}

// describe fills in what res records of the search beyond its steps.
func (c *capacitySearch) describe(res *capacity.Result, embedded bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	res.Target, res.Embedded = c.load.Target, embedded
	res.Settings.Load = c.settings
	if c.sync.Shard.Sharded() {
		res.Shard, res.Merged = c.sync.Shard.String(), true
	}
}

func runCapacity(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f capacityFlags
	fs := capacityFlagSet(&f, stdout)
	set, status, done := loadParseFlags(fs, args, stderr)
	if done {
		return status
	}
	search, stepCfg, err := capacityConfig(&f, set, os.LookupEnv)
	if err == nil {
		err = loadCheckOutputs(map[string]string{"json": f.jsonOut, "html": f.report.html})
	}
	c := &capacitySearch{load: stepCfg, sync: f.sync}
	c.load.Monitor = &c.mon
	var stopMetrics func()
	if err == nil {
		stopMetrics, err = f.load.metrics.serve("capacity", stderr, c.sync.Shard, c.sync.StartAt, metrics.Load(&c.mon), metrics.Capacity(c.metricsState))
	}
	if err != nil {
		return exitError(stderr, "capacity", err)
	}
	defer stopMetrics()
	loadWarnLimits("capacity", stepCfg, stderr)
	embedded := c.load.Target == ""
	if embedded {
		addr, stop, err := startEmbedded(refserver.Config{ServiceTime: f.serviceTime, Workers: f.workers, MaxConns: f.load.maxConns + 16}, stderr)
		if err != nil {
			return failure(stderr, "capacity", err)
		}
		defer stop()
		c.load.Target = addr
	}
	search.OnStep = c.onStep
	steps, err := c.steps()
	if err != nil {
		return failure(stderr, "capacity", err)
	}
	stopProgress := startProgress(ctx, stderr, progressConfig{Label: "capacity", Quiet: f.load.quiet}, c.status)
	res, runErr := capacity.Search(ctx, steps, search)
	stopProgress()
	if res == nil {
		return failure(stderr, "capacity", runErr)
	}
	c.describe(res, embedded)
	if err := capacityWrite(&f, res, stdout, stderr); err != nil {
		return failure(stderr, "capacity", err)
	}
	return capacityStatus(stderr, res, runErr)
}

// capacityStatus says on stderr how the search ended, unless it
// converged, and returns the exit status.
func capacityStatus(stderr io.Writer, res *capacity.Result, runErr error) int {
	switch {
	case runErr != nil:
		return failure(stderr, "capacity", runErr)
	case res.Partial:
		return interrupted(stderr, "capacity", "the report and the files cover the steps that ran")
	case !res.Converged:
		fmt.Fprintf(stderr, "cvrswarm capacity: did not converge: %s\n", res.Stopped)
		return exitNotConverged
	}
	return exitOK
}

// capacityWrite prints the report and writes the files the flags ask for.
func capacityWrite(f *capacityFlags, res *capacity.Result, stdout, stderr io.Writer) error {
	if f.jsonOut != "" {
		if err := capacity.WriteResult(f.jsonOut, res); err != nil {
			return fmt.Errorf("-json %s: %w", f.jsonOut, err)
		}
		wrote(stderr, f.jsonOut)
	}
	if err := report.WriteCapacityText(stdout, res); err != nil {
		return err
	}
	if f.report.html != "" || f.report.png != "" {
		page, err := report.CapacityPage(res)
		if err != nil {
			return err
		}
		return f.report.write(page, stderr)
	}
	return nil
}
