// Package secretcache is an in-process cache for AWS Secrets Manager. A
// service reads secrets by name or ARN through a SecretCache. The first read
// of a secret calls GetSecretValue, and later reads are served from memory
// without any API call, which saves both the round trip and the per-call
// charge.
//
// A cached secret is checked again at a random point between half and all of
// Config.RefreshInterval after it was stored. The check is one DescribeSecret
// call, running in the background while readers keep getting the cached
// value; GetSecretValue is called again only when the version behind the
// stage has changed. A refresh that fails with a transient error, such as
// throttling or a timeout, keeps the last good value in service and retries
// with exponential backoff. A definitive error, such as a deleted secret or
// revoked access, stops the secret being served.
package secretcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Version is the version of this module, sent in the user agent of clients
// built by NewFromDefaultConfig.
const Version = "0.1.0"

// Client is the part of the Secrets Manager API that the cache calls.
// *secretsmanager.Client implements it.
type Client interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// SecretCache caches secrets read from Secrets Manager. It is safe for
// concurrent use. Call Close to stop its background work.
type SecretCache struct {
	client Client
	cfg    Config
	clock  *coarseClock

	// index maps secret IDs to entries. Hits read it without locking.
	index *index

	lruMu sync.Mutex // guards lru; held only for memory operations
	lru   *simplelru.LRU[string, *entry]
	// insertSeq counts entries added to lru. It is written under lruMu and
	// read without it.
	insertSeq atomic.Uint64

	ctx    context.Context // parent of every fetch; cancelled by Close
	cancel context.CancelFunc

	closeMu sync.Mutex // orders wg.Add against Close
	closed  atomic.Bool
	wg      sync.WaitGroup // goroutines running fetches and refreshes

	// arnPrefixes keeps one copy of the ARN prefixes of cached secrets.
	arnPrefixes prefixTable

	stats stats
}

