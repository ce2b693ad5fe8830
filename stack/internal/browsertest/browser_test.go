package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// The driver really clicks: a form POST the page's script does not fake.
func TestClickSubmitsForm(t *testing.T) {
	if _, err := Path(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><form method="post" action="/decide"><button id="approve" name="d" value="yes">Approve</button><button id="deny" name="d" value="no">Deny</button></form>`)
	})
	mux.HandleFunc("POST /decide", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/done?d="+r.FormValue("d"), http.StatusFound)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><p id="result">decision=%s</p>`, r.URL.Query().Get("d"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for sel, want := range map[string]string{"#approve": "decision=yes", "#deny": "decision=no"} {
		got, err := Click(context.Background(), srv.URL+"/consent", sel, "#result", 60*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("clicking %s: page says %q, want %q", sel, got, want)
		}
	}
}
