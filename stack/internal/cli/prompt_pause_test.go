package cli

import (
	"strings"
	"testing"
)

type recPrompt struct{ log *[]string }

func (r recPrompt) CanPrompt() bool { return true }
func (r recPrompt) ReadSecret(string) ([]byte, error) {
	*r.log = append(*r.log, "read-secret")
	return []byte("x"), nil
}
func (r recPrompt) ReadLine(string) (string, error) {
	*r.log = append(*r.log, "read-line")
	return "2", nil
}

type recProgress struct{ log *[]string }

func (r recProgress) Status(string) {}
func (r recProgress) Pause() func() {
	*r.log = append(*r.log, "pause")
	return func() { *r.log = append(*r.log, "resume") }
}

// A prompt during a task pauses the spinner before asking and resumes it
// after the answer, for hidden and visible prompts alike.
func TestPausingPrompt(t *testing.T) {
	var log []string
	p := withPause(recPrompt{&log}, recProgress{&log}).(pausingPrompt)
	p.ReadSecret("token: ")
	p.ReadLine("org: ")
	if got := strings.Join(log, ","); got != "pause,read-secret,resume,pause,read-line,resume" {
		t.Fatalf("order = %s", got)
	}
	if withPause(nil, recProgress{&log}) != nil {
		t.Fatal("no terminal must stay no terminal")
	}
}
