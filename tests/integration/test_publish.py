# SPDX-License-Identifier: BSD-2-Clause
"""The event sinks (edge/mqtt.c, edge/nats.c) against real brokers.

tests/publish_driver queues events in a seen-store outbox exactly as the
edge does (tp_seen_record) and runs one sink until every event is
acknowledged. The brokers and the subscribers are real and independent of
our C code (brokers.py): mosquitto with mosquitto_sub, nats-server with a
NATS client written from the protocol text.

What is checked:
- plain MQTT and TLS MQTT with a client certificate: the events arrive in
  order, byte for byte, on events/up/<kid>/new_qname; TLS without the client
  certificate or with the wrong CA delivers nothing and keeps the events;
- a signed event verifies with the jose npm package (tests/node), kid and
  payload as signed;
- NATS: the JWS arrives with exactly the four DNSTAPIR-* headers, the
  thumbprint equal to jose's RFC 7638 computation;
- the guarantee (at-least-once, no loss): a broker stopped and restarted
  while events are being queued loses none; a driver SIGKILLed while the
  broker is down sends the rest after a restart, and never again what was
  acknowledged before.

Exits 77 (skipped) when mosquitto, mosquitto_sub, nats-server or openssl is
missing; the jose checks also need node and tests/node/node_modules.
"""
import base64
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
DRIVER = os.environ.get('TAPIR_PUBLISH_DRIVER', os.path.join(BUILD_ROOT, 'tests', 'publish_driver'))
NODE_DIR = os.path.join(SOURCE_ROOT, 'tests', 'node')
VERIFY_MJS = os.path.join(NODE_DIR, 'verify_jws.mjs')
HAVE_JOSE = shutil.which('node') is not None and \
    os.path.isdir(os.path.join(NODE_DIR, 'node_modules', 'jose'))

if not os.access(DRIVER, os.X_OK):
    harness.skip(f'{DRIVER} is not built')
if not brokers.have('mosquitto', 'mosquitto_sub', 'nats-server', 'openssl'):
    harness.skip('mosquitto, mosquitto_sub (mosquitto-clients), nats-server or openssl missing')

KID = 'edge-7'
TOPIC = f'events/up/{KID}/new_qname'
SCHEMA = 'https://schema.dnstapir.se/v1/new_qname'


def events(n, tag):
    """Distinct one-line events (the sink does not care what they are)."""
    return [json.dumps({'type': 'new_qname', 'qname': f'n{i}.{tag}.example.', 'i': i},
                       separators=(',', ':')).encode() for i in range(n)]


def driver_args(store, sink, server, *extra):
    return [DRIVER, '--store', store, '--sink', sink, '--server', server, '--kid', KID,
            '--backoff-max-s', '2', *extra]


