"""What the core's tests share: an independent RFC 9421 signer for uploads
(signature base built from the RFC's text, digests with hashlib, keys from
python3-cryptography), and the servers they start on loopback, on free
ports, in a test's temporary directory: `tapir core` and an S3-compatible
server (npm @20minutes/s3rver)."""
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import time

import brokers
import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_DIR = os.path.join(ROOT, 'tests', 'node')


PARQUET = 'application/vnd.apache.parquet'
COVERED = ('content-type', 'content-length', 'content-digest')


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))


def content_digest(body):
    return 'sha-256=:' + base64.b64encode(hashlib.sha256(body).digest()).decode() + ':'


class Signer:
    def __init__(self, keyid, key, alg):
        self.keyid, self.key, self.alg = keyid, key, alg

    def sign(self, base):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        if self.alg == 'ed25519':
            return self.key.sign(base)
        r, s = decode_dss_signature(self.key.sign(base, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, 'big') + s.to_bytes(32, 'big')

    def headers(self, body, content_type=PARQUET, interval='2024-05-06T08:56:58-05:00/PT1M',
                covered=COVERED, created=None, alg='default', keyid=None, label='sig1',
                digest=None):
        """The upload's headers, signed over `covered` (RFC 9421 §2.5)."""
        h = {'Content-Type': content_type, 'Content-Length': str(len(body)),
             'Content-Digest': digest or content_digest(body)}
        if interval is not None:
            h['Aggregate-Interval'] = interval
        params = '(' + ' '.join(f'"{c}"' for c in covered) + ')'
        params += f';created={int(time.time()) if created is None else created}'
        params += f';keyid="{self.keyid if keyid is None else keyid}"'
        if alg is not None:
            params += f';alg="{self.alg if alg == "default" else alg}"'
        lower = {k.lower(): v for k, v in h.items()}
        lines = [f'"{c}": {lower[c]}' for c in covered] + [f'"@signature-params": {params}']
        sig = self.sign('\n'.join(lines).encode())
        h['Signature-Input'] = f'{label}={params}'
        h['Signature'] = f'{label}=:{base64.b64encode(sig).decode()}:'
        return h


def keygen(tmp, kid, keys_dir=None):
    """`tapir keygen --kid KID` into a directory of its own under tmp; the
    public PEM is copied into keys_dir when given (what a core trusts).
    Returns (the private JWK's path, a Signer holding that key)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    gen = os.path.join(tmp, 'keygen-' + kid)
    os.makedirs(gen)
    p = subprocess.run([harness.TAPIR, 'keygen', '--kid', kid, '--out-dir', gen],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(f'tapir keygen: {p.stderr}')
    if keys_dir is not None:
        shutil.copy(os.path.join(gen, kid + '.pem'), keys_dir)
    jwk = os.path.join(gen, kid + '.jwk')
    with open(jwk) as f:
        d = b64url_decode(json.load(f)['d'])
    return jwk, Signer(kid, ed25519.Ed25519PrivateKey.from_private_bytes(d), 'ed25519')


class Core:
    """A `tapir core` on a free loopback port, stopped with SIGTERM."""

    def __init__(self, tmp, keys_dir, *args, port=None):
        """port: a chosen one (a restart on the same port reopens the same
        data directory, which is named after it); a free one by default."""
        self.port = port or harness.free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.data = os.path.join(tmp, f'data-{self.port}')
        self.aggregates_dir = os.path.join(self.data, 'aggregates')
        self.stderr_path = os.path.join(tmp, f'core-{self.port}.stderr')
        self.stderr = open(self.stderr_path, 'w')
        self.proc = subprocess.Popen([harness.TAPIR, 'core', '--listen', f'127.0.0.1:{self.port}',
                                      '--data-dir', self.data, '--keys-dir', keys_dir, *args],
                                     stderr=self.stderr)
        deadline = time.time() + 15
        while 'listening on' not in self.log():
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f'tapir core did not start: {self.log()}')
            time.sleep(0.02)

    def log(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path, errors='replace') as f:
            return f.read()

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=20)
        try:
            c.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                for one in (v if isinstance(v, list) else [v]):
                    c.putheader(k, one)
            c.endheaders(body)
            r = c.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            c.close()

    def get_json(self, path):
        status, _, body = self.request('GET', path)
        if status != 200:
            raise AssertionError(f'GET {path}: {status} {body[:200]!r}')
        return json.loads(body)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.stderr.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.stderr.closed:
            self.stderr.close()


# s3rver as a library: our key pair on its one account, no virtual-host
# buckets (path style only), signatures checked, quiet. argv: port, directory,
# access key, secret key.
S3RVER_JS = r"""
const S3rver = require('@20minutes/s3rver');
const { DUMMY_ACCOUNT } = require('@20minutes/s3rver/lib/models/account');
const [port, dir, ak, sk] = process.argv.slice(-4);
DUMMY_ACCOUNT.createKeyPair(ak, sk);
new S3rver({ address: '127.0.0.1', port: Number(port), directory: dir, silent: true,
             vhostBuckets: false, allowMismatchedSignatures: false })
  .run().then(a => console.log('listening ' + a.port));
"""


class S3rver:
    """The npm package @20minutes/s3rver, a fork of s3rver that recomputes
    every SigV4 signature (s3rver 3.x accepts any signature). Tests read what
    it stored from its files, independently of tapir's S3 client."""

    ACCESS_KEY = 'TAPIRTEST'
    SECRET_KEY = 'tapir/test+secret=key'

    @staticmethod
    def available():
        return shutil.which('node') is not None and \
            os.path.isdir(os.path.join(NODE_DIR, 'node_modules', '@20minutes', 's3rver'))

    def __init__(self, d):
        if not self.available():
            harness.skip('node or tests/node/node_modules/@20minutes/s3rver missing '
                         '(npm ci --prefix tests/node)')
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.port = brokers.free_port()
        self.endpoint = f'http://127.0.0.1:{self.port}'
        self.log = open(os.path.join(d, '..', 's3rver.log'), 'wb')
        self.proc = subprocess.Popen(['node', '-e', S3RVER_JS, str(self.port), d,
                                      self.ACCESS_KEY, self.SECRET_KEY],
                                     cwd=NODE_DIR, stdout=self.log, stderr=subprocess.STDOUT)
        brokers.wait_port(self.port, timeout=20, proc=self.proc)

    def core_args(self, bucket):
        return ['--s3-endpoint', self.endpoint, '--s3-bucket', bucket, '--s3-create-bucket',
                '--s3-access-key-id', self.ACCESS_KEY, '--s3-secret-access-key', self.SECRET_KEY]

    def stop(self):
        if self.proc.poll() is None:
            brokers.terminate(self.proc)
        self.log.close()

    # s3rver's filesystem store: <dir>/<bucket>/<key dirs>/<last>._S3rver_object
    # and ..._S3rver_metadata.json beside it.
    def object_path(self, bucket, key, what='object'):
        parts = key.split('/')
        return os.path.join(self.dir, bucket, *parts[:-1], f'{parts[-1]}._S3rver_{what}')

    def object_bytes(self, bucket, key):
        with open(self.object_path(bucket, key), 'rb') as f:
            return f.read()

    def object_meta(self, bucket, key):
        with open(self.object_path(bucket, key, 'metadata.json')) as f:
            return json.load(f)

    def objects(self, bucket):
        out = []
        for root, _, files in os.walk(os.path.join(self.dir, bucket)):
            out += [os.path.join(root, f) for f in files if f.endswith('._S3rver_object')]
        return out

    def keys(self, bucket):
        base = os.path.join(self.dir, bucket)
        return sorted(os.path.relpath(p, base)[:-len('._S3rver_object')] for p in self.objects(bucket))
