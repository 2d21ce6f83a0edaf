package load

import (
	"bytes"
	"math/rand/v2"
	"strconv"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
)

// Mutator turns a request line into a mutated one: it appends a mutated
// copy of src to dst and returns it, deterministically for rng's state.
// The fuzz package's mutators implement it.
type Mutator interface {
	Mutate(dst, src []byte, rng *rand.Rand) []byte
}

// template is one CVR line of a dialect with its TrID left out: the
// command, then everything after the TrID, CRLF included.
type template struct {
	command string
	rest    []byte
}

func (t *template) append(b []byte, trid uint32) []byte {
	b = append(b, t.command...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(trid), 10)
	return append(b, t.rest...)
}

// lineBook holds, for each dialect a connection may negotiate, the CVR
// lines to draw from: the corpus's requests of that dialect, or, when it
// has none, those of the nearest dialect shaped for it.
type lineBook map[msnp.Dialect][]template

// newLineBook reads the CVR requests out of cases and prepares lines for
// each of the dialects.
func newLineBook(cases []corpus.Case, dialects []msnp.Dialect) (lineBook, error) {
	type seed struct {
		dialect msnp.Dialect
		number  int
		req     msnp.Request
	}
	var seeds []seed
	for _, c := range cases {
		line, _, _ := bytes.Cut(c.CVR, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		req, err := msnp.ParseRequest(line)
		if err != nil {
			continue
		}
		d := msnp.Dialect(c.Dialect())
		v, err := msnp.Lookup(d)
		if err != nil {
			d, v = msnp.CVR0, msnp.Version{}
			if req.Command == "CVR" { // a CVR without a usable VER: take it as MSNP8, the common case
				d = "MSNP8"
				v, _ = msnp.Lookup(d)
			}
		}
		seeds = append(seeds, seed{dialect: d, number: v.Number, req: req})
	}
	if len(seeds) == 0 {
		return nil, fieldErr("Cases", "no CVR or CVQ request that parses")
	}
	book := lineBook{}
	for _, d := range dialects {
		v, err := msnp.Lookup(d)
		if err != nil {
			return nil, fieldErr("Dialects", "%v", err)
		}
		var exact []msnp.Request
		for _, s := range seeds {
			if s.dialect == d {
				exact = append(exact, s.req)
			}
		}
		if len(exact) == 0 { // reshape the seeds of the nearest dialect
			best := -1
			for _, s := range seeds {
				if dist := abs(s.number - v.Number); best < 0 || dist < best {
					best = dist
				}
			}
			for _, s := range seeds {
				if abs(s.number-v.Number) == best {
					exact = append(exact, s.req)
				}
			}
		}
		for _, req := range exact {
			req = req.Shape(v, req.UserHandle)
			req.TrID = 0
			full := req.Append(nil)
			_, rest, _ := bytes.Cut(full[len(req.Command)+1:], []byte(" "))
			book[d] = append(book[d], template{command: v.Command, rest: append([]byte(" "), rest...)})
		}
	}
	return book, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
