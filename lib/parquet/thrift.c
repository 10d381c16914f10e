/* SPDX-License-Identifier: BSD-2-Clause
 *
 * thrift.c - Thrift compact protocol encoder and bounded decoder (thrift.h).
 *
 * Written from the compact protocol specification. The decoder is the only
 * code that turns footer and page-header bytes of a file into numbers, so
 * it never trusts them: varints longer than their type allows, values that
 * do not fit the declared width, field ids that overflow i16, unknown wire
 * types, sizes larger than the bytes left and nesting deeper than
 * TP_PQ_THRIFT_DEPTH_MAX are all errors. It never allocates.
 */
#include "parquet/thrift.h"

#include <string.h>

/* Longest varint for a 64-bit value: ceil(64 / 7). */
#define VARINT64_MAX_BYTES 10u

/* ---- encoder --------------------------------------------------------------- */

static uint64_t zigzag64(int64_t v)
{
	/* (v << 1) ^ (v >> 63) computed on unsigned bits: no signed overflow,
	 * no right shift of a negative value. */
	uint64_t u = (uint64_t)v;
	return (u << 1) ^ (v < 0 ? UINT64_MAX : 0u);
}

void tc_w_init(struct tc_w *w, struct pq_buf *b)
{
	w->b = b;
	w->depth = 0;
	w->last[0] = 0;
}

static void field_header(struct tc_w *w, int16_t id, uint8_t type)
{
	int16_t last = w->last[w->depth];
	int delta = (int)id - (int)last;
	if (delta > 0 && delta <= 15) {
		pq_buf_byte(w->b, (uint8_t)((unsigned)delta << 4 | type));
	} else {
		pq_buf_byte(w->b, type);
		pq_buf_uleb(w->b, zigzag64(id));
	}
	w->last[w->depth] = id;
}

void tc_w_i8(struct tc_w *w, int16_t id, int8_t v)
{
	field_header(w, id, TC_I8);
	pq_buf_byte(w->b, (uint8_t)v);
}

void tc_w_i32(struct tc_w *w, int16_t id, int32_t v)
{
	field_header(w, id, TC_I32);
	pq_buf_uleb(w->b, zigzag64(v));
}

void tc_w_i64(struct tc_w *w, int16_t id, int64_t v)
{
	field_header(w, id, TC_I64);
	pq_buf_uleb(w->b, zigzag64(v));
}

void tc_w_bool(struct tc_w *w, int16_t id, bool v)
{
	field_header(w, id, v ? TC_TRUE : TC_FALSE);
}

void tc_w_binary(struct tc_w *w, int16_t id, const void *p, size_t n)
{
	field_header(w, id, TC_BINARY);
	tc_w_elem_binary(w, p, n);
}

void tc_w_string(struct tc_w *w, int16_t id, const char *s)
{
	tc_w_binary(w, id, s, strlen(s));
}

static void push(struct tc_w *w)
{
	if (w->depth + 1u >= TP_PQ_THRIFT_DEPTH_MAX) {
		/* Our own metadata nests 6 deep; deeper is a bug here. */
		if (w->b->err == 0)
			w->b->err = TP_EBUG;
		return;
	}
	w->depth++;
	w->last[w->depth] = 0;
}

void tc_w_struct(struct tc_w *w, int16_t id)
{
	field_header(w, id, TC_STRUCT);
	push(w);
}

void tc_w_empty(struct tc_w *w, int16_t id)
{
	field_header(w, id, TC_STRUCT);
	pq_buf_byte(w->b, TC_STOP);
}

void tc_w_list(struct tc_w *w, int16_t id, uint8_t elem_type, size_t n)
{
	field_header(w, id, TC_LIST);
	if (n < 15) {
		pq_buf_byte(w->b, (uint8_t)(n << 4 | elem_type));
	} else {
		pq_buf_byte(w->b, (uint8_t)(0xf0u | elem_type));
		pq_buf_uleb(w->b, n);
	}
}

void tc_w_elem_i32(struct tc_w *w, int32_t v)
{
	pq_buf_uleb(w->b, zigzag64(v));
}

void tc_w_elem_binary(struct tc_w *w, const void *p, size_t n)
{
	pq_buf_uleb(w->b, n);
	pq_buf_put(w->b, p, n);
}

void tc_w_elem_struct(struct tc_w *w)
{
	push(w);
}

