/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_prf.c - the `keyed` mode: SipHash-2-4 and key derivation
 * (lib/sketch/prf.c).
 *
 * Three independent checks of tp_siphash24(): the 64 published test
 * vectors of the SipHash reference (key 00..0f, message 00..n-1 for
 * n = 0..63), OpenSSL 3's EVP_MAC "SIPHASH" (output size 8) as an oracle
 * over random keys and every length up to 200 at odd offsets, and the
 * paper's worked example. Key derivation is checked against HKDF-SHA256
 * values computed with Python's hmac module (an implementation that shares
 * nothing with OpenSSL's HKDF), after checking that model on RFC 5869.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "sketch/prf.h"

/* SipHash reference vectors_sip64[n], as 64-bit values (its byte arrays
 * read little-endian). */
static const uint64_t sip64[64] = {
	0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a,
	0x85676696d7fb7e2d, 0xcf2794e0277187b7, 0x18765564cd99a68d,
	0xcbc9466e58fee3ce, 0xab0200f58b01d137, 0x93f5f5799a932462,
	0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
	0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee,
	0xa129ca6149be45e5, 0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794,
	0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd, 0xbed65cf21aa2ee98,
	0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
	0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3,
	0x2f2e6163076bcfad, 0xde4daaaca71dc9a5, 0xa6a2506687956571,
	0xad87a3535c49ef28, 0x32d892fad841c342, 0x7127512f72f27cce,
	0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
	0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d,
	0x9abfd8766a33735c, 0x0e3ea96b5304a7d0, 0xad0c42d6fc585992,
	0x187306c89bc215a9, 0xd4a60abcf3792b95, 0xf935451de4f21df2,
	0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
	0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72,
	0xa192d576b245165a, 0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f,
	0x7fa8220ba3b2ecea, 0x245731c13ca42499, 0xb78dbfaf3a8d83bd,
	0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
	0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57,
	0x958a324ceb064572,
};

