package capacity

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"

	"github.com/cvrswarm/cvrswarm/load"
)

// Defaults of a [Config], also those of the capacity command's flags.
const (
	DefaultStart     = 500.0           // first offered rate, per second
	DefaultMax       = 1_000_000.0     // highest rate the search offers, per second
	DefaultGrowth    = 2.0             // factor between rates until a step fails
	DefaultPrecision = 0.05            // the bracket's width, relative to its lower end
	DefaultTolerance = 0.05            // how far the achieved rate may fall short of the offered
	DefaultWarmup    = time.Second     // run at each rate before measuring
	DefaultDwell     = 3 * time.Second // measured time at each rate
	DefaultMaxSteps  = 25              // give up (not converged) after this many steps
	DefaultRetries   = 2               // runs again of a failing rate: 2, so that 2 failures of 3 runs confirm it
)

// Version is the version of the capacity search's JSON format.
const Version = 1

// Phases of a capacity search, as [Step.Phase] names them.
const (
	PhaseGrow   = "grow"   // raising the rate geometrically until a step fails
	PhaseShrink = "shrink" // lowering it geometrically until a step passes
	PhaseBisect = "bisect" // halving the bracket
	PhaseRetry  = "retry"  // a rate that failed, once more (see [Rerun])
)

// StepSpec is one step of a capacity search: offer Rate requests per
// second for Warmup, then for Dwell, measuring only the Dwell.
type StepSpec struct {
	Index  int // from 1
	Phase  string
	Rate   float64
	Warmup time.Duration
	Dwell  time.Duration
}

// StepRunner runs the steps of a capacity search against a target.
type StepRunner interface {
	// RunStep offers the step's rate and returns what was measured during
	// its dwell: at least Requests, load.Rate, Latency and Outcomes. When ctx
	// ends during the step, it returns what it has, marked Partial, or an
	// error.
	RunStep(ctx context.Context, step StepSpec) (*load.Result, error)
}

// StepRunnerFunc adapts a function to a [StepRunner].
type StepRunnerFunc func(ctx context.Context, step StepSpec) (*load.Result, error)

// RunStep calls f.
func (f StepRunnerFunc) RunStep(ctx context.Context, step StepSpec) (*load.Result, error) {
	return f(ctx, step)
}

var _ StepRunner = StepRunnerFunc(nil)

// Config says how [Search] searches. The zero value of each field means
// its DefaultX constant; no warm-up and no retries are asked for with
// NoWarmup and NoRetries.
type Config struct {
	Start     float64       // first offered rate, per second
	Max       float64       // highest rate offered
	Growth    float64       // factor between rates while no step has failed (> 1)
	Precision float64       // converged when high <= low*(1+Precision)
	Tolerance float64       // a step fails when achieved < offered*(1-Tolerance)
	Warmup    time.Duration // unmeasured run-in at each rate
	NoWarmup  bool          // measure each rate from its first request
	Dwell     time.Duration // measured time at each rate, at least a second
	MaxSteps  int
	// Retries is how many more times a rate is run after its first run
	// failed: the majority of its 1+Retries runs then decides its verdict
	// (with the default 2, two failures of three runs fail it, two passes
	// pass it). A rate that passes its first run passes: noise on a busy
	// load generator mostly makes a step look worse. A first failure is
	// run again when it is out of line with the steps before it (a higher
	// rate passed, or it fell short of a rate the target was seen to
	// achieve), however far short it fell; otherwise unless it fell short
	// by over twice Tolerance, which is past the knee beyond doubt. Before
	// the search converges, the bracket's failing top is run again until
	// the majority confirms it.
	Retries   int
	NoRetries bool // a failing step's rate counts as failed at once

	// SLO judges a step's measurements; a step passes only when every
	// verdict is met. Nil judges by the achieved rate alone, so the search
	// finds the highest rate the target sustains.
	SLO func(*load.Result) []load.SLOVerdict
	// SLOText is the SLO as given, recorded in the result.
	SLOText string
	// OnStep, when set, is called after each step, in order, from the
	// goroutine that called [Search], with the bracket so far.
	OnStep func(Step, Bracket)
}

