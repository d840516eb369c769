package secretcache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

// scriptedClient sends requests to a real SDK client, except for the secret
// IDs that have a scripted response. A script stands for a Client
// implementation that misbehaves.
type scriptedClient struct {
	next     Client
	get      map[string]func() (*secretsmanager.GetSecretValueOutput, error)
	describe map[string]func() (*secretsmanager.DescribeSecretOutput, error)

	scriptedCalls atomic.Int64
}

func (s *scriptedClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if script, ok := s.get[aws.ToString(in.SecretId)]; ok {
		s.scriptedCalls.Add(1)
		return script()
	}
	return s.next.GetSecretValue(ctx, in, optFns...)
}

func (s *scriptedClient) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	if script, ok := s.describe[aws.ToString(in.SecretId)]; ok {
		s.scriptedCalls.Add(1)
		return script()
	}
	return s.next.DescribeSecret(ctx, in, optFns...)
}

// badInputCase is one misuse of the cache or one misbehaving dependency.
type badInputCase struct {
	name string
	// call makes the failing call.
	call func(ctx context.Context, c *SecretCache) error
	// wantIs is a sentinel the error must wrap, if any.
	wantIs error
	// wantText are substrings the error message must contain.
	wantText []string
	// noCall is set when the cache must reject the call before any request.
	noCall bool
}

// callSafely runs call and turns a panic into a test failure.
func callSafely(t *testing.T, c *SecretCache, call func(context.Context, *SecretCache) error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("call panicked: %v", r)
		}
	}()
	return call(context.Background(), c)
}

// runBadInputCases runs each case against c, then checks that c still reads
// the secret "good" through the server.
func runBadInputCases(t *testing.T, c *SecretCache, srv *secretcachetest.Server, cases []badInputCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.TotalCalls()
			err := callSafely(t, c, tt.call)
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %q", err, tt.wantIs)
			}
			for _, text := range tt.wantText {
				if !strings.Contains(err.Error(), text) {
					t.Errorf("error %q does not contain %q", err, text)
				}
			}
			var cacheErr *Error
			if !errors.As(err, &cacheErr) {
				t.Errorf("error %q is not a *secretcache.Error naming the secret", err)
			}
			if tt.noCall && srv.TotalCalls() != before {
				t.Errorf("rejected call sent %d requests, want 0", srv.TotalCalls()-before)
			}

			value, err := c.GetSecretString(context.Background(), "good")
			if err != nil {
				t.Fatalf("reading another secret after the failure: %v", err)
			}
			if value != "good-value" {
				t.Fatalf("reading another secret after the failure = %q, want %q", value, "good-value")
			}
		})
	}
}

// readString returns a call that reads id with GetSecretString.
func readString(id string, opts ...GetOption) func(context.Context, *SecretCache) error {
	return func(ctx context.Context, c *SecretCache) error {
		_, err := c.GetSecretString(ctx, id, opts...)
		return err
	}
}

