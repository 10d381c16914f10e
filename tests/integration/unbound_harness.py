"""A real Unbound on loopback, a query mix with a model of its answers, and the
tapir edge summary that the mix implies.

Used by test_unbound.py (Unbound -> `tapir edge --input-unix`) and by
scripts/make-sample.sh (Unbound -> fstrm_capture -> data/sample/).

Everything stays on loopback: Unbound listens on 127.0.0.1 and ::1 only, its
only upstream (a safety net that is never reached) is a dead loopback port,
and queries come from 127.0.0.0/8 source addresses and ::1.

The model of Unbound 1.17.1's answers (what it logs, with which rcode) is
written from its documentation and from shared/data/README-dnstap.md; every
live answer is checked against the model before the dnstap counts are, so a
resolver that behaves differently fails with a clear "Unbound answered ..."
message rather than a confusing count mismatch.
"""
import atexit
import ipaddress
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field

import harness

UNBOUND = shutil.which('unbound') or ('/usr/sbin/unbound' if os.path.exists('/usr/sbin/unbound') else None)

# Unbound 1.17.1 wakes its dnstap writer thread 1 s after a message is queued
# (at once only when 32 are waiting) and discards what is still queued when it
# is stopped. Wait this long after the last query before stopping it.
DNSTAP_FLUSH_WAIT = 2.5

# IANA mnemonics, as the summary JSON names them (written here independently).
RCODE = {'NOERROR': 0, 'FORMERR': 1, 'SERVFAIL': 2, 'NXDOMAIN': 3, 'NOTIMP': 4, 'REFUSED': 5,
         'BADVERS': 16}
RCODE_NAME = {v: k for k, v in RCODE.items()}
QTYPE = {'A': 1, 'NS': 2, 'CNAME': 5, 'SOA': 6, 'PTR': 12, 'MX': 15, 'TXT': 16, 'AAAA': 28,
         'SRV': 33, 'SVCB': 64, 'HTTPS': 65, 'CAA': 257}
QTYPE_NAME = {v: k for k, v in QTYPE.items()}
QCLASS = {'IN': 1, 'CH': 3}
QCLASS_NAME = {v: k for k, v in QCLASS.items()}
OPCODE = {'QUERY': 0, 'STATUS': 2, 'NOTIFY': 4}


def rcode_key(v):
    return RCODE_NAME.get(v, f'RCODE{v}')


def qtype_key(v):
    return QTYPE_NAME.get(v, f'TYPE{v}')


def qclass_key(v):
    return QCLASS_NAME.get(v, f'CLASS{v}')


# ---- clients ----
CLIENTS_V4 = ['127.0.0.1', '127.0.0.2', '127.1.2.3', '127.10.20.30', '127.45.6.7', '127.99.0.1']
CLIENTS_V6 = ['::1']
REFUSED_NET = ipaddress.ip_network('127.66.0.0/16')   # access-control: refuse
CLIENTS_REFUSED = ['127.66.0.1', '127.66.7.8']
CHAOS_TXT_NAMES = ('version.bind.', 'version.server.', 'hostname.bind.', 'id.server.')


def is_refused_client(addr):
    ip = ipaddress.ip_address(addr)
    return ip.version == 4 and ip in REFUSED_NET


# ---- local data ----
class Zone:
    """local-data records (under `local-zone: "." static`): name -> {qtype: [rdata]}."""

    def __init__(self):
        self.records = {}

    def add(self, name, qtype, rdata, ttl=300):
        name = name.lower()
        if not name.endswith('.'):
            name += '.'
        self.records.setdefault(name, {}).setdefault(qtype, []).append((ttl, rdata))

    def names(self):
        return sorted(n for n in self.records if n != '.')

    def config_lines(self):
        out = []
        for name in sorted(self.records):
            for qtype, rrs in sorted(self.records[name].items()):
                for ttl, rdata in rrs:
                    text = f'{name} {ttl} IN {qtype} {rdata}'
                    quote = "'" if '"' in text else '"'
                    out.append(f'    local-data: {quote}{text}{quote}')
        return out

    def exists(self, qname):
        """A name with data, or an empty non-terminal above one (NOERROR/NODATA)."""
        q = qname.lower()
        if q in self.records:
            return True
        return any(n.endswith('.' + q) for n in self.records)


