# make test is the one command that checks everything: it installs the
# server packages the tests need (when missing and it can), then runs the
# format check, go vet, staticcheck, the race-enabled tests and the bench
# module's benchmarks once each. make fuzz (not part of make test) fuzzes
# every fuzz target for FUZZTIME each.

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# MODULES are the adapter modules under contrib/, each with its own go.mod
# so that their dependencies stay out of the root module. They require a
# released cachet (see RELEASING.md) and build against this checkout through
# the go.work at the root, so their commands run in workspace mode.
MODULES     := contrib/otelcachet contrib/promcachet
# The root module and bench run with GOWORK=off: the root is then built and
# tested with exactly the versions its go.mod declares (the workspace would
# raise them to the contrib modules' requirements), and bench, which is not
# in the workspace, uses its own replace of cachet.
NOWORK      := GOWORK=off
WORK        := GOWORK=$(CURDIR)/go.work

.PHONY: test servers fmt check-mods vet staticcheck unit bench-smoke fuzz bench bench-stampede bench-peers charts

test: servers fmt check-mods vet staticcheck unit bench-smoke

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

# check-mods fails if a published module other than the root requires
# cachet at a pseudo-version (or the v0.0.0 placeholder) or replaces a
# module with a directory outside itself: its users ignore its replace
# directives, so either would make go get of it fail once published (issue
# 15). It reads the go.mod files only, so it needs no released cachet.
# bench is exempt: it is never published and replaces cachet with "..".
check-mods:
	@status=0; \
	for f in $$(find . -name go.mod -not -path ./go.mod -not -path ./bench/go.mod -not -path '*/testdata/*' | sort); do \
		d=$$(dirname $$f); \
		j=$$(cd $$d && $(NOWORK) $(GO) mod edit -json | tr -d ' \t\n'); \
		v=$$(printf '%s' "$$j" | grep -o '"Path":"github.com/cachet-go/cachet","Version":"[^"]*"' | sed 's/.*"Version":"//; s/"$$//'); \
		if [ -n "$$v" ] && { [ "$$v" = v0.0.0 ] || printf '%s' "$$v" | grep -Eq '[0-9]{14}-[0-9a-f]{12}'; }; then \
			echo "check-mods: $$f requires github.com/cachet-go/cachet $$v, a pseudo-version; require a released version (RELEASING.md)"; status=1; \
		fi; \
		r=$$(printf '%s' "$$j" | grep -o '"New":{"Path":"[^"]*"}' | sed 's/"New":{"Path":"//; s/"}$$//' | grep -E '^(\.\.|/)'); \
		if [ -n "$$r" ]; then \
			echo "check-mods: $$f replaces a module with $$r, outside the module; its users would not see it (use the root go.work)"; status=1; \
		fi; \
	done; \
	[ $$status = 0 ] && echo "check-mods: contrib modules require released versions, no replace outside themselves"; \
	exit $$status

vet:
	$(NOWORK) $(GO) vet ./...
	@if [ -f bench/go.mod ]; then cd bench && $(NOWORK) $(GO) vet ./...; fi
	@for m in $(MODULES); do echo "vet $$m"; (cd $$m && $(WORK) $(GO) vet ./...) || exit 1; done

staticcheck:
	$(NOWORK) $(GO) run $(STATICCHECK) ./...
	@if [ -f bench/go.mod ]; then cd bench && $(NOWORK) $(GO) run $(STATICCHECK) ./...; fi
	@for m in $(MODULES); do echo "staticcheck $$m"; (cd $$m && $(WORK) $(GO) run $(STATICCHECK) ./...) || exit 1; done

unit:
	$(NOWORK) $(GO) test -race -count=1 ./...
	@for m in $(MODULES); do (cd $$m && $(WORK) $(GO) test -race -count=1 ./...) || exit 1; done

# bench-smoke runs every benchmark once so that they keep compiling and
# working; use make bench for real numbers. Its output is shown only when
# a benchmark fails.
bench-smoke:
	@for m in . bench; do \
		[ -f $$m/go.mod ] || continue; \
		echo "bench-smoke $$m"; \
		out=$$(cd $$m && $(NOWORK) $(GO) test -run '^$$' -bench . -benchtime 1x ./... 2>&1) || { echo "$$out"; exit 1; }; \
	done
	@if [ -f bench/go.mod ]; then echo "test bench/cmd"; cd bench && $(NOWORK) $(GO) test -count=1 ./cmd/...; fi

