/* SPDX-License-Identifier: BSD-2-Clause
 *
 * prf.c - SipHash-2-4 and the key derivation of the `keyed` mode (prf.h).
 *
 * SipHash is written from the paper (Aumasson & Bernstein, "SipHash: a fast
 * short-input PRF", 2012): four 64-bit lanes initialised from the key and
 * the constants "somepseudorandomlygeneratedbytes", two SipRounds per
 * 8-byte little-endian word, a last word carrying the length in its top
 * byte, four finalisation rounds. Inputs are read byte-wise, so alignment
 * and host byte order do not matter. The derivation helper is the only
 * code here that calls OpenSSL, and never on the per-frame path.
 */
#include "sketch/prf.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64u - r));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 8; i > 0; i--)
		v = v << 8 | p[i - 1u];
	return v;
}

struct sip {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl64(s->v2, 32);
}

static inline void sip_compress(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s); /* c = 2 */
	sip_round(s);
	s->v0 ^= m;
}

uint64_t tp_siphash24(const struct tp_prf_key *key, const void *data,
		      size_t len)
{
	const uint8_t *p = data;
	struct sip s = {
		.v0 = key->k0 ^ UINT64_C(0x736f6d6570736575),
		.v1 = key->k1 ^ UINT64_C(0x646f72616e646f6d),
		.v2 = key->k0 ^ UINT64_C(0x6c7967656e657261),
		.v3 = key->k1 ^ UINT64_C(0x7465646279746573),
	};
	size_t n_words = len / 8u;
	for (size_t i = 0; i < n_words; i++, p += 8)
		sip_compress(&s, load_le64(p));

	/* Last word: the 0..7 remaining bytes, little-endian, and len mod 256
	 * in the top byte. */
	uint64_t last = (uint64_t)(len & 0xffu) << 56;
	for (size_t i = len & 7u; i > 0; i--)
		last |= (uint64_t)p[i - 1u] << (8u * (i - 1u));
	sip_compress(&s, last);

	s.v2 ^= 0xffu;
	for (unsigned i = 0; i < 4u; i++) /* d = 4 */
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

void tp_prf_key_from_bytes(struct tp_prf_key *out,
			   const uint8_t key[TP_PRF_KEY_SIZE])
{
	out->k0 = load_le64(key);
	out->k1 = load_le64(key + 8);
}

void tp_prf_key_wipe(struct tp_prf_key *key)
{
	explicit_bzero(key, sizeof(*key));
}

int tp_prf_key_derive(struct tp_prf_key *out, const uint8_t *secret,
		      size_t secret_len, const char *context)
{
	if (out == NULL || secret == NULL || context == NULL ||
	    secret_len < TP_PRF_SECRET_MIN || secret_len > TP_PRF_SECRET_MAX)
		return TP_EINVAL;
	static const char salt[] = TP_PRF_HKDF_SALT;
	uint8_t okm[TP_PRF_KEY_SIZE];
	int rc = TP_EBUG;

	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	if (ctx != NULL) {
		/* OSSL_PARAM takes non-const pointers; nothing is written. */
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
							 (char *)"SHA256", 0),
			OSSL_PARAM_construct_octet_string(
				OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
			OSSL_PARAM_construct_octet_string(
				OSSL_KDF_PARAM_SALT, (void *)salt,
				sizeof(salt) - 1u),
			OSSL_PARAM_construct_octet_string(
				OSSL_KDF_PARAM_INFO, (void *)context,
				strlen(context)),
			OSSL_PARAM_construct_end(),
		};
		if (EVP_KDF_derive(ctx, okm, sizeof(okm), params) == 1) {
			tp_prf_key_from_bytes(out, okm);
			rc = 0;
		}
	}
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	explicit_bzero(okm, sizeof(okm));
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
