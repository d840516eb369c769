package secretcache

import (
	"fmt"
	"unicode/utf8"
)

// GetOption selects which version of a secret a read returns. Without one, a
// read returns the version that has the cache's Config.VersionStage.
type GetOption struct {
	kind  optionKind
	value string
}

type optionKind uint8

const (
	optionStage optionKind = iota + 1
	optionVersionID
)

// WithVersionStage reads the version that has the staging label stage, such
// as "AWSPREVIOUS", instead of the cache's default stage.
func WithVersionStage(stage string) GetOption {
	return GetOption{kind: optionStage, value: stage}
}

// WithVersionID reads the version with the given ID. A version's value never
// changes, so once cached it is served until the secret is evicted or stops
// being served after a definitive error.
func WithVersionID(versionID string) GetOption {
	return GetOption{kind: optionVersionID, value: versionID}
}

// selectorFor turns a read's options into a selector, rejecting
// contradictory or malformed ones.
func (c *SecretCache) selectorFor(opts []GetOption) (selector, error) {
	sel := selector{stage: c.cfg.VersionStage}
	if len(opts) == 0 {
		return sel, nil
	}
	var stage, versionID string
	var stageSet, versionSet bool
	for _, opt := range opts {
		switch opt.kind {
		case optionStage:
			stage, stageSet = opt.value, true
		case optionVersionID:
			versionID, versionSet = opt.value, true
		default:
			return sel, fmt.Errorf("%w: zero GetOption: build options with WithVersionStage or WithVersionID", ErrInvalidInput)
		}
	}
	if stageSet && versionSet {
		return sel, fmt.Errorf("%w: both stage %s and version ID %s given: pass only one of WithVersionStage and WithVersionID", ErrInvalidInput, quoteID(stage), quoteID(versionID))
	}
	if versionSet {
		if err := validateLabel("version ID", versionID); err != nil {
			return sel, err
		}
		if versionID == "" {
			return sel, fmt.Errorf("%w: empty version ID: pass the ID of a version of the secret", ErrInvalidInput)
		}
		return selector{versionID: versionID}, nil
	}
	if err := validateLabel("version stage", stage); err != nil {
		return sel, err
	}
	if stage == "" {
		return sel, fmt.Errorf("%w: empty version stage: pass a staging label such as %q, or no option for the default", ErrInvalidInput, DefaultVersionStage)
	}
	return selector{stage: stage}, nil
}

// maxLabelLength is the longest staging label or version ID that Secrets
// Manager accepts.
const maxLabelLength = 256

// validateLabel checks a staging label or version ID. An empty value passes;
// callers that need one check that themselves.
func validateLabel(what, s string) error {
	if len(s) > maxLabelLength {
		return fmt.Errorf("%w: %s %s is %d bytes, longer than the %d that Secrets Manager accepts", ErrInvalidInput, what, quoteID(s), len(s), maxLabelLength)
	}
	if !utf8.ValidString(s) || hasControl(s) {
		return fmt.Errorf("%w: %s %s contains control characters or invalid UTF-8", ErrInvalidInput, what, quoteID(s))
	}
	return nil
}

// validateSecretID checks a secret name or ARN before it is sent to Secrets
// Manager.
func validateSecretID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty secret ID: pass the secret's name or ARN", ErrInvalidInput)
	}
	if len(id) > maxSecretIDLength {
		return fmt.Errorf("%w: secret ID is %d bytes, longer than the %d that Secrets Manager accepts", ErrInvalidInput, len(id), maxSecretIDLength)
	}
	if !utf8.ValidString(id) || hasControl(id) {
		return fmt.Errorf("%w: secret ID contains control characters or invalid UTF-8: pass the secret's name or ARN", ErrInvalidInput)
	}
	return nil
}

// hasControl reports whether s contains an ASCII control character.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
