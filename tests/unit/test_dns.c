/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_dns.c - unit tests for lib/dns (wire.c, name.c).
 *
 * The parser is the first thing that touches bytes a client chose, so most
 * cases here are hostile: pointer loops, bad label types, names one octet
 * too long, truncated sections, misplaced OPT records (peers.md §3 items
 * 8-11). Tables map input bytes to the expected code and output; sweeps
 * feed every truncated prefix, every suffix and every single-bit flip of
 * valid messages, each copied into an exact-size heap buffer so that the
 * sanitizers see any read past the end. Nothing here may depend on the
 * process locale.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns.h"
#include "util/ascii.h"

/* ---- byte-building macros for the tables ------------------------------ */

#define U16(x) (uint8_t)(((x) >> 8) & 0xff), (uint8_t)((x) & 0xff)
#define HDR(flags, qd, an, ns, ar) \
	0xab, 0xcd, U16(flags), U16(qd), U16(an), U16(ns), U16(ar)
#define TTL 0x00, 0x00, 0x0e, 0x10
#define A_IN 0x00, 0x01, 0x00, 0x01
/* www.example.com. (17 octets); at offset 12 "example" starts at 16. */
#define N_WWW_EXAMPLE_COM                                                  \
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', \
		'm', 0
#define PTR(off) (uint8_t)(0xc0 | (((off) >> 8) & 0x3f)), (uint8_t)((off) & 0xff)
/* OPT RR header: root owner, TYPE 41, CLASS = UDP size, TTL, RDLENGTH. */
#define OPT(udp, ext, ver, z, rdlen) \
	0x00, U16(41), U16(udp), (ext), (ver), U16(z), U16(rdlen)
/* RFC 7871 option: family 1, /24, scope 0, 192.0.2 (11 octets). */
#define ECS_OPTION U16(8), U16(7), U16(1), 24, 0, 192, 0, 2

#define WIRE(...)                              \
	.wire = (const uint8_t[]){ __VA_ARGS__ }, \
	.len = sizeof((const uint8_t[]){ __VA_ARGS__ })

struct parse_case {
	const char *what;
	const uint8_t *wire;
	size_t len;
	int code;
	bool no_sweep; /* has trailing octets: a prefix may still parse */
	/* expected output when code == 0 */
	const char *qname; /* presentation form; NULL: no question */
	uint16_t qdcount, qtype, qclass, rcode;
	uint8_t opcode;
	bool has_opt, has_ecs, edns_do;
	uint8_t edns_version;
	uint16_t udp;
};