void tc_w_end(struct tc_w *w)
{
	pq_buf_byte(w->b, TC_STOP);
	if (w->depth > 0)
		w->depth--;
}

/* ---- decoder --------------------------------------------------------------- */

void tc_r_init(struct tc_r *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
	r->depth = 0;
}

/* Unsigned LEB128 of at most max_bytes octets. The last allowed octet may
 * not carry bits above 64 (a 10th octet holds only bit 63). */
static int read_uleb(struct tc_r *r, unsigned max_bytes, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < max_bytes; i++) {
		if (r->pos >= r->len)
			return TP_ETRUNC;
		uint8_t c = r->p[r->pos++];
		if (i == VARINT64_MAX_BYTES - 1u && (c & 0x7eu) != 0)
			return TP_EMALF;
		v |= (uint64_t)(c & 0x7fu) << (7u * i);
		if ((c & 0x80u) == 0) {
			*out = v;
			return 0;
		}
	}
	return TP_EMALF;
}

static int64_t unzigzag(uint64_t u)
{
	/* (u >> 1) ^ -(u & 1), on unsigned bits; the final conversion of a
	 * value above INT64_MAX is the two's complement one (C17 6.3.1.3 is
	 * implementation-defined there, and GCC and Clang define it so). */
	uint64_t x = (u >> 1) ^ (0u - (u & 1u));
	return (int64_t)x;
}

/* A zigzag varint that must fit in [lo, hi]. */
static int read_zigzag(struct tc_r *r, unsigned max_bytes, int64_t lo,
		       int64_t hi, int64_t *out)
{
	uint64_t u;
	int rc = read_uleb(r, max_bytes, &u);
	if (rc != 0)
		return rc;
	int64_t v = unzigzag(u);
	if (v < lo || v > hi)
		return TP_EMALF;
	*out = v;
	return 0;
}

int tc_r_field(struct tc_r *r, int16_t *last, int16_t *id, uint8_t *type)
{
	if (r->pos >= r->len)
		return TP_ETRUNC;
	uint8_t c = r->p[r->pos++];
	if (c == TC_STOP) {
		*type = TC_STOP;
		return 0;
	}
	uint8_t t = c & 0x0fu;
	if (t == TC_STOP || t > TC_STRUCT)
		return TP_EMALF;
	unsigned delta = c >> 4;
	int64_t fid;
	if (delta != 0) {
		fid = (int64_t)*last + delta;
		if (fid > INT16_MAX)
			return TP_EMALF;
	} else {
		/* i16 zigzag: at most 3 octets. */
		int rc = read_zigzag(r, 3, INT16_MIN, INT16_MAX, &fid);
		if (rc != 0)
			return rc;
	}
	*id = (int16_t)fid;
	*last = (int16_t)fid;
	*type = t;
	return 0;
}

int tc_r_bool(struct tc_r *r, uint8_t type, bool *out)
{
	(void)r;
	if (type == TC_TRUE)
		*out = true;
	else if (type == TC_FALSE)
		*out = false;
	else
		return TP_EMALF;
	return 0;
}

int tc_r_i8(struct tc_r *r, uint8_t type, int8_t *out)
{
	if (type != TC_I8)
		return TP_EMALF;
	if (r->pos >= r->len)
		return TP_ETRUNC;
	*out = (int8_t)r->p[r->pos++];
	return 0;
}

int tc_r_i32(struct tc_r *r, uint8_t type, int32_t *out)
{
	if (type != TC_I32)
		return TP_EMALF;
	int64_t v;
	int rc = read_zigzag(r, 5, INT32_MIN, INT32_MAX, &v);
	if (rc == 0)
		*out = (int32_t)v;
	return rc;
}

int tc_r_i64(struct tc_r *r, uint8_t type, int64_t *out)
{
	if (type != TC_I64)
		return TP_EMALF;
	return read_zigzag(r, VARINT64_MAX_BYTES, INT64_MIN, INT64_MAX, out);
}

int tc_r_binary(struct tc_r *r, uint8_t type, const uint8_t **out,
		size_t *out_len)
{
	if (type != TC_BINARY)
		return TP_EMALF;
	uint64_t n;
	int rc = read_uleb(r, 5, &n);
	if (rc != 0)
		return rc;
	if (n > r->len - r->pos)
		return TP_ETRUNC;
	*out = r->p + r->pos;
	*out_len = (size_t)n;
	r->pos += (size_t)n;
	return 0;
}

