# phantom + stack — one go.work monorepo, two binaries.
# `make demo` walks through the product offline; `make test` runs every test.

GO       ?= go
BIN      := $(CURDIR)/bin
MODULES  := ./shared/... ./phantom/... ./stack/... ./providers/... ./templates/...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# One package holds both binaries' version, commit and commit date
# (shared/buildinfo); .goreleaser.yaml sets the same three. The commit's date,
# not the clock, keeps two builds of one commit identical.
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE     ?= $(shell git log -1 --format=%cI 2>/dev/null)
BUILDINFO := phantomstack.dev/shared/buildinfo
LDFLAGS  := -s -w -X $(BUILDINFO).Version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE)
# `make fuzz FUZZTIME=10m` fuzzes every target for that long. `make test`
# runs each for a fixed number of executions instead (the count after the
# target's name): a wall-clock -fuzztime can fail with a spurious "context
# deadline exceeded" when it expires under load (golang/go#75804, fixed only
# in Go 1.27); a count has no deadline to race.
FUZZTIME ?= 10m

# Every fuzz target: package path, target name, executions in `make test`
# (about 5-10 s each here; FuzzVerify is slow per input).
FUZZ_TARGETS := \
	./shared/dotenv:FuzzParseRender:100000x \
	./shared/dotenv:FuzzSet:100000x \
	./phantom/internal/vault:FuzzDecode:30000x \
	./phantom/internal/vault:FuzzPayloadJSON:50000x \
	./phantom/internal/config:FuzzLoad:30000x \
	./phantom/internal/cli:FuzzInitUnprotect:15000x \
	./phantom/internal/cli:FuzzMergeMCPConfig:20000x \
	./phantom/internal/mcpserver:FuzzCheckArgs:20000x \
	./phantom/internal/audit:FuzzVerify:4000x \
	./phantom/internal/scrub:FuzzStreamEqualsBuffered:30000x \
	./phantom/internal/scrub:FuzzEncodedStreamEqualsBuffered:20000x \
	./phantom/internal/bodyscope:FuzzJSONScope:50000x \
	./phantom/internal/bodyscope:FuzzFormScope:50000x \
	./phantom/internal/agent:FuzzRecv:50000x \
	./templates:FuzzParse:50000x

.PHONY: all build install test cross unit selfcheck fuzz fuzz-short demo bench lint e2e clean \
	release-snapshot release-test release release-tool

all: build

# Static binaries (CGO_ENABLED=0): the dynamic loader never runs, so
# LD_PRELOAD and LD_AUDIT cannot put code into a process that holds secrets.
# The keychain still works: go-keyring is pure Go (D-Bus via godbus on
# Linux, /usr/bin/security on macOS); see docs/decisions.md.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/phantom ./phantom/cmd/phantom
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/stack ./stack/cmd/stack

install:
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags '$(LDFLAGS)' ./phantom/cmd/phantom ./stack/cmd/stack
	@# go install writes to GOBIN when set, else the first GOPATH entry's bin.
	@gobin=$$($(GO) env GOBIN); gopath=$$($(GO) env GOPATH); \
		echo "installed phantom and stack into $${gobin:-$${gopath%%:*}/bin}"

# The whole suite: the cross-platform compile check, unit + end-to-end
# (testscript) + keychain + crash tests, then every fuzz target for a fixed
# number of executions (about a minute in all).
test: cross unit selfcheck fuzz-short

# macOS and Windows are compile-checked only (docs/platforms.md): both
# binaries build for each target, and go vet type-checks every package,
# tests included, as that OS sees it. No binary is written (go build of
# two packages links them and discards the result).
CROSS_TARGETS := darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
cross:
	@set -e; for t in $(CROSS_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; echo "cross $$os/$$arch"; \
		GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) build ./phantom/cmd/phantom ./stack/cmd/stack; \
	done; \
	for os in darwin windows; do \
		echo "cross $$os: go vet"; GOOS=$$os CGO_ENABLED=0 $(GO) vet $(MODULES); \
	done

# gotestsum (pinned in tools/, outside go.work) runs go test and ends with a
# summary that names every skipped test and why: a test may skip only when a
# tool is missing on a developer's machine, and under CI=1 it fails instead.
unit:
	$(GO) vet $(MODULES)
	@gotestsum=$$(cd tools && GOWORK=off $(GO) tool -n gotestsum) && \
		$$gotestsum --format pkgname --format-hide-empty-pkg -- -count=1 -timeout 20m $(MODULES)

