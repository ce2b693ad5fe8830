package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// syncBuffer lets the test read stdout while run writes it.
type syncBuffer struct {
	ch chan []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.ch <- append([]byte(nil), p...)
	return len(p), nil
}

func TestRunPrintsWorkingSandbox(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{ch: make(chan []byte, 16)}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-supabase-ready-after=0s"}, out, &stderr) }()

	var got Output
	select {
	case b := <-out.ch:
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no output")
	}
	if !got.Sandbox || !strings.Contains(got.Note, "local sandbox") || got.AWS == nil {
		t.Fatalf("output %+v", got)
	}
	for _, u := range []string{got.Supabase.APIURL, got.Vercel.APIURL, got.AWS.EndpointURL} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("not loopback: %s", u)
		}
	}
	check := func(url, token, header string, want int) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set(header, "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s: %d, want %d", url, res.StatusCode, want)
		}
	}
	check(got.Supabase.APIURL+"/v1/organizations", got.Supabase.AccessToken, "Authorization", 200)
	check(got.Vercel.APIURL+"/v2/user", got.Vercel.Token, "Authorization", 200)

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on cancel")
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-supabase-addr=0.0.0.0:0"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if stdout.Len() != 0 {
		t.Fatal("printed credentials for a refused start")
	}
}
