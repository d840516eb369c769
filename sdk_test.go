package secretcache

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

// noRetryWait keeps the SDK's retries (three attempts) but removes the real
// sleep between them and the retry quota, so that tests run fast and
// deterministically.
func noRetryWait(o *secretsmanager.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		so.RateLimiter = ratelimit.None
	})
}

// newSDKCache starts a secretcachetest server and returns a cache that reads
// it through the real SDK client.
func newSDKCache(t *testing.T, cfg Config) (*SecretCache, *secretcachetest.Server, *secretcachetest.FakeClock) {
	t.Helper()
	srv := secretcachetest.NewServer()
	t.Cleanup(srv.Close)
	c, clock := newTestCache(t, srv.Client(noRetryWait), cfg)
	return c, srv, clock
}

func TestSDKFirstReadIsOneGetSecretValue(t *testing.T) {
	c, srv, _ := newSDKCache(t, Config{})
	srv.PutString("db", "hunter2")

	for range 50 {
		mustString(t, c, "db", "hunter2")
	}
	if got := srv.Calls(secretcachetest.OpGetSecretValue); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", got)
	}
	if got := srv.Calls(secretcachetest.OpDescribeSecret); got != 0 {
		t.Errorf("DescribeSecret calls = %d, want 0", got)
	}

	// A name and an ARN of the same secret are separate entries.
	for range 5 {
		mustString(t, c, srv.ARN("db"), "hunter2")
	}
	if got := srv.Calls(secretcachetest.OpGetSecretValue); got != 2 {
		t.Errorf("GetSecretValue calls after reading by ARN = %d, want 2", got)
	}
}

