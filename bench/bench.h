/* SPDX-License-Identifier: BSD-2-Clause
 *
 * bench.h - what every benchmark needs: a deterministic generator for its
 * test data (splitmix64, so runs compare) and a monotonic clock.
 */
#ifndef TP_BENCH_BENCH_H
#define TP_BENCH_BENCH_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline double bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#endif
