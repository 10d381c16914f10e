#!/usr/bin/python3
"""tapir edge --input-unix fed by a REAL Unbound (1.17.1, dnstap over a unix
socket, bidirectional Frame Streams).

Unbound runs with its own config in a temporary directory, listens on
127.0.0.1 and ::1 only (a free high port), answers from local-data under
`local-zone: "." static`, refuses 127.66.0.0/16, and logs CLIENT_QUERY and
CLIENT_RESPONSE. A known query mix goes to it over UDP and TCP from several
loopback source addresses; the expected tapir counters are computed from the
mix and a model of Unbound's answers (unbound_harness.expect), and every live
answer is checked against the same model first.

Unbound 1.17.1 specifics the expectations encode (shared/data/README-dnstap.md):
  * ACL-refused clients get a 12-octet REFUSED header (QDCOUNT 0), logged:
    tapir counts it as dropped.empty_question;
  * FORMERR (QDCOUNT 0 queries) and NOTIMP (opcode STATUS) replies are not
    logged at all, but their CLIENT_QUERY frames are;
  * EDNS version 1 gets BADVERS (header 0 + OPT extended rcode 1);
  * queued dnstap messages are written up to 1 s late and discarded at
    shutdown, so the test waits DNSTAP_FLUSH_WAIT before stopping Unbound.

Exit 77 (skipped) when unbound is not installed.
"""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import unbound_harness as ub  # noqa: E402
from unbound_harness import Query, QTYPE, QCLASS, OPCODE  # noqa: E402

E1 = {'version': 0, 'bufsize': 1232, 'do': False}


