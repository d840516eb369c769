package secretcachetest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

func TestFailNextErrorTypes(t *testing.T) {
	server := secretcachetest.NewServer()
	t.Cleanup(server.Close)
	client := server.Client(withoutBackoff(1))
	ctx := testContext(t)
	server.PutString("s", "v")

	tests := []struct {
		code       string
		wantStatus int
		matches    func(error) bool
	}{
		{"ResourceNotFoundException", 400, func(err error) bool { var e *types.ResourceNotFoundException; return errors.As(err, &e) }},
		{"InvalidRequestException", 400, func(err error) bool { var e *types.InvalidRequestException; return errors.As(err, &e) }},
		{"InvalidParameterException", 400, func(err error) bool { var e *types.InvalidParameterException; return errors.As(err, &e) }},
		{"DecryptionFailure", 400, func(err error) bool { var e *types.DecryptionFailure; return errors.As(err, &e) }},
		{"ResourceExistsException", 400, func(err error) bool { var e *types.ResourceExistsException; return errors.As(err, &e) }},
		{"InternalServiceError", 500, func(err error) bool { var e *types.InternalServiceError; return errors.As(err, &e) }},
		// The SDK has no types for these codes, so they arrive as smithy.GenericAPIError.
		{"AccessDeniedException", 400, func(err error) bool { var e *smithy.GenericAPIError; return errors.As(err, &e) }},
		{"ThrottlingException", 400, func(err error) bool { var e *smithy.GenericAPIError; return errors.As(err, &e) }},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			server.FailNext(secretcachetest.OpGetSecretValue, 1, tt.code)

			_, err := getSecret(ctx, client, "s")
			if !tt.matches(err) {
				t.Fatalf("error = %v (%T), want the SDK type for %s", err, err, tt.code)
			}
			requireErrorCode(t, err, tt.code)
			if status := httpStatus(err); status != tt.wantStatus {
				t.Errorf("HTTP status = %d, want %d", status, tt.wantStatus)
			}

			if _, err := getSecret(ctx, client, "s"); err != nil {
				t.Errorf("request after the fault: %v", err)
			}
		})
	}
}

func TestDenyAndAllow(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("locked", "v")

	server.Deny("locked", secretcachetest.OpGetSecretValue)
	_, err := getSecret(ctx, client, "locked")
	requireErrorCode(t, err, "AccessDeniedException")
	_, err = getSecret(ctx, client, server.ARN("locked"))
	requireErrorCode(t, err, "AccessDeniedException")
	describe(t, ctx, client, "locked") // other operations still work

	server.Allow("locked")
	if _, err := getSecret(ctx, client, "locked"); err != nil {
		t.Fatalf("GetSecretValue after Allow: %v", err)
	}

	server.Deny("locked")
	_, err = client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("locked")})
	requireErrorCode(t, err, "AccessDeniedException")
	server.Allow("locked", secretcachetest.OpDescribeSecret)
	describe(t, ctx, client, "locked")
	_, err = getSecret(ctx, client, "locked")
	requireErrorCode(t, err, "AccessDeniedException")

	// Deny applies to names that do not exist yet.
	server.Deny("future", secretcachetest.OpCreateSecret)
	_, err = client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("future")})
	requireErrorCode(t, err, "AccessDeniedException")
}

func TestSDKRetriesInjectedErrors(t *testing.T) {
	for _, code := range []string{"ThrottlingException", "InternalServiceError"} {
		t.Run(code, func(t *testing.T) {
			server, client := newTestServer(t)
			ctx := testContext(t)
			server.PutString("s", "v")

			server.FailNext(secretcachetest.OpGetSecretValue, 2, code)
			out, err := getSecret(ctx, client, "s")
			if err != nil {
				t.Fatalf("GetSecretValue after 2 faults: %v", err)
			}
			if aws.ToString(out.SecretString) != "v" {
				t.Errorf("SecretString = %q, want v", aws.ToString(out.SecretString))
			}
			if calls := server.Calls(secretcachetest.OpGetSecretValue); calls != 3 {
				t.Errorf("Calls = %d, want 3 (2 failed attempts and 1 retry that succeeded)", calls)
			}

			server.ResetCalls()
			server.FailNext(secretcachetest.OpGetSecretValue, 3, code)
			_, err = getSecret(ctx, client, "s")
			requireErrorCode(t, err, code)
			if calls := server.Calls(secretcachetest.OpGetSecretValue); calls != 3 {
				t.Errorf("Calls = %d, want 3 attempts", calls)
			}
		})
	}
}

