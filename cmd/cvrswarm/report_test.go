package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	t.Parallel()
	const fixtures = "../../load/report/testdata/"
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		status int
		stdout string // a line the output has
		stderr string
		files  []string // written under dir
	}{
		{name: "load text", args: []string{fixtures + "load.json"}, stdout: "connections  opened 64  max open 64"},
		{name: "capacity with pictures", args: []string{fixtures + "capacity.json", "-html", filepath.Join(dir, "c.html"), "-png", filepath.Join(dir, "c")},
			stdout: "capacity 3875/s (bracket 3875/s..4000/s, converged in 9 steps)",
			files:  []string{"c.html", "c/capacity-latency.png", "c/capacity-throughput.png", "c/capacity-steps.png"}},
		{name: "flags first", args: []string{"-png", filepath.Join(dir, "f"), fixtures + "load.json"}, stdout: "requested 1000.0/s",
			files: []string{"f/latency-percentiles.png", "f/rate.png", "f/latency-over-time.png", "f/outcomes.png"}},
		{name: "no file", status: exitUsage, stderr: "name the JSON file of a run"},
		{name: "two files", args: []string{fixtures + "load.json", fixtures + "fuzz.json"}, status: exitUsage, stderr: "one file at a time"},
		{name: "bad flag", args: []string{"-pdf", "x"}, status: exitUsage, stderr: "flag provided but not defined: -pdf"},
		{name: "missing file", args: []string{filepath.Join(dir, "none.json")}, status: exitFail, stderr: "none.json: no such file"},
		{name: "not a result", args: []string{"report_test.go"}, status: exitFail, stderr: "cvrswarm report: report_test.go is not a cvrswarm result (not JSON)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			status := run(context.Background(), append([]string{"report"}, tt.args...), &stdout, &stderr)
			if status != tt.status {
				t.Fatalf("got status %d, want %d; stderr: %s", status, tt.status, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("got stdout %q stderr %q, want %q and %q", stdout.String(), stderr.String(), tt.stdout, tt.stderr)
			}
			if tt.status != exitOK && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("got stderr %q, want one line", stderr.String())
			}
			for _, f := range tt.files {
				if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
		})
	}
}

// TestFuzzPictures runs a short fuzz session with -json, -html and -png,
// then draws it again with report from its JSON.
func TestFuzzPictures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "fuzz.json")
	var stdout, stderr bytes.Buffer
	status := run(context.Background(), []string{"fuzz", "-duration", "2s", "-quiet", "-findings", filepath.Join(dir, "findings"),
		"-json", jsonPath, "-html", filepath.Join(dir, "fuzz.html"), "-png", filepath.Join(dir, "png")}, &stdout, &stderr)
	if status != exitOK && status != exitFail { // findings or none
		t.Fatalf("fuzz: got status %d; stderr:\n%s", status, stderr.String())
	}
	summary := stdout.String()
	for _, f := range []string{"fuzz.html", "png/fuzz-rate.png", "png/fuzz-findings.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "fuzz.html"))
	if err != nil || !strings.Contains(string(page), "Cases per second") {
		t.Errorf("page lacks the cases chart (%v)", err)
	}
	stdout.Reset()
	stderr.Reset()
	if status := run(context.Background(), []string{"report", jsonPath, "-png", filepath.Join(dir, "again")}, &stdout, &stderr); status != exitOK {
		t.Fatalf("report: got status %d; stderr:\n%s", status, stderr.String())
	}
	if stdout.String() != summary {
		t.Errorf("report printed\n%s\nwant the fuzz command's summary\n%s", stdout.String(), summary)
	}
	if _, err := os.Stat(filepath.Join(dir, "again", "fuzz-rate.png")); err != nil {
		t.Error(err)
	}
}
