package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"phantomstack.dev/providers"
)

// authServer is a strict little authorization server: S256 only, the
// verifier checked, client authenticated by HTTP Basic, codes single-use.
type authServer struct {
	*httptest.Server
	deny bool

	mu       sync.Mutex
	codes    map[string]string // code → challenge
	redirect map[string]string // code → redirect_uri
}

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{codes: map[string]string{}, redirect: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ru, err := url.Parse(q.Get("redirect_uri"))
		if err != nil || ru.Hostname() != "127.0.0.1" || q.Get("client_id") != "cid" ||
			q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		back := ru.Query()
		back.Set("state", q.Get("state"))
		if a.deny {
			back.Set("error", "access_denied")
		} else {
			code := fmt.Sprintf("code-%d", time.Now().UnixNano())
			a.mu.Lock()
			a.codes[code], a.redirect[code] = q.Get("code_challenge"), q.Get("redirect_uri")
			a.mu.Unlock()
			back.Set("code", code)
		}
		ru.RawQuery = back.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "cid" || secret != "csecret" {
			tokenError(w, http.StatusUnauthorized, "invalid_client")
			return
		}
		r.ParseForm()
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			code := r.PostForm.Get("code")
			a.mu.Lock()
			challenge, known := a.codes[code]
			redirect := a.redirect[code]
			delete(a.codes, code)
			a.mu.Unlock()
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if !known || redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
				tokenError(w, http.StatusBadRequest, "invalid_grant")
				return
			}
			tokenOK(w, "access-1", "refresh-1")
		case "refresh_token":
			if r.PostForm.Get("refresh_token") != "refresh-1" {
				tokenError(w, http.StatusBadRequest, "invalid_grant")
				return
			}
			tokenOK(w, "access-2", "refresh-2")
		default:
			tokenError(w, http.StatusBadRequest, "unsupported_grant_type")
		}
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

func tokenOK(w http.ResponseWriter, access, refresh string) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "bearer", "expires_in": 3600})
}

func tokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func (a *authServer) config() Config {
	return Config{Provider: "Test", ClientID: "cid", ClientSecret: "csecret",
		AuthURL: a.URL + "/authorize", TokenURL: a.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader, Timeout: 10 * time.Second}
}

// browser follows the consent redirect to the loopback callback, as a
// browser does after the user clicks approve.
func browser(t *testing.T, bodies chan<- string) func(string) error {
	return func(u string) error {
		go func() {
			resp, err := http.Get(u)
			if err != nil {
				t.Errorf("browser: %v", err)
				return
			}
			defer resp.Body.Close()
			b := new(strings.Builder)
			fmt.Fprint(b, resp.StatusCode, " ")
			buf := make([]byte, 512)
			n, _ := resp.Body.Read(buf)
			b.Write(buf[:n])
			if bodies != nil {
				bodies <- b.String()
			}
		}()
		return nil
	}
}

func testEnv(open func(string) error) providers.Env {
	return providers.Env{HTTP: &http.Client{Timeout: 5 * time.Second}, OpenURL: open, Logf: func(string, ...any) {}}
}

func TestLoginPKCE(t *testing.T) {
	a := newAuthServer(t)
	bodies := make(chan string, 1)
	tok, err := Login(context.Background(), testEnv(browser(t, bodies)), a.config())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "access-1" || tok.RefreshToken != "refresh-1" {
		t.Fatalf("token = %+v", tok)
	}
	if b := <-bodies; !strings.HasPrefix(b, "200 ") || !strings.Contains(b, "Signed in to Test") {
		t.Fatalf("callback page: %q", b)
	}
	tok, err = Refresh(context.Background(), testEnv(nil), a.config(), tok.RefreshToken)
	if err != nil || tok.AccessToken != "access-2" || tok.RefreshToken != "refresh-2" {
		t.Fatalf("refresh: %+v, %v", tok, err)
	}
}

func TestLoginDenied(t *testing.T) {
	a := newAuthServer(t)
	a.deny = true
	_, err := Login(context.Background(), testEnv(browser(t, nil)), a.config())
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
}