func TestSDKDoesNotRetryNotFound(t *testing.T) {
	server, client := newTestServer(t)

	_, err := getSecret(testContext(t), client, "missing")
	requireErrorCode(t, err, "ResourceNotFoundException")
	if calls := server.Calls(secretcachetest.OpGetSecretValue); calls != 1 {
		t.Errorf("Calls = %d, want 1", calls)
	}
}

func TestFailAlways(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("s", "v")

	server.FailAlways(secretcachetest.OpGetSecretValue, "InternalServiceError")
	for i := range 2 {
		_, err := getSecret(ctx, client, "s")
		requireErrorCode(t, err, "InternalServiceError")
		if calls := server.Calls(secretcachetest.OpGetSecretValue); calls != int64(3*(i+1)) {
			t.Errorf("after request %d: Calls = %d, want %d", i+1, calls, 3*(i+1))
		}
	}
	describe(t, ctx, client, "s") // other operations still work

	server.FailAlways("", "DecryptionFailure")
	_, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	requireErrorCode(t, err, "DecryptionFailure")
	_, err = getSecret(ctx, client, "s")
	requireErrorCode(t, err, "InternalServiceError") // the operation's own code wins

	server.ClearFaults()
	if _, err := getSecret(ctx, client, "s"); err != nil {
		t.Errorf("GetSecretValue after ClearFaults: %v", err)
	}
}

func TestFailNextAnyOperation(t *testing.T) {
	server := secretcachetest.NewServer()
	t.Cleanup(server.Close)
	client := server.Client(withoutBackoff(1))
	ctx := testContext(t)
	server.PutString("s", "v")

	server.FailNext("", 2, "InvalidRequestException")
	_, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
	requireErrorCode(t, err, "InvalidRequestException")
	_, err = getSecret(ctx, client, "s")
	requireErrorCode(t, err, "InvalidRequestException")
	if _, err := getSecret(ctx, client, "s"); err != nil {
		t.Errorf("third request: %v", err)
	}
}

func TestDropNext(t *testing.T) {
	server := secretcachetest.NewServer()
	t.Cleanup(server.Close)
	ctx := testContext(t)
	server.PutString("s", "v")

	single := server.Client(withoutBackoff(1))
	server.DropNext(secretcachetest.OpGetSecretValue, 1)
	_, err := getSecret(ctx, single, "s")
	if err == nil {
		t.Fatal("GetSecretValue on a dropped connection succeeded")
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		t.Errorf("error = %v, want a transport error, not API error %s", err, apiErr.ErrorCode())
	}
	if calls := server.Calls(secretcachetest.OpGetSecretValue); calls != 1 {
		t.Errorf("Calls = %d, want 1", calls)
	}

	// The SDK retries connection errors.
	server.ResetCalls()
	retrying := server.Client(withoutBackoff(3))
	server.DropNext(secretcachetest.OpGetSecretValue, 1)
	out, err := getSecret(ctx, retrying, "s")
	if err != nil {
		t.Fatalf("GetSecretValue with retries: %v", err)
	}
	if aws.ToString(out.SecretString) != "v" {
		t.Errorf("SecretString = %q, want v", aws.ToString(out.SecretString))
	}
	if calls := server.Calls(secretcachetest.OpGetSecretValue); calls != 2 {
		t.Errorf("Calls = %d, want 2", calls)
	}
}

