package capacity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cvrswarm/cvrswarm/load"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeServer is a target of known capacity: up to Knee requests per second
// it answers everything in 1 ms; above it the achieved rate stays at Knee
// and latency grows with the queue.
type fakeServer struct {
	Knee    float64
	Errors  float64 // share of requests answered with an error, at every rate
	offered []float64
}

func (f *fakeServer) RunStep(_ context.Context, s StepSpec) (*load.Result, error) {
	f.offered = append(f.offered, s.Rate)
	achieved := min(s.Rate, f.Knee)
	lat := int64(1000)
	if s.Rate > f.Knee {
		lat += int64((s.Rate - f.Knee) / f.Knee * float64(s.Dwell/time.Microsecond))
	}
	n := int64(achieved * s.Dwell.Seconds())
	bad := int64(float64(n) * f.Errors)
	return &load.Result{
		Requests: n,
		Rate:     load.Rate{Requested: s.Rate, Achieved: achieved},
		Latency:  load.Summary{Count: n, P50: lat / 2, P90: lat, P99: lat, P999: lat, Max: lat},
		Outcomes: load.Counts{load.OutcomeOK: n - bad, load.CodeOutcome(420): bad},
	}, nil
}

// p99Under is an SLO judge: p99 below limit µs.
func p99Under(limit int64) func(*load.Result) []load.SLOVerdict {
	return func(r *load.Result) []load.SLOVerdict {
		return []load.SLOVerdict{{Objective: fmt.Sprintf("p99<%dus", limit), Value: float64(r.Latency.P99), Met: r.Latency.P99 < limit}}
	}
}

func TestCapacityFindsTheKnee(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		knee      float64
		cfg       Config
		converged bool
		stopped   string
	}{
		{name: "above start", knee: 4000, cfg: Config{Start: 500}, converged: true, stopped: "converged"},
		{name: "below start", knee: 300, cfg: Config{Start: 5000}, converged: true, stopped: "converged"},
		{name: "exactly a grow step", knee: 2000, cfg: Config{Start: 500}, converged: true, stopped: "converged"},
		{name: "fine precision", knee: 12345, cfg: Config{Start: 100, Precision: 0.01}, converged: true, stopped: "converged"},
		{name: "coarse growth", knee: 777, cfg: Config{Start: 10, Growth: 10}, converged: true, stopped: "converged"},
		{name: "knee above max", knee: 1e6, cfg: Config{Start: 500, Max: 3000}, stopped: "every rate passed up to the maximum 3000/s"},
		{name: "too few steps", knee: 4000, cfg: Config{Start: 1, MaxSteps: 5}, stopped: "gave up after 5 steps"},
		{name: "nothing passes", knee: 0.5, cfg: Config{Start: 8}, stopped: "no rate passed, down to 1/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &fakeServer{Knee: tt.knee}
			cfg := tt.cfg
			cfg.Dwell = time.Second
			cfg.SLO = p99Under(5000)
			res, err := Search(context.Background(), srv, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Converged != tt.converged || res.Stopped != tt.stopped {
				t.Fatalf("got converged %v stopped %q, want %v %q; steps %v", res.Converged, res.Stopped, tt.converged, tt.stopped, srv.offered)
			}
			if len(res.Steps) != len(srv.offered) {
				t.Fatalf("got %d steps recorded, want %d run", len(res.Steps), len(srv.offered))
			}
			// The bracket always holds the knee, whether or not it is narrow.
			b := res.Bracket
			if b.Low > tt.knee || (b.High != 0 && b.High <= tt.knee) {
				t.Errorf("got bracket %v, which does not hold the knee %v", b, tt.knee)
			}
			if res.CapacityRPS != b.Low {
				t.Errorf("got capacity %v, want the bracket's low end %v", res.CapacityRPS, b.Low)
			}
			if tt.converged {
				prec := cfg.Precision
				if prec == 0 {
					prec = DefaultPrecision
				}
				if b.High > b.Low*(1+prec) {
					t.Errorf("got bracket %v, wider than %v", b, prec)
				}
			}
			for _, s := range res.Steps {
				if s.Pass != (s.Offered <= tt.knee) {
					t.Errorf("step %d at %v: got pass %v with the knee at %v", s.Index, s.Offered, s.Pass, tt.knee)
				}
			}
		})
	}
}

