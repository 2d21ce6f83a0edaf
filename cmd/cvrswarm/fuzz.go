package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
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
		name: "fuzz", order: 30, summary: "fuzz a server's VER/CVR parser; shrink, de-duplicate and save what breaks it",
		example: "cvrswarm fuzz -duration 10s -findings ./findings",
		details: fuzzDetails,
		run:     runFuzz,
	})
}

// fuzzDetails is what `cvrswarm fuzz -h` says beyond the flags.
const fuzzDetails = `What each kind of finding means, exactly as it is checked:
  crash            after the case the target refuses new connections, or closes them with a valid
                   VER and CVR unanswered, or its -exec process exited (signed by its Go panic)
  hang             a line got no reply within the wait, and a valid request sent after it on a line
                   of its own (CRLF first ends a line the case left unterminated) got none either
  wedge            every line was answered, then a valid CVR on the same connection was not
  lost-reply       a valid CVR got no reply while a later line of the write, or the probe, did
  reset            the connection was reset with a line unanswered, after under 1 KiB of input and
                   no reply that ends the session (a numeric error or "VER n 0")
  amplification    the replies to one write are -amplify-factor times its bytes or more, and at
                   least -amplify-floor bytes a line; signed by the field whose lengthening grows
                   the reply fastest (faster than an echo), or as driven by no one field
  trid-mismatch    a reply carries a TrID no line of the write carried
  malformed-reply  a reply that is not a CVR, VER or numeric error line, or more replies than lines
  deviation        with -strict: not the spec's reply (no 731, no disconnect after 731, 420 or 710
                   missing, a valid CVR refused, a line ignored)

Waits: once the target has answered 256 lines, a reply is waited for max(20ms, 50 x their p99)
and a probe sent after max(2ms, 5 x p99), -timeout being the bound. A new signature is confirmed
on a fresh connection with the whole -timeout; later cases with it are counted as hits. Findings
are saved when confirmed and shrunk later, once each, within -minimize-share of the run.

Each finding is findings/<kind>-<hash>/: the input as a go test fuzz v1 file, and record.json
(signature, detail, hits, input and shrunk input, seed and case index, mutators, byte counts of an
amplification, the target's stderr). 'cvrswarm replay' judges it again with the same checks.
`

// fuzzTargetFlags are the flags fuzz and replay share: where the target
// is and how it is judged.
type fuzzTargetFlags struct {
	target, exec, role string
	timeout            time.Duration
	amplifyFactor      float64
	amplifyFloor       int
	strict             bool
}

func (f *fuzzTargetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.target, "target", "", "host:port of a running server, a name looked up once at the start (default: the embedded reference server)")
	fs.StringVar(&f.exec, "exec", "", "run this command as the target, '{addr}' replaced by a free loopback address; restarted after a crash")
	fs.StringVar(&f.role, "role", "ns", "the target's role for the spec's rules: ns or ds")
	fs.DurationVar(&f.timeout, "timeout", fuzz.DefaultTimeout, "the longest a reply may take before the request counts as unanswered; fuzz waits less once it has learned the target's reply times (50 times its p99, at least 20ms), and confirms a finding with the whole timeout")
	fs.Float64Var(&f.amplifyFactor, "amplify-factor", fuzz.DefaultAmplifyFactor, "an amplification is a write of lines whose replies are at least this many times its bytes (and -amplify-floor bytes)")
	fs.IntVar(&f.amplifyFloor, "amplify-floor", fuzz.DefaultAmplifyFloor, "the fewest reply bytes an amplification has, for each line of the write")
	fs.BoolVar(&f.strict, "strict", false, "also report deviations from the spec's replies (no 731, no disconnect after 731, 420/710 missing)")
}

// oracle returns the oracle the flags set up, checked, with a stand-in
// for its target until start starts it.
func (f *fuzzTargetFlags) oracle() (fuzz.Oracle, error) {
	role, err := msnp.ParseRole(f.role)
	if err != nil {
		return fuzz.Oracle{}, badFlag("role", "%q: want ns or ds", f.role)
	}
	if f.target != "" && f.exec != "" {
		return fuzz.Oracle{}, badFlag("", "-target and -exec: give one")
	}
	if f.exec != "" {
		if err := (fuzz.ExecConfig{Command: f.exec}).Validate(); err != nil {
			return fuzz.Oracle{}, err
		}
	}
	o := fuzz.Oracle{Target: unstarted{}, Timeout: f.timeout, AmplifyFactor: f.amplifyFactor, AmplifyFloor: f.amplifyFloor,
		Strict: f.strict, Role: role}
	return o, o.Validate()
}

