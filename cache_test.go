package secretcache

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

var testStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newTestCache returns a cache over client with a fake clock, closed when the
// test ends.
func newTestCache(t *testing.T, client Client, cfg Config) (*SecretCache, *secretcachetest.FakeClock) {
	t.Helper()
	clock := secretcachetest.NewFakeClock(testStart)
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	c, err := New(client, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clock
}

// mustString reads id and fails the test on error or an unexpected value.
func mustString(t *testing.T, c *SecretCache, id, want string, opts ...GetOption) {
	t.Helper()
	got, err := c.GetSecretString(context.Background(), id, opts...)
	if err != nil {
		t.Fatalf("GetSecretString(%q): %v", id, err)
	}
	if got != want {
		t.Fatalf("GetSecretString(%q) = %q, want %q", id, got, want)
	}
}

// waitFor polls cond until it holds, failing the test after ten seconds. It
// waits for background goroutines, never for the cache's clock.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitIdle waits until no background refresh of id is running.
func waitIdle(t *testing.T, c *SecretCache, id string) {
	t.Helper()
	e := c.index.load(id)
	if e == nil {
		return
	}
	waitFor(t, "refresh of "+id+" to finish", func() bool { return !e.refreshing.Load() })
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	client := newFakeClient()
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"negative size", Config{MaxCacheSize: -1}, "MaxCacheSize"},
		{"negative interval", Config{RefreshInterval: -time.Second}, "RefreshInterval"},
		{"negative base", Config{RetryDelayBase: -time.Second}, "RetryDelayBase"},
		{"negative max", Config{RetryDelayMax: -time.Second}, "RetryDelayMax"},
		{"max below base", Config{RetryDelayBase: time.Minute, RetryDelayMax: time.Second}, "RetryDelayMax"},
		{"factor below one", Config{RetryGrowthFactor: 0.5}, "RetryGrowthFactor"},
		{"negative factor", Config{RetryGrowthFactor: -2}, "RetryGrowthFactor"},
		{"negative timeout", Config{FetchTimeout: -time.Second}, "FetchTimeout"},
		{"stage with newline", Config{VersionStage: "AWS\nCURRENT"}, "VersionStage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(client, tt.cfg)
			if err == nil {
				c.Close()
				t.Fatal("New returned no error")
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
	t.Run("nil client", func(t *testing.T) {
		if _, err := New(nil, Config{}); err == nil || !strings.Contains(err.Error(), "nil Client") {
			t.Errorf("New(nil) error = %v, want one naming the nil Client", err)
		}
	})
	if n := client.getCalls.Load() + client.describeCalls.Load(); n != 0 {
		t.Errorf("New made %d API calls, want 0", n)
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	c, _ := newTestCache(t, newFakeClient(), Config{})
	cfg := c.cfg
	if cfg.MaxCacheSize != 1024 || cfg.RefreshInterval != time.Hour || cfg.VersionStage != "AWSCURRENT" ||
		cfg.RetryDelayBase != time.Second || cfg.RetryGrowthFactor != 2 || cfg.RetryDelayMax != time.Hour {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestFirstReadCallsGetSecretValueOnce(t *testing.T) {
	client := newFakeClient()
	client.put("db", "hunter2")
	c, _ := newTestCache(t, client, Config{})

	for range 100 {
		mustString(t, c, "db", "hunter2")
	}
	if got := client.getCalls.Load(); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", got)
	}
	if got := client.describeCalls.Load(); got != 0 {
		t.Errorf("DescribeSecret calls = %d, want 0", got)
	}
}

func TestRetryDelayGrowsAndCaps(t *testing.T) {
	c, _ := newTestCache(t, newFakeClient(), Config{RetryDelayBase: 3 * time.Second, RetryGrowthFactor: 3, RetryDelayMax: time.Minute})
	want := []time.Duration{3 * time.Second, 9 * time.Second, 27 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := c.retryDelay(int32(i + 1)); got != w {
			t.Errorf("retryDelay(%d) = %v, want %v", i+1, got, w)
		}
	}
	for _, n := range []int32{100, 1 << 20, 1<<31 - 1} {
		if got := c.retryDelay(n); got != time.Minute {
			t.Errorf("retryDelay(%d) = %v, want the cap", n, got)
		}
	}
}

func TestRefreshWaitsBetweenHalfAndWholeInterval(t *testing.T) {
	client := newFakeClient()
	for i := range 50 {
		client.put(secretName(i), "v")
	}
	c, clock := newTestCache(t, client, Config{RefreshInterval: 10 * time.Minute})
	for i := range 50 {
		mustString(t, c, secretName(i), "v")
	}

	clock.Advance(5*time.Minute - time.Second)
	for i := range 50 {
		mustString(t, c, secretName(i), "v")
	}
	if got := client.describeCalls.Load(); got != 0 {
		t.Fatalf("DescribeSecret calls before half the interval = %d, want 0", got)
	}

	// Step through the second half of the interval: refreshes spread over it.
	var firstSeen []int64
	for step := range 10 {
		clock.Advance(30 * time.Second)
		for i := range 50 {
			mustString(t, c, secretName(i), "v")
		}
		for i := range 50 {
			waitIdle(t, c, secretName(i))
		}
		firstSeen = append(firstSeen, client.describeCalls.Load())
		_ = step
	}
	if got := client.describeCalls.Load(); got != 50 {
		t.Fatalf("DescribeSecret calls by the end of the interval = %d, want 50 (one per secret)", got)
	}
	if firstSeen[0] == 50 {
		t.Errorf("every secret refreshed in the first 30 s after half the interval; refresh times are not spread: %v", firstSeen)
	}
	if got := client.getCalls.Load(); got != 50 {
		t.Errorf("GetSecretValue calls = %d, want 50: unchanged versions must not be fetched again", got)
	}
}

func secretName(i int) string { return "secret-" + string(rune('a'+i%26)) + string(rune('a'+i/26)) }

func TestRotationPickedUpByInterval(t *testing.T) {
	client := newFakeClient()
	first := client.put("db", "one")
	c, clock := newTestCache(t, client, Config{RefreshInterval: time.Minute})
	mustString(t, c, "db", "one")

	client.put("db", "two")
	clock.Advance(time.Minute)
	// The read that finds the secret due still returns the cached value and
	// starts the refresh in the background.
	mustString(t, c, "db", "one")
	waitIdle(t, c, "db")
	mustString(t, c, "db", "two")
	if got := client.describeCalls.Load(); got != 1 {
		t.Errorf("DescribeSecret calls = %d, want 1", got)
	}
	if got := client.getCalls.Load(); got != 2 {
		t.Errorf("GetSecretValue calls = %d, want 2", got)
	}

	// AWSPREVIOUS now points at the version already held: no call.
	mustString(t, c, "db", "one", WithVersionStage("AWSPREVIOUS"))
	mustString(t, c, "db", "one", WithVersionID(first))
	if got := client.getCalls.Load(); got != 2 {
		t.Errorf("GetSecretValue calls after reading AWSPREVIOUS = %d, want 2", got)
	}
}

func TestRefreshNowPicksUpRotation(t *testing.T) {
	client := newFakeClient()
	client.put("db", "one")
	c, _ := newTestCache(t, client, Config{})
	mustString(t, c, "db", "one")

	client.put("db", "two")
	if err := c.RefreshNow(context.Background(), "db"); err != nil {
		t.Fatalf("RefreshNow: %v", err)
	}
	mustString(t, c, "db", "two")
	if got := client.describeCalls.Load(); got != 1 {
		t.Errorf("DescribeSecret calls = %d, want 1", got)
	}
	if got := client.getCalls.Load(); got != 2 {
		t.Errorf("GetSecretValue calls = %d, want 2", got)
	}
}

func TestRefreshNowOfUncachedSecretFetchesIt(t *testing.T) {
	client := newFakeClient()
	client.put("db", "one")
	c, _ := newTestCache(t, client, Config{})
	if err := c.RefreshNow(context.Background(), "db"); err != nil {
		t.Fatalf("RefreshNow: %v", err)
	}
	mustString(t, c, "db", "one")
	if got := client.getCalls.Load(); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", got)
	}
}

func TestRefreshNowReturnsFailure(t *testing.T) {
	client := newFakeClient()
	client.put("db", "one")
	c, _ := newTestCache(t, client, Config{})
	mustString(t, c, "db", "one")

	throttled := &types.InternalServiceError{Message: aws.String("try again")}
	client.failWith("DescribeSecret", throttled)
	err := c.RefreshNow(context.Background(), "db")
	var target *types.InternalServiceError
	if !errors.As(err, &target) {
		t.Fatalf("RefreshNow error = %v, want InternalServiceError", err)
	}
	// A transient failure keeps the value in service.
	mustString(t, c, "db", "one")
}

func TestRefreshNowRespectsContext(t *testing.T) {
	client := newFakeClient()
	client.put("db", "one")
	c, _ := newTestCache(t, client, Config{})
	mustString(t, c, "db", "one")

	release := client.block()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.RefreshNow(ctx, "db") }()
	waitFor(t, "DescribeSecret to start", func() bool { return client.describeCalls.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RefreshNow error = %v, want context.Canceled", err)
	}
	mustString(t, c, "db", "one")
}

func TestConcurrentRefreshNowShareOneFetch(t *testing.T) {
	client := newFakeClient()
	client.put("db", "one")
	c, _ := newTestCache(t, client, Config{})
	mustString(t, c, "db", "one")
	client.put("db", "two")

	release := client.block()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- c.RefreshNow(context.Background(), "db") })
	}
	waitFor(t, "DescribeSecret to start", func() bool { return client.describeCalls.Load() >= 1 })
	// Give the other callers time to join the running fetch before it ends.
	time.Sleep(20 * time.Millisecond)
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("RefreshNow: %v", err)
		}
	}
	if got := client.describeCalls.Load(); got != 1 {
		t.Errorf("DescribeSecret calls = %d, want 1", got)
	}
	mustString(t, c, "db", "two")
}

