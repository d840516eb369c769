package secretcache

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// recordingClient returns for every GetSecretValue a version of the
// requested secret whose value is "value", as SecretBinary if binary is set
// and as SecretString otherwise, and records the requests it receives.
// DescribeSecret reports that one version, fuzzVersionID, has AWSCURRENT.
type recordingClient struct {
	binary bool

	mu       sync.Mutex
	requests []secretsmanager.GetSecretValueInput
	describe int
}

const fuzzVersionID = "00000000-0000-4000-8000-000000000001"

func (r *recordingClient) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	r.mu.Lock()
	r.requests = append(r.requests, *in)
	r.mu.Unlock()
	id := fuzzVersionID
	if in.VersionId != nil {
		id = *in.VersionId
	}
	out := &secretsmanager.GetSecretValueOutput{
		Name:          in.SecretId,
		VersionId:     aws.String(id),
		VersionStages: []string{"AWSCURRENT"},
	}
	if r.binary {
		out.SecretBinary = []byte("value")
	} else {
		out.SecretString = aws.String("value")
	}
	return out, nil
}

func (r *recordingClient) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	r.mu.Lock()
	r.describe++
	r.mu.Unlock()
	return &secretsmanager.DescribeSecretOutput{VersionIdsToStages: map[string][]string{fuzzVersionID: {"AWSCURRENT"}}}, nil
}

func (r *recordingClient) calls() ([]secretsmanager.GetSecretValueInput, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]secretsmanager.GetSecretValueInput(nil), r.requests...), r.describe
}

// Bits of the options argument of FuzzGetSecretInput.
const (
	fuzzWithStage     = 1 << iota // pass WithVersionStage(stage)
	fuzzWithVersionID             // pass WithVersionID(versionID)
	fuzzWithZero                  // pass a zero GetOption
	fuzzVersionFirst              // put the version ID option before the stage option
)

