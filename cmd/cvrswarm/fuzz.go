package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/fuzz"
	"github.com/cvrswarm/cvrswarm/load/report"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func init() {
	register(&command{
		name: "fuzz", order: 30, summary: "fuzz a server's VER/CVR parser; shrink, de-duplicate and save what breaks it",
		example: "cvrswarm fuzz -duration 10s -findings ./findings",
		run:     runFuzz,
	})
}

// fuzzTargetFlags are the flags fuzz and replay share: where the target
// is and how it is judged.
type fuzzTargetFlags struct {
	target, exec, role string
	timeout            time.Duration
	amplify            int
	strict             bool
}

func (f *fuzzTargetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.target, "target", "", "host:port of a running server (default: the embedded reference server)")
	fs.StringVar(&f.exec, "exec", "", "run this command as the target, '{addr}' replaced by a free loopback address; restarted after a crash")
	fs.StringVar(&f.role, "role", "ns", "the target's role for the spec's rules: ns or ds")
	fs.DurationVar(&f.timeout, "timeout", fuzz.DefaultTimeout, "how long a reply may take before the request counts as unanswered")
	fs.IntVar(&f.amplify, "amplify", fuzz.DefaultAmplifyLimit, "most reply bytes a case may draw before it is an amplification")
	fs.BoolVar(&f.strict, "strict", false, "also report deviations from the spec's replies (no 731, no disconnect after 731, 420/710 missing)")
}

// open checks the flags and starts the target: the -exec command, the
// -target address or the embedded reference server. replay is the
// replay command line that reaches the same target; stop releases it.
func (f *fuzzTargetFlags) open(ctx context.Context, name string, stderr io.Writer) (o fuzz.Oracle, replay string, stop func(), err error) {
	role, err := msnp.ParseRole(f.role)
	if err != nil {
		return o, "", nil, fmt.Errorf("-role %q: want ns or ds", f.role)
	}
	switch {
	case f.target != "" && f.exec != "":
		return o, "", nil, errors.New("-target and -exec: give one")
	case f.timeout <= 0:
		return o, "", nil, fmt.Errorf("-timeout %v: want more than 0", f.timeout)
	case f.amplify <= 0:
		return o, "", nil, fmt.Errorf("-amplify %d: want more than 0 bytes", f.amplify)
	}
	o = fuzz.Oracle{Timeout: f.timeout, AmplifyLimit: f.amplify, Strict: f.strict, Role: role}
	replay = "cvrswarm replay"
	if role == msnp.DS {
		replay += " -role ds"
	}
	switch {
	case f.exec != "":
		if !strings.Contains(f.exec, fuzz.AddrPlaceholder) {
			return o, "", nil, fmt.Errorf("-exec %q: put %s where the command takes its listen address", f.exec, fuzz.AddrPlaceholder)
		}
		x, err := fuzz.StartExec(ctx, fuzz.ExecConfig{Command: f.exec})
		if err != nil {
			return o, "", nil, err
		}
		fmt.Fprintf(stderr, "cvrswarm %s: started %s on %s\n", name, x, x.Addr())
		o.Target = x
		return o, replay + " -exec " + fuzz.ShellQuote(f.exec), func() { x.Close() }, nil
	case f.target != "":
		o.Target = msnp.TCPTarget(f.target)
		return o, replay + " -target " + fuzz.ShellQuote(f.target), func() {}, nil
	}
	addr, stopEmbedded, err := startEmbedded(refserver.Config{Role: role}, stderr)
	if err != nil {
		return o, "", nil, err
	}
	o.Target = msnp.TCPTarget(addr)
	return o, replay, stopEmbedded, nil
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
}