func TestLRUEvictsLeastRecentlyRead(t *testing.T) {
	client := newFakeClient()
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		client.put(name, "value-"+name)
	}
	c, _ := newTestCache(t, client, Config{MaxCacheSize: 3})
	mustString(t, c, "a", "value-a")
	mustString(t, c, "b", "value-b")
	mustString(t, c, "c", "value-c")
	mustString(t, c, "a", "value-a") // a is now the most recent; b the least.
	mustString(t, c, "d", "value-d") // evicts b

	calls := client.getCalls.Load()
	mustString(t, c, "a", "value-a")
	mustString(t, c, "c", "value-c")
	mustString(t, c, "d", "value-d")
	if got := client.getCalls.Load() - calls; got != 0 {
		t.Fatalf("reading a, c, d made %d calls, want 0: one of them was evicted", got)
	}
	mustString(t, c, "b", "value-b") // evicted: fetched again, evicting a
	if got := client.getCalls.Load() - calls; got != 1 {
		t.Fatalf("reading b made %d calls, want 1", got)
	}
	if got := c.Stats().Evictions; got != 2 {
		t.Errorf("Stats().Evictions = %d, want 2", got)
	}
	if c.index.load("a") != nil {
		t.Errorf("a is still cached; the least recently read secret should have been evicted")
	}
}