def run_driver(store, sink, server, lines, *extra, timeout_s=30, expect=0):
    p = subprocess.run(driver_args(store, sink, server, '--timeout-s', str(timeout_s), *extra),
                       input=b''.join(line + b'\n' for line in lines),
                       capture_output=True, timeout=timeout_s + 30)
    if p.returncode != expect:
        raise AssertionError(f'publish_driver exited {p.returncode}, want {expect}\n'
                             f'{p.stdout.decode()}{p.stderr.decode()}')
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def node(*args):
    p = subprocess.run(['node', VERIFY_MJS, *args], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f'verify_jws.mjs {args[0]}: rc {p.returncode}\n{p.stdout}{p.stderr}')
    return p.stdout.strip()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-publish-')
        self.store = os.path.join(self.tmp, 'store')
        self.cleanup = []

    def tearDown(self):
        for fn in reversed(self.cleanup):
            fn()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def mosquitto(self, pki=None, acl=None):
        b = brokers.Mosquitto(os.path.join(self.tmp, 'mosquitto'), pki, acl)
        b.start()
        self.cleanup.append(b.stop)
        return b

    def mqtt_sub(self, broker):
        s = brokers.MqttSubscriber(broker)
        self.cleanup.append(s.close)
        return s

    def nats(self, pki=None):
        b = brokers.NatsServer(os.path.join(self.tmp, 'nats'), pki)
        b.start()
        self.cleanup.append(b.stop)
        return b

    def nats_sub(self, server, subject):
        s = brokers.NatsSubscriber(server.port, subject)
        self.cleanup.append(s.close)
        return s

    def start_driver(self, sink, server, lines, *extra):
        """The driver in the background, its stdin from a file (closed)."""
        path = os.path.join(self.tmp, f'input-{len(self.cleanup)}')
        with open(path, 'wb') as f:
            f.write(b''.join(line + b'\n' for line in lines))
        with open(path, 'rb') as stdin:
            p = subprocess.Popen(driver_args(self.store, sink, server, *extra), stdin=stdin,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        def reap():
            if p.poll() is None:
                p.kill()
            p.communicate()
        self.cleanup.append(reap)
        return p

    def keygen(self):
        d = os.path.join(self.tmp, 'keys')
        os.makedirs(d)
        p = subprocess.run([harness.TAPIR, 'keygen', '--kid', KID, '--out-dir', d],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f'tapir keygen: {p.returncode} {p.stderr}')
        return os.path.join(d, KID + '.jwk'), os.path.join(d, KID + '.pem')


class Mqtt(Base):
    def test_plain_events_arrive_in_order(self):
        broker = self.mosquitto()
        sub = self.mqtt_sub(broker)
        evs = events(25, 'plain')
        st = run_driver(self.store, 'mqtt', broker.url, evs)
        self.assertEqual((st['fed'], st['confirmed'], st['remaining']), (25, 25, 0))
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 25))
        time.sleep(0.3)
        self.assertEqual(sub.snapshot(), [(TOPIC, e) for e in evs])
        log = broker.log_text()
        # MQTT v5 (p5), clean start (c1), client id <kid>-edm (edm-spec §5.3);
        # QoS 1 and not retained: "Received PUBLISH from edge-7-edm (d0, q1, r0, ...".
        self.assertIn(f'as {KID}-edm (p5, c1, k30)', log)
        self.assertEqual(log.count(f'Received PUBLISH from {KID}-edm ('), 25)
        self.assertEqual(log.count(f'Received PUBLISH from {KID}-edm (d0, q1, r0, m'), 25)

    def test_stop_drains_the_outbox(self):
        broker = self.mosquitto()
        sub = self.mqtt_sub(broker)
        evs = events(40, 'drain')
        # --timeout-s 0: the driver stops the sink as soon as everything is
        # queued; the stop's drain (2 s) must deliver it all.
        st = run_driver(self.store, 'mqtt', broker.url, evs, timeout_s=0)
        self.assertEqual((st['fed'], st['remaining']), (40, 0))
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 40))
        self.assertEqual([p for _, p in sub.snapshot()], evs)

    def test_refused_publish_keeps_the_events(self):
        # The broker answers PUBACK "not authorized" (MQTT v5 reason 0x87).
        broker = self.mosquitto(acl='topic read events/#\n')
        sub = self.mqtt_sub(broker)
        st = run_driver(self.store, 'mqtt', broker.url, events(3, 'acl'), timeout_s=3, expect=1)
        self.assertGreaterEqual(st['refused'], 1)
        self.assertEqual((st['confirmed'], st['remaining']), (0, 3))
        self.assertEqual(sub.snapshot(), [])

    def test_tls_with_client_certificate(self):
        pki = brokers.Pki(os.path.join(self.tmp, 'pki'))
        broker = self.mosquitto(pki)
        sub = self.mqtt_sub(broker)
        evs = events(5, 'tls')
        tls = ('--ca', pki.ca, '--cert', pki.client_cert, '--key', pki.client_key)
        st = run_driver(self.store, 'mqtt', broker.url, evs, *tls)
        self.assertEqual((st['confirmed'], st['remaining']), (5, 0))
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 5))
        self.assertEqual(sub.snapshot(), [(TOPIC, e) for e in evs])
        # A bare host:port means TLS too (edm-spec §5.3).
        more = events(2, 'bare')
        st = run_driver(self.store, 'mqtt', f'127.0.0.1:{broker.port}', more, *tls)
        self.assertEqual(st['remaining'], 0)
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 7))

    def test_tls_refusals_keep_the_events(self):
        pki = brokers.Pki(os.path.join(self.tmp, 'pki'))
        other = brokers.Pki(os.path.join(self.tmp, 'other'), name='other-ca')
        broker = self.mosquitto(pki)
        sub = self.mqtt_sub(broker)
        evs = events(3, 'refused')
        # No client certificate: the broker requires one.
        st = run_driver(self.store, 'mqtt', broker.url, evs, '--ca', pki.ca,
                        timeout_s=3, expect=1)
        self.assertEqual((st['confirmed'], st['remaining']), (0, 3))
        # The server's certificate is not signed by the CA we trust.
        st = run_driver(self.store, 'mqtt', broker.url, [], '--ca', other.ca, '--cert',
                        other.client_cert, '--key', other.client_key, timeout_s=3, expect=1)
        self.assertEqual((st['connects'], st['remaining']), (0, 3))
        # Plain MQTT to the TLS listener.
        st = run_driver(self.store, 'mqtt', f'mqtt://127.0.0.1:{broker.port}', [],
                        timeout_s=3, expect=1)
        self.assertEqual((st['connects'], st['remaining']), (0, 3))
        self.assertEqual(sub.snapshot(), [])
        # Fixed configuration: the kept events go out.
        st = run_driver(self.store, 'mqtt', broker.url, [], '--ca', pki.ca, '--cert',
                        pki.client_cert, '--key', pki.client_key)
        self.assertEqual(st['remaining'], 0)
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 3))
        self.assertEqual(sorted(p for _, p in sub.snapshot()), sorted(evs))

    @unittest.skipUnless(HAVE_JOSE, 'node or tests/node/node_modules/jose missing')
    def test_signed_event_verifies_with_jose(self):
        jwk, pem = self.keygen()
        broker = self.mosquitto()
        sub = self.mqtt_sub(broker)
        payload = (b'{"flags":33024,"qclass":1,"qname":"new.example.","qtype":1,'
                   b'"timestamp":"2023-11-14T22:13:00Z","type":"new_qname","version":0}')
        run_driver(self.store, 'mqtt', broker.url, [payload], '--sign-key', jwk)
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 1))
        topic, jws = sub.snapshot()[0]
        self.assertEqual(topic, TOPIC)
        path = os.path.join(self.tmp, 'got.json')
        with open(path, 'wb') as f:
            f.write(jws)
        out = json.loads(node('verify', pem, path))
        self.assertEqual(out['kid'], KID)
        self.assertEqual(base64.b64decode(out['payload_b64']), payload)

    def test_broker_restart_loses_nothing(self):
        broker = self.mosquitto()
        sub = self.mqtt_sub(broker)
        n = 60
        evs = events(n, 'restart')
        p = self.start_driver('mqtt', broker.url, evs, '--timeout-s', '60',
                              '--feed-interval-ms', '50')
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 10, timeout=10))
        broker.restart(down_s=2.0)  # events keep being queued meanwhile
        out, err = p.communicate(timeout=90)
        self.assertEqual(p.returncode, 0, out.decode() + err.decode())
        st = json.loads(out.decode().strip().splitlines()[-1])
        self.assertEqual((st['fed'], st['remaining']), (n, 0))
        self.assertGreaterEqual(st['connects'], 2)
        self.assertTrue(sub.wait_for(lambda m: {e for _, e in m} >= set(evs), timeout=20),
                        f'missing {len(set(evs) - {e for _, e in sub.snapshot()})} events')
        got = [e for _, e in sub.snapshot()]
        # Duplicates only for events in flight at the outage.
        self.assertLessEqual(len(got) - n, 100)
        self.assertEqual(set(got), set(evs))

    def test_killed_driver_resumes_without_resending_acknowledged(self):
        broker = self.mosquitto()
        sub = self.mqtt_sub(broker)
        first = events(10, 'first')
        run_driver(self.store, 'mqtt', broker.url, first)
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 10))
        broker.stop()
        second = events(10, 'second')
        p = self.start_driver('mqtt', broker.url, second, '--timeout-s', '60')
        time.sleep(1.5)  # queued, trying to connect
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=10)
        broker.start()
        st = run_driver(self.store, 'mqtt', broker.url, [])
        self.assertEqual((st['fed'], st['confirmed'], st['remaining']), (0, 10, 0))
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 20, timeout=20))
        time.sleep(0.5)
        got = [e for _, e in sub.snapshot()]
        self.assertEqual(got, first + second)


