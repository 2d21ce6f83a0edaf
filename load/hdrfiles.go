package load

import (
	"fmt"
	"io"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// WriteHdrLog writes r's response times as an HdrHistogram interval log,
// one interval per second of the series, the format HistogramLogAnalyzer
// and HistogramLogProcessor read. Values are in nanoseconds, the unit
// those tools assume (they show milliseconds), so the Interval_Max column
// is in milliseconds.
func WriteHdrLog(w io.Writer, r *Result) error {
	lw := hdrhistogram.NewHistogramLogWriter(w)
	startMs := r.Start.UnixMilli()
	if len(r.Series) > 0 {
		startMs = r.Series[0].Unix * 1000
	}
	lw.SetBaseTime(startMs)
	for _, f := range []func() error{
		lw.OutputLogFormatVersion,
		func() error {
			return lw.OutputComment("cvrswarm load: response time in nanoseconds, target " + r.Target)
		},
		func() error { return lw.OutputStartTime(startMs) },
		func() error { return lw.OutputBaseTime(startMs) },
		lw.OutputLegend,
	} {
		if err := f(); err != nil {
			return fmt.Errorf("hdr log: %w", err)
		}
	}
	for _, s := range r.Series {
		us, err := DecodeHistogram(s.Hist)
		if err != nil {
			return err
		}
		h := nanos(us)
		h.SetStartTimeMs(s.Unix * 1000)
		h.SetEndTimeMs((s.Unix + 1) * 1000)
		if err := lw.OutputIntervalHistogram(h); err != nil {
			return fmt.Errorf("hdr log: %w", err)
		}
	}
	return nil
}

// nanos returns a copy of h, a histogram in microseconds, in nanoseconds:
// each recorded value's bucket, at the same precision.
func nanos(h *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	out := hdrhistogram.New(HistogramLowest*1000, HistogramHighest*1000, HistogramDigits)
	for _, b := range h.Distribution() {
		if b.Count > 0 {
			out.RecordValues(b.From*1000, b.Count)
		}
	}
	return out
}

// WritePercentiles writes the percentile distribution of r's response
// times in milliseconds, the text the HdrHistogram plotter reads (.hgrm).
func WritePercentiles(w io.Writer, r *Result) error {
	h, err := DecodeHistogram(r.Histograms.Latency)
	if err != nil {
		return err
	}
	if _, err := h.PercentilesPrint(w, 5, 1000); err != nil {
		return fmt.Errorf("percentiles: %w", err)
	}
	return nil
}