func (c Config) withDefaults() Config {
	c.Start = cmp.Or(c.Start, DefaultStart)
	c.Max = cmp.Or(c.Max, DefaultMax)
	c.Growth = cmp.Or(c.Growth, DefaultGrowth)
	c.Precision = cmp.Or(c.Precision, DefaultPrecision)
	c.Tolerance = cmp.Or(c.Tolerance, DefaultTolerance)
	c.Warmup = cmp.Or(c.Warmup, DefaultWarmup)
	if c.NoWarmup {
		c.Warmup = 0
	}
	c.Dwell = cmp.Or(c.Dwell, DefaultDwell)
	c.MaxSteps = cmp.Or(c.MaxSteps, DefaultMaxSteps)
	c.Retries = cmp.Or(c.Retries, DefaultRetries)
	if c.NoRetries {
		c.Retries = 0
	}
	return c
}

// A FieldError says what is wrong with one field of a [Config] or a
// [SyncConfig], named as in Go ("Dwell"); their Validate methods join one
// per field at fault with [errors.Join].
type FieldError struct {
	Field   string
	Problem string
}

// Error returns "Field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// fieldErrors collects the FieldErrors of a validation.
type fieldErrors []error

func (errs *fieldErrors) add(field, format string, args ...any) {
	*errs = append(*errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Validate reports every field of c that cannot make a search, each as a
// [*FieldError], joined; nil when [Search] would start.
func (c Config) Validate() error {
	var errs fieldErrors
	for _, r := range []struct {
		field string
		v     float64
	}{{"Start", c.Start}, {"Max", c.Max}} {
		if r.v != 0 && !(r.v >= 1 && r.v <= 1e9) {
			errs.add(r.field, "%v: want a rate from 1 to 1e9 per second", r.v)
		}
	}
	if c.Start >= 1 && c.Max >= 1 && c.Max < c.Start {
		errs.add("Max", "%v is below the start rate %v", c.Max, c.Start)
	}
	if c.Growth != 0 && !(c.Growth > 1) {
		errs.add("Growth", "%v: want a factor above 1", c.Growth)
	}
	if !(c.Precision >= 0 && c.Precision < 1) {
		errs.add("Precision", "%v: want a share above 0 and below 1", c.Precision)
	}
	if !(c.Tolerance >= 0 && c.Tolerance < 1) {
		errs.add("Tolerance", "%v: want a share above 0 and below 1", c.Tolerance)
	}
	switch {
	case c.Warmup < 0:
		errs.add("Warmup", "%v is negative", c.Warmup)
	case c.Warmup > 0 && c.NoWarmup:
		errs.add("Warmup", "%v with NoWarmup", c.Warmup)
	}
	if c.Dwell != 0 && c.Dwell < time.Second {
		errs.add("Dwell", "%v: want at least 1s (the measurements are per second)", c.Dwell)
	}
	if c.MaxSteps < 0 {
		errs.add("MaxSteps", "%d is negative", c.MaxSteps)
	}
	switch {
	case c.Retries < 0:
		errs.add("Retries", "%d is negative", c.Retries)
	case c.Retries > 0 && c.NoRetries:
		errs.add("Retries", "%d with NoRetries", c.Retries)
	}
	return errors.Join(errs...)
}

// Step is one step of a search and its verdict.
type Step struct {
	Index      int               `json:"index"`
	Phase      string            `json:"phase"`
	Offered    float64           `json:"offered_rps"`
	Achieved   float64           `json:"achieved_rps"`
	Requests   int64             `json:"requests"`
	Latency    load.Summary      `json:"latency_us"`
	ErrorShare float64           `json:"error_share"` // of requests not answered with a CVR reply
	SLO        []load.SLOVerdict `json:"slo,omitempty"`
	Pass       bool              `json:"pass"`
	Reason     string            `json:"reason,omitempty"` // why it failed
	Partial    bool              `json:"partial,omitempty"`
	Outcomes   load.Counts       `json:"outcomes,omitempty"`
}

// Bracket is where the capacity lies: Low passed (0 when no step passed),
// High failed (0 when no step failed).
type Bracket struct {
	Low  float64 `json:"low_rps"`
	High float64 `json:"high_rps"`
}

// Settings are a search's parameters, as the JSON records them.
type Settings struct {
	Start     float64 `json:"start_rps"`
	Max       float64 `json:"max_rps"`
	Growth    float64 `json:"growth"`
	Precision float64 `json:"precision"`
	Tolerance float64 `json:"tolerance"`
	Warmup    string  `json:"warmup"`
	Dwell     string  `json:"dwell"`
	MaxSteps  int     `json:"max_steps"`
	Retries   int     `json:"retries"`
	SLO       string  `json:"slo,omitempty"`
	// Load holds the settings of the load each step offers, but for its rate.
	Load *load.Settings `json:"load,omitempty"`
}

// Result is what a capacity search found, as -json writes it.
type Result struct {
	Version  int    `json:"version"`
	Target   string `json:"target"`
	Embedded bool   `json:"embedded"`
	Partial  bool   `json:"partial"` // interrupted
	// Shard is this process's shard ("i/n") of a search run in lockstep by
	// n processes (see [ShardedSteps]), or "" for a search of one process.
	Shard string `json:"shard,omitempty"`
	// Merged says that every step's measurements are those of all the
	// shards merged, so that every shard judged the same figures and
	// reports the same steps and the same capacity.
	Merged    bool      `json:"merged,omitempty"`
	Start     time.Time `json:"start"`
	DurationS float64   `json:"duration_s"`
	// CapacityRPS is the highest offered rate that passed: Bracket.Low.
	CapacityRPS float64 `json:"capacity_rps"`
	// Converged says the bracket is as narrow as the precision asks.
	Converged bool    `json:"converged"`
	Bracket   Bracket `json:"bracket"`
	Stopped   string  `json:"stopped"` // why the search ended, in words
	Steps     []Step  `json:"steps"`
	// Reruns lists the rates run more than once, in the order of their
	// first step.
	Reruns   []Rerun  `json:"reruns,omitempty"`
	Settings Settings `json:"settings"`
}

// Rerun is a rate the search ran more than once: why, and what the runs
// decided. A rate that failed at or below the capacity (a higher rate
// passed) does not count against it.
type Rerun struct {
	Rate   float64 `json:"rate_rps"`
	Steps  []int   `json:"steps"` // the indexes of the steps that ran it
	Passed int     `json:"passed"`
	Failed int     `json:"failed"`
	Pass   bool    `json:"pass"` // the rate's verdict
	Why    string  `json:"why"`  // why it was run again
}

// Search searches for the highest rate the target sustains within the
// SLO: it raises the offered rate geometrically from cfg.Start until a rate
// fails (or lowers it until one passes), then bisects until the highest
// passing rate is bracketed within cfg.Precision. A step fails when its
// achieved rate falls short of the offered rate by more than cfg.Tolerance,
// whatever its latency, or when an SLO verdict is not met; a rate that
// failed is run again (cfg.Retries) before its verdict is taken. The
// capacity is the highest rate that passed: a rate that failed below it
// does not lower it.
//
// It returns the result so far and nil when ctx ends (marked Partial), and
// the result so far with the error when a step fails to run.
func Search(ctx context.Context, run StepRunner, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	res := &Result{
		Version: Version,
		Start:   time.Now().UTC(),
		Settings: Settings{
			Start: cfg.Start, Max: cfg.Max, Growth: cfg.Growth, Precision: cfg.Precision,
			Tolerance: cfg.Tolerance, Warmup: cfg.Warmup.String(), Dwell: cfg.Dwell.String(),
			MaxSteps: cfg.MaxSteps, Retries: cfg.Retries, SLO: cfg.SLOText,
		},
		Steps: []Step{},
	}
	defer func() { res.DurationS = time.Since(res.Start).Seconds() }()
	s := search{cfg: cfg, rates: map[float64]*rateRuns{}}
	rate, phase := cfg.Start, PhaseGrow
	for {
		if len(res.Steps) == cfg.MaxSteps {
			res.Stopped = fmt.Sprintf("gave up after %d steps", cfg.MaxSteps)
			break
		}
		if ctx.Err() != nil {
			res.Partial, res.Stopped = true, "interrupted"
			break
		}
		spec := StepSpec{Index: len(res.Steps) + 1, Phase: phase, Rate: rate, Warmup: cfg.Warmup, Dwell: cfg.Dwell}
		r, err := run.RunStep(ctx, spec)
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				res.Partial, res.Stopped = true, "interrupted"
				break
			}
			res.Stopped = "error: " + err.Error()
			s.finish(res)
			return res, fmt.Errorf("step %d at %s: %w", spec.Index, load.FormatRate(rate), err)
		}
		step := judgeStep(spec, r, cfg)
		res.Steps = append(res.Steps, step)
		again := false
		if !step.Partial {
			again = s.add(step, len(res.Steps) < cfg.MaxSteps && ctx.Err() == nil)
		}
		if cfg.OnStep != nil {
			cfg.OnStep(step, s.bracket())
		}
		if spec.Index == 1 && !step.Partial && r.Requests > 0 && r.Outcomes[load.OutcomeOK] == 0 {
			// A target that answers nothing has no capacity to search for.
			res.Stopped = "the target answered no request"
			s.finish(res)
			return res, fmt.Errorf("the target answered no request at %s with a CVR reply (outcomes: %s)",
				load.FormatRate(rate), formatOutcomes(r.Outcomes))
		}
		if step.Partial {
			res.Partial, res.Stopped = true, "interrupted"
			break
		}
		if again {
			phase = PhaseRetry
			continue
		}
		var stop string
		rate, phase, stop = s.next()
		if stop != "" {
			res.Stopped = stop
			break
		}
	}
	s.finish(res)
	return res, nil
}