func TestValuesHandedOutAreCopies(t *testing.T) {
	client := newFakeClient()
	client.putBinary("bin", []byte{1, 2, 3})
	client.put("str", "text")
	c, _ := newTestCache(t, client, Config{})
	ctx := context.Background()

	b, err := c.GetSecretBinary(ctx, "bin")
	if err != nil {
		t.Fatal(err)
	}
	b[0] = 99
	again, _ := c.GetSecretBinary(ctx, "bin")
	if again[0] != 1 {
		t.Errorf("changing the returned slice changed the cache: got %v", again)
	}

	out, err := c.GetSecretValue(ctx, "str")
	if err != nil {
		t.Fatal(err)
	}
	*out.SecretString = "changed"
	*out.VersionId = "changed"
	out.VersionStages[0] = "changed"
	out2, _ := c.GetSecretValue(ctx, "bin")
	out2.SecretBinary[0] = 42
	mustString(t, c, "str", "text")
	out3, _ := c.GetSecretValue(ctx, "str")
	if *out3.VersionId == "changed" || out3.VersionStages[0] != "AWSCURRENT" {
		t.Errorf("changing an output changed the cache: %+v", out3)
	}
	b3, _ := c.GetSecretBinary(ctx, "bin")
	if b3[0] != 1 {
		t.Errorf("changing SecretBinary of an output changed the cache: %v", b3)
	}
}

