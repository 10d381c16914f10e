/* SPDX-License-Identifier: BSD-2-Clause
 *
 * reader.c - streaming Parquet reader for flat tables (see parquet.h).
 *
 * Used by `tapir inspect` on files that may come from anywhere, and fuzzed:
 * every octet is untrusted. The footer is decoded with the bounded Thrift
 * decoder into plain structs (names and metadata strings stay views into
 * the file), then checked as a whole: the schema must be flat and inside
 * the supported subset, row counts must add up, every column chunk must
 * describe its own column and lie inside the data area. Rows are then
 * produced column by column from one page per column at a time; each page
 * header is decoded only when its turn comes, every page size is checked
 * against TP_PQ_PAGE_MAX and the chunk's bounds before anything is
 * allocated, and the memory held in page buffers is capped by
 * TP_PQ_READER_MEM_MAX. A failure is sticky: the reader never returns a
 * row from a file it has found inconsistent.
 *
 * Arrays decoded from the footer grow as their elements decode rather than
 * by the declared count, so a forged count costs nothing before it fails.
 */
#include "parquet/parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "parquet/parquet_impl.h"
#include "parquet/thrift.h"
#include "util/rd.h"

#define TRY(expr)                      \
	do {                           \
		int try_rc_ = (expr);  \
		if (try_rc_ != 0)      \
			return try_rc_; \
	} while (0)

/* ---- decoded footer ---------------------------------------------------------- */

/* One SchemaElement as found, before it is judged. */
struct relem {
	uint32_t seen;          /* bit per field id present */
	int32_t type, rep, num_children, ct;
	const uint8_t *name;    /* view into the file */
	size_t name_len;
	int lt;                 /* LogicalType member id, 0 if absent */
	int lt_members;         /* members seen in the union (must be 1) */
	bool lt_utc;
	int lt_unit;            /* TimeUnit member id */
	int8_t lt_bits;
	bool lt_signed;
	uint32_t lt_seen;       /* required fields of the member struct */
};

struct rchunk {
	uint32_t seen, meta_seen;
	bool has_meta;
	int32_t type, codec;
	int64_t num_values, total_comp, data_off, dict_off;
	const uint8_t *path0;   /* first path_in_schema element */
	size_t path0_len;
	size_t path_n;
	uint64_t start, end;    /* byte range of the pages, once validated */
};

struct rrg {
	uint32_t seen;
	int64_t num_rows;
	struct rchunk *chunks;  /* from realloc */
	size_t n_chunks;
	bool has_columns;
};

struct rkv {
	struct tp_pq_bytes key, value;
};

/* ---- per-column cursor -------------------------------------------------------- */

struct rcur {
	const struct rchunk *ch;
	uint64_t pos, end;      /* next page header; end of the chunk */
	uint64_t chunk_left;    /* values still to come from this chunk */
	bool seen_data;         /* a data page was read (no dictionary after) */

	uint8_t *buf;           /* from realloc: decompressed data page */
	size_t buf_cap;
	const uint8_t *pg;      /* the current data page: buf or the file */
	size_t pg_len;
	uint64_t page_left;     /* values (with nulls) left in the page */
	bool page_dict;         /* values are dictionary indices */
	struct pq_rle_dec defs, idx;
	size_t vpos;            /* PLAIN: octet of the next value in pg */
	uint64_t bit;           /* PLAIN BOOLEAN: bit of the next value */

	bool has_dict;
	uint8_t *dbuf;          /* from realloc: decompressed dictionary */
	size_t dbuf_cap;
	const uint8_t *dict;    /* dbuf or the file */
	size_t dict_len;
	struct tp_pq_bytes *dvals; /* from realloc: BYTE_ARRAY entries */
	size_t dvals_cap;
	uint32_t n_dict;
};

struct tp_pq_reader {
	uint8_t *owned;          /* from malloc: file read by tp_pq_reader_open */
	const uint8_t *data;     /* the whole file */
	size_t len;
	uint64_t data_end;       /* start of the footer */

	struct relem *elems;     /* from realloc: schema as decoded */
	size_t n_elems;
	bool has_schema;
	struct tp_pq_column *cols; /* from calloc */
	char **names;            /* from calloc: NUL-terminated copies */
	size_t n_cols;

	uint32_t seen;           /* FileMetaData fields present */
	int64_t num_rows;
	struct rrg *rgs;         /* from realloc */
	size_t n_rgs;
	bool has_rgs;
	struct rkv *kv;          /* from realloc */
	size_t n_kv;
	bool has_kv;
	struct tp_pq_bytes created_by;

	size_t rg;               /* next row group to open */
	uint64_t rg_left;        /* rows left in the open one */
	struct rcur *cur;        /* from calloc, n_cols */
	struct tp_pq_value *row; /* from calloc, n_cols */
	ZSTD_DCtx *zd;           /* created on the first Zstd page */
	size_t mem;              /* octets held in page buffers */
	int err;                 /* sticky */
};

/* ---- Thrift helpers ------------------------------------------------------------ */

/* The bit of a field id in a seen/required mask (ids below 32). */
#define FLD(id) (1u << (id))

static void mark(uint32_t *seen, int16_t id)
{
	if (id >= 0 && id < 32)
		*seen |= 1u << id;
}

static bool has(uint32_t seen, int id)
{
	return (seen >> id) & 1u;
}

/* Decode one field of a struct: its value starts at t. */
typedef int (*field_fn)(struct tc_r *t, int16_t id, uint8_t ty, void *ctx);

/* Decode the fields of the struct at t, one call of fn per field, marking
 * each id in *seen; at the end every field in required must have been seen
 * (TP_EMISSING). The one loop behind every struct of the footer and the
 * page headers; what a struct checks beyond its required fields (unions,
 * repeated fields) stays with its decoder. */
