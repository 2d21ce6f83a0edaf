package capacity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
)

// shardFake measures a step of a target of capacity knee as shard sh of
// it would, or the whole step for the zero Shard: the whole step has
// min(rate, knee)*fakeSpan requests, request k answered in a latency that
// grows past the knee, and shard i takes the requests k with k%n == i-1,
// so that the shards' results merge into exactly the whole's. Its step
// lasts fakeSpan from start.
type shardFake struct {
	knee float64

	mu     sync.Mutex
	starts []time.Time // of each step, in order
}

const fakeSpan = 40 * time.Millisecond

func (f *shardFake) run(ctx context.Context, s StepSpec, sh load.Shard, start time.Time) (*load.Result, error) {
	f.mu.Lock()
	f.starts = append(f.starts, start)
	f.mu.Unlock()
	t := time.NewTimer(time.Until(start.Add(fakeSpan)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	whole := int64(math.Round(min(s.Rate, f.knee) * fakeSpan.Seconds()))
	base := int64(1000)
	if s.Rate > f.knee {
		base += int64((s.Rate - f.knee) / f.knee * 1e5)
	}
	h := load.NewHistogram()
	idx, n := int64(0), int64(1)
	if sh.Sharded() {
		idx, n = int64(sh.Index-1), int64(sh.Count)
	}
	for k := idx; k < whole; k += n {
		if err := h.RecordValue(base + k%7*100); err != nil {
			return nil, err
		}
	}
	mine := h.TotalCount()
	enc, err := load.EncodeHistogram(h)
	if err != nil {
		return nil, err
	}
	empty, _ := load.EncodeHistogram(load.NewHistogram())
	r := &load.Result{
		Version: load.ResultVersion, Target: "fake", Shard: sh.String(), Start: start, DurationS: fakeSpan.Seconds(),
		Requests: mine, Rate: load.Rate{Requested: float64(sh.Share64(int64(s.Rate))), Achieved: float64(mine) / fakeSpan.Seconds()},
		Latency: load.Summarize(h), Service: load.Summarize(load.NewHistogram()), Connect: load.Summarize(load.NewHistogram()), Handshake: load.Summarize(load.NewHistogram()),
		Outcomes:   load.Counts{load.OutcomeOK: mine},
		Histograms: load.Histograms{Latency: enc, Service: empty, Connect: empty, Handshake: empty},
	}
	if sh.Sharded() {
		r.Settings.Shards = sh.Count
	}
	return r, nil
}

// shardSearch is the search every test here runs.
func shardSearch() Config {
	return Config{Start: 500, Dwell: time.Second, NoWarmup: true, NoRetries: true, MaxSteps: 12, SLO: p99Under(5000)}
}

// runShards runs shards 1..n of a search (those in skip excepted) as
// goroutines, each with its own step function from stepFn, and returns
// each shard's search, the merged results its runner returned, and its
// error.
func runShards(t *testing.T, n int, skip map[int]bool, sc SyncConfig, stepFn func(i int) ShardStepFunc) (res []*Result, merged [][]*load.Result, errs []error) {
	t.Helper()
	res, merged, errs = make([]*Result, n+1), make([][]*load.Result, n+1), make([]error, n+1)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		if skip[i] {
			continue
		}
		cfg := sc
		cfg.Shard = load.Shard{Index: i, Count: n}
		runner, err := ShardedSteps(stepFn(i), cfg)
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			record := StepRunnerFunc(func(ctx context.Context, s StepSpec) (*load.Result, error) {
				r, err := runner.RunStep(ctx, s)
				if r != nil {
					merged[i] = append(merged[i], r)
				}
				return r, err
			})
			res[i], errs[i] = Search(context.Background(), record, shardSearch())
		}()
	}
	wg.Wait()
	return res, merged, errs
}

