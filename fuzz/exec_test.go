package fuzz

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"./srv -listen {addr}", []string{"./srv", "-listen", "{addr}"}, false},
		{`srv  'a b'  "c \"d\"" e\ f`, []string{"srv", "a b", `c "d"`, "e f"}, false},
		{`srv ''`, []string{"srv", ""}, false},
		{`srv 'open`, nil, true},
		{"   ", nil, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := SplitCommand(tc.in)
			if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SplitCommand(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// TestExecWatchesAndRestarts starts the crash server, kills it through a
// case, and checks that the exit and the panic are seen and that a
// restart brings it back on the same address.
func TestExecWatchesAndRestarts(t *testing.T) {
	t.Parallel()
	bin := crashServer(t)
	ctx := context.Background()
	x, err := StartExec(ctx, ExecConfig{Command: ShellQuote(bin) + " {addr}"})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if !strings.HasPrefix(x.Addr(), "127.0.0.1:") || x.Generation() != 1 {
		t.Fatalf("addr %q, generation %d: want loopback and 1", x.Addr(), x.Generation())
	}
	o := &Oracle{Target: x, Timeout: time.Second}
	v, err := o.Examine(ctx, caseOf("VER 1 MSNP8 CVR0\r\n", "CVR 2 100%\r\n"))
	if err != nil || v.Kind != KindCrash || v.Exit == nil || v.Exit.Code != 2 {
		t.Fatalf("Examine = %+v, %v; want a crash with exit status 2", v, err)
	}
	if _, exited := x.Exited(); !exited {
		t.Fatal("Exited reports the process running after the crash")
	}
	if err := x.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := o.Check(ctx); x.Generation() != 2 || x.Restarts() != 1 || err != nil {
		t.Errorf("after Restart: generation %d, restarts %d, check %v; want 2, 1, nil", x.Generation(), x.Restarts(), err)
	}
}

func TestStartExecErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := StartExec(ctx, ExecConfig{Command: "true"}); err == nil || !strings.Contains(err.Error(), "{addr}") {
		t.Errorf("no {addr}: err %v, want one naming {addr}", err)
	}
	_, err := StartExec(ctx, ExecConfig{Command: "sh -c 'echo cannot bind >&2; exit 3' {addr}"})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "cannot bind") {
		t.Errorf("exiting command: err %v, want its exit status and last stderr line", err)
	}
}
