package report

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
)

// TestTimeChartsDrawWholeSecondsOnly: a steady 1000/s run that started
// 0.4 s past a second and lasted 3 s covers its first and last wall-clock
// seconds only in part (600 and 400 requests due in them). The charts
// over time draw the two whole seconds, at their middles, and not a ramp.
func TestTimeChartsDrawWholeSecondsOnly(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Unix()
	r := &load.Result{Start: time.Unix(t0, 4e8), DurationS: 3}
	for i, due := range []int64{600, 1000, 1000, 400} {
		r.Series = append(r.Series, load.Second{Unix: t0 + int64(i), Offered: due, Achieved: due,
			Outcomes: load.Counts{load.OutcomeOK: due}})
	}
	got := timeLine(r, wholeSeconds(r), func(s load.Second) float64 { return float64(s.Offered) })
	want := plotter.XYs{{X: 1.1, Y: 1000}, {X: 2.1, Y: 1000}}
	if len(got) != len(want) {
		t.Fatalf("got points %v, want %v", got, want)
	}
	for i := range want {
		if math.Abs(got[i].X-want[i].X) > 1e-9 || got[i].Y != want[i].Y {
			t.Errorf("point %d: got %v, want %v", i, got[i], want[i])
		}
	}

	// A run shorter than a whole second has no charts over time.
	r.DurationS = 0.5
	r.Series = r.Series[:1]
	if s := wholeSeconds(r); len(s) != 0 {
		t.Errorf("got %d whole seconds in half a second", len(s))
	}
}

// render draws f on a blank picture of the charts' size.
func render(f func(draw.Canvas)) image.Image {
	cv := vgimg.NewWith(vgimg.UseWH(Width, Height), vgimg.UseDPI(DPI))
	f(draw.New(cv))
	return cv.Image()
}

// inked reports whether a pixel is not the white background.
func inked(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r < 0xf000 || g < 0xf000 || b < 0xf000
}

// TestLegendsBesideThePlot draws each chart's plot and its legend apart,
// in the places the chart puts them, and checks that no pixel is inked by
// both: the legend covers no data, grid, tick or label. The whole chart
// leaves a blank border, so nothing is cut off at the picture's edges.
func TestLegendsBesideThePlot(t *testing.T) {
	for set, charts := range chartSets(t) {
		for _, c := range charts {
			t.Run(set+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				plotImg := render(func(dc draw.Canvas) {
					p, area, _, _ := c.layout(dc)
					p.Draw(area)
				})
				legendImg := render(func(dc draw.Canvas) {
					_, _, l, area := c.layout(dc)
					l.Draw(area)
				})
				b := plotImg.Bounds()
				legendPixels, overlap := 0, 0
				for y := b.Min.Y; y < b.Max.Y; y++ {
					for x := b.Min.X; x < b.Max.X; x++ {
						if inked(legendImg.At(x, y)) {
							legendPixels++
							if inked(plotImg.At(x, y)) {
								overlap++
							}
						}
					}
				}
				if entries := legendEntries(t, c); entries == 1 {
					t.Errorf("a legend names the only line: the axis says what it is")
				} else if (entries == 0) != (legendPixels == 0) {
					t.Errorf("a legend of %d entries drew %d pixels", entries, legendPixels)
				}
				if overlap > 0 {
					t.Errorf("the legend covers %d pixels of the plot", overlap)
				}

				whole := render(c.draw)
				const border = 6 // pixels: edge is 10 points, 13 pixels at 96 dpi
				for y := b.Min.Y; y < b.Max.Y; y++ {
					for x := b.Min.X; x < b.Max.X; x++ {
						inBorder := x < border || x >= b.Max.X-border || y < border/2 || y >= b.Max.Y-border/2
						if inBorder && inked(whole.At(x, y)) {
							t.Fatalf("pixel (%d, %d) at the picture's edge is drawn on: something is cut off there", x, y)
						}
					}
				}
			})
		}
	}
}

// legendEntries counts the entries of c's legend: the texts it draws.
func legendEntries(t *testing.T, c Chart) int {
	cv := vgsvg.New(Width, Height)
	_, _, l, area := c.layout(draw.New(cv))
	l.Draw(area)
	var b bytes.Buffer
	if _, err := cv.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return len(svgTexts(b.Bytes()))
}

