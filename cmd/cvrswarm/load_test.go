package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

func TestLoadAgainstTheEmbeddedServer(t *testing.T) {
	dir := t.TempDir()
	js, hlog, hgrm := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.hlog"), filepath.Join(dir, "r.hgrm")
	status, stdout, stderr := runMain(t, "load", "-rate", "2000/s", "-requests", "300", "-quiet",
		"-json", js, "-hdr-log", hlog, "-hgrm", hgrm, "-slo", "errors<1%,rate>100")
	if status != exitOK {
		t.Fatalf("got status %d, stderr %q", status, stderr)
	}
	if !strings.Contains(stderr, "embedded reference server") {
		t.Errorf("got stderr %q, want it to name the embedded server", stderr)
	}
	for _, want := range []string{"requests     300", "response", "service", "connect", "handshake", "ok", "SLO", "errors<1%"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	r, err := load.ReadResult(js)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Embedded || r.Requests != 300 || r.Outcomes[load.OutcomeOK] != 300 || len(r.SLO) != 2 || r.Settings.SLO == "" {
		t.Errorf("got result embedded %v requests %d outcomes %v slo %v", r.Embedded, r.Requests, r.Outcomes, r.SLO)
	}
	f, err := os.Open(hlog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total int64
	lr := hdrhistogram.NewHistogramLogReader(f)
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("reading the interval log: %v", err)
		}
		if h == nil {
			break
		}
		total += h.TotalCount()
	}
	if total != 300 {
		t.Errorf("got %d values in the interval log, want 300", total)
	}
	b, err := os.ReadFile(hgrm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(" Value\tPercentile\tTotalCount")) || !bytes.Contains(b, []byte("Total count    =          300")) {
		t.Errorf("got .hgrm %.200q, want the percentile distribution of 300 values", b)
	}
}

func TestLoadSLOBreachedExits3(t *testing.T) {
	srv, err := msnptest.NewCanned()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	status, _, stderr := runMain(t, "load", "-target", srv.Addr(), "-rate", "1000/s", "-requests", "50", "-quiet", "-slo", "p50<1us,rate>1")
	if status != exitSLO {
		t.Errorf("got status %d, want %d", status, exitSLO)
	}
	if !regexp.MustCompile(`SLO p50<1us: [0-9.]+(µs|ms|s), breached`).MatchString(stderr) || strings.Contains(stderr, "rate>1") {
		t.Errorf("got stderr %q, want it to name the breached objective only", stderr)
	}
}

func TestLoadInterruptWritesPartialResult(t *testing.T) {
	srv, err := msnptest.NewCanned()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	js := filepath.Join(t.TempDir(), "r.json")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	status := run(ctx, []string{"load", "-target", srv.Addr(), "-duration", "1m", "-quiet", "-json", js}, &stdout, &stderr)
	if status != exitInterrupted {
		t.Fatalf("got status %d, stderr %q", status, stderr.String())
	}
	r, err := load.ReadResult(js)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Partial || r.Requests == 0 || !strings.Contains(stdout.String(), "partial") {
		t.Errorf("got partial %v requests %d, report %q; want a partial result", r.Partial, r.Requests, stdout.String())
	}
}

func TestLoadUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad rate", []string{"-rate", "fast"}, "rate"},
		{"rate and ramp", []string{"-rate", "5/s", "-ramp", "1/s:2/s", "-duration", "1s"}, "one of -rate, -ramp and -steps"},
		{"ramp without duration", []string{"-ramp", "1/s:2/s"}, "-duration"},
		{"bad steps", []string{"-steps", "5/s"}, "step"},
		{"churn with depth", []string{"-churn", "-depth", "4"}, "-depth: 4 with churn"},
		{"bad dialects", []string{"-dialects", "MSNP99"}, "-dialects"},
		{"bad source addresses", []string{"-source-addrs", "127.0.0.8-127.0.0.1"}, "-source-addrs: \"127.0.0.8-127.0.0.1\""},
		{"bad shard", []string{"-shard", "3/2"}, "shard"},
		{"start in the past", []string{"-start-at", "2001-01-01T00:00:00Z"}, "in the past"},
		{"bad start", []string{"-start-at", "tomorrow"}, "RFC 3339"},
		{"bad slo", []string{"-slo", "p99~1ms"}, "slo"},
		{"bad mutate", []string{"-mutate", "2"}, "-mutate"},
		{"no corpus", []string{"-corpus", "/nonexistent"}, "-corpus"},
		{"negative conns", []string{"-conns", "-1"}, "-conns: must not be negative"},
		{"several at fault", []string{"-conns", "-1", "-mutate", "2"}, "-conns: must not be negative; -mutate: share 2: want 0 to 1"},
		{"zero rate", []string{"-rate", "0/s"}, "above 0"},
		{"json into a missing folder", []string{"-json", "/nonexistent/r.json"}, "-json: /nonexistent/r.json: folder /nonexistent does not exist"},
		{"hgrm into a missing folder", []string{"-hgrm", "/nonexistent/r.hgrm"}, "-hgrm"},
		{"argument", []string{"extra"}, "unexpected argument"},
		{"negative duration", []string{"-duration", "-5s"}, "cvrswarm load: -duration: must not be negative (see 'cvrswarm load -h')\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, stderr := runMain(t, append([]string{"load"}, tt.args...)...)
			if status != exitUsage {
				t.Errorf("got status %d, want %d", status, exitUsage)
			}
			if lines := strings.Count(stderr, "\n"); lines != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("got stderr %q, want one line naming %q", stderr, tt.want)
			}
		})
	}
}

