package report_test

import (
	"fmt"
	"os"

	"github.com/cvrswarm/cvrswarm/load/capacity"
	"github.com/cvrswarm/cvrswarm/load/report"
)

func ExampleCapacitySummary() {
	c := &capacity.Result{CapacityRPS: 3875, Converged: true,
		Bracket: capacity.Bracket{Low: 3875, High: 4000}, Steps: make([]capacity.Step, 8)}
	fmt.Println(report.CapacitySummary(c))
	// Output: capacity 3875/s (bracket 3875/s..4000/s, converged in 8 steps)
}

// Draw the charts of a saved run again, as "cvrswarm report" does.
func ExampleReadSaved() {
	saved, err := report.ReadSaved("testdata/capacity.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	page, err := saved.Page()
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "charts")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	paths, err := report.WritePNGs(dir, page.Charts)
	fmt.Println(len(paths), "charts,", err)
	for _, c := range page.Charts {
		fmt.Println(c.Name)
	}
	// Output:
	// 3 charts, <nil>
	// capacity-latency
	// capacity-throughput
	// capacity-steps
}
