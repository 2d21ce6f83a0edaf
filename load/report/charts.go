package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/cvrswarm/cvrswarm/load"
)

// Chart size. A PNG is drawn at DPI dots per inch: 864 x 432 pixels.
const (
	Width  = 9 * vg.Inch
	Height = 4.5 * vg.Inch
	DPI    = 96
)

// Chart is one picture.
type Chart struct {
	Name    string // file name without extension: "latency-percentiles"
	Title   string
	Caption string // one sentence saying how to read it
	Plot    *plot.Plot
}

// Room around a chart: edge keeps the outermost tick labels and legend
// entries inside the picture, and legendGap parts the legend from the axes.
const (
	edge      vg.Length = 10 // points, as every vg.Length
	legendGap vg.Length = 12
)

// layout splits dc between the plot, drawn without its legend, and the
// legend, in a column to the right of the axes where it covers no data
// and no tick, top-aligned with the plotting area.
func (c Chart) layout(dc draw.Canvas) (p plot.Plot, plotArea draw.Canvas, legend plot.Legend, legendArea draw.Canvas) {
	dc = draw.Crop(dc, edge, -edge, edge/2, -edge/2)
	p = *c.Plot
	legend = p.Legend
	p.Legend = plot.NewLegend()
	width := legend.Rectangle(dc).Size().X
	if width == 0 {
		return p, dc, legend, draw.Crop(dc, dc.Size().X, 0, 0, 0)
	}
	top := dc.Max.Y
	if p.Title.Text != "" {
		top -= p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
	}
	legend.Left, legend.Top = true, true
	return p, draw.Crop(dc, 0, -(width + legendGap), 0, 0), legend, draw.Canvas{Canvas: dc.Canvas,
		Rectangle: vg.Rectangle{Min: vg.Point{X: dc.Max.X - width, Y: dc.Min.Y}, Max: vg.Point{X: dc.Max.X, Y: top}}}
}

// draw draws the chart on dc.
func (c Chart) draw(dc draw.Canvas) {
	p, plotArea, legend, legendArea := c.layout(dc)
	p.Draw(plotArea)
	legend.Draw(legendArea)
}

// PNG draws the chart as a PNG image of Width x Height at DPI.
func (c Chart) PNG() ([]byte, error) {
	cv := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(Width, Height), vgimg.UseDPI(DPI))}
	c.draw(draw.New(cv))
	var b bytes.Buffer
	if _, err := cv.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	return b.Bytes(), nil
}

// SVG draws the chart as a standalone SVG document.
func (c Chart) SVG() ([]byte, error) {
	cv := vgsvg.New(Width, Height)
	c.draw(draw.New(cv))
	var b bytes.Buffer
	if _, err := cv.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name, err)
	}
	return b.Bytes(), nil
}

// palette holds the line colors, in order, chosen to stay apart for the
// common forms of color blindness (Okabe and Ito).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // green
	color.RGBA{204, 121, 167, 255}, // purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{240, 228, 66, 255},  // yellow
	color.RGBA{0, 0, 0, 255},       // black
}

var (
	passColor = color.RGBA{0, 158, 115, 255}
	failColor = color.RGBA{213, 94, 0, 255}
	kneeColor = color.RGBA{90, 90, 90, 255}
)

// sans is the charts' typeface: Liberation Sans, embedded in gonum's
// font cache, metric-compatible with Arial and Helvetica.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.Legend.TextStyle.Font,
		&p.X.Label.TextStyle.Font, &p.X.Tick.Label.Font, &p.Y.Label.TextStyle.Font, &p.Y.Tick.Label.Font} {
		size := f.Size
		*f = sans
		f.Size = size
	}
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Title.Padding = vg.Points(6)
	p.X.Tick.Marker = plainTicks{}
	p.Y.Tick.Marker = plainTicks{}
	p.Legend.Padding = vg.Points(3) // room for the larger glyphs
	p.Add(plotter.NewGrid())
	return p
}

// headroom raises a linear Y axis's top a little, so that the highest
// point and its marks are drawn whole, not cut by the frame.
func headroom(p *plot.Plot) {
	p.Y.Max += (p.Y.Max - p.Y.Min) * 0.05
}

// plainTicks are gonum's default ticks with plain labels: "25", not "25.00".
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = plainNumber(t.Value)
		}
	}
	return ticks
}

func plainNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// logRange widens [lo, hi] to 1, 2 or 5 times powers of ten, so that a
// log axis is labelled at both ends.
func logRange(lo, hi float64) (float64, float64) {
	down := math.Pow(10, math.Floor(math.Log10(lo)))
	for _, m := range []float64{5, 2, 1} {
		if down*m <= lo {
			lo = down * m
			break
		}
	}
	up := math.Pow(10, math.Floor(math.Log10(hi)))
	for _, m := range []float64{1, 2, 5, 10} {
		if up*m >= hi {
			hi = up * m
			break
		}
	}
	return lo, hi
}

