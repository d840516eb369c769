package secretcache

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// selector identifies the version a read requests: by staging label or by
// version ID, exactly one of which is set.
type selector struct {
	stage     string
	versionID string
}

// entry is the cache's record of one secret ID. Readers load its snapshot
// without locking; writers replace the snapshot under mu.
type entry struct {
	id   string
	snap atomic.Pointer[snapshot] // nil until the first fetch has finished

	// lruSeq is SecretCache.insertSeq as of the entry's last move to the front
	// of the LRU list by a hit, 0 before the first. While the two are equal a
	// hit needs no LRU update.
	lruSeq atomic.Uint64

	// refreshing is set while a background refresh of the entry runs, so that
	// readers start at most one.
	refreshing atomic.Bool

	mu sync.Mutex // guards snapshot replacement, fetchSeq and flights
	// fetchSeq numbers refreshes of the entry in the order they start. A
	// refresh result is applied only if no refresh that started later has
	// been applied.
	fetchSeq uint32
	flights  map[string]*flight // fetches in progress by flight key; nil when none
}

// snapshot is an immutable view of what the cache holds for one secret.
// Every change builds a new snapshot and stores it in entry.snap. It is kept
// small because most secrets are read by one stage only: everything else
// lives in extra, which stays nil until needed.
type snapshot struct {
	// refreshAt is the coarse-clock time at or after which a read starts a
	// refresh of the secret: the jittered refresh time after a success, or
	// the retry time after a failed refresh.
	refreshAt int64

	// refreshSeq is the entry.fetchSeq of the refresh that produced this
	// state; a refresh that started earlier is not applied over it.
	refreshSeq uint32

	// failures counts consecutive failed refreshes, up to maxFailures.
	failures int16

	// describeDenied records that DescribeSecret returned
	// AccessDeniedException, so refreshes call GetSecretValue for each stage
	// instead.
	describeDenied bool

	// current is the state of the cache's default stage, the common read.
	current slot

	extra *snapshotExtra
}

// snapshotExtra holds the state of secrets read by more than the default
// stage, or that have been rotated while cached.
type snapshotExtra struct {
	// others holds every stage or version ID read so far other than the
	// default stage.
	others []namedSlot

	// retained holds versions that no slot serves any more, newest first,
	// so that a later read of them, such as AWSPREVIOUS after a rotation,
	// needs no call. Together with the versions that slots serve, at most
	// maxVersionsPerSecret versions are held.
	retained []*version

	// stages maps staging labels to version IDs as DescribeSecret last
	// reported them; nil before the first refresh. It is replaced, never
	// changed, so snapshots share it.
	stages map[string]string
}

// slot is the state of one selector of a secret: the version it is served
// from, or the error returned for it.
type slot struct {
	ver  *version     // nil when the selector has no value to serve
	fail *slotFailure // the selector's last failed fetch; nil after a success
	used bool         // the selector has been read; current is unused until then
}

// slotFailure records failed fetches of a selector. It is immutable, so
// snapshots share it.
type slotFailure struct {
	err      error // returned to readers while the slot has no version
	retryAt  int64 // coarse-clock time after which a read fetches again
	failures int32 // consecutive failed fetches
}

// failures returns the number of consecutive failed fetches of the slot.
func (sl *slot) failures() int32 {
	if sl.fail == nil {
		return 0
	}
	return sl.fail.failures
}

// namedSlot is a slot together with its selector.
type namedSlot struct {
	sel selector
	slot
}

// find returns the slot for sel, or nil when sel has not been read.
func (s *snapshot) find(sel selector, defaultStage string) *slot {
	if sel.versionID == "" && sel.stage == defaultStage {
		if s.current.used {
			return &s.current
		}
		return nil
	}
	if s.extra == nil {
		return nil
	}
	for i := range s.extra.others {
		if s.extra.others[i].sel == sel {
			return &s.extra.others[i].slot
		}
	}
	return nil
}

// stages returns the last stage mapping from DescribeSecret, or nil.
func (s *snapshot) stages() map[string]string {
	if s.extra == nil {
		return nil
	}
	return s.extra.stages
}

// setStages records the stage mapping from DescribeSecret.
func (s *snapshot) setStages(stages map[string]string) {
	if stages == nil && s.extra == nil {
		return
	}
	s.ensureExtra().stages = stages
}

