package secretcache

import (
	"fmt"
	"io"
)

// String returns a summary of the cache's configuration. It contains no
// secret and no credential, and it reads only fields that never change after
// New, so it is safe to call while the cache is in use.
func (c *SecretCache) String() string {
	if c == nil {
		return "secretcache.SecretCache(nil)"
	}
	return fmt.Sprintf("secretcache.SecretCache{MaxCacheSize: %d, RefreshInterval: %v, VersionStage: %q, Hook: %s}",
		c.cfg.MaxCacheSize, c.cfg.RefreshInterval, c.cfg.VersionStage, typeName(c.cfg.Hook))
}

// Format writes String for every verb. Without it, verbs such as %s would
// print the fields of the Client, including static credentials, and read
// fields that other goroutines change.
func (c *SecretCache) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, c.String())
}

// String returns the configuration with Hook, Clock and Logger shown by type
// only, because a hook may hold key material.
func (cfg Config) String() string {
	return fmt.Sprintf("secretcache.Config{MaxCacheSize: %d, RefreshInterval: %v, VersionStage: %q, RetryDelayBase: %v, RetryGrowthFactor: %v, RetryDelayMax: %v, FetchTimeout: %v, Hook: %s, Clock: %s, Logger: %s}",
		cfg.MaxCacheSize, cfg.RefreshInterval, cfg.VersionStage, cfg.RetryDelayBase, cfg.RetryGrowthFactor,
		cfg.RetryDelayMax, cfg.FetchTimeout, typeName(cfg.Hook), typeName(cfg.Clock), typeName(cfg.Logger))
}

// Format writes String for every verb, so that %+v and %#v do not print the
// hook's fields either.
func (cfg Config) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, cfg.String())
}

// typeName returns the dynamic type of v, or "nil".
func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}
