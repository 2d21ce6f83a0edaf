package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/conformance"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout is the wait for a reply or a close in the tests; only the
// broken servers that stay silent or open make a rule wait that long.
const testTimeout = time.Second

func check(t *testing.T, cfg conformance.Config) *conformance.Report {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = testTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := conformance.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Results) != rep.Summary.Rules {
		t.Errorf("summary counts %d rules, results hold %d", rep.Summary.Rules, len(rep.Results))
	}
	return rep
}

// verdicts returns the rules whose verdict is not Pass, with it.
func verdicts(rep *conformance.Report) map[string]conformance.Verdict {
	m := map[string]conformance.Verdict{}
	for _, r := range rep.Results {
		if r.Verdict != conformance.Pass {
			m[r.Rule] = r.Verdict
		}
	}
	return m
}

// wantOnly fails unless exactly the rules in want got a verdict other than
// pass, the given one; skips are left to the caller.
func wantOnly(t *testing.T, rep *conformance.Report, want map[string]conformance.Verdict) {
	t.Helper()
	got := verdicts(rep)
	for id, v := range got {
		if v == conformance.Skip {
			delete(got, id)
		}
	}
	for id, v := range want {
		if got[id] != v {
			t.Errorf("rule %s: got %v, want %v", id, got[id], v)
		}
	}
	for id, v := range got {
		if _, ok := want[id]; !ok {
			r := result(rep, id)
			t.Errorf("rule %s: got %v, want pass (sent %q, expected %q, got %q: %s)", id, v, r.Sent, r.Expected, r.Got, r.Reason)
		}
	}
	if fails := want != nil && slices.Contains(mapValues(want), conformance.Fail); rep.Failed() != fails {
		t.Errorf("Failed() = %v, want %v", rep.Failed(), fails)
	}
}

func mapValues(m map[string]conformance.Verdict) []conformance.Verdict {
	var vs []conformance.Verdict
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}

func result(rep *conformance.Report, id string) conformance.Result {
	for _, r := range rep.Results {
		if r.Rule == id {
			return r
		}
	}
	return conformance.Result{}
}

// skipped returns the IDs of the skipped rules.
func skipped(rep *conformance.Report) []string {
	var ids []string
	for _, r := range rep.Results {
		if r.Verdict == conformance.Skip {
			ids = append(ids, r.Rule)
		}
	}
	return ids
}

