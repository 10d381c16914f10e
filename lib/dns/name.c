/* SPDX-License-Identifier: BSD-2-Clause
 *
 * name.c - domain names after parsing: case folding, presentation form,
 * label columns, and mnemonics for types, classes and rcodes (see dns.h).
 *
 * Everything that leaves the edge as text goes through here, so the output
 * must be plain ASCII (Parquet strings must be valid UTF-8, SPEC §4) and must
 * not depend on the process locale: case folding is ASCII A-Z only (RFC 4343
 * §3; peers.md §3 items 11-12) and never calls tolower(). Names passed in
 * are re-validated before use, because a struct tp_dns_name can also be
 * built by hand; nothing here reads past name->len or writes past out_size.
 */
#include "dns/dns.h"

#include <stdio.h>
#include <string.h>

#include "util/ascii.h"

/* Enough for the label offsets of any valid name: labels are >= 2 octets
 * on the wire and the root takes one, so at most (255 - 1) / 2 = 127. */
#define MAX_LABELS 128u

/* Check that name is a well-formed uncompressed wire name and record where
 * each label starts, left to right. Returns the label count or TP_EMALF. */
static int label_offsets(const struct tp_dns_name *name,
			 uint8_t off[MAX_LABELS])
{
	size_t len = name->len;
	size_t p = 0;
	unsigned n = 0;

	if (len < 1 || len > TP_DNS_NAME_MAX)
		return TP_EMALF;
	for (;;) {
		if (p >= len)
			return TP_EMALF;
		uint8_t c = name->wire[p];
		if (c == 0)
			break;
		/* RFC 1035 §3.1: only normal labels of 1..63 octets; an
		 * uncompressed name has no pointers. */
		if (c > TP_DNS_LABEL_MAX || len - p - 1 < c ||
		    n >= MAX_LABELS)
			return TP_EMALF;
		off[n++] = (uint8_t)p; /* p < len <= 255 */
		p += 1u + (size_t)c;
	}
	/* The root label must be the last octet: nothing after it. */
	if (p + 1 != len)
		return TP_EMALF;
	return (int)n;
}

/* dst[i] = tp_ascii_tolower(src[i]) for i < n; dst may be src. Eight
 * octets at a time (every name of every message passes here): in each
 * octet with the top bit clear, adding 0x80 - 'A' sets the top bit from
 * 'A' on and adding 0x80 - 'Z' - 1 from past 'Z'; where exactly one of the
 * two is set the octet is a capital, and its top bit, moved down to 0x20,
 * is the bit that folds it. */
static void fold_octets(uint8_t *dst, const uint8_t *src, size_t n)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t tops = ones * 0x80u;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, src + i, 8);
		uint64_t low7 = x & ~tops;
		uint64_t from_a = low7 + ones * (0x80u - 'A');
		uint64_t past_z = low7 + ones * (0x80u - 'Z' - 1u);
		x |= ((from_a ^ past_z) & ~x & tops) >> 2;
		memcpy(dst + i, &x, 8);
	}
	for (; i < n; i++)
		dst[i] = tp_ascii_tolower(src[i]);
}

void tp_dns_name_fold(struct tp_dns_name *name)
{
	if (name == NULL)
		return;
	/* Length octets are 0..63, below 'A' (0x41), so folding every octet
	 * of the wire form folds exactly the label contents. */
	fold_octets(name->wire, name->wire,
		    name->len <= TP_DNS_NAME_MAX ? name->len : TP_DNS_NAME_MAX);
}

void tp_dns_name_fold_copy(struct tp_dns_name *dst, const struct tp_dns_name *src)
{
	size_t len = src->len <= TP_DNS_NAME_MAX ? src->len : TP_DNS_NAME_MAX;
	fold_octets(dst->wire, src->wire, len);
	dst->len = (uint16_t)len;
	dst->n_labels = src->n_labels;
}

/* Bounded text writer with a sticky overflow flag: writes stop at size and
 * the caller checks `full` once at the end (STYLE §3.3). */
