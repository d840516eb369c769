package secretcache

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// selector names what a read asks for: a staging label or a version ID,
// exactly one of which is set.
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

	// fetchSeq numbers fetches of the entry in the order they start. A refresh
	// result is applied only if no refresh that started later has been applied.
	fetchSeq atomic.Uint64

	mu      sync.Mutex         // guards snapshot replacement and flights
	flights map[string]*flight // fetches in progress, by flight key
}

// snapshot is an immutable view of what the cache holds for one secret.
// Every change builds a new snapshot and stores it in entry.snap.
type snapshot struct {
	// refreshAt is the coarse-clock time at or after which a read starts a
	// refresh of the secret: the jittered refresh time after a success, or
	// the retry time after a failed refresh.
	refreshAt int64

	// refreshSeq is the fetchSeq of the refresh that produced this state; a
	// refresh that started earlier is not applied over it.
	refreshSeq uint64

	// failures counts consecutive failed refreshes.
	failures int32

	// describeDenied records that DescribeSecret returned
	// AccessDeniedException, so refreshes call GetSecretValue for each stage
	// instead.
	describeDenied bool

	// current is the state of the cache's default stage, the common read.
	current slot
	// others holds every other stage or version ID read so far.
	others []slot

	// versions holds the values fetched so far, newest first, at most
	// maxVersionsPerSecret of them.
	versions []*version

	// stages maps staging labels to version IDs as DescribeSecret last
	// reported them; nil before the first refresh. It lets a first read of a
	// stage, such as AWSPREVIOUS after a rotation, use a version already held.
	stages map[string]string
}

// slot is the state of one selector of a secret: the version it is served
// from, or the error returned for it.
type slot struct {
	sel      selector
	used     bool     // the selector has been read; current is unused until then
	ver      *version // nil when the selector has no value to serve
	err      error    // returned to readers while ver is nil
	retryAt  int64    // coarse-clock time after which a read of a failed slot fetches again
	failures int32    // consecutive failed fetches of the selector
}

// find returns the slot for sel, or nil when sel has not been read.
func (s *snapshot) find(sel selector, defaultStage string) *slot {
	if sel.versionID == "" && sel.stage == defaultStage {
		if s.current.used {
			return &s.current
		}
		return nil
	}
	for i := range s.others {
		if s.others[i].sel == sel {
			return &s.others[i]
		}
	}
	return nil
}

// version returns the held version with the given ID, or nil.
func (s *snapshot) version(id string) *version {
	for _, v := range s.versions {
		if v.id() == id {
			return v
		}
	}
	return nil
}

// clone returns a copy of s that can be changed without affecting readers of s.
func (s *snapshot) clone() *snapshot {
	n := *s
	n.others = append([]slot(nil), s.others...)
	n.versions = append([]*version(nil), s.versions...)
	return &n
}

// setSlot stores sl in the snapshot, replacing the slot for the same selector.
func (s *snapshot) setSlot(sl slot, defaultStage string) {
	sl.used = true
	if sl.sel.versionID == "" && sl.sel.stage == defaultStage {
		s.current = sl
		return
	}
	for i := range s.others {
		if s.others[i].sel == sl.sel {
			s.others[i] = sl
			return
		}
	}
	s.others = append(s.others, sl)
}

// hasSlots reports whether any selector of the secret has been read.
func (s *snapshot) hasSlots() bool { return s.current.used || len(s.others) > 0 }

// eachSlot calls f for every slot that has been read.
func (s *snapshot) eachSlot(f func(*slot)) {
	if s.current.used {
		f(&s.current)
	}
	for i := range s.others {
		f(&s.others[i])
	}
}

