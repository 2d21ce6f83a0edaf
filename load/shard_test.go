package load

import (
	"math"
	"testing"
	"time"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in      string
		want    Shard
		wantErr bool
	}{
		{in: "1/1", want: Shard{1, 1}},
		{in: "2/4", want: Shard{2, 4}},
		{in: " 4/4 ", want: Shard{4, 4}},
		{in: "0/4", wantErr: true},
		{in: "5/4", wantErr: true},
		{in: "2", wantErr: true},
		{in: "a/b", wantErr: true},
		{in: "1/0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseShard(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestShardFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Shard
		wantOK  bool
		wantErr bool
	}{
		{name: "none", env: map[string]string{}},
		{name: "first pod", env: map[string]string{EnvShardIndex: "0", EnvShards: "3"}, want: Shard{1, 3}, wantOK: true},
		{name: "last pod", env: map[string]string{EnvShardIndex: "2", EnvShards: "3"}, want: Shard{3, 3}, wantOK: true},
		{name: "index without count", env: map[string]string{EnvShardIndex: "0"}, wantErr: true},
		{name: "index out of range", env: map[string]string{EnvShardIndex: "3", EnvShards: "3"}, wantErr: true},
		{name: "not a number", env: map[string]string{EnvShardIndex: "x", EnvShards: "3"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ShardFromEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if (err != nil) != tt.wantErr || ok != tt.wantOK || got != tt.want {
				t.Errorf("got %+v, %v, %v; want %+v, %v, error %v", got, ok, err, tt.want, tt.wantOK, tt.wantErr)
			}
		})
	}
}

func TestShareAddsUp(t *testing.T) {
	for _, total := range []int{1, 7, 64, 1000} {
		for n := 1; n <= 5; n++ {
			sum := 0
			var sum64 int64
			for i := 1; i <= n; i++ {
				sh := Shard{i, n}
				sum += sh.Share(total, 0)
				sum64 += sh.Share64(int64(total))
			}
			if sum != total || sum64 != int64(total) {
				t.Errorf("total %d over %d shards: got %d and %d, want %d", total, n, sum, sum64, total)
			}
		}
	}
}

func TestTrIDsStayInTheirClass(t *testing.T) {
	for _, sh := range []Shard{{}, {1, 3}, {3, 3}, {2, 5}} {
		tr := sh.trids()
		n := uint32(max(sh.Count, 1))
		class := uint32(max(sh.Index, 1)) % n
		seen := map[uint32]bool{}
		for i := 0; i < 100; i++ {
			id := tr.take()
			if id == 0 || id%n != class || seen[id] {
				t.Fatalf("shard %+v: got TrID %d (class %d), want a new non-zero TrID of class %d", sh, id, id%n, class)
			}
			seen[id] = true
		}
		top := uint32(math.MaxUint32) - 2*n
		tr.next = top - top%n + class // near the top, in the class: it must wrap within it
		if tr.next == 0 {
			tr.next = n
		}
		for i := 0; i < 10; i++ {
			id := tr.take()
			if id == 0 || id%n != class {
				t.Fatalf("shard %+v after wrapping: got TrID %d, want class %d", sh, id, class)
			}
		}
	}
}

// TestShardsSplitTheRun checks that the shards' plans add up to the whole
// run's connections, connection cap and request bound, and that each
// shard's schedule is its stride of the whole.
func TestShardsSplitTheRun(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		cfg := Config{Target: "127.0.0.1:1", Schedule: Constant(1000), Conns: 10, MaxConns: 100, Requests: 1001}
		var conns, maxConns int
		var limit int64
		for i := 1; i <= n; i++ {
			cfg.Shard = Shard{i, n}
			p, err := newPlan(cfg)
			if err != nil {
				t.Fatalf("shard %d/%d: %v", i, n, err)
			}
			conns += p.conns
			maxConns += p.maxConns
			limit += p.limit
			shard, whole := newPacer(p.sched), newPacer(cfg.Schedule)
			var want time.Duration
			for w := 0; w < i; w++ {
				want, _ = whole.next()
			}
			for k := int64(0); k < 3; k++ {
				got, _ := shard.next()
				if got != want {
					t.Errorf("shard %d/%d: request %d due at %v, want the whole run's request %d at %v", i, n, k, got, k*int64(n)+int64(i-1), want)
				}
				for range n {
					want, _ = whole.next()
				}
			}
		}
		if conns != 10 || maxConns != 100 || limit != 1001 {
			t.Errorf("%d shards: got %d connections, a cap of %d, %d requests; want 10, 100, 1001", n, conns, maxConns, limit)
		}
	}
}
