package secretcache

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
)

// heapProfilePrefix, when set, makes BenchmarkMemory write heap profiles to
// PREFIX-CLIENT.before.pprof and PREFIX-CLIENT.after.pprof, around the fill
// of its first iteration. Run it with -memprofilerate=1 so that the profiles
// record every allocation, and compare them with
// go tool pprof -base BEFORE AFTER.
var heapProfilePrefix = flag.String("secretcache.heapprofile", "",
	"path prefix of heap profiles that BenchmarkMemory writes before and after filling the cache")

// BenchmarkMemory fills a cache with 10,000 secrets of 32 bytes and reports
// the heap retained per secret once garbage collection has run:
// bytes/secret from HeapAlloc and objects/secret from HeapObjects. The
// secrets' names and the client's own copies of the secrets exist before the
// first measurement, so they are not counted. The cache itself, its index
// and its LRU list are.
//
// client=fake reads the in-memory fake client. client=sdk reads a
// secretcachetest server through the SDK, whose ARNs and UUID version IDs
// have the length of real ones.
func BenchmarkMemory(b *testing.B) {
	const secrets = 10_000
	ids := benchIDs(secrets)

	b.Run("client=fake", func(b *testing.B) {
		client := newFakeClient()
		for _, id := range ids {
			client.put(id, benchValue)
		}
		benchmarkMemory(b, "fake", client, ids)
	})
	b.Run("client=sdk", func(b *testing.B) {
		srv := newBenchServer(b)
		for _, id := range ids {
			srv.PutString(id, benchValue)
		}
		benchmarkMemory(b, "sdk", srv.Client(noRetryWait), ids)
	})
}

func benchmarkMemory(b *testing.B, clientName string, client Client, ids []string) {
	var bytes, objects float64
	for i := range b.N {
		b.StopTimer()
		profile := *heapProfilePrefix != "" && i == 0
		if profile {
			writeHeapProfile(b, *heapProfilePrefix+"-"+clientName+".before.pprof")
		}
		before := heapAfterGC()
		b.StartTimer()

		c := newBenchCache(b, client, Config{MaxCacheSize: len(ids)})
		fillConcurrently(b, c, ids)

		b.StopTimer()
		after := heapAfterGC()
		if profile {
			writeHeapProfile(b, *heapProfilePrefix+"-"+clientName+".after.pprof")
		}
		bytes += float64(after.HeapAlloc) - float64(before.HeapAlloc)
		objects += float64(after.HeapObjects) - float64(before.HeapObjects)
		if got := c.Stats().Evictions; got != 0 {
			b.Fatalf("%d secrets were evicted from a cache sized for all of them", got)
		}
		c.Close()
		b.StartTimer()
	}
	perSecret := float64(b.N) * float64(len(ids))
	b.ReportMetric(bytes/perSecret, "bytes/secret")
	b.ReportMetric(objects/perSecret, "objects/secret")
}

// fillConcurrently reads every id once from eight goroutines.
func fillConcurrently(b *testing.B, c *SecretCache, ids []string) {
	const workers = 8
	ctx := context.Background()
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				v, err := c.GetSecretString(ctx, ids[i])
				if err != nil {
					errs <- err
					return
				}
				if v != benchValue {
					errs <- fmt.Errorf("read of %s returned a value that was never stored", ids[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// heapAfterGC returns the memory statistics after two garbage collections:
// the second frees what sync.Pool moved to its victim cache in the first.
func heapAfterGC() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

// writeHeapProfile writes the heap profile as of a fresh garbage collection
// to path.
func writeHeapProfile(b *testing.B, path string) {
	b.Helper()
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("creating heap profile: %v", err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatalf("writing heap profile %s: %v", path, err)
	}
}
