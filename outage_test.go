package secretcache

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

// outageDuration is the length of the simulated outages, in fake-clock time.
const outageDuration = 48 * time.Hour

// outageStep is how far the fake clock moves between two reads during an
// outage. The reads stand for a service that reads the secret every second.
const outageStep = time.Second

// expectedRetryDelay returns the wait after n consecutive failures under the
// default backoff: DefaultRetryDelayBase doubled n-1 times, capped at
// DefaultRetryDelayMax.
func expectedRetryDelay(n int) time.Duration {
	d := DefaultRetryDelayBase
	for i := 1; i < n && d < DefaultRetryDelayMax; i++ {
		d *= 2
	}
	return min(d, DefaultRetryDelayMax)
}

// expectedCallTimes returns the offsets, from the first failed call, of every
// call that the default backoff allows within window when every call fails.
func expectedCallTimes(window time.Duration) []time.Duration {
	var times []time.Duration
	for at, n := time.Duration(0), 1; at <= window; n++ {
		times = append(times, at)
		at += expectedRetryDelay(n)
	}
	return times
}

// checkOutageCalls checks the fake-clock times of the calls made during an
// outage against the default backoff. Each call may come late by up to one
// coarse-clock resolution plus one read step, because a read notices the
// end of a delay only at its next step after the coarse clock has passed it.
func checkOutageCalls(t *testing.T, calls []time.Duration, window, resolution time.Duration) {
	t.Helper()
	if len(calls) == 0 {
		t.Fatal("no call was made during the outage")
	}
	want := expectedCallTimes(window - calls[0])
	t.Logf("calls during the %v outage: %d, backoff model: %d", window, len(calls), len(want))
	if len(calls) > len(want) || len(calls) < len(want)-1 {
		t.Errorf("calls during the %v outage = %d, want %d (or one fewer from coarse-clock lateness)", window, len(calls), len(want))
	}
	slack := resolution + outageStep
	for i := 1; i < len(calls); i++ {
		gap := calls[i] - calls[i-1]
		delay := expectedRetryDelay(i)
		if gap < delay {
			t.Errorf("call %d came %v after call %d, before the %v backoff ended", i+1, gap, i, delay)
		}
		if gap > delay+slack {
			t.Errorf("call %d came %v after call %d, want at most %v (backoff %v plus %v)", i+1, gap, i, delay+slack, delay, slack)
		}
	}
	if len(calls) < 2 {
		return
	}
	if last := calls[len(calls)-1] - calls[len(calls)-2]; last < DefaultRetryDelayMax {
		t.Errorf("last gap = %v, want the %v cap after %v of failures", last, DefaultRetryDelayMax, window)
	}
}

// checkRetryWait fails the test unless the wait until deadline, a
// coarse-clock time, is positive and at most DefaultRetryDelayMax.
func checkRetryWait(t *testing.T, c *SecretCache, what string, deadline int64) {
	t.Helper()
	wait := time.Duration(deadline - c.clock.now())
	if wait <= 0 {
		t.Fatalf("%s is %v away, want a positive wait", what, wait)
	}
	if wait > DefaultRetryDelayMax {
		t.Fatalf("%s is %v away, more than the %v cap", what, wait, DefaultRetryDelayMax)
	}
}

// errorLogRecorder is a slog.Handler that keeps the "error" attribute of
// every record.
type errorLogRecorder struct {
	mu     sync.Mutex
	errors []string
}

func (r *errorLogRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *errorLogRecorder) Handle(_ context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			r.mu.Lock()
			r.errors = append(r.errors, a.Value.String())
			r.mu.Unlock()
		}
		return true
	})
	return nil
}

func (r *errorLogRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *errorLogRecorder) WithGroup(string) slog.Handler      { return r }

func (r *errorLogRecorder) logged() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// lengthChecker fails a test when an error message differs in length from
// the first one it saw, which shows that errors are not wrapped again on
// each retry.
type lengthChecker struct {
	first string
	count int
}

func (l *lengthChecker) check(t *testing.T, message string) {
	t.Helper()
	l.count++
	if l.count == 1 {
		l.first = message
		return
	}
	if len(message) != len(l.first) {
		t.Fatalf("error %d is %d bytes, the first was %d:\nfirst: %s\nlater: %s", l.count, len(message), len(l.first), l.first, message)
	}
}

