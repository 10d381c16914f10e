/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_parquet.c - unit tests for lib/parquet (writer, reader, the Thrift
 * compact protocol and the RLE/bit-packing hybrid).
 *
 * Round trips cover every physical and logical type, NULLs, empty strings,
 * extremes of every integer range, dictionary and PLAIN, every codec,
 * several row groups, zero rows and values at the size ceiling. The reader
 * is then treated as what it is, a parser of hostile files: every truncated
 * prefix, every suffix and every single-bit flip of a written file is read
 * from an exact-size heap copy (so the sanitizers see any overrun), and
 * must end in a TP_E* code or -ENOTSUP, never a crash; hand-built footers
 * check that unsupported Parquet is refused by name. The independent
 * readers (DuckDB, hyparquet) are in tests/integration/test_parquet_readers.py.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "parquet/parquet.h"
#include "parquet/parquet_impl.h"
#include "parquet/thrift.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixtures -------------------------------------------------------------- */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tapir-test-parquet-XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

/* The tests create plain files directly in tmpdir, nothing deeper. */
static int teardown_dir(void **state)
{
	(void)state;
	DIR *d = opendir(tmpdir);
	if (d == NULL)
		return -1;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char path[320];
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		(void)unlink(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

static void path_of(char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s/%s", tmpdir, name);
	assert_true(n > 0 && (size_t)n < size);
}

/* Read a whole file into an exact-size heap buffer. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	uint8_t *buf = malloc((size_t)n > 0 ? (size_t)n : 1u);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* ---- the all-types table ---------------------------------------------------- */

enum {
	C_B,
	C_B_OPT,
	C_I32,
	C_I8,
	C_U8,
	C_I16,
	C_U16,
	C_U32,
	C_I64,
	C_U64,
	C_U64_OPT,
	C_TS,
	C_S,
	C_S_REQ,
	C_BIN,
	N_COLS
};

static const struct tp_pq_column all_cols[N_COLS] = {
	[C_B] = { .name = "b", .type = TP_PQ_BOOLEAN },
	[C_B_OPT] = { .name = "b_opt", .type = TP_PQ_BOOLEAN, .optional = true },
	[C_I32] = { .name = "i32", .type = TP_PQ_INT32, .optional = true },
	[C_I8] = { .name = "i8", .type = TP_PQ_INT32, .logical = TP_PQ_LT_INT,
		   .int_bits = 8, .int_signed = true },
	[C_U8] = { .name = "u8", .type = TP_PQ_INT32, .logical = TP_PQ_LT_INT,
		   .int_bits = 8 },
	[C_I16] = { .name = "i16", .type = TP_PQ_INT32, .logical = TP_PQ_LT_INT,
		    .int_bits = 16, .int_signed = true },
	[C_U16] = { .name = "u16", .type = TP_PQ_INT32, .logical = TP_PQ_LT_INT,
		    .int_bits = 16, .optional = true },
	[C_U32] = { .name = "u32", .type = TP_PQ_INT32, .logical = TP_PQ_LT_INT,
		    .int_bits = 32 },
	[C_I64] = { .name = "i64", .type = TP_PQ_INT64 },
	[C_U64] = { .name = "u64", .type = TP_PQ_INT64, .logical = TP_PQ_LT_INT,
		    .int_bits = 64 },
	[C_U64_OPT] = { .name = "u64_opt", .type = TP_PQ_INT64,
			.logical = TP_PQ_LT_INT, .int_bits = 64,
			.optional = true },
	[C_TS] = { .name = "ts", .type = TP_PQ_INT64,
		   .logical = TP_PQ_LT_TIMESTAMP_MICROS, .optional = true },
	[C_S] = { .name = "s", .type = TP_PQ_BYTE_ARRAY,
		  .logical = TP_PQ_LT_STRING, .optional = true },
	[C_S_REQ] = { .name = "s_req", .type = TP_PQ_BYTE_ARRAY,
		      .logical = TP_PQ_LT_STRING },
	[C_BIN] = { .name = "bin", .type = TP_PQ_BYTE_ARRAY, .optional = true },
};

/* Row i of the table, deterministic: extremes in the first rows, then
 * patterns with NULLs, empty strings and repeats (so dictionaries pay). */
struct row {
	bool b;
	int b_opt; /* -1 NULL */
	bool i32_null;
	int32_t i32;
	int8_t i8;
	uint8_t u8;
	int16_t i16;
	bool u16_null;
	uint16_t u16;
	uint32_t u32;
	int64_t i64;
	uint64_t u64;
	bool u64_opt_null;
	uint64_t u64_opt;
	bool ts_null;
	int64_t ts;
	const char *s; /* NULL = NULL */
	const char *s_req;
	bool bin_null;
	uint8_t bin[4];
	size_t bin_len;
};

static const char *const strs[] = { "", "com", "example", "r\\195\\164ksm",
				    "r\xc3\xa4ksm\xc3\xb6rg\xc3\xa5s",
				    "\xf0\x9f\x98\x80" };

static struct row make_row(size_t i)
{
	struct row r;
	memset(&r, 0, sizeof(r));
	switch (i) {
	case 0:
		r.b_opt = -1;
		r.i32 = INT32_MIN;
		r.i8 = INT8_MIN;
		r.u8 = UINT8_MAX;
		r.i16 = INT16_MIN;
		r.u16 = UINT16_MAX;
		r.u32 = UINT32_MAX;
		r.i64 = INT64_MIN;
		r.u64 = UINT64_MAX;
		r.u64_opt = (uint64_t)1 << 63;
		r.ts = -1;
		r.s = "";
		r.s_req = "";
		r.bin_len = 0;
		return r;
	case 1:
		r.b = true;
		r.b_opt = 1;
		r.i32 = INT32_MAX;
		r.i8 = INT8_MAX;
		r.u8 = 0;
		r.i16 = INT16_MAX;
		r.u16 = 0;
		r.u32 = 0;
		r.i64 = INT64_MAX;
		r.u64 = 0;
		r.u64_opt_null = true;
		r.ts = INT64_MAX;
		r.s = NULL;
		r.s_req = "\xf0\x9f\x98\x80";
		r.bin[0] = 0xff;
		r.bin[1] = 0x00;
		r.bin_len = 2;
		return r;
	default:
		break;
	}
	r.b = i % 3 == 0;
	r.b_opt = i % 5 == 0 ? -1 : (int)(i % 2);
	r.i32_null = i % 7 == 0;
	r.i32 = (int32_t)(i * 977) - 50000;
	r.i8 = (int8_t)((int)(i % 256) - 128);
	r.u8 = (uint8_t)(i % 256);
	r.i16 = (int16_t)((int)(i * 31 % 65536) - 32768);
	r.u16_null = i % 4 == 1;
	r.u16 = (uint16_t)(i * 131);
	r.u32 = (uint32_t)i * 2654435761u;
	r.i64 = (int64_t)i * -1000000007;
	r.u64 = UINT64_MAX - i;
	r.u64_opt_null = i % 3 == 1;
	r.u64_opt = (uint64_t)i << 40;
	r.ts_null = i % 11 == 0;
	r.ts = 1727374440000000 + (int64_t)i;
	r.s = i % 6 == 0 ? NULL : strs[i % N_ELEMS(strs)];
	r.s_req = strs[(i / 3) % N_ELEMS(strs)];
	r.bin_null = i % 2 == 0;
	r.bin[0] = (uint8_t)i;
	r.bin[1] = 0;
	r.bin[2] = (uint8_t)~i;
	r.bin_len = i % 4;
	return r;
}

static void set_row(struct tp_pq_writer *w, const struct row *r)
{
	assert_int_equal(tp_pq_set_bool(w, C_B, r->b), 0);
	if (r->b_opt < 0)
		assert_int_equal(tp_pq_set_null(w, C_B_OPT), 0);
	else
		assert_int_equal(tp_pq_set_bool(w, C_B_OPT, r->b_opt != 0), 0);
	if (!r->i32_null) /* left unset: an OPTIONAL column becomes NULL */
		assert_int_equal(tp_pq_set_i64(w, C_I32, r->i32), 0);
	assert_int_equal(tp_pq_set_i64(w, C_I8, r->i8), 0);
	assert_int_equal(tp_pq_set_u64(w, C_U8, r->u8), 0);
	assert_int_equal(tp_pq_set_i64(w, C_I16, r->i16), 0);
	if (r->u16_null)
		assert_int_equal(tp_pq_set_null(w, C_U16), 0);
	else
		assert_int_equal(tp_pq_set_i64(w, C_U16, r->u16), 0);
	assert_int_equal(tp_pq_set_u64(w, C_U32, r->u32), 0);
	assert_int_equal(tp_pq_set_i64(w, C_I64, r->i64), 0);
	assert_int_equal(tp_pq_set_u64(w, C_U64, r->u64), 0);
	if (r->u64_opt_null)
		assert_int_equal(tp_pq_set_null(w, C_U64_OPT), 0);
	else
		assert_int_equal(tp_pq_set_u64(w, C_U64_OPT, r->u64_opt), 0);
	if (r->ts_null)
		assert_int_equal(tp_pq_set_null(w, C_TS), 0);
	else
		assert_int_equal(tp_pq_set_i64(w, C_TS, r->ts), 0);
	if (r->s == NULL)
		assert_int_equal(tp_pq_set_null(w, C_S), 0);
	else
		assert_int_equal(tp_pq_set_str(w, C_S, r->s), 0);
	assert_int_equal(tp_pq_set_str(w, C_S_REQ, r->s_req), 0);
	if (r->bin_null)
		assert_int_equal(tp_pq_set_null(w, C_BIN), 0);
	else
		assert_int_equal(tp_pq_set_bytes(w, C_BIN, r->bin_len ? r->bin : NULL,
						 r->bin_len),
				 0);
}

static void check_bytes(const struct tp_pq_value *v, const void *p, size_t n)
{
	assert_false(v->is_null);
	assert_int_equal(v->bytes.len, n);
	if (n > 0)
		assert_memory_equal(v->bytes.data, p, n);
}

static void check_row(const struct tp_pq_value *v, const struct row *r)
{
	assert_false(v[C_B].is_null);
	assert_int_equal(v[C_B].b, r->b);
	assert_int_equal(v[C_B_OPT].is_null, r->b_opt < 0);
	if (r->b_opt >= 0)
		assert_int_equal(v[C_B_OPT].b, r->b_opt != 0);
	assert_int_equal(v[C_I32].is_null, r->i32_null);
	if (!r->i32_null)
		assert_int_equal(v[C_I32].i, r->i32);
	assert_int_equal(v[C_I8].i, r->i8);
	assert_int_equal(v[C_U8].u, r->u8);
	assert_int_equal(v[C_I16].i, r->i16);
	assert_int_equal(v[C_U16].is_null, r->u16_null);
	if (!r->u16_null)
		assert_int_equal(v[C_U16].u, r->u16);
	/* An unsigned INT32 reads back as 0..UINT32_MAX through u. */
	assert_true(v[C_U32].u == r->u32);
	assert_true(v[C_I64].i == r->i64);
	assert_true(v[C_U64].u == r->u64);
	assert_int_equal(v[C_U64_OPT].is_null, r->u64_opt_null);
	if (!r->u64_opt_null)
		assert_true(v[C_U64_OPT].u == r->u64_opt);
	assert_int_equal(v[C_TS].is_null, r->ts_null);
	if (!r->ts_null)
		assert_true(v[C_TS].i == r->ts);
	if (r->s == NULL)
		assert_true(v[C_S].is_null);
	else
		check_bytes(&v[C_S], r->s, strlen(r->s));
	check_bytes(&v[C_S_REQ], r->s_req, strlen(r->s_req));
	assert_int_equal(v[C_BIN].is_null, r->bin_null);
	if (!r->bin_null)
		check_bytes(&v[C_BIN], r->bin, r->bin_len);
}

static void write_table(const char *path, size_t n_rows,
			const struct tp_pq_writer_opts *o)
{
	struct tp_pq_writer *w;
	assert_int_equal(tp_pq_writer_new(path, all_cols, N_COLS, o, &w), 0);
	for (size_t i = 0; i < n_rows; i++) {
		struct row r = make_row(i);
		set_row(w, &r);
		assert_int_equal(tp_pq_row_commit(w), 0);
	}
	assert_int_equal(tp_pq_writer_rows(w), n_rows);
	assert_int_equal(tp_pq_writer_close(w), 0);
}

/* Read path back and compare with the table; returns the row groups. */
static size_t check_table(const char *path, size_t n_rows)
{
	struct tp_pq_reader *r;
	assert_int_equal(tp_pq_reader_open(path, &r), 0);
	assert_int_equal(tp_pq_reader_n_columns(r), N_COLS);
	const struct tp_pq_column *cols = tp_pq_reader_columns(r);
	for (size_t c = 0; c < N_COLS; c++) {
		assert_string_equal(cols[c].name, all_cols[c].name);
		assert_int_equal(cols[c].type, all_cols[c].type);
		assert_int_equal(cols[c].logical, all_cols[c].logical);
		assert_int_equal(cols[c].int_bits, all_cols[c].int_bits);
		assert_int_equal(cols[c].int_signed, all_cols[c].int_signed);
		assert_int_equal(cols[c].optional, all_cols[c].optional);
	}
	assert_int_equal(tp_pq_reader_n_rows(r), n_rows);
	struct tp_pq_bytes cb = tp_pq_reader_created_by(r);
	assert_non_null(cb.data);
	assert_true(cb.len > 6 && memcmp(cb.data, "tapir ", 6) == 0);
	const struct tp_pq_value *row;
	for (size_t i = 0; i < n_rows; i++) {
		assert_int_equal(tp_pq_reader_next(r, &row), 1);
		struct row want = make_row(i);
		check_row(row, &want);
	}
	assert_int_equal(tp_pq_reader_next(r, &row), 0);
	assert_int_equal(tp_pq_reader_next(r, &row), 0);
	size_t groups = tp_pq_reader_n_row_groups(r);
	tp_pq_reader_free(r);
	return groups;
}

/* ---- round trips ---------------------------------------------------------------- */

static void test_roundtrip_every_type_codec_and_encoding(void **state)
{
	(void)state;
	static const enum tp_pq_codec codecs[] = { TP_PQ_CODEC_SNAPPY,
						   TP_PQ_CODEC_ZSTD,
						   TP_PQ_CODEC_NONE };
	char path[128];
	path_of(path, sizeof(path), "all.parquet");
	for (size_t c = 0; c < N_ELEMS(codecs); c++) {
		for (int no_dict = 0; no_dict <= 1; no_dict++) {
			struct tp_pq_writer_opts o = { .codec = codecs[c],
						       .no_dictionary = no_dict };
			write_table(path, 300, &o);
			assert_int_equal(check_table(path, 300), 1);
		}
	}
}

static void test_roundtrip_many_row_groups(void **state)
{
	(void)state;
	char path[128];
	path_of(path, sizeof(path), "groups.parquet");
	struct tp_pq_writer_opts o = { .row_group_rows = 7 };
	write_table(path, 50, &o);
	assert_int_equal(check_table(path, 50), 8); /* 7 * 7 + 1 */
	/* A row group boundary exactly at the end leaves no empty group. */
	write_table(path, 49, &o);
	assert_int_equal(check_table(path, 49), 7);
}

static void test_zero_rows_write_a_valid_empty_file(void **state)
{
	(void)state;
	char path[128];
	path_of(path, sizeof(path), "empty.parquet");
	write_table(path, 0, NULL);
	assert_int_equal(check_table(path, 0), 0);
}

static void test_dictionary_pays_for_repeats(void **state)
{
	(void)state;
	static const struct tp_pq_column one[] = {
		{ .name = "label", .type = TP_PQ_BYTE_ARRAY,
		  .logical = TP_PQ_LT_STRING, .optional = true },
	};
	char path[128];
	off_t size[2];
	path_of(path, sizeof(path), "dict.parquet");
	for (int no_dict = 0; no_dict <= 1; no_dict++) {
		struct tp_pq_writer_opts o = { .codec = TP_PQ_CODEC_NONE,
					       .no_dictionary = no_dict };
		struct tp_pq_writer *w;
		assert_int_equal(tp_pq_writer_new(path, one, 1, &o, &w), 0);
		for (size_t i = 0; i < 5000; i++) {
			if (i % 10 == 9)
				assert_int_equal(tp_pq_set_null(w, 0), 0);
			else
				assert_int_equal(
					tp_pq_set_str(w, 0, strs[i % N_ELEMS(strs)]),
					0);
			assert_int_equal(tp_pq_row_commit(w), 0);
		}
		assert_int_equal(tp_pq_writer_close(w), 0);
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		size[no_dict] = st.st_size;

		struct tp_pq_reader *r;
		const struct tp_pq_value *row;
		assert_int_equal(tp_pq_reader_open(path, &r), 0);
		for (size_t i = 0; i < 5000; i++) {
			assert_int_equal(tp_pq_reader_next(r, &row), 1);
			if (i % 10 == 9) {
				assert_true(row[0].is_null);
			} else {
				const char *s = strs[i % N_ELEMS(strs)];
				check_bytes(&row[0], s, strlen(s));
			}
		}
		assert_int_equal(tp_pq_reader_next(r, &row), 0);
		tp_pq_reader_free(r);
	}
	/* Uncompressed, so only the encoding makes the difference. */
	assert_true(size[0] * 4 < size[1]);
}

static void test_many_distinct_values_fall_back_to_plain(void **state)
{
	(void)state;
	static const struct tp_pq_column one[] = {
		{ .name = "id", .type = TP_PQ_BYTE_ARRAY },
	};
	char path[128];
	path_of(path, sizeof(path), "distinct.parquet");
	struct tp_pq_writer *w;
	const size_t n = 70000; /* over the dictionary's entry bound */
	assert_int_equal(tp_pq_writer_new(path, one, 1, NULL, &w), 0);
	for (size_t i = 0; i < n; i++) {
		char buf[32];
		int len = snprintf(buf, sizeof(buf), "%zu", i * 7919);
		assert_int_equal(tp_pq_set_bytes(w, 0, buf, (size_t)len), 0);
		assert_int_equal(tp_pq_row_commit(w), 0);
	}
	assert_int_equal(tp_pq_writer_close(w), 0);
	struct tp_pq_reader *r;
	const struct tp_pq_value *row;
	assert_int_equal(tp_pq_reader_open(path, &r), 0);
	for (size_t i = 0; i < n; i++) {
		char buf[32];
		int len = snprintf(buf, sizeof(buf), "%zu", i * 7919);
		assert_int_equal(tp_pq_reader_next(r, &row), 1);
		check_bytes(&row[0], buf, (size_t)len);
	}
	assert_int_equal(tp_pq_reader_next(r, &row), 0);
	tp_pq_reader_free(r);
}

static void test_big_values_span_pages(void **state)
{
	(void)state;
	static const struct tp_pq_column cols[] = {
		{ .name = "n", .type = TP_PQ_INT32 },
		{ .name = "blob", .type = TP_PQ_BYTE_ARRAY, .optional = true },
	};
	const size_t sizes[] = { TP_PQ_VALUE_MAX, 0, 3u << 20, TP_PQ_VALUE_MAX,
				 1, 1u << 20 };
	/* Row i takes sizes[i] octets from big + i. */
	const size_t big_len = TP_PQ_VALUE_MAX + N_ELEMS(sizes);
	uint8_t *big = malloc(big_len);
	assert_non_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	char path[128];
	path_of(path, sizeof(path), "big.parquet");
	struct tp_pq_writer_opts o = { .codec = TP_PQ_CODEC_ZSTD };
	struct tp_pq_writer *w;
	assert_int_equal(tp_pq_writer_new(path, cols, 2, &o, &w), 0);
	assert_int_equal(tp_pq_set_bytes(w, 1, big, TP_PQ_VALUE_MAX + 1u),
			 TP_ETOOBIG);
	for (size_t i = 0; i < N_ELEMS(sizes); i++) {
		assert_int_equal(tp_pq_set_i64(w, 0, (int64_t)i), 0);
		assert_int_equal(tp_pq_set_bytes(w, 1, big + i, sizes[i]), 0);
		assert_int_equal(tp_pq_row_commit(w), 0);
	}
	assert_int_equal(tp_pq_writer_close(w), 0);

	struct tp_pq_reader *r;
	const struct tp_pq_value *row;
	assert_int_equal(tp_pq_reader_open(path, &r), 0);
	for (size_t i = 0; i < N_ELEMS(sizes); i++) {
		assert_int_equal(tp_pq_reader_next(r, &row), 1);
		assert_int_equal(row[0].i, (int64_t)i);
		check_bytes(&row[1], big + i, sizes[i]);
	}
	assert_int_equal(tp_pq_reader_next(r, &row), 0);
	tp_pq_reader_free(r);
	free(big);
}

static void test_key_value_metadata_and_root_name(void **state)
{
	(void)state;
	static const struct tp_pq_column one[] = {
		{ .name = "x", .type = TP_PQ_INT64 },
	};
	const struct tp_pq_kv kv[] = { { "a", "1" }, { "b", NULL }, { "c", "" } };
	struct tp_pq_writer_opts o = { .kv = kv, .n_kv = 3,
				       .root_name = "sessionData" };
	char path[128];
	path_of(path, sizeof(path), "kv.parquet");
	struct tp_pq_writer *w;
	assert_int_equal(tp_pq_writer_new(path, one, 1, &o, &w), 0);
	assert_int_equal(tp_pq_set_i64(w, 0, 42), 0);
	assert_int_equal(tp_pq_row_commit(w), 0);
	assert_int_equal(tp_pq_writer_close(w), 0);

	struct tp_pq_reader *r;
	assert_int_equal(tp_pq_reader_open(path, &r), 0);
	assert_int_equal(tp_pq_reader_n_kv(r), 3);
	struct tp_pq_bytes k, v;
	assert_int_equal(tp_pq_reader_kv(r, 0, &k, &v), 0);
	check_bytes(&(struct tp_pq_value){ .bytes = k }, "a", 1);
	check_bytes(&(struct tp_pq_value){ .bytes = v }, "1", 1);
	assert_int_equal(tp_pq_reader_kv(r, 1, &k, &v), 0);
	assert_null(v.data);
	assert_int_equal(tp_pq_reader_kv(r, 2, &k, &v), 0);
	assert_non_null(v.data);
	assert_int_equal(v.len, 0);
	assert_int_equal(tp_pq_reader_kv(r, 3, &k, &v), TP_EINVAL);
	tp_pq_reader_free(r);
}

/* ---- writer contract ------------------------------------------------------------ */

static void test_set_rejects_what_does_not_fit(void **state)
{
	(void)state;
	char path[128];
	path_of(path, sizeof(path), "reject.parquet");
	struct tp_pq_writer *w;
	assert_int_equal(tp_pq_writer_new(path, all_cols, N_COLS, NULL, &w), 0);

	assert_int_equal(tp_pq_set_bool(w, N_COLS, true), TP_EINVAL);
	assert_int_equal(tp_pq_set_i64(w, C_B, 1), TP_EINVAL);
	assert_int_equal(tp_pq_set_bool(w, C_I64, true), TP_EINVAL);
	assert_int_equal(tp_pq_set_str(w, C_I64, "1"), TP_EINVAL);
	assert_int_equal(tp_pq_set_null(w, C_B), TP_EINVAL);  /* REQUIRED */
	assert_int_equal(tp_pq_set_str(w, C_S, NULL), TP_EINVAL);
	assert_int_equal(tp_pq_set_bytes(w, C_BIN, NULL, 1), TP_EINVAL);

	/* Ranges of every integer flavour, both entry points. */
	assert_int_equal(tp_pq_set_i64(w, C_I8, -129), TP_EINVAL);
	assert_int_equal(tp_pq_set_i64(w, C_I8, 128), TP_EINVAL);
	assert_int_equal(tp_pq_set_u64(w, C_I8, 128), TP_EINVAL);
	assert_int_equal(tp_pq_set_i64(w, C_U8, -1), TP_EINVAL);
	assert_int_equal(tp_pq_set_u64(w, C_U8, 256), TP_EINVAL);
	assert_int_equal(tp_pq_set_i64(w, C_I16, 32768), TP_EINVAL);
	assert_int_equal(tp_pq_set_u64(w, C_U16, 65536), TP_EINVAL);
	assert_int_equal(tp_pq_set_u64(w, C_U32, (uint64_t)UINT32_MAX + 1u),
			 TP_EINVAL);
	assert_int_equal(tp_pq_set_i64(w, C_I32, (int64_t)INT32_MAX + 1),
			 TP_EINVAL);
	assert_int_equal(tp_pq_set_u64(w, C_I64, (uint64_t)INT64_MAX + 1u),
			 TP_EINVAL);
	assert_int_equal(tp_pq_set_i64(w, C_U64, -1), TP_EINVAL);
	assert_int_equal(tp_pq_set_i64(w, C_TS, INT64_MIN), 0);
	assert_int_equal(tp_pq_set_u64(w, C_U64, UINT64_MAX), 0);
	assert_int_equal(tp_pq_set_i64(w, C_U64, INT64_MAX), 0);

	/* SPEC §4: Parquet strings are valid UTF-8; binary columns take any
	 * octets. */
	assert_int_equal(tp_pq_set_str(w, C_S, "r\xe4ksm"), TP_EINVAL);
	assert_int_equal(tp_pq_set_bytes(w, C_S, "\xed\xa0\x80", 3), TP_EINVAL);
	assert_int_equal(tp_pq_set_bytes(w, C_BIN, "\xe4", 1), 0);
	tp_pq_writer_free(w);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_commit_needs_every_required_column(void **state)
{
	(void)state;
	static const struct tp_pq_column cols[] = {
		{ .name = "req", .type = TP_PQ_INT64 },
		{ .name = "opt", .type = TP_PQ_BYTE_ARRAY, .optional = true },
	};
	char path[128];
	path_of(path, sizeof(path), "commit.parquet");
	struct tp_pq_writer *w;
	assert_int_equal(tp_pq_writer_new(path, cols, 2, NULL, &w), 0);
	assert_int_equal(tp_pq_set_str(w, 1, "kept"), 0);
	assert_int_equal(tp_pq_row_commit(w), TP_EMISSING);
	/* Nothing was appended and the staged value is still there. */
	assert_int_equal(tp_pq_writer_rows(w), 0);
	assert_int_equal(tp_pq_set_i64(w, 0, 1), 0);
	assert_int_equal(tp_pq_set_i64(w, 0, 2), 0); /* last one wins */
	assert_int_equal(tp_pq_row_commit(w), 0);
	/* Discard forgets a half-set row. */
	assert_int_equal(tp_pq_set_str(w, 1, "dropped"), 0);
	tp_pq_row_discard(w);
	assert_int_equal(tp_pq_set_i64(w, 0, 3), 0);
	assert_int_equal(tp_pq_row_commit(w), 0);
	assert_int_equal(tp_pq_writer_close(w), 0);

	struct tp_pq_reader *r;
	const struct tp_pq_value *row;
	assert_int_equal(tp_pq_reader_open(path, &r), 0);
	assert_int_equal(tp_pq_reader_next(r, &row), 1);
	assert_int_equal(row[0].i, 2);
	check_bytes(&row[1], "kept", 4);
	assert_int_equal(tp_pq_reader_next(r, &row), 1);
	assert_int_equal(row[0].i, 3);
	assert_true(row[1].is_null);
	assert_int_equal(tp_pq_reader_next(r, &row), 0);
	tp_pq_reader_free(r);
}

static void test_writer_new_rejects_bad_schemas(void **state)
{
	(void)state;
	char path[128];
	path_of(path, sizeof(path), "bad.parquet");
	struct tp_pq_writer *w = (struct tp_pq_writer *)1;
	struct tp_pq_column c[2] = {
		{ .name = "a", .type = TP_PQ_INT64 },
		{ .name = "b", .type = TP_PQ_INT64 },
	};
	static const struct {
		struct tp_pq_column col;
	} bad[] = {
		{ { .name = "", .type = TP_PQ_INT64 } },
		{ { .name = NULL, .type = TP_PQ_INT64 } },
		{ { .name = "a", .type = TP_PQ_INT64 } }, /* duplicate of c[0] */
		{ { .name = "\xff", .type = TP_PQ_INT64 } },
		{ { .name = "x", .type = (enum tp_pq_type)9 } },
		{ { .name = "x", .type = TP_PQ_INT64, .logical = TP_PQ_LT_STRING } },
		{ { .name = "x", .type = TP_PQ_INT32,
		    .logical = TP_PQ_LT_TIMESTAMP_MICROS } },
		{ { .name = "x", .type = TP_PQ_INT32, .logical = TP_PQ_LT_INT,
		    .int_bits = 64 } },
		{ { .name = "x", .type = TP_PQ_INT64, .logical = TP_PQ_LT_INT,
		    .int_bits = 32 } },
		{ { .name = "x", .type = TP_PQ_BOOLEAN, .logical = TP_PQ_LT_INT,
		    .int_bits = 8 } },
		{ { .name = "x", .type = TP_PQ_INT32, .logical = TP_PQ_LT_INT,
		    .int_bits = 12 } },
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		c[1] = bad[i].col;
		assert_int_equal(tp_pq_writer_new(path, c, 2, NULL, &w), TP_EINVAL);
		assert_null(w);
	}
	c[1] = (struct tp_pq_column){ .name = "b", .type = TP_PQ_INT64 };
	assert_int_equal(tp_pq_writer_new(path, c, 0, NULL, &w), TP_EINVAL);
	assert_int_equal(tp_pq_writer_new(NULL, c, 2, NULL, &w), TP_EINVAL);
	assert_int_equal(tp_pq_writer_new(path, c, 2, NULL, NULL), TP_EINVAL);

	struct tp_pq_writer_opts o = { .row_group_rows =
					       TP_PQ_ROW_GROUP_ROWS_MAX + 1u };
	assert_int_equal(tp_pq_writer_new(path, c, 2, &o, &w), TP_EINVAL);
	o = (struct tp_pq_writer_opts){ .codec = (enum tp_pq_codec)7 };
	assert_int_equal(tp_pq_writer_new(path, c, 2, &o, &w), TP_EINVAL);
	o = (struct tp_pq_writer_opts){ .codec = TP_PQ_CODEC_ZSTD,
					.zstd_level = 1000 };
	assert_int_equal(tp_pq_writer_new(path, c, 2, &o, &w), TP_EINVAL);
	const struct tp_pq_kv kv[] = { { "", "x" } };
	o = (struct tp_pq_writer_opts){ .kv = kv, .n_kv = 1 };
	assert_int_equal(tp_pq_writer_new(path, c, 2, &o, &w), TP_EINVAL);
	o = (struct tp_pq_writer_opts){ .root_name = "" };
	assert_int_equal(tp_pq_writer_new(path, c, 2, &o, &w), TP_EINVAL);
	assert_int_equal(access(path, F_OK), -1);
}

static void test_writer_tmp_then_rename(void **state)
{
	(void)state;
	static const struct tp_pq_column one[] = {
		{ .name = "x", .type = TP_PQ_INT64 },
	};
	char path[128], tmp[136];
	path_of(path, sizeof(path), "atomic.parquet");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	struct tp_pq_writer *w;
	assert_int_equal(tp_pq_writer_new(path, one, 1, NULL, &w), 0);
	assert_int_equal(access(tmp, F_OK), 0);
	assert_int_equal(access(path, F_OK), -1); /* never half-written */
	assert_int_equal(tp_pq_set_i64(w, 0, 1), 0);
	assert_int_equal(tp_pq_row_commit(w), 0);
	assert_int_equal(tp_pq_writer_close(w), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(access(tmp, F_OK), -1);

	/* Abandoning removes the tmp file and leaves the old file alone. */
	assert_int_equal(tp_pq_writer_new(path, one, 1, NULL, &w), 0);
	tp_pq_writer_free(w);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(access(path, F_OK), 0);
	tp_pq_writer_free(NULL);

	/* A directory that does not exist is a system error. */
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/no/such/dir.parquet", tmpdir);
	assert_int_equal(tp_pq_writer_new(missing, one, 1, NULL, &w), -ENOENT);
}

/* ---- building blocks -------------------------------------------------------------- */

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

static void test_rle_hybrid_roundtrip(void **state)
{
	(void)state;
	static const unsigned widths[] = { 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32 };
	const size_t n = 3000;
	uint32_t *vals = malloc(n * sizeof(*vals));
	assert_non_null(vals);
	uint32_t seed = 1;
	for (size_t wi = 0; wi < N_ELEMS(widths); wi++) {
		unsigned bw = widths[wi];
		uint32_t mask = bw == 32 ? UINT32_MAX : (1u << bw) - 1u;
		for (int pattern = 0; pattern < 4; pattern++) {
			for (size_t len = 0; len < n; len = len * 3 + 1) {
				/* runs of random lengths: RLE, literals and
				 * the boundaries between them */
				uint32_t v = 0;
				for (size_t i = 0; i < len; i++) {
					if (pattern == 0 || lcg(&seed) % (4u << pattern) == 0)
						v = lcg(&seed) ^ (lcg(&seed) << 16);
					vals[i] = v & mask;
				}
				struct pq_buf b;
				pq_buf_init(&b, SIZE_MAX);
				pq_rle_encode_u32(&b, vals, len, bw);
				assert_int_equal(b.err, 0);
				struct pq_rle_dec d;
				pq_rle_init(&d, b.data, b.len, bw);
				for (size_t i = 0; i < len; i++) {
					uint32_t got;
					assert_int_equal(pq_rle_next(&d, &got), 0);
					assert_int_equal(got, vals[i]);
				}
				pq_buf_free(&b);
			}
		}
	}
	free(vals);

	/* Byte-valued levels through the other entry point. */
	uint8_t lv[100];
	for (size_t i = 0; i < sizeof(lv); i++)
		lv[i] = (uint8_t)(i < 40 || i % 3 == 0);
	struct pq_buf b;
	pq_buf_init(&b, SIZE_MAX);
	pq_rle_encode_u8(&b, lv, sizeof(lv), 1);
	struct pq_rle_dec d;
	pq_rle_init(&d, b.data, b.len, 1);
	for (size_t i = 0; i < sizeof(lv); i++) {
		uint32_t got;
		assert_int_equal(pq_rle_next(&d, &got), 0);
		assert_int_equal(got, lv[i]);
	}
	pq_buf_free(&b);
}

static void test_rle_decoder_rejects_bad_runs(void **state)
{
	(void)state;
	uint32_t v;
	struct pq_rle_dec d;
	static const uint8_t empty[1];
	pq_rle_init(&d, empty, 0, 1);
	assert_int_equal(pq_rle_next(&d, &v), TP_ETRUNC);
	/* RLE run whose value does not fit the bit width. */
	static const uint8_t wide[] = { 0x02, 0x05 };
	pq_rle_init(&d, wide, sizeof(wide), 2);
	assert_int_equal(pq_rle_next(&d, &v), TP_EMALF);
	/* RLE run with its value octet missing. */
	static const uint8_t cut[] = { 0x02 };
	pq_rle_init(&d, cut, sizeof(cut), 8);
	assert_int_equal(pq_rle_next(&d, &v), TP_ETRUNC);
	/* A header varint longer than 32 bits. */
	static const uint8_t longhdr[] = { 0x81, 0x80, 0x80, 0x80, 0x80, 0x01 };
	pq_rle_init(&d, longhdr, sizeof(longhdr), 1);
	assert_int_equal(pq_rle_next(&d, &v), TP_EMALF);
	/* A bit-packed run promising more groups than there are octets. */
	static const uint8_t packed[] = { 0x05, 0xff };
	pq_rle_init(&d, packed, sizeof(packed), 4);
	assert_int_equal(pq_rle_next(&d, &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(pq_rle_next(&d, &v), 0);
	assert_int_equal(pq_rle_next(&d, &v), TP_ETRUNC);
	/* Zero-length runs are consumed, then the input ends. */
	static const uint8_t zeros[] = { 0x00, 0x01, 0x00 };
	pq_rle_init(&d, zeros, sizeof(zeros), 3);
	assert_int_equal(pq_rle_next(&d, &v), TP_ETRUNC);
}

static void test_thrift_compact_roundtrip_and_limits(void **state)
{
	(void)state;
	struct pq_buf b;
	struct tc_w w;
	pq_buf_init(&b, 4096);
	tc_w_init(&w, &b);
	tc_w_i32(&w, 1, INT32_MIN);
	tc_w_i64(&w, 2, INT64_MAX);
	tc_w_bool(&w, 3, true);
	tc_w_i8(&w, 40, -5); /* long-form field id */
	tc_w_string(&w, 41, "r\xc3\xa4ksm");
	tc_w_list(&w, 42, TC_I32, 20);
	for (int32_t i = 0; i < 20; i++)
		tc_w_elem_i32(&w, -i);
	tc_w_struct(&w, 43);
	tc_w_i64(&w, 1, -1);
	tc_w_end(&w);
	tc_w_end(&w);
	assert_int_equal(b.err, 0);

	struct tc_r r;
	tc_r_init(&r, b.data, b.len);
	int16_t last = 0, id;
	uint8_t ty;
	int32_t i32;
	int64_t i64;
	bool bv;
	int8_t i8;
	const uint8_t *p;
	size_t n;
	uint8_t et;
	assert_int_equal(tc_r_field(&r, &last, &id, &ty), 0);
	assert_int_equal(id, 1);
	assert_int_equal(tc_r_i32(&r, ty, &i32), 0);
	assert_int_equal(i32, INT32_MIN);
	assert_int_equal(tc_r_field(&r, &last, &id, &ty), 0);
	assert_int_equal(tc_r_i32(&r, ty, &i32), TP_EMALF); /* it is an i64 */
	assert_int_equal(tc_r_i64(&r, ty, &i64), 0);
	assert_true(i64 == INT64_MAX);
	assert_int_equal(tc_r_field(&r, &last, &id, &ty), 0);
	assert_int_equal(tc_r_bool(&r, ty, &bv), 0);
	assert_true(bv);
	assert_int_equal(tc_r_field(&r, &last, &id, &ty), 0);
	assert_int_equal(id, 40);
	assert_int_equal(tc_r_i8(&r, ty, &i8), 0);
	assert_int_equal(i8, -5);
	assert_int_equal(tc_r_field(&r, &last, &id, &ty), 0);
	assert_int_equal(tc_r_binary(&r, ty, &p, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(tc_r_field(&r, &last, &id, &ty), 0);
	assert_int_equal(tc_r_list(&r, ty, &et, &n), 0);
	assert_int_equal(n, 20);
	for (int32_t i = 0; i < 20; i++) {
		assert_int_equal(tc_r_i32(&r, et, &i32), 0);
		assert_int_equal(i32, -i);
	}
	tc_r_leave(&r);
	assert_int_equal(tc_r_field(&r, &last, &id, &ty), 0);
	assert_int_equal(id, 43);
	assert_int_equal(tc_r_skip(&r, ty, false), 0);
	assert_int_equal(tc_r_field(&r, &last, &id, &ty), 0);
	assert_int_equal(ty, TC_STOP);
	assert_int_equal(r.pos, b.len);
	pq_buf_free(&b);

	/* Hostile encodings. */
	static const struct {
		const char *what;
		uint8_t in[24];
		size_t len;
		int code;
	} bad[] = {
		{ "i32 varint of 6 octets", { 0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 7, TP_EMALF },
		{ "i32 out of range", { 0x15, 0xff, 0xff, 0xff, 0xff, 0x7f }, 6, TP_EMALF },
		{ "i64 varint of 11 octets", { 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 12, TP_EMALF },
		{ "i64 10th octet above bit 63", { 0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 }, 11, TP_EMALF },
		{ "unknown wire type 13", { 0x1d }, 1, TP_EMALF },
		{ "field id past i16", { 0x05, 0x80, 0x80, 0x04, 0x00 }, 5, TP_EMALF },
		{ "binary longer than the input", { 0x18, 0x05, 'a' }, 3, TP_ETRUNC },
		{ "list bigger than the input", { 0x19, 0xf5, 0x80, 0x01 }, 4, TP_ETRUNC },
		{ "list of STOP elements", { 0x19, 0x10, 0x00 }, 3, TP_EMALF },
		{ "map bigger than the input", { 0x1b, 0x10, 0x55, 0x01 }, 4, TP_ETRUNC },
		{ "struct without STOP", { 0x1c, 0x15, 0x02 }, 3, TP_ETRUNC },
		{ "truncated double", { 0x17, 1, 2, 3 }, 4, TP_ETRUNC },
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		uint8_t *copy = malloc(bad[i].len);
		assert_non_null(copy);
		memcpy(copy, bad[i].in, bad[i].len);
		tc_r_init(&r, copy, bad[i].len);
		last = 0;
		int rc = tc_r_field(&r, &last, &id, &ty);
		if (rc == 0 && ty == TC_I32)
			rc = tc_r_i32(&r, ty, &i32);
		else if (rc == 0 && ty == TC_I64)
			rc = tc_r_i64(&r, ty, &i64);
		else if (rc == 0 && ty != TC_STOP)
			rc = tc_r_skip(&r, ty, false);
		if (rc != bad[i].code)
			fail_msg("%s: got %d, want %d", bad[i].what, rc, bad[i].code);
		free(copy);
	}

	/* Nesting beyond TP_PQ_THRIFT_DEPTH_MAX: structs in structs. */
	uint8_t deep[2 * TP_PQ_THRIFT_DEPTH_MAX + 4];
	size_t k = 0;
	for (unsigned i = 0; i <= TP_PQ_THRIFT_DEPTH_MAX; i++)
		deep[k++] = 0x1c; /* field 1, struct */
	while (k < sizeof(deep))
		deep[k++] = 0x00;
	tc_r_init(&r, deep, sizeof(deep));
	last = 0;
	assert_int_equal(tc_r_field(&r, &last, &id, &ty), 0);
	assert_int_equal(tc_r_skip(&r, ty, false), TP_ETOOBIG);
}

static void test_utf8_validation(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "", true },
		{ "plain ascii", true },
		{ "r\xc3\xa4ksm\xc3\xb6rg\xc3\xa5s", true },
		{ "\xe2\x9c\x93", true },
		{ "\xf0\x9f\x98\x80", true },
		{ "\xf4\x8f\xbf\xbf", true },   /* U+10FFFF */
		{ "\xc3", false },              /* cut */
		{ "\xc0\xaf", false },          /* overlong / */
		{ "\xe0\x80\xaf", false },      /* overlong */
		{ "\xed\xa0\x80", false },      /* surrogate */
		{ "\xf4\x90\x80\x80", false },  /* > U+10FFFF */
		{ "\x80", false },              /* lone continuation */
		{ "\xe2\x28\xa1", false },      /* bad continuation */
		{ "\xff", false },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		assert_int_equal(pq_utf8_valid((const uint8_t *)cases[i].s,
					       strlen(cases[i].s)),
				 cases[i].ok);
}

/* ---- hostile files -------------------------------------------------------------- */

/* Open a copy of exactly len octets and read every row. Returns 0 if the
 * whole file read, else the first error (which must be one of ours). */
static int read_all_copy(const uint8_t *data, size_t len, size_t *rows)
{
	uint8_t *copy = malloc(len > 0 ? len : 1u);
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, data, len);
	struct tp_pq_reader *r;
	int rc = tp_pq_reader_open_mem(copy, len, &r);
	*rows = 0;
	if (rc == 0) {
		const struct tp_pq_value *row;
		while ((rc = tp_pq_reader_next(r, &row)) == 1)
			(*rows)++;
		tp_pq_reader_free(r);
	}
	free(copy);
	if (rc != 0 && rc > -1000 && rc != -ENOTSUP && rc != -ENOMEM)
		fail_msg("unexpected code %d", rc);
	return rc;
}

/* A small file with every feature: dictionary, PLAIN, NULL levels, two row
 * groups, the given codec. */
static uint8_t *small_file(enum tp_pq_codec codec, size_t *len)
{
	char path[128];
	path_of(path, sizeof(path), "small.parquet");
	struct tp_pq_writer_opts o = { .codec = codec, .row_group_rows = 9 };
	write_table(path, 12, &o);
	return slurp(path, len);
}

static void test_reader_truncations_fail_cleanly(void **state)
{
	(void)state;
	static const enum tp_pq_codec codecs[] = { TP_PQ_CODEC_SNAPPY,
						   TP_PQ_CODEC_ZSTD,
						   TP_PQ_CODEC_NONE };
	for (size_t c = 0; c < N_ELEMS(codecs); c++) {
		size_t len, rows;
		uint8_t *f = small_file(codecs[c], &len);
		assert_int_equal(read_all_copy(f, len, &rows), 0);
		assert_int_equal(rows, 12);
		/* Every proper prefix and suffix: never a full read. */
		for (size_t cut = 0; cut < len; cut++) {
			assert_true(read_all_copy(f, cut, &rows) != 0);
			assert_true(read_all_copy(f + len - cut, cut, &rows) != 0);
		}
		free(f);
	}
}

static void test_reader_bit_flips_never_crash(void **state)
{
	(void)state;
	static const enum tp_pq_codec codecs[] = { TP_PQ_CODEC_SNAPPY,
						   TP_PQ_CODEC_NONE };
	for (size_t c = 0; c < N_ELEMS(codecs); c++) {
		size_t len, rows;
		uint8_t *f = small_file(codecs[c], &len);
		uint8_t *m = malloc(len);
		assert_non_null(m);
		size_t failed = 0;
		for (size_t i = 0; i < len; i++) {
			for (unsigned bit = 0; bit < 8; bit++) {
				memcpy(m, f, len);
				m[i] = (uint8_t)(m[i] ^ (1u << bit));
				if (read_all_copy(m, len, &rows) != 0)
					failed++;
				else
					assert_int_equal(rows, 12);
			}
		}
		/* Most flips hit structure and must be noticed. */
		assert_true(failed > len);
		free(m);
		free(f);
	}
}

/* A file made of a hand-built footer: "PAR1" + footer + length + "PAR1".
 * The leaf is described by the caller through tc_w calls. */
typedef void (*leaf_fn)(struct tc_w *t);

static int open_footer_with(leaf_fn leaf, int codec)
{
	struct pq_buf b;
	struct tc_w t;
	pq_buf_init(&b, 1u << 20);
	pq_buf_put(&b, PQ_MAGIC, PQ_MAGIC_LEN);
	size_t footer = b.len;
	tc_w_init(&t, &b);
	tc_w_i32(&t, 1, 2);
	tc_w_list(&t, 2, TC_STRUCT, 2);
	tc_w_elem_struct(&t);
	tc_w_string(&t, 4, "schema");
	tc_w_i32(&t, 5, 1);
	tc_w_end(&t);
	tc_w_elem_struct(&t);
	leaf(&t);
	tc_w_end(&t);
	tc_w_i64(&t, 3, 1);
	tc_w_list(&t, 4, TC_STRUCT, 1);
	tc_w_elem_struct(&t);
	tc_w_list(&t, 1, TC_STRUCT, 1);
	tc_w_elem_struct(&t);
	tc_w_i64(&t, 2, 0);
	tc_w_struct(&t, 3);
	tc_w_i32(&t, 1, PQ_TYPE_INT64);
	tc_w_list(&t, 2, TC_I32, 1);
	tc_w_elem_i32(&t, PQ_ENC_PLAIN);
	tc_w_list(&t, 3, TC_BINARY, 1);
	tc_w_elem_binary(&t, "x", 1);
	tc_w_i32(&t, 4, codec);
	tc_w_i64(&t, 5, 1);
	tc_w_i64(&t, 6, 0);
	tc_w_i64(&t, 7, 0);
	tc_w_i64(&t, 9, 4);
	tc_w_end(&t);
	tc_w_end(&t);
	tc_w_i64(&t, 2, 0);
	tc_w_i64(&t, 3, 1);
	tc_w_end(&t);
	tc_w_end(&t);
	size_t flen = b.len - footer;
	pq_buf_le32(&b, (uint32_t)flen);
	pq_buf_put(&b, PQ_MAGIC, PQ_MAGIC_LEN);
	assert_int_equal(b.err, 0);
	struct tp_pq_reader *r = NULL;
	int rc = tp_pq_reader_open_mem(b.data, b.len, &r);
	tp_pq_reader_free(r);
	pq_buf_free(&b);
	return rc;
}

static void leaf_int64(struct tc_w *t)
{
	tc_w_i32(t, 1, PQ_TYPE_INT64);
	tc_w_i32(t, 3, PQ_REP_REQUIRED);
	tc_w_string(t, 4, "x");
}

static void leaf_double(struct tc_w *t)
{
	tc_w_i32(t, 1, PQ_TYPE_DOUBLE);
	tc_w_i32(t, 3, PQ_REP_REQUIRED);
	tc_w_string(t, 4, "x");
}

static void leaf_repeated(struct tc_w *t)
{
	tc_w_i32(t, 1, PQ_TYPE_INT64);
	tc_w_i32(t, 3, PQ_REP_REPEATED);
	tc_w_string(t, 4, "x");
}

static void leaf_group(struct tc_w *t)
{
	tc_w_i32(t, 3, PQ_REP_OPTIONAL);
	tc_w_string(t, 4, "x");
	tc_w_i32(t, 5, 1);
}

static void leaf_millis(struct tc_w *t)
{
	leaf_int64(t);
	tc_w_struct(t, 10);
	tc_w_struct(t, PQ_LT_TIMESTAMP);
	tc_w_bool(t, 1, true);
	tc_w_struct(t, 2);
	tc_w_empty(t, PQ_UNIT_MILLIS);
	tc_w_end(t);
	tc_w_end(t);
	tc_w_end(t);
}

static void leaf_string_on_int64(struct tc_w *t)
{
	leaf_int64(t);
	tc_w_struct(t, 10);
	tc_w_empty(t, PQ_LT_STRING);
	tc_w_end(t);
}

static void leaf_no_name(struct tc_w *t)
{
	tc_w_i32(t, 1, PQ_TYPE_INT64);
	tc_w_i32(t, 3, PQ_REP_REQUIRED);
}

static void leaf_bad_rep(struct tc_w *t)
{
	tc_w_i32(t, 1, PQ_TYPE_INT64);
	tc_w_i32(t, 3, 77);
	tc_w_string(t, 4, "x");
}

static void test_reader_refuses_outside_the_subset(void **state)
{
	(void)state;
	/* The well-formed baseline opens (its one row would then fail:
	 * the chunk has no pages). */
	assert_int_equal(open_footer_with(leaf_int64, PQ_CODEC_SNAPPY), 0);
	assert_int_equal(open_footer_with(leaf_double, PQ_CODEC_SNAPPY), -ENOTSUP);
	assert_int_equal(open_footer_with(leaf_repeated, PQ_CODEC_SNAPPY),
			 -ENOTSUP);
	assert_int_equal(open_footer_with(leaf_group, PQ_CODEC_SNAPPY), -ENOTSUP);
	assert_int_equal(open_footer_with(leaf_millis, PQ_CODEC_SNAPPY), -ENOTSUP);
	assert_int_equal(open_footer_with(leaf_int64, 2 /* GZIP */), -ENOTSUP);
	assert_int_equal(open_footer_with(leaf_int64, 99), TP_EMALF);
	assert_int_equal(open_footer_with(leaf_string_on_int64, PQ_CODEC_SNAPPY),
			 TP_EMALF);
	assert_int_equal(open_footer_with(leaf_no_name, PQ_CODEC_SNAPPY),
			 TP_EMISSING);
	assert_int_equal(open_footer_with(leaf_bad_rep, PQ_CODEC_SNAPPY),
			 TP_EMALF);
}

static void test_reader_rejects_bad_envelopes(void **state)
{
	(void)state;
	size_t rows;
	assert_int_equal(read_all_copy((const uint8_t *)"", 0, &rows), TP_ETRUNC);
	assert_int_equal(read_all_copy((const uint8_t *)"PAR1PAR1", 8, &rows),
			 TP_ETRUNC);
	/* Footer length pointing before the file. */
	static const uint8_t long_footer[] = { 'P', 'A', 'R', '1', 0, 0,
					       0x10, 0, 0, 0, 'P', 'A', 'R', '1' };
	assert_int_equal(read_all_copy(long_footer, sizeof(long_footer), &rows),
			 TP_ETRUNC);
	static const uint8_t huge_footer[] = { 'P', 'A', 'R', '1', 0xff, 0xff,
					       0xff, 0xff, 'P', 'A', 'R', '1' };
	assert_int_equal(read_all_copy(huge_footer, sizeof(huge_footer), &rows),
			 TP_ETOOBIG);
	static const uint8_t encrypted[] = { 'P', 'A', 'R', 'E', 0, 0,
					     0, 0, 'P', 'A', 'R', 'E' };
	assert_int_equal(read_all_copy(encrypted, sizeof(encrypted), &rows),
			 -ENOTSUP);
	static const uint8_t no_magic[] = { 'P', 'A', 'R', '1', 0, 0,
					    0, 0, 'P', 'A', 'R', '2' };
	assert_int_equal(read_all_copy(no_magic, sizeof(no_magic), &rows),
			 TP_EMALF);
	/* An empty FileMetaData lacks its required fields. */
	static const uint8_t empty_meta[] = { 'P', 'A', 'R', '1', 0, 1,
					      0, 0, 0, 'P', 'A', 'R', '1' };
	assert_int_equal(read_all_copy(empty_meta, sizeof(empty_meta), &rows),
			 TP_EMISSING);

	struct tp_pq_reader *r = (struct tp_pq_reader *)1;
	assert_int_equal(tp_pq_reader_open_mem(NULL, 1, &r), TP_EINVAL);
	assert_int_equal(tp_pq_reader_open(tmpdir, &r), TP_EINVAL);
	char missing[128];
	path_of(missing, sizeof(missing), "missing.parquet");
	assert_int_equal(tp_pq_reader_open(missing, &r), -ENOENT);
	assert_null(r);
	tp_pq_reader_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type_codec_and_encoding),
		cmocka_unit_test(test_roundtrip_many_row_groups),
		cmocka_unit_test(test_zero_rows_write_a_valid_empty_file),
		cmocka_unit_test(test_dictionary_pays_for_repeats),
		cmocka_unit_test(test_many_distinct_values_fall_back_to_plain),
		cmocka_unit_test(test_big_values_span_pages),
		cmocka_unit_test(test_key_value_metadata_and_root_name),
		cmocka_unit_test(test_set_rejects_what_does_not_fit),
		cmocka_unit_test(test_commit_needs_every_required_column),
		cmocka_unit_test(test_writer_new_rejects_bad_schemas),
		cmocka_unit_test(test_writer_tmp_then_rename),
		cmocka_unit_test(test_rle_hybrid_roundtrip),
		cmocka_unit_test(test_rle_decoder_rejects_bad_runs),
		cmocka_unit_test(test_thrift_compact_roundtrip_and_limits),
		cmocka_unit_test(test_utf8_validation),
		cmocka_unit_test(test_reader_truncations_fail_cleanly),
		cmocka_unit_test(test_reader_bit_flips_never_crash),
		cmocka_unit_test(test_reader_refuses_outside_the_subset),
		cmocka_unit_test(test_reader_rejects_bad_envelopes),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
