package fuzz

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

const validLine = "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n"

// TestMutatorsAreNamedAndDeterministic checks every mutator: a unique
// name with its group prefix, the same output for the same random state,
// src left alone, dst's prefix kept, and a changed line most of the time.
func TestMutatorsAreNamedAndDeterministic(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Mutators() {
		t.Run(m.Name(), func(t *testing.T) {
			name := m.Name()
			if seen[name] {
				t.Fatalf("two mutators named %q", name)
			}
			seen[name] = true
			if !strings.HasPrefix(name, "field-") && !strings.HasPrefix(name, "text-") && !strings.HasPrefix(name, "byte-") {
				t.Errorf("name %q has no group prefix", name)
			}
			src := []byte(validLine)
			changed := 0
			for i := range uint64(200) {
				a := m.Mutate([]byte("prefix"), src, rand.New(rand.NewPCG(1, i)))
				b := m.Mutate(nil, src, rand.New(rand.NewPCG(1, i)))
				if !bytes.HasPrefix(a, []byte("prefix")) || !bytes.Equal(a[len("prefix"):], b) {
					t.Fatalf("state %d: %q and %q: want the same mutation after dst's prefix", i, a, b)
				}
				if string(src) != validLine {
					t.Fatalf("state %d: src changed to %q", i, src)
				}
				if !bytes.Equal(b, src) {
					changed++
				}
			}
			if changed < 100 {
				t.Errorf("changed the line %d times in 200, want most", changed)
			}
		})
	}
}

// TestMutatorShapes checks what some mutators are for.
func TestMutatorShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   func(out string) bool
		want string
	}{
		{"text-noeol", func(s string) bool { return !strings.HasSuffix(s, "\n") }, "no line end"},
		{"text-barelf", func(s string) bool { return strings.HasSuffix(s, "com\n") }, "a bare LF"},
		{"text-barecr", func(s string) bool { return strings.HasSuffix(s, "com\r") }, "a bare CR"},
		{"field-trid", func(s string) bool { return !strings.HasPrefix(s, "CVR 2 ") && strings.HasSuffix(s, "com\r\n") }, "another TrID, CRLF kept"},
		{"field-locale", func(s string) bool { return !strings.Contains(s, " 0x0409 ") }, "another locale"},
		{"field-overlong", func(s string) bool { return len(s) >= len(validLine)+127-20 }, "a field of 127 bytes or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := SelectMutators(tc.name)
			if err != nil || len(ms) != 1 {
				t.Fatalf("SelectMutators(%q) = %v, %v", tc.name, ms, err)
			}
			for i := range uint64(50) {
				out := string(ms[0].Mutate(nil, []byte(validLine), rand.New(rand.NewPCG(2, i))))
				if !tc.ok(out) {
					t.Fatalf("state %d: got %q, want %s", i, out, tc.want)
				}
			}
		})
	}
}

func TestSelectMutators(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    int
		wantErr bool
	}{
		{"", len(Mutators()), false},
		{"all", len(Mutators()), false},
		{"field", 11, false},
		{"text", 11, false},
		{"byte", 5, false},
		{"field-trid,text,field-trid", 12, false},
		{"nonsense", 0, true},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := SelectMutators(tc.spec)
			if (err != nil) != tc.wantErr || len(got) != tc.want {
				t.Errorf("SelectMutators(%q) = %d mutators, %v; want %d, error %v", tc.spec, len(got), err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestHavocStacksAndRecords checks that Havoc's zero value works, stacks
// one to MaxStack mutators, names them, and is deterministic.
func TestHavocStacksAndRecords(t *testing.T) {
	var h Havoc
	counts := map[int]int{}
	for i := range uint64(500) {
		out, names := h.Apply(nil, []byte(validLine), rand.New(rand.NewPCG(3, i)), nil)
		again := h.Mutate(nil, []byte(validLine), rand.New(rand.NewPCG(3, i)))
		if !bytes.Equal(out, again) {
			t.Fatalf("state %d: Apply %q, Mutate %q: want the same", i, out, again)
		}
		if len(names) < 1 || len(names) > DefaultMaxStack {
			t.Fatalf("state %d: %d mutators applied, want 1 to %d", i, len(names), DefaultMaxStack)
		}
		counts[len(names)]++
		if len(out) > DefaultMaxLen {
			t.Fatalf("state %d: %d bytes, want at most %d", i, len(out), DefaultMaxLen)
		}
	}
	if counts[1] == 0 || counts[2] == 0 {
		t.Errorf("stack sizes %v: want both single and stacked mutations", counts)
	}
	small := Havoc{MaxLen: 40, MaxStack: 1}
	for i := range uint64(200) {
		out, names := small.Apply(nil, []byte(validLine), rand.New(rand.NewPCG(4, i)), nil)
		if len(out) > 40 || len(names) != 1 {
			t.Fatalf("state %d: %d bytes by %v, want at most 40 by one mutator", i, len(out), names)
		}
	}
}

// FuzzHavoc checks that no mutator panics on any input and that Havoc
// keeps its size bound.
func FuzzHavoc(f *testing.F) {
	f.Add([]byte(validLine), uint64(1))
	f.Add([]byte(""), uint64(2))
	f.Add([]byte("\r\n"), uint64(3))
	f.Add([]byte("CVR"), uint64(4))
	f.Add([]byte("    \n"), uint64(5))
	f.Fuzz(func(t *testing.T, src []byte, seed uint64) {
		h := Havoc{MaxLen: 4096}
		orig := bytes.Clone(src)
		out := h.Mutate(nil, src, rand.New(rand.NewPCG(seed, 0)))
		if len(out) > 4096 {
			t.Fatalf("%d bytes, want at most 4096", len(out))
		}
		if !bytes.Equal(src, orig) {
			t.Fatal("src changed")
		}
		for _, m := range Mutators() {
			m.Mutate(nil, src, rand.New(rand.NewPCG(seed, 1)))
		}
	})
}

func BenchmarkHavoc(b *testing.B) {
	var h Havoc
	rng := rand.New(rand.NewPCG(1, 2))
	src := []byte(validLine)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst = h.Mutate(dst[:0], src, rng)
	}
}
