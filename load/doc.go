// Package load drives a rate-limited swarm of simulated MSNP clients
// against a server and measures it: the schedule (the offered rate as a
// pure function of elapsed time), the one pacer that turns it into due
// times with a golang.org/x/time/rate token bucket run on a virtual
// timeline (so every shard of a run derives the same sequence), the
// lanes that send each request at its due time on connections of their
// own (VER, then CVR), HDR histograms of latency, the classification of
// every reply, and the result a run writes.
package load
