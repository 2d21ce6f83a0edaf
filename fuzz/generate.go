package fuzz

import (
	"bytes"
	"math/rand/v2"
	"strconv"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
)

// Case is one fuzz input, the bytes of a corpus case, with how it was
// made: its index in the run, the mutators applied in order and the name
// of the corpus entry it was derived from.
type Case struct {
	corpus.Case
	Index    uint64
	Mutators []string
	Parent   string

	gen uint64 // the generation of an [Exec] target it ran on
}

// BlockSize is how many consecutive cases share a parent: a worker takes
// a block at a time, so that its connection, opened with the parent's
// VER, is reused while the target stays healthy.
const BlockSize = 16

// DefaultSequenceShare is the share of cases that also mutate the
// sequence of commands when the command line is not told otherwise.
const DefaultSequenceShare = 0.1

// The sequence mutations, recorded with the mutators of a case.
const (
	SeqCVRFirst   = "seq-cvr-first"   // no VER: the CVR comes first
	SeqVERTwice   = "seq-ver-twice"   // two VER lines
	SeqTwoCVR     = "seq-two-cvr"     // the mutated CVR, then a second CVR
	SeqMutatedVER = "seq-mutated-ver" // the VER line mutated too
	SeqPipelined  = "seq-pipelined"   // two to four valid CVR lines in one write, then the mutated one
)

// Generator makes the case of a given index: the same seed, index and
// bases give the same case, whatever else happened in the run.
// A Generator is not safe for concurrent use.
type Generator struct {
	// Seed is the run's seed.
	Seed uint64
	// Havoc mutates the lines; its zero value uses every mutator.
	Havoc Havoc
	// SequenceShare is the share of cases, from 0 to 1, that also mutate
	// the sequence.
	SequenceShare float64

	pcg rand.PCG
	rng *rand.Rand
}

// parentSalt keeps the parent choice independent of the mutations.
const parentSalt = 0x9e3779b97f4a7c15

// Generate returns case index, derived from one of bases (which must not
// be empty): the parent is chosen per block of BlockSize cases, the
// mutations per case.
func (g *Generator) Generate(index uint64, bases []corpus.Case) Case {
	if g.rng == nil {
		g.rng = rand.New(&g.pcg)
	}
	g.pcg.Seed(g.Seed^parentSalt, index/BlockSize)
	parent := bases[g.rng.IntN(len(bases))]
	g.pcg.Seed(g.Seed, index)
	rng := g.rng

	c := Case{Index: index, Parent: parent.Name}
	c.VER = parent.VER
	var cvr []byte
	cvr, c.Mutators = g.Havoc.Apply(nil, parent.CVR, rng, nil)
	if g.SequenceShare > 0 && rng.Float64() < g.SequenceShare {
		switch seq := rng.IntN(5); {
		case seq == 0 || len(parent.VER) == 0:
			c.VER = nil
			c.Mutators = append(c.Mutators, SeqCVRFirst)
		case seq == 1:
			c.VER = append(bytes.Clone(parent.VER), bumpTrID(firstLine(parent.VER))...)
			c.Mutators = append(c.Mutators, SeqVERTwice)
		case seq == 2:
			second := parent.CVR
			if rng.IntN(2) == 0 {
				second, c.Mutators = g.Havoc.Apply(nil, parent.CVR, rng, c.Mutators)
			}
			cvr = append(cvr, bumpTrID(firstLine(second))...)
			c.Mutators = append(c.Mutators, SeqTwoCVR)
		case seq == 3:
			c.VER, c.Mutators = g.Havoc.Apply(nil, parent.VER, rng, c.Mutators)
			c.Mutators = append(c.Mutators, SeqMutatedVER)
		default:
			cvr = append(pipelined(firstLine(parent.CVR), 2+rng.IntN(3)), bumpTrIDBy(cvr, 4)...)
			c.Mutators = append(c.Mutators, SeqPipelined)
		}
	}
	c.CVR = cvr
	return c
}

// firstLine returns b up to and including its first LF (all of b when it
// has none).
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1]
	}
	return b
}

// pipelined returns n copies of line in a row, the TrID one higher in
// each.
func pipelined(line []byte, n int) []byte {
	var out []byte
	for i := range n {
		out = append(out, bumpTrIDBy(line, uint32(i))...)
	}
	return out
}

// bumpTrID returns a copy of line with its TrID one higher, when it has a
// valid one.
func bumpTrID(line []byte) []byte { return bumpTrIDBy(line, 1) }

// bumpTrIDBy returns a copy of line with its TrID n higher, when it has a
// valid one that does not overflow.
func bumpTrIDBy(line []byte, n uint32) []byte {
	trid, ok := msnp.PeekTrID(line)
	if !ok || trid > 1<<32-1-n {
		return bytes.Clone(line)
	}
	i := bytes.IndexByte(line, ' ')
	rest := line[i+1:]
	j := bytes.IndexAny(rest, " \r\n")
	if j < 0 {
		j = len(rest)
	}
	out := append([]byte(nil), line[:i+1]...)
	out = strconv.AppendUint(out, uint64(trid+n), 10)
	return append(out, rest[j:]...)
}
