# The two commands of the README: `make run` and `make test`.
# Both install what is missing (scripts/install-deps.sh) and build first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
PLANTED_BUILD ?= build-planted
DATA       ?= $(CURDIR)/data
LISTEN     ?= 127.0.0.1:9000
CMAKE_ARGS ?=

.PHONY: all deps configure build run test unit-test asan-test asan-build planted-test planted-build e2e-test check format clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD)

run: build
	$(BUILD)/cleave dev --data $(DATA) --listen $(LISTEN)

# Every test: static checks, unit tests, the sanitizer build of the unit
# tests, the simulator's seeds and planted bugs, and the end-to-end suites.
# scripts/test-all.sh compiles the sanitizer and planted-bug builds at the
# lowest CPU priority while the main suites run, then runs their tests.
test: build check
	scripts/test-all.sh

# The simulator must be able to fail: a build with known Raft bugs planted,
# each of which the simulator has to find within its seed budget.
planted-test: planted-build
	ctest --test-dir $(PLANTED_BUILD) -L planted --output-on-failure

planted-build: deps
	cmake -S . -B $(PLANTED_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLEAVE_UNIT_TESTS_ONLY=ON -DCLEAVE_PLANT_RAFT_BUGS=ON
	cmake --build $(PLANTED_BUILD) --target sim_planted_test

asan-test: asan-build
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  CLEAVE_SIM_SEEDS=200 ctest --test-dir $(ASAN_BUILD) --output-on-failure -L unit --timeout 1200

asan-build: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-g -DCLEAVE_SANITIZE=ON -DCLEAVE_UNIT_TESTS_ONLY=ON
	cmake --build $(ASAN_BUILD)

unit-test: build
	ctest --test-dir $(BUILD) --output-on-failure -L unit

e2e-test: build
	ctest --test-dir $(BUILD) --output-on-failure -L e2e

# Layering and purity checks (dependencies point one way).
check:
	@scripts/check-deps.sh

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(PLANTED_BUILD)
