package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// TestMergeShardProcesses is the local proof of a sharded run: separate
// cvrswarm processes, each one shard (one of them told so by the
// environment, as a Kubernetes pod is), start together against one
// server and their results merge into the figures of the whole.
func TestMergeShardProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cvrswarm and runs three shard processes for about 6 seconds")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cvrswarm with")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "cvrswarm")
	if out, err := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	const shards, rate, seconds = 3, 300, 3
	// Two to three seconds ahead, in whole seconds as a user would write it.
	start := time.Now().Add(3 * time.Second).Truncate(time.Second)
	startAt := start.UTC().Format(time.RFC3339)
	files := make([]string, shards)
	cmds := make([]*exec.Cmd, shards)
	stderrs := make([]bytes.Buffer, shards)
	for i := range shards {
		files[i] = filepath.Join(dir, fmt.Sprintf("shard-%d.json", i+1))
		args := []string{"load", "-target", srv.Addr(), "-rate", fmt.Sprintf("%d/s", rate), "-duration", fmt.Sprintf("%ds", seconds),
			"-start-at", startAt, "-json", files[i], "-quiet"}
		if i == 1 { // as a pod of an Indexed Job learns it, counting from 0
			cmds[i] = exec.CommandContext(ctx, bin, args...)
			cmds[i].Env = append(os.Environ(), fmt.Sprintf("%s=%d", load.EnvShardIndex, i), fmt.Sprintf("%s=%d", load.EnvShards, shards))
		} else {
			cmds[i] = exec.CommandContext(ctx, bin, append(args, "-shard", fmt.Sprintf("%d/%d", i+1, shards))...)
		}
		cmds[i].Stderr = &stderrs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("shard %d/%d: %v\n%s", i+1, shards, err, stderrs[i].String())
		}
	}

	merged := filepath.Join(dir, "merged.json")
	var stdout, stderr bytes.Buffer
	if code := run(ctx, append([]string{"merge", "-json", merged}, files...), &stdout, &stderr); code != exitOK {
		t.Fatalf("merge: exit %d: %s", code, stderr.String())
	}
	m, err := load.ReadResult(merged)
	if err != nil {
		t.Fatal(err)
	}

	var sum, latencies, outcomes int64
	var starts []string
	for i, f := range files {
		r, err := load.ReadResult(f)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d/%d", i+1, shards); r.Shard != want {
			t.Errorf("%s: got shard %q, want %s", f, r.Shard, want)
		}
		sum += r.Requests
		latencies += r.Latency.Count
		starts = append(starts, r.Start.Format(time.RFC3339Nano))
		// each shard's schedule counts from the shared start, so the
		// shards' windows, and the merged one, are the same seconds
		if !r.Start.Equal(start) || r.DurationS != seconds {
			t.Errorf("%s: got start %s and %vs, want %s and %ds", f, r.Start.Format(time.RFC3339Nano), r.DurationS, startAt, seconds)
		}
	}
	for _, n := range m.Outcomes {
		outcomes += n
	}
	off := math.Abs(m.Rate.Achieved-m.Rate.Requested) / m.Rate.Requested
	t.Logf("shards started %s; merged: %d requests (shards' sum %d), requested %.1f/s, achieved %.2f/s (%.2f%% off) over %.3fs, p99 %dµs",
		strings.Join(starts, ", "), m.Requests, sum, m.Rate.Requested, m.Rate.Achieved, 100*off, m.DurationS, m.Latency.P99)

	if m.Requests != sum || outcomes != sum || m.Latency.Count != latencies {
		t.Errorf("merged requests %d, outcomes %d, latencies %d: want the shards' sums %d, %d, %d",
			m.Requests, outcomes, m.Latency.Count, sum, sum, latencies)
	}
	if want := int64(rate * seconds); sum != want {
		t.Errorf("the shards sent %d requests together, want %d (%d/s for %ds)", sum, want, rate, seconds)
	}
	if !m.Start.Equal(start) || m.DurationS != seconds {
		t.Errorf("merged: got start %s and %vs, want %s and %ds", m.Start.Format(time.RFC3339Nano), m.DurationS, startAt, seconds)
	}
	// The shards' requests interleave into the whole schedule: rate
	// requests due in each wall-clock second (a last second may follow,
	// with late replies but nothing due).
	for i, s := range m.Series {
		want := int64(0)
		if i < seconds {
			want = rate
		}
		if s.Unix != start.Unix()+int64(i) || s.Offered != want {
			t.Errorf("merged series, second %d: got t=%d offered %d, want t=%d offered %d", i, s.Unix, s.Offered, start.Unix()+int64(i), want)
		}
	}
	if len(m.Series) < seconds {
		t.Errorf("merged series: got %d seconds, want at least %d", len(m.Series), seconds)
	}
	if m.Rate.Requested != rate {
		t.Errorf("merged requested rate %v, want %d", m.Rate.Requested, rate)
	}
	if off > 0.02 {
		t.Errorf("achieved %.2f/s is %.2f%% off the requested %.0f/s, want within 2%%", m.Rate.Achieved, 100*off, m.Rate.Requested)
	}
	if got := len(m.Merged); got != shards || m.MissingShards() != nil {
		t.Errorf("merged %d runs, missing %v: want all %d shards", got, m.MissingShards(), shards)
	}
}
