package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progressReport is how far a run is.
type progressReport struct {
	Done, Total int64  // units done of Total; Total 0 when the run has no known end
	Unit        string // what a unit is: "requests", "ms", "cases"
	Head        string // what matters most, kept left of the bar: "step 3 grow 2000/s"
	Status      string // right of the bar, cut at a terminal's edge: "rate 500/s  p99 1.20ms  ok 1190"
	Detail      string // a line under the bar on a terminal: "bracket 1000/s..2000/s"
}

// percent is the share of the run done, 0 to 100; -1 when its end is not known.
func (r progressReport) percent() int64 {
	if r.Total <= 0 {
		return -1
	}
	return min(100, max(0, r.Done*100/r.Total))
}

// progressSource tells the progress display how far a run is.
type progressSource func() progressReport

// progressConfig says how a run's progress is shown on stderr.
type progressConfig struct {
	Label string
	Quiet bool          // show nothing
	Every time.Duration // plain-line period when stderr is not a terminal; 0 means 5s
}

// progressTick is how often the bars take a new report and redraw.
const progressTick = 150 * time.Millisecond

// startProgress shows progress on w until stop is called: mpb bars when w
// is a terminal, otherwise one plain line every cfg.Every so that CI logs
// stay readable. stop draws the final state and waits for the display's
// goroutines.
func startProgress(ctx context.Context, w io.Writer, cfg progressConfig, src progressSource) (stop func()) {
	if cfg.Quiet {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if isTerminal(w) {
		wg.Go(func() { barLoop(ctx, cfg.Label, src, mpb.WithOutput(w)) })
	} else {
		every := cfg.Every
		if every <= 0 {
			every = 5 * time.Second
		}
		wg.Go(func() { plainLoop(ctx, w, cfg.Label, every, src) })
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func plainLoop(ctx context.Context, w io.Writer, label string, every time.Duration, src progressSource) {
	start := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	line := func() {
		r := src()
		count := fmt.Sprint(r.Done)
		if r.Total > 0 {
			count += fmt.Sprintf("/%d", r.Total)
		}
		parts := []string{fmt.Sprintf("%s %s: %s", label, time.Since(start).Round(time.Second), strings.TrimSpace(count+" "+r.Unit))}
		for _, s := range []string{r.Head, r.Status, r.Detail} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		fmt.Fprintln(w, strings.Join(parts, "  "))
	}
	for {
		select {
		case <-ctx.Done():
			line()
			return
		case <-t.C:
			if ctx.Err() == nil { // when both are ready, only the final line is printed
				line()
			}
		}
	}
}

// barLoop draws src's reports as one bar until ctx is done, then draws
// the final report and returns once it is on the screen. The line is
// "label elapsed head pct [bar] status", the detail on a line of its
// own: what does not fit the terminal is cut from the right of the
// status, and the bar keeps at least a few columns.
func barLoop(ctx context.Context, label string, src progressSource, opts ...mpb.ContainerOption) {
	start := time.Now()
	var (
		mu      sync.Mutex
		last    progressReport
		elapsed time.Duration
	)
	head := func(decor.Statistics) string {
		mu.Lock()
		defer mu.Unlock()
		s := label + " " + elapsed.Truncate(time.Second).String()
		if last.Head != "" {
			s += "  " + last.Head
		}
		if pct := last.percent(); pct >= 0 {
			s += fmt.Sprintf(" %3d%%", pct)
		}
		return s
	}
	status := func(st decor.Statistics) string {
		mu.Lock()
		defer mu.Unlock()
		return fitWidth(last.Status, st.AvailableWidth-minBarWidth-2)
	}
	detail := mpb.BarFillerFunc(func(w io.Writer, st decor.Statistics) error {
		mu.Lock()
		defer mu.Unlock()
		if last.Detail == "" {
			return nil
		}
		_, err := io.WriteString(w, fitWidth(last.Detail, st.AvailableWidth)+"\n")
		return err
	})
	p := mpb.New(append([]mpb.ContainerOption{mpb.WithAutoRefresh(), mpb.WithRefreshRate(progressTick)}, opts...)...)
	// total 0: the bar completes only when told to, at the end
	bar := p.New(0, mpb.BarStyle(), mpb.BarWidth(maxBarWidth), mpb.BarFillerMiddleware(hideUnknownEnd),
		mpb.PrependDecorators(decor.Any(head)), mpb.AppendDecorators(decor.Any(status)), mpb.BarBtmExtender(detail))
	update := func() progressReport {
		r := src()
		mu.Lock()
		last, elapsed = r, time.Since(start)
		mu.Unlock()
		bar.SetTotal(r.Total, false)
		bar.SetCurrent(max(0, min(r.Done, r.Total)))
		return r
	}
	t := time.NewTicker(progressTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if r := update(); r.Total > 0 && r.Done >= r.Total {
				bar.SetTotal(r.Total, true)
			} else { // interrupted, or no known end: the bar stays as it is
				bar.Abort(false)
			}
			p.Wait()
			return
		case <-t.C:
			update()
		}
	}
}

// The bar's width in columns: at most maxBarWidth, and at least
// minBarWidth on a terminal too narrow for the whole status.
const (
	minBarWidth = 10
	maxBarWidth = 24
)

// fitWidth cuts s to at most width columns, marking the cut with "…".
func fitWidth(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	if width <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// hideUnknownEnd draws no bar while a run's end is not known.
func hideUnknownEnd(f mpb.BarFiller) mpb.BarFiller {
	return mpb.BarFillerFunc(func(w io.Writer, s decor.Statistics) error {
		if s.Total <= 0 {
			return nil
		}
		return f.Fill(w, s)
	})
}
