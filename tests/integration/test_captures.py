"""`tapir edge --input-file` on every shared capture, against its oracle.

Each ../shared/data/NAME.dnstap has a NAME.summary.json made independently
with dnstap-ldns. For the capture's main response type we assert: total
frames, frames per message type, the question/no-question/parse-failure
split, and the per-rcode and per-qtype counts of messages with a question
(names from dnspython, a third implementation).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

harness.require_shared()
try:
    import dns.rcode
    import dns.rdatatype
except ImportError:
    harness.skip('python3-dnspython is not installed (scripts/install-deps.sh installs it)')

SECTIONS = {'client_response': 'CLIENT_RESPONSE', 'auth_response': 'AUTH_RESPONSE',
            'tool_response': 'TOOL_RESPONSE'}


def oracle_files():
    return sorted(glob.glob(os.path.join(harness.DATA, '*.summary.json')))


class CaptureTest(unittest.TestCase):
    def check_capture(self, summary_path):
        with open(summary_path) as f:
            oracle = json.load(f)
        capture = os.path.join(harness.DATA, oracle['file'])
        section = next(k for k in SECTIONS if k in oracle)
        mtype = SECTIONS[section]
        resp = oracle[section]

        ours, err, _ = harness.run_edge_file(path=capture, args=['--message-types', mtype])
        self.assertEqual(ours['frames'], oracle['total_frames'])
        self.assertEqual(ours['by_message_type'], oracle['by_message_type'])
        self.assertEqual(ours['selected_message_types'], [mtype])
        harness.assert_accounting(self, ours)

        dropped = ours['dropped']
        self.assertEqual(ours['processed'], resp['with_question'] - resp['multi_question'])
        self.assertEqual(dropped['multi_question'], resp['multi_question'])
        self.assertEqual(dropped['empty_question'], resp['no_question'])
        self.assertEqual(dropped['bad_dns'] + dropped['bad_name'], resp['parse_failed'])
        self.assertEqual(sum(v for k, v in dropped.items()
                             if k not in ('bad_dns', 'bad_name', 'empty_question', 'multi_question')), 0)
        self.assertEqual(ours['not_selected'], oracle['total_frames'] - resp['total'])

        rcodes, qtypes = Counter(), Counter()
        for row in resp['counts']:
            rcodes[dns.rcode.to_text(row['rcode'])] += row['count']
            qtypes[dns.rdatatype.to_text(row['qtype'])] += row['count']
        self.assertEqual(ours['by_rcode'], dict(rcodes))
        self.assertEqual(ours['by_qtype'], dict(qtypes))
        # Parsed messages without a question keep their rcode in the oracle.
        self.assertEqual(sum(resp['by_rcode'].values()),
                         ours['processed'] + dropped['empty_question'] + dropped['multi_question'])
        self.assertEqual(sum(ours['by_socket_family'].values()), ours['processed'])

    def test_every_shared_capture_matches_its_oracle(self):
        files = oracle_files()
        self.assertGreaterEqual(len(files), 5)
        for path in files:
            with self.subTest(capture=os.path.basename(path)):
                self.check_capture(path)

    def test_default_types_are_client_and_auth_responses(self):
        path = os.path.join(harness.DATA, 'bind9-auth-small.dnstap')
        with open(os.path.join(harness.DATA, 'bind9-auth-small.summary.json')) as f:
            oracle = json.load(f)
        ours, _, _ = harness.run_edge_file(path=path)
        self.assertEqual(ours['selected_message_types'], ['AUTH_RESPONSE', 'CLIENT_RESPONSE'])
        selected = oracle['by_message_type']['AUTH_RESPONSE'] + oracle['by_message_type']['CLIENT_RESPONSE']
        self.assertEqual(ours['processed'] + harness.frame_drops(ours), selected)

    def test_stdin_gives_the_same_counts_as_the_file(self):
        path = os.path.join(harness.DATA, 'unbound-small.dnstap')
        from_file, _, _ = harness.run_edge_file(path=path)
        with tempfile.TemporaryDirectory() as tmp, open(path, 'rb') as f:
            out = os.path.join(tmp, 's.json')
            subprocess.run([harness.TAPIR, 'edge', '--input-file', '-', '--summary-json', out],
                           stdin=f, check=True, capture_output=True, timeout=120)
            with open(out) as g:
                from_stdin = json.load(g)
        for key in ('frames', 'processed', 'dropped', 'by_rcode', 'by_qtype', 'by_message_type'):
            self.assertEqual(from_stdin[key], from_file[key], key)


if __name__ == '__main__':
    harness.main()
