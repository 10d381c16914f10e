/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_cidr.c - libFuzzer target for the ignored-clients list parser
 * (lib/wkd/cidr.c).
 *
 * The list is an operator's file; a bad one must be refused with its line
 * numbers, never crash. Each input is parsed; a set that loads is asked
 * about a few addresses derived from the input and about bad lengths, and
 * must answer the way its contract says: only MISS for an inactive set,
 * BAD_ADDRESS for a bad length on an active one. A broken promise aborts.
 * Built with -fsanitize=fuzzer for fuzzing, and linked with fuzz/replay.c
 * to replay fuzz/corpus/cidr/ in `meson test --suite fuzz`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wkd/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_bad(void *ctx, uint64_t line, const char *why)
{
	if (line == 0 || why == NULL)
		abort();
	(*(uint64_t *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_cidr_set *s = NULL;
	struct tp_cidr_stats st;
	uint64_t bad = 0;
	int rc = tp_cidr_parse((const char *)data, size, count_bad, &bad, &s, &st);
	if (bad != st.bad)
		abort();
	if (rc != 0) {
		if (s != NULL || (rc == TP_EMALF && bad == 0))
			abort();
		return 0;
	}
	if (bad != 0 || tp_cidr_active(s) != (st.v4 + st.v6 > 0))
		abort();
	uint8_t addr[16] = { 0 };
	memcpy(addr, data, size < 16 ? size : 16);
	enum tp_cidr_result r4 = tp_cidr_match(s, addr, 4);
	enum tp_cidr_result r6 = tp_cidr_match(s, addr, 16);
	enum tp_cidr_result bad7 = tp_cidr_match(s, addr, 7);
	enum tp_cidr_result null = tp_cidr_match(s, NULL, 0);
	if (r4 == TP_CIDR_BAD_ADDRESS || r6 == TP_CIDR_BAD_ADDRESS)
		abort();
	if (tp_cidr_active(s) ? (bad7 != TP_CIDR_BAD_ADDRESS || null != TP_CIDR_BAD_ADDRESS)
			      : (r4 != TP_CIDR_MISS || r6 != TP_CIDR_MISS || bad7 != TP_CIDR_MISS))
		abort();
	tp_cidr_free(s);
	return 0;
}
