#!/bin/sh
# make bench: every figure beside its baseline, measured in this one run.
#  1. batch edge throughput on a capture, against dnstap-ldns -q (a C peer
#     that only decodes) and cat (the I/O floor), with and without the
#     histograms (well-known list on), median of 5 runs each;
#  2. HLL add/union/cardinality (bench_hll);
#  3. well-known list RSS and lookup time for 100k, 1M and 10M names
#     (bench_wkd; the first size is the baseline of the others);
#  4. tapir core under concurrent signed uploads over loopback: throughput,
#     latency percentiles, and a loss check against the core's own counts
#     (bench/load_core.py; LOAD_EDGES, LOAD_RATE, LOAD_SECONDS, LOAD_SIZE).
set -eu
BUILD=${1:-build}
FILE=${2:-../shared/data/unbound-medium.dnstap}
LIST=${3:-../shared/data/well-known-domains.txt}
cd "$(dirname "$0")/.."
TAPIR=$BUILD/tapir

echo "== machine"
grep -m1 'model name' /proc/cpuinfo || true
echo "cores: $(nproc)"

if [ -f "$FILE" ]; then
	echo "== batch edge throughput"
	/usr/bin/python3 - "$TAPIR" "$FILE" "$LIST" <<'PY'
import json, os, shutil, statistics, subprocess, sys, tempfile, time
tapir, path, wkd = sys.argv[1:4]
tmp = tempfile.mkdtemp()
def timed(cmd):
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)
out = os.path.join(tmp, 's.json')
subprocess.run([tapir, 'edge', '--input-file', path, '--summary-json', out],
               stderr=subprocess.DEVNULL, check=True)
frames = json.load(open(out))['frames']
t_edge = timed([tapir, 'edge', '--input-file', path])
t_hist = timed([tapir, 'edge', '--input-file', path, '--well-known-domains-file', wkd,
                '--data-dir', os.path.join(tmp, 'data')]) if os.path.exists(wkd) else float('nan')
t_ldns = timed(['dnstap-ldns', '-q', '-r', path])
t_cat = timed(['cat', path])
shutil.rmtree(tmp)
print(f'file {path} {os.path.getsize(path)} bytes {frames} frames')
print(f'edge_count_only {t_edge*1000:.1f} ms {frames/t_edge:,.0f} frames/s')
print(f'edge_histograms {t_hist*1000:.1f} ms {frames/t_hist:,.0f} frames/s (list load and Parquet writes included)')
print(f'dnstap_ldns_q {t_ldns*1000:.1f} ms {frames/t_ldns:,.0f} frames/s')
print(f'cat {t_cat*1000:.1f} ms')
print(f'ratio_edge_vs_dnstap_ldns {t_ldns/t_edge:.1f} x faster (histograms on: {t_ldns/t_hist:.1f} x)')
print(f'ratio_edge_time_vs_cat {t_edge/t_cat:.1f} x')
PY
else
	echo "== batch edge throughput: $FILE is absent, skipped"
fi

echo "== HLL (bench_hll)"
"$BUILD/bench/bench_hll"

echo "== well-known list (bench_wkd)"
"$BUILD/bench/bench_wkd" ${WKD_SIZES:-100000 1000000 10000000}

echo "== core under load (bench/load_core.py: ${LOAD_EDGES:-8} edges x ${LOAD_RATE:-5} files/s for ${LOAD_SECONDS:-60} s)"
/usr/bin/python3 bench/load_core.py "$BUILD" --edges "${LOAD_EDGES:-8}" --rate "${LOAD_RATE:-5}" \
	--seconds "${LOAD_SECONDS:-60}" --size "${LOAD_SIZE:-16384}"
