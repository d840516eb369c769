package secretcache_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/secretcache-go/secretcache"
	"github.com/secretcache-go/secretcache/secretcachetest"
)

// The examples read from a fake Secrets Manager on 127.0.0.1, so they run
// without an AWS account. A service passes a client built with
// secretsmanager.NewFromConfig to New, or calls NewFromDefaultConfig.

func ExampleNew() {
	server := secretcachetest.NewServer()
	defer server.Close()
	server.PutString("prod/db-password", "Tr0ub4dor&3")

	cache, err := secretcache.New(server.Client(), secretcache.Config{
		RefreshInterval: 15 * time.Minute,
	})
	if err != nil {
		fmt.Println("creating the cache failed:", err)
		return
	}
	defer cache.Close()

	ctx := context.Background()
	for range 3 {
		if _, err := cache.GetSecretString(ctx, "prod/db-password"); err != nil {
			fmt.Println("reading the secret failed:", err)
			return
		}
	}
	fmt.Println("GetSecretValue calls for 3 reads:", cache.Stats().GetSecretValueCalls)
	// Output: GetSecretValue calls for 3 reads: 1
}

func ExampleSecretCache_GetSecretString() {
	server := secretcachetest.NewServer()
	defer server.Close()
	server.PutString("prod/db-credentials", `{"username":"app","password":"Tr0ub4dor&3"}`)

	cache, err := secretcache.New(server.Client(), secretcache.Config{})
	if err != nil {
		fmt.Println("creating the cache failed:", err)
		return
	}
	defer cache.Close()

	secret, err := cache.GetSecretString(context.Background(), "prod/db-credentials")
	if err != nil {
		fmt.Println("reading the secret failed:", err)
		return
	}
	var credentials struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(secret), &credentials); err != nil {
		fmt.Println("the secret is not valid JSON:", err)
		return
	}
	fmt.Println("user:", credentials.Username)
	// Output: user: app
}

// A service calls RefreshNow when a cached credential is rejected, for
// example because a rotation happened after the cache last checked the
// secret.
func ExampleSecretCache_RefreshNow() {
	server := secretcachetest.NewServer()
	defer server.Close()
	server.PutString("prod/api-key", "key-one")

	cache, err := secretcache.New(server.Client(), secretcache.Config{})
	if err != nil {
		fmt.Println("creating the cache failed:", err)
		return
	}
	defer cache.Close()

	ctx := context.Background()
	read := func() string {
		value, err := cache.GetSecretString(ctx, "prod/api-key")
		if err != nil {
			return "error: " + err.Error()
		}
		return value
	}

	fmt.Println("before rotation:", read())
	server.PutString("prod/api-key", "key-two")
	fmt.Println("after rotation:", read())
	if err := cache.RefreshNow(ctx, "prod/api-key"); err != nil {
		fmt.Println("refresh failed:", err)
		return
	}
	fmt.Println("after RefreshNow:", read())
	// Output:
	// before rotation: key-one
	// after rotation: key-one
	// after RefreshNow: key-two
}

// During a rotation, a service that verifies signatures accepts both the
// current key and the previous one.
func ExampleWithVersionStage() {
	server := secretcachetest.NewServer()
	defer server.Close()
	server.PutString("prod/signing-key", "key-one")
	server.PutString("prod/signing-key", "key-two")

	cache, err := secretcache.New(server.Client(), secretcache.Config{})
	if err != nil {
		fmt.Println("creating the cache failed:", err)
		return
	}
	defer cache.Close()

	ctx := context.Background()
	current, err := cache.GetSecretString(ctx, "prod/signing-key")
	if err != nil {
		fmt.Println("reading AWSCURRENT failed:", err)
		return
	}
	previous, err := cache.GetSecretString(ctx, "prod/signing-key", secretcache.WithVersionStage("AWSPREVIOUS"))
	if err != nil {
		fmt.Println("reading AWSPREVIOUS failed:", err)
		return
	}
	fmt.Println("current:", current)
	fmt.Println("previous:", previous)
	// Output:
	// current: key-two
	// previous: key-one
}

