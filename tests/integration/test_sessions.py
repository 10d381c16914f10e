"""The local session log end to end: `tapir edge` writes pseudonymised,
scrubbed rows for responses that are not well known, deletes its blocks when
their retention passes, stops writing when the disk is nearly full, and takes
a new Crypto-PAn key on SIGHUP.

Inputs are built here (dnstap by harness.py, DNS messages by dnspython); the
files are read back by DuckDB and hyparquet (tests/node/read.mjs), and the
pseudonyms are compared with the reference's golden vectors (edm-spec §4.2),
which do not come from our code.
"""
import glob
import ipaddress
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
import harness  # noqa: E402

try:
    import dns.edns
    import dns.message
    import dns.rrset
except ImportError:
    harness.skip('dnspython is not installed (python3-dnspython)')

NODE_DIR = os.path.join(os.path.dirname(__file__), '..', 'node')
READ_MJS = os.path.join(NODE_DIR, 'read.mjs')
if not shutil.which('node') or not os.path.isdir(os.path.join(NODE_DIR, 'node_modules', '@duckdb')):
    harness.skip('node and tests/node/node_modules are needed (scripts/install-deps.sh installs them)')

SALT = 'aabbccddeeffgghh'
KEY_ARGS = ['--cryptopan-key', 'key1', '--cryptopan-key-salt', SALT]
# edm-spec §4.2 golden vectors.
KEY1 = {'198.51.100.20': '58.92.11.53', '198.51.100.30': '58.92.11.62',
        '2001:db8:1122:3344:5566:7788:99aa:bbcc': 'b780:8dc8:6ed9:cbc5:4d61:a6bb:6255:5a03',
        '2001:db8:1122:3344:5566:7788:99aa:ddee': 'b780:8dc8:6ed9:cbc5:4d61:a6bb:6255:262d'}
KEY2 = {'198.51.100.20': '185.204.164.235'}

# edm-spec §4.1: names in alphabetical order, all OPTIONAL; DuckDB's types.
SCHEMA = ([('dest_ipv4', 'UINTEGER'), ('dest_ipv6_host', 'UBIGINT'), ('dest_ipv6_network', 'UBIGINT'),
           ('dest_port', 'USMALLINT'), ('dns_protocol', 'UTINYINT')]
          + [(f'label{i}', 'VARCHAR') for i in range(10)]
          + [('query_message', 'BLOB'), ('query_time', 'TIMESTAMP WITH TIME ZONE'),
             ('response_message', 'BLOB'), ('response_time', 'TIMESTAMP WITH TIME ZONE'),
             ('server_id', 'BLOB'), ('source_ipv4', 'UINTEGER'), ('source_ipv6_host', 'UBIGINT'),
             ('source_ipv6_network', 'UBIGINT'), ('source_port', 'USMALLINT')])
NAMES = [n for n, _ in SCHEMA]
# Parquet annotations as hyparquet reports them (converted type, logical type).
ANNOTATIONS = {
    'UINTEGER': ('INT32', 'UINT_32', {'type': 'INTEGER', 'bitWidth': 32, 'isSigned': False}),
    'UBIGINT': ('INT64', 'UINT_64', {'type': 'INTEGER', 'bitWidth': 64, 'isSigned': False}),
    'USMALLINT': ('INT32', 'UINT_16', {'type': 'INTEGER', 'bitWidth': 16, 'isSigned': False}),
    'UTINYINT': ('INT32', 'UINT_8', {'type': 'INTEGER', 'bitWidth': 8, 'isSigned': False}),
    'VARCHAR': ('BYTE_ARRAY', 'UTF8', {'type': 'STRING'}),
    'BLOB': ('BYTE_ARRAY', None, None),
    'TIMESTAMP WITH TIME ZONE': ('INT64', 'TIMESTAMP_MICROS',
                                 {'type': 'TIMESTAMP', 'isAdjustedToUTC': True, 'unit': 'MICROS'}),
}

WELL_KNOWN = 'wellknown.example.'
TSEC = 1764780000


def v4(text):
    return ipaddress.IPv4Address(text).packed


def v6(text):
    return ipaddress.IPv6Address(text).packed


