/* SPDX-License-Identifier: BSD-2-Clause
 *
 * inspect.c - `tapir inspect FILE`: prints a Parquet file that tapir wrote
 * as JSON lines, one object per row, so a person (or jq) can read it.
 *
 * Timestamps print as ISO 8601 UTC with microseconds; unsigned values above
 * 2^63 as decimal strings (JSON numbers lose them); byte columns as hex.
 * With --hll, sketch columns (names ending in _hll) are decoded into their
 * storage type and cardinality. With --schema, the columns come first.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parquet/parquet.h"
#include "sketch/hll.h"
#include "tools.h"

static json_t *hex(const struct tp_pq_bytes *b)
{
	static const char digits[] = "0123456789abcdef";
	char buf[2 * TP_HLL_SERIALIZED_MAX + 3];
	size_t n = b->len * 2 + 2 < sizeof(buf) ? b->len : (sizeof(buf) - 3) / 2;
	buf[0] = '\\';
	buf[1] = 'x';
	for (size_t i = 0; i < n; i++) {
		buf[2 + 2 * i] = digits[b->data[i] >> 4];
		buf[3 + 2 * i] = digits[b->data[i] & 15];
	}
	return json_stringn(buf, 2 + 2 * n);
}

static json_t *timestamp(int64_t us)
{
	time_t sec = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	long frac = (long)(us - (int64_t)sec * 1000000);
	struct tm tm;
	char buf[64];
	if (gmtime_r(&sec, &tm) == NULL)
		return json_integer((json_int_t)us);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", frac);
	return json_string(buf);
}

static json_t *sketch(const struct tp_pq_bytes *b)
{
	static const char *const types[] = { "?", "EMPTY", "EXPLICIT", "SPARSE", "FULL" };
	struct tp_hll_params p;
	struct tp_hll *h = NULL;
	json_t *o = json_object();
	int rc = tp_hll_params_from_bytes(b->data, b->len, &p);
	if (rc == 0)
		rc = tp_hll_new(&p, &h);
	if (rc == 0)
		rc = tp_hll_deserialize(h, b->data, b->len);
	if (rc < 0) {
		json_object_set_new(o, "error", json_string(tp_strerror(rc)));
	} else {
		enum tp_hll_type t = tp_hll_type(h);
		json_object_set_new(o, "type", json_string(types[t <= TP_HLL_FULL ? t : 0]));
		json_object_set_new(o, "log2m", json_integer(p.log2m));
		json_object_set_new(o, "regwidth", json_integer(p.regwidth));
		json_object_set_new(o, "cardinality", json_integer((json_int_t)tp_hll_cardinality(h)));
	}
	json_object_set_new(o, "bytes", hex(b));
	tp_hll_free(h);
	return o;
}

static json_t *value(const struct tp_pq_column *c, const struct tp_pq_value *v, bool hll)
{
	if (v->is_null)
		return json_null();
	switch (c->type) {
	case TP_PQ_BOOLEAN:
		return json_boolean(v->b);
	case TP_PQ_INT32:
	case TP_PQ_INT64:
		if (c->logical == TP_PQ_LT_TIMESTAMP_MICROS)
			return timestamp(v->i);
		if (c->logical == TP_PQ_LT_INT && !c->int_signed) {
			if (v->u > INT64_MAX) {
				char buf[32];
				snprintf(buf, sizeof(buf), "%" PRIu64, v->u);
				return json_string(buf);
			}
			return json_integer((json_int_t)v->u);
		}
		return json_integer((json_int_t)v->i);
	case TP_PQ_BYTE_ARRAY: {
		size_t nl = strlen(c->name);
		if (hll && nl > 4 && strcmp(c->name + nl - 4, "_hll") == 0)
			return sketch(&v->bytes);
		if (c->logical == TP_PQ_LT_STRING) {
			json_t *s = json_stringn((const char *)v->bytes.data, v->bytes.len);
			return s ? s : hex(&v->bytes); /* not UTF-8: show the bytes */
		}
		return hex(&v->bytes);
	}
	}
	return json_null();
}

int tp_inspect_main(int argc, char **argv)
{
	const char *path = NULL;
	bool hll = false, schema = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--hll") == 0) {
			hll = true;
		} else if (strcmp(argv[i], "--schema") == 0) {
			schema = true;
		} else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: tapir inspect FILE [--hll] [--schema]\n"
			       "  prints each row of a tapir Parquet file as one JSON object\n"
			       "  --hll     decode sketch columns (*_hll): type and cardinality\n"
			       "  --schema  print the columns first\n");
			return 0;
		} else if (path == NULL && argv[i][0] != '-') {
			path = argv[i];
		} else {
			fprintf(stderr, "tapir inspect: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (path == NULL) {
		fprintf(stderr, "usage: tapir inspect FILE [--hll] [--schema]\n");
		return 2;
	}
	struct tp_pq_reader *r;
	int rc = tp_pq_reader_open(path, &r);
	if (rc < 0) {
		fprintf(stderr, "tapir inspect: %s: %s\n", path, tp_strerror(rc));
		return 1;
	}
	const struct tp_pq_column *cols = tp_pq_reader_columns(r);
	size_t n = tp_pq_reader_n_columns(r);
	if (schema) {
		static const char *const types[] = { "BOOLEAN", "INT32", "INT64", "BYTE_ARRAY" };
		static const char *const logical[] = { "", "STRING", "TIMESTAMP(MICROS,UTC)", "INT" };
		for (size_t c = 0; c < n; c++)
			printf("# %s %s %s%s %s\n", cols[c].name, types[cols[c].type],
			       logical[cols[c].logical],
			       cols[c].logical != TP_PQ_LT_INT ? ""
			       : cols[c].int_signed	       ? "(signed)"
							       : "(unsigned)",
			       cols[c].optional ? "optional" : "required");
	}
	const struct tp_pq_value *row;
	while ((rc = tp_pq_reader_next(r, &row)) > 0) {
		json_t *o = json_object();
		for (size_t c = 0; o && c < n; c++)
			json_object_set_new(o, cols[c].name, value(&cols[c], &row[c], hll));
		char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (line == NULL || puts(line) < 0)
			rc = -1;
		free(line);
		json_decref(o);
		if (rc < 0)
			break;
	}
	tp_pq_reader_free(r);
	if (rc < 0) {
		fprintf(stderr, "tapir inspect: %s: %s\n", path, tp_strerror(rc));
		return 1;
	}
	return 0;
}