// conformantCases are runs against a conformant server: the role and
// dialects it speaks, what the client offers, and the rules that skip.
var conformantCases = []struct {
	name        string
	role        msnp.Role
	speaks      []msnp.Dialect // nil = every dialect
	offer       []msnp.Dialect // nil = every dialect
	wantSkipped []string
	wantCVR     msnp.Dialect
	// inconclusive: fewer than half of the rules for the role can run
	inconclusive bool
}{
	{name: "ns", role: msnp.NS, wantCVR: "MSNP23",
		wantSkipped: []string{"cvr-ds-pre8", "cvq-after-cvr0"}},
	{name: "ds", role: msnp.DS, wantCVR: "MSNP23",
		wantSkipped: []string{"cvr-pre8-handle", "cvr-ns-pre8", "cvq-on-ns"}},
	{name: "ns server MSNP8-MSNP9", role: msnp.NS, speaks: []msnp.Dialect{"MSNP9", "MSNP8", msnp.CVR0},
		wantCVR: "MSNP9", wantSkipped: []string{"cvr-pre8-handle", "cvr-ns-pre8", "cvr-ds-pre8", "cvq-after-cvr0"}},
	{name: "ds server without CVR0", role: msnp.DS, speaks: msnp.DialectRange(2, 23)[:22],
		wantCVR: "MSNP23", wantSkipped: []string{"cvr-pre8-handle", "cvr-ns-pre8", "cvq-after-cvr0", "cvq-on-ns", "cvr-in-cvr0"}},
	{name: "ds client MSNP7-MSNP8", role: msnp.DS, offer: []msnp.Dialect{"MSNP8", "MSNP7", msnp.CVR0},
		wantCVR: "MSNP8", wantSkipped: []string{"cvr-pre8-handle", "cvr-ns-pre8", "cvq-on-ns"}},
	{name: "ds client before MSNP8", role: msnp.DS, offer: []msnp.Dialect{"MSNP7", "MSNP5", msnp.CVR0},
		wantCVR: "", inconclusive: true, wantSkipped: []string{
			"cvr-valid", "cvr-reply-urls", "cvr-420-version", "cvr-420-library", "cvr-710-locale",
			"cvr-731-malformed", "cvr-731-close", "trid-65536", "trid-2147483648", "trid-4294967295",
			"trid-0", "trid-overflow", "cvr-msnp8-handle", "cvr-msnp8-no-handle", "cvr-pre8-handle", "cvr-ns-pre8",
			"cvq-on-ns", "cvq-in-msnp", "crlf-replies", "bare-lf", "line-empty", "framing-pipelined", "cvr-before-ver",
			"long-line"}},
	{name: "ns client MSNP15 alone", role: msnp.NS, offer: []msnp.Dialect{"MSNP15"},
		wantCVR: "MSNP15", wantSkipped: []string{"ver-any-order", "cvr-pre8-handle",
			"cvr-ns-pre8", "cvr-ds-pre8", "cvq-after-cvr0", "cvq-on-ns", "cvr-in-cvr0"}},
	{name: "no common dialect", role: msnp.NS, speaks: []msnp.Dialect{"MSNP15"},
		offer: []msnp.Dialect{"MSNP8", msnp.CVR0}, inconclusive: true, wantSkipped: []string{
			"ver-any-order", "ver-twice", "cvr-valid", "cvr-reply-urls", "cvr-420-version",
			"cvr-420-library", "cvr-710-locale", "cvr-731-malformed", "cvr-731-close", "trid-65536",
			"trid-2147483648", "trid-4294967295", "trid-0", "trid-overflow", "cvr-msnp8-handle",
			"cvr-msnp8-no-handle", "cvr-pre8-handle", "cvr-ns-pre8", "cvr-ds-pre8", "cvq-after-cvr0",
			"cvq-on-ns", "cvr-in-cvr0", "cvq-in-msnp", "crlf-replies", "bare-lf", "line-empty", "framing-pipelined",
			"cvr-before-ver", "unknown-command", "long-line", "garbage"}},
}

// TestReferenceServerPassesEveryRule checks that the reference server, for
// both roles and with restricted dialects on either side, passes every
// rule that applies.
func TestReferenceServerPassesEveryRule(t *testing.T) {
	t.Parallel()
	for _, tc := range conformantCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{Role: tc.role, Dialects: tc.speaks})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			rep := check(t, conformance.Config{Target: msnp.TCPTarget(srv.Addr()), Role: tc.role, Dialects: tc.offer})
			wantConformant(t, rep, tc.wantSkipped, tc.wantCVR, tc.inconclusive)
		})
	}
}

// TestTestServerPassesEveryRule checks the baseline that the broken
// servers below are derived from.
func TestTestServerPassesEveryRule(t *testing.T) {
	t.Parallel()
	for _, tc := range conformantCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := (&server{role: tc.role, dialects: tc.speaks}).start(t)
			rep := check(t, conformance.Config{Target: srv.Target(), Role: tc.role, Dialects: tc.offer})
			wantConformant(t, rep, tc.wantSkipped, tc.wantCVR, tc.inconclusive)
		})
	}
}

func wantConformant(t *testing.T, rep *conformance.Report, wantSkipped []string, wantCVR msnp.Dialect, inconclusive bool) {
	t.Helper()
	wantOnly(t, rep, nil)
	wantInconclusive(t, rep, inconclusive)
	wantSkipped = slices.Sorted(slices.Values(wantSkipped))
	got := skipped(rep)
	slices.Sort(got)
	if !slices.Equal(got, wantSkipped) {
		t.Errorf("skipped %q, want %q", got, wantSkipped)
	}
	if rep.CVRDialect != wantCVR {
		t.Errorf("CVR dialect %q, want %q", rep.CVRDialect, wantCVR)
	}
	if rep.Summary.Rules != len(conformance.Rules()) {
		t.Errorf("%d rules in the report, want %d", rep.Summary.Rules, len(conformance.Rules()))
	}
	if rep.Stopped != "" {
		t.Errorf("Stopped = %q, want the target answering throughout", rep.Stopped)
	}
}

