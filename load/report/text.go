package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
)

// Micros formats a duration in microseconds with a unit that keeps three
// significant digits or so: "850µs", "1.25ms", "2.50s".
func Micros(us int64) string { return load.FormatMicros(float64(us)) }

// Share formats a fraction as a percentage: "98.00%".
func Share(part, whole int64) string {
	if whole <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(part)/float64(whole))
}

// WriteMergedText writes the text report of a merged result, headed by
// the runs it combines: "merged       2 runs: 1/2, 2/2 (interrupted)".
func WriteMergedText(w io.Writer, m *load.Result) error {
	runs := make([]string, 0, len(m.Merged))
	for _, run := range m.Merged {
		s := run.Shard
		if s == "" {
			s = "unsharded run"
		}
		if run.Partial {
			s += " (interrupted)"
		}
		runs = append(runs, s)
	}
	if _, err := fmt.Fprintf(w, "merged       %d runs: %s\n", len(runs), strings.Join(runs, ", ")); err != nil {
		return err
	}
	return WriteText(w, m)
}

// WriteText writes the text report of a load run to w: target and
// settings, requested and achieved rate, how many requests were answered
// and how many timed out, the latency summaries (of the answered
// requests), the outcome table (with valid and mutated requests apart),
// the first error text of each failing outcome and the SLO verdicts.
func WriteText(w io.Writer, r *load.Result) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "target       %s\n", targetName(r.Target, r.Embedded))
	status := ""
	if r.Partial {
		status = "  (partial: interrupted)"
	}
	if r.Shard != "" {
		status += "  shard " + r.Shard
	}
	fmt.Fprintf(ew, "start        %s  duration %.1fs%s\n", r.Start.UTC().Format(time.RFC3339), r.DurationS, status)
	s := r.Settings
	window := "" // shown when it is not the default
	if s.BatchWindow != "" && s.BatchWindow != load.DefaultBatchWindow.String() {
		window = "  batch-window " + s.BatchWindow
	}
	fmt.Fprintf(ew, "settings     rate %s  mode %s  conns %d  max-conns %d  depth %d  mutate %g  timeout %s%s\n",
		orDash(s.Rate), orDash(s.Mode), s.Conns, s.MaxConns, s.Depth, s.Mutate, orDash(s.Timeout), window)
	requested := fmt.Sprintf("%.1f/s", r.Rate.Requested)
	if s.Rate == "inf" { // an unbounded run records 0, as does a shard cut before its start
		requested = "inf"
	}
	fmt.Fprintf(ew, "requests     %d  requested %s  achieved %.1f/s  late %d\n", r.Requests, requested, r.Rate.Achieved, r.Late)
	answered, wellFormed := r.Answered()
	fmt.Fprintf(ew, "answered     %d  well-formed %d  (achieved counts well-formed replies only, error codes included)\n", answered, wellFormed)
	fmt.Fprintf(ew, "timeouts     %d  (no complete reply within %s; not in the latency)\n", r.Timeouts(), orDash(s.Timeout))
	setup := ""
	if c := r.Connections; c.SetupS > 0 {
		setup = fmt.Sprintf("  (%d before the start in %.2fs: %.0f/s)", c.SetupOpened, c.SetupS, float64(c.SetupOpened)/c.SetupS)
	}
	fmt.Fprintf(ew, "connections  opened %d  max open %d%s\n\n", r.Connections.Opened, r.Connections.MaxOpen, setup)

	fmt.Fprintf(ew, "response and service times over the %d answered requests\n", r.Latency.Count)

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "latency\tcount\tp50\tp90\tp99\tp99.9\tmax\tmean\t\n")
	for _, row := range []struct {
		name string
		s    load.Summary
	}{{"response", r.Latency}, {"service", r.Service}, {"send lag", r.SendLag}, {"connect", r.Connect}, {"handshake", r.Handshake}} {
		if row.s.Count == 0 { // no figures, rather than zeros that read as fast
			fmt.Fprintf(tw, "%s\t0\t-\t-\t-\t-\t-\t-\t\n", row.name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.name, row.s.Count, Micros(row.s.P50), Micros(row.s.P90),
			Micros(row.s.P99), Micros(row.s.P999), Micros(row.s.Max), Micros(int64(math.Round(row.s.Mean))))
	}
	tw.Flush()

	fmt.Fprintln(ew)
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "outcome\tcount\tshare\tvalid\tmutated\t\n")
	for _, name := range r.Outcomes.Sorted() {
		n := r.Outcomes[name]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t\n", name, n, Share(n, r.Requests), r.ByKind.Valid[name], r.ByKind.Mutated[name])
	}
	tw.Flush()

	if len(r.FirstErrors) > 0 {
		fmt.Fprintln(ew, "\nfirst error")
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, name := range r.Outcomes.Sorted() {
			if text, ok := r.FirstErrors[name]; ok {
				fmt.Fprintf(tw, "  %s\t%s\n", name, text)
			}
		}
		tw.Flush()
	}

	if len(r.SLO) > 0 {
		fmt.Fprintln(ew)
		writeVerdicts(ew, r.SLO)
	}
	return ew.err
}