def default_zone(extra_names=()):
    """Small, fixed local data: well-known names with made-up documentation addresses."""
    z = Zone()
    z.add('.', 'SOA', 'a.root-servers.net. nstld.verisign-grs.com. 2026120300 1800 900 604800 86400', 86400)
    z.add('google.com', 'A', '198.18.0.1')
    z.add('google.com', 'AAAA', '2001:db8:1::1')
    z.add('google.com', 'MX', '10 smtp.google.com.')
    z.add('google.com', 'TXT', '"v=spf1 include:_spf.google.com. ~all"', 3600)
    z.add('google.com', 'HTTPS', '1 . alpn=h2,h3')
    z.add('google.com', 'CAA', '0 issue "pki.goog"', 3600)
    z.add('www.google.com', 'A', '198.18.0.2')
    z.add('www.google.com', 'AAAA', '2001:db8:1::2')
    z.add('youtube.com', 'A', '198.18.1.1')
    z.add('youtube.com', 'AAAA', '2001:db8:2::1')
    z.add('youtube.com', 'HTTPS', '1 . alpn=h2,h3')
    z.add('www.youtube.com', 'CNAME', 'youtube.com.')
    z.add('wikipedia.org', 'A', '198.18.2.1')
    z.add('wikipedia.org', 'AAAA', '2001:db8:3::1')
    z.add('en.wikipedia.org', 'A', '198.18.2.2')
    z.add('example.com', 'A', '192.0.2.10')
    z.add('example.com', 'MX', '10 mail.example.com.')
    z.add('example.com', 'TXT', '"v=spf1 mx -all"')
    z.add('mail.example.com', 'A', '192.0.2.25')
    z.add('_sip._tls.example.com', 'SRV', '100 1 443 sip.example.com.')
    z.add('svt.se', 'A', '198.18.3.1')
    z.add('svt.se', 'NS', 'ns1.svt.se.', 86400)
    z.add('ns1.svt.se', 'A', '198.18.3.53', 86400)
    for i, name in enumerate(extra_names):
        z.add(name, 'A', f'198.19.{(i // 250) % 250}.{i % 250 + 1}')
        if i % 3 == 0:
            z.add(name, 'AAAA', f'2001:db8:{0x100 + i:x}::1')
        if i % 4 == 0:
            z.add(name, 'HTTPS', '1 . alpn=h2,h3')
        if i % 5 == 0:
            z.add(name, 'MX', f'10 mx.{name}')
    return z


# ---- queries ----
@dataclass
class Query:
    client: str
    proto: str          # 'udp' or 'tcp'
    qname: str
    qtype: int
    qclass: int = 1
    opcode: int = 0
    edns: dict = None   # None = no OPT; else {'version': 0, 'bufsize': 1232, 'do': False}
    qdcount: int = 1    # 0 = header (and OPT) only
    conn: int = None    # TCP: queries with the same conn share one connection
    qid: int = 0
    answer: bytes = field(default=None, repr=False)

    @property
    def family(self):
        return 'INET6' if ':' in self.client else 'INET'

    def wire(self):
        flags = (self.opcode & 0xf) << 11 | 0x0100   # RD
        arcount = 1 if self.edns is not None else 0
        out = struct.pack('>HHHHHH', self.qid, flags, self.qdcount, 0, 0, arcount)
        if self.qdcount:
            out += harness.dns_name(self.qname) + struct.pack('>HH', self.qtype, self.qclass)
        if self.edns is not None:
            ttl = (self.edns.get('version', 0) << 16) | (0x8000 if self.edns.get('do') else 0)
            out += b'\x00' + struct.pack('>HHIH', 41, self.edns.get('bufsize', 1232), ttl, 0)
        return out


@dataclass
class Expect:
    rcode: int            # full rcode the client gets (EDNS extended bits included)
    logged: bool          # Unbound 1.17.1 writes a CLIENT_RESPONSE frame
    question: bool        # that response has the question (QDCOUNT 1)


