/* SPDX-License-Identifier: BSD-2-Clause
 *
 * dnstap.c - hand-written zero-copy protobuf decoder for dnstap.Dnstap.
 *
 * Why not protobuf-c on the hot path: it allocates and copies every frame.
 * This decoder walks the buffer once, keeps views and allocates nothing.
 * Its semantics follow the protobuf encoding rules so that it agrees with
 * protobuf-c (the oracle in tests/oracle/): the last occurrence of a scalar
 * wins, a repeated embedded Message merges into the earlier one, unknown
 * fields are skipped, groups are rejected.
 */
#include "dnstap/dnstap.h"

#include <string.h>

#include "util/limits.h"
#include "util/rd.h"

enum wire_type { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* The per-field readers run a dozen times per frame: inlined into the field
 * switch, each is a few instructions instead of a call. */
#define HOT static inline __attribute__((always_inline))

struct pb {
	const uint8_t *p;
	size_t len, pos;
};

static int read_varint_long(struct pb *b, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < TP_PB_VARINT_MAX_BYTES; i++) {
		if (b->pos >= b->len)
			return TP_EMALF;
		uint8_t byte = b->p[b->pos++];
		v |= (uint64_t)(byte & 0x7f) << (7 * i);
		if ((byte & 0x80) == 0) {
			*out = v;
			return 0;
		}
	}
	return TP_EMALF;
}

/* Keys and most values of a dnstap message fit one octet: that case
 * stays inline, the loop does not. */
HOT int read_varint(struct pb *b, uint64_t *out)
{
	if (b->pos < b->len && b->p[b->pos] < 0x80) {
		*out = b->p[b->pos++];
		return 0;
	}
	return read_varint_long(b, out);
}

/* Reads a field key; returns the field number through out_field. */
HOT int read_key(struct pb *b, uint32_t *out_field, enum wire_type *out_wt)
{
	uint64_t key;
	int rc = read_varint(b, &key);
	if (rc < 0)
		return rc;
	uint64_t field = key >> 3;
	if (field == 0 || field > 0x1fffffffu)
		return TP_EMALF;
	unsigned wt = (unsigned)(key & 7u);
	if (wt != WT_VARINT && wt != WT_I64 && wt != WT_LEN && wt != WT_I32)
		return TP_EMALF; /* groups (3, 4) and reserved types */
	*out_field = (uint32_t)field;
	*out_wt = (enum wire_type)wt;
	return 0;
}

HOT int read_len(struct pb *b, struct tp_dt_bytes *out)
{
	uint64_t n;
	int rc = read_varint(b, &n);
	if (rc < 0)
		return rc;
	if (n > b->len - b->pos)
		return TP_EMALF;
	out->p = b->p + b->pos;
	out->len = (uint32_t)n; /* n <= len - pos, and frames are < 4 GiB */
	b->pos += (size_t)n;
	return 0;
}

static int skip_field(struct pb *b, enum wire_type wt)
{
	uint64_t ignored;
	struct tp_dt_bytes view;

	switch (wt) {
	case WT_VARINT:
		return read_varint(b, &ignored);
	case WT_I64:
		if (b->len - b->pos < 8)
			return TP_EMALF;
		b->pos += 8;
		return 0;
	case WT_I32:
		if (b->len - b->pos < 4)
			return TP_EMALF;
		b->pos += 4;
		return 0;
	case WT_LEN:
		return read_len(b, &view);
	}
	return TP_EMALF;
}

/* A known field must arrive with its declared wire type. */
HOT int expect(enum wire_type got, enum wire_type want)
{
	return got == want ? 0 : TP_EMALF;
}

HOT int read_u32(struct pb *b, enum wire_type wt, uint32_t *out, bool *has)
{
	uint64_t v;
	int rc = expect(wt, WT_VARINT);
	if (rc == 0)
		rc = read_varint(b, &v);
	if (rc < 0)
		return rc;
	*out = (uint32_t)v; /* protobuf: a uint32/enum keeps the low 32 bits */
	*has = true;
	return 0;
}

HOT int read_u64(struct pb *b, enum wire_type wt, uint64_t *out, bool *has)
{
	int rc = expect(wt, WT_VARINT);
	if (rc == 0)
		rc = read_varint(b, out);
	if (rc < 0)
		return rc;
	*has = true;
	return 0;
}