func TestSetLatency(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("s", "v")
	const delay = 200 * time.Millisecond

	server.SetLatency(secretcachetest.OpGetSecretValue, delay)
	start := time.Now()
	if _, err := getSecret(ctx, client, "s"); err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if elapsed := time.Since(start); elapsed < delay {
		t.Errorf("GetSecretValue took %v, want at least %v", elapsed, delay)
	}

	server.SetLatency(secretcachetest.OpGetSecretValue, 0)
	start = time.Now()
	describe(t, ctx, client, "s")
	if _, err := getSecret(ctx, client, "s"); err != nil {
		t.Fatalf("GetSecretValue without latency: %v", err)
	}
	if elapsed := time.Since(start); elapsed >= 5*time.Second {
		t.Errorf("requests without latency took %v", elapsed)
	}
}

func TestSetLatencyCanceledByContext(t *testing.T) {
	server := secretcachetest.NewServer()
	t.Cleanup(server.Close)
	client := server.Client(withoutBackoff(1))
	server.PutString("s", "v")
	server.SetLatency("", time.Minute)

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := getSecret(ctx, client, "s")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("canceled request took %v", elapsed)
	}
	// server.Close at cleanup waits for the handler, so a handler that kept
	// waiting would make this test hang for a minute.
}

func TestCloseEndsLatency(t *testing.T) {
	server := secretcachetest.NewServer()
	client := server.Client(withoutBackoff(1))
	server.PutString("s", "v")
	server.SetLatency(secretcachetest.OpGetSecretValue, time.Minute)

	result := make(chan error, 1)
	go func() {
		_, err := getSecret(testContext(t), client, "s")
		result <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for server.Calls(secretcachetest.OpGetSecretValue) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the request did not reach the server within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}

	start := time.Now()
	server.Close()
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Close took %v while a request waited out its latency", elapsed)
	}
	if err := <-result; err == nil {
		t.Error("GetSecretValue interrupted by Close succeeded")
	}
}

func TestCalls(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("s", "v") // setup helpers are not counted

	if total := server.TotalCalls(); total != 0 {
		t.Fatalf("TotalCalls after setup = %d, want 0", total)
	}
	for range 3 {
		_, _ = getSecret(ctx, client, "s")
	}
	describe(t, ctx, client, "s")
	_, _ = getSecret(ctx, client, "missing") // failed requests count

	if calls := server.Calls(secretcachetest.OpGetSecretValue); calls != 4 {
		t.Errorf("Calls(GetSecretValue) = %d, want 4", calls)
	}
	if calls := server.Calls(secretcachetest.OpDescribeSecret); calls != 1 {
		t.Errorf("Calls(DescribeSecret) = %d, want 1", calls)
	}
	if calls := server.Calls(secretcachetest.OpPutSecretValue); calls != 0 {
		t.Errorf("Calls(PutSecretValue) = %d, want 0", calls)
	}
	if total := server.TotalCalls(); total != 5 {
		t.Errorf("TotalCalls = %d, want 5", total)
	}
	if all := server.Calls(""); all != 5 {
		t.Errorf(`Calls("") = %d, want 5`, all)
	}

	server.ResetCalls()
	if total, calls := server.TotalCalls(), server.Calls(secretcachetest.OpGetSecretValue); total != 0 || calls != 0 {
		t.Errorf("after ResetCalls: TotalCalls = %d, Calls(GetSecretValue) = %d, want 0 and 0", total, calls)
	}
}

func TestConcurrentUse(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("shared", "0")
	const workers, requests = 8, 20

	var wg sync.WaitGroup
	errs := make(chan error, workers*requests)
	for worker := range workers {
		wg.Go(func() {
			for i := range requests {
				switch (worker + i) % 4 {
				case 0:
					server.PutString("shared", "v")
				case 1:
					server.FailNext(secretcachetest.OpDescribeSecret, 1, "ThrottlingException")
				case 2:
					_ = server.Calls(secretcachetest.OpGetSecretValue)
				}
				if _, err := getSecret(ctx, client, "shared"); err != nil {
					errs <- err
				}
				// Several injected throttles can meet one request, so
				// DescribeSecret may fail, but only with that code.
				_, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("shared")})
				var apiErr smithy.APIError
				if err != nil && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != "ThrottlingException") {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent request: %v", err)
	}
	if calls := server.Calls(secretcachetest.OpGetSecretValue); calls != workers*requests {
		t.Errorf("Calls(GetSecretValue) = %d, want %d", calls, workers*requests)
	}
}
