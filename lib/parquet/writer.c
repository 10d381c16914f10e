/* SPDX-License-Identifier: BSD-2-Clause
 *
 * writer.c - Parquet writer for flat tables (see parquet.h).
 *
 * Rows are staged value by value, then committed into per-column buffers
 * that already hold the PLAIN encoding (and, for BYTE_ARRAY columns, a
 * dictionary built on the fly). When a row group is full it is cut into
 * data pages of about PAGE_TARGET octets, each compressed and preceded by
 * its Thrift page header, and only the per-chunk facts the footer needs are
 * kept. close() appends the FileMetaData and makes the file durable and
 * visible in one step (tmp, fsync, rename, directory fsync).
 *
 * It must never produce a file that its own reader, DuckDB or hyparquet
 * would reject: every size it writes is bounded by the same limits.h
 * ceilings the reader enforces, and every syscall result is checked. Any
 * failure after tp_pq_writer_new() is sticky and ends with the tmp file
 * removed.
 */
#include "parquet/parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "parquet/parquet_impl.h"
#include "parquet/thrift.h"
#include "parquet/version.h"
#include "util/io.h"
#include "util/rd.h"

/* Writer heuristics (not ceilings on input; those are in limits.h). */

/* Cut a data page once its PLAIN values reach this: big enough for good
 * compression, small enough that readers hold little at a time. */
#define PAGE_TARGET (1024u * 1024u)
/* A dictionary is abandoned for the row group past these: index width
 * stays <= 16 bits and the dictionary page small. */
#define DICT_ENTRIES_MAX 65535u
#define DICT_BYTES_MAX (1024u * 1024u)
/* Open addressing probes before giving up the dictionary: bounds the cost
 * of values that collide (session labels are chosen by clients). */
#define DICT_PROBE_MAX 64u
/* Min/max statistics longer than this are left out for the column chunk:
 * long strings would bloat the footer and help no filter. */
#define STATS_VALUE_MAX 256u
/* Output is written in blocks of about this size. */
#define OUT_BLOCK (256u * 1024u)

/* The largest page we produce: PAGE_TARGET of values, plus one value that
 * crossed it, plus definition levels for every row (bit-packed, 1 bit per
 * row, with run headers) and the length prefix. */
_Static_assert(PAGE_TARGET + TP_PQ_VALUE_MAX + 4u +
			       TP_PQ_ROW_GROUP_ROWS_MAX / 4u + 64u <=
		       TP_PQ_PAGE_MAX / 2u,
	       "pages (and their worst-case Snappy size) fit TP_PQ_PAGE_MAX");
_Static_assert(DICT_BYTES_MAX + TP_PQ_VALUE_MAX + 4u <= TP_PQ_PAGE_MAX / 2u,
	       "the dictionary page fits TP_PQ_PAGE_MAX");
_Static_assert(TP_PQ_ROW_GROUP_ROWS_MAX <= INT32_MAX,
	       "num_values of a page is an i32");

/* The current row's value of one column, before commit. */
struct stage {
	bool set;
	bool null;
	bool b;
	int64_t i;     /* INT32 (sign-extended) or INT64 bit pattern */
	size_t off;    /* BYTE_ARRAY: offset of the copy in w->stage */
	size_t len;
};

struct dict_ent {
	uint32_t off; /* of the value octets (after the length) in dict */
	uint32_t len;
	uint64_t hash;
};

/* One column's buffers for the open row group. */
struct wcol {
	struct tp_pq_column c; /* c.name == name */
	char *name;            /* from malloc */
	int ptype;             /* parquet.thrift Type */
	bool unsigned_order;   /* statistics compare as unsigned */
	struct stage st;

	struct pq_buf defs;    /* OPTIONAL: one octet per row, 0 null, 1 value */
	struct pq_buf vals;    /* PLAIN encoding; BOOLEAN: one octet a value */
	uint64_t n_vals;       /* non-null values */
	uint64_t nulls;

	/* Statistics over the row group (TYPE_DEFINED_ORDER). */
	bool has_mm;
	bool min_b, max_b;
	int64_t min_i, max_i;
	size_t min_off, min_len, max_off, max_len; /* BYTE_ARRAY, into vals */

	/* Dictionary (BYTE_ARRAY only) while it still can pay. */
	bool dict_live;
	struct pq_buf dict;     /* PLAIN-encoded entries: the dictionary page */
	struct dict_ent *ents;  /* from malloc */
	uint32_t n_dict;
	size_t ents_cap;
	uint32_t *slots;        /* from calloc; 0 empty, else entry + 1 */
	size_t n_slots;         /* power of two */
	uint32_t *idx;          /* from malloc: entry of each non-null value */
	size_t idx_cap;
};

/* What the footer needs of a written column chunk. */
struct chunk_out {
	int64_t num_values;
	int64_t total_uncomp, total_comp;
	int64_t data_off, dict_off;
	bool has_dict;
	int64_t nulls;
	bool has_mm;
	uint8_t *min, *max; /* from malloc, PLAIN without length prefix */
	size_t min_len, max_len;
};

struct rg_out {
	int64_t num_rows;
	int64_t file_offset;
	int64_t total_byte_size;
	int64_t total_comp;
	struct chunk_out *chunks; /* from calloc, n_cols */
};

struct tp_pq_writer {
	char *path;            /* from malloc */
	char *tmp;             /* from malloc: path + ".tmp" */
	int fd;                /* -1 once closed */
	uint64_t off;          /* file offset of the next octet */
	struct pq_buf out;     /* write-behind block */

	struct wcol *cols;     /* from calloc */
	size_t n_cols;
	int codec;             /* parquet.thrift CompressionCodec */
	int zlevel;
	ZSTD_CCtx *zc;         /* ZSTD only */
	uint32_t rg_rows;
	bool no_dict;
	char *root_name;       /* from malloc */
	char **kv_key, **kv_val; /* from malloc; values may be NULL */
	size_t n_kv;

	struct pq_buf stage;   /* staged BYTE_ARRAY values of the current row */
	uint64_t rows_total;
	uint32_t rg_n;         /* rows in the open row group */
	size_t rg_bytes;       /* value octets buffered in it */

	struct rg_out *rgs;    /* from malloc */
	size_t n_rgs, rgs_cap;

	struct pq_buf page, comp, hdr; /* scratch for one page */
	int err;               /* first failure; sticky */
};