// TestTargetThatNeedsCVR0Alongside checks a server written for MSNP2-7
// clients, which answers a VER only when it lists CVR0, as the official
// client's did: the check learns it and lists CVR0 in every VER, even when
// the client offers no CVR0.
func TestTargetThatNeedsCVR0Alongside(t *testing.T) {
	t.Parallel()
	srv := (&server{needsCVR0: true, echoCVR0: true, dialects: msnp.DialectRange(2, 7)}).start(t)
	for _, tc := range []struct {
		name        string
		offer       []msnp.Dialect
		wantSpeaks  []msnp.Dialect
		wantCVR     msnp.Dialect
		wantSkipped []string
	}{
		{name: "every dialect offered", wantSpeaks: msnp.DialectRange(2, 7), wantCVR: "MSNP7",
			wantSkipped: []string{"cvr-ds-pre8", "cvq-after-cvr0", "cvr-msnp8-handle", "cvr-msnp8-no-handle"}},
		{name: "MSNP2 offered alone", offer: []msnp.Dialect{"MSNP2"}, wantSpeaks: []msnp.Dialect{"MSNP2"}, wantCVR: "MSNP2",
			wantSkipped: []string{"ver-any-order", "cvr-ds-pre8", "cvq-after-cvr0", "cvr-msnp8-handle",
				"cvr-msnp8-no-handle", "cvq-on-ns", "cvr-in-cvr0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := check(t, conformance.Config{Target: srv.Target(), Dialects: tc.offer})
			if !slices.Equal(rep.Speaks, tc.wantSpeaks) {
				t.Errorf("speaks %q, want %q", rep.Speaks, tc.wantSpeaks)
			}
			if !rep.NeedsCVR0 {
				t.Error("NeedsCVR0 = false, want true")
			}
			wantConformant(t, rep, tc.wantSkipped, tc.wantCVR, false)
		})
	}
}

// wantInconclusive checks the count of rules for the role, of those
// skipped, and the verdict on the whole check that follows, in the report
// and in its table.
func wantInconclusive(t *testing.T, rep *conformance.Report, want bool) {
	t.Helper()
	role, _ := msnp.ParseRole(rep.Role)
	rules := map[string]conformance.Rule{}
	for _, rule := range conformance.Rules() {
		rules[rule.ID] = rule
	}
	applicable, skipped := 0, 0
	for _, r := range rep.Results {
		if rules[r.Rule].AppliesTo(role) {
			applicable++
			if r.Verdict == conformance.Skip {
				skipped++
			}
		}
	}
	s := rep.Summary
	if s.Applicable != applicable || s.SkippedApplicable() != skipped {
		t.Errorf("summary: %d applicable, %d of them skipped; want %d and %d", s.Applicable, s.SkippedApplicable(), applicable, skipped)
	}
	if s.Inconclusive != want || rep.Passed() == want {
		t.Errorf("Inconclusive = %v, Passed() = %v; want inconclusive %v (%d of %d rules skipped)",
			s.Inconclusive, rep.Passed(), want, skipped, applicable)
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf, false); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("\ninconclusive: %d of %d rules skipped\n", skipped, applicable)
	if got := strings.HasSuffix(buf.String(), line); got != want {
		t.Errorf("table ends in %q: %v, want %v:\n%s", line, got, want, buf.String())
	}
}