# fuzz runs each fuzz target of every module for FUZZTIME (go test fuzzes
# one target per invocation). An input that fails is saved under the
# package's testdata/fuzz, where go test then replays it.
FUZZTIME ?= 10s
fuzz:
	@for m in . $(MODULES) bench; do \
		[ -f $$m/go.mod ] || continue; \
		case $$m in contrib/*) w='$(WORK)';; *) w='$(NOWORK)';; esac; \
		list=$$(cd $$m && env $$w $(GO) test -list '^Fuzz' ./... 2>&1) || { echo "$$list"; exit 1; }; \
		echo "$$list" | awk '/^Fuzz/ { names = names " " $$1 } /^ok / { if (names != "") print $$2 names; names = "" }' | \
		while read pkg names; do \
			for n in $$names; do \
				echo "fuzz $$pkg $$n ($(FUZZTIME))"; \
				(cd $$m && env $$w $(GO) test -run '^$$' -fuzz "^$$n\$$" -fuzztime $(FUZZTIME) $$pkg) || exit 1; \
			done; \
		done || exit 1; \
	done

# bench runs every measurement: the root module's benchmarks (each for
# ROOT_BENCHTIME; the quoted figures are paired ratios, which do not need
# long runs), the stampede harness, the peers at full size and the charts.
# Each step prints how long it took; the whole is meant to stay within 10
# minutes on a quiet 2-core machine (issue 14).
ROOT_BENCHTIME ?= 200ms
bench:
	@start=$$(date +%s); \
	$(NOWORK) $(GO) test -run '^$$' -bench . -benchmem -benchtime $(ROOT_BENCHTIME) ./... >bench/results-root.txt 2>&1; status=$$?; \
	cat bench/results-root.txt; echo "bench: root benchmarks took $$(( $$(date +%s) - start ))s"; [ $$status = 0 ] || exit $$status; \
	for t in bench-stampede bench-peers charts; do \
		s=$$(date +%s); $(MAKE) --no-print-directory $$t || exit 1; echo "bench: $$t took $$(( $$(date +%s) - s ))s"; \
	done; \
	echo "bench: all took $$(( $$(date +%s) - start ))s"

# bench-stampede compares four strategies (plain, stampede lock, early
# refresh + lock, stale-while-revalidate + lock) on one hot key: 4
# processes x 12 workers over a real redis-server, at about 100 calls/s and
# as fast as the machine goes, 6s per run, about a minute in all (issue 17;
# make test runs only a tiny smoke of it). Its table is in the README's
# Memoize section.
bench-stampede:
	$(NOWORK) $(GO) run ./internal/cmd/stampede

# bench-peers runs the bench module at its full sizes (CACHET_BENCH_FULL=1:
# the 1M-access hit ratio trace, 1M entries for memory, 1e6 resident keys)
# into bench/results.txt, in about 10 minutes on 2 cores. The one-replay
# benchmarks (hit ratio, memory, staleness) run a fixed number of times;
# the timed ones three times each, for the median and spread.
BENCH_FLAGS := -run '^$$' -benchmem -timeout 30m
bench-peers:
	cd bench && { \
	CACHET_BENCH_FULL=1 $(NOWORK) $(GO) test $(BENCH_FLAGS) -bench '^Benchmark(HitRatio|MemoryPerEntry)$$' -benchtime 1x . && \
	CACHET_BENCH_FULL=1 $(NOWORK) $(GO) test $(BENCH_FLAGS) -bench '^BenchmarkLocalTier$$/^Staleness$$' -benchtime 5x . && \
	CACHET_BENCH_FULL=1 $(NOWORK) $(GO) test $(BENCH_FLAGS) -bench '^BenchmarkLocal$$' -cpu 1,2 -benchtime 300ms -count 3 . && \
	CACHET_BENCH_FULL=1 $(NOWORK) $(GO) test $(BENCH_FLAGS) -bench '^Benchmark(Codec|Redis|RedisPaired|Memoize.*|RemoteParallel|Growth)$$' -benchtime 300ms -count 3 . && \
	CACHET_BENCH_FULL=1 $(NOWORK) $(GO) test $(BENCH_FLAGS) -bench '^BenchmarkLocalTier$$/^Hit$$' -benchtime 300ms -count 3 . ; \
	} >results.txt 2>&1; status=$$?; cat results.txt; exit $$status

# charts redraws bench/charts/*.svg and bench/charts/summary.md from
# bench/results.txt (make bench-peers writes it).
charts:
	cd bench && $(NOWORK) $(GO) run ./cmd/charts -out charts results.txt
