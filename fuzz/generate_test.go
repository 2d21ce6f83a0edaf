package fuzz

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/cvrswarm/cvrswarm/corpus"
)

func TestGeneratorIsAFunctionOfSeedAndIndex(t *testing.T) {
	bases := corpus.Seeds()
	a, b := &Generator{Seed: 9}, &Generator{Seed: 9}
	// b generates in another order: the cases must not depend on it.
	var want []Case
	for i := range uint64(300) {
		want = append(want, a.Generate(i, bases))
	}
	for i := 299; i >= 0; i-- {
		if got := b.Generate(uint64(i), bases); !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("case %d: %+v, then %+v", i, want[i], got)
		}
	}
	other := &Generator{Seed: 10}
	same := 0
	for i := range uint64(300) {
		if reflect.DeepEqual(other.Generate(i, bases), want[i]) {
			same++
		}
	}
	if same > 30 {
		t.Errorf("%d of 300 cases equal under another seed", same)
	}
	// A block shares its parent, so its connection can be reused.
	for i := uint64(0); i < 300; i++ {
		if i%BlockSize != 0 && want[i].Parent != want[i-1].Parent {
			t.Fatalf("cases %d and %d of one block have parents %q and %q", i-1, i, want[i-1].Parent, want[i].Parent)
		}
	}
}

// TestSequenceMutations checks how each sequence mutation maps onto the
// corpus format: VER bytes, then CVR bytes.
func TestSequenceMutations(t *testing.T) {
	parent := corpus.Case{Name: "p", VER: []byte("VER 1 MSNP8 CVR0\r\n"),
		CVR: []byte("CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n")}
	g := &Generator{Seed: 1, SequenceShare: 1}
	seen := map[string]bool{}
	twoLines := 0
	for i := range uint64(400) {
		c := g.Generate(i, []corpus.Case{parent})
		seq := c.Mutators[len(c.Mutators)-1]
		seen[seq] = true
		switch seq {
		case SeqCVRFirst:
			if len(c.VER) != 0 {
				t.Fatalf("%s: VER bytes %q, want none", seq, c.VER)
			}
		case SeqVERTwice:
			if want := "VER 1 MSNP8 CVR0\r\nVER 2 MSNP8 CVR0\r\n"; string(c.VER) != want {
				t.Fatalf("%s: VER bytes %q, want %q", seq, c.VER, want)
			}
		case SeqTwoCVR:
			if !bytes.Equal(c.VER, parent.VER) {
				t.Fatalf("%s: VER %q, want the parent's", seq, c.VER)
			}
			// Half the time the second CVR is the parent's, TrID bumped.
			if bytes.HasSuffix(c.CVR, []byte("\r\nCVR 3 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n")) {
				twoLines++
			}
		case SeqMutatedVER:
			if bytes.Equal(c.VER, parent.VER) && len(c.Mutators) < 3 {
				t.Logf("%s left the VER as it was (a mutation may undo itself)", seq)
			}
		case SeqPipelined:
			// Valid lines, TrIDs 2, 3, ..., then the mutated one.
			if want := "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n" +
				"CVR 3 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n"; !bytes.HasPrefix(c.CVR, []byte(want)) {
				t.Fatalf("%s: CVR bytes %q, want them to start with %q", seq, c.CVR, want)
			}
		default:
			t.Fatalf("case %d: last mutator %q, want a sequence mutation with SequenceShare 1", i, seq)
		}
	}
	if twoLines == 0 {
		t.Error("no two-CVR case ends with the parent's CVR, TrID bumped")
	}
	if len(seen) != 5 {
		t.Errorf("sequence mutations seen: %v, want all five", seen)
	}
	none := &Generator{Seed: 1}
	for i := range uint64(200) {
		if c := none.Generate(i, []corpus.Case{parent}); !bytes.Equal(c.VER, parent.VER) {
			t.Fatalf("case %d: VER %q with no SequenceShare, want the parent's", i, c.VER)
		}
	}
}
