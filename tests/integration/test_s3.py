# SPDX-License-Identifier: BSD-2-Clause
"""The S3 client and the aggregate store's S3 backend (lib/store) against a
real S3 server: the npm package @20minutes/s3rver (tests/node), run on a free
127.0.0.1 port with its own temporary directory and an access key of ours,
SigV4 signature checking left on (it recomputes every signature from the
request it received and answers 403 SignatureDoesNotMatch otherwise).

tests/s3_driver runs one client call per invocation. What is checked, with
values computed here, not read from our output:
- bucket create (twice: a bucket we already own is success) and check;
- PUT/GET/HEAD/DELETE of keys holding '=', '/', '$', '+', '~' and a space
  (SigV4 URI encoding); the object's bytes, Content-Type and x-amz-meta-*
  read from s3rver's files on disk, and the object read back by a second
  SigV4 client, curl's --aws-sigv4;
- a wrong secret key, and an unknown access key, are REFUSED (403) and
  store nothing, so signatures really are checked;
- tp_aggstore_put with the S3 backend: Hive key formatted here from the
  id's seconds, user metadata of core-spec section 1.8 (aggregate-id,
  aggregate-type, created, creator, interval-start, interval-duration), the
  ".parquet" suffix only for Parquet, one object per Content-Digest, and the
  payload read back through the store.

Exits 77 (skipped) when node, tests/node/node_modules/@20minutes/s3rver,
curl or the driver is missing. (The older npm package "s3rver" 3.x accepts
any SigV4 signature from a known access key, so it could not show that a
wrong secret is refused.)
"""
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from core_harness import S3rver  # noqa: E402