struct wbuf {
	char *p;
	size_t size;
	size_t len;
	bool full;
};

static void put(struct wbuf *w, char c)
{
	if (w->len < w->size)
		w->p[w->len++] = c;
	else
		w->full = true;
}

/* One label in RFC 1035 §5.1 presentation form, the escaping documented in
 * dns.h: '\' before the characters that are special in master files and
 * \DDD for anything that is not printable ASCII, so the text is ASCII. */
static void put_label(struct wbuf *w, const uint8_t *label, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = label[i];
		switch (c) {
		case '.':
		case '\\':
		case '"':
		case '(':
		case ')':
		case ';':
		case '@':
		case '$':
			put(w, '\\');
			put(w, (char)c);
			break;
		default:
			if (c < 0x21 || c > 0x7e) {
				put(w, '\\');
				put(w, (char)('0' + c / 100));
				put(w, (char)('0' + (c / 10) % 10));
				put(w, (char)('0' + c % 10));
			} else {
				put(w, (char)c);
			}
			break;
		}
	}
}

int tp_dns_name_present(const struct tp_dns_name *name, char *out,
			size_t out_size)
{
	uint8_t off[MAX_LABELS];

	if (name == NULL)
		return TP_EINVAL;
	if (out == NULL || out_size == 0)
		return TP_ENOSPACE;
	int n = label_offsets(name, off);
	if (n < 0)
		return n;

	struct wbuf w = { out, out_size, 0, false };
	if (n == 0)
		put(&w, '.');
	for (int i = 0; i < n; i++) {
		const uint8_t *label = name->wire + off[i];
		put_label(&w, label + 1, label[0]);
		put(&w, '.');
	}
	put(&w, '\0');
	if (w.full) {
		out[out_size - 1] = '\0';
		return TP_ENOSPACE;
	}
	return (int)(w.len - 1); /* <= TP_DNS_PRESENT_MAX */
}

int tp_dns_name_labels(const struct tp_dns_name *name,
		       struct tp_dns_labels *out)
{
	uint8_t off[MAX_LABELS];

	if (name == NULL || out == NULL)
		return TP_EINVAL;
	out->n = 0;
	for (size_t i = 0; i < TP_DNS_LABEL_COLUMNS; i++)
		out->label[i] = NULL;
	int rc = label_offsets(name, off);
	if (rc < 0)
		return rc;
	size_t n = (size_t)rc;

	/* edm-spec §3.6: label0 is the rightmost label. Up to 10 labels get
	 * a column each; beyond that the last column gathers the rest. */
	size_t single = n <= TP_DNS_LABEL_COLUMNS ? n : TP_DNS_LABEL_COLUMNS - 1;
	struct wbuf w = { out->text, sizeof(out->text), 0, false };
	for (size_t col = 0; col < single; col++) {
		const uint8_t *label = name->wire + off[n - 1 - col];
		out->label[col] = out->text + w.len;
		put_label(&w, label + 1, label[0]);
		put(&w, '\0');
	}
	if (n > TP_DNS_LABEL_COLUMNS) {
		/* Remaining labels 0 .. n-10 (left to right), joined with "."
		 * from right to left, as the reference does: for
		 * a.b.c.d.e.f.g.h.i.j.k.l.com. this is "d.c.b.a". */
		out->label[TP_DNS_LABEL_COLUMNS - 1] = out->text + w.len;
		for (size_t k = n - single; k-- > 0;) {
			const uint8_t *label = name->wire + off[k];
			put_label(&w, label + 1, label[0]);
			put(&w, k > 0 ? '.' : '\0');
		}
	}
	/* text holds TP_DNS_PRESENT_MAX + 10 octets; the worst case (every
	 * octet as \DDD plus one terminator or dot per label) fits, so an
	 * overflow here is a bug, not bad input. */
	if (w.full) {
		for (size_t i = 0; i < TP_DNS_LABEL_COLUMNS; i++)
			out->label[i] = NULL;
		return TP_EBUG;
	}
	out->n = (uint8_t)(n < TP_DNS_LABEL_COLUMNS ? n : TP_DNS_LABEL_COLUMNS);
	return 0;
}

