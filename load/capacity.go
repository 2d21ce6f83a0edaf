package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// Capacity search defaults, also the defaults of the capacity command's flags.
const (
	DefaultCapacityStart     = 500.0           // first offered rate, per second
	DefaultCapacityMax       = 1_000_000.0     // highest rate the search offers, per second
	DefaultCapacityGrowth    = 2.0             // factor between rates until a step fails
	DefaultCapacityPrecision = 0.05            // the bracket's width, relative to its lower end
	DefaultCapacityTolerance = 0.05            // how far the achieved rate may fall short of the offered
	DefaultCapacityWarmup    = time.Second     // run at each rate before measuring
	DefaultCapacityDwell     = 3 * time.Second // measured time at each rate
	DefaultCapacityMaxSteps  = 25              // give up (not converged) after this many steps
	DefaultCapacityRetries   = 1               // runs again of a failing step before it counts as failed
)

// CapacityVersion is the version of the capacity search's JSON format.
const CapacityVersion = 1

// Phases of a capacity search, as [CapacityStep.Phase] names them.
const (
	PhaseGrow   = "grow"   // raising the rate geometrically until a step fails
	PhaseShrink = "shrink" // lowering it geometrically until a step passes
	PhaseBisect = "bisect" // halving the bracket
	PhaseRetry  = "retry"  // the rate of a step that just failed, once more
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
	// its dwell: at least Requests, Rate, Latency and Outcomes. When ctx
	// ends during the step, it returns what it has, marked Partial, or an
	// error.
	RunStep(ctx context.Context, step StepSpec) (*Result, error)
}

// StepRunnerFunc adapts a function to a [StepRunner].
type StepRunnerFunc func(ctx context.Context, step StepSpec) (*Result, error)

// RunStep calls f.
func (f StepRunnerFunc) RunStep(ctx context.Context, step StepSpec) (*Result, error) {
	return f(ctx, step)
}

var _ StepRunner = StepRunnerFunc(nil)

// CapacityConfig says how [Capacity] searches. The zero value of each field
// means its DefaultCapacityX constant.
type CapacityConfig struct {
	Start     float64       // first offered rate, per second
	Max       float64       // highest rate offered
	Growth    float64       // factor between rates while no step has failed (> 1)
	Precision float64       // converged when high <= low*(1+Precision)
	Tolerance float64       // a step fails when achieved < offered*(1-Tolerance)
	Warmup    time.Duration // unmeasured run-in at each rate; negative for none
	Dwell     time.Duration // measured time at each rate
	MaxSteps  int
	// Retries is how many times a failing step is run again before its
	// rate counts as failed; the rate passes if any run passes. Noise on
	// a busy load generator only ever makes a step look worse (a late
	// wake-up adds latency and loses throughput, never the reverse), so a
	// pass is trusted and a failure confirmed. A step whose achieved rate
	// fell short by over twice Tolerance is past the knee beyond doubt and
	// is not run again. Negative for none.
	Retries int

	// SLO judges a step's measurements; a step passes only when every
	// verdict is met. Nil judges by the achieved rate alone, so the search
	// finds the highest rate the target sustains.
	SLO func(*Result) []SLOVerdict
	// SLOText is the SLO as given, recorded in the result.
	SLOText string
	// OnStep, when set, is called after each step, in order, from the
	// goroutine that called [Capacity], with the bracket so far.
	OnStep func(CapacityStep, Bracket)
}

