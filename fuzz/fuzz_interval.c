/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_interval.c - libFuzzer target for the Aggregate-Interval parser
 * (core/interval.c), which reads a header straight from the network.
 *
 * Each input becomes a NUL-terminated string (an embedded NUL ends it, as
 * in an HTTP header value) and is parsed. An accepted interval must keep
 * the contract: a non-negative duration inside the accepted years, and a
 * start that formats and parses back to the same instant. A broken promise
 * aborts. Built with -fsanitize=fuzzer for fuzzing, and linked with
 * fuzz/replay.c to replay fuzz/corpus/interval/ in `meson test`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/interval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[TP_INTERVAL_TEXT_MAX + 2];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = '\0';
	struct tp_interval iv;
	int rc = tp_interval_parse(text, &iv);
	if (rc != 0) {
		if (rc != TP_EMALF && rc != TP_ETOOBIG)
			abort();
		return 0;
	}
	if (iv.duration_us < 0)
		abort();
	char start[TP_INTERVAL_ISO_SIZE], again[TP_INTERVAL_ISO_SIZE + 8];
	if (tp_interval_format_utc(iv.start_us, start) != 0)
		abort();
	snprintf(again, sizeof(again), "%s/PT0S", start);
	struct tp_interval back;
	if (tp_interval_parse(again, &back) != 0 || back.start_us != iv.start_us ||
	    back.duration_us != 0)
		abort();
	return 0;
}
