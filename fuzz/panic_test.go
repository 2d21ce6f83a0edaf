package fuzz

import (
	"reflect"
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