func writeVerdicts(w io.Writer, vs []load.SLOVerdict) {
	fmt.Fprintf(w, "SLO\n")
	for _, v := range vs {
		verdict := "met"
		if !v.Met {
			verdict = "BREACHED"
		}
		fmt.Fprintf(w, "  %-20s %-10s %s\n", v.Objective, v.Measured(), verdict)
	}
}

// WriteCapacityText writes the report of a capacity search to w: the
// answer, the bracket, every step with its offered and achieved rate,
// p50/p99/p99.9, error share and verdict, and the rates run more than
// once with why and what their runs decided.
func WriteCapacityText(w io.Writer, c *capacity.Result) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "target     %s\n", targetName(c.Target, c.Embedded))
	fmt.Fprintf(ew, "start      %s  duration %.1fs\n", c.Start.UTC().Format(time.RFC3339), c.DurationS)
	if c.Shard != "" {
		fmt.Fprintf(ew, "shard      %s, in lockstep: every step merges all the shards' measurements\n", c.Shard)
	}
	st := c.Settings
	fmt.Fprintf(ew, "search     slo %s  start %s  growth %g  precision %g%%  tolerance %g%%  warmup %s  dwell %s  retries %d\n\n",
		orDash(st.SLO), load.FormatRate(st.Start), st.Growth, 100*st.Precision, 100*st.Tolerance, orDash(st.Warmup), orDash(st.Dwell), st.Retries)

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "step\tphase\toffered\tachieved\tp50\tp99\tp99.9\terrors\tverdict\t\n")
	for _, s := range c.Steps {
		verdict := "pass"
		switch {
		case s.Partial:
			verdict = "cut" // interrupted: not judged
		case !s.Pass:
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.1f/s\t%s\t%s\t%s\t%.2f%%\t%s\t\n", s.Index, s.Phase, load.FormatRate(s.Offered), s.Achieved,
			Micros(s.Latency.P50), Micros(s.Latency.P99), Micros(s.Latency.P999), 100*s.ErrorShare, verdict)
	}
	tw.Flush()
	for _, s := range c.Steps {
		if s.Reason != "" {
			fmt.Fprintf(ew, "  step %d: %s\n", s.Index, s.Reason)
		}
	}
	if len(c.Reruns) > 0 {
		fmt.Fprintln(ew, "\nreruns")
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, r := range c.Reruns {
			steps := make([]string, len(r.Steps))
			for i, n := range r.Steps {
				steps[i] = strconv.Itoa(n)
			}
			verdict := "pass"
			switch {
			case !r.Pass && r.Rate <= c.CapacityRPS:
				verdict = "FAIL, not counted: a higher rate passed"
			case !r.Pass:
				verdict = "FAIL"
			}
			fmt.Fprintf(tw, "  %s\tsteps %s\t%d of %d failed: %s\t%s\n", load.FormatRate(r.Rate), strings.Join(steps, ", "),
				r.Failed, r.Passed+r.Failed, verdict, r.Why)
		}
		tw.Flush()
	}
	fmt.Fprintln(ew)
	fmt.Fprintln(ew, CapacitySummary(c))
	return ew.err
}

// CapacitySummary says in one line what a capacity search found.
func CapacitySummary(c *capacity.Result) string {
	b := c.Bracket
	bracket := fmt.Sprintf("bracket %s..%s", load.FormatRate(b.Low), load.FormatRate(b.High))
	if b.High == 0 {
		bracket = fmt.Sprintf("bracket %s..?", load.FormatRate(b.Low))
	}
	switch {
	case c.Converged:
		return fmt.Sprintf("capacity %s (%s, converged in %d steps)", load.FormatRate(c.CapacityRPS), bracket, len(c.Steps))
	case c.CapacityRPS == 0:
		return fmt.Sprintf("capacity not found: no step passed (%s; %s)", bracket, c.Stopped)
	}
	return fmt.Sprintf("capacity at least %s, NOT CONVERGED (%s; %s)", load.FormatRate(c.CapacityRPS), bracket, c.Stopped)
}

func targetName(target string, embedded bool) string {
	if embedded {
		return target + " (embedded reference server)"
	}
	return target
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// errWriter keeps the first write error, so a report is written with
// plain Fprintf calls and checked once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}
