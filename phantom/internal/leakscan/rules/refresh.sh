#!/bin/sh
# Copies gitleaks' default rule set and its licence from the gitleaks module
# pinned in phantom/go.mod into this directory (see README.md here). Run by
# `go generate ./internal/leakscan/` from the phantom module directory.
set -eu
cd "$(dirname "$0")"
dir=$(go list -m -f '{{.Dir}}' github.com/zricethezav/gitleaks/v8)
cp "$dir/config/gitleaks.toml" gitleaks.toml
cp "$dir/LICENSE" LICENSE
chmod 644 gitleaks.toml LICENSE
