package load

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestHdrLogIsInNanoseconds checks the interval log against what the
// HdrHistogram tools assume: values in nanoseconds, Interval_Max in
// milliseconds, one interval a second.
func TestHdrLogIsInNanoseconds(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	var r Result
	r.Target, r.Start = "127.0.0.1:1863", start
	for i, values := range [][]int64{{250, 1500}, {40_000}} { // µs
		h := NewHistogram()
		for _, v := range values {
			h.RecordValue(v)
		}
		enc, err := EncodeHistogram(h)
		if err != nil {
			t.Fatal(err)
		}
		r.Series = append(r.Series, Second{Unix: start.Unix() + int64(i), Hist: enc})
	}
	var b bytes.Buffer
	if err := WriteHdrLog(&b, &r); err != nil {
		t.Fatal(err)
	}
	var maxCol []float64
	for _, line := range strings.Split(b.String(), "\n") {
		if f := strings.Split(line, ","); len(f) == 4 && !strings.HasPrefix(line, `"`) {
			v, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				t.Fatalf("interval line %q: %v", line, err)
			}
			maxCol = append(maxCol, v)
		}
	}
	if len(maxCol) != 2 || !near(maxCol[0], 1.5) || !near(maxCol[1], 40) {
		t.Errorf("got Interval_Max %v, want [1.5 40] (milliseconds)", maxCol)
	}
	lr := hdrhistogram.NewHistogramLogReader(&b)
	for i, want := range []struct{ count, max int64 }{{2, 1_500_000}, {1, 40_000_000}} {
		h, err := lr.NextIntervalHistogram()
		if err != nil || h == nil {
			t.Fatalf("interval %d: got %v, %v", i, h, err)
		}
		if h.TotalCount() != want.count || !near(float64(h.Max()), float64(want.max)) {
			t.Errorf("interval %d: got %d values, max %dns; want %d, max %dns", i, h.TotalCount(), h.Max(), want.count, want.max)
		}
		if got := h.StartTimeMs(); got != (start.Unix()+int64(i))*1000 {
			t.Errorf("interval %d: got start %dms, want %dms", i, got, (start.Unix()+int64(i))*1000)
		}
	}
}

// near reports whether got is within 0.2% of want: two roundings (in µs,
// then in ns) at the histograms' 3 significant digits.
func near(got, want float64) bool {
	return got >= want*0.998 && got <= want*1.002
}
