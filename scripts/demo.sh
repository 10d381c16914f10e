#!/bin/sh
# demo.sh BINARY - runs `tapir edge` on the bundled sample capture (a real
# Unbound 1.17.1 answering ~570 loopback queries; data/sample/README.md) and
# shows its human summary and its JSON summary.
set -eu

BIN=${1:-}
if [ -z "$BIN" ]; then
	echo "usage: $0 BINARY   (e.g. $0 build/tapir)" >&2
	exit 2
fi
if [ ! -x "$BIN" ]; then
	echo "demo: $BIN is not an executable (build it first: make)" >&2
	exit 1
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SAMPLE="$ROOT/data/sample/unbound-sample.dnstap"
EXPECTED="$ROOT/data/sample/unbound-sample.expected.json"
if [ ! -r "$SAMPLE" ]; then
	echo "demo: $SAMPLE is missing (scripts/make-sample.sh makes it)" >&2
	exit 1
fi

TMP=$(mktemp -d /tmp/tapir-demo.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
JSON="$TMP/summary.json"

echo "== tapir edge on data/sample/unbound-sample.dnstap ($(wc -c <"$SAMPLE") bytes)"
echo "\$ $BIN edge --input-file data/sample/unbound-sample.dnstap --summary-json $JSON"
echo
# the human summary goes to stderr; show it here in order
"$BIN" edge --input-file "$SAMPLE" --summary-json "$JSON" 2>&1
echo
echo "== summary JSON ($JSON)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
if [ -n "$PY" ]; then
	"$PY" - "$JSON" "$EXPECTED" <<'EOF'
import json, os, sys
s = json.load(open(sys.argv[1]))
# one line per key; zero drop reasons left out for brevity
for k in sorted(s):
    v = s[k]
    if k == 'dropped':
        v = {r: n for r, n in v.items() if n} or {}
        k = 'dropped (non-zero)'
    print(f'  {k}: {json.dumps(v, sort_keys=True)}')
if os.path.exists(sys.argv[2]):
    e = json.load(open(sys.argv[2]))
    keys = ['frames', 'by_message_type', 'processed', 'not_selected', 'by_rcode', 'by_qtype',
            'by_qclass', 'by_socket_family', 'by_socket_protocol']
    bad = [k for k in keys if s.get(k) != e.get(k)]
    bad += ['dropped'] if {r: n for r, n in s['dropped'].items() if n} != e['dropped'] else []
    print()
    if bad:
        print('== differs from data/sample/unbound-sample.expected.json in: ' + ', '.join(bad))
        sys.exit(1)
    print('== matches data/sample/unbound-sample.expected.json (counts implied by the query mix)')
EOF
else
	cat "$JSON"
fi
