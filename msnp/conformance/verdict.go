package conformance

import "fmt"

// Verdict is the outcome of a rule, and the severity of a rule: the
// verdict it gets when the server deviates from it ([Fail] or [Warn]).
type Verdict uint8

// The verdicts, from best to worst, then Skip.
const (
	Pass Verdict = iota + 1 // the server did what the rule expects
	Warn                    // it did not, in a way real servers commonly do
	Fail                    // it did not
	Skip                    // the rule did not run (the result says why)
)

var verdictNames = [...]string{Pass: "pass", Warn: "warn", Fail: "fail", Skip: "skip"}

// String returns "pass", "warn", "fail" or "skip".
func (v Verdict) String() string {
	if int(v) < len(verdictNames) && verdictNames[v] != "" {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) {
	if int(v) >= len(verdictNames) || verdictNames[v] == "" {
		return nil, fmt.Errorf("invalid verdict %d", uint8(v))
	}
	return []byte(verdictNames[v]), nil
}

// UnmarshalText reads a verdict's name.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, name := range verdictNames {
		if name != "" && name == string(b) {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}
