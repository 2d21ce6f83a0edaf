package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progressSource tells the progress display how far a run is: done of
// total units (total 0 when the run has no known end), what a unit is
// ("requests", "ms", "cases"), and a status text such as "sent 1200  rate
// 500/s  ok 1190  err 10  p99 1.2ms".
type progressSource func() (done, total int64, unit, status string)

// progressConfig says how a run's progress is shown on stderr.
type progressConfig struct {
	Label string
	Quiet bool          // show nothing
	Every time.Duration // plain-line period when stderr is not a terminal; 0 means 5s
}

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
		wg.Go(func() { barLoop(ctx, w, cfg, src) })
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
		done, total, unit, status := src()
		elapsed := time.Since(start).Round(time.Second)
		if total > 0 {
			fmt.Fprintf(w, "%s %s: %d/%d %s  %s\n", label, elapsed, done, total, unit, status)
		} else {
			fmt.Fprintf(w, "%s %s: %d %s  %s\n", label, elapsed, done, unit, status)
		}
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

func barLoop(ctx context.Context, w io.Writer, cfg progressConfig, src progressSource) {
	p := mpb.New(mpb.WithOutput(w), mpb.WithAutoRefresh(), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond))
	_, total, _, _ := src()
	var (
		mu     sync.Mutex
		status string
	)
	bar := p.New(max(total, 1), mpb.BarStyle(),
		mpb.PrependDecorators(decor.Name(cfg.Label+" "), decor.Elapsed(decor.ET_STYLE_GO), decor.Name(" "), decor.Percentage()),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			return status
		})),
	)
	update := func() {
		done, total, _, s := src()
		mu.Lock()
		status = s
		mu.Unlock()
		if total > 0 {
			bar.SetTotal(total, false)
		}
		bar.SetCurrent(done)
	}
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			update()
			bar.SetTotal(-1, true)
			p.Wait()
			return
		case <-t.C:
			update()
		}
	}
}
