package dotenv

import (
	"fmt"
	"math"
	"path"
	"strings"

	"phantomstack.dev/shared/token"
)

// Class is what phantom should do with a variable.
type Class int

// The zero Class is Secret so that a forgotten verdict errs towards
// protecting a value.
const (
	// Secret values are moved to the vault and replaced by tokens.
	Secret Class = iota
	// Public values are meant to reach browsers or clients (NEXT_PUBLIC_…,
	// publishable keys); tokenising them would break the app.
	Public
	// Config values are ordinary settings (PORT, NODE_ENV).
	Config
)

// String returns secret, public or config.
func (c Class) String() string {
	switch c {
	case Secret:
		return "secret"
	case Public:
		return "public"
	case Config:
		return "config"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Overrides are a project's `[classify]` lists: path.Match patterns on key
// names (e.g. "STRIPE_*"). They beat every heuristic; Secret is checked first.
type Overrides struct {
	Secret, Public []string
}

// Validate reports the first malformed pattern. Classify ignores malformed
// patterns, so config loading should call this to fail loudly instead.
func (o Overrides) Validate() error {
	for _, list := range []struct {
		name string
		pats []string
	}{{"secret", o.Secret}, {"public", o.Public}} {
		for _, p := range list.pats {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("[classify] %s: bad pattern %q: %w", list.name, p, err)
			}
		}
	}
	return nil
}

// Verdict is Classify's answer with a reason to show the user.
type Verdict struct {
	Class  Class
	Reason string
}

var publicPrefixes = []string{"NEXT_PUBLIC_", "EXPO_PUBLIC_", "VITE_", "REACT_APP_", "NUXT_PUBLIC_", "GATSBY_", "PUBLIC_"}

// secretWords mark a key as secret when one of its words equals them. Whole
// words only: MONKEY, AUTHOR_NAME and KEYBOARD_LAYOUT are not secrets.
var secretWords = map[string]bool{
	"KEY": true, "KEYS": true, "SECRET": true, "SECRETS": true, "TOKEN": true, "TOKENS": true,
	"PASSWORD": true, "PASSWORDS": true, "PASSWD": true, "PWD": true, "PASS": true, "PASSPHRASE": true,
	"CREDENTIAL": true, "CREDENTIALS": true, "CREDS": true, "PRIVATE": true, "SIGNING": true,
	"SALT": true, "AUTH": true,
	// Run-together spellings.
	"APIKEY": true, "APISECRET": true, "APITOKEN": true, "SECRETKEY": true, "ACCESSKEY": true,
	"ACCESSTOKEN": true, "AUTHTOKEN": true, "PRIVATEKEY": true, "CLIENTSECRET": true,
}

// configSuffixes end keys that name where or which thing, not a credential
// (AUTH_URL, SECRET_NAME, AWS_ACCESS_KEY_ID, PRIVATE_KEY_PATH, TOKEN_TTL).
// Such keys are secret only if their value says so.
var configSuffixes = map[string]bool{
	"URL": true, "URI": true, "HOST": true, "HOSTNAME": true, "DOMAIN": true, "PORT": true,
	"ID": true, "REGION": true, "NAME": true, "PATH": true, "FILE": true, "DIR": true,
	"ENDPOINT": true, "TTL": true, "TIMEOUT": true, "EXPIRY": true, "LENGTH": true,
}

// connKeys hold connection strings, which carry credentials even when the
// URL rule cannot see them (Sentry DSNs keep the key in the user name).
var connKeys = []string{"DATABASE_URL", "REDIS_URL", "MONGO_URL", "MONGODB_URI", "POSTGRES_URL",
	"MYSQL_URL", "AMQP_URL", "RABBITMQ_URL", "ELASTICSEARCH_URL", "CONNECTION_STRING", "DSN"}

// credParams are URL query parameters that carry credentials.
var credParams = map[string]bool{
	"api_key": true, "apikey": true, "api-key": true, "access_token": true, "auth_token": true,
	"token": true, "password": true, "secret": true, "client_secret": true, "sig": true,
	"signature": true, "key": true,
}

// Classify decides whether a variable is a secret, public or plain config.
// Rules, first match wins:
//  1. o.Secret, then o.Public patterns;
//  2. a phm token (already protected) is Secret;
//  3. a public framework prefix (NEXT_PUBLIC_, VITE_, …) is Public unless
//     the value is unmistakably a server secret (sk_live_…, a private key);
//  4. a publishable key value (pk_live_/pk_test_) is Public;
//  5. connection-string keys (DATABASE_URL, *_DSN, …) are Secret;
//  6. a key word such as KEY, SECRET, TOKEN, PASSWORD, AUTH makes it Secret,
//     unless the key ends in _URL, _ID, _NAME, … or the value is a boolean
//     (or a number when the word is not the key's last);
//  7. values that look like credentials (known token prefixes, JWTs, URLs
//     with a password or a credential parameter) are Secret;
//  8. an empty value is Config;
//  9. a long high-entropy value is Secret, except for keys ending in _URL,
//     _ID, _NAME, … (client IDs and hosts look random too);
//  10. everything else is Config.
func Classify(key, value string, o Overrides) Verdict {
	if p, ok := matchAny(o.Secret, key); ok {
		return Verdict{Secret, listedReason(p, key, "secret")}
	}
	if p, ok := matchAny(o.Public, key); ok {
		return Verdict{Public, listedReason(p, key, "public")}
	}
	if token.Is(value) {
		return Verdict{Secret, "already a phantom token"}
	}
	if token.FindAll([]byte(value)) != nil {
		return Verdict{Secret, "value contains a phantom token"}
	}
	sv, ok := secretValue(value)
	for _, p := range publicPrefixes {
		if strings.HasPrefix(key, p) {
			if ok && sv.server {
				return Verdict{Secret, fmt.Sprintf("value looks like %s, which must not be public despite the %s prefix", sv.what, p)}
			}
			return Verdict{Public, p + " variables are exposed to client code by design"}
		}
	}
	if strings.HasPrefix(value, "pk_live_") || strings.HasPrefix(value, "pk_test_") {
		return Verdict{Public, "value is a publishable key (" + value[:8] + "), meant to be public"}
	}

	words := keyWords(key)
	for _, c := range connKeys {
		if key == c || strings.HasSuffix(key, "_"+c) || strings.HasPrefix(key, c+"_") {
			return Verdict{Secret, "key names a connection string (" + c + ")"}
		}
	}
	suffix := ""
	if last := words[len(words)-1]; configSuffixes[last] {
		suffix = last
	}
	if suffix == "" {
		for i, w := range words {
			if !secretWords[w] {
				continue
			}
			switch {
			case isBool(value):
				return Verdict{Config, "key name contains " + w + " but the value is a boolean"}
			case i < len(words)-1 && isNumber(value):
				return Verdict{Config, "key name contains " + w + " but the value is a number"}
			}
			return Verdict{Secret, "key name contains " + w}
		}
	}

	if ok {
		return Verdict{Secret, "value looks like " + sv.what}
	}
	if why := urlCredential(value); why != "" {
		return Verdict{Secret, why}
	}
	if value == "" {
		return Verdict{Config, "empty value"}
	}
	if suffix != "" {
		return Verdict{Config, "key ends in _" + suffix + " and the value carries no credential"}
	}
	if highEntropy(value) {
		return Verdict{Secret, "value looks random (high entropy)"}
	}
	return Verdict{Config, "no sign of a secret in the key name or value"}
}

func matchAny(pats []string, key string) (string, bool) {
	for _, p := range pats {
		if ok, _ := path.Match(p, key); ok {
			return p, true
		}
	}
	return "", false
}

func listedReason(pat, key, list string) string {
	if pat == key {
		return "listed in [classify] " + list
	}
	return fmt.Sprintf("matches %q in [classify] %s", pat, list)
}

// keyWords splits a key into upper-case words at underscores and at
// lower-to-upper case changes (dbPassword → DB PASSWORD).
func keyWords(key string) []string {
	var words []string
	start := 0
	flush := func(end int) {
		if end > start {
			words = append(words, strings.ToUpper(key[start:end]))
		}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_':
			flush(i)
			start = i + 1
		case i > start && c >= 'A' && c <= 'Z' && key[i-1] >= 'a' && key[i-1] <= 'z':
			flush(i)
			start = i
		}
	}
	flush(len(key))
	if words == nil {
		words = []string{""}
	}
	return words
}