func (f *fuzzFlags) bind(fs *flag.FlagSet) {
	f.target.register(fs)
	cfg := &f.cfg
	fs.Int64Var(&f.seed, "seed", 0, "seed of the run: case i is a function of (seed, i); 0 picks one from the clock")
	fs.Int64Var(&cfg.Cases, "cases", 0, "stop after this many cases (0: no limit)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: until -cases or Ctrl-C)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "at most this many cases per second, to spare a shared server (0: as fast as it answers)")
	fs.IntVar(&cfg.Conns, "conns", fuzz.DefaultConns, "connections fuzzing at once")
	fs.StringVar(&cfg.FindingsDir, "findings", fuzz.DefaultFindingsDir, "save each finding in `DIR`: a go test fuzz v1 input and its record.json")
	fs.StringVar(&f.jsonPath, "json", "", "write the run's result as JSON to this `FILE`")
	fs.StringVar(&f.corpusDir, "corpus", "", "derive cases from the corpus files in this `DIR` instead of the embedded seeds")
	fs.StringVar(&f.muts, "mutators", "all", "mutators to stack: names (field-trid) or groups (field, text, byte), comma-separated")
	fs.Float64Var(&cfg.SequenceShare, "sequence", fuzz.DefaultSequenceShare, "share of cases that also mutate the sequence: CVR before VER, VER twice, two CVRs, a mutated VER")
	fs.BoolVar(&cfg.NoFeedback, "no-feedback", false, "keep deriving from the seeds only, not from inputs with new reply sequences")
	fs.IntVar(&cfg.MinimizeRuns, "minimize-runs", fuzz.DefaultMinimizeRuns, "most executions spent shrinking one finding (0: do not shrink)")
	fs.DurationVar(&cfg.MinimizeTime, "minimize-time", fuzz.DefaultMinimizeTime, "most time spent shrinking one finding")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	fs.StringVar(&f.printCases, "print-cases", "", "print cases `N` or N-M of the -seed (and -corpus, -mutators, -sequence) run, without a target, and exit")
	f.pictures.bind(fs)
}

// complete fills the config from the flags that name files or lists.
func (f *fuzzFlags) complete() (usage string) {
	switch cfg := f.cfg; {
	case cfg.Cases < 0:
		return fmt.Sprintf("-cases %d: want 0 (no limit) or more", cfg.Cases)
	case cfg.Duration < 0:
		return fmt.Sprintf("-duration %v: want 0 (no limit) or more", cfg.Duration)
	case cfg.Rate < 0:
		return fmt.Sprintf("-rate %v: want 0 (no limit) or more", cfg.Rate)
	case cfg.Conns < 1:
		return fmt.Sprintf("-conns %d: want 1 or more", cfg.Conns)
	case cfg.SequenceShare < 0 || cfg.SequenceShare > 1:
		return fmt.Sprintf("-sequence %v: want a share from 0 to 1", cfg.SequenceShare)
	case cfg.MinimizeRuns < 0:
		return fmt.Sprintf("-minimize-runs %d: want 0 (do not shrink) or more", cfg.MinimizeRuns)
	}
	var err error
	if f.cfg.Mutators, err = fuzz.SelectMutators(f.muts); err != nil {
		return "-mutators: " + err.Error()
	}
	if f.corpusDir != "" {
		if f.cfg.Seeds, err = corpus.Load(f.corpusDir); err != nil {
			return "-corpus: " + err.Error()
		}
	}
	if f.printCases != "" && f.seed == 0 {
		return "-print-cases: give the -seed of the run"
	}
	if f.seed == 0 {
		f.seed = time.Now().UnixNano() & (1<<53 - 1)
	}
	f.cfg.Seed = uint64(f.seed)
	return ""
}

func runFuzz(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flagSet("fuzz", stdout)
	var ff fuzzFlags
	ff.bind(fs)
	if done, status := parseFlags(fs, args, stderr); done {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "fuzz", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if msg := ff.complete(); msg != "" {
		return usageError(stderr, "fuzz", msg)
	}
	if ff.printCases != "" {
		return fuzzPrintCases(stdout, stderr, ff.cfg, ff.printCases)
	}
	oracle, replay, stop, err := ff.target.open(ctx, "fuzz", stderr)
	if err != nil {
		if strings.HasPrefix(err.Error(), "-") {
			return usageError(stderr, "fuzz", err.Error())
		}
		return failure(stderr, "fuzz", err)
	}
	defer stop()
	if dir := ff.cfg.FindingsDir; dir != "" { // before the campaign, not at its first finding
		if err := writableDir(dir); err != nil {
			return usageError(stderr, "fuzz", fmt.Sprintf("-findings %s: %v", dir, err))
		}
	}
	ff.cfg.Oracle, ff.cfg.ReplayCommand = oracle, replay
	res, runErr := fuzzRun(ctx, ff.cfg, ff.quiet, stderr)
	stoppedByCtx := runErr != nil && ctx.Err() != nil && errors.Is(runErr, ctx.Err())
	if res != nil {
		if runErr != nil && !stoppedByCtx {
			res.Stopped = "error: " + userText(res.Stopped)
		}
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

// fuzzRun runs the fuzzer with progress on stderr. The result is nil
// when the run could not start.
func fuzzRun(ctx context.Context, cfg fuzz.Config, quiet bool, stderr io.Writer) (*fuzz.Result, error) {
	fz, err := fuzz.New(cfg)
	if err != nil {
		return nil, err
	}
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
// done of -cases, or time of -duration, whichever ends it first; none
// when neither does.
func fuzzProgress(p fuzz.Progress, cfg fuzz.Config) progressReport {
	r := progressReport{Done: p.Cases, Unit: "cases", Status: fuzzStatus(p)}
	byCases, byTime := -1.0, -1.0
	if cfg.Cases > 0 {
		byCases = float64(p.Cases) / float64(cfg.Cases)
	}
	if cfg.Duration > 0 {
		byTime = float64(p.Elapsed) / float64(cfg.Duration)
	}
	switch {
	case byCases >= byTime && byCases >= 0:
		r.Total = cfg.Cases
	case byTime >= 0:
		r.Done, r.Total, r.Unit = min(p.Elapsed, cfg.Duration).Milliseconds(), cfg.Duration.Milliseconds(), "ms"
	}
	return r
}

// fuzzStatus is the progress line: cases, cases/s, findings by kind, corpus.
func fuzzStatus(p fuzz.Progress) string {
	rate := 0.0
	if p.Elapsed > 0 {
		rate = float64(p.Cases) / p.Elapsed.Seconds()
	}
	s := fmt.Sprintf("cases %d  %.0f/s  findings %d", p.Cases, rate, p.Findings)
	if p.Findings > 0 {
		s += " (" + fuzz.KindCounts(p.ByKind) + ")"
	}
	return s + fmt.Sprintf("  corpus %d", p.Corpus)
}

// fuzzPrintCases prints the cases of a range ("90" or "90-99") as the run
// with cfg makes them: index, mutators, parent, and the bytes quoted.
func fuzzPrintCases(stdout, stderr io.Writer, cfg fuzz.Config, spec string) int {
	lo, hi, err := fuzzCaseRange(spec)
	if err != nil {
		return usageError(stderr, "fuzz", err.Error())
	}
	for i := lo; i <= hi; i++ {
		c, err := fuzz.MakeCase(cfg, i)
		if err != nil {
			return failure(stderr, "fuzz", err)
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
		return 0, 0, fmt.Errorf("-print-cases %q: want a case index N or a range N-M of at most 100000 cases", spec)
	}
	return lo, hi, nil
}
