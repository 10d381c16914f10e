"""Running tapir edge as a daemon: limits that keep one producer from
hurting the others (idle eviction, the total buffer ceiling), signals
(SIGUSR1 report, SIGTERM on a batch run, a closed stderr pipe), and
start-up checks that report mistakes before a long run rather than after.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import control, data_frame, dnstap_frame, dnstap_message, dns_message  # noqa: E402

FRAME = data_frame(dnstap_frame(dnstap_message(wire=dns_message(rcode=3))))


class DaemonTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-ops-')
        self.servers = []

    def tearDown(self):
        for srv in self.servers:
            srv.kill()
        subprocess.run(['rm', '-rf', self.tmp])

    def server(self, *args):
        srv = harness.EdgeServer(self.tmp, args=list(args))
        self.servers.append(srv)
        return srv

    def test_idle_producers_give_way_when_the_listener_is_full(self):
        srv = self.server()
        idle = []
        for _ in range(256):
            s = srv.connect()
            s.sendall(control(harness.START))  # a unidirectional producer, then nothing
            idle.append(s)
        time.sleep(11)  # past the 10 s idle threshold
        s = srv.handshake()
        s.sendall(FRAME * 3)
        srv.finish(s)
        rc, summary = srv.stop()
        for s in idle:
            s.close()
        self.assertEqual(rc, 0)
        self.assertEqual(summary['processed'], 3)
        c = summary['connections']
        self.assertEqual((c['accepted'], c['evicted_idle'], c['refused_too_many']), (257, 1, 0))
        self.assertEqual(c['open_at_exit'], 255)

    def test_a_busy_full_listener_refuses_and_keeps_serving(self):
        srv = self.server('--max-frame-size', '66560', '--input-buffer-limit', '200000')
        held = [srv.handshake() for _ in range(3)]  # 3 x 66568 octets of buffer
        extra = srv.connect()  # no room for a 4th buffer
        extra.settimeout(5)
        self.assertEqual(extra.recv(10), b'')
        extra.close()
        held[0].sendall(FRAME)
        srv.finish(held[0])
        rc, summary = srv.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(summary['processed'], 1)
        self.assertEqual(summary['connections']['refused_too_many'], 1)

    def test_a_trickled_big_frame_cannot_take_the_memory(self):
        limit = 2 * (1048576 + 8)
        srv = self.server('--input-buffer-limit', str(limit))
        held = [srv.handshake() for _ in range(7)]  # 7 x 256 KiB
        greedy = srv.handshake()
        greedy.sendall((900000).to_bytes(4, 'big') + b'x' * 300000)  # needs a bigger buffer
        time.sleep(0.5)
        held[0].sendall(FRAME)
        srv.finish(held[0])
        rc, summary = srv.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(summary['connections']['closed_buffer_limit'], 1)
        self.assertEqual(summary['processed'], 1)

    def test_sigusr1_writes_the_counters_while_running(self):
        srv = self.server()
        s = srv.handshake()
        s.sendall(FRAME * 4)
        srv.finish(s)
        srv.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 10
        while not os.path.exists(srv.summary_path) and time.time() < deadline:
            time.sleep(0.05)
        with open(srv.summary_path) as f:
            self.assertEqual(json.load(f)['processed'], 4)
        self.assertIsNone(srv.proc.poll(), 'SIGUSR1 must not stop the edge')
        rc, summary = srv.stop()
        self.assertEqual((rc, summary['processed']), (0, 4))

    def test_a_closed_stderr_pipe_does_not_kill_the_daemon(self):
        sock = os.path.join(self.tmp, 's.sock')
        out = os.path.join(self.tmp, 's.json')
        p = subprocess.Popen([harness.TAPIR, 'edge', '--input-unix', sock, '--summary-json', out],
                             stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)
        p.stderr.close()  # whoever read the logs is gone
        for _ in range(3):  # each garbage connection makes a warning
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            s.sendall(b'\x16\x03\x01garbage')
            s.close()
        time.sleep(0.5)
        self.assertIsNone(p.poll(), 'a write to the closed pipe killed the edge')
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=10), 0)
        with open(out) as f:
            self.assertEqual(json.load(f)['connections']['tls_on_plain_listener'], 3)

    def test_sigterm_ends_a_batch_run_with_a_summary(self):
        data = harness.fstrm_file([dnstap_frame(dnstap_message())] * 5, stop=False)
        out = os.path.join(self.tmp, 's.json')
        p = subprocess.Popen(['sh', '-c', 'cat; sleep 30'], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        edge = subprocess.Popen([harness.TAPIR, 'edge', '--input-file', '-', '--summary-json', out],
                                stdin=p.stdout, stderr=subprocess.PIPE)
        p.stdin.write(data)
        p.stdin.close()
        time.sleep(1)
        edge.send_signal(signal.SIGTERM)
        rc = edge.wait(timeout=10)
        err = edge.stderr.read().decode()
        p.kill()
        p.wait()
        self.assertEqual(rc, 1, err)
        self.assertIn('interrupted', err)
        with open(out) as f:
            self.assertEqual(json.load(f)['processed'], 5)


class StartupChecksTest(unittest.TestCase):
    def run_edge(self, *args, config=None):
        with tempfile.TemporaryDirectory() as tmp:
            argv = [harness.TAPIR, 'edge', *args]
            if config is not None:
                path = os.path.join(tmp, 'edge.conf')
                with open(path, 'w') as f:
                    f.write(config)
                argv += ['--config-file', path]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                               input='', cwd=tmp)
            return p.returncode, p.stderr, p.stdout

    def test_summary_path_is_checked_at_start(self):
        rc, err, _ = self.run_edge('--input-file', '-', '--summary-json', '/nonexistent/dir/s.json')
        self.assertEqual(rc, 2)
        self.assertIn('cannot write in /nonexistent/dir', err)
        with tempfile.TemporaryDirectory() as tmp:
            victim = os.path.join(tmp, 'victim')
            with open(victim, 'w') as f:
                f.write('keep me')
            link = os.path.join(tmp, 's.json')
            os.symlink(victim, link)
            rc, err, _ = self.run_edge('--input-file', '-', '--summary-json', link)
            self.assertEqual(rc, 2)
            self.assertIn('not a regular file', err)
            with open(victim) as f:
                self.assertEqual(f.read(), 'keep me')

    def test_summary_on_stdout(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'in.dnstap')
            with open(path, 'wb') as f:
                f.write(harness.fstrm_file([dnstap_frame(dnstap_message())] * 2))
            rc, err, out = self.run_edge('--input-file', path, '--summary-json', '-')
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out)['processed'], 2)

    def test_tcp_ports_are_checked(self):
        for spec in ('127.0.0.1:99999', '127.0.0.1:0', ':53', '127.0.0.1:5x', '127.0.0.1:-1'):
            with self.subTest(spec=spec):
                rc, err, _ = self.run_edge('--input-tcp', spec)
                self.assertEqual(rc, 2, err)
                self.assertIn('input-tcp', err)

    def test_every_error_is_reported_together(self):
        rc, err, _ = self.run_edge('--bogus', '--max-frame-size', '12',
                                   config='message-types = NOPE\nnot-a-key = 1\ninput-unix-group = no-such-group-here\n')
        self.assertEqual(rc, 2)
        for what in ("unknown option '--bogus'", 'max-frame-size', "unknown key 'not-a-key'",
                     "unknown dnstap message type 'NOPE'", 'no group named', 'exactly one of'):
            self.assertIn(what, err)

    def test_config_comments_spaces_and_special_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'in.dnstap')
            with open(path, 'wb') as f:
                f.write(harness.fstrm_file([dnstap_frame(dnstap_message(mtype='CLIENT_QUERY'))]))
            out = os.path.join(tmp, 's.json')
            rc, err, _ = self.run_edge(config=f'input-file = {path}  # the capture\n'
                                              f'summary-json = "{out}" # quoted, then a comment\n'
                                              'message-types = CLIENT_RESPONSE, CLIENT_QUERY\n')
            self.assertEqual(rc, 0, err)
            with open(out) as f:
                self.assertEqual(json.load(f)['processed'], 1)
        rc, err, _ = self.run_edge('--config-file', '/dev/zero')
        self.assertEqual(rc, 2)
        self.assertIn('not a regular file', err)


if __name__ == '__main__':
    harness.main()
