package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func TestCapacityFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // in the one-line usage error
	}{
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
		{"bad slo", []string{"-slo", "p99~10ms"}, `-slo: objective "p99~10ms"`},
		{"bad start", []string{"-start", "fast"}, `invalid value "fast" for flag -start`},
		{"zero start", []string{"-start", "0/s"}, "-start: must not be 0"},
		{"start below 1/s", []string{"-start", "0.5"}, "-start: 0.5: want a rate from 1 to 1e9 per second"},
		{"bad precision", []string{"-precision", "150%"}, "-precision: 1.5: want a share above 0 and below 1"},
		{"bad tolerance", []string{"-tolerance", "-1"}, "want a share above 0"},
		{"growth", []string{"-growth", "1"}, "-growth: 1: want a factor above 1"},
		{"max below start", []string{"-start", "500", "-max", "100"}, "-max: 100 is below the start rate 500"},
		{"short dwell", []string{"-dwell", "100ms"}, "-dwell: 100ms: want at least 1s"},
		{"steps", []string{"-max-steps", "0"}, "-max-steps: must not be 0"},
		{"retries", []string{"-retries", "-1"}, "-retries: -1 is negative"},
		{"json folder", []string{"-json", "/nonexistent/c.json"}, "-json: /nonexistent/c.json: folder /nonexistent does not exist"},
		{"html folder", []string{"-html", "/nonexistent/c.html"}, "-html: /nonexistent/c.html: folder /nonexistent does not exist"},
		{"service time with target", []string{"-target", "127.0.0.1:1", "-workers", "4"}, "cannot be combined with -target"},
		{"churn and depth", []string{"-churn", "-depth", "2"}, "-depth: 2 with churn"},
		{"batch window", []string{"-batch-window", "1s"}, "-batch-window: 1s: want at most 100ms"},
		{"dialects", []string{"-dialects", "MSNP99"}, "-dialects"},
		{"shard without sync", []string{"-target", "127.0.0.1:1", "-shard", "1/2"}, "-sync-dir: no sync folder given; -start-at: no start time given"},
		{"shard without start", []string{"-target", "127.0.0.1:1", "-shard", "1/2", "-sync-dir", "/tmp"}, "-start-at: no start time given"},
		{"shard without target", []string{"-shard", "2/2", "-sync-dir", "/tmp", "-start-at", "2999-01-01T00:00:00Z"}, "-shard: 2/2: give -target"},
		{"sync without shard", []string{"-sync-dir", "/tmp"}, "give them with -shard i/n"},
		{"start in the past", []string{"-shard", "1/2", "-start-at", "2001-01-01T00:00:00Z"}, "-start-at: 2001-01-01T00:00:00Z is in the past"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			status := run(context.Background(), append([]string{"capacity"}, tt.args...), &stdout, &stderr)
			if status != exitUsage || !strings.Contains(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("got status %d, stderr %q; want %d and one line saying %q", status, stderr.String(), exitUsage, tt.want)
			}
		})
	}
}

