# phantom + stack — one go.work monorepo, two binaries.
# `make demo` walks through the product offline; `make test` runs every test.

GO       ?= go
BIN      := $(CURDIR)/bin
MODULES  := ./shared/... ./phantom/... ./stack/... ./providers/... ./templates/...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X phantomstack.dev/phantom/internal/buildinfo.Version=$(VERSION) \
            -X phantomstack.dev/stack/internal/buildinfo.Version=$(VERSION)
# Short fuzzing in `make test`; `make fuzz FUZZTIME=10m` for a long run.
FUZZTIME ?= 8s

# Every fuzz target: package path and target name.
FUZZ_TARGETS := \
	./shared/dotenv:FuzzParseRender \
	./shared/dotenv:FuzzSet \
	./phantom/internal/vault:FuzzDecode \
	./phantom/internal/vault:FuzzPayloadJSON \
	./phantom/internal/config:FuzzLoad \
	./phantom/internal/audit:FuzzVerify \
	./phantom/internal/scrub:FuzzStreamEqualsBuffered \
	./phantom/internal/bodyscope:FuzzJSONScope \
	./phantom/internal/bodyscope:FuzzFormScope \
	./templates:FuzzParse

.PHONY: all build install test unit fuzz fuzz-short demo bench lint e2e clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/phantom ./phantom/cmd/phantom
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/stack ./stack/cmd/stack

install:
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./phantom/cmd/phantom ./stack/cmd/stack
	@echo "installed phantom and stack into $$($(GO) env GOPATH)/bin"

# The whole suite: unit + end-to-end (testscript) + keychain + crash tests,
# then every fuzz target for a short, bounded time.
test: unit fuzz-short

unit:
	$(GO) vet $(MODULES)
	$(GO) test -count=1 -timeout 20m $(MODULES)

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

# Only the end-to-end suites: testscript, real keychain, real SDKs, real binary.
e2e:
	$(GO) test -count=1 -timeout 20m -run 'TestScripts|TestRealKeychain|TestKeychain|TestExec|TestOfficial|TestAWSSDK|TestTrust|TestNoMasking|TestReveal|TestUnprotect|TestParallelAdd|TestDemo' ./phantom/internal/cli/ ./stack/...

demo: build
	@$(GO) build -o $(BIN)/demoapi ./phantom/internal/tools/demoapi
	@$(GO) build -o $(BIN)/fakecloud ./providers/fake/cmd/fakecloud
	@PATH="$(BIN):$$PATH" bash scripts/demo.sh

bench: build
	@PATH="$(BIN):$$PATH" bash scripts/bench.sh

lint:
	@out=$$(gofmt -l shared phantom stack providers templates); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(MODULES)
	@if command -v staticcheck >/dev/null; then staticcheck $(MODULES); \
		else echo "staticcheck not installed (go install honnef.co/go/tools/cmd/staticcheck@latest); skipped"; fi

clean:
	rm -rf $(BIN)