/* clang-format off */
static const struct parse_case parse_cases[] = {
	{ .what = "query www.example.com A",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), N_WWW_EXAMPLE_COM, A_IN),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1 },
	{ .what = "query for the root, NS",
	  WIRE(HDR(0x0000, 1, 0, 0, 0), 0, U16(2), U16(1)),
	  .code = 0, .qname = ".", .qdcount = 1, .qtype = 2, .qclass = 1 },
	{ .what = "0x20 case is kept in the copied question",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), 3, 'W', 'w', 'W', 3, 'C', 'o', 'M', 0,
	       U16(65), U16(1)),
	  .code = 0, .qname = "WwW.CoM.", .qdcount = 1, .qtype = 65,
	  .qclass = 1 },
	{ .what = "OPT as a qtype is just a question",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), N_WWW_EXAMPLE_COM, U16(41), U16(1)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 41,
	  .qclass = 1 },
	{ .what = "response, answer owner compressed to the question",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN,
	       /* 33 */ PTR(12), A_IN, TTL, U16(4), 192, 0, 2, 1),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1 },
	{ .what = "CNAME target compressed, A owner points into RDATA",
	  WIRE(HDR(0x8180, 1, 2, 0, 0), N_WWW_EXAMPLE_COM, A_IN,
	       /* 33 */ PTR(12), U16(5), U16(1), TTL, U16(6),
	       /* 45 */ 3, 'c', 'd', 'n', PTR(16),
	       /* 51 */ PTR(45), A_IN, TTL, U16(4), 198, 51, 100, 7),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1 },
	{ .what = "NXDOMAIN with SOA in authority",
	  WIRE(HDR(0x8183, 1, 0, 1, 0), N_WWW_EXAMPLE_COM, A_IN,
	       /* 33 */ PTR(16), U16(6), U16(1), TTL, U16(32),
	       2, 'n', 's', PTR(16), 4, 'h', 'o', 's', 't', PTR(16),
	       0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .rcode = 3 },
	{ .what = "empty RDATA (dynamic update deletion) is not checked",
	  WIRE(HDR(0x2800, 1, 0, 1, 0), 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	       0, U16(6), U16(1), PTR(12), U16(5), U16(255), 0, 0, 0, 0,
	       U16(0)),
	  .code = 0, .qname = "example.", .qdcount = 1, .qtype = 6,
	  .qclass = 1, .opcode = 5 },
	{ .what = "unknown type: RDATA is opaque even if it looks like a loop",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, U16(65280), U16(1),
	       PTR(12), U16(65280), U16(1), TTL, U16(4), 0xc0, 0x21, 0xc0,
	       0xff),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1,
	  .qtype = 65280, .qclass = 1 },
	{ .what = "QDCOUNT 0: REFUSED bare header",
	  WIRE(HDR(0x8105, 0, 0, 0, 0)),
	  .code = 0, .qname = NULL, .qdcount = 0, .rcode = 5 },
	{ .what = "QDCOUNT 2: both checked, the first one kept",
	  WIRE(HDR(0x0100, 2, 0, 0, 0), N_WWW_EXAMPLE_COM, A_IN,
	       /* 33 */ 3, 'f', 't', 'p', PTR(16), U16(28), U16(1)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 2, .qtype = 1,
	  .qclass = 1 },
	{ .what = "QDCOUNT 2 with only one question present",
	  WIRE(HDR(0x0100, 2, 0, 0, 0), N_WWW_EXAMPLE_COM, A_IN),
	  .code = TP_ETRUNC },
	{ .what = "opcode NOTIFY and header bits",
	  WIRE(HDR(0x27b0, 1, 0, 0, 0), N_WWW_EXAMPLE_COM, U16(6), U16(1)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 6,
	  .qclass = 1, .opcode = 4 },
	{ .what = "opcode 15",
	  WIRE(HDR(0x7800, 1, 0, 0, 0), N_WWW_EXAMPLE_COM, A_IN),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .opcode = 15 },
	{ .what = "trailing garbage after the question is tolerated",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), N_WWW_EXAMPLE_COM, A_IN, 0xde, 0xad,
	       0xbe, 0xef, 0xc0),
	  .code = 0, .no_sweep = true, .qname = "www.example.com.",
	  .qdcount = 1, .qtype = 1, .qclass = 1 },

	/* ---- EDNS (RFC 6891) ---- */
	{ .what = "OPT: udp size, DO bit, version 0",
	  WIRE(HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 0, 0, 0x8000, 0)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .has_opt = true, .edns_do = true, .udp = 1232 },
	{ .what = "OPT: version 1 query",
	  WIRE(HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(4096, 0, 1, 0, 0)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .has_opt = true, .edns_version = 1, .udp = 4096 },
	{ .what = "OPT: extended rcode 1, header 0 = BADVERS (16)",
	  WIRE(HDR(0x8180, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 1, 0, 0, 0)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .rcode = 16, .has_opt = true, .udp = 1232 },
	{ .what = "OPT: extended rcode 1, header 7 = BADCOOKIE (23)",
	  WIRE(HDR(0x8187, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 1, 0, 0, 0)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .rcode = 23, .has_opt = true, .udp = 1232 },
	{ .what = "OPT: largest rcode 4095",
	  WIRE(HDR(0x818f, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(512, 0xff, 0, 0, 0)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .rcode = 4095, .has_opt = true, .udp = 512 },
	{ .what = "OPT: Client Subnet detected",
	  WIRE(HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 0, 0, 0, 11), ECS_OPTION),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .has_opt = true, .has_ecs = true, .udp = 1232 },
	{ .what = "OPT: COOKIE then ECS then empty padding",
	  WIRE(HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 0, 0, 0, 12 + 11 + 4), U16(10), U16(8), 1, 2, 3, 4,
	       5, 6, 7, 8, ECS_OPTION, U16(12), U16(0)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .has_opt = true, .has_ecs = true, .udp = 1232 },
	{ .what = "OPT: COOKIE only, no ECS",
	  WIRE(HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 0, 0, 0, 12), U16(10), U16(8), 1, 2, 3, 4, 5, 6, 7,
	       8),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .has_opt = true, .udp = 1232 },
	{ .what = "OPT after another additional record",
	  WIRE(HDR(0x8180, 1, 0, 0, 2), N_WWW_EXAMPLE_COM, A_IN,
	       PTR(12), A_IN, TTL, U16(4), 192, 0, 2, 1,
	       OPT(1232, 0, 0, 0, 0)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 1,
	  .qclass = 1, .has_opt = true, .udp = 1232 },
	{ .what = "OPT: option length past RDLENGTH",
	  WIRE(HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 0, 0, 0, 6), U16(8), U16(7), U16(1)),
	  .code = TP_EMALF },
	{ .what = "OPT: option header cut by RDLENGTH",
	  WIRE(HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 0, 0, 0, 2), U16(10)),
	  .code = TP_EMALF },
	{ .what = "OPT in the answer section",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 0, 0, 0, 0)),
	  .code = TP_EMALF },
	{ .what = "OPT in the authority section",
	  WIRE(HDR(0x8180, 1, 0, 1, 0), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 0, 0, 0, 0)),
	  .code = TP_EMALF },
	{ .what = "two OPT records",
	  WIRE(HDR(0x0100, 1, 0, 0, 2), N_WWW_EXAMPLE_COM, A_IN,
	       OPT(1232, 0, 0, 0, 0), OPT(1232, 0, 0, 0, 0)),
	  .code = TP_EMALF },
	{ .what = "OPT owned by a name other than the root",
	  WIRE(HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	       PTR(12), U16(41), U16(1232), 0, 0, 0, 0, U16(0)),
	  .code = TP_EMALF },

	/* ---- compression pointers (RFC 1035 §4.1.4) ---- */
	{ .what = "pointer to itself",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), PTR(12), A_IN),
	  .code = TP_ELOOP },
	{ .what = "forward pointer",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), PTR(14), 0, A_IN),
	  .code = TP_ELOOP },
	{ .what = "pointer into the current label sequence",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), 3, 'a', 'b', 'c', PTR(13), A_IN),
	  .code = TP_ELOOP },
	{ .what = "pointer into the header",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), PTR(5), A_IN),
	  .code = TP_ELOOP },
	{ .what = "pointer to offset 0",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), PTR(0), A_IN),
	  .code = TP_ELOOP },
	{ .what = "pointer past the end",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), PTR(0x3fff), A_IN),
	  .code = TP_ELOOP },
	{ .what = "two-pointer cycle (23 -> 25 hidden in opaque RDATA)",
	  WIRE(HDR(0x8180, 0, 2, 0, 0),
	       /* 12 */ 0, U16(10), U16(1), TTL, U16(2),
	       /* 23 */ PTR(25),
	       /* 25 */ PTR(23), A_IN, TTL, U16(4), 192, 0, 2, 1),
	  .code = TP_ELOOP },
	{ .what = "pointer loop inside a CNAME target",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN,
	       /* 33 */ PTR(12), U16(5), U16(1), TTL, U16(4),
	       /* 45 */ 1, 'x', PTR(45)),
	  .code = TP_ELOOP },
	{ .what = "pointer cut in half at the end",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), 1, 'a', 0xc0),
	  .code = TP_ETRUNC },

	/* ---- labels (RFC 1035 §3.1, RFC 6891 §5) ---- */
	{ .what = "label length 64 (type 01)",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), 0x40, 'x', 0, A_IN),
	  .code = TP_ELABEL },
	{ .what = "label type 01 with length bits 0x3f",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), 0x7f, 'x', 0, A_IN),
	  .code = TP_ELABEL },
	{ .what = "label type 10 (reserved)",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), 0x80, 'x', 0, A_IN),
	  .code = TP_ELABEL },
	{ .what = "label type 10 in an answer owner",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN, 0xbf, 0x00,
	       A_IN, TTL, U16(4), 192, 0, 2, 1),
	  .code = TP_ELABEL },

	/* ---- truncation and RDATA layout ---- */
	{ .what = "empty message", .wire = NULL, .len = 0, .code = TP_ETRUNC },
	{ .what = "3-octet message", WIRE(0xab, 0xcd, 0x01),
	  .code = TP_ETRUNC },
	{ .what = "11-octet header", WIRE(0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0,
					  0, 0),
	  .code = TP_ETRUNC },
	{ .what = "name without its root label",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), 3, 'w', 'w', 'w'),
	  .code = TP_ETRUNC },
	{ .what = "label runs past the end",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), 7, 'e', 'x'),
	  .code = TP_ETRUNC },
	{ .what = "question without QTYPE/QCLASS",
	  WIRE(HDR(0x0100, 1, 0, 0, 0), 0, U16(1)),
	  .code = TP_ETRUNC },
	{ .what = "ANCOUNT 1 but no answer",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN),
	  .code = TP_ETRUNC },
	{ .what = "RDLENGTH past the end",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN, PTR(12),
	       A_IN, TTL, U16(5), 192, 0, 2, 1),
	  .code = TP_ETRUNC },
	{ .what = "A record with 3 octets of RDATA",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN, PTR(12),
	       A_IN, TTL, U16(3), 192, 0, 2),
	  .code = TP_EMALF },
	{ .what = "CNAME target overruns RDLENGTH",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN,
	       PTR(12), U16(5), U16(1), TTL, U16(5), 3, 'c', 'd', 'n', 0xc0,
	       /* next record would start here */ 0x10, 0, 0, 0),
	  .code = TP_EMALF, .no_sweep = true },
	{ .what = "CNAME with an octet after the target",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN,
	       PTR(12), U16(5), U16(1), TTL, U16(3), PTR(12), 0),
	  .code = TP_EMALF },
	{ .what = "SOA with 19 octets after the names",
	  WIRE(HDR(0x8183, 1, 0, 1, 0), N_WWW_EXAMPLE_COM, A_IN,
	       PTR(16), U16(6), U16(1), TTL, U16(23), PTR(16), PTR(16),
	       0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0),
	  .code = TP_EMALF },
	{ .what = "MX with only the preference",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN,
	       PTR(12), U16(15), U16(1), TTL, U16(2), 0, 10),
	  .code = TP_EMALF },
	{ .what = "MX with preference and compressed exchange",
	  WIRE(HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, U16(15), U16(1),
	       PTR(16), U16(15), U16(1), TTL, U16(7), 0, 10, 2, 'm', 'x',
	       PTR(16)),
	  .code = 0, .qname = "www.example.com.", .qdcount = 1, .qtype = 15,
	  .qclass = 1 },
};
/* clang-format on */

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Parse from an exact-size heap copy so that ASan flags any over-read. */
static int parse_copy(const uint8_t *wire, size_t len, struct tp_dns_msg *m)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, wire, len);
	int rc = tp_dns_parse(len > 0 ? copy : NULL, len, m);
	free(copy);
	return rc;
}