// rateRuns is what the search learnt of one rate.
type rateRuns struct {
	rate           float64
	steps          []int // indexes
	passed, failed int
	decided, pass  bool   // its verdict, once taken
	why            string // why it was run again
}

// search holds what [Search] learnt so far.
type search struct {
	cfg   Config
	rates map[float64]*rateRuns
	order []*rateRuns // by first step
	low   float64     // the highest rate that passed; 0 for none
	best  float64     // the highest rate any step achieved
}

// failsNeeded is how many failures of its 1+Retries runs fail a rate
// that is run again: a majority.
func (s *search) failsNeeded() int { return (1+s.cfg.Retries)/2 + 1 }

// add files a step's verdict under its rate and reports whether the rate
// must run again before its verdict is taken; more says a step is left
// for that. A verdict taken moves the bracket.
func (s *search) add(step Step, more bool) (again bool) {
	rr := s.rates[step.Offered]
	if rr == nil {
		rr = &rateRuns{rate: step.Offered}
		s.rates[step.Offered] = rr
		s.order = append(s.order, rr)
	}
	rr.steps = append(rr.steps, step.Index)
	if step.Pass {
		rr.passed++
	} else {
		rr.failed++
	}
	best := s.best
	s.best = max(s.best, step.Achieved)
	runs, need := rr.passed+rr.failed, s.failsNeeded()
	switch {
	case runs == 1 && step.Pass:
		rr.decided, rr.pass = true, true
	case runs == 1:
		floor := step.Offered * (1 - s.cfg.Tolerance)
		farShort := step.Achieved < step.Offered*(1-2*s.cfg.Tolerance)
		switch {
		case step.Offered <= s.low:
			rr.why = fmt.Sprintf("out of line: %s passed", load.FormatRate(s.low))
		case step.Achieved < floor && best >= floor: // the target was seen to sustain this rate
			rr.why = fmt.Sprintf("out of line: achieved %s, where %s was achieved before", load.FormatRate(math.Round(step.Achieved)), load.FormatRate(math.Round(best)))
		case !farShort:
			rr.why = "confirming a failure"
		}
		rr.decided = s.cfg.Retries == 0 || rr.why == ""
	case rr.failed >= need:
		rr.decided = true
	case rr.passed >= 1+s.cfg.Retries-need+1:
		rr.decided, rr.pass = true, true
	}
	if !rr.decided && !more { // no step left to run it again: the runs so far decide, a tie passing
		rr.decided, rr.pass = true, rr.passed >= rr.failed
	}
	if rr.decided && rr.pass {
		s.low = max(s.low, rr.rate)
	}
	return !rr.decided
}

