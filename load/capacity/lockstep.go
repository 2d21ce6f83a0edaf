package capacity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"

	"github.com/cvrswarm/cvrswarm/load"
)

// Defaults of a [SyncConfig], also the defaults of the capacity command's
// flags.
const (
	DefaultSyncTimeout = 2 * time.Minute       // longest wait for the other shards' results of a step
	DefaultSyncGap     = time.Second           // from a step's last result to the next step's start
	DefaultSyncPoll    = 50 * time.Millisecond // how often the folder is looked at while waiting
)

// ShardStepFunc runs this shard's share of a capacity step (the step's
// rate split as [load.Config.Shard] splits a load) with the step's first
// request due at start, as [load.Config.StartAt] would have it.
type ShardStepFunc func(ctx context.Context, step StepSpec, start time.Time) (*load.Result, error)

// SyncConfig says how the shards of a capacity search keep in step through
// a folder they share.
type SyncConfig struct {
	// Dir is the shared folder; it is created if need be.
	Dir string
	// Shard is this process's shard; Count is the number of shards.
	Shard load.Shard
	// StartAt is when the first step starts, the same in every shard. Its
	// Unix time names the run's files, so that the files of another run
	// in the same folder are never taken for this one's.
	StartAt time.Time
	// Timeout bounds the wait for the other shards' results of a step;
	// 0 means DefaultSyncTimeout.
	Timeout time.Duration
	// Gap is the time from a step's last result to the next step's start;
	// 0 means DefaultSyncGap. It covers reading the results and opening
	// the next step's connections.
	Gap time.Duration
	// Poll is how often the folder is read while waiting; 0 means
	// DefaultSyncPoll.
	Poll time.Duration
}

// Validate reports every field of c that cannot keep shards in step,
// each as a [*FieldError], joined; nil when [ShardedSteps] would start.
func (c SyncConfig) Validate() error {
	var errs fieldErrors
	if c.Dir == "" {
		errs.add("Dir", "no sync folder given")
	}
	if sh := c.Shard; sh.Count < 1 || sh.Index < 1 || sh.Index > sh.Count {
		errs.add("Shard", "%d/%d: want i/n with 1 <= i <= n", sh.Index, sh.Count)
	}
	if c.StartAt.IsZero() {
		errs.add("StartAt", "no start time given: the same in every shard")
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"Timeout", c.Timeout}, {"Gap", c.Gap}, {"Poll", c.Poll}} {
		if d.v < 0 {
			errs.add(d.field, "%v is negative", d.v)
		}
	}
	return errors.Join(errs...)
}

// shardedSteps is the [StepRunner] [ShardedSteps] returns.
type shardedSteps struct {
	run  ShardStepFunc
	cfg  SyncConfig
	next time.Time // the next step's start
}

// ShardedSteps returns a [StepRunner] that runs each step of a capacity
// search as one of cfg.Shard.Count shards in lockstep, with no coordinator:
// each shard runs the same search, and for each step
//
//   - runs its share with run, starting at the step's start time;
//   - writes its result atomically to cfg.Dir, named after the run, the
//     step and the shard ("capacity-<unix>-step-0007-shard-2of4.json", a
//     load result that [load.Merge] and the merge command read);
//   - waits, at most cfg.Timeout, until every shard's result of the step
//     is there (a shard whose step failed to run leaves a ".failed" file
//     beside it, which ends the wait at once);
//   - returns the shards' results merged with [load.Merge].
//
// Every shard thus judges the same measurements and takes the same
// decisions. The first step starts at cfg.StartAt; each next one at the
// latest end among the step's results (the end of a shard's schedule, or
// when it wrote its result, whichever is later) plus cfg.Gap: a time read off
// the files, the same in every shard.
//
// It refuses a folder that already holds this run's results for this
// shard. When ctx ends during a step, RunStep writes the shard's partial
// result, notes the interruption (so that the other shards stop too) and
// returns ctx's error.
func ShardedSteps(run ShardStepFunc, cfg SyncConfig) (StepRunner, error) {
	if run == nil {
		return nil, errors.New("shards: no step function")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultSyncTimeout)
	cfg.Gap = cmp.Or(cfg.Gap, DefaultSyncGap)
	cfg.Poll = cmp.Or(cfg.Poll, DefaultSyncPoll)
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("shards: sync folder: %w", err)
	}
	s := &shardedSteps{run: run, cfg: cfg, next: cfg.StartAt}
	mine, err := filepath.Glob(filepath.Join(cfg.Dir, s.name("*", cfg.Shard.Index)+"*"))
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	if len(mine) > 0 {
		return nil, fmt.Errorf("shards: %s already holds results of shard %s of the run starting at %s (%s): remove them or start at another time",
			cfg.Dir, s.label(cfg.Shard.Index), cfg.StartAt.UTC().Format(time.RFC3339), filepath.Base(mine[0]))
	}
	return s, nil
}