func TestCapacityAchievedShortfallFails(t *testing.T) {
	t.Parallel()
	// No SLO at all: the search is judged by achieved rate alone, and
	// still finds the knee, give or take the tolerance and the precision.
	srv := &fakeServer{Knee: 2500}
	res, err := Search(context.Background(), srv, Config{Start: 1000, Dwell: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if hi, lo := 2500/(1-DefaultTolerance), 2500/(1+DefaultPrecision); !res.Converged || res.CapacityRPS > hi || res.CapacityRPS < lo {
		t.Fatalf("got capacity %v converged %v, want between %v and %v", res.CapacityRPS, res.Converged, lo, hi)
	}
	var failed bool
	for _, s := range res.Steps {
		if !s.Pass {
			failed = true
			if !strings.Contains(s.Reason, "below") {
				t.Errorf("step at %v: got reason %q, want the achieved shortfall named", s.Offered, s.Reason)
			}
		}
	}
	if !failed {
		t.Fatal("got no failing step")
	}
}

// noisyServer is a fakeServer whose listed runs (from 1) come out slow,
// as a run does when the load generator is descheduled.
type noisyServer struct {
	fakeServer
	slow map[int]bool
}

func (n *noisyServer) RunStep(ctx context.Context, s StepSpec) (*load.Result, error) {
	r, err := n.fakeServer.RunStep(ctx, s)
	if n.slow[len(n.offered)] {
		r.Latency.P99 = 50_000
	}
	return r, err
}

func TestCapacityRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		retries  int
		none     bool // NoRetries
		slow     []int
		capacity float64
		offered  []float64
		phases   []string
	}{
		{name: "a noisy failure is run again and passes", retries: 0, slow: []int{1}, capacity: 1000,
			// 2000/s to 1125/s achieve 1000/s, over twice the tolerance short: not run again
			offered: []float64{500, 500, 500, 1000, 2000, 1500, 1250, 1125, 1063, 1063, 1032, 1032},
			phases: []string{PhaseGrow, PhaseRetry, PhaseRetry, PhaseGrow, PhaseGrow, PhaseBisect, PhaseBisect, PhaseBisect, PhaseBisect,
				PhaseRetry, PhaseBisect, PhaseRetry}},
		{name: "without retries a noisy failure sinks the answer", none: true, slow: []int{1}, capacity: 485,
			offered: []float64{500, 250, 375, 438, 469, 485}},
		{name: "a failure twice counts", retries: 0, slow: []int{1, 2}, capacity: 485,
			offered: []float64{500, 500, 250, 375, 438, 469, 485}},
		{name: "two failures of three fail a rate", retries: 0, slow: []int{1, 3}, capacity: 485,
			offered: []float64{500, 500, 500, 250, 375, 438, 469, 485}},
		{name: "one retry: a pass of two runs passes", retries: 1, slow: []int{1}, capacity: 1000,
			offered: []float64{500, 500, 1000, 2000, 1500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &noisyServer{fakeServer: fakeServer{Knee: 1000}, slow: map[int]bool{}}
			for _, i := range tt.slow {
				srv.slow[i] = true
			}
			var brackets []Bracket
			res, err := Search(context.Background(), srv, Config{Start: 500, Dwell: time.Second, Retries: tt.retries, NoRetries: tt.none,
				SLO: p99Under(5000), OnStep: func(_ Step, b Bracket) { brackets = append(brackets, b) }})
			if err != nil {
				t.Fatal(err)
			}
			if res.CapacityRPS != tt.capacity || !res.Converged {
				t.Errorf("got capacity %v converged %v, want %v converged", res.CapacityRPS, res.Converged, tt.capacity)
			}
			if got := srv.offered[:min(len(srv.offered), len(tt.offered))]; !slices.Equal(got, tt.offered) {
				t.Errorf("got rates %v, want them to start %v", srv.offered, tt.offered)
			}
			for i, want := range tt.phases {
				if got := res.Steps[i].Phase; got != want {
					t.Errorf("step %d: got phase %q, want %q", i+1, got, want)
				}
			}
			// A failure about to be run again does not move the bracket.
			if first := brackets[0]; !tt.none && first.High != 0 {
				t.Errorf("got bracket %+v after the first failure, want no high end before its retry", first)
			}
		})
	}
}

