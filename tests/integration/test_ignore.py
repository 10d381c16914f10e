#!/usr/bin/python3
"""Ignore lists in `tapir edge` (issue 4, edm-spec §2.2-2.4).

ignored-client-ips-file: one CIDR per line; a client inside any prefix is
dropped before anything else looks at its query (counted as
dropped.ignored_client); with a list on, a frame without a usable client
address is dropped too (fail closed, dropped.ignored_client_bad_address);
IPv4 prefixes do not match IPv4-mapped IPv6 clients (the reference's rule).
The expected verdicts come from Python's ipaddress module.

ignored-question-names-file: the well-known list's format and matching, or
the reference's DAWG (the shared valid1/valid2 test files); a name on it is
dropped (dropped.ignored_qname), never counted, logged or reported.

SIGHUP reloads both; a bad file keeps the old list. A bad file at start is
an error naming the line.
"""
import ipaddress
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CIDRS_1 = ['10.0.0.0/8', '2001:db8::/32', '198.51.100.7/24', '# a comment', '', '192.0.2.1/32']
CIDRS_2 = ['172.16.0.0/12', '3fff::/20']
CLIENTS = ['10.1.2.3', '11.0.0.1', '198.51.100.200', '198.51.101.1', '192.0.2.1', '192.0.2.2',
           '2001:db8::5', '2001:db9::5', '172.20.0.1', '3fff:fff::1', '::ffff:10.1.2.3']


def packed(addr):
    return ipaddress.ip_address(addr).packed


def client_frames(clients, qname='client.example.'):
    frames = []
    for c in clients:
        a = packed(c)
        v4 = len(a) == 4 or c.startswith('::ffff:')
        frames.append(harness.dnstap_frame(harness.dnstap_message(
            family=1 if v4 else 2, qaddr=a, raddr=packed('127.0.0.2' if v4 else '::1'),
            wire=harness.dns_message(qname=qname))))
    return frames


def ignored_by(lines, client):
    """The oracle: Python's ipaddress, prefixes of the client's own version."""
    addr = ipaddress.ip_address(client)
    nets = [ipaddress.ip_network(line, strict=False) for line in lines
            if line and not line.startswith('#')]
    return any(addr.version == n.version and addr in n for n in nets)


def write(path, lines):
    with open(path, 'w') as f:
        f.write(''.join(line + '\n' for line in lines))


class IgnoredClients(unittest.TestCase):
    def test_clients_and_fail_closed(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'clients.txt')
            write(path, CIDRS_1)
            no_addr = harness.dnstap_frame(harness.dnstap_message(omit=('query_address',)))
            data = harness.fstrm_file(client_frames(CLIENTS) + [no_addr])
            summary, err, _ = harness.run_edge_file(data, args=['--ignored-client-ips-file', path])
            want = sum(ignored_by(CIDRS_1, c) for c in CLIENTS)
            self.assertEqual(want, 4)  # 10.1.2.3, 198.51.100.200, 192.0.2.1, 2001:db8::5
            self.assertEqual(summary['dropped']['ignored_client'], want)
            self.assertEqual(summary['dropped']['ignored_client_bad_address'], 1)
            self.assertEqual(summary['processed'], len(CLIENTS) - want)
            harness.assert_accounting(self, summary)
            self.assertIn('ignoring clients in 3 IPv4 and 1 IPv6 prefixes', err)

            # No list: nothing ignored, not even a frame without a client.
            summary, _, _ = harness.run_edge_file(data)
            self.assertEqual(summary['processed'], len(CLIENTS) + 1)

            # A list without prefixes is off.
            write(path, ['# nothing here', ''])
            summary, _, _ = harness.run_edge_file(data, args=['--ignored-client-ips-file', path])
            self.assertEqual(summary['processed'], len(CLIENTS) + 1)

    def test_bad_files_at_start(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'clients.txt')
            for bad in ['10.0.0.1', '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/8 ', '10.0.0.0/8\r',
                        'example.com/8', ' 10.0.0.0/8']:
                write(path, ['192.0.2.0/24', bad])
                _, err, rc = harness.run_edge_file(harness.fstrm_file([]), expect_rc=None,
                                                   args=['--ignored-client-ips-file', path])
                self.assertEqual(rc, 1, f'{bad!r} accepted')
                self.assertIn(f'{path}:2:', err, bad)
            _, err, rc = harness.run_edge_file(harness.fstrm_file([]), expect_rc=None,
                                               args=['--ignored-client-ips-file', tmp + '/absent'])
            self.assertEqual(rc, 1)


