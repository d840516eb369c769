package secretcachetest_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.uber.org/goleak"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestServer starts a server that the test closes at cleanup and returns
// it with a client whose retries have no backoff delay.
func newTestServer(t *testing.T) (*secretcachetest.Server, *secretsmanager.Client) {
	t.Helper()
	server := secretcachetest.NewServer()
	t.Cleanup(server.Close)
	return server, server.Client(withoutBackoff(retry.DefaultMaxAttempts))
}

// withoutBackoff sets the SDK's standard retryer with maxAttempts attempts,
// no delay between them and no client-side retry quota. Which errors it
// retries stays the SDK's default.
func withoutBackoff(maxAttempts int) func(*secretsmanager.Options) {
	return func(o *secretsmanager.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			so.RateLimiter = ratelimit.None
		})
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func getSecret(ctx context.Context, client *secretsmanager.Client, secretID string) (*secretsmanager.GetSecretValueOutput, error) {
	return client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
}

func describe(t *testing.T, ctx context.Context, client *secretsmanager.Client, secretID string) *secretsmanager.DescribeSecretOutput {
	t.Helper()
	out, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secretID)})
	if err != nil {
		t.Fatalf("DescribeSecret(%q): %v", secretID, err)
	}
	return out
}

// requireErrorCode fails the test unless err is an AWS API error with code.
func requireErrorCode(t *testing.T, err error, code string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Fatalf("error code = %s (%v), want %s", apiErr.ErrorCode(), err, code)
	}
}

// httpStatus returns the HTTP status of an SDK error, or 0 if it has none.
func httpStatus(err error) int {
	var responseErr *smithyhttp.ResponseError
	if errors.As(err, &responseErr) {
		return responseErr.HTTPStatusCode()
	}
	return 0
}

func stagesOf(t *testing.T, ctx context.Context, client *secretsmanager.Client, name string) map[string][]string {
	t.Helper()
	stages := describe(t, ctx, client, name).VersionIdsToStages
	for _, labels := range stages {
		slices.Sort(labels)
	}
	return stages
}

func TestGetSecretValueString(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	before := time.Now().Add(-time.Second)
	versionID := server.PutString("app/db", `{"password":"p1"}`)

	out, err := getSecret(ctx, client, "app/db")
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if got := aws.ToString(out.SecretString); got != `{"password":"p1"}` {
		t.Errorf("SecretString = %q", got)
	}
	if out.SecretBinary != nil {
		t.Errorf("SecretBinary = %v, want nil", out.SecretBinary)
	}
	if got := aws.ToString(out.VersionId); got != versionID {
		t.Errorf("VersionId = %q, want %q", got, versionID)
	}
	if !slices.Equal(out.VersionStages, []string{"AWSCURRENT"}) {
		t.Errorf("VersionStages = %v, want [AWSCURRENT]", out.VersionStages)
	}
	if got := aws.ToString(out.Name); got != "app/db" {
		t.Errorf("Name = %q", got)
	}
	if got := aws.ToString(out.ARN); got != server.ARN("app/db") {
		t.Errorf("ARN = %q, want %q", got, server.ARN("app/db"))
	}
	if out.CreatedDate == nil || out.CreatedDate.Before(before) || out.CreatedDate.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedDate = %v, want about %v", out.CreatedDate, time.Now())
	}
}

func TestGetSecretValueBinary(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	value := []byte{0, 1, 2, 0xff, 'x'}
	server.PutBinary("tls/key", value)
	value[0] = 9 // PutBinary keeps a copy

	out, err := getSecret(ctx, client, "tls/key")
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if !bytes.Equal(out.SecretBinary, []byte{0, 1, 2, 0xff, 'x'}) {
		t.Errorf("SecretBinary = %v", out.SecretBinary)
	}
	if out.SecretString != nil {
		t.Errorf("SecretString = %q, want nil", *out.SecretString)
	}

	server.PutBinary("empty", nil)
	out, err = getSecret(ctx, client, "empty")
	if err != nil {
		t.Fatalf("GetSecretValue(empty binary): %v", err)
	}
	if out.SecretBinary == nil || len(out.SecretBinary) != 0 {
		t.Errorf("SecretBinary = %#v, want an empty non-nil slice", out.SecretBinary)
	}
	if out.SecretString != nil {
		t.Errorf("SecretString of empty binary = %q, want nil", *out.SecretString)
	}
}

