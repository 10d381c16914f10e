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
NODE_DIR = os.path.join(os.path.dirname(__file__), '..', 'node')
if not shutil.which('node') or not os.path.isdir(os.path.join(NODE_DIR, 'node_modules', '@duckdb')):
    harness.skip('node and tests/node/node_modules are needed (scripts/install-deps.sh installs them)')

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


def node(*args):
    p = subprocess.run(['node', os.path.join(NODE_DIR, 'query.mjs'), *args],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f'node {args[0]} failed: {p.stderr}')
    return json.loads(p.stdout)


def duckdb(sql):
    return node('duckdb', "SET TimeZone='UTC'; " + sql)


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
            rows = node('hyparquet', f)
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


if __name__ == '__main__':
    harness.main()
