# SPDX-License-Identifier: BSD-2-Clause
"""`tapir core`, the aggregate receiver, over real HTTP on loopback.

Requests are signed here, independently of tapir's C code: the RFC 9421
signature base is built from the RFC's text (one `"name": value` line per
covered component, then `"@signature-params"`), the RFC 9530 digest with
hashlib, and the signatures with python3-cryptography (Ed25519 from the JWK
`tapir keygen` writes, ECDSA P-256 as raw r||s). Expected instants come
from Python's datetime.

What is checked (core-spec §1.3-1.11 with the decisions of §7):
- 201 + Location for Ed25519 and ECDSA P-256 uploads; a resubmission gets
  the same Location and stores nothing;
- every refusal and its status: tampered body, unknown key, stale and
  future created, digest not covered, two signatures -> 401; missing or
  unknown alg, bad keyid -> 400; missing header, bad Content-Type, bad or
  naive interval, chunked body -> 422; Content-Length over the limit -> 413
  before any body byte is sent; unknown paths and ids -> 404;
- nothing is stored for any refused request (files under DATA/aggregates);
- metadata fields and payload bytes equal what was sent; statistics and
  the health check agree with the files on disk; /metrics and stats are
  refused outside stats-hosts; Server and X-Request-ID on every answer;
- SIGTERM exits 0.
"""
import datetime
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import core_harness  # noqa: E402
from core_harness import PARQUET, Signer, content_digest  # noqa: E402

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
except ImportError:
    harness.skip('python3-cryptography is not installed')

MAX_BODY = 4096


def count_files(root):
    n = 0
    for _, _, files in os.walk(root):
        n += len(files)
    return n


def stored_sizes(root):
    total = 0
    for d, _, files in os.walk(root):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
    return total


def Core(tmp, keys_dir, *args):
    return core_harness.Core(tmp, keys_dir, '--max-body-size', str(MAX_BODY), *args)


class CoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='tapir-core-')
        cls.keys = os.path.join(cls.tmp, 'keys')
        os.makedirs(cls.keys)
        _, cls.ed = core_harness.keygen(cls.tmp, 'edge1', cls.keys)
        p256 = ec.generate_private_key(ec.SECP256R1())
        with open(os.path.join(cls.keys, 'edge-p256.pem'), 'wb') as f:
            f.write(p256.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
        cls.p256 = Signer('edge-p256', p256, 'ecdsa-p256-sha256')
        cls.stranger = Signer('stranger', ed25519.Ed25519PrivateKey.generate(), 'ed25519')
        cls.core = Core(cls.tmp, cls.keys)
        cls.payloads = os.path.join(cls.core.data, 'aggregates')

    @classmethod
    def tearDownClass(cls):
        # A clean stop after the whole workload: under ASan a leak or any
        # error report makes the exit status non-zero.
        try:
            rc = cls.core.stop()
            if rc != 0:
                raise AssertionError(f'tapir core exited {rc}: {cls.core.log()[-4000:]}')
        finally:
            cls.core.kill()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def upload(self, body, headers, agg_type='histogram'):
        return self.core.request('POST', f'/api/v1/aggregate/{agg_type}', body, headers)

    def assertCommonHeaders(self, headers):
        h = dict(headers)
        self.assertTrue(h.get('Server', '').startswith('tapir-core/'), h)
        self.assertRegex(h.get('X-Request-ID', ''),
                         r'^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')

    def assertStored(self, body, headers, agg_type='histogram'):
        status, rh, _ = self.upload(body, headers, agg_type)
        self.assertEqual(status, 201, rh)
        self.assertCommonHeaders(rh)
        loc = dict(rh)['Location']
        self.assertRegex(loc, r'^/api/v1/aggregates/[0-9a-f]{24}$')
        return loc

    def test_ed25519_upload_metadata_payload_and_duplicate(self):
        before = count_files(self.payloads) if os.path.isdir(self.payloads) else 0
        body = os.urandom(1000)
        headers = self.ed.headers(body, interval='2024-05-06T08:56:58.25-05:00/PT1M')
        loc = self.assertStored(body, headers)
        self.assertEqual(count_files(self.payloads), before + 1)

        status, rh, raw = self.core.request('GET', loc)
        self.assertEqual(status, 200)
        meta = json.loads(raw)
        start = datetime.datetime.fromisoformat('2024-05-06T08:56:58.250000-05:00')
        self.assertEqual(meta['aggregate_id'], loc.rsplit('/', 1)[1])
        self.assertEqual(meta['aggregate_type'], 'histogram')
        self.assertEqual(meta['creator'], 'edge1')
        self.assertEqual(meta['content_type'], PARQUET)
        self.assertEqual(meta['content_length'], len(body))
        self.assertEqual(meta['content_location'], f'http://127.0.0.1:{self.core.port}{loc}/payload')
        self.assertEqual(datetime.datetime.fromisoformat(meta['aggregate_interval_start'].replace('Z', '+00:00')),
                         start)
        self.assertEqual(meta['aggregate_interval_duration'], 60)
        self.assertEqual(meta['headers']['content-digest'], content_digest(body))
        self.assertEqual(meta['headers']['signature'], headers['Signature'])
        # The id's first 8 hex digits are its creation time (an ObjectId).
        created = datetime.datetime.fromisoformat(meta['created'].replace('Z', '+00:00'))
        self.assertEqual(int(created.timestamp()), int(meta['aggregate_id'][:8], 16))
        self.assertLess(abs(created.timestamp() - time.time()), 60)

        status, rh, raw = self.core.request('GET', loc + '/payload')
        self.assertEqual(status, 200)
        self.assertEqual(raw, body)
        self.assertEqual(dict(rh)['Content-Type'], PARQUET)
        self.assertIn(loc, dict(rh)['Link'])

        # A resubmission (newly signed, same digest) is the same aggregate.
        again = self.ed.headers(body, interval='2024-05-06T08:56:58.25-05:00/PT1M')
        self.assertEqual(self.assertStored(body, again), loc)
        self.assertEqual(count_files(self.payloads), before + 1)

    def test_ecdsa_p256_upload(self):
        body = os.urandom(777)
        loc = self.assertStored(body, self.p256.headers(body, content_type='application/binary'),
                                agg_type='test')
        status, _, raw = self.core.request('GET', loc)
        self.assertEqual(status, 200)
        meta = json.loads(raw)
        self.assertEqual((meta['creator'], meta['aggregate_type']), ('edge-p256', 'test'))
        self.assertEqual(self.core.request('GET', loc + '/payload')[2], body)

    def refusals(self):
        body = os.urandom(500)
        now = int(time.time())
        ed = self.ed
        tampered = bytearray(body)
        tampered[0] ^= 1
        two = ed.headers(body)
        other = ed.headers(body, label='sig2')
        two['Signature-Input'] = [two['Signature-Input'], other['Signature-Input']]
        two['Signature'] = [two['Signature'], other['Signature']]
        missing_interval = ed.headers(body, interval=None)
        missing_digest = ed.headers(body)
        del missing_digest['Content-Digest']
        chunked = ed.headers(body)
        del chunked['Content-Length']
        return [
            ('tampered body', 401, bytes(tampered), ed.headers(body)),
            ('digest of another body', 401, body, ed.headers(body, digest=content_digest(b'x'))),
            ('unknown key', 401, body, self.stranger.headers(body)),
            ('signed by another key', 401, body, self.stranger.headers(body, keyid='edge1')),
            ('stale created', 401, body, ed.headers(body, created=now - 86400 - 120)),
            ('future created', 401, body, ed.headers(body, created=now + 120)),
            ('digest not covered', 401, body, ed.headers(body, covered=('content-type', 'content-length'))),
            ('two signatures', 401, body, two),
            ('missing alg', 400, body, ed.headers(body, alg=None)),
            ('unknown alg', 400, body, ed.headers(body, alg='hmac-sha999')),
            ('alg not the key\'s', 400, body, ed.headers(body, alg='ecdsa-p256-sha256')),
            ('bad keyid', 400, body, ed.headers(body, keyid='../keys/edge1')),
            ('missing Aggregate-Interval', 422, body, missing_interval),
            ('missing Content-Digest', 422, body, missing_digest),
            ('bad Content-Type', 422, body, ed.headers(body, content_type='text/plain')),
            ('garbage interval', 422, body, ed.headers(body, interval='yesterday')),
            ('naive interval', 422, body, ed.headers(body, interval='2024-01-01T12:00:00/PT1M')),
            ('negative interval', 422, body,
             ed.headers(body, interval='2024-01-02T00:00:00Z/2024-01-01T00:00:00Z')),
            ('chunked body', 422, body, chunked),
        ]

    def test_refusals_store_nothing(self):
        os.makedirs(self.payloads, exist_ok=True)
        before = count_files(self.payloads)
        for name, want, body, headers in self.refusals():
            with self.subTest(name):
                if name == 'chunked body':
                    headers = dict(headers, **{'Transfer-Encoding': 'chunked'})
                    body = f'{len(body):x}\r\n'.encode() + body + b'\r\n0\r\n\r\n'
                status, rh, raw = self.upload(body, headers)
                self.assertEqual(status, want, raw)
                self.assertCommonHeaders(rh)
                self.assertIn('detail', json.loads(raw))
        status, _, _ = self.upload(b'x', self.ed.headers(b'x'), agg_type='bogus')
        self.assertEqual(status, 422)
        self.assertEqual(count_files(self.payloads), before)

    def test_oversize_is_refused_before_the_body(self):
        before = count_files(self.payloads) if os.path.isdir(self.payloads) else 0
        body = os.urandom(MAX_BODY + 1)
        head = ''.join(f'{k}: {v}\r\n' for k, v in self.ed.headers(body).items())
        s = socket.create_connection(('127.0.0.1', self.core.port), timeout=10)
        # Headers only: the answer must come without one body byte sent.
        s.sendall(f'POST /api/v1/aggregate/histogram HTTP/1.1\r\nHost: x\r\n{head}\r\n'.encode())
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b'HTTP/1.1 413 '), data[:100])
        # At exactly the limit it is accepted.
        body = os.urandom(MAX_BODY)
        self.assertStored(body, self.ed.headers(body))
        self.assertEqual(count_files(self.payloads), before + 1)

    def test_not_found(self):
        for path in ('/', '/api/v1/aggregates/' + '0' * 24, '/api/v1/aggregates/' + '0' * 24 + '/payload',
                     '/api/v1/aggregates/not-an-id', '/api/v1/aggregates/../../etc/passwd',
                     '/api/v1/aggregate/histogram/extra', '/api/v1/nothing'):
            with self.subTest(path):
                status, rh, _ = self.core.request('GET' if 'aggregate/' not in path else 'POST', path)
                self.assertEqual(status, 404)
                self.assertCommonHeaders(rh)
        self.assertEqual(self.core.request('GET', '/api/v1/aggregate/histogram')[0], 405)

    def test_stats_health_and_metrics(self):
        body = os.urandom(321)
        self.assertStored(body, self.p256.headers(body))
        status, _, raw = self.core.request('GET', '/api/v1/stats/aggregates')
        self.assertEqual(status, 200)
        totals = json.loads(raw)
        self.assertEqual(totals['aggregates_count'], count_files(self.payloads))
        self.assertEqual(totals['aggregates_total_size'], stored_sizes(self.payloads))
        status, _, raw = self.core.request('GET', '/api/v1/stats/creators')
        self.assertEqual(status, 200)
        creators = json.loads(raw)['creators']
        names = [c['creator'] for c in creators]
        self.assertEqual(names, sorted(names))
        self.assertIn('edge-p256', names)
        self.assertEqual(sum(c['aggregates_count'] for c in creators), totals['aggregates_count'])
        for c in creators:
            st, _, m = self.core.request('GET', '/api/v1/aggregates/' + c['last_aggregate_id'])
            self.assertEqual((st, json.loads(m)['creator']), (200, c['creator']))
        status, _, raw = self.core.request('GET', '/api/v1/healthcheck')
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(raw), {'status': 'OK',
                                           'aggregates_count': totals['aggregates_count']})
        status, rh, raw = self.core.request('GET', '/metrics')
        self.assertEqual(status, 200)
        text = raw.decode()
        m = re.search(r'^tapir_core_aggregates_stored_total (\d+)$', text, re.M)
        self.assertIsNotNone(m, text)
        self.assertEqual(int(m.group(1)), totals['aggregates_count'])
        self.assertRegex(text, r'(?m)^tapir_core_requests_total\{code="201"\} [1-9]')

    def test_stats_refused_outside_stats_hosts(self):
        other = Core(self.tmp, self.keys, '--stats-hosts', '10.0.0.0/8',
                     '--healthcheck-hosts', '192.168.0.0/16,::1/128')
        try:
            for path in ('/api/v1/stats/aggregates', '/api/v1/stats/creators', '/metrics',
                         '/api/v1/healthcheck'):
                with self.subTest(path):
                    status, _, raw = other.request('GET', path)
                    self.assertEqual((status, json.loads(raw)), (403, {'detail': 'Access denied'}))
        finally:
            self.assertEqual(other.stop(), 0)

    def test_tls_requires_a_client_certificate(self):
        if shutil.which('openssl') is None:
            self.skipTest('openssl is not installed')
        pki = os.path.join(self.tmp, 'pki')
        os.makedirs(pki, exist_ok=True)

        def sh(*args):
            subprocess.run(['openssl', *args], cwd=pki, check=True, capture_output=True, timeout=60)

        for ca in ('ca', 'otherca'):
            sh('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
               '-keyout', f'{ca}.key', '-out', f'{ca}.crt', '-days', '2', '-subj', f'/CN={ca}')
        for name, ca, ext in (('server', 'ca', 'subjectAltName=IP:127.0.0.1'),
                              ('client', 'ca', 'extendedKeyUsage=clientAuth'),
                              ('stranger', 'otherca', 'extendedKeyUsage=clientAuth')):
            sh('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
               '-keyout', f'{name}.key', '-out', f'{name}.csr', '-subj', f'/CN={name}')
            with open(os.path.join(pki, f'{name}.ext'), 'w') as f:
                f.write(ext + '\n')
            sh('x509', '-req', '-in', f'{name}.csr', '-CA', f'{ca}.crt', '-CAkey', f'{ca}.key',
               '-CAcreateserial', '-out', f'{name}.crt', '-days', '2', '-extfile', f'{name}.ext')
        p = os.path.join
        other = Core(self.tmp, self.keys, '--tls-cert-file', p(pki, 'server.crt'),
                     '--tls-key-file', p(pki, 'server.key'),
                     '--tls-client-ca-file', p(pki, 'ca.crt'))
        import ssl

        def get(cert):
            ctx = ssl.create_default_context(cafile=p(pki, 'ca.crt'))
            if cert:
                ctx.load_cert_chain(p(pki, f'{cert}.crt'), p(pki, f'{cert}.key'))
            c = http.client.HTTPSConnection('127.0.0.1', other.port, context=ctx, timeout=20)
            try:
                body = os.urandom(64)
                c.request('POST', '/api/v1/aggregate/histogram', body, self.ed.headers(body))
                r = c.getresponse()
                return r.status, dict(r.getheaders()), r.read()
            except (ssl.SSLError, ConnectionError):
                return None, {}, b''
            finally:
                c.close()
        try:
            status, h, _ = get('client')
            self.assertEqual(status, 201)
            self.assertRegex(h['Location'], r'^/api/v1/aggregates/[0-9a-f]{24}$')
            self.assertIn(get(None)[0], (None, 403))
            self.assertIn(get('stranger')[0], (None, 403))
        finally:
            self.assertEqual(other.stop(), 0)

    def test_zz_sigterm_exits_0(self):
        other = Core(self.tmp, self.keys)
        body = os.urandom(100)
        self.assertEqual(other.request('POST', '/api/v1/aggregate/vector', body,
                                       self.ed.headers(body))[0], 201)
        self.assertEqual(other.stop(), 0)
        self.assertIn('listening on 127.0.0.1:', other.log())


if __name__ == '__main__':
    harness.main()