func TestLoginWrongClientSecret(t *testing.T) {
	a := newAuthServer(t)
	cfg := a.config()
	cfg.ClientSecret = "wrong"
	_, err := Login(context.Background(), testEnv(browser(t, nil)), cfg)
	if !errors.Is(err, providers.ErrAuthInvalid) || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("err = %v", err)
	}
}

// A callback with the wrong state is refused (400) and the flow keeps
// waiting for the real one.
func TestLoginWrongStateIgnored(t *testing.T) {
	a := newAuthServer(t)
	bodies := make(chan string, 2)
	open := func(u string) error {
		au, _ := url.Parse(u)
		redirect := au.Query().Get("redirect_uri")
		go func() {
			resp, err := http.Get(redirect + "?code=forged&state=not-ours")
			if err != nil {
				t.Errorf("forged callback: %v", err)
				return
			}
			resp.Body.Close()
			bodies <- fmt.Sprint(resp.StatusCode)
			browser(t, bodies)(u)
		}()
		return nil
	}
	tok, err := Login(context.Background(), testEnv(open), a.config())
	if err != nil || tok.AccessToken != "access-1" {
		t.Fatalf("login after a forged callback: %+v, %v", tok, err)
	}
	if got := <-bodies; got != "400" {
		t.Fatalf("forged callback got %s, want 400", got)
	}
}

func TestLoginTimeout(t *testing.T) {
	a := newAuthServer(t)
	cfg := a.config()
	cfg.Timeout = 150 * time.Millisecond
	_, err := Login(context.Background(), testEnv(func(string) error { return nil }), cfg)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

func TestLoginPortTaken(t *testing.T) {
	a := newAuthServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := a.config()
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	_, err = Login(context.Background(), testEnv(nil), cfg)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", cfg.Port)) {
		t.Fatalf("err = %v, want one naming the port", err)
	}
}

// pastePrompt is a terminal that answers the paste prompt with lines from
// a channel.
type pastePrompt struct{ lines chan string }

func (p pastePrompt) CanPrompt() bool { return true }
func (p pastePrompt) ReadSecret(string) ([]byte, error) {
	select {
	case l := <-p.lines:
		return []byte(l), nil
	case <-time.After(5 * time.Second):
		return nil, errors.New("no paste")
	}
}

// --no-browser: the user opens the link elsewhere and pastes the address
// the browser was redirected to.
func TestLoginNoBrowserPaste(t *testing.T) {
	a := newAuthServer(t)
	cfg := a.config()
	cfg.NoBrowser = true
	prompt := pastePrompt{lines: make(chan string, 2)}
	var printed []string
	env := testEnv(func(string) error { t.Error("a browser was opened with --no-browser"); return nil })
	env.Prompt = prompt
	var mu sync.Mutex
	env.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		msg := fmt.Sprintf(format, args...)
		printed = append(printed, msg)
		if i := strings.Index(msg, a.URL+"/authorize"); i >= 0 {
			authURL := strings.Fields(msg[i:])[0]
			go func() {
				// The remote browser: it gets the redirect but cannot reach
				// our loopback, so the user copies the address.
				c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := c.Get(authURL)
				if err != nil {
					t.Errorf("remote browser: %v", err)
					return
				}
				resp.Body.Close()
				prompt.lines <- "not a url at all"
				prompt.lines <- resp.Header.Get("Location")
			}()
		}
	}
	tok, err := Login(context.Background(), env, cfg)
	if err != nil || tok.AccessToken != "access-1" {
		t.Fatalf("paste login: %+v, %v", tok, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(printed, "\n"), "not the sign-in redirect address") {
		t.Fatalf("bad paste not explained: %q", printed)
	}
}

func TestNoBrowserNeedsTerminal(t *testing.T) {
	a := newAuthServer(t)
	cfg := a.config()
	cfg.NoBrowser = true
	_, err := Login(context.Background(), testEnv(nil), cfg)
	if !errors.Is(err, providers.ErrAuthRequired) {
		t.Fatalf("err = %v", err)
	}
}
