"""Worker threads change nothing but the speed: `tapir edge --input-file`
with --threads 1, 2 and 3 writes byte-identical histogram files, the same
counters and the same session rows, on the shared captures, on a generated
capture, and on a file whose times go back and forth so that frames are
late. For that file the late frames and every minute's counts are also
computed here, independently, from the rule file.c documents (batches of
1,024 frames; batch k starts from the newest time of batches 0..k-8).
"""
import glob
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

harness.require_shared()
harness.require_node_oracles()

LIST = os.path.join(harness.DATA, 'well-known-domains.txt')
THREADS = (1, 2, 3)
BATCH, RING, LATENESS_S = 1024, 8, 10
# Run-to-run noise that is not output: the events thread's table of names
# offered today has a random key, so which repeats it catches varies.
NOISY = {('events', 'offered'), ('events', 'repeats')}


def duckdb(sql):
    return harness.node_query('duckdb', sql)


def without_noise(summary):
    s = json.loads(json.dumps(summary))
    for section, key in NOISY:
        s.get(section, {}).pop(key, None)
    return s


def files_by_name(directory):
    out = {}
    for path in sorted(glob.glob(os.path.join(directory, '*.parquet'))):
        with open(path, 'rb') as f:
            out[os.path.basename(path)] = hashlib.sha256(f.read()).hexdigest()
    return out


class ThreadsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-threads-')

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_edge(self, capture, threads, *args, wkd=LIST):
        data = os.path.join(self.tmp, f'data-{os.path.basename(capture)}-{threads}')
        out = os.path.join(self.tmp, f'summary-{threads}.json')
        p = subprocess.run([harness.TAPIR, 'edge', '--input-file', capture, '--threads', str(threads),
                            '--well-known-domains-file', wkd, '--data-dir', data,
                            '--summary-json', out, *args],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            summary = json.load(f)
        return data, summary

    def assert_same_for_all_thread_counts(self, capture, *args, wkd=LIST):
        runs = {t: self.run_edge(capture, t, *args, wkd=wkd) for t in THREADS}
        data1, summary1 = runs[1]
        hist1 = files_by_name(os.path.join(data1, 'parquet', 'histograms', 'outbox'))
        self.assertTrue(hist1, 'no histogram written')
        for t in THREADS[1:]:
            data, summary = runs[t]
            self.assertEqual(files_by_name(os.path.join(data, 'parquet', 'histograms', 'outbox')),
                             hist1, f'--threads {t}: histogram files differ from --threads 1')
            self.assertEqual(without_noise(summary), without_noise(summary1),
                             f'--threads {t}: counters differ from --threads 1')
        harness.assert_accounting(self, summary1)
        return runs

    def test_shared_captures(self):
        for name in ('unbound-medium', 'kresd-small', 'unbound-small'):
            with self.subTest(capture=name):
                self.assert_same_for_all_thread_counts(
                    os.path.join(harness.DATA, f'{name}.dnstap'))

    def test_generated_capture(self):
        wkd = os.path.join(self.tmp, 'list.txt')
        capture = os.path.join(self.tmp, 'gen.dnstap')
        subprocess.run([harness.TAPIR, 'gen', '--make-list', '20000', '--out', wkd, '--seed', '7'],
                       check=True, capture_output=True, timeout=120)
        # Half the names unknown: about 150,000 first sightings, more than
        # the events thread's queue holds, so the input has to wait for it.
        subprocess.run([harness.TAPIR, 'gen', '--out', capture, '--names', wkd, '--messages', '300000',
                        '--clients', '5000', '--minutes', '3', '--unknown-share', '0.5',
                        '--seed', '7'],
                       check=True, capture_output=True, timeout=120)
        runs = self.assert_same_for_all_thread_counts(capture, wkd=wkd)
        self.assertEqual(runs[1][1]['frames'], 300000)
        # A file never drops a name: every one was recorded by the first
        # run, so a second run over the same store finds none new.
        events = runs[1][1]['events']
        self.assertEqual(events['buffer_full'], 0)
        self.assertGreater(events['new_names'], 100000)
        data = runs[1][0]
        out = os.path.join(self.tmp, 'again.json')
        subprocess.run([harness.TAPIR, 'edge', '--input-file', capture, '--well-known-domains-file', wkd,
                        '--data-dir', data, '--summary-json', out],
                       check=True, capture_output=True, timeout=300)
        with open(out) as f:
            again = json.load(f)['events']
        self.assertEqual(again['new_names'], 0)
        self.assertEqual(again['seen_store_names'], events['new_names'])

    def test_session_rows_in_input_order(self):
        capture = os.path.join(harness.DATA, 'unbound-medium.dnstap')
        key = ['--cryptopan-key', 'key1', '--cryptopan-key-salt', 'tapir-test-salt']
        rows = {}
        for t in (1, 3):
            data, summary = self.run_edge(capture, t, *key)
            blocks = sorted(glob.glob(os.path.join(data, 'parquet', 'sessions', '*.parquet')))
            self.assertTrue(blocks, 'no session block written')
            rows[t] = [r for b in blocks for r in duckdb(f"SELECT * FROM read_parquet('{b}')")]
            self.assertEqual(len(rows[t]), summary['sessions']['rows'])
        self.assertGreater(len(rows[1]), 1000)
        self.assertEqual(rows[3], rows[1])

    def test_out_of_order_times(self):
        rng = random.Random(11)
        names = [f'name{i}.example.' for i in range(40)]
        wkd = os.path.join(self.tmp, 'list.txt')
        with open(wkd, 'w') as f:
            f.write(''.join(n + '\n' for n in names))
        start = 1704067200  # 2024-01-01T00:00:00Z
        frames, times, picks = [], [], []
        n_frames = BATCH * 26 + 300
        for i in range(n_frames):
            # A clock moving 10 ms per frame, each frame up to 25 s off.
            ts_us = start * 1000000 + i * 10000 + rng.randint(-25000000, 25000000)
            qname = rng.choice(names) if rng.random() < 0.8 else f'x{i}.unknown.'
            msg = harness.dnstap_message(tsec=ts_us // 1000000, tnsec=(ts_us % 1000000) * 1000,
                                         qaddr=bytes([10, 0, rng.randint(0, 3), rng.randint(1, 250)]),
                                         wire=harness.dns_message(qname))
            frames.append(harness.dnstap_frame(msg))
            times.append(ts_us)
            picks.append(qname)
        capture = os.path.join(self.tmp, 'jitter.dnstap')
        with open(capture, 'wb') as f:
            f.write(harness.fstrm_file(frames))

        # The rule, independently: every frame here reaches the histograms.
        late = []
        newest_upto = []  # newest time of batches 0..k
        for k in range((n_frames + BATCH - 1) // BATCH):
            batch = times[k * BATCH:(k + 1) * BATCH]
            w = newest_upto[k - RING] if k >= RING else None
            for ts in batch:
                w = ts if w is None or ts > w else w
                minute = ts // 60000000 * 60000000
                late.append(minute + 60000000 + LATENESS_S * 1000000 <= w)
            newest_upto.append(max([*batch] + ([newest_upto[-1]] if newest_upto else [])))
        expected = Counter()
        for ts, qname, is_late in zip(times, picks, late):
            if not is_late and qname in names:
                expected[(ts // 60000000, qname)] += 1
        self.assertGreater(sum(late), 100, 'the file should have late frames')

        runs = self.assert_same_for_all_thread_counts(capture, '--histogram-lateness',
                                                      str(LATENESS_S), wkd=wkd)
        data, summary = runs[1]
        self.assertEqual(summary['dropped']['late'], sum(late))
        outbox = os.path.join(data, 'parquet', 'histograms', 'outbox')
        got = Counter()
        for row in duckdb("SELECT epoch_us(start_time) AS t, label1, label0, a_count FROM "
                          f"read_parquet('{outbox}/*.parquet')"):
            got[(int(row['t']) // 60000000, f"{row['label1']}.{row['label0']}.")] += int(row['a_count'])
        self.assertEqual(got, expected)


if __name__ == '__main__':
    harness.main()
