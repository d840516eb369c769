package secretcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

// hygieneMarker is part of every secret value in the hygiene tests and of the
// client's secret access key, and of nothing else: not of any secret ID,
// stage, hook error or server message.
const hygieneMarker = "MARKER-5f1d"

// withMarkedCredentials gives a client a secret access key that contains
// hygieneMarker. The test server checks no signatures, so any key works.
func withMarkedCredentials(o *secretsmanager.Options) {
	o.Credentials = credentials.NewStaticCredentialsProvider("AKIDHYGIENETEST", hygieneMarker+"-secret-access-key", "")
}

// lockedBuffer is a bytes.Buffer that log handlers on several goroutines may
// write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// leakCheck collects the text that a secret value must never reach.
type leakCheck struct {
	t     *testing.T
	texts int
}

// text fails the test if s contains the marker.
func (l *leakCheck) text(what, s string) {
	l.t.Helper()
	l.texts++
	at := strings.Index(s, hygieneMarker)
	if at < 0 {
		return
	}
	start, end := max(at-200, 0), min(at+len(hygieneMarker)+50, len(s))
	l.t.Errorf("%s contains a secret, at byte %d of %d:\n...%s...", what, at, len(s), s[start:end])
}

// formatted checks v under each of the fmt verbs a program might log it with.
func (l *leakCheck) formatted(what string, v any) {
	l.t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		l.text(what+" formatted with "+verb, fmt.Sprintf(verb, v))
	}
}

// err checks an error that a path of the cache must have returned: its
// message, its formatting and every error it wraps.
func (l *leakCheck) err(what string, err error) {
	l.t.Helper()
	if err == nil {
		l.t.Errorf("%s returned no error, so its path was not tested", what)
		return
	}
	l.formatted(what, err)
	for inner := errors.Unwrap(err); inner != nil; inner = errors.Unwrap(inner) {
		l.text(what+" wrapped error", inner.Error())
	}
}

// call runs fn, checking the message of any panic it raises before failing
// the test for the panic itself.
func (l *leakCheck) call(what string, fn func()) {
	l.t.Helper()
	defer func() {
		if r := recover(); r != nil {
			l.text(what+" panic message", fmt.Sprint(r))
			l.t.Errorf("%s panicked", what)
		}
	}()
	fn()
}

// hygieneHook passes values through, except for the secrets whose Put or Get
// fails or panics. Its errors carry no secret value. Its panics do, and the
// cache must report them by type only.
func hygieneHook() HookFuncs {
	return HookFuncs{
		PutFunc: func(_ context.Context, value *secretsmanager.GetSecretValueOutput) (any, error) {
			switch aws.ToString(value.Name) {
			case "hook-put-fails":
				return nil, errors.New("encrypting the value failed")
			case "hook-put-panics":
				panic(aws.ToString(value.SecretString))
			}
			return value, nil
		},
		GetFunc: func(_ context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error) {
			value := stored.(*secretsmanager.GetSecretValueOutput)
			switch aws.ToString(value.Name) {
			case "hook-get-fails":
				return nil, errors.New("decrypting the value failed")
			case "hook-get-panics":
				panic(fmt.Errorf("cannot decrypt %s", aws.ToString(value.SecretString)))
			}
			return value, nil
		},
	}
}

func TestSecretsNeverReachOutput(t *testing.T) {
	for _, withHook := range []bool{false, true} {
		t.Run(fmt.Sprintf("hook=%v", withHook), func(t *testing.T) {
			checkHygiene(t, withHook)
		})
	}
}

