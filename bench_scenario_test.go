package secretcache

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

// The benchmarks in this file run one scenario per iteration against a
// secretcachetest server through the real SDK client, and report how many
// requests reached the server. Scenarios that span minutes or hours of cache
// time run on a FakeClock, so only the server's latency takes real time.
//
// Request counts come from the server, so they include the SDK's own retry
// attempts. noRetryWait keeps those attempts (three per call) but removes
// the SDK's sleep between them.

// BenchmarkConcurrentFirstReads measures 64 goroutines reading the same 10
// uncached secrets at once, with every GetSecretValue taking 5 ms. Each
// goroutine reads all 10 secrets, starting at a different one. ns/op is the
// time from the start signal until every read has returned, and
// call-latencies/op is that time divided by 5 ms.
//
// reader=client is the floor: 10 goroutines call GetSecretValue through the
// SDK client directly, one secret each, which is the least work that reading
// 10 secrets at once can take on this machine.
func BenchmarkConcurrentFirstReads(b *testing.B) {
	const (
		readers = 64
		secrets = 10
		latency = 5 * time.Millisecond
	)
	srv := newBenchServer(b)
	ids := benchIDs(secrets)
	values := make([]string, secrets)
	for i, id := range ids {
		values[i] = fmt.Sprintf("value-%d", i)
		srv.PutString(id, values[i])
	}
	srv.SetLatency(secretcachetest.OpGetSecretValue, latency)
	client := srv.Client(noRetryWait)
	ctx := context.Background()

	b.Run("reader=cache", func(b *testing.B) {
		var getCalls, describeCalls int64
		var elapsed time.Duration
		for range b.N {
			b.StopTimer()
			c := newBenchCache(b, client, Config{})
			srv.ResetCalls()
			start := make(chan struct{})
			errs := make(chan error, readers)
			var wg sync.WaitGroup
			for g := range readers {
				wg.Go(func() {
					<-start
					for k := range secrets {
						i := (g + k) % secrets
						v, err := c.GetSecretString(ctx, ids[i])
						if err != nil {
							errs <- err
							return
						}
						if v != values[i] {
							errs <- fmt.Errorf("read of %s returned the value of another secret", ids[i])
							return
						}
					}
				})
			}

			b.StartTimer()
			began := time.Now()
			close(start)
			wg.Wait()
			elapsed += time.Since(began)
			b.StopTimer()

			c.Close()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			getCalls += srv.Calls(secretcachetest.OpGetSecretValue)
			describeCalls += srv.Calls(secretcachetest.OpDescribeSecret)
			b.StartTimer()
		}
		n := float64(b.N)
		b.ReportMetric(float64(getCalls)/n, "getsecretvalue-calls/op")
		b.ReportMetric(float64(describeCalls)/n, "describesecret-calls/op")
		b.ReportMetric(float64(elapsed)/n/float64(latency), "call-latencies/op")
	})

	b.Run("reader=client", func(b *testing.B) {
		var elapsed time.Duration
		for range b.N {
			began := time.Now()
			if err := callClientConcurrently(ctx, client, ids, values); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(began)
		}
		b.ReportMetric(float64(elapsed)/float64(b.N)/float64(latency), "call-latencies/op")
	})
}

