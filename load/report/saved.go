package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cvrswarm/cvrswarm/fuzz"
	"github.com/cvrswarm/cvrswarm/load"
	"github.com/cvrswarm/cvrswarm/load/capacity"
)

// Saved is a run read back from its JSON file: exactly one of Load,
// Capacity and Fuzz is set.
type Saved struct {
	Load     *load.Result
	Capacity *capacity.Result
	Fuzz     *fuzz.Result
}

// ReadSaved reads the JSON file of a load run, a capacity search or a fuzz
// session, telling them apart by their keys.
func ReadSaved(path string) (*Saved, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSaved(b)
	if nr, ok := errors.AsType[*load.NotResultError](err); ok {
		nr.Path = path
		return nil, nr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseSaved is [ReadSaved] on the file's bytes.
func ParseSaved(b []byte) (*Saved, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, &load.NotResultError{Why: load.JSONProblem(err)}
	}
	var version int
	if v, ok := keys["version"]; ok {
		if err := json.Unmarshal(v, &version); err != nil {
			return nil, fmt.Errorf("version: %w", err)
		}
	}
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		if err := d.Decode(v); err != nil {
			return &load.NotResultError{Why: load.JSONProblem(err)}
		}
		return nil
	}
	_, isCapacity := keys["capacity_rps"]
	_, hasHistograms := keys["histograms"]
	_, hasSeries := keys["series"]
	switch {
	case isCapacity:
		if version != capacity.Version {
			return nil, fmt.Errorf("capacity result format version %d, want %d", version, capacity.Version)
		}
		var c capacity.Result
		return &Saved{Capacity: &c}, dec(&c)
	case hasHistograms:
		if version != load.ResultVersion {
			return nil, fmt.Errorf("result format version %d, want %d", version, load.ResultVersion)
		}
		var r load.Result
		return &Saved{Load: &r}, dec(&r)
	case hasSeries:
		f, err := fuzz.ParseResult(b)
		if err != nil {
			return nil, err
		}
		return &Saved{Fuzz: f}, nil
	}
	return nil, &load.NotResultError{Why: "no histograms, capacity_rps or series"}
}

// WriteText writes the saved run's text report.
func (s *Saved) WriteText(w io.Writer) error {
	switch {
	case s.Capacity != nil:
		return WriteCapacityText(w, s.Capacity)
	case s.Load != nil:
		return WriteText(w, s.Load)
	}
	if err := s.Fuzz.WriteSummary(w); err != nil {
		return err
	}
	return nil
}

// Page builds the saved run's HTML page.
func (s *Saved) Page() (Page, error) {
	switch {
	case s.Capacity != nil:
		return CapacityPage(s.Capacity)
	case s.Load != nil:
		return LoadPage(s.Load)
	}
	return FuzzPage(s.Fuzz)
}
