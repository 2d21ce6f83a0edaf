// Package load drives one rate-limited run of simulated MSNP clients
// against a server and records it: the schedule (the offered rate as a
// pure function of elapsed time), the one pacer that turns it into due
// times with a golang.org/x/time/rate token bucket run on a virtual
// timeline (so every shard of a run derives the same sequence), the
// lanes that send each request at its due time on connections of their
// own (VER, then CVR), HDR histograms of latency, the classification of
// every reply, the result a run writes, the exact merge of several runs'
// results, and SLOs judged on a result.
//
// A [Config] names what is wrong with it through [Config.Validate], one
// [*FieldError] per field at fault. The search for the highest rate a
// server sustains, built from such runs, is package
// github.com/cvrswarm/cvrswarm/load/capacity.
package load