static int dec_fields(struct tc_r *t, field_fn fn, void *ctx, uint32_t *seen,
		      uint32_t required)
{
	int16_t last = 0, id;
	uint8_t ty;
	for (;;) {
		TRY(tc_r_field(t, &last, &id, &ty));
		if (ty == TC_STOP)
			break;
		mark(seen, id);
		TRY(fn(t, id, ty, ctx));
	}
	return (*seen & required) == required ? 0 : TP_EMISSING;
}

/* Decode a struct-valued field (or list element) with fn. */
typedef int (*struct_fn)(struct tc_r *t, void *ctx);

static int dec_struct(struct tc_r *t, uint8_t type, struct_fn fn, void *ctx)
{
	TRY(tc_r_enter(t, type));
	int rc = fn(t, ctx);
	tc_r_leave(t);
	return rc;
}

/* Room for element n of an array of elem-sized items, grown geometrically
 * but never past max elements. Returns the (maybe moved) array, or NULL
 * with *rc set (TP_ETOOBIG, -ENOMEM; the old array is still valid). */
static void *grow_one(void *arr, size_t n, size_t *cap, size_t elem,
		      size_t max, int *rc)
{
	if (n >= max) {
		*rc = TP_ETOOBIG;
		return NULL;
	}
	if (n < *cap)
		return arr;
	size_t c = *cap == 0 ? 4u : *cap * 2u;
	if (c > max)
		c = max;
	uint8_t *p = realloc(arr, c * elem);
	if (p == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	memset(p + *cap * elem, 0, (c - *cap) * elem);
	*cap = c;
	return p;
}

/* Decode a list field of structs into arr (empty, *n == 0), each element
 * by fn into zeroed room grown one element at a time (grow_one) and never
 * past max elements. *once: the field may appear only once (TP_EMALF).
 * Returns the array, moved or not, with *rc set; also on error, when it
 * holds the *n elements begun so far for the owner to free. */
static void *dec_list(struct tc_r *t, uint8_t ty, bool *once, void *arr,
		      size_t *n, size_t elem, size_t max, struct_fn fn,
		      int *rc)
{
	uint8_t et;
	size_t count, cap = 0;
	*rc = 0;
	if (*once) {
		*rc = TP_EMALF;
		return arr;
	}
	*once = true;
	*rc = tc_r_list(t, ty, &et, &count);
	if (*rc != 0)
		return arr;
	if (et != TC_STRUCT) {
		*rc = TP_EMALF;
		return arr;
	}
	for (size_t i = 0; i < count; i++) {
		uint8_t *p = grow_one(arr, *n, &cap, elem, max, rc);
		if (p == NULL)
			return arr;
		arr = p;
		(*n)++;
		*rc = dec_struct(t, et, fn, p + i * elem);
		if (*rc != 0)
			return arr;
	}
	tc_r_leave(t);
	return arr;
}

/* ---- footer: schema ------------------------------------------------------------- */

/* TimeUnit, a union: the member's id is the unit. */
struct unit_dec {
	struct relem *e;
	int n; /* members seen (must be 1) */
};

static int unit_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct unit_dec *u = ctx;
	if (ty != TC_STRUCT)
		return TP_EMALF;
	u->e->lt_unit = id;
	u->n++;
	return tc_r_skip(t, ty, false); /* MilliSeconds{} etc. */
}

static int dec_unit(struct tc_r *t, void *ctx)
{
	struct unit_dec u = { .e = ctx, .n = 0 };
	uint32_t seen = 0;
	TRY(dec_fields(t, unit_field, &u, &seen, 0));
	return u.n == 1 ? 0 : TP_EMALF; /* a union holds one member */
}

static int timestamp_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct relem *e = ctx;
	if (id == 1)
		return tc_r_bool(t, ty, &e->lt_utc);
	if (id == 2)
		return dec_struct(t, ty, dec_unit, e);
	return tc_r_skip(t, ty, false);
}

static int dec_timestamp(struct tc_r *t, void *ctx)
{
	struct relem *e = ctx;
	return dec_fields(t, timestamp_field, e, &e->lt_seen,
			  FLD(1) | FLD(2));
}

static int int_type_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct relem *e = ctx;
	if (id == 1)
		return tc_r_i8(t, ty, &e->lt_bits);
	if (id == 2)
		return tc_r_bool(t, ty, &e->lt_signed);
	return tc_r_skip(t, ty, false);
}

static int dec_int_type(struct tc_r *t, void *ctx)
{
	struct relem *e = ctx;
	return dec_fields(t, int_type_field, e, &e->lt_seen,
			  FLD(1) | FLD(2));
}

static int logical_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct relem *e = ctx;
	if (ty != TC_STRUCT)
		return TP_EMALF;
	e->lt = id;
	e->lt_members++;
	if (id == PQ_LT_TIMESTAMP)
		return dec_struct(t, ty, dec_timestamp, e);
	if (id == PQ_LT_INTEGER)
		return dec_struct(t, ty, dec_int_type, e);
	return tc_r_skip(t, ty, false); /* STRING{} or unknown */
}

static int dec_logical(struct tc_r *t, void *ctx)
{
	struct relem *e = ctx;
	uint32_t seen = 0;
	TRY(dec_fields(t, logical_field, e, &seen, 0));
	return e->lt_members == 1 ? 0 : TP_EMALF;
}

