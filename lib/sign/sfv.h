/* SPDX-License-Identifier: BSD-2-Clause
 *
 * sfv.h - RFC 8941 structured field values: the dictionary parser that
 * Signature-Input, Signature (RFC 9421 §4) and Content-Digest (RFC 9530
 * §2) need, and the base64 of their byte sequences.
 *
 * The input is a header value from the network, so the parser is strict
 * (RFC 8941 §4.2: any deviation fails the whole field) and bounded: a
 * parsed dictionary lives in one fixed-size struct, and a field with more
 * members, items or parameters than it holds is refused, never truncated.
 * Nothing is copied: every key, string, token and byte sequence is a view
 * into the caller's text, which must outlive the dictionary. Unlike
 * RFC 8941, duplicate keys are kept (in order) rather than the last one
 * winning: a verifier must see "sig1=..., sig1=..." to refuse it.
 */
#ifndef TP_SIGN_SFV_H
#define TP_SIGN_SFV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Ceilings of one parsed dictionary; far above what RFC 9421 or RFC 9530
 * fields carry, small enough for the struct to be a few tens of KiB. */
#define TP_SFV_MEMBERS_MAX 64u
#define TP_SFV_ITEMS_MAX 256u
#define TP_SFV_PARAMS_MAX 256u

enum tp_sfv_type {
	TP_SFV_INTEGER,
	TP_SFV_DECIMAL,
	TP_SFV_STRING,
	TP_SFV_TOKEN,
	TP_SFV_BYTES,
	TP_SFV_BOOLEAN,
};

/* A borrowed view into the parsed text. */
struct tp_sfv_span {
	const char *p;
	size_t len;
};

struct tp_sfv_bare {
	enum tp_sfv_type type;
	int64_t integer;   /* INTEGER; DECIMAL scaled by 1000 */
	bool boolean;      /* BOOLEAN */
	/* STRING: the text between the quotes, still escaped (escaped tells
	 * whether a backslash occurs); TOKEN: the token; BYTES: the base64
	 * between the colons. */
	struct tp_sfv_span text;
	bool escaped;
};

struct tp_sfv_param {
	struct tp_sfv_span key;
	struct tp_sfv_bare value;
};

struct tp_sfv_item {
	struct tp_sfv_bare bare;
	uint16_t first_param, n_params; /* into dict.params */
};

struct tp_sfv_member {
	struct tp_sfv_span key;
	bool inner;                  /* an inner list, else an item */
	struct tp_sfv_bare bare;     /* the item when !inner */
	uint16_t first_item, n_items;   /* the inner list when inner */
	uint16_t first_param, n_params; /* the member's own parameters */
	/* The value exactly as received: from the '(' (or the item) to the end
	 * of the last parameter. RFC 9421 §2.3 signs these bytes. */
	struct tp_sfv_span raw;
};

struct tp_sfv_dict {
	size_t n_members, n_items, n_params;
	struct tp_sfv_member members[TP_SFV_MEMBERS_MAX];
	struct tp_sfv_item items[TP_SFV_ITEMS_MAX];
	struct tp_sfv_param params[TP_SFV_PARAMS_MAX];
};

/* Parse text[0..len) (no NUL needed; a NUL inside is malformed) as an
 * RFC 8941 §3.2 dictionary into *out (overwritten).
 * Returns 0, TP_EINVAL (NULL argument), TP_EMALF (not a dictionary; also
 * an empty field) or TP_ETOOBIG (more than the ceilings above). */
int tp_sfv_parse_dict(const char *text, size_t len,
		      struct tp_sfv_dict *out) TP_WUR;

/* Whether a span equals the NUL-terminated s. */
bool tp_sfv_span_is(struct tp_sfv_span span, const char *s);

/* Decode the base64 (RFC 4648 §4, '=' padding optional as RFC 8941 §4.2.7
 * allows) of a byte sequence into out[0..out_size).
 * Returns 0 and *out_len, TP_EINVAL, TP_EMALF (bad character, length,
 * padding or non-zero trailing bits) or TP_ENOSPACE. */
int tp_sfv_bytes_decode(struct tp_sfv_span b64, uint8_t *out, size_t out_size,
			size_t *out_len) TP_WUR;

/* Encode in[0..len) as padded base64 into out (NUL-terminated).
 * out_size must be at least 4 * ceil(len / 3) + 1.
 * Returns 0, TP_EINVAL or TP_ENOSPACE. */
int tp_sfv_bytes_encode(const uint8_t *in, size_t len, char *out,
			size_t out_size) TP_WUR;

#endif
