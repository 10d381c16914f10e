# The user's entry points. meson + ninja do the building; these targets only
# make each task one command on a fresh Debian 12 machine.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_RELEASE ?= build-release
FUZZ_SECONDS ?= 60

.PHONY: all deps demo check check-fast bench fuzz clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

$(BUILD_FUZZ)/build.ninja:
	CC=clang meson setup $(BUILD_FUZZ) --buildtype=debug -Dfuzz=enabled \
	  -Db_sanitize=address,undefined -Db_lundef=false

# Runs the edge on the bundled sample capture (made by scripts/make-sample.sh
# with a real Unbound) and prints its summary.
demo: deps all
	./scripts/demo.sh $(BUILD)/tapir

# Every test: unit, oracle, fuzz-corpus replay and integration, in the normal
# build and again under ASan+UBSan.
check: deps
	./scripts/check.sh $(BUILD) $(BUILD_ASAN) $(BUILD_RELEASE) $(BUILD_FUZZ)

check-fast: all
	meson test -C $(BUILD) --print-errorlogs

bench: deps all
	./scripts/bench.sh $(BUILD)

fuzz: deps $(BUILD_FUZZ)/build.ninja
	ninja -C $(BUILD_FUZZ)
	./scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_RELEASE)
