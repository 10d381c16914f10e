/* SPDX-License-Identifier: BSD-2-Clause
 *
 * parquet.h - a small Parquet writer and reader for flat tables.
 *
 * tapir ships its crowd histograms as Parquet (SPEC §5, edm-spec §3.5) and
 * keeps its local session log in it (edm-spec §4.1); `tapir inspect` reads
 * both back. This module covers exactly the subset those files need and no
 * more: a flat schema of REQUIRED or OPTIONAL leaf columns of physical type
 * BOOLEAN, INT32, INT64 or BYTE_ARRAY, annotated as STRING,
 * TIMESTAMP(MICROS, UTC) or INT(bits, signed); PLAIN and dictionary
 * (RLE_DICTIONARY with a PLAIN dictionary page) encodings; definition levels
 * in the RLE/bit-packing hybrid; v1 data pages; Snappy, Zstd or no
 * compression. Files name both the ConvertedType and the LogicalType of
 * every annotated column so that old and new readers agree, and carry
 * column-chunk statistics (min/max in the column's own order, null count).
 *
 * The writer buffers one row group in memory (bounded in rows and bytes by
 * lib/util/limits.h), writes to "<path>.tmp", fsyncs, renames to <path> and
 * fsyncs the directory: a reader never sees a half-written file under the
 * final name, and on any error the tmp file is removed.
 *
 * The reader treats every byte of a file as hostile: each length, offset,
 * count, varint and nesting level is checked against the data and against
 * lib/util/limits.h before use, pages are decompressed only into buffers of
 * their declared (bounded) size, and anything outside the subset above is
 * refused with -ENOTSUP rather than guessed at. It streams: at any time it
 * holds one page (and dictionary) per column.
 */
#ifndef TP_PARQUET_PARQUET_H
#define TP_PARQUET_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/limits.h"

/* Physical types (a subset of the Parquet Type enum). */
enum tp_pq_type {
	TP_PQ_BOOLEAN,
	TP_PQ_INT32,
	TP_PQ_INT64,
	TP_PQ_BYTE_ARRAY,
};

/* Logical annotations. Valid pairs:
 *   TP_PQ_LT_NONE              any physical type (BYTE_ARRAY = raw bytes)
 *   TP_PQ_LT_STRING            BYTE_ARRAY; values must be valid UTF-8
 *   TP_PQ_LT_TIMESTAMP_MICROS  INT64; microseconds since the Unix epoch,
 *                              isAdjustedToUTC = true
 *   TP_PQ_LT_INT               INT32 with int_bits 8, 16 or 32, or INT64
 *                              with int_bits 64; signed or unsigned. An
 *                              unsigned value is stored as the same bit
 *                              pattern in the signed physical type. */
enum tp_pq_logical {
	TP_PQ_LT_NONE,
	TP_PQ_LT_STRING,
	TP_PQ_LT_TIMESTAMP_MICROS,
	TP_PQ_LT_INT,
};

/* One leaf column. In a writer schema the strings are copied by
 * tp_pq_writer_new(); in a reader's schema they belong to the reader. */
struct tp_pq_column {
	const char *name;           /* 1..TP_PQ_NAME_MAX octets, unique */
	enum tp_pq_type type;
	enum tp_pq_logical logical;
	uint8_t int_bits;           /* TP_PQ_LT_INT only: 8, 16, 32 or 64 */
	bool int_signed;            /* TP_PQ_LT_INT only */
	bool optional;              /* OPTIONAL (nullable) rather than REQUIRED */
};

/* ---- writer ------------------------------------------------------------ */

enum tp_pq_codec {
	TP_PQ_CODEC_SNAPPY, /* the default: the reference's codec (edm-spec §3.5) */
	TP_PQ_CODEC_ZSTD,
	TP_PQ_CODEC_NONE,
};

struct tp_pq_kv {
	const char *key;   /* 1..TP_PQ_NAME_MAX octets */
	const char *value; /* NULL: key without value; else <= TP_PQ_NAME_MAX */
};

/* Options; a zeroed struct (or NULL) gives the defaults. */
struct tp_pq_writer_opts {
	enum tp_pq_codec codec;   /* default Snappy */
	int zstd_level;           /* 0: libzstd's default level */
	uint32_t row_group_rows;  /* 0: TP_PQ_ROW_GROUP_ROWS_DEFAULT; at most
				   * TP_PQ_ROW_GROUP_ROWS_MAX */
	bool no_dictionary;       /* PLAIN only, even where a dictionary pays */
	const char *root_name;    /* schema root; NULL: "schema" */
	const struct tp_pq_kv *kv; /* key_value_metadata, copied; may be NULL */
	size_t n_kv;              /* at most TP_PQ_KV_MAX */
};

