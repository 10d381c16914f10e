# SPDX-License-Identifier: BSD-2-Clause
"""`tapir core`'s event bridge (core/bridge.c) and new_aggregate notifier
(core/notify.c), run by the real `tapir core` between a real mosquitto and
a real nats-server, all on loopback.

The core's keys directory holds the public key `tapir keygen` wrote for
node edge-7. Events are signed by the jose npm package
(tests/node/verify_jws.mjs) and published with mosquitto_pub; uploads are
signed by core_harness.Signer (RFC 9421 from the RFC's text, keys by
python3-cryptography); what reaches NATS is read by the protocol-level
client in brokers.py. So nothing on either side of the core is our C code.
The expected thumbprint is computed here from RFC 7638 (SHA-256 of the
canonical JWK JSON, base64url), instants with Python's datetime, the
stored object key by walking DATA/aggregates. Counters come from GET
/metrics.

What is checked:
- valid events arrive on events.up.new_qname byte for byte as signed, with
  exactly the four DNSTAPIR-* headers and the right values;
- a forged signature, an unknown key, a topic whose node is not the kid,
  bytes that are not a flattened JWS, and three schema violations (extra
  member, wrong type, missing qname) are each counted under their reason
  and never forwarded;
- after the broker restarts, the bridge reconnects by itself and forwards
  again;
- a signed upload makes exactly one new_aggregate on subject "aggregates",
  without headers, with exactly the members of core-spec §1.9 and values
  that agree with the upload; a duplicate upload makes none;
- with nats-server down when the core starts, uploads still get 201 at
  once and are counted; once nats-server is up, later uploads are notified.

Exits 77 (skipped) when mosquitto, mosquitto_pub, nats-server, node, the
jose package or python3-cryptography is missing.
"""
import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brokers  # noqa: E402
import core_harness  # noqa: E402
import harness  # noqa: E402

SOURCE_ROOT = os.environ.get('TAPIR_SOURCE_ROOT', os.path.join(os.path.dirname(__file__), '..', '..'))
NODE_DIR = os.path.join(SOURCE_ROOT, 'tests', 'node')
VERIFY_MJS = os.path.join(NODE_DIR, 'verify_jws.mjs')

if not os.access(harness.TAPIR, os.X_OK):
    harness.skip(f'{harness.TAPIR} is not built')
if not brokers.have('mosquitto', 'mosquitto_pub', 'nats-server', 'node'):
    harness.skip('mosquitto, mosquitto_pub (mosquitto-clients), nats-server or node missing')
if not os.path.isdir(os.path.join(NODE_DIR, 'node_modules', 'jose')):
    harness.skip('tests/node/node_modules/jose missing (npm install --prefix tests/node)')
try:
    import cryptography  # noqa: F401 - core_harness.keygen signs with it
except ImportError:
    harness.skip('python3-cryptography is not installed')

KID, OTHER = 'edge-7', 'edge-9'
SUBJECT = 'events.up.new_qname'
SCHEMA = 'https://schema.dnstapir.se/v1/new_qname'
# The reference edge's example event (core-spec §2.1), byte for byte.
REF_EVENT = (b'{"flags":33155,"qclass":1,"qname":"dnstapir.xa.","qtype":28,'
             b'"timestamp":"2026-03-23T11:50:07+00:00","type":"new_qname","version":0}')
# core-spec §1.1: only the scheme and authority of metadata_base_url count.
BASE_URL = 'https://core.example.net:8443/ignored/path'
ORIGIN = 'https://core.example.net:8443'
INTERVAL = '2024-05-06T08:56:58-05:00/PT1M'
NOTIFY_MEMBERS = {
    '$schema', 'version', 'message_id', 'timestamp', 'type', 'aggregate_id', 'aggregate_type',
    'created', 'creator', 'metadata_location', 'content_location', 's3_bucket', 's3_object_key',
    'aggregate_interval_start', 'aggregate_interval_duration',
}
METRIC_LINE = re.compile(r'^([a-z_]+)(?:\{([a-z_]+)="([^"]*)"\})? ([0-9]+)$')


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


