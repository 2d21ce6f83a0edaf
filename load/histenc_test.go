package load

import (
	"math/rand/v2"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestHistogramEncoderMatchesLibrary encodes histograms of every shape
// the series meets with one reused encoder: each must be the library's
// encoding byte for byte, and decode to the same histogram.
func TestHistogramEncoderMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := map[string]func(h *hdrhistogram.Histogram){
		"empty":          func(*hdrhistogram.Histogram) {},
		"one value":      func(h *hdrhistogram.Histogram) { h.RecordValue(1) },
		"the highest":    func(h *hdrhistogram.Histogram) { h.RecordValue(HistogramHighest) },
		"one count, big": func(h *hdrhistogram.Histogram) { h.RecordValues(250, 1<<40) },
		"spread": func(h *hdrhistogram.Histogram) {
			for range 20000 {
				h.RecordValue(int64(rng.ExpFloat64()*300) + 1)
			}
		},
		"two clusters": func(h *hdrhistogram.Histogram) {
			for range 5000 {
				h.RecordValue(40 + rng.Int64N(10))
				h.RecordValue(2_000_000 + rng.Int64N(100_000))
			}
		},
	}
	var enc histogramEncoder
	for round := range 2 { // the second round reuses warm buffers
		for name, fill := range shapes {
			h := NewHistogram()
			fill(h)
			want, err := EncodeHistogram(h)
			if err != nil {
				t.Fatal(err)
			}
			got := enc.encode(h)
			if got != want {
				t.Errorf("round %d, %s: got %q, want the library's %q", round, name, got, want)
				continue
			}
			back, err := DecodeHistogram(got)
			if err != nil || !back.Equals(h) {
				t.Errorf("round %d, %s: decodes to %v, %v; want the histogram back", round, name, back, err)
			}
		}
	}
}

// TestHistogramEncoderAllocations: a warm encoder allocates the copy of
// the counts and the text it returns, whatever the histogram holds; the
// library allocates for every run of counts.
func TestHistogramEncoderAllocations(t *testing.T) {
	h := NewHistogram()
	for v := int64(1); v < 3_000_000; v = v*11/10 + 1 {
		h.RecordValue(v)
	}
	var enc histogramEncoder
	enc.encode(h)
	if n := testing.AllocsPerRun(20, func() { enc.encode(h) }); n > 2 {
		t.Errorf("encode: %v allocations, want at most 2", n)
	}
}
