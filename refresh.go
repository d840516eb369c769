package secretcache

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/smithy-go"
)

// refreshOutcome is the result of one refresh of a secret, applied to
// whatever snapshot is current once the calls have returned.
type refreshOutcome struct {
	// describeDenied records that DescribeSecret returned AccessDeniedException.
	describeDenied bool
	// stages is the stage mapping from DescribeSecret; nil if it was not called.
	stages map[string]string
	// slots holds the new state of each selector whose state changed.
	slots map[selector]slotOutcome
	// secretErr is a definitive error that ends service of every selector.
	secretErr error
}

// slotOutcome is the new state of one selector: a version or a definitive
// error.
type slotOutcome struct {
	ver *version
	err error
}

// startRefresh starts a background refresh of e unless one is running.
// Failures go to the logger, because no caller waits for them.
func (c *SecretCache) startRefresh(e *entry) {
	if e.refreshing.Load() || !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	started := c.spawn(func() {
		defer e.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.FetchTimeout)
		defer cancel()
		err := c.refresh(ctx, e)
		if err != nil && c.ctx.Err() == nil {
			c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "secretcache: background refresh failed",
				slog.String("secret_id", e.id), slog.String("error", err.Error()))
		}
	})
	if !started {
		e.refreshing.Store(false)
	}
}

// refresh brings every selector read so far of e up to date: one
// DescribeSecret call, and GetSecretValue only for versions not held yet.
// Where DescribeSecret is denied, it calls GetSecretValue for each stage. It
// returns the failure that kept the refresh from completing, if any; values
// stay in service after a transient failure.
func (c *SecretCache) refresh(ctx context.Context, e *entry) error {
	e.mu.Lock()
	e.fetchSeq++
	seq := e.fetchSeq
	e.mu.Unlock()
	base := e.snap.Load()
	if base == nil {
		return nil
	}
	c.stats.refreshes.Add(1)

	var outcome refreshOutcome
	var transient error
	if base.describeDenied {
		outcome, transient = c.refreshByStage(ctx, e, base)
		outcome.describeDenied = true
	} else {
		outcome, transient = c.refreshByDescribe(ctx, e, base)
	}
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	return c.applyRefresh(e, seq, outcome, transient)
}

// refreshByDescribe refreshes base with DescribeSecret, falling back to
// refreshByStage when DescribeSecret is denied or returns no stage mapping.
func (c *SecretCache) refreshByDescribe(ctx context.Context, e *entry, base *snapshot) (refreshOutcome, error) {
	out, err := c.callDescribeSecret(ctx, e.id)
	if err != nil {
		// Many roles may call GetSecretValue but not DescribeSecret, so a
		// denied DescribeSecret does not mean that access to the value is lost.
		if isAccessDenied(err) {
			outcome, transient := c.refreshByStage(ctx, e, base)
			outcome.describeDenied = true
			return outcome, transient
		}
		wrapped := newError("DescribeSecret", e.id, selector{}, err)
		if isDefinitive(err) {
			return refreshOutcome{secretErr: wrapped}, nil
		}
		return refreshOutcome{}, wrapped
	}
	if out.DeletedDate != nil {
		return refreshOutcome{secretErr: newError("DescribeSecret", e.id, selector{}, ErrDeleted)}, nil
	}
	if out.VersionIdsToStages == nil {
		return c.refreshByStage(ctx, e, base)
	}

	stages := make(map[string]string)
	for id, labels := range out.VersionIdsToStages {
		for _, label := range labels {
			stages[label] = id
		}
	}
	outcome := refreshOutcome{stages: stages, slots: make(map[selector]slotOutcome)}
	fetched := make(map[string]*version)
	var transient error
	base.eachSlot(c.cfg.VersionStage, func(sel selector, sl *slot) {
		if sel.versionID != "" {
			// A version's value never changes, so a held version stays valid.
			return
		}
		id, ok := stages[sel.stage]
		if !ok {
			outcome.slots[sel] = slotOutcome{err: newError("DescribeSecret", e.id, sel, ErrStageNotFound)}
			return
		}
		if sl.ver != nil && sl.ver.id() == id {
			return
		}
		if v := base.version(id); v != nil {
			outcome.slots[sel] = slotOutcome{ver: v}
			return
		}
		if v := fetched[id]; v != nil {
			outcome.slots[sel] = slotOutcome{ver: v}
			return
		}
		if outcome.secretErr != nil || transient != nil {
			return
		}
		v, err := c.fetchVersion(ctx, e.id, selector{versionID: id})
		switch {
		case err == nil:
			fetched[id] = v
			outcome.slots[sel] = slotOutcome{ver: v}
		case endsSecret(err):
			outcome.secretErr = err
		case isDefinitive(err):
			outcome.slots[sel] = slotOutcome{err: err}
		default:
			transient = err
		}
	})
	return outcome, transient
}