func TestShardedStepsLockstep(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const n, knee = 3, 3100.0
		dir := t.TempDir()
		start := time.Now().Add(200 * time.Millisecond)
		// a previous run's results, in the same folder: never to be read
		stale := &shardedSteps{cfg: SyncConfig{Dir: dir, Shard: load.Shard{Count: n}, StartAt: start.Add(-time.Hour)}}
		for step := 1; step <= 12; step++ {
			for i := 1; i <= n; i++ {
				r := &load.Result{Version: load.ResultVersion, Target: "stale", Shard: fmt.Sprintf("%d/%d", i, n), Requests: 1e9,
					Rate: load.Rate{Achieved: 1e9}, Settings: load.Settings{Shards: n}}
				if err := load.WriteResult(stale.path(step, i, ".json"), r); err != nil {
					t.Fatal(err)
				}
			}
		}

		fakes := make([]*shardFake, n+1)
		res, merged, errs := runShards(t, n, nil, SyncConfig{Dir: dir, StartAt: start, Gap: time.Second, Poll: 5 * time.Millisecond},
			func(i int) ShardStepFunc {
				fakes[i] = &shardFake{knee: knee}
				return func(ctx context.Context, s StepSpec, at time.Time) (*load.Result, error) {
					return fakes[i].run(ctx, s, load.Shard{Index: i, Count: n}, at)
				}
			})
		whole := &shardFake{knee: knee}
		want, err := Search(context.Background(), StepRunnerFunc(func(ctx context.Context, s StepSpec) (*load.Result, error) {
			return whole.run(ctx, s, load.Shard{}, time.Now())
		}), shardSearch())
		if err != nil {
			t.Fatal(err)
		}
		if !want.Converged || want.CapacityRPS < 2900 || want.CapacityRPS > 3300 {
			t.Fatalf("the unsharded search found %v (converged %v), want about %v", want.CapacityRPS, want.Converged, knee)
		}
		for i := 1; i <= n; i++ {
			if errs[i] != nil {
				t.Fatalf("shard %d: %v", i, errs[i])
			}
			got := res[i]
			if got.CapacityRPS != want.CapacityRPS || got.Converged != want.Converged || got.Stopped != want.Stopped || len(got.Steps) != len(want.Steps) {
				t.Fatalf("shard %d: got %v converged %v %q in %d steps, want %v %v %q in %d", i, got.CapacityRPS, got.Converged, got.Stopped, len(got.Steps),
					want.CapacityRPS, want.Converged, want.Stopped, len(want.Steps))
			}
			for k, s := range got.Steps {
				w := want.Steps[k]
				if s.Offered != w.Offered || s.Phase != w.Phase || s.Pass != w.Pass || s.Requests != w.Requests || s.Latency != w.Latency {
					t.Errorf("shard %d step %d: got %+v, want %+v", i, k+1, s, w)
				}
			}
			if len(merged[i]) != len(want.Steps) {
				t.Fatalf("shard %d: got %d merged results, want %d", i, len(merged[i]), len(want.Steps))
			}
			for k, r := range merged[i] {
				if r.Target != "fake" || len(r.MissingShards()) != 0 {
					t.Errorf("shard %d step %d: merged result of %q missing shards %v", i, k+1, r.Target, r.MissingShards())
				}
				a, _ := json.Marshal(r)
				b, _ := json.Marshal(merged[1][k])
				if string(a) != string(b) {
					t.Errorf("shard %d step %d: merged result differs from shard 1's", i, k+1)
				}
			}
			for k, at := range fakes[i].starts {
				if !at.Equal(fakes[1].starts[k]) {
					t.Errorf("shard %d step %d: starts at %v, shard 1 at %v", i, k+1, at, fakes[1].starts[k])
				}
			}
			if !fakes[i].starts[0].Equal(start) {
				t.Errorf("shard %d: first step at %v, want %v", i, fakes[i].starts[0], start)
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("capacity-%d-step-*-shard-*of3.json", start.Unix())))
		if len(files) != n*len(want.Steps) {
			t.Errorf("got %d result files of the run, want %d", len(files), n*len(want.Steps))
		}
	})
}

func TestShardedStepsMissingShard(t *testing.T) {
	t.Parallel()
	const n = 3
	fake := func(i int) ShardStepFunc {
		f := &shardFake{knee: 1000}
		return func(ctx context.Context, s StepSpec, at time.Time) (*load.Result, error) {
			return f.run(ctx, s, load.Shard{Index: i, Count: n}, at)
		}
	}
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			dir := t.TempDir()
			start := time.Now().Add(100 * time.Millisecond)
			// shard 3's result of the same step, from another run
			other := &shardedSteps{cfg: SyncConfig{Dir: dir, Shard: load.Shard{Count: n}, StartAt: start.Add(time.Second)}}
			r, err := fake(3)(context.Background(), StepSpec{Index: 1, Rate: 500}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := load.WriteResult(other.path(1, 3, ".json"), r); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			res, _, errs := runShards(t, n, map[int]bool{3: true}, SyncConfig{Dir: dir, StartAt: start, Timeout: 300 * time.Millisecond, Poll: 5 * time.Millisecond}, fake)
			for i := 1; i <= 2; i++ {
				if errs[i] == nil || !strings.Contains(errs[i].Error(), "step 1: no result from shard 3/3 in "+dir+" after 300ms") {
					t.Errorf("shard %d: got error %v, want no result from shard 3/3", i, errs[i])
				}
				if res[i] == nil || len(res[i].Steps) != 0 {
					t.Errorf("shard %d: got %+v, want a search of no step", i, res[i])
				}
			}
			if d := time.Since(began); d < 300*time.Millisecond || d > 500*time.Millisecond {
				t.Errorf("gave up after %v, want about 400ms", d)
			}
		})
	})
	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			dir := t.TempDir()
			start := time.Now().Add(100 * time.Millisecond)
			_, _, errs := runShards(t, n, nil, SyncConfig{Dir: dir, StartAt: start, Poll: 5 * time.Millisecond}, func(i int) ShardStepFunc {
				if i == 2 {
					return func(context.Context, StepSpec, time.Time) (*load.Result, error) {
						return nil, errors.New("dial tcp: refused")
					}
				}
				return fake(i)
			})
			for i := 1; i <= n; i++ {
				want := "shard 2/3 failed: dial tcp: refused"
				if i == 2 {
					want = "dial tcp: refused"
				}
				if errs[i] == nil || !strings.Contains(errs[i].Error(), want) {
					t.Errorf("shard %d: got error %v, want %q", i, errs[i], want)
				}
			}
		})
	})
}