// validIdentifier reports whether Secrets Manager could accept s as a secret
// ID, staging label or version ID of at most maxBytes bytes, by the rules the
// cache documents: not empty, valid UTF-8, no ASCII control characters.
func validIdentifier(s string, maxBytes int) bool {
	if s == "" || len(s) > maxBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// FuzzGetSecretInput reads arbitrary secret IDs with arbitrary option
// combinations through each read method and RefreshNow. Invalid input must
// fail with ErrInvalidInput before any call, and valid input must reach the
// client as given.
func FuzzGetSecretInput(f *testing.F) {
	f.Add("db", "AWSPREVIOUS", "", uint8(fuzzWithStage), uint8(0))
	f.Add("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", "", fuzzVersionID, uint8(fuzzWithVersionID), uint8(2))
	f.Add("db", "AWSCURRENT", fuzzVersionID, uint8(fuzzWithStage|fuzzWithVersionID|fuzzVersionFirst), uint8(1))
	f.Add("", "", "", uint8(0), uint8(3))

	f.Fuzz(func(t *testing.T, secretID, stage, versionID string, options, method uint8) {
		var opts []GetOption
		if options&fuzzWithVersionID != 0 && options&fuzzVersionFirst != 0 {
			opts = append(opts, WithVersionID(versionID))
		}
		if options&fuzzWithStage != 0 {
			opts = append(opts, WithVersionStage(stage))
		}
		if options&fuzzWithVersionID != 0 && options&fuzzVersionFirst == 0 {
			opts = append(opts, WithVersionID(versionID))
		}
		if options&fuzzWithZero != 0 {
			opts = append(opts, GetOption{})
		}

		refreshNow := method%4 == 3
		valid := validIdentifier(secretID, maxSecretIDLength)
		if !refreshNow {
			stageSet, versionSet := options&fuzzWithStage != 0, options&fuzzWithVersionID != 0
			switch {
			case options&fuzzWithZero != 0, stageSet && versionSet:
				valid = false
			case versionSet:
				valid = valid && validIdentifier(versionID, maxLabelLength)
			case stageSet:
				valid = valid && validIdentifier(stage, maxLabelLength)
			}
		}

		client := &recordingClient{binary: method%4 == 1}
		c, _ := newTestCache(t, client, Config{})
		ctx := context.Background()
		var err error
		switch method % 4 {
		case 0:
			var s string
			s, err = c.GetSecretString(ctx, secretID, opts...)
			if err == nil && s != "value" {
				t.Fatalf("GetSecretString = %q, want %q", s, "value")
			}
		case 1:
			var b []byte
			b, err = c.GetSecretBinary(ctx, secretID, opts...)
			if err == nil && string(b) != "value" {
				t.Fatalf("GetSecretBinary = %q, want %q", b, "value")
			}
		case 2:
			var out *secretsmanager.GetSecretValueOutput
			out, err = c.GetSecretValue(ctx, secretID, opts...)
			if err == nil && aws.ToString(out.Name) != secretID {
				t.Fatalf("GetSecretValue returned secret %q, want %q", aws.ToString(out.Name), secretID)
			}
		case 3:
			err = c.RefreshNow(ctx, secretID)
		}
		requests, describes := client.calls()

		if !valid {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("invalid input got %v, want an error wrapping ErrInvalidInput", err)
			}
			if len(requests) != 0 || describes != 0 {
				t.Fatalf("invalid input made %d GetSecretValue and %d DescribeSecret calls, want none", len(requests), describes)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid input failed: %v", err)
		}
		if len(requests) != 1 {
			t.Fatalf("valid input made %d GetSecretValue calls, want 1", len(requests))
		}
		got := requests[0]
		if aws.ToString(got.SecretId) != secretID {
			t.Errorf("request SecretId = %q, want %q", aws.ToString(got.SecretId), secretID)
		}
		wantStage, wantVersion := DefaultVersionStage, ""
		switch {
		case refreshNow:
		case options&fuzzWithVersionID != 0:
			wantStage, wantVersion = "", versionID
		case options&fuzzWithStage != 0:
			wantStage = stage
		}
		if aws.ToString(got.VersionStage) != wantStage {
			t.Errorf("request VersionStage = %q, want %q", aws.ToString(got.VersionStage), wantStage)
		}
		if aws.ToString(got.VersionId) != wantVersion {
			t.Errorf("request VersionId = %q, want %q", aws.ToString(got.VersionId), wantVersion)
		}
	})
}

// invalidConfigFields returns the Config fields that New must reject, by the
// rules documented on each field.
func invalidConfigFields(cfg Config) []string {
	var fields []string
	if cfg.MaxCacheSize < 0 {
		fields = append(fields, "Config.MaxCacheSize")
	}
	if cfg.RefreshInterval < 0 {
		fields = append(fields, "Config.RefreshInterval")
	}
	if cfg.RetryDelayBase < 0 {
		fields = append(fields, "Config.RetryDelayBase")
	}
	if cfg.RetryDelayMax < 0 {
		fields = append(fields, "Config.RetryDelayMax")
	}
	if cfg.FetchTimeout < 0 {
		fields = append(fields, "Config.FetchTimeout")
	}

	if cfg.RetryGrowthFactor != 0 && (math.IsNaN(cfg.RetryGrowthFactor) || cfg.RetryGrowthFactor < 1) {
		fields = append(fields, "Config.RetryGrowthFactor")
	}
	if cfg.VersionStage != "" && !validIdentifier(cfg.VersionStage, maxLabelLength) {
		fields = append(fields, "Config.VersionStage")
	}

	// RetryDelayMax is compared with RetryDelayBase after defaults apply.
	base, maxDelay := cfg.RetryDelayBase, cfg.RetryDelayMax
	if base == 0 {
		base = DefaultRetryDelayBase
	}
	if maxDelay == 0 {
		maxDelay = DefaultRetryDelayMax
	}
	if base > 0 && maxDelay > 0 && maxDelay < base {
		fields = append(fields, "Config.RetryDelayMax")
	}
	return fields
}

// failingClient fails every call with a transient error.
type failingClient struct {
	mu    sync.Mutex
	calls int
}

func (f *failingClient) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return nil, &types.InternalServiceError{Message: aws.String("unavailable")}
}

func (f *failingClient) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return nil, &types.InternalServiceError{Message: aws.String("unavailable")}
}