def u32(text):
    return str(int(ipaddress.IPv4Address(text)))


def v6_halves(text):
    n = int(ipaddress.IPv6Address(text))
    return str(n >> 64), str(n & (2**64 - 1))


def response(qname, options=(), qtype='A'):
    """A response with an answer, an authority SOA and glue, and an OPT
    carrying the given options."""
    q = dns.message.make_query(qname, qtype)
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text(qname, 300, 'IN', 'CNAME', 'cdn.example.net.'))
    r.answer.append(dns.rrset.from_text('cdn.example.net.', 300, 'IN', 'A', '192.0.2.7'))
    r.authority.append(dns.rrset.from_text('example.net.', 300, 'IN', 'NS', 'ns1.example.net.'))
    r.additional.append(dns.rrset.from_text('ns1.example.net.', 300, 'IN', 'A', '192.0.2.53'))
    r.use_edns(0, payload=1232, options=list(options))
    return r.to_wire()


def client_options():
    return [dns.edns.ECSOption('198.51.100.0', 24),
            dns.edns.GenericOption(dns.edns.COOKIE, b'\x11' * 8 + b'\x22' * 16),
            dns.edns.GenericOption(dns.edns.NSID, b'resolver-7'),
            dns.edns.EDEOption(dns.edns.EDECode.FORGED_ANSWER, 'policy'),
            dns.edns.GenericOption(12, b'\x00' * 16),     # padding
            dns.edns.GenericOption(65001, b'device-42')]  # a vendor tag


def frame(qname, qaddr, raddr, family=1, protocol=1, qport=40000, rport=53, tsec=TSEC,
          tnsec=123456789, identity=b'test-resolver', options=(), mtype='CLIENT_RESPONSE', wire=None):
    wire = response(qname, options) if wire is None else wire
    msg = harness.dnstap_message(mtype=mtype, family=family, protocol=protocol, qaddr=qaddr,
                                 raddr=raddr, qport=qport, rport=rport, tsec=tsec, tnsec=tnsec,
                                 wire=wire)
    return harness.dnstap_frame(msg, identity=identity), wire


