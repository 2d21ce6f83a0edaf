package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/metrics"
)

// TestPrometheusScrapesARun has a real Prometheus server scrape a load
// run every second and reads the run's request count back through its
// query API.
func TestPrometheusScrapesARun(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian: apt-get install prometheus): no end-to-end scrape")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mon load.Monitor
	x := listen(t, metrics.Labels{RunID: "e2e", Shard: "1/2"}, metrics.Load(&mon))
	prom := startPrometheus(ctx, t, bin, x.Addr())

	// the run goes on until Prometheus has seen its requests
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan error, 1)
	addr := canned(t)
	go func() {
		_, err := load.Run(runCtx, load.Config{Target: addr, Schedule: load.Constant(500), Duration: time.Minute, Conns: 2, Monitor: &mon})
		ran <- err
	}()
	defer func() {
		stopRun()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()

	query := `sum by (run_id, shard) (cvrswarm_requests_total{outcome="ok"})`
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var last string
	for ctx.Err() == nil {
		v, labels, err := promQuery(client, prom, query)
		if err == nil && v > 0 {
			if labels["run_id"] != "e2e" || labels["shard"] != "1/2" {
				t.Errorf("got labels %v, want run_id e2e and shard 1/2", labels)
			}
			return
		}
		last = fmt.Sprintf("%v, %v", v, err)
		wait(ctx, 250*time.Millisecond)
	}
	t.Fatalf("Prometheus never returned a request count above 0 for %s: last %s", query, last)
}

// startPrometheus starts Prometheus scraping target every second, with
// its storage in a temporary folder, on a free loopback port (another
// one if that was taken meanwhile), and returns its address once ready.
// It is stopped at the test's end.
func startPrometheus(ctx context.Context, t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: cvrswarm\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		var logs bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, "--config.file="+config, "--web.listen-address="+addr,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprint("data", attempt)), "--log.level=warn")
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		if ready(ctx, addr, exited) {
			t.Cleanup(stop)
			return addr
		}
		stop()
		if attempt == 3 || ctx.Err() != nil {
			t.Fatalf("prometheus did not start on %s:\n%s", addr, logs.Bytes())
		}
	}
}

// ready waits for Prometheus at addr to say it is ready, until it exits
// or ctx ends.
func ready(ctx context.Context, addr string, exited <-chan struct{}) bool {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	for {
		if resp, err := client.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-exited:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// promQuery runs an instant query that returns one series and returns
// its value and labels.
func promQuery(client *http.Client, addr, query string) (float64, map[string]string, error) {
	resp, err := client.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, nil, err
	}
	if body.Status != "success" {
		return 0, nil, fmt.Errorf("query %s: %s", body.Status, body.Error)
	}
	if len(body.Data.Result) != 1 {
		return 0, nil, fmt.Errorf("got %d series, want 1", len(body.Data.Result))
	}
	r := body.Data.Result[0]
	s, _ := r.Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, r.Metric, err
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
