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
#     (bench/load_core.py; LOAD_EDGES, LOAD_RATE, LOAD_SECONDS, LOAD_SIZE);
#  5. the performance issue's suite on a generated capture (tapir gen, made
#     once and kept in BUILD/bench-data/ under a name that holds every
#     argument): batch edge with 1 and 2 worker threads against dnstap-ldns
#     -q and cat on the same file, median of 3, with the edge's peak RSS;
#     per-stage microbenchmarks (bench_stages, bench_cryptopan); live
#     unix-socket input at increasing replay rates. GEN_MESSAGES (default 10000000), GEN_LIST (1000000),
#     GEN_CLIENTS (100000), GEN_MINUTES (10), GEN_UNKNOWN (0.2), GEN_SEED (1),
#     STAGE_FRAMES (1000000), LIVE_RATES ("250000 500000 1000000 2000000"),
#     LIVE_SECONDS (20; the issue asks 60), LIVE_CHUNK (1000000 messages,
#     replayed in a loop).
# BENCH_SECTIONS picks sections (default all: "medium hll wkd core gen
# stages live").
set -eu
BUILD=${1:-build}
FILE=${2:-../shared/data/unbound-medium.dnstap}
LIST=${3:-../shared/data/well-known-domains.txt}
cd "$(dirname "$0")/.."
TAPIR=$BUILD/tapir

echo "== machine"
grep -m1 'model name' /proc/cpuinfo || true
echo "cores: $(nproc)"
SECTIONS=${BENCH_SECTIONS:-medium hll wkd core gen stages live}
want() {
	case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}

if ! want medium; then
	:
elif [ -f "$FILE" ]; then
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

if want hll; then
	echo "== HLL (bench_hll)"
	"$BUILD/bench/bench_hll"
fi

if want wkd; then
	echo "== well-known list (bench_wkd)"
	"$BUILD/bench/bench_wkd" ${WKD_SIZES:-100000 1000000 10000000}
fi

if want core; then
	echo "== core under load (bench/load_core.py: ${LOAD_EDGES:-8} edges x ${LOAD_RATE:-5} files/s for ${LOAD_SECONDS:-60} s)"
	/usr/bin/python3 bench/load_core.py "$BUILD" --edges "${LOAD_EDGES:-8}" --rate "${LOAD_RATE:-5}" \
		--seconds "${LOAD_SECONDS:-60}" --size "${LOAD_SIZE:-16384}"
fi

# Generated inputs: made once, then reused, so every later run measures the
# same bytes (tapir gen is deterministic for given arguments; the name keeps
# them all, so changing one makes a new file). Written under a temporary
# name and renamed, so an interrupted run never leaves a short file behind.
DATA=$BUILD/bench-data
GEN_MESSAGES=${GEN_MESSAGES:-10000000}
GEN_LIST=${GEN_LIST:-1000000}
GEN_CLIENTS=${GEN_CLIENTS:-100000}
GEN_MINUTES=${GEN_MINUTES:-10}
GEN_UNKNOWN=${GEN_UNKNOWN:-0.2}
GEN_SEED=${GEN_SEED:-1}
GEN_NAMES=$DATA/list-n$GEN_LIST-s$GEN_SEED.txt
gen_list() {
	if [ ! -f "$GEN_NAMES" ]; then
		mkdir -p "$DATA"
		"$TAPIR" gen --make-list "$GEN_LIST" --out "$GEN_NAMES.tmp" --seed "$GEN_SEED" >&2
		mv "$GEN_NAMES.tmp" "$GEN_NAMES"
	fi
}
# gen_capture MESSAGES: prints the path of the capture.
gen_capture() {
	gen_list
	f=$DATA/capture-n$1-c$GEN_CLIENTS-m$GEN_MINUTES-u$GEN_UNKNOWN-s$GEN_SEED-list$GEN_LIST.dnstap
	if [ ! -f "$f" ]; then
		"$TAPIR" gen --out "$f.tmp" --messages "$1" --names "$GEN_NAMES" --clients "$GEN_CLIENTS" \
			--minutes "$GEN_MINUTES" --unknown-share "$GEN_UNKNOWN" --seed "$GEN_SEED" >&2
		mv "$f.tmp" "$f"
	fi
	echo "$f"
}

if want gen; then
	CAPTURE=$(gen_capture "$GEN_MESSAGES")
	echo "== batch edge on a generated capture (median of 3 runs each)"
	/usr/bin/python3 - "$TAPIR" "$CAPTURE" "$GEN_NAMES" <<'PY'
import json, os, shutil, statistics, subprocess, sys, tempfile, time
tapir, path, wkd = sys.argv[1:4]
tmp = tempfile.mkdtemp()
data = os.path.join(tmp, 'data')
def edge(threads, with_list):
    cmd = [tapir, 'edge', '--input-file', path, '--threads', str(threads)]
    return cmd + (['--well-known-domains-file', wkd, '--data-dir', data] if with_list else [])