// unstarted stands for the target until it is started.
type unstarted struct{}

func (unstarted) Dial(context.Context) (net.Conn, error) {
	return nil, errors.New("target not started")
}

// start starts the target the flags name: the -exec command, the -target
// address or the embedded reference server, and puts it into o. replay is
// the replay command line that reaches the same target; stop releases it.
func (f *fuzzTargetFlags) start(ctx context.Context, name string, stderr io.Writer, o *fuzz.Oracle) (replay string, stop func(), err error) {
	replay, stop = "cvrswarm replay", func() {}
	if o.Role == msnp.DS {
		replay += " -role ds"
	}
	switch {
	case f.exec != "":
		x, err := fuzz.StartExec(ctx, fuzz.ExecConfig{Command: f.exec})
		if err != nil {
			return "", nil, err
		}
		fmt.Fprintf(stderr, "cvrswarm %s: started %s on %s\n", name, x, x.Addr())
		o.Target, replay, stop = x, replay+" -exec "+fuzz.ShellQuote(f.exec), func() { x.Close() }
	case f.target != "":
		o.Target, replay = msnp.TCPTarget(f.target), replay+" -target "+fuzz.ShellQuote(f.target)
	default:
		addr, stopEmbedded, err := startEmbedded(refserver.Config{Role: o.Role}, stderr)
		if err != nil {
			return "", nil, err
		}
		o.Target, stop = msnp.TCPTarget(addr), stopEmbedded
	}
	return replay, stop, nil
}

// fuzzFlags are the fuzz command's flags, bound onto a fuzz.Config
// where they can be.
type fuzzFlags struct {
	target                                fuzzTargetFlags
	cfg                                   fuzz.Config
	seed                                  int64
	jsonPath, corpusDir, muts, printCases string
	quiet                                 bool
	pictures                              reportFlags
	metrics                               metricsFlags
}