static int fail(struct tp_pq_writer *w, int rc)
{
	if (w->err == 0)
		w->err = rc;
	return w->err;
}

/* ---- output ---------------------------------------------------------------- */

static int out_flush(struct tp_pq_writer *w)
{
	if (w->out.len == 0)
		return 0;
	int rc = tp_write_all(w->fd, w->out.data, w->out.len);
	w->out.len = 0;
	return rc;
}

static int out_put(struct tp_pq_writer *w, const void *p, size_t n)
{
	if (w->out.len + n > OUT_BLOCK) {
		int rc = out_flush(w);
		if (rc != 0)
			return rc;
		if (n >= OUT_BLOCK) {
			rc = tp_write_all(w->fd, p, n);
			if (rc == 0)
				w->off += n;
			return rc;
		}
	}
	pq_buf_put(&w->out, p, n);
	if (w->out.err != 0)
		return w->out.err;
	w->off += n;
	return 0;
}

/* ---- schema ---------------------------------------------------------------- */

static int physical_id(enum tp_pq_type t)
{
	switch (t) {
	case TP_PQ_BOOLEAN:
		return PQ_TYPE_BOOLEAN;
	case TP_PQ_INT32:
		return PQ_TYPE_INT32;
	case TP_PQ_INT64:
		return PQ_TYPE_INT64;
	case TP_PQ_BYTE_ARRAY:
		return PQ_TYPE_BYTE_ARRAY;
	}
	return -1;
}

static bool column_valid(const struct tp_pq_column *c)
{
	if (c->name == NULL || physical_id(c->type) < 0)
		return false;
	size_t n = strlen(c->name);
	if (n == 0 || n > TP_PQ_NAME_MAX ||
	    !pq_utf8_valid((const uint8_t *)c->name, n))
		return false;
	switch (c->logical) {
	case TP_PQ_LT_NONE:
		return true;
	case TP_PQ_LT_STRING:
		return c->type == TP_PQ_BYTE_ARRAY;
	case TP_PQ_LT_TIMESTAMP_MICROS:
		return c->type == TP_PQ_INT64;
	case TP_PQ_LT_INT:
		if (c->type == TP_PQ_INT32)
			return c->int_bits == 8 || c->int_bits == 16 ||
			       c->int_bits == 32;
		return c->type == TP_PQ_INT64 && c->int_bits == 64;
	}
	return false;
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1u;
	char *p = malloc(n);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static bool kv_valid(const struct tp_pq_kv *kv)
{
	if (kv->key == NULL)
		return false;
	size_t n = strlen(kv->key);
	if (n == 0 || n > TP_PQ_NAME_MAX ||
	    !pq_utf8_valid((const uint8_t *)kv->key, n))
		return false;
	if (kv->value == NULL)
		return true;
	n = strlen(kv->value);
	return n <= TP_PQ_KV_VALUE_MAX &&
	       pq_utf8_valid((const uint8_t *)kv->value, n);
}

/* ---- create / free ------------------------------------------------------- */

static void free_chunks(struct rg_out *rg, size_t n_cols)
{
	if (rg->chunks == NULL)
		return;
	for (size_t c = 0; c < n_cols; c++) {
		free(rg->chunks[c].min);
		free(rg->chunks[c].max);
	}
	free(rg->chunks);
}

static void dict_drop(struct wcol *col)
{
	pq_buf_free(&col->dict);
	free(col->ents);
	free(col->slots);
	free(col->idx);
	col->ents = NULL;
	col->slots = NULL;
	col->idx = NULL;
	col->n_dict = 0;
	col->ents_cap = 0;
	col->n_slots = 0;
	col->idx_cap = 0;
	col->dict_live = false;
}

static void destroy(struct tp_pq_writer *w)
{
	if (w->cols != NULL) {
		for (size_t c = 0; c < w->n_cols; c++) {
			struct wcol *col = &w->cols[c];
			free(col->name);
			pq_buf_free(&col->defs);
			pq_buf_free(&col->vals);
			dict_drop(col);
		}
		free(w->cols);
	}
	for (size_t i = 0; i < w->n_rgs; i++)
		free_chunks(&w->rgs[i], w->n_cols);
	free(w->rgs);
	for (size_t i = 0; i < w->n_kv; i++) {
		free(w->kv_key[i]);
		free(w->kv_val[i]);
	}
	free(w->kv_key);
	free(w->kv_val);
	ZSTD_freeCCtx(w->zc);
	pq_buf_free(&w->out);
	pq_buf_free(&w->stage);
	pq_buf_free(&w->page);
	pq_buf_free(&w->comp);
	pq_buf_free(&w->hdr);
	free(w->root_name);
	free(w->path);
	free(w->tmp);
	free(w);
}

void tp_pq_writer_free(struct tp_pq_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0) {
		(void)close(w->fd);
		w->fd = -1;
	}
	if (w->tmp != NULL)
		(void)unlink(w->tmp);
	destroy(w);
}

/* Column value buffers hold at most a row group's worth: the commit that
 * crosses TP_PQ_ROW_GROUP_BYTES_MAX adds at most one value per column. */
#define COL_BUF_MAX (TP_PQ_ROW_GROUP_BYTES_MAX + TP_PQ_VALUE_MAX + 8u)

static int init_columns(struct tp_pq_writer *w, const struct tp_pq_column *cols,
			size_t n_cols)
{
	w->cols = calloc(n_cols, sizeof(*w->cols));
	if (w->cols == NULL)
		return -ENOMEM;
	w->n_cols = n_cols;
	for (size_t c = 0; c < n_cols; c++) {
		struct wcol *col = &w->cols[c];
		col->c = cols[c];
		col->name = dup_str(cols[c].name);
		if (col->name == NULL)
			return -ENOMEM;
		col->c.name = col->name;
		col->ptype = physical_id(cols[c].type);
		col->unsigned_order = cols[c].logical == TP_PQ_LT_INT &&
				      !cols[c].int_signed;
		pq_buf_init(&col->defs, TP_PQ_ROW_GROUP_ROWS_MAX);
		pq_buf_init(&col->vals, COL_BUF_MAX);
		pq_buf_init(&col->dict, DICT_BYTES_MAX);
		col->dict_live = !w->no_dict && cols[c].type == TP_PQ_BYTE_ARRAY;
	}
	return 0;
}