static void check_case(const struct parse_case *c)
{
	struct tp_dns_msg m;
	char text[TP_DNS_PRESENT_MAX];

	int rc = parse_copy(c->wire, c->len, &m);
	if (rc != c->code)
		fail_msg("%s: got %d (%s), want %d (%s)", c->what, rc,
			 tp_strerror(rc), c->code, tp_strerror(c->code));
	if (rc != 0)
		return;
	if (m.qdcount != c->qdcount || m.qtype != c->qtype ||
	    m.qclass != c->qclass || m.rcode != c->rcode ||
	    m.opcode != c->opcode || m.has_opt != c->has_opt ||
	    m.has_ecs != c->has_ecs || m.edns_do != c->edns_do ||
	    m.edns_version != c->edns_version || m.edns_udp_size != c->udp)
		fail_msg("%s: fields differ (qd %u qtype %u qclass %u rcode %u "
			 "opcode %u opt %d ecs %d do %d ver %u udp %u)",
			 c->what, m.qdcount, m.qtype, m.qclass, m.rcode,
			 m.opcode, m.has_opt, m.has_ecs, m.edns_do,
			 m.edns_version, m.edns_udp_size);
	assert_int_equal(m.id, 0xabcd);
	assert_int_equal(m.flags, (c->wire[2] << 8) | c->wire[3]);
	if (c->qname == NULL) {
		assert_int_equal(m.qname.len, 0);
		return;
	}
	int n = tp_dns_name_present(&m.qname, text, sizeof(text));
	if (n < 0 || strcmp(text, c->qname) != 0)
		fail_msg("%s: qname %d '%s', want '%s'", c->what, n,
			 n < 0 ? "" : text, c->qname);
	assert_int_equal((size_t)n, strlen(c->qname));
}

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++)
		check_case(&parse_cases[i]);
}

/* A response with every section, compression in owners and RDATA, and an
 * OPT with ECS, for the sweeps below. Offsets in the comments. */
static const uint8_t full_response[] = {
	HDR(0x8180, 1, 2, 1, 2),
	/* 12 */ N_WWW_EXAMPLE_COM, A_IN,
	/* 33 */ PTR(12), U16(5), U16(1), TTL, U16(6),
	/* 45 */ 3, 'c', 'd', 'n', PTR(16),
	/* 51 */ PTR(45), A_IN, TTL, U16(4), 198, 51, 100, 7,
	/* 67 */ PTR(16), U16(2), U16(1), TTL, U16(5),
	/* 79 */ 2, 'n', 's', PTR(16),
	/* 84 */ PTR(79), U16(28), U16(1), TTL, U16(16),
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x35,
	/* 112 */ OPT(4096, 0, 0, 0x8000, 15), ECS_OPTION, U16(12), U16(0),
};

