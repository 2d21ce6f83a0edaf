package metrics

import (
	"math"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// classicBounds are the upper bounds of the classic buckets, in seconds:
// ten a decade (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8), each at most a
// third above the one before, from 10µs to 10s: fine enough for a server
// that answers in tens of microseconds, and for a p99 interpolated
// within a bucket to stay close.
var classicBounds = func() []float64 {
	var b []float64
	for exp := -5; exp <= 0; exp++ {
		for _, m := range []string{"1", "1.25", "1.5", "2", "2.5", "3", "4", "5", "6", "8"} {
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
	var classicOut, nativeOut dto.Metric
	if err := c.Write(&classicOut); err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	if err := n.Write(&nativeOut); err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	both := proto.Clone(nativeOut.GetHistogram()).(*dto.Histogram)
	both.Bucket = classicOut.GetHistogram().GetBucket()
	return bothHistogram{native: n, both: both}
}

// nativeIndex returns the native bucket that holds v > 0: bucket i holds
// the values above 2^((i-1)/8) up to 2^(i/8).
func nativeIndex(v float64) int {
	return int(math.Ceil(math.Log2(v) * (1 << nativeSchema)))
}

// bothHistogram is one histogram written with its classic buckets and its
// native ones, as the client library's own histograms are when given
// both: a scraper that reads native histograms takes those, any other the
// classic buckets. It is immutable, so that scrapes may write it at once.
type bothHistogram struct {
	native prometheus.Metric // for its description and labels
	both   *dto.Histogram    // native's, with the classic buckets
}

var _ prometheus.Metric = bothHistogram{}

func (b bothHistogram) Desc() *prometheus.Desc { return b.native.Desc() }

func (b bothHistogram) Write(out *dto.Metric) error {
	if err := b.native.Write(out); err != nil {
		return err
	}
	out.Histogram = b.both
	return nil
}
