package providers

import "errors"

// Errors a provider step wraps so stack can explain what to do next.
var (
	// ErrAuthRequired: no credential is available and the user cannot be
	// asked (non-interactive run without the provider's environment variable).
	ErrAuthRequired = errors.New("credentials required")
	// ErrAuthInvalid: the upstream rejected the credential.
	ErrAuthInvalid = errors.New("credentials rejected")
	// ErrUnreachable: the upstream could not be asked (network, 429, 5xx).
	ErrUnreachable = errors.New("upstream unreachable")
)
