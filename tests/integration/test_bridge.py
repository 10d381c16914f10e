# SPDX-License-Identifier: BSD-2-Clause
"""The core's event bridge (core/bridge.c) and new_aggregate notifier
(core/notify.c) between a real mosquitto and a real nats-server.

tests/bridge_driver runs the bridge on a key directory holding the public
key `tapir keygen` wrote for node edge-7. Events are signed by the jose npm
package (tests/node/verify_jws.mjs), published with mosquitto_pub, and read
off NATS by the protocol-level client in brokers.py, so nothing on either
side of the bridge is our C code. The expected thumbprint is computed here
from RFC 7638 (SHA-256 of the canonical JWK JSON, base64url).

What is checked:
- valid events arrive on events.up.new_qname byte for byte as signed, with
  exactly the four DNSTAPIR-* headers and the right values;
- a forged signature, an unknown key, a topic whose node is not the kid,
  bytes that are not a flattened JWS, and three schema violations (extra
  member, wrong type, missing qname) are each counted under their reason
  and never forwarded;
- after the broker restarts, the bridge reconnects by itself and forwards
  again;
- tp_notify publishes new_aggregate messages a NATS subscriber receives on
  subject "aggregates", without headers.

Exits 77 (skipped) when the driver, mosquitto, mosquitto_pub, nats-server,
node or the jose package is missing.
"""
import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import brokers  # noqa: E402
import harness  # noqa: E402

