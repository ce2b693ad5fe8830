package dotenv

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	tok := "phm_" + strings.Repeat("0f", 32)
	over := Overrides{Secret: []string{"INTERNAL_*", "PORT_SEED"}, Public: []string{"STRIPE_*", "SENTRY_DSN"}}
	tests := []struct {
		key, value string
		o          Overrides
		want       Class
		reason     string // substring of Reason
	}{
		// Overrides win, secret list first.
		{"INTERNAL_FLAG", "on", over, Secret, `matches "INTERNAL_*" in [classify] secret`},
		{"PORT_SEED", "3000", over, Secret, "listed in [classify] secret"},
		{"STRIPE_SECRET_KEY", "sk_live_abcdefghijklmnop", over, Public, `matches "STRIPE_*" in [classify] public`},
		{"SENTRY_DSN", "https://abc@o1.ingest.sentry.io/1", over, Public, "listed in [classify] public"},
		// Already protected.
		{"OPENAI_API_KEY", tok, Overrides{}, Secret, "already a phantom token"},
		{"NEXT_PUBLIC_X", tok, Overrides{}, Secret, "already a phantom token"},
		{"DATABASE_URL", "postgres://u:" + tok + "@h/db", Overrides{}, Secret, "contains a phantom token"},
		// Public framework prefixes.
		{"NEXT_PUBLIC_SUPABASE_ANON_KEY", jwt, Overrides{}, Public, "NEXT_PUBLIC_"},
		{"VITE_FIREBASE_API_KEY", "AIzaSyA1234567890abcdefghijklmnopqrstuv", Overrides{}, Public, "VITE_"},
		{"REACT_APP_API_URL", "https://api.example.com", Overrides{}, Public, "REACT_APP_"},
		{"EXPO_PUBLIC_TOKEN", "", Overrides{}, Public, "EXPO_PUBLIC_"},
		{"NUXT_PUBLIC_SITE", "x", Overrides{}, Public, "NUXT_PUBLIC_"},
		{"GATSBY_KEY", "y", Overrides{}, Public, "GATSBY_"},
		{"PUBLIC_SECRET_THING", "plain", Overrides{}, Public, "PUBLIC_"},
		{"NEXT_PUBLIC_STRIPE_SECRET", "sk_live_51Habcdefghijkl", Overrides{}, Secret, "Stripe secret key"},
		{"VITE_AWS", "AKIAIOSFODNN7EXAMPLE", Overrides{}, Secret, "AWS access key ID"},
		{"NEXT_PUBLIC_GH", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", Overrides{}, Secret, "GitHub token"},
		{"VITE_PEM", "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----", Overrides{}, Secret, "private key"},
		// Reference false positive: publishable keys under a public prefix.
		{"NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY", "pk_live_51Habcdefghijkl", Overrides{}, Public, "NEXT_PUBLIC_"},
		// Publishable keys are public whatever the key says.
		{"STRIPE_PUBLISHABLE_KEY", "pk_test_51Habcdefghijkl", Overrides{}, Public, "publishable key (pk_test_)"},
		// Key words.
		{"STRIPE_SECRET_KEY", "sk_test_abcdefgh12345678", Overrides{}, Secret, "key name contains SECRET"},
		{"OPENAI_API_KEY", "whatever", Overrides{}, Secret, "key name contains KEY"},
		{"GITHUB_TOKEN", "x", Overrides{}, Secret, "key name contains TOKEN"},
		{"DB_PASSWORD", "123456", Overrides{}, Secret, "key name contains PASSWORD"},
		{"SMTP_PASS", "hunter2", Overrides{}, Secret, "key name contains PASS"},
		{"HASH_SALT", "abc", Overrides{}, Secret, "key name contains SALT"},
		{"JWT_SIGNING_ALG_SEED", "abc", Overrides{}, Secret, "key name contains SIGNING"},
		{"GCP_CREDENTIALS", "{}", Overrides{}, Secret, "key name contains CREDENTIALS"},
		{"BASIC_AUTH", "user:pass", Overrides{}, Secret, "key name contains AUTH"},
		{"MAILGUN_APIKEY", "abc", Overrides{}, Secret, "key name contains APIKEY"},
		{"dbPassword", "abc", Overrides{}, Secret, "key name contains PASSWORD"},
		{"SESSION_SECRET", "", Overrides{}, Secret, "key name contains SECRET"}, // empty but secret name
		// Reference false positives: substrings are not words.
		{"MONKEY", "banana", Overrides{}, Config, ""},
		{"AUTHOR_NAME", "Ada Lovelace", Overrides{}, Config, ""},
		{"KEYBOARD_LAYOUT", "dvorak", Overrides{}, Config, ""},
		{"BYPASS_CACHE", "1", Overrides{}, Config, ""},
		{"NEXTAUTH_URL", "http://localhost:3000", Overrides{}, Config, ""},
		// Config suffixes and non-secret values under secret words.
		{"AUTH_URL", "https://auth.example.com", Overrides{}, Config, "ends in _URL"},
		{"AUTH_DOMAIN", "example.auth0.com", Overrides{}, Config, "ends in _DOMAIN"},
		{"AUTH_TRUST_HOST", "true", Overrides{}, Config, "ends in _HOST"},
		{"TOKEN_URL", "https://oauth2.googleapis.com/token", Overrides{}, Config, "_URL"},
		{"SECRET_NAME", "prod/db", Overrides{}, Config, "_NAME"},
		{"KEY_VAULT_REGION", "eu-west-1", Overrides{}, Config, "_REGION"},
		{"PRIVATE_KEY_PATH", "./certs/key.pem", Overrides{}, Config, "_PATH"},
		{"GOOGLE_CLIENT_ID", "1234567890-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com", Overrides{}, Config, "_ID"},
		{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", Overrides{}, Secret, "AWS access key ID"},
		{"AUTH_URL", "https://admin:s3cret@auth.example.com", Overrides{}, Secret, "URL with a password"},
		{"USE_AUTH", "false", Overrides{}, Config, "boolean"},
		{"JWT_SECRET_EXPIRES_IN", "3600", Overrides{}, Config, "number"},
		// Connection strings.
		{"DATABASE_URL", "postgres://localhost/dev", Overrides{}, Secret, "connection string (DATABASE_URL)"},
		{"DATABASE_URL_UNPOOLED", "postgres://u:p@h/db", Overrides{}, Secret, "DATABASE_URL"},
		{"REDIS_URL", "", Overrides{}, Secret, "REDIS_URL"},
		{"MONGODB_URI", "mongodb+srv://u:p@c/x", Overrides{}, Secret, "MONGODB_URI"},
		{"SENTRY_DSN", "https://abc@o1.ingest.sentry.io/1", Overrides{}, Secret, "DSN"},
		{"AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https", Overrides{}, Secret, "CONNECTION_STRING"},
		// Value rules.
		{"OPENAI", "sk-proj-abcdefghijklmnop", Overrides{}, Secret, "OpenAI API key"},
		{"ANTHROPIC", "sk-ant-api03-abcdefghijkl", Overrides{}, Secret, "Anthropic"},
		{"LLM", "sk-abcdefghijklmnopqrstuvwx", Overrides{}, Secret, "sk-"},
		{"LOCALE", "sk-SK", Overrides{}, Config, ""},
		{"SUPABASE_SERVICE_ROLE", jwt, Overrides{}, Secret, "JWT"},
		{"GITLAB", "glpat-abcdefghij1234567890", Overrides{}, Secret, "GitLab"},
		{"SLACK", "xoxp-1234-5678-abcdef", Overrides{}, Secret, "Slack"},
		{"SHOPIFY", "shpat_0123456789abcdef0123", Overrides{}, Secret, "Shopify"},
		{"MAPS", "AIzaSyA1234567890abcdefghijklmnopqrstuv", Overrides{}, Secret, "Google API key"},
		{"WEBHOOK", "whsec_abcdefgh12345678", Overrides{}, Secret, "webhook"},
		{"UPSTREAM", "https://user:pw@example.com/path", Overrides{}, Secret, "URL with a password"},
		{"CACHE", "redis://:hunter2@cache:6379/0", Overrides{}, Secret, "URL with a password"},
		{"FEED", "https://example.com/feed?format=rss&api_key=abc123", Overrides{}, Secret, "credential parameter (api_key)"},
		{"ICAL", "https://cal.example.com/x.ics?Token=abc", Overrides{}, Secret, "credential parameter (Token)"},
		{"HOMEPAGE", "https://example.com/?page=2&key=", Overrides{}, Config, ""},
		{"SUPABASE_URL", "https://abcdefghijklmnop.supabase.co", Overrides{}, Config, ""},
		// Entropy.
		{"SESSION", "q8Zr2Lx0Vb7Nc4Mw1Kp9Jt6Hs3Gd5FaYe", Overrides{}, Secret, "high entropy"},
		{"STRIPE_PRICE_ID", "price_1NvQ2kLx0Vb7Nc4Mw1Kp9Jt6Hs3Gd5Fa", Overrides{}, Config, "_ID"},
		{"API_HOST", "q8Zr2Lx0Vb7Nc4Mw1Kp9Jt6Hs3Gd5Fa.example.com", Overrides{}, Config, "_HOST"},
		{"GIT_SHA", "3f786850e387550fdab836ed7e6dc881de23001b", Overrides{}, Config, ""},
		{"INSTANCE", "123e4567-e89b-12d3-a456-426614174000", Overrides{}, Config, ""},
		{"NODE_MODULES_DIR", "/Users/alice/Projects/my-app/node_modules/.bin", Overrides{}, Config, ""},
		// Plain config.
		{"NODE_ENV", "production", Overrides{}, Config, ""},
		{"PORT", "3000", Overrides{}, Config, ""},
		{"DEBUG", "true", Overrides{}, Config, ""},
		{"APP_NAME", "phantom demo", Overrides{}, Config, ""},
		{"LOG_LEVEL", "info", Overrides{}, Config, ""},
		{"EMPTY", "", Overrides{}, Config, "empty value"},
	}
	for _, tt := range tests {
		got := Classify(tt.key, tt.value, tt.o)
		if got.Class != tt.want || !strings.Contains(got.Reason, tt.reason) || got.Reason == "" {
			t.Errorf("Classify(%s=%q) = %v (%s), want %v (%s)", tt.key, tt.value, got.Class, got.Reason, tt.want, tt.reason)
		}
	}
}

func TestOverridesValidate(t *testing.T) {
	if err := (Overrides{Secret: []string{"A_*"}, Public: []string{"B?"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Overrides{Public: []string{"[x"}}).Validate(); err == nil {
		t.Fatal("bad pattern accepted")
	}
}

func TestClassString(t *testing.T) {
	var zero Class
	if zero != Secret || Secret.String() != "secret" || Public.String() != "public" || Config.String() != "config" {
		t.Fatal("Class constants")
	}
}
