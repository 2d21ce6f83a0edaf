package msnp

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/cvrswarm/cvrswarm/corpus"
)

// corpusLines returns every line of the seed corpus, terminators removed.
func corpusLines() [][]byte {
	var lines [][]byte
	for _, c := range corpus.Seeds() {
		for _, b := range [][]byte{c.VER, c.CVR} {
			for _, l := range bytes.Split(b, []byte("\n")) {
				if l = bytes.TrimSuffix(l, []byte("\r")); len(l) > 0 {
					lines = append(lines, l)
				}
			}
		}
	}
	return lines
}

// FuzzParseRequest checks the round trip: a line that parses appends to
// bytes that parse to the same value.
func FuzzParseRequest(f *testing.F) {
	for _, l := range corpusLines() {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := ParseRequest(line)
		if err != nil {
			return
		}
		wire := req.Append(nil)
		if !bytes.HasSuffix(wire, []byte("\r\n")) || bytes.Count(wire, []byte("\n")) != 1 {
			t.Fatalf("Append(%+v) = %q: want one CRLF-terminated line", req, wire)
		}
		again, err := ParseRequest(wire[:len(wire)-2])
		if err != nil {
			t.Fatalf("%q parsed, but its encoding %q does not: %v", line, wire, err)
		}
		if again != req {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", line, again, req)
		}
		if !bytes.Equal(req.Append(nil), wire) {
			t.Fatalf("Append is not deterministic for %+v", req)
		}
	})
}

// FuzzParseReply checks the same round trip for replies.
func FuzzParseReply(f *testing.F) {
	for _, l := range []string{
		"CVR 2 7.0.0813 7.0.0813 6.2.0205 http://example.com/setup.exe http://messenger.msn.com",
		"CVR 2 1.0.0000 1.0.0000 7.0.0425", "CVQ 2 5.0.0537 5.0.0537 1.0.0863 http://a http://b",
		"420 3", "710 5", "731 6", "VER 1 MSNP8", "VER 1 MSNP13 CVR0", "VER 2 CVR0", "VER 1 0",
		"CVR 2 8.0.0566 8.0.0566 8.0.0566  http://x http://y ",
	} {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseReply(line)
		if err != nil {
			return
		}
		wire := r.Append(nil)
		again, err := ParseReply(wire[:len(wire)-2])
		if err != nil {
			t.Fatalf("%q parsed, but its encoding %q does not: %v", line, wire, err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", line, again, r)
		}
	})
}

// FuzzCheckRequest checks that judging a request never panics and always
// gives one of the CVR codes with a reason.
func FuzzCheckRequest(f *testing.F) {
	for _, l := range corpusLines() {
		f.Add(l, uint8(8))
	}
	f.Fuzz(func(t *testing.T, line []byte, n uint8) {
		req, err := ParseRequest(line)
		if err != nil {
			return
		}
		d := CVR0
		if k := int(n) % (HighestVersion + 1); k >= LowestVersion {
			d = versions[k].Dialect
		}
		v, err := Lookup(d)
		if err != nil {
			t.Fatal(err)
		}
		switch code, reason := CheckRequest(req, v); code {
		case 0:
			if reason != "" {
				t.Fatalf("accepted with reason %q", reason)
			}
		case CodeInvalidClient, CodeInvalidLocale, CodeMalformedCVR:
			if reason == "" {
				t.Fatalf("code %d without a reason", code)
			}
		default:
			t.Fatalf("CheckRequest(%q, %s) = %d", line, d, code)
		}
	})
}
