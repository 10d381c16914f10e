# SPDX-License-Identifier: BSD-2-Clause
"""`tapir core` against hostile HTTP, over raw sockets on loopback.

The requests are written byte by byte here (http.client would refuse most
of them), signed with the independent RFC 9421 signer of core_harness.
Every refused request must leave nothing under DATA/aggregates, and the
core must still answer and exit 0 at the end (under ASan: no report).

What is checked:
- a chunked body longer or shorter than its Content-Length: 400 whose
  detail names the bytes actually sent (counted here), nothing stored;
- an early refusal (422, 413, 404) closes the connection, so a request
  hidden in the refused body is never answered;
- keyids that try to leave keys-dir, oversized or repeated header fields,
  RFC 8941 oddities in Signature-Input, and Aggregate-Interval values
  Python's datetime rejects: 400/401/422/431, nothing stored;
- kill -9 while uploads are in flight, then a restart: every upload that
  got a 201 is served with its bytes, and no stored object lacks metadata.
"""
import datetime
import hashlib
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import core_harness  # noqa: E402

try:
    import cryptography  # noqa: F401 - core_harness.keygen signs with it
except ImportError:
    harness.skip('python3-cryptography is not installed')

MAX_BODY = 100000
INNER = b'GET /api/v1/stats/aggregates HTTP/1.1\r\nHost: x\r\n\r\n'


def files_under(root):
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)