def utc_text(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_utc(s):
    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Bridge(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-bridge-')
        self.cleanup = []
        self.keys = os.path.join(self.tmp, 'keys')
        os.makedirs(self.keys)
        # Only edge-7's public key is known to the core.
        self.jwk = {}
        self.jwk[KID], self.signer = core_harness.keygen(self.tmp, KID, self.keys)
        self.jwk[OTHER], _ = core_harness.keygen(self.tmp, OTHER)
        self.nats = brokers.NatsServer(os.path.join(self.tmp, 'nats'))
        self.cleanup.append(self.nats.stop)
        self.n_signed = 0

    def tearDown(self):
        for fn in reversed(self.cleanup):
            fn()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- servers ----

    def start_mqtt(self):
        self.mqtt = brokers.Mosquitto(os.path.join(self.tmp, 'mosquitto'))
        self.mqtt.start()
        self.cleanup.append(self.mqtt.stop)

    def sub(self, subject):
        s = brokers.NatsSubscriber(self.nats.port, subject)
        self.cleanup.append(s.close)
        return s

    def start_core(self, *args):
        core = core_harness.Core(self.tmp, self.keys, '--nats-url', self.nats.url, *args)
        self.cleanup.append(core.kill)
        return core

    def start_bridge(self):
        core = self.start_core('--mqtt-url', self.mqtt.url)
        self.wait_subscribed(1)
        return core

    def stop_core(self, core):
        """A clean stop: under ASan a leak or any error report makes the
        exit status non-zero."""
        rc = core.stop()
        self.assertEqual(rc, 0, core.log()[-4000:])

    def wait_subscribed(self, n):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.mqtt.log_text().count('Received SUBSCRIBE from tapir-core-bridge') >= n:
                return
            time.sleep(0.05)
        raise AssertionError('the bridge did not subscribe')

    def metrics(self, core):
        """GET /metrics as {name: value} or {(name, label value): value}."""
        status, headers, body = core.request('GET', '/metrics')
        self.assertEqual(status, 200)
        self.assertTrue(dict(headers)['Content-Type'].startswith('text/plain; version=0.0.4'))
        out = {}
        for line in body.decode().splitlines():
            if line.startswith('#'):
                continue
            m = METRIC_LINE.match(line)
            self.assertIsNotNone(m, line)
            name, _, label, value = m.groups()
            out[name if label is None else (name, label)] = int(value)
        return out

    def wait_metric(self, core, key, value, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.metrics(core).get(key)
            if got == value or time.monotonic() > deadline:
                self.assertEqual(got, value, key)
                return
            time.sleep(0.05)

    # ---- events ----

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

    # ---- uploads ----

    def upload(self, core, body):
        headers = self.signer.headers(body, interval=INTERVAL)
        t0 = time.time()
        status, rh, _ = core.request('POST', '/api/v1/aggregate/histogram', body, headers)
        self.assertEqual(status, 201, rh)
        loc = dict(rh)['Location']
        self.assertRegex(loc, r'^/api/v1/aggregates/[0-9a-f]{24}$')
        return loc.rsplit('/', 1)[1], t0, time.time()

    def stored_keys(self, core):
        out = []
        for d, _, files in os.walk(core.aggregates_dir):
            out += [os.path.relpath(os.path.join(d, f), core.aggregates_dir) for f in files]
        return sorted(out)

    def check_notification(self, msg, agg_id, t0, t1, object_key):
        self.assertEqual(msg['subject'], 'aggregates')
        self.assertEqual(msg['headers'], [])
        doc = json.loads(msg['payload'])
        self.assertEqual(set(doc), NOTIFY_MEMBERS)
        self.assertEqual(doc['$schema'], 'https://schema.dnstapir.se/v1/new_aggregate')
        self.assertIs(type(doc['version']), int)
        self.assertEqual((doc['type'], doc['version']), ('new_aggregate', 1))
        mid = uuid.UUID(doc['message_id'])
        self.assertEqual((mid.version, str(mid)), (4, doc['message_id']))
        # Whole seconds, so the window is widened to them.
        self.assertLessEqual(int(t0), parse_utc(doc['timestamp']))
        self.assertLessEqual(parse_utc(doc['timestamp']), int(t1) + 1)
        self.assertEqual(doc['aggregate_id'], agg_id)
        self.assertEqual(doc['aggregate_type'], 'histogram')
        # An ObjectId starts with its creation time in seconds, big-endian.
        self.assertEqual(doc['created'], utc_text(int(agg_id[:8], 16)))
        self.assertLessEqual(int(t0), int(agg_id[:8], 16))
        self.assertLessEqual(int(agg_id[:8], 16), int(t1))
        self.assertEqual(doc['creator'], KID)
        self.assertEqual(doc['metadata_location'], f'{ORIGIN}/api/v1/aggregates/{agg_id}')
        self.assertEqual(doc['content_location'], f'{ORIGIN}/api/v1/aggregates/{agg_id}/payload')
        # Payloads are in the data directory, not in a bucket.
        self.assertEqual(doc['s3_bucket'], '')
        self.assertEqual(doc['s3_object_key'], object_key)
        start = datetime.datetime.fromisoformat(INTERVAL.split('/')[0])
        self.assertEqual(doc['aggregate_interval_start'],
                         start.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))
        self.assertIs(type(doc['aggregate_interval_duration']), int)
        self.assertEqual(doc['aggregate_interval_duration'], 60)

    # ---- tests ----

    def test_valid_forwarded_invalid_counted(self):
        self.nats.start()
        self.start_mqtt()
        events = self.sub(SUBJECT)
        core = self.start_bridge()
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
        self.wait_metric(core, ('tapir_core_bridge_messages_total', 'forwarded'), 3)
        time.sleep(0.3)
        msgs = events.snapshot()
        self.assertEqual(len(msgs), 3)
        for msg, payload in zip(msgs, good + [last]):
            self.check_forwarded(msg, payload, topic)

        m = self.metrics(core)
        self.assertEqual({k[1]: v for k, v in m.items()
                          if isinstance(k, tuple) and k[0].startswith('tapir_core_bridge_')}, {
            'received': 12, 'forwarded': 3,
            'malformed': 2, 'unknown_key': 1, 'bad_signature': 1,
            'wrong_topic': 2, 'schema': 3, 'nats': 0,
        })
        self.stop_core(core)

    def test_reconnects_after_broker_restart(self):
        self.nats.start()
        self.start_mqtt()
        events = self.sub(SUBJECT)
        core = self.start_bridge()
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
        self.wait_metric(core, ('tapir_core_bridge_messages_total', 'forwarded'), 2)
        self.assertEqual(self.metrics(core)[('tapir_core_bridge_messages_total', 'received')], 2)
        self.stop_core(core)

    def test_upload_notified_once(self):
        self.nats.start()
        aggs = self.sub('aggregates')
        core = self.start_core('--metadata-base-url', BASE_URL)
        body = os.urandom(700)
        agg_id, t0, t1 = self.upload(core, body)
        self.assertTrue(aggs.wait_for(lambda m: len(m) >= 1))
        keys = self.stored_keys(core)
        self.assertEqual(len(keys), 1, keys)
        self.check_notification(aggs.snapshot()[0], agg_id, t0, t1, keys[0])
        # The same upload again: same aggregate, nothing new to announce.
        self.assertEqual(self.upload(core, body)[0], agg_id)
        self.assertEqual(self.metrics(core)['tapir_core_aggregates_duplicate_total'], 1)
        time.sleep(1.0)
        self.assertEqual(len(aggs.snapshot()), 1)
        m = self.metrics(core)
        self.assertEqual({k[1]: v for k, v in m.items()
                          if isinstance(k, tuple) and k[0] == 'tapir_core_notify_total'},
                         {'queued': 1, 'published': 1, 'dropped_queue_full': 0, 'failed': 0})
        self.stop_core(core)

    def test_nats_down_at_start(self):
        core = self.start_core('--metadata-base-url', BASE_URL)
        # Never waiting for NATS: far below libnats's 5 s connect timeout.
        agg_id, t0, t1 = self.upload(core, os.urandom(500))
        self.assertLess(t1 - t0, 2.0)
        notify = ('tapir_core_notify_total', 'queued')
        self.wait_metric(core, notify, 1)
        # Handed to libnats, which holds it while it keeps trying to connect.
        self.wait_metric(core, ('tapir_core_notify_total', 'published'), 1)
        self.assertEqual(self.metrics(core)[('tapir_core_notify_total', 'failed')], 0)

        self.nats.start()
        aggs = self.sub('aggregates')
        # libnats tries again after 1 s, then 2 s, ...: upload until one is
        # announced; from then on, every upload is.

        def announced(agg):
            return aggs.wait_for(lambda m: agg in {json.loads(x['payload'])['aggregate_id']
                                                   for x in m}, timeout=1.0)
        deadline = time.monotonic() + 30
        n = 1
        while True:
            n += 1
            probe = self.upload(core, os.urandom(500 + n))[0]
            if announced(probe):
                break
            self.assertLess(time.monotonic(), deadline, 'no upload was announced')
        later = [self.upload(core, os.urandom(400 + i)) for i in range(2)]
        for agg, _, _ in later:
            self.assertTrue(announced(agg))
        docs = [json.loads(x['payload']) for x in aggs.snapshot()]
        # The one held while NATS was away may arrive (libnats flushes it
        # on connecting, perhaps before our subscription), but never twice.
        self.assertLessEqual([d['aggregate_id'] for d in docs].count(agg_id), 1)
        self.assertEqual(len({d['message_id'] for d in docs}), len(docs))
        by_id = {json.loads(x['payload'])['aggregate_id']: x for x in aggs.snapshot()}
        keys = self.stored_keys(core)
        for agg, t0, t1 in later:
            key = [k for k in keys if re.search(f'/id={agg}(\\.parquet)?$', k)]
            self.assertEqual(len(key), 1, keys)
            self.check_notification(by_id[agg], agg, t0, t1, key[0])
        n += 2
        self.wait_metric(core, notify, n)
        self.wait_metric(core, ('tapir_core_notify_total', 'published'), n)
        self.assertEqual(self.metrics(core)[('tapir_core_notify_total', 'failed')], 0)
        self.stop_core(core)


if __name__ == '__main__':
    unittest.main(verbosity=2)
