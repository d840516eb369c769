package secretcache

import "sync/atomic"

// Stats counts the work a SecretCache has done since it was created. Cache
// hits are not counted, because counting them would put a shared write on
// the read path.
type Stats struct {
	GetSecretValueCalls int64 // GetSecretValue calls made, including failed ones
	DescribeSecretCalls int64 // DescribeSecret calls made, including failed ones
	Refreshes           int64 // refreshes of cached secrets, background and RefreshNow
	Failures            int64 // fetches and refreshes that ended in an error
	Evictions           int64 // secrets evicted to stay within MaxCacheSize
}

type stats struct {
	getSecretValueCalls atomic.Int64
	describeSecretCalls atomic.Int64
	refreshes           atomic.Int64
	failures            atomic.Int64
	evictions           atomic.Int64
}

// Stats returns a snapshot of the cache's counters.
func (c *SecretCache) Stats() Stats {
	return Stats{
		GetSecretValueCalls: c.stats.getSecretValueCalls.Load(),
		DescribeSecretCalls: c.stats.describeSecretCalls.Load(),
		Refreshes:           c.stats.refreshes.Load(),
		Failures:            c.stats.failures.Load(),
		Evictions:           c.stats.evictions.Load(),
	}
}
