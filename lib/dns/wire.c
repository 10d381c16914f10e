/* SPDX-License-Identifier: BSD-2-Clause
 *
 * wire.c - walk a whole DNS message from the wire (see dns.h).
 *
 * Every message the edge sees comes from a dnstap frame and is therefore
 * untrusted: a resolver logs whatever a client sent, including malformed
 * queries. This file checks every length against the end of the buffer
 * before reading (check, then read), decodes names iteratively, follows
 * compression pointers only backwards with a bounded number of hops, and
 * distinguishes "end of name" from "ran out of bytes" (peers.md §3 items
 * 8-10). It never allocates, never recurses and copies nothing but the
 * first question name; it must never read outside [wire, wire + len).
 */
#include "dns/dns.h"

#include <string.h>

#include "dns/dns_impl.h"
#include "util/rd.h"

/* RR types whose RDATA layout the walk checks (RFC 1035 §3.3, IANA). */
enum {
	T_A = 1,
	T_NS = 2,
	T_MD = 3,
	T_MF = 4,
	T_CNAME = 5,
	T_SOA = 6,
	T_MB = 7,
	T_MG = 8,
	T_MR = 9,
	T_PTR = 12,
	T_MINFO = 14,
	T_MX = 15,
	T_RP = 17,
	T_AFSDB = 18,
	T_RT = 21,
	T_SIG = 24,
	T_PX = 26,
	T_AAAA = 28,
	T_NXT = 30,
	T_SRV = 33,
	T_KX = 36,
	T_DNAME = 39,
	T_OPT = 41,
	T_RRSIG = 46,
	T_NSEC = 47,
	T_TKEY = 249,
	T_TSIG = 250,
};

/* RFC 7871 §6: EDNS option code of Client Subnet. */
#define EDNS_OPT_ECS 8u
/* RFC 6891 §6.1.4: DO is the top bit of the 16-bit Z field (TTL bits 15). */
#define EDNS_DO_BIT 0x8000u

/* RFC 1035 §4.1.4: the two top bits of a length octet select the label
 * type; 00 = normal label, 11 = pointer. 01 (RFC 2673 bit-string labels,
 * deprecated by RFC 6891 §5) and 10 (reserved) are rejected. */
#define LABEL_TYPE_MASK 0xc0u
#define LABEL_NORMAL 0x00u
#define LABEL_POINTER 0xc0u

enum section { SEC_ANSWER, SEC_AUTHORITY, SEC_ADDITIONAL };

/* Bounded reader over the whole message. Callers check rd_has() first so
 * that the right error code is returned; the reads themselves are bounded
 * too and record TP_ETRUNC in the sticky err, so a forgotten check can
 * produce a wrong answer but never an out-of-bounds read. */
struct rd {
	const uint8_t *buf;
	size_t len; /* end of the message */
	size_t pos; /* invariant: pos <= len */
	int err;    /* first failed read, 0 while every read fitted */
};

static bool rd_has(const struct rd *r, size_t n)
{
	return r->len - r->pos >= n;
}

static void rd_fail(struct rd *r)
{
	if (r->err == 0)
		r->err = TP_ETRUNC;
	r->pos = r->len;
}

static uint16_t rd_u16(struct rd *r)
{
	if (!rd_has(r, 2)) {
		rd_fail(r);
		return 0;
	}
	uint16_t v = tp_load_be16(r->buf + r->pos);
	r->pos += 2;
	return v;
}

static uint32_t rd_u32(struct rd *r)
{
	if (!rd_has(r, 4)) {
		rd_fail(r);
		return 0;
	}
	uint32_t v = tp_load_be32(r->buf + r->pos);
	r->pos += 4;
	return v;
}

static void rd_skip(struct rd *r, size_t n)
{
	if (!rd_has(r, n)) {
		rd_fail(r);
		return;
	}
	r->pos += n;
}

struct name_info {
	uint16_t len;     /* uncompressed wire length, root included */
	uint8_t n_labels; /* root excluded */
};

