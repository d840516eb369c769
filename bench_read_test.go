package secretcache

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The benchmarks in this file measure cache hits next to the cheapest ways
// to look up a string in memory shared between goroutines: a sync.Map and a
// map behind a sync.RWMutex. Each floor does the same work around the lookup
// as the matching cache benchmark: one lookup, one check of its result and
// one use of the value.

// benchParallelKeys are the key counts of the parallel benchmarks: one hot
// secret that every goroutine reads, and 1,000 secrets read round robin.
var benchParallelKeys = []int{1, 1000}

func BenchmarkSyncMapLoad(b *testing.B) {
	var m sync.Map
	id := benchIDs(1)[0]
	m.Store(id, benchValue)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		v, ok := m.Load(id)
		if !ok {
			b.Fatalf("key %s missing from the map", id)
		}
		n += len(v.(string))
	}
	benchSink.Add(int64(n))
}

func BenchmarkRWMutexMapLoad(b *testing.B) {
	var mu sync.RWMutex
	id := benchIDs(1)[0]
	m := map[string]string{id: benchValue}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		mu.RLock()
		v, ok := m[id]
		mu.RUnlock()
		if !ok {
			b.Fatalf("key %s missing from the map", id)
		}
		n += len(v)
	}
	benchSink.Add(int64(n))
}

// BenchmarkGetSecretString measures a cache hit of GetSecretString on one
// goroutine, with no options and no hook.
func BenchmarkGetSecretString(b *testing.B) {
	id := benchIDs(1)[0]
	c := newFilledCache(b, []string{id}, false, nil)
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		v, err := c.GetSecretString(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		n += len(v)
	}
	benchSink.Add(int64(n))
}

// parallelStart returns the index at which a RunParallel goroutine starts
// reading ids, so that goroutines do not read the same keys in step.
func parallelStart(goroutines *atomic.Int64, ids []string) int {
	return int(goroutines.Add(1)*97) % len(ids)
}

// The parallel benchmarks below repeat their loop rather than share one
// through a function value, because the indirect call would add the same
// cost to every floor and to the cache and so narrow the ratios between them.

func BenchmarkSyncMapLoadParallel(b *testing.B) {
	for _, keys := range benchParallelKeys {
		b.Run(benchKeysName(keys), func(b *testing.B) {
			var m sync.Map
			ids := benchIDs(keys)
			for _, id := range ids {
				m.Store(id, benchValue)
			}
			var goroutines atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i, n := parallelStart(&goroutines, ids), 0
				for pb.Next() {
					v, ok := m.Load(ids[i])
					if !ok {
						b.Errorf("key %s missing from the map", ids[i])
						return
					}
					n += len(v.(string))
					if i++; i == len(ids) {
						i = 0
					}
				}
				benchSink.Add(int64(n))
			})
		})
	}
}

func BenchmarkRWMutexMapLoadParallel(b *testing.B) {
	for _, keys := range benchParallelKeys {
		b.Run(benchKeysName(keys), func(b *testing.B) {
			var mu sync.RWMutex
			ids := benchIDs(keys)
			m := make(map[string]string, len(ids))
			for _, id := range ids {
				m[id] = benchValue
			}
			var goroutines atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i, n := parallelStart(&goroutines, ids), 0
				for pb.Next() {
					mu.RLock()
					v, ok := m[ids[i]]
					mu.RUnlock()
					if !ok {
						b.Errorf("key %s missing from the map", ids[i])
						return
					}
					n += len(v)
					if i++; i == len(ids) {
						i = 0
					}
				}
				benchSink.Add(int64(n))
			})
		})
	}
}

// BenchmarkGetSecretStringParallel measures cache hits of GetSecretString
// on every core: one hot secret, and 1,000 secrets read round robin.
func BenchmarkGetSecretStringParallel(b *testing.B) {
	for _, keys := range benchParallelKeys {
		b.Run(benchKeysName(keys), func(b *testing.B) {
			ids := benchIDs(keys)
			c := newFilledCache(b, ids, false, nil)
			ctx := context.Background()
			var goroutines atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i, n := parallelStart(&goroutines, ids), 0
				for pb.Next() {
					v, err := c.GetSecretString(ctx, ids[i])
					if err != nil {
						b.Error(err)
						return
					}
					n += len(v)
					if i++; i == len(ids) {
						i = 0
					}
				}
				benchSink.Add(int64(n))
			})
		})
	}
}

// BenchmarkHookGet measures the hook call that a hooked read adds: one
// dynamic call of an identity CacheHook's Get.
func BenchmarkHookGet(b *testing.B) {
	stored := &secretsmanager.GetSecretValueOutput{SecretString: aws.String(benchValue)}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		out, err := benchHook.Get(ctx, stored)
		if err != nil {
			b.Fatal(err)
		}
		n += len(*out.SecretString)
	}
	benchSink.Add(int64(n))
}

// BenchmarkCallGet measures the same hook call made the way the cache makes
// it: through callGet, which turns a panic or a nil output into an error.
func BenchmarkCallGet(b *testing.B) {
	stored := &secretsmanager.GetSecretValueOutput{SecretString: aws.String(benchValue)}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		out, err := callGet(ctx, benchHook, stored)
		if err != nil {
			b.Fatal(err)
		}
		n += len(*out.SecretString)
	}
	benchSink.Add(int64(n))
}

// BenchmarkGetSecretStringHook measures a cache hit of GetSecretString with
// an identity CacheHook.
func BenchmarkGetSecretStringHook(b *testing.B) {
	id := benchIDs(1)[0]
	c := newFilledCache(b, []string{id}, false, benchHook)
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		v, err := c.GetSecretString(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		n += len(v)
	}
	benchSink.Add(int64(n))
}

// BenchmarkBytesClone measures the copy that GetSecretBinary must make of a
// 32-byte value.
func BenchmarkBytesClone(b *testing.B) {
	value := []byte(benchValue)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n += len(bytes.Clone(value))
	}
	benchSink.Add(int64(n))
}

// BenchmarkGetSecretBinary measures a cache hit of GetSecretBinary on a
// 32-byte value, which returns a copy the caller owns.
func BenchmarkGetSecretBinary(b *testing.B) {
	id := benchIDs(1)[0]
	c := newFilledCache(b, []string{id}, true, nil)
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		v, err := c.GetSecretBinary(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		n += len(v)
	}
	benchSink.Add(int64(n))
}
