package capacity_test

import (
	"context"
	"fmt"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
)

// A target that keeps up with up to 4000 requests per second: the search
// doubles the rate from 500/s until a step falls short, then bisects. A
// failing step is run once more (Retries) before its rate counts as
// failed, since noise only makes a step look worse, unless it fell over
// twice the tolerance short, as 8000/s to 4500/s do. The 4125/s step
// passes: the 4000/s it achieved is within the default 5% tolerance; an
// SLO on latency is what separates such steps.
func ExampleSearch() {
	target := capacity.StepRunnerFunc(func(_ context.Context, s capacity.StepSpec) (*load.Result, error) {
		achieved := min(s.Rate, 4000)
		n := int64(achieved * s.Dwell.Seconds())
		return &load.Result{Requests: n, Rate: load.Rate{Requested: s.Rate, Achieved: achieved},
			Outcomes: load.Counts{load.OutcomeOK: n}}, nil
	})
	res, err := capacity.Search(context.Background(), target, capacity.Config{Start: 500})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Steps {
		fmt.Printf("%d %-6s %-7s pass=%v\n", s.Index, s.Phase, load.FormatRate(s.Offered), s.Pass)
	}
	fmt.Printf("capacity %s, bracket %v..%v, converged %v\n", load.FormatRate(res.CapacityRPS), res.Bracket.Low, res.Bracket.High, res.Converged)
	// Output:
	// 1 grow   500/s   pass=true
	// 2 grow   1000/s  pass=true
	// 3 grow   2000/s  pass=true
	// 4 grow   4000/s  pass=true
	// 5 grow   8000/s  pass=false
	// 6 bisect 6000/s  pass=false
	// 7 bisect 5000/s  pass=false
	// 8 bisect 4500/s  pass=false
	// 9 bisect 4250/s  pass=false
	// 10 retry  4250/s  pass=false
	// 11 bisect 4125/s  pass=true
	// capacity 4125/s, bracket 4125..4250, converged true
}