/* Decode the name that starts at r->pos.
 *   limit:   the in-line part of the name (before the first pointer) must
 *            end at or before this offset (the end of the RDATA for a name
 *            inside RDATA, the end of the message otherwise);
 *   overrun: the code to return when the in-line part crosses limit;
 *   dst:     NULL, or TP_DNS_NAME_MAX octets that receive the uncompressed
 *            wire form.
 * On success r->pos is just past the in-line part (past the first pointer if
 * there is one) and *out describes the name.
 *
 * Termination: every pointer must point strictly before the start of the
 * label sequence that contains it (not merely before the pointer itself), so
 * the start offsets form a strictly decreasing sequence and no byte can be
 * visited twice; the hop bound is a second, independent guard. */
static int read_name(struct rd *r, size_t limit, int overrun, uint8_t *dst,
		     struct name_info *out)
{
	const uint8_t *buf = r->buf;
	size_t p = r->pos;
	size_t seq_start = p;   /* start of the label sequence being read */
	size_t bound = limit;   /* end of readable bytes for this sequence */
	size_t resume = 0;      /* where the message continues after a jump */
	bool jumped = false;
	unsigned hops = 0;
	size_t wlen = 0;        /* wire octets so far, root not counted */
	unsigned n_labels = 0;

	for (;;) {
		if (p >= bound)
			return jumped ? TP_ETRUNC : overrun;
		uint8_t c = buf[p];
		unsigned kind = c & LABEL_TYPE_MASK;

		if (kind == LABEL_NORMAL) {
			if (c == 0)
				break; /* the root label ends the name */
			if (bound - p - 1 < c)
				return jumped ? TP_ETRUNC : overrun;
			/* RFC 1035 §3.1: at most 255 octets including the
			 * root label, which still has to follow. */
			if (wlen + 1u + c + 1u > TP_DNS_NAME_MAX)
				return TP_ENAMELEN;
			if (dst != NULL)
				memcpy(dst + wlen, buf + p, 1u + (size_t)c);
			wlen += 1u + (size_t)c;
			n_labels++;
			p += 1u + (size_t)c;
		} else if (kind == LABEL_POINTER) {
			if (bound - p < 2)
				return jumped ? TP_ETRUNC : overrun;
			size_t target = ((size_t)(c & ~LABEL_TYPE_MASK) << 8) |
					buf[p + 1];
			if (!jumped) {
				resume = p + 2;
				jumped = true;
				/* Earlier names may lie anywhere before us. */
				bound = r->len;
			}
			/* RFC 1035 §4.1.4 offsets count from the ID octet;
			 * a pointer into the 12-octet header designates no
			 * name, and one at or after the start of the current
			 * sequence is a forward, self or loop pointer. */
			if (target >= seq_start || target < TP_DNS_HEADER_SIZE)
				return TP_ELOOP;
			if (++hops > TP_DNS_MAX_POINTER_HOPS)
				return TP_ELOOP;
			p = target;
			seq_start = target;
		} else {
			return TP_ELABEL;
		}
	}

	if (dst != NULL)
		dst[wlen] = 0;
	wlen += 1u;
	r->pos = jumped ? resume : p + 1u;
	out->len = (uint16_t)wlen;       /* <= TP_DNS_NAME_MAX, checked */
	out->n_labels = (uint8_t)n_labels; /* <= 127 */
	return 0;
}

/* RDATA layouts that embed domain names: fixed octets, names, then either
 * exactly `suffix` octets or (rest) at least `suffix` octets. Names inside
 * RDATA are validated like owner names, so a pointer loop hidden in a CNAME
 * target is rejected just as a DNS library would reject it. The A/AAAA
 * entries check the fixed sizes of the most common answers. Types not
 * listed are opaque (RFC 3597 §4): only RDLENGTH is checked. */
