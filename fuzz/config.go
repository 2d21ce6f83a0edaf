package fuzz

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// Defaults for a [Config].
const (
	// DefaultConns is how many connections (workers) fuzz at once.
	DefaultConns = 4
	// DefaultMinimizeRuns bounds the executions spent shrinking one finding.
	DefaultMinimizeRuns = 300
	// DefaultMinimizeTime bounds the time spent shrinking one finding.
	DefaultMinimizeTime = 30 * time.Second
	// DefaultMinimizeShare is the most of a run's time that shrinking
	// findings may take.
	DefaultMinimizeShare = 0.2
	// DefaultRecoverWait is how long a target cvrswarm cannot restart may
	// take to accept again after a crash before the run stops.
	DefaultRecoverWait = 30 * time.Second
	// DefaultFindingsDir is where the command line saves findings.
	DefaultFindingsDir = "findings"
	// EpochSize is how many cases pass between updates of the working
	// corpus that new cases are derived from.
	EpochSize = 1024
	// MaxCorpus bounds the working corpus.
	MaxCorpus = 4096
)

// Config sets up a fuzzing run. Oracle.Target is required. A zero
// field asks for nothing (no sequence mutation, no shrinking, no saved
// findings) or, where the field says so, for its default.
type Config struct {
	// Oracle holds the target and how cases are judged.
	Oracle Oracle
	// Seed makes the run reproducible: case i of a run is a function of
	// (Seed, i) and, with feedback, of the replies of earlier epochs.
	Seed uint64
	// Cases stops the run after this many cases; 0 means no limit.
	Cases int64
	// Duration stops the run after this long; 0 means no limit. With
	// neither, the run lasts until its context ends.
	Duration time.Duration
	// Rate caps the cases per second, to spare a shared server; 0 means
	// as fast as the target answers.
	Rate float64
	// Conns is how many connections fuzz at once; 0 means DefaultConns.
	Conns int
	// Seeds are the inputs cases are derived from; nil means
	// corpus.Seeds(). At least one must have CVR bytes.
	Seeds []corpus.Case
	// Mutators to stack; nil means Mutators().
	Mutators []Mutator
	// SequenceShare is the share of cases, from 0 to 1, that also mutate
	// the command sequence; the command line's default is
	// DefaultSequenceShare.
	SequenceShare float64
	// NoFeedback keeps the working corpus to the seeds: then a case is a
	// function of (Seed, index) alone.
	NoFeedback bool
	// FindingsDir is where findings are saved; "" saves none.
	FindingsDir string
	// ReplayCommand starts the replay line written in each record, e.g.
	// "cvrswarm replay -target 127.0.0.1:1863"; "" means "cvrswarm replay".
	ReplayCommand string
	// MinimizeRuns bounds the executions spent shrinking a finding; 0
	// keeps findings as found. The command line's default is
	// DefaultMinimizeRuns.
	MinimizeRuns int
	// MinimizeTime bounds the time spent shrinking a finding; 0 means
	// DefaultMinimizeTime.
	MinimizeTime time.Duration
	// MinimizeShare is the most of the run's time, from 0 to 1, that
	// shrinking findings may take: a finding is shrunk once, in steps
	// between cases, as the run earns the time; 0 means
	// DefaultMinimizeShare, 1 no cap.
	MinimizeShare float64
	// RecoverWait is how long a crashed target that is not an *Exec may
	// take to come back; 0 means DefaultRecoverWait.
	RecoverWait time.Duration

	onCase    func(Case)    // test hook: every generated case, from its worker
	onFinding func(Finding) // test hook: every new finding, once confirmed
	onShrunk  func(Finding) // test hook: every finding once shrunk as far as it will be
}

// A FieldError says what is wrong with one field of a [Config] or an
// [Oracle], named as in Go ("Conns", "Timeout"); Validate joins one per
// field at fault with [errors.Join].
type FieldError struct {
	Field   string
	Problem string
}

