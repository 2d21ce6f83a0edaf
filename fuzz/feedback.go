package fuzz

import (
	"context"
	"sort"
	"strconv"
	"sync"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// feedback is the working corpus: the seeds, and every input whose
// replies showed a sequence of reply classes not seen before (AFLNet's
// state feedback). To keep cases reproducible it changes only between
// epochs of EpochSize cases, and deterministically: epoch k derives its
// cases from the corpus as it stood after epoch k-2, and an epoch's
// discoveries are taken in case order once all its cases are done.
type feedback struct {
	mu     sync.Mutex
	cond   *sync.Cond
	off    bool
	closed bool

	seeds []corpus.Case
	all   []corpus.Case // seeds, then discoveries
	seen  map[string]bool
	lens  []int // lens[e]: len(all) once epoch e was taken in

	pending   map[uint64]map[string]candidate // per epoch: the first case of each new key
	doneBlock map[uint64]bool
	watermark uint64 // every block below it is done
}

type candidate struct {
	index uint64
	key   string
	c     corpus.Case
}

const blocksPerEpoch = EpochSize / BlockSize

func newFeedback(seeds []corpus.Case, off bool) *feedback {
	fb := &feedback{off: off, seeds: seeds, all: append([]corpus.Case(nil), seeds...), seen: map[string]bool{},
		pending: map[uint64]map[string]candidate{}, doneBlock: map[uint64]bool{}}
	fb.cond = sync.NewCond(&fb.mu)
	return fb
}

// size returns how many inputs the working corpus holds.
func (fb *feedback) size() int {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return len(fb.all)
}

// bases returns the inputs the cases of a block derive from, waiting, if
// need be, for the epoch two before it to be complete.
func (fb *feedback) bases(ctx context.Context, block uint64) ([]corpus.Case, error) {
	epoch := block / blocksPerEpoch
	if fb.off || epoch < 2 {
		return fb.seeds, nil
	}
	stop := context.AfterFunc(ctx, func() {
		fb.mu.Lock()
		fb.cond.Broadcast()
		fb.mu.Unlock()
	})
	defer stop()
	fb.mu.Lock()
	defer fb.mu.Unlock()
	for uint64(len(fb.lens)) < epoch-1 {
		if ctx.Err() != nil || fb.closed {
			return nil, context.Canceled
		}
		fb.cond.Wait()
	}
	return fb.all[:fb.lens[epoch-2]], nil
}

// observe notes the reply key of a case; the first case of its epoch
// with a key not seen before is a candidate for the corpus.
func (fb *feedback) observe(c Case, key string) {
	if fb.off {
		return
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.seen[key] {
		return
	}
	epoch := c.Index / EpochSize
	m := fb.pending[epoch]
	if m == nil {
		m = map[string]candidate{}
		fb.pending[epoch] = m
	}
	if old, ok := m[key]; !ok || c.Index < old.index {
		name := "case-" + strconv.FormatUint(c.Index, 10)
		m[key] = candidate{index: c.Index, key: key, c: corpus.Case{Name: name, VER: c.VER, CVR: c.CVR}}
	}
}

// blockDone marks a block done and takes in every epoch now complete.
func (fb *feedback) blockDone(block uint64) {
	if fb.off {
		return
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.doneBlock[block] = true
	for fb.doneBlock[fb.watermark] {
		delete(fb.doneBlock, fb.watermark)
		fb.watermark++
	}
	for e := uint64(len(fb.lens)); (e+1)*blocksPerEpoch <= fb.watermark; e++ {
		cands := make([]candidate, 0, len(fb.pending[e]))
		for _, cd := range fb.pending[e] {
			cands = append(cands, cd)
		}
		sort.Slice(cands, func(i, j int) bool { return cands[i].index < cands[j].index })
		for _, cd := range cands {
			if fb.seen[cd.key] {
				continue
			}
			fb.seen[cd.key] = true
			if len(fb.all) < MaxCorpus {
				fb.all = append(fb.all, cd.c)
			}
		}
		delete(fb.pending, e)
		fb.lens = append(fb.lens, len(fb.all))
		fb.cond.Broadcast()
	}
}

// close releases every waiter.
func (fb *feedback) close() {
	fb.mu.Lock()
	fb.closed = true
	fb.cond.Broadcast()
	fb.mu.Unlock()
}
