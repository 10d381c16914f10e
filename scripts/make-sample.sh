#!/bin/sh
# make-sample.sh - makes data/sample/unbound-sample.dnstap, a small realistic
# dnstap capture written by a REAL Unbound (Debian 12: unbound 1.17.1) through
# fstrm_capture, plus data/sample/unbound-sample.expected.json and README.md.
#
# Everything stays on loopback: Unbound listens on 127.0.0.1 and ::1 (a free
# high port), answers from local-data only, and the queries come from
# 127.0.0.0/8 source addresses and ::1. The query mix is deterministic (fixed
# seed); the bytes differ between runs only in times and ports.
#
# Usage: scripts/make-sample.sh [OUTDIR]     (default: data/sample)
# Needs: unbound, fstrm-bin (fstrm_capture), python3; dnstap-ldns (optional,
# for the independent frame count in the README).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-"$ROOT/data/sample"}
PY=/usr/bin/python3
SEED=20261203
N_QUERIES=560

for tool in unbound fstrm_capture "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "make-sample: $tool is missing (scripts/install-deps.sh installs it)" >&2
		exit 1
	}
done

TMP=$(mktemp -d /tmp/tapir-sample.XXXXXX)
CAPTURE_PID=
cleanup() {
	if [ -n "$CAPTURE_PID" ] && kill -0 "$CAPTURE_PID" 2>/dev/null; then
		kill "$CAPTURE_PID" 2>/dev/null || true
		wait "$CAPTURE_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. The capture process owns the socket; Unbound connects to it.
fstrm_capture -t protobuf:dnstap.Dnstap -u "$TMP/dnstap.sock" -w "$TMP/sample.dnstap" \
	2>"$TMP/fstrm_capture.log" &
CAPTURE_PID=$!
i=0
while [ ! -S "$TMP/dnstap.sock" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$CAPTURE_PID" 2>/dev/null; then
		echo "make-sample: fstrm_capture did not start:" >&2
		cat "$TMP/fstrm_capture.log" >&2
		exit 1
	fi
	sleep 0.05
done

# 2. Unbound + the query mix (stops Unbound, which sends STOP on the stream).
"$PY" - "$ROOT" "$TMP" "$SEED" "$N_QUERIES" <<'EOF'
import json, os, sys
root, tmp, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, os.path.join(root, 'tests', 'integration'))
import unbound_harness as ub

# Popular names first (Zipf-like popularity); all get made-up addresses from
# 198.18.0.0/15 and 2001:db8::/32. google.com., youtube.com., wikipedia.org.
# and svt.se. come with more data from default_zone().
FAMOUS = ['facebook.com.', 'instagram.com.', 'amazon.com.', 'twitter.com.', 'whatsapp.com.',
          'netflix.com.', 'microsoft.com.', 'apple.com.', 'linkedin.com.', 'yahoo.com.',
          'bing.com.', 'github.com.', 'reddit.com.', 'tiktok.com.', 'office.com.', 'live.com.',
          'zoom.us.', 'spotify.com.', 'cloudflare.com.', 'akamaized.net.', 'dn.se.',
          'wordpress.org.', 'mozilla.org.', 'debian.org.', 'stackoverflow.com.', 'ebay.com.',
          'paypal.com.', 'adobe.com.', 'dropbox.com.', 'twitch.tv.', 'bbc.co.uk.', 'nytimes.com.',
          'cnn.com.', 'imdb.com.', 'pinterest.com.', 'booking.com.', 'icloud.com.',
          'googleapis.com.', 'gstatic.com.', 'doubleclick.net.', 'fbcdn.net.', 'ytimg.com.',
          'aftonbladet.se.', 'expressen.se.', 'skatteverket.se.', 'riksdagen.se.', 'iis.se.',
          'nic.se.', 'ikea.com.', 'spotifycdn.com.']
SUBS = ['www.' + n for n in FAMOUS[:30]] + ['api.github.com.', 'login.microsoftonline.com.',
                                          'outlook.office.com.', 'cdn.dn.se.']
zone = ub.default_zone(extra_names=FAMOUS + SUBS)
ranked = ['google.com.', 'youtube.com.', 'www.google.com.'] + FAMOUS[:10] + ['wikipedia.org.'] \
    + FAMOUS[10:20] + ['svt.se.', 'www.youtube.com.'] + SUBS + FAMOUS[20:] \
    + ['en.wikipedia.org.', 'example.com.', 'mail.example.com.']
ranked += [name for name in zone.names() if name not in ranked]   # the rest, least popular

# 24 IPv4 clients (the first ones busier), ::1 (busy) and 2 ACL-refused clients.
v4 = ['127.0.0.1'] + [f'127.{(i * 37) % 60 + 1}.{(i * 11) % 250}.{i * 7 % 250 + 1}' for i in range(1, 24)]
v4_weighted = [a for i, a in enumerate(v4) for _ in range(max(1, 8 // (i + 1)))]
queries = ub.random_mix(seed, n, zone, clients_v4=v4_weighted, clients_v6=['::1'],
                        clients_refused=['127.66.0.1', '127.66.7.8'], p_tcp=0.08,
                        p_refused=0.015, p_v6=0.15, ranked_names=ranked)
# a few odd ones on top: BADVERS, NOTIFY, unlogged FORMERR/NOTIMP, CHAOS A
Q = ub.Query
queries += [Q('127.0.0.1', 'udp', 'google.com.', 1, edns={'version': 1, 'bufsize': 1232}),
            Q('127.0.0.1', 'udp', 'example.com.', 6, opcode=ub.OPCODE['NOTIFY']),
            Q('127.0.0.1', 'udp', '', 0, qdcount=0, edns={'version': 0, 'bufsize': 1232}),
            Q('::1', 'udp', 'google.com.', 1, opcode=ub.OPCODE['STATUS']),
            Q('127.0.0.1', 'udp', 'version.bind.', 1, 3),
            Q('::1', 'udp', 'google.com.', 65280, edns={'version': 0, 'bufsize': 1232})]
ub.assign_ids(queries, seed)

u = ub.Unbound(tmp, zone, os.path.join(tmp, 'dnstap.sock'),
               identity='sample-resolver.example.net')
try:
    u.start()
    ub.send_queries(queries, u.port, interval=0.008)
    problems = ub.check_answers(zone, queries)
    if problems:
        sys.exit('make-sample: Unbound did not answer as expected:\n' + '\n'.join(problems[:20]))
    u.wait_flush()
    rc = u.stop()
    if rc != 0:
        sys.exit(f'make-sample: unbound exited {rc}:\n{u.log()}')
finally:
    u.kill()

expected = ub.expected_summary(zone, queries)
expected.update({
    'note': 'expected `tapir edge --input-file unbound-sample.dnstap` counters (default '
            'message types), computed from the query mix and a model of Unbound 1.17.1, '
            'not by tapir; see README.md',
    'queries_sent': len(queries),
    'clients': len({q.client for q in queries}),
    'seed': seed,
})
with open(os.path.join(tmp, 'expected.json'), 'w') as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write('\n')
EOF

# 3. Unbound is gone (its STOP was answered); fstrm_capture writes STOP on SIGTERM.
kill "$CAPTURE_PID"
wait "$CAPTURE_PID" || true
CAPTURE_PID=

mkdir -p "$OUT"
cp "$TMP/sample.dnstap" "$OUT/unbound-sample.dnstap"
cp "$TMP/expected.json" "$OUT/unbound-sample.expected.json"

# 4. Independent check: dnstap-ldns must see the frames the model predicts.
BYTES=$(wc -c <"$OUT/unbound-sample.dnstap")
"$PY" - "$OUT" <<'EOF'
import json, shutil, subprocess, sys
from collections import Counter
out = sys.argv[1]
exp = json.load(open(f'{out}/unbound-sample.expected.json'))
if shutil.which('dnstap-ldns') is None:
    print('make-sample: dnstap-ldns not installed, frame count not cross-checked', file=sys.stderr)
    sys.exit(0)
text = subprocess.run(['dnstap-ldns', '-q', '-r', f'{out}/unbound-sample.dnstap'],
                      capture_output=True, text=True, check=True).stdout
codes = Counter(line.split()[2] for line in text.splitlines() if line.strip())
names = {'CQ': 'CLIENT_QUERY', 'CR': 'CLIENT_RESPONSE'}
got = {names.get(k, k): v for k, v in codes.items()}
if got != exp['by_message_type']:
    sys.exit(f'make-sample: dnstap-ldns counts {got}, the mix implies {exp["by_message_type"]}')
print(f'make-sample: dnstap-ldns agrees: {got}', file=sys.stderr)
EOF

"$PY" - "$OUT" "$BYTES" "$N_QUERIES" <<'EOF'
import json, sys
out, size, n = sys.argv[1], int(sys.argv[2]), sys.argv[3]
e = json.load(open(f'{out}/unbound-sample.expected.json'))
mt = e['by_message_type']
def fmt(d):
    return ', '.join(f'{k} {v}' for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])))
readme = f'''# Sample dnstap capture

`unbound-sample.dnstap` ({size:,} bytes, {e["frames"]:,} frames: CLIENT_QUERY {mt["CLIENT_QUERY"]:,},
CLIENT_RESPONSE {mt["CLIENT_RESPONSE"]:,}) is a Frame Streams file (START, data frames, STOP) written by
`fstrm_capture -t protobuf:dnstap.Dnstap -u SOCK -w FILE` from the bidirectional dnstap stream of
a real Unbound 1.17.1 (Debian 12) answering {e["queries_sent"]} queries from {e["clients"]} loopback clients
over a few seconds. `make demo` / `scripts/demo.sh build/tapir` run the edge on it.

Made by `scripts/make-sample.sh` (seed {e["seed"]}; rerunning it gives the same query mix, only the
times, ports and Unbound's frame order differ). Nothing left the machine: Unbound listened on
127.0.0.1 and ::1 only, answered from `local-data` under `local-zone: "." static` (config built by
`tests/integration/unbound_harness.py`, `Unbound.config_text`), and every address in an answer
is from 198.18.0.0/15, 192.0.2.0/24 or 2001:db8::/32.

- Identity `sample-resolver.example.net`, version `unbound 1.17.1`; one worker thread;
  CLIENT_QUERY and CLIENT_RESPONSE messages only.
- Names: 55 well-known names (google.com., youtube.com., wikipedia.org., facebook.com.,
  svt.se., ...) and 40 `www.`/`api.`/... names below them with A, AAAA (a third), HTTPS (a
  quarter), MX, TXT, CAA, SRV data, asked Zipf-like; made-up and Chromium-probe names (NXDOMAIN); NODATA
  questions (existing name, other type, incl. TYPE65280); reverse PTR lookups (NXDOMAIN); CHAOS
  `version.bind.`/`hostname.bind.`/`id.server.` TXT; a few in 0x20 mixed case.
- Clients: 24 addresses in 127.0.0.0/8 (a few busy, most quiet), `::1`, and two clients in
  127.66.0.0/16 that Unbound's access control refuses. 8 % TCP (sometimes 2-3 queries on one
  connection), 15 % without EDNS.
- Odd cases, once each: EDNS version 1 (BADVERS), NOTIFY (REFUSED, logged), CHAOS A (REFUSED),
  a QDCOUNT 0 query (FORMERR) and an opcode STATUS query (NOTIMP) -- Unbound 1.17.1 answers these
  two without logging the answer, so there are fewer CLIENT_RESPONSE than CLIENT_QUERY frames.
- Refused clients get a bare 12-octet REFUSED header (QDCOUNT 0): tapir counts these
  responses as `dropped.empty_question`.

`unbound-sample.expected.json` holds the counters `tapir edge --input-file unbound-sample.dnstap`
must report with the default message types (CLIENT_RESPONSE), computed from the query mix and a
model of Unbound's answers (every live answer was checked against the model when the sample
was made, and the frame counts per type were cross-checked with `dnstap-ldns -q`):

- processed {e["processed"]}, not selected {e["not_selected"]}, dropped: {fmt(e["dropped"])}
- by rcode: {fmt(e["by_rcode"])}
- by qtype: {fmt(e["by_qtype"])}
- by class: {fmt(e["by_qclass"])}; by family: {fmt(e["by_socket_family"])}; by protocol: {fmt(e["by_socket_protocol"])}

With one worker thread Unbound wrote the frames in time order (the shared captures in
`shared/data/`, made with two threads, are not).
'''
open(f'{out}/README.md', 'w').write(readme)
EOF
echo "make-sample: wrote $OUT/unbound-sample.dnstap ($BYTES bytes), unbound-sample.expected.json, README.md" >&2
