package secretcache

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

// benchValue is the 32-byte secret value that the read benchmarks serve.
const benchValue = "0123456789abcdef0123456789abcdef"

// benchSink receives a value computed from every benchmark result, so that
// the compiler cannot drop the work being measured.
var benchSink atomic.Int64

// benchIDs returns n distinct secret names.
func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench/secret-%05d", i)
	}
	return ids
}

// benchKeysName names a sub-benchmark by the number of keys it reads.
func benchKeysName(keys int) string {
	if keys == 1 {
		return "hot"
	}
	return fmt.Sprintf("keys=%d", keys)
}

// newBenchCache returns a cache over client. The caller closes it.
func newBenchCache(tb testing.TB, client Client, cfg Config) *SecretCache {
	tb.Helper()
	c, err := New(client, cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

// newFilledCache returns a cache over the in-memory fake client in which
// every id has been read twice, so that reads of the ids are hits that make
// no LRU update. It is closed when the benchmark ends.
func newFilledCache(b *testing.B, ids []string, binary bool, hook CacheHook) *SecretCache {
	b.Helper()
	client := newFakeClient()
	for _, id := range ids {
		if binary {
			client.putBinary(id, []byte(benchValue))
		} else {
			client.put(id, benchValue)
		}
	}
	c := newBenchCache(b, client, Config{MaxCacheSize: max(len(ids), DefaultMaxCacheSize), Hook: hook})
	b.Cleanup(func() { c.Close() })

	ctx := context.Background()
	for range 2 {
		for _, id := range ids {
			var err error
			if binary {
				_, err = c.GetSecretBinary(ctx, id)
			} else {
				_, err = c.GetSecretString(ctx, id)
			}
			if err != nil {
				b.Fatalf("filling the cache: %v", err)
			}
		}
	}
	return c
}

// newBenchServer starts a secretcachetest server that is closed when the
// benchmark ends.
func newBenchServer(b *testing.B) *secretcachetest.Server {
	b.Helper()
	srv := secretcachetest.NewServer()
	b.Cleanup(srv.Close)
	return srv
}

// benchWaitIdle waits until no background refresh of id is running. It
// waits for a goroutine of the cache, never for the cache's clock.
func benchWaitIdle(b *testing.B, c *SecretCache, id string) {
	b.Helper()
	e := c.index.load(id)
	if e == nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.refreshing.Load() {
		if time.Now().After(deadline) {
			b.Fatalf("refresh of %s still running after 10 s", id)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// identityHook is a CacheHook that stores the output it is given and returns
// it unchanged, so that a benchmark measures the cost of the hook call alone.
type identityHook struct{}

func (identityHook) Put(_ context.Context, value *secretsmanager.GetSecretValueOutput) (any, error) {
	return value, nil
}

func (identityHook) Get(_ context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error) {
	return stored.(*secretsmanager.GetSecretValueOutput), nil
}

// benchHook is held in a package variable so that calls through it are
// dynamic interface calls, as they are inside the cache.
var benchHook CacheHook = identityHook{}
