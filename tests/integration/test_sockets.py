"""`tapir edge --input-unix / --input-tcp`: live Frame Streams producers.

Covers the socket entries of peers.md §3: reconnects (item 1), stale socket
paths and socket permissions (items 3-4), prompt FINISH (item 5), oversize
frames closing only their connection (item 6), protocol mismatch such as TLS
or a foreign content type (item 7), untrusted lengths (item 8) and shutdown
with connected and disconnected producers (item 23). Every test runs on a
unix socket and on TCP, and asserts exact counts computed from what it sent.

Each server is started with harness.EdgeServer, which waits for the edge's
"listening on" log line, so every connection counted is one the test made.
"""
import json
import os
import random
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import (ACCEPT, CONTENT_TYPE, FINISH, READY, START, STOP, control, data_frame,  # noqa: E402
                     dns_message, dnstap_frame, dnstap_message, pb_bytes, read_control)

if not os.access(harness.TAPIR, os.X_OK):
    harness.skip(f'{harness.TAPIR} is not an executable (set $TAPIR)')

RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET']
CONN_KEYS = ('accepted', 'finished', 'closed_eof', 'closed_error', 'tls_on_plain_listener',
             'bad_content_type', 'handshake_timeout', 'refused_too_many', 'went_silent', 'silent_now',
             'evicted_idle', 'closed_buffer_limit', 'open_at_exit')


def payload(rcode=0, qtype=1, size=None):
    """A CLIENT_RESPONSE dnstap payload; `size` pads it (Dnstap.extra) to exactly that many octets."""
    p = dnstap_frame(dnstap_message(wire=dns_message(rcode=rcode, qtype=qtype)))
    if size is None:
        return p
    for pad in range(size - len(p), -1, -1):
        out = p + pb_bytes(3, b'p' * pad)
        if len(out) == size:
            return out
    raise AssertionError(size)


def frames(n, rcode=0, qtype=1):
    return data_frame(payload(rcode, qtype)) * n


def ready(*types):
    """A READY control frame offering the given content types."""
    body = struct.pack('>I', READY) + b''.join(struct.pack('>II', 1, len(t)) + t for t in types)
    return struct.pack('>II', 0, len(body)) + body


def closed_by_peer(sock, timeout=3.0):
    """True when the peer closes the connection within timeout (EOF or reset)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if sock.recv(65536) == b'':
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def send_quietly(sock, data):
    """sendall that tolerates the edge having closed the connection already."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


