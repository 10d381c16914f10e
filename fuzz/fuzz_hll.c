/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_hll.c - libFuzzer target for HLL deserialisation (lib/sketch/hll.c).
 *
 * Sketch bytes arrive from other edges and from the open data, so they are
 * untrusted. Each input is read twice: into a sketch made from its own
 * header (any supported log2m/regwidth) and into one with EDM's settings.
 * Whatever loads must serialise to exactly serialized_size() bytes, load
 * back to an equal sketch (our own output always round-trips), union into
 * an accumulator that already holds data, and estimate without trapping.
 * A broken invariant aborts: that is a bug, not bad input. Built with
 * -fsanitize=fuzzer for fuzzing, and linked with fuzz/replay.c to replay
 * fuzz/corpus/hll/ in `meson test --suite fuzz`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sketch/hll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct tp_hll_params *p, const uint8_t *data,
		     size_t size)
{
	struct tp_hll *h = NULL, *back = NULL, *acc = NULL;
	uint8_t *out = NULL;
	if (tp_hll_new(p, &h) != 0 || tp_hll_new(p, &back) != 0 ||
	    tp_hll_new(p, &acc) != 0)
		abort();
	int rc = tp_hll_deserialize(h, data, size);
	if (rc != 0) {
		if (rc > -1000 || tp_hll_type(h) != TP_HLL_EMPTY)
			abort(); /* only domain codes; never half-loaded */
		goto done;
	}
	size_t len = tp_hll_serialized_size(h);
	out = malloc(len);
	if (out == NULL)
		abort();
	if (tp_hll_serialize(h, out, len) != (int)len ||
	    tp_hll_serialize(h, out, len - 1u) != TP_ENOSPACE)
		abort();
	if (tp_hll_deserialize(back, out, len) != 0 || !tp_hll_equal(h, back))
		abort();
	/* Union into a sketch that already holds a few values. */
	for (uint64_t i = 1; i <= 40; i++)
		tp_hll_add(acc, i * UINT64_C(0x9e3779b97f4a7c15));
	if (tp_hll_union(acc, h) != 0 || tp_hll_union(acc, acc) != 0)
		abort();
	uint64_t before = tp_hll_cardinality(h);
	(void)tp_hll_estimate(acc);
	(void)tp_hll_cardinality(acc);
	if (tp_hll_cardinality(h) != before)
		abort(); /* estimating must not change anything */
done:
	free(out);
	tp_hll_free(h);
	tp_hll_free(back);
	tp_hll_free(acc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_hll_params p;
	if (tp_hll_params_from_bytes(data, size, &p) == 0)
		exercise(&p, data, size);
	tp_hll_params_default(&p);
	exercise(&p, data, size);
	return 0;
}
