// Command demoapi plays the parts `make demo` needs around phantom exec, all
// on 127.0.0.1 and clearly labelled as a local sandbox:
//
//	demoapi serve LOGFILE     a stand-in for api.openai.com; prints its URL,
//	                          then logs the Authorization header of every
//	                          request it gets (what went on the wire); it
//	                          accepts only keys starting sk-proj-demo-
//	demoapi app               an "app" that calls the API the way the OpenAI
//	                          SDK does: OPENAI_BASE_URL + OPENAI_API_KEY
//	demoapi approve           approves the project's routes and [aws]
//	                          settings, standing in for a person typing
//	                          "trust" at `phantom trust`
//
// It is a demo tool, not part of phantom.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/trust"
	"phantomstack.dev/phantom/internal/vault"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demoapi serve LOGFILE | app | approve")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2])
	case "app":
		err = app()
	case "approve":
		err = approve()
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demoapi:", err)
		os.Exit(1)
	}
}

func serve(logPath string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	os.Stdout.Close()
	mux := http.NewServeMux()
	// What stack add and stack doctor call to check a key: like the real
	// API, a key it does not know gets 401.
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		fmt.Fprintf(logf, "upstream received: GET %s  Authorization: %s\n", r.URL.Path, auth)
		if !strings.HasPrefix(auth, "Bearer sk-proj-demo-") {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"Incorrect API key provided"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"demo-model","object":"model"}]}`)
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		fmt.Fprintf(logf, "upstream received: POST %s  Authorization: %s\n", r.URL.Path, auth)
		w.Header().Set("Content-Type", "application/json")
		// A careless API that echoes the caller's key back.
		json.NewEncoder(w).Encode(map[string]any{
			"choices": []any{map[string]any{"message": map[string]string{"role": "assistant", "content": "Hello! You called me with " + auth}}},
		})
	})
	return (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}

func app() error {
	base, key := os.Getenv("OPENAI_BASE_URL"), os.Getenv("OPENAI_API_KEY")
	fmt.Printf("app sees OPENAI_API_KEY=%s\n", key)
	fmt.Printf("app sees OPENAI_BASE_URL=%s\n", base)
	body := []byte(`{"model":"demo","messages":[{"role":"user","content":"hi"}]}`)
	req, err := http.NewRequest("POST", base+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if json.Unmarshal(b, &out) != nil || len(out.Choices) == 0 {
		return fmt.Errorf("unexpected answer %d: %s", resp.StatusCode, b)
	}
	fmt.Printf("app got the answer: %s\n", out.Choices[0].Message.Content)
	return nil
}

func approve() error {
	cfg, err := config.Load(".phantom.toml")
	if err != nil {
		return err
	}
	var specs []config.RouteSpec
	for _, r := range cfg.Routes() {
		specs = append(specs, r)
	}
	// The supabase route's upstream from .env.local (the sandbox's project
	// URL), as phantom trust would list it.
	if b, err := os.ReadFile(".env.local"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if up, ok := strings.CutPrefix(line, "SUPABASE_URL="); ok && up != "" {
				specs = append(specs, config.RouteSpec{Name: trust.EnvRouteName("supabase", "SUPABASE_URL"), Upstream: strings.TrimRight(up, "/")})
			}
		}
	}
	if err := trust.Approve(os.Getenv("PHANTOM_HOME"), cfg.ProjectID(), time.Now(), specs...); err != nil {
		return err
	}
	// The [aws] settings (the sandbox's STS endpoint): their approval lives
	// in the vault, as phantom trust stores it.
	s := cfg.AWS()
	if len(s.NeedsApproval()) == 0 {
		return nil
	}
	v, err := vault.Open(vault.Options{Home: os.Getenv("PHANTOM_HOME"), ProjectID: cfg.ProjectID()})
	if err != nil {
		return err
	}
	defer v.Close()
	return v.Update(func(pl *vault.Payload) error {
		if pl.Approvals == nil {
			pl.Approvals = map[string]*vault.Approval{}
		}
		pl.Approvals[config.AWSApprovalKey] = &vault.Approval{Hash: s.ApprovalHash(), Data: s.ApprovalData(),
			Detail: "[aws] " + strings.Join(s.NeedsApproval(), "; "), ApprovedAt: time.Now().UTC().Round(time.Second)}
		return nil
	}, nil)
}
