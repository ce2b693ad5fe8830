package cli

import (
	"errors"
	"os/exec"
	"runtime"
	"strings"
)

// openURL starts the user's browser on url without waiting for it: $BROWSER
// when set (the usual convention; a list separated by ':' is tried in
// order), else the platform's opener. The URL carries no secret (an OAuth
// authorize link holds the client id, the state and the PKCE challenge), so
// passing it in argv is fine.
func openURL(getenv func(string) string, url string) error {
	var cands [][]string
	if b := getenv("BROWSER"); b != "" {
		for _, c := range strings.Split(b, ":") {
			if f := strings.Fields(c); len(f) > 0 {
				cands = append(cands, f)
			}
		}
	}
	switch runtime.GOOS {
	case "darwin":
		cands = append(cands, []string{"open"})
	case "windows":
		cands = append(cands, []string{"rundll32", "url.dll,FileProtocolHandler"})
	default:
		cands = append(cands, []string{"xdg-open"})
	}
	var errs []error
	for _, c := range cands {
		cmd := exec.Command(c[0], append(c[1:], url)...)
		if err := cmd.Start(); err != nil {
			errs = append(errs, err)
			continue
		}
		// Reap it in the background; the browser may outlive the sign-in.
		go cmd.Wait()
		return nil
	}
	return errors.Join(errs...)
}
