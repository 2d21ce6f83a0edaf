package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/vbauerster/mpb/v8"
)

// testTerminal is a terminal of a fixed width for mpb: it keeps each
// frame mpb draws.
type testTerminal struct {
	width  int
	frame  bytes.Buffer
	frames []string
}

var _ mpb.ConsoleWriter = (*testTerminal)(nil)

func (t *testTerminal) Write(p []byte) (int, error)                 { return t.frame.Write(p) }
func (t *testTerminal) ReadFrom(r io.Reader) (int64, error)         { return t.frame.ReadFrom(r) }
func (t *testTerminal) IsTerminal() bool                            { return true }
func (t *testTerminal) GetTermSize() (width, height int, err error) { return t.width, 24, nil }
func (t *testTerminal) Flush(lines int) error {
	t.frames = append(t.frames, t.frame.String())
	t.frame.Reset()
	return nil
}

// runBars draws src's reports for run on a terminal of width columns, on
// synctest's clock, and returns the frames drawn.
func runBars(t *testing.T, width int, run time.Duration, src func(elapsed time.Duration) progressReport) []string {
	t.Helper()
	term := &testTerminal{width: width}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() {
			barLoop(ctx, "load", func() progressReport { return src(time.Since(start)) }, mpb.WithConsoleWriter(term))
		})
		time.Sleep(run)
		cancel()
		wg.Wait()
	})
	if len(term.frames) == 0 {
		t.Fatal("no frame drawn")
	}
	return term.frames
}

var (
	percentRE = regexp.MustCompile(`^load (\S+) +(\d+)%`)
	elapsedRE = regexp.MustCompile(`^load (\d+)s`)
	barRE     = regexp.MustCompile(`\[([=>-]*)\]`)
)

// TestBarsAdvance: the percentage, the bar and the elapsed time move as
// the run does, and the last frame shows the final report.
func TestBarsAdvance(t *testing.T) {
	const total = 5000
	frames := runBars(t, 80, 5*time.Second, func(e time.Duration) progressReport {
		done := min(total, int64(e/time.Millisecond))
		return progressReport{Done: done, Total: total, Unit: "requests",
			Status: fmt.Sprintf("rate 1000/s  p99 1.20ms  ok %d  err 0  sent %d", done, done)}
	})
	var percents, seconds, filled []int
	for _, f := range frames {
		line, _, _ := strings.Cut(f, "\n")
		if m := barRE.FindStringSubmatch(line); m != nil {
			filled = append(filled, strings.Count(m[1], "="))
		}
		if m := percentRE.FindStringSubmatch(line); m != nil {
			p, _ := strconv.Atoi(m[2])
			percents = append(percents, p)
		}
		if m := elapsedRE.FindStringSubmatch(line); m != nil {
			s, _ := strconv.Atoi(m[1])
			seconds = append(seconds, s)
		}
	}
	if len(percents) < 10 || percents[0] > 10 || percents[len(percents)-1] != 100 {
		t.Fatalf("percentages %v: want at least 10 frames from under 10%% to 100%%", percents)
	}
	for i := 1; i < len(percents); i++ {
		if percents[i] < percents[i-1] {
			t.Fatalf("percentages %v go back", percents)
		}
	}
	if distinct := len(slicesCompact(percents)); distinct < 10 {
		t.Errorf("percentages %v: %d distinct values, want the bar to move at least 10 times", percents, distinct)
	}
	if distinct := len(slicesCompact(filled)); distinct < 10 || filled[0] > 2 {
		t.Errorf("bar fill %v: want it to start empty and grow at least 10 times", filled)
	}
	if seconds[0] != 0 || seconds[len(seconds)-1] < 4 {
		t.Errorf("elapsed seconds %v: want 0s at first and at least 4s at the end", seconds)
	}
	last := frames[len(frames)-1]
	if !strings.Contains(last, "ok 5000  err 0  sent 5000") || !strings.Contains(last, "[=====") {
		t.Errorf("last frame %q: want the final counts and a full bar", last)
	}
}

func slicesCompact(s []int) []int {
	var out []int
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// TestBarsInterrupted: a run stopped early keeps its percentage, not a
// full bar.
func TestBarsInterrupted(t *testing.T) {
	frames := runBars(t, 80, 2*time.Second, func(e time.Duration) progressReport {
		return progressReport{Done: int64(e / time.Millisecond), Total: 5000, Status: "ok"}
	})
	last := frames[len(frames)-1]
	if m := percentRE.FindStringSubmatch(last); m == nil || m[2] != "40" {
		t.Errorf("last frame %q: want 40%%", last)
	}
}

// TestBarsUnknownEnd: a run with no known end shows its counts and no
// percentage or bar.
func TestBarsUnknownEnd(t *testing.T) {
	frames := runBars(t, 80, time.Second, func(e time.Duration) progressReport {
		return progressReport{Done: int64(e / time.Millisecond), Status: "cases 1000  1000/s"}
	})
	last := frames[len(frames)-1]
	if strings.Contains(last, "%") || strings.Contains(last, "[") || !strings.Contains(last, "cases 1000") {
		t.Errorf("last frame %q: want the status without a percentage or a bar", last)
	}
}

// TestBarsFit80Columns: on an 80-column terminal every line fits, the
// step, the percentage and p99 stay on the bar's line, and the bracket
// and the last verdict are on the line under it.
func TestBarsFit80Columns(t *testing.T) {
	frames := runBars(t, 80, time.Second, func(e time.Duration) progressReport {
		return progressReport{Done: int64(e / time.Millisecond), Total: 2000, Unit: "requests",
			Head:   "step 12 bisect 3162/s",
			Status: "rate 3162/s  p99 1.20ms  ok 123456  err 1234  sent 124690",
			Detail: "bracket 2000/s..4000/s  last step: 4000/s failed: p99 12.3ms > 10ms, achieved 3900/s"}
	})
	last := frames[len(frames)-1]
	lines := strings.Split(strings.TrimSuffix(last, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("last frame %q: want 2 lines", last)
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("line %q is %d columns, want at most 80", l, n)
		}
	}
	for _, want := range []string{"step 12 bisect 3162/s", " 50%", "[", "p99 1.20ms"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line %q lacks %q", lines[0], want)
		}
	}
	if !strings.HasPrefix(lines[1], "bracket 2000/s..4000/s  last step: 4000/s failed: p99 12.3ms > 10ms") {
		t.Errorf("line %q: want the bracket and the verdict", lines[1])
	}
}

func TestPlainProgressLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		var done int64
		stop := startProgress(t.Context(), &out, progressConfig{Label: "load", Every: time.Second},
			func() progressReport {
				done++
				return progressReport{Done: done, Total: 100, Unit: "requests", Status: "ok 7"}
			})
		time.Sleep(3500 * time.Millisecond)
		stop()
		stop() // a second stop is harmless
		want := "load 1s: 1/100 requests  ok 7\nload 2s: 2/100 requests  ok 7\nload 3s: 3/100 requests  ok 7\nload 4s: 4/100 requests  ok 7\n"
		if got := out.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		out.Reset()
		stop = startProgress(t.Context(), &out, progressConfig{Label: "load", Quiet: true},
			func() progressReport { return progressReport{Done: 1, Total: 1} })
		stop()
		if out.Len() != 0 {
			t.Errorf("-quiet printed %q", out.String())
		}
	})
}
