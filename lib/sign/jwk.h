/* SPDX-License-Identifier: BSD-2-Clause
 *
 * jwk.h - Ed25519 keys as JSON Web Keys (RFC 7517, RFC 8037).
 *
 * The edge signs new_qname events with a private JWK file (edm-spec §3.7,
 * §5.3): kty "OKP", crv "Ed25519", x = public key, d = private key, kid
 * REQUIRED (it names the node and is copied into every JWS header), alg
 * EdDSA when present. The core verifies with the public key, which it gets
 * as SubjectPublicKeyInfo PEM, and labels messages with the RFC 7638
 * thumbprint of that key. Key files are treated as untrusted input: size is
 * bounded, duplicate members are refused, every member we use is type- and
 * length-checked, and a d that does not match x is refused, so a corrupted
 * file cannot sign under somebody else's public key.
 *
 * Only Ed25519 is supported; Ed448 JWKs are refused (the reference loaded
 * them but its signers then failed).
 */
#ifndef TP_SIGN_JWK_H
#define TP_SIGN_JWK_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/types.h>

#include "util/err.h"

/* A key file is a few hundred bytes; anything much larger is not a key. */
#define TP_JWK_FILE_MAX 16384u
/* kid: 1..255 bytes of UTF-8 without NUL (it becomes an MQTT topic level
 * and a JSON string; callers wanting a file name restrict it further). */
#define TP_JWK_KID_MAX 255u
#define TP_ED25519_KEY_SIZE 32u
#define TP_ED25519_SIG_SIZE 64u
/* RFC 7638 SHA-256 thumbprint as base64url: 43 characters. */
#define TP_JWK_THUMBPRINT_LEN 43u

struct tp_jwk {
	EVP_PKEY *pkey; /* owned; EVP_PKEY_ED25519 */
	bool has_private;
	char kid[TP_JWK_KID_MAX + 1u];
};

/* Parse a JWK from json[0..len) (need not be NUL-terminated).
 *   need_private: refuse a key without d (a signer's key file).
 * Returns 0 (out filled; release with tp_jwk_free), TP_EINVAL (NULL
 * argument), TP_ETOOBIG (len > TP_JWK_FILE_MAX), TP_EMALF (not a JSON
 * object, duplicate member, a member of the wrong type or value, kty/crv/
 * alg/use other than OKP/Ed25519/EdDSA/sig, bad base64url or length of x
 * or d, d not matching x), TP_EMISSING (kty, crv, x, kid, or d when
 * need_private) or TP_EBUG (OpenSSL failed). out is zeroed on error. */
int tp_jwk_parse(const char *json, size_t len, bool need_private,
		 struct tp_jwk *out) TP_WUR;

/* tp_jwk_parse() of a file read whole (at most TP_JWK_FILE_MAX bytes).
 * Also -errno from open/read. The read buffer is wiped before it is
 * freed. */
int tp_jwk_load(const char *path, bool need_private, struct tp_jwk *out) TP_WUR;

/* A fresh Ed25519 key pair from OpenSSL's CSPRNG.
 *   kid: borrowed; 1..TP_JWK_KID_MAX bytes.
 * Returns 0, TP_EINVAL or TP_EBUG. */
int tp_jwk_generate(const char *kid, struct tp_jwk *out) TP_WUR;

/* The key as a private JWK JSON text, one line with a final newline:
 * {"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":…,"x":…,"d":…}
 * *out is heap memory holding d: release it with tp_jwk_text_free().
 * Returns 0, TP_EINVAL (NULL argument, no private key) or -ENOMEM/TP_EBUG. */
int tp_jwk_private_json(const struct tp_jwk *key, char **out,
			size_t *out_len) TP_WUR;

/* Wipe and free a tp_jwk_private_json() text; NULL is a no-op. */
void tp_jwk_text_free(char *text, size_t len);

/* The public key as SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
 * *out: heap, NUL-terminated, release with free().
 * Returns 0, TP_EINVAL, -ENOMEM or TP_EBUG. */
int tp_jwk_public_pem(const struct tp_jwk *key, char **out,
		      size_t *out_len) TP_WUR;

/* RFC 7638 thumbprint: base64url(SHA-256('{"crv":"Ed25519","kty":"OKP",
 * "x":"<x>"}')), the required members in lexicographic order without
 * whitespace. out: TP_JWK_THUMBPRINT_LEN + 1 bytes, NUL-terminated.
 * Returns 0, TP_EINVAL or TP_EBUG. */
int tp_jwk_thumbprint(const struct tp_jwk *key,
		      char out[TP_JWK_THUMBPRINT_LEN + 1u]) TP_WUR;

/* An Ed25519 public key from SubjectPublicKeyInfo PEM text pem[0..len)
 * (untrusted: at most TP_JWK_FILE_MAX bytes, must be an Ed25519 key).
 * *out: release with EVP_PKEY_free().
 * Returns 0, TP_EINVAL, TP_ETOOBIG or TP_EMALF. */
int tp_ed25519_public_from_pem(const char *pem, size_t len,
			       EVP_PKEY **out) TP_WUR;

/* Release the key (OpenSSL clears the private bytes) and zero *key;
 * NULL and an already freed key are no-ops. */
void tp_jwk_free(struct tp_jwk *key);

#endif
