/* SPDX-License-Identifier: BSD-2-Clause
 *
 * bench_cryptopan.c - Crypto-PAn cost per address, uncached and cached.
 *
 * Uncached: 2^16 distinct seeded-random addresses on an instance with the
 * cache off, so every call does the full 32 (IPv4) or 128 (IPv6) AES
 * blocks. Cached: 1024 distinct addresses cycled on an instance whose cache
 * holds them all (warmed first), so every timed call is a hit; this is the
 * steady state of a resolver's recurring clients. Each figure is the
 * median of 5 repetitions, like bench_stages' (the VM's speed drifts; the
 * median ignores a disturbed run without picking the luckiest one).
 * Reference (Apple M1 Pro, edm-spec §7.2): v4 695.8 uncached / 89.7
 * cached, v6 2215 / 115.9 ns/op.
 *
 * Output: one line per figure, "name ns/op ops/s" (the hit ratio:
 * "name value ratio").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "privacy/cryptopan.h"

#define N_ADDRS (1u << 16)
#define N_HOT 1024u
#define REPS 5

static uint64_t rng_state = UINT64_C(0x2545f4914f6cdd1d);

static uint64_t rng(void)
{
	return bench_splitmix64(&rng_state);
}

static volatile uint8_t sink; /* keeps results observable */
static uint8_t addrs[N_ADDRS][16];

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_cryptopan: %s: %s\n", what, tp_strerror(rc));
	exit(1);
}

/* ns per call over n addresses of length len, cycling through them. */
static double run(struct tp_cryptopan *cp, size_t len, unsigned n,
		  unsigned calls)
{
	uint8_t out[16];
	size_t out_len;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < calls; i++) {
		int rc = tp_cryptopan_anon(cp, addrs[i % n], len, out,
					   sizeof(out), &out_len);
		if (rc != 0)
			die("anon", rc);
		sink ^= out[0];
	}
	return (bench_now_ns() - t0) / (double)calls;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(struct tp_cryptopan *cp, size_t len, unsigned n,
		     unsigned calls)
{
	double v[REPS];
	for (int r = 0; r < REPS; r++)
		v[r] = run(cp, len, n, calls);
	qsort(v, REPS, sizeof(v[0]), cmp_double);
	return v[REPS / 2];
}

static void report(const char *what, const char *family, double ns)
{
	printf("cryptopan_%s_%s %.1f ns/op %.0f ops/s\n", what, family, ns,
	       1e9 / ns);
}

int main(void)
{
	uint8_t key[TP_CRYPTOPAN_KEY_SIZE];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)rng();
	for (unsigned i = 0; i < N_ADDRS; i++) {
		for (unsigned j = 0; j < 16; j++)
			addrs[i][j] = (uint8_t)rng();
		addrs[i][10] = 0; /* never IPv4-mapped: IPv6 runs stay 128-bit */
	}

	struct tp_cryptopan *plain = NULL, *cached = NULL;
	int rc = tp_cryptopan_new(key, 0, &plain);
	if (rc != 0)
		die("new", rc);
	/* 4x the hot set, so hash collisions between hot addresses are
	 * rare and the cached figure measures hits, not evictions. */
	rc = tp_cryptopan_new(key, 4u * N_HOT, &cached);
	if (rc != 0)
		die("new", rc);

	static const size_t lens[2] = {4, 16};
	static const char *const names[2] = {"v4", "v6"};
	for (unsigned f = 0; f < 2; f++) {
		size_t len = lens[f];
		unsigned calls = len == 4 ? N_ADDRS : N_ADDRS / 4u;
		report("uncached", names[f], median(plain, len, N_ADDRS, calls));
		(void)run(cached, len, N_HOT, N_HOT); /* warm */
		report("cached", names[f], median(cached, len, N_HOT, 1u << 20));
	}
	struct tp_cryptopan_stats st;
	tp_cryptopan_get_stats(cached, &st);
	printf("cryptopan_cached_hit_ratio %.4f ratio\n",
	       (double)st.hits / (double)(st.hits + st.misses));
	tp_cryptopan_free(plain);
	tp_cryptopan_free(cached);
	return 0;
}