// FuzzNewConfig passes arbitrary Config values to New. Invalid ones must be
// rejected with an error naming a field at fault. With a valid one, a failed
// call must be followed by a wait: a read at the same instant must return
// the stored error without calling again.
func FuzzNewConfig(f *testing.F) {
	f.Add(int64(0), int64(0), int64(0), 0.0, int64(0), int64(0), "")
	f.Add(int64(-1), int64(-1), int64(-1), -1.0, int64(-1), int64(-1), "AWS\nCURRENT")
	f.Add(int64(3), int64(time.Minute), int64(time.Hour), 1.0, int64(time.Second), int64(time.Millisecond), "AWSPREVIOUS")
	f.Add(int64(1), int64(1), int64(1), math.Inf(1), int64(1), int64(1), "BLUE")

	f.Fuzz(func(t *testing.T, size, refresh, base int64, factor float64, maxDelay, timeout int64, stage string) {
		// Sizes past a million only allocate a larger index, which makes
		// each run slower without reaching other code.
		if size > 1<<20 {
			size = 1 << 20
		}
		cfg := Config{
			MaxCacheSize:      int(size),
			RefreshInterval:   time.Duration(refresh),
			RetryDelayBase:    time.Duration(base),
			RetryGrowthFactor: factor,
			RetryDelayMax:     time.Duration(maxDelay),
			FetchTimeout:      time.Duration(timeout),
			VersionStage:      stage,
		}
		invalid := invalidConfigFields(cfg)
		client := &failingClient{}
		clock := newFuzzClock()
		cfg.Clock = clock
		c, err := New(client, cfg)
		if len(invalid) > 0 {
			if err == nil {
				c.Close()
				t.Fatalf("New accepted a Config with invalid %v", invalid)
			}
			named := false
			for _, field := range invalid {
				named = named || strings.Contains(err.Error(), field)
			}
			if !named {
				t.Fatalf("error %q names none of the invalid fields %v", err, invalid)
			}
			return
		}
		if err != nil {
			t.Fatalf("New rejected a valid Config: %v", err)
		}
		defer c.Close()

		// A cache that has run for a while has a clock far from its epoch.
		clock.Advance(time.Hour)
		ctx := context.Background()
		for i := range 3 {
			_, err := c.GetSecretString(ctx, "db")
			var failure *types.InternalServiceError
			if !errors.As(err, &failure) {
				t.Fatalf("read %d of a failing secret = %v, want the client's InternalServiceError", i+1, err)
			}
		}
		if client.calls != 1 {
			t.Fatalf("three reads at one instant made %d calls, want 1: the retry delay must be positive", client.calls)
		}
	})
}

// newFuzzClock returns a fake clock for fuzz runs.
func newFuzzClock() *fuzzClock { return &fuzzClock{now: testStart} }

// fuzzClock is a Clock that only moves when advanced and never runs
// callbacks, which keeps each fuzz run free of timers.
type fuzzClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fuzzClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fuzzClock) AfterFunc(time.Duration, func()) func() bool { return func() bool { return true } }

func (c *fuzzClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Bits of the fields argument of FuzzOutputRoundTrip. The output has a
// SecretString by default, and a SecretBinary only with fuzzWithBinary.
const (
	fuzzNilARN = 1 << iota
	fuzzNilName
	fuzzNilVersionID
	fuzzNilString
	fuzzWithBinary
	fuzzNilStages
	fuzzNilCreated
	fuzzZeroCreated // CreatedDate points to the zero time
)

// staticClient returns a copy of out for every GetSecretValue call.
type staticClient struct {
	out *secretsmanager.GetSecretValueOutput
}

func (s staticClient) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return copyOutput(s.out), nil
}

func (s staticClient) DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	return nil, errors.New("DescribeSecret is not used by this test")
}

// passThroughHook stores the output it is given and returns it unchanged.
var passThroughHook = HookFuncs{
	PutFunc: func(_ context.Context, value *secretsmanager.GetSecretValueOutput) (any, error) { return value, nil },
	GetFunc: func(_ context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error) {
		return stored.(*secretsmanager.GetSecretValueOutput), nil
	},
}

// maxFuzzBinary bounds the SecretBinary built from a fuzz input, well above
// the 64 KiB that Secrets Manager stores.
const maxFuzzBinary = 1 << 20

