"""The crowd dataset end to end: `tapir edge --input-file` on the medium
Unbound capture with the reference's well-known list, read back by DuckDB and
hyparquet (independent Parquet readers), against the capture's oracle
summary (made with dnstap-ldns, without our code).
"""
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from collections import defaultdict

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

harness.require_shared()
harness.require_node_oracles()

CAPTURE = os.path.join(harness.DATA, 'unbound-medium.dnstap')
LIST = os.path.join(harness.DATA, 'well-known-domains.txt')
THRESHOLD = 20
RSE = 1.04 / math.sqrt(1024)
COUNT_TYPES = ['a_count', 'aaaa_count', 'mx_count', 'ns_count', 'other_type_count', 'non_in_count']
COUNT_RCODES = ['ok_count', 'nx_count', 'fail_count', 'other_rcode_count']
# edm-spec §3.5: names, DuckDB types, order.
SCHEMA = ([('start_time', 'TIMESTAMP WITH TIME ZONE')] +
          [(f'label{i}', 'VARCHAR') for i in range(10)] +
          [(c, 'UBIGINT') for c in COUNT_TYPES + COUNT_RCODES] +
          [('edm_status_bits', 'UBIGINT'), ('v4client_count', 'UBIGINT'), ('v6client_count', 'UBIGINT'),
           ('v4client_count_hll', 'BLOB'), ('v6client_count_hll', 'BLOB')])


def duckdb(sql):
    return harness.node_query('duckdb', "SET TimeZone='UTC'; " + sql)


def name_of(row):
    labels = [row[f'label{i}'] for i in range(10) if row[f'label{i}'] is not None]
    return '.'.join(reversed(labels)) + '.'


class HistogramTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='tapir-hist-')
        cls.summary, cls.stderr, _ = harness.run_edge_file(
            path=CAPTURE, args=['--well-known-domains-file', LIST, '--data-dir', cls.tmp])
        cls.outbox = os.path.join(cls.tmp, 'parquet', 'histograms', 'outbox')
        cls.files = sorted(glob.glob(os.path.join(cls.outbox, '*.parquet')))
        cls.glob = os.path.join(cls.outbox, '*.parquet')
        with open(os.path.join(harness.DATA, 'unbound-medium.summary.json')) as f:
            cls.oracle = json.load(f)['client_response']

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_one_file_per_minute_and_nothing_dropped(self):
        self.assertEqual(len(self.files), len(self.oracle['per_minute']), self.files)
        for f in self.files:
            self.assertRegex(os.path.basename(f),
                             r'^dns_histogram-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.parquet$')
        self.assertEqual(self.summary['dropped']['late'], 0)
        self.assertEqual(self.summary['dropped']['future'], 0)
        h = self.summary['histograms']
        self.assertEqual(h['well_known'], self.oracle['well_known_responses'])
        self.assertEqual(h['write_errors'], 0)
        self.assertEqual(h['intervals_written'], len(self.files))
        self.assertFalse(glob.glob(os.path.join(self.outbox, '*.tmp')))

    def test_duckdb_describe_shows_the_reference_schema(self):
        rows = duckdb(f"DESCRIBE SELECT * FROM read_parquet('{self.files[0]}')")
        self.assertEqual([(r['column_name'], r['column_type']) for r in rows], SCHEMA)
        nulls = {r['column_name']: r['null'] for r in rows}
        self.assertEqual(nulls['label0'], 'YES')

    def test_per_name_sums_equal_the_oracle(self):
        label_cols = ', '.join(f'label{i}' for i in range(10))
        rows = duckdb(f"SELECT {label_cols}, sum({'+'.join(COUNT_TYPES)})::BIGINT AS by_type, "
                      f"sum({'+'.join(COUNT_RCODES)})::BIGINT AS by_rcode, min(edm_status_bits)::BIGINT AS s0, "
                      f"max(edm_status_bits)::BIGINT AS s1 FROM read_parquet('{self.glob}') GROUP BY ALL")
        ours = {}
        for r in rows:
            self.assertEqual(int(r['by_type']), int(r['by_rcode']))
            self.assertEqual((int(r['s0']), int(r['s1'])), (1, 1))  # exact entries only
            ours[name_of(r)] = int(r['by_type'])
        want = {q: v['count'] for q, v in self.oracle['qnames'].items() if v['well_known']}
        self.assertEqual(ours, want)

    def test_per_minute_sums_and_client_counts(self):
        rows = duckdb(f"SELECT strftime(date_trunc('minute', start_time), '%Y-%m-%dT%H:%M:00Z') AS minute, "
                      f"{', '.join(f'label{i}' for i in range(10))}, "
                      f"({'+'.join(COUNT_TYPES)})::BIGINT AS n, v4client_count::BIGINT AS v4, "
                      f"v6client_count::BIGINT AS v6, v4client_count_hll IS NULL AS v4null, "
                      f"v6client_count_hll IS NULL AS v6null FROM read_parquet('{self.glob}')")
        per_minute = defaultdict(int)
        checked = sketched = 0
        for r in rows:
            per_minute[r['minute']] += int(r['n'])
            frames, clients = self.oracle['per_minute_qnames'][r['minute']][name_of(r)]
            self.assertEqual(int(r['n']), frames)
            v4, v6 = int(r['v4']), int(r['v6'])
            # At or below the explicit threshold a family is exact, and no
            # sketch leaves the edge.
            self.assertEqual(r['v4null'], v4 <= THRESHOLD, r)
            self.assertEqual(r['v6null'], v6 <= THRESHOLD, r)
            if v4 <= THRESHOLD and v6 <= THRESHOLD:
                self.assertEqual(v4 + v6, clients, r)
            else:
                sketched += 1
                self.assertLessEqual(abs(v4 + v6 - clients), 3 * RSE * clients + 2, r)
            checked += 1
        want = defaultdict(int)
        for minute, names in self.oracle['per_minute_qnames'].items():
            for q, (frames, _) in names.items():
                if self.oracle['qnames'][q]['well_known']:
                    want[minute] += frames
        self.assertEqual(dict(per_minute), dict(want))
        self.assertGreater(sketched, 0, 'the capture should exercise sketches above the threshold')

    def test_interval_bounds(self):
        starts = duckdb(f"SELECT DISTINCT epoch_us(start_time)::BIGINT AS us, filename FROM "
                        f"read_parquet('{self.glob}', filename=true) ORDER BY us")
        first_seen = min(v['first_seen'] for v in self.oracle['qnames'].values())
        # The first interval starts at the first message, the others on the minute.
        us = [int(r['us']) for r in starts]
        self.assertEqual(len(us), len(self.files))
        first = duckdb(f"SELECT strftime(make_timestamp({us[0]}), '%Y-%m-%dT%H:%M:%S.%fZ') AS t")[0]['t']
        self.assertEqual(first, first_seen)
        for u in us[1:]:
            self.assertEqual(u % 60_000_000, 0)

    def test_hyparquet_reads_every_file_like_duckdb(self):
        for f in self.files:
            rows = harness.node_query('hyparquet', f)
            dd = duckdb(f"SELECT count(*)::BIGINT AS n, sum(a_count)::BIGINT AS a, "
                        f"sum(v4client_count)::BIGINT AS v4, count(v4client_count_hll)::BIGINT AS h "
                        f"FROM read_parquet('{f}')")[0]
            self.assertEqual(len(rows), int(dd['n']))
            self.assertEqual(sum(int(r['a_count']) for r in rows), int(dd['a']))
            self.assertEqual(sum(int(r['v4client_count']) for r in rows), int(dd['v4']))
            self.assertEqual(sum(1 for r in rows if r['v4client_count_hll'] is not None), int(dd['h']))
            self.assertEqual(list(rows[0].keys()), [c for c, _ in SCHEMA])

    def test_inspect_prints_every_row(self):
        p = subprocess.run([harness.TAPIR, 'inspect', '--hll', self.files[1]], capture_output=True,
                           text=True, timeout=60, check=True)
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        n = duckdb(f"SELECT count(*)::BIGINT AS n FROM read_parquet('{self.files[1]}')")[0]['n']
        self.assertEqual(len(lines), int(n))
        for row in lines:
            for fam in ('v4', 'v6'):
                sk = row[f'{fam}client_count_hll']
                if sk is not None:
                    self.assertIn(sk['type'], ('SPARSE', 'FULL'))
                    self.assertEqual(sk['cardinality'], row[f'{fam}client_count'])