static void test_parse_full_response(void **state)
{
	(void)state;
	struct tp_dns_msg m;
	assert_int_equal(parse_copy(full_response, sizeof(full_response), &m),
			 0);
	assert_int_equal(m.ancount, 2);
	assert_int_equal(m.nscount, 1);
	assert_int_equal(m.arcount, 2);
	assert_true(m.has_opt);
	assert_true(m.has_ecs);
	assert_true(m.edns_do);
	assert_int_equal(m.edns_udp_size, 4096);
	assert_int_equal(m.qname.len, 17);
	assert_int_equal(m.qname.n_labels, 3);
	assert_memory_equal(m.qname.wire, full_response + 12, 17);
}

/* Every strict prefix of a valid message lacks part of its last record, so
 * each must fail, and with TP_ETRUNC: the parser must tell "ran out of
 * bytes" from "bad data" (curl unit1650's sweep; peers.md §3 item 10). */
static void sweep_prefixes(const char *what, const uint8_t *wire, size_t len)
{
	struct tp_dns_msg m;
	for (size_t cut = 0; cut < len; cut++) {
		int rc = parse_copy(wire, cut, &m);
		if (rc != TP_ETRUNC)
			fail_msg("%s: prefix of %zu/%zu octets gave %d (%s)",
				 what, cut, len, rc, tp_strerror(rc));
	}
}

static void test_parse_truncated_prefixes_fail(void **state)
{
	(void)state;
	sweep_prefixes("full response", full_response, sizeof(full_response));
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		if (c->code == 0 && !c->no_sweep)
			sweep_prefixes(c->what, c->wire, c->len);
	}
}

/* Whatever parses must present and split: the parser's output is a valid
 * name by construction. */
static void check_parsed_name(const struct tp_dns_msg *m)
{
	char text[TP_DNS_PRESENT_MAX];
	struct tp_dns_labels labels;

	if (m->qdcount == 0)
		return;
	assert_true(m->qname.len >= 1 && m->qname.len <= TP_DNS_NAME_MAX);
	assert_true(tp_dns_name_present(&m->qname, text, sizeof(text)) > 0);
	assert_int_equal(tp_dns_name_labels(&m->qname, &labels), 0);
	assert_int_equal(labels.n, m->qname.n_labels < 10 ? m->qname.n_labels
							   : 10);
}

/* Suffixes and single-bit flips of a valid message: any result is fine,
 * but nothing may crash or read out of bounds, and a success must carry a
 * usable name. */
static void test_parse_mutations_never_crash(void **state)
{
	(void)state;
	struct tp_dns_msg m;
	uint8_t buf[sizeof(full_response)];
	const size_t len = sizeof(full_response);

	for (size_t skip = 1; skip <= len; skip++) {
		if (parse_copy(full_response + skip, len - skip, &m) == 0)
			check_parsed_name(&m);
	}
	for (size_t i = 0; i < len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(buf, full_response, len);
			buf[i] = (uint8_t)(buf[i] ^ (1u << bit));
			int rc = parse_copy(buf, len, &m);
			if (rc == 0)
				check_parsed_name(&m);
			else
				assert_true(rc <= -1000);
		}
	}
}

static void test_parse_rejects_bad_arguments(void **state)
{
	(void)state;
	struct tp_dns_msg m;
	assert_int_equal(tp_dns_parse(full_response, sizeof(full_response),
				      NULL),
			 TP_EINVAL);
	assert_int_equal(tp_dns_parse(NULL, 12, &m), TP_EINVAL);
	assert_int_equal(tp_dns_parse(NULL, 0, &m), TP_ETRUNC);
}

/* ---- programmatic builders for long names and pointer chains --------- */

struct bld {
	uint8_t b[2048];
	size_t n;
};

static void b_u8(struct bld *b, unsigned v)
{
	assert_true(b->n < sizeof(b->b));
	b->b[b->n++] = (uint8_t)v;
}

static void b_u16(struct bld *b, unsigned v)
{
	b_u8(b, (v >> 8) & 0xffu);
	b_u8(b, v & 0xffu);
}

static void b_header(struct bld *b, unsigned qd, unsigned an)
{
	b->n = 0;
	b_u16(b, 0xabcd);
	b_u16(b, 0x8180);
	b_u16(b, qd);
	b_u16(b, an);
	b_u16(b, 0);
	b_u16(b, 0);
}

static void b_label(struct bld *b, unsigned len, uint8_t fill)
{
	b_u8(b, len);
	for (unsigned i = 0; i < len; i++)
		b_u8(b, fill);
}

/* A question whose name has the given label lengths. */
static void b_question(struct bld *b, const unsigned *lens, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b_label(b, lens[i], 'a');
	b_u8(b, 0);
	b_u16(b, 1);
	b_u16(b, 1);
}

