// Command demoapi plays the parts `make demo` needs around phantom exec, all
// on 127.0.0.1 and clearly labelled as a local sandbox:
//
//	demoapi serve LOGFILE     a stand-in for api.openai.com; prints its URL,
//	                          then logs the Authorization header of every
//	                          request it gets (what went on the wire); it
//	                          accepts only keys starting sk-proj-demo-
//	demoapi app               an "app" that calls the API the way the OpenAI
//	                          SDK does: OPENAI_BASE_URL + OPENAI_API_KEY
//	demoapi approve           runs `phantom trust` on a terminal of its own and
//	                          types "trust", standing in for a person (routes,
//	                          the sandbox's upstreams and its [aws] settings)
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
	"os/exec"
	"strings"
	"time"

	"github.com/creack/pty"
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
	// The approval lives in the vault: only phantom trust, answered on a
	// terminal, writes it. The demo opens that terminal and types "trust"
	// where you would.
	ptmx, err := pty.Start(exec.Command("phantom", "trust"))
	if err != nil {
		return err
	}
	defer ptmx.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, ptmx); close(done) }()
	time.Sleep(500 * time.Millisecond)
	io.WriteString(ptmx, "trust\r")
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		return fmt.Errorf("phantom trust did not finish")
	}
	if !strings.Contains(out.String(), "Approved") && !strings.Contains(out.String(), "is approved") {
		return fmt.Errorf("phantom trust did not approve:\n%s", out.String())
	}
	return nil
}
