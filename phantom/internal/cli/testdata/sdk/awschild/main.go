// Command awschild is the child sdk_e2e_test.go runs under `phantom exec`: an
// app using aws-sdk-go-v2's default configuration, as a real one would.
//
// It prints key=value lines. It never prints a credential, only SHA-256
// digests, so the test can check which credentials the SDK found without the
// output carrying them (and without depending on phantom's output masking).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func main() {
	for _, n := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		if _, ok := os.LookupEnv(n); ok {
			fmt.Printf("env.%s=set\n", n)
		} else {
			fmt.Printf("env.%s=unset\n", n)
		}
	}
	fmt.Printf("env.AWS_CONTAINER_CREDENTIALS_FULL_URI=%s\n", os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
	_, hasAuth := os.LookupEnv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	fmt.Printf("env.AWS_CONTAINER_AUTHORIZATION_TOKEN.set=%t\n", hasAuth)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "LoadDefaultConfig:", err)
		os.Exit(1)
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Retrieve:", err)
		os.Exit(1)
	}
	fmt.Printf("Source=%s\n", c.Source)
	fmt.Printf("AccessKeyIDSHA256=%s\n", sha256Hex(c.AccessKeyID))
	fmt.Printf("SecretSHA256=%s\n", sha256Hex(c.SecretAccessKey))
	fmt.Printf("SessionTokenSHA256=%s\n", sha256Hex(c.SessionToken))
	fmt.Printf("CanExpire=%t\n", c.CanExpire)
	fmt.Printf("Expires=%s\n", c.Expires.UTC().Format(time.RFC3339))

	// The endpoint comes from AWS_ENDPOINT_URL.
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "GetCallerIdentity:", err)
		os.Exit(1)
	}
	if out.Account != nil {
		fmt.Printf("Account=%s\n", *out.Account)
	}
	if out.Arn != nil {
		fmt.Printf("Arn=%s\n", *out.Arn)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
