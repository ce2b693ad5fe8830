package providers

import "testing"

func TestWithArticle(t *testing.T) {
	for in, want := range map[string]string{
		"OpenAI":    "an OpenAI",
		"Anthropic": "an Anthropic",
		"Stripe":    "a Stripe",
		"Resend":    "a Resend",
		"GitHub":    "a GitHub",
		"Supabase":  "a Supabase",
		"Vercel":    "a Vercel",
		"AWS":       "an AWS",
		"S3":        "an S3",
		"GCP":       "a GCP",
		"":          "",
	} {
		if got := WithArticle(in); got != want {
			t.Errorf("WithArticle(%q) = %q, want %q", in, got, want)
		}
	}
}
