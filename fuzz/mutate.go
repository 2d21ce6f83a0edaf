package fuzz

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Mutator turns one input into a variant of it. Mutate appends a mutated
// copy of src (normally a CVR line with its CRLF) to dst and returns the
// extended slice; it never modifies src and is deterministic for the state
// of rng. Name is the short name findings record ("field-trid").
type Mutator interface {
	Name() string
	Mutate(dst, src []byte, rng *rand.Rand) []byte
}

// Defaults for [Havoc].
const (
	// DefaultMaxStack is how many mutators Havoc stacks at most on one
	// input.
	DefaultMaxStack = 4
	// DefaultMaxLen bounds Havoc's output: an overlong field reaches 1 MiB
	// and the rest of the line fits in the margin.
	DefaultMaxLen = 1<<20 + 4096
)

// Havoc stacks one or more mutators, chosen by the random source, on an
// input, as AFL's havoc stage and radamsa do. The zero value uses every
// mutator of [Mutators]. A Havoc keeps scratch buffers between calls, so
// it is not safe for concurrent use: use one per goroutine.
type Havoc struct {
	// Mutators to choose from; nil means [Mutators]().
	Mutators []Mutator
	// MaxStack is the most mutators applied to one input (at least one
	// is); 0 means DefaultMaxStack.
	MaxStack int
	// MaxLen bounds the length of the output, which is cut to it; 0 means
	// DefaultMaxLen.
	MaxLen int

	scratch [2][]byte
}

var _ Mutator = (*Havoc)(nil)

// Name returns "havoc".
func (h *Havoc) Name() string { return "havoc" }

// Mutate appends to dst a copy of src with one or more mutators applied
// one after the other.
func (h *Havoc) Mutate(dst, src []byte, rng *rand.Rand) []byte {
	out, _ := h.apply(dst, src, rng, nil, false)
	return out
}

// Apply is Mutate that also appends the names of the mutators it applied,
// in order, to names.
func (h *Havoc) Apply(dst, src []byte, rng *rand.Rand, names []string) ([]byte, []string) {
	return h.apply(dst, src, rng, names, true)
}

func (h *Havoc) apply(dst, src []byte, rng *rand.Rand, names []string, record bool) ([]byte, []string) {
	ms := h.Mutators
	if ms == nil {
		ms = defaultMutators
	}
	if len(ms) == 0 {
		return append(dst, src...), names
	}
	maxStack := h.MaxStack
	if maxStack <= 0 {
		maxStack = DefaultMaxStack
	}
	maxLen := h.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	// Small stacks are more likely: 1 with probability 1/2, 2 with 1/4...
	n := 1
	for n < maxStack && rng.IntN(2) == 0 {
		n++
	}
	cur := src
	for i := range n {
		m := ms[rng.IntN(len(ms))]
		buf := m.Mutate(h.scratch[i%2][:0], cur, rng)
		if len(buf) > maxLen {
			buf = buf[:maxLen]
		}
		h.scratch[i%2] = buf
		cur = buf
		if record {
			names = append(names, m.Name())
		}
	}
	dst = append(dst, cur...)
	for i := range h.scratch {
		if cap(h.scratch[i]) > 1<<16 {
			h.scratch[i] = nil // do not keep a megabyte around for the next short line
		}
	}
	return dst, names
}

// Mutators returns every mutator, grouped by what it knows about the
// input: "field-" mutators edit one field of the CVR grammar, "text-"
// ones treat the line as text (as radamsa does), "byte-" ones as bytes.
func Mutators() []Mutator {
	return append([]Mutator(nil), defaultMutators...)
}

// SelectMutators returns the mutators named in spec, a comma-separated
// list of names ("field-trid") and group prefixes ("field", "text",
// "byte"); "" or "all" selects every mutator.
func SelectMutators(spec string) ([]Mutator, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "all" {
		return Mutators(), nil
	}
	var out []Mutator
	seen := map[string]bool{}
	for _, want := range strings.Split(spec, ",") {
		want = strings.TrimSpace(want)
		found := false
		for _, m := range defaultMutators {
			if m.Name() == want || strings.HasPrefix(m.Name(), want+"-") {
				found = true
				if !seen[m.Name()] {
					seen[m.Name()] = true
					out = append(out, m)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown mutator %q (want a name such as field-trid, or field, text, byte)", want)
		}
	}
	return out, nil
}
