#!/bin/sh
# Runs every test: the normal build, then the whole suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer. Ends with one line
# "N passed, N failed, N skipped" counted over both runs. Two more builds
# are compiled, not run: release (-O3, what packagers use: the optimiser
# finds warnings, so -Werror failures, that -O2 does not) and the clang
# libFuzzer build of `make fuzz` (clang warns where gcc does not).
set -u
BUILD=${1:-build}
BUILD_ASAN=${2:-build-asan}
cd "$(dirname "$0")/.."

status=0
for dir in "$BUILD" "$BUILD_ASAN"; do
	if [ ! -f "$dir/build.ninja" ]; then
		if [ "$dir" = "$BUILD_ASAN" ]; then
			meson setup "$dir" --buildtype=debug -Db_sanitize=address,undefined \
				-Db_lundef=false -Dc_args=-fno-sanitize-recover=undefined >/dev/null || exit 1
		else
			meson setup "$dir" --buildtype=debugoptimized >/dev/null || exit 1
		fi
	fi
	ninja -C "$dir" >/dev/null || { echo "build failed in $dir" >&2; exit 1; }
	echo "== tests in $dir"
	meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
done

BUILD_RELEASE=${3:-build-release}
BUILD_FUZZ=${4:-build-fuzz}
[ -f "$BUILD_RELEASE/build.ninja" ] || meson setup "$BUILD_RELEASE" --buildtype=release >/dev/null || exit 1
[ -f "$BUILD_FUZZ/build.ninja" ] || CC=clang meson setup "$BUILD_FUZZ" --buildtype=debug -Dfuzz=enabled \
	-Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
for dir in "$BUILD_RELEASE" "$BUILD_FUZZ"; do
	echo "== compile only: $dir"
	ninja -C "$dir" >/dev/null || { echo "build failed in $dir" >&2; status=1; }
done

/usr/bin/python3 - "$BUILD" "$BUILD_ASAN" <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    with open(f'{d}/meson-logs/testlog.json') as f:
        for line in f:
            r = json.loads(line)['result']
            if r in ('OK', 'EXPECTEDFAIL'):
                passed += 1
            elif r == 'SKIP':
                skipped += 1
            else:
                failed += 1
print(f'{passed} passed, {failed} failed, {skipped} skipped')
PY
exit $status