def read_parquet(paths):
    p = subprocess.run(['node', READ_MJS, *paths], cwd=NODE_DIR, capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise AssertionError(f'read.mjs failed: {p.stderr}')
    return json.loads(p.stdout)


def session_files(data_dir):
    return sorted(glob.glob(os.path.join(data_dir, 'parquet', 'sessions', 'dns_session_block-*.parquet')))


def run_edge(tmp, frames, args, expect_rc=0):
    path = os.path.join(tmp, 'input.dnstap')
    with open(path, 'wb') as f:
        f.write(harness.fstrm_file(frames))
    return harness.run_edge_file(path=path, args=args, expect_rc=expect_rc)


def rows_by_name(seen, reader):
    """Rows of every file as dicts, keyed by the question name (labels)."""
    out = {}
    for entry in seen.values():
        got = entry[reader]
        assert 'error' not in got, got['error']
        for row in got['rows']:
            d = dict(zip(NAMES, row))
            labels = [d[f'label{i}'] for i in range(10) if d[f'label{i}'] is not None]
            if len(labels) == 10:  # label9 holds the rest, right to left
                labels[9:] = labels[9].split('.')
            out['.'.join(reversed(labels)) + '.'] = d
    return out


class SessionFileTest(unittest.TestCase):
    """One batch run over frames that cover the address, label and EDNS rules."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='tapir-sessions-')
        cls.data = os.path.join(cls.tmp, 'data')
        wk = os.path.join(cls.tmp, 'well-known.txt')
        with open(wk, 'w') as f:
            f.write(WELL_KNOWN + '\n')
        cls.sent = {}
        frames = []

        def add(qname, *args, **kw):
            fr, wire = frame(qname, *args, **kw)
            frames.append(fr)
            cls.sent[qname] = wire

        add('WwW.Four.Example.', v4('198.51.100.20'), v4('198.51.100.30'), options=client_options())
        add('six.example.', v6('2001:db8:1122:3344:5566:7788:99aa:bbcc'),
            v6('2001:db8:1122:3344:5566:7788:99aa:ddee'), family=2, protocol=2, qport=5353, rport=853)
        add('mapped.example.', v6('::ffff:198.51.100.20'), v4('198.51.100.30'), identity=b'')
        add('mapped6.example.', v6('::ffff:198.51.100.20'), v6('2001:db8:1122:3344:5566:7788:99aa:ddee'),
            family=2)
        add(WELL_KNOWN, v4('198.51.100.20'), v4('198.51.100.30'), options=client_options())
        add('a.b.c.d.e.f.g.h.i.j.k.l.Example.', v4('198.51.100.30'), v4('198.51.100.20'))
        # A query type, selected below: its message is the query.
        q = dns.message.make_query('Query.Example.', 'AAAA', use_edns=0,
                                   options=[dns.edns.ECSOption('198.51.100.0', 24)]).to_wire()
        add('Query.Example.', v4('198.51.100.20'), v4('198.51.100.30'), mtype='CLIENT_QUERY', wire=q)
        cls.n_rows = len(frames) - 1  # all but the well-known one
        cls.summary, cls.stderr, _ = run_edge(
            cls.tmp, frames, ['--data-dir', cls.data, '--well-known-domains-file', wk,
                              '--message-types', 'CLIENT_RESPONSE,CLIENT_QUERY', *KEY_ARGS])
        cls.files = session_files(cls.data)
        cls.seen = read_parquet(cls.files)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_one_file_named_by_its_interval(self):
        self.assertEqual(len(self.files), 1, self.stderr)
        name = os.path.basename(self.files[0])
        self.assertRegex(name, r'^dns_session_block-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ_'
                               r'\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.parquet$')
        self.assertEqual(os.listdir(os.path.dirname(self.files[0])), [name])  # no tmp left
        s = self.summary['sessions']
        self.assertEqual((s['rows'], s['files']), (self.n_rows, 1))
        self.assertEqual(s['bytes'], os.path.getsize(self.files[0]))

    def test_schema_is_the_reference_schema(self):
        entry = self.seen[self.files[0]]
        self.assertEqual([tuple(x) for x in entry['duckdb']['describe']], SCHEMA)
        schema = entry['hyparquet']['schema']
        self.assertEqual((schema[0]['name'], schema[0]['num_children']), ('sessionData', len(SCHEMA)))
        for e, (name, duck) in zip(schema[1:], SCHEMA):
            ptype, conv, logical = ANNOTATIONS[duck]
            self.assertEqual((e['name'], e['type'], e['repetition_type'], e['converted_type'],
                              e['logical_type']), (name, ptype, 'OPTIONAL', conv, logical))
        meta = entry['duckdb']['metadata']
        self.assertTrue(all(m['compression'] == 'SNAPPY' for m in meta))

    def test_one_row_per_not_well_known_frame_in_both_readers(self):
        for reader in ('duckdb', 'hyparquet'):
            rows = rows_by_name(self.seen, reader)
            self.assertEqual(sorted(rows), sorted(n for n in self.sent if n != WELL_KNOWN), reader)
        self.assertEqual(rows_by_name(self.seen, 'duckdb'), rows_by_name(self.seen, 'hyparquet'))

    def test_ipv4_pseudonyms_are_the_golden_vectors(self):
        r = rows_by_name(self.seen, 'duckdb')['WwW.Four.Example.']
        self.assertEqual(r['source_ipv4'], u32(KEY1['198.51.100.20']))
        self.assertEqual(r['dest_ipv4'], u32(KEY1['198.51.100.30']))
        for c in ('source_ipv6_host', 'source_ipv6_network', 'dest_ipv6_host', 'dest_ipv6_network'):
            self.assertIsNone(r[c])
        r = rows_by_name(self.seen, 'duckdb')['a.b.c.d.e.f.g.h.i.j.k.l.Example.']
        self.assertEqual((r['source_ipv4'], r['dest_ipv4']),
                         (u32(KEY1['198.51.100.30']), u32(KEY1['198.51.100.20'])))

    def test_ipv6_pseudonyms_are_the_golden_vectors(self):
        r = rows_by_name(self.seen, 'duckdb')['six.example.']
        net, host = v6_halves(KEY1['2001:db8:1122:3344:5566:7788:99aa:bbcc'])
        self.assertEqual((r['source_ipv6_network'], r['source_ipv6_host']), (net, host))
        net, host = v6_halves(KEY1['2001:db8:1122:3344:5566:7788:99aa:ddee'])
        self.assertEqual((r['dest_ipv6_network'], r['dest_ipv6_host']), (net, host))
        self.assertIsNone(r['source_ipv4'])
        self.assertEqual((r['source_port'], r['dest_port'], r['dns_protocol']), ('5353', '853', '2'))

    def test_mapped_client_follows_the_family(self):
        rows = rows_by_name(self.seen, 'duckdb')
        # INET: unmapped, the IPv4 pseudonym.
        r = rows['mapped.example.']
        self.assertEqual(r['source_ipv4'], u32(KEY1['198.51.100.20']))
        self.assertIsNone(r['source_ipv6_host'])
        self.assertIsNone(r['server_id'])  # empty identity
        # INET6: the IPv4 pseudonym in ::ffff:a.b.c.d form.
        r = rows['mapped6.example.']
        net, host = v6_halves('::ffff:' + KEY1['198.51.100.20'])
        self.assertEqual((r['source_ipv6_network'], r['source_ipv6_host'], r['source_ipv4']),
                         (net, host, None))

    def test_labels_ports_protocol_server_time(self):
        rows = rows_by_name(self.seen, 'duckdb')
        r = rows['WwW.Four.Example.']
        self.assertEqual([r[f'label{i}'] for i in range(4)], ['Example', 'Four', 'WwW', None])
        self.assertEqual((r['source_port'], r['dest_port'], r['dns_protocol']), ('40000', '53', '1'))
        self.assertEqual(bytes.fromhex(r['server_id']), b'test-resolver')
        self.assertEqual(r['response_time'], str(TSEC * 1000000 + 123456))
        self.assertIsNone(r['query_time'])
        self.assertIsNone(r['query_message'])
        # edm-spec §3.6: over ten labels, label9 joins the rest right to left.
        r = rows['a.b.c.d.e.f.g.h.i.j.k.l.Example.']
        self.assertEqual([r[f'label{i}'] for i in range(10)],
                         ['Example', 'l', 'k', 'j', 'i', 'h', 'g', 'f', 'e', 'd.c.b.a'])

    def test_stored_response_has_no_client_options_and_same_records(self):
        r = rows_by_name(self.seen, 'hyparquet')['WwW.Four.Example.']
        stored = dns.message.from_wire(bytes.fromhex(r['response_message']))
        original = dns.message.from_wire(self.sent['WwW.Four.Example.'])
        codes = [o.otype for o in stored.options]
        self.assertEqual(codes, [dns.edns.NSID, dns.edns.EDE])
        self.assertEqual(stored.options[0].data, b'resolver-7')
        self.assertEqual(stored.options[1].code, dns.edns.EDECode.FORGED_ANSWER)
        self.assertEqual(stored.options[1].text, 'policy')
        self.assertEqual((stored.id, stored.flags, stored.question, stored.answer, stored.authority,
                          stored.additional, stored.payload, stored.edns),
                         (original.id, original.flags, original.question, original.answer,
                          original.authority, original.additional, original.payload, original.edns))
        o = self.summary['sessions']['options_removed']
        self.assertEqual((o['ecs'], o['cookie'], o['other']), (2, 1, 2))  # the query's ECS too
        self.assertEqual(self.summary['sessions']['unparseable_messages'], 0)

    def test_query_types_store_the_scrubbed_query(self):
        r = rows_by_name(self.seen, 'duckdb')['Query.Example.']
        self.assertIsNone(r['response_message'])
        self.assertIsNone(r['response_time'])
        self.assertEqual(r['query_time'], str(TSEC * 1000000 + 123456))
        q = dns.message.from_wire(bytes.fromhex(r['query_message']))
        self.assertEqual(q.options, ())
        self.assertEqual(q.edns, 0)
        self.assertEqual(str(q.question[0].name), 'Query.Example.')

    def test_no_raw_address_anywhere_in_the_file(self):
        with open(self.files[0], 'rb') as f:
            data = f.read()
        for a in ('198.51.100.20', '198.51.100.30', '2001:db8:1122:3344:5566:7788:99aa:bbcc'):
            self.assertNotIn(ipaddress.ip_address(a).packed, data, a)


class SessionSwitchTest(unittest.TestCase):
    """When nothing is written: no key, a full disk, disabled."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-sessions-')
        self.data = os.path.join(self.tmp, 'data')
        self.frames = [frame(f'n{i}.example.', v4('198.51.100.20'), v4('198.51.100.30'))[0]
                       for i in range(3)]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_no_key_no_session_log_and_a_notice(self):
        summary, stderr, _ = run_edge(self.tmp, self.frames, ['--data-dir', self.data])
        self.assertEqual(session_files(self.data), [])
        self.assertFalse(os.path.exists(os.path.join(self.data, 'parquet', 'sessions')))
        self.assertEqual(stderr.count('the session log is off'), 1, stderr)
        self.assertNotIn('sessions', summary)
        self.assertEqual(summary['processed'], 3)

    def test_low_disk_writes_nothing_and_counts(self):
        summary, stderr, _ = run_edge(self.tmp, self.frames,
                                      ['--data-dir', self.data, '--session-min-free-disk', '100', *KEY_ARGS])
        self.assertEqual(session_files(self.data), [])
        self.assertEqual(os.listdir(os.path.join(self.data, 'parquet', 'sessions')), [])
        s = summary['sessions']
        self.assertEqual((s['rows_skipped_low_disk'], s['rows'], s['files']), (3, 0, 0))
        self.assertIn('of the disk free', stderr)

    def test_disabled_or_zero_retention(self):
        for args in (['--disable-session-files'], ['--session-retention', '0']):
            summary, _, _ = run_edge(self.tmp, self.frames, ['--data-dir', self.data, *KEY_ARGS, *args])
            self.assertEqual(session_files(self.data), [], args)
            self.assertNotIn('sessions', summary)

    def test_bad_options_are_refused(self):
        for args in (['--cryptopan-key', 'k', '--cryptopan-key-file', '/dev/null'],
                     ['--cryptopan-key-salt', 'short', '--cryptopan-key', 'k'],
                     ['--session-min-free-disk', '101', '--cryptopan-key', 'k']):
            _, stderr, rc = run_edge(self.tmp, self.frames, ['--data-dir', self.data, *args], expect_rc=None)
            self.assertEqual(rc, 2, (args, stderr))

    def test_key_file_must_hold_a_key(self):
        kf = os.path.join(self.tmp, 'key')
        open(kf, 'w').close()
        _, stderr, rc = harness.run_edge_file(
            data=harness.fstrm_file(self.frames), expect_rc=None,
            args=['--data-dir', self.data, '--cryptopan-key-file', kf])
        self.assertEqual(rc, 1, stderr)
        self.assertIn('cryptopan-key-file', stderr)


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f'timed out waiting for {what}')


