package secretcachetest

import (
	"sort"
	"sync"
	"time"
)

// FakeClock is a manually advanced clock for tests. It satisfies the Clock
// interface of package secretcache, so a test can move a cache past its refresh
// interval or a retry delay without sleeping.
//
// Callbacks registered with AfterFunc run synchronously inside Advance, in
// order of their due time, with Now set to that due time. A callback may
// register further callbacks; those that fall due within the same Advance run
// in that call too.
type FakeClock struct {
	mu     sync.Mutex // guards now, timers and nextID
	now    time.Time
	timers []*fakeTimer
	nextID uint64
}

type fakeTimer struct {
	id   uint64 // registration order, breaks ties between equal due times
	when time.Time
	f    func()
}

// NewFakeClock returns a clock that reads start until it is advanced.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc registers f to run once the clock has been advanced by d. The
// returned stop function cancels it and reports whether it was still pending.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	t := &fakeTimer{id: c.nextID, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, pending := range c.timers {
			if pending == t {
				c.timers = append(c.timers[:i], c.timers[i+1:]...)
				return true
			}
		}
		return false
	}
}

// Advance moves the clock forward by d, running every callback that falls due
// on the way. A negative d is treated as zero.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	if d < 0 {
		d = 0
	}
	target := c.now.Add(d)
	for {
		t := c.popDueLocked(target)
		if t == nil {
			break
		}
		c.now = t.when
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

// Pending returns the number of registered callbacks that have not run or been
// stopped.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// popDueLocked removes and returns the earliest timer due at or before target,
// or nil when none is due. The caller holds c.mu.
func (c *FakeClock) popDueLocked(target time.Time) *fakeTimer {
	if len(c.timers) == 0 {
		return nil
	}
	sort.Slice(c.timers, func(i, j int) bool {
		a, b := c.timers[i], c.timers[j]
		if !a.when.Equal(b.when) {
			return a.when.Before(b.when)
		}
		return a.id < b.id
	})
	first := c.timers[0]
	if first.when.After(target) {
		return nil
	}
	c.timers = c.timers[1:]
	return first
}
