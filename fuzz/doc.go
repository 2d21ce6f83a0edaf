// Package fuzz is cvrswarm's network fuzzer for MSNP servers: it sends a
// valid VER and then mutated CVR requests (and, for a share of cases,
// mutated sequences: CVR before VER, VER twice, two CVRs, a mutated VER,
// valid CVRs pipelined in one write), judges every exchange with an
// oracle, pins each failure on the case that caused it, confirms it with
// the whole timeout, de-duplicates by signature, shrinks it against the
// live target and saves it in the `go test fuzz v1` format of package
// corpus, so that a finding becomes a regression test by copying a file.
//
// The parts, from the inside out:
//
//   - a [Mutator] appends a mutated copy of a line; [Havoc] stacks several,
//     chosen by a random source, so every case is reproducible from the
//     run's seed and the case's index ([Generator]);
//   - the [Oracle] reads each reply with msnp.ScanReply and judges what
//     was sent against what came back; each [Kind] says exactly what it
//     checks. A line that gets no reply within the quiet time is followed
//     by a probe, a valid request on a line of its own (CRLF first ends a
//     line the case left unterminated), to tell a server that ignores a
//     line from one that is stuck;
//   - [Exec] runs a target command on a free loopback address, watches it,
//     keeps the tail of its stderr (a Go panic's stack) and restarts it
//     after a crash, as soon as it accepts again;
//   - [Run] drives the workers, keeps a working corpus of inputs whose
//     replies showed a new sequence of reply codes (as AFLNet does), and
//     returns a [Result]; [Oracle.Examine] runs one case in isolation and
//     is what [Oracle.Replay] uses.
//
// # Speed
//
// A run learns how long the target takes to answer a line: once it has
// 256 reply times it waits max(20ms, 50 × their p99) for a reply, and
// probes after max(2ms, 5 × p99), with Oracle.Timeout as the bound. A case
// that shows the signature of a confirmed finding is a hit: counted, not
// confirmed again; a crash of an [Exec] target whose panic is known is
// counted and the target restarted at once. A new signature is confirmed
// on a fresh connection with the whole timeout while the other workers go
// on (a crash is pinned with the target to itself), recorded at once, and
// shrunk later, in steps between cases, within Config.MinimizeShare of
// the run; the shrunk input replaces the recorded one only once it shows
// the signature with the whole timeout.
//
// # Amplification
//
// The replies to one write of lines amplify when their bytes are at least
// Oracle.AmplifyFactor (2) times the request bytes they answer, and at
// least Oracle.AmplifyFloor (256) bytes for each line. The request bytes
// are the write's, and those of a line the write before left unterminated
// when this write ends it; a reply line too long to read counts as the
// bytes read of it. So an echo, of any length, is never an amplification.
// The finding records both byte counts, the ratio and which write (VER or
// CVR) drew the replies. Its signature names what grew: each field of
// the line whose reply is the longest is lengthened, in turn, by up to 256
// bytes of its own, and the case run again; the field that adds the most
// reply bytes per added byte, more than 1.5 (an echo adds 1), drives the
// reply ("amplification: CVR reply grows with its client-version
// field"); when none does, the reply is "not driven by one field's
// length".
//
// # Signatures
//
// A signature is the kind, then what it concerns: the request's command
// as VER, CVR, CVQ or "other command" (case, surrounding space and
// control bytes ignored, so that a fuzzed spelling does not make a new
// finding of a known defect), and how its line ended when not with CRLF;
// a Go panic is signed by its message, with quoted text, numbers and
// addresses removed, and its top three frames.
package fuzz
