package report

import (
	"gonum.org/v1/plot/plotter"

	"github.com/cvrswarm/cvrswarm/fuzz"
)

// fuzzRates returns the cases per second between consecutive points; the
// first point counts from one second before it.
func fuzzRates(series []fuzz.Point) plotter.XYs {
	var xys plotter.XYs
	prev := fuzz.Point{T: series[0].T - 1}
	for _, s := range series {
		if dt := s.T - prev.T; dt > 0 {
			xys = append(xys, plotter.XY{X: float64(s.T - series[0].T), Y: float64(s.Cases-prev.Cases) / float64(dt)})
			prev = s
		}
	}
	return xys
}

// FuzzCharts draws a fuzz session's charts: cases per second and findings
// over time. An empty series has no charts.
func FuzzCharts(series []fuzz.Point) ([]Chart, error) {
	if len(series) == 0 {
		return nil, nil
	}
	line := func(y func(fuzz.Point) int64) plotter.XYs {
		xys := make(plotter.XYs, len(series))
		for i, s := range series {
			xys[i] = plotter.XY{X: float64(s.T - series[0].T), Y: float64(y(s))}
		}
		return xys
	}
	rate := newPlot("Cases per second", "time (s)", "cases per second")
	rate.Y.Min = 0
	if err := addLine(rate, 0, "cases", fuzzRates(series)); err != nil {
		return nil, err
	}
	headroom(rate)
	found := newPlot("Findings over time", "time (s)", "distinct findings")
	found.Y.Min = 0
	found.Y.Tick.Marker = integerTicks{}
	l, err := addStyledLine(found, 1, "findings", line(func(s fuzz.Point) int64 { return int64(s.Findings) }))
	if err != nil {
		return nil, err
	}
	l.StepStyle = plotter.PostStep
	headroom(found)
	return []Chart{
		{Name: "fuzz-rate", Title: rate.Title.Text, Plot: rate,
			Caption: "Cases sent and judged in each second."},
		{Name: "fuzz-findings", Title: found.Title.Text, Plot: found,
			Caption: "Distinct findings (after de-duplication) found so far: a curve that has gone flat suggests the mutators have run dry."},
	}, nil
}
