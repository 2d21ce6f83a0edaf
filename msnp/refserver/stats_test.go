package refserver_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// TestStats counts the connections accepted and refused, and the CVRs
// by answer, of connections still open and of connections closed.
func TestStats(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := refserver.New(refserver.Config{MaxConns: 2, IdleTimeout: -1})
		var wg sync.WaitGroup
		serve := func() net.Conn {
			cli, sc := net.Pipe()
			wg.Go(func() { srv.ServeConn(context.Background(), sc) })
			return cli
		}
		// talk sends lines and reads the replies they draw.
		talk := func(c net.Conn, lines string, replies int) {
			go c.Write([]byte(lines))
			rd := bufio.NewReader(c)
			for range replies {
				if _, err := rd.ReadString('\n'); err != nil {
					t.Fatalf("reading a reply to %q: %v", lines, err)
				}
			}
		}
		open, closing := serve(), serve()
		talk(open, "VER 1 MSNP8 CVR0\r\n"+
			"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n"+
			"CVR 3 0x0409 winnt 5.0 i386 MSNMSGR 99.9.9999 MSMSGS example@hotmail.com\r\n", 3) // VER, CVR, 420
		talk(closing, "VER 1 MSNP8 CVR0\r\n", 1)
		refused := serve()
		if _, err := refused.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("third connection: read %v, want EOF", err)
		}
		synctest.Wait()
		if got, want := srv.Stats(), (refserver.Stats{Open: 2, Accepted: 2, Refused: 1, OK: 1, Errors: 1}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
		talk(closing, "CVR 2 spaghetti\r\n", 1) // 731, then a close
		synctest.Wait()
		unanswered := serve()
		talk(unanswered, "VER 1 MSNP8 CVR0\r\nCVR\r\n", 1) // no TrID: closed without a reply
		synctest.Wait()
		if got, want := srv.Stats(), (refserver.Stats{Open: 1, Accepted: 3, Refused: 1, OK: 1, Errors: 2, Unanswered: 1}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
		srv.Close()
		for _, c := range []net.Conn{open, closing, refused, unanswered} {
			c.Close()
		}
		wg.Wait()
	})
}