// version returns the held version with the given ID, or nil.
func (s *snapshot) version(id string) *version {
	var found *version
	s.eachSlot("", func(_ selector, sl *slot) {
		if found == nil && sl.ver != nil && sl.ver.id() == id {
			found = sl.ver
		}
	})
	if found != nil || s.extra == nil {
		return found
	}
	for _, v := range s.extra.retained {
		if v.id() == id {
			return v
		}
	}
	return nil
}

// clone returns a copy of s that can be changed without affecting readers of s.
func (s *snapshot) clone() *snapshot {
	n := *s
	if s.extra != nil {
		x := *s.extra
		x.others = append([]namedSlot(nil), s.extra.others...)
		x.retained = append([]*version(nil), s.extra.retained...)
		n.extra = &x
	}
	return &n
}

func (s *snapshot) ensureExtra() *snapshotExtra {
	if s.extra == nil {
		s.extra = &snapshotExtra{}
	}
	return s.extra
}

// setSlot stores sl as the state of sel. A version that sel no longer
// serves is retained for later reads unless another slot still serves it.
func (s *snapshot) setSlot(sel selector, sl slot, defaultStage string) {
	sl.used = true
	var target *slot
	if sel.versionID == "" && sel.stage == defaultStage {
		target = &s.current
	} else if target = s.find(sel, defaultStage); target == nil {
		x := s.ensureExtra()
		x.others = append(x.others, namedSlot{sel: sel})
		target = &x.others[len(x.others)-1].slot
	}
	old := target.ver
	*target = sl

	if sl.ver != nil && s.extra != nil {
		s.extra.retained = removeVersion(s.extra.retained, sl.ver)
	}
	if old != nil && old != sl.ver && !s.serves(old) {
		s.retain(old)
	}
	s.trimVersionSlots(sel)
}

// trimVersionSlots drops the oldest slots read by version ID, other than
// keep, while the slots serve more than maxVersionsPerSecret versions. A
// dropped version ID is fetched again at its next read.
func (s *snapshot) trimVersionSlots(keep selector) {
	if s.extra == nil {
		return
	}
	for s.servedVersions() > maxVersionsPerSecret {
		dropped := false
		for i, other := range s.extra.others {
			if other.sel.versionID != "" && other.sel != keep {
				s.extra.others = append(s.extra.others[:i:i], s.extra.others[i+1:]...)
				dropped = true
				break
			}
		}
		if !dropped {
			return
		}
	}
}

// servedVersions returns the number of distinct version IDs that slots serve.
func (s *snapshot) servedVersions() int {
	var seen []string
	s.eachSlot("", func(_ selector, sl *slot) {
		if sl.ver != nil && !slices.Contains(seen, sl.ver.id()) {
			seen = append(seen, sl.ver.id())
		}
	})
	return len(seen)
}

// retain keeps v for later reads, dropping the oldest retained versions
// once more than maxVersionsPerSecret versions are held.
func (s *snapshot) retain(v *version) {
	x := s.ensureExtra()
	x.retained = append([]*version{v}, removeVersion(x.retained, v)...)
	if limit := max(maxVersionsPerSecret-s.servedVersions(), 0); len(x.retained) > limit {
		x.retained = x.retained[:limit]
	}
}

// maxFailures caps the count of consecutive failures, which only has to be
// large enough for the retry delay to reach its cap.
const maxFailures = 1<<15 - 1

// addFailure returns n+1, or n once it has reached maxFailures.
func addFailure[T int16 | int32](n T) T {
	if n >= maxFailures {
		return n
	}
	return n + 1
}

// dropValues ends service of every selector with err, retrying at retryAt,
// and drops every held version.
func (s *snapshot) dropValues(err error, retryAt int64, failures int32) {
	fail := &slotFailure{err: err, retryAt: retryAt, failures: failures}
	s.eachSlot("", func(_ selector, sl *slot) {
		sl.ver, sl.fail = nil, fail
	})
	if s.extra != nil {
		s.extra.retained = nil
		s.extra.stages = nil
	}
}

func removeVersion(list []*version, v *version) []*version {
	kept := list[:0:0]
	for _, held := range list {
		if held.id() != v.id() {
			kept = append(kept, held)
		}
	}
	return kept
}