func TestBrokenServersFailTheRulesTheyBreak(t *testing.T) {
	t.Parallel()
	const (
		warn = conformance.Warn
		fail = conformance.Fail
	)
	canned, err := msnptest.NewCanned()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(canned.Close)
	cases := []struct {
		name   string
		srv    *server   // nil: msnptest.Canned, which answers every line with a reply
		role   msnp.Role // the role checked
		strict bool
		want   map[string]conformance.Verdict
	}{
		{name: "never sends 710", srv: &server{no710: true},
			want: map[string]conformance.Verdict{"cvr-710-locale": warn}},
		{name: "never sends 710, strict", srv: &server{no710: true}, strict: true,
			want: map[string]conformance.Verdict{"cvr-710-locale": fail}},
		{name: "16-bit TrID", srv: &server{trid16: true},
			want: map[string]conformance.Verdict{"trid-65536": fail, "trid-2147483648": fail, "trid-4294967295": fail}},
		{name: "open after 731", srv: &server{openAfter731: true},
			want: map[string]conformance.Verdict{"cvr-731-close": warn}},
		{name: "open after 731, strict", srv: &server{openAfter731: true}, strict: true,
			want: map[string]conformance.Verdict{"cvr-731-close": fail}},
		{name: "echoes CVR0, which is allowed", srv: &server{echoCVR0: true}, strict: true,
			want: map[string]conformance.Verdict{}},
		{name: "bare LF replies", srv: &server{bareLF: true},
			want: map[string]conformance.Verdict{"crlf-replies": fail}},
		{name: "DS that takes CVR before MSNP8", srv: &server{role: msnp.NS}, role: msnp.DS,
			want: map[string]conformance.Verdict{"cvr-ds-pre8": warn, "cvq-after-cvr0": fail, "cvr-in-cvr0": warn}},
		{name: "NS that takes no CVR before MSNP8", srv: &server{role: msnp.DS}, role: msnp.NS,
			want: map[string]conformance.Verdict{"cvr-ns-pre8": fail, "cvr-pre8-handle": warn, "cvq-on-ns": warn,
				"cvr-in-cvr0": warn}},
		{name: "picks the lowest dialect", srv: &server{lowest: true},
			want: map[string]conformance.Verdict{"ver-highest": fail, "ver-any-order": fail, "ver-unknown-names": fail}},
		{name: "leaves a bare LF unanswered", srv: &server{ignoreBareLF: true},
			want: map[string]conformance.Verdict{"bare-lf": warn}},
		{name: "closes on TrID 0", srv: &server{noTrID0: true},
			want: map[string]conformance.Verdict{"trid-0": warn}},
		{name: "refuses a CVR without user-handle", srv: &server{noHandle731: true},
			want: map[string]conformance.Verdict{"cvr-msnp8-no-handle": fail}},
		{name: "user-handle from MSNP9", srv: &server{handleFrom9: true},
			want: map[string]conformance.Verdict{"cvr-msnp8-handle": fail}},
		{name: "reply without URLs, bad version", srv: &server{shortReply: true},
			want: map[string]conformance.Verdict{"cvr-valid": fail, "cvr-reply-urls": warn}},
		{name: "answers every line", want: map[string]conformance.Verdict{
			"ver-any-order": fail, "ver-unknown-names": fail, "ver-none": fail, "ver-no-trid": fail, "ver-twice": warn,
			"cvr-420-version": warn, "cvr-420-library": warn, "cvr-710-locale": warn, "cvr-731-malformed": warn,
			"cvr-731-close": warn, "trid-overflow": warn, "cvr-pre8-handle": warn, "cvq-on-ns": warn,
			"cvr-in-cvr0": warn, "cvq-in-msnp": warn, "cvr-before-ver": warn, "unknown-command": warn, "garbage": warn,
			"line-empty": fail}},
		{name: "ignores unknown lines", srv: &server{lenient: true},
			want: map[string]conformance.Verdict{"unknown-command": warn, "garbage": warn}},
		{name: "wedges on short lines", srv: &server{wedgeShort: true},
			want: map[string]conformance.Verdict{"line-empty": fail}},
		{name: "one read, one command", srv: &server{unframed: true},
			want: map[string]conformance.Verdict{"framing-pipelined": fail}},
		{name: "dies on a long line", srv: &server{dieOnLongLine: true},
			want: map[string]conformance.Verdict{"long-line": fail}},
		{name: "refuses every CVR with 420", srv: &server{refuseAll: true},
			want: map[string]conformance.Verdict{"cvr-valid": fail, "cvr-reply-urls": warn, "trid-65536": fail,
				"trid-2147483648": fail, "trid-4294967295": fail, "trid-0": warn, "cvr-msnp8-handle": fail,
				"cvr-msnp8-no-handle": fail, "cvr-ns-pre8": fail, "crlf-replies": fail, "bare-lf": warn}},
	}
	// Every rule can fail: some server above breaks it.
	broken := map[string]bool{}
	for _, tc := range cases {
		for id := range tc.want {
			broken[id] = true
		}
	}
	for _, r := range conformance.Rules() {
		if !broken[r.ID] {
			t.Errorf("rule %s: no broken server in this test breaks it", r.ID)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target := canned.Target()
			if tc.srv != nil {
				target = tc.srv.start(t).Target()
			}
			rep := check(t, conformance.Config{Target: target, Role: tc.role, Strict: tc.strict})
			wantOnly(t, rep, tc.want)
			// Wrong answers are no reason to call the target stopped.
			if dies := tc.srv != nil && tc.srv.dieOnLongLine; (rep.Stopped != "") != dies {
				t.Errorf("Stopped = %q, want it set: %v", rep.Stopped, dies)
			}
			for id := range tc.want {
				if r := result(rep, id); r.Reason == "" || r.Got == "" || r.Expected == "" {
					t.Errorf("rule %s: reason %q, got %q, expected %q: want all three", id, r.Reason, r.Got, r.Expected)
				}
			}
		})
	}
}

