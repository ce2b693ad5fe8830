package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/stack/internal/config"
	"phantomstack.dev/stack/internal/pipeline"
)

// fileBackup holds a file's bytes (or its absence) so a rollback can put it
// back exactly.
type fileBackup struct {
	path   string
	data   []byte
	exists bool
	mode   fs.FileMode
}

func backupFile(dir, name string) (*fileBackup, error) {
	p := filepath.Join(dir, name)
	b := &fileBackup{path: p, mode: 0o600}
	data, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return b, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if st, err := os.Stat(p); err == nil {
		b.mode = st.Mode().Perm()
	}
	b.data, b.exists = data, true
	return b, nil
}

func (b *fileBackup) restore() error {
	if !b.exists {
		if err := os.Remove(b.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return fsx.WriteFileAtomic(b.path, b.data, b.mode)
}

// writeConfigValues puts a provider's non-secret values (a region, a bucket
// name, a project URL) into the env file, next to phantom's tokens; every
// other line is kept as it is.
func writeConfigValues(dir, name string, vals []providers.Value) error {
	if len(vals) == 0 {
		return nil
	}
	p := filepath.Join(dir, name)
	src, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	f := dotenv.Parse(src)
	for _, v := range vals {
		if !f.Set(v.Slot, string(v.Value)) {
			f.Append(v.Slot, string(v.Value))
		}
	}
	if err := fsx.WriteFileAtomic(p, f.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func valueSlots(vals []providers.Value) []string {
	var out []string
	for _, v := range vals {
		out = append(out, v.Slot)
	}
	return out
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// resourceName names a new upstream resource after the project directory and
// the service, with a random suffix (names are often global upstream). The
// journal keeps it, so a resumed add asks for the same name.
func resourceName(c *config.Config, service string) string {
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(filepath.Base(c.Dir)), "-"), "-")
	if len(base) > 20 {
		base = strings.Trim(base[:20], "-")
	}
	if base == "" {
		base = "app"
	}
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", base, service, hex.EncodeToString(b[:]))
}

// addTestHook lets the crash/resume tests stop stack the hard way right after
// a journal phase is saved: STACK_TEST_KILL_AFTER=<phase> sends the process
// SIGKILL, exactly what a crash or `kill -9` does (no rollback runs). It has
// no effect unless that variable is set.
func addTestHook(f *Factory) func(pipeline.Phase) {
	want := f.Env("STACK_TEST_KILL_AFTER")
	if want == "" {
		return nil
	}
	return func(p pipeline.Phase) {
		if string(p) == want {
			killSelf()
			select {} // SIGKILL is not deliverable late; never continue
		}
	}
}

// statusTestHook is the same for a provider's status changes inside a step:
// STACK_TEST_KILL_AT_STATUS=COMING_UP kills stack while Supabase is still
// setting the project up, after it exists upstream but before its id is in
// the journal. It wraps report and has no effect unless that variable is set.
func statusTestHook(f *Factory, report func(string)) func(string) {
	want := f.Env("STACK_TEST_KILL_AT_STATUS")
	if want == "" {
		return report
	}
	return func(status string) {
		if status == want {
			killSelf()
			select {}
		}
		report(status)
	}
}

// removeConfigValues drops a service's non-secret lines from the env file.
func removeConfigValues(dir, name string, slots []string) error {
	if len(slots) == 0 {
		return nil
	}
	p := filepath.Join(dir, name)
	src, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	f := dotenv.Parse(src)
	n := 0
	for _, s := range slots {
		n += f.Remove(s)
	}
	if n == 0 {
		return nil
	}
	return fsx.WriteFileAtomic(p, f.Bytes(), 0o600)
}