func TestOutage48HoursUncachedSecret(t *testing.T) {
	tests := []struct {
		name  string
		start func(srv *secretcachetest.Server)
	}{
		{"internal errors", func(srv *secretcachetest.Server) {
			srv.FailAlways(secretcachetest.OpGetSecretValue, "InternalServiceError")
		}},
		{"throttling", func(srv *secretcachetest.Server) {
			srv.FailAlways(secretcachetest.OpGetSecretValue, "ThrottlingException")
		}},
		{"access denied", func(srv *secretcachetest.Server) {
			srv.Deny("db")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, srv, clock := newSDKCache(t, Config{})
			srv.PutString("db", "before")
			tt.start(srv)
			ctx := context.Background()
			current := selector{stage: DefaultVersionStage}

			var calls []time.Duration
			var lengths lengthChecker
			var lastErr error
			for elapsed := time.Duration(0); elapsed <= outageDuration; elapsed += outageStep {
				before := c.Stats().GetSecretValueCalls
				_, err := c.GetSecretString(ctx, "db")
				if err == nil {
					t.Fatalf("read at %v into the outage succeeded", elapsed)
				}
				// Between calls the cache returns the stored error, so only a
				// new error needs its message checked.
				if err != lastErr {
					lengths.check(t, err.Error())
					lastErr = err
				}
				if c.Stats().GetSecretValueCalls != before {
					calls = append(calls, elapsed)
					sl := c.index.load("db").snap.Load().find(current, DefaultVersionStage)
					checkRetryWait(t, c, "the next retry", sl.fail.retryAt)
				}
				clock.Advance(outageStep)
			}
			checkOutageCalls(t, calls, outageDuration, c.clock.resolution)

			// The service heals: the retry due next succeeds.
			srv.ClearFaults()
			srv.Allow("db")
			srv.PutString("db", "after")
			healed := outageDuration + outageStep
			last := calls[len(calls)-1]
			for {
				before := c.Stats().GetSecretValueCalls
				value, err := c.GetSecretString(ctx, "db")
				if c.Stats().GetSecretValueCalls != before {
					if err != nil {
						t.Fatalf("first retry after the outage failed: %v", err)
					}
					if value != "after" {
						t.Fatalf("first retry after the outage read %q, want %q", value, "after")
					}
					break
				}
				if err == nil {
					t.Fatalf("read at %v succeeded without a call", healed)
				}
				if healed-last > DefaultRetryDelayMax+c.clock.resolution+outageStep {
					t.Fatalf("no retry within %v of the last failed call", healed-last)
				}
				clock.Advance(outageStep)
				healed += outageStep
			}
			if gap := healed - last; gap < DefaultRetryDelayMax {
				t.Errorf("first retry after the outage came %v after the last failure, before the %v cap", gap, DefaultRetryDelayMax)
			}
			checkBackoffRestarts(t, c, srv, clock, "after")
		})
	}
}

func TestOutage48HoursCachedSecret(t *testing.T) {
	recorder := &errorLogRecorder{}
	c, srv, clock := newSDKCache(t, Config{Logger: slog.New(recorder)})
	srv.PutString("db", "before")
	mustString(t, c, "db", "before")
	srv.FailAlways(secretcachetest.OpDescribeSecret, "ThrottlingException")
	srv.FailAlways(secretcachetest.OpGetSecretValue, "ThrottlingException")

	var calls []time.Duration
	for elapsed := time.Duration(0); elapsed <= outageDuration; elapsed += outageStep {
		before := c.Stats().DescribeSecretCalls
		// A transient failure keeps the cached value in service.
		mustString(t, c, "db", "before")
		waitIdle(t, c, "db")
		if c.Stats().DescribeSecretCalls != before {
			calls = append(calls, elapsed)
			checkRetryWait(t, c, "the next refresh", c.index.load("db").snap.Load().refreshAt)
		}
		clock.Advance(outageStep)
	}
	if len(calls) == 0 {
		t.Fatal("no refresh during the outage")
	}
	if calls[0] > DefaultRefreshInterval {
		t.Errorf("first refresh came %v after the value was stored, later than the %v refresh interval", calls[0], DefaultRefreshInterval)
	}
	checkOutageCalls(t, calls, outageDuration, c.clock.resolution)
	logged := recorder.logged()
	if len(logged) != len(calls) {
		t.Errorf("logged refresh failures = %d, want one per failed refresh (%d)", len(logged), len(calls))
	}
	var lengths lengthChecker
	for _, message := range logged {
		lengths.check(t, message)
	}
	if got := c.Stats().GetSecretValueCalls; got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1: a failed DescribeSecret needs no value", got)
	}

	// The service heals with a new version: the refresh due next picks it up.
	srv.ClearFaults()
	srv.PutString("db", "after")
	last := calls[len(calls)-1]
	healed := outageDuration + outageStep
	for c.Stats().DescribeSecretCalls == int64(len(calls)) {
		if healed-last > DefaultRetryDelayMax+c.clock.resolution+outageStep {
			t.Fatalf("no refresh within %v of the last failed one", healed-last)
		}
		mustString(t, c, "db", "before")
		waitIdle(t, c, "db")
		clock.Advance(outageStep)
		healed += outageStep
	}
	mustString(t, c, "db", "after")
	if got := len(recorder.logged()); got != len(calls) {
		t.Errorf("the refresh after the outage logged a failure")
	}
	checkBackoffRestarts(t, c, srv, clock, "after")
}

