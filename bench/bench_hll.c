/* SPDX-License-Identifier: BSD-2-Clause
 *
 * bench_hll.c - HLL sketch costs at EDM's settings (10/4, threshold 20).
 *
 * Inputs are fixed: 2^20 pseudo-random 64-bit hashes and 2^20 IPv4
 * addresses from a seeded generator, so runs compare. Each figure is the
 * best of 5 repetitions (the machine is shared; the minimum is the least
 * disturbed). Baselines in the same run: the loop that only reads the
 * pre-hashed array (what add costs on top of memory), and murmur3 alone
 * (what `add with murmur3` costs on top of the hash). Goals (SPEC
 * performance issue): add <= 10 ns, union <= 1 us.
 *
 * Output: one line per figure, "name value unit".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "sketch/hll.h"
#include "sketch/murmur3.h"
#include "sketch/prf.h"

#define N_VALUES (1u << 20)
#define REPS 5

static uint64_t rng_state = UINT64_C(0x2545f4914f6cdd1d);

static uint64_t rng(void)
{
	return bench_splitmix64(&rng_state);
}

static volatile uint64_t sink; /* keeps results observable */

static uint64_t *values;
static uint8_t (*addrs)[4];

static struct tp_hll *make(void)
{
	struct tp_hll_params p;
	tp_hll_params_default(&p);
	struct tp_hll *h;
	if (tp_hll_new(&p, &h) != 0) {
		fprintf(stderr, "bench_hll: tp_hll_new failed\n");
		exit(1);
	}
	return h;
}

/* A sketch holding n of the fixed values. */
static struct tp_hll *filled(unsigned n)
{
	struct tp_hll *h = make();
	for (unsigned i = 0; i < n; i++)
		tp_hll_add(h, values[(i * 7919u) % N_VALUES]);
	return h;
}

typedef double (*bench_fn)(void);

static double best(bench_fn f)
{
	double b = f();
	for (int i = 1; i < REPS; i++) {
		double t = f();
		if (t < b)
			b = t;
	}
	return b;
}

/* ---- per-value figures (ns per value) --------------------------------- */

static double read_only(void)
{
	double t = bench_now_ns();
	uint64_t acc = 0;
	for (unsigned i = 0; i < N_VALUES; i++)
		acc += values[i];
	sink = acc;
	return (bench_now_ns() - t) / N_VALUES;
}

static double add_dense(void)
{
	struct tp_hll *h = filled(5000);
	double t = bench_now_ns();
	for (unsigned i = 0; i < N_VALUES; i++)
		tp_hll_add(h, values[i]);
	double r = (bench_now_ns() - t) / N_VALUES;
	sink = tp_hll_cardinality(h);
	tp_hll_free(h);
	return r;
}

/* EDM's common case: a row with few clients. 16 adds then a reset, so
 * the sketch stays EXPLICIT (sorted insert into <= 20 values). */
static double add_explicit(void)
{
	struct tp_hll *h = make();
	double t = bench_now_ns();
	for (unsigned i = 0; i < N_VALUES; i++) {
		if ((i & 15u) == 0)
			tp_hll_reset(h);
		tp_hll_add(h, values[i]);
	}
	double r = (bench_now_ns() - t) / N_VALUES;
	sink = tp_hll_cardinality(h);
	tp_hll_free(h);
	return r;
}

/* The same row, as DNS traffic really looks: 16 clients asking again and
 * again (256 adds per sketch), so most adds find the value present. */
static double add_explicit_repeat(void)
{
	struct tp_hll *h = make();
	double t = bench_now_ns();
	for (unsigned i = 0; i < N_VALUES; i++) {
		if ((i & 255u) == 0)
			tp_hll_reset(h);
		tp_hll_add(h, values[(i & ~255u) | (i & 15u)]);
	}
	double r = (bench_now_ns() - t) / N_VALUES;
	sink = tp_hll_cardinality(h);
	tp_hll_free(h);
	return r;
}

static double murmur3_only(void)
{
	double t = bench_now_ns();
	uint64_t acc = 0;
	for (unsigned i = 0; i < N_VALUES; i++)
		acc ^= tp_murmur3_h1(addrs[i], 4);
	sink = acc;
	return (bench_now_ns() - t) / N_VALUES;
}

static double add_murmur3(void)
{
	struct tp_hll *h = filled(5000);
	double t = bench_now_ns();
	for (unsigned i = 0; i < N_VALUES; i++)
		tp_hll_add(h, tp_murmur3_h1(addrs[i], 4));
	double r = (bench_now_ns() - t) / N_VALUES;
	sink = tp_hll_cardinality(h);
	tp_hll_free(h);
	return r;
}