// Error returns "Field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// errNoTarget is what an Oracle without a target answers.
var errNoTarget = fieldErr("Target", "no target given")

// Validate reports every field of c that cannot make a run, each as a
// [*FieldError], joined; nil when [New] accepts c.
func (c Config) Validate() error {
	errs := []error{c.Oracle.Validate()}
	bad := func(field, format string, args ...any) { errs = append(errs, fieldErr(field, format, args...)) }
	for _, f := range []struct {
		name string
		neg  bool
	}{{"Cases", c.Cases < 0}, {"Duration", c.Duration < 0}, {"Conns", c.Conns < 0},
		{"MinimizeRuns", c.MinimizeRuns < 0}, {"MinimizeTime", c.MinimizeTime < 0}, {"RecoverWait", c.RecoverWait < 0}} {
		if f.neg {
			bad(f.name, "must not be negative")
		}
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		bad("Rate", "%v: want 0 (no limit) or a number of cases per second", c.Rate)
	}
	if !(c.MinimizeShare >= 0 && c.MinimizeShare <= 1) {
		bad("MinimizeShare", "%v: want a share from 0 to 1", c.MinimizeShare)
	}
	return errors.Join(append(errs, c.validateCases())...)
}

// validateCases checks the fields that make the cases.
func (c Config) validateCases() error {
	var errs []error
	if !(c.SequenceShare >= 0 && c.SequenceShare <= 1) {
		errs = append(errs, fieldErr("SequenceShare", "%v: want a share from 0 to 1", c.SequenceShare))
	}
	if _, err := c.bases(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Validate reports every field of o that cannot judge a case, each as a
// [*FieldError], joined; nil when o is ready.
func (o Oracle) Validate() error {
	var errs []error
	if o.Target == nil {
		errs = append(errs, errNoTarget)
	}
	if o.Timeout < 0 {
		errs = append(errs, fieldErr("Timeout", "must not be negative"))
	}
	if o.AmplifyFactor != 0 && !(o.AmplifyFactor > 1) || math.IsInf(o.AmplifyFactor, 0) {
		errs = append(errs, fieldErr("AmplifyFactor", "%v: want a ratio over 1", o.AmplifyFactor))
	}
	if o.AmplifyFloor < 0 {
		errs = append(errs, fieldErr("AmplifyFloor", "must not be negative"))
	}
	return errors.Join(errs...)
}

// bases returns the seeds cases derive from: c.Seeds (corpus.Seeds()
// when nil) that have CVR bytes.
func (c *Config) bases() ([]corpus.Case, error) {
	all := c.Seeds
	if all == nil {
		all = corpus.Seeds()
	}
	var seeds []corpus.Case
	for _, s := range all {
		if len(s.CVR) > 0 {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, fieldErr("Seeds", "no seed with CVR bytes")
	}
	return seeds, nil
}

// generator returns the generator of the run's cases.
func (c *Config) generator() Generator {
	return Generator{Seed: c.Seed, SequenceShare: c.SequenceShare, Havoc: Havoc{Mutators: c.Mutators}}
}

// MakeCase returns case i of a run with cfg, without a target: the bytes
// and mutators the run sends as that case. With feedback, the cases from
// the third epoch on (i >= 2*EpochSize) also derive from inputs that
// earlier replies added to the working corpus, which only a run knows:
// those need cfg.NoFeedback.
func MakeCase(cfg Config, i uint64) (Case, error) {
	if !cfg.NoFeedback && i >= 2*EpochSize {
		return Case{}, fmt.Errorf("case %d derives from the replies to earlier cases (feedback): without a run, only cases below %d, or any case with feedback off, can be made", i, 2*EpochSize)
	}
	if err := cfg.validateCases(); err != nil {
		return Case{}, err
	}
	seeds, _ := cfg.bases()
	g := cfg.generator()
	return g.Generate(i, seeds), nil
}