static int elem_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct relem *e = ctx;
	switch (id) {
	case 1:
		return tc_r_i32(t, ty, &e->type);
	case 3:
		return tc_r_i32(t, ty, &e->rep);
	case 4:
		return tc_r_binary(t, ty, &e->name, &e->name_len);
	case 5:
		return tc_r_i32(t, ty, &e->num_children);
	case 6:
		return tc_r_i32(t, ty, &e->ct);
	case 10:
		if (e->lt_members != 0)
			return TP_EMALF; /* twice */
		return dec_struct(t, ty, dec_logical, e);
	default:
		return tc_r_skip(t, ty, false);
	}
}

static int dec_elem(struct tc_r *t, void *ctx)
{
	struct relem *e = ctx;
	return dec_fields(t, elem_field, e, &e->seen, FLD(4));
}

static int dec_schema(struct tc_r *t, uint8_t ty, struct tp_pq_reader *r)
{
	int rc;
	/* One element more than the columns: the root. */
	r->elems = dec_list(t, ty, &r->has_schema, r->elems, &r->n_elems,
			    sizeof(*r->elems), TP_PQ_COLUMNS_MAX + 1u,
			    dec_elem, &rc);
	return rc;
}

/* ---- footer: row groups --------------------------------------------------------- */

/* path_in_schema: a list of strings; flat columns keep only the first. */
static int dec_path(struct tc_r *t, uint8_t ty, struct rchunk *c)
{
	uint8_t et;
	size_t n;
	TRY(tc_r_list(t, ty, &et, &n));
	c->path_n = n;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p;
		size_t len;
		TRY(tc_r_binary(t, et, &p, &len));
		if (i == 0) {
			c->path0 = p;
			c->path0_len = len;
		}
	}
	tc_r_leave(t);
	return 0;
}

static int col_meta_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct rchunk *c = ctx;
	switch (id) {
	case 1:
		return tc_r_i32(t, ty, &c->type);
	case 3:
		return dec_path(t, ty, c);
	case 4:
		return tc_r_i32(t, ty, &c->codec);
	case 5:
		return tc_r_i64(t, ty, &c->num_values);
	case 7:
		return tc_r_i64(t, ty, &c->total_comp);
	case 9:
		return tc_r_i64(t, ty, &c->data_off);
	case 11:
		return tc_r_i64(t, ty, &c->dict_off);
	default:
		/* encodings, sizes we recompute, statistics, ... */
		return tc_r_skip(t, ty, false);
	}
}

static int dec_col_meta(struct tc_r *t, void *ctx)
{
	struct rchunk *c = ctx;
	return dec_fields(t, col_meta_field, c, &c->meta_seen,
			  FLD(1) | FLD(2) | FLD(3) | FLD(4) | FLD(5) | FLD(6) |
				  FLD(7) | FLD(9));
}

static int chunk_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct rchunk *c = ctx;
	switch (id) {
	case 1: /* file_path: data in another file */
	case 8: /* crypto_metadata */
	case 9: /* encrypted_column_metadata */
		return -ENOTSUP;
	case 3:
		if (c->has_meta)
			return TP_EMALF;
		c->has_meta = true;
		return dec_struct(t, ty, dec_col_meta, c);
	default:
		return tc_r_skip(t, ty, false);
	}
}

static int dec_chunk(struct tc_r *t, void *ctx)
{
	struct rchunk *c = ctx;
	/* Field 3 was seen exactly when has_meta is set. */
	return dec_fields(t, chunk_field, c, &c->seen, FLD(3));
}

static int rg_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct rrg *g = ctx;
	int rc;
	if (id == 1) {
		g->chunks = dec_list(t, ty, &g->has_columns, g->chunks,
				     &g->n_chunks, sizeof(*g->chunks),
				     TP_PQ_COLUMNS_MAX, dec_chunk, &rc);
		return rc;
	}
	if (id == 3)
		return tc_r_i64(t, ty, &g->num_rows);
	return tc_r_skip(t, ty, false);
}

static int dec_rg(struct tc_r *t, void *ctx)
{
	struct rrg *g = ctx;
	/* Field 1 was seen exactly when has_columns is set. */
	return dec_fields(t, rg_field, g, &g->seen, FLD(1) | FLD(2) | FLD(3));
}

static int dec_rgs(struct tc_r *t, uint8_t ty, struct tp_pq_reader *r)
{
	int rc;
	r->rgs = dec_list(t, ty, &r->has_rgs, r->rgs, &r->n_rgs,
			  sizeof(*r->rgs), TP_PQ_ROW_GROUPS_MAX, dec_rg, &rc);
	return rc;
}

/* ---- footer: the rest ----------------------------------------------------------- */

static int kv_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct rkv *kv = ctx;
	if (id == 1)
		return tc_r_binary(t, ty, &kv->key.data, &kv->key.len);
	if (id == 2)
		return tc_r_binary(t, ty, &kv->value.data, &kv->value.len);
	return tc_r_skip(t, ty, false);
}

static int dec_kv_elem(struct tc_r *t, void *ctx)
{
	uint32_t seen = 0;
	return dec_fields(t, kv_field, ctx, &seen, FLD(1));
}

static int dec_kv(struct tc_r *t, uint8_t ty, struct tp_pq_reader *r)
{
	int rc;
	r->kv = dec_list(t, ty, &r->has_kv, r->kv, &r->n_kv, sizeof(*r->kv),
			 TP_PQ_KV_MAX, dec_kv_elem, &rc);
	return rc;
}

static int file_meta_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct tp_pq_reader *r = ctx;
	int32_t version;
	switch (id) {
	case 1:
		return tc_r_i32(t, ty, &version);
	case 2:
		return dec_schema(t, ty, r);
	case 3:
		return tc_r_i64(t, ty, &r->num_rows);
	case 4:
		return dec_rgs(t, ty, r);
	case 5:
		return dec_kv(t, ty, r);
	case 6:
		return tc_r_binary(t, ty, &r->created_by.data,
				   &r->created_by.len);
	case 8: /* encryption_algorithm: plaintext footer, encrypted columns */
		return -ENOTSUP;
	default:
		return tc_r_skip(t, ty, false);
	}
}

