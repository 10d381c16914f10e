/* SPDX-License-Identifier: BSD-2-Clause
 *
 * dns.h - DNS wire parsing for the edge: header, question, OPT; names.
 *
 * The edge needs the question of a response (or query), its rcode including
 * the EDNS extended bits, and whether an EDNS Client Subnet option is present.
 * tp_dns_parse() walks the whole message so that a message a real DNS library
 * would reject is rejected here too, but it copies nothing but the first
 * question name. Every length is checked against the end of the buffer before
 * it is used; name decoding is iterative and follows compression pointers
 * only backwards, with a bounded number of hops (peers.md §3 items 8-10).
 *
 * Names are kept in uncompressed wire form with their original case; the
 * functions below fold case (ASCII A-Z only, SPEC §4), render RFC 1035
 * presentation form and split labels for the Parquet label columns.
 */
#ifndef TP_DNS_DNS_H
#define TP_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/limits.h"

/* A domain name in uncompressed wire form, root label included. */
struct tp_dns_name {
	uint8_t wire[TP_DNS_NAME_MAX];
	uint16_t len;     /* octets used in wire, 1..255 */
	uint8_t n_labels; /* labels, root excluded: 0 for "." */
};

struct tp_dns_msg {
	uint16_t id;
	uint16_t flags; /* header octets 2-3 as on the wire (QR, opcode, ..., RCODE) */
	uint16_t qdcount, ancount, nscount, arcount;
	uint16_t rcode; /* 4 header bits, plus OPT extended bits << 4 when present */
	uint8_t opcode;
	bool has_opt;
	bool has_ecs;   /* OPT carries option 8 (EDNS Client Subnet, RFC 7871) */
	uint8_t edns_version;
	bool edns_do;
	uint16_t edns_udp_size;
	/* First question; valid only when qdcount >= 1. */
	struct tp_dns_name qname;
	uint16_t qtype, qclass;
};

/* Parse a whole DNS message.
 *   wire, len: borrowed for the call only.
 *   out: filled on success; contents undefined on failure.
 * Returns 0 (QDCOUNT 0 and > 1 are not errors: the caller decides), or
 *   TP_ETRUNC   fewer than 12 octets, or a section runs past the end;
 *   TP_EMALF    a record is malformed (e.g. OPT outside ADDITIONAL, two OPTs,
 *               OPT with a name other than root, bad option lengths; a name
 *               inside RDATA that overruns RDLENGTH, or RDATA of a type
 *               with a fixed layout (A, AAAA, NS, CNAME, SOA, MX, SRV, ...)
 *               that does not fill RDLENGTH exactly);
 *   TP_ELOOP    a compression pointer points forward, at itself, into the
 *               current label sequence or the 12-octet header, or too many
 *               hops are needed;
 *   TP_ELABEL   a label type other than 00 or 11 (RFC 6891 §5), or a label
 *               longer than 63 octets;
 *   TP_ENAMELEN a name longer than 255 octets once decompressed;
 *   TP_EINVAL   out is NULL, or wire is NULL with len > 0.
 * Octets after the last record are tolerated (as common DNS libraries do).
 * When qdcount is 0, out->qname.len is 0. */
int tp_dns_parse(const uint8_t *wire, size_t len, struct tp_dns_msg *out) TP_WUR;

/* Fold ASCII A-Z to a-z in place; every other octet is left alone. */
void tp_dns_name_fold(struct tp_dns_name *name);

/* *dst = src folded, copying only the octets in use (a struct copy moves
 * all 255). dst must not overlap src. */
void tp_dns_name_fold_copy(struct tp_dns_name *dst, const struct tp_dns_name *src);

/* Render the RFC 1035 presentation form with a trailing dot ("." for root).
 * Inside a label, '.' '\\' '"' '(' ')' ';' '@' '$' are escaped with a
 * backslash; octets below 0x21 or above 0x7e become \DDD (three decimal
 * digits). The result is therefore plain ASCII, hence valid UTF-8.
 *   out: written with a NUL terminator; out_size >= TP_DNS_PRESENT_MAX
 *        always suffices.
 * Returns the length without the NUL, TP_ENOSPACE (out is then an empty or
 * cut string, still NUL-terminated when out_size > 0), TP_EMALF if name is
 * not a valid uncompressed wire name, or TP_EINVAL if name is NULL. */
int tp_dns_name_present(const struct tp_dns_name *name, char *out,
			size_t out_size) TP_WUR;

/* Label columns (SPEC §4, edm-spec §3.6): label[0] is the rightmost label
 * (the TLD), label[1] the next, and so on. With more than 10 labels,
 * label[0..8] are the nine rightmost and label[9] holds the remaining
 * labels, each in presentation form, joined with "." from right to left
 * (a.b.c.d.e.f.g.h.i.j.k.l.com. gives label9 = "d.c.b.a"). Root: n = 0. */
struct tp_dns_labels {
	uint8_t n; /* columns used, 0..10 */
	const char *label[TP_DNS_LABEL_COLUMNS]; /* point into text, NUL-terminated */
	char text[TP_DNS_PRESENT_MAX + TP_DNS_LABEL_COLUMNS];
};

/* Split name into label columns, each label in presentation form (escaped
 * as tp_dns_name_present does, without a trailing dot).
 * Unused columns are NULL. The pointers stay valid as long as *out does.
 * Returns 0, TP_EMALF if name is not a valid wire name, or TP_EINVAL if an
 * argument is NULL. */
int tp_dns_name_labels(const struct tp_dns_name *name,
		       struct tp_dns_labels *out) TP_WUR;

/* Parse RFC 1035 presentation form ("www.example.com.", "a\\.b.", "\\195x.")
 * into wire form. A trailing dot is optional ("." alone is the root); "\\X"
 * stands for the octet X and "\\DDD" for a decimal octet value 0-255.
 *   text, len: borrowed; need not be NUL-terminated.
 * Returns 0, or TP_EMALF (empty label, bad escape), TP_ELABEL (label over 63
 * octets), TP_ENAMELEN (over 255 octets). */
int tp_dns_name_from_text(const char *text, size_t len,
			  struct tp_dns_name *out) TP_WUR;

/* Mnemonics for counters and summaries: IANA names ("A", "NOERROR"), or
 * RFC 3597 style "TYPE65280" / "CLASS42" / "RCODE23" for unknown values.
 *   buf: receives the text when it is not a constant; size >= 16.
 * Returns a pointer to a constant string or to buf (the constant "?" when
 * buf is NULL or size is 0 and the value has no mnemonic). */
const char *tp_dns_type_name(uint16_t type, char *buf, size_t size);
const char *tp_dns_class_name(uint16_t cls, char *buf, size_t size);
const char *tp_dns_rcode_name(uint16_t rcode, char *buf, size_t size);

#endif
