package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/fuzz"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// TestFuzzReferenceServer fuzzes the embedded reference server: no
// findings, exit status 0, a summary and a JSON result with its series.
func TestFuzzReferenceServer(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "fuzz.json")
	status, stdout, stderr := runMain(t, "fuzz", "-cases", "2000", "-seed", "1", "-quiet", "-strict",
		"-findings", filepath.Join(dir, "findings"), "-json", jsonPath)
	if status != exitOK {
		t.Fatalf("exit status %d, want %d; stdout %s stderr %s", status, exitOK, stdout, stderr)
	}
	if !strings.Contains(stdout, "fuzz: 2000 cases in ") || !strings.Contains(stdout, "findings: none") {
		t.Errorf("summary %q: want the case count and no findings", stdout)
	}
	if !strings.Contains(stderr, "embedded reference server") {
		t.Errorf("stderr %q: want the embedded server named", stderr)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"target", "seed", "cases", "duration_s", "cases_per_s", "findings", "series"} {
		if _, ok := res[key]; !ok {
			t.Errorf("JSON has no %q: %s", key, data)
		}
	}
	if res["cases"] != 2000.0 || res["seed"] != 1.0 {
		t.Errorf("JSON cases %v seed %v, want 2000 and 1", res["cases"], res["seed"])
	}
}

