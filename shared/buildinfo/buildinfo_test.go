package buildinfo

import "testing"

func TestCurrent(t *testing.T) {
	if got := Current(); got == "" || got == "(devel)" {
		t.Errorf("Current() = %q", got)
	}
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v1.2.3"
	if got := Current(); got != "v1.2.3" {
		t.Errorf("with -X Version: Current() = %q", got)
	}
}
