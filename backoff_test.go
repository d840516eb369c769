package secretcache

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

func TestBackoffOfUncachedSecretUsesConfiguredUnits(t *testing.T) {
	client := newFakeClient()
	client.put("db", "x")
	client.failWith("GetSecretValue", &types.InternalServiceError{Message: aws.String("unavailable")})
	c, clock := newTestCache(t, client, Config{RetryDelayBase: 10 * time.Second, RetryGrowthFactor: 3, RetryDelayMax: 5 * time.Minute})
	ctx := context.Background()
	res := c.clock.resolution

	read := func() error {
		_, err := c.GetSecretString(ctx, "db")
		return err
	}
	if err := read(); err == nil {
		t.Fatal("first read succeeded during an outage")
	}
	// Waits of 10 s, 30 s, 90 s, 270 s, then the 300 s cap.
	for i, wait := range []time.Duration{10 * time.Second, 30 * time.Second, 90 * time.Second, 270 * time.Second, 300 * time.Second, 300 * time.Second} {
		before := client.getCalls.Load()
		clock.Advance(wait - res)
		for range 5 {
			if err := read(); err == nil {
				t.Fatalf("read %d succeeded during an outage", i)
			}
		}
		if got := client.getCalls.Load() - before; got != 0 {
			t.Fatalf("after failure %d: %d calls before the %v delay ended, want 0", i+1, got, wait)
		}
		clock.Advance(res)
		if err := read(); err == nil {
			t.Fatalf("read %d succeeded during an outage", i)
		}
		if got := client.getCalls.Load() - before; got != 1 {
			t.Fatalf("after failure %d: %d calls once the %v delay ended, want 1", i+1, got, wait)
		}
	}

	client.failWith("GetSecretValue", nil)
	clock.Advance(5 * time.Minute)
	mustString(t, c, "db", "x")
}

func TestBackoffReturnsLastErrorWithoutCall(t *testing.T) {
	client := newFakeClient()
	c, _ := newTestCache(t, client, Config{})
	_, err1 := c.GetSecretString(context.Background(), "missing")
	_, err2 := c.GetSecretString(context.Background(), "missing")
	var notFound *types.ResourceNotFoundException
	if !errors.As(err1, &notFound) || !errors.As(err2, &notFound) {
		t.Fatalf("errors = %v, %v; want ResourceNotFoundException", err1, err2)
	}
	if !strings.Contains(err2.Error(), `"missing"`) {
		t.Errorf("error %q does not name the secret", err2)
	}
	if got := client.getCalls.Load(); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", got)
	}
}

func TestOutageKeepsCachedValueAndBacksOff(t *testing.T) {
	client := newFakeClient()
	client.put("db", "cached")
	c, clock := newTestCache(t, client, Config{RefreshInterval: time.Minute})
	mustString(t, c, "db", "cached")

	client.failWith("DescribeSecret", &types.InternalServiceError{Message: aws.String("unavailable")})
	client.failWith("GetSecretValue", &types.InternalServiceError{Message: aws.String("unavailable")})
	clock.Advance(time.Minute)
	callsAtOutage := client.describeCalls.Load() + client.getCalls.Load()

	// Read continuously for 60 s of failures, one read every 100 ms.
	for range 600 {
		mustString(t, c, "db", "cached")
		waitIdle(t, c, "db")
		clock.Advance(100 * time.Millisecond)
	}
	calls := client.describeCalls.Load() + client.getCalls.Load() - callsAtOutage
	// Attempts at about 0, 1, 3, 7, 15, 31 s after the first: at most 7 in 60 s.
	if calls < 5 || calls > 7 {
		t.Errorf("calls during 60 s outage = %d, want 5 to 7", calls)
	}

	client.failWith("DescribeSecret", nil)
	client.failWith("GetSecretValue", nil)
	client.put("db", "new")
	clock.Advance(time.Minute)
	mustString(t, c, "db", "cached")
	waitIdle(t, c, "db")
	mustString(t, c, "db", "new")
}