def expect(zone, q):
    """What Unbound 1.17.1 answers to q, and whether the answer is logged (see
    shared/data/README-dnstap.md, 'What Unbound 1.17.1 actually emitted')."""
    if is_refused_client(q.client):
        # access-control refuse: a bare 12-octet REFUSED header, logged.
        return Expect(RCODE['REFUSED'], True, False)
    if q.qdcount != 1:
        # FORMERR straight from the packet checks: bypasses dnstap.
        return Expect(RCODE['FORMERR'], False, False)
    if q.opcode not in (OPCODE['QUERY'], OPCODE['NOTIFY']):
        return Expect(RCODE['NOTIMP'], False, False)
    if q.opcode == OPCODE['NOTIFY']:
        return Expect(RCODE['REFUSED'], True, True)
    if q.edns is not None and q.edns.get('version', 0) != 0:
        return Expect(RCODE['BADVERS'], True, True)
    if q.qclass == QCLASS['CH']:
        ok = q.qtype == QTYPE['TXT'] and q.qname.lower() in CHAOS_TXT_NAMES
        return Expect(RCODE['NOERROR'] if ok else RCODE['REFUSED'], True, True)
    return Expect(RCODE['NOERROR'] if zone.exists(q.qname) else RCODE['NXDOMAIN'], True, True)


def random_label(rng, lo=6, hi=14):
    return ''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(lo, hi)))


WORDS = ['cloud', 'shop', 'photo', 'news', 'cat', 'fast', 'blue', 'data', 'home', 'tech', 'game',
         'bank', 'mail', 'smart', 'green', 'city', 'star', 'link', 'note', 'zone']
TLDS = ['com.', 'net.', 'org.', 'se.', 'io.', 'de.', 'nu.', 'xyz.', 'co.uk.']


def unknown_name(rng, zone):
    while True:
        kind = rng.random()
        if kind < 0.4:
            name = f'{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.randint(0, 99) if rng.random() < 0.3 else ""}.{rng.choice(TLDS)}'
        elif kind < 0.7:
            name = f'{random_label(rng, 8, 20)}.{rng.choice(TLDS)}'
        elif kind < 0.85:
            name = f'{random_label(rng, 7, 15)}.'       # Chromium-style probe
        else:
            name = f'{rng.choice(["cdn", "api", "push", "ocsp", "img"])}.{rng.choice(zone.names())}'
        if not zone.exists(name):
            return name


def case_0x20(rng, name):
    return ''.join(c.upper() if c.isalpha() and rng.random() < 0.5 else c for c in name)


def weighted(rng, table):
    """table: [(weight, value)]"""
    total = sum(w for w, _ in table)
    x = rng.random() * total
    for w, v in table:
        x -= w
        if x < 0:
            return v
    return table[-1][1]


def random_mix(seed, n, zone, clients_v4=CLIENTS_V4, clients_v6=CLIENTS_V6,
               clients_refused=CLIENTS_REFUSED, p_tcp=0.2, p_refused=0.05, p_v6=0.2,
               ranked_names=None, zipf_s=1.0):
    """n ordinary queries (categories: existing data, NODATA, NXDOMAIN, CHAOS,
    ACL-refused client, PTR), deterministic for a seed. Clients are drawn
    uniformly from the lists (repeat an address to make it busier). With
    ranked_names (names with data, most popular first) the existing-data
    queries pick a name Zipf-like (weight 1/rank**zipf_s)."""
    rng = random.Random(seed)
    names = zone.names()
    if ranked_names:
        ranked = [(1.0 / (i + 1) ** zipf_s, n.lower()) for i, n in enumerate(ranked_names)]
    nodata_types = [QTYPE[t] for t in ('A', 'AAAA', 'MX', 'TXT', 'HTTPS', 'CAA', 'SRV')] + [65280]
    out = []
    conn = 0
    for _ in range(n):
        if rng.random() < p_refused:
            client = rng.choice(clients_refused)
        elif rng.random() < p_v6:
            client = rng.choice(clients_v6)
        else:
            client = rng.choice(clients_v4)
        cat = weighted(rng, [(55, 'data'), (12, 'nodata'), (25, 'nxdomain'), (3, 'chaos'), (5, 'ptr')])
        qclass = QCLASS['IN']
        if cat == 'data':
            qname = weighted(rng, ranked) if ranked_names else rng.choice(names)
            types = [t for t in zone.records[qname] if t != 'CNAME'] or ['A']
            qtype = QTYPE[rng.choice(types)]
        elif cat == 'nodata':
            qname = rng.choice(names)
            have = {QTYPE[t] for t in zone.records[qname]}
            if QTYPE['CNAME'] in have:
                qname = 'google.com.'
                have = {QTYPE[t] for t in zone.records[qname]}
            qtype = rng.choice([t for t in nodata_types if t not in have])
        elif cat == 'nxdomain':
            qname = unknown_name(rng, zone)
            qtype = weighted(rng, [(50, 1), (30, 28), (15, 65), (5, 15)])
        elif cat == 'chaos':
            qname = rng.choice(CHAOS_TXT_NAMES + ('authors.bind.',))
            qtype, qclass = QTYPE['TXT'], QCLASS['CH']
        else:
            qname = f'{rng.randint(1, 254)}.{rng.randint(0, 255)}.18.198.in-addr.arpa.'
            qtype = QTYPE['PTR']
        if rng.random() < 0.05:
            qname = case_0x20(rng, qname)
        edns = None if rng.random() < 0.15 else {'version': 0, 'bufsize': rng.choice([1232, 1232, 4096]),
                                                   'do': rng.random() < 0.05}
        proto = 'tcp' if rng.random() < p_tcp else 'udp'
        q = Query(client, proto, qname, qtype, qclass, edns=edns)
        if proto == 'tcp':
            # sometimes 2-3 queries pipelined on one connection
            if out and out[-1].proto == 'tcp' and out[-1].client == client and rng.random() < 0.5:
                q.conn = out[-1].conn
            else:
                conn += 1
                q.conn = conn
        out.append(q)
    return out


