# bellhop: the front door. `make run` and `make test` set up everything they need.
#
#   make run                 install missing packages, build, migrate, serve the demo on :4000
#   make test                install, build, run every unit (ctest) and black-box (node) test,
#                            on SQLite and then again on PostgreSQL (a throwaway local cluster)
#   make integration-pg      just the PostgreSQL run (unit tests of the PostgreSQL store + node)
#   make test SANITIZE=1     the same tests against an ASan+UBSan build
#   make browser             the web client's unit tests and the console in Chromium (part of test)
#   make build               just build build/bellhop
#   make bench-http          wrk: bellhop /health vs nginx serving the same bytes
#   make fuzz                libFuzzer targets (clang, build-fuzz), FUZZ_SECONDS each (default 60)

SHELL := /bin/bash
SANITIZE ?= 0
PORT ?= 4000
JOBS ?= $(shell nproc)

BUILD_PACKAGES := build-essential cmake pkg-config libuv1-dev libhttp-parser-dev \
                  libjansson-dev libsqlite3-dev libssl-dev libsodium-dev libpq-dev
TEST_PACKAGES := curl ca-certificates
# libhiredis-dev: the Redis broker (WITH_REDIS); redis-server: the multi-node tests
# (tests/integration/cluster_*.test.mjs) start their own on a free loopback port.
BUILD_PACKAGES += libhiredis-dev
TEST_PACKAGES += redis-server
# clang with its libFuzzer/sanitizer runtime (libclang-rt-dev) for `make fuzz`.
FUZZ_PACKAGES := clang libclang-rt-dev
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
PG_PACKAGES := postgresql-15 postgresql-client-15
# prometheus (with promtool), nginx-light, openssl and systemd (systemd-analyze): the monitoring
# and deployment checks in tests/integration/prometheus.test.mjs.
TEST_PACKAGES += prometheus nginx-light openssl systemd
# sqlite3 (the shell): tests/integration/fault_store_locked.test.mjs locks the database from
# another process; mount and prlimit (util-linux) are in every Debian: fault_diskfull.test.mjs.
TEST_PACKAGES += sqlite3
# fincore (util-linux-extra): tests/integration/upload_parts.test.mjs checks that O_DIRECT writes
# bypassed the page cache.
TEST_PACKAGES += util-linux-extra
BENCH_PACKAGES := wrk nginx-light bc
# Debian's Chromium for tests/browser (playwright-core drives it; it never downloads a browser).
BROWSER_PACKAGES := chromium

ifeq ($(SANITIZE),1)
  BUILD_DIR := build-asan
  CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=Debug -DENABLE_SANITIZERS=ON
else
  BUILD_DIR := build
  CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif
# Warnings are errors in CI (CI=true) and under the sanitizers.
ifneq ($(filter true 1,$(CI))$(filter 1,$(SANITIZE)),)
  CMAKE_FLAGS += -DWARNINGS_AS_ERRORS=ON
endif

.PHONY: all deps test-deps pg-deps build run test unit integration unit-pg integration-pg clean \
        bench-http

all: build

deps:
	@scripts/install-deps.sh $(BUILD_PACKAGES)

# Node.js (>= 18) runs the black-box tests; Debian's nodejs is used only when none is there.
test-deps: deps
	@scripts/install-deps.sh $(TEST_PACKAGES)
	@command -v node >/dev/null && command -v npm >/dev/null || scripts/install-deps.sh nodejs npm
	@cd tests/integration && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/bellhop migrate
	$(BUILD_DIR)/bellhop serve --demo --port $(PORT)

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

integration: build test-deps
	cd tests/integration && BELLHOP_BIN=$(CURDIR)/$(BUILD_DIR)/bellhop BELLHOP_SANITIZE=$(SANITIZE) \
	  node --test --test-concurrency=2 --test-reporter=spec --test-reporter-destination=stdout

# The web client library's unit tests (node:test) and the console in headless Chromium against
# the real binary (tests/browser). One file at a time: the feed-latency check wants a quiet box.
.PHONY: browser
browser: build test-deps
	@scripts/install-deps.sh $(BROWSER_PACKAGES)
	@cd tests/browser && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; }
	cd tests/browser && BELLHOP_BIN=$(CURDIR)/$(BUILD_DIR)/bellhop BELLHOP_SANITIZE=$(SANITIZE) \
	  node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout

pg-deps:
	@scripts/install-deps.sh $(PG_PACKAGES)

# The PostgreSQL store's own unit tests; they need BELLHOP_TEST_PG (integration-pg sets it).
unit-pg: build
	cd $(BUILD_DIR) && ctest --output-on-failure -R '^store/test_pg'

# Everything again on PostgreSQL: scripts/test-postgres.sh starts a throwaway cluster on a free
# loopback port, sets BELLHOP_TEST_PG for the tests (each test server gets its own database),
# and stops and deletes the cluster afterwards, also when a test fails.
integration-pg: build test-deps pg-deps
	scripts/test-postgres.sh run $(MAKE) --no-print-directory unit-pg integration

test: test-deps build
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory browser
	@$(MAKE) --no-print-directory integration-pg

bench-http: build
	@scripts/install-deps.sh $(BENCH_PACKAGES)
	bench/http/run.sh $(BUILD_DIR)/bellhop

# Fuzzing (fuzz/README.md): every target in fuzz/ built with clang -fsanitize=fuzzer,address,
# undefined in build-fuzz, then run one after the other for FUZZ_SECONDS each (FUZZ_TARGETS picks
# some). Fails on any crash, leak or timeout, leaving the input in build-fuzz/fuzz/artifacts/.
.PHONY: fuzz
fuzz: deps
	@scripts/install-deps.sh $(FUZZ_PACKAGES)
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DENABLE_FUZZING=ON -DBUILD_TESTS=OFF -DWITH_POSTGRES=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh build-fuzz $(FUZZ_TARGETS)

clean:
	rm -rf build build-asan
