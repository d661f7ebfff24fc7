# legato: a thin wrapper around meson and ninja. See README.md.
#   make        build build/legato
#   make run    serve $(MUSIC_DIR), or a generated demo library
#   make test   build with sanitizers and run every test
#   make bench  run the benchmarks under bench/
#   make clean  remove the build folders

BUILD     ?= build
TESTBUILD ?= build-test
LINTBUILD ?= build-clang

.PHONY: all deps build run test bench clean

all: build

deps:
	@scripts/install-deps

build: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --buildtype=release >/dev/null
	@ninja -C $(BUILD) | grep -v '^ninja: no work to do' || true
	@test -x $(BUILD)/legato

run: build
	@scripts/run

test: deps
	@test -f $(TESTBUILD)/build.ninja || meson setup $(TESTBUILD) \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true >/dev/null
	@ninja -C $(TESTBUILD) | grep -v '^ninja: no work to do' || true
	@test -x $(TESTBUILD)/legato
	@# clang must compile the project without a warning too (no tests run there).
	@test -f $(LINTBUILD)/build.ninja || CC=clang meson setup $(LINTBUILD) -Dwerror=true >/dev/null
	@ninja -C $(LINTBUILD) legato | grep -v '^ninja: no work to do' || true
	@tests/run $(TESTBUILD)

# Every benchmark runs even when an earlier one misses its target.
bench: build
	-@bench/scan
	-@bench/stream
	-@bench/api
	-@bench/dsp
	-@bench/device
	-@bench/transcode
	-@bench/listeners

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(LINTBUILD)