func (c CapacityConfig) withDefaults() CapacityConfig {
	if c.Start <= 0 {
		c.Start = DefaultCapacityStart
	}
	if c.Max <= 0 {
		c.Max = DefaultCapacityMax
	}
	if c.Growth <= 1 {
		c.Growth = DefaultCapacityGrowth
	}
	if c.Precision <= 0 {
		c.Precision = DefaultCapacityPrecision
	}
	if c.Tolerance <= 0 {
		c.Tolerance = DefaultCapacityTolerance
	}
	switch {
	case c.Warmup == 0:
		c.Warmup = DefaultCapacityWarmup
	case c.Warmup < 0:
		c.Warmup = 0
	}
	if c.Dwell <= 0 {
		c.Dwell = DefaultCapacityDwell
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = DefaultCapacityMaxSteps
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultCapacityRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	return c
}

// Validate reports settings that cannot work, naming the setting.
func (c CapacityConfig) Validate() error {
	switch {
	case c.Start < 0 || math.IsNaN(c.Start) || math.IsInf(c.Start, 0):
		return fmt.Errorf("load: capacity: start rate %v is not a positive number", c.Start)
	case c.Max < 0 || math.IsNaN(c.Max) || math.IsInf(c.Max, 0):
		return fmt.Errorf("load: capacity: max rate %v is not a positive number", c.Max)
	case c.Start > 0 && c.Max > 0 && c.Max < c.Start:
		return fmt.Errorf("load: capacity: max rate %v is below the start rate %v", c.Max, c.Start)
	case c.Growth != 0 && !(c.Growth > 1):
		return fmt.Errorf("load: capacity: growth %v must be above 1", c.Growth)
	case c.Precision < 0 || c.Precision >= 1:
		return fmt.Errorf("load: capacity: precision %v must be between 0 and 1", c.Precision)
	case c.Tolerance < 0 || c.Tolerance >= 1:
		return fmt.Errorf("load: capacity: tolerance %v must be between 0 and 1", c.Tolerance)
	case c.Dwell < 0:
		return fmt.Errorf("load: capacity: dwell %v is negative", c.Dwell)
	case c.MaxSteps < 0:
		return fmt.Errorf("load: capacity: max steps %d is negative", c.MaxSteps)
	}
	return nil
}

// CapacityStep is one step of a search and its verdict.
type CapacityStep struct {
	Index      int          `json:"index"`
	Phase      string       `json:"phase"`
	Offered    float64      `json:"offered_rps"`
	Achieved   float64      `json:"achieved_rps"`
	Requests   int64        `json:"requests"`
	Latency    Summary      `json:"latency_us"`
	ErrorShare float64      `json:"error_share"` // of requests not answered with a CVR reply
	SLO        []SLOVerdict `json:"slo,omitempty"`
	Pass       bool         `json:"pass"`
	Reason     string       `json:"reason,omitempty"` // why it failed
	Partial    bool         `json:"partial,omitempty"`
	Outcomes   Counts       `json:"outcomes,omitempty"`
}

// Bracket is where the capacity lies: Low passed (0 when no step passed),
// High failed (0 when no step failed).
type Bracket struct {
	Low  float64 `json:"low_rps"`
	High float64 `json:"high_rps"`
}

// CapacitySettings are a search's parameters, as the JSON records them.
type CapacitySettings struct {
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
	Load *Settings `json:"load,omitempty"`
}

// CapacityResult is what a capacity search found, as -json writes it.
type CapacityResult struct {
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
	Converged bool             `json:"converged"`
	Bracket   Bracket          `json:"bracket"`
	Stopped   string           `json:"stopped"` // why the search ended, in words
	Steps     []CapacityStep   `json:"steps"`
	Settings  CapacitySettings `json:"settings"`
}

// Capacity searches for the highest rate the target sustains within the
// SLO: it raises the offered rate geometrically from cfg.Start until a step
// fails (or lowers it until one passes), then bisects until the highest
// passing rate is bracketed within cfg.Precision. A step fails when its
// achieved rate falls short of the offered rate by more than cfg.Tolerance,
// whatever its latency, or when an SLO verdict is not met; a failing step
// is run again (cfg.Retries) before its rate counts as failed.
//
// It returns the result so far and nil when ctx ends (marked Partial), and
// the result so far with the error when a step fails to run.
func Capacity(ctx context.Context, run StepRunner, cfg CapacityConfig) (*CapacityResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	res := &CapacityResult{
		Version: CapacityVersion,
		Start:   time.Now().UTC(),
		Settings: CapacitySettings{
			Start: cfg.Start, Max: cfg.Max, Growth: cfg.Growth, Precision: cfg.Precision,
			Tolerance: cfg.Tolerance, Warmup: cfg.Warmup.String(), Dwell: cfg.Dwell.String(),
			MaxSteps: cfg.MaxSteps, Retries: cfg.Retries, SLO: cfg.SLOText,
		},
		Steps: []CapacityStep{},
	}
	defer func() { res.DurationS = time.Since(res.Start).Seconds() }()
	var s search
	s.cfg = cfg
	rate, phase := cfg.Start, PhaseGrow
	retried := 0 // runs again of the current rate
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
			return res, fmt.Errorf("load: capacity: step %d at %s: %w", spec.Index, FormatRate(rate), err)
		}
		step := judgeStep(spec, r, cfg)
		res.Steps = append(res.Steps, step)
		// A failure is recorded at once when no step is left to run it
		// again, or when the step fell so far short of the offered rate
		// (over twice the tolerance) that noise cannot explain it.
		farShort := step.Achieved < step.Offered*(1-2*cfg.Tolerance)
		retry := !step.Pass && !step.Partial && !farShort && retried < cfg.Retries &&
			len(res.Steps) < cfg.MaxSteps && ctx.Err() == nil
		if !retry && !step.Partial {
			s.record(step)
		}
		if cfg.OnStep != nil {
			cfg.OnStep(step, Bracket{Low: s.low, High: s.high})
		}
		if spec.Index == 1 && !step.Partial && r.Requests > 0 && r.Outcomes[OutcomeOK] == 0 {
			// A target that answers nothing has no capacity to search for.
			res.Stopped = "the target answered no request"
			s.finish(res)
			return res, fmt.Errorf("load: capacity: the target answered no request at %s with a CVR reply (outcomes: %s)",
				FormatRate(rate), formatOutcomes(r.Outcomes))
		}
		if step.Partial {
			res.Partial, res.Stopped = true, "interrupted"
			break
		}
		if retry {
			retried++
			phase = PhaseRetry
			continue
		}
		retried = 0
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

// search holds the bracket while [Capacity] runs.
type search struct {
	cfg       CapacityConfig
	low, high float64 // highest pass, lowest fail; 0 = none yet
}

func (s *search) record(step CapacityStep) {
	if step.Pass {
		s.low = max(s.low, step.Offered)
	} else if s.high == 0 || step.Offered < s.high {
		s.high = step.Offered
	}
}

// next returns the next rate to offer, or why the search stops.
func (s *search) next() (rate float64, phase, stop string) {
	cfg := s.cfg
	switch {
	case s.high == 0: // every step passed so far
		if s.low >= cfg.Max {
			return 0, "", fmt.Sprintf("every rate passed up to the maximum %s", FormatRate(cfg.Max))
		}
		return math.Min(math.Round(s.low*cfg.Growth), cfg.Max), PhaseGrow, ""
	case s.low == 0: // every step failed so far
		r := math.Floor(s.high / cfg.Growth)
		if r < 1 {
			return 0, "", "no rate passed, down to 1/s"
		}
		return r, PhaseShrink, ""
	case s.high <= s.low*(1+cfg.Precision):
		return 0, "", "converged"
	}
	mid := math.Round((s.low + s.high) / 2)
	if mid <= s.low || mid >= s.high { // rates are whole requests per second
		return 0, "", "converged"
	}
	return mid, PhaseBisect, ""
}

func (s *search) finish(res *CapacityResult) {
	res.Bracket = Bracket{Low: s.low, High: s.high}
	res.CapacityRPS = s.low
	res.Converged = s.low > 0 && s.high > 0 && !res.Partial &&
		(s.high <= s.low*(1+s.cfg.Precision) || s.high-s.low <= 1)
}

// judgeStep turns a step's measurements into its verdict.
func judgeStep(spec StepSpec, r *Result, cfg CapacityConfig) CapacityStep {
	step := CapacityStep{
		Index: spec.Index, Phase: spec.Phase, Offered: spec.Rate,
		Achieved: r.Rate.Achieved, Requests: r.Requests, Latency: r.Latency,
		ErrorShare: ValidErrorShare(r), Partial: r.Partial, Outcomes: r.Outcomes,
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
		step.Reason = fmt.Sprintf("achieved %s, below %s offered", FormatRate(step.Achieved), FormatRate(spec.Rate))
	case answeredRate(r) < floor: // a quick refusal or close is no capacity
		step.Pass = false
		step.Reason = fmt.Sprintf("answered %s with a CVR reply, below %s offered", FormatRate(math.Round(answeredRate(r)*10)/10), FormatRate(spec.Rate))
	}
	for _, v := range step.SLO {
		if !v.Met {
			if step.Pass {
				step.Reason = fmt.Sprintf("%s breached (%s)", v.Objective, formatValue(v.Value))
			}
			step.Pass = false
		}
	}
	return step
}

// answeredRate is the part of r's achieved rate answered with a CVR reply.
func answeredRate(r *Result) float64 {
	var sent int64
	for k, n := range r.Outcomes {
		if k != OutcomeUnsent {
			sent += n
		}
	}
	if sent == 0 {
		return r.Rate.Achieved
	}
	return r.Rate.Achieved * float64(r.Outcomes[OutcomeOK]) / float64(sent)
}

// formatOutcomes lists outcome counts, largest first: "refused 1500, closed 2".
func formatOutcomes(m Counts) string {
	parts := []string{}
	for _, o := range m.Sorted() {
		parts = append(parts, fmt.Sprintf("%s %d", o, m[o]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func formatValue(v float64) string {
	return fmt.Sprintf("%.4g", v)
}

// FormatRate writes a rate per second the way reports show it: "4000/s",
// "3312.5/s".
func FormatRate(r float64) string {
	if r == math.Trunc(r) && math.Abs(r) < 1e15 {
		return fmt.Sprintf("%d/s", int64(r))
	}
	return fmt.Sprintf("%.1f/s", r)
}

// WriteCapacityResult writes c as indented JSON to path, atomically.
func WriteCapacityResult(path string, c *CapacityResult) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if err := corpus.WriteFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	return nil
}
