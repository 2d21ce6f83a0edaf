// Package fuzz is cvrswarm's network fuzzer for MSNP servers: it sends a
// valid VER and then mutated CVR requests (and, for a share of cases,
// mutated sequences: CVR before VER, VER twice, two CVRs, a mutated VER),
// judges every exchange with an oracle, pins each failure on the case that
// caused it, shrinks it against the live target, de-duplicates by
// signature and saves it in the `go test fuzz v1` format of package
// corpus, so that a finding becomes a regression test by copying a file.
//
// The parts, from the inside out:
//
//   - a [Mutator] appends a mutated copy of a line; [Havoc] stacks several,
//     chosen by a random source, so every case is reproducible from the
//     run's seed and the case's index ([Generator]);
//   - the oracle flags crashes (the target stops accepting, or its process
//     exits), hangs, wedged connections, resets, malformed replies, TrID
//     mismatches and amplification, and, with [Config].Strict, replies
//     that deviate from the spec's (msnp.CheckRequest);
//   - [Exec] runs a target command on a free loopback address, watches it,
//     keeps the tail of its stderr (a Go panic's stack) and restarts it
//     after a crash;
//   - [Run] drives the workers, keeps a working corpus of inputs whose
//     replies showed a new sequence of reply codes (as AFLNet does), and
//     returns a [Result]; [Examine] runs one case in isolation and is what
//     [Replay] uses.
package fuzz
