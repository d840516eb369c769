package secretcachetest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Staging labels that Secrets Manager moves by itself.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

const (
	arnPrefix = "arn:aws:secretsmanager:" + fakeRegion + ":" + fakeAccountID + ":secret:"
	// arnSuffixLength is the length of the random suffix, after a hyphen,
	// that Secrets Manager appends to the name in a secret ARN.
	arnSuffixLength = 6
	// maxVersions is the number of versions above which the server removes
	// the oldest versions without staging labels. The Secrets Manager quotas
	// page gives the same number but keeps versions younger than 24 hours,
	// which the server removes too so that its memory use stays bounded.
	maxVersions = 100
)

// secret is one stored secret. The Server's mutex guards all fields.
type secret struct {
	name        string
	arn         string
	created     time.Time
	lastChanged time.Time
	deleted     time.Time // zero unless the secret is marked for deletion

	versions map[string]*version // by version ID
	order    []string            // version IDs, oldest first
	stages   map[string]string   // staging label to version ID
}

// version is one immutable secret version.
type version struct {
	id      string
	created time.Time
	value   secretValue
}

// secretValue is a SecretString or a SecretBinary.
type secretValue struct {
	text     string
	binary   []byte
	isBinary bool
}

func (v secretValue) equal(other secretValue) bool {
	if v.isBinary != other.isBinary {
		return false
	}
	if v.isBinary {
		return bytes.Equal(v.binary, other.binary)
	}
	return v.text == other.text
}

// newSecret returns a secret without versions and with a new ARN.
func newSecret(name string, now time.Time) *secret {
	return &secret{
		name:        name,
		arn:         arnPrefix + name + "-" + randomSuffix(),
		created:     now,
		lastChanged: now,
		versions:    make(map[string]*version),
		stages:      make(map[string]string),
	}
}