static int dec_file_meta(struct tc_r *t, struct tp_pq_reader *r)
{
	return dec_fields(t, file_meta_field, r, &r->seen,
			  FLD(1) | FLD(2) | FLD(3) | FLD(4));
}

/* ---- footer: judgement ------------------------------------------------------------ */

/* Map one leaf SchemaElement to a column of the supported subset. */
static int map_column(const struct relem *e, struct tp_pq_column *c)
{
	if (!has(e->seen, 1)) /* a group (nested data), or nothing */
		return has(e->seen, 5) ? -ENOTSUP : TP_EMALF;
	if ((has(e->seen, 5) && e->num_children != 0) || !has(e->seen, 3))
		return TP_EMALF;
	switch (e->rep) {
	case PQ_REP_REQUIRED:
		c->optional = false;
		break;
	case PQ_REP_OPTIONAL:
		c->optional = true;
		break;
	case PQ_REP_REPEATED:
	case PQ_REP_REPEATED + 1: /* VECTOR */
		return -ENOTSUP;
	default:
		return TP_EMALF;
	}
	switch (e->type) {
	case PQ_TYPE_BOOLEAN:
		c->type = TP_PQ_BOOLEAN;
		break;
	case PQ_TYPE_INT32:
		c->type = TP_PQ_INT32;
		break;
	case PQ_TYPE_INT64:
		c->type = TP_PQ_INT64;
		break;
	case PQ_TYPE_BYTE_ARRAY:
		c->type = TP_PQ_BYTE_ARRAY;
		break;
	case PQ_TYPE_INT96:
	case PQ_TYPE_FLOAT:
	case PQ_TYPE_DOUBLE:
	case PQ_TYPE_FIXED_LEN_BYTE_ARRAY:
		return -ENOTSUP;
	default:
		return TP_EMALF;
	}

	int bits = 0;
	bool is_signed = true;
	c->logical = TP_PQ_LT_NONE;
	if (e->lt != 0) {
		/* LogicalType wins over ConvertedType when both are set. */
		switch (e->lt) {
		case PQ_LT_STRING:
			c->logical = TP_PQ_LT_STRING;
			break;
		case PQ_LT_TIMESTAMP:
			if (e->lt_unit != PQ_UNIT_MICROS || !e->lt_utc)
				return -ENOTSUP;
			c->logical = TP_PQ_LT_TIMESTAMP_MICROS;
			break;
		case PQ_LT_INTEGER:
			c->logical = TP_PQ_LT_INT;
			bits = e->lt_bits;
			is_signed = e->lt_signed;
			break;
		default:
			return -ENOTSUP;
		}
	} else if (has(e->seen, 6)) {
		switch (e->ct) {
		case PQ_CT_UTF8:
			c->logical = TP_PQ_LT_STRING;
			break;
		case PQ_CT_TIMESTAMP_MICROS: /* UTC by definition */
			c->logical = TP_PQ_LT_TIMESTAMP_MICROS;
			break;
		case PQ_CT_UINT_8:
		case PQ_CT_UINT_16:
		case PQ_CT_UINT_32:
		case PQ_CT_UINT_64:
			c->logical = TP_PQ_LT_INT;
			bits = 8 << (e->ct - PQ_CT_UINT_8);
			is_signed = false;
			break;
		case PQ_CT_INT_8:
		case PQ_CT_INT_16:
		case PQ_CT_INT_32:
		case PQ_CT_INT_64:
			c->logical = TP_PQ_LT_INT;
			bits = 8 << (e->ct - PQ_CT_INT_8);
			break;
		default:
			return -ENOTSUP;
		}
	}
	/* The annotation must fit the physical type (LogicalTypes.md). */
	switch (c->logical) {
	case TP_PQ_LT_NONE:
		break;
	case TP_PQ_LT_STRING:
		if (c->type != TP_PQ_BYTE_ARRAY)
			return TP_EMALF;
		break;
	case TP_PQ_LT_TIMESTAMP_MICROS:
		if (c->type != TP_PQ_INT64)
			return TP_EMALF;
		break;
	case TP_PQ_LT_INT:
		if (!(c->type == TP_PQ_INT32 &&
		      (bits == 8 || bits == 16 || bits == 32)) &&
		    !(c->type == TP_PQ_INT64 && bits == 64))
			return TP_EMALF;
		c->int_bits = (uint8_t)bits;
		c->int_signed = is_signed;
		break;
	}
	return 0;
}

static int judge_schema(struct tp_pq_reader *r)
{
	if (r->n_elems < 2)
		return TP_EMALF; /* a root and at least one column */
	size_t n = r->n_elems - 1u;
	r->cols = calloc(n, sizeof(*r->cols));
	r->names = calloc(n, sizeof(*r->names));
	if (r->cols == NULL || r->names == NULL)
		return -ENOMEM;
	r->n_cols = n;
	for (size_t i = 0; i < n; i++) {
		const struct relem *e = &r->elems[i + 1u];
		TRY(map_column(e, &r->cols[i]));
		if (e->name_len > TP_PQ_NAME_MAX)
			return TP_ETOOBIG;
		if (memchr(e->name, 0, e->name_len) != NULL)
			return TP_EMALF;
		r->names[i] = malloc(e->name_len + 1u);
		if (r->names[i] == NULL)
			return -ENOMEM;
		if (e->name_len > 0)
			memcpy(r->names[i], e->name, e->name_len);
		r->names[i][e->name_len] = '\0';
		r->cols[i].name = r->names[i];
	}
	const struct relem *root = &r->elems[0];
	if (has(root->seen, 1) || !has(root->seen, 5) ||
	    root->num_children < 0 || (size_t)root->num_children != n)
		return TP_EMALF;
	return 0;
}

