package fuzz

import (
	"reflect"
	"strings"
	"testing"
)

const goPanic = `2024/01/02 server starting
panic: runtime error: index out of range [7] with length 3

goroutine 18 [running]:
main.parseLocale({0xc000016090, 0x4a})
	/src/server/parse.go:23 +0x1f4
main.handle({0x5b3e40, 0xc000012345})
	/src/server/main.go:40 +0x25
main.serve.func1()
	/src/server/main.go:61 +0x9a
created by main.serve in goroutine 1
	/src/server/main.go:58 +0x1c5
`

func TestParsePanic(t *testing.T) {
	for _, tc := range []struct {
		name, stderr string
		want         Panic
		ok           bool
		sig          string
	}{
		{"index", goPanic, Panic{Message: "panic: runtime error: index out of range [7] with length 3",
			Frames: []string{"main.parseLocale", "main.handle", "main.serve.func1"}}, true,
			"panic: runtime error: index out of range [N] with length N at main.parseLocale < main.handle < main.serve.func1"},
		{"with runtime frames", "panic: cannot parse \"CVR 2 %\"\n\ngoroutine 5 [running]:\npanic({0x4b2ea0?, 0xc0000a2018?})\n\t/go/src/runtime/panic.go:791 +0x132\nmain.parse(...)\n\t/x/main.go:9\n",
			Panic{Message: `panic: cannot parse "CVR 2 %"`, Frames: []string{"main.parse"}}, true,
			`panic: cannot parse "…" at main.parse`},
		{"fatal error", "fatal error: concurrent map writes\n\ngoroutine 9 [running]:\nmain.store(0x1)\n\t/x/m.go:3 +0x1\n",
			Panic{Message: "fatal error: concurrent map writes", Frames: []string{"main.store"}}, true,
			"fatal error: concurrent map writes at main.store"},
		{"none", "listening on 127.0.0.1:1863\nbye\n", Panic{}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParsePanic(tc.stderr)
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParsePanic = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
			if ok && got.Signature() != tc.sig {
				t.Errorf("Signature() = %q, want %q", got.Signature(), tc.sig)
			}
		})
	}
}

func TestStderrExcerptStartsAtThePanic(t *testing.T) {
	got := stderrExcerpt(goPanic)
	if want := goPanic[len("2024/01/02 server starting\n"):]; got != want {
		t.Errorf("excerpt %q, want %q", got, want)
	}
}

// TestLongPanicKeepsItsSignature writes a panic that quotes a megabyte of
// input to a stderr tail, in pieces as a pipe delivers it: the tail keeps
// the panic line, cut, and the stack, and the signature is that of the
// same panic on a short input.
func TestLongPanicKeepsItsSignature(t *testing.T) {
	short := "panic: cannot parse \"CVR 2 %\"\n\ngoroutine 5 [running]:\nmain.parse({0xc000012345, 0x8})\n\t/x/main.go:58 +0x99\nmain.serve({0x53c238, 0xc000010000})\n\t/x/main.go:47 +0x22a\n"
	long := strings.Replace(short, "CVR 2 %", "CVR 2 "+strings.Repeat("a", 1<<20)+"%", 1)
	tail := &tailBuffer{max: DefaultTailSize}
	for rest := []byte("listening\n" + long); len(rest) > 0; {
		n := min(len(rest), 4093)
		tail.Write(rest[:n])
		rest = rest[n:]
	}
	got := tail.String()
	if len(got) > 2*maxTailLine || !strings.HasPrefix(got, "listening\npanic: cannot parse \"CVR 2 aaa") || !strings.HasSuffix(got, "main.go:47 +0x22a\n") {
		t.Fatalf("tail %q: want the panic line cut and the whole stack", got)
	}
	p, ok := ParsePanic(got)
	want, _ := ParsePanic(short)
	if !ok || p.Signature() != want.Signature() {
		t.Errorf("signature %q (found %v), want %q", p.Signature(), ok, want.Signature())
	}
}
