package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/conformance"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func TestCheckEmbeddedServerPasses(t *testing.T) {
	// The skips: the rules for the other role, and on a DS the pre-MSNP8
	// user-handle rule (a DS takes no CVR before MSNP8).
	for role, skips := range map[string]int{"ns": 2, "ds": 3} {
		t.Run(role, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "check.json")
			status, stdout, stderr := runMain(t, "check", "-quiet", "-role", role, "-dialects", "MSNP7-MSNP15", "-json", path)
			if status != exitOK {
				t.Fatalf("exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", status, stdout, stderr)
			}
			if !strings.Contains(stderr, "using the embedded reference server") {
				t.Errorf("stderr %q does not say the embedded server is used", stderr)
			}
			if !strings.Contains(stdout, "role "+role) || !strings.Contains(stdout, fmt.Sprintf(" 0 warn, 0 fail, %d skip\n", skips)) {
				t.Errorf("stdout does not show role %s and a clean summary:\n%s", role, stdout)
			}
			rep := checkReadJSON(t, path)
			if rep.Role != role || rep.CVRDialect != "MSNP15" || rep.Summary.Rules != len(conformance.Rules()) ||
				rep.Summary.Fail != 0 || len(rep.Results) != rep.Summary.Rules {
				t.Errorf("-json report: role %q, CVR dialect %q, summary %+v, %d results; want %s, MSNP15, no failure",
					rep.Role, rep.CVRDialect, rep.Summary, len(rep.Results), role)
			}
		})
	}
}

// checkReadJSON reads the report a -json flag wrote.
func checkReadJSON(t *testing.T, path string) conformance.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep conformance.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("-json file: %v", err)
	}
	return rep
}

func TestCheckExitStatus(t *testing.T) {
	canned, err := msnptest.NewCanned() // answers every line with a CVR reply
	if err != nil {
		t.Fatal(err)
	}
	defer canned.Close()
	target := canned.Addr()
	tests := []struct {
		name    string
		args    []string
		status  int
		stdout  string
		summary string
	}{
		{"failing server", []string{"-run", "^(ver-none|cvr-710-locale)$"}, exitFail, "fail ver-none", "2 rules: 0 pass, 1 warn, 1 fail, 0 skip"},
		{"warning only", []string{"-run", "^cvr-710-locale$"}, exitOK, "warn cvr-710-locale", "1 rules: 0 pass, 1 warn, 0 fail, 0 skip"},
		{"warning, -strict", []string{"-run", "^cvr-710-locale$", "-strict"}, exitFail, "fail cvr-710-locale", "(strict: warnings fail)"},
		{"-v shows passing rules", []string{"-run", "^cvr-valid$", "-v"}, exitOK, "pass cvr-valid", "1 rules: 1 pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"check", "-quiet", "-timeout", "500ms", "-target", target}, tt.args...)
			status, stdout, stderr := runMain(t, args...)
			if status != tt.status {
				t.Errorf("exit status %d, want %d (stderr %q)", status, tt.status, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) || !strings.Contains(stdout, tt.summary) {
				t.Errorf("stdout does not contain %q and %q:\n%s", tt.stdout, tt.summary, stdout)
			}
			if stderr != "" {
				t.Errorf("stderr %q, want nothing with -quiet and -target", stderr)
			}
		})
	}
}

