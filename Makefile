# make test is the one command that checks everything: it installs the
# server packages the tests need (when missing and it can), then runs the
# format check, go vet, staticcheck, the race-enabled tests and the bench
# module's benchmarks once each. make fuzz (not part of make test) fuzzes
# every fuzz target for FUZZTIME each.

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# MODULES are the adapter modules under contrib/, each with its own go.mod
# so that their dependencies stay out of the root module.
MODULES     := contrib/otelcachet contrib/promcachet

.PHONY: test servers fmt vet staticcheck unit bench-smoke fuzz bench bench-peers charts

test: servers fmt vet staticcheck unit bench-smoke

# servers installs redis-server, redis-cli and memcached from the system
# packages when they are missing and we are root or have sudo.
servers:
	@if command -v redis-server >/dev/null && command -v redis-cli >/dev/null && command -v memcached >/dev/null; then \
		echo "servers: redis-server and memcached present"; \
	elif command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
		echo "servers: installing redis-server, redis-tools and memcached"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server redis-tools memcached >/dev/null; \
	elif [ "$$CI" = true ]; then \
		echo "servers: redis-server/memcached missing and cannot install them; with CI=true their tests will fail (apt-get install redis-server redis-tools memcached)"; \
	else \
		echo "servers: redis-server/memcached missing and cannot install them; their tests will skip (apt-get install redis-server redis-tools memcached)"; \
	fi

fmt:
	@out=$$(gofmt -l . bench 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	@if [ -f bench/go.mod ]; then cd bench && $(GO) vet ./...; fi
	@for m in $(MODULES); do echo "vet $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

staticcheck:
	$(GO) run $(STATICCHECK) ./...
	@if [ -f bench/go.mod ]; then cd bench && $(GO) run $(STATICCHECK) ./...; fi
	@for m in $(MODULES); do echo "staticcheck $$m"; (cd $$m && $(GO) run $(STATICCHECK) ./...) || exit 1; done

unit:
	$(GO) test -race -count=1 ./...
	@for m in $(MODULES); do (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

# bench-smoke runs every benchmark once so that they keep compiling and
# working; use make bench for real numbers. Its output is shown only when
# a benchmark fails.
bench-smoke:
	@for m in . bench; do \
		[ -f $$m/go.mod ] || continue; \
		echo "bench-smoke $$m"; \
		out=$$(cd $$m && $(GO) test -run '^$$' -bench . -benchtime 1x ./... 2>&1) || { echo "$$out"; exit 1; }; \
	done

# fuzz runs each fuzz target of every module for FUZZTIME (go test fuzzes
# one target per invocation). An input that fails is saved under the
# package's testdata/fuzz, where go test then replays it.
FUZZTIME ?= 10s
fuzz:
	@for m in . $(MODULES) bench; do \
		[ -f $$m/go.mod ] || continue; \
		list=$$(cd $$m && $(GO) test -list '^Fuzz' ./... 2>&1) || { echo "$$list"; exit 1; }; \
		echo "$$list" | awk '/^Fuzz/ { names = names " " $$1 } /^ok / { if (names != "") print $$2 names; names = "" }' | \
		while read pkg names; do \
			for n in $$names; do \
				echo "fuzz $$pkg $$n ($(FUZZTIME))"; \
				(cd $$m && $(GO) test -run '^$$' -fuzz "^$$n\$$" -fuzztime $(FUZZTIME) $$pkg) || exit 1; \
			done; \
		done || exit 1; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(MAKE) bench-peers charts

# bench-peers runs the bench module at its full sizes (CACHET_BENCH_FULL=1:
# the 1M-access hit ratio trace, 1M entries for memory, 1e6 resident keys)
# into bench/results.txt, in about 10 minutes on 2 cores. The one-replay
# benchmarks (hit ratio, memory, staleness) run a fixed number of times;
# the timed ones three times each, for the median and spread.
BENCH_FLAGS := -run '^$$' -benchmem -timeout 30m
bench-peers:
	cd bench && { \
	CACHET_BENCH_FULL=1 $(GO) test $(BENCH_FLAGS) -bench '^Benchmark(HitRatio|MemoryPerEntry)$$' -benchtime 1x . && \
	CACHET_BENCH_FULL=1 $(GO) test $(BENCH_FLAGS) -bench '^BenchmarkLocalTier$$/^Staleness$$' -benchtime 5x . && \
	CACHET_BENCH_FULL=1 $(GO) test $(BENCH_FLAGS) -bench '^BenchmarkLocal$$' -cpu 1,2 -benchtime 300ms -count 3 . && \
	CACHET_BENCH_FULL=1 $(GO) test $(BENCH_FLAGS) -bench '^Benchmark(Codec|Redis|RedisPaired|Memoize.*|RemoteParallel|Growth)$$' -benchtime 300ms -count 3 . && \
	CACHET_BENCH_FULL=1 $(GO) test $(BENCH_FLAGS) -bench '^BenchmarkLocalTier$$/^Hit$$' -benchtime 300ms -count 3 . ; \
	} >results.txt 2>&1; status=$$?; cat results.txt; exit $$status

# charts redraws bench/charts/*.svg and bench/charts/summary.md from
# bench/results.txt (make bench-peers writes it).
charts:
	cd bench && $(GO) run ./cmd/charts -out charts results.txt
