/* SPDX-License-Identifier: BSD-2-Clause
 *
 * cryptopan.h - Crypto-PAn prefix-preserving address pseudonymisation for
 * the local session log (SPEC §6; reference edm-spec §4.2).
 *
 * Crypto-PAn (Xu, Fan, Ammar, Moon, 2002) maps an address to a pseudonym so
 * that two addresses sharing exactly k leading bits map to pseudonyms
 * sharing exactly k leading bits: subnets stay analysable, hosts do not stay
 * identifiable. Bit i of the output is bit i of the input XOR the top bit of
 * AES_K(first i input bits || pad bits i..127), with pad = AES_K(second key
 * half). We must produce the reference's pseudonyms byte for byte (the
 * shared golden vectors), so the key is derived exactly as the reference
 * does: Argon2id(password = key string, salt = salt string, t = 1,
 * m = 65536 KiB, p = 4, 32 bytes); AES-128 key = derived[0:16], pad block =
 * derived[16:32]. IPv4 and IPv4-mapped IPv6 inputs use the 32-bit variant
 * and yield 4 bytes; other 16-byte inputs use the 128-bit variant; inputs of
 * any other length yield that many zero bytes (so nothing unpseudonymised
 * can leak through a malformed record).
 *
 * Key derivation is deliberately slow (64 MiB, tens to hundreds of ms):
 * run it once per key change, then build one tp_cryptopan per worker from
 * the 32 derived bytes.
 *
 * Thread safety: a struct tp_cryptopan is NOT thread-safe; it owns a cipher
 * context and a cache that every call mutates. Use one per worker thread.
 * Distinct instances share nothing and may be used concurrently.
 */
#ifndef TP_PRIVACY_CRYPTOPAN_H
#define TP_PRIVACY_CRYPTOPAN_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Derived key: AES-128 key (16 bytes) then pad plaintext (16 bytes). */
#define TP_CRYPTOPAN_KEY_SIZE 32u
/* Reference default for `cryptopan-key-salt` (edm-spec §6.2). */
#define TP_CRYPTOPAN_DEFAULT_SALT "edm-kdf-salt-val"
/* Argon2id parameters of the reference; changing any breaks the vectors. */
#define TP_CRYPTOPAN_ARGON2_T 1u
#define TP_CRYPTOPAN_ARGON2_M_KIB 65536u
#define TP_CRYPTOPAN_ARGON2_P 4u
/* Key and salt strings: a key longer than this is a configuration mistake
 * (a whole file pasted in); Argon2 itself accepts up to 4 GiB. */
#define TP_CRYPTOPAN_SECRET_MAX 4096u
/* Largest output: an IPv6 pseudonym. */
#define TP_CRYPTOPAN_OUT_MAX 16u
/* Cache entries ceiling, about 34 bytes each: 2^26 entries is ~2.2 GiB per
 * worker, beyond any sensible setting (the reference default is 10^7). */
#define TP_CRYPTOPAN_CACHE_MAX (1u << 26)

struct tp_cryptopan;

/* Cache counters, per instance (for edm_cryptopan_lru_{hit,evicted}_total). */
struct tp_cryptopan_stats {
	uint64_t hits;      /* answers served from the cache */
	uint64_t misses;    /* answers computed (cache on or off) */
	uint64_t evictions; /* cached entries dropped for another address */
};

/* derived = Argon2id(key, salt, t=1, m=65536 KiB, p=4, 32 bytes).
 *   key, salt: borrowed, NUL-terminated UTF-8 (used as bytes, not
 *              normalised). key: 1..TP_CRYPTOPAN_SECRET_MAX bytes (the
 *              reference requires a key); salt: 8..TP_CRYPTOPAN_SECRET_MAX
 *              bytes (Argon2's minimum salt length is 8).
 * Returns 0, TP_EINVAL (NULL or length out of range), -ENOMEM, or TP_EBUG
 * (libargon2 failed otherwise); on error derived is zero. */
int tp_cryptopan_derive_key(uint8_t derived[TP_CRYPTOPAN_KEY_SIZE],
			    const char *key, const char *salt) TP_WUR;

/* New instance from a 32-byte key (derived as above, or raw as in the
 * original Crypto-PAn sample).
 *   key: copied; the caller may wipe it afterwards.
 *   cache_entries: 0 disables the cache; otherwise a 4-way
 *                  set-associative table with LRU order per set, of that
 *                  many entries rounded up to a multiple of 4, allocated
 *                  here (it never grows).
 *   out: set on success, NULL on failure.
 * Returns 0, TP_EINVAL (NULL argument, cache_entries > TP_CRYPTOPAN_CACHE_MAX),
 * -ENOMEM, or TP_EBUG (OpenSSL failed: no AES-128-ECB available). */
int tp_cryptopan_new(const uint8_t key[TP_CRYPTOPAN_KEY_SIZE],
		     size_t cache_entries, struct tp_cryptopan **out) TP_WUR;

/* Wipes the key material and the cache, then frees. NULL is a no-op. */
void tp_cryptopan_free(struct tp_cryptopan *cp);

/* Pseudonymise addr[0..len).
 *   addr: borrowed; 4 bytes (IPv4) or 16 bytes (IPv6, IPv4-mapped ones
 *         being treated as their IPv4 address). May be NULL when len is 0.
 *   out:  out_size bytes, may be addr itself; receives 4 bytes for IPv4 and IPv4-mapped input,
 *         16 for other IPv6, len zero bytes for any other length.
 *   out_len: set to the number of bytes written (or needed, on
 *            TP_ENOSPACE).
 * Returns 0; TP_EMALF when len is neither 4 nor 16 (out then holds len zero
 * bytes: the caller logs and keeps going); TP_ENOSPACE when out_size is too
 * small (nothing written); TP_EINVAL for NULL cp/out/out_len or NULL addr
 * with len > 0; TP_EBUG if AES failed (out then holds zero bytes, never the
 * input). */
int tp_cryptopan_anon(struct tp_cryptopan *cp, const uint8_t *addr,
		      size_t len, uint8_t *out, size_t out_size,
		      size_t *out_len) TP_WUR;

/* Counters since creation. */
void tp_cryptopan_get_stats(const struct tp_cryptopan *cp,
			    struct tp_cryptopan_stats *st);

/* Forget every cached pseudonym (the counters are kept). */
void tp_cryptopan_cache_clear(struct tp_cryptopan *cp);

#endif