// hasSlots reports whether any selector of the secret has been read.
func (s *snapshot) hasSlots() bool {
	return s.current.used || (s.extra != nil && len(s.extra.others) > 0)
}

// eachSlot calls f for every slot that has been read, with its selector.
func (s *snapshot) eachSlot(defaultStage string, f func(selector, *slot)) {
	if s.current.used {
		f(selector{stage: defaultStage}, &s.current)
	}
	if s.extra == nil {
		return
	}
	for i := range s.extra.others {
		f(s.extra.others[i].sel, &s.extra.others[i].slot)
	}
}

// serves reports whether any slot serves v.
func (s *snapshot) serves(v *version) bool {
	found := false
	s.eachSlot("", func(_ selector, sl *slot) {
		if sl.ver == v {
			found = true
		}
	})
	return found
}

// version is one fetched secret version. Its strings and its value share one
// allocation, which keeps the per-secret footprint of the cache small.
type version struct {
	// buf holds the ARN less its interned prefix, Name, VersionId,
	// SecretString, SecretBinary, CreatedDate and the staging labels, in that
	// order. Name is left out when the ARN contains it, as ARNs of Secrets
	// Manager do; nameStart then points into the ARN. CreatedDate takes
	// createdSize bytes, and labels are encoded by appendLabel.
	buf       string
	arnEnd    uint16
	nameStart uint16
	nameEnd   uint16
	idEnd     uint16
	strEnd    uint32
	binEnd    uint32
	fields    versionFields // which optional output fields were present
	arnPrefix uint8         // index of the ARN's prefix in the cache's prefixTable; 0 for none
	stored    any           // CacheHook.Put result; nil when no hook is set
}

// createdSize is the size of CreatedDate in version.buf: seconds since the
// Unix epoch in 8 bytes, then nanoseconds in 4.
const createdSize = 12

// versionFields records which optional fields of GetSecretValueOutput a
// version had.
type versionFields uint8

const (
	hasString versionFields = 1 << iota
	hasBinary
	hasARN
	hasName
	hasCreated
	hasStages
)

func (v *version) has(f versionFields) bool { return v.fields&f != 0 }

// arn returns the version's ARN, joining its interned prefix back on.
func (v *version) arn(prefixes *prefixTable) string {
	return prefixes.get(v.arnPrefix) + v.buf[:v.arnEnd]
}

func (v *version) name() string { return v.buf[v.nameStart:v.nameEnd] }
func (v *version) id() string   { return v.buf[v.idStart():v.idEnd] }

// idStart returns where VersionId begins in buf: after the ARN when the ARN
// contains the name, after the separately stored name otherwise.
func (v *version) idStart() uint16 {
	if v.nameStart < v.arnEnd {
		return v.arnEnd
	}
	return v.nameEnd
}
func (v *version) str() string { return v.buf[v.idEnd:v.strEnd] }

// binary returns a new copy of the version's SecretBinary, or nil.
func (v *version) binary() []byte {
	if !v.has(hasBinary) {
		return nil
	}
	return []byte(v.buf[v.strEnd:v.binEnd])
}

// stages returns the staging labels the version had when it was fetched.
func (v *version) stages() []string {
	if !v.has(hasStages) {
		return nil
	}
	rest := v.buf[v.labelsStart():]
	labels := []string{}
	for len(rest) > 0 {
		code := rest[0]
		rest = rest[1:]
		if int(code) < len(wellKnownStages) {
			labels = append(labels, wellKnownStages[code])
			continue
		}
		n, size := binary.Uvarint([]byte(rest[:min(len(rest), binary.MaxVarintLen64)]))
		rest = rest[size:]
		labels = append(labels, rest[:n])
		rest = rest[n:]
	}
	return labels
}

// labelsStart returns where the staging labels begin in buf.
func (v *version) labelsStart() uint32 {
	if v.has(hasCreated) {
		return v.binEnd + createdSize
	}
	return v.binEnd
}

// created returns the version's CreatedDate, which must be present.
func (v *version) created() time.Time {
	b := []byte(v.buf[v.binEnd : v.binEnd+createdSize])
	sec := binary.BigEndian.Uint64(b[:8])
	nanos := binary.BigEndian.Uint32(b[8:])
	return time.Unix(int64(sec), int64(nanos)).UTC()
}