// randomSuffix returns arnSuffixLength random letters and digits.
func randomSuffix() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	suffix := make([]byte, arnSuffixLength)
	for i := range suffix {
		suffix[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(suffix)
}

// lookup finds a secret by name, full ARN or partial ARN (an ARN without the
// random suffix). It returns nil when none matches. The caller holds s.mu.
func (s *Server) lookup(secretID string) *secret {
	if sec := s.secrets[secretID]; sec != nil {
		return sec
	}
	// Names cannot contain ':', so an ID with the ARN prefix is an ARN.
	rest, ok := strings.CutPrefix(secretID, arnPrefix)
	if !ok {
		return nil
	}
	if hyphen := len(rest) - arnSuffixLength - 1; hyphen > 0 && rest[hyphen] == '-' {
		if sec := s.secrets[rest[:hyphen]]; sec != nil && sec.arn == secretID {
			return sec
		}
	}
	return s.secrets[rest]
}

// addVersion stores a new version and attaches the staging labels to it.
// The first version of a secret always gets AWSCURRENT, as on AWS.
func (sec *secret) addVersion(versionID string, value secretValue, stages []string, now time.Time) *version {
	if len(sec.versions) == 0 && !slices.Contains(stages, stageCurrent) {
		stages = append(slices.Clip(stages), stageCurrent)
	}
	v := &version{id: versionID, created: now, value: value}
	sec.versions[versionID] = v
	sec.order = append(sec.order, versionID)
	for _, stage := range stages {
		sec.moveStage(stage, versionID)
	}
	sec.lastChanged = now
	sec.pruneVersions()
	return v
}

// moveStage attaches a staging label to a version and removes it from the
// version that had it. Moving AWSCURRENT puts AWSPREVIOUS on the version
// that had AWSCURRENT.
func (sec *secret) moveStage(stage, versionID string) {
	previous, had := sec.stages[stage]
	if had && previous == versionID {
		return
	}
	sec.stages[stage] = versionID
	if stage == stageCurrent && had {
		sec.stages[stagePrevious] = previous
	}
}

// stagesOf returns the sorted staging labels attached to a version.
func (sec *secret) stagesOf(versionID string) []string {
	stages := []string{}
	for stage, id := range sec.stages {
		if id == versionID {
			stages = append(stages, stage)
		}
	}
	slices.Sort(stages)
	return stages
}

// versionStages returns the staging labels of every version that has one.
func (sec *secret) versionStages() map[string][]string {
	result := make(map[string][]string)
	for stage, id := range sec.stages {
		result[id] = append(result[id], stage)
	}
	for _, stages := range result {
		slices.Sort(stages)
	}
	return result
}

// pruneVersions removes the oldest versions without staging labels while
// the secret has more than maxVersions versions.
func (sec *secret) pruneVersions() {
	if len(sec.order) <= maxVersions {
		return
	}
	labeled := make(map[string]bool, len(sec.stages))
	for _, id := range sec.stages {
		labeled[id] = true
	}
	excess := len(sec.order) - maxVersions
	retained := sec.order[:0]
	for _, id := range sec.order {
		if excess > 0 && !labeled[id] {
			delete(sec.versions, id)
			excess--
			continue
		}
		retained = append(retained, id)
	}
	sec.order = retained
}

// PutString stores a string value as a new AWSCURRENT version of the named
// secret, creating the secret if it does not exist, and returns the new
// version ID. The previous AWSCURRENT version gets AWSPREVIOUS. A secret
// marked for deletion stays marked. PutString panics if name is not a valid
// secret name. It sends no request and counts no call.
func (s *Server) PutString(name, value string) (versionID string) {
	return s.putValue(name, secretValue{text: value})
}

// PutBinary stores a copy of value as a new AWSCURRENT version of the named
// secret, like PutString does for strings.
func (s *Server) PutBinary(name string, value []byte) (versionID string) {
	// The copy is never nil, so an empty value is sent as SecretBinary "".
	return s.putValue(name, secretValue{binary: append([]byte{}, value...), isBinary: true})
}

func (s *Server) putValue(name string, value secretValue) string {
	if err := validateName(name); err != nil {
		panic("secretcachetest: " + err.message)
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	now := time.Now()
	sec := s.secrets[name]
	if sec == nil {
		sec = newSecret(name, now)
		s.secrets[name] = sec
	}
	return sec.addVersion(newUUID(), value, []string{stageCurrent}, now).id
}

// SetStage attaches a staging label to a version of the named secret and
// removes it from the version that had it. Moving AWSCURRENT puts
// AWSPREVIOUS on the version that had AWSCURRENT. SetStage panics if the
// secret or the version does not exist or stage is empty.
func (s *Server) SetStage(name, stage, versionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	sec := s.mustSecret("SetStage", name)
	if stage == "" {
		panic(fmt.Sprintf("secretcachetest: SetStage(%q): the staging label is empty", name))
	}
	if sec.versions[versionID] == nil {
		panic(fmt.Sprintf("secretcachetest: SetStage(%q, %q): secret has no version %q: use an ID returned by PutString or PutBinary",
			name, stage, versionID))
	}
	sec.moveStage(stage, versionID)
	sec.lastChanged = time.Now()
}

// RemoveStage removes a staging label, AWSCURRENT included, from the named
// secret. A label that no version has is ignored. RemoveStage panics if
// the secret does not exist.
func (s *Server) RemoveStage(name, stage string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	sec := s.mustSecret("RemoveStage", name)
	delete(sec.stages, stage)
	sec.lastChanged = time.Now()
}

// ARN returns the full ARN of the named secret. It panics if the secret
// does not exist.
func (s *Server) ARN(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustSecret("ARN", name).arn
}

// Delete marks the named secret for deletion, as DeleteSecret without
// ForceDeleteWithoutRecovery does. It panics if the secret does not exist.
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	sec := s.mustSecret("Delete", name)
	if sec.deleted.IsZero() {
		now := time.Now()
		sec.deleted = now
		sec.lastChanged = now
	}
}

// Purge removes the named secret with all its versions, as DeleteSecret
// with ForceDeleteWithoutRecovery does. A missing secret is ignored.
func (s *Server) Purge(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.secrets, name)
}

// mustSecret returns the named secret or panics with a message that names
// the helper. The caller holds s.mu.
func (s *Server) mustSecret(helper, name string) *secret {
	sec := s.secrets[name]
	if sec == nil {
		panic(fmt.Sprintf("secretcachetest: %s(%q): no such secret: create it with PutString or PutBinary first", helper, name))
	}
	return sec
}
