# ambient - top-level Makefile.  The build itself is CMake; this file gives
# the commands people type.  `make test` and `make demo` install what they
# need first (`make deps`), so a fresh clone needs nothing else.

PREFIX ?= /usr/local
DESTDIR ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all build deps test test-unit test-asan demo bench install clean format

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/deps.sh

# The sanitizer build of the unit and store tests runs first; the full suite
# (unit, store, integration) last, so the run ends with CTest's summary line.
test: deps
	$(MAKE) test-asan
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L 'unit|store'

test-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DAMBIENT_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j$(JOBS) -L 'unit|store'

# The whole system for a minute (Ctrl-C stops it sooner); DEMO_ARGS adds
# options, e.g. DEMO_ARGS=--live or DEMO_ARGS="--dir /tmp/d".
DEMO_ARGS ?=
demo: deps build
	$(BUILD)/ambient demo --duration 60 $(DEMO_ARGS)

bench: deps build
	$(BUILD)/bench/bench_append
	bench/mcp.sh $(BUILD)
	bench/scale/run.sh $(BUILD)
	bench/feedback/run.sh $(BUILD)
	bench/cluster/run.sh $(BUILD)

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
