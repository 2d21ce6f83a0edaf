package fuzz

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// Input is a saved case to replay: from a finding's record (which also
// says what it showed) or from a `go test fuzz v1` file.
type Input struct {
	Path   string
	Case   corpus.Case
	Record *Finding // nil for a bare corpus file
}

// LoadInputs reads what a replay path names: a finding's record.json (its
// minimised input), a `go test fuzz v1` file, a finding's folder, or a
// folder of finding folders (such as ./findings) or of corpus files.
func LoadInputs(path string) ([]Input, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return loadFile(path)
	}
	if in, err := loadFile(filepath.Join(path, RecordName)); err == nil {
		return in, nil
	}
	subs, _ := filepath.Glob(filepath.Join(path, "*", RecordName))
	if len(subs) > 0 {
		var out []Input
		for _, s := range subs {
			in, err := loadFile(s)
			if err != nil {
				return nil, err
			}
			out = append(out, in...)
		}
		return out, nil
	}
	cases, err := corpus.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s holds no finding record and no corpus file: %w", path, err)
	}
	out := make([]Input, len(cases))
	for i, c := range cases {
		out[i] = Input{Path: filepath.Join(path, c.Name), Case: c}
	}
	return out, nil
}

func loadFile(path string) ([]Input, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if c, err := corpus.Unmarshal(data); err == nil {
		return []Input{{Path: path, Case: c}}, nil
	}
	f, err := ReadRecord(path)
	if err != nil {
		return nil, fmt.Errorf("%s is neither a `go test fuzz v1` file nor a finding record", path)
	}
	return []Input{{Path: path, Case: f.MinimizedCase(), Record: &f}}, nil
}

// ReplayResult says whether a saved case still shows a defect.
type ReplayResult struct {
	Input   Input
	Verdict Verdict
	// Same is true when the input came with a record and shows its
	// signature again.
	Same bool
}

// Reproduces reports whether the input still shows a defect.
func (r ReplayResult) Reproduces() bool { return r.Verdict.Kind != "" }

// Replay examines each input in turn on the oracle's target (an *Exec
// target is restarted after a crash).
func (o *Oracle) Replay(ctx context.Context, inputs []Input) ([]ReplayResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if len(inputs) == 0 {
		return nil, errors.New("nothing to replay")
	}
	out := make([]ReplayResult, 0, len(inputs))
	for _, in := range inputs {
		v, err := o.Examine(ctx, in.Case)
		if err != nil {
			return out, err
		}
		r := ReplayResult{Input: in, Verdict: v}
		r.Same = in.Record != nil && v.Signature == in.Record.Signature
		out = append(out, r)
	}
	return out, nil
}