def assign_ids(queries, seed=0):
    rng = random.Random(seed ^ 0x7a91)
    for q in queries:
        q.qid = rng.randrange(65536)


# ---- sending ----
def _parse_answer(msg):
    """(full rcode, qdcount, tc) of a DNS reply; the OPT record supplies the
    upper rcode bits."""
    if len(msg) < 12:
        raise ValueError('short reply')
    _, flags, qd, an, ns, ar = struct.unpack('>HHHHHH', msg[:12])
    pos = 12

    def skip_name(p):
        while True:
            if p >= len(msg):
                raise ValueError('truncated name')
            b = msg[p]
            if b == 0:
                return p + 1
            if b & 0xc0 == 0xc0:
                return p + 2
            p += 1 + b

    for _ in range(qd):
        pos = skip_name(pos) + 4
    ext = 0
    for i in range(an + ns + ar):
        pos = skip_name(pos)
        rtype, _, ttl, rdlen = struct.unpack('>HHIH', msg[pos:pos + 10])
        if rtype == 41 and i >= an + ns:
            ext = ttl >> 24
        pos += 10 + rdlen
    return (ext << 4) | (flags & 0xf), qd, bool(flags & 0x0200)


def _sock(q, kind):
    fam = socket.AF_INET6 if ':' in q.client else socket.AF_INET
    s = socket.socket(fam, kind)
    s.bind((q.client, 0))
    return s


