package refserver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cvrswarm/cvrswarm/corpus"
	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// FuzzServeConn sends what a corpus case holds to the server over a
// net.Pipe, as the network fuzzer does: the first value, then, once the
// server has answered or gone quiet, the second. For each role it checks
// that the server does not panic, that every reply is a whole CRLF line
// that msnp.ParseReply reads and that carries a TrID the client sent,
// that ServeConn returns once the client closes, and that no goroutine is
// left behind (synctest.Test fails on one). The clock is synctest's, so
// every wait is bounded and costs no real time.
func FuzzServeConn(f *testing.F) {
	for _, c := range corpus.Seeds() {
		f.Add(c.VER, c.CVR)
	}
	f.Fuzz(func(t *testing.T, ver, cvr []byte) {
		sent := sentTrIDs(append(ver[:len(ver):len(ver)], cvr...))
		for _, role := range []msnp.Role{msnp.NS, msnp.DS} {
			synctest.Test(t, func(t *testing.T) {
				out := fuzzConverse(t, refserver.Config{Role: role}, ver, cvr)
				checkReplies(t, out, sent)
			})
		}
	})
}

// fuzzConverse runs one conversation and returns what the server wrote.
func fuzzConverse(t *testing.T, cfg refserver.Config, first, second []byte) []byte {
	srv := refserver.New(cfg)
	defer srv.Close()
	cli, sc := net.Pipe()
	served := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		srv.ServeConn(context.Background(), sc)
		close(served)
	})
	var out []byte
	closed := false
	for _, b := range [][]byte{first, second} {
		if closed {
			break
		}
		if len(b) > 0 {
			wg.Go(func() { cli.Write(b) }) // fails if the server closes first
		}
		out, closed = readUntilQuiet(t, cli, out)
	}
	cli.Close()
	synctest.Wait()
	select {
	case <-served:
	default:
		t.Fatal("ServeConn did not return after the client closed")
	}
	wg.Wait()
	return out
}

// readUntilQuiet appends what the server writes until it closes (closed
// is true) or stays silent for a second of fake time.
func readUntilQuiet(t *testing.T, cli net.Conn, out []byte) ([]byte, bool) {
	buf := make([]byte, 4096)
	for {
		cli.SetReadDeadline(time.Now().Add(time.Second))
		n, err := cli.Read(buf)
		out = append(out, buf[:n]...)
		switch {
		case err == nil:
		case err == io.EOF:
			return out, true
		case errors.Is(err, os.ErrDeadlineExceeded):
			return out, false
		default:
			t.Fatalf("client read: %v", err)
		}
	}
}

// sentTrIDs returns the TrID of every line of the stream the client sent,
// framed as the server frames them (lines end in LF; a CR before it is
// dropped). A line may span both values of a case.
func sentTrIDs(stream []byte) map[uint32]bool {
	ids := map[uint32]bool{}
	for line := range bytes.Lines(stream) {
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if id, ok := msnp.PeekTrID(line); ok {
			ids[id] = true
		}
	}
	return ids
}

// checkReplies checks that out is whole CRLF lines, each a reply with a
// TrID the client sent.
func checkReplies(t *testing.T, out []byte, sent map[uint32]bool) {
	t.Helper()
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatalf("server output %q does not end in CRLF", out)
	}
	for line := range bytes.Lines(out) {
		body, ok := bytes.CutSuffix(line, []byte("\r\n"))
		if !ok || bytes.ContainsAny(body, "\r\n") {
			t.Fatalf("reply %q is not one CRLF line", line)
		}
		r, err := msnp.ParseReply(body)
		if err != nil {
			t.Fatalf("reply %q: %v", body, err)
		}
		if !sent[r.TrID] {
			t.Fatalf("reply %q carries TrID %d, which the client did not send", body, r.TrID)
		}
	}
}
