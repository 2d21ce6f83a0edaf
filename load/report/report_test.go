package report

import (
	"bytes"
	"html"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/plotter"

	"github.com/cvrswarm/cvrswarm/fuzz"
	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
)

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, readLoadFixture(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "load.txt", b.Bytes())
}

// TestTextShowsABatchWindowSet checks that the settings line names a
// batch window other than the default, and only then.
func TestTextShowsABatchWindowSet(t *testing.T) {
	for _, tt := range []struct{ window, want string }{
		{"", ""}, {load.DefaultBatchWindow.String(), ""}, {"1ms", "  batch-window 1ms"},
	} {
		r := readLoadFixture(t)
		r.Settings.BatchWindow = tt.window
		var b bytes.Buffer
		if err := WriteText(&b, r); err != nil {
			t.Fatal(err)
		}
		line := regexp.MustCompile(`(?m)^settings .*$`).FindString(b.String())
		if !strings.HasSuffix(line, "timeout "+r.Settings.Timeout+tt.want) {
			t.Errorf("batch window %q: got %q, want it to end with timeout %s%s", tt.window, line, r.Settings.Timeout, tt.want)
		}
	}
}

func TestWriteCapacityText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCapacityText(&b, readCapacityFixture(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "capacity.txt", b.Bytes())
}

func TestCapacitySummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    capacity.Result
		want string
	}{
		{name: "converged", c: capacity.Result{CapacityRPS: 3875, Converged: true, Bracket: capacity.Bracket{Low: 3875, High: 4000},
			Steps: make([]capacity.Step, 8)}, want: "capacity 3875/s (bracket 3875/s..4000/s, converged in 8 steps)"},
		{name: "open bracket", c: capacity.Result{CapacityRPS: 3000, Bracket: capacity.Bracket{Low: 3000}, Stopped: "every rate passed up to the maximum 3000/s"},
			want: "capacity at least 3000/s, NOT CONVERGED (bracket 3000/s..?; every rate passed up to the maximum 3000/s)"},
		{name: "none passed", c: capacity.Result{Bracket: capacity.Bracket{High: 1}, Stopped: "no rate passed, down to 1/s"},
			want: "capacity not found: no step passed (bracket 0/s..1/s; no rate passed, down to 1/s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CapacitySummary(&tt.c); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMicros(t *testing.T) {
	t.Parallel()
	for us, want := range map[int64]string{0: "0µs", 999: "999µs", 1000: "1.00ms", 12_345: "12.35ms", 2_500_000: "2.50s"} {
		if got := Micros(us); got != want {
			t.Errorf("Micros(%d): got %q, want %q", us, got, want)
		}
	}
}

func TestPercentileLabels(t *testing.T) {
	t.Parallel()
	var got []string
	for _, tk := range (percentileTicks{}).Ticks(1, 1e5) {
		if tk.Label != "" {
			got = append(got, tk.Label)
		}
	}
	want := "50% 0% 90% 99% 99.9% 99.99% 99.999%"
	if strings.Join(got, " ") != want {
		t.Errorf("got labels %q, want %q", strings.Join(got, " "), want)
	}
}

func TestPercentileCurve(t *testing.T) {
	t.Parallel()
	h := load.NewHistogram()
	for v := int64(1); v <= 10_000; v++ {
		h.RecordValue(v * 10) // 10 µs to 100 ms, evenly
	}
	xys := percentileCurve(h)
	at := func(x float64) float64 {
		for _, p := range xys {
			if p.X > x*0.999 && p.X < x*1.001 {
				return p.Y
			}
		}
		t.Fatalf("no point at x=%v", x)
		return 0
	}
	for _, tt := range []struct{ x, wantMs float64 }{{1, 0.01}, {10, 90}, {100, 99}, {1000, 99.9}} {
		if got := at(tt.x); got < tt.wantMs*0.99 || got > tt.wantMs*1.01 {
			t.Errorf("at x=%v: got %vms, want %vms", tt.x, got, tt.wantMs)
		}
	}
	if last := xys[len(xys)-1]; last.X != 10_000 || last.Y < 99.9 {
		t.Errorf("got last point %v, want the maximum at x=count", last)
	}
}

// chartSets are every chart the package draws, from the fixtures.
func chartSets(t *testing.T) map[string][]Chart {
	t.Helper()
	lc, err := LoadCharts(readLoadFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := CapacityCharts(readCapacityFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := FuzzCharts(readFuzzFixture(t).Series)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]Chart{"load": lc, "capacity": cc, "fuzz": fc}
}

func TestCharts(t *testing.T) {
	want := map[string]map[string][]string{ // chart name -> texts its SVG must show
		"load": {
			"latency-percentiles": {"Latency by percentile", "response (from due time)", "service (from send)", "50%", "90%", "99%", "99.9%", "latency (ms)"},
			"rate":                {"Requested and achieved rate", "requested", "achieved", "time since the start of measurement (s)"},
			"latency-over-time":   {"Latency over time", "p50", "p99", "p99.9", "max"},
			"outcomes":            {"Outcomes over time", "ok", "420", "731", "silent"},
		},
		"capacity": {
			"capacity-latency":    {"Latency vs. offered rate", "p50", "p99", "p99.9", "capacity 3875/s"},
			"capacity-throughput": {"Achieved vs. offered rate", "achieved = offered", "passed", "failed", "capacity 3875/s"},
			"capacity-steps":      {"Search steps", "offered", "capacity 3875/s"},
		},
		"fuzz": {
			"fuzz-rate":     {"Cases per second", "cases per second", "time since the start (s)"},
			"fuzz-findings": {"Findings over time", "distinct findings"},
		},
	}
	for set, charts := range chartSets(t) {
		if len(charts) != len(want[set]) {
			t.Errorf("%s: got %d charts, want %d", set, len(charts), len(want[set]))
		}
		for _, c := range charts {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				texts, ok := want[set][c.Name]
				if !ok {
					t.Fatalf("unexpected chart %q in %s", c.Name, set)
				}
				b, err := c.PNG()
				if err != nil {
					t.Fatal(err)
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("PNG does not decode: %v", err)
				}
				if got := img.Bounds().Size(); got.X != 864 || got.Y != 432 {
					t.Errorf("got a %v PNG, want 864x432", got)
				}
				svg, err := c.SVG()
				if err != nil {
					t.Fatal(err)
				}
				shown := svgTexts(svg)
				for _, s := range texts {
					if !shown[s] {
						t.Errorf("SVG does not show %q", s)
					}
				}
				if c.Caption == "" || c.Title == "" {
					t.Errorf("got title %q caption %q, want both", c.Title, c.Caption)
				}
			})
		}
	}
}