/* Reads one presentation character at text[*i] (an escape takes 2 or 4),
 * advancing *i past it. Returns the octet, or -1 for a bad escape. */
static int text_octet(const char *text, size_t len, size_t *i)
{
	uint8_t c = (uint8_t)text[*i];
	if (c != '\\') {
		*i += 1;
		return c;
	}
	if (*i + 1 >= len)
		return -1;
	uint8_t next = (uint8_t)text[*i + 1];
	if (!tp_ascii_isdigit(next)) {
		*i += 2;
		return next;
	}
	if (len - *i < 4 || !tp_ascii_isdigit((uint8_t)text[*i + 2]) ||
	    !tp_ascii_isdigit((uint8_t)text[*i + 3]))
		return -1;
	unsigned v = (unsigned)(next - '0') * 100u + (unsigned)((uint8_t)text[*i + 2] - '0') * 10u +
		     (unsigned)((uint8_t)text[*i + 3] - '0');
	*i += 4;
	return v <= 255 ? (int)v : -1;
}

int tp_dns_name_from_text(const char *text, size_t len, struct tp_dns_name *out)
{
	if (text == NULL || out == NULL)
		return TP_EINVAL;
	if (len == 0)
		return TP_EMALF;
	if (len == 1 && text[0] == '.') {
		out->wire[0] = 0;
		out->len = 1;
		out->n_labels = 0;
		return 0;
	}

	size_t wlen = 0;
	unsigned n_labels = 0;
	size_t i = 0;
	while (i < len) {
		/* One label: octets up to an unescaped dot or the end. */
		size_t label_at = wlen++;
		size_t label_len = 0;
		while (i < len && text[i] != '.') {
			int c = text_octet(text, len, &i);
			if (c < 0)
				return TP_EMALF;
			if (label_len == TP_DNS_LABEL_MAX)
				return TP_ELABEL;
			/* Room for this octet and the root octet after it. */
			if (wlen + 2 > TP_DNS_NAME_MAX)
				return TP_ENAMELEN;
			out->wire[wlen++] = (uint8_t)c;
			label_len++;
		}
		if (label_len == 0)
			return TP_EMALF; /* "..", a leading dot, or "x.." */
		out->wire[label_at] = (uint8_t)label_len;
		n_labels++;
		if (i < len)
			i++; /* the dot; a trailing one ends the loop */
	}
	out->wire[wlen++] = 0;
	out->len = (uint16_t)wlen;
	out->n_labels = (uint8_t)n_labels;
	return 0;
}

/* RFC 3597 §5 style text for values without a mnemonic. */
static const char *numbered(const char *prefix, unsigned value, char *buf,
			    size_t size)
{
	if (buf == NULL || size == 0)
		return "?";
	int rc = snprintf(buf, size, "%s%u", prefix, value);
	if (rc < 0)
		buf[0] = '\0';
	return buf;
}