// FuzzOutputRoundTrip has a client return an arbitrary GetSecretValueOutput:
// nil members, empty strings, invalid UTF-8, binaries up to 1 MiB. With and
// without a hook, the cache must not panic, must reject an output without a
// VersionId or a value, and must hand back every other output unchanged.
func FuzzOutputRoundTrip(f *testing.F) {
	f.Add("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", "db", fuzzVersionID, "hunter2", []byte{}, "AWSCURRENT,AWSPREVIOUS", int64(1700000000000000000), uint16(0), uint8(0), false)
	f.Add("", "", "v", "", []byte{0, 1, 2}, "AWSCURRENT", int64(0), uint16(0), uint8(fuzzNilString|fuzzWithBinary|fuzzNilStages), true)
	f.Add("a", "b", "v", "\xff\xfe", []byte("\xff"), "AWSPENDING", int64(-1), uint16(65535), uint8(fuzzNilString|fuzzWithBinary|fuzzNilCreated), false)

	f.Fuzz(func(t *testing.T, arn, name, versionID, secretString string, binary []byte, stages string, created int64, repeat uint16, fields uint8, withHook bool) {
		if len(binary) > 0 {
			binary = bytes.Repeat(binary, min(int(repeat)+1, maxFuzzBinary/len(binary)))
		}
		out := &secretsmanager.GetSecretValueOutput{
			ARN:           aws.String(arn),
			Name:          aws.String(name),
			VersionId:     aws.String(versionID),
			SecretString:  aws.String(secretString),
			SecretBinary:  binary,
			VersionStages: strings.Split(stages, ","),
			CreatedDate:   aws.Time(time.Unix(0, created)),
		}
		if fields&fuzzWithBinary == 0 {
			out.SecretBinary = nil
		} else if out.SecretBinary == nil {
			out.SecretBinary = []byte{}
		}
		for bit, clear := range map[uint8]func(){
			fuzzNilARN:       func() { out.ARN = nil },
			fuzzNilName:      func() { out.Name = nil },
			fuzzNilVersionID: func() { out.VersionId = nil },
			fuzzNilString:    func() { out.SecretString = nil },
			fuzzNilStages:    func() { out.VersionStages = nil },
			fuzzNilCreated:   func() { out.CreatedDate = nil },
			fuzzZeroCreated:  func() { out.CreatedDate = &time.Time{} },
		} {
			if fields&bit != 0 {
				clear()
			}
		}

		cfg := Config{}
		if withHook {
			cfg.Hook = passThroughHook
		}
		c, _ := newTestCache(t, staticClient{out: out}, cfg)
		ctx := context.Background()
		got, err := c.GetSecretValue(ctx, "db")

		switch {
		case aws.ToString(out.VersionId) == "":
			if err == nil || !strings.Contains(err.Error(), "no VersionId") {
				t.Fatalf("output without VersionId: error = %v, want one naming the missing VersionId", err)
			}
			return
		case out.SecretString == nil && out.SecretBinary == nil:
			if err == nil || !strings.Contains(err.Error(), "neither SecretString nor SecretBinary") {
				t.Fatalf("output without a value: error = %v, want one naming the missing value", err)
			}
			return
		case err != nil:
			t.Fatalf("GetSecretValue: %v", err)
		}
		checkSameOutput(t, got, out)

		s, err := c.GetSecretString(ctx, "db")
		if out.SecretString == nil {
			if !errors.Is(err, ErrNotString) {
				t.Errorf("GetSecretString of a binary-only version = %v, want ErrNotString", err)
			}
		} else if err != nil || s != *out.SecretString {
			t.Errorf("GetSecretString = %q, %v; want %q", s, err, *out.SecretString)
		}

		b, err := c.GetSecretBinary(ctx, "db")
		if out.SecretBinary == nil {
			if !errors.Is(err, ErrNotBinary) {
				t.Errorf("GetSecretBinary of a string-only version = %v, want ErrNotBinary", err)
			}
		} else if err != nil || b == nil || !bytes.Equal(b, out.SecretBinary) {
			t.Errorf("GetSecretBinary = %d bytes (nil: %v), %v; want %d bytes", len(b), b == nil, err, len(out.SecretBinary))
		}
	})
}

// checkSameOutput compares the members of an output that the cache keeps.
// VersionStages compare by content, so nil equals empty. Every other member
// must match in value and in being nil.
func checkSameOutput(t *testing.T, got, want *secretsmanager.GetSecretValueOutput) {
	t.Helper()
	sameString := func(member string, g, w *string) {
		t.Helper()
		if (g == nil) != (w == nil) || aws.ToString(g) != aws.ToString(w) {
			t.Errorf("%s: got %s, want %s", member, describeString(g), describeString(w))
		}
	}
	sameString("ARN", got.ARN, want.ARN)
	sameString("Name", got.Name, want.Name)
	sameString("VersionId", got.VersionId, want.VersionId)
	sameString("SecretString", got.SecretString, want.SecretString)
	if (got.SecretBinary == nil) != (want.SecretBinary == nil) || !bytes.Equal(got.SecretBinary, want.SecretBinary) {
		t.Errorf("SecretBinary: got %d bytes (nil: %v), want %d bytes (nil: %v)",
			len(got.SecretBinary), got.SecretBinary == nil, len(want.SecretBinary), want.SecretBinary == nil)
	}
	if strings.Join(got.VersionStages, "\x00") != strings.Join(want.VersionStages, "\x00") || len(got.VersionStages) != len(want.VersionStages) {
		t.Errorf("VersionStages: got %q, want %q", got.VersionStages, want.VersionStages)
	}
	if (got.CreatedDate == nil) != (want.CreatedDate == nil) || !aws.ToTime(got.CreatedDate).Equal(aws.ToTime(want.CreatedDate)) {
		t.Errorf("CreatedDate: got %v, want %v", got.CreatedDate, want.CreatedDate)
	}
}

func describeString(s *string) string {
	if s == nil {
		return "nil"
	}
	return `"` + *s + `"`
}