def exchange(port, data, timeout=10):
    """Send data, read until the server closes (or timeout)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        s.sendall(data)
        out = b''
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                return out + b'<timeout>'
            if not b:
                return out
            out += b
    finally:
        s.close()


def python_interval(iv):
    """(start, end) as Python's datetime reads iv, or None: the expectation,
    independent of tapir. Durations only as PT<n>S / PT<n>M."""
    try:
        a, b = iv.split('/')
        start = datetime.datetime.fromisoformat(a)
        if start.tzinfo is None:
            return None
        m = re.fullmatch(r'(-?)PT(\d+)([SM])', b)
        if m:
            n = int(m.group(2)) * (60 if m.group(3) == 'M' else 1)
            end = start + datetime.timedelta(seconds=-n if m.group(1) else n)
        else:
            end = datetime.datetime.fromisoformat(b)
        return (start, end) if end.tzinfo is not None and end >= start else None
    except (ValueError, OverflowError):
        return None


def statuses(out):
    return [int(m) for m in re.findall(rb'^HTTP/1\.1 (\d{3}) ', out, re.M)]


def head(headers, path='/api/v1/aggregate/test', extra=b''):
    h = b'POST ' + path.encode() + b' HTTP/1.1\r\nHost: x\r\n'
    for k, v in headers.items():
        h += k.encode() + b': ' + (v if isinstance(v, bytes) else v.encode()) + b'\r\n'
    return h + extra + b'\r\n'


class CoreHostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='tapir-core-hostile-')
        cls.keys = os.path.join(cls.tmp, 'keys')
        os.makedirs(cls.keys)
        _, cls.ed = core_harness.keygen(cls.tmp, 'edge1', cls.keys)
        cls.core = core_harness.Core(cls.tmp, cls.keys, '--max-body-size', str(MAX_BODY))
        cls.payloads = cls.core.aggregates_dir

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.core.stop()
            if rc != 0:
                raise AssertionError(f'tapir core exited {rc}: {cls.core.log()[-4000:]}')
        finally:
            cls.core.kill()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.before = files_under(self.payloads)

    def assertNothingStored(self):
        self.assertEqual(files_under(self.payloads), self.before)

    def signed(self, body, **kw):
        return self.ed.headers(body, content_type='application/binary', **kw)

    def test_chunked_body_length_mismatch_names_bytes_sent(self):
        body = os.urandom(100)
        for sent in (150, 50):
            data = (body + os.urandom(50))[:sent]
            req = head(self.signed(body), extra=b'Transfer-Encoding: chunked\r\nConnection: close\r\n')
            req += b'%x\r\n' % len(data) + data + b'\r\n0\r\n\r\n'
            out = exchange(self.core.port, req)
            self.assertEqual(statuses(out), [400], out[:300])
            self.assertIn(f'Content-Length header (100) does not match actual content length '
                          f'({sent})'.encode(), out)
        self.assertNothingStored()

    def test_early_refusal_closes_connection(self):
        cases = [
            (head({'Content-Length': str(len(INNER))}), 422),
            (head({'Content-Length': '99999999'}), 413),
            (head({'Content-Length': str(len(INNER))}, path='/nope'), 404),
        ]
        for req, status in cases:
            out = exchange(self.core.port, req + INNER)
            self.assertEqual(statuses(out), [status], out[:300])
        self.assertNothingStored()

    def test_keyid_cannot_leave_keys_dir(self):
        for kid in ('../keys/edge1', os.path.join(self.keys, 'edge1'), 'edge1/', '..', '.',
                    'a' * 251, '%2e%2e', ''):
            body = os.urandom(64)
            out = exchange(self.core.port, head(self.signed(body, keyid=kid),
                                                extra=b'Connection: close\r\n') + body)
            self.assertEqual(statuses(out), [400], (kid[:40], out[:300]))
        self.assertNothingStored()

    def test_header_floods(self):
        body = os.urandom(64)
        h = self.signed(body)
        many = ''.join(f'X-H{i}: v\r\n' for i in range(100)).encode()
        repeated = b'X-Same: ' + b'v' * 20 + b'\r\n'
        cases = [
            (many, 422),                                   # more names than TP_RECV_HEADERS_MAX
            (repeated * 4000, 431),                        # over the connection memory limit
            (b'X-Big: ' + b'a' * 100000 + b'\r\n', 431),
            (b'X-' + b'n' * 200 + b': v\r\n', 422),        # name longer than we keep
        ]
        for extra, status in cases:
            out = exchange(self.core.port, head(h, extra=extra + b'Connection: close\r\n') + body)
            self.assertEqual(statuses(out)[:1], [status], out[:300])
        self.assertNothingStored()

    def test_signature_input_oddities(self):
        now = int(time.time())
        good = f'("content-type" "content-length" "content-digest");created={now};keyid="edge1"'
        for si, status in [
            ('sig1=(("content-type"))', 400),             # inner list inside an inner list
            ('sig1=abc', 400),                             # a token, not an inner list
            ('sig1', 400),                                 # a boolean
            ('sig1=:AAAA:', 400),                          # a byte sequence
            ('SIG1=' + good + ';alg="ed25519"', 400),     # keys are lower case (RFC 8941 3.2)
            ('sig1=' + good.replace(f'{now}', '9999999999999999') + ';alg="ed25519"', 400),
            ('sig1=' + good + ';alg="ed25519";x=' + 'a' * 10000, 400),
            ('sig1=' + good + ';alg="ed25519"' + ';a' * 3000, 400),
            ('sig1=' + good + ';alg="hmac-sha256"', 400),
            ('sig1=' + good, 400),                         # no alg
            ('sig1=' + good + ';alg="ed25519", sig2=' + good + ';alg="ed25519"', 401),
        ]:
            body = os.urandom(64)
            h = self.signed(body)
            h['Signature-Input'] = si
            out = exchange(self.core.port, head(h, extra=b'Connection: close\r\n') + body)
            self.assertEqual(statuses(out), [status], (si[:60], out[:300]))
        self.assertNothingStored()

    def test_interval_oddities(self):
        for iv in ('0000-01-01T00:00:00Z/PT1M', '9999-12-31T23:59:59Z/PT1S',
                   '2016-12-31T23:59:60Z/PT1M', '2023-02-29T00:00:00Z/PT1M',
                   '2024-01-01T24:00:00Z/PT1M', '2024-01-01T00:00:00Z/-PT1M',
                   '2024-01-01T00:00:00Z/PT99999999999999999999S',
                   '2024-01-01T00:00:00Z/2023-01-01T00:00:00Z', '2024-01-01T00:00:00/PT1M'):
            self.assertIsNone(python_interval(iv), iv)
            body = os.urandom(64)
            out = exchange(self.core.port, head(self.signed(body, interval=iv),
                                                extra=b'Connection: close\r\n') + body)
            self.assertEqual(statuses(out), [422], (iv, out[:300]))
        self.assertNothingStored()

    def test_zz_kill_during_uploads_then_restart(self):
        core = core_harness.Core(self.tmp, self.keys)
        acked, stop, lock = [], threading.Event(), threading.Lock()

        def worker():
            while not stop.is_set():
                body = os.urandom(50000)
                try:
                    status, headers, _ = core.request('POST', '/api/v1/aggregate/test', body,
                                                      self.signed(body))
                except OSError:
                    continue
                if status == 201:
                    with lock:
                        acked.append((dict(headers)['Location'], hashlib.sha256(body).digest()))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        deadline = time.time() + 20
        while len(acked) < 50 and time.time() < deadline:
            time.sleep(0.05)
        core.proc.send_signal(signal.SIGKILL)
        core.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        self.assertGreater(len(acked), 0)
        data = core.data
        core.kill()
        again = core_harness.Core(self.tmp, self.keys, '--data-dir', data)
        try:
            for location, digest in acked:
                status, _, payload = again.request('GET', location + '/payload')
                self.assertEqual(status, 200, location)
                self.assertEqual(hashlib.sha256(payload).digest(), digest)
            for f in files_under(os.path.join(data, 'aggregates')):
                m = re.search(r'/id=([0-9a-f]{24})(\.parquet)?$', f)
                self.assertIsNotNone(m, f)
                self.assertEqual(again.request('GET', f'/api/v1/aggregates/{m.group(1)}')[0], 200)
        finally:
            self.assertEqual(again.stop(), 0)


if __name__ == '__main__':
    harness.main()
