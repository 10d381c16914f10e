#!/usr/bin/python3
"""Writes small seed inputs for the fuzz targets (fuzz/corpus/*), encoded from
the published formats by this script, not taken from any capture."""
import os
import struct
import sys

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)

def field_varint(n, v):
    return varint(n << 3) + varint(v)

def field_bytes(n, b):
    return varint(n << 3 | 2) + varint(len(b)) + b

def field_fixed32(n, v):
    return varint(n << 3 | 5) + struct.pack('<I', v)

def dns_response(name=b'\x07example\x03com\x00', qtype=1, rcode=0, opt=True):
    hdr = struct.pack('>HHHHHH', 0x1234, 0x8180 | rcode, 1, 1, 0, 1 if opt else 0)
    q = name + struct.pack('>HH', qtype, 1)
    ans = b'\xc0\x0c' + struct.pack('>HHIH', 1, 1, 300, 4) + bytes([192, 0, 2, 1])
    extra = b'\x00' + struct.pack('>HHIH', 41, 1232, 0, 0) if opt else b''
    return hdr + q + ans + extra

def message(mtype=6, family=1, addr=bytes([127, 0, 0, 1]), wire=None):
    m = field_varint(1, mtype) + field_varint(2, family) + field_varint(3, 1)
    m += field_bytes(4, addr) + field_bytes(5, bytes([127, 0, 0, 2]))
    m += field_varint(6, 40000) + field_varint(7, 53)
    m += field_varint(12, 1764780000) + field_fixed32(13, 5000)
    m += field_bytes(14 if mtype % 2 == 0 else 10, wire or dns_response())
    return m

def dnstap(msg):
    return field_bytes(1, b'seed') + field_bytes(14, msg) + field_varint(15, 1)

def control(ctype, ct=b'protobuf:dnstap.Dnstap'):
    payload = struct.pack('>I', ctype)
    if ct is not None:
        payload += struct.pack('>II', 1, len(ct)) + ct
    return struct.pack('>II', 0, len(payload)) + payload

def frame(b):
    return struct.pack('>I', len(b)) + b

root = sys.argv[1] if len(sys.argv) > 1 else 'fuzz/corpus'
seeds = {
    'dnstap': {
        'client_response': dnstap(message()),
        'client_query_v6': dnstap(message(5, 2, bytes(15) + b'\x01')),
        'no_message': field_varint(15, 1),
        'nxdomain': dnstap(message(wire=dns_response(rcode=3, opt=False))),
    },
    'fstrm': {
        'file': control(2) + frame(dnstap(message())) + frame(dnstap(message(5))) + control(3, None),
        'handshake': control(4) + control(2) + frame(b'x') + control(3, None),
        'oversize': control(2) + struct.pack('>I', 100) + b'y' * 100 + control(3, None),
        'bad_control': control(2) + struct.pack('>III', 0, 4, 9) + frame(b'z'),
    },
    'dns': {
        'response_opt': dns_response(),
        'nxdomain': dns_response(rcode=3, opt=False),
        'root_ns': dns_response(name=b'\x00', qtype=2),
        'loop': struct.pack('>HHHHHH', 1, 0x8180, 1, 0, 0, 0) + b'\xc0\x0c\x00\x01\x00\x01',
        'header_only': struct.pack('>HHHHHH', 1, 0x8185, 0, 0, 0, 0),
    },
}
for target, files in seeds.items():
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, 'seed-' + name), 'wb') as f:
            f.write(data)