func (f *fuzzFlags) bind(fs *flag.FlagSet) {
	f.target.register(fs)
	cfg := &f.cfg
	fs.Int64Var(&f.seed, "seed", 0, "seed of the run: case i is a function of (seed, i); 0 picks one from the clock")
	fs.Int64Var(&cfg.Cases, "cases", 0, "stop after this many cases (0: no limit)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: until -cases or Ctrl-C)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "at most this many cases per second, to spare a shared server (0: as fast as it answers)")
	fs.IntVar(&cfg.Conns, "conns", fuzz.DefaultConns, "connections fuzzing at once")
	fs.StringVar(&cfg.FindingsDir, "findings", fuzz.DefaultFindingsDir, "save each finding in `DIR`: a go test fuzz v1 input and its record.json (\"\": save none)")
	fs.StringVar(&f.jsonPath, "json", "", "write the run's result as JSON to this `FILE`")
	fs.StringVar(&f.corpusDir, "corpus", "", "derive cases from the corpus files in this `DIR` instead of the embedded seeds")
	fs.StringVar(&f.muts, "mutators", "all", "mutators to stack: names (field-trid) or groups (field, text, byte), comma-separated")
	fs.Float64Var(&cfg.SequenceShare, "sequence", fuzz.DefaultSequenceShare, "share of cases that also mutate the sequence: CVR before VER, VER twice, two CVRs, a mutated VER, valid CVRs pipelined in one write")
	fs.BoolVar(&cfg.NoFeedback, "no-feedback", false, "keep deriving from the seeds only, not from inputs with new reply sequences")
	fs.IntVar(&cfg.MinimizeRuns, "minimize-runs", fuzz.DefaultMinimizeRuns, "most executions spent shrinking one finding (0: do not shrink)")
	fs.DurationVar(&cfg.MinimizeTime, "minimize-time", fuzz.DefaultMinimizeTime, "most time spent shrinking one finding")
	fs.Float64Var(&cfg.MinimizeShare, "minimize-share", fuzz.DefaultMinimizeShare, "most of the run's time that shrinking findings may take, from 0 to 1 (1: no cap); each new signature is shrunk once, in steps between cases")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	fs.StringVar(&f.printCases, "print-cases", "", "print cases `N` or N-M of the -seed (and -corpus, -mutators, -sequence) run, without a target, and exit")
	f.pictures.bind(fs)
	f.metrics.bind(fs)
}

// complete fills the config from the flags that name files or lists,
// and the seed.
func (f *fuzzFlags) complete() error {
	var err error
	if f.cfg.Mutators, err = fuzz.SelectMutators(f.muts); err != nil {
		return badFlag("mutators", "%w", err)
	}
	if f.corpusDir != "" {
		if f.cfg.Seeds, err = corpus.Load(f.corpusDir); err != nil {
			return badFlag("corpus", "%w", err)
		}
	}
	if f.printCases != "" && f.seed == 0 {
		return badFlag("print-cases", "give the -seed of the run")
	}
	if err := f.metrics.check(); err != nil {
		return err
	}
	if f.seed == 0 {
		f.seed = time.Now().UnixNano() & (1<<53 - 1)
	}
	f.cfg.Seed = uint64(f.seed)
	return nil
}

// fuzzFlagSet binds the fuzz command's flags onto f.
func fuzzFlagSet(f *fuzzFlags, stdout io.Writer) *flag.FlagSet {
	fs := flagSet("fuzz", stdout)
	f.bind(fs)
	return fs
}

func runFuzz(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var ff fuzzFlags
	fs := fuzzFlagSet(&ff, stdout)
	if done, status := parseFlags(fs, args, stderr); done {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "fuzz", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if err := ff.complete(); err != nil {
		return exitError(stderr, "fuzz", err)
	}
	if ff.printCases != "" {
		return fuzzPrintCases(stdout, stderr, ff.cfg, ff.printCases)
	}
	oracle, err := ff.target.oracle()
	if err != nil {
		return exitError(stderr, "fuzz", err)
	}
	ff.cfg.Oracle = oracle
	if err := ff.cfg.Validate(); err != nil {
		return exitError(stderr, "fuzz", err)
	}
	var running atomic.Pointer[fuzz.Fuzzer] // set once the run starts
	stopMetrics, err := ff.metrics.serve("fuzz", stderr, load.Shard{}, time.Time{}, metrics.Fuzz(func() fuzz.Progress {
		if fz := running.Load(); fz != nil {
			return fz.Progress()
		}
		return fuzz.Progress{}
	}))
	if err != nil {
		return exitError(stderr, "fuzz", err)
	}
	defer stopMetrics()
	replay, stop, err := ff.target.start(ctx, "fuzz", stderr, &ff.cfg.Oracle)
	if err != nil {
		return exitError(stderr, "fuzz", err)
	}
	defer stop()
	if dir := ff.cfg.FindingsDir; dir != "" { // before the campaign, not at its first finding
		if err := writableDir(dir); err != nil {
			return usageError(stderr, "fuzz", fmt.Sprintf("-findings %s: %v", dir, err))
		}
	}
	ff.cfg.ReplayCommand = replay
	res, runErr := fuzzRun(ctx, ff.cfg, ff.quiet, stderr, &running)
	stoppedByCtx := runErr != nil && ctx.Err() != nil && errors.Is(runErr, ctx.Err())
	if res != nil {
		if err := ff.writeResult(res, stdout, stderr); err != nil {
			return failure(stderr, "fuzz", err)
		}
		if fuzzPrintUnsaved(stderr, ff.cfg.FindingsDir, res.Findings) {
			runErr = cmp.Or(runErr, errors.New("findings not saved"))
			stoppedByCtx = false
		}
	}
	switch {
	case stoppedByCtx:
		return interrupted(stderr, "fuzz", "the summary and the files cover the cases that ran")
	case runErr != nil:
		return failure(stderr, "fuzz", runErr)
	case res != nil && len(res.Findings) > 0:
		return exitFail
	}
	return exitOK
}

// writableDir creates dir if it is missing and checks that a file can be
// written in it.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".cvrswarm-write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// fuzzPrintUnsaved prints in full on stderr each finding whose files are
// not in the findings folder dir, so that none is lost; it reports
// whether there was one.
func fuzzPrintUnsaved(stderr io.Writer, dir string, findings []fuzz.Finding) bool {
	if dir == "" {
		return false
	}
	unsaved := false
	for _, fd := range findings {
		if _, err := os.Stat(fd.Record); fd.Record != "" && err == nil {
			continue
		}
		b, err := json.MarshalIndent(fd, "", "  ")
		if err != nil {
			b = []byte(fmt.Sprintf("%+v", fd))
		}
		fmt.Fprintf(stderr, "cvrswarm fuzz: finding not saved in %s, here in full:\n%s\n", dir, b)
		unsaved = true
	}
	return unsaved
}

// fuzzRun runs the fuzzer with progress on stderr, and puts it in
// running for the metrics. The result is nil when the run could not
// start.
func fuzzRun(ctx context.Context, cfg fuzz.Config, quiet bool, stderr io.Writer, running *atomic.Pointer[fuzz.Fuzzer]) (*fuzz.Result, error) {
	fz, err := fuzz.New(cfg)
	if err != nil {
		return nil, err
	}
	running.Store(fz)
	stopProgress := startProgress(ctx, stderr, progressConfig{Label: "fuzz", Quiet: quiet}, func() progressReport {
		return fuzzProgress(fz.Progress(), cfg)
	})
	res, err := fz.Run(ctx)
	stopProgress()
	if res.Target == "" {
		return nil, err
	}
	return &res, err
}

// writeResult prints the summary and writes the JSON file and the
// pictures the flags ask for.
func (f *fuzzFlags) writeResult(res *fuzz.Result, stdout, stderr io.Writer) error {
	if f.jsonPath != "" {
		if err := res.WriteFile(f.jsonPath); err != nil {
			return fmt.Errorf("-json %s: %w", f.jsonPath, err)
		}
		wrote(stderr, f.jsonPath)
	}
	if err := res.WriteSummary(stdout); err != nil {
		return err
	}
	page, err := report.FuzzPage(res)
	if err != nil {
		return err
	}
	return f.pictures.write(page, stderr)
}

// fuzzProgress measures a run by the bound its config gives it: cases
// done of -cases, or time of -duration (the case count ahead of the
// bar), whichever ends it first; none when neither does.
func fuzzProgress(p fuzz.Progress, cfg fuzz.Config) progressReport {
	r := progressReport{Done: p.Cases, Unit: "cases", Head: fmt.Sprintf("%d cases", p.Cases), Status: fuzzStatus(p)}
	byCases, byTime := -1.0, -1.0
	if cfg.Cases > 0 {
		byCases = float64(p.Cases) / float64(cfg.Cases)
	}
	if cfg.Duration > 0 {
		byTime = float64(p.Elapsed) / float64(cfg.Duration)
	}
	switch {
	case byCases >= byTime && byCases >= 0:
		r.Total, r.Head = cfg.Cases, "" // the count is the measure
	case byTime >= 0:
		r.Done, r.Total, r.Unit = min(p.Elapsed, cfg.Duration).Milliseconds(), cfg.Duration.Milliseconds(), "ms"
	}
	return r
}

// fuzzStatus is the progress line: cases/s, findings by kind, corpus.
func fuzzStatus(p fuzz.Progress) string {
	rate := 0.0
	if p.Elapsed > 0 {
		rate = float64(p.Cases) / p.Elapsed.Seconds()
	}
	s := fmt.Sprintf("%.0f cases/s  findings %d", rate, p.Findings)
	if p.Findings > 0 {
		s += " (" + fuzz.KindCounts(p.ByKind) + ")"
	}
	if p.Restarts > 0 {
		s += fmt.Sprintf("  restarts %d (%.1f/s)", p.Restarts, float64(p.Restarts)/p.Elapsed.Seconds())
	}
	return s + fmt.Sprintf("  corpus %d", p.Corpus)
}

// fuzzPrintCases prints the cases of a range ("90" or "90-99") as the run
// with cfg makes them: index, mutators, parent, and the bytes quoted.
func fuzzPrintCases(stdout, stderr io.Writer, cfg fuzz.Config, spec string) int {
	lo, hi, err := fuzzCaseRange(spec)
	if err != nil {
		return exitError(stderr, "fuzz", err)
	}
	for i := lo; i <= hi; i++ {
		c, err := fuzz.MakeCase(cfg, i)
		if err != nil {
			return exitError(stderr, "fuzz", err)
		}
		fmt.Fprintf(stdout, "case %d of seed %d, mutators %s, parent %s\n  %q\n",
			i, cfg.Seed, strings.Join(c.Mutators, " "), c.Parent, string(c.VER)+string(c.CVR))
	}
	return exitOK
}

// fuzzCaseRange parses "N" or "N-M" (at most 100000 cases).
func fuzzCaseRange(spec string) (lo, hi uint64, err error) {
	a, b, isRange := strings.Cut(spec, "-")
	lo, err = strconv.ParseUint(a, 10, 64)
	hi = lo
	if err == nil && isRange {
		hi, err = strconv.ParseUint(b, 10, 64)
	}
	if err != nil || hi < lo || hi-lo >= 100000 {
		return 0, 0, badFlag("print-cases", "%q: want a case index N or a range N-M of at most 100000 cases", spec)
	}
	return lo, hi, nil
}
