/* SPDX-License-Identifier: BSD-2-Clause
 *
 * parquet_tool.c - drives lib/parquet from JSON, for the reader oracles.
 *
 * tests/integration/test_parquet_readers.py describes a table (schema,
 * options, rows) in JSON; `parquet_tool write SPEC OUT` writes it with
 * tapir's writer, independent readers (DuckDB, hyparquet) read OUT, and the
 * test compares every value with the description. `parquet_tool dump FILE`
 * prints what tapir's own reader sees, in the same notation, so the round
 * trip is checked too.
 *
 * Notation of values: null; true/false for BOOLEAN; integers as decimal
 * strings (JSON numbers cannot carry all of uint64); BYTE_ARRAY as text for
 * STRING columns and as lowercase hex otherwise. Built by
 * lib/parquet/meson.build as build/lib/parquet/parquet_tool. A test tool:
 * it exits non-zero with a message on the first problem.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "parquet/parquet.h"

static int die(const char *what, int rc)
{
	fprintf(stderr, "parquet_tool: %s: %s (%d)\n", what, tp_strerror(rc),
		rc);
	return 1;
}

static const char *const type_names[] = { "BOOLEAN", "INT32", "INT64",
					  "BYTE_ARRAY" };
static const char *const logical_names[] = { "NONE", "STRING",
					     "TIMESTAMP_MICROS", "INT" };

static int lookup(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s != NULL && strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Set one value from its JSON notation. */
static int set_value(struct tp_pq_writer *w, size_t col,
		     const struct tp_pq_column *c, json_t *v)
{
	if (json_is_null(v))
		return tp_pq_set_null(w, col);
	if (json_is_boolean(v))
		return tp_pq_set_bool(w, col, json_is_true(v));
	if (!json_is_string(v))
		return TP_EINVAL;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (c->type == TP_PQ_BYTE_ARRAY) {
		if (c->logical == TP_PQ_LT_STRING)
			return tp_pq_set_bytes(w, col, s, n);
		if (n % 2 != 0)
			return TP_EINVAL;
		uint8_t *b = malloc(n / 2 + 1);
		if (b == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < n / 2; i++) {
			int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				free(b);
				return TP_EINVAL;
			}
			b[i] = (uint8_t)(hi << 4 | lo);
		}
		int rc = tp_pq_set_bytes(w, col, b, n / 2);
		free(b);
		return rc;
	}
	char *end;
	errno = 0;
	if (s[0] == '-') {
		long long x = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0' || end == s)
			return TP_EINVAL;
		return tp_pq_set_i64(w, col, (int64_t)x);
	}
	unsigned long long x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return TP_EINVAL;
	return tp_pq_set_u64(w, col, (uint64_t)x);
}

static int cmd_write(const char *spec_path, const char *out_path)
{
	json_error_t jerr;
	json_t *spec = json_load_file(spec_path, 0, &jerr);
	if (spec == NULL) {
		fprintf(stderr, "parquet_tool: %s: %s\n", spec_path, jerr.text);
		return 1;
	}
	json_t *jcols = json_object_get(spec, "columns");
	json_t *jrows = json_object_get(spec, "rows");
	size_t n = json_array_size(jcols);
	struct tp_pq_column *cols = calloc(n > 0 ? n : 1, sizeof(*cols));
	struct tp_pq_kv kv[16];
	struct tp_pq_writer_opts o = { 0 };
	int status = 1;
	struct tp_pq_writer *w = NULL;
	if (cols == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *jc = json_array_get(jcols, i);
		int t = lookup(json_string_value(json_object_get(jc, "type")),
			       type_names, 4);
		const char *ls = json_string_value(json_object_get(jc, "logical"));
		int l = lookup(ls != NULL ? ls : "NONE", logical_names, 4);
		if (t < 0 || l < 0) {
			fprintf(stderr, "parquet_tool: column %zu: bad type\n", i);
			goto out;
		}
		cols[i].name = json_string_value(json_object_get(jc, "name"));
		cols[i].type = (enum tp_pq_type)t;
		cols[i].logical = (enum tp_pq_logical)l;
		cols[i].int_bits =
			(uint8_t)json_integer_value(json_object_get(jc, "bits"));
		cols[i].int_signed = json_is_true(json_object_get(jc, "signed"));
		cols[i].optional = json_is_true(json_object_get(jc, "optional"));
	}
	const char *codec = json_string_value(json_object_get(spec, "codec"));
	if (codec == NULL || strcmp(codec, "snappy") == 0)
		o.codec = TP_PQ_CODEC_SNAPPY;
	else if (strcmp(codec, "zstd") == 0)
		o.codec = TP_PQ_CODEC_ZSTD;
	else if (strcmp(codec, "none") == 0)
		o.codec = TP_PQ_CODEC_NONE;
	else
		goto out;
	o.row_group_rows = (uint32_t)json_integer_value(
		json_object_get(spec, "row_group_rows"));
	o.no_dictionary = json_is_true(json_object_get(spec, "no_dictionary"));
	o.root_name = json_string_value(json_object_get(spec, "root"));
	json_t *jkv = json_object_get(spec, "kv");
	const char *key;
	json_t *val;
	json_object_foreach(jkv, key, val)
	{
		if (o.n_kv == sizeof(kv) / sizeof(kv[0]))
			break;
		kv[o.n_kv].key = key;
		kv[o.n_kv].value = json_string_value(val);
		o.n_kv++;
	}
	o.kv = kv;

	int rc = tp_pq_writer_new(out_path, cols, n, &o, &w);
	if (rc != 0) {
		die("writer_new", rc);
		goto out;
	}
	for (size_t r = 0; r < json_array_size(jrows); r++) {
		json_t *row = json_array_get(jrows, r);
		for (size_t c = 0; c < n; c++) {
			rc = set_value(w, c, &cols[c], json_array_get(row, c));
			if (rc != 0) {
				fprintf(stderr, "parquet_tool: row %zu col %zu: ",
					r, c);
				die("set", rc);
				goto out;
			}
		}
		rc = tp_pq_row_commit(w);
		if (rc != 0) {
			die("commit", rc);
			goto out;
		}
	}
	rc = tp_pq_writer_close(w);
	w = NULL;
	if (rc != 0) {
		die("close", rc);
		goto out;
	}
	status = 0;
out:
	tp_pq_writer_free(w);
	free(cols);
	json_decref(spec);
	return status;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(2 * n + 1);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	json_t *j = json_string(s);
	free(s);
	return j;
}

