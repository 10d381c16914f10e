"""End to end: a real Unbound -> `tapir edge --input-unix` (histograms, signed
uploads) -> `tapir core` -> storage, read back by DuckDB as a Hive-partitioned
table.

The edge uploads what it writes; at SIGTERM it writes the open minute and
gives the sender http-upload-wait seconds to deliver the outbox. Then:
  * every histogram file the edge wrote is in sent/, none in the outbox;
  * the core stored exactly those files (same bytes, one object each), under
    type=histogram/year=/month=/day=/hour=/minute=/second=/creator=<kid>/;
  * DuckDB's read_parquet('…/type=histogram/**/*.parquet',
    hive_partitioning=true) sums to what the edge counted (its summary's
    histograms.well_known), and its creator column is the edge's kid.
Run for the local backend and for an S3-compatible server (npm
@20minutes/s3rver, signature checks on); the S3 objects are read from the
server's files and compared byte for byte with the edge's files.
"""
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import core_harness  # noqa: E402
import unbound_harness as ub  # noqa: E402
from unbound_harness import Query, QTYPE  # noqa: E402

KID = 'edge-e2e.example'
COUNTS = ('a_count', 'aaaa_count', 'mx_count', 'ns_count', 'other_type_count', 'non_in_count')

LIST = 'google.com.\n.youtube.com.\nyoutube.com.\nwikipedia.org.\n.wikipedia.org.\nsvt.se.\n'


def duckdb(sql):
    return harness.node_query('duckdb', sql, timeout=120)


def queries():
    q = []
    for i in range(60):
        client = f'127.0.{i % 7}.{1 + i % 5}'
        q.append(Query(client, 'udp', ['google.com.', 'www.youtube.com.', 'wikipedia.org.',
                                       'en.wikipedia.org.', 'svt.se.', 'example.com.'][i % 6],
                       [QTYPE['A'], QTYPE['AAAA']][i % 2]))
    q.append(Query('::1', 'udp', 'youtube.com.', QTYPE['HTTPS']))
    ub.assign_ids(q, 5)
    return q


def sha256_of(paths):
    out = []
    for p in paths:
        with open(p, 'rb') as f:
            out.append(hashlib.sha256(f.read()).hexdigest())
    return sorted(out)


class EndToEnd(unittest.TestCase):
    def setUp(self):
        if not ub.UNBOUND:
            harness.skip('unbound is not installed')
        self.tmp = tempfile.mkdtemp(prefix='tapir-e2e-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        ub.register_tmpdir(self.tmp)
        self.keys = os.path.join(self.tmp, 'keys')
        os.mkdir(self.keys)
        subprocess.run([harness.TAPIR, 'keygen', '--kid', KID, '--out-dir', self.keys],
                       check=True, capture_output=True)
        self.jwk = os.path.join(self.keys, KID + '.jwk')
        self.list = os.path.join(self.tmp, 'wkd.txt')
        with open(self.list, 'w') as f:
            f.write(LIST)

    def run_edge(self, core):
        data = os.path.join(self.tmp, 'edge')
        edge = ub.LiveEdge(self.tmp, args=['--data-dir', data, '--well-known-domains-file', self.list,
                                           '--http-url', core.url, '--http-signing-key-file', self.jwk,
                                           '--http-upload-wait', '30'])
        self.addCleanup(edge.kill)
        u = ub.Unbound(self.tmp, ub.default_zone(), edge.unix_path)
        self.addCleanup(u.kill)
        u.start()
        qs = queries()
        ub.send_queries(qs, u.port)
        self.assertEqual(ub.check_answers(ub.default_zone(), qs), [])
        u.wait_flush()
        self.assertEqual(u.stop(), 0)
        rc, summary = edge.stop(timeout=60)
        self.assertEqual(rc, 0, edge.log()[-3000:])
        hist = os.path.join(data, 'parquet', 'histograms')
        self.assertEqual(os.listdir(os.path.join(hist, 'outbox')), [], edge.log()[-3000:])
        sent = sorted(glob.glob(os.path.join(hist, 'sent', 'dns_histogram-*.parquet')))
        self.assertGreater(len(sent), 0)
        self.assertEqual(summary['sender']['uploaded'], len(sent), summary['sender'])
        self.assertGreater(summary['histograms']['well_known'], 0)
        return summary, sent

    def check_tree(self, root, summary, sent):
        files = sorted(glob.glob(os.path.join(root, 'type=histogram', '**', '*.parquet'), recursive=True))
        self.assertEqual(len(files), len(sent))
        for f in files:
            rel = os.path.relpath(f, root).split(os.sep)
            self.assertEqual([p.split('=')[0] for p in rel[:-1]],
                             ['type', 'year', 'month', 'day', 'hour', 'minute', 'second', 'creator'])
            self.assertEqual(rel[-2], 'creator=' + KID)
        self.assertEqual(sha256_of(files), sha256_of(sent))
        g = os.path.join(root, 'type=histogram', '**', '*.parquet')
        rows = duckdb(f"SELECT creator, sum({'+'.join(COUNTS)})::BIGINT AS n, count(*)::BIGINT AS rows "
                      f"FROM read_parquet('{g}', hive_partitioning=true) GROUP BY creator")
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]['creator'], KID)
        self.assertEqual(int(rows[0]['n']), summary['histograms']['well_known'])
        self.assertEqual(int(rows[0]['rows']), summary['histograms']['rows_written'])

    def test_local_backend(self):
        core = core_harness.Core(self.tmp, self.keys)
        self.addCleanup(core.kill)
        summary, sent = self.run_edge(core)
        stats = core.get_json('/api/v1/stats/aggregates')
        self.assertEqual(stats['aggregates_count'], len(sent))
        self.assertEqual(stats['aggregates_total_size'], sum(os.path.getsize(p) for p in sent))
        self.check_tree(core.aggregates_dir, summary, sent)
        self.assertEqual(core.stop(), 0, core.log()[-3000:])

    def test_s3_backend(self):
        s3 = core_harness.S3rver(os.path.join(self.tmp, 's3rver'))
        self.addCleanup(s3.stop)
        core = core_harness.Core(self.tmp, self.keys, *s3.core_args("aggregates"))
        self.addCleanup(core.kill)
        summary, sent = self.run_edge(core)
        # Rebuild the tree from the objects in the bucket, read from the
        # server's own files.
        tree = os.path.join(self.tmp, 'from-s3')
        creators = core.get_json('/api/v1/stats/creators')['creators']
        self.assertEqual([c['creator'] for c in creators], [KID])
        for key in s3.keys('aggregates'):
            path = os.path.join(tree, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(s3.object_bytes('aggregates', key))
        self.check_tree(tree, summary, sent)
        self.assertEqual(core.stop(), 0, core.log()[-3000:])


if __name__ == '__main__':
    ub.install_cleanup_handlers()
    unittest.main(verbosity=2)