// addVersion records v as the newest held version, dropping the oldest
// versions that no slot serves once more than maxVersionsPerSecret are held.
func (s *snapshot) addVersion(v *version) {
	kept := make([]*version, 0, min(len(s.versions)+1, maxVersionsPerSecret))
	kept = append(kept, v)
	for _, old := range s.versions {
		if old.id() != v.id() {
			kept = append(kept, old)
		}
	}
	for i := len(kept) - 1; len(kept) > maxVersionsPerSecret && i > 0; i-- {
		if !s.serves(kept[i]) {
			kept = append(kept[:i], kept[i+1:]...)
		}
	}
	s.versions = kept
}

// serves reports whether any slot serves v.
func (s *snapshot) serves(v *version) bool {
	found := false
	s.eachSlot(func(sl *slot) {
		if sl.ver == v {
			found = true
		}
	})
	return found
}

// version is one fetched secret version. Its identifying strings and its
// SecretString share one allocation, which keeps the per-secret footprint of
// the cache small.
type version struct {
	buf       string // ARN, Name, VersionId and SecretString, concatenated
	arnEnd    uint32
	nameEnd   uint32
	idEnd     uint32
	hasString bool
	hasARN    bool
	hasName   bool
	binary    []byte   // nil unless the version holds SecretBinary
	stages    []string // staging labels attached when fetched
	created   time.Time
	stored    any // CacheHook.Put result; nil when no hook is set
}

func (v *version) arn() string  { return v.buf[:v.arnEnd] }
func (v *version) name() string { return v.buf[v.arnEnd:v.nameEnd] }
func (v *version) id() string   { return v.buf[v.nameEnd:v.idEnd] }
func (v *version) str() string  { return v.buf[v.idEnd:] }

// wellKnownStages avoids keeping one copy of the AWS staging labels per version.
var wellKnownStages = map[string]string{
	"AWSCURRENT":  "AWSCURRENT",
	"AWSPREVIOUS": "AWSPREVIOUS",
	"AWSPENDING":  "AWSPENDING",
}

// newVersion copies what the cache keeps of out. The copy shares no memory
// with out, so later changes to out do not reach the cache. Unless keepValue
// is set, SecretString and SecretBinary are left out: with a CacheHook the
// cache keeps only what the hook's Put returned.
func newVersion(out *secretsmanager.GetSecretValueOutput, keepValue bool) *version {
	arn, name, id := aws.ToString(out.ARN), aws.ToString(out.Name), aws.ToString(out.VersionId)
	str := ""
	if keepValue {
		str = aws.ToString(out.SecretString)
	}
	v := &version{
		buf:       arn + name + id + str,
		hasString: keepValue && out.SecretString != nil,
		hasARN:    out.ARN != nil,
		hasName:   out.Name != nil,
		created:   aws.ToTime(out.CreatedDate),
	}
	v.arnEnd = uint32(len(arn))
	v.nameEnd = v.arnEnd + uint32(len(name))
	v.idEnd = v.nameEnd + uint32(len(id))
	if keepValue && out.SecretBinary != nil {
		v.binary = append(make([]byte, 0, len(out.SecretBinary)), out.SecretBinary...)
	}
	if len(out.VersionStages) > 0 {
		v.stages = make([]string, len(out.VersionStages))
		for i, s := range out.VersionStages {
			if known, ok := wellKnownStages[s]; ok {
				s = known
			}
			v.stages[i] = s
		}
	}
	return v
}

// output builds a GetSecretValueOutput from v that shares no memory with the
// cache, so the caller may change it freely.
func (v *version) output() *secretsmanager.GetSecretValueOutput {
	out := &secretsmanager.GetSecretValueOutput{VersionId: aws.String(v.id())}
	if v.hasARN {
		out.ARN = aws.String(v.arn())
	}
	if v.hasName {
		out.Name = aws.String(v.name())
	}
	if v.hasString {
		out.SecretString = aws.String(v.str())
	}
	if v.binary != nil {
		out.SecretBinary = append(make([]byte, 0, len(v.binary)), v.binary...)
	}
	if v.stages != nil {
		out.VersionStages = append([]string(nil), v.stages...)
	}
	if !v.created.IsZero() {
		out.CreatedDate = aws.Time(v.created)
	}
	return out
}