static void test_siphash_reference_vectors(void **state)
{
	(void)state;
	uint8_t key[16], msg[64];
	for (unsigned i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (unsigned i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	struct tp_prf_key k;
	tp_prf_key_from_bytes(&k, key);
	assert_true(k.k0 == UINT64_C(0x0706050403020100));
	assert_true(k.k1 == UINT64_C(0x0f0e0d0c0b0a0908));
	for (size_t n = 0; n < 64; n++)
		if (tp_siphash24(&k, msg, n) != sip64[n])
			fail_msg("length %zu", n);
	/* The paper's Appendix A example: 15 bytes. */
	assert_true(tp_siphash24(&k, msg, 15) == UINT64_C(0xa129ca6149be45e5));
	assert_true(tp_siphash24(&k, NULL, 0) == sip64[0]);
}

/* OpenSSL's SipHash-2-4 with an 8-byte tag; returns the tag as a number. */
static uint64_t openssl_siphash(const uint8_t key[16], const uint8_t *p,
				size_t len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	assert_non_null(mac);
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	assert_non_null(ctx);
	size_t size = 8;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
		OSSL_PARAM_construct_end(),
	};
	assert_int_equal(EVP_MAC_init(ctx, key, 16, params), 1);
	assert_int_equal(EVP_MAC_update(ctx, p, len), 1);
	uint8_t tag[8];
	size_t tag_len = 0;
	assert_int_equal(EVP_MAC_final(ctx, tag, &tag_len, sizeof(tag)), 1);
	assert_int_equal(tag_len, 8);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	uint64_t v = 0;
	for (unsigned i = 8; i > 0; i--)
		v = v << 8 | tag[i - 1];
	return v;
}

static void test_siphash_matches_openssl(void **state)
{
	(void)state;
	uint64_t x = UINT64_C(0x243f6a8885a308d3);
	uint8_t key[16], buf[201 + 1];
	unsigned checked = 0;
	for (unsigned round = 0; round < 8; round++) {
		for (unsigned i = 0; i < 16; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			key[i] = (uint8_t)x;
		}
		for (unsigned i = 0; i < sizeof(buf); i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (uint8_t)(x >> 32);
		}
		struct tp_prf_key k;
		tp_prf_key_from_bytes(&k, key);
		for (size_t len = 0; len <= 200; len++) {
			/* buf + 1: a misaligned start. */
			uint64_t want = openssl_siphash(key, buf + 1, len);
			if (tp_siphash24(&k, buf + 1, len) != want)
				fail_msg("round %u length %zu", round, len);
			checked++;
		}
		/* The address helper is the same function. */
		assert_true(tp_prf_addr(&k, buf, 4) ==
			    openssl_siphash(key, buf, 4));
		assert_true(tp_prf_addr(&k, buf, 16) ==
			    openssl_siphash(key, buf, 16));
	}
	print_message("SipHash-2-4 equals OpenSSL EVP_MAC SIPHASH on %u "
		      "inputs\n", checked);
}

static void test_prf_key_derive_hkdf_sha256(void **state)
{
	(void)state;
	/* Expected keys: HKDF-SHA256 computed with Python's hmac/hashlib
	 * (that model reproduces RFC 5869 test case 1), salt "tapir keyed
	 * hll v1", L = 16, read as tp_prf_key_from_bytes() does. */
	static const struct {
		const char *secret, *context;
		uint8_t okm[16];
	} kats[] = {
		{ "federation secret for tests 0001", "2025-06",
		  { 0xa6, 0xa0, 0x08, 0xfb, 0x2f, 0x40, 0xce, 0xa8, 0x4f,
		    0x9b, 0x10, 0x3f, 0x46, 0x10, 0xa3, 0xfd } },
		{ "federation secret for tests 0001", "",
		  { 0x71, 0xf2, 0x89, 0xa5, 0x27, 0xae, 0xa2, 0x1d, 0x3f,
		    0x20, 0x65, 0xb9, 0xd6, 0x1d, 0xaf, 0x0f } },
	};
	for (size_t i = 0; i < 2; i++) {
		struct tp_prf_key got, want;
		assert_int_equal(tp_prf_key_derive(&got,
						   (const uint8_t *)kats[i].secret,
						   strlen(kats[i].secret),
						   kats[i].context),
				 0);
		tp_prf_key_from_bytes(&want, kats[i].okm);
		assert_true(got.k0 == want.k0 && got.k1 == want.k1);
	}
	static const uint8_t raw16[16] = { 0,  1,  2,  3,  4,  5,  6,  7,
					   8,  9,  10, 11, 12, 13, 14, 15 };
	static const uint8_t okm16[16] = { 0xd2, 0xb4, 0x2b, 0x9c, 0xff, 0x16,
					   0x12, 0xde, 0xbc, 0xd2, 0x7f, 0x09,
					   0xf0, 0xa7, 0xe6, 0xb5 };
	struct tp_prf_key got, want;
	assert_int_equal(tp_prf_key_derive(&got, raw16, 16, ""), 0);
	tp_prf_key_from_bytes(&want, okm16);
	assert_true(got.k0 == want.k0 && got.k1 == want.k1);

	/* Bounds and arguments. */
	assert_int_equal(tp_prf_key_derive(&got, raw16, 15, ""), TP_EINVAL);
	assert_int_equal(tp_prf_key_derive(&got, raw16, TP_PRF_SECRET_MAX + 1,
					   ""),
			 TP_EINVAL);
	assert_int_equal(tp_prf_key_derive(NULL, raw16, 16, ""), TP_EINVAL);
	assert_int_equal(tp_prf_key_derive(&got, NULL, 16, ""), TP_EINVAL);
	assert_int_equal(tp_prf_key_derive(&got, raw16, 16, NULL), TP_EINVAL);
	tp_prf_key_wipe(&got);
	assert_true(got.k0 == 0 && got.k1 == 0);
}

/* Different keys give unrelated HLL inputs for the same address; the same
 * key gives the same one (so edges of one federation can union). */
static void test_prf_addr_depends_on_key(void **state)
{
	(void)state;
	static const uint8_t a4[4] = { 192, 0, 2, 1 };
	static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff, 192, 0, 2, 1 };
	struct tp_prf_key k1, k2;
	assert_int_equal(tp_prf_key_derive(&k1,
					   (const uint8_t *)"0123456789abcdef",
					   16, "a"),
			 0);
	assert_int_equal(tp_prf_key_derive(&k2,
					   (const uint8_t *)"0123456789abcdef",
					   16, "b"),
			 0);
	assert_true(tp_prf_addr(&k1, a4, 4) == tp_prf_addr(&k1, a4, 4));
	assert_true(tp_prf_addr(&k1, a4, 4) != tp_prf_addr(&k2, a4, 4));
	assert_true(tp_prf_addr(&k1, a4, 4) != tp_prf_addr(&k1, mapped, 16));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_reference_vectors),
		cmocka_unit_test(test_siphash_matches_openssl),
		cmocka_unit_test(test_prf_key_derive_hkdf_sha256),
		cmocka_unit_test(test_prf_addr_depends_on_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