// TestShardedStepsInterrupted stops one shard of two during its second
// step: the other stops too, at once, naming it.
func TestShardedStepsInterrupted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const n = 2
		sc := SyncConfig{Dir: t.TempDir(), StartAt: time.Now().Add(100 * time.Millisecond), Gap: 200 * time.Millisecond, Poll: 5 * time.Millisecond}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var (
			wg          sync.WaitGroup
			errs        = make([]error, n+1)
			cancelledAt time.Time
		)
		for i := 1; i <= n; i++ {
			f := &shardFake{knee: 1000}
			cfg := sc
			cfg.Shard = load.Shard{Index: i, Count: n}
			runner, err := ShardedSteps(func(ctx context.Context, s StepSpec, at time.Time) (*load.Result, error) {
				if i == 2 && s.Index == 2 {
					cancelledAt = time.Now()
					cancel()
				}
				return f.run(ctx, s, cfg.Shard, at)
			}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			runCtx := context.Background()
			if i == 2 {
				runCtx = ctx
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = Search(runCtx, runner, shardSearch())
			}()
		}
		wg.Wait()
		if errs[1] == nil || !strings.Contains(errs[1].Error(), "step 2: shard 2/2 failed: shards: step 2: interrupted") {
			t.Errorf("shard 1: got %v, want shard 2/2 interrupted at step 2", errs[1])
		}
		if errs[2] != nil {
			t.Errorf("shard 2: got %v, want an interrupted search and no error", errs[2])
		}
		// shard 2 stops as its second step is handed to it, before the
		// step's start; shard 1 runs the step and stops at its next look
		if d, most := time.Since(cancelledAt), sc.Gap+fakeSpan+sc.Poll; d > most {
			t.Errorf("shard 1 stopped %v after shard 2, want by the end of its own step, %v", d, most)
		}
	})
}

func TestShardedStepsRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := time.Now().Add(time.Minute)
	step := func(context.Context, StepSpec, time.Time) (*load.Result, error) { return nil, errors.New("not run") }
	mine := filepath.Join(dir, fmt.Sprintf("capacity-%d-step-0001-shard-2of4.json", start.Unix()))
	if err := os.WriteFile(mine, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  SyncConfig
		want string
	}{
		{"this run's results", SyncConfig{Dir: dir, Shard: load.Shard{Index: 2, Count: 4}, StartAt: start}, "already holds results of shard 2/4 of the run starting at"},
		{"no folder", SyncConfig{Shard: load.Shard{Index: 2, Count: 4}, StartAt: start}, "no sync folder"},
		{"no start", SyncConfig{Dir: dir, Shard: load.Shard{Index: 2, Count: 4}}, "no start time"},
		{"bad shard", SyncConfig{Dir: dir, Shard: load.Shard{Index: 5, Count: 4}, StartAt: start}, "Shard: 5/4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ShardedSteps(step, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
	// another shard, or another run, in the same folder is fine
	for _, cfg := range []SyncConfig{{Dir: dir, Shard: load.Shard{Index: 1, Count: 4}, StartAt: start}, {Dir: dir, Shard: load.Shard{Index: 2, Count: 4}, StartAt: start.Add(time.Second)}} {
		if _, err := ShardedSteps(step, cfg); err != nil {
			t.Errorf("shard %v at %v: %v", cfg.Shard, cfg.StartAt, err)
		}
	}
}
