# The everyday commands. `make help` lists them.
GO ?= go
# Rounds of `make bench`: samples of every comparison (6 or more give a confidence interval).
BENCH_COUNT ?= 8

.PHONY: help generate check test test-race lint fuzz bench build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

generate: ## regenerate everything under generated/ from spec/ and templates/
	$(GO) generate ./...

check: ## fail (naming each file, with a diff) if generated/ is out of sync
	$(GO) run ./gen/cmd/ccgen -check

test: ## the test suite CI runs (the README's test command)
	$(GO) test ./...

test-race: ## the test suite under the race detector
	$(GO) test -race ./...

lint: ## gofmt and go vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

fuzz: ## run the spec-loader fuzz target for 5 minutes
	$(GO) test ./gen/ -run '^$$' -fuzz FuzzLoadSpec -fuzztime 5m

bench: ## every benchmark comparison, interleaved and paired; writes docs/benchmarks.md (BENCH_COUNT=3 is quick)
	$(GO) run ./internal/benchreport -count $(BENCH_COUNT)

build: ## build the cloudconvert CLI into bin/
	$(GO) build -o bin/ ./cmd/...