func TestBadInputIsRejected(t *testing.T) {
	c, srv, _ := newSDKCache(t, Config{})
	srv.PutString("good", "good-value")
	srv.PutString("db", "x")
	// A nil context in a variable: staticcheck flags a nil literal
	// (SA1012), but callers can still pass one.
	var nilCtx context.Context

	cases := []badInputCase{
		{name: "empty ID", call: readString(""), wantIs: ErrInvalidInput,
			wantText: []string{"empty secret ID", "name or ARN"}, noCall: true},
		{name: "ID over 2048 bytes", call: readString(strings.Repeat("a", 2049)), wantIs: ErrInvalidInput,
			wantText: []string{"2049 bytes", "2048", "(2049 bytes)"}, noCall: true},
		{name: "ID of 1025 two-byte characters", call: readString(strings.Repeat("é", 1025)), wantIs: ErrInvalidInput,
			wantText: []string{"2050 bytes"}, noCall: true},
		{name: "ID with newline", call: readString("db\nx"), wantIs: ErrInvalidInput,
			wantText: []string{"control characters", `"db\nx"`}, noCall: true},
		{name: "ID with NUL", call: readString("db\x00"), wantIs: ErrInvalidInput,
			wantText: []string{"control characters", `"db\x00"`}, noCall: true},
		{name: "ID with DEL", call: readString("db\x7f"), wantIs: ErrInvalidInput,
			wantText: []string{"control characters"}, noCall: true},
		{name: "ID with tab", call: readString("\tdb"), wantIs: ErrInvalidInput,
			wantText: []string{"control characters"}, noCall: true},
		{name: "ID with invalid UTF-8", call: readString("db\xff"), wantIs: ErrInvalidInput,
			wantText: []string{"invalid UTF-8"}, noCall: true},
		{name: "stage over 256 bytes", call: readString("db", WithVersionStage(strings.Repeat("S", 257))), wantIs: ErrInvalidInput,
			wantText: []string{"version stage", "257 bytes"}, noCall: true},
		{name: "stage with newline", call: readString("db", WithVersionStage("AWS\nCURRENT")), wantIs: ErrInvalidInput,
			wantText: []string{"version stage", "control characters"}, noCall: true},
		{name: "version ID with control character", call: readString("db", WithVersionID("v\x01")), wantIs: ErrInvalidInput,
			wantText: []string{"version ID", "control characters"}, noCall: true},
		{name: "zero option", call: readString("db", GetOption{}), wantIs: ErrInvalidInput,
			wantText: []string{"zero GetOption", "WithVersionStage"}, noCall: true},
		{name: "stage and version ID", call: readString("db", WithVersionStage("AWSCURRENT"), WithVersionID("v1")), wantIs: ErrInvalidInput,
			wantText: []string{"both stage", "only one"}, noCall: true},
		{name: "nil context in GetSecretString", call: func(_ context.Context, c *SecretCache) error {
			_, err := c.GetSecretString(nilCtx, "db")
			return err
		}, wantIs: ErrInvalidInput, wantText: []string{"nil context", "context.Background()"}, noCall: true},
		{name: "nil context in GetSecretBinary", call: func(_ context.Context, c *SecretCache) error {
			_, err := c.GetSecretBinary(nilCtx, "db")
			return err
		}, wantIs: ErrInvalidInput, wantText: []string{"nil context"}, noCall: true},
		{name: "nil context in GetSecretValue", call: func(_ context.Context, c *SecretCache) error {
			_, err := c.GetSecretValue(nilCtx, "db")
			return err
		}, wantIs: ErrInvalidInput, wantText: []string{"nil context"}, noCall: true},
		{name: "nil context in RefreshNow", call: func(_ context.Context, c *SecretCache) error {
			return c.RefreshNow(nilCtx, "db")
		}, wantIs: ErrInvalidInput, wantText: []string{"nil context"}, noCall: true},
		{name: "RefreshNow with empty ID", call: func(ctx context.Context, c *SecretCache) error {
			return c.RefreshNow(ctx, "")
		}, wantIs: ErrInvalidInput, wantText: []string{"empty secret ID"}, noCall: true},
		{name: "ID the service does not know", call: readString("no-such-secret"),
			wantText: []string{"ResourceNotFoundException", `"no-such-secret"`}},
	}
	runBadInputCases(t, c, srv, cases)

	// An ID at the 2048-byte limit is valid and reaches the service.
	before := srv.TotalCalls()
	_, err := c.GetSecretString(context.Background(), strings.Repeat("a", 2048))
	if errors.Is(err, ErrInvalidInput) {
		t.Errorf("2048-byte ID rejected: %v", err)
	}
	if srv.TotalCalls() == before {
		t.Errorf("2048-byte ID sent no request")
	}
}

