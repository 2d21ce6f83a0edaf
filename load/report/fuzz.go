package report

import (
	"gonum.org/v1/plot/plotter"

	"github.com/cvrswarm/cvrswarm/fuzz"
)

// fuzzRates returns the cases per second of each whole second of a run,
// placed at the middle of the second, in seconds since the run's start.
// A run records a point every second from its start, and one more at its
// end: the first point counts from the start, and the last, which covers
// only the part of a second after the last tick, is left out, as a rate
// it would show a steady run slowing down.
func fuzzRates(series []fuzz.Point) plotter.XYs {
	var xys plotter.XYs
	if len(series) < 2 {
		return xys
	}
	start := series[0].T - 1
	prev := fuzz.Point{T: start}
	for _, s := range series[:len(series)-1] {
		if dt := s.T - prev.T; dt > 0 {
			xys = append(xys, plotter.XY{X: float64(s.T-start) - float64(dt)/2, Y: float64(s.Cases-prev.Cases) / float64(dt)})
			prev = s
		}
	}
	return xys
}

// fuzzFindings returns the distinct findings found by each point of the
// series, from none at the start, in seconds since the run's start.
func fuzzFindings(series []fuzz.Point) plotter.XYs {
	start := series[0].T - 1
	xys := plotter.XYs{{}}
	for _, s := range series {
		xys = append(xys, plotter.XY{X: float64(s.T - start), Y: float64(s.Findings)})
	}
	return xys
}

// FuzzCharts draws a fuzz session's charts: cases per second and findings
// over time. An empty series has no charts, and a run shorter than a
// second no rate chart. Each draws one line, so neither has a legend: its
// axis names the line.
func FuzzCharts(series []fuzz.Point) ([]Chart, error) {
	if len(series) == 0 {
		return nil, nil
	}
	var charts []Chart
	findings := fuzzFindings(series)
	if rates := fuzzRates(series); len(rates) > 0 {
		rate := newPlot("Cases per second", "time since the start (s)", "cases per second")
		rate.X.Min, rate.X.Max, rate.Y.Min = 0, findings[len(findings)-1].X, 0 // the findings chart's time axis
		if err := addLine(rate, 0, "", rates); err != nil {
			return nil, err
		}
		headroom(rate)
		charts = append(charts, Chart{Name: "fuzz-rate", Title: rate.Title.Text, Plot: rate,
			Caption: "Cases sent and judged in each second. The run's last second, which it covers only in part, is left out."})
	}
	found := newPlot("Findings over time", "time since the start (s)", "distinct findings")
	found.Y.Min = 0
	found.Y.Tick.Marker = integerTicks{}
	l, err := addStyledLine(found, 1, "", findings)
	if err != nil {
		return nil, err
	}
	l.StepStyle = plotter.PostStep
	headroom(found)
	return append(charts, Chart{Name: "fuzz-findings", Title: found.Title.Text, Plot: found,
		Caption: "Distinct findings (after de-duplication) found so far: a curve that has gone flat suggests the mutators have run dry."}), nil
}