func TestGetSecretValueByARN(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("svc-a", "value-a")
	arn := server.ARN("svc-a")

	pattern := regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:svc-a-[A-Za-z0-9]{6}$`)
	if !pattern.MatchString(arn) {
		t.Fatalf("ARN = %q, want it to match %s", arn, pattern)
	}

	out, err := getSecret(ctx, client, arn)
	if err != nil {
		t.Fatalf("GetSecretValue(full ARN): %v", err)
	}
	if got := aws.ToString(out.SecretString); got != "value-a" {
		t.Errorf("SecretString by full ARN = %q", got)
	}

	partial := strings.TrimSuffix(arn, arn[len(arn)-7:])
	out, err = getSecret(ctx, client, partial)
	if err != nil {
		t.Fatalf("GetSecretValue(partial ARN %q): %v", partial, err)
	}
	if got := aws.ToString(out.SecretString); got != "value-a" {
		t.Errorf("SecretString by partial ARN = %q", got)
	}

	_, err = getSecret(ctx, client, partial+"-Zz9Zz9")
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("GetSecretValue(ARN with wrong suffix) error = %v, want ResourceNotFoundException", err)
	}
}

func TestGetSecretValueByVersionAndStage(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	v1 := server.PutString("s", "one")
	v2 := server.PutString("s", "two")

	tests := []struct {
		name      string
		versionID string
		stage     string
		want      string
		wantCode  string
	}{
		{name: "default is AWSCURRENT", want: "two"},
		{name: "stage AWSPREVIOUS", stage: "AWSPREVIOUS", want: "one"},
		{name: "old version by ID", versionID: v1, want: "one"},
		{name: "ID and matching stage", versionID: v2, stage: "AWSCURRENT", want: "two"},
		{name: "ID and other stage", versionID: v1, stage: "AWSCURRENT", wantCode: "ResourceNotFoundException"},
		{name: "unknown stage", stage: "AWSPENDING", wantCode: "ResourceNotFoundException"},
		{name: "unknown version", versionID: "00000000-0000-4000-8000-000000000000", wantCode: "ResourceNotFoundException"},
		{name: "short version ID", versionID: "abc", wantCode: "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}
			if tt.versionID != "" {
				input.VersionId = aws.String(tt.versionID)
			}
			if tt.stage != "" {
				input.VersionStage = aws.String(tt.stage)
			}
			out, err := client.GetSecretValue(ctx, input)
			if tt.wantCode != "" {
				requireErrorCode(t, err, tt.wantCode)
				return
			}
			if err != nil {
				t.Fatalf("GetSecretValue: %v", err)
			}
			if got := aws.ToString(out.SecretString); got != tt.want {
				t.Errorf("SecretString = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCreateSecret(t *testing.T) {
	_, client := newTestServer(t)
	ctx := testContext(t)

	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("new/string"),
		SecretString: aws.String("s3cr3t"),
	})
	if err != nil {
		t.Fatalf("CreateSecret(string): %v", err)
	}
	out, err := getSecret(ctx, client, aws.ToString(created.ARN))
	if err != nil {
		t.Fatalf("GetSecretValue(created ARN): %v", err)
	}
	if aws.ToString(out.SecretString) != "s3cr3t" || aws.ToString(out.VersionId) != aws.ToString(created.VersionId) {
		t.Errorf("GetSecretValue = %q version %q, want s3cr3t version %q",
			aws.ToString(out.SecretString), aws.ToString(out.VersionId), aws.ToString(created.VersionId))
	}

	_, err = client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("new/binary"),
		SecretBinary: []byte("raw"),
	})
	if err != nil {
		t.Fatalf("CreateSecret(binary): %v", err)
	}
	out, err = getSecret(ctx, client, "new/binary")
	if err != nil {
		t.Fatalf("GetSecretValue(new/binary): %v", err)
	}
	if string(out.SecretBinary) != "raw" {
		t.Errorf("SecretBinary = %q, want raw", out.SecretBinary)
	}

	_, err = client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("new/string"), SecretString: aws.String("x")})
	var exists *types.ResourceExistsException
	if !errors.As(err, &exists) {
		t.Errorf("CreateSecret(existing name) error = %v, want ResourceExistsException", err)
	}

	_, err = client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bad name!")})
	var invalidParameter *types.InvalidParameterException
	if !errors.As(err, &invalidParameter) {
		t.Errorf("CreateSecret(invalid name) error = %v, want InvalidParameterException", err)
	}
}

func TestCreateSecretWithoutValue(t *testing.T) {
	_, client := newTestServer(t)
	ctx := testContext(t)

	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("empty")})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if created.VersionId != nil {
		t.Errorf("VersionId = %q, want none", *created.VersionId)
	}
	if stages := stagesOf(t, ctx, client, "empty"); len(stages) != 0 {
		t.Errorf("VersionIdsToStages = %v, want empty", stages)
	}
	_, err = getSecret(ctx, client, "empty")
	requireErrorCode(t, err, "ResourceNotFoundException")

	// The first version gets AWSCURRENT even when another label is requested.
	put, err := client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:      aws.String("empty"),
		SecretString:  aws.String("first"),
		VersionStages: []string{"AWSPENDING"},
	})
	if err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
	if !slices.Equal(put.VersionStages, []string{"AWSCURRENT", "AWSPENDING"}) {
		t.Errorf("VersionStages = %v, want [AWSCURRENT AWSPENDING]", put.VersionStages)
	}
}

func TestCreateSecretRetryWithSameToken(t *testing.T) {
	_, client := newTestServer(t)
	ctx := testContext(t)
	input := &secretsmanager.CreateSecretInput{
		Name:               aws.String("idempotent"),
		SecretString:       aws.String("v"),
		ClientRequestToken: aws.String("11111111-2222-4333-8444-555555555555"),
	}

	first, err := client.CreateSecret(ctx, input)
	if err != nil {
		t.Fatalf("first CreateSecret: %v", err)
	}
	second, err := client.CreateSecret(ctx, input)
	if err != nil {
		t.Fatalf("repeated CreateSecret with the same token: %v", err)
	}
	if aws.ToString(second.ARN) != aws.ToString(first.ARN) || aws.ToString(second.VersionId) != aws.ToString(first.VersionId) {
		t.Errorf("repeated CreateSecret = %q %q, want %q %q",
			aws.ToString(second.ARN), aws.ToString(second.VersionId), aws.ToString(first.ARN), aws.ToString(first.VersionId))
	}
}

func TestPutSecretValueMovesStages(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	v1 := server.PutString("rotating", "one")

	put := func(input *secretsmanager.PutSecretValueInput) string {
		t.Helper()
		input.SecretId = aws.String("rotating")
		out, err := client.PutSecretValue(ctx, input)
		if err != nil {
			t.Fatalf("PutSecretValue: %v", err)
		}
		return aws.ToString(out.VersionId)
	}

	v2 := put(&secretsmanager.PutSecretValueInput{SecretString: aws.String("two")})
	want := map[string][]string{v2: {"AWSCURRENT"}, v1: {"AWSPREVIOUS"}}
	if got := stagesOf(t, ctx, client, "rotating"); !mapsEqual(got, want) {
		t.Fatalf("after second version: VersionIdsToStages = %v, want %v", got, want)
	}

	v3 := put(&secretsmanager.PutSecretValueInput{SecretBinary: []byte("three")})
	want = map[string][]string{v3: {"AWSCURRENT"}, v2: {"AWSPREVIOUS"}}
	if got := stagesOf(t, ctx, client, "rotating"); !mapsEqual(got, want) {
		t.Fatalf("after third version: VersionIdsToStages = %v, want %v", got, want)
	}

	v4 := put(&secretsmanager.PutSecretValueInput{SecretString: aws.String("four"), VersionStages: []string{"AWSPENDING"}})
	want = map[string][]string{v4: {"AWSPENDING"}, v3: {"AWSCURRENT"}, v2: {"AWSPREVIOUS"}}
	if got := stagesOf(t, ctx, client, "rotating"); !mapsEqual(got, want) {
		t.Fatalf("after pending version: VersionIdsToStages = %v, want %v", got, want)
	}

	out, err := getSecret(ctx, client, "rotating")
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if string(out.SecretBinary) != "three" {
		t.Errorf("AWSCURRENT SecretBinary = %q, want three", out.SecretBinary)
	}

	// A version without labels stays readable by ID.
	out, err = client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("rotating"), VersionId: aws.String(v1)})
	if err != nil {
		t.Fatalf("GetSecretValue(unlabeled version): %v", err)
	}
	if aws.ToString(out.SecretString) != "one" || len(out.VersionStages) != 0 {
		t.Errorf("unlabeled version = %q %v, want one []", aws.ToString(out.SecretString), out.VersionStages)
	}
}

func TestPutSecretValueClientRequestToken(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("tokens", "zero")
	token := "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	input := &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String("tokens"),
		ClientRequestToken: aws.String(token),
		SecretString:       aws.String("one"),
	}

	for attempt := 1; attempt <= 2; attempt++ {
		out, err := client.PutSecretValue(ctx, input)
		if err != nil {
			t.Fatalf("PutSecretValue attempt %d: %v", attempt, err)
		}
		if aws.ToString(out.VersionId) != token {
			t.Errorf("attempt %d: VersionId = %q, want the token %q", attempt, aws.ToString(out.VersionId), token)
		}
	}
	if stages := stagesOf(t, ctx, client, "tokens"); len(stages) != 2 {
		t.Errorf("VersionIdsToStages = %v, want the token version and one AWSPREVIOUS", stages)
	}

	input.SecretString = aws.String("changed")
	_, err := client.PutSecretValue(ctx, input)
	var exists *types.ResourceExistsException
	if !errors.As(err, &exists) {
		t.Errorf("PutSecretValue(same token, new value) error = %v, want ResourceExistsException", err)
	}
}

func TestPutSecretValueInvalid(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("p", "v")

	tests := []struct {
		name  string
		input *secretsmanager.PutSecretValueInput
		code  string
	}{
		{"no value", &secretsmanager.PutSecretValueInput{SecretId: aws.String("p")}, "InvalidParameterException"},
		{"both values", &secretsmanager.PutSecretValueInput{SecretId: aws.String("p"), SecretString: aws.String("a"), SecretBinary: []byte("b")}, "InvalidParameterException"},
		{"value too large", &secretsmanager.PutSecretValueInput{SecretId: aws.String("p"), SecretString: aws.String(strings.Repeat("x", 65537))}, "InvalidParameterException"},
		{"missing secret", &secretsmanager.PutSecretValueInput{SecretId: aws.String("nope"), SecretString: aws.String("a")}, "ResourceNotFoundException"},
		{"empty stage", &secretsmanager.PutSecretValueInput{SecretId: aws.String("p"), SecretString: aws.String("a"), VersionStages: []string{""}}, "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.PutSecretValue(ctx, tt.input)
			requireErrorCode(t, err, tt.code)
		})
	}
}

func TestOldVersionsRemoved(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	versionIDs := make([]string, 102)
	for i := range versionIDs {
		versionIDs[i] = server.PutString("busy", "value")
	}
	getVersion := func(versionID string) error {
		_, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
			SecretId: aws.String("busy"), VersionId: aws.String(versionID),
		})
		return err
	}

	// 102 versions exceed the limit of 100 by two, so the two oldest
	// unlabeled versions are removed.
	for _, removed := range versionIDs[:2] {
		requireErrorCode(t, getVersion(removed), "ResourceNotFoundException")
	}
	if err := getVersion(versionIDs[2]); err != nil {
		t.Errorf("GetSecretValue(third version): %v", err)
	}
	want := map[string][]string{versionIDs[101]: {"AWSCURRENT"}, versionIDs[100]: {"AWSPREVIOUS"}}
	if got := stagesOf(t, ctx, client, "busy"); !mapsEqual(got, want) {
		t.Errorf("VersionIdsToStages = %v, want %v", got, want)
	}
}

func TestUpdateSecretVersionStage(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	v1 := server.PutString("staged", "one")
	v2 := server.PutString("staged", "two")
	update := func(stage, moveTo, removeFrom string) error {
		input := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("staged"), VersionStage: aws.String(stage)}
		if moveTo != "" {
			input.MoveToVersionId = aws.String(moveTo)
		}
		if removeFrom != "" {
			input.RemoveFromVersionId = aws.String(removeFrom)
		}
		_, err := client.UpdateSecretVersionStage(ctx, input)
		return err
	}

	var invalidParameter *types.InvalidParameterException
	if err := update("AWSCURRENT", v1, ""); !errors.As(err, &invalidParameter) {
		t.Errorf("moving AWSCURRENT without RemoveFromVersionId: error = %v, want InvalidParameterException", err)
	}
	if err := update("AWSCURRENT", v1, v2); err != nil {
		t.Fatalf("moving AWSCURRENT back to the first version: %v", err)
	}
	want := map[string][]string{v1: {"AWSCURRENT"}, v2: {"AWSPREVIOUS"}}
	if got := stagesOf(t, ctx, client, "staged"); !mapsEqual(got, want) {
		t.Errorf("after moving AWSCURRENT: VersionIdsToStages = %v, want %v", got, want)
	}
	out, err := getSecret(ctx, client, "staged")
	if err != nil || aws.ToString(out.SecretString) != "one" {
		t.Errorf("GetSecretValue after moving AWSCURRENT = %v, %v, want one", out, err)
	}

	if err := update("AWSPENDING", v2, ""); err != nil {
		t.Fatalf("adding AWSPENDING: %v", err)
	}
	want = map[string][]string{v1: {"AWSCURRENT"}, v2: {"AWSPENDING", "AWSPREVIOUS"}}
	if got := stagesOf(t, ctx, client, "staged"); !mapsEqual(got, want) {
		t.Errorf("after adding AWSPENDING: VersionIdsToStages = %v, want %v", got, want)
	}
	if err := update("AWSPENDING", "", v1); !errors.As(err, &invalidParameter) {
		t.Errorf("removing AWSPENDING from a version without it: error = %v, want InvalidParameterException", err)
	}
	if err := update("AWSPENDING", "", v2); err != nil {
		t.Fatalf("removing AWSPENDING: %v", err)
	}
	want = map[string][]string{v1: {"AWSCURRENT"}, v2: {"AWSPREVIOUS"}}
	if got := stagesOf(t, ctx, client, "staged"); !mapsEqual(got, want) {
		t.Errorf("after removing AWSPENDING: VersionIdsToStages = %v, want %v", got, want)
	}

	if err := update("AWSCURRENT", "", v1); !errors.As(err, &invalidParameter) {
		t.Errorf("removing AWSCURRENT: error = %v, want InvalidParameterException", err)
	}
	if err := update("AWSCURRENT", "", ""); !errors.As(err, &invalidParameter) {
		t.Errorf("no version IDs: error = %v, want InvalidParameterException", err)
	}
	var notFound *types.ResourceNotFoundException
	if err := update("AWSPENDING", "00000000-0000-4000-8000-000000000000", ""); !errors.As(err, &notFound) {
		t.Errorf("moving to an unknown version: error = %v, want ResourceNotFoundException", err)
	}
}

func TestDeleteSecret(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("doomed", "v")

	deleted, err := client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("doomed")})
	if err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	wantDeletion := time.Now().Add(30 * 24 * time.Hour)
	if deleted.DeletionDate == nil || deleted.DeletionDate.Sub(wantDeletion).Abs() > time.Minute {
		t.Errorf("DeletionDate = %v, want about %v", deleted.DeletionDate, wantDeletion)
	}

	_, err = getSecret(ctx, client, "doomed")
	var invalidRequest *types.InvalidRequestException
	if !errors.As(err, &invalidRequest) {
		t.Fatalf("GetSecretValue(deleted) error = %v, want InvalidRequestException", err)
	}
	if !strings.Contains(invalidRequest.ErrorMessage(), "marked for deletion") {
		t.Errorf("message = %q, want it to say the secret is marked for deletion", invalidRequest.ErrorMessage())
	}
	_, err = client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("doomed"), SecretString: aws.String("x")})
	requireErrorCode(t, err, "InvalidRequestException")

	described := describe(t, ctx, client, "doomed")
	if described.DeletedDate == nil || time.Since(*described.DeletedDate).Abs() > time.Minute {
		t.Errorf("DeletedDate = %v, want about now", described.DeletedDate)
	}

	_, err = client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("doomed")})
	requireErrorCode(t, err, "InvalidRequestException")
	_, err = client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("doomed")})
	requireErrorCode(t, err, "InvalidRequestException")

	_, err = client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("doomed"), ForceDeleteWithoutRecovery: aws.Bool(true)})
	if err != nil {
		t.Fatalf("DeleteSecret(force): %v", err)
	}
	_, err = client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("doomed")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("DescribeSecret after force delete: error = %v, want ResourceNotFoundException", err)
	}
}

func TestDeleteSecretRecoveryWindow(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("w", "v")

	_, err := client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("w"), RecoveryWindowInDays: aws.Int64(6)})
	requireErrorCode(t, err, "InvalidParameterException")
	_, err = client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId: aws.String("w"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true),
	})
	requireErrorCode(t, err, "InvalidParameterException")

	out, err := client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("w"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil {
		t.Fatalf("DeleteSecret(7 days): %v", err)
	}
	want := time.Now().Add(7 * 24 * time.Hour)
	if out.DeletionDate == nil || out.DeletionDate.Sub(want).Abs() > time.Minute {
		t.Errorf("DeletionDate = %v, want about %v", out.DeletionDate, want)
	}
}

func TestDeleteAndPurgeHelpers(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("h", "v")

	server.Delete("h")
	_, err := getSecret(ctx, client, "h")
	requireErrorCode(t, err, "InvalidRequestException")
	if describe(t, ctx, client, "h").DeletedDate == nil {
		t.Error("DescribeSecret after Delete: DeletedDate is missing")
	}

	server.Purge("h")
	_, err = getSecret(ctx, client, "h")
	requireErrorCode(t, err, "ResourceNotFoundException")
	server.Purge("h") // purging a missing secret is allowed
}

func TestSetStageAndRemoveStage(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	v1 := server.PutString("h", "one")
	v2 := server.PutString("h", "two")

	server.SetStage("h", "AWSCURRENT", v1)
	want := map[string][]string{v1: {"AWSCURRENT"}, v2: {"AWSPREVIOUS"}}
	if got := stagesOf(t, ctx, client, "h"); !mapsEqual(got, want) {
		t.Errorf("after SetStage: VersionIdsToStages = %v, want %v", got, want)
	}

	server.SetStage("h", "custom", v2)
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("h"), VersionStage: aws.String("custom")})
	if err != nil || aws.ToString(out.SecretString) != "two" {
		t.Errorf("GetSecretValue(custom) = %v, %v, want two", out, err)
	}

	server.RemoveStage("h", "AWSCURRENT")
	_, err = getSecret(ctx, client, "h")
	requireErrorCode(t, err, "ResourceNotFoundException")
}

func TestSetupHelpersPanicOnMisuse(t *testing.T) {
	server := secretcachetest.NewServer()
	defer server.Close()
	versionID := server.PutString("exists", "v")

	tests := []struct {
		name string
		call func()
	}{
		{"SetStage unknown secret", func() { server.SetStage("missing", "AWSCURRENT", versionID) }},
		{"SetStage unknown version", func() { server.SetStage("exists", "AWSCURRENT", "no-such-version") }},
		{"RemoveStage unknown secret", func() { server.RemoveStage("missing", "AWSCURRENT") }},
		{"ARN unknown secret", func() { server.ARN("missing") }},
		{"Delete unknown secret", func() { server.Delete("missing") }},
		{"PutString invalid name", func() { server.PutString("bad name", "v") }},
		{"FailNext unknown op", func() { server.FailNext("ListSecrets", 1, "ThrottlingException") }},
		{"FailNext empty code", func() { server.FailNext(secretcachetest.OpGetSecretValue, 1, "") }},
		{"DropNext negative count", func() { server.DropNext(secretcachetest.OpGetSecretValue, -1) }},
		{"Deny unknown op", func() { server.Deny("exists", "ListSecrets") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				recovered := recover()
				if recovered == nil {
					t.Fatal("no panic")
				}
				if message, _ := recovered.(string); !strings.HasPrefix(message, "secretcachetest: ") {
					t.Errorf("panic value = %v, want a message starting with secretcachetest:", recovered)
				}
			}()
			tt.call()
		})
	}

	// The server still works after the recovered panics.
	if got := server.ARN("exists"); got == "" {
		t.Error("ARN after panics is empty")
	}
}

func TestBatchGetSecretValue(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("a", "value-a")
	server.PutBinary("b", []byte("value-b"))
	server.PutString("gone", "x")
	server.Delete("gone")
	server.PutString("secret-denied", "x")
	server.Deny("secret-denied", secretcachetest.OpGetSecretValue)

	out, err := client.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{
		SecretIdList: []string{"a", "missing", server.ARN("b"), "gone", "secret-denied"},
	})
	if err != nil {
		t.Fatalf("BatchGetSecretValue: %v", err)
	}

	if len(out.SecretValues) != 2 {
		t.Fatalf("SecretValues has %d entries, want 2: %+v", len(out.SecretValues), out.SecretValues)
	}
	if aws.ToString(out.SecretValues[0].Name) != "a" || aws.ToString(out.SecretValues[0].SecretString) != "value-a" {
		t.Errorf("SecretValues[0] = %q %q, want a value-a", aws.ToString(out.SecretValues[0].Name), aws.ToString(out.SecretValues[0].SecretString))
	}
	if aws.ToString(out.SecretValues[1].Name) != "b" || string(out.SecretValues[1].SecretBinary) != "value-b" {
		t.Errorf("SecretValues[1] = %q %q, want b value-b", aws.ToString(out.SecretValues[1].Name), out.SecretValues[1].SecretBinary)
	}
	if !slices.Equal(out.SecretValues[0].VersionStages, []string{"AWSCURRENT"}) {
		t.Errorf("SecretValues[0].VersionStages = %v", out.SecretValues[0].VersionStages)
	}

	wantErrors := map[string]string{
		"missing":       "ResourceNotFoundException",
		"gone":          "InvalidRequestException",
		"secret-denied": "AccessDeniedException",
	}
	if len(out.Errors) != len(wantErrors) {
		t.Fatalf("Errors has %d entries, want %d", len(out.Errors), len(wantErrors))
	}
	for _, entry := range out.Errors {
		secretID := aws.ToString(entry.SecretId)
		if got, want := aws.ToString(entry.ErrorCode), wantErrors[secretID]; got != want {
			t.Errorf("Errors entry for %q has code %q, want %q", secretID, got, want)
		}
		if aws.ToString(entry.Message) == "" {
			t.Errorf("Errors entry for %q has no message", secretID)
		}
	}
}

func TestBatchGetSecretValueInvalid(t *testing.T) {
	server, client := newTestServer(t)
	ctx := testContext(t)
	server.PutString("a", "v")
	tooMany := make([]string, 21)
	for i := range tooMany {
		tooMany[i] = "a"
	}

	tests := []struct {
		name  string
		input *secretsmanager.BatchGetSecretValueInput
		code  string
	}{
		{"21 secret IDs", &secretsmanager.BatchGetSecretValueInput{SecretIdList: tooMany}, "InvalidParameterException"},
		{"no secret IDs", &secretsmanager.BatchGetSecretValueInput{}, "InvalidParameterException"},
		{"filters", &secretsmanager.BatchGetSecretValueInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"a"}}}}, "InvalidParameterException"},
		{"next token", &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"a"}, NextToken: aws.String("t")}, "InvalidNextTokenException"},
		{"empty secret ID", &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{""}}, "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.BatchGetSecretValue(ctx, tt.input)
			requireErrorCode(t, err, tt.code)
		})
	}

	out, err := client.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: tooMany[:20]})
	if err != nil {
		t.Fatalf("BatchGetSecretValue(20 IDs): %v", err)
	}
	if len(out.SecretValues) != 20 {
		t.Errorf("SecretValues has %d entries, want 20", len(out.SecretValues))
	}
}

func TestSecretIDLength(t *testing.T) {
	_, client := newTestServer(t)
	ctx := testContext(t)

	_, err := getSecret(ctx, client, strings.Repeat("n", 2048))
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("GetSecretValue(2048 characters) error = %v, want ResourceNotFoundException", err)
	}

	_, err = getSecret(ctx, client, strings.Repeat("n", 2049))
	var invalidParameter *types.InvalidParameterException
	if !errors.As(err, &invalidParameter) {
		t.Errorf("GetSecretValue(2049 characters) error = %v, want InvalidParameterException", err)
	}
	if status := httpStatus(err); status != 400 {
		t.Errorf("HTTP status = %d, want 400", status)
	}
}

// TestClientIgnoresEnvironment checks that settings which would send the SDK
// elsewhere do not apply to Server.Client. Every address used is 127.0.0.1.
func TestClientIgnoresEnvironment(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_REGION", "eu-west-1")
	server, client := newTestServer(t)
	server.PutString("env", "v")

	out, err := getSecret(testContext(t), client, "env")
	if err != nil {
		t.Fatalf("GetSecretValue: %v", err)
	}
	if aws.ToString(out.SecretString) != "v" {
		t.Errorf("SecretString = %q, want v", aws.ToString(out.SecretString))
	}
	if got := client.Options().Region; got != "us-east-1" {
		t.Errorf("Region = %q, want us-east-1", got)
	}
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for key, value := range a {
		if !slices.Equal(value, b[key]) {
			return false
		}
	}
	return true
}
