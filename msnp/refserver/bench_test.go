package refserver_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/msnptest"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

// Pipelined load for the benchmarks: benchConns loopback connections, each
// writing benchDepth CVRs at once and reading every reply before the
// next batch.
const (
	benchConns = 64
	benchDepth = 32
	benchCVR   = "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 8.5.1302 BC01 user@example.com\r\n"
)

// benchServer is a server under load: where it listens, the reply one
// benchCVR gets from it, and how to stop it.
type benchServer struct {
	name  string
	start func() (addr string, stop func(), err error)
	reply string
}

// benchConfig makes the reference server's reply the canned server's,
// byte for byte, so that the two differ only in what they do per line.
var benchConfig = refserver.Config{Recommended: "8.5.1302", Minimum: "8.1.0178",
	DownloadURL: "http://example.com/setup.exe", FallbackURL: "http://example.com"}

var benchServers = []benchServer{
	{name: "refserver", reply: "CVR 2" + msnptest.CannedCVR, start: func() (string, func(), error) {
		srv, err := refserver.Listen("127.0.0.1:0", benchConfig)
		if err != nil {
			return "", nil, err
		}
		return srv.Addr(), func() { srv.Close() }, nil
	}},
	{name: "canned", reply: "CVR 2" + msnptest.CannedCVR, start: func() (string, func(), error) {
		srv, err := msnptest.NewCanned()
		if err != nil {
			return "", nil, err
		}
		return srv.Addr(), srv.Close, nil
	}},
}

// loadConn is one client connection of the load, past its VER exchange.
type loadConn struct {
	conn  net.Conn
	batch []byte // benchDepth CVRs
	want  int    // bytes of replies to one batch
	buf   []byte
}

func dialLoad(addr, reply string) (*loadConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &loadConn{conn: conn, batch: bytes.Repeat([]byte(benchCVR), benchDepth),
		want: benchDepth * len(reply), buf: make([]byte, 64<<10)}
	conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := conn.Write([]byte("VER 1 MSNP15 CVR0\r\n")); err != nil {
		conn.Close()
		return nil, err
	}
	if n, err := io.ReadAtLeast(conn, c.buf, len("VER 1 MSNP15\r\n")); err != nil || string(c.buf[:n]) != "VER 1 MSNP15\r\n" {
		conn.Close()
		return nil, fmt.Errorf("VER reply %q: %v", c.buf[:n], err)
	}
	// The first batch checks the replies byte for byte.
	if _, err := conn.Write(c.batch); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := io.ReadFull(conn, c.buf[:c.want]); err != nil || !bytes.Equal(c.buf[:c.want], bytes.Repeat([]byte(reply), benchDepth)) {
		conn.Close()
		return nil, fmt.Errorf("replies %.200q...: %v", c.buf[:c.want], err)
	}
	return c, nil
}

// run sends requests CVRs in batches of benchDepth (the last one may be
// shorter) and reads the replies to each batch before the next.
func (c *loadConn) run(requests int) error {
	for requests > 0 {
		k := min(requests, benchDepth)
		requests -= k
		if _, err := c.conn.Write(c.batch[:k*len(benchCVR)]); err != nil {
			return err
		}
		want := k * (c.want / benchDepth)
		for got := 0; got < want; {
			n, err := c.conn.Read(c.buf[:want-got])
			if err != nil {
				return err
			}
			got += n
		}
	}
	return nil
}

// startLoad starts srv and opens benchConns connections to it.
func startLoad(srv benchServer) (conns []*loadConn, stop func(), err error) {
	addr, stopSrv, err := srv.start()
	if err != nil {
		return nil, nil, err
	}
	stop = func() {
		for _, c := range conns {
			c.conn.Close()
		}
		stopSrv()
	}
	for range benchConns {
		c, err := dialLoad(addr, srv.reply)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("%s: %w", srv.name, err)
		}
		conns = append(conns, c)
	}
	return conns, stop, nil
}

// drive sends requests CVRs spread evenly over conns at once and waits for
// every reply. It returns how long that took.
func drive(conns []*loadConn, requests int) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	start := time.Now()
	for i, c := range conns {
		share := requests / len(conns)
		if i < requests%len(conns) {
			share++
		}
		wg.Go(func() { errs[i] = c.run(share) })
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// BenchmarkServe measures the requests per second a server answers under
// pipelined load from 64 loopback connections: the reference server, and
// msnptest.Canned, which answers every line without parsing it. Each op
// is one request. The two are run in the same process and should be
// compared in the same run; BenchmarkServeRatio interleaves them.
func BenchmarkServe(b *testing.B) {
	for _, srv := range benchServers {
		b.Run(srv.name, func(b *testing.B) {
			conns, stop, err := startLoad(srv)
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			b.ReportAllocs()
			b.ResetTimer()
			d, err := drive(conns, b.N)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/d.Seconds(), "req/s")
		})
	}
}

// BenchmarkServeRatio runs the reference server and the canned server in
// alternating rounds of equal load, so that both see the same machine
// noise, and reports each one's requests per second and their ratio
// (refserver/canned). Each op is one round of 64 x 32 x 8 requests to
// each server.
func BenchmarkServeRatio(b *testing.B) {
	type side struct {
		conns []*loadConn
		n     int
		d     time.Duration
	}
	sides := make([]*side, len(benchServers))
	for i, srv := range benchServers {
		conns, stop, err := startLoad(srv)
		if err != nil {
			b.Fatal(err)
		}
		defer stop()
		sides[i] = &side{conns: conns}
	}
	const round = benchConns * benchDepth * 8
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range sides {
			s := sides[(i+j)%len(sides)] // alternate which goes first
			d, err := drive(s.conns, round)
			if err != nil {
				b.Fatal(err)
			}
			s.n += round
			s.d += d
		}
	}
	ref := float64(sides[0].n) / sides[0].d.Seconds()
	canned := float64(sides[1].n) / sides[1].d.Seconds()
	b.ReportMetric(ref, "refserver-req/s")
	b.ReportMetric(canned, "canned-req/s")
	b.ReportMetric(ref/canned, "ratio")
}

var benchLine = []byte(benchCVR[:len(benchCVR)-2])

// BenchmarkHotPath measures what the server does with one valid CVR line:
// parse it, judge it and append the reply.
func BenchmarkHotPath(b *testing.B) {
	v, err := msnp.Lookup("MSNP15")
	if err != nil {
		b.Fatal(err)
	}
	tmpl := msnp.Reply{Kind: msnp.ReplyCVR, Command: "CVR", CVR: msnp.CVRReply{Recommended: refserver.DefaultRecommended,
		Recommended2: refserver.DefaultRecommended, Minimum: refserver.DefaultMinimum,
		DownloadURL: refserver.DefaultDownloadURL, FallbackURL: refserver.DefaultFallbackURL, Params: 5}}
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		req, err := msnp.ParseRequest(benchLine)
		if err != nil {
			b.Fatal(err)
		}
		if code, why := msnp.CheckRequest(req, v); code != 0 {
			b.Fatal(why)
		}
		r := tmpl
		r.TrID = req.TrID
		out = r.Append(out[:0])
	}
}