/* IANA "Resource Record (RR) TYPEs" registry (RFC 6895 §3.1). */
static const char *type_mnemonic(uint16_t type)
{
	switch (type) {
	case 1: return "A";
	case 2: return "NS";
	case 3: return "MD";
	case 4: return "MF";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 7: return "MB";
	case 8: return "MG";
	case 9: return "MR";
	case 10: return "NULL";
	case 11: return "WKS";
	case 12: return "PTR";
	case 13: return "HINFO";
	case 14: return "MINFO";
	case 15: return "MX";
	case 16: return "TXT";
	case 17: return "RP";
	case 18: return "AFSDB";
	case 19: return "X25";
	case 20: return "ISDN";
	case 21: return "RT";
	case 22: return "NSAP";
	case 23: return "NSAP-PTR";
	case 24: return "SIG";
	case 25: return "KEY";
	case 26: return "PX";
	case 27: return "GPOS";
	case 28: return "AAAA";
	case 29: return "LOC";
	case 30: return "NXT";
	case 31: return "EID";
	case 32: return "NIMLOC";
	case 33: return "SRV";
	case 34: return "ATMA";
	case 35: return "NAPTR";
	case 36: return "KX";
	case 37: return "CERT";
	case 38: return "A6";
	case 39: return "DNAME";
	case 40: return "SINK";
	case 41: return "OPT";
	case 42: return "APL";
	case 43: return "DS";
	case 44: return "SSHFP";
	case 45: return "IPSECKEY";
	case 46: return "RRSIG";
	case 47: return "NSEC";
	case 48: return "DNSKEY";
	case 49: return "DHCID";
	case 50: return "NSEC3";
	case 51: return "NSEC3PARAM";
	case 52: return "TLSA";
	case 53: return "SMIMEA";
	case 55: return "HIP";
	case 56: return "NINFO";
	case 57: return "RKEY";
	case 58: return "TALINK";
	case 59: return "CDS";
	case 60: return "CDNSKEY";
	case 61: return "OPENPGPKEY";
	case 62: return "CSYNC";
	case 63: return "ZONEMD";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 99: return "SPF";
	case 100: return "UINFO";
	case 101: return "UID";
	case 102: return "GID";
	case 103: return "UNSPEC";
	case 104: return "NID";
	case 105: return "L32";
	case 106: return "L64";
	case 107: return "LP";
	case 108: return "EUI48";
	case 109: return "EUI64";
	case 249: return "TKEY";
	case 250: return "TSIG";
	case 251: return "IXFR";
	case 252: return "AXFR";
	case 253: return "MAILB";
	case 254: return "MAILA";
	case 255: return "ANY"; /* IANA writes "*"; tools print ANY */
	case 256: return "URI";
	case 257: return "CAA";
	case 258: return "AVC";
	case 259: return "DOA";
	case 260: return "AMTRELAY";
	case 261: return "RESINFO";
	case 262: return "WALLET";
	case 32768: return "TA";
	case 32769: return "DLV";
	default: return NULL;
	}
}

const char *tp_dns_type_name(uint16_t type, char *buf, size_t size)
{
	const char *s = type_mnemonic(type);
	return s != NULL ? s : numbered("TYPE", type, buf, size);
}

/* IANA "DNS CLASSes" registry (RFC 6895 §3.2). */
const char *tp_dns_class_name(uint16_t cls, char *buf, size_t size)
{
	switch (cls) {
	case 1: return "IN";
	case 3: return "CH";
	case 4: return "HS";
	case 254: return "NONE"; /* RFC 2136 */
	case 255: return "ANY";
	default: return numbered("CLASS", cls, buf, size);
	}
}

/* IANA "DNS RCODEs" registry (RFC 6895 §2.3). Value 16 is BADVERS in
 * the EDNS rcode space (RFC 6891) and BADSIG only inside TSIG records;
 * message rcodes are what we name, so 16 is BADVERS. */
const char *tp_dns_rcode_name(uint16_t rcode, char *buf, size_t size)
{
	switch (rcode) {
	case 0: return "NOERROR";
	case 1: return "FORMERR";
	case 2: return "SERVFAIL";
	case 3: return "NXDOMAIN";
	case 4: return "NOTIMP";
	case 5: return "REFUSED";
	case 6: return "YXDOMAIN";
	case 7: return "YXRRSET";
	case 8: return "NXRRSET";
	case 9: return "NOTAUTH";
	case 10: return "NOTZONE";
	case 11: return "DSOTYPENI";
	case 16: return "BADVERS";
	case 17: return "BADKEY";
	case 18: return "BADTIME";
	case 19: return "BADMODE";
	case 20: return "BADNAME";
	case 21: return "BADALG";
	case 22: return "BADTRUNC";
	case 23: return "BADCOOKIE";
	default: return numbered("RCODE", rcode, buf, size);
	}
}