// refreshByStage refreshes base with one GetSecretValue call for each stage
// read so far. Selectors by version ID are left as they are.
func (c *SecretCache) refreshByStage(ctx context.Context, e *entry, base *snapshot) (refreshOutcome, error) {
	outcome := refreshOutcome{slots: make(map[selector]slotOutcome)}
	var transient error
	base.eachSlot(c.cfg.VersionStage, func(sel selector, _ *slot) {
		if sel.stage == "" || outcome.secretErr != nil || transient != nil {
			return
		}
		v, err := c.fetchVersion(ctx, e.id, sel)
		switch {
		case err == nil:
			if held := base.version(v.id()); held != nil {
				v = held
			}
			outcome.slots[sel] = slotOutcome{ver: v}
		case endsSecret(err):
			outcome.secretErr = err
		case isDefinitive(err):
			outcome.slots[sel] = slotOutcome{err: err}
		default:
			transient = err
		}
	})
	return outcome, transient
}

// applyRefresh stores the outcome of a refresh that started as fetch number
// seq, unless a refresh that started later has already been stored.
func (c *SecretCache) applyRefresh(e *entry, seq uint32, outcome refreshOutcome, transient error) error {
	now := c.clock.now()

	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.snap.Load()
	// The difference, read as signed, orders sequence numbers across
	// wraparound.
	if int32(cur.refreshSeq-seq) > 0 {
		return nil
	}
	ns := cur.clone()
	ns.refreshSeq = seq
	if outcome.describeDenied {
		ns.describeDenied = true
	}
	if outcome.stages != nil {
		ns.setStages(outcome.stages)
	}

	if outcome.secretErr != nil {
		c.stats.failures.Add(1)
		ns.failures = addFailure(ns.failures)
		retryAt := c.retryAt(now, int32(ns.failures))
		ns.refreshAt = retryAt
		ns.dropValues(outcome.secretErr, retryAt, int32(ns.failures))
		e.snap.Store(ns)
		return outcome.secretErr
	}

	for sel, o := range outcome.slots {
		old := ns.find(sel, c.cfg.VersionStage)
		if old == nil {
			continue
		}
		if o.ver != nil {
			ns.setSlot(sel, slot{ver: o.ver}, c.cfg.VersionStage)
			continue
		}
		failures := addFailure(old.failures())
		ns.setSlot(sel, slot{fail: &slotFailure{err: o.err, retryAt: c.retryAt(now, failures), failures: failures}}, c.cfg.VersionStage)
	}
	if transient != nil {
		c.stats.failures.Add(1)
		ns.failures = addFailure(ns.failures)
		ns.refreshAt = c.retryAt(now, int32(ns.failures))
		e.snap.Store(ns)
		return transient
	}
	ns.failures = 0
	ns.refreshAt = c.nextRefresh(now)
	e.snap.Store(ns)
	return nil
}

// Error codes after which no version of the secret may be served: the
// caller lost access to the secret or its KMS key, or the secret is marked
// for deletion.
var secretWideCodes = map[string]bool{
	"AccessDeniedException":   true,
	"DecryptionFailure":       true,
	"InvalidRequestException": true,
}

// endsSecret reports whether err from GetSecretValue ends service of the
// whole secret rather than of one stage or version.
func endsSecret(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && secretWideCodes[apiErr.ErrorCode()]
}