// TestCapacityCommand runs a short search against the embedded server
// shaped by -service-time and -workers (capacity 200/s). Two steps cannot
// converge, so it exits 4 and still writes the JSON, the page and the
// charts. The steps sit far on either side of the capacity, so that a busy
// machine cannot move them across: 100/s is half of it, and the 30%
// tolerance covers the achieved rate's bias on a 1 s dwell (replies late
// by up to 300 ms fall out of its window); 600/s, three times it, fails on
// its achieved rate, so the SLO is loose.
func TestCapacityCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jsonPath, htmlPath, pngDir := filepath.Join(dir, "c.json"), filepath.Join(dir, "c.html"), filepath.Join(dir, "png")
	var stdout, stderr bytes.Buffer
	status := run(context.Background(), []string{"capacity", "-service-time", "50ms", "-workers", "10",
		"-start", "100/s", "-growth", "6", "-dwell", "1s", "-warm-up", "200ms", "-max-steps", "2", "-slo", "p99<2s", "-tolerance", "30%",
		"-quiet", "-json", jsonPath, "-html", htmlPath, "-png", pngDir}, &stdout, &stderr)
	if status != exitNotConverged {
		t.Fatalf("got status %d, want %d; stderr:\n%s", status, exitNotConverged, stderr.String())
	}
	for _, want := range []string{`\(embedded reference server\)`, `slo p99<2s`, `\b1 +grow +100/s .* pass\b`, `\b2 +grow +600/s .* FAIL\b`,
		`capacity at least 100/s, NOT CONVERGED \(bracket 100/s\.\.600/s; gave up after 2 steps\)`} {
		if !regexp.MustCompile(want).MatchString(stdout.String()) {
			t.Errorf("report lacks %s:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "did not converge: gave up after 2 steps") {
		t.Errorf("stderr lacks the verdict:\n%s", stderr.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Capacity  float64 `json:"capacity_rps"`
		Converged bool    `json:"converged"`
		Embedded  bool    `json:"embedded"`
		Bracket   struct {
			Low  float64 `json:"low_rps"`
			High float64 `json:"high_rps"`
		} `json:"bracket"`
		Steps []struct {
			Offered  float64 `json:"offered_rps"`
			Achieved float64 `json:"achieved_rps"`
			Pass     bool    `json:"pass"`
			Latency  struct {
				P99 int64 `json:"p99"`
			} `json:"latency_us"`
		} `json:"steps"`
		Settings struct {
			SLO  string `json:"slo"`
			Load struct {
				Conns int `json:"conns"`
			} `json:"load"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Capacity != 100 || got.Converged || !got.Embedded || got.Bracket.Low != 100 || got.Bracket.High != 600 ||
		len(got.Steps) != 2 || !got.Steps[0].Pass || got.Steps[1].Pass || got.Settings.SLO != "p99<2s" || got.Settings.Load.Conns == 0 {
		t.Errorf("got JSON %+v, want 100/s passing, 600/s failing (past the 200/s capacity), not converged", got)
	}
	if got.Steps[1].Achieved > 220 || got.Steps[0].Latency.P99 == 0 {
		t.Errorf("got %+v, want 600/s to achieve about 200/s, the capacity", got.Steps)
	}
	for _, f := range []string{htmlPath, filepath.Join(pngDir, "capacity-latency.png"), filepath.Join(pngDir, "capacity-throughput.png")} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}

func TestCapacityDeadTarget(t *testing.T) {
	t.Parallel()
	addr := msnptest.ClosedAddr(t)
	var stdout, stderr bytes.Buffer
	status := run(context.Background(), []string{"capacity", "-target", addr, "-dwell", "1s", "-warm-up", "0s", "-start", "50", "-quiet",
		"-timeout", "500ms"}, &stdout, &stderr)
	if status != exitFail || !strings.Contains(stderr.String(), "the target answered no request at 50/s") {
		t.Errorf("got status %d, stderr %q; want %d naming the dead target", status, stderr.String(), exitFail)
	}
}

// TestCapacityShards runs a search as two shards in lockstep against one
// server of capacity 200/s (4 workers, 20 ms a CVR): 100/s passes, 300/s
// fails, and both shards report the same steps, the same figures and the
// same answer, from the merged results in the shared folder. Shards keep
// in step by the wall clock: the first step starts 2 to 3 s ahead and the
// gap between steps is 4 s, room for a shard that a busy machine holds
// back to read the step's results and set up the next one. A step passes
// within 25% of its rate: a busy machine's slow replies leave the last of
// 100/s's requests still in flight when its second ends, while 300/s
// against 200/s falls a third short.
func TestCapacityShards(t *testing.T) {
	t.Parallel()
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{ServiceTime: 20 * time.Millisecond, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir, syncDir := t.TempDir(), filepath.Join(t.TempDir(), "sync")
	startAt := time.Now().Add(3 * time.Second).Truncate(time.Second)
	const n = 2
	var (
		stdout, stderr [n]bytes.Buffer
		status         [n]int
		wg             sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status[i] = run(context.Background(), []string{"capacity", "-target", srv.Addr(), "-shard", fmt.Sprintf("%d/%d", i+1, n),
				"-start-at", startAt.Format(time.RFC3339), "-sync-dir", syncDir, "-sync-gap", "4s",
				"-start", "100/s", "-growth", "3", "-dwell", "1s", "-warm-up", "200ms", "-max-steps", "2", "-retries", "0", "-tolerance", "25%",
				"-quiet", "-json", filepath.Join(dir, fmt.Sprintf("c%d.json", i+1))}, &stdout[i], &stderr[i])
		}()
	}
	wg.Wait()
	row := regexp.MustCompile(`(?m)^ *\d+ +(grow|shrink|bisect|retry) .*$`)
	var rows [n][]string
	for i := range n {
		if status[i] != exitNotConverged {
			t.Fatalf("shard %d: got status %d, want %d; stderr:\n%s", i+1, status[i], exitNotConverged, stderr[i].String())
		}
		out := stdout[i].String()
		for _, want := range []string{fmt.Sprintf("shard      %d/%d, in lockstep", i+1, n),
			"capacity at least 100/s, NOT CONVERGED (bracket 100/s..300/s; gave up after 2 steps)"} {
			if !strings.Contains(out, want) {
				t.Errorf("shard %d: report lacks %q:\n%s", i+1, want, out)
			}
		}
		rows[i] = row.FindAllString(out, -1)
		if len(rows[i]) != 2 || !strings.HasSuffix(rows[i][0], "pass") || !strings.HasSuffix(rows[i][1], "FAIL") {
			t.Errorf("shard %d: got steps %q, want 100/s passing and 300/s failing", i+1, rows[i])
		}
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("c%d.json", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Shard    string  `json:"shard"`
			Merged   bool    `json:"merged"`
			Capacity float64 `json:"capacity_rps"`
			Steps    []struct {
				Requests int64   `json:"requests"`
				Achieved float64 `json:"achieved_rps"`
			} `json:"steps"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Shard != fmt.Sprintf("%d/%d", i+1, n) || !got.Merged || got.Capacity != 100 || len(got.Steps) != 2 {
			t.Errorf("shard %d: got JSON %+v, want the shard, merged, capacity 100/s in 2 steps", i+1, got)
		} else if r := got.Steps[0].Requests; r < 90 || r > 110 || got.Steps[1].Achieved > 220 {
			t.Errorf("shard %d: got steps %+v, want about 100 requests at 100/s (both shards') and at most about 200/s at 300/s", i+1, got.Steps)
		}
	}
	if strings.Join(rows[0], "\n") != strings.Join(rows[1], "\n") {
		t.Errorf("the shards report different steps:\n%s\n---\n%s", strings.Join(rows[0], "\n"), strings.Join(rows[1], "\n"))
	}
	files, _ := filepath.Glob(filepath.Join(syncDir, fmt.Sprintf("capacity-%d-step-*-shard-*of2.json", startAt.Unix())))
	if len(files) != 4 {
		t.Errorf("got %d step results in the sync folder, want 4 (2 steps, 2 shards): %q", len(files), files)
	}
}

// TestCapacityNoneIsAField checks that -warm-up 0 and -retries 0 ask the
// search for none, while the flags' defaults are the search's.
func TestCapacityNoneIsAField(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		args                []string
		noWarmup, noRetries bool
	}{
		{args: nil},
		{args: []string{"-warm-up", "0", "-retries", "0"}, noWarmup: true, noRetries: true},
		{args: []string{"-warm-up", "0"}, noWarmup: true},
	} {
		var f capacityFlags
		fs := capacityFlagSet(&f, io.Discard)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		search, _, err := capacityConfig(&f, set, noEnv)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if search.NoWarmup != tc.noWarmup || search.NoRetries != tc.noRetries {
			t.Errorf("%q: got NoWarmup %v NoRetries %v, want %v %v", tc.args, search.NoWarmup, search.NoRetries, tc.noWarmup, tc.noRetries)
		}
		if !tc.noWarmup && search.Warmup != capacity.DefaultWarmup {
			t.Errorf("%q: got warm-up %v, want the default %v", tc.args, search.Warmup, capacity.DefaultWarmup)
		}
	}
}

// TestCapacityBatchWindow checks that -batch-window reaches every step's
// load, and that its default is load's.
func TestCapacityBatchWindow(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, load.DefaultBatchWindow},
		{[]string{"-batch-window", "2ms"}, 2 * time.Millisecond},
	} {
		var f capacityFlags
		fs := capacityFlagSet(&f, io.Discard)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		_, step, err := capacityConfig(&f, map[string]bool{}, noEnv)
		if err != nil || step.BatchWindow != tc.want {
			t.Errorf("%q: got batch window %v (%v), want %v", tc.args, step.BatchWindow, err, tc.want)
		}
	}
}
