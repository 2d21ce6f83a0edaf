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
	"github.com/cvrswarm/cvrswarm/load/report"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func init() {
	register(&command{
		name: "capacity", order: 45,
		summary: "find the highest rate a server sustains within an SLO (geometric steps, then bisection)",
		example: "cvrswarm capacity -slo 'p99<10ms,errors<0.1%' -html capacity.html",
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
	if err != nil || !(v >= 1) || v > 1e9 {
		return fmt.Errorf("want a rate per second from 1 such as 500/s, got %q", s)
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
	if pct {
		v /= 100
	}
	if err != nil || !(v > 0) || v >= 1 {
		return fmt.Errorf("want a share above 0 and below 100%% such as 5%% or 0.05, got %q", s)
	}
	*p.v = v
	return nil
}

// capacityFlags are the capacity command's flags, as given.
type capacityFlags struct {
	load        loadFlags // the flags each step's load shares with the load command
	search      load.CapacityConfig
	serviceTime time.Duration
	workers     int
	jsonOut     string
	report      reportFlags
	sync        load.SyncConfig // Dir, Timeout and Gap; the shard and start come from load's flags
}

func capacityFlagSet(f *capacityFlags, stdout io.Writer) *flag.FlagSet {
	fs := flagSet("capacity", stdout)
	f.search = load.CapacityConfig{Start: load.DefaultCapacityStart, Max: load.DefaultCapacityMax,
		Growth: load.DefaultCapacityGrowth, Precision: load.DefaultCapacityPrecision, Tolerance: load.DefaultCapacityTolerance,
		Warmup: load.DefaultCapacityWarmup, Dwell: load.DefaultCapacityDwell, MaxSteps: load.DefaultCapacityMaxSteps,
		Retries: load.DefaultCapacityRetries}
	l := &f.load
	fs.StringVar(&l.target, "target", "", "the server's `host:port`; none starts the embedded reference server with a capacity of 4000 CVR/s")
	fs.StringVar(&l.slo, "slo", "", "objectives each step must meet, as in load: 'p99<10ms,errors<0.1%' (default: none, only keep up with the offered rate)")
	fs.Var(capacityRate{&f.search.Start}, "start", "first `rate` offered, per second")
	fs.Var(capacityRate{&f.search.Max}, "max", "highest `rate` offered, per second")
	fs.Float64Var(&f.search.Growth, "growth", f.search.Growth, "`factor` between rates until a step fails")
	fs.Var(capacityShare{&f.search.Precision}, "precision", "converged when the bracket is this narrow, relative to its low end")
	fs.Var(capacityShare{&f.search.Tolerance}, "tolerance", "a step fails when its achieved rate falls this far below the offered, whatever its latency")
	fs.DurationVar(&f.search.Warmup, "warm-up", f.search.Warmup, "offer each rate this long before measuring")
	fs.DurationVar(&f.search.Dwell, "dwell", f.search.Dwell, "measure each rate this long")
	fs.IntVar(&f.search.MaxSteps, "max-steps", f.search.MaxSteps, "give up, not converged, after this many steps (runs again included)")
	fs.IntVar(&f.search.Retries, "retries", f.search.Retries, "run a failing step again this many times before its rate counts as failed (noise only makes a step look worse)")
	fs.IntVar(&l.conns, "conns", load.DefaultConns, "connections opened before each step")
	fs.IntVar(&l.maxConns, "max-conns", load.DefaultMaxConns, "most connections open at once; past it a request waits and counts as late")
	fs.IntVar(&l.depth, "depth", load.DefaultDepth, "CVRs in flight per connection (pipelined, replies matched by TrID)")
	fs.BoolVar(&l.churn, "churn", false, "a new connection per request: connect, VER, CVR, close (a login storm)")
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
	fs.DurationVar(&f.sync.Timeout, "sync-timeout", load.DefaultSyncTimeout, "with -shard: longest wait for the other shards' results of a step")
	fs.DurationVar(&f.sync.Gap, "sync-gap", load.DefaultSyncGap, "with -shard: time from a step's last result to the next step's start")
	fs.StringVar(&f.jsonOut, "json", "", "write the search, every step included, as JSON to `FILE`")
	fs.BoolVar(&l.quiet, "quiet", false, "no progress display")
	f.report.bind(fs)
	return fs
}

// capacityConfig checks the flags and maps them onto the search and the
// load each step offers. Its errors name the flag.
// With a shard, f.sync gets the shard and the start time, which step
// leaves to each step.
func capacityConfig(f *capacityFlags, set map[string]bool, lookupEnv func(string) (string, bool)) (search load.CapacityConfig, step load.Config, err error) {
	f.load.rate = "1/s" // each step sets its own
	step, slo, err := loadConfig(&f.load, map[string]bool{}, lookupEnv)
	if err != nil {
		return search, step, err
	}
	f.sync.Shard, f.sync.StartAt = step.Shard, step.StartAt
	step.Shard, step.StartAt = load.Shard{}, time.Time{}
	if f.sync.Shard.Sharded() {
		switch {
		case f.sync.Dir == "" || f.sync.StartAt.IsZero():
			return search, step, badFlag("", "shard %s: give -sync-dir and -start-at too, the same in every shard", f.sync.Shard)
		case f.load.target == "":
			return search, step, badFlag("", "shard %s: give -target: the shards of a search load one server", f.sync.Shard)
		case f.sync.Timeout <= 0 || f.sync.Gap <= 0:
			return search, step, badFlag("", "-sync-timeout and -sync-gap must be positive")
		}
	} else if set["start-at"] || set["sync-dir"] || set["sync-timeout"] || set["sync-gap"] {
		return search, step, badFlag("", "-start-at, -sync-dir, -sync-timeout and -sync-gap keep the shards of a search in step: give them with -shard i/n")
	}
	search = f.search
	if search.Growth <= 1 {
		return search, step, badFlag("", "-growth %v: want a factor above 1", search.Growth)
	}
	if err := search.Validate(); err != nil {
		return search, step, badFlag("", "%s", strings.TrimPrefix(err.Error(), "load: capacity: "))
	}
	if search.Dwell < time.Second {
		return search, step, badFlag("", "-dwell %v: want at least 1s (the measurements are per second)", search.Dwell)
	}
	if search.Warmup < 0 || search.MaxSteps < 1 || search.Retries < 0 {
		return search, step, badFlag("", "-warm-up and -retries must not be negative and -max-steps must be at least 1")
	}
	if search.Warmup == 0 {
		search.Warmup = -1 // none, rather than the default
	}
	if search.Retries == 0 {
		search.Retries = -1
	}
	if f.load.target != "" && (set["service-time"] || set["workers"]) {
		return search, step, badFlag("", "-service-time and -workers shape the embedded server: they cannot be combined with -target")
	}
	if f.serviceTime < 0 || f.workers < 1 {
		return search, step, badFlag("", "-service-time must not be negative and -workers must be at least 1")
	}
	if slo != nil {
		search.SLO = func(r *load.Result) []load.SLOVerdict { return load.EvaluateSLO(slo, r) }
		search.SLOText = f.load.slo
	}
	return search, step, nil
}

// capacityState is what the progress display shows of a search.
type capacityState struct {
	mu      sync.Mutex
	step    load.StepSpec
	bracket load.Bracket
	last    string
}

func (s *capacityState) status(p load.Progress) (done, total int64, unit, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := "-"
	if s.bracket.Low > 0 || s.bracket.High > 0 {
		b = load.FormatRate(s.bracket.Low) + ".."
		if s.bracket.High > 0 {
			b += load.FormatRate(s.bracket.High)
		} else {
			b += "?"
		}
	}
	if s.step.Index == 0 {
		return 0, 0, "", "starting"
	}
	done, total, unit, run := loadProgress(p)
	status = fmt.Sprintf("step %d %s %s  bracket %s  %s", s.step.Index, s.step.Phase, load.FormatRate(s.step.Rate), b, run)
	if s.last != "" {
		status += "  | " + s.last
	}
	return done, total, "of the step's " + unit, status
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
	if err != nil {
		return exitError(stderr, "capacity", err)
	}
	loadWarnLimits("capacity", stepCfg, stderr)
	embedded := stepCfg.Target == ""
	if embedded {
		addr, stop, err := startEmbedded(refserver.Config{ServiceTime: f.serviceTime, Workers: f.workers, MaxConns: f.load.maxConns + 16}, stderr)
		if err != nil {
			return failure(stderr, "capacity", err)
		}
		defer stop()
		stepCfg.Target = addr
	}

	var (
		mon          load.Monitor
		state        capacityState
		loadSettings *load.Settings // of the steps' load, from the first
	)
	stepCfg.Monitor = &mon
	search.OnStep = func(s load.CapacityStep, b load.Bracket) {
		state.mu.Lock()
		defer state.mu.Unlock()
		state.bracket = b
		state.last = fmt.Sprintf("%s passed", load.FormatRate(s.Offered))
		if !s.Pass {
			state.last = fmt.Sprintf("%s failed: %s", load.FormatRate(s.Offered), s.Reason)
		}
	}
	runShare := func(ctx context.Context, s load.StepSpec, start time.Time) (*load.Result, error) {
		state.mu.Lock()
		state.step = s
		state.mu.Unlock()
		cfg := stepCfg
		cfg.Schedule = load.Constant(s.Rate) // the whole step's rate: a shard offers its share
		cfg.Duration, cfg.WarmUp = s.Dwell, s.Warmup
		cfg.Shard, cfg.StartAt = f.sync.Shard, start
		return load.Run(ctx, cfg)
	}
	var steps load.StepRunner = load.StepRunnerFunc(func(ctx context.Context, s load.StepSpec) (*load.Result, error) {
		return runShare(ctx, s, time.Time{})
	})
	if f.sync.Shard.Sharded() {
		if steps, err = load.ShardedSteps(runShare, f.sync); err != nil {
			return failure(stderr, "capacity", err)
		}
	}
	runner := load.StepRunnerFunc(func(ctx context.Context, s load.StepSpec) (*load.Result, error) {
		r, err := steps.RunStep(ctx, s)
		if r != nil && loadSettings == nil {
			ls := r.Settings
			ls.Rate, ls.Duration, ls.WarmUp, ls.SLO = "", "", "", "" // the search's, not one step's
			loadSettings = &ls
		}
		return r, err
	})
	stopProgress := startProgress(ctx, stderr, progressConfig{Label: "capacity", Quiet: f.load.quiet}, func() (int64, int64, string, string) {
		return state.status(mon.Progress())
	})
	res, runErr := load.Capacity(ctx, runner, search)
	stopProgress()
	if res == nil {
		return failure(stderr, "capacity", runErr)
	}
	res.Target, res.Embedded = stepCfg.Target, embedded
	res.Settings.Load = loadSettings
	if f.sync.Shard.Sharded() {
		res.Shard, res.Merged = f.sync.Shard.String(), true
	}
	if err := capacityWrite(&f, res, stdout, stderr); err != nil {
		return failure(stderr, "capacity", err)
	}
	switch {
	case runErr != nil:
		return failure(stderr, "capacity", runErr)
	case res.Partial:
		fmt.Fprintln(stderr, "cvrswarm capacity: interrupted: the report covers the steps that ran")
		return exitNotConverged
	case !res.Converged:
		fmt.Fprintf(stderr, "cvrswarm capacity: did not converge: %s\n", res.Stopped)
		return exitNotConverged
	}
	return exitOK
}

// capacityWrite prints the report and writes the files the flags ask for.
func capacityWrite(f *capacityFlags, res *load.CapacityResult, stdout, stderr io.Writer) error {
	if f.jsonOut != "" {
		if err := load.WriteCapacityResult(f.jsonOut, res); err != nil {
			return err
		}
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
