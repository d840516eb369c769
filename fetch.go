package secretcache

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// flight is a fetch that concurrent callers share. done is closed once ver
// and err are set and the result has been stored in the entry.
//
// The cache keeps its own flights instead of using
// golang.org/x/sync/singleflight because Close must wait for every fetch
// goroutine, and singleflight.DoChan starts goroutines that the caller cannot
// wait for.
type flight struct {
	done chan struct{}
	ver  *version
	err  error
}

// flightRefreshNow is the flight key of RefreshNow. Selector flights use
// flightKey.
const flightRefreshNow = "refresh"

// flightKey returns the flight key of a first fetch of sel.
func flightKey(sel selector) string {
	if sel.versionID != "" {
		return "version:" + sel.versionID
	}
	return "stage:" + sel.stage
}

// startFlight returns the flight for key on e, starting fn on the cache's
// context if none is running. When settled is not nil and reports a result
// for the current snapshot, that result is returned as a finished flight
// instead: a flight that ended between the caller's lookup and this call has
// already stored what a new one would fetch again. It fails only when the
// cache is closed.
func (c *SecretCache) startFlight(e *entry, key string, settled func(*snapshot) (*version, error, bool), fn func(ctx context.Context) (*version, error)) (*flight, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f, ok := e.flights[key]; ok {
		return f, nil
	}
	if s := e.snap.Load(); s != nil && settled != nil {
		if ver, err, ok := settled(s); ok {
			f := &flight{done: make(chan struct{}), ver: ver, err: err}
			close(f.done)
			return f, nil
		}
	}

	f := &flight{done: make(chan struct{})}
	started := c.spawn(func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.FetchTimeout)
		defer cancel()
		ver, err := fn(ctx)

		e.mu.Lock()
		delete(e.flights, key)
		if len(e.flights) == 0 {
			// An empty map still holds memory; most entries never fetch again.
			e.flights = nil
		}
		f.ver, f.err = ver, err
		e.mu.Unlock()
		close(f.done)
	})
	if !started {
		return nil, ErrClosed
	}
	if e.flights == nil {
		e.flights = make(map[string]*flight)
	}
	e.flights[key] = f
	return f, nil
}

// wait returns the result of f, or the caller's context error if ctx ends
// first. Leaving early does not cancel f, which other callers may share.
func (c *SecretCache) wait(ctx context.Context, op, secretID string, sel selector, f *flight) (*version, error) {
	select {
	case <-f.done:
		if f.err != nil && c.closed.Load() {
			return nil, newError(op, secretID, sel, ErrClosed)
		}
		return f.ver, f.err
	case <-ctx.Done():
		return nil, newError(op, secretID, sel, ctx.Err())
	}
}

// load fetches sel of secretID for a read that found no value to serve,
// sharing the fetch with concurrent readers of the same selector.
func (c *SecretCache) load(ctx context.Context, op, secretID string, sel selector) (*version, error) {
	if err := validateSecretID(secretID); err != nil {
		return nil, newError(op, secretID, sel, err)
	}

	e := c.entryFor(secretID)
	if v := c.serveHeld(e, sel); v != nil {
		return v, nil
	}
	settled := func(s *snapshot) (*version, error, bool) {
		sl := s.find(sel, c.cfg.VersionStage)
		switch {
		case sl == nil:
			return nil, nil, false
		case sl.ver != nil:
			return sl.ver, nil, true
		case sl.fail != nil && c.clock.load() < sl.fail.retryAt:
			return nil, sl.fail.err, true
		}
		return nil, nil, false
	}
	f, err := c.startFlight(e, flightKey(sel), settled, func(fctx context.Context) (*version, error) {
		return c.fetchSelector(fctx, e, sel)
	})
	if err != nil {
		return nil, newError(op, secretID, sel, err)
	}
	return c.wait(ctx, op, secretID, sel, f)
}

// serveHeld serves a first read of sel from a version already held: one
// with the requested version ID, or the one that the last stage mapping of a
// fresh snapshot gives for the requested stage. This is how AWSPREVIOUS costs
// no call after a rotation that the cache has seen.
func (c *SecretCache) serveHeld(e *entry, sel selector) *version {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.snap.Load()
	if s == nil || s.find(sel, c.cfg.VersionStage) != nil {
		return nil
	}
	id := sel.versionID
	if id == "" {
		// A stage mapping is trusted only until the secret is due for refresh.
		if c.clock.now() >= s.refreshAt {
			return nil
		}
		var ok bool
		if id, ok = s.stages()[sel.stage]; !ok {
			return nil
		}
	}
	v := s.version(id)
	if v == nil {
		return nil
	}
	ns := s.clone()
	ns.setSlot(sel, slot{ver: v}, c.cfg.VersionStage)
	e.snap.Store(ns)
	return v
}

