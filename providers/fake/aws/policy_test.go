package awsfake

import (
	"strings"
	"testing"
)

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "anything", true},
		{"s3:*", "s3:getobject", true},
		{"s3:get*", "s3:getobject", true},
		{"s3:get*", "s3:putobject", false},
		{"s3:*object", "s3:deleteobject", true},
		{"s3:?etobject", "s3:getobject", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/k/x", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b", false},
		{"arn:aws:s3:::b", "arn:aws:s3:::bb", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{strings.Repeat("*a", 30) + "b", strings.Repeat("a", 60), false}, // no exponential backtracking
	}
	for _, c := range cases {
		if got := wildcardMatch(c.p, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestPolicyEvaluate(t *testing.T) {
	p, err := parsePolicy(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"s3:Get*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
	  {"Effect":"Allow","Action":"S3:ListBucket","Resource":"arn:aws:s3:::b"},
	  {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"},
	  {"Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:sqs:*"},
	  {"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}
	]}`)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		action, resource string
		want             decision
	}{
		{"s3:GetObject", "arn:aws:s3:::b/k", allowed},
		{"s3:getobject", "arn:aws:s3:::b/k", allowed}, // actions are case-insensitive
		{"s3:ListBucket", "arn:aws:s3:::b", allowed},
		{"s3:PutObject", "arn:aws:s3:::b/k", implicitDeny},
		{"s3:GetObject", "arn:aws:s3:::other/k", implicitDeny},
		{"s3:GetObject", "arn:aws:s3:::b/secret/x", explicitDeny},
		{"sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:q", allowed},
		{"iam:CreateUser", "arn:aws:sqs:eu-west-1:1:q", implicitDeny},
		{"iam:GetUser", "arn:aws:iam::1:user/x", implicitDeny}, // conditional allow never grants
	}
	for _, c := range cases {
		if got := p.evaluate(c.action, c.resource); got != c.want {
			t.Errorf("evaluate(%s, %s) = %v, want %v", c.action, c.resource, got, c.want)
		}
	}
}

func TestParsePolicyRejects(t *testing.T) {
	cases := map[string]string{
		`not json`:                 "Syntax errors",
		`{"Version":"2012-10-17"}`: "Syntax errors",
		`{"Version":"2001-01-01","Statement":[]}`:                                           "legacy parsing",
		`{"Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}`:                 "Syntax errors",
		`{"Statement":[{"Effect":"Allow","Resource":"*"}]}`:                                 "must contain actions",
		`{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}`:                                "must contain resources",
		`{"Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}`:            "prefaced by a vendor",
		`{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}]}`:            "must be in ARN format",
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`: "should not specify a principal",
		`{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]} trailing`:        "Syntax errors",
	}
	for doc, want := range cases {
		if _, err := parsePolicy(doc); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parsePolicy(%s) = %v, want %q", doc, err, want)
		}
	}
	if _, err := parsePolicy(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`); err != nil {
		t.Errorf("single-statement object rejected: %v", err)
	}
}

func TestChecksums(t *testing.T) {
	// Standard check values over "123456789".
	cases := map[string]string{
		"crc32":     "y/Q5Jg==",     // 0xCBF43926
		"crc32c":    "4waSgw==",     // 0xE3069283
		"crc64nvme": "rosUhgp5mIg=", // 0xAE8B14860A799888
	}
	for algo, want := range cases {
		if got := computeChecksum(algo, []byte("123456789")); got != want {
			t.Errorf("%s = %s, want %s", algo, got, want)
		}
	}
}
