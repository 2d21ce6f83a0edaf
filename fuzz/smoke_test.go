package fuzz

import (
	"context"
	"testing"
	"time"

	"github.com/cvrswarm/cvrswarm/msnp"
	"github.com/cvrswarm/cvrswarm/msnp/refserver"
)

func TestSmokeRefserver(t *testing.T) {
	srv, err := refserver.Listen("127.0.0.1:0", refserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	res, err := Run(ctx, Config{Oracle: Oracle{Target: msnp.TCPTarget(srv.Addr()), Strict: true}, Seed: 1, Duration: 3 * time.Second, FindingsDir: t.TempDir()})
	t.Logf("err %v cases %d rate %.0f corpus %d unconfirmed %d stopped %s", err, res.Cases, res.CasesPerS, res.Corpus, res.Unconfirmed, res.Stopped)
	for _, f := range res.Findings {
		o := &Oracle{Target: msnp.TCPTarget(srv.Addr()), Strict: true}
		kinds := map[Kind]int{}
		for range 20 {
			v, _ := o.Examine(ctx, f.MinimizedCase())
			kinds[v.Kind]++
		}
		t.Logf("LF at %v CR at %v", bytesIdx(f.MinimizedCVR, '\n'), bytesIdx(f.MinimizedCVR, '\r'))
		t.Logf("len ver %d cvr %d: %q re-examined %v", len(f.MinimizedVER), len(f.MinimizedCVR), f.MinimizedCVR[:min(40, len(f.MinimizedCVR))], kinds)
		t.Logf("%s hits %d %s\n  in %s\n  min %s mut %v", f.Signature, f.Hits, f.Detail, f.Input[:min(len(f.Input), 200)], f.Minimized[:min(200, len(f.Minimized))], f.Mutators)
	}
}

func bytesIdx(b []byte, c byte) []int {
	var out []int
	for i, x := range b {
		if x == c {
			out = append(out, i)
		}
	}
	return out
}
