/* SPDX-License-Identifier: BSD-2-Clause
 *
 * scrub.c - copy a DNS message keeping only allowlisted EDNS options (see
 * scrub.h).
 *
 * The input is untrusted. It is first validated whole by tp_dns_parse(), so
 * the copy walk below only meets messages whose names, records and OPT are
 * well formed; the walk still checks every length against the end of its
 * buffer (returning TP_EBUG if the two ever disagree), follows pointers only
 * backwards with a bounded number of hops, and never writes past out_size.
 * Nothing of a refused message is left for the caller to store.
 */
#include "dns/scrub.h"

#include <stdbool.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/dns_impl.h"
#include "util/rd.h"

#define T_OPT 41u
#define LABEL_TYPE_MASK 0xc0u
#define LABEL_POINTER 0xc0u
#define NO_POINTER SIZE_MAX

static bool option_kept(uint16_t code)
{
	switch (code) {
	case TP_EDNS_NSID:
	case TP_EDNS_EXPIRE:
	case TP_EDNS_TCP_KEEPALIVE:
	case TP_EDNS_EDE:
		return true;
	default:
		return false;
	}
}

/* The copy in progress. Offsets of the OPT RDATA in the input and the
 * octets removed from it tell where an input offset lands in the output. */
struct scrub {
	const uint8_t *in;
	size_t in_len;
	size_t ip; /* input position */
	uint8_t *out;
	size_t out_size;
	size_t op; /* output position */
	bool seen_opt;
	size_t opt_start, opt_end; /* the OPT RDATA in the input */
	size_t removed_octets;
	struct tp_dns_scrub_removed removed;
};

static int copy(struct scrub *s, size_t n)
{
	if (s->in_len - s->ip < n)
		return TP_EBUG; /* tp_dns_parse() accepted it: cannot happen */
	if (s->out_size - s->op < n)
		return TP_ENOSPACE;
	memcpy(s->out + s->op, s->in + s->ip, n);
	s->ip += n;
	s->op += n;
	return 0;
}

/* Where input offset t (a pointer target) is in the output. */
static int relocate(const struct scrub *s, size_t t, size_t *out)
{
	if (!s->seen_opt || t < s->opt_start) {
		*out = t;
		return 0;
	}
	/* A pointer into option data names no legitimate name. */
	if (t < s->opt_end)
		return TP_EMALF;
	*out = t - s->removed_octets;
	return 0;
}

/* Decode the name at pos of buf[0..len) into dst (uncompressed wire form).
 * Pointers must point before the label sequence that holds them, so the
 * walk ends; the hop count is a second guard. */
static int expand(const uint8_t *buf, size_t len, size_t pos, uint8_t dst[TP_DNS_NAME_MAX],
		  size_t *dst_len)
{
	size_t seq_start = pos, n = 0;
	unsigned hops = 0;
	for (;;) {
		if (pos >= len)
			return TP_EMALF;
		uint8_t c = buf[pos];
		if ((c & LABEL_TYPE_MASK) == LABEL_POINTER) {
			if (len - pos < 2 || ++hops > TP_DNS_MAX_POINTER_HOPS)
				return TP_EMALF;
			size_t t = (size_t)(c & ~LABEL_TYPE_MASK) << 8 | buf[pos + 1];
			if (t >= seq_start || t < TP_DNS_HEADER_SIZE)
				return TP_EMALF;
			pos = seq_start = t;
			continue;
		}
		if ((c & LABEL_TYPE_MASK) != 0 || len - pos - 1 < c || n + 1u + c > TP_DNS_NAME_MAX)
			return TP_EMALF;
		memcpy(dst + n, buf + pos, 1u + (size_t)c);
		n += 1u + (size_t)c;
		if (c == 0)
			break;
		pos += 1u + (size_t)c;
	}
	*dst_len = n;
	return 0;
}

/* Copy the name at the input position, relocating its pointer. The name
 * must read the same from the copy as from the input: a name after the OPT
 * record may point at something that moved, and a hostile label sequence
 * may run over the removed options or the dropped trailing octets. */