static int judge_chunk(const struct tp_pq_reader *r, const struct rrg *g,
		       struct rchunk *c, size_t col)
{
	const struct tp_pq_column *sc = &r->cols[col];
	static const int32_t ptype[] = {
		[TP_PQ_BOOLEAN] = PQ_TYPE_BOOLEAN,
		[TP_PQ_INT32] = PQ_TYPE_INT32,
		[TP_PQ_INT64] = PQ_TYPE_INT64,
		[TP_PQ_BYTE_ARRAY] = PQ_TYPE_BYTE_ARRAY,
	};
	if (c->type != ptype[sc->type])
		return TP_EMALF;
	size_t nlen = strlen(sc->name);
	if (c->path_n != 1 || c->path0_len != nlen ||
	    (nlen > 0 && memcmp(c->path0, sc->name, nlen) != 0))
		return TP_EMALF;
	if (c->codec != PQ_CODEC_UNCOMPRESSED && c->codec != PQ_CODEC_SNAPPY &&
	    c->codec != PQ_CODEC_ZSTD)
		return c->codec >= 0 && c->codec <= 7 ? -ENOTSUP : TP_EMALF;
	/* Flat columns: one value (or null) per row. */
	if (c->num_values != g->num_rows)
		return TP_EMALF;
	/* Pages start at the dictionary page when there is one. Some writers
	 * store dictionary_page_offset 0 to mean "none". */
	if (c->data_off < (int64_t)PQ_MAGIC_LEN)
		return TP_EMALF;
	int64_t start = c->data_off;
	if (has(c->meta_seen, 11) && c->dict_off != 0) {
		if (c->dict_off < (int64_t)PQ_MAGIC_LEN)
			return TP_EMALF;
		if (c->dict_off < start)
			start = c->dict_off;
	}
	if (c->total_comp < 0 || (uint64_t)start > r->data_end ||
	    (uint64_t)c->total_comp > r->data_end - (uint64_t)start)
		return TP_EMALF;
	c->start = (uint64_t)start;
	c->end = (uint64_t)start + (uint64_t)c->total_comp;
	return 0;
}

static int judge(struct tp_pq_reader *r)
{
	TRY(judge_schema(r));
	if (r->num_rows < 0)
		return TP_EMALF;
	uint64_t sum = 0;
	for (size_t i = 0; i < r->n_rgs; i++) {
		struct rrg *g = &r->rgs[i];
		if (g->num_rows < 0)
			return TP_EMALF;
		if (g->num_rows > (int64_t)TP_PQ_ROW_GROUP_ROWS_MAX)
			return TP_ETOOBIG;
		sum += (uint64_t)g->num_rows; /* <= 2^16 * 2^20: no wrap */
		if (g->n_chunks != r->n_cols)
			return TP_EMALF;
		for (size_t c = 0; c < r->n_cols; c++)
			TRY(judge_chunk(r, g, &g->chunks[c], c));
	}
	if (sum != (uint64_t)r->num_rows)
		return TP_EMALF;
	return 0;
}

/* ---- open / free ------------------------------------------------------------------ */

void tp_pq_reader_free(struct tp_pq_reader *r)
{
	if (r == NULL)
		return;
	if (r->cur != NULL) {
		for (size_t c = 0; c < r->n_cols; c++) {
			free(r->cur[c].buf);
			free(r->cur[c].dbuf);
			free(r->cur[c].dvals);
		}
		free(r->cur);
	}
	if (r->names != NULL)
		for (size_t c = 0; c < r->n_cols; c++)
			free(r->names[c]);
	free(r->names);
	free(r->cols);
	for (size_t i = 0; i < r->n_rgs; i++)
		free(r->rgs[i].chunks);
	free(r->rgs);
	free(r->elems);
	free(r->kv);
	free(r->row);
	ZSTD_freeDCtx(r->zd);
	free(r->owned);
	free(r);
}

static int open_footer(struct tp_pq_reader *r)
{
	const uint8_t *d = r->data;
	size_t len = r->len;
	if (len < PQ_MAGIC_LEN + PQ_TAIL_LEN)
		return TP_ETRUNC;
	if (memcmp(d + len - PQ_MAGIC_LEN, "PARE", PQ_MAGIC_LEN) == 0)
		return -ENOTSUP; /* encrypted footer */
	if (memcmp(d, PQ_MAGIC, PQ_MAGIC_LEN) != 0 ||
	    memcmp(d + len - PQ_MAGIC_LEN, PQ_MAGIC, PQ_MAGIC_LEN) != 0)
		return TP_EMALF;
	uint32_t flen = tp_load_le32(d + len - PQ_TAIL_LEN);
	if (flen > TP_PQ_FOOTER_MAX)
		return TP_ETOOBIG;
	if (flen > len - PQ_MAGIC_LEN - PQ_TAIL_LEN)
		return TP_ETRUNC;
	r->data_end = len - PQ_TAIL_LEN - flen;

	struct tc_r t;
	tc_r_init(&t, d + r->data_end, flen);
	TRY(dec_file_meta(&t, r));
	TRY(judge(r));

	r->cur = calloc(r->n_cols, sizeof(*r->cur));
	r->row = calloc(r->n_cols, sizeof(*r->row));
	if (r->cur == NULL || r->row == NULL)
		return -ENOMEM;
	return 0;
}

