/* SPDX-License-Identifier: BSD-2-Clause
 *
 * mix.h - small bit-mixing and address helpers shared by several modules.
 *
 * tp_fmix64 is MurmurHash3's 64-bit finaliser (Appleby): every input bit
 * affects every output bit. murmur3 needs it as part of the hash; the
 * well-known list and the Crypto-PAn cache use it to spread keys over a
 * table. tp_addr_is_v4_mapped tells an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), which tapir treats as IPv4.
 */
#ifndef TP_UTIL_MIX_H
#define TP_UTIL_MIX_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t tp_fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= UINT64_C(0xff51afd7ed558ccd);
	k ^= k >> 33;
	k *= UINT64_C(0xc4ceb9fe1a85ec53);
	k ^= k >> 33;
	return k;
}

/* a: 16 readable octets. */
static inline bool tp_addr_is_v4_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

#endif