// high returns the lowest rate above the capacity that failed, nil when
// none did.
func (s *search) high() *rateRuns {
	var h *rateRuns
	for _, rr := range s.order {
		if rr.decided && !rr.pass && rr.rate > s.low && (h == nil || rr.rate < h.rate) {
			h = rr
		}
	}
	return h
}

func (s *search) bracket() Bracket {
	b := Bracket{Low: s.low}
	if h := s.high(); h != nil {
		b.High = h.rate
	}
	return b
}

// next returns the next rate to offer, or why the search stops.
func (s *search) next() (rate float64, phase, stop string) {
	cfg := s.cfg
	h := s.high()
	switch {
	case h == nil: // every rate passed so far
		if s.low >= cfg.Max {
			return 0, "", fmt.Sprintf("every rate passed up to the maximum %s", load.FormatRate(cfg.Max))
		}
		return math.Min(math.Round(s.low*cfg.Growth), cfg.Max), PhaseGrow, ""
	case s.low == 0: // every rate failed so far
		r := math.Floor(h.rate / cfg.Growth)
		if r < 1 {
			return 0, "", "no rate passed, down to 1/s"
		}
		return r, PhaseShrink, ""
	}
	mid := math.Round((s.low + h.rate) / 2)
	if h.rate > s.low*(1+cfg.Precision) && mid > s.low && mid < h.rate { // rates are whole requests per second
		return mid, PhaseBisect, ""
	}
	if cfg.Retries > 0 && h.failed < s.failsNeeded() {
		// the answer rests on the bracket's top: confirm it first
		h.decided, h.why = false, "confirming the bracket's top"
		return h.rate, PhaseRetry, ""
	}
	return 0, "", "converged"
}