func TestTargetThatDiesAfterTheLongLine(t *testing.T) {
	t.Parallel()
	s := &server{dieOnLongLine: true}
	srv := s.start(t)
	rep := check(t, conformance.Config{Target: srv.Target()})
	r := result(rep, "long-line")
	if r.Verdict != conformance.Fail || !strings.Contains(r.Got, "stopped answering") {
		t.Errorf("long-line: %v, got %q; want fail and the target reported as stopped", r.Verdict, r.Got)
	}
	g := result(rep, "garbage")
	if g.Verdict != conformance.Skip || g.Reason != "target stopped answering" {
		t.Errorf("garbage: %v (%s), want skip: target stopped answering", g.Verdict, g.Reason)
	}
	if !strings.HasPrefix(rep.Stopped, "after long-line") {
		t.Errorf("Stopped = %q, want it to name long-line", rep.Stopped)
	}
	if !rep.Failed() {
		t.Error("Failed() = false, want true")
	}
	for _, r := range rep.Results[:len(rep.Results)-2] {
		if r.Verdict == conformance.Fail || r.Verdict == conformance.Warn {
			t.Errorf("rule %s before the risky ones: %v (%s)", r.Rule, r.Verdict, r.Reason)
		}
	}
}

// TestTargetThatDiesAfterAnOrdinaryRule checks that a target that stops
// answering after a rule that is not risky is reported after that rule.
func TestTargetThatDiesAfterAnOrdinaryRule(t *testing.T) {
	t.Parallel()
	srv := (&server{dieOn731: true}).start(t)
	rep := check(t, conformance.Config{Target: srv.Target()})
	r := result(rep, "cvr-731-malformed")
	if r.Verdict != conformance.Fail || !strings.Contains(r.Got, "stopped answering") {
		t.Errorf("cvr-731-malformed: %v, got %q; want fail and the target reported as stopped", r.Verdict, r.Got)
	}
	if !strings.HasPrefix(rep.Stopped, "after cvr-731-malformed") {
		t.Errorf("Stopped = %q, want it to name cvr-731-malformed", rep.Stopped)
	}
	after := false
	for _, r := range rep.Results {
		if after && (r.Verdict != conformance.Skip || r.Reason != "target stopped answering") {
			t.Errorf("%s after the stop: %v (%s), want skip: target stopped answering", r.Rule, r.Verdict, r.Reason)
		}
		after = after || r.Rule == "cvr-731-malformed"
	}
}