static json_t *value_json(const struct tp_pq_column *c,
			  const struct tp_pq_value *v)
{
	char buf[32];
	if (v->is_null)
		return json_null();
	switch (c->type) {
	case TP_PQ_BOOLEAN:
		return json_boolean(v->b);
	case TP_PQ_INT32:
	case TP_PQ_INT64:
		if (c->logical == TP_PQ_LT_INT && !c->int_signed)
			snprintf(buf, sizeof(buf), "%" PRIu64, v->u);
		else
			snprintf(buf, sizeof(buf), "%" PRId64, v->i);
		return json_string(buf);
	case TP_PQ_BYTE_ARRAY:
		if (c->logical == TP_PQ_LT_STRING) {
			json_t *j = json_stringn((const char *)v->bytes.data,
						 v->bytes.len);
			if (j != NULL)
				return j;
		}
		return hex_json(v->bytes.data, v->bytes.len);
	}
	return NULL;
}

static int cmd_dump(const char *path)
{
	struct tp_pq_reader *r;
	int rc = tp_pq_reader_open(path, &r);
	if (rc != 0)
		return die(path, rc);
	size_t n = tp_pq_reader_n_columns(r);
	const struct tp_pq_column *cols = tp_pq_reader_columns(r);
	json_t *out = json_object();
	json_t *jcols = json_array();
	for (size_t c = 0; c < n; c++) {
		json_t *jc = json_object();
		json_object_set_new(jc, "name", json_string(cols[c].name));
		json_object_set_new(jc, "type",
				    json_string(type_names[cols[c].type]));
		json_object_set_new(jc, "logical",
				    json_string(logical_names[cols[c].logical]));
		json_object_set_new(jc, "bits", json_integer(cols[c].int_bits));
		json_object_set_new(jc, "signed",
				    json_boolean(cols[c].int_signed));
		json_object_set_new(jc, "optional",
				    json_boolean(cols[c].optional));
		json_array_append_new(jcols, jc);
	}
	json_object_set_new(out, "columns", jcols);
	struct tp_pq_bytes cb = tp_pq_reader_created_by(r);
	json_object_set_new(out, "created_by",
			    cb.data != NULL ? json_stringn((const char *)cb.data,
							   cb.len)
					    : json_null());
	json_object_set_new(out, "num_rows",
			    json_integer((json_int_t)tp_pq_reader_n_rows(r)));
	json_object_set_new(out, "row_groups",
			    json_integer((json_int_t)tp_pq_reader_n_row_groups(r)));
	json_t *jkv = json_object();
	for (size_t i = 0; i < tp_pq_reader_n_kv(r); i++) {
		struct tp_pq_bytes k, v;
		if (tp_pq_reader_kv(r, i, &k, &v) != 0)
			break;
		char key[TP_PQ_NAME_MAX + 1];
		size_t kl = k.len < TP_PQ_NAME_MAX ? k.len : TP_PQ_NAME_MAX;
		memcpy(key, k.data, kl);
		key[kl] = '\0';
		json_object_set_new(jkv, key,
				    v.data != NULL
					    ? json_stringn((const char *)v.data,
							   v.len)
					    : json_null());
	}
	json_object_set_new(out, "kv", jkv);
	json_t *rows = json_array();
	const struct tp_pq_value *row;
	while ((rc = tp_pq_reader_next(r, &row)) == 1) {
		json_t *jr = json_array();
		for (size_t c = 0; c < n; c++)
			json_array_append_new(jr, value_json(&cols[c], &row[c]));
		json_array_append_new(rows, jr);
	}
	json_object_set_new(out, "rows", rows);
	int status = 0;
	if (rc < 0) {
		status = die("next", rc);
	} else {
		json_dumpf(out, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	}
	json_decref(out);
	tp_pq_reader_free(r);
	return status;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "write") == 0)
		return cmd_write(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "dump") == 0)
		return cmd_dump(argv[2]);
	fprintf(stderr, "usage: %s write SPEC.json OUT.parquet\n"
			"       %s dump FILE.parquet\n",
		argv[0], argv[0]);
	return 2;
}