// callClientConcurrently calls GetSecretValue for every id at once, straight
// through client, and checks each value.
func callClientConcurrently(ctx context.Context, client *secretsmanager.Client, ids, values []string) error {
	errs := make(chan error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
			if err != nil {
				errs <- err
				return
			}
			if aws.ToString(out.SecretString) != values[i] {
				errs <- fmt.Errorf("GetSecretValue of %s returned the value of another secret", id)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// BenchmarkColdStart measures a service that reads 100 uncached secrets at
// start-up, each GetSecretValue taking 5 ms: from 100 goroutines at once,
// and from one goroutine in turn. The cache has no call that loads a list of
// secrets in one batch, so a service warms it with reads like these.
// reader=client-concurrent is the floor: the same 100 calls made at once
// through the SDK client directly.
func BenchmarkColdStart(b *testing.B) {
	const (
		secrets = 100
		latency = 5 * time.Millisecond
	)
	srv := newBenchServer(b)
	ids := benchIDs(secrets)
	values := make([]string, secrets)
	for i, id := range ids {
		values[i] = fmt.Sprintf("value-%d", i)
		srv.PutString(id, values[i])
	}
	srv.SetLatency(secretcachetest.OpGetSecretValue, latency)
	client := srv.Client(noRetryWait)
	ctx := context.Background()

	readConcurrently := func(c *SecretCache) error {
		errs := make(chan error, len(ids))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() {
				v, err := c.GetSecretString(ctx, id)
				if err == nil && v != values[i] {
					err = fmt.Errorf("read of %s returned the value of another secret", id)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	readSequentially := func(c *SecretCache) error {
		for i, id := range ids {
			v, err := c.GetSecretString(ctx, id)
			if err != nil {
				return err
			}
			if v != values[i] {
				return fmt.Errorf("read of %s returned the value of another secret", id)
			}
		}
		return nil
	}

	for _, run := range []struct {
		name    string
		readAll func(c *SecretCache) error
	}{
		{"reader=cache-concurrent", readConcurrently},
		{"reader=cache-sequential", readSequentially},
	} {
		b.Run(run.name, func(b *testing.B) {
			var getCalls int64
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				c := newBenchCache(b, client, Config{})
				srv.ResetCalls()
				b.StartTimer()

				began := time.Now()
				err := run.readAll(c)
				elapsed += time.Since(began)

				b.StopTimer()
				c.Close()
				if err != nil {
					b.Fatal(err)
				}
				getCalls += srv.Calls(secretcachetest.OpGetSecretValue)
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(getCalls)/n, "getsecretvalue-calls/op")
			b.ReportMetric(float64(elapsed)/n/float64(latency), "call-latencies/op")
		})
	}

	b.Run("reader=client-concurrent", func(b *testing.B) {
		var elapsed time.Duration
		for range b.N {
			began := time.Now()
			if err := callClientConcurrently(ctx, client, ids, values); err != nil {
				b.Fatal(err)
			}
			elapsed += time.Since(began)
		}
		b.ReportMetric(float64(elapsed)/float64(b.N)/float64(latency), "call-latencies/op")
	})
}

// BenchmarkBusySecret reads one secret ten times every 30 s of cache time,
// with the default refresh interval of one hour: for 24 hours with the
// version unchanged, then for one hour and one minute after a rotation. It reports the
// calls of each phase per op, and the DescribeSecret calls per refresh
// interval and per refresh while the version is unchanged.
func BenchmarkBusySecret(b *testing.B) {
	const (
		id           = "busy"
		interval     = DefaultRefreshInterval
		unchanged    = 24 // refresh intervals before the rotation
		step         = 30 * time.Second
		readsPerStep = 10
	)
	srv := newBenchServer(b)
	client := srv.Client(noRetryWait)
	ctx := context.Background()

	// readFor reads id readsPerStep times a step for d of cache time. Reads
	// return want, or old until the refresh that picks up want has finished.
	readFor := func(c *SecretCache, clock *secretcachetest.FakeClock, d time.Duration, old, want string) {
		for elapsed := time.Duration(0); elapsed < d; elapsed += step {
			for range readsPerStep {
				v, err := c.GetSecretString(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				if v != want && v != old {
					b.Fatalf("read of %s returned a value that was never current", id)
				}
			}
			benchWaitIdle(b, c, id)
			clock.Advance(step)
		}
	}

	var describeSteady, getSteady, refreshesSteady, describeRotated, getRotated int64
	for i := range b.N {
		before, after := fmt.Sprintf("value-%d", 2*i), fmt.Sprintf("value-%d", 2*i+1)
		srv.PutString(id, before)
		clock := secretcachetest.NewFakeClock(testStart)
		c := newBenchCache(b, client, Config{Clock: clock})
		readFor(c, clock, step, before, before) // the first read fetches the secret

		srv.ResetCalls()
		refreshes := c.Stats().Refreshes
		readFor(c, clock, unchanged*interval, before, before)
		describeSteady += srv.Calls(secretcachetest.OpDescribeSecret)
		getSteady += srv.Calls(secretcachetest.OpGetSecretValue)
		refreshesSteady += c.Stats().Refreshes - refreshes

		// A refresh is due at most one interval after the previous one, and
		// the read that starts it comes up to one step later.
		srv.PutString(id, after)
		srv.ResetCalls()
		readFor(c, clock, interval+2*step, before, after)
		if v, err := c.GetSecretString(ctx, id); err != nil || v != after {
			b.Fatalf("one refresh interval after the rotation, the read returned an error %v or the old value", err)
		}
		describeRotated += srv.Calls(secretcachetest.OpDescribeSecret)
		getRotated += srv.Calls(secretcachetest.OpGetSecretValue)
		c.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(describeSteady)/n/unchanged, "describesecret-calls/interval")
	b.ReportMetric(float64(describeSteady)/float64(refreshesSteady), "describesecret-calls/refresh")
	b.ReportMetric(float64(getSteady)/n, "getsecretvalue-calls-unchanged/op")
	b.ReportMetric(float64(describeRotated)/n, "describesecret-calls-rotated/op")
	b.ReportMetric(float64(getRotated)/n, "getsecretvalue-calls-rotated/op")
}

// BenchmarkOutage reads a cached secret ten times every 100 ms of cache time
// for 60 s during which every request fails with ThrottlingException. The
// cache uses the default configuration: retries after 1 s, 2 s, 4 s and so
// on. It reports the cache's API calls, the requests that reached the
// server (three SDK attempts per call) and the reads that did not return the
// cached value.
func BenchmarkOutage(b *testing.B) {
	const (
		id           = "db"
		outage       = 60 * time.Second
		step         = 100 * time.Millisecond
		readsPerStep = 10
	)
	srv := newBenchServer(b)
	srv.PutString(id, benchValue)
	client := srv.Client(noRetryWait)
	ctx := context.Background()

	var calls, requests, reads, failedReads int64
	for range b.N {
		srv.ClearFaults()
		clock := secretcachetest.NewFakeClock(testStart)
		c := newBenchCache(b, client, Config{Clock: clock})
		if _, err := c.GetSecretString(ctx, id); err != nil {
			b.Fatal(err)
		}
		// The refresh is due within one refresh interval of the first read.
		clock.Advance(DefaultRefreshInterval)

		srv.FailAlways("", "ThrottlingException")
		statsBefore, requestsBefore := c.Stats(), srv.TotalCalls()
		for elapsed := time.Duration(0); elapsed < outage; elapsed += step {
			for range readsPerStep {
				v, err := c.GetSecretString(ctx, id)
				reads++
				if err != nil || v != benchValue {
					failedReads++
				}
			}
			benchWaitIdle(b, c, id)
			clock.Advance(step)
		}
		stats := c.Stats()
		calls += stats.DescribeSecretCalls + stats.GetSecretValueCalls -
			statsBefore.DescribeSecretCalls - statsBefore.GetSecretValueCalls
		requests += srv.TotalCalls() - requestsBefore
		c.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(calls)/n, "api-calls/op")
	b.ReportMetric(float64(requests)/n, "http-requests/op")
	b.ReportMetric(float64(reads)/n, "reads/op")
	b.ReportMetric(float64(failedReads)/n, "failed-reads/op")
}

// BenchmarkReadDuringSlowRefresh reads a cached secret on one goroutine,
// as fast as it can, while a DescribeSecret call waits 2 s in the
// background. It reports the slowest read seen (max-read-ns, the maximum
// over all iterations) and the reads that took over 100 µs and over 1 ms.
//
// reader=cache reads the cache while its own refresh waits for the call;
// the secret has been rotated, so the refresh ends with a GetSecretValue.
// reader=syncmap is the floor: the same loop loads a string from a sync.Map
// while the benchmark makes the same call itself. Any stall that the floor
// shows too comes from the machine or the Go runtime, not from the cache.
func BenchmarkReadDuringSlowRefresh(b *testing.B) {
	const (
		id      = "db"
		latency = 2 * time.Second
	)
	srv := newBenchServer(b)
	srv.SetLatency(secretcachetest.OpDescribeSecret, latency)
	client := srv.Client(noRetryWait)
	ctx := context.Background()

	b.Run("reader=cache", func(b *testing.B) {
		var stalls readStalls
		var describeCalls int64
		for i := range b.N {
			old, rotated := fmt.Sprintf("value-%d", 2*i), fmt.Sprintf("value-%d", 2*i+1)
			srv.PutString(id, old)
			clock := secretcachetest.NewFakeClock(testStart)
			c := newBenchCache(b, client, Config{RefreshInterval: time.Minute, Clock: clock})
			if _, err := c.GetSecretString(ctx, id); err != nil {
				b.Fatal(err)
			}
			srv.PutString(id, rotated)
			srv.ResetCalls()
			clock.Advance(time.Minute)

			// The first read starts the refresh, and the loop ends with it.
			e := c.index.load(id)
			for first := true; first || e.refreshing.Load(); first = false {
				began := time.Now()
				v, err := c.GetSecretString(ctx, id)
				stalls.add(time.Since(began))
				if err != nil {
					b.Fatal(err)
				}
				if v != old && v != rotated {
					b.Fatalf("read of %s returned a value that was never current", id)
				}
			}
			if v, err := c.GetSecretString(ctx, id); err != nil || v != rotated {
				b.Fatalf("after the refresh, the read returned an error %v or the old value", err)
			}
			describeCalls += srv.Calls(secretcachetest.OpDescribeSecret)
			c.Close()
		}
		stalls.report(b)
		b.ReportMetric(float64(describeCalls)/float64(b.N), "describesecret-calls/op")
	})

	b.Run("reader=syncmap", func(b *testing.B) {
		srv.PutString(id, benchValue)
		var m sync.Map
		m.Store(id, benchValue)
		var stalls readStalls
		for range b.N {
			done := make(chan error, 1)
			go func() {
				_, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
				done <- err
			}()
			for running := true; running; {
				select {
				case err := <-done:
					if err != nil {
						b.Fatal(err)
					}
					running = false
				default:
				}
				began := time.Now()
				v, ok := m.Load(id)
				stalls.add(time.Since(began))
				if !ok || v.(string) != benchValue {
					b.Fatalf("sync.Map has no entry for %s", id)
				}
			}
		}
		stalls.report(b)
	})
}

// readStalls records how long the reads of a loop took.
type readStalls struct {
	reads, over100us, over1ms int64
	slowest                   time.Duration
}

func (s *readStalls) add(took time.Duration) {
	s.reads++
	s.slowest = max(s.slowest, took)
	if took > 100*time.Microsecond {
		s.over100us++
	}
	if took > time.Millisecond {
		s.over1ms++
	}
}

func (s *readStalls) report(b *testing.B) {
	n := float64(b.N)
	b.ReportMetric(float64(s.slowest.Nanoseconds()), "max-read-ns")
	b.ReportMetric(float64(s.over100us)/n, "reads-over-100us/op")
	b.ReportMetric(float64(s.over1ms)/n, "reads-over-1ms/op")
	b.ReportMetric(float64(s.reads)/n, "reads/op")
}

// BenchmarkRefreshNowAfterRotation rotates a cached secret and calls
// RefreshNow, with no added latency and with 5 ms per request. ns/op covers
// RefreshNow alone.
func BenchmarkRefreshNowAfterRotation(b *testing.B) {
	const id = "db"
	for _, latency := range []time.Duration{0, 5 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", latency), func(b *testing.B) {
			srv := newBenchServer(b)
			srv.PutString(id, "value-0")
			c := newBenchCache(b, srv.Client(noRetryWait), Config{})
			b.Cleanup(func() { c.Close() })
			ctx := context.Background()
			if _, err := c.GetSecretString(ctx, id); err != nil {
				b.Fatal(err)
			}
			srv.SetLatency("", latency)
			srv.ResetCalls()

			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				want := fmt.Sprintf("value-%d", i+1)
				srv.PutString(id, want)
				b.StartTimer()

				if err := c.RefreshNow(ctx, id); err != nil {
					b.Fatal(err)
				}

				b.StopTimer()
				if v, err := c.GetSecretString(ctx, id); err != nil || v != want {
					b.Fatalf("after RefreshNow, the read returned an error %v or the old value", err)
				}
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(srv.Calls(secretcachetest.OpDescribeSecret))/n, "describesecret-calls/op")
			b.ReportMetric(float64(srv.Calls(secretcachetest.OpGetSecretValue))/n, "getsecretvalue-calls/op")
		})
	}
}
