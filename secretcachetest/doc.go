// Package secretcachetest provides a fake AWS Secrets Manager endpoint for
// tests: an HTTP server on 127.0.0.1 that the real aws-sdk-go-v2
// *secretsmanager.Client talks to over the AWS JSON 1.1 protocol.
//
// The server implements CreateSecret, PutSecretValue, GetSecretValue,
// DescribeSecret, UpdateSecretVersionStage, DeleteSecret and
// BatchGetSecretValue (SecretIdList only) for string and binary secrets.
// It moves staging labels as Secrets Manager does, finds secrets by name,
// full ARN or partial ARN, and returns the error codes and HTTP statuses of
// the real service, so that errors.As with the SDK's error types works.
// Other operations get UnknownOperationException.
//
// Tests set up secrets directly with PutString, PutBinary, SetStage,
// RemoveStage, Delete and Purge, which send no request. Faults are set per
// operation: FailNext and FailAlways return an AWS error code, DropNext
// closes the connection without a response, SetLatency delays responses and
// Deny returns AccessDeniedException. Calls counts the requests for each
// operation, so a test can see how often a cache went to the service and
// how often the SDK retried.
//
// Client builds an SDK client with static dummy credentials and the
// server's URL as its endpoint. That client reads no credentials,
// endpoints or proxies from the environment and contacts no other host.
//
// The server keeps everything in memory and checks no signatures or
// permissions other than Deny. It does not implement rotation, replication,
// tags, resource policies, KMS keys, RestoreSecret, ListSecrets or
// ListSecretVersionIds.
package secretcachetest
