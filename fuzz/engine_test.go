package fuzz

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// TestFindsBrokenServers runs the fuzzer against servers with one defect
// each, triggered by a CVR line holding '%', and checks that it finds the
// defect, pins it on a case that holds the trigger, shrinks it and saves
// a record that replays. The servers take a bare LF for a line end, so
// the case that first shows a hang or a reset may end its CVR in CRLF, a
// bare LF or nothing, and the signature says which (after feedback, the cases a run
// draws depend on the timing of earlier replies).
func TestFindsBrokenServers(t *testing.T) {
	for _, tc := range []struct {
		name string
		bug  bug
		want Kind
		sig  string
		// endsAnyhow: the signature names how the CVR ends when it does
		// not end in CRLF
		endsAnyhow bool
	}{
		{"hang", bugHang, KindHang, "hang: no reply to CVR", true},
		{"wedge", bugWedge, KindWedge, "wedge: no reply to a valid CVR after CVR reply", false},
		{"wrong TrID", bugTrID, KindTrIDMismatch, "trid-mismatch: CVR reply to CVR", false},
		{"amplification", bugAmplify, KindAmplification, "amplification: CVR reply, not driven by one field's length", false},
		{"reset", bugReset, KindReset, "reset: reset instead of a reply to CVR", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := brokenServer(t, tc.bug)
			dir := t.TempDir()
			res := fuzzUntil(t, Config{Oracle: Oracle{Target: srv.Target()}, Seed: 7, FindingsDir: dir}, tc.want)
			f := findingOf(res, tc.want)
			if f == nil {
				t.Fatalf("no %s finding in %d cases; findings: %+v", tc.want, res.Cases, res.Findings)
			}
			sig := tc.sig
			switch cvr := f.InputCVR; {
			case !tc.endsAnyhow || bytes.HasSuffix(cvr, []byte("\r\n")):
			case bytes.HasSuffix(cvr, []byte("\n")):
				sig += " ending in a bare LF"
			default:
				sig += " sent without a line end"
			}
			if f.Signature != sig {
				t.Errorf("signature %q for the CVR %q, want %q", f.Signature, f.InputCVR, sig)
			}
			if !bytes.Contains(f.MinimizedCVR, []byte("%")) || !bytes.Contains(f.InputCVR, []byte("%")) {
				t.Errorf("input %s minimised to %s: want both to hold the trigger %%", f.Input, f.Minimized)
			}
			if len(f.MinimizedVER)+len(f.MinimizedCVR) > len(f.InputVER)+len(f.InputCVR) {
				t.Errorf("minimised %s is longer than the input %s", f.Minimized, f.Input)
			}
			if !f.Reproduced || len(f.Mutators) == 0 || f.Seed != 7 {
				t.Errorf("finding %+v: want reproduced, mutator names and seed 7", f)
			}
			data, err := os.ReadFile(f.File)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := corpus.Unmarshal(data); err != nil || !bytes.Equal(got.CVR, f.MinimizedCVR) {
				t.Errorf("saved input %q (%v), want the minimised CVR %q", data, err, f.MinimizedCVR)
			}
			rec, err := ReadRecord(f.Record)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Signature != f.Signature || !strings.HasPrefix(rec.Replay, "cvrswarm replay -timeout 200ms ") {
				t.Errorf("record %+v: want the signature and a replay command", rec)
			}
			// Replaying the record against the broken server reproduces it.
			o := &Oracle{Target: srv.Target(), Timeout: 200 * time.Millisecond}
			inputs, err := LoadInputs(dir)
			if err != nil {
				t.Fatal(err)
			}
			results, err := o.Replay(context.Background(), inputs)
			if err != nil {
				t.Fatal(err)
			}
			same := false
			for _, r := range results {
				same = same || (r.Same && r.Input.Record.Signature == sig)
			}
			if !same {
				t.Errorf("replay of %s: %+v, want the signature again", dir, results)
			}
		})
	}
}

