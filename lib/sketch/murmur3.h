/* SPDX-License-Identifier: BSD-2-Clause
 *
 * murmur3.h - MurmurHash3 x64_128, the hash of the `compat` HLL mode.
 *
 * EDM feeds the first 64-bit half (h1) of MurmurHash3 x64_128 with seed 0,
 * computed over the raw client address bytes, to its HyperLogLog sketches
 * (edm-spec §3.2, vectors/README.md §1). postgresql-hll's hll_hash_bytea()
 * returns the same value for the same bytes, so sketches built with this
 * hash can be unioned with sketches built inside PostgreSQL. This is not a
 * keyed or cryptographic hash: anyone can test a sketch for an address. The
 * `keyed` mode (prf.h) exists for that reason.
 */
#ifndef TP_SKETCH_MURMUR3_H
#define TP_SKETCH_MURMUR3_H

#include <stddef.h>
#include <stdint.h>

/* MurmurHash3 x64_128 of data[0..len).
 *   data: borrowed for the call; may be NULL when len is 0.
 *   out: receives h1 in out[0] and h2 in out[1]. The canonical 16-byte
 *        digest is h1 then h2, each little-endian. */
void tp_murmur3_128(const void *data, size_t len, uint32_t seed,
		    uint64_t out[2]);

/* h1 of MurmurHash3 x64_128 with seed 0: what go's murmur3.Sum64 returns and
 * what EDM adds to its HLLs. data as above. */
uint64_t tp_murmur3_h1(const void *data, size_t len);

#endif