func TestSDKConcurrentFirstReadsShareOneCall(t *testing.T) {
	c, srv, _ := newSDKCache(t, Config{})
	srv.PutString("db", "hunter2")
	srv.SetLatency(secretcachetest.OpGetSecretValue, 50*time.Millisecond)

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			<-start
			v, err := c.GetSecretString(context.Background(), "db")
			if err == nil && v != "hunter2" {
				err = errors.New("wrong value " + v)
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Calls(secretcachetest.OpGetSecretValue); got != 1 {
		t.Errorf("GetSecretValue calls for 64 concurrent first reads = %d, want 1", got)
	}
}

func TestSDKReadsDoNotWaitForSlowRefresh(t *testing.T) {
	c, srv, clock := newSDKCache(t, Config{RefreshInterval: time.Minute})
	srv.PutString("db", "one")
	mustString(t, c, "db", "one")

	srv.PutString("db", "two")
	srv.SetLatency(secretcachetest.OpDescribeSecret, 2*time.Second)
	clock.Advance(time.Minute)
	mustString(t, c, "db", "one") // starts the refresh
	waitFor(t, "DescribeSecret to reach the server", func() bool {
		return srv.Calls(secretcachetest.OpDescribeSecret) == 1
	})

	e := c.index.load("db")
	var slowest time.Duration
	for range 1000 {
		began := time.Now()
		mustString(t, c, "db", "one")
		slowest = max(slowest, time.Since(began))
	}
	// Every read above returned while the 2 s call was still in flight.
	if !e.refreshing.Load() {
		t.Fatalf("the refresh ended before the reads did; they may have waited for it")
	}
	t.Logf("slowest of 1000 reads during a 2 s refresh call: %v", slowest)

	waitIdle(t, c, "db")
	mustString(t, c, "db", "two")
	if got := srv.Calls(secretcachetest.OpDescribeSecret); got != 1 {
		t.Errorf("DescribeSecret calls = %d, want 1: the reads of a due secret start one refresh", got)
	}
}

func TestSDKCancelledCallerDoesNotPoisonFetch(t *testing.T) {
	c, srv, _ := newSDKCache(t, Config{})
	srv.PutString("db", "hunter2")
	srv.SetLatency(secretcachetest.OpGetSecretValue, 300*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() {
		_, err := c.GetSecretString(ctx, "db")
		cancelled <- err
	}()
	waitFor(t, "GetSecretValue to reach the server", func() bool {
		return srv.Calls(secretcachetest.OpGetSecretValue) == 1
	})
	patient := make(chan error, 1)
	go func() {
		v, err := c.GetSecretString(context.Background(), "db")
		if err == nil && v != "hunter2" {
			err = errors.New("wrong value " + v)
		}
		patient <- err
	}()
	cancel()

	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	if err := <-patient; err != nil {
		t.Fatalf("caller sharing the fetch got %v", err)
	}
	mustString(t, c, "db", "hunter2")
	if got := srv.Calls(secretcachetest.OpGetSecretValue); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1: the cancellation must not abort or repeat the fetch", got)
	}
}

func TestSDKDifferentSecretsDoNotWaitOnEachOther(t *testing.T) {
	c, srv, _ := newSDKCache(t, Config{})
	srv.PutString("cached", "c")
	srv.PutString("slow-a", "a")
	srv.PutString("slow-b", "b")
	mustString(t, c, "cached", "c")
	srv.SetLatency(secretcachetest.OpGetSecretValue, time.Second)

	done := make(chan error, 2)
	for _, id := range []string{"slow-a", "slow-b"} {
		go func() {
			_, err := c.GetSecretString(context.Background(), id)
			done <- err
		}()
	}
	// Both first reads reach the server before either response comes back.
	waitFor(t, "both fetches to be in flight", func() bool {
		return srv.Calls(secretcachetest.OpGetSecretValue) == 3
	})
	mustString(t, c, "cached", "c")
	select {
	case err := <-done:
		t.Fatalf("a slow fetch finished before the cached read was checked: %v", err)
	default:
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestSDKErrorsKeepSDKTypes(t *testing.T) {
	c, srv, _ := newSDKCache(t, Config{})
	_, err := c.GetSecretString(context.Background(), "no-such-secret")
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("error = %v, want *types.ResourceNotFoundException", err)
	}
	var cacheErr *Error
	if !errors.As(err, &cacheErr) || cacheErr.SecretID != "no-such-secret" {
		t.Errorf("error = %#v, want *Error naming the secret", err)
	}

	srv.PutString("db", "x")
	_, err = c.GetSecretString(context.Background(), "db", WithVersionStage("MISSING"))
	if !errors.As(err, &notFound) || !strings.Contains(err.Error(), `stage "MISSING"`) {
		t.Errorf("missing stage error = %v, want ResourceNotFoundException naming the stage", err)
	}
}

func TestSDKThrottlingKeepsValueRevocationEndsIt(t *testing.T) {
	c, srv, clock := newSDKCache(t, Config{RefreshInterval: time.Minute})
	srv.PutString("db", "x")
	mustString(t, c, "db", "x")

	srv.FailAlways("", "ThrottlingException")
	clock.Advance(time.Minute)
	mustString(t, c, "db", "x")
	waitIdle(t, c, "db")
	mustString(t, c, "db", "x")
	if got := srv.Calls(secretcachetest.OpDescribeSecret); got != 3 {
		t.Errorf("DescribeSecret requests = %d, want 3 (the SDK's attempts)", got)
	}
	if got := c.Stats().Failures; got != 1 {
		t.Errorf("Stats().Failures = %d, want 1", got)
	}

	srv.ClearFaults()
	srv.Deny("db")
	clock.Advance(time.Hour)
	mustString(t, c, "db", "x")
	waitIdle(t, c, "db")
	_, err := c.GetSecretString(context.Background(), "db")
	if !isAccessDenied(err) {
		t.Fatalf("read after revocation = %v, want AccessDeniedException", err)
	}
}

func TestSDKDescribeDeniedFallsBack(t *testing.T) {
	c, srv, clock := newSDKCache(t, Config{RefreshInterval: time.Minute})
	srv.PutString("db", "one")
	mustString(t, c, "db", "one")
	srv.Deny("db", secretcachetest.OpDescribeSecret)
	srv.PutString("db", "two")

	clock.Advance(time.Minute)
	mustString(t, c, "db", "one")
	waitIdle(t, c, "db")
	mustString(t, c, "db", "two")
	clock.Advance(time.Minute)
	mustString(t, c, "db", "two")
	waitIdle(t, c, "db")
	if got := srv.Calls(secretcachetest.OpDescribeSecret); got != 1 {
		t.Errorf("DescribeSecret calls = %d, want 1: a denied DescribeSecret is not retried", got)
	}
	if got := srv.Calls(secretcachetest.OpGetSecretValue); got != 3 {
		t.Errorf("GetSecretValue calls = %d, want 3", got)
	}
}

func TestSDKRefreshNowAfterRotation(t *testing.T) {
	c, srv, _ := newSDKCache(t, Config{})
	srv.PutString("db", "one")
	mustString(t, c, "db", "one")
	srv.PutString("db", "two")
	srv.ResetCalls()

	if err := c.RefreshNow(context.Background(), "db"); err != nil {
		t.Fatal(err)
	}
	mustString(t, c, "db", "two")
	mustString(t, c, "db", "one", WithVersionStage("AWSPREVIOUS"))
	if got := srv.Calls(secretcachetest.OpDescribeSecret); got != 1 {
		t.Errorf("DescribeSecret calls = %d, want 1", got)
	}
	if got := srv.Calls(secretcachetest.OpGetSecretValue); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", got)
	}
}

func TestSDKDeletedSecretStopsBeingServed(t *testing.T) {
	c, srv, _ := newSDKCache(t, Config{})
	srv.PutString("db", "x")
	mustString(t, c, "db", "x")
	srv.Delete("db")
	if err := c.RefreshNow(context.Background(), "db"); !errors.Is(err, ErrDeleted) {
		t.Fatalf("RefreshNow = %v, want ErrDeleted", err)
	}
	if _, err := c.GetSecretString(context.Background(), "db"); !errors.Is(err, ErrDeleted) {
		t.Errorf("read = %v, want ErrDeleted", err)
	}
}

func TestSDKDroppedConnectionsAreTransient(t *testing.T) {
	c, srv, clock := newSDKCache(t, Config{RefreshInterval: time.Minute})
	srv.PutString("db", "x")
	mustString(t, c, "db", "x")

	srv.DropNext("", 100)
	clock.Advance(time.Minute)
	mustString(t, c, "db", "x")
	waitIdle(t, c, "db")
	mustString(t, c, "db", "x")
	if got := c.Stats().Failures; got != 1 {
		t.Errorf("Stats().Failures = %d, want 1", got)
	}
}

func TestSDKFetchTimeoutIsTransient(t *testing.T) {
	c, srv, clock := newSDKCache(t, Config{RefreshInterval: time.Minute, FetchTimeout: 100 * time.Millisecond})
	srv.PutString("db", "x")
	mustString(t, c, "db", "x")

	srv.SetLatency(secretcachetest.OpDescribeSecret, 10*time.Second)
	clock.Advance(time.Minute)
	mustString(t, c, "db", "x")
	waitIdle(t, c, "db")
	mustString(t, c, "db", "x")

	err := c.RefreshNow(context.Background(), "db")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RefreshNow = %v, want a deadline error", err)
	}
}