HOT int read_fixed32(struct pb *b, enum wire_type wt, uint32_t *out, bool *has)
{
	int rc = expect(wt, WT_I32);
	if (rc < 0)
		return rc;
	if (b->len - b->pos < 4)
		return TP_EMALF;
	*out = tp_load_le32(b->p + b->pos);
	b->pos += 4;
	*has = true;
	return 0;
}

HOT int read_bytes(struct pb *b, enum wire_type wt, struct tp_dt_bytes *out)
{
	int rc = expect(wt, WT_LEN);
	return rc < 0 ? rc : read_len(b, out);
}

static int decode_message(const struct tp_dt_bytes *in, struct tp_dt_msg *m)
{
	struct pb b = { .p = in->p, .len = in->len, .pos = 0 };

	while (b.pos < b.len) {
		uint32_t field;
		enum wire_type wt;
		int rc = read_key(&b, &field, &wt);
		if (rc < 0)
			return rc;
		switch (field) {
		case 1:
			rc = read_u32(&b, wt, &m->type, &m->has_type);
			break;
		case 2:
			rc = read_u32(&b, wt, &m->socket_family, &m->has_socket_family);
			break;
		case 3:
			rc = read_u32(&b, wt, &m->socket_protocol, &m->has_socket_protocol);
			break;
		case 4:
			rc = read_bytes(&b, wt, &m->query_address);
			break;
		case 5:
			rc = read_bytes(&b, wt, &m->response_address);
			break;
		case 6:
			rc = read_u32(&b, wt, &m->query_port, &m->has_query_port);
			break;
		case 7:
			rc = read_u32(&b, wt, &m->response_port, &m->has_response_port);
			break;
		case 8:
			rc = read_u64(&b, wt, &m->query_time_sec, &m->has_query_time_sec);
			break;
		case 9:
			rc = read_fixed32(&b, wt, &m->query_time_nsec, &m->has_query_time_nsec);
			break;
		case 10:
			rc = read_bytes(&b, wt, &m->query_message);
			break;
		case 11:
			rc = read_bytes(&b, wt, &m->query_zone);
			break;
		case 12:
			rc = read_u64(&b, wt, &m->response_time_sec, &m->has_response_time_sec);
			break;
		case 13:
			rc = read_fixed32(&b, wt, &m->response_time_nsec,
					  &m->has_response_time_nsec);
			break;
		case 14:
			rc = read_bytes(&b, wt, &m->response_message);
			break;
		default:
			rc = skip_field(&b, wt);
			break;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tp_dt_decode(const uint8_t *frame, size_t len, struct tp_dt_msg *out)
{
	struct pb b = { .p = frame, .len = len, .pos = 0 };
	bool has_dnstap_type = false;

	memset(out, 0, sizeof(*out));
	while (b.pos < b.len) {
		uint32_t field;
		enum wire_type wt;
		struct tp_dt_bytes view;
		int rc = read_key(&b, &field, &wt);
		if (rc < 0)
			return rc;
		switch (field) {
		case 1:
			rc = read_bytes(&b, wt, &out->identity);
			break;
		case 2:
			rc = read_bytes(&b, wt, &out->version);
			break;
		case 14:
			rc = read_bytes(&b, wt, &view);
			if (rc == 0) {
				/* A second occurrence merges (protobuf rule). */
				out->has_message = true;
				rc = decode_message(&view, out);
			}
			break;
		case 15:
			rc = read_u32(&b, wt, &out->dnstap_type, &has_dnstap_type);
			break;
		default:
			rc = skip_field(&b, wt);
			break;
		}
		if (rc < 0)
			return rc;
	}
	return has_dnstap_type ? 0 : TP_EMISSING;
}

static const char *const type_names[TP_DT_TYPE_MAX + 1] = {
#define TP_DT_TYPE_NAME(name, value) [value] = #name,
	TP_DT_MESSAGE_TYPES(TP_DT_TYPE_NAME)
#undef TP_DT_TYPE_NAME
};

const char *tp_dt_type_name(uint32_t type)
{
	return type <= TP_DT_TYPE_MAX ? type_names[type] : NULL;
}

uint32_t tp_dt_type_from_name(const char *name, size_t len)
{
	for (uint32_t t = 1; t <= TP_DT_TYPE_MAX; t++) {
		if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0)
			return t;
	}
	return 0;
}
