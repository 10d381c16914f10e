/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_dawg.c - libFuzzer target for the DAWG reader (lib/wkd/dawg.c).
 *
 * List files come from operators, and a half-written or corrupted one must
 * be refused, never crash the edge (edm-spec §2.3, the reference's #237).
 * Each input is walked once; whatever comes out must keep the reader's
 * promises: ranks 0, 1, 2, ... in order, words strictly increasing, no word
 * over TP_DAWG_WORD_MAX code points, none beyond U+10FFFF. A broken promise
 * aborts. The callback stops after 100,000 words, so a tiny input that
 * declares millions of words does not stall the fuzzer. Built with
 * -fsanitize=fuzzer for fuzzing, and linked with fuzz/replay.c to replay
 * fuzz/corpus/dawg/ in `meson test --suite fuzz`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/limits.h"
#include "wkd/dawg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STOP_AFTER 100000u

struct seen {
	uint64_t n;
	uint32_t prev[TP_DAWG_WORD_MAX];
	size_t prev_len;
};

/* Strict code-point order of two words. */
static int cmp(const uint32_t *a, size_t la, const uint32_t *b, size_t lb)
{
	for (size_t i = 0; i < la && i < lb; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return la < lb ? -1 : la > lb;
}

static int check(void *ctx, uint64_t rank, const uint32_t *word, size_t n)
{
	struct seen *s = ctx;
	if (rank != s->n || n > TP_DAWG_WORD_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (word[i] > 0x10ffffu)
			abort();
	if (s->n > 0 && cmp(s->prev, s->prev_len, word, n) >= 0)
		abort();
	memcpy(s->prev, word, n * sizeof(*word));
	s->prev_len = n;
	return ++s->n >= STOP_AFTER ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	(void)tp_dawg_detect(data, size);
	int rc = tp_dawg_words(data, size, check, &s);
	if (rc != 0 && rc != 1 && rc != TP_EMALF && rc != TP_ETRUNC && rc != TP_ETOOBIG)
		abort();
	struct tp_dawg_header h;
	if (rc == 0 && (tp_dawg_header(data, size, &h) != 0 || h.n_words != s.n))
		abort(); /* a complete walk yields exactly the declared words */
	return 0;
}
