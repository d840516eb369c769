package secretcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

// The soak test reads soakSecrets secrets through a cache that holds
// soakCacheSize of them, so entries are evicted all the time. Most reads go
// to soakHotSecrets secrets, which fit in the cache, so that hits and
// background refreshes happen as well.
const (
	soakSecrets    = 300
	soakCacheSize  = 64
	soakHotSecrets = 32
	soakReaders    = 16

	// soakMaxSDKAttempts is the number of attempts the SDK's standard
	// retryer makes for one call, which noRetryWait keeps.
	soakMaxSDKAttempts = 3
	// soakStagesPerSecret is the number of stages readers ask for:
	// AWSCURRENT, AWSPREVIOUS and AWSPENDING.
	soakStagesPerSecret = 3
)

// soakConfig runs on the fake clock, which only the chaos goroutine moves.
// FetchTimeout is real time and bounds the server's latency spikes.
var soakConfig = Config{
	MaxCacheSize:      soakCacheSize,
	RefreshInterval:   time.Minute,
	RetryDelayBase:    20 * time.Second,
	RetryGrowthFactor: 2,
	RetryDelayMax:     80 * time.Second,
	FetchTimeout:      2 * time.Second,
}

// soakDuration returns the wall-clock length of a soak run: the value of
// SECRETCACHE_SOAK, such as "5m", or a few seconds by default.
func soakDuration(t *testing.T, short time.Duration) time.Duration {
	t.Helper()
	if v := os.Getenv("SECRETCACHE_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SECRETCACHE_SOAK=%q: want a positive duration such as 5m", v)
		}
		return d
	}
	if testing.Short() {
		return short / 2
	}
	return short
}

func TestSoak(t *testing.T) {
	duration := soakDuration(t, 6*time.Second)
	goroutines, heap := soakBaseline()

	figures := runSoak(t, duration, false)
	figures.log(t)
	// A run of a few refresh intervals reads blocked secrets after their
	// deadline many times. A shorter one, on a slow machine, may not.
	if figures.pastDeadline == 0 && figures.fake >= 5*soakConfig.RefreshInterval {
		t.Errorf("no read of a revoked or deleted secret came after its deadline in %v, so the end of service was not tested", figures.fake)
	}

	goroutinesAfter, heapAfter := soakSettle(t, goroutines)
	t.Logf("soak: goroutines before=%d after=%d heap before=%s after=%s", goroutines, goroutinesAfter, mebibytes(heap), mebibytes(heapAfter))
	// The margin covers what the runtime, the test framework and the HTTP
	// packages keep after a run. A cache that kept its entries or
	// goroutines alive after Close would exceed it.
	if heapAfter > heap+16<<20 {
		t.Errorf("heap after the soak = %s, more than 16 MiB above the %s before it", mebibytes(heapAfter), mebibytes(heap))
	}
}

func TestSoakCloseWhileReading(t *testing.T) {
	duration := soakDuration(t, 2*time.Second)
	goroutines, _ := soakBaseline()

	figures := runSoak(t, duration, true)
	figures.log(t)
	if figures.readsAfterClose == 0 {
		t.Errorf("no read started after Close, so the reads after Close were not tested")
	}

	soakSettle(t, goroutines)
}

// soakBaseline returns the number of goroutines and the live heap before a
// soak run.
func soakBaseline() (goroutines int, heap uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}

// soakSettle waits until the goroutines of a finished soak run have ended,
// failing the test if they stay above the baseline, and returns the
// goroutine count and live heap afterwards.
func soakSettle(t *testing.T, baseline int) (goroutines int, heap uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the soak, %d before it:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
	}
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}

func mebibytes(n uint64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }

// soakFigures are the counts a soak run reports.
type soakFigures struct {
	wall, fake      time.Duration
	steps           int64
	reads           int64
	otherStageReads int64
	values          int64
	refreshNows     int64
	readsAfterClose int64
	pastDeadline    int64
	panics          int64
	errors          map[string]int64
	faults          map[string]int64
	stats           Stats
	serverGet       int64
	serverDescribe  int64
	refreshBudget   int64
	getBudget       int64
}