// New returns a cache that reads secrets through client. It validates cfg and
// makes no network call.
func New(client Client, cfg Config) (*SecretCache, error) {
	if client == nil {
		return nil, errors.New("secretcache: nil Client: pass a *secretsmanager.Client or another implementation of Client")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	c := &SecretCache{client: client, cfg: cfg, index: newIndex(cfg.MaxCacheSize)}
	c.lru, err = simplelru.NewLRU(cfg.MaxCacheSize, c.onEvict)
	if err != nil {
		return nil, fmt.Errorf("secretcache: creating LRU of size %d: %w", cfg.MaxCacheSize, err)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.clock = newCoarseClock(cfg.Clock, coarseResolution(cfg.RefreshInterval))
	return c, nil
}

// NewFromDefaultConfig builds a Secrets Manager client from the default AWS
// configuration (environment, shared config files, instance role) and
// returns a cache that uses it. Its requests carry a user-agent token naming
// this module and its version.
func NewFromDefaultConfig(ctx context.Context, cfg Config) (*SecretCache, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("secretcache: loading default AWS configuration: %w", err)
	}
	return New(secretsmanager.NewFromConfig(awsCfg, AddUserAgent), cfg)
}

// userAgentKey is the token that AddUserAgent adds to the user agent.
const userAgentKey = "secretcache-go"

// AddUserAgent adds a token naming this module and its version to the user
// agent of a Secrets Manager client. Pass it to secretsmanager.NewFromConfig
// or secretsmanager.New when building your own client.
func AddUserAgent(o *secretsmanager.Options) {
	o.APIOptions = append(o.APIOptions, middleware.AddUserAgentKeyValue(userAgentKey, Version))
}

// GetSecretString returns the SecretString of a secret's version: the one
// with the cache's default stage unless an option selects another stage or a
// version ID. secretID is a name or an ARN; the two forms are cached as
// separate secrets.
func (c *SecretCache) GetSecretString(ctx context.Context, secretID string, opts ...GetOption) (string, error) {
	const op = "GetSecretString"
	var v *version
	sel := selector{stage: c.cfg.VersionStage}
	if len(opts) == 0 && ctx != nil {
		v = c.cachedDefault(secretID)
	}
	if v == nil {
		var err error
		v, sel, err = c.read(ctx, op, secretID, opts)
		if err != nil {
			return "", err
		}
	}

	if c.cfg.Hook == nil {
		if !v.has(hasString) {
			return "", newError(op, secretID, sel, ErrNotString)
		}
		return v.str(), nil
	}
	out, err := callGet(ctx, c.cfg.Hook, v.stored)
	if err != nil {
		return "", newError(op, secretID, sel, err)
	}
	if out.SecretString == nil {
		return "", newError(op, secretID, sel, ErrNotString)
	}
	return *out.SecretString, nil
}

// GetSecretBinary returns a copy of the SecretBinary of a secret's version,
// selected as for GetSecretString. The caller owns the returned slice.
func (c *SecretCache) GetSecretBinary(ctx context.Context, secretID string, opts ...GetOption) ([]byte, error) {
	const op = "GetSecretBinary"
	v, sel, err := c.read(ctx, op, secretID, opts)
	if err != nil {
		return nil, err
	}
	if c.cfg.Hook == nil {
		if !v.has(hasBinary) {
			return nil, newError(op, secretID, sel, ErrNotBinary)
		}
		return v.binary(), nil
	}
	out, err := callGet(ctx, c.cfg.Hook, v.stored)
	if err != nil {
		return nil, newError(op, secretID, sel, err)
	}
	if out.SecretBinary == nil {
		return nil, newError(op, secretID, sel, ErrNotBinary)
	}
	return append(make([]byte, 0, len(out.SecretBinary)), out.SecretBinary...), nil
}

// GetSecretValue returns a secret's version, selected as for
// GetSecretString, in the form the SDK returns it. The output is a copy that
// the caller may change.
func (c *SecretCache) GetSecretValue(ctx context.Context, secretID string, opts ...GetOption) (*secretsmanager.GetSecretValueOutput, error) {
	const op = "GetSecretValue"
	v, sel, err := c.read(ctx, op, secretID, opts)
	if err != nil {
		return nil, err
	}
	if c.cfg.Hook == nil {
		return v.output(&c.arnPrefixes), nil
	}
	out, err := callGet(ctx, c.cfg.Hook, v.stored)
	if err != nil {
		return nil, newError(op, secretID, sel, err)
	}
	return copyOutput(out), nil
}

// cachedDefault returns the cached version of secretID's default stage when
// it can be served, or nil when the caller must take the full path of read.
// It is the hit path of GetSecretString: no lock, no clock call, no
// allocation.
func (c *SecretCache) cachedDefault(secretID string) *version {
	if c.closed.Load() {
		return nil
	}
	e := c.index.load(secretID)
	if e == nil {
		return nil
	}
	s := e.snap.Load()
	if s == nil || s.current.ver == nil {
		return nil
	}
	if c.clock.load() >= s.refreshAt {
		c.startRefresh(e)
	}
	c.touch(e)
	return s.current.ver
}

// read returns the version that serves sel for secretID, fetching it if
// needed. A cached value is returned without locking or calling the clock; a
// value due for refresh is still returned while a background refresh starts.
func (c *SecretCache) read(ctx context.Context, op, secretID string, opts []GetOption) (*version, selector, error) {
	sel, err := c.selectorFor(opts)
	if err != nil {
		return nil, sel, newError(op, secretID, sel, err)
	}
	if c.closed.Load() {
		return nil, sel, newError(op, secretID, sel, ErrClosed)
	}
	if ctx == nil {
		return nil, sel, newError(op, secretID, sel, errNilContext)
	}

	if e := c.index.load(secretID); e != nil {
		if s := e.snap.Load(); s != nil {
			if sl := s.find(sel, c.cfg.VersionStage); sl != nil {
				now := c.clock.load()
				if sl.ver != nil {
					if now >= s.refreshAt {
						c.startRefresh(e)
					}
					c.touch(e)
					return sl.ver, sel, nil
				}
				if sl.fail != nil && now < sl.fail.retryAt {
					c.touch(e)
					return nil, sel, sl.fail.err
				}
			}
		}
	}
	v, err := c.load(ctx, op, secretID, sel)
	return v, sel, err
}

// touch records a read of e in the LRU order. An entry moves to the front of
// the LRU list at its first hit after each insertion of a secret. Further hits
// before the next insertion change nothing, so reads of a stable working set
// take no lock and write no shared memory. The order matters only when an
// insertion evicts, and it is exact except among entries read more than once
// between two insertions, which keep the position of their first hit there.
// When another goroutine holds the LRU lock, the move is left to the entry's
// next hit rather than blocking this one.
func (c *SecretCache) touch(e *entry) {
	if e.lruSeq.Load() == c.insertSeq.Load() {
		return
	}
	if !c.lruMu.TryLock() {
		return
	}
	if held, ok := c.lru.Get(e.id); ok && held == e {
		e.lruSeq.Store(c.insertSeq.Load())
	}
	c.lruMu.Unlock()
}

// entryFor returns the entry for secretID. When there is none it adds one,
// evicting the least recently used entry if the cache is full.
func (c *SecretCache) entryFor(secretID string) *entry {
	if e := c.index.load(secretID); e != nil {
		return e
	}

	c.lruMu.Lock()
	defer c.lruMu.Unlock()
	if e := c.index.load(secretID); e != nil {
		return e
	}
	// The new entry's lruSeq stays 0, below every insertSeq, so its first
	// hit moves it to the front again if other entries have been read since.
	e := &entry{id: secretID}
	c.lru.Add(secretID, e)
	c.index.store(secretID, e)
	c.insertSeq.Add(1)
	return e
}

// onEvict removes an entry that the LRU dropped from the index. It runs under
// lruMu.
func (c *SecretCache) onEvict(secretID string, e *entry) {
	c.index.remove(secretID, e)
	c.stats.evictions.Add(1)
}

// RefreshNow fetches the current state of a secret at once and stores it,
// ignoring the refresh interval and any retry delay. It returns nil once the
// new state is in the cache, or the error that prevented it. A secret that is
// not cached yet is fetched as by a first read. Concurrent calls for one
// secret share one fetch; ctx bounds only the caller's wait.
func (c *SecretCache) RefreshNow(ctx context.Context, secretID string) error {
	const op = "RefreshNow"
	sel := selector{stage: c.cfg.VersionStage}
	if c.closed.Load() {
		return newError(op, secretID, sel, ErrClosed)
	}
	if ctx == nil {
		return newError(op, secretID, sel, errNilContext)
	}
	if err := validateSecretID(secretID); err != nil {
		return newError(op, secretID, sel, err)
	}

	e := c.entryFor(secretID)
	if s := e.snap.Load(); s == nil || !s.hasSlots() {
		_, err := c.load(ctx, op, secretID, sel)
		return err
	}
	f, err := c.startFlight(e, flightRefreshNow, nil, func(fctx context.Context) (*version, error) {
		return nil, c.refresh(fctx, e)
	})
	if err != nil {
		return newError(op, secretID, sel, err)
	}
	_, err = c.wait(ctx, op, secretID, sel, f)
	return err
}

// Close stops all background work of the cache and waits for it to end.
// Fetches in progress are cancelled through their context. A Client that
// ignores its context, and so also FetchTimeout, delays Close until its call
// returns. Every later call returns an error wrapping ErrClosed. Close is
// safe to call more than once.
func (c *SecretCache) Close() error {
	c.closeMu.Lock()
	if c.closed.Load() {
		c.closeMu.Unlock()
		return nil
	}
	c.closed.Store(true)
	c.closeMu.Unlock()

	c.cancel()
	c.clock.close()
	c.wg.Wait()
	return nil
}

// spawn runs fn on a new goroutine that Close waits for. It returns false,
// without running fn, once the cache is closed.
func (c *SecretCache) spawn(fn func()) bool {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed.Load() {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// retryDelay returns the wait before the next call after failures
// consecutive failures: RetryDelayBase × RetryGrowthFactor^(failures−1),
// capped at RetryDelayMax.
func (c *SecretCache) retryDelay(failures int32) time.Duration {
	if failures < 1 {
		failures = 1
	}
	d := float64(c.cfg.RetryDelayBase) * math.Pow(c.cfg.RetryGrowthFactor, float64(failures-1))
	if math.IsNaN(d) || d >= float64(c.cfg.RetryDelayMax) {
		return c.cfg.RetryDelayMax
	}
	return time.Duration(d)
}

// nextRefresh returns the coarse-clock time for the next refresh of a secret
// stored at now: a uniformly random point between half the refresh interval
// and the whole interval, less one coarse-clock resolution so that the
// refresh starts within the interval.
func (c *SecretCache) nextRefresh(now int64) int64 {
	interval := int64(c.cfg.RefreshInterval)
	low := interval / 2
	high := interval - int64(c.clock.resolution)
	if high <= low {
		return addSaturating(now, low)
	}
	return addSaturating(now, low+rand.Int64N(high-low+1))
}

// retryAt returns the coarse-clock time of the next call after failures
// consecutive failures at now.
func (c *SecretCache) retryAt(now int64, failures int32) int64 {
	return addSaturating(now, int64(c.retryDelay(failures)))
}

// addSaturating returns now+d for d >= 0, or math.MaxInt64 where the sum
// would overflow, so that a delay near the largest time.Duration means
// "not for a very long time" rather than a time in the past.
func addSaturating(now, d int64) int64 {
	if d > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + d
}

// copyOutput returns a deep copy of out.
func copyOutput(out *secretsmanager.GetSecretValueOutput) *secretsmanager.GetSecretValueOutput {
	n := *out
	n.ResultMetadata = smithymiddleware.Metadata{}
	n.ARN = copyString(out.ARN)
	n.Name = copyString(out.Name)
	n.VersionId = copyString(out.VersionId)
	n.SecretString = copyString(out.SecretString)
	if out.SecretBinary != nil {
		n.SecretBinary = append(make([]byte, 0, len(out.SecretBinary)), out.SecretBinary...)
	}
	if out.VersionStages != nil {
		n.VersionStages = append([]string(nil), out.VersionStages...)
	}
	if out.CreatedDate != nil {
		created := *out.CreatedDate
		n.CreatedDate = &created
	}
	return &n
}

func copyString(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}