def once(cmd):
    shutil.rmtree(data, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t
def timed(cmd):
    return statistics.median(once(cmd) for _ in range(3))
# Peak RSS of one run with the list, alone in a fresh process: ru_maxrss of
# RUSAGE_CHILDREN is the largest of all children waited for so far.
def peak_rss_mib(cmd):
    shutil.rmtree(data, ignore_errors=True)
    return int(subprocess.run([sys.executable, '-c',
        'import resource, subprocess, sys\n'
        'subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)\n'
        'print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)'] + cmd,
        stdout=subprocess.PIPE, check=True, text=True).stdout) / 1024
rss = {t: peak_rss_mib(edge(t, True)) for t in (1, 2)}
out = os.path.join(tmp, 's.json')
shutil.rmtree(data, ignore_errors=True)
subprocess.run(edge(1, True) + ['--summary-json', out], stderr=subprocess.DEVNULL, check=True)
s = json.load(open(out))
frames, processed = s['frames'], s['processed']
t = {(n, lst): timed(edge(n, lst)) for lst in (False, True) for n in (1, 2)}
t_ldns = timed(['dnstap-ldns', '-q', '-r', path])
t_cat = timed(['cat', path])
shutil.rmtree(tmp)
size = os.path.getsize(path)
print(f'file {path} {size} bytes {frames} frames ({processed} processed)')
for lst, what in ((False, 'count_only'), (True, 'list_histograms_seen_store')):
    for n in (1, 2):
        print(f'edge_{what}_threads{n} {t[n, lst]:.3f} s {frames/t[n, lst]:,.0f} msgs/s')
print(f'dnstap_ldns_q {t_ldns:.3f} s {frames/t_ldns:,.0f} msgs/s')
print(f'cat {t_cat:.3f} s {size/t_cat/1e9:.2f} GB/s')
for n in (1, 2):
    print(f'threads{n}: ratio_edge_vs_dnstap_ldns {t_ldns/t[n, False]:.1f} x (list on: {t_ldns/t[n, True]:.1f} x); '
          f'ratio_edge_time_vs_cat {t[n, False]/t_cat:.1f} x (list on: {t[n, True]/t_cat:.1f} x)')
print(f'scaling_2_vs_1_threads count_only {t[1, False]/t[2, False]:.2f} x, '
      f'list_histograms_seen_store {t[1, True]/t[2, True]:.2f} x')
for n in (1, 2):
    print(f'edge_peak_rss_list_histograms_threads{n} {rss[n]:.1f} MiB')
PY
fi

if want stages; then
	CAPTURE=$(gen_capture "$GEN_MESSAGES")
	echo "== per-stage microbenchmarks (bench_stages on the first ${STAGE_FRAMES:-1000000} frames; bench_cryptopan), median of 5"
	"$BUILD/bench/bench_stages" "$CAPTURE" "$GEN_NAMES" "${STAGE_FRAMES:-1000000}"
	"$BUILD/bench/bench_cryptopan"
fi

if want live; then
	LIVE_CAPTURE=$(gen_capture "${LIVE_CHUNK:-1000000}")
	echo "== live: tapir replay --rate R into tapir edge --input-unix (counters only), ${LIVE_SECONDS:-20} s per rate"
	/usr/bin/python3 - "$TAPIR" "$LIVE_CAPTURE" "${LIVE_SECONDS:-20}" \
		${LIVE_RATES:-250000 500000 1000000 2000000} <<'PY'
import json, math, os, resource, shutil, signal, subprocess, sys, tempfile, time
tapir, path, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
rates = [int(r) for r in sys.argv[4:]]
hz = os.sysconf('SC_CLK_TCK')
# The capture's frames: replayed K times, K chosen to fill the duration.
tmp = tempfile.mkdtemp()
out = os.path.join(tmp, 'count.json')
subprocess.run([tapir, 'edge', '--input-file', path, '--summary-json', out],
               stderr=subprocess.DEVNULL, check=True)
chunk = json.load(open(out))['frames']
def cpu_s(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / hz  # utime + stime
def live(rate):
    sock = os.path.join(tmp, 'edge.sock')
    summary = os.path.join(tmp, 'live.json')
    edge = subprocess.Popen([tapir, 'edge', '--input-unix', sock, '--summary-json', summary],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        loops = max(1, math.ceil(rate * secs / chunk))
        # The replay is the only child waited for in between: its CPU tells
        # whether a missed rate is the producer's limit or the edge's.
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0, t0 = cpu_s(edge.pid), time.perf_counter()
        r = subprocess.run([tapir, 'replay', path, '--unix', sock, '--rate', str(rate),
                            '--loop', str(loops)], stdout=subprocess.PIPE, text=True, check=True)
        c1, t1 = cpu_s(edge.pid), time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        edge.send_signal(signal.SIGTERM)
        edge.wait(timeout=60)
    sent = json.loads(r.stdout)
    got = json.load(open(summary))
    os.unlink(summary)
    replay_cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / (t1 - t0)
    return sent, got, (c1 - c0) / (t1 - t0), replay_cpu, t1 - t0
for rate in [200000] + rates:
    sent, got, cpu, replay_cpu, wall = live(rate)
    ok = got['frames'] == sent['frames']
    kept = sent['rate'] >= 0.98 * rate  # replay's own clock includes the handshake
    print(f'rate {rate:>9,} /s: achieved {sent["rate"]:>11,.0f} /s over {wall:.1f} s, '
          f'sent {sent["frames"]:,}, edge counted {got["frames"]:,} '
          f'({"all" if ok else "NOT ALL"}), processed {got["processed"]:,}, '
          f'edge CPU {cpu*100:.1f}% of a core, replay CPU {replay_cpu*100:.1f}%, '
          f'rate {"kept" if kept else "NOT kept"}')
shutil.rmtree(tmp)
PY
fi