bool tp_dns_rdata_shape(uint16_t type, struct tp_dns_rdata_shape *s)
{
	*s = (struct tp_dns_rdata_shape){ 0, 0, 0, false };
	switch (type) {
	case T_A: /* RFC 1035 §3.4.1 */
		s->suffix = 4;
		return true;
	case T_AAAA: /* RFC 3596 §2.2 */
		s->suffix = 16;
		return true;
	case T_NS: /* RFC 1035 §3.3 */
	case T_MD:
	case T_MF:
	case T_CNAME:
	case T_MB:
	case T_MG:
	case T_MR:
	case T_PTR:
	case T_DNAME: /* RFC 6672 §2.1 */
		s->names = 1;
		return true;
	case T_SOA: /* RFC 1035 §3.3.13: MNAME RNAME + five 32-bit fields */
		s->names = 2;
		s->suffix = 20;
		return true;
	case T_MINFO: /* RFC 1035 §3.3.7 */
	case T_RP:    /* RFC 1183 §2.2 */
		s->names = 2;
		return true;
	case T_MX:    /* RFC 1035 §3.3.9: PREFERENCE EXCHANGE */
	case T_AFSDB: /* RFC 1183 §1 */
	case T_RT:    /* RFC 1183 §3.3 */
	case T_KX:    /* RFC 2230 §3.1 */
		s->prefix = 2;
		s->names = 1;
		return true;
	case T_PX: /* RFC 2163 §4 */
		s->prefix = 2;
		s->names = 2;
		return true;
	case T_SRV: /* RFC 2782: priority weight port target */
		s->prefix = 6;
		s->names = 1;
		return true;
	case T_SIG:   /* RFC 2535 §4.1 */
	case T_RRSIG: /* RFC 4034 §3.1: 18 octets, signer, signature */
		s->prefix = 18;
		s->names = 1;
		s->rest = true;
		return true;
	case T_NXT:  /* RFC 2535 §5.2 */
	case T_NSEC: /* RFC 4034 §4.1: next name, type bitmaps */
	case T_TKEY: /* RFC 2930 §2: algorithm name, fields */
	case T_TSIG: /* RFC 8945 §4.2: algorithm name, fields */
		s->names = 1;
		s->rest = true;
		return true;
	default:
		return false;
	}
}

static int check_rdata(const struct rd *r, uint16_t type, size_t start,
		       size_t end)
{
	struct tp_dns_rdata_shape s;

	/* Empty RDATA is legal in dynamic updates (RFC 2136 §2.5.2-2.5.4:
	 * class ANY/NONE deletions) and for meta queries; nothing to check. */
	if (end == start || !tp_dns_rdata_shape(type, &s))
		return 0;
	struct rd sub = { r->buf, r->len, start, 0 };
	if (end - start < s.prefix)
		return TP_EMALF;
	rd_skip(&sub, s.prefix);
	for (unsigned i = 0; i < s.names; i++) {
		struct name_info ni;
		int rc = read_name(&sub, end, TP_EMALF, NULL, &ni);
		if (rc != 0)
			return rc;
	}
	if (sub.err != 0)
		return TP_EBUG;
	size_t left = end - sub.pos;
	if (s.rest ? left < s.suffix : left != s.suffix)
		return TP_EMALF;
	return 0;
}

/* RFC 6891 §6.1: the OPT pseudo-RR. */
static int parse_opt(const struct rd *r, enum section sec,
		     const struct name_info *owner, uint16_t cls, uint32_t ttl,
		     size_t start, size_t end, struct tp_dns_msg *out)
{
	/* §6.1.1: OPT belongs in the additional section, at most once
	 * (a second one is FORMERR); §6.1.2: its owner is the root. */
	if (sec != SEC_ADDITIONAL || out->has_opt || owner->len != 1)
		return TP_EMALF;
	out->has_opt = true;
	/* §6.1.3: CLASS is the requestor's UDP payload size; TTL holds
	 * EXTENDED-RCODE (upper 8 bits of the 12-bit rcode), VERSION, DO. */
	out->edns_udp_size = cls;
	out->rcode = (uint16_t)(((ttl >> 24) << 4) | (out->flags & 0x000fu));
	out->edns_version = (uint8_t)((ttl >> 16) & 0xffu);
	out->edns_do = (ttl & EDNS_DO_BIT) != 0;

	/* §6.1.2: RDATA is a sequence of {CODE, LENGTH, DATA} that fills
	 * RDLENGTH exactly. The sub-reader ends at the RDATA end. */
	struct rd o = { r->buf, end, start, 0 };
	while (o.pos < o.len) {
		if (!rd_has(&o, 4))
			return TP_EMALF;
		uint16_t code = rd_u16(&o);
		uint16_t olen = rd_u16(&o);
		if (!rd_has(&o, olen))
			return TP_EMALF;
		rd_skip(&o, olen);
		if (code == EDNS_OPT_ECS)
			out->has_ecs = true;
	}
	return o.err != 0 ? TP_EBUG : 0;
}