// startNeedsCVR0 starts the reference server, speaking MSNP2 to MSNP7
// and CVR0, behind a front that answers "VER n 0" and closes when the
// first VER does not list CVR0, as servers written for MSNP2-7 clients do.
func startNeedsCVR0(t *testing.T) string {
	t.Helper()
	ref, err := refserver.Listen("127.0.0.1:0", refserver.Config{Dialects: msnp.DialectRange(2, 7)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	front, err := msnptest.NewServer(func(c net.Conn) {
		in := bufio.NewReader(c)
		first, err := in.ReadSlice('\n')
		if err != nil {
			return
		}
		if ver, err := msnp.ParseVER(bytes.TrimRight(first, "\r\n")); err == nil && !slices.Contains(ver.Dialects, msnp.CVR0) {
			fmt.Fprintf(c, "VER %d 0\r\n", ver.TrID)
			return
		}
		back, err := net.Dial("tcp", ref.Addr())
		if err != nil {
			return
		}
		defer back.Close()
		back.Write(first)
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			io.Copy(back, in)
			back.(*net.TCPConn).CloseWrite()
		}()
		io.Copy(c, back)
		c.Close()
		<-sent
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(front.Close)
	return front.Addr()
}

// TestCheckTargetThatNeedsCVR0 checks a server that answers a VER only
// when it lists CVR0, the client offering MSNP2 alone: the check lists
// CVR0 in every VER and runs the rules.
func TestCheckTargetThatNeedsCVR0(t *testing.T) {
	path := filepath.Join(t.TempDir(), "check.json")
	status, stdout, stderr := runMain(t, "check", "-quiet", "-target", startNeedsCVR0(t), "-dialects", "MSNP2", "-json", path)
	if status != exitOK {
		t.Errorf("exit status %d, want 0 (stderr %q)", status, stderr)
	}
	for _, want := range []string{
		"offered MSNP2; target speaks MSNP2; CVR rules use MSNP2\n",
		"the target refuses a VER that does not list CVR0: every VER sent lists it\n",
		" 0 warn, 0 fail, 7 skip\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^cvr-valid +CVR 2 .* pass$`).MatchString(stdout) {
		t.Errorf("stdout lacks a row for cvr-valid that sends a CVR and passes:\n%s", stdout)
	}
	if rep := checkReadJSON(t, path); !rep.NeedsCVR0 || rep.CVRDialect != "MSNP2" || rep.Summary.Inconclusive {
		t.Errorf("-json report: needs CVR0 %v, CVR dialect %q, inconclusive %v; want true, MSNP2, false",
			rep.NeedsCVR0, rep.CVRDialect, rep.Summary.Inconclusive)
	}
}

// TestCheckInconclusive checks that a check in which most rules cannot
// run (the target speaks none of the offered dialects) fails.
func TestCheckInconclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "check.json")
	status, stdout, stderr := runMain(t, "check", "-quiet", "-target", startNeedsCVR0(t), "-dialects", "MSNP9", "-json", path)
	if status != exitFail {
		t.Errorf("exit status %d, want %d (stderr %q)", status, exitFail, stderr)
	}
	rep := checkReadJSON(t, path)
	s := rep.Summary
	line := fmt.Sprintf("\ninconclusive: %d of %d rules skipped\n", s.SkippedApplicable(), s.Applicable)
	if !strings.HasSuffix(stdout, line) || !s.Inconclusive || 2*s.SkippedApplicable() <= s.Applicable {
		t.Errorf("summary %+v; want over half of the applicable rules skipped, inconclusive, and stdout ending in %q:\n%s",
			s, line, stdout)
	}
}

// TestCheckInterrupted stops a check part way (as Ctrl-C does) against a
// server that answers VER and nothing else, so that every CVR rule waits:
// the interrupt comes as the first line the server leaves unanswered
// arrives, and the rules run so far are printed and written, the rest
// skipped.
func TestCheckInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := msnptest.NewServer(func(c net.Conn) {
		lines := msnp.NewReader(c, 0)
		for {
			line, err := lines.ReadLine()
			if err != nil {
				return
			}
			trid, ok := msnp.PeekTrID(line)
			if !ok || msnp.Verb(line) != "VER" {
				cancel()
				continue
			}
			fmt.Fprintf(c, "VER %d MSNP8\r\n", trid)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "check.json")
	var stdout, stderr bytes.Buffer
	status := run(ctx, []string{"check", "-quiet", "-target", srv.Addr(), "-timeout", "10s", "-json", path}, &stdout, &stderr)
	if status != exitInterrupted {
		t.Errorf("exit status %d, want %d", status, exitInterrupted)
	}
	if !strings.Contains(stderr.String(), "cvrswarm check: interrupted") || !strings.Contains(stderr.String(), "cvrswarm: wrote "+path) {
		t.Errorf("stderr %q does not say the check was interrupted", stderr.String())
	}
	if !strings.Contains(stdout.String(), "ver-highest ") || !strings.Contains(stdout.String(), "skip garbage: interrupted") {
		t.Errorf("stdout lacks the rules run and the skipped ones:\n%s", stdout.String())
	}
	rep := checkReadJSON(t, path)
	if !rep.Interrupted || rep.Results[0].Verdict != conformance.Pass || rep.Summary.Rules != len(conformance.Rules()) {
		t.Errorf("-json report: interrupted %v, first verdict %v, %d rules; want true, pass, every rule",
			rep.Interrupted, rep.Results[0].Verdict, rep.Summary.Rules)
	}
}

func TestCheckList(t *testing.T) {
	status, stdout, _ := runMain(t, "check", "-list")
	if status != exitOK {
		t.Fatalf("exit status %d, want 0", status)
	}
	for _, r := range conformance.Rules() {
		if !strings.Contains(stdout, r.ID+" [") {
			t.Errorf("-list does not show rule %s", r.ID)
		}
	}
}

func TestCheckErrors(t *testing.T) {
	closed := msnptest.ClosedAddr(t)
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"bad role", []string{"-role", "sb"}, exitUsage, `-role: "sb": want ds or ns`},
		{"bad dialects", []string{"-dialects", "MSNP99"}, exitUsage, "-dialects:"},
		{"bad target", []string{"-target", "localhost"}, exitUsage, `-target: "localhost": want host:port`},
		{"bad regexp", []string{"-run", "("}, exitUsage, "-run:"},
		{"no rule matches", []string{"-run", "nothing-matches"}, exitUsage, `-run: "nothing-matches" matches no rule ID`},
		{"no rule for the role", []string{"-run", "^cvq-on-ns$", "-role", "ds"}, exitUsage, `-run: "^cvq-on-ns$" matches no rule for a Dispatch Server`},
		{"short long line", []string{"-long-line", "10"}, exitUsage, "-long-line: 10 bytes is not over-long: want at least 512"},
		{"zero long line", []string{"-long-line", "0"}, exitUsage, "-long-line: 0: want at least 512 bytes"},
		{"zero timeout", []string{"-timeout", "0s"}, exitUsage, "-timeout: 0s: want more than 0"},
		{"stray argument", []string{"extra"}, exitUsage, `unexpected argument "extra"`},
		{"nothing listening", []string{"-target", closed}, exitFail, "connect"},
		{"unwritable -json", []string{"-run", "^ver-none$", "-json", filepath.Join(t.TempDir(), "no", "such", "dir", "x.json")}, exitFail, "-json:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, stderr := runMain(t, append([]string{"check", "-quiet"}, tt.args...)...)
			if status != tt.status {
				t.Errorf("exit status %d, want %d (stderr %q)", status, tt.status, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tt.stderr) || !strings.HasPrefix(last, "cvrswarm check: ") {
				t.Errorf("stderr %q, want one line containing %q", stderr, tt.stderr)
			}
			if strings.HasPrefix(lines[0], "cvrswarm check") && len(lines) != 1 {
				t.Errorf("stderr %q is not one line", stderr)
			}
		})
	}
}
