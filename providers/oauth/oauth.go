// Package oauth signs a user in to a provider with the OAuth 2 authorization
// code flow and PKCE (S256) on a loopback redirect, as RFC 8252 prescribes
// for native apps: stack listens on 127.0.0.1, opens the provider's consent
// page in the browser (and prints its URL), and exchanges the code it is
// sent back for tokens. With NoBrowser (an SSH session, where the browser
// runs on another machine) the user pastes the URL the browser was
// redirected to instead.
//
// The state parameter is checked on every callback, the wait is bounded, and
// the tokens are returned to the caller, which hands them to phantom: this
// package never stores anything.
package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"phantomstack.dev/providers"
)

// Errors the flow wraps so stack can say what to do next.
var (
	// ErrDenied: the user (or the provider) refused consent.
	ErrDenied = errors.New("sign-in was not approved")
	// ErrStateMismatch: the callback's state is not the one this flow sent,
	// so the redirect did not come from the sign-in stack started.
	ErrStateMismatch = errors.New("the sign-in callback carried the wrong state")
	// ErrTimeout: no callback arrived within Config.Timeout.
	ErrTimeout = errors.New("timed out waiting for the browser sign-in")
)

// DefaultTimeout bounds the wait for the user to approve in the browser.
const DefaultTimeout = 5 * time.Minute

// Config describes one provider's OAuth client.
type Config struct {
	Provider     string // display name for messages, e.g. "Supabase"
	ClientID     string
	ClientSecret string // confidential clients; empty for public ones
	AuthURL      string
	TokenURL     string
	// AuthStyle says how the client authenticates at the token endpoint;
	// zero lets x/oauth2 detect it.
	AuthStyle oauth2.AuthStyle
	Scopes    []string
	// Port is the loopback port for the redirect; 0 picks a free one. Set it
	// when the provider's app registration pins the redirect URI's port.
	Port int
	// NoBrowser: do not open a browser; print the URL and read the
	// redirected URL back from the terminal.
	NoBrowser bool
	// Timeout bounds the wait; zero means DefaultTimeout.
	Timeout time.Duration
}

const callbackPath = "/callback"

func (c Config) oauth2(redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL, AuthStyle: c.AuthStyle},
		RedirectURL:  redirect,
		Scopes:       c.Scopes,
	}
}

// Login runs the flow and returns the provider's tokens.
func Login(ctx context.Context, env providers.Env, cfg Config) (*oauth2.Token, error) {
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("no OAuth client id for %s", cfg.Provider)
	}
	if cfg.NoBrowser && !env.Interactive() {
		return nil, fmt.Errorf("%w: --no-browser needs a terminal to paste the redirect URL into", providers.ErrAuthRequired)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.Port))
	if err != nil {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1:%d for the sign-in redirect: %w\nFree that port, or choose another in the provider's OAuth app and stack's config", cfg.Port, err)
	}
	defer ln.Close()
	redirect := fmt.Sprintf("http://127.0.0.1:%d%s", ln.Addr().(*net.TCPAddr).Port, callbackPath)

	state, err := randomString()
	if err != nil {
		return nil, err
	}
	verifier := oauth2.GenerateVerifier()
	oc := cfg.oauth2(redirect)
	authURL := oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	results := make(chan result, 1)
	srv := &http.Server{
		Handler:           callbackHandler(cfg.Provider, state, results),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	defer func() {
		// Let the callback's page reach the browser before the listener
		// goes: Close could cut the response the user is looking at.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()

	env.Printf("Sign in to %s in your browser. If it does not open, visit:\n\n  %s\n", cfg.Provider, authURL)
	if !cfg.NoBrowser && env.OpenURL != nil {
		if err := env.OpenURL(authURL); err != nil {
			env.Printf("(could not open a browser: %v)", err)
		}
	}
	if cfg.NoBrowser {
		go pasteLoop(env, state, results)
	}

	var r result
	select {
	case r = <-results:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w (%s); run the command again to get a new sign-in link", ErrTimeout, timeout)
		}
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, env.Client())
	tok, err := oc.Exchange(ctx, r.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("exchanging the sign-in code with %s: %w", cfg.Provider, describe(err))
	}
	return tok, nil
}

// Refresh trades a refresh token for a new token (providers may rotate the
// refresh token too: the caller stores whatever comes back).
func Refresh(ctx context.Context, env providers.Env, cfg Config, refreshToken string) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, env.Client())
	tok, err := cfg.oauth2("").TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("refreshing the %s sign-in: %w", cfg.Provider, describe(err))
	}
	return tok, nil
}

// describe keeps the provider's error code and description, never the
// response body (which could echo a token).
func describe(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		if re.ErrorCode != "" {
			msg += " " + re.ErrorCode
		}
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		if re.Response.StatusCode == http.StatusUnauthorized || re.ErrorCode == "invalid_client" || re.ErrorCode == "invalid_grant" {
			return fmt.Errorf("%w (%s)", providers.ErrAuthInvalid, msg)
		}
		return errors.New(msg)
	}
	return err
}

type result struct {
	code string
	err  error
}

// parseCallback checks one redirect's query: the state first, then an
// error, then the code.
func parseCallback(q url.Values, state string) result {
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return result{err: ErrStateMismatch}
	}
	if e := q.Get("error"); e != "" {
		if d := q.Get("error_description"); d != "" {
			e += ": " + d
		}
		return result{err: fmt.Errorf("%w (%s)", ErrDenied, e)}
	}
	if q.Get("code") == "" {
		return result{err: errors.New("the sign-in callback carried no code")}
	}
	return result{code: q.Get("code")}
}

func callbackHandler(provider, state string, results chan<- result) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+callbackPath, func(w http.ResponseWriter, r *http.Request) {
		res := parseCallback(r.URL.Query(), state)
		if errors.Is(res.err, ErrStateMismatch) {
			// Not our redirect (a stale tab, or a forged request): refuse it
			// and keep waiting for the real one.
			page(w, http.StatusBadRequest, "This sign-in link is not the one stack is waiting for. Start again from the terminal.")
			return
		}
		if res.err != nil {
			page(w, http.StatusOK, fmt.Sprintf("%s sign-in was not approved. You can close this tab.", provider))
		} else {
			page(w, http.StatusOK, fmt.Sprintf("Signed in to %s. You can close this tab and return to the terminal.", provider))
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush() // the page is on its way before the flow moves on
		}
		select {
		case results <- res:
		default:
		}
	})
	return mux
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>stack</title><p id=\"result\">%s</p>\n", html.EscapeString(msg))
}

// pasteLoop reads the redirected URL from the terminal (hidden: it carries
// the one-time code) until one carries our state.
func pasteLoop(env providers.Env, state string, results chan<- result) {
	for range 3 {
		line, err := env.Prompt.ReadSecret("Paste the address your browser was sent to (it starts with http://127.0.0.1): ")
		if err != nil {
			select {
			case results <- result{err: fmt.Errorf("reading the pasted address: %w", err)}:
			default:
			}
			return
		}
		u, err := url.Parse(strings.TrimSpace(string(line)))
		clear(line)
		if err != nil || u.Query().Get("state") == "" {
			env.Printf("That is not the sign-in redirect address; copy the whole address from the browser's address bar.")
			continue
		}
		res := parseCallback(u.Query(), state)
		if errors.Is(res.err, ErrStateMismatch) {
			env.Printf("That address belongs to a different sign-in; use the link printed above.")
			continue
		}
		select {
		case results <- res:
		default:
		}
		return
	}
	select {
	case results <- result{err: errors.New("no valid redirect address after 3 tries")}:
	default:
	}
}

func randomString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