def send_queries(queries, port, timeout=3.0, interval=0.0):
    """Sends every query to Unbound (127.0.0.1 or ::1 by client family), stores
    each reply in q.answer (None if none came). `interval` seconds between
    sends (UDP query or TCP connection)."""
    done = set()
    for i, q in enumerate(queries):
        if i in done:
            continue
        if interval and i:
            time.sleep(interval)
        server = '::1' if ':' in q.client else '127.0.0.1'
        if q.proto == 'udp':
            s = _sock(q, socket.SOCK_DGRAM)
            try:
                s.settimeout(timeout)
                s.sendto(q.wire(), (server, port))
                try:
                    while True:
                        data, _ = s.recvfrom(65535)
                        if data[:2] == struct.pack('>H', q.qid):
                            q.answer = data
                            break
                except socket.timeout:
                    q.answer = None
            finally:
                s.close()
            done.add(i)
            continue
        group = [j for j in range(i, len(queries))
                 if queries[j].proto == 'tcp' and queries[j].conn == q.conn]
        s = _sock(q, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect((server, port))
            s.sendall(b''.join(struct.pack('>H', len(w)) + w for w in (queries[j].wire() for j in group)))
            pending = {queries[j].qid: queries[j] for j in group}
            if len(pending) != len(group):
                raise AssertionError('duplicate query id on one TCP connection')
            try:
                while pending:
                    n = struct.unpack('>H', harness.recv_exact(s, 2))[0]
                    data = harness.recv_exact(s, n)
                    qq = pending.pop(struct.unpack('>H', data[:2])[0], None)
                    if qq is not None:
                        qq.answer = data
            except (socket.timeout, ConnectionError):
                pass
        finally:
            s.close()
        done.update(group)


def check_answers(zone, queries):
    """Compares every live answer with the model; returns a list of problems."""
    problems = []
    for q in queries:
        e = expect(zone, q)
        where = f'{q.proto} {q.client} {q.qname} type {q.qtype} class {q.qclass} opcode {q.opcode} edns {q.edns} qd {q.qdcount}'
        if q.answer is None:
            problems.append(f'no answer from Unbound: {where}')
            continue
        try:
            rcode, qd, _ = _parse_answer(q.answer)
        except (ValueError, struct.error) as ex:
            problems.append(f'unparsable answer ({ex}): {where}')
            continue
        if rcode != e.rcode:
            problems.append(f'Unbound answered {rcode_key(rcode)}, model says {rcode_key(e.rcode)}: {where}')
        if e.logged and (qd == 1) != e.question:
            problems.append(f'Unbound answered with QDCOUNT {qd}, model says question={e.question}: {where}')
    return problems


# ---- expected tapir edge summary ----
def expected_summary(zone, queries, selected=('CLIENT_RESPONSE',)):
    """The counters `tapir edge` must report for the dnstap of `queries`:
    one CLIENT_QUERY per query (its question as sent), one CLIENT_RESPONSE per
    logged answer."""
    types = Counter()
    processed = not_selected = 0
    dropped = Counter()
    by = {k: Counter() for k in ('by_rcode', 'by_qtype', 'by_qclass', 'by_socket_family',
                                 'by_socket_protocol')}

    def count(mtype, has_question, rcode, q):
        nonlocal processed, not_selected
        types[mtype] += 1
        if mtype not in selected:
            not_selected += 1
            return
        if not has_question:
            dropped['empty_question'] += 1
            return
        processed += 1
        by['by_rcode'][rcode_key(rcode)] += 1
        by['by_qtype'][qtype_key(q.qtype)] += 1
        by['by_qclass'][qclass_key(q.qclass)] += 1
        by['by_socket_family'][q.family] += 1
        by['by_socket_protocol'][q.proto.upper()] += 1

    for q in queries:
        count('CLIENT_QUERY', q.qdcount == 1, 0, q)
        e = expect(zone, q)
        if e.logged:
            count('CLIENT_RESPONSE', e.question, e.rcode, q)
    out = {'frames': sum(types.values()), 'by_message_type': dict(types), 'processed': processed,
           'not_selected': not_selected, 'dropped': dict(dropped)}
    out.update({k: dict(v) for k, v in by.items()})
    return out


def add_summaries(a, b):
    """Sum of two expected summaries (nested counters added)."""
    out = {}
    for k in set(a) | set(b):
        va, vb = a.get(k), b.get(k)
        if isinstance(va if va is not None else vb, dict):
            c = Counter(va or {})
            c.update(vb or {})
            out[k] = dict(c)
        else:
            out[k] = (va or 0) + (vb or 0)
    return out


# ---- process bookkeeping ----
_LIVE = set()   # Popen objects started here and not yet reaped
_TMPDIRS = set()  # removed on a fatal signal (unittest cleanups do not run then)


def register_tmpdir(path):
    _TMPDIRS.add(path)


def kill_all():
    """Kills every process this module started (by its own Popen, never by name)."""
    for p in list(_LIVE):
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        _LIVE.discard(p)


def install_cleanup_handlers():
    """At exit, and on SIGTERM/SIGHUP (e.g. a test runner's timeout), kill what is left."""
    atexit.register(kill_all)

    def on_signal(signum, _frame):
        kill_all()
        for d in list(_TMPDIRS):
            shutil.rmtree(d, ignore_errors=True)
        os._exit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)


