# sluice — common tasks. `make test` runs every test against real services
# it starts itself; `make demo` runs the daemon against a local demo shop.
SHELL := /bin/bash
GO ?= go
BIN := bin/sluice

.PHONY: build test unit fuzz services services-down demo bench bench-mysql bench-smoke bench-micro lint docker clean

# The version and commit `sluice version` prints and /metrics labels
# sluice_build_info with (internal/buildinfo).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/sluice-cdc/sluice/internal/buildinfo.version=$(VERSION) -X github.com/sluice-cdc/sluice/internal/buildinfo.commit=$(COMMIT)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sluice

# Start PostgreSQL, MariaDB, Kafka, the Apicurio schema registry, Elasticsearch and OpenSearch
# (scripts/services.sh up), then run every test (unit and integration)
# with their addresses in the environment. Fails, too, when the tests left a replication slot or
# publication behind (scripts/leaks.sh). Then the PostgreSQL version matrix (scripts/pg-versions.sh):
# the whole suite again on 18, the PostgreSQL tests on 14, 16 and 17. Then every fuzz target runs for
# a few seconds.
test: build services
	eval "$$(scripts/services.sh env)" && scripts/leaks.sh before bin/leaks.before && \
	  SLUICE_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -p 1 -timeout 30m ./... && \
	  scripts/leaks.sh after bin/leaks.before
	eval "$$(scripts/services.sh env)" && GO=$(GO) SLUICE_BIN=$(CURDIR)/$(BIN) scripts/pg-versions.sh 18:all 14 16 17
	scripts/fuzz.sh 5

# Every fuzz target for FUZZTIME seconds each (14 targets: about 15 minutes at 60).
FUZZTIME ?= 60
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

# Unit tests only: integration tests skip (or fail under CI=true).
unit:
	$(GO) test ./...

services:
	scripts/services.sh up

services-down:
	scripts/services.sh down

# Start the services, create the demo shop, run sluice and show events.
demo: build
	scripts/demo.sh

# End-to-end benchmark on the real services against the machine's ceiling
# (tens of minutes; BENCHMARKS.md explains the figures). BENCH_FLAGS adds flags.
bench: services
	eval "$$(scripts/services.sh env)" && $(GO) run ./cmd/sluice-bench -json bench.json $(BENCH_FLAGS)

# The same workloads from MariaDB's binlog (-source mysql).
bench-mysql: services
	eval "$$(scripts/services.sh env)" && $(GO) run ./cmd/sluice-bench -source mysql -json bench-mysql.json $(BENCH_FLAGS)

# Every benchmark workload in miniature (seconds): checks the driver works.
bench-smoke: services
	eval "$$(scripts/services.sh env)" && $(GO) run ./cmd/sluice-bench -smoke

# Hot-path micro-benchmarks with allocations.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./codec ./source/postgres ./sink/kafka

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...

docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t sluice .

clean:
	rm -rf bin
