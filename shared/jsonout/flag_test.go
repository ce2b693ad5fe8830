package jsonout

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/spf13/cobra"
)

func TestAddFlagAndFailure(t *testing.T) {
	var on bool
	cmd := &cobra.Command{Use: "x", Run: func(*cobra.Command, []string) {}}
	AddFlag(cmd, &on, "")
	if !Registered(cmd) || Requested(cmd) {
		t.Fatal("AddFlag: registered, not requested before parsing")
	}
	if u := cmd.Flags().Lookup("json").Usage; u != "print JSON" {
		t.Errorf("default usage %q", u)
	}
	var buf bytes.Buffer
	if w := Track(cmd, &buf); w != &buf {
		t.Error("without --json, Track must hand back stdout itself")
	}
	if err := cmd.Flags().Parse([]string{"--json"}); err != nil {
		t.Fatal(err)
	}
	w := Track(cmd, &buf)
	if err := WriteFailure(w, cmd, errors.New("no vault"), 4); err != nil {
		t.Fatal(err)
	}
	var f Failure
	if err := json.Unmarshal(buf.Bytes(), &f); err != nil || f.Error != "no vault" || f.ExitCode != 4 {
		t.Fatalf("failure document %q: %v", buf.String(), err)
	}
	// After a document, a failure adds nothing.
	buf.Reset()
	w = Track(cmd, &buf)
	Write(w, map[string]bool{"ok": false})
	before := buf.String()
	WriteFailure(w, cmd, errors.New("later"), 1)
	if buf.String() != before {
		t.Errorf("second document written: %q", buf.String())
	}

	// A --json declared by hand is not the helper's.
	stray := &cobra.Command{Use: "y"}
	stray.Flags().Bool("json", false, "print JSON")
	if Registered(stray) {
		t.Error("hand-made --json counted as registered")
	}
}