// TestPercentilesStayApart draws a capacity search whose p99 equals its
// p99.9 at every step, as past a knee, and checks that p99 is still seen:
// each percentile has its own dashes and glyph, so the line drawn last
// does not hide the one under it.
func TestPercentilesStayApart(t *testing.T) {
	t.Parallel()
	for i, a := range percentiles {
		for _, b := range percentiles[i+1:] {
			if a.glyph == b.glyph || len(a.dashes) == len(b.dashes) && (len(a.dashes) == 0 || a.dashes[0] == b.dashes[0]) {
				t.Errorf("%s and %s are drawn alike", a.name, b.name)
			}
		}
	}
	c := &capacity.Result{CapacityRPS: 2000}
	for i, rate := range []float64{500, 1000, 2000, 4000} {
		us := int64(2000 * (i + 1))
		c.Steps = append(c.Steps, capacity.Step{Index: i + 1, Offered: rate, Achieved: rate, Pass: rate <= 2000,
			Latency: load.Summary{P50: us / 2, P99: us, P999: us}})
	}
	charts, err := CapacityCharts(c)
	if err != nil {
		t.Fatal(err)
	}
	img := render(func(dc draw.Canvas) {
		p, area, _, _ := charts[0].layout(dc) // the plot alone: the legend shows every style anyway
		p.Draw(area)
	})
	p99 := palette[1].(color.RGBA)
	seen := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r, p99.R) && near(g, p99.G) && near(bl, p99.B) {
				seen++
			}
		}
	}
	if seen < 100 {
		t.Errorf("got %d pixels of p99's color, want p99 in sight (100 or more) where it equals p99.9", seen)
	}
}

func TestCapacityStepsCaptionCountsReruns(t *testing.T) {
	t.Parallel()
	steps := []capacity.Step{{Index: 1, Offered: 100, Achieved: 50}, {Index: 2, Phase: capacity.PhaseRetry, Offered: 100, Achieved: 50}}
	for _, tt := range []struct {
		reruns []capacity.Rerun
		want   string
	}{
		{nil, "bisection of the bracket."},
		{[]capacity.Rerun{{Rate: 100, Steps: []int{1, 2}, Failed: 2}}, "One rate was run more than once"},
		{[]capacity.Rerun{{Rate: 100}, {Rate: 50}}, "2 rates were run more than once"},
	} {
		charts, err := CapacityCharts(&capacity.Result{Steps: steps, Reruns: tt.reruns})
		if err != nil {
			t.Fatal(err)
		}
		if caption := charts[2].Caption; !strings.Contains(caption, tt.want) {
			t.Errorf("%d reruns: got caption %q, want %q", len(tt.reruns), caption, tt.want)
		}
	}
}

func near(v uint32, want uint8) bool { return math.Abs(float64(v>>8)-float64(want)) < 24 }

// TestCapacityCaptionsSayWhatPassingMeant: the captions name the SLO only
// when one was given, and otherwise say what a passing step did.
func TestCapacityCaptionsSayWhatPassingMeant(t *testing.T) {
	t.Parallel()
	steps := []capacity.Step{{Index: 1, Offered: 100, Achieved: 100, Pass: true, Latency: load.Summary{P50: 1, P99: 2, P999: 3}}}
	for _, tt := range []struct {
		name     string
		c        capacity.Result
		want     []string
		dontWant []string
	}{
		{name: "no SLO", c: capacity.Result{CapacityRPS: 100, Steps: steps, Settings: capacity.Settings{Tolerance: 0.05}},
			want:     []string{"95% or more of its offered rate answered with a CVR reply", "no SLO was given"},
			dontWant: []string{"met the SLO", "SLO p"}},
		{name: "SLO", c: capacity.Result{CapacityRPS: 100, Steps: steps, Settings: capacity.Settings{Tolerance: 0.03, SLO: "p99<10ms"}},
			want: []string{"97% or more of its offered rate", "the SLO p99<10ms met"}, dontWant: []string{"no SLO"}},
		{name: "nothing passed", c: capacity.Result{Steps: steps, Settings: capacity.Settings{Tolerance: 0.05}},
			want: []string{"No step passed", "no capacity is marked"}, dontWant: []string{"dashed line"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			charts, err := CapacityCharts(&tt.c)
			if err != nil {
				t.Fatal(err)
			}
			caption := charts[0].Caption
			for _, s := range tt.want {
				if !strings.Contains(caption, s) {
					t.Errorf("caption %q lacks %q", caption, s)
				}
			}
			for _, s := range tt.dontWant {
				if strings.Contains(caption, s) {
					t.Errorf("caption %q says %q", caption, s)
				}
			}
		})
	}
}
