/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_parquet.c - libFuzzer target for the Parquet reader.
 *
 * `tapir inspect` opens files from anywhere, so arbitrary bytes go to
 * tp_pq_reader_open_mem() and, when the footer is accepted, rows are read
 * until the end or the first error. Every value handed out must agree with
 * its column (a bug, not bad input, if not: abort), and every error must be
 * one of ours or -ENOTSUP / -ENOMEM. Rows are capped per input: an RLE run
 * can legally promise a million NULLs from two octets, and the fuzzer wants
 * breadth, not one long file. Built with -fsanitize=fuzzer for fuzzing, and
 * linked with fuzz/replay.c to replay fuzz/corpus/parquet/ in
 * `meson test --suite fuzz`. It keeps no state between inputs.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/parquet.h"

/* Rows read from one input at most. */
#define FUZZ_MAX_ROWS 100000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_code(int rc)
{
	if (rc > -1000 && rc != -ENOTSUP && rc != -ENOMEM)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_pq_reader *r;
	int rc = tp_pq_reader_open_mem(data, size, &r);
	if (rc != 0) {
		check_code(rc);
		return 0;
	}
	size_t n = tp_pq_reader_n_columns(r);
	const struct tp_pq_column *cols = tp_pq_reader_columns(r);
	if (n == 0 || n > TP_PQ_COLUMNS_MAX || cols == NULL)
		abort();
	for (size_t c = 0; c < n; c++)
		if (cols[c].name == NULL || strlen(cols[c].name) > TP_PQ_NAME_MAX)
			abort();
	struct tp_pq_bytes cb = tp_pq_reader_created_by(r);
	if (cb.data != NULL && (cb.data < data || cb.data + cb.len > data + size))
		abort();

	const struct tp_pq_value *row;
	unsigned rows = 0;
	while (rows < FUZZ_MAX_ROWS && (rc = tp_pq_reader_next(r, &row)) == 1) {
		rows++;
		for (size_t c = 0; c < n; c++) {
			const struct tp_pq_value *v = &row[c];
			if (v->is_null) {
				if (!cols[c].optional)
					abort();
				continue;
			}
			if (cols[c].type == TP_PQ_BYTE_ARRAY) {
				if (v->bytes.len > TP_PQ_PAGE_MAX ||
				    (v->bytes.len > 0 && v->bytes.data == NULL))
					abort();
				/* Touch every octet: ASan checks the view. */
				volatile uint8_t sum = 0;
				for (size_t i = 0; i < v->bytes.len; i++)
					sum = (uint8_t)(sum + v->bytes.data[i]);
				(void)sum;
			} else if (cols[c].type == TP_PQ_INT32) {
				if (v->i < INT32_MIN || v->i > INT32_MAX ||
				    v->u > UINT32_MAX)
					abort();
			}
		}
	}
	if (rc < 0)
		check_code(rc);
	/* A failure is sticky. */
	if (rc < 0 && tp_pq_reader_next(r, &row) != rc)
		abort();
	tp_pq_reader_free(r);
	return 0;
}