int tp_pq_reader_open_mem(const uint8_t *data, size_t len,
			  struct tp_pq_reader **out)
{
	if (out == NULL)
		return TP_EINVAL;
	*out = NULL;
	if (data == NULL && len > 0)
		return TP_EINVAL;
	struct tp_pq_reader *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->data = data;
	r->len = len;
	int rc = open_footer(r);
	if (rc != 0) {
		tp_pq_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int tp_pq_reader_open(const char *path, struct tp_pq_reader **out)
{
	if (path == NULL || out == NULL)
		return TP_EINVAL;
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = -errno;
		(void)close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		return TP_EINVAL;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > TP_PQ_FILE_MAX) {
		(void)close(fd);
		return TP_ETOOBIG;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *buf = malloc(size > 0 ? size : 1u);
	if (buf == NULL) {
		(void)close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t k = read(fd, buf + got, size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = -errno;
			free(buf);
			(void)close(fd);
			return e;
		}
		if (k == 0)
			break; /* shrank meanwhile: judge what is there */
		got += (size_t)k;
	}
	(void)close(fd);
	struct tp_pq_reader *r;
	int rc = tp_pq_reader_open_mem(buf, got, &r);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	r->owned = buf;
	*out = r;
	return 0;
}

size_t tp_pq_reader_n_columns(const struct tp_pq_reader *r)
{
	return r->n_cols;
}

const struct tp_pq_column *tp_pq_reader_columns(const struct tp_pq_reader *r)
{
	return r->cols;
}

uint64_t tp_pq_reader_n_rows(const struct tp_pq_reader *r)
{
	return (uint64_t)r->num_rows;
}

size_t tp_pq_reader_n_row_groups(const struct tp_pq_reader *r)
{
	return r->n_rgs;
}

struct tp_pq_bytes tp_pq_reader_created_by(const struct tp_pq_reader *r)
{
	return r->created_by;
}

size_t tp_pq_reader_n_kv(const struct tp_pq_reader *r)
{
	return r->n_kv;
}

int tp_pq_reader_kv(const struct tp_pq_reader *r, size_t i,
		    struct tp_pq_bytes *out_key, struct tp_pq_bytes *out_value)
{
	if (r == NULL || i >= r->n_kv || out_key == NULL || out_value == NULL)
		return TP_EINVAL;
	*out_key = r->kv[i].key;
	*out_value = r->kv[i].value;
	return 0;
}

/* ---- pages -------------------------------------------------------------------------- */

struct page_hdr {
	uint32_t seen, sub_seen;
	int32_t type, uncomp, comp;
	bool has_data, has_dict;
	int32_t num_values, encoding, def_encoding;
};

static int data_hdr_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct page_hdr *h = ctx;
	int32_t rep_enc;
	if (id == 1)
		return tc_r_i32(t, ty, &h->num_values);
	if (id == 2)
		return tc_r_i32(t, ty, &h->encoding);
	if (id == 3)
		return tc_r_i32(t, ty, &h->def_encoding);
	if (id == 4)
		return tc_r_i32(t, ty, &rep_enc); /* no rep levels */
	return tc_r_skip(t, ty, false);
}

static int dec_data_hdr(struct tc_r *t, void *ctx)
{
	struct page_hdr *h = ctx;
	return dec_fields(t, data_hdr_field, h, &h->sub_seen,
			  FLD(1) | FLD(2) | FLD(3) | FLD(4));
}

static int dict_hdr_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct page_hdr *h = ctx;
	if (id == 1)
		return tc_r_i32(t, ty, &h->num_values);
	if (id == 2)
		return tc_r_i32(t, ty, &h->encoding);
	return tc_r_skip(t, ty, false);
}

static int dec_dict_hdr(struct tc_r *t, void *ctx)
{
	struct page_hdr *h = ctx;
	return dec_fields(t, dict_hdr_field, h, &h->sub_seen, FLD(1) | FLD(2));
}

static int page_hdr_field(struct tc_r *t, int16_t id, uint8_t ty, void *ctx)
{
	struct page_hdr *h = ctx;
	switch (id) {
	case 1:
		return tc_r_i32(t, ty, &h->type);
	case 2:
		return tc_r_i32(t, ty, &h->uncomp);
	case 3:
		return tc_r_i32(t, ty, &h->comp);
	case 5:
		if (h->has_data || h->has_dict)
			return TP_EMALF;
		h->has_data = true;
		return dec_struct(t, ty, dec_data_hdr, h);
	case 7:
		if (h->has_data || h->has_dict)
			return TP_EMALF;
		h->has_dict = true;
		return dec_struct(t, ty, dec_dict_hdr, h);
	default: /* crc, index and v2 headers, unknown fields */
		return tc_r_skip(t, ty, false);
	}
}

static int dec_page_hdr(struct tc_r *t, struct page_hdr *h)
{
	return dec_fields(t, page_hdr_field, h, &h->seen,
			  FLD(1) | FLD(2) | FLD(3));
}

/* Check that growing a buffer from cap to n octets stays under the
 * reader's memory cap. */
static int mem_take(const struct tp_pq_reader *r, size_t cap, size_t n)
{
	if (n > cap && n - cap > TP_PQ_READER_MEM_MAX - r->mem)
		return TP_ETOOBIG;
	return 0;
}

/* Grow a page buffer to n octets. */
static int grow_buf(struct tp_pq_reader *r, uint8_t **buf, size_t *cap,
		    size_t n)
{
	if (n <= *cap)
		return 0;
	TRY(mem_take(r, *cap, n));
	uint8_t *p = realloc(*buf, n);
	if (p == NULL)
		return -ENOMEM;
	r->mem += n - *cap;
	*buf = p;
	*cap = n;
	return 0;
}

