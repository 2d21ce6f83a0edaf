package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
)

// mergeTestFile writes the result of a shard that recorded the latencies
// (µs), all answered "ok" within one second, and returns its path.
func mergeTestFile(t *testing.T, dir, shard string, shards int, latencies ...int64) string {
	t.Helper()
	h := load.NewHistogram()
	for _, v := range latencies {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := load.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(latencies))
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := &load.Result{
		Version: load.ResultVersion, Target: "127.0.0.1:1863", Shard: shard, Start: start, DurationS: 1,
		Requests: n, Rate: load.Rate{Requested: float64(n), Achieved: float64(n)},
		Latency: load.Summarize(h), Service: load.Summarize(h),
		Outcomes:   load.Counts{load.OutcomeOK: n},
		Histograms: load.Histograms{Latency: enc, Service: enc},
		Series: []load.Second{{Unix: start.Unix(), Offered: n, Achieved: n, Outcomes: load.Counts{load.OutcomeOK: n},
			Latency: load.Summarize(h), Hist: enc}},
		Settings: load.Settings{Rate: "300/s", Duration: "1s", Dialects: []string{"MSNP8"}, Mode: "persistent",
			Depth: 1, Conns: 1, Timeout: "5s", Shards: shards},
	}
	path := filepath.Join(dir, strings.ReplaceAll(shard, "/", "-of-")+".json")
	if err := load.WriteResult(path, r); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMergeCommand(t *testing.T) {
	dir := t.TempDir()
	a := mergeTestFile(t, dir, "1/3", 3, 100, 200, 300, 400)
	b := mergeTestFile(t, dir, "2/3", 3, 1000, 2000, 3000, 4000)
	c := mergeTestFile(t, dir, "3/3", 3, 10000, 20000)
	out := filepath.Join(dir, "merged.json")

	var stdout, stderr bytes.Buffer
	// Flags may follow the files, as in the usage line.
	html, hgrm := filepath.Join(dir, "merged.html"), filepath.Join(dir, "merged.hgrm")
	if code := run(context.Background(), []string{"merge", a, b, c, "-json", out, "-html", html, "-hgrm", hgrm}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if got, want := stderr.String(), "cvrswarm: wrote "+out+"\ncvrswarm: wrote "+hgrm+"\ncvrswarm: wrote "+html+"\n"; got != want {
		t.Errorf("stderr: got %q, want %q", got, want)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cvrswarm merge: 127.0.0.1:1863", "merged       3 runs: 1/3, 2/3, 3/3", "<svg"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the HTML page lacks %q", want)
		}
	}
	if dist, err := os.ReadFile(hgrm); err != nil || !bytes.Contains(dist, []byte("#[Max")) || !bytes.Contains(dist, []byte("Total count    =           10]")) {
		t.Errorf("the .hgrm file: got %q (%v), want the distribution of 10 values", dist, err)
	}
	m, err := load.ReadResult(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 10 || m.Latency.Count != 10 || m.Rate.Requested != 10 || len(m.Merged) != 3 {
		t.Errorf("merged file: got %d requests, %d latencies, requested %v, %d runs; want 10, 10, 10, 3",
			m.Requests, m.Latency.Count, m.Rate.Requested, len(m.Merged))
	}
	h := load.NewHistogram()
	for _, v := range []int64{100, 200, 300, 400, 1000, 2000, 3000, 4000, 10000, 20000} {
		_ = h.RecordValue(v)
	}
	if got, want := m.Latency, load.Summarize(h); got != want {
		t.Errorf("merged latency: got %+v, want %+v", got, want)
	}
	for _, want := range []string{
		"merged       3 runs: 1/3, 2/3, 3/3\n",
		"requests     10  requested 10.0/s  achieved 10.0/s  late 0\n",
		"response     10  1.00ms  10.01ms  20.02ms", // read off the merged histogram
		"ok     10  100.00%",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestMergeCommandErrors(t *testing.T) {
	dir := t.TempDir()
	a := mergeTestFile(t, dir, "1/2", 2, 100)
	b := mergeTestFile(t, dir, "2/2", 2, 200)
	other := filepath.Join(dir, "other.json")
	r, err := load.ReadResult(b)
	if err != nil {
		t.Fatal(err)
	}
	r.Settings.Rate = "600/s"
	if err := load.WriteResult(other, r); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.json")
	if err := os.WriteFile(garbage, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	badHist := filepath.Join(dir, "bad-hist.json")
	r.Settings.Rate = "300/s"
	r.Histograms.Latency = "HISTFAAAAnonsense"
	if err := load.WriteResult(badHist, r); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.json")
	later := filepath.Join(dir, "later.json")
	r.Histograms.Latency = ""
	r.Latency, r.Series = load.Summary{}, nil
	r.Start = r.Start.Add(time.Hour)
	if err := load.WriteResult(later, r); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
		stdout bool // a report is printed (not checked for usage errors)
	}{
		{"no files", []string{}, exitUsage, "give the result files to merge", false},
		{"bad flag", []string{"-nope", a}, exitUsage, "flag provided but not defined: -nope", false},
		{"missing file", []string{a, missing}, exitFail, missing, false},
		{"not a result", []string{a, garbage}, exitFail, "cvrswarm merge: " + garbage + " is not a cvrswarm result (not JSON)\n", false},
		{"other settings", []string{a, other}, exitFail,
			other + ` differs from ` + a + `: settings.rate is "600/s", not "300/s" (-force merges them anyway)`, false},
		{"other settings, forced", []string{"-force", a, other}, exitOK, "", true},
		{"the same file twice", []string{a, b, dir + "/./" + filepath.Base(b)}, exitUsage,
			dir + "/./" + filepath.Base(b) + " is the same file as " + b, false},
		{"the same shard twice", []string{"-force", a, b, other}, exitFail, other + " conflicts with " + b + ": both hold shard 2/2", false},
		{"a bad histogram", []string{a, badHist}, exitFail, "cvrswarm merge: " + badHist + ": latency histogram: decode histogram", false},
		{"a shard missing", []string{a}, exitOK, "warning: 1 of 2 shards missing (2/2)", true},
		{"shards of different runs", []string{a, later}, exitOK, "warning: " + a + " (from 2026-03-01T12:00:00Z) and " + later +
			" (from 2026-03-01T13:00:00Z) did not run at the same time", true},
		{"an SLO met", []string{a, b, "-slo", "p99<1ms"}, exitOK, "", true},
		{"an SLO breached", []string{a, b, "-slo", "p50<150us,p99<150us"}, exitSLO, "cvrswarm merge: SLO p99<150us: 200µs, breached\n", true},
		{"a bad SLO", []string{"-slo", "p99~1ms", a, b}, exitUsage, "-slo: objective", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"merge"}, tc.args...), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit: got %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) || strings.Count(stderr.String(), "\n") > 1 {
				t.Errorf("stderr: got %q, want one line containing %q", stderr.String(), tc.stderr)
			}
			// (flag errors print the usage on stdout, as -h does)
			if got := stdout.Len() > 0; got != tc.stdout && code != exitUsage {
				t.Errorf("report printed: got %t, want %t", got, tc.stdout)
			}
		})
	}
}
