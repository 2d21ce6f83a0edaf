// Package report turns what cvrswarm measured into something to read and
// look at: the text report of a load run, and charts of a load run, a
// capacity search or a fuzz session, drawn with gonum.org/v1/plot and
// written as PNG files or as one self-contained HTML page.
//
// The charts are the ones load-testing people expect: the latency
// percentile curve on the log-scaled "percentile vs. latency" axis that
// the HdrHistogram plotter draws (x = 1/(1-p), labelled 50%, 90%, 99%,
// 99.9% ...), requested vs. achieved rate over time, outcomes over time;
// for a capacity search, latency percentiles and achieved rate against the
// offered rate with the knee marked; for fuzzing, cases per second and
// findings over time. The charts over time of a load run draw the seconds
// it covers whole, leaving out its partial first and last ones; each
// chart's legend sits beside its axes, never over the data.
//
// Everything here works from saved data ([load.Result],
// [capacity.Result], a [fuzz.Result]), so a run's pictures can
// be drawn again later from its JSON file.
package report
