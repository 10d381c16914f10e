#!/bin/sh
# First throughput figure (the performance issue builds the full suite):
# batch edge on a capture, side by side with dnstap-ldns -q (a C peer that
# only decodes) and cat (the I/O floor), same file, same invocation, median
# of five runs each.
set -eu
TAPIR=${1:-build}/tapir
FILE=${2:-../shared/data/unbound-medium.dnstap}
[ -f "$FILE" ] || { echo "bench: $FILE is absent" >&2; exit 0; }
cd "$(dirname "$0")/.." 2>/dev/null || true
/usr/bin/python3 - "$TAPIR" "$FILE" <<'PY'
import json, os, statistics, subprocess, sys, tempfile, time
tapir, path = sys.argv[1], sys.argv[2]
def timed(cmd):
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, 's.json')
    subprocess.run([tapir, 'edge', '--input-file', path, '--summary-json', out],
                   stderr=subprocess.DEVNULL, check=True)
    frames = json.load(open(out))['frames']
t_edge = timed([tapir, 'edge', '--input-file', path])
t_ldns = timed(['dnstap-ldns', '-q', '-r', path])
t_cat = timed(['cat', path])
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
print(f'cpu: {cpu}')
print(f'file: {path} ({os.path.getsize(path)} bytes, {frames} frames)')
print(f'tapir edge --input-file : {t_edge*1000:8.1f} ms  {frames/t_edge:12,.0f} frames/s')
print(f'dnstap-ldns -q -r       : {t_ldns*1000:8.1f} ms  {frames/t_ldns:12,.0f} frames/s')
print(f'cat                     : {t_cat*1000:8.1f} ms')
print(f'ratio tapir/dnstap-ldns : {t_ldns/t_edge:6.1f}x faster')
print(f'ratio tapir/cat time    : {t_edge/t_cat:6.1f}x')
PY
