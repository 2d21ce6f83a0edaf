package conformance

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Widths of the table's cells, chosen so that a row (the longest rule ID
// is 19 bytes) fits in 96 columns; longer text is cut, and shown in full
// in the details below the table and in the JSON report.
const (
	sentWidth     = 24
	expectedWidth = 22
	gotWidth      = 16
)

// WriteTable writes the report as a table (rule, sent, expected, got,
// verdict), then the details of every rule that did not pass (of every
// rule when verbose), then a summary line, and a second one when fewer
// than half of the rules for the role ran:
//
//	33 rules: 9 pass, 0 warn, 0 fail, 24 skip
//	inconclusive: 22 of 31 rules skipped
func (r *Report) WriteTable(w io.Writer, verbose bool) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "target %s, role %s\n", r.Target, r.Role)
	cvr := "none"
	if r.CVRDialect != "" {
		cvr = string(r.CVRDialect)
	}
	fmt.Fprintf(bw, "offered %s; target speaks %s; CVR rules use %s\n",
		formatDialects(r.Offered), formatDialects(r.Speaks), cvr)
	if r.NeedsCVR0 {
		fmt.Fprintln(bw, "the target refuses a VER that does not list CVR0: every VER sent lists it")
	}
	fmt.Fprintln(bw)

	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tSENT\tEXPECTED\tGOT\tVERDICT")
	for _, res := range r.Results {
		sent := ""
		if len(res.Sent) > 0 {
			sent = res.Sent[len(res.Sent)-1]
		}
		got := res.Got
		if res.Verdict == Skip {
			got = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", res.Rule, cut(sent, sentWidth), cut(res.Expected, expectedWidth),
			cutGot(got, gotWidth), res.Verdict)
	}
	tw.Flush()

	first := true
	for _, res := range r.Results {
		if res.Verdict == Pass && !verbose {
			continue
		}
		if first {
			fmt.Fprintln(bw)
			first = false
		}
		if res.Verdict == Skip {
			fmt.Fprintf(bw, "skip %s: %s\n", res.Rule, res.Reason)
			continue
		}
		fmt.Fprintf(bw, "%s %s: %s [severity %s; %s]\n", res.Verdict, res.Rule, res.Title, res.Severity, res.Source)
		for i, s := range res.Sent {
			label := "          "
			if i == 0 {
				label = "  sent:   "
			}
			fmt.Fprintf(bw, "%s%s\n", label, s)
		}
		fmt.Fprintf(bw, "  want:   %s\n  got:    %s\n", res.Expected, res.Got)
		if res.Reason != "" {
			fmt.Fprintf(bw, "  why:    %s\n", res.Reason)
		}
	}

	fmt.Fprintln(bw)
	if r.Stopped != "" {
		fmt.Fprintf(bw, "the target stopped answering %s\n", r.Stopped)
	}
	if r.Interrupted {
		fmt.Fprintln(bw, "interrupted: the rules not run are skipped")
	}
	s := r.Summary
	fmt.Fprintf(bw, "%d rules: %d pass, %d warn, %d fail, %d skip", s.Rules, s.Pass, s.Warn, s.Fail, s.Skip)
	if r.Strict {
		fmt.Fprint(bw, " (strict: warnings fail)")
	}
	fmt.Fprintln(bw)
	if s.Inconclusive {
		fmt.Fprintf(bw, "inconclusive: %d of %d rules skipped\n", s.SkippedApplicable(), s.Applicable)
	}
	return bw.Flush()
}

// cut shortens s to n bytes when it is longer, keeping its start and its
// end (where a terminator or a close shows) around "...".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	tail := (n - 3) / 3
	return s[:n-3-tail] + "..." + s[len(s)-tail:]
}

// cutGot shortens what came back to n bytes, keeping how the connection
// ended ("closed", "open", ...) when a reply line has to be cut.
func cutGot(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for _, e := range []string{", closed", ", open", ", reset", stoppedSuffix} {
		if strings.HasSuffix(s, e) && len(e) <= n-8 {
			return s[:n-3-len(e)] + "..." + e
		}
	}
	return s[:n-3] + "..."
}

// WriteRules writes the rule list: ID, severity, whether it is risky, the
// roles it applies to, title and source, then what it sends and expects.
func WriteRules(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, rule := range Rules() {
		var tags []string
		tags = append(tags, rule.Severity.String())
		if rule.Risky {
			tags = append(tags, "risky")
		}
		if rule.Roles != nil {
			tags = append(tags, roleNames(rule.Roles)+" only")
		}
		fmt.Fprintf(bw, "%s [%s]\n  %s\n  source:  %s\n  sends:   %s\n  expects: %s\n", rule.ID,
			strings.Join(tags, ", "), rule.Title, rule.Source, rule.Sends, rule.Expects)
	}
	return bw.Flush()
}