// fetchSelector calls GetSecretValue for sel and stores the outcome in e's
// slot for sel: the new value, or the error with the time of the next retry.
func (c *SecretCache) fetchSelector(ctx context.Context, e *entry, sel selector) (*version, error) {
	ver, err := c.fetchVersion(ctx, e.id, sel)
	if err != nil && c.ctx.Err() != nil {
		return nil, err
	}
	now := c.clock.now()

	e.mu.Lock()
	defer e.mu.Unlock()
	ns := &snapshot{}
	if s := e.snap.Load(); s != nil {
		ns = s.clone()
	}
	var sl slot
	if old := ns.find(sel, c.cfg.VersionStage); old != nil {
		sl = *old
	}

	if err != nil {
		c.stats.failures.Add(1)
		failures := addFailure(sl.failures())
		sl.fail = &slotFailure{err: err, retryAt: c.retryAt(now, failures), failures: failures}
		if isDefinitive(err) {
			sl.ver = nil
		}
		ns.setSlot(sel, sl, c.cfg.VersionStage)
		e.snap.Store(ns)
		return nil, err
	}

	// Serving the version object already held for this ID keeps one copy.
	if held := ns.version(ver.id()); held != nil {
		ver = held
	}
	sl.ver, sl.fail = ver, nil
	ns.setSlot(sel, sl, c.cfg.VersionStage)
	// A secret that had nothing to serve, or whose last refresh failed,
	// starts a new refresh interval: the value just fetched is current.
	if ns.refreshAt <= now {
		ns.refreshAt = c.nextRefresh(now)
		ns.failures = 0
	}
	e.snap.Store(ns)
	return ver, nil
}

// fetchVersion calls GetSecretValue for sel and turns the output into a
// version, running the hook's Put if one is set.
func (c *SecretCache) fetchVersion(ctx context.Context, secretID string, sel selector) (*version, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: &secretID}
	if sel.versionID != "" {
		in.VersionId = &sel.versionID
	} else {
		in.VersionStage = &sel.stage
	}
	out, err := c.callGetSecretValue(ctx, in)
	if err != nil {
		return nil, newError("GetSecretValue", secretID, sel, err)
	}

	full, err := newVersion(out, true, &c.arnPrefixes)
	if err != nil {
		return nil, newError("GetSecretValue", secretID, sel, err)
	}
	if c.cfg.Hook == nil {
		return full, nil
	}
	stored, err := callPut(ctx, c.cfg.Hook, full.output(&c.arnPrefixes))
	if err != nil {
		return nil, newError("GetSecretValue", secretID, sel, err)
	}
	meta, err := newVersion(out, false, &c.arnPrefixes)
	if err != nil {
		return nil, newError("GetSecretValue", secretID, sel, err)
	}
	meta.stored = stored
	return meta, nil
}

// callGetSecretValue calls the client and checks that the output can be
// cached. A panic in the client becomes an error, because it would otherwise
// end the process from a goroutine the caller does not own.
func (c *SecretCache) callGetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput) (out *secretsmanager.GetSecretValueOutput, err error) {
	c.stats.getSecretValueCalls.Add(1)
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("client panicked in GetSecretValue with a value of type %T", r)
		}
	}()
	out, err = c.client.GetSecretValue(ctx, in)
	if err != nil {
		return nil, err
	}
	switch {
	case out == nil:
		return nil, errors.New("client returned neither an output nor an error")
	case out.VersionId == nil || *out.VersionId == "":
		return nil, errors.New("response has no VersionId")
	case out.SecretString == nil && out.SecretBinary == nil:
		return nil, errors.New("response has neither SecretString nor SecretBinary")
	}
	return out, nil
}

// callDescribeSecret calls the client's DescribeSecret, turning a panic or a
// missing output into an error.
func (c *SecretCache) callDescribeSecret(ctx context.Context, secretID string) (out *secretsmanager.DescribeSecretOutput, err error) {
	c.stats.describeSecretCalls.Add(1)
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("client panicked in DescribeSecret with a value of type %T", r)
		}
	}()
	out, err = c.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &secretID})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New("client returned neither an output nor an error")
	}
	return out, nil
}