SOURCE_ROOT = os.environ.get('TAPIR_SOURCE_ROOT', os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD_ROOT = os.environ.get('TAPIR_BUILD_ROOT', os.path.join(SOURCE_ROOT, 'build'))
DRIVER = os.environ.get('TAPIR_S3_DRIVER', os.path.join(BUILD_ROOT, 'tests', 's3_driver'))

if not os.access(DRIVER, os.X_OK):
    harness.skip(f'{DRIVER} is not built')
if shutil.which('curl') is None:
    harness.skip('curl (the second SigV4 client) missing')
if not S3rver.available():
    harness.skip('node or tests/node/node_modules/@20minutes/s3rver missing (npm ci --prefix tests/node)')

ACCESS_KEY = S3rver.ACCESS_KEY
SECRET_KEY = S3rver.SECRET_KEY
PARQUET = 'application/vnd.apache.parquet'
TP_EREFUSED = -1016
TP_EEXIST = -1025
ENOENT = -2

def encode_key(key):
    """SigV4 UriEncode of an object key with '/' kept (written from AWS's rule)."""
    unreserved = set(b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/')
    return ''.join(chr(b) if b in unreserved else f'%{b:02X}' for b in key.encode())


class Base(unittest.TestCase):
    BUCKET = 'tapir-aggregates'

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-s3-')
        self.server = S3rver(os.path.join(self.tmp, 's3'))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(self.server.stop)

    def drive(self, *args, secret=SECRET_KEY, access=ACCESS_KEY, bucket=None, expect_rc=0):
        cmd = [DRIVER, '--endpoint', self.server.endpoint, '--bucket', bucket or self.BUCKET,
               '--access-key', access, '--secret-key', secret, '--timeout-ms', '10000', *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertIn(p.returncode, (0, 1), f'{args}: exit {p.returncode}\n{p.stdout}{p.stderr}')
        out = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(out['rc'], expect_rc, f'{args}: {out}\n{p.stderr}')
        out['stderr'] = p.stderr
        return out

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def curl_get(self, bucket, key, secret=SECRET_KEY):
        """GET through curl's own SigV4 signer; returns (status, body)."""
        url = f'{self.server.endpoint}/{bucket}/{encode_key(key)}'
        empty = hashlib.sha256(b'').hexdigest()
        p = subprocess.run(['curl', '-s', '-o', '-', '-w', '\n%{http_code}', '--aws-sigv4',
                            'aws:amz:us-east-1:s3', '--user', f'{ACCESS_KEY}:{secret}',
                            '-H', f'x-amz-content-sha256: {empty}', url],
                           capture_output=True, timeout=30)
        body, _, status = p.stdout.rpartition(b'\n')
        return int(status), body


class Client(Base):
    def test_bucket_create_is_idempotent(self):
        self.drive('bucket-check', expect_rc=ENOENT)
        self.drive('bucket-create')
        self.assertTrue(os.path.isdir(os.path.join(self.server.dir, self.BUCKET)))
        self.drive('bucket-create')  # already ours: success
        self.drive('bucket-check')

    def test_put_get_head_delete_with_awkward_keys(self):
        self.drive('bucket-create')
        body = os.urandom(70000) + b'tail'
        src = self.write('body', body)
        keys = ['type=histogram/year=2026/month=03/creator=edge-1.example/id=abc.parquet',
                'a$b+c~d/e f=g', 'plain']
        for i, key in enumerate(keys):
            self.drive('put', key, src, '--content-type', PARQUET,
                       '--meta', f'aggregate-id=id-{i}', '--meta', 'creator=edge-1.example')
            # What s3rver stored, read from its files.
            self.assertEqual(self.server.object_bytes(self.BUCKET, key), body)
            meta = self.server.object_meta(self.BUCKET, key)
            self.assertEqual(meta['content-type'], PARQUET)
            self.assertEqual(meta['x-amz-meta-aggregate-id'], f'id-{i}')
            self.assertEqual(meta['x-amz-meta-creator'], 'edge-1.example')
            # A second SigV4 client reads it back.
            status, got = self.curl_get(self.BUCKET, key)
            self.assertEqual((status, got), (200, body))
            # Our client: HEAD and GET.
            self.assertEqual(self.drive('head', key)['length'], len(body))
            out_path = os.path.join(self.tmp, f'out-{i}')
            got = self.drive('get', key, out_path)
            self.assertEqual(got['content_type'], PARQUET)
            with open(out_path, 'rb') as f:
                self.assertEqual(f.read(), body)
        # A GET bounded below the object's size is refused, not truncated.
        self.drive('get', keys[2], os.path.join(self.tmp, 'small'), '--max', '100',
                   expect_rc=-1002)
        for key in keys:
            self.drive('delete', key)
            self.assertFalse(os.path.exists(self.server.object_path(self.BUCKET, key)))
            self.drive('head', key, expect_rc=ENOENT)
            self.drive('get', key, os.path.join(self.tmp, 'gone'), expect_rc=ENOENT)
        self.drive('delete', 'never-there')  # a missing key is success

    def test_wrong_credentials_are_refused(self):
        self.drive('bucket-create')
        src = self.write('body', b'secret payload')
        out = self.drive('put', 'k/one', src, secret='not-the-secret', expect_rc=TP_EREFUSED)
        self.assertIn('SignatureDoesNotMatch', out['stderr'])
        out = self.drive('put', 'k/two', src, access='NOBODY', expect_rc=TP_EREFUSED)
        self.assertIn('InvalidAccessKeyId', out['stderr'])
        self.assertEqual(self.server.objects(self.BUCKET), [])
        # The right key works, and curl with a wrong secret cannot read it.
        self.drive('put', 'k/one', src)
        self.assertEqual(self.curl_get(self.BUCKET, 'k/one'), (200, b'secret payload'))
        self.assertEqual(self.curl_get(self.BUCKET, 'k/one', secret='nope')[0], 403)


def iso(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def hive_key(agg_type, creator, agg_id, suffix):
    t = datetime.datetime.fromtimestamp(int(agg_id[:8], 16), datetime.timezone.utc)
    return (f'type={agg_type}/year={t.year:04d}/month={t.month:02d}/day={t.day:02d}/'
            f'hour={t.hour:02d}/minute={t.minute:02d}/second={t.second:02d}/'
            f'creator={creator}/id={agg_id}{suffix}')


class AggStore(Base):
    BUCKET = 'aggregates'

    def agg(self, *args, **kw):
        return self.drive(*args, '--index', os.path.join(self.tmp, 'index'), **kw)

    def test_put_stores_object_with_reference_metadata(self):
        body = b'PAR1' + os.urandom(5000) + b'PAR1'
        digest = 'sha-256=:' + hashlib.sha256(body).hexdigest() + ':'
        src = self.write('agg.parquet', body)
        # 2023-11-14T22:13:20.5Z, one minute.
        start_us = 1700000000500000
        out = self.agg('agg-put', src, '--type', 'histogram', '--creator', 'edge-1.example',
                       '--digest', digest, '--content-type', PARQUET, '--create-bucket',
                       '--interval-start-us', str(start_us), '--interval-duration-s', '60')
        agg_id = out['id']
        self.assertRegex(agg_id, r'^[0-9a-f]{24}$')
        self.assertEqual(out['created'], int(agg_id[:8], 16))
        key = hive_key('histogram', 'edge-1.example', agg_id, '.parquet')
        self.assertEqual(out['object_key'], key)
        self.assertEqual(out['bucket'], self.BUCKET)
        self.assertEqual(self.server.object_bytes(self.BUCKET, key), body)
        meta = self.server.object_meta(self.BUCKET, key)
        self.assertEqual(meta['content-type'], PARQUET)
        self.assertEqual({k: v for k, v in meta.items() if k.startswith('x-amz-meta-')}, {
            'x-amz-meta-aggregate-id': agg_id,
            'x-amz-meta-aggregate-type': 'histogram',
            'x-amz-meta-created': iso(int(agg_id[:8], 16)),
            'x-amz-meta-creator': 'edge-1.example',
            'x-amz-meta-interval-start': '2023-11-14T22:13:20Z',
            'x-amz-meta-interval-duration': '60',
        })
        self.assertEqual(self.curl_get(self.BUCKET, key), (200, body))

        # Same digest again (another process, same index): the first id,
        # nothing new in the bucket.
        again = self.agg('agg-put', src, '--type', 'histogram', '--creator', 'edge-2.example',
                         '--digest', digest, '--content-type', PARQUET, expect_rc=TP_EEXIST)
        self.assertEqual(again['id'], agg_id)
        self.assertEqual(len(self.server.objects(self.BUCKET)), 1)

        # Read back through the store.
        out_path = os.path.join(self.tmp, 'back')
        got = self.agg('agg-get', agg_id, out_path)
        self.assertEqual(got['object_key'], key)
        with open(out_path, 'rb') as f:
            self.assertEqual(f.read(), body)

        # Not Parquet, no interval: no suffix, no interval-* metadata.
        other = b'\x00binary\xff'
        out = self.agg('agg-put', self.write('bin', other), '--type', 'test', '--creator',
                       'edge-1.example', '--digest', 'sha-256=:other=:', '--content-type',
                       'application/binary')
        key2 = hive_key('test', 'edge-1.example', out['id'], '')
        self.assertEqual(out['object_key'], key2)
        self.assertEqual(self.server.object_bytes(self.BUCKET, key2), other)
        meta2 = self.server.object_meta(self.BUCKET, key2)
        self.assertNotIn('x-amz-meta-interval-start', meta2)
        self.assertNotIn('x-amz-meta-interval-duration', meta2)
        self.assertEqual(meta2['x-amz-meta-aggregate-type'], 'test')

    def test_open_fails_without_a_usable_bucket(self):
        # No bucket and no --create-bucket: open reports it.
        self.agg('agg-put', self.write('b', b'x'), '--type', 'test', '--creator', 'e',
                 '--digest', 'd', '--content-type', 'application/binary', expect_rc=ENOENT)
        # A wrong secret cannot create or use it.
        self.agg('agg-put', self.write('b', b'x'), '--type', 'test', '--creator', 'e',
                 '--digest', 'd', '--content-type', 'application/binary', '--create-bucket',
                 secret='wrong', expect_rc=TP_EREFUSED)
        self.assertFalse(os.path.exists(os.path.join(self.server.dir, self.BUCKET)))


if __name__ == '__main__':
    unittest.main(verbosity=2)