func TestTargetThatDiesBeforeTheRiskyRules(t *testing.T) {
	t.Parallel()
	s := &server{}
	srv := s.start(t)
	rep := check(t, conformance.Config{Target: srv.Target(), OnResult: func(r conformance.Result) {
		if r.Rule == "unknown-command" {
			s.dead.Store(true)
		}
	}})
	for _, id := range []string{"long-line", "garbage"} {
		if r := result(rep, id); r.Verdict != conformance.Skip || r.Reason != "target stopped answering" {
			t.Errorf("%s: %v (%s), want skip: target stopped answering", id, r.Verdict, r.Reason)
		}
	}
	if !strings.HasPrefix(rep.Stopped, "before the risky rules") {
		t.Errorf("Stopped = %q, want before the risky rules", rep.Stopped)
	}
}

func TestRulesRunRiskyLast(t *testing.T) {
	t.Parallel()
	rs := conformance.Rules()
	seen := map[string]bool{}
	risky := false
	for _, r := range rs {
		if seen[r.ID] {
			t.Errorf("rule ID %s twice", r.ID)
		}
		seen[r.ID] = true
		if risky && !r.Risky {
			t.Errorf("rule %s runs after a risky rule", r.ID)
		}
		risky = risky || r.Risky
		if r.Title == "" || r.Source == "" || r.Sends == "" || r.Expects == "" {
			t.Errorf("rule %s lacks a title, source, sends or expects", r.ID)
		}
		if r.Severity != conformance.Fail && r.Severity != conformance.Warn {
			t.Errorf("rule %s: severity %v, want fail or warn", r.ID, r.Severity)
		}
	}
	if !risky {
		t.Error("no risky rule")
	}
}

// TestRuleSourcesNameSectionHeadings checks that every section of
// msnp/PROTOCOL.md a rule cites is named by its number and its heading,
// so that a reader of the report finds it.
func TestRuleSourcesNameSectionHeadings(t *testing.T) {
	t.Parallel()
	notes, err := os.ReadFile("../PROTOCOL.md") // msnp/PROTOCOL.md
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]string{} // "2.3" -> "Refusals: 420, 710, 731"
	for _, m := range regexp.MustCompile(`(?m)^##+ (\d+(?:\.\d+)?)\.? (.+)$`).FindAllStringSubmatch(string(notes), -1) {
		headings[m[1]] = m[2]
	}
	section := regexp.MustCompile(`§(\d+(?:\.\d+)?) `)
	for _, r := range conformance.Rules() {
		for _, m := range section.FindAllStringSubmatchIndex(r.Source, -1) {
			n := r.Source[m[2]:m[3]]
			h, ok := headings[n]
			after, found := strings.CutPrefix(r.Source[m[1]:], h)
			if !ok || !found || (after != "" && !strings.HasPrefix(after, ",") && !strings.HasPrefix(after, ";") && !strings.HasPrefix(after, " (")) {
				t.Errorf("rule %s: source %q cites §%s, whose heading is %q", r.ID, r.Source, n, h)
			}
		}
	}
}

