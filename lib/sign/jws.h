/* SPDX-License-Identifier: BSD-2-Clause
 *
 * jws.h - EdDSA JWS in the flattened JSON serialisation (RFC 7515 §7.2.2,
 * RFC 8037 §3.1), the envelope of every new_qname event (edm-spec §5.3).
 *
 * Signing produces exactly what the reference edge sends and what the core
 * (evrec, mqtt-bridge; core-spec §2) verifies:
 *   {"payload":"<b64url>","protected":"<b64url>","signature":"<b64url>"}
 * with the protected header {"alg":"EdDSA","kid":"<kid>"} in that member
 * order, no unprotected "header", base64url without padding. Ed25519 is
 * deterministic (RFC 8032), so one key and one payload give one output.
 *
 * Verification reads untrusted bytes off the network. It is bounded
 * (TP_JWS_MAX), refuses duplicate members, anything but the three members
 * above (a general-serialisation "signatures" array, an unprotected
 * "header"), a "crit" header (we implement no extension), an alg other than
 * EdDSA (the algorithm comes from the key, never from the attacker's
 * header) and a missing or empty kid; it returns the payload bytes only
 * after the signature checked out.
 */
#ifndef TP_SIGN_JWS_H
#define TP_SIGN_JWS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "sign/jwk.h"
#include "util/err.h"

/* Largest JWS text accepted by the verifier; events are ~200 bytes. */
#define TP_JWS_MAX 65536u
/* Largest payload the signer takes, so that whatever we sign the other
 * side's TP_JWS_MAX accepts (32 KiB -> 43,691 characters, plus a header of
 * at most ~2 KiB for an escaped 255-byte kid, plus 86 for the signature). */
#define TP_JWS_PAYLOAD_MAX 32768u
/* Ed25519 signature as base64url: 86 characters. */
#define TP_JWS_SIG_B64_LEN 86u

/* Distinct outcomes of a verification that parsed but did not pass. The
 * shared error space has no code for them, so they are errno values,
 * which tp_strerror() also prints. */
#define TP_JWS_EBADSIG (-EBADMSG)    /* signature does not verify */
#define TP_JWS_EKID (-EKEYREJECTED)  /* kid is not the expected one */

/* Sign payload[0..len) with key (must hold a private key).
 *   *out: heap, NUL-terminated JSON text (no newline); release with free().
 * Returns 0, TP_EINVAL (NULL argument, no private key), TP_ETOOBIG
 * (len > TP_JWS_PAYLOAD_MAX), -ENOMEM or TP_EBUG (OpenSSL failed). */
int tp_jws_sign(const struct tp_jwk *key, const uint8_t *payload, size_t len,
		char **out, size_t *out_len) TP_WUR;

/* The raw step under tp_jws_sign(): the base64url Ed25519 signature over
 * the ASCII signing input "<protected>.<payload>" (RFC 7515 §5.1), for
 * callers and tests that build headers of their own (RFC 8037 A.4 signs
 * {"alg":"EdDSA"} without a kid). out: TP_JWS_SIG_B64_LEN + 1 bytes.
 * Returns 0, TP_EINVAL or TP_EBUG. */
int tp_jws_signature(EVP_PKEY *key, const char *input, size_t input_len,
		     char out[TP_JWS_SIG_B64_LEN + 1u]) TP_WUR;

/* Verify jws[0..len) (untrusted) with the Ed25519 public key pub.
 *   expect_kid: borrowed; when not NULL the header's kid must equal it.
 *   kid_out: when not NULL, TP_JWK_KID_MAX + 1 bytes; receives the
 *            header's kid (NUL-terminated) on success.
 *   *payload: heap, payload bytes plus a NUL not counted in *payload_len
 *             (handy for JSON parsers); release with free(). Set only on
 *             success.
 * Returns 0; TP_EINVAL (NULL argument, pub not Ed25519); TP_ETOOBIG
 * (len > TP_JWS_MAX); TP_EMALF (not JSON, duplicate or extra members,
 * wrong types, bad base64url, header not a JSON object, alg not EdDSA,
 * crit present, kid not a 1..255-byte string, signature not 64 bytes);
 * TP_EMISSING (payload, protected, signature, alg or kid absent);
 * TP_JWS_EKID; TP_JWS_EBADSIG; -ENOMEM; TP_EBUG. */
int tp_jws_verify(EVP_PKEY *pub, const char *expect_kid, const char *jws,
		  size_t len, uint8_t **payload, size_t *payload_len,
		  char *kid_out) TP_WUR;

/* A protected header is ~40 bytes; one with a 255-byte kid fully escaped
 * (\uXXXX) is under 2 KiB of JSON. Longer base64url text is not ours. */
#define TP_JWS_PEEK_PROTECTED_MAX 4096u

/* The kid of the flattened JWS jws[0..len) (untrusted), UNVERIFIED: a
 * verifier reads it to pick the key, then tp_jws_verify() parses the same
 * header again and compares the kid.
 *   kid: TP_JWK_KID_MAX + 1 bytes; NUL-terminated on success.
 * Returns 0; TP_EINVAL (NULL argument); TP_ETOOBIG (len > TP_JWS_MAX or a
 * protected member longer than TP_JWS_PEEK_PROTECTED_MAX); TP_EMALF (not a
 * JSON object, duplicate members, protected not a string or not base64url,
 * header not a JSON object, kid not a 1..255-byte string without NUL);
 * TP_EMISSING (no protected member, or no kid); -ENOMEM. */
int tp_jws_peek_kid(const char *jws, size_t len,
		    char kid[TP_JWK_KID_MAX + 1u]) TP_WUR;

#endif
