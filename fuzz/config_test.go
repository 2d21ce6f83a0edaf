package fuzz

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
)

// fieldsOf returns the fields the FieldErrors joined in err name.
func fieldsOf(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			out = append(out, fe.Field)
		}
	}
	walk(err)
	slices.Sort(out)
	return out
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	target := msnp.TCPTarget("127.0.0.1:1")
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // the fields at fault
	}{
		{"a target is enough", Config{Oracle: Oracle{Target: target}}, nil},
		{"the zero config", Config{}, []string{"Target"}},
		{"negative counts", Config{Oracle: Oracle{Target: target}, Cases: -1, Duration: -1, Conns: -1, MinimizeRuns: -1},
			[]string{"Cases", "Conns", "Duration", "MinimizeRuns"}},
		{"rate not a number", Config{Oracle: Oracle{Target: target}, Rate: math.NaN()}, []string{"Rate"}},
		{"share over 1", Config{Oracle: Oracle{Target: target}, SequenceShare: 1.5}, []string{"SequenceShare"}},
		{"seeds without CVR bytes", Config{Oracle: Oracle{Target: target}, Seeds: []corpus.Case{{VER: []byte("VER 1 MSNP8\r\n")}}},
			[]string{"Seeds"}},
		{"oracle fields", Config{Oracle: Oracle{Timeout: -1}}, []string{"Target", "Timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if got := fieldsOf(err); !slices.Equal(got, tc.want) {
				t.Errorf("Validate() = %v: fields %q, want %q", err, got, tc.want)
			}
			if _, err := New(tc.cfg); (err == nil) != (tc.want == nil) {
				t.Errorf("New: %v, want an error exactly when Validate gives one", err)
			}
		})
	}
}

// TestZeroOracle checks that an oracle without a target says so instead
// of panicking.
func TestZeroOracle(t *testing.T) {
	t.Parallel()
	var o Oracle
	ctx := context.Background()
	_, examineErr := o.Examine(ctx, caseOf("VER 1 MSNP8 CVR0\r\n", "CVR 2 x\r\n"))
	_, replayErr := o.Replay(ctx, []Input{{Path: "x"}})
	for name, err := range map[string]error{"Check": o.Check(ctx), "Examine": examineErr, "Replay": replayErr} {
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "Target" {
			t.Errorf("%s: %v, want a FieldError of Target", name, err)
		}
	}
}

func TestResultFileVersion(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "fuzz.json")
	r := Result{Version: ResultVersion, Target: "127.0.0.1:1", Cases: 3, Findings: []Finding{}, Series: []Point{{T: 1, Cases: 3}}}
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResult(path)
	if err != nil || got.Cases != 3 || len(got.Series) != 1 {
		t.Fatalf("ReadResult = %+v, %v; want the result written", got, err)
	}
	if _, err := ParseResult([]byte(`{"target": "x", "series": []}`)); err == nil || !strings.Contains(err.Error(), "version 0, want 1") {
		t.Errorf("unversioned result: %v, want a version error", err)
	}
}
