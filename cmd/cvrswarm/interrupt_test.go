package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

// replyCounter is a connection that cancels a run once its server has
// written n replies in all, so that the run is interrupted mid-way
// whatever the machine's speed.
type replyCounter struct {
	net.Conn
	written *atomic.Int64
	n       int64
	cancel  context.CancelFunc
}

func (c replyCounter) Write(p []byte) (int, error) {
	if c.written.Add(int64(bytes.Count(p, []byte("\r\n")))) >= c.n {
		c.cancel()
	}
	return c.Conn.Write(p)
}

// TestInterruptWritesAndExits130: Ctrl-C (a cancelled context) on load,
// capacity, fuzz and check writes the report and the JSON of the part
// that ran, says so, and exits 130.
func TestInterruptWritesAndExits130(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		args    []string
		partial string // how the JSON says it was interrupted
	}{
		{"load", []string{"load", "-duration", "1m", "-rate", "2000/s"}, `"partial": true`},
		{"capacity", []string{"capacity", "-start", "2000/s", "-dwell", "1m"}, `"stopped": "interrupted"`},
		{"fuzz", []string{"fuzz", "-duration", "1m", "-seed", "1", "-findings", "FINDINGS"}, `"stopped": "interrupted"`},
		{"check", []string{"check"}, `"interrupted": true`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var written atomic.Int64
			srv, err := msnptest.NewServer(func(c net.Conn) {
				msnptest.Canned(replyCounter{Conn: c, written: &written, n: 50, cancel: cancel})
			})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			dir := t.TempDir()
			js := filepath.Join(dir, "run.json")
			args := append(tt.args, "-target", srv.Addr(), "-json", js)
			if tt.name != "check" {
				args = append(args, "-quiet")
			}
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "FINDINGS", filepath.Join(dir, "findings"))
			}
			var stdout, stderr bytes.Buffer
			status := run(ctx, args, &stdout, &stderr)
			if status != exitInterrupted {
				t.Fatalf("got exit status %d, want %d; stderr %q", status, exitInterrupted, stderr.String())
			}
			if !strings.Contains(stderr.String(), "cvrswarm: wrote "+js+"\n") || !strings.Contains(stderr.String(), "cvrswarm "+tt.name+": interrupted: ") {
				t.Errorf("stderr %q: want it to say it wrote %s and was interrupted", stderr.String(), js)
			}
			if b, err := os.ReadFile(js); err != nil || !bytes.Contains(b, []byte(tt.partial)) {
				t.Errorf("%s: %v; want %s in:\n%s", js, err, tt.partial, b)
			}
			if stdout.Len() == 0 {
				t.Error("no report on stdout")
			}
		})
	}
}