class Nats(Base):
    SUBJECT = 'events.up.new_qname'

    @unittest.skipUnless(HAVE_JOSE, 'node or tests/node/node_modules/jose missing')
    def test_jws_with_dnstapir_headers(self):
        jwk, pem = self.keygen()
        thumb = node('thumbprint', jwk)
        server = self.nats()
        sub = self.nats_sub(server, self.SUBJECT)
        payloads = events(3, 'nats')
        st = run_driver(self.store, 'nats', server.url, payloads, '--sign-key', jwk,
                        '--subject', self.SUBJECT)
        self.assertEqual((st['confirmed'], st['remaining']), (3, 0))
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 3))
        got = sub.snapshot()
        self.assertEqual(len(got), 3)
        for msg, payload in zip(got, payloads):
            self.assertEqual(msg['subject'], self.SUBJECT)
            self.assertIsNone(msg['status'])
            self.assertEqual(sorted(msg['headers']), sorted([
                ('DNSTAPIR-Message-Schema', SCHEMA),
                ('DNSTAPIR-Mqtt-Topic', TOPIC),
                ('DNSTAPIR-Key-Identifier', KID),
                ('DNSTAPIR-Key-Thumbprint', thumb),
            ]))
            path = os.path.join(self.tmp, 'got.json')
            with open(path, 'wb') as f:
                f.write(msg['payload'])
            out = json.loads(node('verify', pem, path))
            self.assertEqual(out['kid'], KID)
            self.assertEqual(base64.b64decode(out['payload_b64']), payload)

    def test_tls_with_client_certificate(self):
        # No subscriber here (ours speaks plain NATS only): the flush that
        # acknowledges the events is answered by the TLS server itself.
        pki = brokers.Pki(os.path.join(self.tmp, 'pki'))
        other = brokers.Pki(os.path.join(self.tmp, 'other'), name='other-ca')
        server = self.nats(pki)
        common = ('--subject', self.SUBJECT, '--thumbprint', 'A' * 43)
        st = run_driver(self.store, 'nats', server.url, events(3, 'ntls'), *common,
                        '--ca', other.ca, '--cert', other.client_cert, '--key', other.client_key,
                        timeout_s=3, expect=1)
        self.assertEqual((st['confirmed'], st['remaining']), (0, 3))
        st = run_driver(self.store, 'nats', server.url, events(2, 'ntls2'), *common,
                        '--ca', pki.ca, '--cert', pki.client_cert, '--key', pki.client_key)
        self.assertEqual((st['confirmed'], st['remaining']), (5, 0))

    def test_server_restart_loses_nothing(self):
        server = self.nats()
        sub = self.nats_sub(server, self.SUBJECT)
        n = 60
        evs = events(n, 'nrestart')
        p = self.start_driver('nats', server.url, evs, '--timeout-s', '60',
                              '--feed-interval-ms', '50', '--subject', self.SUBJECT,
                              '--thumbprint', 'A' * 43)
        self.assertTrue(sub.wait_for(lambda m: len(m) >= 10, timeout=10))
        server.restart(down_s=2.0)
        out, err = p.communicate(timeout=90)
        self.assertEqual(p.returncode, 0, out.decode() + err.decode())
        st = json.loads(out.decode().strip().splitlines()[-1])
        self.assertEqual((st['fed'], st['remaining']), (n, 0))
        self.assertGreaterEqual(st['reconnects'], 1)
        self.assertTrue(sub.wait_for(lambda m: {x['payload'] for x in m} >= set(evs), timeout=20),
                        f'missing {len(set(evs) - {x["payload"] for x in sub.snapshot()})}')


if __name__ == '__main__':
    unittest.main(verbosity=2)