// checkBackoffRestarts makes the next refresh of db fail after a success and
// checks that the cache retries after DefaultRetryDelayBase, not after the
// delay reached during an earlier outage.
func checkBackoffRestarts(t *testing.T, c *SecretCache, srv *secretcachetest.Server, clock *secretcachetest.FakeClock, value string) {
	t.Helper()
	srv.FailAlways(secretcachetest.OpDescribeSecret, "ThrottlingException")
	defer srv.ClearFaults()

	refreshTimes := stepUntilRefreshes(t, c, clock, value, 2, DefaultRefreshInterval+DefaultRetryDelayBase+time.Minute)
	gap := refreshTimes[1] - refreshTimes[0]
	if gap < DefaultRetryDelayBase || gap > DefaultRetryDelayBase+c.clock.resolution+outageStep {
		t.Errorf("retry after the first failure since the outage came %v after it, want %v (plus at most %v)",
			gap, DefaultRetryDelayBase, c.clock.resolution+outageStep)
	}
}

// stepUntilRefreshes reads id once per outageStep until n refreshes have
// called DescribeSecret, and returns the fake-clock offsets of those
// refreshes. Every read must return want.
func stepUntilRefreshes(t *testing.T, c *SecretCache, clock *secretcachetest.FakeClock, want string, n int, limit time.Duration) []time.Duration {
	t.Helper()
	var times []time.Duration
	for elapsed := time.Duration(0); len(times) < n; elapsed += outageStep {
		if elapsed > limit {
			t.Fatalf("only %d of %d refreshes within %v", len(times), n, limit)
		}
		before := c.Stats().DescribeSecretCalls
		mustString(t, c, "db", want)
		waitIdle(t, c, "db")
		if c.Stats().DescribeSecretCalls != before {
			times = append(times, elapsed)
		}
		clock.Advance(outageStep)
	}
	return times
}

// TestOutageHugeRetryDelayKeepsBackingOff uses the largest delay a Config
// accepts. A failed call must still be followed by a wait, not by a call on
// every read.
func TestOutageHugeRetryDelayKeepsBackingOff(t *testing.T) {
	huge := time.Duration(math.MaxInt64)
	cfg := Config{RetryDelayBase: huge, RetryDelayMax: huge, RefreshInterval: time.Minute}
	ctx := context.Background()

	t.Run("uncached", func(t *testing.T) {
		c, srv, clock := newSDKCache(t, cfg)
		srv.PutString("db", "x")
		srv.Deny("db")
		clock.Advance(time.Second)
		if _, err := c.GetSecretString(ctx, "db"); !isAccessDenied(err) {
			t.Fatalf("first read = %v, want AccessDeniedException", err)
		}
		for i := range 10 {
			clock.Advance(time.Second)
			if _, err := c.GetSecretString(ctx, "db"); !isAccessDenied(err) {
				t.Fatalf("read %d = %v, want the stored AccessDeniedException", i+2, err)
			}
		}
		if got := c.Stats().GetSecretValueCalls; got != 1 {
			t.Errorf("GetSecretValue calls = %d, want 1: the retry delay is about 292 years", got)
		}
	})

	t.Run("cached", func(t *testing.T) {
		c, srv, clock := newSDKCache(t, cfg)
		srv.PutString("db", "x")
		mustString(t, c, "db", "x")
		srv.FailAlways(secretcachetest.OpDescribeSecret, "ThrottlingException")
		for range 10 {
			clock.Advance(time.Minute)
			mustString(t, c, "db", "x")
			waitIdle(t, c, "db")
		}
		if got := c.Stats().DescribeSecretCalls; got != 1 {
			t.Errorf("DescribeSecret calls = %d, want 1: the retry delay is about 292 years", got)
		}
		if got := c.Stats().Failures; got != 1 {
			t.Errorf("Stats().Failures = %d, want 1", got)
		}
	})
}