def report(edge):
    """SIGUSR1 rewrites the summary: the counters so far."""
    before = os.path.getmtime(edge.summary_path) if os.path.exists(edge.summary_path) else 0
    edge.proc.send_signal(signal.SIGUSR1)

    def fresh():
        if os.path.exists(edge.summary_path) and os.path.getmtime(edge.summary_path) != before:
            with open(edge.summary_path) as f:
                return json.load(f)
        return None
    return wait_for(fresh, 10, 'the summary')


class SessionLiveTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-sessions-')
        self.data = os.path.join(self.tmp, 'data')
        self.sessions = os.path.join(self.data, 'parquet', 'sessions')
        self.edge = None

    def tearDown(self):
        if self.edge is not None:
            self.edge.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def send(self, frames):
        s = self.edge.handshake()
        s.sendall(b''.join(harness.data_frame(f) for f in frames))
        self.edge.finish(s)

    def test_retention_deletes_blocks(self):
        os.makedirs(self.sessions)
        old = 'dns_session_block-2020-01-01T00-00-00Z_2020-01-01T00-01-00Z.parquet'
        t = time.gmtime(time.time() + 3600)
        fresh = time.strftime('dns_session_block-%Y-%m-%dT%H-%M-%SZ_', t) + \
            time.strftime('%Y-%m-%dT%H-%M-%SZ.parquet', t)
        # Leftovers of a crash go by their age.
        stale_tmp = 'dns_session_block-2020-01-01T00-00-00Z_open.parquet.tmp'
        stale_open = 'dns_session_block-2020-01-01T00-01-00Z_open.parquet'
        fresh_tmp = 'dns_session_block-2020-01-01T00-02-00Z_open.parquet.tmp'
        for name in (old, fresh, 'notes.txt', stale_tmp, stale_open, fresh_tmp):
            open(os.path.join(self.sessions, name), 'w').close()
        for name in (stale_tmp, stale_open):
            os.utime(os.path.join(self.sessions, name), (time.time() - 60, time.time() - 60))
        os.utime(os.path.join(self.sessions, fresh_tmp), (time.time() + 3600, time.time() + 3600))
        self.edge = harness.EdgeServer(self.tmp, args=['--data-dir', self.data, '--session-retention', '2',
                                                       *KEY_ARGS])
        # The start-up sweep: the expired block goes, the rest stays.
        self.assertEqual(sorted(os.listdir(self.sessions)), sorted([fresh, 'notes.txt', fresh_tmp]))
        self.send([frame('gone.example.', v4('198.51.100.20'), v4('198.51.100.30'))[0]])
        written = wait_for(lambda: [f for f in session_files(self.data) if not f.endswith(fresh)], 15,
                           'a session block')
        self.assertEqual(len(written), 1)
        wait_for(lambda: not os.path.exists(written[0]), 15, 'the block to expire')
        rc, summary = self.edge.stop()
        self.assertEqual(rc, 0)
        s = summary['sessions']
        self.assertEqual((s['rows'], s['files'], s['files_deleted_retention']), (1, 1, 4))
        self.assertEqual(sorted(os.listdir(self.sessions)), sorted([fresh, 'notes.txt', fresh_tmp]))

    def test_sighup_reloads_the_key_file(self):
        kf = os.path.join(self.tmp, 'cryptopan.key')
        with open(kf, 'w') as f:
            f.write('key1\n')
        os.chmod(kf, 0o600)
        self.edge = harness.EdgeServer(self.tmp, args=['--data-dir', self.data, '--cryptopan-key-file', kf,
                                                       '--cryptopan-key-salt', SALT])
        client = v4('198.51.100.20')
        self.send([frame('before.example.', client, v4('198.51.100.30'))[0]])
        wait_for(lambda: report(self.edge)['processed'] == 1, 10, 'the first frame')

        with open(kf, 'w') as f:
            f.write('key2\n')
        self.edge.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: 'new Crypto-PAn key applies' in self.edge.log(), 20, 'the key reload')
        self.send([frame('after.example.', client, v4('198.51.100.30'))[0]])
        wait_for(lambda: report(self.edge)['processed'] == 2, 10, 'the second frame')

        open(kf, 'w').close()  # a bad key file: the key stays
        self.edge.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: 'keeping the current Crypto-PAn key' in self.edge.log(), 20, 'the failed reload')
        self.send([frame('kept.example.', client, v4('198.51.100.30'))[0]])
        wait_for(lambda: report(self.edge)['processed'] == 3, 10, 'the third frame')

        rc, summary = self.edge.stop()
        self.assertEqual(rc, 0)
        s = summary['sessions']
        self.assertEqual((s['key_reloads'], s['key_reload_errors'], s['rows']), (1, 1, 3))
        rows = rows_by_name(read_parquet(session_files(self.data)), 'duckdb')
        self.assertEqual(rows['before.example.']['source_ipv4'], u32(KEY1['198.51.100.20']))
        self.assertEqual(rows['after.example.']['source_ipv4'], u32(KEY2['198.51.100.20']))
        self.assertEqual(rows['kept.example.']['source_ipv4'], u32(KEY2['198.51.100.20']))


if __name__ == '__main__':
    harness.main()
