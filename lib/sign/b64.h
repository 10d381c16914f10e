/* SPDX-License-Identifier: BSD-2-Clause
 *
 * b64.h - base64url without padding (RFC 4648 §5, as RFC 7515 §2 uses it).
 *
 * JWS and JWK carry every binary value in this form. The decoder sees
 * untrusted input (a JWS from the network, a key file), so it is strict:
 * only the 64 URL-safe characters, no '=' padding, no whitespace, no length
 * that cannot come from an encoder (len % 4 == 1), and no non-zero bits in
 * the unused low bits of the last character (RFC 4648 §3.5). A strict
 * decoder gives every byte string exactly one accepted encoding, so two
 * different texts can never verify as the same signed message.
 */
#ifndef TP_SIGN_B64_H
#define TP_SIGN_B64_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Characters needed to encode n bytes, without the NUL. */
static inline size_t tp_b64url_encoded_len(size_t n)
{
	return n / 3u * 4u + (n % 3u == 0 ? 0u : n % 3u + 1u);
}

/* Upper bound of the bytes that n characters can decode to. */
static inline size_t tp_b64url_decoded_max(size_t n)
{
	return n / 4u * 3u + (n % 4u == 0 ? 0u : n % 4u - 1u);
}

/* Encode in[0..in_len) into out as a NUL-terminated string.
 *   in: borrowed; may be NULL when in_len is 0.
 *   out_size: must be at least tp_b64url_encoded_len(in_len) + 1.
 * Returns 0, TP_EINVAL (NULL out, or NULL in with in_len > 0) or
 * TP_ENOSPACE (checked before anything is written). */
int tp_b64url_encode(const uint8_t *in, size_t in_len, char *out,
		     size_t out_size) TP_WUR;

/* Decode in[0..in_len) (not NUL-terminated; a NUL inside is invalid).
 *   out_size: room in out; tp_b64url_decoded_max(in_len) always suffices.
 *   *out_len: bytes written, on success only.
 * Returns 0, TP_EINVAL (NULL argument), TP_EMALF (a character outside the
 * alphabet, padding, impossible length, non-canonical trailing bits) or
 * TP_ENOSPACE. On error the first bytes of out may have been written. */
int tp_b64url_decode(const char *in, size_t in_len, uint8_t *out,
		     size_t out_size, size_t *out_len) TP_WUR;

#endif
