package msnp_test

import (
	"bytes"
	"testing"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
)

// TestValidSeedsPassTheRules checks that every valid seed parses and is
// accepted for the dialect its VER negotiates with a server that speaks
// every dialect.
func TestValidSeedsPassTheRules(t *testing.T) {
	t.Parallel()
	for _, c := range corpus.Valid() {
		t.Run(c.Name, func(t *testing.T) {
			ver, err := msnp.ParseVER(bytes.TrimSuffix(c.VER, []byte("\r\n")))
			if err != nil {
				t.Fatalf("ParseVER: %v", err)
			}
			d := msnp.Negotiate(ver.Dialects, msnp.Dialects())
			v, err := msnp.Lookup(d)
			if err != nil {
				t.Fatalf("negotiated %q: %v", d, err)
			}
			req, err := msnp.ParseRequest(bytes.TrimSuffix(c.CVR, []byte("\r\n")))
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if code, why := msnp.CheckRequest(req, v); code != 0 {
				t.Errorf("CheckRequest(%s) = %d (%s), want 0", d, code, why)
			}
		})
	}
}