static void test_parse_name_length_limits(void **state)
{
	(void)state;
	struct bld b;
	struct tp_dns_msg m;

	/* 63-octet label: fine. */
	static const unsigned l63[] = { 63 };
	b_header(&b, 1, 0);
	b_question(&b, l63, 1);
	assert_int_equal(parse_copy(b.b, b.n, &m), 0);
	assert_int_equal(m.qname.len, 65);

	/* Exactly 255 octets on the wire (63+63+63+61 + length octets and
	 * root) is the largest legal name; one more octet is not. */
	static const unsigned l255[] = { 63, 63, 63, 61 };
	b_header(&b, 1, 0);
	b_question(&b, l255, 4);
	assert_int_equal(parse_copy(b.b, b.n, &m), 0);
	assert_int_equal(m.qname.len, 255);
	assert_int_equal(m.qname.n_labels, 4);
	check_parsed_name(&m);
	size_t q255 = b.n;

	static const unsigned l256[] = { 63, 63, 63, 62 };
	b_header(&b, 1, 0);
	b_question(&b, l256, 4);
	assert_int_equal(parse_copy(b.b, b.n, &m), TP_ENAMELEN);

	/* 127 one-octet labels: 255 octets, the most labels a name has. */
	unsigned ones[128];
	for (size_t i = 0; i < 128; i++)
		ones[i] = 1;
	b_header(&b, 1, 0);
	b_question(&b, ones, 127);
	assert_int_equal(parse_copy(b.b, b.n, &m), 0);
	assert_int_equal(m.qname.n_labels, 127);
	check_parsed_name(&m);
	b_header(&b, 1, 0);
	b_question(&b, ones, 128);
	assert_int_equal(parse_copy(b.b, b.n, &m), TP_ENAMELEN);

	/* The limit applies after decompression: "x" + pointer to the
	 * 255-octet question name is 257 octets. */
	b_header(&b, 1, 1);
	b_question(&b, l255, 4);
	assert_int_equal(b.n, q255);
	b_label(&b, 1, 'x');
	b_u16(&b, 0xc000 | 12);
	b_u16(&b, 1);
	b_u16(&b, 1);
	b_u16(&b, 0);
	b_u16(&b, 60);
	b_u16(&b, 4);
	b_u16(&b, 0xc000);
	b_u16(&b, 0x0201);
	assert_int_equal(parse_copy(b.b, b.n, &m), TP_ENAMELEN);
}

/* A chain of m pointers, each to the one before it, ending at a root
 * label, hidden in opaque RDATA; an A record's owner points at the last
 * one, so decoding it takes m + 1 hops. */
static int parse_pointer_chain(unsigned m_ptrs)
{
	struct bld b;
	struct tp_dns_msg m;

	b_header(&b, 0, 2);
	b_u8(&b, 0); /* root owner */
	b_u16(&b, 10); /* NULL */
	b_u16(&b, 1);
	b_u16(&b, 0);
	b_u16(&b, 60);
	b_u16(&b, 1 + 2 * m_ptrs);
	size_t base = b.n;
	b_u8(&b, 0); /* the root label the chain ends at */
	for (unsigned k = 0; k < m_ptrs; k++) {
		size_t target = k == 0 ? base : base + 1 + 2 * (k - 1);
		b_u16(&b, 0xc000u | (unsigned)target);
	}
	b_u16(&b, 0xc000u | (unsigned)(base + 1 + 2 * (m_ptrs - 1)));
	b_u16(&b, 1);
	b_u16(&b, 1);
	b_u16(&b, 0);
	b_u16(&b, 60);
	b_u16(&b, 4);
	b_u16(&b, 0xc000);
	b_u16(&b, 0x0201);
	return parse_copy(b.b, b.n, &m);
}

static void test_parse_rejects_pointer_hop_overflow(void **state)
{
	(void)state;
	assert_int_equal(parse_pointer_chain(1), 0);
	/* 128 hops is TP_DNS_MAX_POINTER_HOPS: allowed; 129 is not. */
	assert_int_equal(parse_pointer_chain(TP_DNS_MAX_POINTER_HOPS - 1), 0);
	assert_int_equal(parse_pointer_chain(TP_DNS_MAX_POINTER_HOPS),
			 TP_ELOOP);
	assert_int_equal(parse_pointer_chain(500), TP_ELOOP);
}

/* ---- name.c ----------------------------------------------------------- */

#define NAME(...)                                                    \
	{ .wire = { __VA_ARGS__ },                                   \
	  .len = (uint16_t)sizeof((const uint8_t[]){ __VA_ARGS__ }) }

struct present_case {
	const char *what;
	struct tp_dns_name name;
	int code;
	const char *text;
};

/* clang-format off */
static const struct present_case present_cases[] = {
	{ "root", NAME(0), 0, "." },
	{ "plain", NAME(N_WWW_EXAMPLE_COM), 0, "www.example.com." },
	{ "case kept", NAME(3, 'W', 'w', 'W', 0), 0, "WwW." },
	{ "dot inside a label", NAME(3, 'a', '.', 'b', 3, 'c', 'o', 'm', 0), 0,
	  "a\\.b.com." },
	{ "space as \\032", NAME(5, 's', 'p', ' ', 'c', 'e', 0), 0,
	  "sp\\032ce." },
	{ "backslash", NAME(4, 'b', '\\', 's', 'l', 0), 0, "b\\\\sl." },
	{ "master-file specials",
	  NAME(6, '"', '(', ')', ';', '@', '$', 0), 0,
	  "\\\"\\(\\)\\;\\@\\$." },
	{ "UTF-8 bytes as \\DDD (r\xc3\xa4ksm\xc3\xb6rg\xc3\xa5s)",
	  NAME(13, 'r', 0xc3, 0xa4, 'k', 's', 'm', 0xc3, 0xb6, 'r', 'g', 0xc3,
	       0xa5, 's', 3, 's', 'v', 't', 2, 's', 'e', 0),
	  0, "r\\195\\164ksm\\195\\182rg\\195\\165s.svt.se." },
	{ "controls, DEL, 0xff",
	  NAME(5, 0x00, 0x09, 0x7f, 0x80, 0xff, 0), 0,
	  "\\000\\009\\127\\128\\255." },
	{ "printable edges kept", NAME(4, '!', '~', '*', '-', 0), 0, "!~*-." },
	{ "empty wire", { .len = 0 }, TP_EMALF, NULL },
	{ "missing root label", NAME(3, 'c', 'o', 'm'), TP_EMALF, NULL },
	{ "label past the end", NAME(5, 'c', 'o', 'm', 0), TP_EMALF, NULL },
	{ "octets after the root", NAME(0, 0), TP_EMALF, NULL },
	{ "label longer than 63", NAME(64, 'a', 0), TP_EMALF, NULL },
	{ "compression pointer", NAME(0xc0, 12), TP_EMALF, NULL },
	{ "len above 255", { .wire = { 0 }, .len = 256 }, TP_EMALF, NULL },
};
/* clang-format on */

