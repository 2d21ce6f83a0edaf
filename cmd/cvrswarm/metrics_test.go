package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetricsFlagsBadInput: an address that cannot be bound fails before
// the run, naming the flag, with exit status 2; so does -run-id alone.
func TestMetricsFlagsBadInput(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"load", "-requests", "10", "-metrics-addr", taken.Addr().String()}, "-metrics-addr"},
		{[]string{"load", "-requests", "10", "-metrics-addr", "9464"}, "-metrics-addr"},
		{[]string{"load", "-requests", "10", "-run-id", "soak"}, "-run-id"},
		{[]string{"capacity", "-metrics-addr", taken.Addr().String()}, "-metrics-addr"},
		{[]string{"capacity", "-run-id", "soak"}, "-run-id"},
		{[]string{"serve", "-addr", "127.0.0.1:0", "-metrics-addr", taken.Addr().String()}, "-metrics-addr"},
		{[]string{"serve", "-addr", "127.0.0.1:0", "-run-id", "soak"}, "-run-id"},
		{[]string{"fuzz", "-cases", "10", "-metrics-addr", taken.Addr().String()}, "-metrics-addr"},
		{[]string{"fuzz", "-cases", "10", "-run-id", "soak"}, "-run-id"},
	} {
		status, stdout, stderr := runMain(t, tc.args...)
		if status != exitUsage || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%q: got status %d, stdout %q, stderr %q; want %d and one line naming %s",
				tc.args, status, stdout, stderr, exitUsage, tc.want)
		}
	}
}

func TestMetricsFlagsHelp(t *testing.T) {
	for _, name := range []string{"load", "capacity", "fuzz", "serve"} {
		_, stdout, _ := runMain(t, name, "-h")
		for _, flag := range []string{"-metrics-addr host:port", "-run-id"} {
			if !strings.Contains(stdout, flag) {
				t.Errorf("%s -h lacks %s:\n%s", name, flag, stdout)
			}
		}
	}
}

// TestServeMetrics scrapes `cvrswarm serve -metrics-addr` at the address
// it names on stderr.
func TestServeMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	errR, errW := io.Pipe()
	status := make(chan int, 1)
	go func() {
		defer errW.Close()
		status <- run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0", "-run-id", "ref"}, io.Discard, errW)
	}()
	defer func() {
		cancel()
		io.Copy(io.Discard, errR)
		if s := <-status; s != exitOK {
			t.Errorf("serve exited %d", s)
		}
	}()
	stderr := bufio.NewReader(errR)
	var url string
	for range 2 {
		line, err := stderr.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if _, rest, ok := strings.Cut(line, "metrics at "); ok {
			url, _, _ = strings.Cut(rest, " ")
		}
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/metrics") {
		t.Fatalf("got metrics URL %q on stderr, want http://127.0.0.1:PORT/metrics", url)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if want := `cvrswarm_server_connections_open{run_id="ref",shard="1/1"} 0`; !strings.Contains(string(body), want) {
		t.Errorf("scrape lacks %q:\n%s", want, body)
	}
}

func TestLoadSaysWhereItsMetricsAre(t *testing.T) {
	startAt := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	status, _, stderr := runMain(t, "load", "-requests", "100", "-quiet", "-metrics-addr", "127.0.0.1:0", "-start-at", startAt)
	if status != exitOK || !strings.Contains(stderr, "cvrswarm load: metrics at http://127.0.0.1:") {
		t.Errorf("got status %d, stderr %q; want 0 and the metrics' address", status, stderr)
	}
	if want := `(run_id "` + startAt + `")`; !strings.Contains(stderr, want) {
		t.Errorf("got stderr %q, want the run id of -start-at, %s", stderr, want)
	}
}

func TestFuzzSaysWhereItsMetricsAre(t *testing.T) {
	status, _, stderr := runMain(t, "fuzz", "-cases", "50", "-seed", "1", "-quiet", "-findings", "", "-metrics-addr", "127.0.0.1:0", "-run-id", "night")
	if status != exitOK || !strings.Contains(stderr, "cvrswarm fuzz: metrics at http://127.0.0.1:") || !strings.Contains(stderr, `(run_id "night")`) {
		t.Errorf("got status %d, stderr %q; want 0 and the metrics' address and run id", status, stderr)
	}
}
