package vault

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestPassphraseFile: PHANTOM_VAULT_PASSPHRASE_FILE creates and opens a
// vault like PHANTOM_VAULT_PASSPHRASE, with one trailing newline dropped.
func TestPassphraseFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pass")
	if err := os.WriteFile(file, []byte(testPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := opts(t, dir, map[string]string{EnvPassphraseFile: file}, newFake())
	v := mustCreate(t, o)
	if v.KeySource() != Passphrase {
		t.Fatalf("key source %v", v.KeySource())
	}
	mustUpdate(t, v, add("X", "y"))
	v.Close()
	// The same vault opens with the passphrase given directly, with both
	// when they agree, and with a CRLF-terminated file.
	for _, env := range []map[string]string{
		{EnvPassphrase: testPass},
		{EnvPassphrase: testPass, EnvPassphraseFile: file},
	} {
		o.Env = envOf(env)
		w := mustOpen(t, o)
		w.Close()
	}
	os.WriteFile(file, []byte(testPass+"\r\n"), 0o600)
	o.Env = envOf(map[string]string{EnvPassphraseFile: file})
	mustOpen(t, o).Close()
	if src, why := Probe(o); src != Passphrase || !strings.Contains(why, EnvPassphraseFile) {
		t.Fatalf("probe: %v %s", src, why)
	}
	// A second newline is part of the passphrase: wrong passphrase, and
	// the message names the file.
	os.WriteFile(file, []byte(testPass+"\n\n"), 0o600)
	_, err := Open(o)
	wantErr(t, err, ErrWrongPassphrase)
	if !strings.Contains(err.Error(), EnvPassphraseFile+" ("+file+")") {
		t.Fatalf("message does not name the file: %v", err)
	}
}

// TestPassphraseFileRefused: a file others may read or write, an empty or
// missing one, a directory, and a file that disagrees with
// PHANTOM_VAULT_PASSPHRASE are refused before any vault is touched.
func TestPassphraseFileRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{EnvPassphraseFile: write("world", testPass, 0o644)}, "chmod 600"},
		{map[string]string{EnvPassphraseFile: write("groupw", testPass, 0o620)}, "mode 0620"},
		{map[string]string{EnvPassphraseFile: write("empty", "\n", 0o600)}, "is empty"},
		{map[string]string{EnvPassphraseFile: write("big", strings.Repeat("x", maxPassphraseFile+1), 0o600)}, "more than 64 KiB"},
		{map[string]string{EnvPassphraseFile: filepath.Join(dir, "missing")}, "cannot be read: no such file"},
		{map[string]string{EnvPassphraseFile: dir}, "not a regular file"},
		{map[string]string{EnvPassphraseFile: write("other", "another-passphrase", 0o600), EnvPassphrase: testPass}, "differ"},
	}
	for _, c := range cases {
		home := t.TempDir()
		o := opts(t, home, c.env, newFake())
		_, err := Create(o)
		wantErr(t, err, ErrPassphraseSource)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.env, err, c.want)
		}
		if _, err := os.Stat(filepath.Join(home, "vaults")); err == nil {
			if ents, _ := os.ReadDir(filepath.Join(home, "vaults")); len(ents) > 0 {
				t.Errorf("%v: a refused passphrase file still created %v", c.env, ents)
			}
		}
	}
	// Opening an existing vault refuses the same way (never falls back to
	// a prompt or the keychain).
	home := t.TempDir()
	o := opts(t, home, envPass, newFake())
	mustCreate(t, o).Close()
	o.Env = envOf(map[string]string{EnvPassphraseFile: filepath.Join(dir, "world")})
	_, err := Open(o)
	wantErr(t, err, ErrPassphraseSource)
	if src, why := Probe(o); src != Passphrase || !strings.Contains(why, "chmod 600") {
		t.Fatalf("probe: %v %s", src, why)
	}
}

// TestPassphraseFromPipe: a pipe (how `phantom start -d` hands the
// passphrase to its background copy, as /dev/fd/N) is accepted.
func TestPassphraseFromPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString(testPass)
	w.Close()
	pw, from, err := PassphraseFromEnv(envOf(map[string]string{EnvPassphraseFile: "/dev/fd/" + strconv.Itoa(int(r.Fd()))}))
	if err != nil || string(pw) != testPass || !strings.HasPrefix(from, EnvPassphraseFile) {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			t.Skipf("no /dev/fd here: %v", err)
		}
		t.Fatalf("got %q from %s: %v", pw, from, err)
	}
}

func TestPassphraseSourceSaysWhatToDo(t *testing.T) {
	if !strings.Contains(ErrPassphraseSource.Error(), "; ") {
		t.Fatalf("%q does not say what to do", ErrPassphraseSource)
	}
}
