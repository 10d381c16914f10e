#!/bin/sh
# Installs every Debian package that building, testing, fuzzing and the demo
# need. Idempotent and quick when everything is already there: apt is only
# called for packages that are missing. Run as root on Debian 12.
set -eu

PACKAGES="
build-essential meson ninja-build pkg-config clang
libjansson-dev libcmocka-dev
libprotobuf-c-dev protobuf-c-compiler libfstrm-dev fstrm-bin
libldns-dev dnstap-ldns
libargon2-dev liblmdb-dev
unbound knot-dnsutils
python3 python3-dnspython
libssl-dev zlib1g-dev
postgresql-15 postgresql-15-hll
libzstd-dev libsnappy-dev
libmosquitto-dev libnats-dev mosquitto mosquitto-clients nats-server
libmicrohttpd-dev libcurl4-openssl-dev python3-cryptography
curl
"
# The Parquet reader oracles (tests/node) run on node; the machine image
# usually has it already, so Debian's nodejs and npm are added only when
# node itself is missing.
if ! command -v node >/dev/null 2>&1; then
	PACKAGES="$PACKAGES nodejs npm"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages:$missing (run as root to install)" >&2
		exit 1
	fi
	echo "install-deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# DuckDB and hyparquet for tests/integration/test_parquet_readers.py, pinned
# by tests/node/package-lock.json. npm ci only when node_modules is missing
# or older than the lock file; the stamp keeps a second run instant.
NODE_DIR="$(dirname "$0")/../tests/node"
if [ -f "$NODE_DIR/package-lock.json" ] &&
	{ [ ! -d "$NODE_DIR/node_modules" ] ||
	  [ "$NODE_DIR/package-lock.json" -nt "$NODE_DIR/node_modules" ]; }; then
	echo "install-deps: npm ci in tests/node" >&2
	npm ci --prefix "$NODE_DIR" --no-audit --no-fund >/dev/null
	touch "$NODE_DIR/node_modules"
fi

# The Debian unbound package may start a system resolver on port 53; tapir's
# tests run their own instances on loopback ports and need nothing from it.
exit 0