func TestBadInputFailsBeforeAnyCall(t *testing.T) {
	client := newFakeClient()
	client.put("db", "x")
	c, _ := newTestCache(t, client, Config{})
	ctx := context.Background()
	tests := []struct {
		name string
		id   string
		opts []GetOption
		want string
	}{
		{"empty id", "", nil, "empty secret ID"},
		{"both stage and version", "db", []GetOption{WithVersionStage("AWSCURRENT"), WithVersionID("v1")}, "both stage"},
		{"empty stage", "db", []GetOption{WithVersionStage("")}, "empty version stage"},
		{"empty version", "db", []GetOption{WithVersionID("")}, "empty version ID"},
		{"zero option", "db", []GetOption{{}}, "zero GetOption"},
		{"control character", "db\n", nil, "control characters"},
		{"too long", strings.Repeat("x", 2049), nil, "2049 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.GetSecretString(ctx, tt.id, tt.opts...)
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error = %v, want ErrInvalidInput", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	//lint:ignore SA1012 the nil context is the input under test
	if _, err := c.GetSecretString(nil, "db"); !errors.Is(err, ErrInvalidInput) { //nolint:staticcheck
		t.Errorf("nil ctx error = %v, want ErrInvalidInput", err)
	}
	if n := client.getCalls.Load() + client.describeCalls.Load(); n != 0 {
		t.Errorf("bad input made %d API calls, want 0", n)
	}
}

func TestWrongValueTypeIsError(t *testing.T) {
	client := newFakeClient()
	client.putBinary("bin", []byte{1})
	client.put("str", "text")
	c, _ := newTestCache(t, client, Config{})
	ctx := context.Background()

	_, err := c.GetSecretString(ctx, "bin")
	if !errors.Is(err, ErrNotString) || !strings.Contains(err.Error(), `"bin"`) {
		t.Errorf("GetSecretString of binary secret: %v, want ErrNotString naming the secret", err)
	}
	_, err = c.GetSecretBinary(ctx, "str")
	if !errors.Is(err, ErrNotBinary) || !strings.Contains(err.Error(), `"str"`) {
		t.Errorf("GetSecretBinary of string secret: %v, want ErrNotBinary naming the secret", err)
	}
}

func TestCloseStopsReads(t *testing.T) {
	client := newFakeClient()
	client.put("db", "x")
	c, _ := newTestCache(t, client, Config{})
	mustString(t, c, "db", "x")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.GetSecretString(context.Background(), "db"); !errors.Is(err, ErrClosed) {
		t.Errorf("read after Close: %v, want ErrClosed", err)
	}
	if err := c.RefreshNow(context.Background(), "db"); !errors.Is(err, ErrClosed) {
		t.Errorf("RefreshNow after Close: %v, want ErrClosed", err)
	}
}

func TestLRUOrderBetweenInsertionsKeepsFirstHit(t *testing.T) {
	client := newFakeClient()
	for _, name := range []string{"a", "b", "c", "d"} {
		client.put(name, name)
	}
	c, _ := newTestCache(t, client, Config{MaxCacheSize: 3})
	mustString(t, c, "a", "a")
	mustString(t, c, "b", "b")
	mustString(t, c, "c", "c")
	// After c's insertion, hits of b, a and c move each to the front in turn.
	// The second hit of b finds it already moved since the last insertion and
	// leaves it last. Exact LRU would evict a next; this cache evicts b.
	mustString(t, c, "b", "b")
	mustString(t, c, "a", "a")
	mustString(t, c, "c", "c")
	mustString(t, c, "b", "b")
	mustString(t, c, "d", "d")
	if c.index.load("b") != nil {
		t.Errorf("b is cached; between two insertions an entry keeps the position of its first hit")
	}
	if c.index.load("a") == nil || c.index.load("c") == nil {
		t.Errorf("eviction order changed: a cached %v, c cached %v", c.index.load("a") != nil, c.index.load("c") != nil)
	}
}

func TestVersionsPerSecretAreCapped(t *testing.T) {
	client := newFakeClient()
	var ids []string
	for i := range 12 {
		ids = append(ids, client.put("db", "value-"+strconv.Itoa(i)))
	}
	c, _ := newTestCache(t, client, Config{})
	for i, id := range ids {
		mustString(t, c, "db", "value-"+strconv.Itoa(i), WithVersionID(id))
	}
	mustString(t, c, "db", "value-11")

	s := c.index.load("db").snap.Load()
	if got := s.servedVersions(); got != maxVersionsPerSecret {
		t.Errorf("versions held = %d, want %d", got, maxVersionsPerSecret)
	}
	calls := client.getCalls.Load()
	// The two oldest version IDs were dropped, the newest ten are held.
	mustString(t, c, "db", "value-11", WithVersionID(ids[11]))
	mustString(t, c, "db", "value-2", WithVersionID(ids[2]))
	if got := client.getCalls.Load() - calls; got != 0 {
		t.Errorf("reading held versions made %d calls, want 0", got)
	}
	mustString(t, c, "db", "value-0", WithVersionID(ids[0]))
	if got := client.getCalls.Load() - calls; got != 1 {
		t.Errorf("reading a dropped version made %d calls, want 1", got)
	}
}

func TestConcurrentFirstReadsNeverFetchTwice(t *testing.T) {
	client := newFakeClient()
	var ids []string
	for i := range 10 {
		ids = append(ids, "secret-"+strconv.Itoa(i))
		client.put(ids[i], "v")
	}
	// Many rounds of 64 readers over 10 cold secrets: a reader that misses
	// just as a fetch stores its result must not start a second fetch.
	for round := range 50 {
		c, err := New(client, Config{})
		if err != nil {
			t.Fatal(err)
		}
		before := client.getCalls.Load()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 64 {
			wg.Go(func() {
				<-start
				for i := range ids {
					id := ids[(g+i)%len(ids)]
					if _, err := c.GetSecretString(context.Background(), id); err != nil {
						t.Error(err)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		c.Close()
		if got := client.getCalls.Load() - before; got != 10 {
			t.Fatalf("round %d: GetSecretValue calls = %d, want 10", round, got)
		}
	}
}

func TestPrefixTableInternsARNPrefixes(t *testing.T) {
	var table prefixTable
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	i, rest := table.intern(arn)
	if i != 1 || rest != "db-AbCdEf" {
		t.Fatalf("intern = %d, %q; want 1, %q", i, rest, "db-AbCdEf")
	}
	if j, _ := table.intern("arn:aws:secretsmanager:us-east-1:123456789012:secret:other-XyZ123"); j != i {
		t.Errorf("same prefix got index %d, want %d", j, i)
	}
	if got := table.get(i) + rest; got != arn {
		t.Errorf("prefix and rest join to %q, want %q", got, arn)
	}
	if j, rest := table.intern("not-an-arn"); j != 0 || rest != "not-an-arn" {
		t.Errorf("intern of a string without a secret prefix = %d, %q", j, rest)
	}
	for n := 2; n <= maxPrefixes; n++ {
		table.intern("arn:aws:secretsmanager:eu-west-1:" + strconv.Itoa(n) + ":secret:x")
	}
	full := "arn:aws:secretsmanager:eu-west-1:overflow:secret:x"
	if j, rest := table.intern(full); j != 0 || rest != full {
		t.Errorf("intern into a full table = %d, %q; want the ARN whole", j, rest)
	}
}
