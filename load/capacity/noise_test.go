package capacity

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
)

// shortServer is a fakeServer whose listed runs (from 1) achieve only
// the rate given, as a run does when the load generator stalls.
type shortServer struct {
	fakeServer
	short map[int]float64
}

func (s *shortServer) RunStep(ctx context.Context, spec StepSpec) (*load.Result, error) {
	r, err := s.fakeServer.RunStep(ctx, spec)
	if a, ok := s.short[len(s.offered)]; ok {
		r.Rate.Achieved = a
	}
	return r, err
}

// rerunOf returns the rerun of rate in res, nil when it ran once.
func rerunOf(res *Result, rate float64) *Rerun {
	for i := range res.Reruns {
		if res.Reruns[i].Rate == rate {
			return &res.Reruns[i]
		}
	}
	return nil
}

func TestCapacityOutOfLineFailureRunsAgain(t *testing.T) {
	t.Parallel()
	// The knee is at 1400/s. 2000/s achieves 1400/s; then 1250/s, bisected,
	// stalls at 700/s on its first run: far short, but far below what the
	// target has been seen to achieve, so it is run again.
	srv := &shortServer{fakeServer: fakeServer{Knee: 1400}, short: map[int]float64{6: 700}}
	res, err := Search(context.Background(), srv, Config{Start: 500, Dwell: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{500, 1000, 2000, 1500, 1500, 1250, 1250, 1250}; !slices.Equal(srv.offered[:min(len(srv.offered), len(want))], want) {
		t.Fatalf("got rates %v, want them to start %v", srv.offered, want)
	}
	rr := rerunOf(res, 1250)
	if rr == nil || !rr.Pass || rr.Failed != 1 || rr.Passed != 2 || !strings.HasPrefix(rr.Why, "out of line: achieved 700/s") {
		t.Errorf("got rerun %+v of 1250/s, want it out of line, then passing twice", rr)
	}
	if !res.Converged || res.CapacityRPS < 1375 || res.CapacityRPS > 1400/(1-DefaultTolerance) {
		t.Errorf("got capacity %v converged %v, want the 1400/s knee, give or take the tolerance", res.CapacityRPS, res.Converged)
	}
}

func TestCapacityBracketTopIsConfirmed(t *testing.T) {
	t.Parallel()
	// A coarse search: 4000/s stalls at 1500/s on its first run, within
	// what the target had shown (1000/s), so it is not run again at once.
	// When the bracket is narrow enough, its top is run again before the
	// search converges: it passes, and the search goes on above it.
	srv := &shortServer{fakeServer: fakeServer{Knee: 5000}, short: map[int]float64{2: 1500}}
	res, err := Search(context.Background(), srv, Config{Start: 1000, Growth: 4, Precision: 0.5, Dwell: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rr := rerunOf(res, 4000)
	if rr == nil || !rr.Pass || rr.Why != "confirming the bracket's top" || !slices.Equal(rr.Steps, []int{2, 5, 6}) {
		t.Fatalf("got rerun %+v of 4000/s (rates %v), want steps 2, 5 and 6 confirming the top, passing", rr, srv.offered)
	}
	if !res.Converged || res.CapacityRPS < 4000 || res.Bracket.High < 5000 {
		t.Errorf("got capacity %v bracket %+v converged %v, want at least 4000/s under a top above the 5000/s knee", res.CapacityRPS, res.Bracket, res.Converged)
	}
	top := rerunOf(res, res.Bracket.High)
	if top == nil || top.Failed < 2 {
		t.Errorf("got the bracket's top %v run as %+v, want two failures", res.Bracket.High, top)
	}
}

// TestCapacityNoiseNeverLowersTheAnswer searches a target whose runs fall
// short at random: the capacity is the highest rate that passed, no rate
// that counts as failed lies below it, and a converged search's top failed
// twice.
func TestCapacityNoiseNeverLowersTheAnswer(t *testing.T) {
	t.Parallel()
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		short := map[int]float64{}
		for run := 1; run <= DefaultMaxSteps; run++ {
			if rng.IntN(4) == 0 {
				short[run] = 100 + rng.Float64()*1500
			}
		}
		srv := &shortServer{fakeServer: fakeServer{Knee: 3000}, short: short}
		res, err := Search(context.Background(), srv, Config{Start: 500, Dwell: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		passed := 0.0
		verdicts := map[float64][]bool{}
		for _, s := range res.Steps {
			verdicts[s.Offered] = append(verdicts[s.Offered], s.Pass)
		}
		for rate, v := range verdicts {
			rr := rerunOf(res, rate)
			if (len(v) == 1 && v[0]) || (rr != nil && rr.Pass) {
				passed = max(passed, rate)
			}
		}
		if res.CapacityRPS != passed {
			t.Errorf("seed %d: got capacity %v, want %v, the highest rate that passed (steps %v)", seed, res.CapacityRPS, passed, srv.offered)
		}
		if b := res.Bracket; b.High != 0 && b.High <= b.Low {
			t.Errorf("seed %d: got bracket %+v: a failure at or below the capacity counted", seed, b)
		}
		if res.Converged {
			if top := verdicts[res.Bracket.High]; len(top) < 2 || slices.Index(top, true) >= 0 && len(top) < 3 {
				t.Errorf("seed %d: converged on top %v with runs %v, want it confirmed by two failures", seed, res.Bracket.High, top)
			}
			if res.CapacityRPS > 3000/(1-DefaultTolerance) {
				t.Errorf("seed %d: got capacity %v above the 3000/s knee", seed, res.CapacityRPS)
			}
		}
	}
}