static int copy_name(struct scrub *s)
{
	size_t in_at = s->ip, out_at = s->op, p = s->ip, ptr = NO_POINTER;
	for (;;) {
		if (p >= s->in_len)
			return TP_EBUG;
		uint8_t c = s->in[p];
		if ((c & LABEL_TYPE_MASK) == LABEL_POINTER) {
			ptr = p;
			break;
		}
		if ((c & LABEL_TYPE_MASK) != 0)
			return TP_EBUG;
		p += 1u + (size_t)c;
		if (c == 0)
			break;
	}
	int rc = copy(s, (ptr == NO_POINTER ? p : ptr) - s->ip);
	if (rc == 0 && ptr != NO_POINTER) {
		if (s->in_len - ptr < 2)
			return TP_EBUG;
		size_t target;
		rc = relocate(s, (size_t)(s->in[ptr] & ~LABEL_TYPE_MASK) << 8 | s->in[ptr + 1],
			      &target);
		if (rc == 0 && s->out_size - s->op < 2)
			rc = TP_ENOSPACE;
		if (rc == 0) {
			/* target <= the input's target <= 0x3fff */
			s->out[s->op] = (uint8_t)(LABEL_POINTER | (target >> 8));
			s->out[s->op + 1] = (uint8_t)target;
			s->op += 2;
			s->ip += 2;
		}
	}
	if (rc != 0)
		return rc;
	uint8_t a[TP_DNS_NAME_MAX], b[TP_DNS_NAME_MAX];
	size_t a_len, b_len;
	if (expand(s->in, s->in_len, in_at, a, &a_len) != 0)
		return TP_EBUG;
	/* The copy so far is all a name may use: pointers point backwards,
	 * and label sequences end before the next record in a sane message. */
	if (expand(s->out, s->op, out_at, b, &b_len) != 0 || a_len != b_len ||
	    memcmp(a, b, a_len) != 0)
		return TP_EMALF;
	return 0;
}

/* The OPT RDATA at the input position, rdlength octets: allowlisted
 * options are copied, the others counted; RDLENGTH (the two octets just
 * written before the RDATA) is fixed. */
static int copy_opt(struct scrub *s, size_t rdlength)
{
	size_t rdlength_at = s->op - 2, end = s->ip + rdlength;
	s->seen_opt = true;
	s->opt_start = s->ip;
	s->opt_end = end;
	while (s->ip < end) {
		if (end - s->ip < 4)
			return TP_EBUG;
		uint16_t code = tp_load_be16(s->in + s->ip);
		size_t olen = tp_load_be16(s->in + s->ip + 2);
		if (end - s->ip - 4 < olen)
			return TP_EBUG;
		if (option_kept(code)) {
			int rc = copy(s, 4 + olen);
			if (rc != 0)
				return rc;
			continue;
		}
		if (code == TP_EDNS_ECS)
			s->removed.ecs++;
		else if (code == TP_EDNS_COOKIE)
			s->removed.cookie++;
		else
			s->removed.other++;
		s->ip += 4 + olen;
		s->removed_octets += 4 + olen;
	}
	size_t kept = rdlength - s->removed_octets; /* <= rdlength: fits 16 bits */
	s->out[rdlength_at] = (uint8_t)(kept >> 8);
	s->out[rdlength_at + 1] = (uint8_t)kept;
	return 0;
}

static int copy_rr(struct scrub *s)
{
	int rc = copy_name(s);
	if (rc == 0 && s->in_len - s->ip < 10)
		rc = TP_EBUG;
	if (rc != 0)
		return rc;
	uint16_t type = tp_load_be16(s->in + s->ip);
	size_t rdlength = tp_load_be16(s->in + s->ip + 8);
	rc = copy(s, 10);
	if (rc == 0 && s->in_len - s->ip < rdlength)
		rc = TP_EBUG;
	if (rc != 0)
		return rc;
	if (type == T_OPT)
		return copy_opt(s, rdlength);

	/* Names inside RDATA keep their in-line length, so RDLENGTH stands. */
	struct tp_dns_rdata_shape shape;
	size_t end = s->ip + rdlength;
	if (rdlength > 0 && tp_dns_rdata_shape(type, &shape)) {
		rc = copy(s, shape.prefix);
		for (unsigned i = 0; rc == 0 && i < shape.names; i++)
			rc = copy_name(s);
		if (rc == 0 && s->ip > end)
			rc = TP_EBUG;
		if (rc != 0)
			return rc;
	}
	return copy(s, end - s->ip);
}

int tp_dns_scrub(const uint8_t *wire, size_t len, uint8_t *out, size_t out_size,
		 size_t *out_len, struct tp_dns_scrub_removed *removed)
{
	if (out == NULL || out_len == NULL || removed == NULL || (wire == NULL && len != 0))
		return TP_EINVAL;
	memset(removed, 0, sizeof(*removed));
	*out_len = 0;

	struct tp_dns_msg msg;
	int rc = tp_dns_parse(wire, len, &msg);
	if (rc != 0)
		return rc;

	struct scrub s = { .in = wire, .in_len = len, .out = out, .out_size = out_size };
	rc = copy(&s, TP_DNS_HEADER_SIZE);
	for (unsigned i = 0; rc == 0 && i < msg.qdcount; i++) {
		rc = copy_name(&s);
		if (rc == 0)
			rc = copy(&s, 4);
	}
	unsigned n_rr = (unsigned)msg.ancount + msg.nscount + msg.arcount;
	for (unsigned i = 0; rc == 0 && i < n_rr; i++)
		rc = copy_rr(&s);
	/* The copy must be a message the parser accepts, as the input was. */
	if (rc == 0 && tp_dns_parse(out, s.op, &msg) != 0)
		rc = TP_EBUG;
	if (rc != 0)
		return rc;
	*out_len = s.op;
	*removed = s.removed;
	return 0;
}
