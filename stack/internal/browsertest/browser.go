// Package browsertest drives a real headless Chromium (Debian's chromium
// package) for tests of the OAuth sign-in: it opens a consent page, clicks a
// button as a person would, and reports the page the browser ends up on.
// Tests only; stack itself never imports it.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/chromedp"
)

// Path finds the browser: $CHROMIUM, else chromium or chromium-browser on
// PATH.
func Path() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
}

// Click opens url, waits for the element matching selector (a CSS selector,
// e.g. "#approve"), clicks it, then waits for resultSelector on the page the
// browser lands on and returns that element's text. The whole run is bounded
// by timeout.
func Click(ctx context.Context, url, selector, resultSelector string, timeout time.Duration) (string, error) {
	bin, err := Path()
	if err != nil {
		return "", err
	}
	profile, err := os.MkdirTemp("", "browsertest-profile-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(profile)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Loopback only: no proxies, no background network.
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(profile),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run its sandbox as root (CI containers).
		opts = append(opts, chromedp.NoSandbox)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(selector),
		chromedp.Click(selector),
		chromedp.WaitVisible(resultSelector),
	); err != nil {
		return "", fmt.Errorf("browser at %s: %w", url, err)
	}
	text, err := chromedp.Run(bctx, chromedp.Text(resultSelector))
	if err != nil {
		return "", fmt.Errorf("browser reading %s: %w", resultSelector, err)
	}
	return text, nil
}