// A failure on the last step allowed is recorded, unconfirmed, so that
// the bracket shows it.
func TestCapacityRetryNoStepLeft(t *testing.T) {
	t.Parallel()
	srv := &noisyServer{fakeServer: fakeServer{Knee: 1000}, slow: map[int]bool{2: true}}
	res, err := Search(context.Background(), srv, Config{Start: 500, Dwell: time.Second, MaxSteps: 2, SLO: p99Under(5000)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Bracket, (Bracket{Low: 500, High: 1000}); got != want || res.Converged || len(res.Steps) != 2 {
		t.Errorf("got bracket %+v converged %v after %d steps, want %+v, not converged, 2 steps", got, res.Converged, len(res.Steps), want)
	}
}

func TestCapacityJudgeStep(t *testing.T) {
	t.Parallel()
	cfg := Config{SLO: p99Under(5000)}.withDefaults()
	tests := []struct {
		name     string
		offered  float64
		achieved float64
		p99      int64
		requests int64
		refused  int64 // of requests
		pass     bool
		reason   string
	}{
		{name: "fine", offered: 1000, achieved: 1000, p99: 100, requests: 3000, pass: true},
		{name: "within tolerance", offered: 1000, achieved: 951, p99: 100, requests: 3000, pass: true},
		{name: "short", offered: 1000, achieved: 949, p99: 100, requests: 3000, reason: "achieved 949/s, below 1000/s offered"},
		{name: "slow", offered: 1000, achieved: 1000, p99: 6000, requests: 3000, reason: "p99<5000us: 6.00ms, breached"},
		{name: "short and slow", offered: 1000, achieved: 500, p99: 6000, requests: 1500, reason: "achieved 500/s, below 1000/s offered"},
		{name: "nothing", offered: 1000, requests: 0, reason: "no request completed"},
		{name: "refused fast", offered: 1000, achieved: 1000, p99: 100, requests: 3000, refused: 600, reason: "answered 800/s with a CVR reply, below 1000/s offered"},
		{name: "a few refused", offered: 1000, achieved: 1000, p99: 100, requests: 3000, refused: 30, pass: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &load.Result{Requests: tt.requests, Rate: load.Rate{Requested: tt.offered, Achieved: tt.achieved},
				Latency: load.Summary{P99: tt.p99}, Outcomes: load.Counts{load.OutcomeOK: tt.requests - tt.refused, load.OutcomeRefused: tt.refused, load.OutcomeUnsent: 500}}
			got := judgeStep(StepSpec{Index: 1, Rate: tt.offered}, r, cfg)
			if got.Pass != tt.pass || got.Reason != tt.reason {
				t.Errorf("got pass %v reason %q, want %v %q", got.Pass, got.Reason, tt.pass, tt.reason)
			}
		})
	}
}

func TestCapacityErrorShare(t *testing.T) {
	t.Parallel()
	srv := &fakeServer{Knee: 1000, Errors: 0.25}
	var seen []int
	res, err := Search(context.Background(), srv, Config{Start: 800, Dwell: time.Second, MaxSteps: 2,
		OnStep: func(s Step, _ Bracket) { seen = append(seen, s.Index) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Errorf("got OnStep for steps %v, want [1 2]", seen)
	}
	if got := res.Steps[0].ErrorShare; got != 0.25 {
		t.Errorf("got error share %v, want 0.25", got)
	}
}

func TestCapacityInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	srv := &fakeServer{Knee: 4000}
	n := 0
	run := StepRunnerFunc(func(ctx context.Context, s StepSpec) (*load.Result, error) {
		n++
		if n == 3 {
			cancel()
			return nil, ctx.Err()
		}
		return srv.RunStep(ctx, s)
	})
	res, err := Search(ctx, run, Config{Start: 500, Dwell: time.Second})
	if err != nil {
		t.Fatalf("got error %v, want the partial result alone", err)
	}
	if !res.Partial || res.Converged || len(res.Steps) != 2 || res.Bracket.Low != 1000 {
		t.Errorf("got partial %v converged %v steps %d bracket %v, want a partial search with 2 steps up to 1000/s",
			res.Partial, res.Converged, len(res.Steps), res.Bracket)
	}
}

func TestCapacityStepError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection refused")
	n := 0
	srv := &fakeServer{Knee: 4000}
	run := StepRunnerFunc(func(ctx context.Context, s StepSpec) (*load.Result, error) {
		if n++; n == 2 {
			return nil, boom
		}
		return srv.RunStep(ctx, s)
	})
	res, err := Search(context.Background(), run, Config{Start: 500, Dwell: time.Second})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "step 2 at 1000/s") {
		t.Fatalf("got error %v, want the step's error naming step 2", err)
	}
	if res == nil || len(res.Steps) != 1 || res.CapacityRPS != 500 {
		t.Fatalf("got result %+v, want the one step done", res)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string // the fields named, in order
	}{
		{name: "zero is fine", cfg: Config{}},
		{name: "none asked for", cfg: Config{NoWarmup: true, NoRetries: true}},
		{name: "negative start", cfg: Config{Start: -1}, want: []string{"Start"}},
		{name: "start below 1/s", cfg: Config{Start: 0.5}, want: []string{"Start"}},
		{name: "max below start", cfg: Config{Start: 100, Max: 50}, want: []string{"Max"}},
		{name: "growth 1", cfg: Config{Growth: 1}, want: []string{"Growth"}},
		{name: "precision 1", cfg: Config{Precision: 1}, want: []string{"Precision"}},
		{name: "tolerance negative", cfg: Config{Tolerance: -0.1}, want: []string{"Tolerance"}},
		{name: "dwell negative", cfg: Config{Dwell: -time.Second}, want: []string{"Dwell"}},
		{name: "dwell under a second", cfg: Config{Dwell: 100 * time.Millisecond}, want: []string{"Dwell"}},
		{name: "negative warm-up, retries and steps", cfg: Config{Warmup: -1, Retries: -1, MaxSteps: -1}, want: []string{"Warmup", "MaxSteps", "Retries"}},
		{name: "warm-up and none", cfg: Config{Warmup: time.Second, NoWarmup: true}, want: []string{"Warmup"}},
		{name: "retries and none", cfg: Config{Retries: 2, NoRetries: true}, want: []string{"Retries"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := fieldsOf(t, tt.cfg.Validate()); !slices.Equal(got, tt.want) {
				t.Errorf("got fields %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOffIsAField checks that no warm-up and no retries are asked for by
// their fields, while the zero values mean the defaults.
func TestOffIsAField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg             Config
		warmup          string
		retries, offers int // steps offered at the first, failing, rate
	}{
		{cfg: Config{}, warmup: DefaultWarmup.String(), retries: DefaultRetries, offers: 2}, // two failures of three
		{cfg: Config{NoWarmup: true, NoRetries: true}, warmup: "0s", retries: 0, offers: 1},
	} {
		var warmups []time.Duration
		srv := &noisyServer{fakeServer: fakeServer{Knee: 1000}, slow: map[int]bool{1: true, 2: true}}
		cfg := tc.cfg
		cfg.Start, cfg.Dwell, cfg.MaxSteps, cfg.SLO = 500, time.Second, 4, p99Under(5000)
		res, err := Search(context.Background(), StepRunnerFunc(func(ctx context.Context, s StepSpec) (*load.Result, error) {
			warmups = append(warmups, s.Warmup)
			return srv.RunStep(ctx, s)
		}), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Settings.Warmup != tc.warmup || res.Settings.Retries != tc.retries || warmups[0].String() != tc.warmup {
			t.Errorf("%+v: got warm-up %s (steps given %v) retries %d, want %s and %d", tc.cfg, res.Settings.Warmup, warmups[0], res.Settings.Retries, tc.warmup, tc.retries)
		}
		if got := len(srv.offered) - len(slices.DeleteFunc(slices.Clone(srv.offered), func(r float64) bool { return r == 500 })); got != tc.offers {
			t.Errorf("%+v: got %d steps at 500/s (offered %v), want %d", tc.cfg, got, srv.offered, tc.offers)
		}
	}
}

// fieldsOf lists the fields the FieldErrors joined in err name, in order.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		fe, ok := errors.AsType[*FieldError](e)
		if !ok {
			t.Fatalf("got error %v, want only FieldErrors", e)
		}
		fields = append(fields, fe.Field)
	}
	return fields
}

func TestWriteCapacityResult(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/c.json"
	res, err := Search(context.Background(), &fakeServer{Knee: 1000}, Config{Start: 400, Dwell: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteResult(path, res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"capacity_rps", "converged", "bracket", "steps", "settings"} {
		if _, ok := back[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	if back["capacity_rps"] != res.CapacityRPS || back["converged"] != true {
		t.Errorf("got capacity_rps %v converged %v, want %v true", back["capacity_rps"], back["converged"], res.CapacityRPS)
	}
	if err := WriteResult(t.TempDir()+"/no/such/dir.json", res); err == nil {
		t.Error("got no error writing into a missing directory")
	}
}

func TestCapacityDeadTarget(t *testing.T) {
	t.Parallel()
	run := StepRunnerFunc(func(_ context.Context, s StepSpec) (*load.Result, error) {
		return &load.Result{Requests: 1500, Outcomes: load.Counts{load.OutcomeRefused: 1490, load.OutcomeReset: 10}}, nil
	})
	res, err := Search(context.Background(), run, Config{Start: 500, Dwell: time.Second})
	want := "the target answered no request at 500/s with a CVR reply (outcomes: refused 1490, reset 10)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error saying %q", err, want)
	}
	if res == nil || len(res.Steps) != 1 || res.Converged {
		t.Errorf("got %+v, want the one step recorded", res)
	}
}