// checkHygiene fills a cache with secrets that carry the marker, drives every
// error path that can be driven from outside, and checks every error, log
// line and formatted value for the marker.
func checkHygiene(t *testing.T, withHook bool) {
	var logs lockedBuffer
	cfg := Config{
		RefreshInterval: time.Minute,
		FetchTimeout:    500 * time.Millisecond,
		Logger:          slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if withHook {
		cfg.Hook = hygieneHook()
	}
	srv := secretcachetest.NewServer()
	t.Cleanup(srv.Close)
	c, clock := newTestCache(t, srv.Client(noRetryWait, withMarkedCredentials), cfg)
	ctx := context.Background()
	check := &leakCheck{t: t}
	value := func(name string) string { return hygieneMarker + "-" + name }

	names := []string{"plain", "throttled", "failing", "dropped", "slow", "revoked", "deleted",
		"describe-denied", "staged", "timed-out"}
	stagedID := srv.PutString("staged", value("staged-blue"))
	srv.SetStage("staged", "BLUE", stagedID)
	for _, name := range names {
		srv.PutString(name, value(name))
	}
	srv.PutBinary("binary", []byte(value("binary")))

	for _, name := range names {
		mustString(t, c, name, value(name))
	}
	mustString(t, c, "staged", value("staged-blue"), WithVersionStage("BLUE"))
	if b, err := c.GetSecretBinary(ctx, "binary"); err != nil || string(b) != value("binary") {
		t.Fatalf("GetSecretBinary(binary) = %q, %v", b, err)
	}

	// Errors returned to the caller at once.
	check.call("wrong type", func() {
		_, err := c.GetSecretString(ctx, "binary")
		check.err("GetSecretString of a binary secret", err)
		_, err = c.GetSecretBinary(ctx, "plain")
		check.err("GetSecretBinary of a string secret", err)
	})
	check.call("missing stage", func() {
		_, err := c.GetSecretString(ctx, "plain", WithVersionStage("NOPE"))
		check.err("read of a missing stage", err)
		_, err = c.GetSecretValue(ctx, "plain", WithVersionID("00000000-0000-4000-8000-000000000000"))
		check.err("read of a missing version", err)
	})
	check.call("throttled first read", func() {
		srv.PutString("cold", value("cold"))
		srv.FailNext(secretcachetest.OpGetSecretValue, 3, "ThrottlingException")
		_, err := c.GetSecretString(ctx, "cold")
		check.err("throttled first read", err)
	})
	check.call("cancelled caller", func() {
		srv.PutString("cold-slow", value("cold-slow"))
		srv.SetLatency(secretcachetest.OpGetSecretValue, 5*time.Second)
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := c.GetSecretString(short, "cold-slow")
		check.err("read whose context expired", err)
		srv.ClearFaults()
	})

	// Refresh failures: each is logged by the background refresh and
	// returned by RefreshNow.
	refreshFailures := []struct {
		name  string
		fault func()
	}{
		{"throttled", func() { srv.FailAlways(secretcachetest.OpDescribeSecret, "ThrottlingException") }},
		{"failing", func() { srv.FailAlways("", "InternalServiceError") }},
		{"dropped", func() { srv.DropNext("", 100) }},
		{"slow", func() { srv.SetLatency(secretcachetest.OpDescribeSecret, 5*time.Second) }},
		{"revoked", func() { srv.Deny("revoked") }},
		{"deleted", func() { srv.Delete("deleted") }},
		{"describe-denied", func() {
			srv.Deny("describe-denied", secretcachetest.OpDescribeSecret)
			srv.FailAlways(secretcachetest.OpGetSecretValue, "InternalServiceError")
		}},
	}
	for _, rf := range refreshFailures {
		check.call("refresh of "+rf.name, func() {
			rf.fault()
			clock.Advance(cfg.RefreshInterval)
			if _, err := c.GetSecretString(ctx, rf.name); err != nil {
				t.Errorf("read of %s that starts the refresh: %v", rf.name, err)
			}
			waitIdle(t, c, rf.name)
			check.err("RefreshNow of "+rf.name, c.RefreshNow(ctx, rf.name))
			if _, err := c.GetSecretValue(ctx, rf.name); err != nil {
				check.err("read of "+rf.name+" after its refresh failed", err)
			}
			srv.ClearFaults()
		})
	}
	check.call("removed stage", func() {
		srv.RemoveStage("staged", "BLUE")
		if err := c.RefreshNow(ctx, "staged"); err != nil {
			t.Errorf("RefreshNow(staged): %v", err)
		}
		_, err := c.GetSecretString(ctx, "staged", WithVersionStage("BLUE"))
		check.err("read of a removed stage", err)
	})

	if withHook {
		for _, name := range []string{"hook-put-fails", "hook-put-panics", "hook-get-fails", "hook-get-panics"} {
			srv.PutString(name, value(name))
			check.call(name, func() {
				_, err := c.GetSecretString(ctx, name)
				check.err("GetSecretString of "+name, err)
				_, err = c.GetSecretValue(ctx, name)
				check.err("GetSecretValue of "+name, err)
			})
		}
	}

	// The exported types as a program might log them. The cache itself is
	// formatted after Close, still full, because fmt reads its fields
	// without synchronization. TestFormatBusyCacheIsRaceFree formats it
	// while a fetch runs.
	check.formatted("Config", cfg)
	check.formatted("Stats", c.Stats())
	check.formatted("GetOption", WithVersionStage("AWSPREVIOUS"))
	check.formatted("HookFuncs", hygieneHook())

	check.call("Close", func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		_, err := c.GetSecretString(ctx, "plain")
		check.err("GetSecretString after Close", err)
		_, err = c.GetSecretBinary(ctx, "binary")
		check.err("GetSecretBinary after Close", err)
		_, err = c.GetSecretValue(ctx, "plain")
		check.err("GetSecretValue after Close", err)
		check.err("RefreshNow after Close", c.RefreshNow(ctx, "plain"))
	})
	check.formatted("SecretCache after Close", c)

	logged := logs.String()
	check.text("log output", logged)
	if got := strings.Count(logged, "background refresh failed"); got < len(refreshFailures) {
		t.Errorf("log has %d refresh failures, want at least %d (one per failed background refresh):\n%s", got, len(refreshFailures), logged)
	}
	t.Logf("checked %d texts and %d bytes of log output", check.texts, len(logged))
}