// logTicks labels a log axis at 1, 2 and 5 times the powers of ten, with
// unlabelled ticks at the other multiples.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for d := math.Pow(10, math.Floor(math.Log10(lo))); d <= hi; d *= 10 {
		for m := 1.0; m < 10; m++ {
			v := d * m
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = plainNumber(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// addLine adds a line with the i'th palette color and a legend entry.
func addLine(p *plot.Plot, i int, name string, xys plotter.XYs) error {
	_, err := addStyledLine(p, i, name, xys)
	return err
}

// addStyledLine is addLine returning the line, to restyle it.
func addStyledLine(p *plot.Plot, i int, name string, xys plotter.XYs) (*plotter.Line, error) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	l.Color = palette[i%len(palette)]
	l.Width = vg.Points(1.5)
	p.Add(l)
	p.Legend.Add(name, l)
	return l, nil
}

// percentileTicks labels a 1/(1-p) axis with percentiles: 0%, 50%, 90%,
// 99%, 99.9% ... at 1, 2, 10, 100, 1000 ...
type percentileTicks struct{}

func (percentileTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := []plot.Tick{{Value: 2, Label: "50%"}}
	for k, x := 0, 1.0; x <= hi*1.0001; k, x = k+1, x*10 {
		ticks = append(ticks, plot.Tick{Value: x, Label: percentileLabel(k)})
		for m := 2.0; m < 10; m++ {
			if (k > 0 || m > 2) && x*m <= hi {
				ticks = append(ticks, plot.Tick{Value: x * m})
			}
		}
	}
	return ticks
}

// percentileLabel names the percentile at 1/(1-p) = 10^k.
func percentileLabel(k int) string {
	switch k {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", k-2) + "%"
}

// percentileCurve samples h at 1/(1-p) = 10^(i/20) up to its count, and
// ends at its maximum. Values are in milliseconds.
func percentileCurve(h *hdrhistogram.Histogram) plotter.XYs {
	n := float64(h.TotalCount())
	var xys plotter.XYs
	for i := 0; ; i++ {
		x := math.Pow(10, float64(i)/20)
		if x > n {
			break
		}
		q := 100 * (1 - 1/x)
		xys = append(xys, plotter.XY{X: x, Y: ms(h.ValueAtQuantile(q))})
	}
	if n > 1 {
		xys = append(xys, plotter.XY{X: n, Y: ms(h.Max())})
	}
	return xys
}

func ms(us int64) float64 { return float64(us) / 1000 }

// LatencyPercentileChart draws the latency percentile curves of the
// named histograms on the log-scaled "percentile vs. latency" axis, as
// the HdrHistogram plotter does. It returns false when every histogram
// is empty.
func LatencyPercentileChart(title string, names []string, hs []*hdrhistogram.Histogram) (Chart, bool, error) {
	p := newPlot(title, "percentile", "latency (ms)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentileTicks{}
	maxX := 10.0
	any := false
	for i, h := range hs {
		if h.TotalCount() == 0 {
			continue
		}
		any = true
		xys := percentileCurve(h)
		if last := xys[len(xys)-1].X; last > maxX {
			maxX = last
		}
		if err := addLine(p, i, names[i], xys); err != nil {
			return Chart{}, false, err
		}
	}
	p.X.Min, p.X.Max = 1, math.Pow(10, math.Ceil(math.Log10(maxX)))
	p.Y.Min = 0
	headroom(p)
	return Chart{
		Name: "latency-percentiles", Title: title, Plot: p,
		Caption: "Latency at each percentile: the curve's right end is the rare slow request; a steep rise there is the tail.",
	}, any, nil
}

// LoadCharts draws a load run's charts: the latency percentile curves,
// requested vs. achieved rate over time, latency over time and outcomes
// over time. Charts without data (no histogram, no series) are left out.
func LoadCharts(r *load.Result) ([]Chart, error) {
	var charts []Chart
	lat, err := load.DecodeHistogram(r.Histograms.Latency)
	if err != nil {
		return nil, fmt.Errorf("latency histogram: %w", err)
	}
	svc, err := load.DecodeHistogram(r.Histograms.Service)
	if err != nil {
		return nil, fmt.Errorf("service histogram: %w", err)
	}
	c, ok, err := LatencyPercentileChart("Latency by percentile",
		[]string{"response (from due time)", "service (from send)"}, []*hdrhistogram.Histogram{lat, svc})
	if err != nil {
		return nil, err
	}
	if ok {
		charts = append(charts, c)
	}
	seconds := wholeSeconds(r)
	if len(seconds) == 0 {
		return charts, nil
	}
	for _, f := range []func(*load.Result, []load.Second) (Chart, error){rateChart, latencyOverTimeChart, outcomesChart} {
		c, err := f(r, seconds)
		if err != nil {
			return nil, err
		}
		charts = append(charts, c)
	}
	return charts, nil
}

// wholeSeconds returns the seconds of r's series that lie wholly inside
// its measured window. A run starts and ends between two ticks of the
// clock, so its first and last seconds hold only part of a second's
// requests: drawn, they would make a steady rate look as if it ramped up
// and down.
func wholeSeconds(r *load.Result) []load.Second {
	start := r.Start
	end := start.Add(time.Duration(r.DurationS * float64(time.Second)))
	var whole []load.Second
	for _, s := range r.Series {
		from := time.Unix(s.Unix, 0)
		if !from.Before(start) && !from.Add(time.Second).After(end) {
			whole = append(whole, s)
		}
	}
	return whole
}

// partialNote ends the captions of the charts over time.
const partialNote = " The run's first and last seconds, which it covers only in part, are left out."

// timeLine returns y of each second, placed at the middle of the second,
// in seconds since the start of r's measured window.
func timeLine(r *load.Result, seconds []load.Second, y func(load.Second) float64) plotter.XYs {
	xys := make(plotter.XYs, len(seconds))
	for i, s := range seconds {
		mid := time.Unix(s.Unix, int64(time.Second/2))
		xys[i] = plotter.XY{X: mid.Sub(r.Start).Seconds(), Y: y(s)}
	}
	return xys
}

// newTimePlot is a plot over r's measured window, from 0 to its duration.
func newTimePlot(r *load.Result, title, y string) *plot.Plot {
	p := newPlot(title, "time since the start of measurement (s)", y)
	p.X.Min, p.X.Max = 0, r.DurationS
	p.Y.Min = 0
	return p
}

func rateChart(r *load.Result, seconds []load.Second) (Chart, error) {
	p := newTimePlot(r, "Requested and achieved rate", "requests per second")
	requested, err := addStyledLine(p, 0, "requested", timeLine(r, seconds, func(s load.Second) float64 { return float64(s.Offered) }))
	if err != nil {
		return Chart{}, err
	}
	// Where the two agree, the achieved line runs inside the wider, dashed requested one.
	requested.Width = vg.Points(4)
	requested.Dashes = []vg.Length{vg.Points(8), vg.Points(4)}
	if err := addLine(p, 1, "achieved", timeLine(r, seconds, func(s load.Second) float64 { return float64(s.Achieved) })); err != nil {
		return Chart{}, err
	}
	headroom(p)
	return Chart{Name: "rate", Title: p.Title.Text, Plot: p,
		Caption: "Requests due and requests completed in each second: achieved below requested means the target (or the generator) fell behind." + partialNote}, nil
}

func latencyOverTimeChart(r *load.Result, seconds []load.Second) (Chart, error) {
	p := newTimePlot(r, "Latency over time", "latency (ms)")
	lines := append(percentiles[:len(percentiles):len(percentiles)],
		percentile{name: "max", get: func(s load.Summary) int64 { return s.Max }, dashes: []vg.Length{vg.Points(1), vg.Points(2)}})
	for i, l := range lines {
		line, err := addStyledLine(p, i, l.name, timeLine(r, seconds, func(s load.Second) float64 { return ms(l.get(s.Latency)) }))
		if err != nil {
			return Chart{}, err
		}
		line.Dashes = l.dashes
	}
	headroom(p)
	return Chart{Name: "latency-over-time", Title: p.Title.Text, Plot: p,
		Caption: "Response-time percentiles of the requests completed in each second." + partialNote}, nil
}

// percentile names a value of a [load.Summary] and the style that tells
// its line apart from the others' where they run together, as p99 and
// p99.9 do past the knee: a dash pattern, and a glyph at each point.
type percentile struct {
	name   string
	get    func(load.Summary) int64
	dashes []vg.Length // none for a solid line
	glyph  draw.GlyphDrawer
	radius vg.Length
}

// percentiles are the summary values the charts draw. The glyphs grow
// from p50 to p99.9, and p99.9's is hollow, so that where two coincide
// both stay in sight.
var percentiles = []percentile{
	{name: "p50", get: func(s load.Summary) int64 { return s.P50 },
		glyph: draw.CircleGlyph{}, radius: vg.Points(2.5)},
	{name: "p99", get: func(s load.Summary) int64 { return s.P99 },
		dashes: []vg.Length{vg.Points(7), vg.Points(3)}, glyph: draw.TriangleGlyph{}, radius: vg.Points(3.5)},
	{name: "p99.9", get: func(s load.Summary) int64 { return s.P999 },
		dashes: []vg.Length{vg.Points(2), vg.Points(2)}, glyph: draw.SquareGlyph{}, radius: vg.Points(5)},
}

// outcomeNames returns the outcomes seen in series: "ok" first, then by
// total count, largest first, then by name.
func outcomeNames(series []load.Second) []load.Outcome {
	totals := load.Counts{}
	for _, s := range series {
		totals.Add(s.Outcomes)
	}
	return totals.Sorted()
}

func outcomesChart(r *load.Result, seconds []load.Second) (Chart, error) {
	p := newTimePlot(r, "Outcomes over time", "requests per second")
	names := outcomeNames(seconds)
	for i, name := range names {
		if err := addLine(p, i, name.String(), timeLine(r, seconds, func(s load.Second) float64 { return float64(s.Outcomes[name]) })); err != nil {
			return Chart{}, err
		}
	}
	headroom(p)
	return Chart{Name: "outcomes", Title: p.Title.Text, Plot: p,
		Caption: "How the requests completed in each second ended: ok is a CVR reply; every other line is an error class." + partialNote}, nil
}
