package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

// packagePrefix matches a package of this module named as an error's
// prefix ("load: ", "fuzz: "), not a flag ("-corpus: ").
var packagePrefix = regexp.MustCompile(`(^|[^-\w])(capacity|conformance|corpus|fuzz|k8s|load|metrics|msnp|msnptest|refserver|report): `)

// TestBadInputOneLine drives bad input into every subcommand and checks
// what the user reads: one line on stderr, after the command's name, that
// names the culprit (a flag, a file, a folder) and no package of the
// code.
func TestBadInputOneLine(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file") // a file where a folder is wanted
	garbage := filepath.Join(dir, "garbage.json")
	for path, data := range map[string]string{file: "hello\n", garbage: "{not json"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	result := mergeTestFile(t, dir, "1/1", 1, 100)
	missing := filepath.Join(dir, "missing")
	closed := msnptest.ClosedAddr(t)

	for _, tc := range []struct {
		args    []string
		status  int
		culprit string
	}{
		{[]string{"load", "-nope"}, exitUsage, "-nope"},
		{[]string{"load", "-duration", "-5s"}, exitUsage, "-duration"},
		{[]string{"load", "-batch-window", "1s"}, exitUsage, "-batch-window"},
		{[]string{"load", "-batch-window", "0"}, exitUsage, "-batch-window"},
		{[]string{"load", "-corpus", missing}, exitUsage, "-corpus: corpus folder " + missing + ": no such file"},
		{[]string{"load", "-json", filepath.Join(file, "x.json")}, exitUsage, "-json"},
		{[]string{"load", "-slo", "p99~1ms"}, exitUsage, "-slo"},
		{[]string{"capacity", "-growth", "0.5"}, exitUsage, "-growth"},
		{[]string{"capacity", "-corpus", file}, exitUsage, "-corpus: corpus folder " + file},
		{[]string{"check", "-role", "xx"}, exitUsage, "-role"},
		{[]string{"check", "-dialects", "MSNP99"}, exitUsage, "-dialects"},
		{[]string{"fuzz", "-target", closed, "-findings", filepath.Join(file, "findings"), "-quiet"}, exitUsage, "-findings " + filepath.Join(file, "findings")},
		{[]string{"fuzz", "-corpus", missing}, exitUsage, "-corpus: corpus folder " + missing},
		{[]string{"fuzz", "-mutators", "nope"}, exitUsage, `unknown mutator "nope"`},
		{[]string{"replay", "-target", closed, missing}, exitFail, missing + ": no such file"},
		{[]string{"replay", "-target", closed, garbage}, exitFail, garbage + " is neither"},
		{[]string{"merge", result, garbage}, exitFail, garbage + " is not a cvrswarm result (not JSON)"},
		{[]string{"merge", result, missing}, exitFail, missing + ": no such file"},
		{[]string{"report", garbage}, exitFail, garbage + " is not a cvrswarm result"},
		{[]string{"report", missing}, exitFail, missing + ": no such file"},
		{[]string{"k8s", "-shards", "2", "-name", "Bad_Name", "--", "-target", "x:1"}, exitUsage, `name "Bad_Name"`},
		{[]string{"k8s", "-shards", "2", "-cpu", "lots", "--", "-target", "x:1"}, exitUsage, `cpu "lots"`},
		{[]string{"k8s", "-shards", "2", "--", "-target", "x:1", "-rate", "nonsense"}, exitUsage, "-rate"},
		{[]string{"serve", "-addr", "nonsense"}, exitUsage, "-addr"},
		{[]string{"serve", "-metrics-addr", "nonsense"}, exitUsage, "-metrics-addr"},
		{[]string{"serve", "-dialects", "MSNP99"}, exitUsage, "-dialects: MSNP99"},
		{[]string{"version", "-x"}, exitUsage, "-x"},
		{[]string{"help", "nope"}, exitUsage, `"nope"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			status, _, stderr := runMain(t, tc.args...)
			if status != tc.status {
				t.Errorf("exit status %d, want %d (stderr %q)", status, tc.status, stderr)
			}
			prefix := "cvrswarm " + tc.args[0] + ": "
			line, ok := strings.CutPrefix(stderr, prefix)
			if !ok || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Fatalf("stderr %q, want one line starting %q", stderr, prefix)
			}
			if !strings.Contains(line, tc.culprit) {
				t.Errorf("stderr %q does not name %q", stderr, tc.culprit)
			}
			if m := packagePrefix.FindString(line); m != "" {
				t.Errorf("stderr %q names a package of the code (%q)", stderr, strings.TrimLeft(m, " ("))
			}
		})
	}
}