// amplifyingServer answers a '%' in a line with a 4 KiB line.
func amplifyingServer(t *testing.T) *msnptest.Server {
	t.Helper()
	srv, err := msnptest.NewServer(func(conn net.Conn) {
		rd := msnp.NewReader(conn, 0)
		for {
			line, err := rd.ReadLine()
			if err != nil {
				return
			}
			trid, _ := msnp.PeekTrID(line)
			switch {
			case msnp.Verb(line) == "VER":
				fmt.Fprintf(conn, "VER %d MSNP8\r\n", trid)
			case strings.Contains(string(line), "%"):
				fmt.Fprintf(conn, "CVR %d 1.0 1.0 1.0 http://example.com/%s\r\n", trid, strings.Repeat("a", 4096))
			default:
				fmt.Fprintf(conn, "CVR %d 1.0 1.0 1.0 http://example.com/a http://example.com\r\n", trid)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestFuzzThenReplay fuzzes a server that answers a '%' with a 4 KiB
// line, then replays the findings: against it they reproduce (exit 1),
// against the reference server they do not (exit 0).
func TestFuzzThenReplay(t *testing.T) {
	srv := amplifyingServer(t)
	dir := t.TempDir()
	status, stdout, stderr := runMain(t, "fuzz", "-target", srv.Addr(), "-cases", "3000", "-seed", "4", "-quiet",
		"-mutators", "text-silly", "-minimize-runs", "40", "-findings", dir)
	if status != exitFail || !strings.Contains(stdout, "reply, not driven by one field's length") {
		t.Fatalf("fuzz: exit status %d, want %d and an amplification finding; stdout %s stderr %s", status, exitFail, stdout, stderr)
	}
	if !strings.Contains(stdout, "replay     cvrswarm replay -target "+srv.Addr()+" ") {
		t.Errorf("summary %q: want a replay command naming the target", stdout)
	}
	// The finding's case is made again from the seed and its index.
	records, _ := filepath.Glob(filepath.Join(dir, "*", "record.json"))
	if len(records) == 0 {
		t.Fatalf("no record.json in %s", dir)
	}
	var rec struct {
		Case  uint64 `json:"case"`
		Input string `json:"input"`
	}
	data, err := os.ReadFile(records[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr = runMain(t, "fuzz", "-seed", "4", "-mutators", "text-silly", "-print-cases", fmt.Sprint(rec.Case))
	if status != exitOK || !strings.Contains(stdout, "\n  "+rec.Input+"\n") {
		t.Errorf("-print-cases %d: exit status %d, stdout %q, stderr %q; want the recorded input %s", rec.Case, status, stdout, stderr, rec.Input)
	}
	status, stdout, _ = runMain(t, "replay", "-target", srv.Addr(), dir)
	if status != exitFail || !strings.Contains(stdout, "reproduces: amplification") {
		t.Errorf("replay against the broken server: exit status %d, stdout %q; want %d and reproduces", status, stdout, exitFail)
	}
	ref, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	status, stdout, _ = runMain(t, "replay", "-target", ref.Addr(), dir)
	if status != exitOK || !strings.Contains(stdout, "does not reproduce") {
		t.Errorf("replay against the reference server: exit status %d, stdout %q; want %d and does not reproduce", status, stdout, exitOK)
	}
}

func TestFuzzUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fuzz", "-target", "127.0.0.1:1", "-exec", "srv {addr}"}, "-target and -exec"},
		{[]string{"fuzz", "-exec", "srv"}, "{addr}"},
		{[]string{"fuzz", "-mutators", "nope"}, "-mutators"},
		{[]string{"fuzz", "-conns", "-1"}, "-conns: must not be negative"},
		{[]string{"fuzz", "-sequence", "2"}, "-sequence: 2: want a share from 0 to 1"},
		{[]string{"fuzz", "-timeout", "-1s", "-amplify-factor", "0.5"}, "-timeout: must not be negative; -amplify-factor: 0.5: want a ratio over 1"},
		{[]string{"fuzz", "-minimize-share", "1.5"}, "-minimize-share: 1.5: want a share from 0 to 1"},
		{[]string{"replay", "-exec", "srv", "x"}, "-exec: \"srv\": put {addr}"},
		{[]string{"replay"}, "name at least one"},
		{[]string{"replay", "findings"}, "give -target or -exec"},
		{[]string{"fuzz", "-print-cases", "3"}, "-seed"},
		{[]string{"fuzz", "-seed", "1", "-print-cases", "9-3"}, "-print-cases"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			status, _, stderr := runMain(t, tc.args...)
			if status != exitUsage || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit status %d, stderr %q; want %d and one line naming %q", status, stderr, exitUsage, tc.want)
			}
		})
	}
}

// TestFuzzTargetThatRefuses names the target and what is wrong in one
// line, for fuzz and replay alike.
func TestFuzzTargetThatRefuses(t *testing.T) {
	addr := msnptest.ClosedAddr(t)
	rec := filepath.Join(t.TempDir(), "case")
	if err := os.WriteFile(rec, []byte("go test fuzz v1\n[]byte(\"\")\n[]byte(\"CVR 2 %\\n\")\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"fuzz", "-target", addr, "-quiet", "-findings", t.TempDir()}, {"replay", "-target", addr, rec}} {
		status, _, stderr := runMain(t, args...)
		if want := "target " + addr + " refuses connections"; status != exitFail || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit status %d, stderr %q; want %d and one line with %q", args[0], status, stderr, exitFail, want)
		}
	}
}

// TestFuzzFindingsFolder: -findings is created before the campaign, a
// folder that cannot be written is a usage error before any case, and a
// finding that cannot be saved is printed in full on stderr (exit 1).
func TestFuzzFindingsFolder(t *testing.T) {
	srv := amplifyingServer(t)
	dir := t.TempDir()
	fresh := filepath.Join(dir, "new", "findings")
	status, stdout, stderr := runMain(t, "fuzz", "-target", srv.Addr(), "-cases", "1", "-seed", "4", "-quiet", "-mutators", "field-trid", "-findings", fresh)
	if fi, err := os.Stat(fresh); err != nil || !fi.IsDir() {
		t.Errorf("-findings %s not created (%v); exit status %d, stdout %s, stderr %s", fresh, err, status, stdout, stderr)
	}

	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr = runMain(t, "fuzz", "-target", msnptest.ClosedAddr(t), "-quiet", "-findings", filepath.Join(file, "findings"))
	if status != exitUsage || !strings.Contains(stderr, "cvrswarm fuzz: -findings "+filepath.Join(file, "findings")+": ") || stdout != "" {
		t.Errorf("unwritable -findings: exit status %d, stdout %q, stderr %q; want %d, one line naming -findings, no campaign", status, stdout, stderr, exitUsage)
	}

	// A first run saves the findings; a second one finds a file where each folder goes.
	saved := filepath.Join(dir, "saved")
	args := []string{"fuzz", "-target", srv.Addr(), "-cases", "3000", "-seed", "4", "-quiet", "-mutators", "text-silly", "-minimize-runs", "0"}
	if status, _, stderr := runMain(t, append(args, "-findings", saved)...); status != exitFail {
		t.Fatalf("first run: exit status %d, want %d; stderr %s", status, exitFail, stderr)
	}
	folders, _ := filepath.Glob(filepath.Join(saved, "*"))
	if len(folders) == 0 {
		t.Fatal("first run saved no finding")
	}
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(blocked, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		if err := os.WriteFile(filepath.Join(blocked, filepath.Base(f)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	status, stdout, stderr = runMain(t, append(args, "-findings", blocked)...)
	if status != exitFail || strings.Contains(stdout, "findings: none") {
		t.Errorf("exit status %d, summary %q; want %d and the finding listed", status, stdout, exitFail)
	}
	if !strings.Contains(stderr, "cvrswarm fuzz: finding not saved in "+blocked+", here in full:\n{") || !strings.Contains(stderr, `"signature": "amplification`) {
		t.Errorf("stderr %q: want the unsaved finding in full", stderr)
	}
	saveErr := regexp.MustCompile(`save finding amplification-[0-9a-f]{8}: mkdir ` + regexp.QuoteMeta(blocked) + `/`)
	last := stderr[strings.LastIndex(stderr[:len(stderr)-1], "\n")+1:]
	if !strings.HasPrefix(last, "cvrswarm fuzz: ") || !saveErr.MatchString(last) || packagePrefix.MatchString(strings.TrimPrefix(last, "cvrswarm fuzz: ")) {
		t.Errorf("stderr ends %q: want the error naming the finding, without package prefixes", last)
	}
	if !strings.Contains(stdout, "stopped by error: save finding amplification-") || !saveErr.MatchString(stdout) {
		t.Errorf("summary %q: want it stopped by the error, without package prefixes", stdout)
	}
}

// TestFuzzStatus: the progress line shows the confirmed findings by
// kind, the cases per second and the restarts of an -exec target.
func TestFuzzStatus(t *testing.T) {
	got := fuzzStatus(fuzz.Progress{Cases: 3000, Findings: 2, ByKind: map[fuzz.Kind]int{fuzz.KindCrash: 1, fuzz.KindHang: 1},
		Restarts: 24, Corpus: 40, Elapsed: 2 * time.Second})
	if want := "1500 cases/s  findings 2 (crash 1, hang 1)  restarts 24 (12.0/s)  corpus 40"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
