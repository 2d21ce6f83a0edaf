package metrics

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
)

// ExportHistogram is histogram for the tests: h as a metric of a
// histogram named test_seconds.
func ExportHistogram(h *hdrhistogram.Histogram) prometheus.Metric {
	return histogram(prometheus.NewDesc("test_seconds", "A test histogram.", nil, nil), h, time.Now())
}