func isBool(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off":
		return true
	}
	return false
}

func isNumber(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

type secretKind struct {
	what string
	// server: unmistakably a server-side secret, so it is a leak even under a
	// public prefix. JWTs (Supabase anon keys) and AIza keys (Firebase) are
	// routinely public, so they are not.
	server bool
}

type prefixRule struct {
	prefix string
	min    int    // minimum length after the prefix
	chars  string // extra characters allowed after the prefix besides A-Za-z0-9
	kind   secretKind
}

var prefixRules = []prefixRule{
	{"sk_live_", 8, "", secretKind{"a Stripe secret key", true}},
	{"sk_test_", 8, "", secretKind{"a Stripe test secret key", true}},
	{"rk_live_", 8, "", secretKind{"a Stripe restricted key", true}},
	{"rk_test_", 8, "", secretKind{"a Stripe test restricted key", true}},
	{"whsec_", 8, "", secretKind{"a webhook signing secret", true}},
	{"ghp_", 20, "", secretKind{"a GitHub token", true}},
	{"gho_", 20, "", secretKind{"a GitHub token", true}},
	{"ghu_", 20, "", secretKind{"a GitHub token", true}},
	{"ghs_", 20, "", secretKind{"a GitHub token", true}},
	{"ghr_", 20, "", secretKind{"a GitHub token", true}},
	{"github_pat_", 20, "_", secretKind{"a GitHub token", true}},
	{"xoxb-", 8, "-", secretKind{"a Slack token", true}},
	{"xoxp-", 8, "-", secretKind{"a Slack token", true}},
	{"xoxa-", 8, "-", secretKind{"a Slack token", true}},
	{"xoxs-", 8, "-", secretKind{"a Slack token", true}},
	{"sk-ant-", 8, "-_", secretKind{"an Anthropic API key", true}},
	{"sk-proj-", 8, "-_", secretKind{"an OpenAI API key", true}},
	{"glpat-", 8, "-_", secretKind{"a GitLab token", true}},
	{"shpat_", 8, "", secretKind{"a Shopify access token", true}},
	{"shpss_", 8, "", secretKind{"a Shopify shared secret", true}},
	// Generic "sk-": length-gated so that LOCALE=sk-SK stays config.
	{"sk-", 17, "-_", secretKind{"an API secret key (sk-…)", false}},
}

// secretValue recognises values that are credentials whatever their key.
func secretValue(v string) (secretKind, bool) {
	if strings.HasPrefix(v, "-----BEGIN ") {
		hdr, _, _ := strings.Cut(v[len("-----BEGIN "):], "-----")
		if strings.HasSuffix(hdr, "PRIVATE KEY") || strings.HasSuffix(hdr, "PRIVATE KEY BLOCK") {
			return secretKind{"a PEM private key", true}, true
		}
	}
	for _, r := range prefixRules {
		if rest, ok := strings.CutPrefix(v, r.prefix); ok && len(rest) >= r.min && onlyAlnum(rest, r.chars) {
			return r.kind, true
		}
	}
	if len(v) == 20 && (strings.HasPrefix(v, "AKIA") || strings.HasPrefix(v, "ASIA")) && onlyUpperDigits(v) {
		return secretKind{"an AWS access key ID", true}, true
	}
	if len(v) == 39 && strings.HasPrefix(v, "AIza") && onlyAlnum(v, "-_") {
		return secretKind{"a Google API key", false}, true
	}
	if isJWT(v) {
		return secretKind{"a JWT", false}, true
	}
	return secretKind{}, false
}

func onlyAlnum(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

func onlyUpperDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isJWT: eyJ…, three base64url segments, the first two non-empty (an
// unsigned JWT has an empty third).
func isJWT(v string) bool {
	if !strings.HasPrefix(v, "eyJ") {
		return false
	}
	parts := strings.Split(v, ".")
	return len(parts) == 3 && len(parts[0]) >= 10 && parts[1] != "" &&
		onlyAlnum(parts[0], "-_=") && onlyAlnum(parts[1], "-_=") && onlyAlnum(parts[2], "-_=")
}

// urlCredential returns a reason if v is a URL carrying a password in its
// userinfo or a credential query parameter. Parsed by hand: DSNs with
// unescaped characters in passwords often defeat net/url.
func urlCredential(v string) string {
	i := strings.Index(v, "://")
	if i <= 0 {
		return ""
	}
	rest := v[i+3:]
	auth := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		auth = rest[:j]
	}
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		if _, pw, ok := strings.Cut(auth[:at], ":"); ok && pw != "" {
			return "value is a URL with a password"
		}
	}
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return ""
	}
	query, _, _ := strings.Cut(rest[q+1:], "#")
	for _, kv := range strings.Split(query, "&") {
		name, val, _ := strings.Cut(kv, "=")
		if credParams[strings.ToLower(name)] && val != "" {
			return "value is a URL with a credential parameter (" + name + ")"
		}
	}
	return ""
}

// highEntropy flags long random-looking tokens: at least 32 characters from
// a token alphabet, letters and digits mixed, Shannon entropy ≥ 4 bits per
// character. Hex (≤ 4 bits: commit SHAs) and UUIDs stay below it; paths and
// URLs are excluded outright.
func highEntropy(v string) bool {
	if len(v) < 32 || strings.HasPrefix(v, "/") || strings.HasPrefix(v, ".") ||
		strings.HasPrefix(v, "~") || strings.Contains(v, "://") || !onlyAlnum(v, "+/=_-.") {
		return false
	}
	var lower, upper, digit bool
	var freq [256]int
	for i := 0; i < len(v); i++ {
		c := v[i]
		freq[c]++
		lower = lower || c >= 'a' && c <= 'z'
		upper = upper || c >= 'A' && c <= 'Z'
		digit = digit || c >= '0' && c <= '9'
	}
	if !digit || !lower && !upper {
		return false
	}
	h := 0.0
	for _, n := range freq {
		if n > 0 {
			p := float64(n) / float64(len(v))
			h -= p * math.Log2(p)
		}
	}
	return h >= 4.0
}