class IgnoredNames(unittest.TestCase):
    QUERIES = ['www.example.net.', 'a.b.example.net.', 'example.net.', 'example.com.', 'EXAMPLE.Com.',
               'www.example.com.', 'example.edu.', 'www.example.edu.', 'example.org.', 'other.test.']
    # edm-spec §2.3 rules: valid1 = {.example.net., example.com.}
    VALID1 = {'www.example.net.', 'a.b.example.net.', 'example.com.', 'EXAMPLE.Com.'}
    VALID2 = {'www.example.edu.', 'example.org.'}

    def frames(self):
        return [harness.dnstap_frame(harness.dnstap_message(wire=harness.dns_message(qname=q)))
                for q in self.QUERIES]

    def test_dawg_and_text_lists(self):
        harness.require_shared()
        dawg = os.path.join(harness.DATA, 'dawg', 'ignored-question-names.valid1.dawg')
        data = harness.fstrm_file(self.frames())
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, 'names.txt')
            write(text, ['.example.net.', 'example.com.'])
            for path in (dawg, text):
                summary, _, _ = harness.run_edge_file(data, args=[
                    '--ignored-question-names-file', path, '--data-dir', os.path.join(tmp, 'd')])
                self.assertEqual(summary['dropped']['ignored_qname'], len(self.VALID1), path)
                self.assertEqual(summary['processed'], len(self.QUERIES) - len(self.VALID1))
                # Ignored names never reach the seen-store.
                self.assertEqual(summary['events']['seen_store_names'],
                                 len(self.QUERIES) - len(self.VALID1))
                harness.assert_accounting(self, summary)
                shutil.rmtree(os.path.join(tmp, 'd'))
            empty = os.path.join(harness.DATA, 'dawg', 'ignored-question-names.empty.dawg')
            summary, _, _ = harness.run_edge_file(data, args=['--ignored-question-names-file', empty])
            self.assertEqual(summary['processed'], len(self.QUERIES))


class Reload(unittest.TestCase):
    def test_sighup_swaps_lists_and_keeps_them_on_error(self):
        harness.require_shared()
        with tempfile.TemporaryDirectory() as tmp:
            clients = os.path.join(tmp, 'clients.txt')
            names = os.path.join(tmp, 'names.dawg')
            write(clients, CIDRS_1)
            with open(os.path.join(harness.DATA, 'dawg', 'ignored-question-names.valid1.dawg'), 'rb') as f:
                valid1 = f.read()
            with open(os.path.join(harness.DATA, 'dawg', 'ignored-question-names.valid2.dawg'), 'rb') as f:
                valid2 = f.read()
            with open(names, 'wb') as f:
                f.write(valid1)
            edge = harness.EdgeServer(tmp, args=['--ignored-client-ips-file', clients,
                                                 '--ignored-question-names-file', names])
            expect_clients = 0
            expect_names = 0
            try:
                def send_and_count(lines, name_set, sent):
                    s = edge.handshake()
                    frames = client_frames(CLIENTS) + IgnoredNames().frames()
                    s.sendall(b''.join(harness.data_frame(f) for f in frames))
                    edge.finish(s)
                    return (sent[0] + sum(ignored_by(lines, c) for c in CLIENTS),
                            sent[1] + sum(q in name_set for q in IgnoredNames.QUERIES))

                expect_clients, expect_names = send_and_count(CIDRS_1, IgnoredNames.VALID1, (0, 0))

                def reload(log_line):
                    before = edge.log().count(log_line)
                    edge.proc.send_signal(signal.SIGHUP)
                    deadline = time.time() + 10
                    while edge.log().count(log_line) == before:
                        self.assertLess(time.time(), deadline, f'no "{log_line}" after SIGHUP')
                        time.sleep(0.05)
                    time.sleep(1.2)  # applied at the input loop's next poll

                write(clients, CIDRS_2)
                with open(names, 'wb') as f:
                    f.write(valid2)
                reload('ignoring clients in 1 IPv4 and 1 IPv6 prefixes')
                expect_clients, expect_names = send_and_count(CIDRS_2, IgnoredNames.VALID2,
                                                              (expect_clients, expect_names))

                write(clients, CIDRS_2 + ['not a prefix'])
                with open(names, 'wb') as f:
                    f.write(valid2[:20])  # a truncated DAWG
                reload('keeping the current ignored-question-names list')
                self.assertIn('keeping the current ignored-client list', edge.log())
                expect_clients, expect_names = send_and_count(CIDRS_2, IgnoredNames.VALID2,
                                                              (expect_clients, expect_names))
            finally:
                rc, summary = edge.stop()
            self.assertEqual(rc, 0)
            self.assertEqual(summary['dropped']['ignored_client'], expect_clients)
            self.assertEqual(summary['dropped']['ignored_qname'], expect_names)
            harness.assert_accounting(self, summary)


if __name__ == '__main__':
    harness.main()