static void test_name_present_escapes(void **state)
{
	(void)state;
	char text[TP_DNS_PRESENT_MAX];

	for (size_t i = 0; i < N_ELEMS(present_cases); i++) {
		const struct present_case *c = &present_cases[i];
		memset(text, 'X', sizeof(text));
		int rc = tp_dns_name_present(&c->name, text, sizeof(text));
		if (rc != (c->code != 0 ? c->code : (int)strlen(c->text)))
			fail_msg("%s: got %d", c->what, rc);
		if (c->code == 0 && strcmp(text, c->text) != 0)
			fail_msg("%s: got '%s', want '%s'", c->what, text,
				 c->text);
	}
}

static void test_name_present_buffer_bounds(void **state)
{
	(void)state;
	const struct tp_dns_name name = NAME(N_WWW_EXAMPLE_COM);
	char text[32];

	/* "www.example.com." is 16 characters plus the NUL. */
	assert_int_equal(tp_dns_name_present(&name, text, 17), 16);
	assert_string_equal(text, "www.example.com.");
	memset(text, 'X', sizeof(text));
	assert_int_equal(tp_dns_name_present(&name, text, 16), TP_ENOSPACE);
	assert_int_equal(text[15], '\0');
	assert_int_equal(text[16], 'X'); /* nothing written past out_size */
	assert_int_equal(tp_dns_name_present(&name, text, 1), TP_ENOSPACE);
	assert_int_equal(text[0], '\0');
	assert_int_equal(tp_dns_name_present(&name, text, 0), TP_ENOSPACE);
	assert_int_equal(tp_dns_name_present(&name, NULL, 10), TP_ENOSPACE);
	assert_int_equal(tp_dns_name_present(NULL, text, 10), TP_EINVAL);

	/* Worst case: 255 octets, every one escaped as \DDD, fits in
	 * TP_DNS_PRESENT_MAX. */
	struct tp_dns_name worst = { .len = 255 };
	size_t p = 0;
	for (unsigned l = 0; l < 4; l++) {
		unsigned ll = l < 3 ? 63 : 61;
		worst.wire[p++] = (uint8_t)ll;
		for (unsigned i = 0; i < ll; i++)
			worst.wire[p++] = 0xff;
	}
	worst.wire[p++] = 0;
	assert_int_equal(p, 255);
	char big[TP_DNS_PRESENT_MAX];
	int n = tp_dns_name_present(&worst, big, sizeof(big));
	assert_int_equal(n, 250 * 4 + 4);
	assert_int_equal(strlen(big), (size_t)n);
}

static void test_name_fold_only_ascii_letters(void **state)
{
	(void)state;
	struct tp_dns_name name =
		NAME(7, 'W', 'w', 'W', 0xc4, 0xe4, '@', '[', 3, 'C', 'o', 'M', 0);
	const uint8_t want[] = { 7, 'w', 'w', 'w', 0xc4, 0xe4, '@', '[',
				 3, 'c', 'o', 'm', 0 };
	tp_dns_name_fold(&name);
	assert_int_equal(name.len, sizeof(want));
	assert_memory_equal(name.wire, want, sizeof(want));

	/* Every octet value: only 'A'..'Z' change, by exactly 0x20. */
	for (unsigned v = 1; v < 256; v++) {
		struct tp_dns_name one = NAME(1, 0, 0);
		one.wire[1] = (uint8_t)v;
		tp_dns_name_fold(&one);
		unsigned want_v = (v >= 'A' && v <= 'Z') ? v + 0x20 : v;
		if (one.wire[1] != want_v || one.wire[0] != 1 || one.wire[2] != 0)
			fail_msg("fold of 0x%02x gave 0x%02x", v, one.wire[1]);
		assert_int_equal(tp_ascii_tolower((uint8_t)v), want_v);
	}
	tp_dns_name_fold(NULL); /* tolerated */
}

/* The eight-at-a-time fold against the one-octet rule, on every octet
 * value at every offset of a chunk and on random names of every length;
 * fold_copy writes nothing past len. */
static void test_fold_copy_matches_octet_rule(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 256; v++) {
		struct tp_dns_name src = { .len = 17, .n_labels = 3 }, dst, in_place;
		memset(src.wire, (int)v, 17);
		memset(dst.wire, 0xAA, sizeof(dst.wire));
		tp_dns_name_fold_copy(&dst, &src);
		in_place = src;
		tp_dns_name_fold(&in_place);
		for (unsigned i = 0; i < 17; i++) {
			uint8_t want = tp_ascii_tolower((uint8_t)v);
			if (dst.wire[i] != want || in_place.wire[i] != want)
				fail_msg("0x%02x at %u: copy 0x%02x, in place 0x%02x", v, i,
					 dst.wire[i], in_place.wire[i]);
		}
		assert_int_equal(dst.wire[17], 0xAA);
		assert_int_equal(dst.len, 17);
		assert_int_equal(dst.n_labels, 3);
	}
	uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
	for (unsigned round = 0; round < 4000; round++) {
		struct tp_dns_name src = { 0 }, dst;
		src.len = (uint16_t)(1u + round % TP_DNS_NAME_MAX);
		for (unsigned i = 0; i < src.len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			src.wire[i] = (uint8_t)x;
		}
		memset(dst.wire, 0x5A, sizeof(dst.wire));
		tp_dns_name_fold_copy(&dst, &src);
		for (unsigned i = 0; i < TP_DNS_NAME_MAX; i++) {
			uint8_t want = i < src.len ? tp_ascii_tolower(src.wire[i]) : 0x5A;
			if (dst.wire[i] != want)
				fail_msg("length %u, octet %u: 0x%02x, want 0x%02x", src.len, i,
					 dst.wire[i], want);
		}
	}
}

struct labels_case {
	const char *what;
	const char *dotted; /* simple ASCII labels, built into wire form */
	unsigned n;
	const char *want[TP_DNS_LABEL_COLUMNS];
};