/* RFC 1035 §4.1.3: one resource record of answer, authority or additional. */
static int parse_rr(struct rd *r, enum section sec, struct tp_dns_msg *out)
{
	struct name_info owner;
	int rc = read_name(r, r->len, TP_ETRUNC, NULL, &owner);
	if (rc != 0)
		return rc;
	/* TYPE, CLASS, TTL, RDLENGTH */
	if (!rd_has(r, 10))
		return TP_ETRUNC;
	uint16_t type = rd_u16(r);
	uint16_t cls = rd_u16(r);
	uint32_t ttl = rd_u32(r);
	uint16_t rdlength = rd_u16(r);
	if (!rd_has(r, rdlength))
		return TP_ETRUNC;
	size_t start = r->pos;
	size_t end = start + rdlength;

	if (type == T_OPT)
		rc = parse_opt(r, sec, &owner, cls, ttl, start, end, out);
	else
		rc = check_rdata(r, type, start, end);
	if (rc != 0)
		return rc;
	rd_skip(r, rdlength);
	return 0;
}

int tp_dns_parse(const uint8_t *wire, size_t len, struct tp_dns_msg *out)
{
	if (out == NULL || (wire == NULL && len != 0))
		return TP_EINVAL;
	if (len < TP_DNS_HEADER_SIZE)
		return TP_ETRUNC;

	struct rd r = { wire, len, 0, 0 };

	/* RFC 1035 §4.1.1 header */
	out->id = rd_u16(&r);
	out->flags = rd_u16(&r);
	out->qdcount = rd_u16(&r);
	out->ancount = rd_u16(&r);
	out->nscount = rd_u16(&r);
	out->arcount = rd_u16(&r);
	out->opcode = (uint8_t)((out->flags >> 11) & 0x0fu);
	out->rcode = (uint16_t)(out->flags & 0x000fu);
	out->has_opt = false;
	out->has_ecs = false;
	out->edns_version = 0;
	out->edns_do = false;
	out->edns_udp_size = 0;
	/* qname.len 0 marks "no question" for callers that forget qdcount. */
	out->qname.len = 0;
	out->qname.n_labels = 0;
	out->qtype = 0;
	out->qclass = 0;

	/* RFC 1035 §4.1.2 question section: every question is checked, only
	 * the first is kept (QDCOUNT 0 and > 1 are for the caller to judge). */
	for (unsigned i = 0; i < out->qdcount; i++) {
		struct name_info ni;
		int rc = read_name(&r, len, TP_ETRUNC,
				   i == 0 ? out->qname.wire : NULL, &ni);
		if (rc != 0)
			return rc;
		if (!rd_has(&r, 4))
			return TP_ETRUNC;
		uint16_t qtype = rd_u16(&r);
		uint16_t qclass = rd_u16(&r);
		if (i == 0) {
			out->qname.len = ni.len;
			out->qname.n_labels = ni.n_labels;
			out->qtype = qtype;
			out->qclass = qclass;
		}
	}

	static const enum section order[] = { SEC_ANSWER, SEC_AUTHORITY,
					      SEC_ADDITIONAL };
	const uint16_t counts[] = { out->ancount, out->nscount, out->arcount };
	for (size_t s = 0; s < sizeof(order) / sizeof(order[0]); s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			int rc = parse_rr(&r, order[s], out);
			if (rc != 0)
				return rc;
		}
	}

	/* Octets after the last record are tolerated, as ldns, Unbound and
	 * Knot do (a query with trailing garbage is answered normally). */
	return r.err != 0 ? TP_EBUG : 0;
}