class SocketTests:
    """Mixed into one TestCase per transport (UNIX = True/False)."""
    UNIX = True

    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix='tapir-sock-')
        self.servers = []

    def tearDown(self):
        for srv in self.servers:
            srv.kill()
        subprocess.run(['rm', '-rf', self.tmpdir])

    def server(self, args=()):
        srv = harness.EdgeServer(self.tmpdir, unix=self.UNIX, args=args)
        self.servers.append(srv)
        return srv

    def stop(self, srv, timeout=5):
        t0 = time.monotonic()
        rc, summary = srv.stop(timeout=timeout)
        elapsed = time.monotonic() - t0
        log = self.log(srv)
        self.assertEqual(rc, 0, log)
        self.assertLess(elapsed, 3.0, 'shutdown took too long')
        self.assertNotIn('Sanitizer', log)
        self.assertNotIn('runtime error', log)
        self.assertEqual(summary['input'], 'unix' if self.UNIX else 'tcp')
        harness.assert_accounting(self, summary)
        return summary

    @staticmethod
    def log(srv):
        with open(srv.stderr_path) as f:
            return f.read()

    def check(self, s, processed, dropped=None, rcodes=None, **conns):
        """Exact counts; connection counters default to 0."""
        self.assertEqual(s['processed'], processed)
        self.assertEqual(s['frames'], processed + sum(v for k, v in (dropped or {}).items()
                                                      if k not in ('frame_too_large', 'bad_frame',
                                                                   'truncated_frame')))
        self.assertEqual({k: v for k, v in s['dropped'].items() if v}, {k: v for k, v in (dropped or {}).items() if v})
        if rcodes is not None:
            self.assertEqual(s['by_rcode'], rcodes)
        want = {k: conns.get(k, 0) for k in CONN_KEYS}
        # Every accepted connection ends in exactly one place; those still
        # connected at SIGTERM are open_at_exit.
        if 'open_at_exit' not in conns:
            want['open_at_exit'] = want['accepted'] - want['finished'] - want['closed_eof'] - \
                want['closed_error'] - want['evicted_idle']
        self.assertEqual(s['connections'], want)

    # ---------------------------------------------------------------- item 5
    def test_handshake_and_prompt_finish(self):
        srv = self.server()
        s = srv.connect()
        s.sendall(ready(b'protobuf:other.Type', CONTENT_TYPE))
        ctype, types = read_control(s)
        self.assertEqual(ctype, ACCEPT)
        self.assertEqual(types, [CONTENT_TYPE])  # the one we speak, only
        s.sendall(control(START))
        s.sendall(frames(10, rcode=3))
        t0 = time.monotonic()
        s.sendall(control(STOP, None))
        ctype, types = read_control(s, timeout=2)
        self.assertLess(time.monotonic() - t0, 1.0, 'FINISH must answer STOP at once (item 5)')
        self.assertEqual((ctype, types), (FINISH, []))
        self.assertTrue(closed_by_peer(s), 'edge keeps the connection open after FINISH')
        s.close()
        self.check(self.stop(srv), 10, rcodes={'NXDOMAIN': 10}, accepted=1, finished=1)

    def test_byte_by_byte(self):
        """Frames split into single octets (every length field split too)."""
        srv = self.server()
        s = srv.connect()
        if not self.UNIX:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in ready(CONTENT_TYPE):
            s.send(bytes([b]))
            time.sleep(0.0005)
        self.assertEqual(read_control(s)[0], ACCEPT)
        stream = control(START) + frames(2, rcode=2)
        for b in stream:
            s.send(bytes([b]))
            time.sleep(0.0005)
        srv.finish(s)
        self.check(self.stop(srv), 2, rcodes={'SERVFAIL': 2}, accepted=1, finished=1)

    # ------------------------------------------------------------- items 1, 19
    def test_concurrent_producers(self):
        """8 producers at once, frames of mixed sizes (some over the initial
        256 KiB connection buffer) sent in random-sized interleaved pieces."""
        srv = self.server()
        n_conn, per_conn = 8, 60
        barrier = threading.Barrier(n_conn)
        errors = []

        def producer(i):
            try:
                rnd = random.Random(i)
                s = srv.handshake()
                data = b''.join(data_frame(payload(rcode=i, size=rnd.choice([None, 300, 5000, 70000])))
                                for _ in range(per_conn - 1))
                data += data_frame(payload(rcode=i, size=300_000))
                barrier.wait(timeout=10)
                pos = 0
                while pos < len(data):
                    step = rnd.randint(1, 40000)
                    s.sendall(data[pos:pos + step])
                    pos += step
                    if rnd.random() < 0.3:
                        time.sleep(0.001)
                srv.finish(s)
            except Exception as e:  # reported below
                errors.append(f'producer {i}: {e!r}')
        threads = [threading.Thread(target=producer, args=(i,)) for i in range(n_conn)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        self.assertEqual(errors, [])
        self.check(self.stop(srv), n_conn * per_conn, rcodes={RCODES[i]: per_conn for i in range(n_conn)},
                   accepted=n_conn, finished=n_conn)

    def test_reconnect_many_times(self):
        """Item 1: 20 successive connections on the same listener, each one
        redoing the handshake; half end with STOP, half just close."""
        srv = self.server()
        for i in range(20):
            s = srv.handshake()
            s.sendall(frames(5, rcode=i % 4))
            if i % 2 == 0:
                srv.finish(s)
            else:
                s.close()
        # frames of the last, closed connection are in: a final round trip
        s = srv.handshake()
        srv.finish(s)
        self.check(self.stop(srv), 100, rcodes={RCODES[r]: 25 for r in range(4)},
                   accepted=21, finished=11, closed_eof=10)

    def test_unidirectional_producer(self):
        """START without READY (fstrm unidirectional, e.g. a file replay)."""
        srv = self.server()
        s = srv.connect()
        s.sendall(control(START) + frames(7, rcode=5) + control(STOP, None))
        self.assertTrue(closed_by_peer(s))
        s.close()
        s = srv.connect()  # and one that never sends STOP
        s.sendall(control(START) + frames(3, rcode=5))
        s.close()
        srv.finish(srv.handshake())
        self.check(self.stop(srv), 10, rcodes={'REFUSED': 10}, accepted=3, finished=2, closed_eof=1)

    def test_real_fstrm_producer(self):
        """libfstrm's own writer (fstrm_replay, bidirectional) as the producer."""
        replay = shutil.which('fstrm_replay')
        if replay is None:
            self.skipTest('fstrm_replay is not installed (package fstrm-bin)')
        srv = self.server()
        path = os.path.join(self.tmpdir, 'replay.dnstap')
        with open(path, 'wb') as f:
            f.write(harness.fstrm_file([payload(rcode=3)] * 700 + [payload(size=200000)]))
        dest = ['-u', srv.unix_path] if self.UNIX else ['-a', '127.0.0.1', '-p', str(srv.tcp_port)]
        p = subprocess.run([replay, '-t', CONTENT_TYPE.decode(), '-r', path, '-r', path, *dest],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        srv.finish(srv.handshake())
        self.check(self.stop(srv), 1402, rcodes={'NXDOMAIN': 1400, 'NOERROR': 2}, accepted=2, finished=2)

    # -------------------------------------------------------------- items 6, 8
    def test_oversize_frame_closes_only_that_connection(self):
        srv = self.server()
        a = srv.handshake()
        b = srv.handshake()
        a.sendall(frames(3))
        b.sendall(frames(2, rcode=3))
        a.sendall(struct.pack('>I', 2 * 1024 * 1024) + b'\x00' * 100)
        self.assertTrue(closed_by_peer(a), 'oversize frame did not close its connection')
        a.close()
        b.sendall(frames(4, rcode=3))
        srv.finish(b)
        self.check(self.stop(srv), 9, dropped={'frame_too_large': 1},
                   rcodes={'NOERROR': 3, 'NXDOMAIN': 6}, accepted=2, finished=1, closed_error=1)

    def test_large_frames_accepted(self):
        """Item 6: 1 MiB (the default limit) and 70000-octet frames are data,
        sent whole or in pieces; the limit is configurable."""
        srv = self.server()
        s = srv.handshake()
        s.sendall(data_frame(payload(size=1 << 20)) + data_frame(payload(size=70000)) + frames(1))
        big = data_frame(payload(rcode=3, size=(1 << 20) - 1))
        for i in range(0, len(big), 4093):
            s.sendall(big[i:i + 4093])
        srv.finish(s)
        self.check(self.stop(srv), 4, rcodes={'NOERROR': 3, 'NXDOMAIN': 1}, accepted=1, finished=1)

        srv = self.server(args=['--max-frame-size', '70000'])
        a, b = srv.handshake(), srv.handshake()
        a.sendall(data_frame(payload(size=70000)))
        send_quietly(a, data_frame(payload(size=70001)))
        self.assertTrue(closed_by_peer(a))
        a.close()
        b.sendall(data_frame(payload(size=70000)))
        srv.finish(b)
        self.check(self.stop(srv), 2, dropped={'frame_too_large': 1}, accepted=2, finished=1, closed_error=1)

    def test_malformed_control_frames(self):
        srv = self.server()
        bad = [
            # (what is sent after the connection is set up, setup, frames before)
            ('unknown control type 9 after START', struct.pack('>III', 0, 4, 9), 'start', 2),
            ('second START inside data', control(START), 'start', 1),
            ('READY inside data', ready(CONTENT_TYPE), 'start', 1),
            ('control length 2 before READY', struct.pack('>II', 0, 2) + b'\x00\x00', 'none', 0),
            ('control length 100000 before READY', struct.pack('>II', 0, 100000) + b'\x00' * 64, 'none', 0),
            ('data frame before START', frames(1), 'accepted', 0),
            ('READY again instead of START', ready(CONTENT_TYPE), 'accepted', 0),
            ('STOP instead of READY', control(STOP, None), 'none', 0),
            ('FINISH from the producer', control(FINISH, None), 'start', 1),
        ]
        sent = 0
        for name, blob, setup, n_before in bad:
            with self.subTest(case=name):
                if setup == 'start':
                    s = srv.handshake()
                elif setup == 'accepted':
                    s = srv.connect()
                    s.sendall(ready(CONTENT_TYPE))
                    self.assertEqual(read_control(s)[0], ACCEPT)
                else:
                    s = srv.connect()
                s.sendall(frames(n_before))
                sent += n_before
                send_quietly(s, blob)
                self.assertTrue(closed_by_peer(s), f'{name}: connection left open')
                s.close()
        s = srv.handshake()
        s.sendall(frames(1))
        srv.finish(s)
        self.check(self.stop(srv), sent + 1, dropped={'bad_frame': len(bad)},
                   accepted=len(bad) + 1, finished=1, closed_error=len(bad))

    # ---------------------------------------------------------------- item 7
    def test_foreign_content_type(self):
        srv = self.server()
        s = srv.connect()
        s.sendall(ready(b'protobuf:other.Type'))
        self.assertTrue(closed_by_peer(s), 'READY without our content type must be refused')
        s.close()
        s = srv.connect()  # unidirectional START with another type
        s.sendall(control(START, b'protobuf:other.Type') + frames(2))
        self.assertTrue(closed_by_peer(s))
        s.close()
        s = srv.connect()  # READY fine, START names another type
        s.sendall(ready(CONTENT_TYPE))
        self.assertEqual(read_control(s)[0], ACCEPT)
        s.sendall(control(START, b'protobuf:other.Type'))
        self.assertTrue(closed_by_peer(s))
        s.close()
        s = srv.handshake()
        s.sendall(frames(3))
        srv.finish(s)
        self.check(self.stop(srv), 3, accepted=4, finished=1, closed_error=3, bad_content_type=3)

    def test_tls_client_hello(self):
        srv = self.server()
        s = srv.connect()
        s.sendall(harness.tls_client_hello())
        s.settimeout(3)
        try:
            reply = s.recv(100)
        except ConnectionResetError:
            reply = b''
        self.assertEqual(reply, b'', 'edge answered a TLS ClientHello')
        s.close()
        good = srv.handshake()
        good.sendall(frames(2))
        srv.finish(good)
        self.check(self.stop(srv), 2, accepted=2, finished=1, closed_error=1, tls_on_plain_listener=1)

    def test_tls_client_hello_in_small_segments(self):
        """The first segment may carry fewer than the 3 octets that identify a
        TLS record (a slow or fragmenting sender)."""
        srv = self.server()
        s = srv.connect()
        if not self.UNIX:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello = harness.tls_client_hello()
        for i in range(0, len(hello), 2):
            send_quietly(s, hello[i:i + 2])
            time.sleep(0.01)
        self.assertTrue(closed_by_peer(s))
        s.close()
        self.check(self.stop(srv), 0, accepted=1, closed_error=1, tls_on_plain_listener=1)

    def test_http_request_on_listener(self):
        """Another wrong protocol: closed, counted, the edge keeps serving."""
        srv = self.server()
        s = srv.connect()
        send_quietly(s, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertTrue(closed_by_peer(s))
        s.close()
        good = srv.handshake()
        good.sendall(frames(1))
        srv.finish(good)
        summary = self.stop(srv)
        # 'GET ' read as a frame length is ~1.2 GB: over the limit
        self.check(summary, 1, dropped={'frame_too_large': 1}, accepted=2, finished=1, closed_error=1)

    # ------------------------------------------------------------- item 3, 14
    def test_producer_disconnects_mid_frame(self):
        srv = self.server()
        s = srv.handshake()
        one = data_frame(payload(rcode=3))
        s.sendall(frames(3) + one[:len(one) // 2])
        s.close()
        s = srv.connect()  # gone in the middle of READY
        s.sendall(ready(CONTENT_TYPE)[:10])
        s.close()
        srv.finish(srv.handshake())
        self.check(self.stop(srv), 3, dropped={'truncated_frame': 2}, rcodes={'NOERROR': 3},
                   accepted=3, finished=1, closed_eof=2)

    # ---------------------------------------------------------------- item 1
    def test_handshake_timeout(self):
        """Producers that never complete the handshake are closed after ~5 s;
        one that completed it may stay silent as long as it likes."""
        srv = self.server()
        t0 = time.monotonic()
        silent = srv.connect()
        half = srv.connect()
        half.sendall(ready(CONTENT_TYPE)[:5])
        no_start = srv.connect()
        no_start.sendall(ready(CONTENT_TYPE))
        self.assertEqual(read_control(no_start)[0], ACCEPT)
        idle = srv.handshake()
        worker = srv.handshake()
        closed_at = {}

        def watch(name, sock):
            if closed_by_peer(sock, timeout=9):
                closed_at[name] = time.monotonic() - t0
        watchers = [threading.Thread(target=watch, args=a)
                    for a in (('silent', silent), ('half', half), ('no_start', no_start))]
        for w in watchers:
            w.start()
        for _ in range(13):  # the others keep working meanwhile
            worker.sendall(frames(2, rcode=1))
            time.sleep(0.5)
        for w in watchers:
            w.join()
        self.assertEqual(set(closed_at), {'silent', 'half', 'no_start'}, closed_at)
        for name, t in closed_at.items():
            self.assertGreater(t, 4.5, name)
            self.assertLess(t, 7.5, name)
        idle.sendall(frames(4))  # silent after START for > 6 s, still served
        srv.finish(idle)
        srv.finish(worker)
        for sock in (silent, half, no_start):
            sock.close()
        self.check(self.stop(srv), 30, rcodes={'NOERROR': 4, 'FORMERR': 26},
                   accepted=5, finished=2, closed_error=3, handshake_timeout=3)

    def test_silent_producer_alarm(self):
        """Item 1: a connected producer that stops sending is reported (it is
        not closed); the alarm clears when it sends again."""
        srv = self.server(args=['--input-silence-warn', '1'])
        a = srv.handshake()
        b = srv.handshake()
        a.sendall(frames(1))
        b.sendall(frames(1))
        time.sleep(2.6)  # > 1 s of silence, checked at least once a second
        a.sendall(frames(2))  # a comes back; b stays silent and connected
        srv.finish(a)
        log = self.log(srv)
        self.assertEqual(log.count('is the producer stuck?'), 2, log)
        self.assertEqual(log.count('sends again'), 1, log)
        summary = self.stop(srv)
        b.close()
        # every connection is closed at exit, so none is silent "now"
        self.check(summary, 4, accepted=2, finished=1, went_silent=2)

    def test_too_many_producers(self):
        """256 producers at once; the 257th is refused and counted; a slot
        freed is reused."""
        srv = self.server()
        socks = [srv.handshake() for _ in range(256)]
        extra = srv.connect()
        send_quietly(extra, ready(CONTENT_TYPE))
        self.assertTrue(closed_by_peer(extra), 'connection 257 was not refused')
        extra.close()
        for s in socks[:10]:
            s.sendall(frames(1))
            srv.finish(s)
        again = srv.handshake()
        again.sendall(frames(1))
        srv.finish(again)
        for s in socks[10:]:
            s.close()
        srv.finish(srv.handshake())
        self.check(self.stop(srv), 11, accepted=258, finished=12, closed_eof=246, refused_too_many=1)

    # --------------------------------------------------------------- item 23
    def test_sigterm_with_connected_and_disconnected_producers(self):
        srv = self.server()
        a = srv.handshake()                 # connected, frames sent
        a.sendall(frames(5))
        b = srv.connect()                   # mid-handshake
        b.sendall(ready(CONTENT_TYPE))
        self.assertEqual(read_control(b)[0], ACCEPT)
        c = srv.connect()                   # connected, silent
        d = srv.handshake()                 # sent frames, then went away
        d.sendall(frames(3, rcode=1))
        d.close()
        e = srv.handshake()                 # finished properly
        e.sendall(frames(2, rcode=2))
        srv.finish(e)
        f = srv.handshake()                 # connected, frames sent
        f.sendall(frames(2, rcode=3))
        # a round trip on a later connection, then a pause: everything sent
        # above has been read by the edge
        srv.finish(srv.handshake())
        time.sleep(0.3)
        summary = self.stop(srv)
        for sock in (a, b, c, f):
            self.assertTrue(closed_by_peer(sock, timeout=2))
            sock.close()
        if self.UNIX:
            self.assertFalse(os.path.exists(srv.unix_path), 'socket path left behind')
        self.check(summary, 12, rcodes={'NOERROR': 5, 'FORMERR': 3, 'SERVFAIL': 2, 'NXDOMAIN': 2},
                   accepted=7, finished=2, closed_eof=1)

    def test_sighup_does_not_stop(self):
        srv = self.server()
        s = srv.handshake()
        s.sendall(frames(1))
        srv.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        self.assertIsNone(srv.proc.poll(), 'SIGHUP ended the edge')
        s.sendall(frames(2))  # the same connection keeps working
        srv.finish(s)
        self.check(self.stop(srv), 3, accepted=1, finished=1)

    def test_sigterm_counts_a_partial_frame(self):
        """A producer still connected at SIGTERM with half a frame buffered:
        those octets cannot become a frame, and are counted as truncated_frame,
        as on EOF."""
        srv = self.server()
        f = srv.handshake()
        one = data_frame(payload(rcode=3))
        f.sendall(one * 2 + one[:7])
        srv.finish(srv.handshake())
        time.sleep(0.3)
        summary = self.stop(srv)
        f.close()
        self.check(summary, 2, dropped={'truncated_frame': 1}, accepted=2, finished=1)

    def test_repeated_signals(self):
        """SIGTERM twice, and SIGINT, end the edge once, cleanly."""
        for signals in ([signal.SIGTERM, signal.SIGTERM], [signal.SIGINT]):
            with self.subTest(signals=signals):
                srv = self.server()
                s = srv.handshake()
                s.sendall(frames(2))
                srv.finish(srv.handshake())
                time.sleep(0.1)
                for sig in signals:
                    srv.proc.send_signal(sig)
                self.assertEqual(srv.proc.wait(timeout=5), 0, self.log(srv))
                srv.stderr.close()
                with open(srv.summary_path) as fh:
                    summary = json.load(fh)
                self.assertNotIn('Sanitizer', self.log(srv))
                self.check(summary, 2, accepted=2, finished=1)
                s.close()
                os.unlink(srv.summary_path)


class UnixSocketTest(SocketTests, unittest.TestCase):
    UNIX = True

    # ------------------------------------------------------------- items 3-4
    def test_stale_socket_removed_at_start(self):
        path = os.path.join(self.tmpdir, 'dnstap.sock')
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()  # the file stays: a stale socket of an earlier run
        self.assertTrue(stat.S_ISSOCK(os.lstat(path).st_mode))
        srv = self.server()
        s = srv.handshake()
        s.sendall(frames(2))
        srv.finish(s)
        self.check(self.stop(srv), 2, accepted=1, finished=1)
        self.assertFalse(os.path.exists(path))

    def test_non_socket_at_path_is_not_removed(self):
        path = os.path.join(self.tmpdir, 'dnstap.sock')
        target = os.path.join(self.tmpdir, 'precious')
        for kind in ('regular file', 'symlink to a regular file', 'directory'):
            with self.subTest(kind=kind):
                if kind == 'directory':
                    os.mkdir(path)
                else:
                    with open(target, 'w') as f:
                        f.write('keep me\n')
                    if kind == 'regular file':
                        os.rename(target, path)
                    else:
                        os.symlink(target, path)
                p = subprocess.run([harness.TAPIR, 'edge', '--input-unix', path, '--summary-json',
                                    os.path.join(self.tmpdir, 's.json')],
                                   capture_output=True, text=True, timeout=10)
                self.assertNotEqual(p.returncode, 0)
                self.assertNotIn('Sanitizer', p.stderr)
                self.assertIn(path, p.stderr)
                if kind == 'directory':
                    self.assertTrue(os.path.isdir(path))
                    os.rmdir(path)
                else:
                    with open(path) as f:
                        self.assertEqual(f.read(), 'keep me\n')
                    os.unlink(path)
                    if os.path.exists(target):
                        os.unlink(target)

    def test_harness_producer_against_fstrm_capture(self):
        """Cross-check of the test producer itself: libfstrm's consumer
        (fstrm_capture) accepts our handshake and frames, and the edge then
        reads the file that fstrm_capture wrote."""
        capture = shutil.which('fstrm_capture')
        if capture is None:
            self.skipTest('fstrm_capture is not installed (package fstrm-bin)')
        sock = os.path.join(self.tmpdir, 'capture.sock')
        out = os.path.join(self.tmpdir, 'captured.dnstap')
        p = subprocess.Popen([capture, '-t', CONTENT_TYPE.decode(), '-u', sock, '-w', out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock)
            s.sendall(ready(CONTENT_TYPE))
            self.assertEqual(read_control(s), (ACCEPT, [CONTENT_TYPE]))
            s.sendall(control(START) + frames(25, rcode=2) + control(STOP, None))
            self.assertEqual(read_control(s)[0], FINISH)
            s.close()
            time.sleep(0.2)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=10)
        summary, err, _ = harness.run_edge_file(path=out)
        self.assertEqual(summary['processed'], 25)
        self.assertEqual(summary['by_rcode'], {'SERVFAIL': 25})
        harness.assert_accounting(self, summary)

    def test_socket_path_too_long(self):
        path = os.path.join(self.tmpdir, 'x' * 120)
        p = subprocess.run([harness.TAPIR, 'edge', '--input-unix', path, '--summary-json',
                            os.path.join(self.tmpdir, 's.json')], capture_output=True, text=True, timeout=10)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('too long', p.stderr)
        self.assertNotIn('Sanitizer', p.stderr)

    def test_socket_mode(self):
        for mode in (0o660, 0o600, 0o666):
            with self.subTest(mode=oct(mode)):
                srv = self.server(args=['--input-unix-mode', f'0{mode:o}'])
                st = os.lstat(srv.unix_path)
                self.assertTrue(stat.S_ISSOCK(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), mode)
                srv.finish(srv.handshake())
                self.check(self.stop(srv), 0, accepted=1, finished=1)

    def test_live_socket_of_another_edge_is_not_stolen(self):
        """A socket someone is listening on is not stale: a second edge started
        on the same path must not unlink it (the first edge would keep
        running, unreachable): the edge probes it with connect() first."""
        first = self.server()
        other = os.path.join(self.tmpdir, 'second')
        os.mkdir(other)
        p = subprocess.Popen([harness.TAPIR, 'edge', '--input-unix', first.unix_path, '--summary-json',
                              os.path.join(other, 's.json')], stderr=subprocess.DEVNULL)
        try:
            rc = p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=5)
            rc = 0
        self.assertNotEqual(rc, 0, 'second edge took over a live socket')
        s = first.handshake()  # the first edge must still be reachable
        s.sendall(frames(1))
        first.finish(s)
        # The second edge's probe is one connection that ends at once.
        self.check(self.stop(first), 1, accepted=2, finished=1, closed_eof=1)


class TcpSocketTest(SocketTests, unittest.TestCase):
    UNIX = False

    def test_sigterm_reads_what_producers_already_sent(self):
        """SPEC §10: SIGTERM loses nothing. 20000 frames handed to the kernel
        (sendall returned) just before SIGTERM are all read: shutdown drains
        each connection until it would block. (Regression: the edge used to
        stop reading at once, and 5140 of 20000 were processed.)"""
        srv = self.server()
        s = srv.handshake()
        s.sendall(frames(20000))
        summary = self.stop(srv)
        s.close()
        self.check(summary, 20000, accepted=1)

    def test_port_in_use(self):
        busy = socket.socket()
        busy.bind(('127.0.0.1', 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        try:
            p = subprocess.run([harness.TAPIR, 'edge', '--input-tcp', f'127.0.0.1:{port}', '--summary-json',
                                os.path.join(self.tmpdir, 's.json')], capture_output=True, text=True, timeout=10)
        finally:
            busy.close()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(str(port), p.stderr)
        self.assertNotIn('Sanitizer', p.stderr)


if __name__ == '__main__':
    harness.main()