/* Grow the dictionary views of a cursor to n entries. */
static int grow_dvals(struct tp_pq_reader *r, struct rcur *cu, size_t n)
{
	if (n <= cu->dvals_cap)
		return 0;
	size_t have = cu->dvals_cap * sizeof(*cu->dvals);
	size_t want = n * sizeof(*cu->dvals); /* n <= TP_PQ_PAGE_MAX / 4 */
	TRY(mem_take(r, have, want));
	struct tp_pq_bytes *p = realloc(cu->dvals, want);
	if (p == NULL)
		return -ENOMEM;
	r->mem += want - have;
	cu->dvals = p;
	cu->dvals_cap = n;
	return 0;
}

/* The decoded bytes of a page body: the file itself when uncompressed,
 * else *buf after decompression to exactly uncomp octets. */
static int page_bytes(struct tp_pq_reader *r, int codec, const uint8_t *body,
		      size_t comp, size_t uncomp, uint8_t **buf, size_t *cap,
		      const uint8_t **out)
{
	if (codec == PQ_CODEC_UNCOMPRESSED) {
		if (comp != uncomp)
			return TP_EMALF;
		*out = body;
		return 0;
	}
	if (codec == PQ_CODEC_ZSTD && r->zd == NULL) {
		r->zd = ZSTD_createDCtx();
		if (r->zd == NULL)
			return -ENOMEM;
	}
	TRY(grow_buf(r, buf, cap, uncomp > 0 ? uncomp : 1u));
	TRY(pq_decompress(codec, r->zd, body, comp, *buf, uncomp));
	*out = *buf;
	return 0;
}

static int load_dict(struct tp_pq_reader *r, struct rcur *cu,
		     const struct tp_pq_column *col, const struct page_hdr *h,
		     const uint8_t *body)
{
	/* At most one dictionary page, before every data page. */
	if (cu->has_dict || cu->seen_data)
		return TP_EMALF;
	if (!h->has_dict)
		return TP_EMISSING;
	if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICTIONARY)
		return -ENOTSUP;
	if (h->num_values < 0)
		return TP_EMALF;
	if (col->type == TP_PQ_BOOLEAN)
		return -ENOTSUP;
	const uint8_t *d;
	TRY(page_bytes(r, cu->ch->codec, body, (size_t)h->comp,
		       (size_t)h->uncomp, &cu->dbuf, &cu->dbuf_cap, &d));
	size_t len = (size_t)h->uncomp;
	size_t n = (size_t)h->num_values;
	if (col->type == TP_PQ_INT32 || col->type == TP_PQ_INT64) {
		size_t width = col->type == TP_PQ_INT32 ? 4u : 8u;
		if (n > len / width)
			return TP_ETRUNC;
	} else {
		/* Each entry has a 4-octet length: check the count before
		 * allocating views for it. */
		if (n > len / 4u)
			return TP_ETRUNC;
		TRY(grow_dvals(r, cu, n > 0 ? n : 1u));
		size_t pos = 0;
		for (size_t i = 0; i < n; i++) {
			if (len - pos < 4u)
				return TP_ETRUNC;
			uint32_t vlen = tp_load_le32(d + pos);
			pos += 4u;
			if (vlen > len - pos)
				return TP_ETRUNC;
			cu->dvals[i].data = d + pos;
			cu->dvals[i].len = vlen;
			pos += vlen;
		}
	}
	cu->dict = d;
	cu->dict_len = len;
	cu->n_dict = (uint32_t)n;
	cu->has_dict = true;
	return 0;
}

static int start_data_page(struct tp_pq_reader *r, struct rcur *cu,
			   const struct tp_pq_column *col,
			   const struct page_hdr *h, const uint8_t *body)
{
	if (!h->has_data)
		return TP_EMISSING;
	if (h->num_values < 0 || (uint64_t)h->num_values > cu->chunk_left)
		return TP_EMALF;
	if (h->encoding == PQ_ENC_PLAIN) {
		cu->page_dict = false;
	} else if (h->encoding == PQ_ENC_RLE_DICTIONARY ||
		   h->encoding == PQ_ENC_PLAIN_DICTIONARY) {
		if (!cu->has_dict)
			return TP_EMALF;
		cu->page_dict = true;
	} else {
		return -ENOTSUP; /* DELTA_*, BYTE_STREAM_SPLIT, RLE booleans */
	}
	const uint8_t *pg;
	TRY(page_bytes(r, cu->ch->codec, body, (size_t)h->comp,
		       (size_t)h->uncomp, &cu->buf, &cu->buf_cap, &pg));
	size_t len = (size_t)h->uncomp;
	size_t off = 0;
	if (col->optional) {
		/* v1 page: LE32 length, then the levels (max level 1). */
		if (h->def_encoding != PQ_ENC_RLE)
			return -ENOTSUP; /* BIT_PACKED is deprecated */
		if (len < 4u)
			return TP_ETRUNC;
		uint32_t dl = tp_load_le32(pg);
		if (dl > len - 4u)
			return TP_ETRUNC;
		pq_rle_init(&cu->defs, pg + 4, dl, 1);
		off = 4u + dl;
	}
	if (cu->page_dict) {
		if (off >= len)
			return TP_ETRUNC;
		unsigned bw = pg[off];
		if (bw > 32)
			return TP_EMALF;
		pq_rle_init(&cu->idx, pg + off + 1u, len - off - 1u, bw);
	}
	cu->pg = pg;
	cu->pg_len = len;
	cu->vpos = off;
	cu->bit = (uint64_t)off * 8u;
	cu->page_left = (uint64_t)h->num_values;
	cu->seen_data = true;
	return 0;
}