# ---- Unbound ----
def port_is_free(port):
    for fam, addr in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(fam, kind)
            try:
                s.bind((addr, port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def free_dns_port():
    """A port free for UDP and TCP on both 127.0.0.1 and ::1."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 59999)
        if port_is_free(port):
            return port
    raise AssertionError('no free loopback port found')


class Unbound:
    """`unbound -d -c CONF` with its own config in `rundir`, loopback only."""

    def __init__(self, rundir, zone, dnstap_socket, identity='tapir-test-resolver.example.net',
                 threads=1):
        self.rundir = rundir
        self.zone = zone
        self.dnstap_socket = dnstap_socket
        self.identity = identity
        self.threads = threads
        self.port = None
        self.proc = None
        self.conf = os.path.join(rundir, 'unbound.conf')
        self.logfile = os.path.join(rundir, 'unbound.log')
        self.out_path = os.path.join(rundir, 'unbound.out')

    def config_text(self):
        r = self.rundir
        lines = f'''# tapir test resolver: loopback only, answers from local-data, no upstream
server:
    verbosity: 1
    username: ""
    chroot: ""
    directory: "{r}"
    pidfile: "{r}/unbound.pid"
    use-syslog: no
    logfile: "{self.logfile}"
    num-threads: {self.threads}
    so-reuseport: no
    interface: 127.0.0.1@{self.port}
    interface: ::1@{self.port}
    do-ip4: yes
    do-ip6: yes
    do-udp: yes
    do-tcp: yes
    edns-buffer-size: 1232
    outgoing-interface: 127.0.0.1
    do-not-query-localhost: no
    module-config: "iterator"
    hide-identity: no
    identity: "{self.identity}"
    hide-version: no
    access-control: 127.0.0.0/8 allow
    access-control: {REFUSED_NET} refuse
    access-control: ::1/128 allow
    local-zone: "." static
'''.splitlines()
        lines += self.zone.config_lines()
        lines += f'''
dnstap:
    dnstap-enable: yes
    dnstap-bidirectional: yes
    dnstap-socket-path: "{self.dnstap_socket}"
    dnstap-send-identity: yes
    dnstap-send-version: yes
    dnstap-identity: "{self.identity}"
    dnstap-log-client-query-messages: yes
    dnstap-log-client-response-messages: yes

# safety net: anything that would be recursed goes to a dead loopback port
forward-zone:
    name: "."
    forward-addr: 127.0.0.9@5399

remote-control:
    control-enable: no
'''.splitlines()
        return '\n'.join(lines) + '\n'

    def start(self, port=None, timeout=15):
        """Starts Unbound (a fresh free port unless given) and waits for 'start of
        service'. Retries with another port if the chosen one was taken."""
        for attempt in range(3):
            self.port = port or self.port or free_dns_port()
            with open(self.conf, 'w') as f:
                f.write(self.config_text())
            log_start = os.path.getsize(self.logfile) if os.path.exists(self.logfile) else 0
            self._out = open(self.out_path, 'a')
            self.proc = subprocess.Popen([UNBOUND, '-d', '-c', self.conf], stdout=self._out,
                                         stderr=subprocess.STDOUT)
            _LIVE.add(self.proc)
            deadline = time.time() + timeout
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                if os.path.exists(self.logfile):
                    with open(self.logfile) as f:
                        f.seek(log_start)
                        if 'start of service' in f.read():
                            return self
                time.sleep(0.05)
            log = self.log()
            self.kill()
            if port is None and 'could not open ports' in log and attempt < 2:
                self.port = None
                continue
            raise AssertionError(f'unbound did not start:\n{log}')
        raise AssertionError('unbound did not start')

    def wait_flush(self):
        time.sleep(DNSTAP_FLUSH_WAIT)

    def stop(self, timeout=20):
        """SIGTERM (Unbound sends STOP on its dnstap stream, waits for FINISH);
        returns the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        return rc

    def log(self):
        out = ''
        for path in (self.out_path, self.logfile):
            if os.path.exists(path):
                with open(path, errors='replace') as f:
                    out += f.read()
        return out

    def kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            _LIVE.discard(self.proc)
        if getattr(self, '_out', None) is not None and not self._out.closed:
            self._out.close()


class LiveEdge(harness.EdgeServer):
    """harness.EdgeServer registered for the emergency cleanup above."""

    def wait_ready(self, timeout=10):
        _LIVE.add(self.proc)
        super().wait_ready(timeout)

    def kill(self):
        super().kill()
        _LIVE.discard(self.proc)
