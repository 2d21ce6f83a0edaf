package metrics

import (
	"math"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// classicBounds are the upper bounds of the classic buckets, in seconds:
// six a decade (1, 1.5, 2, 3, 5, 7) from 10µs to 10s, fine enough for a
// server that answers in tens of microseconds.
var classicBounds = func() []float64 {
	var b []float64
	for exp := -5; exp <= 0; exp++ {
		for _, m := range []string{"1", "1.5", "2", "3", "5", "7"} {
			v, _ := strconv.ParseFloat(m+"e"+strconv.Itoa(exp), 64) // the exact decimal, not a product's rounding
			b = append(b, v)
		}
	}
	return append(b, 10)
}()

// nativeSchema is the native buckets' resolution: each is 2^(2^-3), about
// 9%, wider than the one before.
const nativeSchema = 3

// histogram returns h, a histogram of microseconds, as a Prometheus
// histogram in seconds with both classic and native buckets (or as an
// invalid metric that tells the scraper why not).
func histogram(desc *prometheus.Desc, h *hdrhistogram.Histogram, created time.Time) prometheus.Metric {
	var (
		count, zero uint64
		sum         float64
		classic     = make([]uint64, len(classicBounds)+1) // per bucket, the last one +Inf
		native      = map[int]int64{}
		le          int            // the classic bucket of the latest value
		key         int            // the native bucket of the latest value,
		keyTop      = math.Inf(-1) // and its upper bound
	)
	// The bars come in increasing order: each bucket is looked up once.
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		n := uint64(bar.Count)
		v := float64(bar.From) / 1e6
		count += n
		sum += float64(n) * float64(bar.From+bar.To) / 2e6
		for le < len(classicBounds) && v > classicBounds[le] {
			le++
		}
		classic[le] += n
		switch {
		case bar.From == 0:
			zero += n
			continue
		case v > keyTop:
			key = nativeIndex(v)
			keyTop = math.Exp2(float64(key) / (1 << nativeSchema))
		}
		native[key] += int64(n)
	}
	buckets := make(map[float64]uint64, len(classicBounds))
	var below uint64
	for i, le := range classicBounds {
		below += classic[i]
		buckets[le] = below
	}
	c, err := prometheus.NewConstHistogramWithCreatedTimestamp(desc, count, sum, buckets, created)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	n, err := prometheus.NewConstNativeHistogram(desc, count, sum, native, nil, zero, nativeSchema, 0, created)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return bothHistogram{classic: c, native: n}
}

// nativeIndex returns the native bucket that holds v > 0: bucket i holds
// the values above 2^((i-1)/8) up to 2^(i/8).
func nativeIndex(v float64) int {
	return int(math.Ceil(math.Log2(v) * (1 << nativeSchema)))
}

// bothHistogram is one histogram written with its classic buckets and its
// native ones, as the client library's own histograms are when given
// both: a scraper that reads native histograms takes those, any other the
// classic buckets.
type bothHistogram struct{ classic, native prometheus.Metric }

var _ prometheus.Metric = bothHistogram{}

func (b bothHistogram) Desc() *prometheus.Desc { return b.native.Desc() }

func (b bothHistogram) Write(out *dto.Metric) error {
	var c dto.Metric
	if err := b.classic.Write(&c); err != nil {
		return err
	}
	if err := b.native.Write(out); err != nil {
		return err
	}
	out.Histogram.Bucket = c.Histogram.Bucket
	return nil
}
