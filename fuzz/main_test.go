package fuzz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bug is a defect a test server has, triggered by a CVR line holding '%'.
type bug int

const (
	bugNone    bug = iota
	bugHang        // never answers, keeps the connection open
	bugWedge       // answers, then answers nothing more on that connection
	bugTrID        // answers with the TrID plus one
	bugAmplify     // answers with a 4 KiB line
	bugReset       // resets the connection
)

// brokenServer starts a lenient CVR server with the bug.
func brokenServer(t *testing.T, b bug) *msnptest.Server {
	t.Helper()
	srv, err := msnptest.NewServer(func(conn net.Conn) {
		rd := msnp.NewReader(conn, 0)
		wedged := false
		for {
			line, err := rd.ReadLine()
			if err != nil && !errors.Is(err, msnp.ErrBareLF) {
				return
			}
			trid, _ := msnp.PeekTrID(line)
			switch msnp.Verb(line) {
			case "VER":
				fmt.Fprintf(conn, "VER %d MSNP8\r\n", trid)
				continue
			case "CVR":
			default:
				return
			}
			if wedged {
				continue
			}
			if bytes.IndexByte(line, '%') >= 0 {
				switch b {
				case bugHang:
					io.Copy(io.Discard, conn)
					return
				case bugWedge:
					wedged = true
				case bugTrID:
					trid++
				case bugAmplify:
					fmt.Fprintf(conn, "CVR %d 7.0.0813 7.0.0813 6.2.0205 http://example.com/%s\r\n", trid, strings.Repeat("a", 4096))
					continue
				case bugReset:
					conn.(*net.TCPConn).SetLinger(0)
					conn.Close()
					return
				}
			}
			fmt.Fprintf(conn, "CVR %d 7.0.0813 7.0.0813 6.2.0205 http://example.com/setup.exe http://example.com\r\n", trid)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

var (
	crashServerOnce sync.Once
	crashServerPath string
	crashServerErr  error
)

// crashServer builds testdata/crashserver once per test binary.
func crashServer(t testing.TB) string {
	t.Helper()
	crashServerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cvrswarm-crashserver")
		if err != nil {
			crashServerErr = err
			return
		}
		crashServerPath = filepath.Join(dir, "crashserver")
		gobin, err := exec.LookPath("go")
		if err != nil {
			crashServerErr = err
			return
		}
		out, err := exec.Command(gobin, "build", "-o", crashServerPath, "./testdata/crashserver").CombinedOutput()
		if err != nil {
			crashServerErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if crashServerErr != nil {
		t.Fatal(crashServerErr)
	}
	return crashServerPath
}

// fuzzUntil runs the fuzzer until a finding of the kind shows up and is
// shrunk (with no cap on the time shrinking takes), for at most 20
// seconds, and returns the result.
func fuzzUntil(t *testing.T, cfg Config, want Kind) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg.onShrunk = func(f Finding) {
		if f.Kind == want {
			cancel()
		}
	}
	if cfg.MinimizeShare == 0 {
		cfg.MinimizeShare = 1
	}
	if cfg.Oracle.Timeout == 0 {
		cfg.Oracle.Timeout = 200 * time.Millisecond
	}
	if cfg.Conns == 0 {
		cfg.Conns = 2
	}
	if cfg.MinimizeRuns == 0 {
		cfg.MinimizeRuns = 60
	}
	if cfg.SequenceShare == 0 {
		cfg.SequenceShare = DefaultSequenceShare
	}
	if cfg.MinimizeTime == 0 {
		cfg.MinimizeTime = 1500 * time.Millisecond
	}
	res, err := Run(ctx, cfg)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func findingOf(res Result, k Kind) *Finding {
	for i := range res.Findings {
		if res.Findings[i].Kind == k {
			return &res.Findings[i]
		}
	}
	return nil
}

func caseOf(ver, cvr string) corpus.Case { return corpus.Case{VER: []byte(ver), CVR: []byte(cvr)} }
