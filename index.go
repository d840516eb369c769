package secretcache

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
)

// index maps secret IDs to entries. Reads take no lock and make no shared
// write: each shard publishes an immutable map through an atomic pointer,
// and writers replace it with an updated copy. Shards are sized so that each
// holds about indexShardTarget entries when the cache is full, which keeps
// the copy short.
//
// For string keys this is faster than sync.Map, whose Load hashes and
// compares keys through interfaces.
type index struct {
	seed   maphash.Seed
	mask   uint64
	shards []indexShard
}

// indexShardTarget is the number of entries per shard at full capacity. Go
// maps of a few dozen entries waste the least memory per entry, and copying
// one on a write stays cheap.
const indexShardTarget = 32

type indexShard struct {
	m  atomic.Pointer[map[string]*entry]
	mu sync.Mutex // serializes writers of m
	// The padding keeps shards on separate cache lines, so that a writer of
	// one shard does not slow readers of its neighbours.
	_ [48]byte
}

// newIndex returns an index sized for capacity entries.
func newIndex(capacity int) *index {
	n := max(capacity/indexShardTarget, 1)
	n = min(1<<bits.Len(uint(n-1)), 1<<16)
	x := &index{seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]indexShard, n)}
	for i := range x.shards {
		empty := map[string]*entry{}
		x.shards[i].m.Store(&empty)
	}
	return x
}

func (x *index) shard(id string) *indexShard {
	return &x.shards[maphash.String(x.seed, id)&x.mask]
}

// load returns the entry for id, or nil.
func (x *index) load(id string) *entry {
	return (*x.shard(id).m.Load())[id]
}

// store adds or replaces the entry for id.
func (x *index) store(id string, e *entry) {
	s := x.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.m.Load()
	m := make(map[string]*entry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[id] = e
	s.m.Store(&m)
}

// remove deletes id if it still maps to e.
func (x *index) remove(id string, e *entry) {
	s := x.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.m.Load()
	if old[id] != e {
		return
	}
	m := make(map[string]*entry, len(old))
	for k, v := range old {
		if k != id {
			m[k] = v
		}
	}
	s.m.Store(&m)
}
