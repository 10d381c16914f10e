# SPDX-License-Identifier: BSD-2-Clause
"""`tapir gen` (synthetic captures) and `tapir replay` (a producer).

The generated file is checked by readers that are not tapir's: dnstap-ldns
(Frame Streams, protobuf and DNS wire through ldns) gives the message count,
timestamps, question names and types; the expected shares come from the
arguments (--unknown-share) and the mix the generator is specified to have
(A ~55%, AAAA ~30%, NOERROR ~85%, NXDOMAIN ~10%, ~80% IPv4), and the
well-known share is recomputed here from the list with a set lookup. Then
the edge reads the same file and must agree with dnstap-ldns exactly
(frames, qtype counts, well-known responses).

Replay is checked against a live `tapir edge --input-unix` / `--input-tcp`:
every frame sent is counted by the edge, and --rate paces the sending.

Exits 77 (skipped) when dnstap-ldns or the shared list is missing.
"""
import collections
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

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TAPIR = harness.TAPIR
LIST = os.path.join(harness.DATA, 'well-known-domains.txt')
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)

if shutil.which('dnstap-ldns') is None:
    harness.skip('dnstap-ldns is missing (Debian package dnstap-ldns)')
harness.require_shared()


def gen(out, *args, names=LIST):
    cmd = [TAPIR, 'gen', '--out', out]
    if names is not None:
        cmd += ['--names', names]
    p = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f'tapir gen exited {p.returncode}: {p.stderr}')
    return p.stderr


TIME_RE = re.compile(r'^  (query|response)_time: !!timestamp (\S+ \S+)$')
QUESTION_RE = re.compile(r'^    ;(\S+)\t(\S+)\t(\S+)$')