// log reports the figures in a fixed format.
func (f soakFigures) log(t *testing.T) {
	t.Helper()
	t.Logf("soak: wall=%v fake=%v steps=%d readers=%d secrets=%d cache_size=%d",
		f.wall.Round(time.Millisecond), f.fake.Round(time.Second), f.steps, soakReaders, soakSecrets, soakCacheSize)
	t.Logf("soak: reads=%d values=%d refresh_now=%d errors=%d reads_after_close=%d reads_past_revocation_deadline=%d panics=%d",
		f.reads, f.values, f.refreshNows, sumCounts(f.errors), f.readsAfterClose, f.pastDeadline, f.panics)
	t.Logf("soak: errors by kind: %s", formatCounts(f.errors))
	t.Logf("soak: faults injected: %s", formatCounts(f.faults))
	t.Logf("soak: api calls: GetSecretValue=%d DescribeSecret=%d server_requests: GetSecretValue=%d DescribeSecret=%d",
		f.stats.GetSecretValueCalls, f.stats.DescribeSecretCalls, f.serverGet, f.serverDescribe)
	t.Logf("soak: budget: refreshes=%d of %d GetSecretValue=%d of %d evictions=%d failures=%d",
		f.stats.Refreshes, f.refreshBudget, f.stats.GetSecretValueCalls, f.getBudget, f.stats.Evictions, f.stats.Failures)
}

func sumCounts(counts map[string]int64) int64 {
	var n int64
	for _, v := range counts {
		n += v
	}
	return n
}

func formatCounts(counts map[string]int64) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, counts[k])
	}
	return strings.Join(parts, " ")
}

// soakSecret is what the chaos goroutine has done to one secret.
type soakSecret struct {
	name string
	// values holds every value the secret ever had, and current those
	// that were ever AWSCURRENT.
	values, current map[string]bool
	// currentID, previousID and pendingID are the version IDs that the
	// chaos goroutine put the stages on, or "" when absent.
	currentID, previousID, pendingID string
	// pendingValue is the value of the version pendingID.
	pendingValue string
	next         int

	// deleted is set while the secret is marked for deletion.
	deleted bool

	// blockedAt is the fake time at which the secret was revoked or marked
	// for deletion, or -1 while it is served normally.
	blockedAt time.Duration
	// failedAt is the fake time of the last transient refresh failure
	// reported for the secret, or -1.
	failedAt time.Duration
	// pastDeadline and pastAt record the first read of a blocked secret
	// after the deadline by which it must stop being served.
	pastDeadline, pastAt time.Duration
}

// soakWorld is the state shared by the readers, the chaos goroutine and the
// checks of a soak run.
type soakWorld struct {
	t     *testing.T
	c     *SecretCache
	srv   *secretcachetest.Server
	admin *secretsmanager.Client
	clock *secretcachetest.FakeClock
	start time.Time

	// step is held for reading by every cache call and for writing while
	// the fake clock moves, so that no call spans two fake instants.
	step sync.RWMutex

	mu         sync.Mutex
	secrets    []*soakSecret
	byName     map[string]*soakSecret
	errorKinds map[string]int64
	faults     map[string]int64
	violations []string

	reads, otherStageReads, values, refreshNows, panics, readsAfterClose atomic.Int64
	closed                                                               atomic.Bool

	// pastDeadlineReads counts reads of blocked secrets after their
	// deadline, the reads that check the end of service.
	pastDeadlineReads int64
}

// elapsed returns the fake time since the start of the run.
func (w *soakWorld) elapsed() time.Duration { return w.clock.Now().Sub(w.start) }

// violate records a broken invariant, which checkFigures reports.
func (w *soakWorld) violate(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, fmt.Sprintf(format, args...))
}

func (w *soakWorld) countFault(kind string, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults[kind] += int64(n)
}

// soakLogHandler records the time of each transient background refresh
// failure, which may delay the end of service of a blocked secret.
type soakLogHandler struct{ w *soakWorld }

