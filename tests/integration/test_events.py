#!/usr/bin/python3
"""new_qname events end to end, against a real mosquitto and a real nats-server.

What is checked (issue 4, "done when"):
- every case-folded name of ../shared/data/unbound-small.dnstap that is not
  on the well-known list arrives exactly once, on MQTT topic
  events/up/<kid>/new_qname and on NATS with the DNSTAPIR-* headers; the
  expected set comes from the capture's independent summary.json, with the
  device-unique rule applied by a Python re-implementation of the rule in
  lib/event/newqname.h;
- every JWS verifies with an independent JOSE implementation (npm jose) and
  its payload is the reference schema, member for member;
- delivery is AT-LEAST-ONCE with no loss: a broker that is down while the
  edge runs, an edge stopped and restarted meanwhile, and the broker back:
  every event arrives (and, with clean stops, exactly once);
- kill -9 of the edge mid-run, then a restart fed the same names again: the
  seen-store is intact and no name gets a second event (a redelivery of the
  same signed bytes is allowed: that is at-least-once, not a new event).
Brokers listen on 127.0.0.1 only, on free ports, with their own configs.
"""
import base64
import json
import os
import re
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

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'node')
VERIFY_MJS = os.path.join(NODE_DIR, 'verify_jws.mjs')
KID = 'edge-test-1'
SCHEMA_KEYS = ['flags', 'qclass', 'qname', 'qtype', 'timestamp', 'type', 'version']

if not brokers.have('mosquitto', 'mosquitto_sub', 'nats-server', 'node'):
    harness.skip('mosquitto, mosquitto-clients, nats-server or node is missing '
                 '(scripts/install-deps.sh installs them)')
if not os.path.isdir(os.path.join(NODE_DIR, 'node_modules', 'jose')):
    harness.skip('tests/node/node_modules/jose is missing (scripts/install-deps.sh runs npm ci)')


# ---- the device-unique rule, written again from its description ----
UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')


def unique_run(run):
    if any(len(h) >= 16 and re.search('[0-9]', h) and re.search('[a-f]', h)
           for h in re.findall('[0-9a-f]+', run)):
        return True
    if any(len(d) >= 12 and len(set(d)) >= 4 for d in re.findall('[0-9]+', run)):
        return True
    return len(run) >= 20 and len(re.findall('[0-9]+', run)) >= 3 and \
        max((len(x) for x in re.findall('[a-z]+', run)), default=0) <= 12


def reduce_label(label):
    out, i = b'', 0
    while i < len(label):
        if UUID.match(label[i:i + 36].decode('latin1')):
            out, i = out + b'*', i + 36
            continue
        if not re.match(rb'[0-9a-z]', label[i:i + 1]):
            out, i = out + label[i:i + 1], i + 1
            continue
        j = i
        while j < len(label) and re.match(rb'[0-9a-z]', label[j:j + 1]):
            j += 1
        out += b'*' if unique_run(label[i:j].decode()) else label[i:j]
        i = j
    return out


def present(labels):
    """RFC 1035 presentation form, escaped as tapir and the reference do."""
    if not labels:
        return '.'
    text = ''
    for label in labels:
        for b in label:
            c = chr(b)
            if c in '.\\"();@$':
                text += '\\' + c
            elif 0x21 <= b <= 0x7e:
                text += c
            else:
                text += '\\%03d' % b
        text += '.'
    return text


def expected_qnames(summary, suppress=False):
    """The events the capture must produce: one per folded, reduced name
    (suppress: names that the rule changes produce none)."""
    names = set()
    for info in summary['client_response']['qnames'].values():
        if info['well_known']:
            continue
        wire = bytes.fromhex(info['wire_hex']).lower()
        labels, i = [], 0
        changed = False
        while wire[i]:
            label = wire[i + 1:i + 1 + wire[i]]
            labels.append(reduce_label(label))
            changed |= labels[-1] != label
            i += 1 + wire[i]
        if not (suppress and changed):
            names.add(present(labels))
    return names


# ---- brokers (tests/integration/brokers.py) ----
def mqtt_messages(sub):
    """(topic, JWS text) pairs received so far."""
    return [(t, p.decode()) for t, p in sub.snapshot()]


