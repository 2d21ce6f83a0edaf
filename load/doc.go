// Package load drives a rate-limited swarm of simulated MSNP clients
// against a server and measures it: the schedule of due times, the pacer
// and workers that send VER and CVR, HDR histograms of latency, the
// classification of every reply, and the result a run writes.
package load