// TestFindsCrashOfExecTarget runs a server that panics on '%' with -exec:
// the crash is found, signed by the panic message and top frames,
// shrunk against restarted processes, and the process is restarted.
func TestFindsCrashOfExecTarget(t *testing.T) {
	t.Parallel()
	bin := crashServer(t)
	x, err := StartExec(context.Background(), ExecConfig{Command: ShellQuote(bin) + " {addr}"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	res := fuzzUntil(t, Config{Oracle: Oracle{Target: x}, Seed: 3, Conns: 4, FindingsDir: t.TempDir()}, KindCrash)
	f := findingOf(res, KindCrash)
	if f == nil {
		t.Fatalf("no crash found in %d cases: %+v", res.Cases, res.Findings)
	}
	const sig = `crash: panic: cannot parse "…" at main.parse < main.serve`
	if f.Signature != sig {
		t.Errorf("signature %q, want %q", f.Signature, sig)
	}
	if !strings.Contains(f.Stderr, "goroutine ") || !strings.HasPrefix(f.Stderr, "panic: cannot parse") {
		t.Errorf("stderr %q: want the panic and its stack", f.Stderr)
	}
	if f.Exit != "exit status 2" || !bytes.Contains(f.MinimizedCVR, []byte("%")) {
		t.Errorf("exit %q, minimised %s: want exit status 2 and the trigger", f.Exit, f.Minimized)
	}
	// The crash is pinned on the case that caused it, not on a case of
	// another connection that the crash cut off.
	if !f.Reproduced || !bytes.Contains(f.InputCVR, []byte("%")) || f.MinimizeRuns == 0 {
		t.Errorf("case %d %s (reproduced %v, %d minimising runs): want the case with the trigger, reproduced and shrunk",
			f.Case, f.Input, f.Reproduced, f.MinimizeRuns)
	}
	if x.Restarts() == 0 {
		t.Error("the target was never restarted")
	}
	// Examine restarts the target the run may have left down. A case the
	// run's cancel cut off in flight may still bring the process down a
	// moment later: let that settle first, or Examine sees its crash.
	x.WaitExit(context.Background(), time.Second)
	valid := corpus.Valid()[0]
	if v, err := (&Oracle{Target: x}).Examine(context.Background(), valid); err != nil || v.Kind != "" {
		t.Errorf("Examine(%s) after the run = %+v, %v; want a running target and no finding", valid.Name, v, err)
	}
}

// TestReferenceServerHasNoFindings fuzzes the reference server, strict,
// with feedback: it must show nothing.
func TestReferenceServerHasNoFindings(t *testing.T) {
	t.Parallel()
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	res, err := Run(context.Background(), Config{Oracle: Oracle{Target: msnp.TCPTarget(srv.Addr()), Strict: true},
		Seed: 1, Cases: 3000, SequenceShare: DefaultSequenceShare})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 {
		t.Errorf("%d findings against the reference server, want none: %+v", len(res.Findings), res.Findings)
	}
	if res.Cases != 3000 || res.Stopped != "cases" {
		t.Errorf("ran %d cases, stopped by %q; want 3000, cases", res.Cases, res.Stopped)
	}
	if res.NewInputs == 0 {
		t.Error("feedback added no input to the working corpus")
	}
	if len(res.Series) == 0 || res.Series[len(res.Series)-1].Cases != res.Cases {
		t.Errorf("series %+v: want points ending at %d cases", res.Series, res.Cases)
	}
}

// TestRunIsDeterministic runs twice with the same seed, with feedback,
// against the reference server and against a lenient server, whose
// ignored lines leave cases parked while the probe is answered. The
// first two epochs derive from the seeds alone: every case of them must
// be the same. Later epochs derive from what replies earlier ones drew,
// which a busy machine can change (a reply later than the learned wait
// draws a probe, and the probe's reply joins the observation); that the
// corpus grows the same from the same observations, in whatever order
// they come, is TestFeedbackIsOrderFree's.
func TestRunIsDeterministic(t *testing.T) {
	t.Parallel()
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for name, target := range map[string]msnp.Target{"reference": msnp.TCPTarget(srv.Addr()), "lenient": script{answer: lenient}.start(t).Target()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			digest := func(seed uint64) map[uint64][32]byte {
				var mu sync.Mutex
				got := map[uint64][32]byte{}
				cfg := Config{Oracle: Oracle{Target: target}, Seed: seed, Cases: 3 * EpochSize, Conns: 3, SequenceShare: DefaultSequenceShare}
				cfg.onCase = func(c Case) {
					h := sha256.Sum256(append(append(append([]byte(nil), c.VER...), 0), c.CVR...))
					mu.Lock()
					got[c.Index] = h
					mu.Unlock()
				}
				if _, err := Run(context.Background(), cfg); err != nil {
					t.Fatal(err)
				}
				return got
			}
			a, b, c := digest(5), digest(5), digest(6)
			if len(a) != 3*EpochSize {
				t.Fatalf("%d cases, want %d", len(a), 3*EpochSize)
			}
			same := 0
			for i, h := range a {
				if i < 2*EpochSize && b[i] != h {
					t.Fatalf("case %d differs between two runs with seed 5", i)
				}
				if c[i] == h {
					same++
				}
			}
			if same > len(a)/10 {
				t.Errorf("%d of %d cases equal with another seed", same, len(a))
			}
		})
	}
}

