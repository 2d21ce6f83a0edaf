package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestReadSaved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		kind string
		text string // a line its text report shows
	}{
		{loadFixture, "load", "requests     10000  requested 1000.0/s  achieved 999.1/s  late 0"},
		{capacityFixture, "capacity", "capacity 3875/s (bracket 3875/s..4000/s, converged in 9 steps)"},
		{fuzzFixture, "fuzz", "fuzz: 152919 cases in 30.2s (5064/s) against 127.0.0.1:1863, seed 1; stopped by duration"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			s, err := ReadSaved(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			kind := map[bool]string{s.Load != nil: "load", s.Capacity != nil: "capacity", s.Fuzz != nil: "fuzz"}[true]
			if kind != tt.kind {
				t.Fatalf("got a %s result, want %s", kind, tt.kind)
			}
			var b bytes.Buffer
			if err := s.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.text) {
				t.Errorf("text report lacks %q:\n%s", tt.text, b.String())
			}
			p, err := s.Page()
			if err != nil || len(p.Charts) == 0 {
				t.Errorf("got %d charts, %v; want the run's charts", len(p.Charts), err)
			}
		})
	}
}

func TestParseSavedRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, json, want string
	}{
		{"not json", "hello", "not a cvrswarm result (not JSON)"},
		{"empty object", "{}", "not a cvrswarm result (no histograms"},
		{"future load", `{"version": 2, "histograms": {}}`, "result format version 2, want 1"},
		{"future capacity", `{"version": 9, "capacity_rps": 1}`, "capacity result format version 9, want 1"},
		{"bad field", `{"version": 1, "histograms": {}, "requests": "many"}`, "not a cvrswarm result (requests is a JSON string, want int64)"},
		{"unversioned fuzz", `{"series": []}`, "result format version 0, want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSaved([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