/* Read page headers until a data page with values is ready. */
static int next_page(struct tp_pq_reader *r, struct rcur *cu,
		     const struct tp_pq_column *col)
{
	for (;;) {
		if (cu->pos >= cu->end)
			return TP_ETRUNC; /* the chunk owes values */
		struct tc_r t;
		tc_r_init(&t, r->data + cu->pos, (size_t)(cu->end - cu->pos));
		struct page_hdr h;
		memset(&h, 0, sizeof(h));
		TRY(dec_page_hdr(&t, &h));
		cu->pos += t.pos;
		if (h.uncomp < 0 || h.comp < 0)
			return TP_EMALF;
		if ((uint32_t)h.uncomp > TP_PQ_PAGE_MAX ||
		    (uint32_t)h.comp > TP_PQ_PAGE_MAX)
			return TP_ETOOBIG;
		if ((uint64_t)h.comp > cu->end - cu->pos)
			return TP_ETRUNC;
		const uint8_t *body = r->data + cu->pos;
		cu->pos += (uint64_t)h.comp;
		switch (h.type) {
		case PQ_PAGE_DICTIONARY:
			TRY(load_dict(r, cu, col, &h, body));
			break;
		case PQ_PAGE_DATA:
			TRY(start_data_page(r, cu, col, &h, body));
			if (cu->page_left > 0)
				return 0;
			break; /* an empty page: on to the next */
		case PQ_PAGE_DATA_V2:
		case PQ_PAGE_INDEX:
			return -ENOTSUP;
		default:
			return TP_EMALF;
		}
	}
}

/* ---- values --------------------------------------------------------------------------- */

static void int_value(const struct tp_pq_column *col, const uint8_t *p,
		      struct tp_pq_value *v)
{
	if (col->type == TP_PQ_INT32) {
		uint32_t u = tp_load_le32(p);
		v->u = u;
		v->i = (int32_t)u;
	} else {
		uint64_t u = pq_load_le64(p);
		v->u = u;
		v->i = (int64_t)u;
	}
}

static int dict_value(const struct rcur *cu, const struct tp_pq_column *col,
		      uint32_t k, struct tp_pq_value *v)
{
	if (k >= cu->n_dict)
		return TP_EMALF;
	if (col->type == TP_PQ_BYTE_ARRAY)
		v->bytes = cu->dvals[k];
	else
		int_value(col, cu->dict + (size_t)k * (col->type == TP_PQ_INT32
							       ? 4u
							       : 8u),
			  v);
	return 0;
}

static int plain_value(struct rcur *cu, const struct tp_pq_column *col,
		       struct tp_pq_value *v)
{
	size_t left = cu->pg_len - cu->vpos;
	switch (col->type) {
	case TP_PQ_BOOLEAN: {
		if (cu->bit >= (uint64_t)cu->pg_len * 8u)
			return TP_ETRUNC;
		size_t byte = (size_t)(cu->bit >> 3);
		v->b = (cu->pg[byte] >> (cu->bit & 7u)) & 1u;
		cu->bit++;
		return 0;
	}
	case TP_PQ_INT32:
	case TP_PQ_INT64: {
		size_t w = col->type == TP_PQ_INT32 ? 4u : 8u;
		if (left < w)
			return TP_ETRUNC;
		int_value(col, cu->pg + cu->vpos, v);
		cu->vpos += w;
		return 0;
	}
	case TP_PQ_BYTE_ARRAY: {
		if (left < 4u)
			return TP_ETRUNC;
		uint32_t n = tp_load_le32(cu->pg + cu->vpos);
		if (n > left - 4u)
			return TP_ETRUNC;
		v->bytes.data = cu->pg + cu->vpos + 4u;
		v->bytes.len = n;
		cu->vpos += 4u + (size_t)n;
		return 0;
	}
	}
	return TP_EBUG;
}

static int read_value(struct tp_pq_reader *r, struct rcur *cu,
		      const struct tp_pq_column *col, struct tp_pq_value *v)
{
	if (cu->chunk_left == 0)
		return TP_EBUG; /* judge() matched num_values to the rows */
	if (cu->page_left == 0)
		TRY(next_page(r, cu, col));
	cu->page_left--;
	cu->chunk_left--;
	memset(v, 0, sizeof(*v));
	if (col->optional) {
		uint32_t d;
		TRY(pq_rle_next(&cu->defs, &d));
		if (d > 1)
			return TP_EMALF;
		if (d == 0) {
			v->is_null = true;
			return 0;
		}
	}
	if (cu->page_dict) {
		uint32_t k;
		TRY(pq_rle_next(&cu->idx, &k));
		return dict_value(cu, col, k, v);
	}
	return plain_value(cu, col, v);
}

static void open_row_group(struct tp_pq_reader *r, const struct rrg *g)
{
	for (size_t c = 0; c < r->n_cols; c++) {
		struct rcur *cu = &r->cur[c];
		const struct rchunk *ch = &g->chunks[c];
		cu->ch = ch;
		cu->pos = ch->start;
		cu->end = ch->end;
		cu->chunk_left = (uint64_t)ch->num_values;
		cu->seen_data = false;
		cu->page_left = 0;
		cu->has_dict = false;
		cu->n_dict = 0;
	}
	r->rg_left = (uint64_t)g->num_rows;
}

int tp_pq_reader_next(struct tp_pq_reader *r, const struct tp_pq_value **out_row)
{
	if (r == NULL || out_row == NULL)
		return TP_EINVAL;
	if (r->err != 0)
		return r->err;
	while (r->rg_left == 0) {
		if (r->rg >= r->n_rgs)
			return 0;
		open_row_group(r, &r->rgs[r->rg]);
		r->rg++;
	}
	for (size_t c = 0; c < r->n_cols; c++) {
		int rc = read_value(r, &r->cur[c], &r->cols[c], &r->row[c]);
		if (rc != 0) {
			r->err = rc;
			return rc;
		}
	}
	r->rg_left--;
	*out_row = r->row;
	return 1;
}