struct tp_pq_writer;

/* Create "<path>.tmp" (mode 0640, truncated if it exists) and start a file.
 *   path: copied. cols: copied (n_cols 1..TP_PQ_COLUMNS_MAX). opts: copied.
 * Returns 0 and *out, or
 *   TP_EINVAL  a NULL argument, a bad schema (empty, duplicate or overlong
 *              name; type and logical annotation that do not match) or bad
 *              options;
 *   -ENOMEM, or -errno from creating or writing the tmp file. */
int tp_pq_writer_new(const char *path, const struct tp_pq_column *cols,
		     size_t n_cols, const struct tp_pq_writer_opts *opts,
		     struct tp_pq_writer **out) TP_WUR;

/* Stage one value of the current row. Setting a column twice in a row keeps
 * the last value; a failed call leaves the column as it was.
 *   set_null:  OPTIONAL columns only.
 *   set_bool:  BOOLEAN columns.
 *   set_i64:   INT32/INT64 columns, including timestamps; the value must fit
 *              the column (int_bits and signedness; INT32 without annotation
 *              takes INT32_MIN..INT32_MAX).
 *   set_u64:   INT32/INT64 columns when the value fits (for unsigned 64-bit
 *              columns: all of 0..UINT64_MAX).
 *   set_bytes: BYTE_ARRAY columns; data copied, len <= TP_PQ_VALUE_MAX;
 *              STRING columns must receive valid UTF-8. data may be NULL
 *              when len is 0 (the empty string, which is not NULL).
 *   set_str:   set_bytes with strlen(s).
 * Returns 0, or
 *   TP_EINVAL  col out of range, a call that does not fit the column's type,
 *              a value out of its range, NULL on a REQUIRED column, invalid
 *              UTF-8 for a STRING;
 *   TP_ETOOBIG len > TP_PQ_VALUE_MAX;
 *   -ENOMEM, or the writer's earlier failure (see tp_pq_row_commit). */
int tp_pq_set_null(struct tp_pq_writer *w, size_t col) TP_WUR;
int tp_pq_set_bool(struct tp_pq_writer *w, size_t col, bool v) TP_WUR;
int tp_pq_set_i64(struct tp_pq_writer *w, size_t col, int64_t v) TP_WUR;
int tp_pq_set_u64(struct tp_pq_writer *w, size_t col, uint64_t v) TP_WUR;
int tp_pq_set_bytes(struct tp_pq_writer *w, size_t col, const void *data,
		    size_t len) TP_WUR;
int tp_pq_set_str(struct tp_pq_writer *w, size_t col, const char *s) TP_WUR;

/* Append the staged row; OPTIONAL columns left unset are NULL. A full row
 * group (row_group_rows rows, or TP_PQ_ROW_GROUP_BYTES_MAX of values) is
 * encoded, compressed and written here.
 * Returns 0, or
 *   TP_EMISSING a REQUIRED column was not set: nothing is appended and the
 *               staged values stay, so the caller may set it and retry;
 *   -ENOMEM, -errno (write), TP_ETOOBIG (a row group past
 *               TP_PQ_ROW_GROUPS_MAX), TP_EBUG: the writer has failed for
 *               good; every later call returns the same code and
 *               tp_pq_writer_close() removes the tmp file. */
int tp_pq_row_commit(struct tp_pq_writer *w) TP_WUR;

/* Forget the staged values of the current row. */
void tp_pq_row_discard(struct tp_pq_writer *w);

/* Rows committed so far. */
uint64_t tp_pq_writer_rows(const struct tp_pq_writer *w);

/* Write the last row group and the footer, fsync, rename "<path>.tmp" to
 * path, fsync the directory. Zero rows give a valid file with the schema
 * and no row group (edm writes no file then; that choice is the caller's).
 * A staged but uncommitted row is dropped.
 *   w: taken (freed even on failure).
 * Returns 0, or the first error of the writer's life (-errno, -ENOMEM,
 * TP_ETOOBIG for a footer over TP_PQ_FOOTER_MAX, TP_EBUG); on failure the
 * tmp file is removed and path is not touched. One exception: when only the
 * final directory fsync fails, path is already the complete new file and
 * its -errno is returned (durability of the rename is then unknown). */
