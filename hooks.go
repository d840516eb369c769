package secretcache

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// CacheHook transforms a secret value before the cache stores it and after the
// cache reads it back, for example to keep secrets encrypted in memory. The
// cache does not encrypt anything itself.
//
// Put runs once for each value fetched from Secrets Manager, on the goroutine
// of the shared fetch and with the fetch's context. It receives a copy that it
// may keep or change. Get runs on every read of that value, on the reader's
// goroutine and with the reader's context, and must return an output that the
// cache may hand to the caller: GetSecretValue and GetSecretBinary copy it,
// GetSecretString returns its SecretString.
//
// Neither method runs while the cache holds a lock, so a hook may read other
// secrets through the same cache. A hook must not read the secret whose value
// it is transforming from Put, because that read waits for the fetch that is
// running Put. An error or a panic in either method fails the read with an
// error wrapping ErrHook and the secret ID; the cache keeps working.
type CacheHook interface {
	Put(ctx context.Context, value *secretsmanager.GetSecretValueOutput) (any, error)
	Get(ctx context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error)
}

// HookFuncs adapts a pair of functions to the CacheHook interface.
type HookFuncs struct {
	PutFunc func(ctx context.Context, value *secretsmanager.GetSecretValueOutput) (any, error)
	GetFunc func(ctx context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error)
}

// Put calls h.PutFunc.
func (h HookFuncs) Put(ctx context.Context, value *secretsmanager.GetSecretValueOutput) (any, error) {
	return h.PutFunc(ctx, value)
}

// Get calls h.GetFunc.
func (h HookFuncs) Get(ctx context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error) {
	return h.GetFunc(ctx, stored)
}

// recoverHook turns a panic in a hook method into an error stored in *err.
// It must be deferred directly, so that its recover call stops the panic.
// The error names only the panic value's type, which cannot leak a secret.
func recoverHook(err *error, method string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s panicked with a value of type %T", ErrHook, method, r)
	}
}

// callPut runs hook.Put, turning a panic or a nil result into an error.
func callPut(ctx context.Context, hook CacheHook, value *secretsmanager.GetSecretValueOutput) (stored any, err error) {
	defer recoverHook(&err, "Put")
	stored, err = hook.Put(ctx, value)
	if err != nil {
		return nil, fmt.Errorf("%w: Put: %w", ErrHook, err)
	}
	if stored == nil {
		return nil, fmt.Errorf("%w: Put returned nil and no error: return the value to store", ErrHook)
	}
	return stored, nil
}

// callGet runs hook.Get, turning a panic or a nil result into an error.
func callGet(ctx context.Context, hook CacheHook, stored any) (out *secretsmanager.GetSecretValueOutput, err error) {
	defer recoverHook(&err, "Get")
	out, err = hook.Get(ctx, stored)
	if err != nil {
		return nil, fmt.Errorf("%w: Get: %w", ErrHook, err)
	}
	if out == nil {
		return nil, fmt.Errorf("%w: Get returned a nil output and no error", ErrHook)
	}
	return out, nil
}
