package fuzz

import (
	"maps"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp"
)

func TestProgressSplitsHitsByKind(t *testing.T) {
	t.Parallel()
	f, err := New(Config{Oracle: Oracle{Target: msnp.TCPTarget("127.0.0.1:1")}})
	if err != nil {
		t.Fatal(err)
	}
	f.findings = map[string]*Finding{"a": {Kind: KindHang, Hits: 3}, "b": {Kind: KindHang, Hits: 2}, "c": {Kind: KindReset, Hits: 1}}
	f.hits = 6
	p := f.Progress()
	if want := map[Kind]int{KindHang: 5, KindReset: 1}; !maps.Equal(p.HitsByKind, want) || p.Hits != 6 {
		t.Errorf("got hits %d by kind %v, want 6: %v", p.Hits, p.HitsByKind, want)
	}
	if want := map[Kind]int{KindHang: 2, KindReset: 1}; !maps.Equal(p.ByKind, want) {
		t.Errorf("got findings by kind %v, want %v", p.ByKind, want)
	}
}