def ldns_read(path):
    """Messages as dnstap-ldns -y prints them: a list of dicts."""
    p = subprocess.run(['dnstap-ldns', '-y', '-r', path], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise AssertionError(f'dnstap-ldns failed: {p.stderr}')
    msgs, cur, in_question = [], None, False
    for line in p.stdout.splitlines():
        if line == 'type: MESSAGE':
            cur = {}
            msgs.append(cur)
        elif cur is None:
            continue
        elif line.startswith('  type: '):
            cur['type'] = line.split(': ', 1)[1]
        elif line.startswith('  socket_family: '):
            cur['family'] = line.split(': ', 1)[1]
        elif line.startswith('  socket_protocol: '):
            cur['protocol'] = line.split(': ', 1)[1]
        elif (m := TIME_RE.match(line)):
            cur[m.group(1) + '_time'] = datetime.datetime.strptime(
                m.group(2), '%Y-%m-%d %H:%M:%S.%f').replace(tzinfo=datetime.timezone.utc)
        elif line.startswith('    ;; ->>HEADER<<-'):
            cur['rcode'] = re.search(r'rcode: (\w+)', line).group(1)
        elif line.startswith('    ;; EDNS:'):
            cur['edns'] = True
        elif line == '    ;; QUESTION SECTION:':
            in_question = True
        elif in_question:
            m = QUESTION_RE.match(line)
            if m:
                cur['qname'], cur['qtype'] = m.group(1).lower(), m.group(3)
            in_question = False
    return msgs


def load_list(path):
    exact, suffixes = set(), set()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            (suffixes.add(line[1:]) if line.startswith('.') else exact.add(line))
    return exact, suffixes


def well_known(name, exact, suffixes):
    if name in exact:
        return True
    labels = name.rstrip('.').split('.')
    return any('.'.join(labels[i:]) + '.' in suffixes for i in range(1, len(labels)))


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


class GenTest(unittest.TestCase):
    N = 20000
    MINUTES = 3
    SHARE = 0.3

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, 'gen.dnstap')
        gen(cls.path, '--messages', cls.N, '--clients', 500, '--minutes', cls.MINUTES,
            '--unknown-share', cls.SHARE, '--seed', 42)
        cls.msgs = ldns_read(cls.path)
        cls.summary, cls.edge_log, _ = harness.run_edge_file(
            path=cls.path, args=['--well-known-domains-file', LIST,
                                 '--data-dir', os.path.join(cls.tmp.name, 'data')])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_dnstap_ldns_reads_every_message_in_the_window(self):
        self.assertEqual(len(self.msgs), self.N)
        self.assertTrue(all(m['type'] == 'CLIENT_RESPONSE' for m in self.msgs))
        self.assertTrue(all('qname' in m for m in self.msgs), 'a DNS message ldns could not print')
        end = START + datetime.timedelta(minutes=self.MINUTES)
        times = [m['response_time'] for m in self.msgs]
        self.assertGreaterEqual(min(times), START)
        self.assertLess(max(times), end)
        self.assertEqual(times, sorted(times), 'responses are in time order')
        # Spread evenly: the first and last minutes hold about a third each.
        first_minute = sum(1 for t in times if t < START + datetime.timedelta(minutes=1))
        self.assertAlmostEqual(first_minute / self.N, 1 / self.MINUTES, delta=0.01)
        self.assertTrue(all(m['query_time'] <= m['response_time'] for m in self.msgs))

    def test_mixes_match_the_specification(self):
        n = self.N
        qtypes = collections.Counter(m['qtype'] for m in self.msgs)
        self.assertAlmostEqual(qtypes['A'] / n, 0.55, delta=0.02)
        self.assertAlmostEqual(qtypes['AAAA'] / n, 0.30, delta=0.02)
        for t in ('HTTPS', 'MX', 'TXT', 'PTR', 'SRV', 'NS'):
            self.assertGreater(qtypes[t], 0, t)
        rcodes = collections.Counter(m['rcode'] for m in self.msgs)
        self.assertAlmostEqual(rcodes['NOERROR'] / n, 0.85, delta=0.02)
        self.assertAlmostEqual(rcodes['NXDOMAIN'] / n, 0.10, delta=0.02)
        self.assertAlmostEqual(rcodes['SERVFAIL'] / n, 0.02, delta=0.01)
        self.assertGreater(rcodes['REFUSED'], 0)
        families = collections.Counter(m['family'] for m in self.msgs)
        self.assertGreater(families['INET6'], 0)
        protocols = collections.Counter(m['protocol'] for m in self.msgs)
        self.assertGreater(protocols['TCP'], 0)
        self.assertGreater(protocols['UDP'], 0.9 * n)
        self.assertGreater(sum(1 for m in self.msgs if m.get('edns')) / n, 0.8)

    def test_sizes_look_like_real_responses(self):
        # Frame sizes from the file itself (Frame Streams: 4-octet length).
        with open(self.path, 'rb') as f:
            data = f.read()
        pos = 8 + int.from_bytes(data[4:8], 'big')  # START
        sizes = []
        while pos + 4 <= len(data):
            n = int.from_bytes(data[pos:pos + 4], 'big')
            if n == 0:
                break  # STOP
            sizes.append(n)
            pos += 4 + n
        self.assertEqual(len(sizes), self.N)
        sizes.sort()
        # dnstap overhead is about 90 octets; DNS responses ~80-300.
        self.assertGreater(sizes[len(sizes) // 2], 150)
        self.assertLess(sizes[len(sizes) // 2], 350)
        self.assertLess(sizes[-1], 700)

    def test_unknown_share_matches_the_argument(self):
        exact, suffixes = load_list(LIST)
        unknown = sum(1 for m in self.msgs if not well_known(m['qname'], exact, suffixes))
        self.assertAlmostEqual(unknown / self.N, self.SHARE, delta=0.02)
        # The edge, reading the same file with the same list, agrees exactly.
        self.assertEqual(self.summary['histograms']['not_well_known'], unknown)
        self.assertEqual(self.summary['histograms']['well_known'], self.N - unknown)

    def test_edge_reads_every_frame_and_agrees_with_dnstap_ldns(self):
        s = self.summary
        self.assertEqual(s['frames'], self.N)
        self.assertEqual(s['processed'], self.N)
        self.assertEqual(sum(s['dropped'].values()), 0, s['dropped'])
        qtypes = collections.Counter(m['qtype'] for m in self.msgs)
        self.assertEqual(s['by_qtype'], dict(qtypes))
        rcodes = collections.Counter(m['rcode'] for m in self.msgs)
        self.assertEqual(s['by_rcode'], dict(rcodes))

    def test_same_seed_same_bytes_other_seed_differs(self):
        args = ('--messages', 3000, '--clients', 100, '--minutes', 1, '--unknown-share', 0.2)
        a, b, c = (os.path.join(self.tmp.name, x) for x in ('a', 'b', 'c'))
        gen(a, *args, '--seed', 7)
        gen(b, *args, '--seed', 7)
        gen(c, *args, '--seed', 8)
        self.assertEqual(sha256(a), sha256(b))
        self.assertNotEqual(sha256(a), sha256(c))

    def test_with_queries_writes_each_query_before_its_response(self):
        path = os.path.join(self.tmp.name, 'q.dnstap')
        gen(path, '--messages', 1000, '--minutes', 1, '--with-queries', '--seed', 3)
        msgs = ldns_read(path)
        self.assertEqual([m['type'] for m in msgs], ['CLIENT_QUERY', 'CLIENT_RESPONSE'] * 1000)
        for q, r in zip(msgs[::2], msgs[1::2]):
            self.assertEqual((q['qname'], q['qtype']), (r['qname'], r['qtype']))
            self.assertEqual(q['query_time'], r['query_time'])

    def test_make_list_writes_distinct_valid_names_usable_by_gen(self):
        path = os.path.join(self.tmp.name, 'list.txt')
        gen(path, '--make-list', 5000, '--seed', 5, names=None)
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 5000)
        self.assertEqual(len(set(lines)), 5000)
        name = re.compile(r'^\.?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+$')
        self.assertTrue(all(name.match(x) for x in lines), [x for x in lines if not name.match(x)][:5])
        self.assertTrue(any(x.startswith('.') for x in lines), 'some suffix entries')
        # Names below suffix entries are well known: with share 0, all are.
        out = os.path.join(self.tmp.name, 'fromlist.dnstap')
        gen(out, '--messages', 3000, '--unknown-share', 0, '--seed', 5, names=path)
        exact, suffixes = load_list(path)
        msgs = ldns_read(out)
        self.assertEqual(len(msgs), 3000)
        self.assertTrue(all(well_known(m['qname'], exact, suffixes) for m in msgs))
        self.assertTrue(any(m['qname'] not in exact for m in msgs), 'subdomains of suffixes')

    def test_names_near_255_octets_stay_valid(self):
        # Regression: MX/NS/SRV targets below a 255-octet question name
        # once made names too long for dnstap-ldns and the edge.
        lst = os.path.join(self.tmp.name, 'long.txt')
        a63 = '.'.join(['a' * 63] * 3)
        with open(lst, 'w') as f:
            f.write(f'.{a63}.{"b" * 59}.\n'      # 253 octets: room for one short label
                    f'x.{"c" * 58}.{a63}.\n'     # 255 octets, exact
                    '.example.com.\n')
        out = os.path.join(self.tmp.name, 'long.dnstap')
        gen(out, '--messages', 4000, '--unknown-share', 0.5, '--seed', 9, '--with-queries',
            names=lst)
        msgs = ldns_read(out)
        self.assertEqual(len(msgs), 8000)
        self.assertTrue(all('qname' in m for m in msgs), 'a DNS message ldns could not parse')
        self.assertTrue(any(len(m['qname']) == 254 for m in msgs), 'names of 255 octets')
        s, _, _ = harness.run_edge_file(path=out, args=['--message-types',
                                                        'CLIENT_QUERY,CLIENT_RESPONSE'])
        self.assertEqual((s['frames'], s['processed']), (8000, 8000), s['dropped'])

    def test_bad_arguments_are_refused(self):
        for args in (['--unknown-share', '1.5'], ['--start', '2024-13-01T00:00:00Z'],
                     ['--messages', '0']):
            p = subprocess.run([TAPIR, 'gen', '--out', os.path.join(self.tmp.name, 'x'),
                                '--names', LIST, *args], capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, args)


def replay(path, *args):
    p = subprocess.run([TAPIR, 'replay', path, *[str(a) for a in args]], capture_output=True,
                       text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f'tapir replay exited {p.returncode}: {p.stderr}')
    return json.loads(p.stdout.strip().splitlines()[-1])


class ReplayTest(unittest.TestCase):
    N = 5000

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.tmp.name, 'gen.dnstap')
        gen(cls.path, '--messages', cls.N, '--minutes', 1, '--seed', 11)
        cls.size = os.path.getsize(cls.path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_edge(self, unix, *replay_args):
        with tempfile.TemporaryDirectory() as tmp:
            edge = harness.EdgeServer(tmp, unix=unix)
            try:
                target = ['--unix', edge.unix_path] if unix else \
                    ['--tcp', f'127.0.0.1:{edge.tcp_port}']
                sent = replay(self.path, *target, *replay_args)
                rc, summary = edge.stop()
            finally:
                edge.kill()
            self.assertEqual(rc, 0)
            return sent, summary

    def test_unix_every_frame_arrives(self):
        sent, s = self.run_edge(True)
        self.assertEqual(sent['frames'], self.N)
        # Data frames with their prefixes: the file less START and STOP.
        start_len = 8 + 4 + 8 + len(harness.CONTENT_TYPE)
        self.assertEqual(sent['bytes'], self.size - start_len - 12)
        self.assertEqual(s['frames'], self.N)
        self.assertEqual(s['processed'], self.N)
        self.assertEqual(s['connections']['accepted'], 1)
        self.assertEqual(s['connections']['finished'], 1)

    def test_tcp_and_loop(self):
        sent, s = self.run_edge(False, '--loop', 3)
        self.assertEqual(sent['frames'], 3 * self.N)
        self.assertEqual(s['frames'], 3 * self.N)

    def test_rate_paces_the_frames(self):
        n, rate = self.N, 10000
        t0 = time.monotonic()
        sent, s = self.run_edge(True, '--rate', rate)
        self.assertEqual(s['frames'], n)
        self.assertGreaterEqual(sent['seconds'], 0.8 * n / rate)
        self.assertLess(sent['seconds'], 5 * n / rate + 2)
        self.assertLessEqual(sent['rate'], 1.25 * rate)
        self.assertGreaterEqual(time.monotonic() - t0, 0.8 * n / rate)

    def test_no_listener_is_an_error(self):
        p = subprocess.run([TAPIR, 'replay', self.path, '--unix',
                            os.path.join(self.tmp.name, 'absent.sock')],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn('tapir replay', p.stderr)


if __name__ == '__main__':
    harness.main()
