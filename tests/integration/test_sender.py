# SPDX-License-Identifier: BSD-2-Clause
"""The histogram sender (edge/sender.c) against a real HTTP server.

`tapir edge --input-file` writes three per-minute histogram files and uploads
them to a Python http.server on 127.0.0.1 that checks every request on its own:
the path, Content-Type, Content-Length against the body, Content-Digest with
hashlib, Aggregate-Interval against the file's name, and the RFC 9421
signature with python3-cryptography's Ed25519 over a signature base built
here from RFC 9421 §2.5. It answers 500 to the first requests, then 201.
Checked: files reach sent/ only after a 201, failures are retried, a batch
run against a core that is down exits non-zero and leaves its files in the
outbox, and a rerun uploads them; *.tmp and badly named files are left
alone; sent/ files strictly older than a day are deleted.

The npm http-message-signatures package (tests/node/httpsig.mjs) is the
second, independent RFC 9421 implementation: it verifies a request the edge
sent, signs one that our verifier (the interop hook of tests/unit/
test_httpsig.c) must accept, and our signer's output must verify in it.
Those tests are skipped without node or the package.
"""
import base64
import calendar
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization
except ImportError:  # pragma: no cover
    harness.skip('python3-cryptography is not installed')

SOURCE_ROOT = os.environ.get('TAPIR_SOURCE_ROOT', os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD_ROOT = os.environ.get('TAPIR_BUILD_ROOT', os.path.join(SOURCE_ROOT, 'build'))
HTTPSIG_TEST = os.environ.get('TAPIR_HTTPSIG_TEST', os.path.join(BUILD_ROOT, 'tests', 'test_httpsig'))
NODE_DIR = os.path.join(SOURCE_ROOT, 'tests', 'node')
HTTPSIG_MJS = os.path.join(NODE_DIR, 'httpsig.mjs')
HAVE_NODE = (shutil.which('node') is not None and
             os.path.isdir(os.path.join(NODE_DIR, 'node_modules', 'http-message-signatures')))

if not os.access(harness.TAPIR, os.X_OK):
    harness.skip(f'{harness.TAPIR} is not built')

KID = 'x-edge1'  # "x-" : the unit test's interop key callback answers it
T0 = 1764780000  # a minute boundary
NAME_RE = re.compile(r'^dns_histogram-(\S{20})_(\S{20})\.parquet$')
SIG_INPUT_RE = re.compile(r'^sig1=\("content-type" "content-length" "content-digest"\);'
                          r'created=(\d+);alg="ed25519";keyid="([^"]*)"$')


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()


def new_key(path):
    k = Ed25519PrivateKey.generate()
    d = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                        serialization.NoEncryption())
    x = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    with open(path, 'w') as f:
        json.dump({'kty': 'OKP', 'crv': 'Ed25519', 'kid': KID, 'x': b64url(x), 'd': b64url(d)}, f)
    return k.public_key()


def frame_at(tsec, qname='example.com.'):
    msg = harness.dnstap_message(tsec=tsec, tnsec=0, wire=harness.dns_message(qname))
    return harness.dnstap_frame(msg)


def iso_duration(seconds):
    """ISO 8601 duration as the reference writes it, computed here."""
    if seconds <= 0:
        return 'PT0S'
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return 'PT' + (f'{h}H' if h else '') + (f'{m}M' if m else '') + (f'{s}S' if s else '')


