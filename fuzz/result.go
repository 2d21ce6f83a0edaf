package fuzz

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// ResultVersion is the version of the [Result] JSON format; a file of
// another version is refused by [ReadResult].
const ResultVersion = 1

// Point is one second of a run: the cases done and the distinct findings
// so far.
type Point struct {
	T        int64 `json:"t"` // Unix second
	Cases    int64 `json:"cases"`
	Findings int   `json:"findings"`
	Hits     int   `json:"hits"`
}

// Result is what a run found, in the JSON form `cvrswarm fuzz -json`
// writes and `cvrswarm report` reads back.
type Result struct {
	Version     int          `json:"version"` // ResultVersion
	Target      string       `json:"target"`
	Seed        uint64       `json:"seed"`
	Cases       int64        `json:"cases"`
	DurationS   float64      `json:"duration_s"`
	CasesPerS   float64      `json:"cases_per_s"`
	Findings    []Finding    `json:"findings"`
	ByKind      map[Kind]int `json:"by_kind"` // distinct findings per kind
	Hits        int          `json:"hits"`
	Corpus      int          `json:"corpus"`      // the working corpus at the end
	NewInputs   int          `json:"new_inputs"`  // inputs feedback added to it
	Restarts    int          `json:"restarts"`    // of an -exec target
	Unconfirmed int          `json:"unconfirmed"` // suspicious cases that did not reproduce
	Strict      bool         `json:"strict"`
	Stopped     string       `json:"stopped"` // cases, duration, interrupted, or "error: " and the error
	Series      []Point      `json:"series"`
}

// WriteFile writes the result as indented JSON to path, atomically.
func (r *Result) WriteFile(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err == nil {
		err = corpus.WriteFile(path, append(data, '\n'))
	}
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// ParseResult reads a result from its JSON bytes, refusing another
// format version.
func ParseResult(data []byte) (*Result, error) {
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("not a fuzz result: %w", err)
	}
	if r.Version != ResultVersion {
		return nil, fmt.Errorf("result format version %d, want %d", r.Version, ResultVersion)
	}
	return &r, nil
}

// ReadResult reads a result file written by [Result.WriteFile].
func ReadResult(path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := ParseResult(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// KindCounts reads "crash 1, hang 2": the counts by kind, most severe
// first, leaving out kinds with none.
func KindCounts(by map[Kind]int) string {
	var parts []string
	for _, k := range Kinds() {
		if n := by[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	return strings.Join(parts, ", ")
}

// WriteSummary writes what the run did and found, for a person: the
// counts, then each finding with its input, its shrunk input, how to
// make the case again and how to replay it.
func (r *Result) WriteSummary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "fuzz: %d cases in %.1fs (%.0f/s) against %s, seed %d; stopped by %s\n",
		r.Cases, r.DurationS, r.CasesPerS, r.Target, r.Seed, r.Stopped)
	fmt.Fprintf(&b, "corpus: %d inputs (%d added for new reply sequences)", r.Corpus, r.NewInputs)
	if r.Restarts > 0 {
		fmt.Fprintf(&b, "; target restarted %d times", r.Restarts)
	}
	if r.Unconfirmed > 0 {
		fmt.Fprintf(&b, "; %d suspicious cases did not reproduce", r.Unconfirmed)
	}
	b.WriteByte('\n')
	if len(r.Findings) == 0 {
		b.WriteString("findings: none\n")
	} else {
		fmt.Fprintf(&b, "findings: %d distinct (%s), %d hits\n", len(r.Findings), KindCounts(r.ByKind), r.Hits)
	}
	fs := append([]Finding(nil), r.Findings...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Hits > fs[j].Hits && fs[i].Kind == fs[j].Kind })
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s  (%d hits)\n", f.Signature, f.Hits)
		fmt.Fprintf(&b, "    %s\n", f.Detail)
		fmt.Fprintf(&b, "    input      %s\n", shortQuote(f.Input))
		fmt.Fprintf(&b, "    minimized  %s\n", shortQuote(f.Minimized))
		fmt.Fprintf(&b, "    case %d of seed %d, mutators %s\n", f.Case, f.Seed, strings.Join(f.Mutators, " "))
		if f.File != "" {
			fmt.Fprintf(&b, "    saved      %s\n", f.File)
			fmt.Fprintf(&b, "    replay     %s\n", f.Replay)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shortQuote cuts a quoted input for the summary.
func shortQuote(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes quoted)", s[:max], len(s))
}
