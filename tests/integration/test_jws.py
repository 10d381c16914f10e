# SPDX-License-Identifier: BSD-2-Clause
"""tapir's JWS (lib/sign, `tapir keygen`) against an independent JOSE library.

The acceptance test of lib/sign's interoperability: the jose npm package
(tests/node/verify_jws.mjs) must verify what tapir signs, tapir must verify
what jose signs, and, Ed25519 being deterministic (RFC 8032), both must
produce the very same signature over the same header and payload. The key
comes from `tapir keygen`, so its files are checked on the way: modes,
refusal to overwrite, kid validation, and the RFC 7638 thumbprint it prints
against jose's calculateJwkThumbprint.

tapir has no signing subcommand (the edge signs internally), so the C side
runs through the unit-test binary's interop hook: tests/unit/test_jws.c's
test_jws_interop_files, which runs only when TAPIR_JWS_INTEROP_DIR is set.
It signs payload.bin with key.jwk into ours.json and verifies jose.json with
key.pem into jose.payload. The binary is $TAPIR_JWS_TEST or
$TAPIR_BUILD_ROOT/tests/test_jws.

Needs node and tests/node/node_modules/jose (scripts/install-deps.sh runs
npm ci); exits 77 (skipped) without them.
"""
import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SOURCE_ROOT = os.environ.get('TAPIR_SOURCE_ROOT', os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD_ROOT = os.environ.get('TAPIR_BUILD_ROOT', os.path.join(SOURCE_ROOT, 'build'))
TEST_BIN = os.environ.get('TAPIR_JWS_TEST', os.path.join(BUILD_ROOT, 'tests', 'test_jws'))
NODE_DIR = os.path.join(SOURCE_ROOT, 'tests', 'node')
VERIFY_MJS = os.path.join(NODE_DIR, 'verify_jws.mjs')

if not os.access(harness.TAPIR, os.X_OK):
    harness.skip(f'{harness.TAPIR} is not built')
if not os.access(TEST_BIN, os.X_OK):
    harness.skip(f'{TEST_BIN} is not built (needs cmocka)')
if shutil.which('node') is None:
    harness.skip('node is not installed (scripts/install-deps.sh installs it)')
if not os.path.isdir(os.path.join(NODE_DIR, 'node_modules', 'jose')):
    harness.skip('tests/node/node_modules/jose is missing (scripts/install-deps.sh runs npm ci)')

KID = 'edge-1.example_node'
# A new_qname event as the edge sends it (edm-spec §5.2), with a non-ASCII
# byte sequence and Go's escapes, so the payload is not plain ASCII JSON.
PAYLOAD = ('{"flags":33024,"qclass":1,"qname":"caf\u00e9.\\u003cx\\u003e.example.",'
           '"qtype":1,"timestamp":"2023-11-14T22:13:00Z","type":"new_qname","version":0}').encode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def node(*args, expect=0):
    p = subprocess.run(['node', VERIFY_MJS, *args], capture_output=True, text=True, timeout=60)
    if p.returncode != expect:
        raise AssertionError(f'verify_jws.mjs {args[0]}: rc {p.returncode}, want {expect}\n'
                             f'{p.stdout}{p.stderr}')
    return p.stdout


class JwsInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='tapir-jws-')
        p = subprocess.run([harness.TAPIR, 'keygen', '--kid', KID, '--out-dir', cls.tmp],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f'tapir keygen failed: {p.returncode}\n{p.stderr}')
        cls.keygen_out = dict(line.split(' ', 1) for line in p.stdout.splitlines())
        cls.jwk_path = os.path.join(cls.tmp, KID + '.jwk')
        cls.pem_path = os.path.join(cls.tmp, KID + '.pem')
        # The interop hook's fixed file names.
        cls.dir = os.path.join(cls.tmp, 'interop')
        os.mkdir(cls.dir)
        shutil.copyfile(cls.jwk_path, os.path.join(cls.dir, 'key.jwk'))
        shutil.copyfile(cls.pem_path, os.path.join(cls.dir, 'key.pem'))
        with open(os.path.join(cls.dir, 'payload.bin'), 'wb') as f:
            f.write(PAYLOAD)
        node('sign', os.path.join(cls.dir, 'key.jwk'), os.path.join(cls.dir, 'payload.bin'),
             os.path.join(cls.dir, 'jose.json'))
        env = dict(os.environ, TAPIR_JWS_INTEROP_DIR=cls.dir)
        p = subprocess.run([TEST_BIN], capture_output=True, text=True, timeout=60, env=env)
        if p.returncode != 0 or 'SKIPPED' in p.stdout + p.stderr:
            raise AssertionError(f'{TEST_BIN} interop run: rc {p.returncode}\n{p.stdout}{p.stderr}')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def read(self, name, mode='rb'):
        with open(os.path.join(self.dir, name), mode) as f:
            return f.read()

    def test_keygen_files(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.jwk_path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.pem_path).st_mode), 0o644)
        with open(self.jwk_path) as f:
            jwk = json.load(f)
        self.assertEqual((jwk['kty'], jwk['crv'], jwk['kid']), ('OKP', 'Ed25519', KID))
        self.assertEqual(len(base64.urlsafe_b64decode(jwk['d'] + '=')), 32)
        with open(self.pem_path) as f:
            pem = f.read()
        self.assertTrue(pem.startswith('-----BEGIN PUBLIC KEY-----\n'))
        self.assertEqual(self.keygen_out['kid'], KID)

    def test_thumbprint_matches_jose(self):
        self.assertEqual(node('thumbprint', self.jwk_path).strip(), self.keygen_out['thumbprint'])

    def test_keygen_refuses_overwrite_and_bad_kid(self):
        with open(self.jwk_path, 'rb') as f:
            before = f.read()
        p = subprocess.run([harness.TAPIR, 'keygen', '--kid', KID, '--out-dir', self.tmp],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        with open(self.jwk_path, 'rb') as f:
            self.assertEqual(f.read(), before)
        for bad in ('../x', '.hidden', '', 'a/b', 'a b', 'x' * 65, 'caf\u00e9'):
            p = subprocess.run([harness.TAPIR, 'keygen', '--kid', bad, '--out-dir', self.tmp],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, bad)
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted([KID + '.jwk', KID + '.pem', 'interop']))

    def test_jose_verifies_ours(self):
        out = json.loads(node('verify', os.path.join(self.dir, 'key.pem'),
                              os.path.join(self.dir, 'ours.json')))
        self.assertEqual(out['kid'], KID)
        self.assertEqual(base64.b64decode(out['payload_b64']), PAYLOAD)

    def test_we_verify_jose(self):
        self.assertEqual(self.read('jose.payload'), PAYLOAD)

    def test_same_bytes_as_jose(self):
        ours_text = self.read('ours.json', 'r')
        ours, jose = json.loads(ours_text), json.loads(self.read('jose.json', 'r'))
        # Deterministic Ed25519 over identical signing input: identical JWS.
        self.assertEqual(ours, jose)
        # And the exact text the reference edge sends (edm-spec §5.3).
        header = b64url(json.dumps({'alg': 'EdDSA', 'kid': KID}, separators=(',', ':')).encode())
        self.assertEqual(ours_text, '{"payload":"%s","protected":"%s","signature":"%s"}'
                         % (b64url(PAYLOAD), header, jose['signature']))

    def test_jose_rejects_tampered(self):
        # The oracle must not accept everything: flip the payload.
        ours = json.loads(self.read('ours.json', 'r'))
        ours['payload'] = b64url(PAYLOAD.replace(b'new_qname', b'new_qnamf'))
        path = os.path.join(self.tmp, 'tampered.json')
        with open(path, 'w') as f:
            json.dump(ours, f)
        node('verify', os.path.join(self.dir, 'key.pem'), path, expect=1)
        os.unlink(path)


if __name__ == '__main__':
    harness.main()