int tc_r_enter(struct tc_r *r, uint8_t type)
{
	if (type != TC_STRUCT)
		return TP_EMALF;
	if (r->depth >= TP_PQ_THRIFT_DEPTH_MAX)
		return TP_ETOOBIG;
	r->depth++;
	return 0;
}

void tc_r_leave(struct tc_r *r)
{
	if (r->depth > 0)
		r->depth--;
}

int tc_r_list(struct tc_r *r, uint8_t type, uint8_t *elem_type, size_t *n)
{
	if (type != TC_LIST && type != TC_SET)
		return TP_EMALF;
	if (r->pos >= r->len)
		return TP_ETRUNC;
	uint8_t c = r->p[r->pos++];
	uint8_t et = c & 0x0fu;
	uint64_t size = c >> 4;
	if (size == 15) {
		int rc = read_uleb(r, 5, &size);
		if (rc != 0)
			return rc;
	}
	/* Element types: a list never holds STOP; booleans appear as 1 (and
	 * some writers use 2). */
	if (et == TC_STOP || et > TC_STRUCT)
		return TP_EMALF;
	/* Every element takes at least one octet. */
	if (size > r->len - r->pos)
		return TP_ETRUNC;
	if (r->depth >= TP_PQ_THRIFT_DEPTH_MAX)
		return TP_ETOOBIG;
	r->depth++;
	*elem_type = et;
	*n = (size_t)size;
	return 0;
}

static int skip_struct(struct tc_r *r)
{
	int16_t last = 0;
	for (;;) {
		int16_t id;
		uint8_t t;
		int rc = tc_r_field(r, &last, &id, &t);
		if (rc != 0)
			return rc;
		if (t == TC_STOP)
			return 0;
		rc = tc_r_skip(r, t, false);
		if (rc != 0)
			return rc;
	}
}

int tc_r_skip(struct tc_r *r, uint8_t type, bool in_list)
{
	uint64_t u;
	int rc;
	switch (type) {
	case TC_TRUE:
	case TC_FALSE:
	case TC_I8:
		/* A boolean field carries its value in the type; a boolean
		 * list element, like an i8, is one octet. */
		if (type != TC_I8 && !in_list)
			return 0;
		if (r->pos >= r->len)
			return TP_ETRUNC;
		r->pos++;
		return 0;
	case TC_I16:
		return read_uleb(r, 3, &u);
	case TC_I32:
		return read_uleb(r, 5, &u);
	case TC_I64:
		return read_uleb(r, VARINT64_MAX_BYTES, &u);
	case TC_DOUBLE:
		if (r->len - r->pos < 8)
			return TP_ETRUNC;
		r->pos += 8;
		return 0;
	case TC_BINARY: {
		const uint8_t *p;
		size_t n;
		return tc_r_binary(r, type, &p, &n);
	}
	case TC_LIST:
	case TC_SET: {
		uint8_t et;
		size_t n;
		rc = tc_r_list(r, type, &et, &n);
		if (rc != 0)
			return rc;
		for (size_t i = 0; i < n; i++) {
			rc = tc_r_skip(r, et, true);
			if (rc != 0)
				return rc;
		}
		tc_r_leave(r);
		return 0;
	}
	case TC_MAP: {
		rc = read_uleb(r, 5, &u);
		if (rc != 0)
			return rc;
		if (u == 0)
			return 0;
		/* Each pair takes at least two octets. */
		if (r->pos >= r->len)
			return TP_ETRUNC;
		uint8_t kv = r->p[r->pos++];
		uint8_t kt = kv >> 4, vt = kv & 0x0fu;
		if (kt == TC_STOP || kt > TC_STRUCT || vt == TC_STOP ||
		    vt > TC_STRUCT)
			return TP_EMALF;
		if (u > (r->len - r->pos) / 2u)
			return TP_ETRUNC;
		if (r->depth >= TP_PQ_THRIFT_DEPTH_MAX)
			return TP_ETOOBIG;
		r->depth++;
		for (uint64_t i = 0; i < u; i++) {
			rc = tc_r_skip(r, kt, true);
			if (rc == 0)
				rc = tc_r_skip(r, vt, true);
			if (rc != 0)
				return rc;
		}
		tc_r_leave(r);
		return 0;
	}
	case TC_STRUCT:
		rc = tc_r_enter(r, type);
		if (rc != 0)
			return rc;
		rc = skip_struct(r);
		tc_r_leave(r);
		return rc;
	default:
		return TP_EMALF;
	}
}