// This hook keeps every cached value encrypted with AES-GCM under a key
// generated at start-up, so the cache holds no plaintext copy. The key lives
// in the same process, so this does not protect values from code that can
// read the whole memory of the process.
func ExampleHookFuncs() {
	key := make([]byte, 32)
	rand.Read(key) // crypto/rand.Read never returns an error.
	block, err := aes.NewCipher(key)
	if err != nil {
		fmt.Println("creating the cipher failed:", err)
		return
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		fmt.Println("creating AES-GCM failed:", err)
		return
	}

	// sealed is what the cache stores: the output without its value, and the
	// value encrypted with the version ID as additional data.
	type sealed struct {
		meta       *secretsmanager.GetSecretValueOutput
		ciphertext []byte
		binary     bool
	}
	hook := secretcache.HookFuncs{
		PutFunc: func(_ context.Context, value *secretsmanager.GetSecretValueOutput) (any, error) {
			s := &sealed{binary: value.SecretString == nil}
			plaintext := value.SecretBinary
			if !s.binary {
				plaintext = []byte(*value.SecretString)
			}
			s.ciphertext = aead.Seal(nil, nil, plaintext, []byte(aws.ToString(value.VersionId)))
			// The hook owns value, so it may clear the plaintext.
			clear(plaintext)
			value.SecretString, value.SecretBinary = nil, nil
			s.meta = value
			return s, nil
		},
		GetFunc: func(_ context.Context, stored any) (*secretsmanager.GetSecretValueOutput, error) {
			s, ok := stored.(*sealed)
			if !ok {
				return nil, fmt.Errorf("stored value has type %T, want *sealed", stored)
			}
			plaintext, err := aead.Open(nil, nil, s.ciphertext, []byte(aws.ToString(s.meta.VersionId)))
			if err != nil {
				return nil, err
			}
			out := *s.meta
			if s.binary {
				out.SecretBinary = plaintext
			} else {
				out.SecretString = aws.String(string(plaintext))
			}
			return &out, nil
		},
	}

	server := secretcachetest.NewServer()
	defer server.Close()
	server.PutString("prod/db-password", "Tr0ub4dor&3")

	cache, err := secretcache.New(server.Client(), secretcache.Config{Hook: hook})
	if err != nil {
		fmt.Println("creating the cache failed:", err)
		return
	}
	defer cache.Close()

	password, err := cache.GetSecretString(context.Background(), "prod/db-password")
	if err != nil {
		fmt.Println("reading the secret failed:", err)
		return
	}
	fmt.Println(password)
	// Output: Tr0ub4dor&3
}

// Errors wrap the cache's sentinel errors and the SDK's error types, so
// callers test for them with errors.Is and errors.As. An *Error names the
// secret and the operation that failed.
func ExampleError() {
	server := secretcachetest.NewServer()
	defer server.Close()
	server.PutBinary("prod/tls-key", []byte{0x30, 0x82})

	cache, err := secretcache.New(server.Client(), secretcache.Config{})
	if err != nil {
		fmt.Println("creating the cache failed:", err)
		return
	}
	ctx := context.Background()

	_, err = cache.GetSecretString(ctx, "prod/no-such-secret")
	var notFound *types.ResourceNotFoundException
	fmt.Println("not found:", errors.As(err, &notFound))
	var cacheErr *secretcache.Error
	if errors.As(err, &cacheErr) {
		fmt.Println("failed:", cacheErr.Op, cacheErr.SecretID)
	}

	_, err = cache.GetSecretString(ctx, "prod/tls-key")
	fmt.Println("binary secret read as a string:", errors.Is(err, secretcache.ErrNotString))

	cache.Close()
	_, err = cache.GetSecretString(ctx, "prod/tls-key")
	fmt.Println("read after Close:", errors.Is(err, secretcache.ErrClosed))
	// Output:
	// not found: true
	// failed: GetSecretValue prod/no-such-secret
	// binary secret read as a string: true
	// read after Close: true
}
