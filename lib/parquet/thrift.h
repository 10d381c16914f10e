/* SPDX-License-Identifier: BSD-2-Clause
 *
 * thrift.h - the Thrift compact protocol, as far as Parquet metadata uses it.
 *
 * Parquet serializes its FileMetaData and page headers with Thrift's compact
 * protocol: field headers that carry the id delta and type in one octet,
 * zigzag varints for integers, length-prefixed binaries, size-prefixed
 * lists. The encoder writes into a pq_buf (sticky error, ceiling). The
 * decoder reads untrusted bytes: every varint is bounded in length and
 * range, every length and list size is checked against the bytes left
 * before use, nesting is bounded by TP_PQ_THRIFT_DEPTH_MAX, and skipping an
 * unknown field costs at least one octet per element, so it terminates.
 */
#ifndef TP_PARQUET_THRIFT_H
#define TP_PARQUET_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet_impl.h"

/* Compact protocol type ids (in field headers and list headers). */
enum {
	TC_STOP = 0,
	TC_TRUE = 1, /* boolean true in a field header; "bool" in a list */
	TC_FALSE = 2,
	TC_I8 = 3,
	TC_I16 = 4,
	TC_I32 = 5,
	TC_I64 = 6,
	TC_DOUBLE = 7,
	TC_BINARY = 8,
	TC_LIST = 9,
	TC_SET = 10,
	TC_MAP = 11,
	TC_STRUCT = 12,
};

/* ---- encoder --------------------------------------------------------------- */

struct tc_w {
	struct pq_buf *b;
	unsigned depth;                        /* open structs */
	int16_t last[TP_PQ_THRIFT_DEPTH_MAX];  /* last field id per struct */
};

/* Start encoding a top-level struct into b. */
void tc_w_init(struct tc_w *w, struct pq_buf *b);
void tc_w_i8(struct tc_w *w, int16_t id, int8_t v);
void tc_w_i32(struct tc_w *w, int16_t id, int32_t v);
void tc_w_i64(struct tc_w *w, int16_t id, int64_t v);
void tc_w_bool(struct tc_w *w, int16_t id, bool v);
void tc_w_binary(struct tc_w *w, int16_t id, const void *p, size_t n);
void tc_w_string(struct tc_w *w, int16_t id, const char *s);
/* A struct-valued field; close it with tc_w_end(). */
void tc_w_struct(struct tc_w *w, int16_t id);
/* A struct-valued field holding an empty struct (e.g. StringType). */
void tc_w_empty(struct tc_w *w, int16_t id);
/* A list field of n elements of elem_type; then write the elements with
 * tc_w_elem_*() (struct elements: tc_w_elem_struct() ... tc_w_end()). */
void tc_w_list(struct tc_w *w, int16_t id, uint8_t elem_type, size_t n);
void tc_w_elem_i32(struct tc_w *w, int32_t v);
void tc_w_elem_binary(struct tc_w *w, const void *p, size_t n);
void tc_w_elem_struct(struct tc_w *w);
/* End the innermost open struct (or the top-level one). */
void tc_w_end(struct tc_w *w);

/* ---- decoder --------------------------------------------------------------- */

struct tc_r {
	const uint8_t *p;
	size_t len;
	size_t pos;
	unsigned depth; /* structs and containers entered */
};

void tc_r_init(struct tc_r *r, const uint8_t *p, size_t len);

/* Read a field header inside a struct whose last field id is *last.
 * Returns 0 with *type == TC_STOP at the end of the struct, or 0 with the
 * field's *id and *type (*last updated); TP_ETRUNC or TP_EMALF. */
int tc_r_field(struct tc_r *r, int16_t *last, int16_t *id,
	       uint8_t *type) TP_WUR;

/* Field values. Each checks that type is the expected wire type
 * (TP_EMALF otherwise) and the value's range. */
int tc_r_bool(struct tc_r *r, uint8_t type, bool *out) TP_WUR;
int tc_r_i8(struct tc_r *r, uint8_t type, int8_t *out) TP_WUR;
int tc_r_i32(struct tc_r *r, uint8_t type, int32_t *out) TP_WUR;
int tc_r_i64(struct tc_r *r, uint8_t type, int64_t *out) TP_WUR;
/* A view into the input, valid as long as it is. */
int tc_r_binary(struct tc_r *r, uint8_t type, const uint8_t **out,
		size_t *out_len) TP_WUR;
/* A list header: element type and count; the count is at most the octets
 * left (each element takes at least one). Enters one nesting level; call
 * tc_r_leave() after the elements. */
int tc_r_list(struct tc_r *r, uint8_t type, uint8_t *elem_type,
	      size_t *n) TP_WUR;
/* Enter a struct-valued field (checks the type and the depth), or leave a
 * struct or list. */
int tc_r_enter(struct tc_r *r, uint8_t type) TP_WUR;
void tc_r_leave(struct tc_r *r);

/* Skip a value of the given wire type (in a field: TC_TRUE and TC_FALSE
 * carry no octets). in_list: the value is a list element, where booleans
 * take one octet. */
int tc_r_skip(struct tc_r *r, uint8_t type, bool in_list) TP_WUR;

#endif