static int copy_opts(struct tp_pq_writer *w, const struct tp_pq_writer_opts *o)
{
	const char *root = o->root_name != NULL ? o->root_name : "schema";
	size_t rn = strlen(root);
	if (rn == 0 || rn > TP_PQ_NAME_MAX ||
	    !pq_utf8_valid((const uint8_t *)root, rn))
		return TP_EINVAL;
	w->root_name = dup_str(root);
	if (w->root_name == NULL)
		return -ENOMEM;
	if (o->n_kv == 0)
		return 0;
	w->kv_key = calloc(o->n_kv, sizeof(char *));
	w->kv_val = calloc(o->n_kv, sizeof(char *));
	if (w->kv_key == NULL || w->kv_val == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_kv; i++) {
		w->n_kv = i + 1u;
		w->kv_key[i] = dup_str(o->kv[i].key);
		if (w->kv_key[i] == NULL)
			return -ENOMEM;
		if (o->kv[i].value != NULL) {
			w->kv_val[i] = dup_str(o->kv[i].value);
			if (w->kv_val[i] == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

static int check_args(const char *path, const struct tp_pq_column *cols,
		      size_t n_cols, const struct tp_pq_writer_opts *o)
{
	if (path == NULL || path[0] == '\0' || cols == NULL || n_cols == 0 ||
	    n_cols > TP_PQ_COLUMNS_MAX || strlen(path) + 5u > PATH_MAX)
		return TP_EINVAL;
	for (size_t c = 0; c < n_cols; c++) {
		if (!column_valid(&cols[c]))
			return TP_EINVAL;
		for (size_t d = 0; d < c; d++)
			if (strcmp(cols[c].name, cols[d].name) == 0)
				return TP_EINVAL;
	}
	if (o->codec != TP_PQ_CODEC_SNAPPY && o->codec != TP_PQ_CODEC_ZSTD &&
	    o->codec != TP_PQ_CODEC_NONE)
		return TP_EINVAL;
	if (o->row_group_rows > TP_PQ_ROW_GROUP_ROWS_MAX ||
	    o->n_kv > TP_PQ_KV_MAX || (o->n_kv > 0 && o->kv == NULL))
		return TP_EINVAL;
	if (o->codec == TP_PQ_CODEC_ZSTD && o->zstd_level != 0 &&
	    (o->zstd_level < ZSTD_minCLevel() ||
	     o->zstd_level > ZSTD_maxCLevel()))
		return TP_EINVAL;
	for (size_t i = 0; i < o->n_kv; i++)
		if (!kv_valid(&o->kv[i]))
			return TP_EINVAL;
	return 0;
}

int tp_pq_writer_new(const char *path, const struct tp_pq_column *cols,
		     size_t n_cols, const struct tp_pq_writer_opts *opts,
		     struct tp_pq_writer **out)
{
	static const struct tp_pq_writer_opts defaults;
	const struct tp_pq_writer_opts *o = opts != NULL ? opts : &defaults;
	if (out == NULL)
		return TP_EINVAL;
	*out = NULL;
	int rc = check_args(path, cols, n_cols, o);
	if (rc != 0)
		return rc;

	struct tp_pq_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->fd = -1;
	pq_buf_init(&w->out, OUT_BLOCK);
	pq_buf_init(&w->stage, (size_t)TP_PQ_COLUMNS_MAX * TP_PQ_VALUE_MAX);
	pq_buf_init(&w->page, TP_PQ_PAGE_MAX);
	pq_buf_init(&w->comp, TP_PQ_PAGE_MAX);
	pq_buf_init(&w->hdr, TP_PQ_FOOTER_MAX);
	w->no_dict = o->no_dictionary;
	w->rg_rows = o->row_group_rows != 0 ? o->row_group_rows
					    : TP_PQ_ROW_GROUP_ROWS_DEFAULT;
	switch (o->codec) {
	case TP_PQ_CODEC_ZSTD:
		w->codec = PQ_CODEC_ZSTD;
		break;
	case TP_PQ_CODEC_NONE:
		w->codec = PQ_CODEC_UNCOMPRESSED;
		break;
	case TP_PQ_CODEC_SNAPPY:
	default:
		w->codec = PQ_CODEC_SNAPPY;
		break;
	}
	w->zlevel = o->zstd_level != 0 ? o->zstd_level : ZSTD_CLEVEL_DEFAULT;

	size_t plen = strlen(path);
	w->path = dup_str(path);
	w->tmp = malloc(plen + 5u);
	if (w->path == NULL || w->tmp == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(w->tmp, path, plen);
	memcpy(w->tmp + plen, ".tmp", 5);

	rc = init_columns(w, cols, n_cols);
	if (rc == 0)
		rc = copy_opts(w, o);
	if (rc != 0)
		goto fail;
	if (w->codec == PQ_CODEC_ZSTD) {
		w->zc = ZSTD_createCCtx();
		if (w->zc == NULL) {
			rc = -ENOMEM;
			goto fail;
		}
	}

	/* O_NOFOLLOW: the data directory is ours, but a planted symlink at
	 * the tmp name must not redirect the write. */
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
				     O_NOFOLLOW,
		     0640);
	if (w->fd < 0) {
		rc = -errno;
		free(w->tmp); /* not ours: do not unlink it */
		w->tmp = NULL;
		goto fail;
	}
	rc = out_put(w, PQ_MAGIC, PQ_MAGIC_LEN);
	if (rc != 0)
		goto fail;
	*out = w;
	return 0;
fail:
	tp_pq_writer_free(w);
	return rc;
}

/* ---- staging ---------------------------------------------------------------- */

static int stage_check(struct tp_pq_writer *w, size_t col)
{
	if (w == NULL)
		return TP_EINVAL;
	if (w->err != 0)
		return w->err;
	if (col >= w->n_cols)
		return TP_EINVAL;
	return 0;
}

int tp_pq_set_null(struct tp_pq_writer *w, size_t col)
{
	int rc = stage_check(w, col);
	if (rc != 0)
		return rc;
	struct wcol *c = &w->cols[col];
	if (!c->c.optional)
		return TP_EINVAL;
	c->st.set = true;
	c->st.null = true;
	return 0;
}

int tp_pq_set_bool(struct tp_pq_writer *w, size_t col, bool v)
{
	int rc = stage_check(w, col);
	if (rc != 0)
		return rc;
	struct wcol *c = &w->cols[col];
	if (c->c.type != TP_PQ_BOOLEAN)
		return TP_EINVAL;
	c->st.set = true;
	c->st.null = false;
	c->st.b = v;
	return 0;
}

/* Range of a column's integers, as the caller sees them. Unsigned columns
 * take 0..umax; signed ones smin..smax. */
struct int_range {
	bool is_unsigned;
	uint64_t umax;
	int64_t smin, smax;
};

static bool int_range(const struct wcol *c, struct int_range *r)
{
	unsigned bits;
	if (c->c.type == TP_PQ_INT32)
		bits = 32;
	else if (c->c.type == TP_PQ_INT64)
		bits = 64;
	else
		return false;
	bool is_signed = true;
	if (c->c.logical == TP_PQ_LT_INT) {
		bits = c->c.int_bits;
		is_signed = c->c.int_signed;
	}
	r->is_unsigned = !is_signed;
	r->umax = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1u;
	r->smax = (int64_t)(((uint64_t)1 << (bits - 1u)) - 1u);
	r->smin = -r->smax - 1;
	return true;
}

/* Stage an integer given either as signed (neg allowed) or unsigned. */
static int set_int(struct tp_pq_writer *w, size_t col, bool from_unsigned,
		   int64_t sv, uint64_t uv)
{
	int rc = stage_check(w, col);
	if (rc != 0)
		return rc;
	struct wcol *c = &w->cols[col];
	struct int_range r;
	if (!int_range(c, &r))
		return TP_EINVAL;
	int64_t stored;
	if (r.is_unsigned) {
		if (!from_unsigned && sv < 0)
			return TP_EINVAL;
		uint64_t u = from_unsigned ? uv : (uint64_t)sv;
		if (u > r.umax)
			return TP_EINVAL;
		/* Unsigned values travel as the same bits in the signed
		 * physical type (LogicalTypes.md, INT). */
		if (c->c.type == TP_PQ_INT32)
			stored = (int32_t)(uint32_t)u;
		else
			stored = (int64_t)u;
	} else {
		if (from_unsigned) {
			if (uv > (uint64_t)r.smax)
				return TP_EINVAL;
			stored = (int64_t)uv;
		} else {
			if (sv < r.smin || sv > r.smax)
				return TP_EINVAL;
			stored = sv;
		}
	}
	c->st.set = true;
	c->st.null = false;
	c->st.i = stored;
	return 0;
}

int tp_pq_set_i64(struct tp_pq_writer *w, size_t col, int64_t v)
{
	return set_int(w, col, false, v, 0);
}

int tp_pq_set_u64(struct tp_pq_writer *w, size_t col, uint64_t v)
{
	return set_int(w, col, true, 0, v);
}

int tp_pq_set_bytes(struct tp_pq_writer *w, size_t col, const void *data,
		    size_t len)
{
	int rc = stage_check(w, col);
	if (rc != 0)
		return rc;
	struct wcol *c = &w->cols[col];
	if (c->c.type != TP_PQ_BYTE_ARRAY || (data == NULL && len > 0))
		return TP_EINVAL;
	if (len > TP_PQ_VALUE_MAX)
		return TP_ETOOBIG;
	if (c->c.logical == TP_PQ_LT_STRING && !pq_utf8_valid(data, len))
		return TP_EINVAL; /* SPEC §4: Parquet strings are UTF-8 */
	/* A value set twice in one row leaves its first copy in the stage
	 * buffer until commit; bounded by the buffer's ceiling. */
	size_t off = w->stage.len;
	pq_buf_put(&w->stage, data, len);
	if (w->stage.err != 0) {
		rc = w->stage.err;
		w->stage.err = 0; /* the row can still be discarded */
		return rc;
	}
	c->st.set = true;
	c->st.null = false;
	c->st.off = off;
	c->st.len = len;
	return 0;
}

int tp_pq_set_str(struct tp_pq_writer *w, size_t col, const char *s)
{
	if (s == NULL)
		return TP_EINVAL;
	return tp_pq_set_bytes(w, col, s, strlen(s));
}

void tp_pq_row_discard(struct tp_pq_writer *w)
{
	if (w == NULL)
		return;
	for (size_t c = 0; c < w->n_cols; c++)
		w->cols[c].st.set = false;
	w->stage.len = 0;
}

uint64_t tp_pq_writer_rows(const struct tp_pq_writer *w)
{
	return w != NULL ? w->rows_total : 0;
}

/* ---- commit ------------------------------------------------------------------ */

static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	/* Unsigned byte-wise, a proper prefix first (parquet.thrift
	 * ColumnOrder: BYTE_ARRAY / UTF8). */
	int r = memcmp(a, b, an < bn ? an : bn);
	if (r != 0)
		return r;
	return an < bn ? -1 : (an > bn ? 1 : 0);
}

static bool int_less(const struct wcol *c, int64_t a, int64_t b)
{
	if (!c->unsigned_order)
		return a < b;
	if (c->c.type == TP_PQ_INT32)
		return (uint32_t)a < (uint32_t)b;
	return (uint64_t)a < (uint64_t)b;
}

static void stats_update(struct wcol *c, size_t voff)
{
	const struct stage *st = &c->st;
	bool first = !c->has_mm;
	c->has_mm = true;
	switch (c->c.type) {
	case TP_PQ_BOOLEAN:
		c->min_b = first ? st->b : (c->min_b && st->b);
		c->max_b = first ? st->b : (c->max_b || st->b);
		break;
	case TP_PQ_INT32:
	case TP_PQ_INT64:
		if (first || int_less(c, st->i, c->min_i))
			c->min_i = st->i;
		if (first || int_less(c, c->max_i, st->i))
			c->max_i = st->i;
		break;
	case TP_PQ_BYTE_ARRAY: {
		const uint8_t *v = c->vals.data + voff;
		if (first || bytes_cmp(v, st->len, c->vals.data + c->min_off,
				       c->min_len) < 0) {
			c->min_off = voff;
			c->min_len = st->len;
		}
		if (first || bytes_cmp(v, st->len, c->vals.data + c->max_off,
				       c->max_len) > 0) {
			c->max_off = voff;
			c->max_len = st->len;
		}
		break;
	}
	}
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	/* FNV-1a, 64 bit: quick and good enough behind DICT_PROBE_MAX. */
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3u;
	}
	return h;
}

static int dict_grow_slots(struct wcol *c)
{
	size_t n = c->n_slots == 0 ? 1024u : c->n_slots * 2u;
	uint32_t *s = calloc(n, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	for (uint32_t e = 0; e < c->n_dict; e++) {
		size_t i = (size_t)c->ents[e].hash & (n - 1u);
		while (s[i] != 0)
			i = (i + 1u) & (n - 1u);
		s[i] = e + 1u;
	}
	free(c->slots);
	c->slots = s;
	c->n_slots = n;
	return 0;
}

/* Add the committed value (at voff in vals, len octets) to the dictionary,
 * or give the dictionary up for this row group when it stops paying or
 * hits a bound. Returns 0 or -ENOMEM. */
static int dict_add(struct wcol *c, const uint8_t *v, size_t len,
		    uint64_t n_vals_before)
{
	if (c->slots == NULL && dict_grow_slots(c) != 0)
		return -ENOMEM;
	uint64_t h = hash_bytes(v, len);
	size_t mask = c->n_slots - 1u;
	size_t i = (size_t)h & mask;
	uint32_t found = UINT32_MAX;
	for (unsigned probes = 0; c->slots[i] != 0; probes++) {
		if (probes >= DICT_PROBE_MAX) {
			dict_drop(c);
			return 0;
		}
		const struct dict_ent *e = &c->ents[c->slots[i] - 1u];
		if (e->hash == h && e->len == len &&
		    memcmp(c->dict.data + e->off, v, len) == 0) {
			found = c->slots[i] - 1u;
			break;
		}
		i = (i + 1u) & mask;
	}
	if (found == UINT32_MAX) {
		if (c->n_dict >= DICT_ENTRIES_MAX ||
		    len + 4u > DICT_BYTES_MAX - c->dict.len) {
			dict_drop(c);
			return 0;
		}
		if (c->n_dict == c->ents_cap) {
			size_t cap = c->ents_cap == 0 ? 256u : c->ents_cap * 2u;
			struct dict_ent *e = realloc(c->ents, cap * sizeof(*e));
			if (e == NULL)
				return -ENOMEM;
			c->ents = e;
			c->ents_cap = cap;
		}
		pq_buf_le32(&c->dict, (uint32_t)len);
		size_t off = c->dict.len;
		pq_buf_put(&c->dict, v, len);
		if (c->dict.err != 0)
			return c->dict.err;
		found = c->n_dict;
		c->ents[found] = (struct dict_ent){ .off = (uint32_t)off,
						     .len = (uint32_t)len,
						     .hash = h };
		c->n_dict++;
		c->slots[i] = found + 1u;
		/* Keep the load at most one half. */
		if ((size_t)c->n_dict * 2u > c->n_slots &&
		    dict_grow_slots(c) != 0)
			return -ENOMEM;
	}
	if (n_vals_before == c->idx_cap) {
		size_t cap = c->idx_cap == 0 ? 1024u : c->idx_cap * 2u;
		uint32_t *p = realloc(c->idx, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		c->idx = p;
		c->idx_cap = cap;
	}
	c->idx[n_vals_before] = found;
	return 0;
}

/* Append the staged value of one column to its buffers. */
static int append_value(struct tp_pq_writer *w, struct wcol *c)
{
	bool null = !c->st.set || c->st.null;
	if (c->c.optional)
		pq_buf_byte(&c->defs, null ? 0 : 1);
	if (c->defs.err != 0)
		return c->defs.err;
	if (null) {
		c->nulls++;
		return 0;
	}
	size_t before = c->vals.len;
	size_t voff = before;
	switch (c->c.type) {
	case TP_PQ_BOOLEAN:
		pq_buf_byte(&c->vals, c->st.b ? 1 : 0);
		break;
	case TP_PQ_INT32:
		pq_buf_le32(&c->vals, (uint32_t)c->st.i);
		break;
	case TP_PQ_INT64:
		pq_buf_le64(&c->vals, (uint64_t)c->st.i);
		break;
	case TP_PQ_BYTE_ARRAY:
		pq_buf_le32(&c->vals, (uint32_t)c->st.len);
		voff = c->vals.len;
		if (c->st.len > 0) /* stage.data may still be NULL */
			pq_buf_put(&c->vals, w->stage.data + c->st.off,
				   c->st.len);
		break;
	}
	if (c->vals.err != 0)
		return c->vals.err;
	stats_update(c, voff);
	if (c->dict_live) {
		int rc = dict_add(c, c->vals.data + voff, c->st.len, c->n_vals);
		if (rc != 0)
			return rc;
	}
	c->n_vals++;
	w->rg_bytes += c->vals.len - before;
	return 0;
}

static int flush_row_group(struct tp_pq_writer *w);

int tp_pq_row_commit(struct tp_pq_writer *w)
{
	if (w == NULL)
		return TP_EINVAL;
	if (w->err != 0)
		return w->err;
	for (size_t c = 0; c < w->n_cols; c++)
		if (!w->cols[c].st.set && !w->cols[c].c.optional)
			return TP_EMISSING;
	for (size_t c = 0; c < w->n_cols; c++) {
		int rc = append_value(w, &w->cols[c]);
		if (rc != 0)
			return fail(w, rc);
	}
	tp_pq_row_discard(w);
	w->rows_total++;
	w->rg_n++;
	if (w->rg_n >= w->rg_rows || w->rg_bytes >= TP_PQ_ROW_GROUP_BYTES_MAX) {
		int rc = flush_row_group(w);
		if (rc != 0)
			return fail(w, rc);
	}
	return 0;
}

/* ---- pages ------------------------------------------------------------------ */

/* Compress body, write its page header and the page; account both in ch.
 * type: PQ_PAGE_DATA (encoding = the values' encoding) or
 * PQ_PAGE_DICTIONARY. */
static int write_page(struct tp_pq_writer *w, struct chunk_out *ch, int type,
		      const uint8_t *body, size_t len, uint32_t num_values,
		      int encoding)
{
	if (len > TP_PQ_PAGE_MAX)
		return TP_EBUG; /* excluded by the _Static_asserts above */
	int rc = pq_compress(w->codec, w->zc, w->zlevel, body, len, &w->comp);
	if (rc != 0)
		return rc;
	if (w->comp.len > TP_PQ_PAGE_MAX)
		return TP_EBUG;

	struct tc_w t;
	w->hdr.len = 0;
	tc_w_init(&t, &w->hdr);
	tc_w_i32(&t, 1, type);
	tc_w_i32(&t, 2, (int32_t)len);
	tc_w_i32(&t, 3, (int32_t)w->comp.len);
	if (type == PQ_PAGE_DATA) {
		tc_w_struct(&t, 5); /* DataPageHeader */
		tc_w_i32(&t, 1, (int32_t)num_values);
		tc_w_i32(&t, 2, encoding);
		tc_w_i32(&t, 3, PQ_ENC_RLE); /* definition levels */
		tc_w_i32(&t, 4, PQ_ENC_RLE); /* repetition levels (none) */
		tc_w_end(&t);
	} else {
		tc_w_struct(&t, 7); /* DictionaryPageHeader */
		tc_w_i32(&t, 1, (int32_t)num_values);
		tc_w_i32(&t, 2, PQ_ENC_PLAIN);
		tc_w_end(&t);
	}
	tc_w_end(&t);
	if (w->hdr.err != 0)
		return w->hdr.err;

	rc = out_put(w, w->hdr.data, w->hdr.len);
	if (rc == 0)
		rc = out_put(w, w->comp.data, w->comp.len);
	if (rc != 0)
		return rc;
	ch->total_uncomp += (int64_t)(w->hdr.len + len);
	ch->total_comp += (int64_t)(w->hdr.len + w->comp.len);
	return 0;
}

static unsigned bit_width(uint32_t max_value)
{
	unsigned bw = 0;
	while (bw < 32 && (max_value >> bw) != 0)
		bw++;
	/* Width 0 is legal for a one-entry dictionary, but some readers
	 * have mishandled it; one bit costs next to nothing. */
	return bw == 0 ? 1 : bw;
}

/* One data page holding rows [r0, r1), non-null values [v0, v1) at plain
 * octets [b0, b1) of the column's buffer. */
static int data_page(struct tp_pq_writer *w, struct wcol *c,
		     struct chunk_out *ch, size_t r0, size_t r1, size_t v0,
		     size_t v1, size_t b0, size_t b1, unsigned dict_bw)
{
	struct pq_buf *p = &w->page;
	p->len = 0;
	if (c->c.optional) {
		/* v1 data page: definition levels are prefixed by their
		 * length (LE32); bit width 1 (max level 1). */
		size_t at = p->len;
		pq_buf_le32(p, 0);
		pq_rle_encode_u8(p, c->defs.data + r0, r1 - r0, 1);
		if (p->err == 0)
			pq_store_le32(p->data + at, (uint32_t)(p->len - at - 4u));
	}
	int enc = PQ_ENC_PLAIN;
	if (dict_bw != 0) {
		enc = PQ_ENC_RLE_DICTIONARY;
		pq_buf_byte(p, (uint8_t)dict_bw);
		pq_rle_encode_u32(p, c->idx + v0, v1 - v0, dict_bw);
	} else if (c->c.type == TP_PQ_BOOLEAN) {
		/* PLAIN booleans: one bit each, LSB first. */
		uint8_t acc = 0;
		unsigned nb = 0;
		for (size_t v = v0; v < v1; v++) {
			acc = (uint8_t)(acc | (c->vals.data[v] & 1u) << nb);
			if (++nb == 8) {
				pq_buf_byte(p, acc);
				acc = 0;
				nb = 0;
			}
		}
		if (nb > 0)
			pq_buf_byte(p, acc);
	} else if (b1 > b0) {
		pq_buf_put(p, c->vals.data + b0, b1 - b0);
	}
	if (p->err != 0)
		return p->err;
	return write_page(w, ch, PQ_PAGE_DATA, p->data, p->len,
			  (uint32_t)(r1 - r0), enc);
}

/* PLAIN size of the value starting at octet b of the column's buffer. */
static size_t plain_size(const struct wcol *c, size_t b)
{
	switch (c->c.type) {
	case TP_PQ_BOOLEAN:
		return 1;
	case TP_PQ_INT32:
		return 4;
	case TP_PQ_INT64:
		return 8;
	case TP_PQ_BYTE_ARRAY:
		return 4u + (size_t)tp_load_le32(c->vals.data + b);
	}
	return 0;
}

static int set_stat(uint8_t **dst, size_t *dst_len, const void *src, size_t n)
{
	*dst = malloc(n > 0 ? n : 1u);
	if (*dst == NULL)
		return -ENOMEM;
	if (n > 0)
		memcpy(*dst, src, n);
	*dst_len = n;
	return 0;
}

static int keep_stats(const struct wcol *c, struct chunk_out *ch)
{
	ch->nulls = (int64_t)c->nulls;
	if (!c->has_mm)
		return 0;
	uint8_t lo[8], hi[8];
	size_t n;
	const void *pmin = lo, *pmax = hi;
	size_t nmin, nmax;
	switch (c->c.type) {
	case TP_PQ_BOOLEAN:
		lo[0] = c->min_b;
		hi[0] = c->max_b;
		nmin = nmax = 1;
		break;
	case TP_PQ_INT32:
	case TP_PQ_INT64:
		n = c->c.type == TP_PQ_INT32 ? 4u : 8u;
		for (unsigned i = 0; i < n; i++) {
			lo[i] = (uint8_t)((uint64_t)c->min_i >> (8u * i));
			hi[i] = (uint8_t)((uint64_t)c->max_i >> (8u * i));
		}
		nmin = nmax = n;
		break;
	case TP_PQ_BYTE_ARRAY:
	default:
		if (c->min_len > STATS_VALUE_MAX || c->max_len > STATS_VALUE_MAX)
			return 0;
		pmin = c->vals.data + c->min_off;
		pmax = c->vals.data + c->max_off;
		nmin = c->min_len;
		nmax = c->max_len;
		break;
	}
	int rc = set_stat(&ch->min, &ch->min_len, pmin, nmin);
	if (rc == 0)
		rc = set_stat(&ch->max, &ch->max_len, pmax, nmax);
	if (rc == 0)
		ch->has_mm = true;
	return rc;
}

static int write_chunk(struct tp_pq_writer *w, struct wcol *c,
		       struct chunk_out *ch)
{
	size_t rows = w->rg_n;
	ch->num_values = (int64_t)rows;
	int rc = keep_stats(c, ch);
	if (rc != 0)
		return rc;

	/* Dictionary when it pays: the dictionary page plus the packed
	 * indices must be smaller than the PLAIN values. */
	unsigned dict_bw = 0;
	if (c->dict_live && c->n_dict > 0) {
		unsigned bw = bit_width(c->n_dict - 1u);
		uint64_t est = c->dict.len + (c->n_vals * bw + 7u) / 8u + 16u;
		if (est < c->vals.len)
			dict_bw = bw;
	}
	if (dict_bw != 0) {
		ch->has_dict = true;
		ch->dict_off = (int64_t)w->off;
		rc = write_page(w, ch, PQ_PAGE_DICTIONARY, c->dict.data,
				c->dict.len, c->n_dict, PQ_ENC_PLAIN);
		if (rc != 0)
			return rc;
	}
	ch->data_off = (int64_t)w->off;

	size_t r0 = 0, v0 = 0, b0 = 0, v = 0, b = 0, page_bytes = 0;
	for (size_t r = 0; r < rows; r++) {
		if (!c->c.optional || c->defs.data[r] != 0) {
			size_t sz = plain_size(c, b);
			b += sz;
			v++;
			page_bytes += sz;
		}
		if (page_bytes >= PAGE_TARGET || r + 1u == rows) {
			rc = data_page(w, c, ch, r0, r + 1u, v0, v, b0, b,
				       dict_bw);
			if (rc != 0)
				return rc;
			r0 = r + 1u;
			v0 = v;
			b0 = b;
			page_bytes = 0;
		}
	}
	if (v != c->n_vals || b != c->vals.len)
		return TP_EBUG;
	return 0;
}

static void reset_column(struct tp_pq_writer *w, struct wcol *c)
{
	c->defs.len = 0;
	c->vals.len = 0;
	c->n_vals = 0;
	c->nulls = 0;
	c->has_mm = false;
	if (c->dict_live) {
		c->dict.len = 0;
		c->n_dict = 0;
		if (c->slots != NULL)
			memset(c->slots, 0, c->n_slots * sizeof(*c->slots));
	} else {
		/* Give each row group a fresh chance at a dictionary. */
		dict_drop(c);
		c->dict_live = !w->no_dict && c->c.type == TP_PQ_BYTE_ARRAY;
	}
}

static int flush_row_group(struct tp_pq_writer *w)
{
	if (w->rg_n == 0)
		return 0;
	if (w->n_rgs >= TP_PQ_ROW_GROUPS_MAX)
		return TP_ETOOBIG;
	if (w->n_rgs == w->rgs_cap) {
		size_t cap = w->rgs_cap == 0 ? 8u : w->rgs_cap * 2u;
		struct rg_out *p = realloc(w->rgs, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		w->rgs = p;
		w->rgs_cap = cap;
	}
	struct rg_out *rg = &w->rgs[w->n_rgs];
	memset(rg, 0, sizeof(*rg));
	rg->chunks = calloc(w->n_cols, sizeof(*rg->chunks));
	if (rg->chunks == NULL)
		return -ENOMEM;
	w->n_rgs++;
	rg->num_rows = w->rg_n;
	rg->file_offset = (int64_t)w->off;
	for (size_t c = 0; c < w->n_cols; c++) {
		int rc = write_chunk(w, &w->cols[c], &rg->chunks[c]);
		if (rc != 0)
			return rc;
		rg->total_byte_size += rg->chunks[c].total_uncomp;
		rg->total_comp += rg->chunks[c].total_comp;
	}
	for (size_t c = 0; c < w->n_cols; c++)
		reset_column(w, &w->cols[c]);
	w->rg_n = 0;
	w->rg_bytes = 0;
	return 0;
}

/* ---- footer ------------------------------------------------------------------ */

static void schema_leaf(struct tc_w *t, const struct wcol *c)
{
	tc_w_elem_struct(t);
	tc_w_i32(t, 1, c->ptype);
	tc_w_i32(t, 3, c->c.optional ? PQ_REP_OPTIONAL : PQ_REP_REQUIRED);
	tc_w_string(t, 4, c->name);
	/* LogicalTypes.md asks writers to set both annotations so that
	 * readers from before LogicalType agree with newer ones. */
	switch (c->c.logical) {
	case TP_PQ_LT_NONE:
		break;
	case TP_PQ_LT_STRING:
		tc_w_i32(t, 6, PQ_CT_UTF8);
		tc_w_struct(t, 10);
		tc_w_empty(t, PQ_LT_STRING);
		tc_w_end(t);
		break;
	case TP_PQ_LT_TIMESTAMP_MICROS:
		tc_w_i32(t, 6, PQ_CT_TIMESTAMP_MICROS);
		tc_w_struct(t, 10);
		tc_w_struct(t, PQ_LT_TIMESTAMP);
		tc_w_bool(t, 1, true); /* isAdjustedToUTC */
		tc_w_struct(t, 2);     /* unit */
		tc_w_empty(t, PQ_UNIT_MICROS);
		tc_w_end(t);
		tc_w_end(t);
		tc_w_end(t);
		break;
	case TP_PQ_LT_INT: {
		int ct;
		switch (c->c.int_bits) {
		case 8:
			ct = c->c.int_signed ? PQ_CT_INT_8 : PQ_CT_UINT_8;
			break;
		case 16:
			ct = c->c.int_signed ? PQ_CT_INT_16 : PQ_CT_UINT_16;
			break;
		case 32:
			ct = c->c.int_signed ? PQ_CT_INT_32 : PQ_CT_UINT_32;
			break;
		default:
			ct = c->c.int_signed ? PQ_CT_INT_64 : PQ_CT_UINT_64;
			break;
		}
		tc_w_i32(t, 6, ct);
		tc_w_struct(t, 10);
		tc_w_struct(t, PQ_LT_INTEGER);
		tc_w_i8(t, 1, (int8_t)c->c.int_bits);
		tc_w_bool(t, 2, c->c.int_signed);
		tc_w_end(t);
		tc_w_end(t);
		break;
	}
	}
	tc_w_end(t);
}

static void column_chunk(struct tc_w *t, const struct tp_pq_writer *w,
			 const struct wcol *c, const struct chunk_out *ch)
{
	tc_w_elem_struct(t);
	/* file_offset is deprecated; parquet.thrift asks for 0 when no
	 * ColumnMetaData is written outside the footer. */
	tc_w_i64(t, 2, 0);
	tc_w_struct(t, 3); /* ColumnMetaData */
	tc_w_i32(t, 1, c->ptype);
	if (ch->has_dict) {
		tc_w_list(t, 2, TC_I32, 3);
		tc_w_elem_i32(t, PQ_ENC_PLAIN);
		tc_w_elem_i32(t, PQ_ENC_RLE);
		tc_w_elem_i32(t, PQ_ENC_RLE_DICTIONARY);
	} else {
		tc_w_list(t, 2, TC_I32, 2);
		tc_w_elem_i32(t, PQ_ENC_PLAIN);
		tc_w_elem_i32(t, PQ_ENC_RLE);
	}
	tc_w_list(t, 3, TC_BINARY, 1);
	tc_w_elem_binary(t, c->name, strlen(c->name));
	tc_w_i32(t, 4, w->codec);
	tc_w_i64(t, 5, ch->num_values);
	tc_w_i64(t, 6, ch->total_uncomp);
	tc_w_i64(t, 7, ch->total_comp);
	tc_w_i64(t, 9, ch->data_off);
	if (ch->has_dict)
		tc_w_i64(t, 11, ch->dict_off);
	tc_w_struct(t, 12); /* Statistics */
	tc_w_i64(t, 3, ch->nulls);
	if (ch->has_mm) {
		tc_w_binary(t, 5, ch->max, ch->max_len);
		tc_w_binary(t, 6, ch->min, ch->min_len);
		tc_w_bool(t, 7, true); /* is_max_value_exact */
		tc_w_bool(t, 8, true); /* is_min_value_exact */
	}
	tc_w_end(t);
	tc_w_end(t); /* ColumnMetaData */
	tc_w_end(t); /* ColumnChunk */
}

static int write_footer(struct tp_pq_writer *w)
{
	struct pq_buf *b = &w->hdr;
	struct tc_w t;
	b->len = 0;
	tc_w_init(&t, b);
	/* Version 2: the file uses RLE_DICTIONARY, a format 2 encoding. */
	tc_w_i32(&t, 1, 2);

	tc_w_list(&t, 2, TC_STRUCT, w->n_cols + 1u);
	tc_w_elem_struct(&t); /* root: a group without repetition */
	tc_w_string(&t, 4, w->root_name);
	tc_w_i32(&t, 5, (int32_t)w->n_cols);
	tc_w_end(&t);
	for (size_t c = 0; c < w->n_cols; c++)
		schema_leaf(&t, &w->cols[c]);

	tc_w_i64(&t, 3, (int64_t)w->rows_total);

	tc_w_list(&t, 4, TC_STRUCT, w->n_rgs);
	for (size_t i = 0; i < w->n_rgs; i++) {
		const struct rg_out *rg = &w->rgs[i];
		tc_w_elem_struct(&t);
		tc_w_list(&t, 1, TC_STRUCT, w->n_cols);
		for (size_t c = 0; c < w->n_cols; c++)
			column_chunk(&t, w, &w->cols[c], &rg->chunks[c]);
		tc_w_i64(&t, 2, rg->total_byte_size);
		tc_w_i64(&t, 3, rg->num_rows);
		tc_w_i64(&t, 5, rg->file_offset);
		tc_w_i64(&t, 6, rg->total_comp);
		tc_w_end(&t);
	}

	if (w->n_kv > 0) {
		tc_w_list(&t, 5, TC_STRUCT, w->n_kv);
		for (size_t i = 0; i < w->n_kv; i++) {
			tc_w_elem_struct(&t);
			tc_w_string(&t, 1, w->kv_key[i]);
			if (w->kv_val[i] != NULL)
				tc_w_string(&t, 2, w->kv_val[i]);
			tc_w_end(&t);
		}
	}
	tc_w_string(&t, 6, TP_PQ_CREATED_BY);

	/* TYPE_DEFINED_ORDER for every column: min/max above follow the
	 * logical type's order (unsigned for UINT, bytes for strings), and
	 * readers ignore min_value/max_value without it. */
	tc_w_list(&t, 7, TC_STRUCT, w->n_cols);
	for (size_t c = 0; c < w->n_cols; c++) {
		tc_w_elem_struct(&t);
		tc_w_empty(&t, 1);
		tc_w_end(&t);
	}
	tc_w_end(&t);
	if (b->err != 0)
		return b->err;
	if (b->len > TP_PQ_FOOTER_MAX)
		return TP_ETOOBIG;

	uint8_t tail[PQ_TAIL_LEN];
	pq_store_le32(tail, (uint32_t)b->len);
	memcpy(tail + 4, PQ_MAGIC, PQ_MAGIC_LEN);
	int rc = out_put(w, b->data, b->len);
	if (rc == 0)
		rc = out_put(w, tail, sizeof(tail));
	if (rc == 0)
		rc = out_flush(w);
	return rc;
}

/* ---- close ------------------------------------------------------------------- */

/* fsync the directory holding path, so that the rename is durable. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	if (slash == NULL) {
		memcpy(dir, ".", 2);
	} else if (slash == path) {
		memcpy(dir, "/", 2);
	} else {
		size_t n = (size_t)(slash - path);
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) != 0 ? -errno : 0;
	(void)close(fd);
	return rc;
}

int tp_pq_writer_close(struct tp_pq_writer *w)
{
	if (w == NULL)
		return TP_EINVAL;
	int rc = w->err;
	if (rc == 0)
		rc = flush_row_group(w);
	if (rc == 0)
		rc = write_footer(w);
	if (rc == 0 && fsync(w->fd) != 0)
		rc = -errno;
	if (close(w->fd) != 0 && rc == 0)
		rc = -errno;
	w->fd = -1;
	if (rc == 0 && rename(w->tmp, w->path) != 0)
		rc = -errno;
	if (rc != 0) {
		tp_pq_writer_free(w); /* removes the tmp file */
		return rc;
	}
	/* Renamed: the tmp name is gone and the file stays even if the
	 * directory cannot be synced (the caller hears about it). */
	rc = sync_dir(w->path);
	destroy(w);
	return rc;
}