func TestRevocationEndsService(t *testing.T) {
	client := newFakeClient()
	client.put("db", "x")
	c, clock := newTestCache(t, client, Config{RefreshInterval: time.Minute})
	mustString(t, c, "db", "x")

	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}
	client.failWith("DescribeSecret", denied)
	client.failWith("GetSecretValue", denied)
	clock.Advance(time.Minute)
	mustString(t, c, "db", "x") // due: served while the refresh runs
	waitIdle(t, c, "db")

	_, err := c.GetSecretString(context.Background(), "db")
	if err == nil {
		t.Fatal("revoked secret still served after a refresh")
	}
	if !isAccessDenied(err) {
		t.Errorf("error = %v, want AccessDeniedException", err)
	}
}

func TestDescribeDeniedFallsBackToGetSecretValue(t *testing.T) {
	client := newFakeClient()
	client.put("db", "one")
	c, clock := newTestCache(t, client, Config{RefreshInterval: time.Minute})
	mustString(t, c, "db", "one")

	client.failWith("DescribeSecret", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"})
	client.put("db", "two")
	clock.Advance(time.Minute)
	mustString(t, c, "db", "one")
	waitIdle(t, c, "db")
	mustString(t, c, "db", "two")
	if got := client.describeCalls.Load(); got != 1 {
		t.Fatalf("DescribeSecret calls = %d, want 1", got)
	}

	// Later refreshes skip DescribeSecret.
	client.put("db", "three")
	clock.Advance(time.Minute)
	mustString(t, c, "db", "two")
	waitIdle(t, c, "db")
	mustString(t, c, "db", "three")
	if got := client.describeCalls.Load(); got != 1 {
		t.Errorf("DescribeSecret calls after the fallback = %d, want still 1", got)
	}
}

func TestDeletedSecretStopsBeingServed(t *testing.T) {
	client := newFakeClient()
	client.put("db", "x")
	c, clock := newTestCache(t, client, Config{RefreshInterval: time.Minute})
	mustString(t, c, "db", "x")

	client.mu.Lock()
	client.secrets["db"].deleted = true
	client.mu.Unlock()
	if err := c.RefreshNow(context.Background(), "db"); !errors.Is(err, ErrDeleted) {
		t.Fatalf("RefreshNow error = %v, want ErrDeleted", err)
	}
	_, err := c.GetSecretString(context.Background(), "db")
	if !errors.Is(err, ErrDeleted) {
		t.Errorf("read of deleted secret: %v, want ErrDeleted", err)
	}
	_ = clock
}

func TestMissingStageIsNamed(t *testing.T) {
	client := newFakeClient()
	client.put("db", "x")
	c, _ := newTestCache(t, client, Config{})
	_, err := c.GetSecretString(context.Background(), "db", WithVersionStage("NOPE"))
	if err == nil || !strings.Contains(err.Error(), `stage "NOPE"`) {
		t.Errorf("error = %v, want one naming stage NOPE", err)
	}
}

func TestStageRemovedIsReportedAtRefresh(t *testing.T) {
	client := newFakeClient()
	id := client.put("db", "x")
	client.setStage("db", "BLUE", id)
	c, _ := newTestCache(t, client, Config{})
	mustString(t, c, "db", "x", WithVersionStage("BLUE"))

	client.mu.Lock()
	delete(client.secrets["db"].stages, "BLUE")
	client.mu.Unlock()
	if err := c.RefreshNow(context.Background(), "db"); err != nil {
		t.Fatalf("RefreshNow: %v", err)
	}
	_, err := c.GetSecretString(context.Background(), "db", WithVersionStage("BLUE"))
	if !errors.Is(err, ErrStageNotFound) || !strings.Contains(err.Error(), `"BLUE"`) {
		t.Errorf("error = %v, want ErrStageNotFound naming BLUE", err)
	}
	mustString(t, c, "db", "x")
}
