/* SPDX-License-Identifier: BSD-2-Clause
 *
 * prf.h - the `keyed` hashing mode of the HLL sketches (SPEC §5).
 *
 * In `compat` mode a sketch holds murmur3 hashes of raw addresses, so anyone
 * holding the sketch can test it for an address of their choice by hashing
 * it and looking at one register. In `keyed` mode the HLL input is
 * SipHash-2-4 (Aumasson & Bernstein, 2012), a pseudo-random function keyed
 * with a 128-bit secret shared by the federation: sketches from different
 * edges still union (same key, same hash), but without the key nobody can
 * compute the value an address would have set. SipHash is built for short
 * inputs such as 4- and 16-byte addresses and costs a few ns per address.
 *
 * The key comes either as 16 raw bytes or derived from a longer shared
 * secret with HKDF-SHA256 (RFC 5869) under a fixed tapir label, so that the
 * same secret used elsewhere yields an unrelated key. Derivation uses
 * OpenSSL and runs at configuration time only; hashing does not.
 */
#ifndef TP_SKETCH_PRF_H
#define TP_SKETCH_PRF_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define TP_PRF_KEY_SIZE 16u
/* A shared secret shorter than the key it yields adds nothing; one longer
 * than this is certainly a configuration mistake (a file read whole). */
#define TP_PRF_SECRET_MIN 16u
#define TP_PRF_SECRET_MAX 4096u
/* HKDF salt: fixed, it only separates this use of the secret from others. */
#define TP_PRF_HKDF_SALT "tapir keyed hll v1"

/* SipHash key as two little-endian 64-bit words (the paper's k0, k1). */
struct tp_prf_key {
	uint64_t k0, k1;
};

/* Key from 16 raw bytes (k0 = bytes 0-7, k1 = bytes 8-15, little-endian). */
void tp_prf_key_from_bytes(struct tp_prf_key *out,
			   const uint8_t key[TP_PRF_KEY_SIZE]);

/* Key = HKDF-SHA256(ikm = secret, salt = TP_PRF_HKDF_SALT, info = context,
 * L = 16), taken as tp_prf_key_from_bytes() does.
 *   secret: borrowed for the call; TP_PRF_SECRET_MIN..MAX bytes.
 *   context: borrowed; NUL-terminated, may be "" (e.g. a key epoch
 *            "2025-06", so that rotating it yields a fresh key).
 * Returns 0, TP_EINVAL (NULL argument or secret length out of range) or
 * TP_EBUG (OpenSSL failed; out is then zero). */
int tp_prf_key_derive(struct tp_prf_key *out, const uint8_t *secret,
		      size_t secret_len, const char *context) TP_WUR;

/* SipHash-2-4 of data[0..len) under key: the 64-bit output as the paper
 * defines it (v0^v1^v2^v3; its little-endian bytes are the usual 8-byte
 * tag). data: borrowed; may be NULL when len is 0. */
uint64_t tp_siphash24(const struct tp_prf_key *key, const void *data,
		      size_t len);

/* The `keyed` HLL input for raw address bytes (4 or 16 from dnstap). The
 * length is part of the input, so 4- and 16-byte forms never collide by
 * construction. */
static inline uint64_t tp_prf_addr(const struct tp_prf_key *key,
				   const uint8_t *addr, size_t len)
{
	return tp_siphash24(key, addr, len);
}

/* Overwrite a key with zeros in a way the compiler keeps. */
void tp_prf_key_wipe(struct tp_prf_key *key);

#endif
