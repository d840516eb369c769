package secretcache

import (
	"strings"
	"sync"
	"sync/atomic"
)

// prefixTable interns the part of secret ARNs before the secret name, such as
// "arn:aws:secretsmanager:us-east-1:123456789012:secret:". Every secret of
// one account and region shares it, so a version stores a one-byte index
// instead of about 50 bytes. Index 0 stands for no prefix.
type prefixTable struct {
	mu   sync.Mutex               // serializes writers of list
	list atomic.Pointer[[]string] // immutable; replaced by intern
}

// maxPrefixes is the number of distinct prefixes interned; ARNs with further
// prefixes are stored whole.
const maxPrefixes = 255

// arnSecretMarker ends the prefix of a Secrets Manager secret ARN.
const arnSecretMarker = ":secret:"

// intern splits arn into its interned prefix's index and the rest. It
// returns index 0 and arn unchanged when arn has no secret prefix or the
// table is full.
func (t *prefixTable) intern(arn string) (uint8, string) {
	i := strings.Index(arn, arnSecretMarker)
	if i < 0 {
		return 0, arn
	}
	prefix, rest := arn[:i+len(arnSecretMarker)], arn[i+len(arnSecretMarker):]
	if list := t.list.Load(); list != nil {
		for j, p := range *list {
			if p == prefix {
				return uint8(j + 1), rest
			}
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	var old []string
	if list := t.list.Load(); list != nil {
		old = *list
	}
	for j, p := range old {
		if p == prefix {
			return uint8(j + 1), rest
		}
	}
	if len(old) >= maxPrefixes {
		return 0, arn
	}
	// strings.Clone keeps the table from holding the whole response string.
	list := append(append([]string(nil), old...), strings.Clone(prefix))
	t.list.Store(&list)
	return uint8(len(list)), rest
}

// get returns the prefix with index i, or "" for index 0.
func (t *prefixTable) get(i uint8) string {
	if i == 0 {
		return ""
	}
	return (*t.list.Load())[i-1]
}
