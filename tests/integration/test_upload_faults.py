# SPDX-License-Identifier: BSD-2-Clause
"""Faults on the upload path edge -> core (issue 5), with real processes on
loopback: `tapir edge` and `tapir core`, and Python clients that sign
uploads on their own (core_harness.Signer: RFC 9421 base from the RFC's
text, hashlib digests, python3-cryptography Ed25519).

What must hold, checked against files on disk and digests computed here:
- core down for several upload cycles, then back: two batch runs against a
  port where nothing listens exit 1 and leave their files in the outbox; a
  live edge started later (a restart of the edge) fails a few more cycles,
  then the core comes up on that port and everything arrives: the stored
  tree holds exactly the edge's files (same sha256 multiset), one object
  each, and the core's statistics count them once;
- idempotency: the same files uploaded again (moved back from sent/ to the
  outbox) get 201 and store nothing; the core counts them as duplicates;
  files whose copy is already in sent/ are not even sent;
- kill -9 of the core in the middle of many concurrent uploads, several
  times at different moments: after each restart on the same data
  directory (recovery runs at open) every object file has its metadata and
  payload, every aggregate the statistics count has its file, every upload
  answered 201 before the kill is there with its bytes, no temporary file
  is left or counted, and re-sending what got no answer stores each body
  exactly once.
"""
import glob
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import core_harness  # noqa: E402
from core_harness import content_digest  # noqa: E402

try:
    import cryptography  # noqa: F401 - core_harness.keygen signs with it
except ImportError:
    harness.skip('python3-cryptography is not installed')

if not os.access(harness.TAPIR, os.X_OK):
    harness.skip(f'{harness.TAPIR} is not built')

KID = 'edge-faults.example'
T0 = 1764780000  # a minute boundary
OBJECT_RE = re.compile(r'^id=([0-9a-f]{24})\.parquet$')
HIVE = ['type', 'year', 'month', 'day', 'hour', 'minute', 'second', 'creator']


def capture(path, t0, minutes):
    """A dnstap file with one well-known response per minute."""
    frames = [harness.dnstap_frame(harness.dnstap_message(
        tsec=t0 + 60 * i + 5, tnsec=0, wire=harness.dns_message('example.com.')))
        for i in range(minutes)]
    with open(path, 'wb') as f:
        f.write(harness.fstrm_file(frames))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def metric(core, name):
    status, _, raw = core.request('GET', '/metrics')
    if status != 200:
        raise AssertionError(f'/metrics: {status}')
    m = re.search(rf'^{name} (\d+)$', raw.decode(), re.M)
    if m is None:
        raise AssertionError(f'{name} not in /metrics')
    return int(m.group(1))


def scan_store(root):
    """(objects {id: path}, temporary files) under DATA/aggregates."""
    objects, temps = {}, []
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            m = OBJECT_RE.match(f)
            if m:
                objects[m.group(1)] = p
            else:
                temps.append(p)
    return objects, temps


class FaultTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-faults-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.keys = os.path.join(self.tmp, 'keys')
        os.makedirs(self.keys)
        self.jwk, self.signer = core_harness.keygen(self.tmp, KID, self.keys)
        self.list = os.path.join(self.tmp, 'wkd.txt')
        with open(self.list, 'w') as f:
            f.write('example.com.\n')
        self.data = os.path.join(self.tmp, 'edge')
        hist = os.path.join(self.data, 'parquet', 'histograms')
        self.outbox, self.sent = os.path.join(hist, 'outbox'), os.path.join(hist, 'sent')

    def names(self, d):
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def edge_args(self, port, wait):
        return ['--data-dir', self.data, '--well-known-domains-file', self.list,
                '--http-url', f'http://127.0.0.1:{port}', '--http-signing-key-file', self.jwk,
                '--http-upload-wait', str(wait)]

    def batch(self, port, wait, input_file, expect_rc):
        summary, stderr, _ = harness.run_edge_file(path=input_file, args=self.edge_args(port, wait),
                                                   expect_rc=expect_rc)
        return summary['sender'], stderr

    def check_store_holds(self, core, files):
        """The core's tree holds exactly these files' bytes, once each."""
        objects, temps = scan_store(core.aggregates_dir)
        self.assertEqual(temps, [])
        self.assertEqual(sorted(sha256(read(p)) for p in objects.values()),
                         sorted(sha256(read(p)) for p in files))
        for p in objects.values():
            rel = os.path.relpath(p, core.aggregates_dir).split(os.sep)
            self.assertEqual([s.split('=')[0] for s in rel[:-1]], HIVE)
            self.assertEqual(rel[0], 'type=histogram')
            self.assertEqual(rel[-2], 'creator=' + KID)
        stats = core.get_json('/api/v1/stats/aggregates')
        self.assertEqual(stats['aggregates_count'], len(files))
        self.assertEqual(stats['aggregates_total_size'], sum(os.path.getsize(p) for p in files))
        return stats

    def test_core_down_several_cycles_then_back(self):
        port = harness.free_port()  # nothing listens there until the core starts
        runs = [(T0, 4), (T0 + 3600, 3)]
        failed = []
        for i, (t0, minutes) in enumerate(runs):
            path = os.path.join(self.tmp, f'run{i}.dnstap')
            capture(path, t0, minutes)
            s, stderr = self.batch(port, 3, path, expect_rc=1)
            self.assertIn('http-upload-wait', stderr)
            # Attempts at 0, 1 and 3 s of backoff: more than one cycle failed.
            self.assertGreaterEqual(s['failed'], 2, s)
            self.assertEqual((s['uploaded'], s['last_status']), (0, 0), s)
            failed.append(s['failed'])
        total = sum(m for _, m in runs)
        self.assertEqual(len(self.names(self.outbox)), total)
        self.assertEqual(self.names(self.sent), [])
        kept = {n: read(os.path.join(self.outbox, n)) for n in self.names(self.outbox)}

        # A restarted edge, live this time, resumes from the outbox; the
        # core stays down for its first cycles (backoff 1, 2, 4 s...).
        live_dir = os.path.join(self.tmp, 'live')
        os.makedirs(live_dir)
        edge = harness.EdgeServer(live_dir, args=self.edge_args(port, 5))
        self.addCleanup(edge.kill)
        time.sleep(4)
        self.assertEqual(len(self.names(self.outbox)), total)
        core = core_harness.Core(self.tmp, self.keys, port=port)
        self.addCleanup(core.kill)
        deadline = time.time() + 40
        while self.names(self.outbox) and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.names(self.outbox), [], edge.log()[-2000:])
        rc, summary = edge.stop(timeout=30)
        self.assertEqual(rc, 0, edge.log()[-2000:])
        s = summary['sender']
        self.assertGreaterEqual(s['failed'], 3, s)
        sent = sorted(glob.glob(os.path.join(self.sent, '*.parquet')))
        self.assertEqual(s['uploaded'], len(sent), s)
        failed.append(s['failed'])
        print(f'core down: {len(sent)} files stored once after failed attempts '
              f'(batch, batch, live) {failed}', file=sys.stderr)
        # What the outbox held is in sent/, unchanged.
        for n, data in kept.items():
            self.assertEqual(read(os.path.join(self.sent, n)), data)
        self.check_store_holds(core, sent)
        self.assertEqual(metric(core, 'tapir_core_aggregates_stored_total'), len(sent))
        self.assertEqual(metric(core, 'tapir_core_aggregates_duplicate_total'), 0)
        for oid, p in scan_store(core.aggregates_dir)[0].items():
            meta = core.get_json(f'/api/v1/aggregates/{oid}')
            self.assertEqual(meta['headers']['content-digest'], content_digest(read(p)))
        creators = core.get_json('/api/v1/stats/creators')['creators']
        self.assertEqual([(c['creator'], c['aggregates_count']) for c in creators],
                         [(KID, len(sent))])

        # The same files again (sent/ emptied back into the outbox, as after
        # a lost 201): every one gets 201, nothing new is stored.
        for p in sent:
            os.rename(p, os.path.join(self.outbox, os.path.basename(p)))
        empty = os.path.join(self.tmp, 'empty.dnstap')
        capture(empty, T0, 0)
        s, _ = self.batch(port, 30, empty, expect_rc=0)
        self.assertEqual((s['uploaded'], s['pending'], s['last_status']), (len(sent), 0, 201), s)
        self.assertEqual(self.names(self.outbox), [])
        self.check_store_holds(core, sent)
        self.assertEqual(metric(core, 'tapir_core_aggregates_stored_total'), len(sent))
        self.assertEqual(metric(core, 'tapir_core_aggregates_duplicate_total'), len(sent))
        # Copies of files already in sent/: dropped by the edge, not sent.
        for p in sent:
            shutil.copy(p, self.outbox)
        s, _ = self.batch(port, 30, empty, expect_rc=0)
        self.assertEqual((s['uploaded'], s['duplicates_skipped'], s['pending']),
                         (0, len(sent), 0), s)
        self.assertEqual(metric(core, 'tapir_core_aggregates_duplicate_total'), len(sent))
        self.check_store_holds(core, sent)
        self.assertEqual(core.stop(), 0, core.log()[-3000:])

    # ---- kill -9 of the core during uploads ---------------------------------

    def post(self, port, body):
        """(status or None when there was no answer, aggregate id or None)."""
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=20)
        try:
            c.request('POST', '/api/v1/aggregate/histogram', body, self.signer.headers(body))
            r = c.getresponse()
            r.read()
            loc = r.getheader('Location') or ''
            return r.status, loc.rsplit('/', 1)[-1] if loc else None
        except (OSError, http.client.HTTPException):
            return None, None
        finally:
            c.close()

    def upload_until_killed(self, core, delay, threads=6):
        """Concurrent uploads of fresh bodies; SIGKILL of the core after
        delay seconds. Returns [(body, status, id)]."""
        results, lock, stop = [], threading.Lock(), threading.Event()

        def worker():
            while not stop.is_set():
                body = os.urandom(random.randint(16 << 10, 256 << 10))
                status, oid = self.post(core.port, body)
                with lock:
                    results.append((body, status, oid))
        ts = [threading.Thread(target=worker) for _ in range(threads)]
        for t in ts:
            t.start()
        time.sleep(delay)
        core.kill()
        stop.set()
        for t in ts:
            t.join(timeout=30)
        return results

    def check_consistent(self, core, acked):
        """No object without metadata, no metadata without object, and
        every acknowledged upload present with its bytes."""
        objects, temps = scan_store(core.aggregates_dir)
        self.assertEqual(temps, [], 'temporary files left after recovery')
        sizes = 0
        for oid, p in objects.items():
            data = read(p)
            sizes += len(data)
            status, _, raw = core.request('GET', f'/api/v1/aggregates/{oid}')
            self.assertEqual(status, 200, f'object without metadata: {p}')
            meta = json.loads(raw)
            self.assertEqual((meta['content_length'], meta['headers']['content-digest']),
                             (len(data), content_digest(data)))
            status, _, payload = core.request('GET', f'/api/v1/aggregates/{oid}/payload')
            self.assertEqual((status, sha256(payload)), (200, sha256(data)))
        stats = core.get_json('/api/v1/stats/aggregates')
        self.assertEqual((stats['aggregates_count'], stats['aggregates_total_size']),
                         (len(objects), sizes))
        creators = core.get_json('/api/v1/stats/creators')['creators']
        self.assertEqual(sum(c['aggregates_count'] for c in creators), len(objects))
        self.assertEqual(sum(c['aggregates_total_size'] for c in creators), sizes)
        self.assertEqual(core.get_json('/api/v1/healthcheck')['aggregates_count'], len(objects))
        for oid, body in acked.items():
            self.assertIn(oid, objects, 'a 201 before the kill was lost')
            self.assertEqual(sha256(read(objects[oid])), sha256(body))
        return objects

    def test_kill_9_during_uploads(self):
        port = harness.free_port()
        core = core_harness.Core(self.tmp, self.keys, port=port)
        self.addCleanup(lambda: core.kill())
        acked = {}      # id -> body, every 201
        recovered = []  # "interrupted put(s)" removed by each recovery
        temps = []      # temporary files found right after each kill
        for delay in (0.2, 0.7, 1.5, 0.05 + random.random()):
            results = self.upload_until_killed(core, delay)
            for body, status, oid in results:
                if status is not None:
                    self.assertEqual(status, 201)
                    acked[oid] = body
            unanswered = [b for b, status, _ in results if status is None]
            self.assertGreater(len(results), len(unanswered), 'nothing got through before the kill')
            temps.append(len(scan_store(core.aggregates_dir)[1]))
            core = core_harness.Core(self.tmp, self.keys, port=port)
            m = re.search(r'recovery: removed (\d+) interrupted', core.log())
            recovered.append(int(m.group(1)) if m else 0)
            objects = self.check_consistent(core, acked)
            # Clients retry what got no answer: each body is stored once,
            # or found already stored (its metadata committed before the
            # kill) with its object.
            new = 0
            for body in unanswered:
                status, oid = self.post(port, body)
                self.assertEqual(status, 201)
                if oid not in objects:
                    new += 1
                acked[oid] = body
            objects = self.check_consistent(core, acked)
            self.assertEqual(len(objects), len(acked))
            self.assertEqual(len({sha256(b) for b in acked.values()}), len(acked))
            self.assertEqual(metric(core, 'tapir_core_aggregates_stored_total'), new)
            self.assertEqual(metric(core, 'tapir_core_aggregates_duplicate_total'),
                             len(unanswered) - new)
        print(f'kill -9 rounds: {len(acked)} aggregates stored; per round, temporary files '
              f'after the kill {temps}, interrupted puts removed by recovery {recovered}',
              file=sys.stderr)
        self.assertEqual(core.stop(), 0, core.log()[-3000:])


if __name__ == '__main__':
    harness.main()
