package exitcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	base := errors.New("boom")
	if Code(nil) != OK {
		t.Fatal("nil must be OK")
	}
	if Code(base) != Failure {
		t.Fatal("plain error must be Failure")
	}
	wrapped := fmt.Errorf("ctx: %w", New(NotFound, base))
	if Code(wrapped) != NotFound {
		t.Fatalf("Code(wrapped) = %d", Code(wrapped))
	}
	if !errors.Is(wrapped, base) {
		t.Fatal("Error must unwrap")
	}
	if New(Usage, nil) != nil {
		t.Fatal("New(nil) must be nil")
	}
}
