package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
)

// CapacityCharts draws a capacity search's charts: latency percentiles
// against the offered rate, achieved against offered rate, both with the
// knee (the capacity found) marked, and the rates the search tried in
// order. A search without steps has no charts.
func CapacityCharts(c *capacity.Result) ([]Chart, error) {
	if len(c.Steps) == 0 {
		return nil, nil
	}
	steps := append([]capacity.Step(nil), c.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Offered < steps[j].Offered })
	var charts []Chart
	for _, f := range []func(*capacity.Result, []capacity.Step) (Chart, error){
		capacityLatencyChart, capacityThroughputChart, capacityStepsChart,
	} {
		ch, err := f(c, steps)
		if err != nil {
			return nil, err
		}
		charts = append(charts, ch)
	}
	return charts, nil
}

// kneeLabel names the knee line in a legend.
func kneeLabel(c *capacity.Result) string {
	return "capacity " + load.FormatRate(c.CapacityRPS)
}

// addKnee draws a dashed vertical line at the capacity found, from lo to hi.
func addKnee(p *plot.Plot, c *capacity.Result, lo, hi float64) error {
	if c.CapacityRPS <= 0 {
		return nil
	}
	l, err := plotter.NewLine(plotter.XYs{{X: c.CapacityRPS, Y: lo}, {X: c.CapacityRPS, Y: hi}})
	if err != nil {
		return fmt.Errorf("knee: %w", err)
	}
	l.Color = kneeColor
	l.Width = vg.Points(1.5)
	l.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	p.Add(l)
	p.Legend.Add(kneeLabel(c), l)
	return nil
}

// addLinePoints adds a line with a glyph at each point: a small dot, or
// the dashes and glyph of a percentile when given one.
func addLinePoints(p *plot.Plot, i int, name string, xys plotter.XYs, style *percentile) error {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	l.Color = palette[i%len(palette)]
	l.Width = vg.Points(1.5)
	s.Color = l.Color
	s.Shape = draw.CircleGlyph{}
	s.Radius = vg.Points(2.5)
	if style != nil {
		l.Dashes = style.dashes
		s.Shape, s.Radius = style.glyph, style.radius
	}
	p.Add(l, s)
	p.Legend.Add(name, l, s)
	return nil
}

func capacityLatencyChart(c *capacity.Result, steps []capacity.Step) (Chart, error) {
	p := newPlot("Latency vs. offered rate", "offered rate (requests per second)", "latency (ms, log scale)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, l := range percentiles {
		xys := make(plotter.XYs, len(steps))
		for j, s := range steps {
			y := math.Max(ms(l.get(s.Latency)), 0.001) // a log scale has no 0
			xys[j] = plotter.XY{X: s.Offered, Y: y}
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
		if err := addLinePoints(p, i, l.name, xys, &percentiles[i]); err != nil {
			return Chart{}, err
		}
	}
	if err := addKnee(p, c, lo, hi); err != nil {
		return Chart{}, err
	}
	p.X.Min = 0
	p.Y.Min, p.Y.Max = logRange(lo, hi)
	caption := "Latency percentiles measured at each offered rate. The dashed line is the capacity found, the highest rate whose step passed: " + passing(c) + "."
	if c.CapacityRPS <= 0 {
		caption = "Latency percentiles measured at each offered rate. No step passed (" + passing(c) + "), so no capacity is marked."
	}
	return Chart{Name: "capacity-latency", Title: p.Title.Text, Plot: p, Caption: caption}, nil
}

// passing says what a step had to do to pass: keep up with the offered
// rate, and meet the SLO when one was given.
func passing(c *capacity.Result) string {
	s := fmt.Sprintf("%.4g%% or more of its offered rate answered with a CVR reply", 100*(1-c.Settings.Tolerance))
	if c.Settings.SLO == "" {
		return s + " (no SLO was given, so latency did not count)"
	}
	return s + ", and the SLO " + c.Settings.SLO + " met"
}

func capacityThroughputChart(c *capacity.Result, steps []capacity.Step) (Chart, error) {
	p := newPlot("Achieved vs. offered rate", "offered rate (requests per second)", "achieved rate (requests per second)")
	top := 0.0
	for _, s := range steps {
		top = math.Max(top, math.Max(s.Offered, s.Achieved))
	}
	ideal, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: top, Y: top}})
	if err != nil {
		return Chart{}, err
	}
	ideal.Color = color.Gray{Y: 170}
	ideal.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
	p.Add(ideal)
	p.Legend.Add("achieved = offered", ideal)
	xys := make(plotter.XYs, len(steps))
	for i, s := range steps {
		xys[i] = plotter.XY{X: s.Offered, Y: s.Achieved}
	}
	if err := addLinePoints(p, 0, "achieved", xys, nil); err != nil {
		return Chart{}, err
	}
	if err := addVerdicts(p, steps, func(s capacity.Step) plotter.XY { return plotter.XY{X: s.Offered, Y: s.Achieved} }); err != nil {
		return Chart{}, err
	}
	if err := addKnee(p, c, 0, top); err != nil {
		return Chart{}, err
	}
	p.X.Min, p.Y.Min = 0, 0
	return Chart{Name: "capacity-throughput", Title: p.Title.Text, Plot: p,
		Caption: "Each step's achieved rate against its offered rate: past the knee the target stops keeping up and the points leave the diagonal. A ring marks a step that passed (" + passing(c) + "), a cross one that failed."}, nil
}