int tp_pq_writer_close(struct tp_pq_writer *w) TP_WUR;

/* Abandon the file: remove "<path>.tmp" and free. NULL is accepted. */
void tp_pq_writer_free(struct tp_pq_writer *w);

/* ---- reader ------------------------------------------------------------ */

/* A borrowed view of octets. */
struct tp_pq_bytes {
	const uint8_t *data;
	size_t len;
};

/* One value of the current row. Which fields hold it depends on the
 * column: BOOLEAN -> b; INT32/INT64 -> i (sign-extended) and u (the same
 * bits read as unsigned: use u for unsigned INT annotations, where an INT32
 * column gives 0..UINT32_MAX); BYTE_ARRAY -> bytes (not NUL-terminated;
 * a STRING read from a foreign file is not guaranteed to be valid UTF-8). */
struct tp_pq_value {
	bool is_null;
	bool b;
	int64_t i;
	uint64_t u;
	struct tp_pq_bytes bytes;
};

struct tp_pq_reader;

/* Open a file: read it whole (at most TP_PQ_FILE_MAX octets) and decode
 * its footer.
 *   path: borrowed for the call.
 * Returns 0 and *out, or -errno, -ENOMEM, TP_ETOOBIG (file too large), or
 * any code of tp_pq_reader_open_mem(). */
int tp_pq_reader_open(const char *path, struct tp_pq_reader **out) TP_WUR;

/* Open a file held in memory.
 *   data, len: borrowed until tp_pq_reader_free().
 * Returns 0 and *out, or
 *   TP_ETRUNC   shorter than the 12 octets of magic and footer length, or a
 *               footer length that runs past the start of the file;
 *   TP_EMALF    no "PAR1" magic at either end, or a footer that is not valid
 *               Thrift compact protocol or not a consistent FileMetaData
 *               (bad enum value, row counts that do not add up, a column
 *               chunk outside the data area, ...);
 *   TP_EMISSING a required FileMetaData field is absent;
 *   TP_ETOOBIG  a count or size beyond lib/util/limits.h;
 *   -ENOTSUP    valid Parquet outside the subset this module reads (nested
 *               or repeated columns, FLOAT/DOUBLE/INT96/FIXED_LEN_BYTE_ARRAY,
 *               another logical type, an encrypted footer, another codec);
 *   TP_EINVAL   a NULL argument; -ENOMEM. */
int tp_pq_reader_open_mem(const uint8_t *data, size_t len,
			  struct tp_pq_reader **out) TP_WUR;

/* Free the reader (and the file it read). NULL is accepted. */
void tp_pq_reader_free(struct tp_pq_reader *r);

/* Schema: n columns; names owned by the reader, NUL-terminated. */
size_t tp_pq_reader_n_columns(const struct tp_pq_reader *r);
const struct tp_pq_column *tp_pq_reader_columns(const struct tp_pq_reader *r);

/* File facts from the footer. Views stay valid until tp_pq_reader_free(). */
uint64_t tp_pq_reader_n_rows(const struct tp_pq_reader *r);
size_t tp_pq_reader_n_row_groups(const struct tp_pq_reader *r);
/* created_by; data is NULL when the footer has none. */
struct tp_pq_bytes tp_pq_reader_created_by(const struct tp_pq_reader *r);
size_t tp_pq_reader_n_kv(const struct tp_pq_reader *r);
/* Key/value pair i < n_kv; value.data is NULL when the pair has none.
 * Returns 0 or TP_EINVAL (i out of range). */
int tp_pq_reader_kv(const struct tp_pq_reader *r, size_t i,
		    struct tp_pq_bytes *out_key,
		    struct tp_pq_bytes *out_value) TP_WUR;

/* Advance to the next row.
 *   out_row: an array of tp_pq_reader_n_columns() values, valid until the
 *            next call or tp_pq_reader_free().
 * Returns 1 with a row; 0 after the last row; or, for good (every later call
 * returns the same code):
 *   TP_ETRUNC, TP_EMALF  a page header, page, level or value stream that
 *               does not decode, a dictionary index out of range, a page that
 *               does not decompress to exactly its declared size, value
 *               counts that disagree with the footer;
 *   TP_ETOOBIG  a page beyond TP_PQ_PAGE_MAX, or TP_PQ_READER_MEM_MAX held;
 *   -ENOTSUP    an encoding or page type outside the subset;
 *   -ENOMEM. */
int tp_pq_reader_next(struct tp_pq_reader *r,
		      const struct tp_pq_value **out_row) TP_WUR;

#endif