# The repository is scanned by its own leak scanner, as the pre-commit hook
# would (docs/phantom.md, "phantom check"): the example .env values in the
# docs are accepted in .phantom-baseline.json, fixtures by .phantomignore.
selfcheck: build
	$(BIN)/phantom check

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZ_SHORT=1

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; count=$${rest#*:}; \
		budget=$(FUZZTIME); [ -z "$(FUZZ_SHORT)" ] || budget=$$count; \
		echo "fuzz $$pkg $$name ($$budget)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$$budget $$pkg; \
	done

# Only the end-to-end suites: testscript, real keychain, real SDKs, real binary.
e2e:
	$(GO) test -count=1 -timeout 20m -run 'TestScripts|TestRealKeychain|TestKeychain|TestExec|TestOfficial|TestAWSSDK|TestTrust|TestNoMasking|TestReveal|TestUnprotect|TestParallelAdd|TestDemo|TestMCP' ./phantom/internal/cli/ ./phantom/internal/mcpserver/ ./stack/...

demo: build
	@$(GO) build -o $(BIN)/demoapi ./phantom/internal/tools/demoapi
	@$(GO) build -o $(BIN)/fakecloud ./providers/fake/cmd/fakecloud
	@PATH="$(BIN):$$PATH" bash scripts/demo.sh

# `make bench BENCH_ONLY=agent`: only the table of phantom's agent (list,
# add and exec -- true in keychain, passphrase and agent modes).
bench: build
	@PATH="$(BIN):$$PATH" bash scripts/bench.sh
	@if [ -z "$$BENCH_ONLY" ]; then PATH="$(BIN):$$PATH" bash scripts/bench-check.sh; fi

lint:
	@out=$$(gofmt -l shared phantom stack providers templates); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(MODULES)
	@if command -v staticcheck >/dev/null; then staticcheck $(MODULES); \
		else echo "staticcheck not installed (go install honnef.co/go/tools/cmd/staticcheck@latest); skipped"; fi

clean:
	rm -rf $(BIN) dist

# Releases (docs/install.md). GoReleaser is pinned and installed from the Go
# module proxy into bin/tools, once per version; tools/release writes the
# SBOMs (no syft needed), the Homebrew tap and the npm packages. Everything
# after the install runs offline.
GORELEASER_VERSION := v2.17.0
TOOLBIN    := $(BIN)/tools
GORELEASER := $(TOOLBIN)/goreleaser-$(GORELEASER_VERSION)
# The repository whose GitHub releases hold the archives (formula URLs, the
# npm packages' repository, stack ci init's download step).
RELEASE_REPO ?= phantomstack/phantomstack

$(GORELEASER):
	@mkdir -p $(TOOLBIN)
	GOWORK=off GOBIN=$(TOOLBIN) $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)
	mv $(TOOLBIN)/goreleaser $@

release-tool:
	@mkdir -p $(TOOLBIN)
	cd tools && GOWORK=off $(GO) build -o $(TOOLBIN)/phantomstack-release ./release

# A snapshot of the next release in dist/, signed with the snapshot-only key
# committed in release/snapshot/ (never the release key: a snapshot must not
# pass for a release; docs/decisions.md). ssh-keygen refuses a key file
# others can read, and git checks files out 0644: sign with a private copy.
release-snapshot: $(GORELEASER) release-tool
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		install -m 600 release/snapshot/snapshot-signing-key "$$tmp/key"; \
		if [ -z "$$(git remote)" ]; then \
			: "GoReleaser reads a remote URL; a clone without one gets the release repository's"; \
			export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/$(RELEASE_REPO).git; \
		fi; \
		PATH="$(TOOLBIN):$$PATH" RELEASE_SIGNING_KEY="$$tmp/key" \
			$(GORELEASER) release --snapshot --clean --parallelism 2; \
		$(TOOLBIN)/phantomstack-release packages -dist dist -repo $(RELEASE_REPO)
	@ls -l dist/*.tar.gz dist/*.zip dist/checksums.txt*

# Checks dist/: 12 archives, checksums, the signature (and that a flipped
# byte fails it), the stamped version, the SBOMs, the npm packages installed
# from their tarballs, the Homebrew formulae (ruby -c, URLs and sha256).
release-test:
	cd tools && GOWORK=off DIST=$(CURDIR)/dist RELEASE_KEYS=$(CURDIR)/release $(GO) test -count=1 -timeout 15m ./release/

# A real release from a tag: RELEASE_SIGNING_KEY is the path of the release
# key's private half (never in this repository) and GITHUB_TOKEN may create
# the draft release. Publish the tap and the npm packages from dist/ after
# checking the draft (docs/install.md, "Making a release").
release: $(GORELEASER) release-tool
	@test -n "$$RELEASE_SIGNING_KEY" || { echo "set RELEASE_SIGNING_KEY to the release key's private half (docs/install.md)"; exit 2; }
	PATH="$(TOOLBIN):$$PATH" $(GORELEASER) release --clean
	$(TOOLBIN)/phantomstack-release packages -dist dist -repo $(RELEASE_REPO)