// name is the base name, without extension, of shard i's result of a step
// ("0007", or a glob pattern).
func (s *shardedSteps) name(step string, i int) string {
	return fmt.Sprintf("capacity-%d-step-%s-shard-%dof%d", s.cfg.StartAt.Unix(), step, i, s.cfg.Shard.Count)
}

func (s *shardedSteps) path(step, i int, ext string) string {
	return filepath.Join(s.cfg.Dir, s.name(fmt.Sprintf("%04d", step), i)+ext)
}

func (s *shardedSteps) label(i int) string { return fmt.Sprintf("%d/%d", i, s.cfg.Shard.Count) }

// RunStep runs this shard's share of the step, then returns the step's
// result merged from every shard's.
func (s *shardedSteps) RunStep(ctx context.Context, step StepSpec) (*load.Result, error) {
	me := s.cfg.Shard.Index
	if !s.next.After(time.Now()) {
		err := fmt.Errorf("shards: step %d was due to start at %s, %v ago: the shards fell out of step (a longer gap helps)",
			step.Index, s.next.UTC().Format(time.RFC3339Nano), time.Since(s.next).Round(time.Millisecond))
		return nil, s.fail(step.Index, err)
	}
	r, err := s.run(ctx, step, s.next)
	if r != nil {
		r.End = latest(r.End, time.Now()) // for the lockstep, the step ends once its result is written
		if werr := load.WriteResult(s.path(step.Index, me, ".json"), r); werr != nil {
			return nil, s.fail(step.Index, fmt.Errorf("shards: %w", werr))
		}
	}
	if ctx.Err() != nil {
		return nil, s.interrupted(step.Index, ctx.Err())
	}
	if err != nil {
		return nil, s.fail(step.Index, err)
	}
	results, next, err := s.await(ctx, step.Index)
	if err != nil {
		return nil, err
	}
	m, err := load.Merge(results...)
	if err != nil {
		return nil, fmt.Errorf("shards: step %d: %w", step.Index, err)
	}
	s.next = next.Add(s.cfg.Gap)
	return m, nil
}

// fail leaves a note that this shard's step failed, so that the other
// shards stop waiting for it, and returns err.
func (s *shardedSteps) fail(step int, err error) error {
	_ = corpus.WriteFile(s.path(step, s.cfg.Shard.Index, ".failed"), []byte(err.Error()+"\n"))
	return err
}

// interrupted notes that this shard stopped at the step, for the shards
// waiting on this step and for those that merged it and went on to the
// next, and returns err.
func (s *shardedSteps) interrupted(step int, err error) error {
	err = fmt.Errorf("shards: step %d: interrupted: %w", step, err)
	s.fail(step+1, err)
	return s.fail(step, err)
}

// await waits for every shard's result of the step and returns them in
// shard order with the latest end among them.
func (s *shardedSteps) await(ctx context.Context, step int) (results []*load.Result, end time.Time, err error) {
	deadline := time.NewTimer(s.cfg.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	for {
		missing, err := s.missing(step)
		if err != nil {
			return nil, time.Time{}, err
		}
		if len(missing) == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return nil, time.Time{}, fmt.Errorf("shards: step %d: no result from shard %s in %s after %v",
				step, strings.Join(missing, ", "), s.cfg.Dir, s.cfg.Timeout)
		case <-ctx.Done():
			return nil, time.Time{}, s.interrupted(step, ctx.Err())
		}
	}
	for i := 1; i <= s.cfg.Shard.Count; i++ {
		p := s.path(step, i, ".json")
		r, err := load.ReadResult(p)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("shards: step %d: shard %s: %w", step, s.label(i), err)
		}
		end = latest(end, r.Start.Add(time.Duration(r.DurationS*float64(time.Second))), r.End)
		results = append(results, r)
	}
	return results, end, nil
}

// missing lists the shards whose result of the step is not written yet;
// a shard that noted a failure is an error.
func (s *shardedSteps) missing(step int) ([]string, error) {
	var missing []string
	for i := 1; i <= s.cfg.Shard.Count; i++ {
		if note, err := os.ReadFile(s.path(step, i, ".failed")); err == nil {
			return nil, fmt.Errorf("shards: step %d: shard %s failed: %s", step, s.label(i), strings.TrimSpace(string(note)))
		}
		if _, err := os.Stat(s.path(step, i, ".json")); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("shards: %w", err)
			}
			missing = append(missing, s.label(i))
		}
	}
	return missing, nil
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}
