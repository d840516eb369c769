package secretcache

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// xorHook keeps values XOR-ed with a key byte, standing in for encryption.
type xorHook struct {
	puts, gets atomic.Int64
}

type xorStored struct {
	meta   *secretsmanager.GetSecretValueOutput
	masked []byte
	isText bool
}

func xor(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = c ^ 0x5a
	}
	return out
}

func (h *xorHook) Put(_ context.Context, v *secretsmanager.GetSecretValueOutput) (any, error) {
	h.puts.Add(1)
	s := &xorStored{meta: &secretsmanager.GetSecretValueOutput{ARN: v.ARN, Name: v.Name, VersionId: v.VersionId}}
	if v.SecretString != nil {
		s.masked, s.isText = xor([]byte(*v.SecretString)), true
	} else {
		s.masked = xor(v.SecretBinary)
	}
	return s, nil
}

func (h *xorHook) Get(_ context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error) {
	h.gets.Add(1)
	s := stored.(*xorStored)
	out := *s.meta
	if s.isText {
		out.SecretString = aws.String(string(xor(s.masked)))
	} else {
		out.SecretBinary = xor(s.masked)
	}
	return &out, nil
}

func TestHookTransformsStoredValues(t *testing.T) {
	client := newFakeClient()
	client.put("db", "plain-text")
	client.putBinary("key", []byte{1, 2, 3})
	hook := &xorHook{}
	c, _ := newTestCache(t, client, Config{Hook: hook})

	for range 3 {
		mustString(t, c, "db", "plain-text")
	}
	b, err := c.GetSecretBinary(context.Background(), "key")
	if err != nil || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Fatalf("GetSecretBinary = %v, %v", b, err)
	}
	if got := hook.puts.Load(); got != 2 {
		t.Errorf("Put calls = %d, want 2 (one per value fetched)", got)
	}
	if got := hook.gets.Load(); got != 4 {
		t.Errorf("Get calls = %d, want 4 (one per read)", got)
	}

	// With a hook the cache keeps only what Put returned.
	v := c.index.load("db").snap.Load().current.ver
	if strings.Contains(v.buf, "plain-text") || v.has(hasString) || v.has(hasBinary) {
		t.Errorf("cache kept the plain value beside the hook's stored value")
	}
}

func TestHookErrorsReachCaller(t *testing.T) {
	putErr := errors.New("kms unavailable")
	getErr := errors.New("decrypt failed")
	tests := []struct {
		name string
		hook CacheHook
		want error
		text string
	}{
		{"put error", HookFuncs{
			PutFunc: func(context.Context, *secretsmanager.GetSecretValueOutput) (any, error) { return nil, putErr },
			GetFunc: func(context.Context, any) (*secretsmanager.GetSecretValueOutput, error) { return nil, nil },
		}, putErr, "Put"},
		{"get error", HookFuncs{
			PutFunc: func(_ context.Context, v *secretsmanager.GetSecretValueOutput) (any, error) { return v, nil },
			GetFunc: func(context.Context, any) (*secretsmanager.GetSecretValueOutput, error) { return nil, getErr },
		}, getErr, "Get"},
		{"put returns nil", HookFuncs{
			PutFunc: func(context.Context, *secretsmanager.GetSecretValueOutput) (any, error) { return nil, nil },
			GetFunc: func(context.Context, any) (*secretsmanager.GetSecretValueOutput, error) { return nil, nil },
		}, ErrHook, "returned nil"},
		{"get returns nil", HookFuncs{
			PutFunc: func(_ context.Context, v *secretsmanager.GetSecretValueOutput) (any, error) { return v, nil },
			GetFunc: func(context.Context, any) (*secretsmanager.GetSecretValueOutput, error) { return nil, nil },
		}, ErrHook, "nil output"},
		{"put panics", HookFuncs{
			PutFunc: func(context.Context, *secretsmanager.GetSecretValueOutput) (any, error) { panic("boom") },
			GetFunc: func(context.Context, any) (*secretsmanager.GetSecretValueOutput, error) { return nil, nil },
		}, ErrHook, "panicked"},
		{"get panics", HookFuncs{
			PutFunc: func(_ context.Context, v *secretsmanager.GetSecretValueOutput) (any, error) { return v, nil },
			GetFunc: func(context.Context, any) (*secretsmanager.GetSecretValueOutput, error) { panic("boom") },
		}, ErrHook, "panicked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newFakeClient()
			client.put("db", "x")
			client.put("other", "y")
			c, _ := newTestCache(t, client, Config{Hook: tt.hook})
			_, err := c.GetSecretString(context.Background(), "db")
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrHook) {
				t.Fatalf("error = %v, want %v wrapped in ErrHook", err, tt.want)
			}
			if !strings.Contains(err.Error(), `"db"`) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not name the secret and %q", err, tt.text)
			}
		})
	}
}

func TestHookMayReadOtherSecrets(t *testing.T) {
	client := newFakeClient()
	client.put("db", "value")
	client.put("pepper", "!")
	var c *SecretCache
	hook := HookFuncs{
		PutFunc: func(ctx context.Context, v *secretsmanager.GetSecretValueOutput) (any, error) {
			if aws.ToString(v.Name) == "db" {
				if _, err := c.GetSecretString(ctx, "pepper"); err != nil {
					return nil, err
				}
			}
			return v, nil
		},
		GetFunc: func(ctx context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error) {
			out := *stored.(*secretsmanager.GetSecretValueOutput)
			if aws.ToString(out.Name) == "db" {
				pepper, err := c.GetSecretString(ctx, "pepper")
				if err != nil {
					return nil, err
				}
				out.SecretString = aws.String(*out.SecretString + pepper)
			}
			return &out, nil
		},
	}
	c, _ = newTestCache(t, client, Config{Hook: hook})
	mustString(t, c, "db", "value!")
	mustString(t, c, "db", "value!")
}
