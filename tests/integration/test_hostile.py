"""`tapir edge --input-file` on hostile and odd captures (SPEC §3-4, peers.md §3).

Every input-related entry of the reliability log (items 1-18, 23, 24) that a
file can carry gets a capture with the bad condition placed BETWEEN two valid
frames: BEFORE (NOERROR, A) and AFTER (NXDOMAIN, AAAA). Each test asserts the
exact counter the condition must land in, that nothing else was dropped, that
AFTER was still processed (by_rcode/by_qtype carry its unique values), and
the accounting identity of edge/stats.h.

Item 24: every capture whose frames are valid proto2 is also read with
`dnstap-ldns -r` (a real consumer built on fstrm + protobuf-c + ldns), which
must exit 0 and print one line per data frame; frames meant to be invalid
protobuf must make dnstap-ldns fail too. This validates harness.py's encoder
as a real producer would be validated, independently of tapir's decoder.
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import (START, STOP, READY, ACCEPT, FINISH, control, data_frame,  # noqa: E402
                     dnstap_frame, dnstap_message, pb_bytes, pb_fixed32, pb_varint, varint)

if not os.access(harness.TAPIR, os.X_OK):
    harness.skip(f'{harness.TAPIR} is not an executable (set $TAPIR)')
DNSTAP_LDNS = shutil.which('dnstap-ldns')
if DNSTAP_LDNS is None:
    harness.skip('dnstap-ldns is not installed (package dnstap-ldns; item 24 needs it)')

STREAM_DROPS = ('frame_too_large', 'bad_frame', 'truncated_frame')
T0 = 1764780000  # 2025-12-03T16:40:00Z


# ---- DNS wire, built field by field (RFC 1035 §4.1) ----
def wname(labels):
    """Uncompressed wire name from a list of label bytes (root = [])."""
    return b''.join(bytes([len(lb)]) + lb for lb in labels) + b'\x00'


def question(name=b'\x07example\x03com\x00', qtype=1, qclass=1):
    return name + struct.pack('>HH', qtype, qclass)


def rr(owner, rtype, rdata, rclass=1, ttl=300, rdlength=None):
    return owner + struct.pack('>HHIH', rtype, rclass, ttl,
                               len(rdata) if rdlength is None else rdlength) + rdata


def opt_rr(ext_rcode=0, version=0, udp=1232, options=b''):
    return rr(b'\x00', 41, options, rclass=udp, ttl=(ext_rcode << 24) | (version << 16))


def dns(qd=(None,), an=(), ns=(), ar=(), rcode=0, qr=True, counts=None, msg_id=0x4242):
    """A DNS message from raw sections; `None` in qd = the default question.
    `counts` overrides (QD, AN, NS, AR) to make them lie."""
    qd = [question() if q is None else q for q in qd]
    flags = (0x8000 if qr else 0) | 0x0100 | (0x0080 if qr else 0) | (rcode & 0xf)
    c = counts or (len(qd), len(an), len(ns), len(ar))
    return struct.pack('>HHHHHH', msg_id, flags, *c) + b''.join(qd) + b''.join(an) + \
        b''.join(ns) + b''.join(ar)


def frame(wire=None, **kw):
    """One dnstap data-frame payload (a Dnstap protobuf with a Message)."""
    return dnstap_frame(dnstap_message(wire=dns() if wire is None else wire, **kw))


BEFORE = frame(dns(qd=[question(wname([b'before', b'example']), 1)], rcode=0))
AFTER = frame(dns(qd=[question(wname([b'after', b'example']), 28)], rcode=3))
OK = frame()  # NOERROR, A, example.com.


class Raw(bytes):
    """Octets placed in the stream as they are (not wrapped as a data frame)."""


def capture(items, start=True, stop=True):
    out = control(START) if start else b''
    for it in items:
        out += bytes(it) if isinstance(it, Raw) else data_frame(it)
    return out + (control(STOP, None) if stop else b'')


def padded(payload_without_pad, total):
    """Appends Dnstap.extra (field 3, bytes) so the payload is exactly `total` octets."""
    for pad in range(total - len(payload_without_pad), -1, -1):
        out = payload_without_pad + pb_bytes(3, b'x' * pad)
        if len(out) == total:
            return out
    raise AssertionError('cannot pad to size')


def max_tcp_dns_message():
    """A valid 65535-octet response (the largest a TCP DNS message can be):
    one TXT record whose character-strings fill RDATA."""
    head = dns(an=[], counts=(1, 1, 0, 0))
    fixed = len(head) + 2 + 10  # owner pointer + TYPE CLASS TTL RDLENGTH
    rdlen = 65535 - fixed
    strings = b''
    while rdlen - len(strings) > 256:
        strings += b'\xff' + b't' * 255
    left = rdlen - len(strings)
    strings += bytes([left - 1]) + b'u' * (left - 1)
    msg = head + rr(b'\xc0\x0c', 16, strings)
    assert len(msg) == 65535, len(msg)
    return msg


class HostileFileTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tapir-hostile-')
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- running --
    def write(self, data):
        self.n += 1
        path = os.path.join(self.tmp, f'capture{self.n}.dnstap')
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def ldns_ok(self, path, n_frames):
        """Item 24: a real dnstap reader accepts what our encoder wrote."""
        p = subprocess.run([DNSTAP_LDNS, '-r', path], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, f'dnstap-ldns rejected {path}: {p.stderr!r}')
        self.assertEqual(len(p.stdout.splitlines()), n_frames, p.stdout[-500:])

    def ldns_rejects(self, payload):
        """The frame is invalid protobuf for protobuf-c too (not just for us)."""
        path = self.write(capture([payload]))
        p = subprocess.run([DNSTAP_LDNS, '-r', path], capture_output=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, f'dnstap-ldns accepted {payload[:40]!r}')
        self.assertIn(b'unpack() failed', p.stderr)

    def run_edge(self, data, args=(), ldns=True, n_frames=None, expect_rc=0):
        path = self.write(data)
        if ldns:
            self.ldns_ok(path, n_frames)
        summary, err, rc = harness.run_edge_file(path=path, args=args, expect_rc=expect_rc)
        self.assertNotIn('Sanitizer', err)
        self.assertNotIn('runtime error', err)
        return summary, err

    # -- checking --
    def check(self, s, processed, frames, dropped=None, anomalies=None, rcodes=None,
              qtypes=None, types=None, not_selected=0):
        dropped = dropped or {}
        anomalies = anomalies or {}
        self.assertEqual(s['processed'], processed)
        self.assertEqual(s['frames'], frames)
        self.assertEqual(s['not_selected'], not_selected)
        self.assertEqual({k: v for k, v in s['dropped'].items() if v}, {k: v for k, v in dropped.items() if v})
        self.assertEqual({k: v for k, v in s['anomalies'].items() if v},
                         {k: v for k, v in anomalies.items() if v})
        if rcodes is not None:
            self.assertEqual(s['by_rcode'], rcodes)
        if qtypes is not None:
            self.assertEqual(s['by_qtype'], qtypes)
        if types is not None:
            self.assertEqual(s['by_message_type'], types)
        self.assertEqual(sum(s['by_rcode'].values()), processed)
        harness.assert_accounting(self, s)

    def between(self, bad, dropped=None, anomalies=None, accepted=0, rcodes=None, qtypes=None,
                types=None, args=(), ldns=True, not_selected=0):
        """BEFORE, the bad items, AFTER. `accepted` = bad items that must be
        processed anyway (their DNS is NOERROR/A unless rcodes/qtypes say)."""
        if not isinstance(bad, (list, tuple)):
            bad = [bad]
        n_data = sum(1 for b in bad if not isinstance(b, Raw))
        s, err = self.run_edge(capture([BEFORE, *bad, AFTER]), args=args, ldns=ldns,
                               n_frames=2 + n_data)
        self.check(s, processed=2 + accepted, frames=2 + n_data, dropped=dropped, anomalies=anomalies,
                   rcodes=rcodes or {'NOERROR': 1 + accepted, 'NXDOMAIN': 1},
                   qtypes=qtypes or {'A': 1 + accepted, 'AAAA': 1},
                   types=types if types is not None else {'CLIENT_RESPONSE': 2 + n_data},
                   not_selected=not_selected)
        return s, err

    def each_between(self, cases, reason, **kw):
        """One capture per case, and one capture with all of them."""
        for name, payload in cases:
            with self.subTest(case=name):
                self.between([payload], dropped={reason: 1}, **kw)
        with self.subTest(case='all in one capture'):
            kw2 = dict(kw)
            if 'types' in kw2:
                kw2['types'] = {k: (v - 2) * len(cases) + 2 if k == 'CLIENT_RESPONSE' else v * len(cases)
                                for k, v in kw2['types'].items()}
            self.between([p for _, p in cases], dropped={reason: len(cases)}, **kw2)

    # ================= protobuf / dnstap layer (items 8, 14) =================
    def test_garbage_protobuf(self):
        msg = dnstap_message(wire=dns())
        cases = [
            ('0xff run (varint over 10 octets)', b'\xff' * 16),
            ('field number 0', b'\x00'),
            ('group wire type', b'\x0b\x0c'),
            ('reserved wire type 6', b'\x0e\x01'),
            ('length past the end', b'\x0a\x10abc'),
            ('valid frame cut in half', OK[:len(OK) // 2]),
            ('Message with varint wire type', pb_varint(14, 5) + pb_varint(15, 1)),
            ('Message bytes are garbage', pb_bytes(14, b'\xff\xff\xff') + pb_varint(15, 1)),
            ('DNS length varint 2^63', pb_bytes(14, pb_varint(1, 6) + varint(14 << 3 | 2) + varint(1 << 63)) + pb_varint(15, 1)),
            ('Dnstap.type with bytes wire type', pb_bytes(14, msg) + pb_bytes(15, b'\x01')),
            ('timestamp nsec as varint', pb_bytes(14, pb_varint(1, 6) + pb_varint(13, 5) + pb_varint(12, T0) + pb_bytes(14, dns())) + pb_varint(15, 1)),
            ('Dnstap.type absent (required)', dnstap_frame(msg, dnstap_type=None)),
            ('TLS ClientHello as a payload', harness.tls_client_hello()),
            ('ASCII text', b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
        ]
        for name, payload in cases:
            with self.subTest(oracle=name):
                self.ldns_rejects(payload)
        self.each_between(cases, 'bad_protobuf', types={'CLIENT_RESPONSE': 2}, ldns=False)

    def test_no_message(self):
        self.between(dnstap_frame(None), dropped={'no_message': 1}, types={'CLIENT_RESPONSE': 2})

    def test_no_message_type(self):
        payload = dnstap_frame(dnstap_message(omit=('type',)))
        self.ldns_rejects(payload)  # Message.type is `required` in dnstap.proto
        self.between(payload, dropped={'no_message_type': 1}, types={'CLIENT_RESPONSE': 2}, ldns=False)

    def test_dnstap_type_not_message(self):
        cases = [('type 2 with Message', dnstap_frame(dnstap_message(), dnstap_type=2)),
                 ('type 2 without Message', dnstap_frame(None, dnstap_type=2)),
                 ('type 0', dnstap_frame(dnstap_message(), dnstap_type=0)),
                 ('type 2^32-1', dnstap_frame(dnstap_message(), dnstap_type=0xffffffff))]
        self.each_between(cases, 'not_message', types={'CLIENT_RESPONSE': 2})

    def test_unknown_message_type(self):
        cases = [('15', frame(mtype=15)), ('0', frame(mtype=0)), ('2^31', frame(mtype=1 << 31))]
        for name, payload in cases:
            with self.subTest(case=name):
                # -y cannot print an unknown type; -r (quiet) must still read it
                self.between([payload], dropped={'unknown_message_type': 1},
                             types={'CLIENT_RESPONSE': 2, 'UNKNOWN': 1})
        self.between([p for _, p in cases], dropped={'unknown_message_type': 3},
                     types={'CLIENT_RESPONSE': 2, 'UNKNOWN': 3})

    def test_missing_dns_message(self):
        cases = [
            ('no message bytes at all', frame(omit=('message',))),
            ('response type carrying only query_message',
             dnstap_frame(dnstap_message(omit=('message',), extra_fields=pb_bytes(10, dns(qr=False))))),
        ]
        self.each_between(cases, 'no_dns_message')

    def test_unknown_fields_and_protobuf_merging_are_accepted(self):
        """Unknown fields are skipped; a repeated Message merges; the last scalar wins."""
        msg = dnstap_message(wire=dns())
        unknown = pb_varint(99, 7) + pb_bytes(100, b'future') + varint(101 << 3 | 1) + b'\x00' * 8 + pb_fixed32(102, 1)
        split_a = dnstap_message(omit=('message',))
        # each part carries the required type: protobuf-c checks required
        # fields per occurrence before merging
        split_b = pb_varint(1, 6) + pb_bytes(14, dns())
        cases = [
            dnstap_frame(msg + unknown),                                         # unknown Message fields
            dnstap_frame(msg) + unknown,                                         # unknown Dnstap fields
            pb_bytes(1, b'id') + pb_bytes(14, split_a) + pb_bytes(14, split_b) + pb_varint(15, 1),  # merge
            dnstap_frame(pb_varint(1, 5) + msg),                                 # type: CLIENT_QUERY then CLIENT_RESPONSE
            dnstap_frame(msg, identity=b'') + pb_bytes(3, b'extra'),             # Dnstap.extra
        ]
        self.between(cases, accepted=len(cases))

    # ================= timestamps (items 14, 16, 17) =================
    def test_timestamps(self):
        qtime = pb_varint(8, T0) + pb_fixed32(9, 7)
        with self.subTest('response time absent: query time used, counted'):
            self.between(frame(omit=('time',), extra_fields=qtime), accepted=1,
                         anomalies={'time_from_query': 1})
        with self.subTest('seconds without nanoseconds'):
            self.between(frame(omit=('time',), extra_fields=pb_varint(12, T0)), accepted=1)
        with self.subTest('nsec = 999999999 is fine'):
            self.between(frame(tnsec=999_999_999), accepted=1)
        cases = [('no times at all', frame(omit=('time',))),
                 ('only response nanoseconds', frame(omit=('time',), extra_fields=pb_fixed32(13, 5))),
                 ('only query nanoseconds', frame(omit=('time',), extra_fields=pb_fixed32(9, 5)))]
        self.each_between(cases, 'no_timestamp')
        cases = [('nsec = 1e9', frame(tnsec=1_000_000_000)),
                 ('nsec = 2^32-1', frame(tnsec=0xffffffff)),
                 ('seconds 2^40', frame(tsec=1 << 40)),
                 ('seconds 2^64-1', frame(tsec=(1 << 64) - 1))]
        self.each_between(cases, 'bad_timestamp')

    def test_bad_query_time_fallback_is_not_an_anomaly_of_an_accepted_frame(self):
        """stats.h: anomalies are facts about ACCEPTED frames. A response whose
        fallback query time is out of range is dropped (bad_timestamp) and must
        not also count time_from_query."""
        bad = frame(omit=('time',), extra_fields=pb_varint(8, T0) + pb_fixed32(9, 1_000_000_000))
        self.between(bad, dropped={'bad_timestamp': 1})

    # ================= ports, addresses (items 14-16) =================
    def test_port_out_of_range(self):
        self.between([frame(qport=65536), frame(rport=0xffffffff), frame(qport=70000, rport=1 << 20),
                      frame(qport=65535, rport=0)],
                     accepted=4, anomalies={'port_out_of_range': 3})

    def test_address_family_mismatch(self):
        v6 = bytes.fromhex('20010db8000000000000000000000001')
        cases = [('16-byte query address with INET', frame(family=1, qaddr=v6)),
                 ('4-byte query address with INET6', frame(family=2, qaddr=b'\xc0\x00\x02\x01', raddr=v6)),
                 ('16-byte response address with INET', frame(family=1, raddr=v6)),
                 ('5-byte address, no family', frame(omit=('socket_family',), qaddr=b'\x01\x02\x03\x04\x05')),
                 ('unknown family 3 with addresses', frame(family=3))]
        self.each_between(cases, 'address_family_mismatch')

    def test_addresses_accepted(self):
        v6 = bytes.fromhex('20010db8000000000000000000000001')
        mapped = bytes.fromhex('00000000000000000000ffffc0000201')
        s, _ = self.between([frame(family=1, qaddr=mapped),                  # IPv4-mapped with INET
                             frame(family=2, qaddr=v6, raddr=v6),            # proper IPv6
                             frame(omit=('socket_family',)),                 # no family, 4 octets
                             frame(family=3, omit=('query_address', 'response_address'))],
                            accepted=4, anomalies={'no_query_address': 1})
        self.assertEqual(s['by_socket_family'], {'INET': 3, 'INET6': 1, 'absent': 1, 'other': 1})

    def test_missing_addresses_and_metadata(self):
        bare = ('socket_family', 'socket_protocol', 'query_address', 'response_address',
                'query_port', 'response_port')
        s, _ = self.between([frame(omit=('query_address',)),
                             frame(omit=('response_address',)),
                             frame(omit=bare)],
                            accepted=3, anomalies={'no_query_address': 2})
        self.assertEqual(s['by_socket_family'], {'INET': 4, 'absent': 1})
        self.assertEqual(s['by_socket_protocol'], {'UDP': 4, 'absent': 1})

    # ================= DNS names (items 9-12) =================
    def test_compression_pointer_faults(self):
        q = question()  # example.com. at offset 12, 17 octets -> answers start at 29
        cases = [
            ('self pointer in question', dns(qd=[b'\xc0\x0c\x00\x01\x00\x01'])),
            ('label then pointer back to itself (a.a.a...)', dns(qd=[b'\x01a\xc0\x0c\x00\x01\x00\x01'])),
            ('two-pointer cycle', dns(qd=[b'\xc0\x0e\xc0\x0c\x00\x01\x00\x01'])),
            ('forward pointer to a valid name', dns(qd=[b'\xc0\x12\x00\x01\x00\x01' + wname([b'x', b'example'])])),
            ('pointer into the header', dns(qd=[q], an=[rr(b'\xc0\x02', 1, b'\xc0\x00\x02\x01')])),
            ('pointer past the end', dns(qd=[b'\xff\xff\x00\x01\x00\x01'])),
            ('self pointer in answer owner', dns(qd=[q], an=[rr(b'\xc0\x1d', 1, b'\xc0\x00\x02\x01')])),
            ('CNAME target points at itself', dns(qd=[q], an=[rr(b'\xc0\x0c', 5, b'\xc0\x29')])),
        ]
        self.each_between([(n, frame(w)) for n, w in cases], 'bad_name')

    def test_label_and_name_lengths(self):
        q63 = wname([b'a' * 63, b'example'])
        name255 = wname([b'a' * 63, b'b' * 63, b'c' * 63, b'd' * 61])
        assert len(name255) == 255
        with self.subTest('63-octet label and a 255-octet name are valid'):
            self.between([frame(dns(qd=[question(q63)])), frame(dns(qd=[question(name255)]))], accepted=2)
        name256 = wname([b'a' * 63, b'b' * 63, b'c' * 63, b'd' * 62])
        cases = [
            ('label of 64', frame(dns(qd=[question(b'\x40' + b'a' * 64 + b'\x00')]))),
            ('label type 01 (0x41)', frame(dns(qd=[question(b'\x41' + b'a' * 65 + b'\x00')]))),
            ('label type 10 (0x80)', frame(dns(qd=[question(b'\x80\x01' + b'\x00')]))),
            ('name of 256 octets', frame(dns(qd=[question(name256)]))),
            ('name of 257 octets (four 63-labels)', frame(dns(qd=[question(wname([b'x' * 63] * 4))]))),
            ('answer owner over 255 through a pointer',
             frame(dns(qd=[question(name255)], an=[rr(b'\x01x\xc0\x0c', 1, b'\xc0\x00\x02\x01')]))),
        ]
        self.each_between(cases, 'bad_name')

    def test_truncated_or_malformed_dns(self):
        q = question()
        cases = [
            ('empty DNS message', frame(b'')),
            ('6 octets', frame(b'\x12\x34\x81\x80\x00\x01')),
            ('11 octets', frame(dns()[:11])),
            ('header only, QDCOUNT 1', frame(dns()[:12])),
            ('question name cut inside a label', frame(dns()[:12] + b'\x07exam')),
            ('question name without root', frame(dns()[:12] + b'\x07example\x03com')),
            ('QTYPE/QCLASS missing', frame(dns()[:-3])),
            ('QDCOUNT 2 but one question', frame(dns(qd=[q], counts=(2, 0, 0, 0)))),
            ('ANCOUNT 3 but no answers', frame(dns(qd=[q], counts=(1, 3, 0, 0)))),
            ('RDLENGTH past the end', frame(dns(qd=[q], an=[rr(b'\xc0\x0c', 1, b'\xc0\x00\x02\x01', rdlength=40)]))),
            ('A record with 5-octet RDATA', frame(dns(qd=[q], an=[rr(b'\xc0\x0c', 1, b'\x01\x02\x03\x04\x05')]))),
            ('two OPT records', frame(dns(qd=[q], ar=[opt_rr(), opt_rr()]))),
            ('OPT in the answer section', frame(dns(qd=[q], an=[opt_rr()]))),
            ('EDNS option overruns RDATA', frame(dns(qd=[q], ar=[opt_rr(options=b'\x00\x0a\x00\x08abc')]))),
        ]
        self.each_between(cases, 'bad_dns')

    def test_question_count(self):
        q = question()
        with self.subTest('QDCOUNT 0'):
            self.each_between([('REFUSED without question', frame(dns(qd=[], rcode=5))),
                               ('NOERROR without question, with OPT', frame(dns(qd=[], ar=[opt_rr()])))],
                              'empty_question')
        with self.subTest('QDCOUNT 2'):
            self.each_between([('two questions', frame(dns(qd=[q, question(wname([b'b', b'example']), 28)]))),
                               ('two compressed questions', frame(dns(qd=[q, b'\x01b\xc0\x0c\x00\x01\x00\x01'])))],
                              'multi_question')

    def test_odd_but_valid_names(self):
        """Item 11-12: non-ASCII, escaped characters, 0x20 case: all processed."""
        names = [
            [b'\xe4\xf6\xfc', b'example'],                 # Latin-1
            ['bücher'.encode(), b'example'],               # raw UTF-8
            [b'a.b', b'example'],                          # dot inside a label
            [b'back\\slash', b'quo"te', b'example'],
            [b'sp ace', b'tab\t', b'nl\n', b'example'],
            [b'\x00nul', b'\x7fdel', b'example'],
            [b'\xff' * 63, b'example'],
            [b'ExAmPlE', b'CoM'],                          # 0x20 randomisation
            [b'SWCDn', b'APPLe', b'coM'],
            [b'*', b'example'],
            [],                                            # root
        ]
        self.between([frame(dns(qd=[question(wname(n))])) for n in names], accepted=len(names))

    def test_edns_extended_rcode(self):
        q = question()
        cases = [frame(dns(qd=[q], ar=[opt_rr(ext_rcode=1)], rcode=0)),      # 16 BADVERS
                 frame(dns(qd=[q], ar=[opt_rr(ext_rcode=1, version=1)], rcode=0)),
                 frame(dns(qd=[q], ar=[opt_rr(ext_rcode=1)], rcode=7)),      # 23 BADCOOKIE
                 frame(dns(qd=[q], ar=[opt_rr(ext_rcode=0)], rcode=2)),      # SERVFAIL with EDNS
                 frame(dns(qd=[q], ar=[opt_rr(ext_rcode=255)], rcode=15))]   # 4095, unnamed
        self.between(cases, accepted=5,
                     rcodes={'NOERROR': 1, 'NXDOMAIN': 1, 'BADVERS': 2, 'BADCOOKIE': 1,
                             'SERVFAIL': 1, 'RCODE4095': 1},
                     qtypes={'A': 6, 'AAAA': 1})

    def test_maximal_tcp_message_and_answers_accepted(self):
        """Item 6: a 65535-octet DNS message in a 70000-octet frame is valid."""
        big = max_tcp_dns_message()
        payload = padded(frame(big), 70000)
        self.assertEqual(len(payload), 70000)
        self.between([payload, frame(dns(qd=[question()],
                                         an=[rr(b'\xc0\x0c', 1, bytes([192, 0, 2, i])) for i in range(200)]))],
                     accepted=2)
        with self.subTest('at the smallest --max-frame-size a maximal TCP message still fits'):
            self.between([frame(big)], accepted=1, args=['--max-frame-size', '66560'])

    def test_max_frame_size_below_a_tcp_message_is_refused(self):
        _, err, rc = harness.run_edge_file(data=capture([OK]), args=['--max-frame-size', '65536'],
                                           expect_rc=None)
        self.assertEqual(rc, 2, err)
        self.assertIn('max-frame-size', err)

    # ================= Frame Streams layer (items 6-8) =================
    def test_oversize_frame(self):
        limit = 1 << 20
        with self.subTest('1 MiB + 1 dropped, 1 MiB accepted (default limit)'):
            over = padded(frame(), limit + 1)
            exact = padded(frame(), limit)
            self.between([Raw(data_frame(over)), exact], dropped={'frame_too_large': 1}, accepted=1,
                         ldns=False)
        with self.subTest('configured limit 70000'):
            self.between([Raw(data_frame(padded(frame(), 70001))), padded(frame(), 70000)],
                         dropped={'frame_too_large': 1}, accepted=1, args=['--max-frame-size', '70000'],
                         ldns=False)
        with self.subTest('declared 4 GiB - 1 with the bytes present up to the next frame'):
            # a lying length that runs past the end: the stream ends inside it
            s, err = self.run_edge(capture([BEFORE, Raw(b'\xff\xff\xff\xff' + b'\x00' * 100)], stop=False),
                                   ldns=False)
            self.check(s, processed=1, frames=1, dropped={'truncated_frame': 1},
                       types={'CLIENT_RESPONSE': 1})

    def test_malformed_control_frames_mid_file(self):
        def ctrl_raw(payload):
            return Raw(struct.pack('>II', 0, len(payload)) + payload)
        cases = [
            ('unknown control type 9', ctrl_raw(struct.pack('>I', 9))),
            ('control type 0', ctrl_raw(struct.pack('>I', 0))),
            ('control length 2', ctrl_raw(b'\x00\x02')),
            ('control length 600', ctrl_raw(struct.pack('>I', 2) + b'\x00' * 596)),
            ('READY inside a file', Raw(control(READY))),
            ('ACCEPT inside a file', Raw(control(ACCEPT))),
            ('FINISH inside a file', Raw(control(FINISH, None))),
            ('START with an unknown field type 2', ctrl_raw(struct.pack('>III', 2, 2, 3) + b'abc')),
            ('STOP with a content type', Raw(control(STOP))),
            ('field length past the control frame', ctrl_raw(struct.pack('>III', 2, 1, 99) + b'x')),
        ]
        for name, raw in cases:
            with self.subTest(case=name):
                self.between([raw], dropped={'bad_frame': 1}, ldns=False)
        self.between([r for _, r in cases], dropped={'bad_frame': len(cases)}, ldns=False)

    def test_data_after_stop_and_concatenated_files(self):
        with self.subTest('two captures concatenated (cat a b)'):
            data = capture([BEFORE, OK]) + capture([OK, AFTER])
            s, _ = self.run_edge(data, ldns=False)
            self.check(s, processed=4, frames=4, rcodes={'NOERROR': 3, 'NXDOMAIN': 1})
        with self.subTest('data frame after STOP, then a new START'):
            data = capture([BEFORE]) + data_frame(OK) + capture([AFTER])
            s, _ = self.run_edge(data, ldns=False)
            self.check(s, processed=2, frames=2, dropped={'bad_frame': 1})
        with self.subTest('second STOP'):
            data = capture([BEFORE, AFTER]) + control(STOP, None)
            s, _ = self.run_edge(data, ldns=False)
            self.check(s, processed=2, frames=2, dropped={'bad_frame': 1})

    def test_file_cut_inside_a_frame(self):
        whole = capture([BEFORE, OK, AFTER], stop=False)
        for name, cut in [('inside the last payload', len(whole) - 5),
                          ('inside the length prefix', len(whole) - len(AFTER) - 2),
                          ('inside a control frame header', None)]:
            with self.subTest(case=name):
                if cut is None:
                    data = capture([BEFORE, OK], stop=False) + control(STOP, None)[:6]
                else:
                    data = whole[:cut]
                s, err = self.run_edge(data, ldns=False)
                self.check(s, processed=2, frames=2, dropped={'truncated_frame': 1},
                           rcodes={'NOERROR': 2}, types={'CLIENT_RESPONSE': 2})
                lines = [ln for ln in err.splitlines() if 'offset' in ln]
                self.assertEqual(len(lines), 1, err)
        with self.subTest('no STOP at all: a warning, nothing dropped'):
            s, err = self.run_edge(capture([BEFORE, AFTER], stop=False), ldns=True, n_frames=2)
            self.check(s, processed=2, frames=2)
            self.assertIn('STOP', err)
        with self.subTest('START and nothing else'):
            s, err = self.run_edge(control(START), ldns=True, n_frames=0)
            self.check(s, processed=0, frames=0)

    def test_not_a_dnstap_stream(self):
        cases = [
            ('data frame before START', capture([OK], start=False)),
            ('text file', b'this is not a capture\n' * 10),
            ('empty file', b''),
            ('TLS ClientHello', harness.tls_client_hello()),
            ('START of another content type', control(START, b'protobuf:other.Type') + data_frame(OK)),
            ('junk before START', b'\x01\x02\x03' + capture([OK])),
            ('READY first', control(READY) + capture([OK])),
            ('three octets', b'\x00\x00\x00'),
            ('text shorter than a frame header', b'hi\n'),
            ('file cut inside START', control(START)[:12]),
            ('incomplete data frame, no START', struct.pack('>I', 1024) + OK),
        ]
        for name, data in cases:
            with self.subTest(case=name):
                path = self.write(data)
                s, err, rc = harness.run_edge_file(path=path, expect_rc=None)
                self.assertNotEqual(rc, 0, err)
                self.assertNotIn('Sanitizer', err)
                named = [ln for ln in err.splitlines() if path in ln]
                self.assertEqual(len(named), 1, err)
                self.assertIn('offset', named[0])
                if name == 'TLS ClientHello':
                    self.assertIn('TLS', named[0])
                if s is not None:
                    self.assertEqual(s['processed'], 0)

    def test_unreadable_input(self):
        for name, path in [('missing file', os.path.join(self.tmp, 'no-such.dnstap')),
                           ('a directory', self.tmp)]:
            with self.subTest(case=name):
                _, err, rc = harness.run_edge_file(path=path, expect_rc=None)
                self.assertNotEqual(rc, 0)
                self.assertNotIn('Sanitizer', err)
                self.assertEqual(len([ln for ln in err.splitlines() if path in ln]), 1, err)

    # ================= message type selection (SPEC §3) =================
    def test_query_only_stream(self):
        queries = [frame(mtype='CLIENT_QUERY', wire=dns(qr=False)) for _ in range(5)]
        s, err = self.run_edge(capture(queries), n_frames=5)
        self.check(s, processed=0, frames=5, not_selected=5, types={'CLIENT_QUERY': 5})
        self.assertIn('only query messages', err)
        self.assertEqual(len(s['warnings']), 1, s['warnings'])
        self.assertIn('only query messages', s['warnings'][0])
        with self.subTest('no warning when responses are present'):
            s, err = self.run_edge(capture(queries + [OK]), n_frames=6)
            self.check(s, processed=1, frames=6, not_selected=5)
            self.assertNotIn('only query messages', err)
            self.assertEqual(s['warnings'], [])

    def test_message_types_client_query(self):
        mx_query = dns(qd=[question(wname([b'q', b'example']), 15)], qr=False)
        items = [frame(mtype='CLIENT_QUERY', wire=mx_query) for _ in range(3)]
        items += [OK, AFTER]  # responses: not selected now
        items += [dnstap_frame(dnstap_message(mtype='CLIENT_QUERY', omit=('message',),
                                              extra_fields=pb_bytes(14, dns())))]  # query without query_message
        s, err = self.run_edge(capture(items), args=['--message-types', 'CLIENT_QUERY'], n_frames=6)
        self.check(s, processed=3, frames=6, not_selected=2, dropped={'no_dns_message': 1},
                   rcodes={'NOERROR': 3}, qtypes={'MX': 3},
                   types={'CLIENT_QUERY': 4, 'CLIENT_RESPONSE': 2})
        self.assertEqual(s['selected_message_types'], ['CLIENT_QUERY'])

    def test_selected_query_stream_has_no_query_only_warning(self):
        """With --message-types CLIENT_QUERY the user asked for queries, and
        they were processed: "configure the resolver to log responses, or
        select query types" is then wrong advice."""
        queries = [frame(mtype='CLIENT_QUERY', wire=dns(qr=False)) for _ in range(2)]
        s, err = self.run_edge(capture(queries), args=['--message-types', 'CLIENT_QUERY'], n_frames=2)
        self.check(s, processed=2, frames=2)
        self.assertNotIn('only query messages', err)
        self.assertEqual(s['warnings'], [])

    def test_default_types(self):
        items = [frame(mtype='AUTH_RESPONSE'), frame(mtype='RESOLVER_RESPONSE'), frame(mtype='TOOL_QUERY',
                                                                                   wire=dns(qr=False))]
        s, _ = self.between(items, accepted=1,
                            types={'CLIENT_RESPONSE': 2, 'AUTH_RESPONSE': 1, 'RESOLVER_RESPONSE': 1,
                                   'TOOL_QUERY': 1}, not_selected=2)

    def test_many_frames_across_read_blocks(self):
        """Frames of varied sizes (up to 200 KB) straddle the reader's block
        boundaries; every one is counted once."""
        rnd = random.Random(7)
        items, rc = [], Counter()
        for i in range(600):
            r = rnd.choice([0, 2, 3, 5])
            size = rnd.choice([None, None, 1000, 30000, 200000])
            p = frame(dns(rcode=r))
            items.append(p if size is None else padded(p, size))
            rc[r] += 1
        names = {0: 'NOERROR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 5: 'REFUSED'}
        s, _ = self.run_edge(capture(items), ldns=True, n_frames=600)
        self.assertGreater(sum(len(i) for i in items), 3 * 4 * 1024 * 1024)
        self.check(s, processed=600, frames=600, rcodes={names[k]: v for k, v in rc.items()})

    # ================= everything at once, file and stdin =================
    def gauntlet(self):
        """Valid frames interleaved with one of each frame-level fault."""
        v6 = bytes.fromhex('20010db8000000000000000000000001')
        bad = {
            'bad_protobuf': [b'\xff' * 12, OK[:20]],
            'not_message': [dnstap_frame(dnstap_message(), dnstap_type=3)],
            'no_message': [dnstap_frame(None)],
            'no_message_type': [dnstap_frame(dnstap_message(omit=('type',)))],
            'unknown_message_type': [frame(mtype=77)],
            'no_dns_message': [frame(omit=('message',))],
            'no_timestamp': [frame(omit=('time',))],
            'bad_timestamp': [frame(tnsec=1_000_000_000)],
            'address_family_mismatch': [frame(family=1, qaddr=v6)],
            'bad_dns': [frame(b'\x00' * 5)],
            'bad_name': [frame(dns(qd=[b'\xc0\x0c\x00\x01\x00\x01']))],
            'empty_question': [frame(dns(qd=[]))],
            'multi_question': [frame(dns(qd=[question(), question()]))],
        }
        stream = {'frame_too_large': [Raw(data_frame(b'\x00' * ((1 << 20) + 10)))],
                  'bad_frame': [Raw(control(READY))]}
        items, i = [], 0
        for group in list(bad.values()) + list(stream.values()):
            for b in group:
                items += [frame(qport=1000 + i), b]
                i += 1
        items.append(AFTER)
        expect = {k: len(v) for k, v in {**bad, **stream}.items()}
        n_data = sum(1 for it in items if not isinstance(it, Raw))
        return capture(items), expect, i + 1, n_data

    def check_gauntlet(self, s, expect, valid, n_data):
        self.check(s, processed=valid, frames=n_data, dropped=expect,
                   rcodes={'NOERROR': valid - 1, 'NXDOMAIN': 1},
                   types={'CLIENT_RESPONSE': valid + 8, 'UNKNOWN': 1})

    def test_gauntlet_file(self):
        data, expect, valid, n_data = self.gauntlet()
        s, _ = self.run_edge(data, ldns=False)
        self.check_gauntlet(s, expect, valid, n_data)

    def test_stdin(self):
        data, expect, valid, n_data = self.gauntlet()
        out = os.path.join(self.tmp, 'stdin-summary.json')
        p = subprocess.Popen([harness.TAPIR, 'edge', '--input-file', '-', '--summary-json', out],
                             stdin=subprocess.PIPE, stderr=subprocess.PIPE)

        def feed():
            # odd-sized chunks, slowly at first: frames straddle reads
            pos, n = 0, 0
            while pos < len(data):
                size = 7 if n < 40 else 65521
                p.stdin.write(data[pos:pos + size])
                p.stdin.flush()
                pos += size
                n += 1
                if n < 40:
                    time.sleep(0.002)
            p.stdin.close()
        t = threading.Thread(target=feed)
        t.start()
        err = p.stderr.read().decode(errors='replace')
        t.join()
        self.assertEqual(p.wait(timeout=60), 0, err)
        self.assertNotIn('Sanitizer', err)
        with open(out) as f:
            s = json.load(f)
        self.check_gauntlet(s, expect, valid, n_data)
        with self.subTest('empty stdin'):
            p = subprocess.run([harness.TAPIR, 'edge', '--input-file', '-', '--summary-json', out],
                               input=b'', capture_output=True, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(b'offset', p.stderr)


if __name__ == '__main__':
    harness.main()