func TestSDKCloseCancelsFetches(t *testing.T) {
	srv := secretcachetest.NewServer()
	defer srv.Close()
	srv.PutString("db", "x")
	srv.SetLatency(secretcachetest.OpGetSecretValue, time.Minute)
	c, err := New(srv.Client(noRetryWait), Config{})
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := c.GetSecretString(context.Background(), "db")
		done <- err
	}()
	waitFor(t, "GetSecretValue to reach the server", func() bool {
		return srv.Calls(secretcachetest.OpGetSecretValue) == 1
	})
	c.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("reader waiting at Close got %v, want ErrClosed", err)
	}
}

func TestNewFromDefaultConfigSendsUserAgent(t *testing.T) {
	srv := secretcachetest.NewServer()
	defer srv.Close()
	srv.PutString("db", "x")

	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	var agents sync.Map
	var requests atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		agents.Store(r.Header.Get("User-Agent"), true)
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	// Only this test's servers and environment: no shared files, no instance
	// metadata.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", front.URL)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/credentials")
	t.Setenv("AWS_PROFILE", "")

	c, err := NewFromDefaultConfig(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustString(t, c, "db", "x")
	if requests.Load() != 1 {
		t.Fatalf("requests through the front server = %d, want 1", requests.Load())
	}
	found := false
	agents.Range(func(k, _ any) bool {
		if strings.Contains(k.(string), userAgentKey+"/"+Version) {
			found = true
		}
		return true
	})
	if !found {
		agents.Range(func(k, _ any) bool { t.Logf("user agent: %s", k); return true })
		t.Errorf("no request carried %s/%s in its user agent", userAgentKey, Version)
	}
}

var _ = aws.String
