package secretcache

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults applied to zero-valued Config fields.
const (
	DefaultMaxCacheSize      = 1024
	DefaultRefreshInterval   = time.Hour
	DefaultVersionStage      = "AWSCURRENT"
	DefaultRetryDelayBase    = time.Second
	DefaultRetryGrowthFactor = 2.0
	DefaultRetryDelayMax     = time.Hour
	DefaultFetchTimeout      = 30 * time.Second
)

// maxVersionsPerSecret is the number of version values kept for one secret.
// Stage reads after a rotation, such as AWSPREVIOUS, are served from these.
const maxVersionsPerSecret = 10

// maxSecretIDLength is the longest secret ID that Secrets Manager accepts.
const maxSecretIDLength = 2048

// Config sets up a SecretCache. The zero value is valid: every zero field
// takes the default stated beside it.
type Config struct {
	// MaxCacheSize is the number of secrets kept. The least recently read
	// secret is evicted when another one is added. 0 means 1024.
	MaxCacheSize int

	// RefreshInterval is how long a cached secret is served before it is
	// checked again. Each secret is checked at a random point between half the
	// interval and the whole interval after it was stored, so that processes
	// started together do not call Secrets Manager in step. 0 means 1 hour.
	RefreshInterval time.Duration

	// VersionStage is the staging label read when a call names neither a stage
	// nor a version ID. "" means "AWSCURRENT".
	VersionStage string

	// RetryDelayBase is the wait after the first failed call for a secret.
	// 0 means 1 second.
	RetryDelayBase time.Duration

	// RetryGrowthFactor multiplies the wait after each further consecutive
	// failure. 0 means 2. Values below 1 are rejected.
	RetryGrowthFactor float64

	// RetryDelayMax caps the wait between retries. 0 means 1 hour.
	RetryDelayMax time.Duration

	// FetchTimeout bounds each fetch the cache runs on behalf of its readers,
	// including the SDK's own retries. A fetch is shared by every caller that
	// waits for it, so it runs on the cache's context, not a caller's.
	// 0 means 30 seconds.
	FetchTimeout time.Duration

	// Hook transforms values before they are stored and after they are read.
	// nil keeps values as fetched.
	Hook CacheHook

	// Clock supplies the time for refresh and retry decisions. nil means the
	// system clock.
	Clock Clock

	// Logger receives failures of background refreshes, which no caller
	// would otherwise see. Secret values are never logged. nil discards them.
	Logger *slog.Logger
}

// withDefaults validates cfg and returns a copy with every zero field set to
// its default.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.MaxCacheSize < 0 {
		return cfg, fmt.Errorf("secretcache: invalid Config.MaxCacheSize %d: must be 0 (default %d) or positive", cfg.MaxCacheSize, DefaultMaxCacheSize)
	}
	if cfg.RefreshInterval < 0 {
		return cfg, fmt.Errorf("secretcache: invalid Config.RefreshInterval %v: must be 0 (default %v) or positive", cfg.RefreshInterval, DefaultRefreshInterval)
	}
	if cfg.RetryDelayBase < 0 {
		return cfg, fmt.Errorf("secretcache: invalid Config.RetryDelayBase %v: must be 0 (default %v) or positive", cfg.RetryDelayBase, DefaultRetryDelayBase)
	}
	if cfg.RetryDelayMax < 0 {
		return cfg, fmt.Errorf("secretcache: invalid Config.RetryDelayMax %v: must be 0 (default %v) or positive", cfg.RetryDelayMax, DefaultRetryDelayMax)
	}
	if cfg.FetchTimeout < 0 {
		return cfg, fmt.Errorf("secretcache: invalid Config.FetchTimeout %v: must be 0 (default %v) or positive", cfg.FetchTimeout, DefaultFetchTimeout)
	}
	// The negated comparison also rejects NaN.
	if cfg.RetryGrowthFactor != 0 && !(cfg.RetryGrowthFactor >= 1) {
		return cfg, fmt.Errorf("secretcache: invalid Config.RetryGrowthFactor %v: must be 0 (default %v) or at least 1", cfg.RetryGrowthFactor, DefaultRetryGrowthFactor)
	}
	if err := validateLabel("Config.VersionStage", cfg.VersionStage); err != nil {
		return cfg, err
	}

	if cfg.MaxCacheSize == 0 {
		cfg.MaxCacheSize = DefaultMaxCacheSize
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.VersionStage == "" {
		cfg.VersionStage = DefaultVersionStage
	}
	if cfg.RetryDelayBase == 0 {
		cfg.RetryDelayBase = DefaultRetryDelayBase
	}
	if cfg.RetryGrowthFactor == 0 {
		cfg.RetryGrowthFactor = DefaultRetryGrowthFactor
	}
	if cfg.RetryDelayMax == 0 {
		cfg.RetryDelayMax = DefaultRetryDelayMax
	}
	if cfg.RetryDelayMax < cfg.RetryDelayBase {
		return cfg, fmt.Errorf("secretcache: invalid Config.RetryDelayMax %v: must not be less than RetryDelayBase %v", cfg.RetryDelayMax, cfg.RetryDelayBase)
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