def special_queries():
    """Queries that every run contains once: each rcode, qtype, class, protocol,
    family and unlogged case the test is about."""
    q = []
    add = q.append
    # NOERROR with data, several qtypes, UDP and TCP, v4 and v6
    add(Query('127.0.0.1', 'udp', 'google.com.', QTYPE['A'], edns=E1))
    add(Query('127.0.0.2', 'udp', 'google.com.', QTYPE['AAAA']))
    add(Query('127.1.2.3', 'udp', 'google.com.', QTYPE['MX'], edns=E1))
    add(Query('127.10.20.30', 'udp', 'google.com.', QTYPE['TXT'], edns=E1))
    add(Query('::1', 'udp', 'google.com.', QTYPE['HTTPS'], edns=E1))
    add(Query('::1', 'tcp', 'youtube.com.', QTYPE['HTTPS'], edns=E1, conn=9001))
    add(Query('::1', 'tcp', 'www.youtube.com.', QTYPE['A'], edns=E1, conn=9001))   # CNAME answer
    add(Query('127.45.6.7', 'tcp', 'wikipedia.org.', QTYPE['AAAA'], conn=9002))
    add(Query('127.45.6.7', 'tcp', 'WikiPedia.ORG.', QTYPE['A'], conn=9002))       # 0x20 case
    add(Query('127.45.6.7', 'tcp', '_sip._tls.example.com.', QTYPE['SRV'], conn=9002))
    add(Query('127.99.0.1', 'udp', 'google.com.', QTYPE['CAA'], edns=E1))
    # NODATA (NOERROR, empty answer), incl. a private-use qtype and an empty non-terminal
    add(Query('127.0.0.1', 'udp', 'wikipedia.org.', QTYPE['MX'], edns=E1))
    add(Query('127.0.0.2', 'tcp', 'mail.example.com.', QTYPE['TXT'], conn=9003))
    add(Query('127.1.2.3', 'udp', 'google.com.', 65280, edns=E1))
    add(Query('127.1.2.3', 'udp', 'com.', QTYPE['NS'], edns=E1))
    # NXDOMAIN
    add(Query('127.0.0.1', 'udp', 'no-such-name.example.', QTYPE['A'], edns=E1))
    add(Query('::1', 'udp', 'qwxzvbnmlkjh.', QTYPE['A']))
    add(Query('127.10.20.30', 'tcp', 'cdn.svt.se.', QTYPE['AAAA'], conn=9004))
    # CHAOS: version/identity names answered, the rest REFUSED (logged, with question)
    add(Query('127.0.0.1', 'udp', 'version.bind.', QTYPE['TXT'], QCLASS['CH']))
    add(Query('127.0.0.2', 'udp', 'hostname.bind.', QTYPE['TXT'], QCLASS['CH']))
    add(Query('::1', 'tcp', 'id.server.', QTYPE['TXT'], QCLASS['CH'], conn=9005))
    add(Query('127.0.0.1', 'udp', 'authors.bind.', QTYPE['TXT'], QCLASS['CH']))
    add(Query('127.0.0.1', 'udp', 'version.bind.', QTYPE['A'], QCLASS['CH']))
    # EDNS version 1 -> BADVERS, UDP and TCP
    add(Query('127.0.0.1', 'udp', 'google.com.', QTYPE['A'], edns={'version': 1, 'bufsize': 1232}))
    add(Query('127.0.0.2', 'tcp', 'example.com.', QTYPE['MX'], edns={'version': 1, 'bufsize': 4096},
              conn=9006))
    # NOTIFY: REFUSED, logged with its question
    add(Query('127.0.0.1', 'udp', 'example.com.', QTYPE['SOA'], opcode=OPCODE['NOTIFY']))
    # answered but NOT logged by Unbound 1.17.1: FORMERR to QDCOUNT 0, NOTIMP to STATUS
    add(Query('127.0.0.1', 'udp', '', 0, qdcount=0, edns=E1))
    add(Query('127.0.0.2', 'tcp', '', 0, qdcount=0, conn=9007))
    add(Query('127.1.2.3', 'udp', 'google.com.', QTYPE['A'], opcode=OPCODE['STATUS']))
    # ACL-refused clients, UDP and TCP: REFUSED without question
    add(Query('127.66.0.1', 'udp', 'google.com.', QTYPE['A'], edns=E1))
    add(Query('127.66.7.8', 'tcp', 'youtube.com.', QTYPE['AAAA'], conn=9008))
    add(Query('127.66.7.8', 'tcp', 'no-such-name.example.', QTYPE['A'], conn=9008))
    return q


def make_mix(seed, n_random, zone):
    queries = special_queries() + ub.random_mix(seed, n_random, zone)
    # TCP connection ids must not collide between the fixed and random parts
    for q in queries:
        if q.proto == 'tcp' and q.conn is not None and q.conn < 9000:
            q.conn += seed * 100000
    ub.assign_ids(queries, seed)
    return queries


class UnboundTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-ub-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        ub.register_tmpdir(self.tmp)
        self.zone = ub.default_zone()

    def start_edge(self, args=()):
        edge = ub.LiveEdge(self.tmp, args=args)
        self.addCleanup(edge.kill)
        return edge

    def start_unbound(self, edge, port=None):
        u = ub.Unbound(self.tmp, self.zone, edge.unix_path)
        self.addCleanup(u.kill)           # runs before the edge's cleanup (LIFO)
        u.start(port=port)
        return u

    def run_mix(self, u, queries):
        ub.send_queries(queries, u.port)
        problems = ub.check_answers(self.zone, queries)
        self.assertEqual(problems, [], 'Unbound did not answer as the model expects:\n'
                         + '\n'.join(problems[:20]) + '\n' + u.log()[-3000:])

    def stop_unbound(self, u):
        u.wait_flush()
        rc = u.stop()
        self.assertEqual(rc, 0, f'unbound exited {rc}:\n{u.log()[-3000:]}')

    def assert_summary(self, summary, expected, edge):
        ctx = f'\nedge log:\n{edge.log()[-3000:]}'
        for key in ('frames', 'by_message_type', 'processed', 'not_selected', 'by_rcode',
                    'by_qtype', 'by_qclass', 'by_socket_family', 'by_socket_protocol'):
            self.assertEqual(summary[key], expected[key], f'{key}{ctx}')
        want_dropped = {k: expected['dropped'].get(k, 0) for k in summary['dropped']}
        self.assertEqual(set(expected['dropped']) - set(summary['dropped']), set())
        self.assertEqual(summary['dropped'], want_dropped, f'dropped{ctx}')
        harness.assert_accounting(self, summary)

    def test_query_mix_exact_counts(self):
        """One Unbound session, default message types: every count exact."""
        queries = make_mix(1, 150, self.zone)
        expected = ub.expected_summary(self.zone, queries, selected=('CLIENT_RESPONSE',))
        # the mix covers what the test is about
        self.assertTrue({'NOERROR', 'NXDOMAIN', 'REFUSED', 'BADVERS'} <= set(expected['by_rcode']))
        self.assertTrue({'A', 'AAAA', 'MX', 'TXT', 'HTTPS', 'TYPE65280'} <= set(expected['by_qtype']))
        self.assertEqual(set(expected['by_qclass']), {'IN', 'CH'})
        self.assertEqual(set(expected['by_socket_family']), {'INET', 'INET6'})
        self.assertEqual(set(expected['by_socket_protocol']), {'UDP', 'TCP'})
        self.assertGreater(expected['dropped']['empty_question'], 0)
        self.assertLess(expected['by_message_type']['CLIENT_RESPONSE'],
                        expected['by_message_type']['CLIENT_QUERY'])   # unlogged answers

        edge = self.start_edge()
        u = self.start_unbound(edge)
        self.run_mix(u, queries)
        self.stop_unbound(u)
        rc, summary = edge.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(summary['input'], 'unix')
        self.assertEqual(summary['selected_message_types'], ['AUTH_RESPONSE', 'CLIENT_RESPONSE'])
        self.assert_summary(summary, expected, edge)
        conns = summary['connections']
        self.assertEqual(conns['accepted'], 1, conns)
        self.assertGreaterEqual(conns['finished'], 1, conns)   # STOP answered with FINISH
        self.assertEqual(conns['closed_error'], 0, conns)
        self.assertEqual(conns['closed_eof'], 0, conns)

    def test_resolver_restart_edge_keeps_running(self):
        """Unbound stops and starts again while the edge runs: two connections,
        both finished, totals of both runs (queries and responses selected)."""
        selected = ('CLIENT_QUERY', 'CLIENT_RESPONSE')
        edge = self.start_edge(args=['--message-types', ','.join(selected)])
        runs = [make_mix(2, 120, self.zone), make_mix(3, 80, self.zone)]
        expected = None
        port = None
        for queries in runs:
            u = self.start_unbound(edge, port=port)   # the same port the second time
            port = u.port
            self.run_mix(u, queries)
            self.stop_unbound(u)
            e = ub.expected_summary(self.zone, queries, selected=selected)
            expected = e if expected is None else ub.add_summaries(expected, e)
        rc, summary = edge.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(summary['selected_message_types'], list(selected))
        self.assertEqual(summary['not_selected'], 0)
        self.assert_summary(summary, expected, edge)
        conns = summary['connections']
        self.assertEqual(conns['accepted'], 2, conns)
        self.assertEqual(conns['finished'], 2, conns)
        self.assertEqual(conns['closed_error'], 0, conns)
        self.assertEqual(conns['closed_eof'], 0, conns)


if __name__ == '__main__':
    if ub.UNBOUND is None:
        harness.skip('unbound is not installed (apt-get install unbound)')
    if not os.access(harness.TAPIR, os.X_OK):
        sys.exit(f'FAIL: tapir binary {harness.TAPIR} not found (build it, or set $TAPIR)')
    ub.install_cleanup_handlers()
    harness.main()