// TestMalformedResponseKeepsValueOutOfError sends GetSecretValue responses
// that the SDK cannot decode, with a secret value in the broken member, and
// checks the error that reaches the caller.
func TestMalformedResponseKeepsValueOutOfError(t *testing.T) {
	bodies := map[string]string{
		"string as list":   `{"ARN":"a","Name":"n","VersionId":"v1","SecretString":["` + hygieneMarker + `"]}`,
		"string as object": `{"ARN":"a","Name":"n","VersionId":"v1","SecretString":{"password":"` + hygieneMarker + `"}}`,
		"unquoted string":  `{"ARN":"a","Name":"n","VersionId":"v1","SecretString":` + hygieneMarker + `}`,
		"cut-off string":   `{"ARN":"a","Name":"n","VersionId":"v1","SecretString":"` + hygieneMarker,
		"invalid base64":   `{"ARN":"a","Name":"n","VersionId":"v1","SecretBinary":"` + hygieneMarker + `!"}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				_, _ = w.Write([]byte(body))
			}))
			defer server.Close()
			client := secretsmanager.New(secretsmanager.Options{
				Region:       "us-east-1",
				BaseEndpoint: aws.String(server.URL),
				HTTPClient:   server.Client(),
			}, noRetryWait, withMarkedCredentials)
			c, _ := newTestCache(t, client, Config{})
			check := &leakCheck{t: t}
			check.call("read", func() {
				_, err := c.GetSecretString(context.Background(), "db")
				check.err("read of a malformed response", err)
			})
		})
	}
}

// TestFormatBusyCacheIsRaceFree formats a cache while a fetch that no caller
// waits for is still running, as a program that logs a struct holding the
// cache might. fmt walks the cache's fields, so under the race detector this
// fails unless *SecretCache formats itself without reading them.
func TestFormatBusyCacheIsRaceFree(t *testing.T) {
	srv := secretcachetest.NewServer()
	t.Cleanup(srv.Close)
	c, _ := newTestCache(t, srv.Client(noRetryWait, withMarkedCredentials), Config{})
	srv.PutString("db", hygieneMarker)
	srv.SetLatency(secretcachetest.OpGetSecretValue, 200*time.Millisecond)
	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := c.GetSecretString(short, "db"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with a 10 ms deadline = %v, want context.DeadlineExceeded", err)
	}

	check := &leakCheck{t: t}
	check.formatted("SecretCache during a fetch", c)
	mustString(t, c, "db", hygieneMarker)
	check.formatted("SecretCache after the fetch", c)
}