/* clang-format off */
static const struct labels_case labels_cases[] = {
	{ "three labels", "www.example.com", 3,
	  { "com", "example", "www" } },
	{ "exactly 10 labels", "a.b.c.d.e.f.g.h.i.j", 10,
	  { "j", "i", "h", "g", "f", "e", "d", "c", "b", "a" } },
	{ "11 labels", "a.b.c.d.e.f.g.h.i.j.k", 10,
	  { "k", "j", "i", "h", "g", "f", "e", "d", "c", "b.a" } },
	{ "13 labels (edm-spec §3.6 example)", "a.b.c.d.e.f.g.h.i.j.k.l.com",
	  10, { "com", "l", "k", "j", "i", "h", "g", "f", "e", "d.c.b.a" } },
	{ "edm test pin label12..label0",
	  "label12.label11.label10.label9.label8.label7.label6.label5.label4."
	  "label3.label2.label1.label0", 10,
	  { "label0", "label1", "label2", "label3", "label4", "label5",
	    "label6", "label7", "label8",
	    "label9.label10.label11.label12" } },
};
/* clang-format on */

static void name_from_dotted(struct tp_dns_name *name, const char *dotted)
{
	size_t p = 0;
	const char *s = dotted;
	while (*s != '\0') {
		const char *dot = strchr(s, '.');
		size_t l = dot != NULL ? (size_t)(dot - s) : strlen(s);
		assert_true(l >= 1 && l <= 63 && p + 1 + l < TP_DNS_NAME_MAX);
		name->wire[p++] = (uint8_t)l;
		memcpy(name->wire + p, s, l);
		p += l;
		s += l;
		if (*s == '.')
			s++;
	}
	name->wire[p++] = 0;
	name->len = (uint16_t)p;
}

static void test_name_labels_columns(void **state)
{
	(void)state;
	struct tp_dns_labels out;

	for (size_t i = 0; i < N_ELEMS(labels_cases); i++) {
		const struct labels_case *c = &labels_cases[i];
		struct tp_dns_name name;
		name_from_dotted(&name, c->dotted);
		assert_int_equal(tp_dns_name_labels(&name, &out), 0);
		if (out.n != c->n)
			fail_msg("%s: n %u, want %u", c->what, out.n, c->n);
		for (size_t col = 0; col < TP_DNS_LABEL_COLUMNS; col++) {
			if (c->want[col] == NULL) {
				assert_null(out.label[col]);
				continue;
			}
			if (out.label[col] == NULL ||
			    strcmp(out.label[col], c->want[col]) != 0)
				fail_msg("%s: label%zu '%s', want '%s'",
					 c->what, col,
					 out.label[col] ? out.label[col] : "NULL",
					 c->want[col]);
		}
	}
}

static void test_name_labels_root_and_escapes(void **state)
{
	(void)state;
	struct tp_dns_labels out;

	const struct tp_dns_name root = NAME(0);
	memset(&out, 0x55, sizeof(out));
	assert_int_equal(tp_dns_name_labels(&root, &out), 0);
	assert_int_equal(out.n, 0);
	for (size_t col = 0; col < TP_DNS_LABEL_COLUMNS; col++)
		assert_null(out.label[col]);

	const struct tp_dns_name esc =
		NAME(3, 'a', '.', 'b', 2, 0xc3, ' ', 3, 'c', 'o', 'm', 0);
	assert_int_equal(tp_dns_name_labels(&esc, &out), 0);
	assert_int_equal(out.n, 3);
	assert_string_equal(out.label[0], "com");
	assert_string_equal(out.label[1], "\\195\\032");
	assert_string_equal(out.label[2], "a\\.b");
	assert_null(out.label[3]);

	const struct tp_dns_name bad = NAME(5, 'a', 0);
	assert_int_equal(tp_dns_name_labels(&bad, &out), TP_EMALF);
	assert_int_equal(out.n, 0);
	assert_int_equal(tp_dns_name_labels(NULL, &out), TP_EINVAL);
	assert_int_equal(tp_dns_name_labels(&root, NULL), TP_EINVAL);
}

/* The text buffer must hold the worst cases: 127 escaped one-octet labels
 * (most separators) and four long labels of escaped octets (most \DDD). */
static void test_name_labels_worst_case_fits(void **state)
{
	(void)state;
	struct tp_dns_labels out;
	struct tp_dns_name many = { .len = 255 };
	size_t p = 0;
	for (unsigned i = 0; i < 127; i++) {
		many.wire[p++] = 1;
		many.wire[p++] = 0xfe;
	}
	many.wire[p++] = 0;
	assert_int_equal(p, 255);
	assert_int_equal(tp_dns_name_labels(&many, &out), 0);
	assert_int_equal(out.n, 10);
	assert_string_equal(out.label[0], "\\254");
	/* 118 labels joined: 118 * 4 characters + 117 dots. */
	assert_int_equal(strlen(out.label[9]), 118 * 4 + 117);

	struct tp_dns_name big = { .len = 255 };
	p = 0;
	for (unsigned l = 0; l < 4; l++) {
		unsigned ll = l < 3 ? 63 : 61;
		big.wire[p++] = (uint8_t)ll;
		for (unsigned i = 0; i < ll; i++)
			big.wire[p++] = 0x01;
	}
	big.wire[p++] = 0;
	assert_int_equal(tp_dns_name_labels(&big, &out), 0);
	assert_int_equal(out.n, 4);
	assert_int_equal(strlen(out.label[0]), 61 * 4);
	assert_int_equal(strlen(out.label[3]), 63 * 4);
}

struct mnemonic_case {
	uint16_t value;
	const char *text;
};

