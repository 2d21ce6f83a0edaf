package load

import (
	"math"
	"strconv"
	"strings"
)

// Environment variables that select a shard when no -shard is given: the
// index Kubernetes sets in the pods of an Indexed Job (counting from 0),
// and the shard count cvrswarm's Job manifest sets beside it.
const (
	EnvShardIndex = "JOB_COMPLETION_INDEX"
	EnvShards     = "CVRSWARM_SHARDS"
)

// Shard is one of Count processes that share a run: Index counts from 1.
// Each offers its share of the rate, the connections and the TrIDs, so the
// Count processes together offer exactly the load one process would, with
// no request and no TrID in two of them. The zero Shard is the whole run.
type Shard struct {
	Index, Count int
}

// Sharded reports whether the run is split (Count > 1).
func (s Shard) Sharded() bool { return s.Count > 1 }

// String returns "i/n", or "" for the whole run.
func (s Shard) String() string {
	if !s.Sharded() {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// ParseShard reads "i/n" with 1 <= i <= n.
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, erri := strconv.Atoi(a)
	n, errn := strconv.Atoi(b)
	if !ok || erri != nil || errn != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fieldErr("Shard", "%q: want i/n with 1 <= i <= n, e.g. 2/4", s)
	}
	return Shard{Index: i, Count: n}, nil
}

// ShardFromEnv reads the shard from [EnvShardIndex] (counting from 0) and
// [EnvShards], through lookup (os.LookupEnv). ok is false when the index
// is not set; an index without a count, or out of range, is an error.
func ShardFromEnv(lookup func(string) (string, bool)) (sh Shard, ok bool, err error) {
	idx, ok := lookup(EnvShardIndex)
	if !ok || strings.TrimSpace(idx) == "" {
		return Shard{}, false, nil
	}
	cnt, ok := lookup(EnvShards)
	if !ok {
		return Shard{}, false, fieldErr("Shard", "%s=%s is set but %s (the shard count) is not", EnvShardIndex, idx, EnvShards)
	}
	i, erri := strconv.Atoi(strings.TrimSpace(idx))
	n, errn := strconv.Atoi(strings.TrimSpace(cnt))
	if erri != nil || errn != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, false, fieldErr("Shard", "%s=%q with %s=%q: want 0 <= index < count", EnvShardIndex, idx, EnvShards, cnt)
	}
	return Shard{Index: i + 1, Count: n}, true, nil
}

// Share returns this shard's part of a total that the shards split as
// evenly as they can (the first total%Count shards get one more), at
// least min.
func (s Shard) Share(total, min int) int {
	if !s.Sharded() {
		return max(total, min)
	}
	share := total / s.Count
	if s.Index-1 < total%s.Count {
		share++
	}
	return max(share, min)
}

// Share64 is [Shard.Share] for request counts, with no minimum.
func (s Shard) Share64(total int64) int64 {
	if !s.Sharded() {
		return total
	}
	n := int64(s.Count)
	share := total / n
	if int64(s.Index-1) < total%n {
		share++
	}
	return share
}

// trids hands out a connection's TrIDs: first, first+step, ... within one
// residue class modulo step, so that shards never share a TrID. It skips
// 0 (asynchronous server commands use it) and wraps before 2^32.
type trids struct {
	next, step uint32
}

func (s Shard) trids() trids {
	if !s.Sharded() {
		return trids{next: 1, step: 1}
	}
	return trids{next: uint32(s.Index), step: uint32(s.Count)}
}

func (t *trids) take() uint32 {
	id := t.next
	if uint64(t.next)+uint64(t.step) > math.MaxUint32 {
		t.next = id % t.step
		if t.next == 0 {
			t.next = t.step
		}
	} else {
		t.next += t.step
	}
	return id
}
