// Package buildinfo reports phantom's version and the CLI protocol that stack
// checks before it talks to phantom.
package buildinfo

import "runtime/debug"

// Version is set at link time (-ldflags "-X ...buildinfo.Version=v1.2.3").
var Version = "0.1.0-dev"

// Protocol is the version of the CLI contract in docs/phantom.md ("The
// contract stack relies on"). Bump it only for incompatible changes.
const Protocol = 1

// Capabilities names the contract features this build supports, so a caller
// can test for one instead of comparing versions.
var Capabilities = []string{
	"add-stdin",       // add NAME --stdin [--env-file F]
	"add-policy",      // add NAME --policy proxy|inject|deny
	"remove-env-file", // remove NAME [--env-file F]
	"list-json",       // list --json
	"sync-env-file",   // sync --env-file F [NAME...]
	"init-yes",        // init --yes
	"audit",           // audit verify/show
	"exec",            // exec [--env-file F]... -- cmd: policies, proxy, masking
	"exec-aws",        // exec serves AWS credentials (STS session credentials by default) on the container-credentials endpoint
	"routes-trust",    // [routes.<name>] in .phantom.toml, approved with phantom trust
	"start",           // start [-d] / stop: the proxy for a shell
}

// Commit returns the VCS revision the binary was built from, when known.
func Commit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}