func (h soakLogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h soakLogHandler) Handle(_ context.Context, rec slog.Record) error {
	var id, message string
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "secret_id":
			id = a.Value.String()
		case "error":
			message = a.Value.String()
		}
		return true
	})
	if !definitiveMessage(message) {
		h.w.recordTransient(id, h.w.elapsed())
	}
	return nil
}

func (h soakLogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h soakLogHandler) WithGroup(string) slog.Handler      { return h }

// definitiveMessage reports whether a logged refresh error ends service of
// the secret, by the error codes and sentinels that isDefinitive accepts.
func definitiveMessage(message string) bool {
	for _, code := range []string{"AccessDeniedException", "ResourceNotFoundException", "InvalidRequestException",
		"InvalidParameterException", "DecryptionFailure", ErrDeleted.Error()} {
		if strings.Contains(message, code) {
			return true
		}
	}
	return false
}

func (w *soakWorld) recordTransient(id string, at time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.byName[id]; s != nil {
		s.failedAt = at
	}
}

// runSoak runs readers and the chaos goroutine for duration of wall time and
// checks the invariants. With closeEarly, Close is called while the readers
// still run, and every read started after it must fail with ErrClosed.
func runSoak(t *testing.T, duration time.Duration, closeEarly bool) soakFigures {
	srv := secretcachetest.NewServer()
	defer srv.Close()
	w := &soakWorld{
		t:          t,
		srv:        srv,
		admin:      srv.Client(),
		byName:     make(map[string]*soakSecret),
		errorKinds: make(map[string]int64),
		faults:     make(map[string]int64),
	}
	w.clock = secretcachetest.NewFakeClock(testStart)
	w.start = w.clock.Now()
	cfg := soakConfig
	cfg.Clock = w.clock
	cfg.Logger = slog.New(soakLogHandler{w: w})
	c, err := New(srv.Client(noRetryWait), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	w.c = c
	for i := range soakSecrets {
		s := &soakSecret{name: fmt.Sprintf("soak/%03d", i), values: map[string]bool{}, current: map[string]bool{},
			blockedAt: -1, failedAt: -1, pastDeadline: -1}
		w.secrets = append(w.secrets, s)
		w.byName[s.name] = s
		w.rotate(s)
	}
	clear(w.faults)

	stop := make(chan struct{})
	var readers, chaos sync.WaitGroup
	for i := range soakReaders {
		readers.Go(func() { w.read(uint64(i), stop) })
	}
	chaosStop := make(chan struct{})
	var steps atomic.Int64
	chaos.Go(func() { w.runChaos(chaosStop, &steps) })

	began := time.Now()
	time.Sleep(duration)
	if closeEarly {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		w.closed.Store(true)
		// Let every reader run into the closed cache for a while.
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	if !waitGroupWithin(&readers, 30*time.Second) {
		buf := make([]byte, 1<<20)
		t.Fatalf("readers did not return within 30 s of the stop signal:\n%s", buf[:runtime.Stack(buf, true)])
	}
	close(chaosStop)
	chaos.Wait()
	wall := time.Since(began)

	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	figures := soakFigures{
		wall:            wall,
		fake:            w.elapsed(),
		steps:           steps.Load(),
		reads:           w.reads.Load(),
		otherStageReads: w.otherStageReads.Load(),
		values:          w.values.Load(),
		refreshNows:     w.refreshNows.Load(),
		readsAfterClose: w.readsAfterClose.Load(),
		pastDeadline:    w.pastDeadlineReads,
		panics:          w.panics.Load(),
		errors:          w.errorKinds,
		faults:          w.faults,
		stats:           c.Stats(),
		serverGet:       srv.Calls(secretcachetest.OpGetSecretValue),
		serverDescribe:  srv.Calls(secretcachetest.OpDescribeSecret),
	}
	w.checkFigures(&figures)
	return figures
}

// waitGroupWithin waits for wg and reports whether it finished in time.
func waitGroupWithin(wg *sync.WaitGroup, limit time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// checkFigures checks the invariants that need the whole run: no panic, no
// violation seen by a reader, and API calls within the budget.
func (w *soakWorld) checkFigures(f *soakFigures) {
	t := w.t
	t.Helper()
	if f.panics != 0 {
		t.Errorf("%d reads panicked", f.panics)
	}
	for i, v := range w.violations {
		if i == 10 {
			t.Errorf("... and %d more violations", len(w.violations)-10)
			break
		}
		t.Error(v)
	}
	if n := f.errors["other"]; n != 0 {
		t.Errorf("%d errors of no expected kind", n)
	}
	if f.values == 0 {
		t.Errorf("no read returned a value")
	}

	// Budget. A background refresh starts at a read at or after the refresh
	// time of its entry, which lies at least RefreshInterval/2 after the
	// entry's first value or last refresh, or RetryDelayBase after a failed
	// one. So an entry that lives for a time L starts at most L/minGap
	// background refreshes. At most soakCacheSize entries live at once, so
	// the lifetimes add up to at most soakCacheSize x fake time. Each of
	// the soakCacheSize places in the cache adds one for the rounding.
	minGap := min(soakConfig.RefreshInterval/2, soakConfig.RetryDelayBase)
	background := int64(soakCacheSize) * (int64(f.fake/minGap) + 1)
	f.refreshBudget = background + f.refreshNows
	if f.stats.Refreshes > f.refreshBudget {
		t.Errorf("refreshes = %d, over the budget of %d", f.stats.Refreshes, f.refreshBudget)
	}
	if f.stats.DescribeSecretCalls > f.stats.Refreshes {
		t.Errorf("DescribeSecret calls = %d, more than one per refresh (%d)", f.stats.DescribeSecretCalls, f.stats.Refreshes)
	}
	// GetSecretValue: each refresh fetches at most one version per stage
	// read. Each entry fetches each stage once on its first read, and again
	// after each failure, no sooner than RetryDelayBase later. An entry is
	// added at each eviction, and soakCacheSize entries are left at the
	// end. RefreshNow of an entry without values fetches like a first read.
	// Reads of other stages fetch at most once each. Only a failed fetch
	// is retried, and no sooner than RetryDelayBase after it.
	lifetimes := f.stats.Evictions + soakCacheSize
	firstReads := lifetimes + min((soakStagesPerSecret-1)*lifetimes, f.otherStageReads)
	retries := min(f.stats.Failures, soakStagesPerSecret*int64(soakCacheSize)*(int64(f.fake/soakConfig.RetryDelayBase)+1))
	f.getBudget = firstReads + retries + soakStagesPerSecret*f.stats.Refreshes + f.refreshNows
	if f.stats.GetSecretValueCalls > f.getBudget {
		t.Errorf("GetSecretValue calls = %d, over the budget of %d", f.stats.GetSecretValueCalls, f.getBudget)
	}
	// Each cache call is at most soakMaxSDKAttempts requests.
	if f.serverGet > soakMaxSDKAttempts*f.stats.GetSecretValueCalls {
		t.Errorf("server saw %d GetSecretValue requests for %d calls, more than %d attempts each",
			f.serverGet, f.stats.GetSecretValueCalls, soakMaxSDKAttempts)
	}
	if f.serverDescribe > soakMaxSDKAttempts*f.stats.DescribeSecretCalls {
		t.Errorf("server saw %d DescribeSecret requests for %d calls, more than %d attempts each",
			f.serverDescribe, f.stats.DescribeSecretCalls, soakMaxSDKAttempts)
	}
}

// read is one reader goroutine: it reads random secrets, with random stages
// and now and then RefreshNow or a short deadline, until stop is closed.
func (w *soakWorld) read(seed uint64, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(seed, 0x50a6))
	for {
		select {
		case <-stop:
			return
		default:
		}
		var s *soakSecret
		if rng.IntN(5) < 4 {
			s = w.secrets[rng.IntN(soakHotSecrets)]
		} else {
			s = w.secrets[rng.IntN(soakSecrets)]
		}
		w.readOnce(rng, s)
	}
}

// readOnce makes one cache call and checks its result.
func (w *soakWorld) readOnce(rng *rand.Rand, s *soakSecret) {
	w.step.RLock()
	defer w.step.RUnlock()
	afterClose := w.closed.Load()
	at := w.elapsed()

	ctx := context.Background()
	if rng.IntN(30) == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
	}

	var value, stage string
	var err error
	panicked := func() (panicked bool) {
		defer func() {
			if r := recover(); r != nil {
				w.violate("%s panicked: %v", s.name, r)
				panicked = true
			}
		}()
		switch n := rng.IntN(100); {
		case n < 1:
			w.refreshNows.Add(1)
			err = w.c.RefreshNow(context.Background(), s.name)
			if err != nil && !definitiveMessage(err.Error()) && !errors.Is(err, ErrClosed) {
				w.recordTransient(s.name, at)
			}
			if afterClose && !errors.Is(err, ErrClosed) {
				w.violate("RefreshNow(%s) after Close = %v, want ErrClosed", s.name, err)
			}
			w.countError(err)
			return false
		case n < 86:
			stage = DefaultVersionStage
			value, err = w.c.GetSecretString(ctx, s.name)
		case n < 93:
			stage = "AWSPREVIOUS"
			var out *secretsmanager.GetSecretValueOutput
			out, err = w.c.GetSecretValue(ctx, s.name, WithVersionStage(stage))
			if err == nil {
				value = aws.ToString(out.SecretString)
			}
		default:
			stage = "AWSPENDING"
			value, err = w.c.GetSecretString(ctx, s.name, WithVersionStage(stage))
		}
		return false
	}()
	if panicked {
		w.panics.Add(1)
		return
	}
	if stage == "" {
		return
	}

	w.reads.Add(1)
	if stage != DefaultVersionStage {
		w.otherStageReads.Add(1)
	}
	if afterClose {
		w.readsAfterClose.Add(1)
		if !errors.Is(err, ErrClosed) {
			w.violate("read of %s started after Close returned %q, %v; want ErrClosed", s.name, value, err)
		}
	}
	w.countError(err)
	if err != nil {
		w.observeRead(s, at, false)
		return
	}
	w.values.Add(1)
	if value == "" {
		w.violate("read of %s stage %s returned an empty value and no error", s.name, stage)
	}
	w.checkValue(s, stage, value, at)
}

// checkValue checks a value read from s: it must be one the secret had, one
// that was AWSCURRENT when that stage was asked for, and it must not be
// served long after the secret was revoked or deleted.
func (w *soakWorld) checkValue(s *soakSecret, stage, value string, at time.Duration) {
	w.mu.Lock()
	known, wasCurrent := s.values[value], s.current[value]
	w.mu.Unlock()
	if !known {
		w.violate("read of %s stage %s returned %q, which the secret never had", s.name, stage, value)
	}
	if stage == DefaultVersionStage && !wasCurrent {
		w.violate("read of %s returned %q, a value that was never AWSCURRENT", s.name, value)
	}
	w.observeRead(s, at, true)
}

// observeRead checks a read of s at fake time at against the deadline by
// which a revoked or deleted secret must stop being served. The deadline is
// one RefreshInterval after the change, or RetryDelayMax after a later
// transient refresh failure, plus one coarse-clock resolution. A refresh
// starts only when a read finds the secret due, and that read still gets
// the cached value. So the first read after the deadline may return a
// value, but no read at a later fake time may.
func (w *soakWorld) observeRead(s *soakSecret, at time.Duration, served bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.blockedAt < 0 {
		return
	}
	deadline := s.blockedAt + soakConfig.RefreshInterval
	if s.failedAt >= s.blockedAt {
		deadline = max(deadline, s.failedAt+soakConfig.RetryDelayMax)
	}
	deadline += w.c.clock.resolution
	if at <= deadline {
		return
	}
	w.pastDeadlineReads++
	if s.pastDeadline != deadline {
		s.pastDeadline, s.pastAt = deadline, at
	}
	if served && at > s.pastAt {
		w.violations = append(w.violations, fmt.Sprintf(
			"%s was blocked at %v and still served at %v, after the deadline %v and a read at %v that should have refreshed it",
			s.name, s.blockedAt, at, deadline, s.pastAt))
	}
}

// countError counts err by kind.
func (w *soakWorld) countError(err error) {
	if err == nil {
		return
	}
	kind := soakErrorKind(err)
	w.mu.Lock()
	defer w.mu.Unlock()
	if kind == "other" && w.errorKinds[kind] < 5 {
		w.t.Logf("soak: error of no expected kind: %v", err)
	}
	w.errorKinds[kind]++
}

// soakErrorKind names the kind of a read error for the report.
func soakErrorKind(err error) string {
	var sendErr *smithyhttp.RequestSendError
	switch {
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, ErrDeleted):
		return "deleted"
	case errors.Is(err, ErrStageNotFound):
		return "stage_not_found"
	case errors.As(err, &sendErr):
		return "connection"
	}
	for _, kind := range []struct{ code, name string }{
		{"AccessDeniedException", "access_denied"},
		{"InvalidRequestException", "deleted"},
		{"ResourceNotFoundException", "not_found"},
		{"ThrottlingException", "throttling"},
		{"InternalServiceError", "server_error"},
		{"ServiceUnavailable", "server_error"},
	} {
		if strings.Contains(err.Error(), kind.code) {
			return kind.name
		}
	}
	return "other"
}

