"""Shared helpers for tapir's integration tests.

Tests drive the real `tapir` binary (path in $TAPIR) and, where needed, real
daemons on loopback. Test inputs are encoded here from the published formats
(Frame Streams, protobuf, DNS wire), independently of tapir's C code.
A script that lacks what it needs exits 77 (meson's "skipped") with a reason.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

TAPIR = os.environ.get('TAPIR', os.path.join(os.path.dirname(__file__), '..', '..', 'build', 'tapir'))
SHARED = os.environ.get('TAPIR_SHARED', os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared'))
DATA = os.path.join(SHARED, 'data')
CONTENT_TYPE = b'protobuf:dnstap.Dnstap'

# Frame Streams control types
ACCEPT, START, STOP, READY, FINISH = 1, 2, 3, 4, 5

# dnstap Message.Type
MESSAGE_TYPES = {
    'AUTH_QUERY': 1, 'AUTH_RESPONSE': 2, 'RESOLVER_QUERY': 3, 'RESOLVER_RESPONSE': 4,
    'CLIENT_QUERY': 5, 'CLIENT_RESPONSE': 6, 'FORWARDER_QUERY': 7, 'FORWARDER_RESPONSE': 8,
    'STUB_QUERY': 9, 'STUB_RESPONSE': 10, 'TOOL_QUERY': 11, 'TOOL_RESPONSE': 12,
    'UPDATE_QUERY': 13, 'UPDATE_RESPONSE': 14,
}


def skip(reason):
    print('SKIP: ' + reason)
    sys.exit(77)


# The npm test oracles (DuckDB, hyparquet) behind tests/node/query.mjs.
NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'node')


def require_node_oracles():
    if not shutil.which('node') or not os.path.isdir(os.path.join(NODE_DIR, 'node_modules', '@duckdb')):
        skip('node and tests/node/node_modules are needed (scripts/install-deps.sh installs them)')


def node_query(*args, timeout=300):
    """tests/node/query.mjs ARGS (e.g. 'duckdb', SQL): its JSON output."""
    p = subprocess.run(['node', os.path.join(NODE_DIR, 'query.mjs'), *args],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f'node {args[0]} failed: {p.stderr}')
    return json.loads(p.stdout)


def require_shared():
    if not os.path.isdir(DATA):
        skip(f'{DATA} is absent (the shared captures are not in this checkout)')


# ---- protobuf (encoding rules only) ----
def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def pb_varint(field, v):
    return varint(field << 3) + varint(v)


def pb_bytes(field, b):
    return varint(field << 3 | 2) + varint(len(b)) + b


def pb_fixed32(field, v):
    return varint(field << 3 | 5) + struct.pack('<I', v)


# ---- DNS wire ----
def dns_name(text):
    if text in ('', '.'):
        return b'\x00'
    out = b''
    for label in text.rstrip('.').split('.'):
        lb = label.encode()
        out += bytes([len(lb)]) + lb
    return out + b'\x00'


def dns_message(qname='example.com.', qtype=1, qclass=1, rcode=0, qr=True, qdcount=None,
                opt=None, ancount_a=0, raw_question=None):
    """A DNS message: header, one question (or raw bytes), A answers, optional OPT
    (a dict with 'ext_rcode', 'options' [(code, bytes)])."""
    flags = (0x8000 if qr else 0) | 0x0100 | (0x0080 if qr else 0) | (rcode & 0xf)
    question = raw_question if raw_question is not None else dns_name(qname) + struct.pack('>HH', qtype, qclass)
    qd = 1 if qdcount is None else qdcount
    answers = b''.join(b'\xc0\x0c' + struct.pack('>HHIH', 1, 1, 300, 4) + bytes([192, 0, 2, i + 1])
                       for i in range(ancount_a))
    extra = b''
    if opt is not None:
        rdata = b''.join(struct.pack('>HH', c, len(v)) + v for c, v in opt.get('options', []))
        ttl = (opt.get('ext_rcode', 0) << 24) | (opt.get('version', 0) << 16)
        extra = b'\x00' + struct.pack('>HHIH', 41, 1232, ttl, len(rdata)) + rdata
    hdr = struct.pack('>HHHHHH', 0x4242, flags, qd, ancount_a, 0, 1 if opt is not None else 0)
    return hdr + question + answers + extra


# ---- dnstap ----
def dnstap_message(mtype='CLIENT_RESPONSE', family=1, protocol=1, qaddr=b'\x7f\x00\x00\x01',
                   raddr=b'\x7f\x00\x00\x02', qport=40000, rport=53, tsec=1764780000,
                   tnsec=5000, wire=None, omit=(), extra_fields=b''):
    """Encodes a dnstap Message; fields named in `omit` are left out."""
    t = MESSAGE_TYPES[mtype] if isinstance(mtype, str) else mtype
    is_query = t % 2 == 1
    wire = dns_message() if wire is None else wire
    parts = []
    if 'type' not in omit:
        parts.append(pb_varint(1, t))
    if 'socket_family' not in omit:
        parts.append(pb_varint(2, family))
    if 'socket_protocol' not in omit:
        parts.append(pb_varint(3, protocol))
    if 'query_address' not in omit:
        parts.append(pb_bytes(4, qaddr))
    if 'response_address' not in omit:
        parts.append(pb_bytes(5, raddr))
    if 'query_port' not in omit:
        parts.append(pb_varint(6, qport))
    if 'response_port' not in omit:
        parts.append(pb_varint(7, rport))
    if 'time' not in omit:
        parts.append(pb_varint(8 if is_query else 12, tsec))
        parts.append(pb_fixed32(9 if is_query else 13, tnsec))
    if 'message' not in omit:
        parts.append(pb_bytes(10 if is_query else 14, wire))
    return b''.join(parts) + extra_fields


def dnstap_frame(message=None, dnstap_type=1, identity=b'test-resolver'):
    """Encodes a Dnstap protobuf around a Message (None = no Message)."""
    out = pb_bytes(1, identity) + pb_bytes(2, b'tapir-tests')
    if message is not None:
        out += pb_bytes(14, message)
    if dnstap_type is not None:
        out += pb_varint(15, dnstap_type)
    return out


# ---- Frame Streams ----
def control(ctype, content_type=CONTENT_TYPE):
    payload = struct.pack('>I', ctype)
    if content_type is not None:
        payload += struct.pack('>II', 1, len(content_type)) + content_type
    return struct.pack('>II', 0, len(payload)) + payload


def data_frame(payload):
    return struct.pack('>I', len(payload)) + payload


def fstrm_file(frames, start=True, stop=True):
    return (control(START) if start else b'') + b''.join(data_frame(f) for f in frames) + \
        (control(STOP, None) if stop else b'')


def read_control(sock, timeout=5):
    """Reads one control frame from a socket; returns (type, [content types])."""
    sock.settimeout(timeout)
    head = recv_exact(sock, 8)
    escape, length = struct.unpack('>II', head)
    if escape != 0:
        raise AssertionError(f'expected a control frame, got data frame of {escape}')
    payload = recv_exact(sock, length)
    ctype = struct.unpack('>I', payload[:4])[0]
    types, pos = [], 4
    while pos < len(payload):
        _, flen = struct.unpack('>II', payload[pos:pos + 8])
        types.append(payload[pos + 8:pos + 8 + flen])
        pos += 8 + flen
    return ctype, types


def recv_exact(sock, n):
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('peer closed')
        buf += chunk
    return buf


# ---- running tapir ----
def run_edge_file(data=None, path=None, args=(), expect_rc=0):
    """Runs `tapir edge --input-file` on bytes or a path; returns (summary dict, stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        if path is None:
            path = os.path.join(tmp, 'input.dnstap')
            with open(path, 'wb') as f:
                f.write(data)
        out = os.path.join(tmp, 'summary.json')
        p = subprocess.run([TAPIR, 'edge', '--input-file', path, '--summary-json', out, *args],
                           capture_output=True, text=True, timeout=300)
        if expect_rc is not None and p.returncode != expect_rc:
            raise AssertionError(f'tapir exited {p.returncode}, expected {expect_rc}: {p.stderr}')
        summary = None
        if os.path.exists(out):
            with open(out) as f:
                summary = json.load(f)
        return summary, p.stderr, p.returncode


class EdgeServer:
    """A `tapir edge` listening on a unix socket or TCP port, stopped with SIGTERM."""

    def __init__(self, tmpdir, unix=True, args=()):
        self.tmpdir = tmpdir
        self.summary_path = os.path.join(tmpdir, 'summary.json')
        self.unix_path = os.path.join(tmpdir, 'dnstap.sock') if unix else None
        self.tcp_port = None if unix else free_port()
        inp = ['--input-unix', self.unix_path] if unix else ['--input-tcp', f'127.0.0.1:{self.tcp_port}']
        self.stderr_path = os.path.join(tmpdir, 'edge.stderr')
        self.stderr = open(self.stderr_path, 'w')
        self.proc = subprocess.Popen([TAPIR, 'edge', *inp, '--summary-json', self.summary_path, *args],
                                     stderr=self.stderr)
        self.wait_ready()

    def wait_ready(self, timeout=10):
        """Waits for the edge's "listening on" log line; a probe connection
        would itself be counted in connections.accepted."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f'tapir edge exited early: {self.log()}')
            if 'listening on' in self.log():
                return
            time.sleep(0.02)
        raise AssertionError('tapir edge did not start listening')

    def connect(self):
        if self.unix_path:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.unix_path)
            except OSError:
                s.close()
                raise
        else:
            s = socket.create_connection(('127.0.0.1', self.tcp_port), timeout=5)
        return s

    def handshake(self):
        """Connects as a bidirectional producer; returns the socket after START."""
        s = self.connect()
        s.sendall(control(READY))
        ctype, types = read_control(s)
        assert ctype == ACCEPT and CONTENT_TYPE in types, (ctype, types)
        s.sendall(control(START))
        return s

    def finish(self, s):
        """Sends STOP and expects FINISH."""
        s.sendall(control(STOP, None))
        ctype, _ = read_control(s)
        assert ctype == FINISH, ctype
        s.close()

    def stop(self, timeout=20):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.stderr.close()
        with open(self.summary_path) as f:
            return rc, json.load(f)

    def log(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path, errors='replace') as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.stderr.closed:
            self.stderr.close()


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def frame_drops(summary):
    """Sum of the drop reasons that are counted per decoded frame."""
    stream = {'frame_too_large', 'bad_frame', 'truncated_frame'}
    return sum(v for k, v in summary['dropped'].items() if k not in stream)


def assert_accounting(test, summary):
    """frames == processed + not_selected + frame-level drops (stats.h)."""
    test.assertEqual(summary['frames'],
                     summary['processed'] + summary['not_selected'] + frame_drops(summary))


def main():
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print(f'{passed} passed, {failed} failed')
    sys.exit(1 if failed else 0)


# ---- TLS (RFC 8446 §4.1.2), for "wrong protocol on a plain listener" tests ----
def tls_client_hello(server_name=b'dnstap.example'):
    """A complete TLS 1.3 ClientHello record, as a TLS producer sends first."""
    def u16(v):
        return struct.pack('>H', v)

    def ext(etype, body):
        return u16(etype) + u16(len(body)) + body
    sni = b'\x00' + u16(len(server_name)) + server_name
    exts = (ext(0, u16(len(sni)) + sni)                            # server_name
            + ext(10, u16(2) + u16(0x001d))                        # supported_groups: x25519
            + ext(13, u16(4) + u16(0x0807) + u16(0x0403))          # signature_algorithms
            + ext(43, b'\x02' + u16(0x0304))                       # supported_versions: TLS 1.3
            + ext(51, u16(36) + u16(0x001d) + u16(32) + bytes(range(32))))  # key_share
    body = (u16(0x0303) + bytes(range(32, 64))                     # legacy_version, random
            + b'\x20' + bytes(32)                                  # legacy_session_id
            + u16(6) + u16(0x1301) + u16(0x1302) + u16(0x1303)     # cipher_suites
            + b'\x01\x00'                                          # compression: null
            + u16(len(exts)) + exts)
    handshake = b'\x01' + struct.pack('>I', len(body))[1:] + body  # client_hello
    return b'\x16\x03\x01' + u16(len(handshake)) + handshake