def wait_for(fn, want, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = fn()
        if len(got) >= want:
            return got
        time.sleep(0.1)
    return fn()


def verify(test, tmp, jws_lines):
    """Every JWS verified by jose with the public key; returns the payloads."""
    path = os.path.join(tmp, 'jws.txt')
    with open(path, 'w') as f:
        f.write('\n'.join(jws_lines) + '\n')
    p = subprocess.run(['node', VERIFY_MJS, 'verify-lines', test.pem, path], capture_output=True,
                       text=True, timeout=120)
    test.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr)
    out = []
    for line in p.stdout.splitlines():
        r = json.loads(line)
        test.assertEqual(r['kid'], KID)
        out.append(json.loads(base64.b64decode(r['payload_b64'])))
    test.assertEqual(len(out), len(jws_lines))
    return out


def name_frames(names, tsec):
    return [harness.dnstap_frame(harness.dnstap_message(
        wire=harness.dns_message(qname=n, rcode=3), tsec=tsec)) for n in names]


def feed(edge, frames):
    s = edge.handshake()
    s.sendall(b''.join(harness.data_frame(f) for f in frames))
    edge.finish(s)


def qname_of(jws):
    payload = json.loads(jws)['payload']
    return json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))['qname']


class Events(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='tapir-events-')
        p = subprocess.run([harness.TAPIR, 'keygen', '--kid', KID, '--out-dir', cls.tmp],
                           capture_output=True, text=True, check=True)
        cls.keygen_thumbprint = re.search(r'thumbprint (\S+)', p.stdout + p.stderr).group(1)
        cls.jwk = os.path.join(cls.tmp, KID + '.jwk')
        cls.pem = os.path.join(cls.tmp, KID + '.pem')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=self.tmp)
        self.cleanup = []

    def mosquitto(self, start=True):
        mosq = brokers.Mosquitto(os.path.join(self.dir, 'mosquitto'))
        if start:
            mosq.start()
        self.cleanup.append(mosq.stop)
        return mosq

    def subscriber(self, mosq):
        sub = brokers.MqttSubscriber(mosq)
        self.cleanup.append(sub.close)
        return sub

    def tearDown(self):
        for fn in reversed(self.cleanup):
            try:
                fn()
            except Exception:  # noqa: BLE001 - best effort teardown
                pass

    def test_capture_events_over_mqtt_and_nats(self):
        harness.require_shared()
        data = harness.DATA
        with open(os.path.join(data, 'unbound-small.summary.json')) as f:
            want = expected_qnames(json.load(f))
        mosq = self.mosquitto()
        nats = brokers.NatsServer(os.path.join(self.dir, 'nats'))
        nats.start()
        self.cleanup.append(nats.stop)
        sub = self.subscriber(mosq)
        nsub = brokers.NatsSubscriber(nats.port, f'events.up.{KID}.new_qname')
        self.cleanup.append(nsub.close)
        summary, err, _ = harness.run_edge_file(path=os.path.join(data, 'unbound-small.dnstap'), args=[
            '--data-dir', os.path.join(self.dir, 'data'),
            '--well-known-domains-file', os.path.join(data, 'well-known-domains.txt'),
            '--mqtt-server', f'mqtt://127.0.0.1:{mosq.port}',
            '--nats-server', f'nats://127.0.0.1:{nats.port}',
            '--mqtt-signing-key-file', self.jwk])
        ev = summary['events']
        self.assertEqual(ev['new_names'], len(want))
        self.assertEqual(ev['queued'], len(want))
        self.assertEqual(ev['waiting_for_delivery'], 0, err)
        self.assertEqual(ev['mqtt']['confirmed'], len(want))
        self.assertEqual(ev['nats']['confirmed'], len(want))

        mqtt = wait_for(lambda: mqtt_messages(sub), len(want))
        self.assertEqual({t for t, _ in mqtt}, {f'events/up/{KID}/new_qname'})
        payloads = verify(self, self.dir, [p for _, p in mqtt])
        got = [p['qname'] for p in payloads]
        self.assertEqual(len(got), len(set(got)), 'an event arrived twice')
        self.assertEqual(set(got), want)
        for p in payloads:
            self.assertEqual(list(p.keys()), SCHEMA_KEYS)
            self.assertEqual(p['type'], 'new_qname')
            self.assertEqual(p['version'], 0)
            self.assertRegex(p['timestamp'], r'^2026-12-03T16:4[34]:00Z$')
            self.assertEqual(p['qname'], p['qname'].lower())
            for k in ('flags', 'qclass', 'qtype'):
                self.assertIsInstance(p[k], int)
            self.assertTrue(p['flags'] & 0x8000, 'responses have QR set')

        nmsgs = wait_for(nsub.snapshot, len(want))
        self.assertEqual(len(nmsgs), len(want))
        by_name = {qname_of(p): p for _, p in mqtt}
        for msg in nmsgs:
            headers, body = dict(msg['headers']), msg['payload'].decode()
            self.assertEqual(len(headers), len(msg['headers']), 'a header given twice')
            self.assertEqual(msg['subject'], f'events.up.{KID}.new_qname')
            self.assertEqual(headers['DNSTAPIR-Key-Identifier'], KID)
            self.assertEqual(headers['DNSTAPIR-Key-Thumbprint'], self.keygen_thumbprint)
            self.assertEqual(headers['DNSTAPIR-Message-Schema'],
                             'https://schema.dnstapir.se/v1/new_qname')
            self.assertEqual(headers['DNSTAPIR-Mqtt-Topic'], f'events/up/{KID}/new_qname')
            self.assertEqual(body, by_name[qname_of(body)], 'NATS and MQTT carry the same JWS')

        # A second run over the same capture: every name is known.
        summary, _, _ = harness.run_edge_file(path=os.path.join(data, 'unbound-small.dnstap'), args=[
            '--data-dir', os.path.join(self.dir, 'data'),
            '--well-known-domains-file', os.path.join(data, 'well-known-domains.txt'),
            '--mqtt-server', f'mqtt://127.0.0.1:{mosq.port}',
            '--mqtt-signing-key-file', self.jwk])
        self.assertEqual(summary['events']['new_names'], 0)
        self.assertEqual(summary['events']['seen_store_names'], len(want))

    def test_names_recorded_while_publishing_is_off(self):
        """SPEC §6: names seen with publishing off are recorded, so turning
        it on later sends no backlog."""
        harness.require_shared()
        data = harness.DATA
        with open(os.path.join(data, 'unbound-small.summary.json')) as f:
            want = expected_qnames(json.load(f))
        capture = os.path.join(data, 'unbound-small.dnstap')
        wk = ['--well-known-domains-file', os.path.join(data, 'well-known-domains.txt')]
        quiet_dir = os.path.join(self.dir, 'quiet')
        summary, _, _ = harness.run_edge_file(path=capture, args=['--data-dir', quiet_dir, *wk])
        self.assertEqual(summary['events']['new_names'], len(want))
        self.assertEqual(summary['events']['queued'], 0)
        self.assertEqual(summary['events']['waiting_for_delivery'], 0)

        mosq = self.mosquitto()
        summary, _, _ = harness.run_edge_file(path=capture, args=[
            '--data-dir', quiet_dir, *wk, '--mqtt-server', f'mqtt://127.0.0.1:{mosq.port}',
            '--mqtt-signing-key-file', self.jwk])
        self.assertEqual(summary['events']['new_names'], 0)
        self.assertEqual(summary['events']['queued'], 0)

    def test_device_unique_names(self):
        """SPEC §6: a per-device name becomes one event for its pattern
        (reduce), or none (suppress)."""
        names = ['3f2504e0-4f89-11d3-9a0c-0305e82c3301-netseer-ipaddr-assoc.xz.fbcdn.net.',
                 '7C9E6679-7425-40DE-944B-E07FC1F90AE7-netseer-ipaddr-assoc.xz.fbcdn.net.',
                 'id-0123456789abcdef.example.', 'plain.example.']
        capture = harness.fstrm_file(name_frames(names, 1764780000))
        mosq = self.mosquitto()
        sub = self.subscriber(mosq)
        publish = ['--mqtt-server', f'mqtt://127.0.0.1:{mosq.port}', '--mqtt-signing-key-file', self.jwk]
        want = {'*-netseer-ipaddr-assoc.xz.fbcdn.net.', 'id-*.example.', 'plain.example.'}
        self.assertEqual({present([reduce_label(lab.lower().encode()) for lab in n.split('.')[:-1]])
                          for n in names}, want)
        summary, _, _ = harness.run_edge_file(data=capture, args=[
            '--data-dir', os.path.join(self.dir, 'reduce'), *publish])
        self.assertEqual(summary['events']['reduced'], 3)
        self.assertEqual(summary['events']['queued'], 3)
        summary, _, _ = harness.run_edge_file(data=capture, args=[
            '--data-dir', os.path.join(self.dir, 'suppress'), *publish,
            '--event-device-labels', 'suppress'])
        self.assertEqual(summary['events']['suppressed'], 3)
        self.assertEqual(summary['events']['queued'], 1)
        got = [qname_of(p) for _, p in wait_for(lambda: mqtt_messages(sub), 4)]
        self.assertEqual(sorted(got), sorted([*want, 'plain.example.']))

    def live_edge(self, port):
        return harness.EdgeServer(self.dir, args=[
            '--data-dir', os.path.join(self.dir, 'data'),
            '--mqtt-server', f'mqtt://127.0.0.1:{port}', '--event-backoff-max', '1',
            '--mqtt-signing-key-file', self.jwk])

    def test_broker_outage_and_edge_restart_lose_nothing(self):
        mosq = self.mosquitto(start=False)  # down from the start
        now = int(time.time())
        first = [f'outage-a{i}.example.' for i in range(150)]
        second = [f'outage-b{i}.example.' for i in range(150)]

        edge = self.live_edge(mosq.port)
        self.cleanup.append(edge.kill)
        feed(edge, name_frames(first, now))
        rc, summary = edge.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(summary['events']['queued'], len(first))
        self.assertEqual(summary['events']['waiting_for_delivery'], len(first))

        edge = self.live_edge(mosq.port)
        self.cleanup.append(edge.kill)
        self.assertIn(f'{len(first)} events from an earlier run wait', edge.log())
        feed(edge, name_frames(second + first, now))
        mosq.start()
        sub = self.subscriber(mosq)
        got = wait_for(lambda: mqtt_messages(sub), len(first) + len(second), timeout=60)
        rc, summary = edge.stop()
        self.assertEqual(rc, 0)
        names = [qname_of(p) for _, p in mqtt_messages(sub)]
        self.assertEqual(set(names), set(first + second), 'no event lost')
        self.assertEqual(len(names), len(set(names)), 'clean stops: exactly once')
        self.assertEqual(summary['events']['waiting_for_delivery'], 0)
        self.assertEqual(summary['events']['new_names'], len(second))
        self.assertGreaterEqual(len(got), len(first) + len(second))

    def test_kill9_keeps_one_event_per_name(self):
        mosq = self.mosquitto()
        sub = self.subscriber(mosq)
        now = int(time.time())
        names = [f'k9-{i}.example.' for i in range(2000)]
        more = [f'k9-more-{i}.example.' for i in range(100)]
        edge = self.live_edge(mosq.port)
        self.cleanup.append(edge.kill)
        feed(edge, name_frames(names, now))
        wait_for(lambda: mqtt_messages(sub), 1)
        edge.proc.send_signal(signal.SIGKILL)
        edge.proc.wait()
        edge.stderr.close()

        edge = self.live_edge(mosq.port)
        self.cleanup.append(edge.kill)
        feed(edge, name_frames(names + more, now))
        wait_for(lambda: {qname_of(p) for _, p in mqtt_messages(sub)}, len(names) + len(more), timeout=60)
        rc, summary = edge.stop()
        self.assertEqual(rc, 0)
        by_name = {}
        for _, p in mqtt_messages(sub):
            by_name.setdefault(qname_of(p), set()).add(p)
        self.assertEqual(set(by_name), set(names + more), 'no event lost')
        second = [n for n, jws in by_name.items() if len(jws) > 1]
        self.assertEqual(second, [], 'a name got a second, different event')
        self.assertEqual(summary['events']['waiting_for_delivery'], 0)
        self.assertEqual(summary['events']['store_errors'], 0)


if __name__ == '__main__':
    harness.main()
