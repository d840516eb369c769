package secretcache

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/smithy-go"
)

// Sentinel errors that callers can test for with errors.Is. Errors returned by
// the cache wrap them in an *Error that names the secret.
var (
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("secretcache: cache is closed")

	// ErrInvalidInput is wrapped by errors for a call the cache rejects
	// before any API call: an empty or malformed secret ID, a nil context, or
	// both a stage and a version ID in one call.
	ErrInvalidInput = errors.New("invalid input")

	// ErrNotString is wrapped when GetSecretString reads a version that holds
	// only SecretBinary.
	ErrNotString = errors.New("secret version has no SecretString, only SecretBinary: use GetSecretBinary")

	// ErrNotBinary is wrapped when GetSecretBinary reads a version that holds
	// only SecretString.
	ErrNotBinary = errors.New("secret version has no SecretBinary, only SecretString: use GetSecretString")

	// ErrStageNotFound is wrapped when the secret has no version with the
	// requested staging label.
	ErrStageNotFound = errors.New("staging label not found on any version of the secret")

	// ErrDeleted is wrapped when DescribeSecret reports that the secret is
	// marked for deletion. The cache stops serving it, as GetSecretValue
	// would fail for it.
	ErrDeleted = errors.New("secret is marked for deletion: restore it with RestoreSecret or read another secret")

	// ErrHook is wrapped when the configured CacheHook fails, returns an
	// unusable value or panics.
	ErrHook = errors.New("cache hook failed")
)

// errNilContext is returned, wrapped with the secret ID, for a call made with
// a nil context.
var errNilContext = fmt.Errorf("%w: nil context: pass context.Background() or a request context", ErrInvalidInput)

// Error describes a failed cache call. It names the secret and the stage or
// version requested, never the secret's value. Unwrap returns the cause, so
// errors.As reaches SDK error types such as *types.ResourceNotFoundException.
type Error struct {
	// Op is the cache method or service operation that failed, such as
	// "GetSecretValue" or "DescribeSecret".
	Op string
	// SecretID is the secret name or ARN as the caller passed it.
	SecretID string
	// VersionStage is the staging label requested, if any.
	VersionStage string
	// VersionID is the version ID requested, if any.
	VersionID string
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("secretcache: ")
	b.WriteString(e.Op)
	b.WriteString(" secret ")
	b.WriteString(quoteID(e.SecretID))
	if e.VersionStage != "" {
		b.WriteString(" stage ")
		b.WriteString(quoteID(e.VersionStage))
	}
	if e.VersionID != "" {
		b.WriteString(" version ")
		b.WriteString(quoteID(e.VersionID))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// quotedIDLimit bounds how much of an identifier an error message repeats, so
// that an oversized ID does not flood logs.
const quotedIDLimit = 256

// quoteID quotes s for an error message, escaping control characters and
// shortening it past quotedIDLimit bytes.
func quoteID(s string) string {
	if len(s) <= quotedIDLimit {
		return fmt.Sprintf("%q", s)
	}
	cut := quotedIDLimit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:cut], len(s))
}

// newError builds an *Error for sel.
func newError(op, secretID string, sel selector, err error) *Error {
	return &Error{Op: op, SecretID: secretID, VersionStage: sel.stage, VersionID: sel.versionID, Err: err}
}

// Error codes that Secrets Manager returns when a secret cannot be served
// however often the call is retried: it is gone, marked for deletion, or the
// caller lost access to it or to its KMS key.
var definitiveCodes = map[string]bool{
	"ResourceNotFoundException": true,
	"AccessDeniedException":     true,
	"DecryptionFailure":         true,
	"InvalidRequestException":   true,
	"InvalidParameterException": true,
}

// isDefinitive reports whether err means the secret must stop being served.
// Throttling, server errors, timeouts and network failures are transient.
func isDefinitive(err error) bool {
	if errors.Is(err, ErrStageNotFound) || errors.Is(err, ErrDeleted) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return definitiveCodes[apiErr.ErrorCode()]
	}
	return false
}

// isAccessDenied reports whether err is an AccessDeniedException.
func isAccessDenied(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDeniedException"
}
