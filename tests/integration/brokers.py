# SPDX-License-Identifier: BSD-2-Clause
"""Real message brokers for the integration tests, on loopback only.

- Mosquitto: a broker process of our own (never the system one) on a free
  127.0.0.1 port, with its own config, persistence file and log in a temp
  directory; plain or TLS with a throwaway CA (openssl CLI) that also signs
  a client certificate, the client certificate then being required.
  restart() stops it and starts it again on the same port.
- MqttSubscriber: `mosquitto_sub -v` in a persistent session (clean session
  off, QoS 1, fixed client id), so that with the broker's persistence no
  message is lost to the subscriber across a broker restart; a thread
  collects (topic, payload) pairs.
- NatsServer: `nats-server -a 127.0.0.1 -p PORT`, restartable.
- NatsSubscriber: a NATS client written here from the protocol text (INFO,
  CONNECT with headers, SUB, PING/PONG, MSG, HMSG), independent of libnats,
  so it can judge what libnats sent; it reconnects within 50 ms when the
  server comes back.
"""
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f'broker exited with {proc.returncode} before listening')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f'nothing listens on 127.0.0.1:{port} after {timeout} s')


def terminate(proc, timeout=10):
    """SIGTERM, then SIGKILL if proc has not exited within timeout seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def have(*programs):
    return all(shutil.which(p) for p in programs)


def _openssl(*args, cwd):
    subprocess.run(['openssl', *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Pki:
    """A throwaway CA with a server certificate for 127.0.0.1/localhost and a
    client certificate, as PEM files in directory d (EC P-256, 1 day)."""

    def __init__(self, d, name='ca'):
        d = os.path.abspath(d)
        self.dir = d
        os.makedirs(d, exist_ok=True)
        p = lambda f: os.path.join(d, f)  # noqa: E731
        self.ca, self.ca_key = p(name + '.pem'), p(name + '-key.pem')
        _openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                 '-keyout', self.ca_key, '-out', self.ca, '-days', '1',
                 '-subj', f'/CN=tapir test {name}', cwd=d)
        self.server_cert, self.server_key = self._leaf('server', '/CN=localhost',
                                                       'subjectAltName=IP:127.0.0.1,DNS:localhost')
        self.client_cert, self.client_key = self._leaf('client', '/CN=tapir-edge-client',
                                                       'extendedKeyUsage=clientAuth')

    def _leaf(self, stem, subj, ext):
        d = self.dir
        key, csr, cert = (os.path.join(d, f'{stem}-key.pem'), os.path.join(d, f'{stem}.csr'),
                          os.path.join(d, f'{stem}.pem'))
        _openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                 '-keyout', key, '-out', csr, '-subj', subj, cwd=d)
        extfile = os.path.join(d, f'{stem}.ext')
        with open(extfile, 'w') as f:
            f.write(ext + '\n')
        _openssl('x509', '-req', '-in', csr, '-CA', self.ca, '-CAkey', self.ca_key,
                 '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', extfile, cwd=d)
        return cert, key


class Mosquitto:
    def __init__(self, workdir, pki=None, acl=None):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.port = free_port()
        self.pki = pki
        self.proc = None
        self.conf = os.path.join(workdir, 'mosquitto.conf')
        self.log = os.path.join(workdir, 'mosquitto.log')
        lines = [
            f'listener {self.port} 127.0.0.1',
            'allow_anonymous true',
            # Persistence keeps the subscriber's session and its queued
            # QoS 1 messages across restart().
            'persistence true',
            f'persistence_location {workdir}/',
            # The default drops QoS 1 messages beyond 1,000 queued for a
            # subscriber; an edge catching up delivers thousands at once,
            # and a test must see every one (or know our edge lost it).
            # A bound, not 0 ("none"), which some 2.0.x releases mishandle.
            'max_queued_messages 1000000',
            f'log_dest file {self.log}',
            'log_type all',
            # As root, mosquitto would switch to user "mosquitto", which
            # cannot write our temp directory.
            f'user {pwd.getpwuid(os.getuid()).pw_name}',
        ]
        if acl is not None:
            # mosquitto's acl_file format; rules before any "user" line
            # apply to anonymous clients.
            acl_path = os.path.join(workdir, 'acl')
            with open(acl_path, 'w') as f:
                f.write(acl)
            lines.append(f'acl_file {acl_path}')
        if pki is not None:
            lines += [f'cafile {pki.ca}', f'certfile {pki.server_cert}',
                      f'keyfile {pki.server_key}', 'require_certificate true']
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')

    @property
    def url(self):
        return f'{"mqtts" if self.pki else "mqtt"}://127.0.0.1:{self.port}'

    def start(self):
        assert self.proc is None
        self.proc = subprocess.Popen(['mosquitto', '-c', self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, proc=self.proc)

    def stop(self):
        if self.proc is None:
            return
        terminate(self.proc)
        self.proc = None

    def restart(self, down_s=0.0):
        self.stop()
        time.sleep(down_s)
        self.start()

    def log_text(self):
        try:
            with open(self.log, errors='replace') as f:
                return f.read()
        except OSError:
            return ''


class MqttSubscriber:
    """mosquitto_sub on `topic` with a persistent session; .messages is the
    list of (topic, payload bytes) received so far, in order."""

    def __init__(self, broker, topic='events/up/#', client_id='tapir-test-sub'):
        args = ['mosquitto_sub', '-h', '127.0.0.1', '-p', str(broker.port), '-v', '-q', '1',
                '-t', topic, '-c', '-i', client_id]
        if broker.pki is not None:
            args += ['--cafile', broker.pki.ca, '--cert', broker.pki.client_cert,
                     '--key', broker.pki.client_key]
        self.messages = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self._wait_subscribed(broker, client_id)

    def _wait_subscribed(self, broker, client_id):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if f'Received SUBSCRIBE from {client_id}' in broker.log_text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError('mosquitto_sub did not subscribe')

    def _read(self):
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip(b'\n').partition(b' ')
            with self.lock:
                self.messages.append((topic.decode(), payload))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.snapshot()):
                return True
            time.sleep(0.05)
        return predicate(self.snapshot())

    def close(self):
        terminate(self.proc, timeout=5)
        self.thread.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


class NatsServer:
    """nats-server; with a Pki, TLS that requires a client certificate."""

    def __init__(self, workdir, pki=None):
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.port = free_port()
        self.pki = pki
        self.proc = None
        self.log = os.path.join(workdir, 'nats.log')

    @property
    def url(self):
        return f'{"tls" if self.pki else "nats"}://127.0.0.1:{self.port}'

    def start(self):
        assert self.proc is None
        tls = []
        if self.pki is not None:
            tls = ['--tls', '--tlscert', self.pki.server_cert, '--tlskey', self.pki.server_key,
                   '--tlscacert', self.pki.ca, '--tlsverify']
        self.proc = subprocess.Popen(['nats-server', '-a', '127.0.0.1', '-p', str(self.port),
                                      '-l', self.log, *tls], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, proc=self.proc)

    def stop(self):
        if self.proc is None:
            return
        terminate(self.proc)
        self.proc = None

    def restart(self, down_s=0.0):
        self.stop()
        time.sleep(down_s)
        self.start()


class NatsSubscriber:
    """Subscribes to `subject` on 127.0.0.1:port and keeps every message as
    a dict {subject, headers: [(name, value)], status, payload}; headers in
    the order they came, names as sent (not case-folded)."""

    def __init__(self, port, subject):
        self.port, self.subject = port, subject
        self.messages = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.stopping = False
        self.sock = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.subscribed.wait(10):
            raise AssertionError('NATS subscriber could not subscribe')

    def _run(self):
        while not self.stopping:
            try:
                self._session()
            except (OSError, ConnectionError, ValueError):
                pass
            self.subscribed.clear()
            if not self.stopping:
                time.sleep(0.05)

    def _session(self):
        with socket.create_connection(('127.0.0.1', self.port), timeout=2) as s:
            self.sock = s
            s.settimeout(None)
            f = s.makefile('rb')
            info = f.readline()
            if not info.startswith(b'INFO '):
                raise ValueError('no INFO')
            s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n'
                      + f'SUB {self.subject} 1\r\n'.encode() + b'PING\r\n')
            while True:
                line = f.readline()
                if not line:
                    raise ConnectionError('closed')
                line = line.rstrip(b'\r\n')
                if line == b'PING':
                    s.sendall(b'PONG\r\n')
                elif line == b'PONG':
                    # The server handles our commands in order: the SUB is
                    # in place once the PONG to the PING after it arrives.
                    self.subscribed.set()
                elif line.startswith(b'MSG '):
                    parts = line.split(b' ')
                    size = int(parts[-1])
                    body = f.read(size + 2)[:size]
                    self._keep(parts[1].decode(), b'', body)
                elif line.startswith(b'HMSG '):
                    parts = line.split(b' ')
                    hdr_len, total = int(parts[-2]), int(parts[-1])
                    data = f.read(total + 2)
                    if len(data) != total + 2 or data[total:] != b'\r\n':
                        raise ValueError('short HMSG')
                    self._keep(parts[1].decode(), data[:hdr_len], data[hdr_len:total])
                elif line.startswith(b'-ERR'):
                    raise ValueError(line.decode(errors='replace'))
                # INFO updates and +OK need nothing.

    def _keep(self, subject, raw_headers, payload):
        headers, status = [], None
        if raw_headers:
            lines = raw_headers.split(b'\r\n')
            if not lines[0].startswith(b'NATS/1.0'):
                raise ValueError('bad header block')
            status = lines[0][8:].strip().decode() or None
            for h in lines[1:]:
                if not h:
                    continue
                name, sep, value = h.partition(b':')
                if not sep:
                    raise ValueError('bad header line')
                headers.append((name.decode(), value.strip().decode()))
        with self.lock:
            self.messages.append({'subject': subject, 'headers': headers, 'status': status,
                                  'raw_headers': raw_headers, 'payload': payload})

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.snapshot()):
                return True
            time.sleep(0.05)
        return predicate(self.snapshot())

    def close(self):
        self.stopping = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)