SOURCE_ROOT = os.environ.get('TAPIR_SOURCE_ROOT', os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD_ROOT = os.environ.get('TAPIR_BUILD_ROOT', os.path.join(SOURCE_ROOT, 'build'))
DRIVER = os.environ.get('TAPIR_BRIDGE_DRIVER', os.path.join(BUILD_ROOT, 'tests', 'bridge_driver'))
NODE_DIR = os.path.join(SOURCE_ROOT, 'tests', 'node')
VERIFY_MJS = os.path.join(NODE_DIR, 'verify_jws.mjs')

if not os.access(DRIVER, os.X_OK):
    harness.skip(f'{DRIVER} is not built')
if not brokers.have('mosquitto', 'mosquitto_pub', 'nats-server', 'node'):
    harness.skip('mosquitto, mosquitto_pub (mosquitto-clients), nats-server or node missing')
if not os.path.isdir(os.path.join(NODE_DIR, 'node_modules', 'jose')):
    harness.skip('tests/node/node_modules/jose missing (npm install --prefix tests/node)')

KID, OTHER = 'edge-7', 'edge-9'
SUBJECT = 'events.up.new_qname'
SCHEMA = 'https://schema.dnstapir.se/v1/new_qname'
# The reference edge's example event (core-spec §2.1), byte for byte.
REF_EVENT = (b'{"flags":33155,"qclass":1,"qname":"dnstapir.xa.","qtype":28,'
             b'"timestamp":"2026-03-23T11:50:07+00:00","type":"new_qname","version":0}')


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()


def thumbprint(jwk_path):
    """RFC 7638 §3: required members of an OKP key, sorted, no spaces."""
    with open(jwk_path) as f:
        jwk = json.load(f)
    canon = json.dumps({'crv': jwk['crv'], 'kty': jwk['kty'], 'x': jwk['x']},
                       separators=(',', ':'), sort_keys=True)
    return b64url(hashlib.sha256(canon.encode()).digest())


def event(qname, **extra):
    ev = {'type': 'new_qname', 'version': 0, 'qname': qname, 'qtype': 1, 'qclass': 1,
          'timestamp': '2026-03-23T11:50:07Z'}
    ev.update(extra)
    return json.dumps(ev, separators=(',', ':')).encode()


class Bridge(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-bridge-')
        self.cleanup = []
        self.keys = os.path.join(self.tmp, 'keys')
        os.makedirs(self.keys)
        self.jwk = {}
        for kid in (KID, OTHER):
            d = os.path.join(self.tmp, 'gen-' + kid)
            os.makedirs(d)
            p = subprocess.run([harness.TAPIR, 'keygen', '--kid', kid, '--out-dir', d],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.jwk[kid] = os.path.join(d, kid + '.jwk')
        # Only edge-7's public key is known to the core.
        shutil.copy(os.path.join(self.tmp, 'gen-' + KID, KID + '.pem'), self.keys)
        self.mqtt = brokers.Mosquitto(os.path.join(self.tmp, 'mosquitto'))
        self.mqtt.start()
        self.cleanup.append(self.mqtt.stop)
        self.nats = brokers.NatsServer(os.path.join(self.tmp, 'nats'))
        self.nats.start()
        self.cleanup.append(self.nats.stop)
        self.n_signed = 0

    def tearDown(self):
        for fn in reversed(self.cleanup):
            fn()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sub(self, subject):
        s = brokers.NatsSubscriber(self.nats.port, subject)
        self.cleanup.append(s.close)
        return s

    def start_driver(self, *extra):
        p = subprocess.Popen([DRIVER, '--keys', self.keys, '--mqtt', self.mqtt.url,
                              '--nats', self.nats.url, *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def reap():
            if p.poll() is None:
                p.kill()
            p.communicate()
        self.cleanup.append(reap)
        self.assertEqual(json.loads(p.stdout.readline()), {'ready': True})
        self.wait_subscribed(1)
        return p

    def wait_subscribed(self, n):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.mqtt.log_text().count('Received SUBSCRIBE from tapir-core-bridge') >= n:
                return
            time.sleep(0.05)
        raise AssertionError('the bridge did not subscribe')

    def stop_driver(self, p):
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err.decode())
        return json.loads(out.decode().strip().splitlines()[-1])

    def sign(self, kid, payload):
        """A flattened JWS of payload by kid's key, made by jose."""
        self.n_signed += 1
        pl = os.path.join(self.tmp, f'payload-{self.n_signed}')
        out = os.path.join(self.tmp, f'jws-{self.n_signed}')
        with open(pl, 'wb') as f:
            f.write(payload)
        p = subprocess.run(['node', VERIFY_MJS, 'sign', self.jwk[kid], pl, out],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, 'rb') as f:
            return f.read()

    def publish(self, topic, data):
        path = os.path.join(self.tmp, 'pub')
        with open(path, 'wb') as f:
            f.write(data)
        subprocess.run(['mosquitto_pub', '-h', '127.0.0.1', '-p', str(self.mqtt.port),
                        '-q', '1', '-t', topic, '-f', path], check=True, timeout=30)

    def check_forwarded(self, msg, payload, topic):
        self.assertEqual(msg['subject'], SUBJECT)
        self.assertEqual(msg['payload'], payload)
        self.assertEqual(sorted(msg['headers']), sorted([
            ('DNSTAPIR-Message-Schema', SCHEMA),
            ('DNSTAPIR-Mqtt-Topic', topic),
            ('DNSTAPIR-Key-Identifier', KID),
            ('DNSTAPIR-Key-Thumbprint', thumbprint(self.jwk[KID])),
        ]))

    def test_valid_forwarded_invalid_counted(self):
        events = self.sub(SUBJECT)
        drv = self.start_driver()
        topic = f'events/up/{KID}/new_qname'
        good = [REF_EVENT, event('www.example.com.', initiator='client', rdlength=0)]
        for g in good:
            self.publish(topic, self.sign(KID, g))

        valid = self.sign(KID, event('forged.example.'))
        doc = json.loads(valid)
        # Forged: a different payload under the original signature.
        doc['payload'] = b64url(event('evil.example.'))
        self.publish(topic, json.dumps(doc).encode())
        # Unknown key: edge-9 signs correctly, but the core has no key for it.
        self.publish(f'events/up/{OTHER}/new_qname', self.sign(OTHER, event('other.example.')))
        # Wrong topic: a valid edge-7 event on edge-9's topic, and on a
        # topic with no level after the node.
        self.publish(f'events/up/{OTHER}/new_qname', valid)
        self.publish(f'events/up/{KID}', valid)
        # Not a flattened JWS at all.
        self.publish(topic, b'{"payload": "e30"')
        self.publish(topic, b'eyJhbGciOiJFZERTQSJ9.e30.AAAA')
        # Schema violations, each properly signed.
        self.publish(topic, self.sign(KID, event('x.example.', extra=1)))
        self.publish(topic, self.sign(KID, event('x.example.', qtype='1')))
        self.publish(topic, self.sign(KID, json.dumps(
            {'type': 'new_qname', 'version': 0}).encode()))
        # Messages on one connection are handled in order: once this one
        # is through, every earlier one has been.
        last = event('last.example.')
        self.publish(topic, self.sign(KID, last))
        self.assertTrue(events.wait_for(lambda m: len(m) >= 3))
        time.sleep(0.3)
        msgs = events.snapshot()
        self.assertEqual(len(msgs), 3)
        for msg, payload in zip(msgs, good + [last]):
            self.check_forwarded(msg, payload, topic)

        st = self.stop_driver(drv)
        self.assertEqual(st, {
            'received': 12, 'forwarded': 3,
            'drop_malformed': 2, 'drop_unknown_key': 1, 'drop_bad_signature': 1,
            'drop_wrong_topic': 2, 'drop_schema': 3, 'drop_nats': 0,
        })

    def test_reconnects_after_broker_restart(self):
        events = self.sub(SUBJECT)
        drv = self.start_driver()
        topic = f'events/up/{KID}/x'
        first, second = event('one.example.'), event('two.example.')
        self.publish(topic, self.sign(KID, first))
        self.assertTrue(events.wait_for(lambda m: len(m) >= 1))
        signed = self.sign(KID, second)
        self.mqtt.restart(down_s=0.5)
        self.wait_subscribed(2)
        self.publish(topic, signed)
        self.assertTrue(events.wait_for(lambda m: len(m) >= 2, timeout=30))
        self.assertEqual([m['payload'] for m in events.snapshot()], [first, second])
        st = self.stop_driver(drv)
        self.assertEqual((st['received'], st['forwarded']), (2, 2))

    def test_notify_publishes_new_aggregate(self):
        aggs = self.sub('aggregates')
        drv = self.start_driver('--notify', '3', '--notify-base', 'http://core.example:8080/x')
        self.assertTrue(aggs.wait_for(lambda m: len(m) >= 3))
        time.sleep(0.3)
        msgs = aggs.snapshot()
        self.assertEqual(len(msgs), 3)
        ids = []
        for m in msgs:
            self.assertEqual(m['subject'], 'aggregates')
            self.assertEqual(m['headers'], [])
            doc = json.loads(m['payload'])
            self.assertEqual(doc['$schema'], 'https://schema.dnstapir.se/v1/new_aggregate')
            self.assertEqual((doc['type'], doc['version']), ('new_aggregate', 1))
            aid = doc['aggregate_id']
            ids.append(aid)
            self.assertEqual(doc['metadata_location'],
                             f'http://core.example:8080/api/v1/aggregates/{aid}')
            self.assertEqual(doc['content_location'], doc['metadata_location'] + '/payload')
            self.assertEqual(doc['created'], '2023-11-14T22:13:20Z')
            self.assertEqual(doc['aggregate_interval_start'], '2023-11-14T22:13:20Z')
            self.assertEqual(doc['aggregate_interval_duration'], 60)
            self.assertIsInstance(doc['aggregate_interval_duration'], int)
        self.assertEqual(ids, [f'6553f100{i:016x}' for i in range(3)])
        self.assertEqual(len({json.loads(m['payload'])['message_id'] for m in msgs}), 3)
        st = self.stop_driver(drv)
        self.assertEqual((st['notify_queued'], st['notify_dropped_full']), (3, 0))


if __name__ == '__main__':
    unittest.main(verbosity=2)