static double add_siphash(void)
{
	struct tp_hll *h = filled(5000);
	struct tp_prf_key k = { UINT64_C(0x0706050403020100),
				UINT64_C(0x0f0e0d0c0b0a0908) };
	double t = bench_now_ns();
	for (unsigned i = 0; i < N_VALUES; i++)
		tp_hll_add(h, tp_prf_addr(&k, addrs[i], 4));
	double r = (bench_now_ns() - t) / N_VALUES;
	sink = tp_hll_cardinality(h);
	tp_hll_free(h);
	return r;
}

/* ---- per-operation figures -------------------------------------------- */

#define OPS 20000u

static struct tp_hll *src_dense, *src_sparse, *src_explicit;

static double union_into(struct tp_hll *dst_template_src)
{
	/* dst is dense; each op merges the source into it. */
	struct tp_hll *dst = filled(20000);
	double t = bench_now_ns();
	for (unsigned i = 0; i < OPS; i++)
		if (tp_hll_union(dst, dst_template_src) != 0)
			exit(1);
	double r = (bench_now_ns() - t) / OPS;
	sink = tp_hll_cardinality(dst);
	tp_hll_free(dst);
	return r;
}

static double union_dense_dense(void)
{
	return union_into(src_dense);
}

static double union_sparse_dense(void)
{
	return union_into(src_sparse);
}

static double union_explicit_dense(void)
{
	return union_into(src_explicit);
}

static double card_of(const struct tp_hll *h)
{
	double t = bench_now_ns();
	uint64_t acc = 0;
	for (unsigned i = 0; i < OPS; i++)
		acc += tp_hll_cardinality(h);
	sink = acc;
	return (bench_now_ns() - t) / OPS;
}

static double card_dense(void)
{
	return card_of(src_dense);
}

static double card_sparse(void)
{
	return card_of(src_sparse);
}

static uint8_t ser_buf[TP_HLL_SERIALIZED_MAX];

static double serialize_dense(void)
{
	double t = bench_now_ns();
	int acc = 0;
	for (unsigned i = 0; i < OPS; i++)
		acc += tp_hll_serialize(src_dense, ser_buf, sizeof(ser_buf));
	sink = (uint64_t)acc;
	return (bench_now_ns() - t) / OPS;
}

static double deserialize_dense(void)
{
	int n = tp_hll_serialize(src_dense, ser_buf, sizeof(ser_buf));
	struct tp_hll *h = make();
	double t = bench_now_ns();
	int acc = 0;
	for (unsigned i = 0; i < OPS; i++)
		acc += tp_hll_deserialize(h, ser_buf, (size_t)n);
	sink = (uint64_t)acc;
	double r = (bench_now_ns() - t) / OPS;
	tp_hll_free(h);
	return r;
}

int main(void)
{
	values = malloc(N_VALUES * sizeof(*values));
	addrs = malloc(N_VALUES * sizeof(*addrs));
	if (values == NULL || addrs == NULL)
		return 1;
	for (unsigned i = 0; i < N_VALUES; i++) {
		values[i] = rng();
		uint64_t a = rng();
		for (unsigned b = 0; b < 4; b++)
			addrs[i][b] = (uint8_t)(a >> (8u * b));
	}
	src_dense = filled(20000);
	src_sparse = filled(150);
	src_explicit = filled(20);
	if (tp_hll_type(src_dense) != TP_HLL_FULL ||
	    tp_hll_type(src_sparse) != TP_HLL_SPARSE ||
	    tp_hll_type(src_explicit) != TP_HLL_EXPLICIT)
		return 1;

	printf("baseline_read_prehashed %.2f ns/value\n", best(read_only));
	printf("hll_add_dense_prehashed %.2f ns/op\n", best(add_dense));
	printf("hll_add_explicit_prehashed %.2f ns/op\n", best(add_explicit));
	printf("hll_add_explicit_repeat_prehashed %.2f ns/op\n",
	       best(add_explicit_repeat));
	printf("baseline_murmur3_h1_4byte %.2f ns/op\n", best(murmur3_only));
	printf("hll_add_dense_murmur3 %.2f ns/op\n", best(add_murmur3));
	printf("hll_add_dense_siphash24 %.2f ns/op\n", best(add_siphash));
	printf("hll_union_dense_dense %.3f us/op\n",
	       best(union_dense_dense) / 1000.0);
	printf("hll_union_sparse150_dense %.3f us/op\n",
	       best(union_sparse_dense) / 1000.0);
	printf("hll_union_explicit20_dense %.3f us/op\n",
	       best(union_explicit_dense) / 1000.0);
	printf("hll_cardinality_dense %.1f ns/op\n", best(card_dense));
	printf("hll_cardinality_sparse150 %.1f ns/op\n", best(card_sparse));
	printf("hll_serialize_dense %.1f ns/op\n", best(serialize_dense));
	printf("hll_deserialize_dense %.1f ns/op\n", best(deserialize_dense));

	tp_hll_free(src_dense);
	tp_hll_free(src_sparse);
	tp_hll_free(src_explicit);
	free(values);
	free(addrs);
	return 0;
}