func (s *search) finish(res *Result) {
	res.Bracket = s.bracket()
	res.CapacityRPS = s.low
	b := res.Bracket
	res.Converged = b.Low > 0 && b.High > 0 && !res.Partial &&
		(b.High <= b.Low*(1+s.cfg.Precision) || b.High-b.Low <= 1) &&
		(s.cfg.Retries == 0 || s.high().failed >= s.failsNeeded())
	for _, rr := range s.order {
		if len(rr.steps) > 1 {
			res.Reruns = append(res.Reruns, Rerun{Rate: rr.rate, Steps: rr.steps, Passed: rr.passed, Failed: rr.failed,
				Pass: rr.pass, Why: rr.why})
		}
	}
}

// judgeStep turns a step's measurements into its verdict.
func judgeStep(spec StepSpec, r *load.Result, cfg Config) Step {
	step := Step{
		Index: spec.Index, Phase: spec.Phase, Offered: spec.Rate,
		Achieved: r.Rate.Achieved, Requests: r.Requests, Latency: r.Latency,
		ErrorShare: load.ValidErrorShare(r), Partial: r.Partial, Outcomes: r.Outcomes,
	}
	if cfg.SLO != nil {
		step.SLO = cfg.SLO(r)
	}
	step.Pass = true
	switch floor := spec.Rate * (1 - cfg.Tolerance); {
	case r.Requests == 0:
		step.Pass, step.Reason = false, "no request completed"
	case step.Achieved < floor:
		step.Pass = false
		step.Reason = fmt.Sprintf("achieved %s, below %s offered", load.FormatRate(step.Achieved), load.FormatRate(spec.Rate))
	case answeredRate(r) < floor: // a quick refusal or close is no capacity
		step.Pass = false
		step.Reason = fmt.Sprintf("answered %s with a CVR reply, below %s offered", load.FormatRate(math.Round(answeredRate(r)*10)/10), load.FormatRate(spec.Rate))
	}
	for _, v := range step.SLO {
		if !v.Met {
			if step.Pass {
				step.Reason = v.String()
			}
			step.Pass = false
		}
	}
	return step
}

// answeredRate is the part of r's achieved rate answered with a CVR reply.
func answeredRate(r *load.Result) float64 {
	var sent int64
	for k, n := range r.Outcomes {
		if k != load.OutcomeUnsent {
			sent += n
		}
	}
	if sent == 0 {
		return r.Rate.Achieved
	}
	return r.Rate.Achieved * float64(r.Outcomes[load.OutcomeOK]) / float64(sent)
}

// formatOutcomes lists outcome counts, largest first: "refused 1500, closed 2".
func formatOutcomes(m load.Counts) string {
	parts := []string{}
	for _, o := range m.Sorted() {
		parts = append(parts, fmt.Sprintf("%s %d", o, m[o]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// WriteResult writes c as indented JSON to path, atomically.
func WriteResult(path string, c *Result) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := corpus.WriteFile(path, append(b, '\n')); err != nil {
		return err
	}
	return nil
}