var svgText = regexp.MustCompile(`(?s)<text[^>]*>([^<]*)</text>`)

// svgTexts returns the set of texts an SVG draws.
func svgTexts(svg []byte) map[string]bool {
	m := map[string]bool{}
	for _, g := range svgText.FindAllSubmatch(svg, -1) {
		m[string(g[1])] = true
	}
	return m
}

func TestCapacityChartsEmpty(t *testing.T) {
	t.Parallel()
	charts, err := CapacityCharts(&capacity.Result{})
	if err != nil || len(charts) != 0 {
		t.Errorf("got %d charts, %v; want none for a search without steps", len(charts), err)
	}
}

func TestLoadChartsWithoutData(t *testing.T) {
	t.Parallel()
	charts, err := LoadCharts(&load.Result{Version: load.ResultVersion})
	if err != nil || len(charts) != 0 {
		t.Errorf("got %d charts, %v; want none for a run that measured nothing", len(charts), err)
	}
	if _, err := LoadCharts(&load.Result{Histograms: load.Histograms{Latency: "not base64"}}); err == nil {
		t.Error("got no error for a corrupt histogram")
	}
}

func TestPageHTML(t *testing.T) {
	for _, tt := range pages(t) {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.page.HTML(time.Date(2024, 5, 1, 14, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if got, want := strings.Count(s, "<svg "), len(tt.page.Charts); got != want {
				t.Errorf("got %d inline SVG charts, want %d", got, want)
			}
			for _, c := range tt.page.Charts {
				if !strings.Contains(s, `<figure id="`+c.Name+`">`) || !strings.Contains(s, html.EscapeString(c.Caption)) {
					t.Errorf("page lacks the figure %q or its caption", c.Name)
				}
			}
			if !strings.Contains(s, "<pre>") || !strings.Contains(s, tt.page.Summary) {
				t.Error("page lacks the text report or the summary")
			}
			// Self-contained: nothing to fetch.
			for _, bad := range []string{"<script", "<link", "@import", "url(", `src="http`, `href="http`, "<?xml"} {
				if strings.Contains(s, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
			if !strings.Contains(s, "font-family:'Liberation Sans',Arimo,Arial") || strings.Contains(s, "font-family:Liberation Sans;") {
				t.Error("chart fonts have no fallback")
			}
		})
	}
}

type namedPage struct {
	name string
	page Page
}

func pages(t *testing.T) []namedPage {
	t.Helper()
	lp, err := LoadPage(readLoadFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := CapacityPage(readCapacityFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := FuzzPage(readFuzzFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	return []namedPage{{"load", lp}, {"capacity", cp}, {"fuzz", fp}}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p, err := CapacityPage(readCapacityFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	html, pngs := filepath.Join(dir, "capacity.html"), filepath.Join(dir, "png")
	if err := Write(p, html, pngs); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(html); err != nil || !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
		t.Errorf("got %q..., %v; want the page", b[:min(len(b), 20)], err)
	}
	ents, err := os.ReadDir(pngs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), "capacity-latency.png capacity-steps.png capacity-throughput.png"; got != want {
		t.Errorf("got files %q, want %q (and no temporary files)", got, want)
	}
	if err := Write(p, filepath.Join(dir, "no", "such", "dir", "x.html"), ""); err == nil {
		t.Error("got no error writing into a missing directory")
	}
}

// TestFuzzRates: a run records a point at each second from its start and
// one at its end. The rate chart draws each whole second at its middle,
// a tick late by a second over the two seconds it covers, and leaves out
// the end's point, whose part of a second would show as a slowdown.
func TestFuzzRates(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		series []fuzz.Point
		want   plotter.XYs
	}{
		{"the end in the last tick's second", []fuzz.Point{{T: 100, Cases: 900}, {T: 101, Cases: 2000}, {T: 103, Cases: 4000}, {T: 103, Cases: 4100}},
			plotter.XYs{{X: 0.5, Y: 900}, {X: 1.5, Y: 1100}, {X: 3, Y: 1000}}},
		{"the end in the next second", []fuzz.Point{{T: 100, Cases: 1000}, {T: 101, Cases: 2000}, {T: 102, Cases: 2300}},
			plotter.XYs{{X: 0.5, Y: 1000}, {X: 1.5, Y: 1000}}},
		{"shorter than a second", []fuzz.Point{{T: 100, Cases: 400}}, nil},
	} {
		got := fuzzRates(tt.series)
		if len(got) != len(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i := range tt.want {
			if got[i] != tt.want[i] {
				t.Errorf("%s: point %d: got %v, want %v", tt.name, i, got[i], tt.want[i])
			}
		}
	}
}

// An interrupted step was not judged: the table says so rather than
// showing the pass its zero verdict would otherwise read as.
func TestCapacityTextCutStep(t *testing.T) {
	t.Parallel()
	c := &capacity.Result{Partial: true, Stopped: "interrupted", Steps: []capacity.Step{
		{Index: 1, Phase: capacity.PhaseGrow, Offered: 500, Achieved: 500, Pass: true},
		{Index: 2, Phase: capacity.PhaseGrow, Offered: 1000, Achieved: 997, Pass: true, Partial: true}}}
	var b bytes.Buffer
	if err := WriteCapacityText(&b, c); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ +1 +grow .* pass$`).MatchString(b.String()) || !regexp.MustCompile(`(?m)^ +2 +grow .* cut$`).MatchString(b.String()) {
		t.Errorf("got report\n%s\nwant step 1 pass and step 2 cut", b.String())
	}
}

func TestWriteTextRequestedRate(t *testing.T) {
	tests := []struct {
		rate      string
		requested float64
		want      string
	}{
		{"inf", 0, "requested inf "},
		{"500/s", 500, "requested 500.0/s "},
		{"500/s", 0, "requested 0.0/s "}, // a shard interrupted before its start offered nothing
	}
	for _, tt := range tests {
		var b strings.Builder
		r := &load.Result{Rate: load.Rate{Requested: tt.requested}, Settings: load.Settings{Rate: tt.rate}}
		if err := WriteText(&b, r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("rate %s, requested %g: report lacks %q:\n%s", tt.rate, tt.requested, tt.want, b.String())
		}
	}
}

func TestWriteVerdictsWithUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    load.SLOVerdict
		want string
	}{
		{"float noise", load.SLOVerdict{Objective: "mean<1.5s", Value: 0.0006743000000000002, Met: true}, "  mean<1.5s            674µs      met\n"},
		{"rate", load.SLOVerdict{Objective: "rate>4900", Value: 4999.4, Met: true}, "  rate>4900            4999.4/s   met\n"},
		{"breach", load.SLOVerdict{Objective: "p50<500us", Value: 665}, "  p50<500us            665µs      BREACHED\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeVerdicts(&b, []load.SLOVerdict{tt.v})
			if got, want := b.String(), "SLO\n"+tt.want; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}