func TestRunSelectsRules(t *testing.T) {
	t.Parallel()
	srv := (&server{}).start(t)
	rep := check(t, conformance.Config{Target: srv.Target(), Run: regexp.MustCompile(`^trid-`)})
	var ids []string
	for _, r := range rep.Results {
		ids = append(ids, r.Rule)
	}
	want := []string{"trid-65536", "trid-2147483648", "trid-4294967295", "trid-0", "trid-overflow"}
	if !slices.Equal(ids, want) {
		t.Errorf("ran %q, want %q", ids, want)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	silent := startHandler(t, func(c net.Conn) { c.Read(make([]byte, 64)) })
	closedAddr := msnptest.ClosedAddr(t)
	good := (&server{}).start(t)
	for _, tc := range []struct {
		name   string
		cfg    conformance.Config
		fields []string // the fields named by the *FieldErrors; nil: another error
		want   string
	}{
		{"no target", conformance.Config{}, []string{"Target"}, "Target: no target given"},
		{"silent target", conformance.Config{Target: silent, Timeout: 200 * time.Millisecond}, nil, "does not answer VER"},
		{"nothing listening", conformance.Config{Target: msnp.TCPTarget(closedAddr)}, nil, "connect"},
		{"unknown dialect", conformance.Config{Target: good.Target(), Dialects: []msnp.Dialect{"MSNP99"}}, []string{"Dialects"}, "MSNP99"},
		{"no dialect", conformance.Config{Target: good.Target(), Dialects: []msnp.Dialect{}}, []string{"Dialects"}, "no dialect offered"},
		{"short long line", conformance.Config{Target: good.Target(), LongLine: 100}, []string{"LongLine"}, "not over-long"},
		{"negative timeout", conformance.Config{Target: good.Target(), Timeout: -time.Second}, []string{"Timeout"}, "negative"},
		{"no rule matches", conformance.Config{Target: good.Target(), Run: regexp.MustCompile("nope")}, []string{"Run"}, "matches no rule ID"},
		{"no rule for the role", conformance.Config{Target: good.Target(), Role: msnp.DS, Run: regexp.MustCompile("^cvq-on-ns$")},
			[]string{"Run"}, `"^cvq-on-ns$" matches no rule for a Dispatch Server`},
		{"several at once", conformance.Config{Role: 7, LongLine: 1}, []string{"Target", "Role", "LongLine"}, "Role: unknown role 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := conformance.Run(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: %v, want an error containing %q", err, tc.want)
			}
			if got := fieldsOf(err); !slices.Equal(got, tc.fields) {
				t.Errorf("Run: %v names fields %q, want %q", err, got, tc.fields)
			}
			if (tc.fields != nil) != (tc.cfg.Validate() != nil) {
				t.Errorf("Validate: %v, want an error: %v", tc.cfg.Validate(), tc.fields != nil)
			}
			if rep != nil {
				t.Errorf("Run returned a report with its error")
			}
		})
	}
}

// fieldsOf returns the fields the *conformance.FieldErrors joined in err
// name, in order.
func fieldsOf(err error) []string {
	var fields []string
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if fe, ok := errors.AsType[*conformance.FieldError](e); ok {
			fields = append(fields, fe.Field)
		}
	}
	return fields
}

func startHandler(t *testing.T, h func(net.Conn)) msnp.TCPTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h(c)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return msnp.TCPTarget(ln.Addr().String())
}

func TestInterruptedRunSkipsTheRest(t *testing.T) {
	t.Parallel()
	srv := (&server{}).start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := conformance.Run(ctx, conformance.Config{Target: srv.Target(), Timeout: testTimeout,
		OnResult: func(r conformance.Result) {
			if r.Rule == "cvr-valid" {
				cancel()
			}
		}})
	if err == nil {
		t.Error("Run: nil error, want the context's")
	}
	if rep == nil || !rep.Interrupted {
		t.Fatalf("report %+v, want one marked interrupted", rep)
	}
	if r := result(rep, "garbage"); r.Verdict != conformance.Skip || r.Reason != "interrupted" {
		t.Errorf("garbage: %v (%s), want skip: interrupted", r.Verdict, r.Reason)
	}
	if r := result(rep, "cvr-valid"); r.Verdict != conformance.Pass {
		t.Errorf("cvr-valid: %v, want pass (it ran before the interrupt)", r.Verdict)
	}
}

// named is a target with a fixed name, so the golden table does not
// depend on the port.
type named struct{ msnp.TCPTarget }

func (named) String() string { return "127.0.0.1:1863" }

func TestTableGolden(t *testing.T) {
	t.Parallel()
	srv := (&server{no710: true, trid16: true, openAfter731: true}).start(t)
	rep := check(t, conformance.Config{Target: named{srv.Target()}})
	// The long line and the short lines after the empty one leave bytes
	// unread when the server hangs up, so the kernel ends the connection
	// with a reset or, at times, a close.
	for i, r := range rep.Results {
		if (r.Rule == "long-line" || r.Rule == "line-empty") && r.Got == "reset" {
			rep.Results[i].Got = "closed"
		}
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.golden", buf.String())

	buf.Reset()
	if err := conformance.WriteRules(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "rules.golden", buf.String())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