class Core:
    """An aggregate receiver that checks everything on its own."""

    def __init__(self, public_key, fail_first=0, refuse_start=None):
        self.public_key = public_key
        self.fail_first = fail_first
        self.refuse_start = refuse_start  # always 413 for this interval start
        self.requests = []   # (headers dict, body, problems list, status)
        self.lock = threading.Lock()
        core = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get('Content-Length', '-1'))
                body = self.rfile.read(n) if n >= 0 else b''
                headers = {k.lower(): v for k, v in self.headers.items()}
                problems = core.check(self.path, headers, body)
                with core.lock:
                    status = 500 if len(core.requests) < core.fail_first else (422 if problems else 201)
                    if core.refuse_start and headers.get('aggregate-interval', '').startswith(core.refuse_start):
                        status = 413
                    core.requests.append((headers, body, problems, status))
                self.send_response(status)
                if status == 201:
                    self.send_header('Location', f'/api/v1/aggregates/{len(core.requests):024x}')
                self.send_header('Content-Length', '0')
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def check(self, path, h, body):
        p = []
        if path != '/api/v1/aggregate/histogram':
            p.append(f'path {path}')
        if h.get('content-type') != 'application/vnd.apache.parquet':
            p.append('content-type')
        if h.get('content-length') != str(len(body)):
            p.append('content-length')
        want = 'sha-256=:' + base64.b64encode(hashlib.sha256(body).digest()).decode() + ':'
        if h.get('content-digest') != want:
            p.append('content-digest')
        if not h.get('user-agent', '').startswith('tapir/'):
            p.append('user-agent')
        if not body.startswith(b'PAR1') or not body.endswith(b'PAR1'):
            p.append('not parquet')
        m = SIG_INPUT_RE.match(h.get('signature-input', ''))
        sm = re.match(r'^sig1=:([A-Za-z0-9+/]+=*):$', h.get('signature', ''))
        if not m or not sm:
            p.append('signature fields')
            return p
        if m.group(2) != KID or abs(int(m.group(1)) - time.time()) > 600:
            p.append('keyid or created')
        base = (f'"content-type": {h["content-type"]}\n'
                f'"content-length": {h["content-length"]}\n'
                f'"content-digest": {h["content-digest"]}\n'
                f'"@signature-params": {h["signature-input"][len("sig1="):]}')
        try:
            self.public_key.verify(base64.b64decode(sm.group(1)), base.encode())
        except Exception:  # noqa: BLE001 - InvalidSignature or a bad length
            p.append('signature does not verify')
        return p


class SenderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-sender-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.key = os.path.join(self.tmp, 'key.jwk')
        self.public_key = new_key(self.key)
        self.list = os.path.join(self.tmp, 'list.txt')
        with open(self.list, 'w') as f:
            f.write('example.com.\n')
        self.data = os.path.join(self.tmp, 'data')
        self.outbox = os.path.join(self.data, 'parquet', 'histograms', 'outbox')
        self.sent = os.path.join(self.data, 'parquet', 'histograms', 'sent')
        self.input = os.path.join(self.tmp, 'in.dnstap')
        with open(self.input, 'wb') as f:
            f.write(harness.fstrm_file([frame_at(T0 + 5), frame_at(T0 + 65), frame_at(T0 + 125)]))
        self.empty = os.path.join(self.tmp, 'empty.dnstap')
        with open(self.empty, 'wb') as f:
            f.write(harness.fstrm_file([]))

    def run_edge(self, port, wait, input_file=None, expect_rc=0):
        out = os.path.join(self.tmp, 'summary.json')
        if os.path.exists(out):
            os.unlink(out)
        args = [harness.TAPIR, 'edge', '--input-file', input_file or self.input,
                '--summary-json', out, '--well-known-domains-file', self.list,
                '--data-dir', self.data, '--http-url', f'http://127.0.0.1:{port}/',
                '--http-signing-key-file', self.key, '--http-upload-wait', str(wait)]
        t = time.monotonic()
        p = subprocess.run(args, capture_output=True, text=True, timeout=300)
        elapsed = time.monotonic() - t
        self.assertEqual(p.returncode, expect_rc, p.stderr)
        with open(out) as f:
            return json.load(f), p.stderr, elapsed

    def names(self, d):
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def start_core(self, fail_first=0, refuse_start=None):
        core = Core(self.public_key, fail_first, refuse_start)
        self.addCleanup(core.stop)
        return core

    def check_uploads(self, core):
        """Every 201 carried a sent/ file's bytes and its name's interval."""
        ok = [(h, b) for h, b, p, s in core.requests if s == 201]
        for h, b, p, s in core.requests:
            self.assertEqual(p, [], h)
        by_name = {}
        for n in self.names(self.sent):
            with open(os.path.join(self.sent, n), 'rb') as f:
                by_name[n] = f.read()
        self.assertEqual(len(ok), len(by_name))
        for h, b in ok:
            start, dur = h['aggregate-interval'].split('/')
            match = [n for n, data in by_name.items() if data == b]
            self.assertEqual(len(match), 1)
            m = NAME_RE.match(match[0])
            a = time.strptime(m.group(1), '%Y-%m-%dT%H-%M-%SZ')
            z = time.strptime(m.group(2), '%Y-%m-%dT%H-%M-%SZ')
            self.assertEqual(start, time.strftime('%Y-%m-%dT%H:%M:%SZ', a))
            self.assertEqual(dur, iso_duration(calendar.timegm(z) - calendar.timegm(a)))
        return ok

    def test_retries_until_201_then_moves_to_sent(self):
        core = self.start_core(fail_first=2)
        os.makedirs(self.outbox)
        os.makedirs(self.sent)
        junk = ['dns_histogram-garbage.parquet',
                'dns_histogram-2025-01-01T00-00-00Z_2025-01-01T00-01-00Z.parquet.tmp']
        for n in junk:
            with open(os.path.join(self.outbox, n), 'wb') as f:
                f.write(b'x')
        old = 'dns_histogram-2025-01-01T00-00-00Z_2025-01-01T00-01-00Z.parquet'
        young = 'dns_histogram-2025-01-01T00-01-00Z_2025-01-01T00-02-00Z.parquet'
        for n, age in ((old, 86400 + 120), (young, 86400 - 120)):
            path = os.path.join(self.sent, n)
            with open(path, 'wb') as f:
                f.write(b'old')
            os.utime(path, (time.time() - age, time.time() - age))
        summary, stderr, _ = self.run_edge(core.port, 60)
        s = summary['sender']
        # Three minutes, three files; two refusals then three successes.
        self.assertEqual([st for *_, st in core.requests], [500, 500, 201, 201, 201])
        self.assertEqual((s['uploaded'], s['failed'], s['pending'], s['last_status']),
                         (3, 2, 0, 201))
        self.assertEqual(s['bad_names'], 1)
        self.assertEqual(s['cleaned'], 1)
        self.assertEqual(self.names(self.outbox), sorted(junk))
        self.assertNotIn(old, self.names(self.sent))
        self.assertIn(young, self.names(self.sent))
        os.unlink(os.path.join(self.sent, young))
        ok = self.check_uploads(core)
        # The first interval starts at the first frame (edm-spec §3.7).
        self.assertIn('PT55S', [h['aggregate-interval'].split('/')[1] for h, _ in ok])
        # The same request, verified by the second implementation.
        if HAVE_NODE:
            h, b = ok[0]
            req = os.path.join(self.tmp, 'req.json')
            with open(req, 'w') as f:
                json.dump({'headers': h, 'body_b64': base64.b64encode(b).decode()}, f)
            p = subprocess.run(['node', HTTPSIG_MJS, 'verify', self.key, req],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(json.loads(p.stdout)['keyid'], KID)
            # ...which must not accept everything: a changed body.
            with open(req, 'w') as f:
                json.dump({'headers': dict(h, **{'content-digest': 'sha-256=:' + base64.b64encode(
                    hashlib.sha256(b + b'x').digest()).decode() + ':', 'content-length': str(len(b) + 1)}),
                    'body_b64': base64.b64encode(b + b'x').decode()}, f)
            p = subprocess.run(['node', HTTPSIG_MJS, 'verify', self.key, req],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)

    def test_a_refused_file_does_not_hold_back_the_others(self):
        """The core refuses the first minute's file for good (413): the later
        files still go, the refused one stays in the outbox."""
        first = time.strftime('%Y-%m-%dT%H:%M', time.gmtime(T0))
        core = self.start_core(refuse_start=first)
        summary, _, _ = self.run_edge(core.port, 4, expect_rc=1)
        s = summary['sender']
        self.assertEqual((s['uploaded'], s['pending']), (2, 1), s)
        self.assertEqual(len(self.names(self.sent)), 2)
        left = self.names(self.outbox)
        self.assertEqual(len(left), 1)
        self.assertTrue(left[0].startswith('dns_histogram-' + first.replace(':', '-')), left)
        statuses = [st for *_, st in core.requests]
        self.assertEqual(statuses.count(201), 2, statuses)
        self.assertEqual(set(statuses), {201, 413}, statuses)

    def test_core_down_keeps_files_and_a_rerun_uploads_them(self):
        port = harness.free_port()
        summary, stderr, elapsed = self.run_edge(port, 2, expect_rc=1)
        self.assertIn('http-upload-wait', stderr)
        self.assertEqual(len(self.names(self.outbox)), 3)
        self.assertEqual(self.names(self.sent), [])
        s = summary['sender']
        self.assertEqual((s['uploaded'], s['pending'], s['last_status']), (0, 3, 0))
        self.assertGreaterEqual(s['failed'], 1)
        self.assertLess(elapsed, 30)
        kept = {}
        for n in self.names(self.outbox):
            with open(os.path.join(self.outbox, n), 'rb') as f:
                kept[n] = f.read()
        # The core is back: a run with nothing new uploads the leftovers.
        core = self.start_core()
        summary, _, _ = self.run_edge(core.port, 30, input_file=self.empty)
        self.assertEqual(summary['sender']['uploaded'], 3)
        self.assertEqual(self.names(self.outbox), [])
        self.assertEqual(sorted(kept), self.names(self.sent))
        for n, data in kept.items():
            with open(os.path.join(self.sent, n), 'rb') as f:
                self.assertEqual(f.read(), data)
        self.check_uploads(core)

    def test_options_are_checked(self):
        for args in (['--http-url', 'http://127.0.0.1:1'],
                     ['--http-url', 'ftp://x', '--http-signing-key-file', self.key],
                     ['--http-signing-key-file', self.key],
                     ['--http-url', 'http://127.0.0.1:1', '--http-signing-key-file', self.key,
                      '--http-client-cert-file', self.key]):
            p = subprocess.run([harness.TAPIR, 'edge', '--input-file', self.empty,
                                '--data-dir', self.data, *args],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
        # disable-histogram-sender: files stay, exit 0, no "sender" block.
        out = os.path.join(self.tmp, 's.json')
        p = subprocess.run([harness.TAPIR, 'edge', '--input-file', self.input, '--summary-json', out,
                            '--well-known-domains-file', self.list, '--data-dir', self.data,
                            '--http-url', 'http://127.0.0.1:1', '--disable-histogram-sender'],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.names(self.outbox)), 3)
        with open(out) as f:
            self.assertNotIn('sender', json.load(f))


@unittest.skipUnless(HAVE_NODE and os.access(HTTPSIG_TEST, os.X_OK),
                     'needs node, tests/node/node_modules/http-message-signatures and test_httpsig')
class HttpsigInterop(unittest.TestCase):
    def test_both_directions(self):
        d = tempfile.mkdtemp(prefix='tapir-httpsig-')
        self.addCleanup(shutil.rmtree, d, True)
        public_key = new_key(os.path.join(d, 'key.jwk'))
        body = bytes(range(256)) * 5
        with open(os.path.join(d, 'body.bin'), 'wb') as f:
            f.write(body)
        p = subprocess.run(['node', HTTPSIG_MJS, 'sign', os.path.join(d, 'key.jwk'),
                            os.path.join(d, 'body.bin'), os.path.join(d, 'node.txt')],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        env = dict(os.environ, TAPIR_HTTPSIG_INTEROP_DIR=d)
        p = subprocess.run([HTTPSIG_TEST], capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn('SKIPPED ] test_httpsig_interop', p.stdout + p.stderr)
        with open(os.path.join(d, 'node.ok')) as f:
            self.assertEqual(f.read(), 'ok\n')
        with open(os.path.join(d, 'ours.txt')) as f:
            sig_input, sig, digest = f.read().splitlines()
        self.assertEqual(digest, 'sha-256=:' + base64.b64encode(hashlib.sha256(body).digest()).decode() + ':')
        headers = {'content-type': 'application/vnd.apache.parquet', 'content-length': str(len(body)),
                   'content-digest': digest, 'signature-input': sig_input, 'signature': sig}
        req = os.path.join(d, 'req.json')
        with open(req, 'w') as f:
            json.dump({'headers': headers, 'body_b64': base64.b64encode(body).decode()}, f)
        p = subprocess.run(['node', HTTPSIG_MJS, 'verify', os.path.join(d, 'key.jwk'), req],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # And python's own check of our signature, for a third opinion.
        core = Core(public_key)
        core.stop()
        self.assertEqual(core.check('/api/v1/aggregate/histogram',
                                    dict(headers, **{'user-agent': 'tapir/x'}), body),
                         ['not parquet'])


if __name__ == '__main__':
    harness.main()
