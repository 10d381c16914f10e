#!/usr/bin/python3
"""Load test of `tapir core`: N edges upload signed aggregates concurrently at
M files/s each for D seconds, over loopback; then the core's own statistics
must count every file exactly once.

A real edge uploads one file a minute, so 8 edges at 5 files/s stand for
about 2,400 edges. Uploads are signed independently of tapir's C code (the
tests' RFC 9421 signer, tests/integration/core_harness.py), each with a
fresh random payload so no two are duplicates.

Prints requests, throughput, latency percentiles (p50, p99, max) and the
loss check; exits non-zero on any loss or error. Usage:
    bench/load_core.py BUILD_DIR [--edges N] [--rate M] [--seconds D] [--size BYTES]
"""
import argparse
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))
import core_harness  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402


def edge(port, signer, rate, seconds, size, out):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    period = 1.0 / rate
    t0 = time.monotonic()
    n = 0
    while n * period < seconds:
        wait = t0 + n * period - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        body = os.urandom(size)
        start = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(1700000000 + n * 60))
        headers = signer.headers(body, interval=start + '/PT1M')
        t = time.perf_counter()
        try:
            conn.request('POST', '/api/v1/aggregate/histogram', body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            out.append((time.perf_counter() - t, r.status, r.getheader('Location')))
        except (OSError, http.client.HTTPException) as e:
            out.append((time.perf_counter() - t, repr(e), None))
            conn.close()
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        n += 1
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--edges', type=int, default=8)
    ap.add_argument('--rate', type=float, default=5.0)
    ap.add_argument('--seconds', type=float, default=60.0)
    ap.add_argument('--size', type=int, default=16384)
    a = ap.parse_args()
    core_harness.harness.TAPIR = os.path.abspath(os.path.join(a.build, 'tapir'))
    tmp = tempfile.mkdtemp(prefix='tapir-load-')
    keys_dir = os.path.join(tmp, 'keys')
    os.mkdir(keys_dir)
    signers = []
    for i in range(a.edges):
        k = Ed25519PrivateKey.generate()
        with open(os.path.join(keys_dir, f'edge{i}.pem'), 'wb') as f:
            f.write(k.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))
        signers.append(core_harness.Signer(f'edge{i}', k, 'ed25519'))
    core = core_harness.Core(tmp, keys_dir)
    try:
        results = [[] for _ in signers]
        threads = [threading.Thread(target=edge, args=(core.port, s, a.rate, a.seconds, a.size, results[i]))
                   for i, s in enumerate(signers)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t
        stats = core.get_json('/api/v1/stats/aggregates')
        rc = core.stop()
    finally:
        core.kill()
    flat = [r for rs in results for r in rs]
    lat = sorted(r[0] for r in flat)
    ok = [r for r in flat if r[1] == 201]
    locations = {r[2] for r in ok}
    print(f'load_core edges={a.edges} rate={a.rate:g}/s each seconds={a.seconds:g} size={a.size}')
    print(f'requests {len(flat)} created {len(ok)} other {len(flat) - len(ok)} '
          f'throughput {len(flat) / wall:.1f} req/s')
    print(f'latency_ms p50 {statistics.median(lat) * 1000:.1f} '
          f'p99 {lat[max(0, -(-len(lat) * 99 // 100) - 1)] * 1000:.1f} max {lat[-1] * 1000:.1f}')
    lost = len(flat) - stats['aggregates_count']
    print(f'stored {stats["aggregates_count"]} bytes {stats["aggregates_total_size"]} '
          f'distinct_locations {len(locations)} lost {lost} core_exit {rc}')
    shutil.rmtree(tmp)
    if lost or rc != 0 or len(ok) != len(flat) or len(locations) != len(ok) \
            or stats['aggregates_total_size'] != len(ok) * a.size:
        sys.exit('load_core: LOSS OR ERRORS (see above)')


if __name__ == '__main__':
    main()