func TestLoadConfigFromFlags(t *testing.T) {
	env := map[string]string{load.EnvShardIndex: "1", load.EnvShards: "4"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	f := loadFlags{rate: "500/s", conns: 8, maxConns: 100, depth: 1, timeout: time.Second, maxLine: 4096,
		dialects: "MSNP8-MSNP9", mutate: 0.1, sourceAddrs: "127.0.0.1-127.0.0.8"}
	cfg, _, err := loadConfig(&f, map[string]bool{}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.SourceAddrs) != 8 || cfg.SourceAddrs[7].String() != "127.0.0.8" {
		t.Errorf("got source addresses %v, want the 8 of 127.0.0.1-127.0.0.8", cfg.SourceAddrs)
	}
	if cfg.Shard != (load.Shard{Index: 2, Count: 4}) {
		t.Errorf("got shard %+v from the environment, want 2/4", cfg.Shard)
	}
	if got := cfg.Schedule.String(); got != "500/s" || len(cfg.Dialects) != 3 || cfg.NewMutator == nil || cfg.Conns != 8 {
		t.Errorf("got schedule %q dialects %v mutator set %v conns %d", got, cfg.Dialects, cfg.NewMutator != nil, cfg.Conns)
	}
	f.shard = "3/4" // the flag wins over the environment
	if cfg, _, _ = loadConfig(&f, map[string]bool{}, lookup); cfg.Shard != (load.Shard{Index: 3, Count: 4}) {
		t.Errorf("got shard %+v, want 3/4 from -shard", cfg.Shard)
	}
}

func TestLoadProgressLine(t *testing.T) {
	got := loadProgress(load.Progress{Running: true, Elapsed: 2 * time.Second, Total: 10 * time.Second,
		Done: 1000, Planned: 5000, Sent: 1000, OK: 990, Errors: 10, Rate: 500, P99: 1200 * time.Microsecond})
	want := progressReport{Done: 1000, Total: 5000, Unit: "requests", Status: "achieved 500.0/s  p99 1.20ms  ok 990  err 10  sent 1000"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	got = loadProgress(load.Progress{Running: true, Elapsed: 2 * time.Second, Total: 10 * time.Second})
	if got.Done != 2000 || got.Total != 10000 || got.Unit != "ms" {
		t.Errorf("unbounded rate: got %+v, want 2000 of 10000 ms", got)
	}
}

func TestLoadWritesWhatItCanAfterTheRun(t *testing.T) {
	srv, err := msnptest.NewCanned()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	js, hgrm := filepath.Join(dir, "taken"), filepath.Join(dir, "r.hgrm")
	if err := os.Mkdir(js, 0o755); err != nil { // a folder where the JSON should go: only the rename fails
		t.Fatal(err)
	}
	status, stdout, stderr := runMain(t, "load", "-target", srv.Addr(), "-rate", "1000/s", "-requests", "20", "-quiet", "-json", js, "-hgrm", hgrm)
	if status != exitFail {
		t.Errorf("got status %d, want %d", status, exitFail)
	}
	if !strings.Contains(stdout, "requests     20") {
		t.Errorf("got report %q, want it printed although a file failed", stdout)
	}
	if want := "cvrswarm: wrote " + hgrm + "\ncvrswarm load: -json " + js + ": "; !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 2 {
		t.Errorf("got stderr %q, want the -hgrm file written and one line naming -json", stderr)
	}
	if _, err := os.Stat(hgrm); err != nil {
		t.Errorf("the -hgrm file after the -json failure: %v", err)
	}
}

func TestLoadWarnLimitsPerShard(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<20 || lim.Cur < 512 {
		t.Skipf("open-file limit %d (%v): not one this test can straddle", lim.Cur, err)
	}
	whole := load.Config{Conns: 16, MaxConns: int(lim.Cur) * 2}
	var b bytes.Buffer
	loadWarnLimits("load", whole, &b)
	if !strings.Contains(b.String(), "cvrswarm load: warning: up to "+strconv.Itoa(whole.MaxConns)+" connections") {
		t.Errorf("got %q for %d connections in one process, want an open-file warning", b.String(), whole.MaxConns)
	}
	b.Reset()
	shard := whole
	shard.Shard = load.Shard{Index: 1, Count: 4} // a quarter each: under the limit
	loadWarnLimits("load", shard, &b)
	if strings.Contains(b.String(), "open-file") {
		t.Errorf("got %q for shard 1/4 of %d connections, want no open-file warning", b.String(), whole.MaxConns)
	}
}

func TestLoadFailsWhenNothingIsAnswered(t *testing.T) {
	srv, err := msnptest.NewServer(msnptest.HTTPResponder)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dead := msnptest.ClosedAddr(t)
	tests := []struct {
		name, target, wantErr, wantFirst string
	}{
		{"dead port", dead, "cvrswarm load: no request was answered: 30 refused (dial tcp " + dead + ": connect: connection refused)\n",
			"  refused  dial tcp " + dead + ": connect: connection refused"},
		{"HTTP responder", srv.Addr(), `cvrswarm load: no request was answered: 30 malformed (VER reply "HTTP/1.1 400 Bad Request")` + "\n",
			`  malformed  VER reply "HTTP/1.1 400 Bad Request"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "r.json")
			status, stdout, stderr := runMain(t, "load", "-target", tt.target, "-rate", "1000/s", "-requests", "30", "-quiet", "-json", js)
			if want := "cvrswarm: wrote " + js + "\n" + tt.wantErr; status != exitFail || stderr != want {
				t.Errorf("got status %d, stderr %q; want %d, %q", status, stderr, exitFail, want)
			}
			for _, want := range []string{"achieved 0.0/s", "well-formed 0", tt.wantFirst} {
				if !strings.Contains(stdout, want) {
					t.Errorf("report lacks %q:\n%s", want, stdout)
				}
			}
			r, err := load.ReadResult(js)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.FirstErrors) != 1 {
				t.Errorf("got first errors %v in the JSON, want the one outcome's", r.FirstErrors)
			}
		})
	}
}

func TestLoadLastProgressLineAgreesWithTheReport(t *testing.T) {
	srv, err := msnptest.NewCanned()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	status, stdout, stderr := runMain(t, "load", "-target", srv.Addr(), "-rate", "2000/s", "-requests", "300")
	if status != exitOK {
		t.Fatalf("got status %d, stderr %q", status, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	_, after, _ := strings.Cut(stdout, "achieved ")
	achieved, _, _ := strings.Cut(after, " ")
	if achieved == "" || !strings.Contains(last, "300/300 requests") || !strings.Contains(last, "achieved "+achieved+" ") {
		t.Errorf("got last progress line %q, want 300/300 requests achieved at the report's %s", last, achieved)
	}
}