// runChaos changes the server and moves the fake clock until stop is
// closed. It is the only goroutine that moves the clock, so the fake time of
// each change is exact.
func (w *soakWorld) runChaos(stop <-chan struct{}, steps *atomic.Int64) {
	rng := rand.New(rand.NewPCG(1, 0xc4a05))
	ticker := time.NewTicker(2 * time.Millisecond)
	defer ticker.Stop()
	latencyLeft := 0
	for {
		select {
		case <-stop:
			w.srv.ClearFaults()
			return
		case <-ticker.C:
		}
		if latencyLeft > 0 {
			latencyLeft--
			if latencyLeft == 0 {
				w.srv.SetLatency("", 0)
			}
		}
		w.chaosAction(rng, &latencyLeft)
		w.advance(time.Duration(500+rng.IntN(3500)) * time.Millisecond)
		steps.Add(1)
	}
}

// advance moves the fake clock once no cache call is running and no fetch
// or refresh is in flight, so that every call and fetch happens within one
// fake instant.
func (w *soakWorld) advance(d time.Duration) {
	w.step.Lock()
	defer w.step.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for w.busy() {
		if time.Now().After(deadline) {
			w.violate("fetches still running 30 s after the last read of a step")
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	w.clock.Advance(d)
}

// busy reports whether any cached entry has a fetch or refresh in flight.
func (w *soakWorld) busy() bool {
	for i := range w.c.index.shards {
		for _, e := range *w.c.index.shards[i].m.Load() {
			if e.refreshing.Load() {
				return true
			}
			e.mu.Lock()
			inFlight := len(e.flights) > 0
			e.mu.Unlock()
			if inFlight {
				return true
			}
		}
	}
	return false
}

// chaosAction makes one random change to the server.
func (w *soakWorld) chaosAction(rng *rand.Rand, latencyLeft *int) {
	s := w.secrets[rng.IntN(soakSecrets)]
	if rng.IntN(5) < 4 {
		s = w.secrets[rng.IntN(soakHotSecrets)]
	}
	ops := []secretcachetest.Op{"", secretcachetest.OpGetSecretValue, secretcachetest.OpDescribeSecret}
	op := ops[rng.IntN(len(ops))]

	switch n := rng.IntN(100); {
	case n < 20:
		w.rotate(s)
	case n < 28:
		w.putPending(s)
	case n < 34:
		w.promotePending(s)
	case n < 37:
		w.rollBack(s)
	case n < 45:
		count := 1 + rng.IntN(6)
		w.srv.FailNext(op, count, "ThrottlingException")
		w.countFault("throttling_requests", count)
	case n < 51:
		count := 1 + rng.IntN(6)
		codes := []string{"InternalServiceError", "ServiceUnavailable"}
		w.srv.FailNext(op, count, codes[rng.IntN(len(codes))])
		w.countFault("server_error_requests", count)
	case n < 55:
		count := 1 + rng.IntN(3)
		w.srv.DropNext(op, count)
		w.countFault("dropped_connections", count)
	case n < 58:
		if *latencyLeft == 0 {
			w.srv.SetLatency("", time.Duration(5+rng.IntN(45))*time.Millisecond)
			*latencyLeft = 1 + rng.IntN(10)
			w.countFault("latency_spikes", 1)
		}
	case n < 61:
		w.block(s, rng.IntN(3) > 0)
	case n < 64:
		w.unblock(rng)
	}
}

// rotate stores a new AWSCURRENT value of s.
func (w *soakWorld) rotate(s *soakSecret) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.blockedAt >= 0 {
		return
	}
	value := w.newValueLocked(s)
	s.current[value] = true
	id := w.srv.PutString(s.name, value)
	s.previousID, s.currentID = s.currentID, id
	w.faults["rotations"]++
}

func (w *soakWorld) newValueLocked(s *soakSecret) string {
	s.next++
	value := fmt.Sprintf("%s#%d", s.name, s.next)
	s.values[value] = true
	return value
}

// putPending adds a version with only AWSPENDING, as a rotation does before
// it finishes. That value must never be read as AWSCURRENT unless promoted.
func (w *soakWorld) putPending(s *soakSecret) {
	w.mu.Lock()
	if s.blockedAt >= 0 {
		w.mu.Unlock()
		return
	}
	value := w.newValueLocked(s)
	w.mu.Unlock()

	out, err := w.admin.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId:      aws.String(s.name),
		SecretString:  aws.String(value),
		VersionStages: []string{"AWSPENDING"},
	})
	if err != nil {
		// An injected fault can hit this request too.
		w.countFault("pending_put_failures", 1)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s.pendingID, s.pendingValue = aws.ToString(out.VersionId), value
	w.faults["pending_versions"]++
}

