# stellad — see README.md. `make run` starts the appliance with its development defaults under ./var;
# `make test` installs what the tests need (Debian's softhsm2, cosign from the Go module proxy) and runs them all.
GO        ?= go
BIN       := $(CURDIR)/bin
DATA_DIR  ?= $(CURDIR)/var
LISTEN    ?= 127.0.0.1:8080
FUZZTIME  ?= 50000x
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

.PHONY: all build run test test-deps test-unit test-nocgo test-fuzz test-e2e vet bench loadtest clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/stellad ./cmd/stellad
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/stellactl ./cmd/stellactl

# The appliance with embedded development defaults: SQLite, a local Tessera log and file keys created on
# first start, all under $(DATA_DIR); plain HTTP on loopback only.
run: build
	$(BIN)/stellad serve --dev --data-dir $(DATA_DIR) --listen $(LISTEN)

# Everything: installs softhsm2 (apt) and cosign (go install) when missing, then vet, the cgo-free build,
# unit and integration tests, the end-to-end tests with the real binaries and cosign, and a short run of
# every fuzz target.
test: test-deps vet test-nocgo test-unit test-fuzz

test-deps:
	./scripts/install-test-deps.sh

vet:
	$(GO) vet ./...

test-nocgo:
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) test -count=1 ./internal/keys/...

test-unit:
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" $(GO) test -count=1 -timeout 30m ./...

test-fuzz:
	./scripts/fuzz-all.sh $(FUZZTIME)

# Benchmarks of the hot paths, with same-run baselines (raw crypto/ecdsa signing) in each package.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./kit/... ./internal/...

# A bounded load run against a freshly started daemon (see docs/performance.md).
loadtest: build
	./scripts/loadtest.sh

clean:
	rm -rf $(BIN)