static void test_type_name_mnemonics(void **state)
{
	(void)state;
	static const struct mnemonic_case types[] = {
		{ 1, "A" },        { 2, "NS" },          { 5, "CNAME" },
		{ 6, "SOA" },      { 10, "NULL" },       { 12, "PTR" },
		{ 13, "HINFO" },   { 15, "MX" },         { 16, "TXT" },
		{ 28, "AAAA" },    { 33, "SRV" },        { 35, "NAPTR" },
		{ 41, "OPT" },     { 43, "DS" },         { 46, "RRSIG" },
		{ 47, "NSEC" },    { 48, "DNSKEY" },     { 50, "NSEC3" },
		{ 51, "NSEC3PARAM" }, { 52, "TLSA" },    { 64, "SVCB" },
		{ 65, "HTTPS" },   { 99, "SPF" },        { 251, "IXFR" },
		{ 252, "AXFR" },   { 255, "ANY" },       { 257, "CAA" },
		{ 0, "TYPE0" },    { 54, "TYPE54" },     { 65280, "TYPE65280" },
		{ 65535, "TYPE65535" },
	};
	static const struct mnemonic_case classes[] = {
		{ 1, "IN" },       { 3, "CH" },          { 4, "HS" },
		{ 254, "NONE" },   { 255, "ANY" },       { 0, "CLASS0" },
		{ 2, "CLASS2" },   { 42, "CLASS42" },    { 65535, "CLASS65535" },
	};
	static const struct mnemonic_case rcodes[] = {
		{ 0, "NOERROR" },  { 1, "FORMERR" },     { 2, "SERVFAIL" },
		{ 3, "NXDOMAIN" }, { 4, "NOTIMP" },      { 5, "REFUSED" },
		{ 6, "YXDOMAIN" }, { 7, "YXRRSET" },     { 8, "NXRRSET" },
		{ 9, "NOTAUTH" },  { 10, "NOTZONE" },    { 11, "DSOTYPENI" },
		{ 12, "RCODE12" }, { 15, "RCODE15" },    { 16, "BADVERS" },
		{ 17, "BADKEY" },  { 18, "BADTIME" },    { 19, "BADMODE" },
		{ 20, "BADNAME" }, { 21, "BADALG" },     { 22, "BADTRUNC" },
		{ 23, "BADCOOKIE" }, { 24, "RCODE24" },  { 4095, "RCODE4095" },
	};
	char buf[16];

	for (size_t i = 0; i < N_ELEMS(types); i++)
		assert_string_equal(tp_dns_type_name(types[i].value, buf,
						     sizeof(buf)),
				    types[i].text);
	for (size_t i = 0; i < N_ELEMS(classes); i++)
		assert_string_equal(tp_dns_class_name(classes[i].value, buf,
						      sizeof(buf)),
				    classes[i].text);
	for (size_t i = 0; i < N_ELEMS(rcodes); i++)
		assert_string_equal(tp_dns_rcode_name(rcodes[i].value, buf,
						      sizeof(buf)),
				    rcodes[i].text);

	/* Constants never need buf; unknown values degrade safely. */
	assert_string_equal(tp_dns_type_name(1, NULL, 0), "A");
	assert_string_equal(tp_dns_type_name(65280, NULL, 0), "?");
	assert_string_equal(tp_dns_type_name(65280, buf, 5), "TYPE");
}

static void test_name_from_text_round_trips_and_rejects(void **state)
{
	(void)state;
	static const char *const good[] = {
		".", "com.", "www.example.com.", "dot\\.inside.github.com.",
		"space\\032label.github.com.", "r\\195\\164ksm.svt.se.", "back\\\\slash.example.",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tp_dns_name n;
		char text[TP_DNS_PRESENT_MAX];
		assert_int_equal(tp_dns_name_from_text(good[i], strlen(good[i]), &n), 0);
		assert_true(tp_dns_name_present(&n, text, sizeof(text)) >= 0);
		assert_string_equal(text, good[i]);
	}
	/* Without the trailing dot, and the escape of a plain letter. */
	struct tp_dns_name a, b;
	assert_int_equal(tp_dns_name_from_text("example.com", 11, &a), 0);
	assert_int_equal(tp_dns_name_from_text("ex\\ample.com.", 13, &b), 0);
	assert_int_equal(a.len, 13);
	assert_int_equal(a.n_labels, 2);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(a.wire, b.wire, a.len);

	static const char *const bad[] = { "", "..", ".com.", "a..b.", "a\\", "a\\25", "a\\256.", "a\\2x5." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tp_dns_name_from_text(bad[i], strlen(bad[i]), &a), TP_EMALF);

	char label64[70];
	memset(label64, 'a', 64);
	memcpy(label64 + 64, ".", 2);
	assert_int_equal(tp_dns_name_from_text(label64, 65, &a), TP_ELABEL);
	assert_int_equal(tp_dns_name_from_text(label64 + 1, 64, &a), 0);

	/* 255 octets is the most: four labels of 63, 63, 63, 61. */
	char longest[300];
	size_t p = 0;
	const size_t sizes[] = { 63, 63, 63, 61 };
	for (size_t l = 0; l < 4; l++) {
		memset(longest + p, 'x', sizes[l]);
		p += sizes[l];
		longest[p++] = '.';
	}
	assert_int_equal(tp_dns_name_from_text(longest, p, &a), 0);
	assert_int_equal(a.len, 255);
	longest[p - 1] = 'y';
	longest[p++] = '.';
	assert_int_equal(tp_dns_name_from_text(longest, p, &a), TP_ENAMELEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_fold_copy_matches_octet_rule),
		cmocka_unit_test(test_parse_full_response),
		cmocka_unit_test(test_parse_truncated_prefixes_fail),
		cmocka_unit_test(test_parse_mutations_never_crash),
		cmocka_unit_test(test_parse_rejects_bad_arguments),
		cmocka_unit_test(test_parse_name_length_limits),
		cmocka_unit_test(test_parse_rejects_pointer_hop_overflow),
		cmocka_unit_test(test_name_present_escapes),
		cmocka_unit_test(test_name_present_buffer_bounds),
		cmocka_unit_test(test_name_fold_only_ascii_letters),
		cmocka_unit_test(test_name_labels_columns),
		cmocka_unit_test(test_name_labels_root_and_escapes),
		cmocka_unit_test(test_name_labels_worst_case_fits),
		cmocka_unit_test(test_type_name_mnemonics),
		cmocka_unit_test(test_name_from_text_round_trips_and_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