// addVerdicts marks passing steps with a ring and failing ones with a cross.
func addVerdicts(p *plot.Plot, steps []capacity.Step, at func(capacity.Step) plotter.XY) error {
	var pass, fail plotter.XYs
	for _, s := range steps {
		if s.Pass {
			pass = append(pass, at(s))
		} else {
			fail = append(fail, at(s))
		}
	}
	for _, v := range []struct {
		name  string
		xys   plotter.XYs
		color color.Color
		shape draw.GlyphDrawer
	}{
		{"passed", pass, passColor, boldRing{}},
		{"failed", fail, failColor, boldCross{}},
	} {
		if len(v.xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(v.xys)
		if err != nil {
			return fmt.Errorf("%s steps: %w", v.name, err)
		}
		sc.Color, sc.Shape, sc.Radius = v.color, v.shape, vg.Points(5)
		p.Add(sc)
		p.Legend.Add(v.name, sc)
	}
	return nil
}

// boldRing and boldCross are gonum's ring and cross glyphs with a stroke
// heavy enough to stand out over a line and its points.
type (
	boldRing  struct{}
	boldCross struct{}
)

const glyphStroke = 1.75 // points

func (boldRing) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(glyphStroke)})
	var p vg.Path
	p.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	p.Arc(pt, sty.Radius, 0, 2*math.Pi)
	p.Close()
	c.Stroke(p)
}

func (boldCross) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(glyphStroke)})
	r := sty.Radius * math.Sqrt2 / 2
	for _, d := range []vg.Length{r, -r} {
		var p vg.Path
		p.Move(vg.Point{X: pt.X - r, Y: pt.Y - d})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y + d})
		c.Stroke(p)
	}
}

var (
	_ draw.GlyphDrawer = boldRing{}
	_ draw.GlyphDrawer = boldCross{}
)

func capacityStepsChart(c *capacity.Result, _ []capacity.Step) (Chart, error) {
	p := newPlot("Search steps", "step", "offered rate (requests per second)")
	xys := make(plotter.XYs, len(c.Steps))
	for i, s := range c.Steps {
		xys[i] = plotter.XY{X: float64(s.Index), Y: s.Offered}
	}
	if err := addLinePoints(p, 0, "offered", xys, nil); err != nil {
		return Chart{}, err
	}
	if err := addVerdicts(p, c.Steps, func(s capacity.Step) plotter.XY { return plotter.XY{X: float64(s.Index), Y: s.Offered} }); err != nil {
		return Chart{}, err
	}
	if c.CapacityRPS > 0 {
		l, err := plotter.NewLine(plotter.XYs{{X: 1, Y: c.CapacityRPS}, {X: float64(len(c.Steps)), Y: c.CapacityRPS}})
		if err != nil {
			return Chart{}, err
		}
		l.Color, l.Width = kneeColor, vg.Points(1.5)
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		p.Add(l)
		p.Legend.Add(kneeLabel(c), l)
	}
	p.Y.Min = 0
	headroom(p)
	p.X.Tick.Marker = integerTicks{}
	caption := "The rate offered at each step: geometric growth until a step fails, then bisection of the bracket."
	switch n := len(c.Reruns); n {
	case 0:
	case 1:
		caption += " One rate was run more than once, until most of its runs agreed (see the reruns under the table)."
	default:
		caption += fmt.Sprintf(" %d rates were run more than once, each until most of its runs agreed (see the reruns under the table).", n)
	}
	return Chart{Name: "capacity-steps", Title: p.Title.Text, Plot: p, Caption: caption}, nil
}

// integerTicks labels whole numbers only.
type integerTicks struct{}

func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for _, t := range (plainTicks{}).Ticks(lo, hi) {
		if t.Label != "" && t.Value != math.Trunc(t.Value) {
			continue
		}
		ticks = append(ticks, t)
	}
	return ticks
}