// testHookFuncs returns a hook that passes values through, except for the
// secrets named in bad, whose Put or Get misbehave as described.
func testHookFuncs(bad map[string]string) HookFuncs {
	type wrongType struct{}
	return HookFuncs{
		PutFunc: func(_ context.Context, value *secretsmanager.GetSecretValueOutput) (any, error) {
			switch bad[aws.ToString(value.Name)] {
			case "put returns nil":
				return nil, nil
			case "put panics":
				panic("hook failed")
			case "put returns wrong type":
				return wrongType{}, nil
			}
			return value, nil
		},
		GetFunc: func(_ context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error) {
			// Get asserts the type that Put returns, so a wrong type panics
			// here.
			value := stored.(*secretsmanager.GetSecretValueOutput)
			switch bad[aws.ToString(value.Name)] {
			case "get returns nil":
				return nil, nil
			case "get panics":
				panic("hook failed")
			}
			return value, nil
		},
	}
}

func TestBadHookFailsOnlyItsRead(t *testing.T) {
	bad := map[string]string{
		"put-nil":   "put returns nil",
		"put-panic": "put panics",
		"put-type":  "put returns wrong type",
		"get-nil":   "get returns nil",
		"get-panic": "get panics",
	}
	c, srv, _ := newSDKCache(t, Config{Hook: testHookFuncs(bad)})
	srv.PutString("good", "good-value")
	for id := range bad {
		srv.PutString(id, "x")
	}

	cases := []badInputCase{
		{name: "Put returns nil", call: readString("put-nil"), wantIs: ErrHook,
			wantText: []string{`"put-nil"`, "Put returned nil"}},
		{name: "Put panics", call: readString("put-panic"), wantIs: ErrHook,
			wantText: []string{`"put-panic"`, "Put panicked", "string"}},
		{name: "Get asserts a type Put did not return", call: readString("put-type"), wantIs: ErrHook,
			wantText: []string{`"put-type"`, "Get panicked", "TypeAssertionError"}},
		{name: "Get returns nil", call: readString("get-nil"), wantIs: ErrHook,
			wantText: []string{`"get-nil"`, "Get returned a nil output"}},
		{name: "Get panics", call: readString("get-panic"), wantIs: ErrHook,
			wantText: []string{`"get-panic"`, "Get panicked"}},
		{name: "Get panics in GetSecretBinary", call: func(ctx context.Context, c *SecretCache) error {
			_, err := c.GetSecretBinary(ctx, "get-panic")
			return err
		}, wantIs: ErrHook, wantText: []string{"Get panicked"}},
		{name: "Get panics in GetSecretValue", call: func(ctx context.Context, c *SecretCache) error {
			_, err := c.GetSecretValue(ctx, "get-panic")
			return err
		}, wantIs: ErrHook, wantText: []string{"Get panicked"}},
	}
	runBadInputCases(t, c, srv, cases)
}

