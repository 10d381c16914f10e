/* SPDX-License-Identifier: BSD-2-Clause
 *
 * murmur3.c - MurmurHash3 x64_128 (see murmur3.h).
 *
 * Written from the algorithm's description: 16-byte blocks read as two
 * little-endian 64-bit words, two mixing lanes, a tail of 0..15 bytes and
 * the fmix64 finaliser. Reads are byte-wise (no unaligned loads, no type
 * punning), so the result does not depend on the host's byte order and
 * the input may sit at any address. It never reads outside [data, data+len).
 */
#include "sketch/murmur3.h"

#include "util/mix.h"

/* The mixing constants of x64_128. */
#define C1 UINT64_C(0x87c37b91114253d5)
#define C2 UINT64_C(0x4cf5ad432745937f)

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64u - r));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	       (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

/* Little-endian load of n < 8 bytes: the tail's partial word. */
static inline uint64_t load_le_partial(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = n; i > 0; i--)
		v = v << 8 | p[i - 1];
	return v;
}

static inline uint64_t mix_k1(uint64_t k1)
{
	k1 *= C1;
	k1 = rotl64(k1, 31);
	return k1 * C2;
}

static inline uint64_t mix_k2(uint64_t k2)
{
	k2 *= C2;
	k2 = rotl64(k2, 33);
	return k2 * C1;
}

void tp_murmur3_128(const void *data, size_t len, uint32_t seed,
		    uint64_t out[2])
{
	const uint8_t *p = data;
	uint64_t h1 = seed;
	uint64_t h2 = seed;
	size_t n_blocks = len / 16u;

	for (size_t i = 0; i < n_blocks; i++, p += 16) {
		h1 ^= mix_k1(load_le64(p));
		h1 = rotl64(h1, 27);
		h1 += h2;
		h1 = h1 * 5u + UINT64_C(0x52dce729);

		h2 ^= mix_k2(load_le64(p + 8));
		h2 = rotl64(h2, 31);
		h2 += h1;
		h2 = h2 * 5u + UINT64_C(0x38495ab5);
	}

	/* Tail of 0..15 bytes: bytes 0..7 feed lane 1, bytes 8..14 lane 2,
	 * each as a little-endian partial word. (Mixing an all-zero word is a
	 * no-op, so skipping a lane without tail bytes changes nothing.) */
	size_t tail = len & 15u;
	if (tail > 8u)
		h2 ^= mix_k2(load_le_partial(p + 8, tail - 8u));
	if (tail >= 8u)
		h1 ^= mix_k1(load_le64(p));
	else if (tail > 0u)
		h1 ^= mix_k1(load_le_partial(p, tail));

	h1 ^= (uint64_t)len;
	h2 ^= (uint64_t)len;
	h1 += h2;
	h2 += h1;
	h1 = tp_fmix64(h1);
	h2 = tp_fmix64(h2);
	h1 += h2;
	h2 += h1;
	out[0] = h1;
	out[1] = h2;
}

uint64_t tp_murmur3_h1(const void *data, size_t len)
{
	uint64_t h[2];
	tp_murmur3_128(data, len, 0, h);
	return h[0];
}