// wellKnownStages are the staging labels that Secrets Manager itself uses.
// appendLabel stores each as its index in one byte.
var wellKnownStages = [...]string{"AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"}

// otherLabel marks a label that is not well known; its length in uvarint
// encoding and its bytes follow.
const otherLabel = byte(len(wellKnownStages))

// appendLabel appends the encoding of label to buf.
func appendLabel(buf []byte, label string) []byte {
	for i, known := range wellKnownStages {
		if label == known {
			return append(buf, byte(i))
		}
	}
	buf = append(buf, otherLabel)
	buf = binary.AppendUvarint(buf, uint64(len(label)))
	return append(buf, label...)
}

// maxIdentifiersLength bounds the combined length of a version's ARN, Name
// and VersionId, which version stores in 16-bit offsets. Secrets Manager's
// own limits keep them far below it.
const maxIdentifiersLength = 1<<16 - 1

// newVersion copies what the cache keeps of out. The copy shares no memory
// with out, so later changes to out do not reach the cache. Unless keepValue
// is set, SecretString and SecretBinary are left out: with a CacheHook the
// cache keeps only what the hook's Put returned.
func newVersion(out *secretsmanager.GetSecretValueOutput, keepValue bool, prefixes *prefixTable) (*version, error) {
	arn, name, id := aws.ToString(out.ARN), aws.ToString(out.Name), aws.ToString(out.VersionId)
	if len(arn)+len(name)+len(id) > maxIdentifiersLength {
		return nil, fmt.Errorf("response ARN, Name and VersionId are %d bytes together, more than the %d the cache stores", len(arn)+len(name)+len(id), maxIdentifiersLength)
	}

	v := &version{}
	var str, bin string
	if keepValue && out.SecretString != nil {
		str = *out.SecretString
		v.fields |= hasString
	}
	if keepValue && out.SecretBinary != nil {
		bin = string(out.SecretBinary)
		v.fields |= hasBinary
	}
	var tail []byte
	if out.CreatedDate != nil {
		tail = binary.BigEndian.AppendUint64(tail, uint64(out.CreatedDate.Unix()))
		tail = binary.BigEndian.AppendUint32(tail, uint32(out.CreatedDate.Nanosecond()))
		v.fields |= hasCreated
	}
	labels := tail
	if out.VersionStages != nil {
		v.fields |= hasStages
		for _, label := range out.VersionStages {
			labels = appendLabel(labels, label)
		}
	}
	if total := len(arn) + len(name) + len(id) + len(str) + len(bin) + len(labels); total > math.MaxUint32 {
		return nil, fmt.Errorf("response is %d bytes, more than the cache stores for one version", total)
	}

	v.arnPrefix, arn = prefixes.intern(arn)
	v.arnEnd = uint16(len(arn))
	storedName := name
	if i := strings.Index(arn, name); i >= 0 {
		v.nameStart, v.nameEnd = uint16(i), uint16(i+len(name))
		storedName = ""
	} else {
		v.nameStart, v.nameEnd = v.arnEnd, v.arnEnd+uint16(len(name))
	}
	v.buf = arn + storedName + id + str + bin + string(labels)
	v.idEnd = v.arnEnd + uint16(len(storedName)) + uint16(len(id))
	v.strEnd = uint32(v.idEnd) + uint32(len(str))
	v.binEnd = v.strEnd + uint32(len(bin))
	if out.ARN != nil {
		v.fields |= hasARN
	}
	if out.Name != nil {
		v.fields |= hasName
	}
	return v, nil
}

// output builds a GetSecretValueOutput from v that shares no memory with the
// cache, so the caller may change it freely.
func (v *version) output(prefixes *prefixTable) *secretsmanager.GetSecretValueOutput {
	out := &secretsmanager.GetSecretValueOutput{VersionId: aws.String(v.id())}
	if v.has(hasARN) {
		out.ARN = aws.String(v.arn(prefixes))
	}
	if v.has(hasName) {
		out.Name = aws.String(v.name())
	}
	if v.has(hasString) {
		out.SecretString = aws.String(v.str())
	}
	out.SecretBinary = v.binary()
	out.VersionStages = v.stages()
	if v.has(hasCreated) {
		out.CreatedDate = aws.Time(v.created())
	}
	return out
}
