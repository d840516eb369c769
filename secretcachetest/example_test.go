package secretcachetest_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/secretcache-go/secretcache/secretcachetest"
)

func Example() {
	server := secretcachetest.NewServer()
	defer server.Close()
	server.PutString("app/db-password", "first")
	server.PutString("app/db-password", "second")
	client := server.Client()
	ctx := context.Background()

	current, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String("app/db-password"),
	})
	if err != nil {
		fmt.Println("GetSecretValue failed:", err)
		return
	}
	previous, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String("app/db-password"),
		VersionStage: aws.String("AWSPREVIOUS"),
	})
	if err != nil {
		fmt.Println("GetSecretValue failed:", err)
		return
	}
	fmt.Println(*current.SecretString, current.VersionStages)
	fmt.Println(*previous.SecretString, previous.VersionStages)

	// The SDK retries a throttled request, and the counter shows both attempts.
	// The SDK's default retryer waits a random time of up to one second first.
	server.FailNext(secretcachetest.OpGetSecretValue, 1, "ThrottlingException")
	server.ResetCalls()
	_, err = client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String("app/db-password"),
	})
	fmt.Println(err, server.Calls(secretcachetest.OpGetSecretValue))

	// Output:
	// second [AWSCURRENT]
	// first [AWSPREVIOUS]
	// <nil> 2
}