// promotePending moves AWSCURRENT to the pending version.
func (w *soakWorld) promotePending(s *soakSecret) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.blockedAt >= 0 || s.pendingID == "" || s.pendingID == s.currentID {
		return
	}
	s.current[s.pendingValue] = true
	w.srv.SetStage(s.name, "AWSCURRENT", s.pendingID)
	w.srv.RemoveStage(s.name, "AWSPENDING")
	s.previousID, s.currentID, s.pendingID = s.currentID, s.pendingID, ""
	w.faults["promotions"]++
}

// rollBack moves AWSCURRENT back to the previous version.
func (w *soakWorld) rollBack(s *soakSecret) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.blockedAt >= 0 || s.previousID == "" || s.previousID == s.currentID {
		return
	}
	w.srv.SetStage(s.name, "AWSCURRENT", s.previousID)
	s.previousID, s.currentID = s.currentID, s.previousID
	w.faults["rollbacks"]++
}

// block revokes access to s or marks it for deletion.
func (w *soakWorld) block(s *soakSecret, revoke bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.blockedAt >= 0 {
		return
	}
	s.blockedAt, s.pastDeadline = w.elapsed(), -1
	if revoke {
		w.srv.Deny(s.name)
		w.faults["revocations"]++
		return
	}
	s.deleted = true
	w.srv.Delete(s.name)
	w.faults["deletions"]++
}

// unblock restores one blocked secret: it allows access again, or replaces
// a deleted secret with a new one of the same name.
func (w *soakWorld) unblock(rng *rand.Rand) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var blocked []*soakSecret
	for _, s := range w.secrets {
		if s.blockedAt >= 0 {
			blocked = append(blocked, s)
		}
	}
	if len(blocked) == 0 {
		return
	}
	s := blocked[rng.IntN(len(blocked))]
	s.blockedAt = -1
	if !s.deleted {
		w.srv.Allow(s.name)
		w.faults["access_restored"]++
		return
	}
	s.deleted = false
	w.srv.Purge(s.name)
	value := w.newValueLocked(s)
	s.current[value] = true
	s.currentID, s.previousID, s.pendingID = w.srv.PutString(s.name, value), "", ""
	w.faults["recreations"]++
}