def frame_at(tsec, qname='example.com.', client=b'\x7f\x00\x00\x01', rcode=0, qtype=1):
    msg = harness.dnstap_message(qaddr=client, tsec=tsec, tnsec=0,
                                 wire=harness.dns_message(qname, qtype=qtype, rcode=rcode))
    return harness.data_frame(harness.dnstap_frame(msg))


def parquet_rows(path):
    p = subprocess.run([harness.TAPIR, 'inspect', path], capture_output=True, text=True,
                       timeout=60, check=True)
    return [json.loads(x) for x in p.stdout.splitlines()]


class LiveHistogramTest(unittest.TestCase):
    """Socket input: minutes rotate while the edge runs, SIGTERM writes the
    open minute, late and future frames are counted, SIGHUP swaps the list."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-live-hist-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.list = os.path.join(self.tmp, 'list.txt')
        self.write_list('example.com.\n.example.net.\n')
        self.data = os.path.join(self.tmp, 'data')
        self.outbox = os.path.join(self.data, 'parquet', 'histograms', 'outbox')

    def write_list(self, text):
        with open(self.list + '.new', 'w') as f:
            f.write(text)
        os.replace(self.list + '.new', self.list)

    def start(self, *args):
        srv = harness.EdgeServer(self.tmp, args=['--well-known-domains-file', self.list,
                                                 '--data-dir', self.data, *args])
        self.addCleanup(srv.kill)
        return srv

    def files(self):
        return sorted(glob.glob(os.path.join(self.outbox, '*.parquet')))

    def test_a_minute_is_written_while_running_and_the_open_one_at_sigterm(self):
        import time
        now = time.time()
        if now % 60 > 50:  # keep clear of a minute boundary
            time.sleep(61 - now % 60)
            now = time.time()
        minute = int(now // 60 * 60)
        lateness = int(math.ceil(now - minute)) + 3  # the previous minute closes in ~3 s
        srv = self.start('--histogram-lateness', str(lateness))
        s = srv.handshake()
        s.sendall(frame_at(minute - 30) * 3 + frame_at(minute - 1, 'www.example.net.'))
        s.sendall(frame_at(int(now), 'a.b.example.net.', rcode=3) * 2)
        deadline = time.time() + 15
        while not self.files() and time.time() < deadline:
            time.sleep(0.2)
        written = self.files()
        self.assertEqual(len(written), 1, 'the previous minute is written while running')
        rows = {(r['label1'], r['label0'], r['label2']): r for r in parquet_rows(written[0])}
        self.assertEqual(rows[('example', 'com', None)]['a_count'], 3)
        wild = rows[('example', 'net', '')]  # suffix entry: label2 is "", not NULL
        self.assertEqual((wild['a_count'], wild['edm_status_bits']), (1, 2))
        srv.finish(s)
        rc, summary = srv.stop()
        self.assertEqual(rc, 0)
        files = self.files()
        self.assertEqual(len(files), 2, 'SIGTERM writes the open minute')
        last = parquet_rows(files[1])
        self.assertEqual(len(last), 1)
        self.assertEqual((last[0]['a_count'], last[0]['nx_count']), (2, 2))
        m = re.match(r'dns_histogram-(.*)_(.*)\.parquet', os.path.basename(files[1]))
        stop = time.strptime(m.group(2), '%Y-%m-%dT%H-%M-%SZ')
        self.assertLess(abs(time.mktime(stop) - time.timezone - time.time()), 30,
                        'the last interval ends at shutdown')
        self.assertEqual(summary['histograms']['well_known'], 6)
        self.assertEqual(summary['histograms']['intervals_written'], 2)

    def test_late_and_future_frames_are_counted_not_binned(self):
        import time
        srv = self.start()
        s = srv.handshake()
        now = int(time.time())
        s.sendall(frame_at(now - 3600) * 2 + frame_at(now + 3600) * 3 + frame_at(now))
        srv.finish(s)
        rc, summary = srv.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(summary['dropped']['late'], 2)
        self.assertEqual(summary['dropped']['future'], 3)
        self.assertEqual(summary['processed'], 1)
        harness.assert_accounting(self, summary)
        self.assertEqual(len(self.files()), 1)

    def test_sighup_swaps_the_list_from_the_next_minute(self):
        import signal
        import time
        srv = self.start('--histogram-future-skew', '120')
        now = int(time.time())
        if now % 60 > 50:  # the frames below must share this minute
            time.sleep(61 - now % 60)
            now = int(time.time())
        first = srv.handshake()
        first.sendall(frame_at(now, 'example.com.'))  # opens this minute
        srv.finish(first)  # FINISH: the frame has been read
        s = srv.handshake()
        self.write_list('example.org.\n')
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while 'applies from the next minute' not in srv.log() and time.time() < deadline:
            time.sleep(0.1)
        # This minute keeps the old list; the next one uses the new list.
        s.sendall(frame_at(now, 'example.org.') + frame_at(now, 'example.com.') +
                  frame_at(now + 60, 'example.org.') + frame_at(now + 60, 'example.com.'))
        self.write_list('Bad.Example.\n')
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while 'keeping the current well-known list' not in srv.log() and time.time() < deadline:
            time.sleep(0.1)
        srv.finish(s)
        rc, summary = srv.stop()
        self.assertEqual(rc, 0)
        self.assertIn('keeping the current well-known list', srv.log())
        self.assertEqual(summary['histograms']['well_known'], 3)
        self.assertEqual(summary['histograms']['not_well_known'], 2)
        self.assertEqual(summary['histograms']['list_reloads'], 1)
        rows = sorted((f"{r['label1']}.{r['label0']}.", r['a_count']) for f in self.files()
                      for r in parquet_rows(f))
        self.assertEqual(rows, [('example.com.', 2), ('example.org.', 1)])


class OptionsTest(unittest.TestCase):
    def test_keyed_mode_needs_a_secret_and_changes_the_sketch(self):
        with tempfile.TemporaryDirectory() as tmp:
            lst = os.path.join(tmp, 'list')
            with open(lst, 'w') as f:
                f.write('example.com.\n')
            frames = [harness.dnstap_frame(harness.dnstap_message(
                qaddr=bytes([10, 0, i // 256, i % 256]), tsec=1764780000,
                wire=harness.dns_message('example.com.'))) for i in range(40)]
            data = harness.fstrm_file(frames)
            _, err, rc = harness.run_edge_file(data, args=['--well-known-domains-file', lst, '--data-dir', tmp,
                                                           '--histogram-hash-mode', 'keyed'], expect_rc=2)
            self.assertIn('needs histogram-hash-secret-file', err)
            secret = os.path.join(tmp, 'secret')
            with open(secret, 'w') as f:
                f.write('a federation secret of enough length\n')
            sketches = {}
            for mode in ('compat', 'keyed'):
                out = os.path.join(tmp, mode)
                extra = ['--histogram-hash-secret-file', secret] if mode == 'keyed' else []
                harness.run_edge_file(data, args=['--well-known-domains-file', lst, '--data-dir', out,
                                                  '--histogram-hash-mode', mode, *extra])
                (path,) = glob.glob(os.path.join(out, 'parquet/histograms/outbox/*.parquet'))
                (row,) = parquet_rows(path)
                self.assertEqual(row['a_count'], 40)
                self.assertGreater(row['v4client_count'], 30)
                sketches[mode] = row['v4client_count_hll']
            self.assertNotEqual(sketches['compat'], sketches['keyed'])

    def test_list_needs_a_data_dir_and_bad_lists_are_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            lst = os.path.join(tmp, 'list')
            with open(lst, 'w') as f:
                f.write('example.com.\nNot-Lower.com.\nno-dot.com\n')
            data = harness.fstrm_file([])
            _, err, _ = harness.run_edge_file(data, args=['--well-known-domains-file', lst], expect_rc=2)
            self.assertIn('needs data-dir', err)
            _, err, _ = harness.run_edge_file(data, args=['--well-known-domains-file', lst,
                                                          '--data-dir', tmp], expect_rc=1)
            self.assertIn(f'{lst}:2:', err)
            self.assertIn(f'{lst}:3:', err)
            p = subprocess.run([harness.TAPIR, 'wkd', 'check', lst], capture_output=True, text=True)
            self.assertEqual(p.returncode, 1)
            self.assertEqual([ln.split(':')[1] for ln in p.stdout.splitlines() if ln.startswith(lst + ':')
                              and ln.split(':')[1].isdigit()], ['2', '3'])
            p = subprocess.run([harness.TAPIR, 'wkd', 'check', LIST], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn('99999 exact', p.stdout)


if __name__ == '__main__':
    harness.main()