// TestReproducedCaseReplacesUnconfirmedBlame records a crash first on a
// case that did not reproduce it (a process that died while another
// connection's case ran), then on one that does: the finding takes the
// second case, input and file, and keeps counting hits.
func TestReproducedCaseReplacesUnconfirmedBlame(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := New(Config{Oracle: Oracle{Target: msnp.TCPTarget("127.0.0.1:1")}, FindingsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f.cancel = func() {}
	v := Verdict{Kind: KindCrash, Signature: "crash: panic: boom at main.parse"}
	bystander := Case{Case: caseOf("VER 1 MSNP8 CVR0\r\n", "CVR 2 0x0409 winnt\r\n"), Index: 5, Mutators: []string{"field-drop"}}
	culprit := Case{Case: caseOf("VER 1 MSNP8 CVR0\r\n", "CVR 3 %\r\n"), Index: 9, Mutators: []string{"text-silly"}}
	f.record(bystander, v, false)
	first := f.findings[v.Signature].File
	f.record(culprit, v, true)
	f.record(bystander, v, false)
	res := f.result(time.Second, "cases")
	if len(res.Findings) != 1 {
		t.Fatalf("%d findings, want 1", len(res.Findings))
	}
	got := res.Findings[0]
	if got.Case != 9 || !got.Reproduced || got.Input != quoteCase(culprit.Case) || got.Hits != 3 || got.Mutators[0] != "text-silly" {
		t.Errorf("finding: case %d, reproduced %v, input %s, %d hits, mutators %v; want case 9, reproduced, %s, 3 hits, text-silly",
			got.Case, got.Reproduced, got.Input, got.Hits, got.Mutators, quoteCase(culprit.Case))
	}
	if _, err := os.Stat(first); first == got.File || !os.IsNotExist(err) {
		t.Errorf("input file %s of the first blame still there (%v) or reused, want it replaced by %s", first, err, got.File)
	}
	rec, err := ReadRecord(got.Record)
	if err != nil || rec.Case != 9 {
		t.Errorf("record: case %d, %v; want 9", rec.Case, err)
	}
}

// TestFeedbackIsOrderFree feeds the same observations of three epochs to
// the feedback twice, in case order with each block done at once, and
// shuffled with the blocks done in reverse: the corpus each epoch's cases
// derive from must be the same.
func TestFeedbackIsOrderFree(t *testing.T) {
	seeds := corpus.Valid()[:2]
	type obs struct {
		c   Case
		key string
	}
	var all []obs
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range uint64(3 * EpochSize) {
		c := Case{Case: corpus.Case{CVR: []byte(fmt.Sprintf("CVR %d x\r\n", i))}, Index: i}
		all = append(all, obs{c, fmt.Sprintf("k%d", rng.IntN(40))}) // keys recur within and across epochs
	}
	grow := func(shuffle bool) [][]corpus.Case {
		fb := newFeedback(seeds, false)
		order := slices.Clone(all)
		blocks := make([]uint64, 3*blocksPerEpoch)
		for i := range blocks {
			blocks[i] = uint64(i)
		}
		if shuffle {
			r := rand.New(rand.NewPCG(1, 2))
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			slices.Reverse(blocks)
		}
		for _, o := range order {
			fb.observe(o.c, o.key)
		}
		for _, b := range blocks {
			fb.blockDone(b)
		}
		var bases [][]corpus.Case
		for e := uint64(2); e < 5; e++ {
			got, err := fb.bases(context.Background(), e*blocksPerEpoch)
			if err != nil {
				t.Fatal(err)
			}
			bases = append(bases, got)
		}
		return bases
	}
	inOrder, shuffled := grow(false), grow(true)
	if !reflect.DeepEqual(inOrder, shuffled) {
		t.Errorf("the corpus grew differently from the same observations:\n in order %v\n shuffled %v", inOrder, shuffled)
	}
	if n := len(inOrder[2]); n <= len(seeds) || n > len(seeds)+40 {
		t.Errorf("after three epochs the corpus holds %d inputs, want the seeds and some of the 40 keys", n)
	}
}