func TestBadClientFailsOnlyItsSecret(t *testing.T) {
	srv := secretcachetest.NewServer()
	t.Cleanup(srv.Close)
	srv.PutString("good", "good-value")
	for _, id := range []string{"describe-nil", "describe-panic", "describe-no-stages"} {
		srv.PutString(id, "v1")
	}
	value := aws.String("x")
	client := &scriptedClient{
		next: srv.Client(noRetryWait),
		get: map[string]func() (*secretsmanager.GetSecretValueOutput, error){
			"get-nil":   func() (*secretsmanager.GetSecretValueOutput, error) { return nil, nil },
			"get-panic": func() (*secretsmanager.GetSecretValueOutput, error) { panic("client failed") },
			"no-version": func() (*secretsmanager.GetSecretValueOutput, error) {
				return &secretsmanager.GetSecretValueOutput{ARN: aws.String("arn"), SecretString: value}, nil
			},
			"empty-version": func() (*secretsmanager.GetSecretValueOutput, error) {
				return &secretsmanager.GetSecretValueOutput{VersionId: aws.String(""), SecretString: value}, nil
			},
			"no-version-no-arn": func() (*secretsmanager.GetSecretValueOutput, error) {
				return &secretsmanager.GetSecretValueOutput{SecretString: value}, nil
			},
			"no-value": func() (*secretsmanager.GetSecretValueOutput, error) {
				return &secretsmanager.GetSecretValueOutput{VersionId: aws.String("v1")}, nil
			},
			"no-arn": func() (*secretsmanager.GetSecretValueOutput, error) {
				return &secretsmanager.GetSecretValueOutput{VersionId: aws.String("v1"), SecretString: value}, nil
			},
			"binary-nil-version": func() (*secretsmanager.GetSecretValueOutput, error) {
				return &secretsmanager.GetSecretValueOutput{SecretBinary: []byte{1}}, nil
			},
		},
		describe: map[string]func() (*secretsmanager.DescribeSecretOutput, error){
			"describe-nil":   func() (*secretsmanager.DescribeSecretOutput, error) { return nil, nil },
			"describe-panic": func() (*secretsmanager.DescribeSecretOutput, error) { panic(errors.New("client failed")) },
			"describe-no-stages": func() (*secretsmanager.DescribeSecretOutput, error) {
				return &secretsmanager.DescribeSecretOutput{}, nil
			},
		},
	}
	c, _ := newTestCache(t, client, Config{})
	refresh := func(id string) func(context.Context, *SecretCache) error {
		return func(ctx context.Context, c *SecretCache) error { return c.RefreshNow(ctx, id) }
	}

	cases := []badInputCase{
		{name: "GetSecretValue returns nil and no error", call: readString("get-nil"),
			wantText: []string{`"get-nil"`, "neither an output nor an error"}},
		{name: "GetSecretValue panics", call: readString("get-panic"),
			wantText: []string{`"get-panic"`, "client panicked in GetSecretValue", "string"}},
		{name: "response without VersionId", call: readString("no-version"),
			wantText: []string{`"no-version"`, "no VersionId"}},
		{name: "response with empty VersionId", call: readString("empty-version"),
			wantText: []string{`"empty-version"`, "no VersionId"}},
		{name: "response without VersionId or ARN", call: readString("no-version-no-arn"),
			wantText: []string{"no VersionId"}},
		{name: "binary response without VersionId", call: func(ctx context.Context, c *SecretCache) error {
			_, err := c.GetSecretBinary(ctx, "binary-nil-version")
			return err
		}, wantText: []string{"no VersionId"}},
		{name: "response without a value", call: readString("no-value"),
			wantText: []string{`"no-value"`, "neither SecretString nor SecretBinary"}},
	}
	for _, id := range []string{"describe-nil", "describe-panic", "describe-no-stages"} {
		mustString(t, c, id, "v1")
	}
	cases = append(cases,
		badInputCase{name: "DescribeSecret returns nil and no error", call: refresh("describe-nil"),
			wantText: []string{`"describe-nil"`, "neither an output nor an error"}},
		badInputCase{name: "DescribeSecret panics", call: refresh("describe-panic"),
			wantText: []string{`"describe-panic"`, "client panicked in DescribeSecret", "*errors.errorString"}},
	)
	runBadInputCases(t, c, srv, cases)

	// A refresh that failed on a broken DescribeSecret keeps the value.
	mustString(t, c, "describe-nil", "v1")
	mustString(t, c, "describe-panic", "v1")

	// A response without an ARN still carries everything a read needs.
	out, err := c.GetSecretValue(context.Background(), "no-arn")
	if err != nil {
		t.Fatalf("response without ARN: %v", err)
	}
	if out.ARN != nil {
		t.Errorf("ARN = %q, want nil as the client returned", *out.ARN)
	}
	if aws.ToString(out.SecretString) != "x" {
		t.Errorf("SecretString = %q, want %q", aws.ToString(out.SecretString), "x")
	}

	// Without VersionIdsToStages the refresh reads each stage with
	// GetSecretValue instead and still picks up a rotation.
	srv.PutString("describe-no-stages", "v2")
	scripted := client.scriptedCalls.Load()
	if err := c.RefreshNow(context.Background(), "describe-no-stages"); err != nil {
		t.Fatalf("RefreshNow with DescribeSecret lacking VersionIdsToStages: %v", err)
	}
	if client.scriptedCalls.Load() != scripted+1 {
		t.Errorf("RefreshNow made %d scripted DescribeSecret calls, want 1", client.scriptedCalls.Load()-scripted)
	}
	mustString(t, c, "describe-no-stages", "v2")
}
