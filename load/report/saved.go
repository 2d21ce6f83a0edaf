package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/cvrswarm/cvrswarm/load"
)

// FuzzRun is what the charts need of a fuzz session's JSON.
type FuzzRun struct {
	Target    string       `json:"target"`
	DurationS float64      `json:"duration_s"`
	Series    []FuzzSecond `json:"series"`
}

// Saved is a run read back from its JSON file: exactly one of Load,
// Capacity and Fuzz is set.
type Saved struct {
	Load     *load.Result
	Capacity *load.CapacityResult
	Fuzz     *FuzzRun
}

// ReadSaved reads the JSON file of a load run, a capacity search or a fuzz
// session, telling them apart by their keys.
func ReadSaved(path string) (*Saved, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	s, err := ParseSaved(b)
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	return s, nil
}

// ParseSaved is [ReadSaved] on the file's bytes.
func ParseSaved(b []byte) (*Saved, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("not a cvrswarm result: %w", err)
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
			return fmt.Errorf("not a cvrswarm result: %w", err)
		}
		return nil
	}
	_, isCapacity := keys["capacity_rps"]
	_, hasHistograms := keys["histograms"]
	_, hasSeries := keys["series"]
	switch {
	case isCapacity:
		if version != load.CapacityVersion {
			return nil, fmt.Errorf("capacity result format version %d, want %d", version, load.CapacityVersion)
		}
		var c load.CapacityResult
		return &Saved{Capacity: &c}, dec(&c)
	case hasHistograms:
		if version != load.ResultVersion {
			return nil, fmt.Errorf("result format version %d, want %d", version, load.ResultVersion)
		}
		var r load.Result
		return &Saved{Load: &r}, dec(&r)
	case hasSeries:
		var f FuzzRun
		return &Saved{Fuzz: &f}, dec(&f)
	}
	return nil, fmt.Errorf("not a cvrswarm result: no histograms, capacity_rps or series")
}

// WriteText writes the saved run's text report.
func (s *Saved) WriteText(w io.Writer) error {
	switch {
	case s.Capacity != nil:
		return WriteCapacityText(w, s.Capacity)
	case s.Load != nil:
		return WriteText(w, s.Load)
	}
	_, err := io.WriteString(w, fuzzText(s.Fuzz))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// fuzzText summarises a fuzz session from its series.
func fuzzText(f *FuzzRun) string {
	var last FuzzSecond
	if n := len(f.Series); n > 0 {
		last = f.Series[n-1]
	}
	rate := 0.0
	if f.DurationS > 0 {
		rate = float64(last.Cases) / f.DurationS
	}
	return fmt.Sprintf("target    %s\ncases     %d in %.1fs (%.1f/s)\nfindings  %d\n", orDash(f.Target), last.Cases, f.DurationS, rate, last.Findings)
}

// Page builds the saved run's HTML page.
func (s *Saved) Page() (Page, error) {
	switch {
	case s.Capacity != nil:
		return CapacityPage(s.Capacity)
	case s.Load != nil:
		return LoadPage(s.Load)
	}
	return FuzzPage(s.Fuzz.Target, fuzzText(s.Fuzz), s.Fuzz.Series)
}
