/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_jws.c - unit tests for lib/sign (b64.c, jwk.c, jws.c).
 *
 * Published facts first: the RFC 8037 Appendix A key (A.1 private, A.2
 * public, the RFC 8032 TEST 1 key), its RFC 7638 thumbprint (A.3) and the
 * A.4 signature, which must come out byte for byte because Ed25519 is
 * deterministic. Then RFC 4648 base64url edge cases, hostile JWK and JWS
 * inputs each refused with its code, the sign -> verify round trip and
 * tampering with every part of a signed message.
 *
 * One test is an interop hook for tests/integration/test_jws.py and is
 * skipped unless TAPIR_JWS_INTEROP_DIR names a directory holding key.jwk,
 * key.pem, payload.bin and jose.json (written by `tapir keygen` and by the
 * jose library): it signs payload.bin into ours.json and verifies jose.json
 * into jose.payload, so the Python side can compare both directions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sign/b64.h"
#include "sign/jwk.h"
#include "sign/jws.h"

/* RFC 8037 A.1 (with a kid added: ours is required) and A.2. */
#define RFC_D "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC_THUMB "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
/* RFC 8037 A.4: protected {"alg":"EdDSA"}, payload "Example of Ed25519
 * signing". */
#define RFC_HDR "eyJhbGciOiJFZERTQSJ9"
#define RFC_PAYLOAD "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
#define RFC_SIG                                                      \
	"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5" \
	"BhVsPt9g7sVvpAr_MuM0KAg"

static const char rfc_private[] =
	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"d\":\"" RFC_D "\",\"x\":\"" RFC_X
	"\",\"kid\":\"rfc8037\"}";
static const char rfc_public[] =
	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"rfc8037\"}";

/* ---- helpers ------------------------------------------------------------ */

static void load_rfc(struct tp_jwk *k, bool priv)
{
	const char *j = priv ? rfc_private : rfc_public;
	assert_int_equal(tp_jwk_parse(j, strlen(j), priv, k), 0);
	assert_non_null(k->pkey);
	assert_int_equal(k->has_private, priv);
	assert_string_equal(k->kid, "rfc8037");
}

/* Parse on an exact-size heap copy so ASan sees any overread. */
static int parse_exact(const char *json, bool priv)
{
	size_t n = strlen(json);
	char *copy = malloc(n ? n : 1u);
	assert_non_null(copy);
	memcpy(copy, json, n);
	struct tp_jwk k;
	int rc = tp_jwk_parse(copy, n, priv, &k);
	if (rc == 0)
		tp_jwk_free(&k);
	else
		assert_null(k.pkey);
	free(copy);
	return rc;
}

static int verify_exact(EVP_PKEY *pub, const char *expect_kid, const char *jws)
{
	size_t n = strlen(jws);
	char *copy = malloc(n ? n : 1u);
	assert_non_null(copy);
	memcpy(copy, jws, n);
	uint8_t *pl = NULL;
	size_t pl_len = 0;
	int rc = tp_jws_verify(pub, expect_kid, copy, n, &pl, &pl_len, NULL);
	if (rc != 0)
		assert_null(pl);
	free(pl);
	free(copy);
	return rc;
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(tp_b64url_encoded_len(n) + 1u);
	assert_non_null(out);
	assert_int_equal(tp_b64url_encode((const uint8_t *)s, n, out,
					  tp_b64url_encoded_len(n) + 1u), 0);
	return out;
}

/* A flattened JWS whose protected header is hdr_json, signed with key. */
static char *jws_with_header(EVP_PKEY *key, const char *hdr_json,
			     const char *payload)
{
	char *h = b64(hdr_json), *p = b64(payload);
	char input[4096], sig[TP_JWS_SIG_B64_LEN + 1u];
	int n = snprintf(input, sizeof(input), "%s.%s", h, p);
	assert_true(n > 0 && (size_t)n < sizeof(input));
	assert_int_equal(tp_jws_signature(key, input, (size_t)n, sig), 0);
	char *out = malloc(8192);
	assert_non_null(out);
	snprintf(out, 8192, "{\"payload\":\"%s\",\"protected\":\"%s\",\"signature\":\"%s\"}",
		 p, h, sig);
	free(h);
	free(p);
	return out;
}

/* ---- RFC vectors ---------------------------------------------------------- */

static void test_rfc8037_signature_and_thumbprint(void **state)
{
	(void)state;
	struct tp_jwk priv, pub;
	load_rfc(&priv, true);
	load_rfc(&pub, false);

	char sig[TP_JWS_SIG_B64_LEN + 1u];
	static const char input[] = RFC_HDR "." RFC_PAYLOAD;
	assert_int_equal(tp_jws_signature(priv.pkey, input, sizeof(input) - 1u, sig), 0);
	assert_string_equal(sig, RFC_SIG);

	char t1[TP_JWK_THUMBPRINT_LEN + 1u], t2[TP_JWK_THUMBPRINT_LEN + 1u];
	assert_int_equal(tp_jwk_thumbprint(&priv, t1), 0);
	assert_int_equal(tp_jwk_thumbprint(&pub, t2), 0);
	assert_string_equal(t1, RFC_THUMB);
	assert_string_equal(t2, RFC_THUMB);

	/* The A.4 message is valid EdDSA, but without a kid: our verifier,
	 * which needs the kid to pick the key, refuses it as incomplete. */
	static const char a4[] = "{\"payload\":\"" RFC_PAYLOAD "\",\"protected\":\"" RFC_HDR
				 "\",\"signature\":\"" RFC_SIG "\"}";
	assert_int_equal(verify_exact(pub.pkey, NULL, a4), TP_EMISSING);

	/* The same header plus a kid verifies, and the payload is A.4's. */
	char *j = jws_with_header(priv.pkey, "{\"alg\":\"EdDSA\",\"kid\":\"rfc8037\"}",
				  "Example of Ed25519 signing");
	uint8_t *pl = NULL;
	size_t pl_len = 0;
	char kid[TP_JWK_KID_MAX + 1u];
	assert_int_equal(tp_jws_verify(pub.pkey, "rfc8037", j, strlen(j), &pl, &pl_len, kid), 0);
	assert_int_equal(pl_len, 26);
	assert_memory_equal(pl, "Example of Ed25519 signing", 26);
	assert_int_equal(pl[pl_len], 0);
	assert_string_equal(kid, "rfc8037");
	free(pl);
	free(j);
	tp_jwk_free(&priv);
	tp_jwk_free(&pub);
}

static void test_sign_exact_output(void **state)
{
	(void)state;
	struct tp_jwk k;
	load_rfc(&k, true);
	char *out = NULL;
	size_t n = 0;
	static const char ev[] = "{\"flags\":33024,\"qclass\":1,\"qname\":\"new.example.\","
				 "\"qtype\":1,\"timestamp\":\"2023-11-14T22:13:00Z\","
				 "\"type\":\"new_qname\",\"version\":0}";
	assert_int_equal(tp_jws_sign(&k, (const uint8_t *)ev, sizeof(ev) - 1u, &out, &n), 0);
	assert_int_equal(strlen(out), n);
	/* Member order and header bytes are fixed (edm-spec §5.3). */
	char *hdr = b64("{\"alg\":\"EdDSA\",\"kid\":\"rfc8037\"}");
	char *pl = b64(ev);
	char prefix[1024];
	snprintf(prefix, sizeof(prefix),
		 "{\"payload\":\"%s\",\"protected\":\"%s\",\"signature\":\"", pl, hdr);
	assert_int_equal(strncmp(out, prefix, strlen(prefix)), 0);
	assert_int_equal(n, strlen(prefix) + TP_JWS_SIG_B64_LEN + 2u);
	assert_string_equal(out + n - 2u, "\"}");
	/* Deterministic: a second signature is the same text. */
	char *again = NULL;
	size_t n2 = 0;
	assert_int_equal(tp_jws_sign(&k, (const uint8_t *)ev, sizeof(ev) - 1u, &again, &n2), 0);
	assert_string_equal(out, again);

	/* A kid needing JSON escapes is escaped in the header. */
	strcpy(k.kid, "a\"b");
	char *esc = NULL;
	assert_int_equal(tp_jws_sign(&k, (const uint8_t *)"x", 1, &esc, &n2), 0);
	char *want = b64("{\"alg\":\"EdDSA\",\"kid\":\"a\\\"b\"}");
	assert_non_null(strstr(esc, want));
	free(want);
	free(esc);
	free(again);
	free(hdr);
	free(pl);
	free(out);
	tp_jwk_free(&k);
}

/* ---- base64url -------------------------------------------------------------- */

static void test_b64url_rfc4648_and_edges(void **state)
{
	(void)state;
	/* RFC 4648 §10 vectors, padding removed. */
	static const struct { const char *in, *out; } v[] = {
		{ "", "" },	       { "f", "Zg" },	      { "fo", "Zm8" },
		{ "foo", "Zm9v" },     { "foob", "Zm9vYg" },  { "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char buf[16];
		uint8_t dec[16];
		size_t n = 99;
		size_t len = strlen(v[i].in);
		assert_int_equal(tp_b64url_encoded_len(len), strlen(v[i].out));
		assert_int_equal(tp_b64url_encode((const uint8_t *)v[i].in, len, buf,
						  sizeof(buf)), 0);
		assert_string_equal(buf, v[i].out);
		assert_int_equal(tp_b64url_decode(v[i].out, strlen(v[i].out), dec,
						  sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, v[i].in, len);
		/* Exact output room is enough; one less is not. */
		assert_int_equal(tp_b64url_encode((const uint8_t *)v[i].in, len, buf,
						  strlen(v[i].out)), TP_ENOSPACE);
	}
	/* The URL-safe characters, and not the standard ones. */
	static const uint8_t ff[3] = { 0xfb, 0xff, 0xbf };
	char buf[8];
	uint8_t dec[8];
	size_t n = 0;
	assert_int_equal(tp_b64url_encode(ff, 3, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "-_-_");
	assert_int_equal(tp_b64url_decode("-_-_", 4, dec, sizeof(dec), &n), 0);
	assert_memory_equal(dec, ff, 3);

	static const char *bad[] = {
		"+/+/", "Zg==", "Zm8=", "Z", "Zm9vY", "Zm 9v", "Zm9v\n", "Zh",
		"Zm9", /* last char carries non-zero unused bits: Zm8 is canonical */
		"Zm-\x80", "Zm\0v",
	};
	static const size_t bad_len[] = { 4, 4, 4, 1, 5, 5, 5, 2, 3, 4, 4 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tp_b64url_decode(bad[i], bad_len[i], dec, sizeof(dec), &n),
				 TP_EMALF);
	assert_int_equal(tp_b64url_decode("Zm9vYmFy", 8, dec, 5, &n), TP_ENOSPACE);
	assert_int_equal(tp_b64url_decode("Zm9vYmFy", 8, dec, 6, &n), 0);
	assert_int_equal(tp_b64url_decode(NULL, 0, dec, 0, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tp_b64url_decode("Zg", 2, dec, 1, NULL), TP_EINVAL);
}

/* ---- JWK ---------------------------------------------------------------------- */

static void test_jwk_rejects_malformed(void **state)
{
	(void)state;
	static const struct { const char *json; bool priv; int rc; } c[] = {
		{ "", false, TP_EMALF },
		{ "[]", false, TP_EMALF },
		{ "\"OKP\"", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\"}", false, TP_EMISSING },
		{ "{\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"k\"}", false, TP_EMISSING },
		{ "{\"kty\":\"OKP\",\"x\":\"" RFC_X "\",\"kid\":\"k\"}", false, TP_EMISSING },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\"}", false, TP_EMISSING },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"k\"}", true, TP_EMISSING },
		{ "{\"kty\":\"EC\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"k\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"" RFC_X "\",\"kid\":\"k\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"k\",\"alg\":\"ES256\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"k\",\"use\":\"enc\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"k\",\"key_ops\":\"sign\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":5}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"a\\u0000b\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":null,\"kid\":\"k\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "=\",\"kid\":\"k\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR\",\"kid\":\"k\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp\",\"kid\":\"k\"}", false, TP_EMALF },
		/* Duplicate member: two readers could see two keys. */
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"x\":\"" RFC_X "\",\"kid\":\"k\"}", false, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"k\"} x", false, TP_EMALF },
		/* d of another key (all 'A's = zero seed) does not match x. */
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"k\",\"d\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", true, TP_EMALF },
		{ "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X "\",\"kid\":\"k\",\"d\":7}", false, TP_EMALF },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int rc = parse_exact(c[i].json, c[i].priv);
		if (rc != c[i].rc)
			print_error("case %zu: got %d want %d\n", i, rc, c[i].rc);
		assert_int_equal(rc, c[i].rc);
	}
	/* Accepted: unknown members ignored (RFC 7517 §4), alg/use/key_ops
	 * of the right kind, a public key parsed with the private flag off. */
	assert_int_equal(parse_exact("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC_X
				     "\",\"kid\":\"k\",\"alg\":\"EdDSA\",\"use\":\"sig\","
				     "\"key_ops\":[\"verify\"],\"iss\":\"x\"}", false), 0);
	assert_int_equal(parse_exact(rfc_private, false), 0);

	/* Size bound, before any parsing. */
	char *big = malloc(TP_JWK_FILE_MAX + 1u);
	assert_non_null(big);
	memset(big, ' ', TP_JWK_FILE_MAX + 1u);
	struct tp_jwk k;
	assert_int_equal(tp_jwk_parse(big, TP_JWK_FILE_MAX + 1u, false, &k), TP_ETOOBIG);
	free(big);
	assert_int_equal(tp_jwk_parse(NULL, 0, false, &k), TP_EINVAL);
	assert_int_equal(tp_jwk_load("/nonexistent/tapir.jwk", true, &k), -ENOENT);
}

static void test_jwk_generate_write_reload(void **state)
{
	(void)state;
	struct tp_jwk k, back, pub;
	assert_int_equal(tp_jwk_generate("node-1", &k), 0);
	char *text = NULL, *pem = NULL;
	size_t len = 0, pem_len = 0;
	assert_int_equal(tp_jwk_private_json(&k, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_int_equal(text[len - 1u], '\n');
	assert_int_equal(tp_jwk_parse(text, len, true, &back), 0);
	assert_string_equal(back.kid, "node-1");
	assert_int_equal(EVP_PKEY_eq(k.pkey, back.pkey), 1);

	char t1[TP_JWK_THUMBPRINT_LEN + 1u], t2[TP_JWK_THUMBPRINT_LEN + 1u];
	assert_int_equal(tp_jwk_thumbprint(&k, t1), 0);
	assert_int_equal(tp_jwk_thumbprint(&back, t2), 0);
	assert_string_equal(t1, t2);

	assert_int_equal(tp_jwk_public_pem(&k, &pem, &pem_len), 0);
	assert_int_equal(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27), 0);
	EVP_PKEY *p = NULL;
	assert_int_equal(tp_ed25519_public_from_pem(pem, pem_len, &p), 0);
	assert_int_equal(EVP_PKEY_eq(p, k.pkey), 1);
	EVP_PKEY_free(p);
	assert_int_equal(tp_ed25519_public_from_pem("junk", 4, &p), TP_EMALF);
	assert_null(p);

	/* A public JWK cannot write a private one, nor sign. */
	load_rfc(&pub, false);
	char *no = NULL;
	assert_int_equal(tp_jwk_private_json(&pub, &no, &len), TP_EINVAL);
	assert_int_equal(tp_jws_sign(&pub, (const uint8_t *)"x", 1, &no, &len), TP_EINVAL);
	assert_null(no);

	struct tp_jwk bad;
	assert_int_equal(tp_jwk_generate("", &bad), TP_EINVAL);

	tp_jwk_text_free(text, len);
	free(pem);
	EVP_PKEY_free(p);
	tp_jwk_free(&k);
	tp_jwk_free(&back);
	tp_jwk_free(&pub);
}

/* ---- JWS verification ------------------------------------------------------ */

static void test_jws_round_trip_and_tamper(void **state)
{
	(void)state;
	struct tp_jwk k, other;
	load_rfc(&k, true);
	assert_int_equal(tp_jwk_generate("rfc8037", &other), 0);
	static const char msg[] = "{\"type\":\"new_qname\",\"version\":0}";
	char *jws = NULL;
	size_t n = 0;
	assert_int_equal(tp_jws_sign(&k, (const uint8_t *)msg, sizeof(msg) - 1u, &jws, &n), 0);
	assert_int_equal(verify_exact(k.pkey, "rfc8037", jws), 0);
	assert_int_equal(verify_exact(k.pkey, NULL, jws), 0);
	assert_int_equal(verify_exact(k.pkey, "other", jws), TP_JWS_EKID);
	/* Right kid, wrong key. */
	assert_int_equal(verify_exact(other.pkey, "rfc8037", jws), TP_JWS_EBADSIG);

	/* Flip one character of each base64url value in turn; every change
	 * must be refused (as malformed or as a bad signature). */
	for (size_t i = 0; i < n; i++) {
		char *t = strdup(jws);
		assert_non_null(t);
		if (t[i] == '"' || t[i] == ':' || t[i] == ',' || t[i] == '{' ||
		    t[i] == '}' || i < 12u) {
			free(t);
			continue;
		}
		/* Another alphabet character: A<->B keeps the text base64url. */
		t[i] = t[i] == 'A' ? 'B' : 'A';
		if (strcmp(t, jws) != 0) {
			/* A member name hit gives TP_EMISSING, a value hit a
			 * bad signature or non-canonical base64url. */
			int rc = verify_exact(k.pkey, NULL, t);
			assert_true(rc == TP_JWS_EBADSIG || rc == TP_EMALF ||
				    rc == TP_EMISSING);
		}
		free(t);
	}

	/* The payload of one message under the header and signature of
	 * another does not verify. */
	char *j2 = NULL;
	size_t n2 = 0;
	assert_int_equal(tp_jws_sign(&k, (const uint8_t *)"{}", 2, &j2, &n2), 0);
	const char *p1 = strstr(jws, "\",\"protected\"");
	assert_non_null(p1);
	char spliced[2048];
	/* j2 up to the end of its payload value, then jws from there on. */
	snprintf(spliced, sizeof(spliced), "%.*s%s", (int)(strchr(j2 + 12, '"') - j2), j2, p1);
	assert_int_equal(verify_exact(k.pkey, NULL, spliced), TP_JWS_EBADSIG);

	/* A different header (extra member) with the original signature. */
	char *h = b64("{\"alg\":\"EdDSA\",\"kid\":\"rfc8037\",\"x\":1}");
	char *pl = b64(msg);
	const char *sig = strstr(jws, "\"signature\":\"") + 13;
	char forged[2048];
	snprintf(forged, sizeof(forged), "{\"payload\":\"%s\",\"protected\":\"%s\",\"signature\":\"%s",
		 pl, h, sig);
	assert_int_equal(verify_exact(k.pkey, NULL, forged), TP_JWS_EBADSIG);
	free(h);
	free(pl);
	free(j2);
	free(jws);
	tp_jwk_free(&k);
	tp_jwk_free(&other);
}

static void test_jws_rejects_malformed(void **state)
{
	(void)state;
	struct tp_jwk k;
	load_rfc(&k, true);
	EVP_PKEY *key = k.pkey;

	/* Header variants, each correctly signed: the refusal is about the
	 * header, not the signature. */
	static const struct { const char *hdr; int rc; } h[] = {
		{ "{\"alg\":\"none\",\"kid\":\"k\"}", TP_EMALF },
		{ "{\"alg\":\"HS256\",\"kid\":\"k\"}", TP_EMALF },
		{ "{\"alg\":\"EdDSA\"}", TP_EMISSING },
		{ "{\"kid\":\"k\"}", TP_EMISSING },
		{ "{\"alg\":\"EdDSA\",\"kid\":\"\"}", TP_EMALF },
		{ "{\"alg\":\"EdDSA\",\"kid\":7}", TP_EMALF },
		{ "{\"alg\":\"EdDSA\",\"kid\":\"a\\u0000b\"}", TP_EMALF },
		{ "{\"alg\":\"EdDSA\",\"kid\":\"k\",\"crit\":[\"b64\"],\"b64\":false}", TP_EMALF },
		{ "{\"alg\":\"EdDSA\",\"kid\":\"k\",\"alg\":\"EdDSA\"}", TP_EMALF },
		{ "[\"alg\",\"EdDSA\"]", TP_EMALF },
		{ "not json", TP_EMALF },
		{ "{\"alg\":\"EdDSA\",\"kid\":\"k\",\"typ\":\"JOSE\"}", 0 },
	};
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		char *j = jws_with_header(key, h[i].hdr, "{}");
		int rc = verify_exact(key, NULL, j);
		if (rc != h[i].rc)
			print_error("header case %zu: got %d want %d\n", i, rc, h[i].rc);
		assert_int_equal(rc, h[i].rc);
		free(j);
	}

	char *good = NULL;
	size_t n = 0;
	assert_int_equal(tp_jws_sign(&k, (const uint8_t *)"{}", 2, &good, &n), 0);
	char *pl = b64("{}"), *hd = b64("{\"alg\":\"EdDSA\",\"kid\":\"rfc8037\"}");
	const char *sig = strstr(good, "\"signature\":\"") + 13;
	char s[2048];
	/* Envelope variants. */
	snprintf(s, sizeof(s), "{\"payload\":\"%s\",\"protected\":\"%s\"}", pl, hd);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMISSING);
	snprintf(s, sizeof(s), "{\"protected\":\"%s\",\"signature\":\"%s", hd, sig);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMISSING);
	snprintf(s, sizeof(s), "{\"payload\":\"%s\",\"protected\":\"%s\",\"header\":{},\"signature\":\"%s",
		 pl, hd, sig);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMALF);
	snprintf(s, sizeof(s), "{\"payload\":\"%s\",\"payload\":\"%s\",\"protected\":\"%s\",\"signature\":\"%s",
		 pl, pl, hd, sig);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMALF);
	snprintf(s, sizeof(s), "{\"payload\":\"%s=\",\"protected\":\"%s\",\"signature\":\"%s", pl, hd, sig);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMALF);
	snprintf(s, sizeof(s), "{\"payload\":%d,\"protected\":\"%s\",\"signature\":\"%s", 5, hd, sig);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMALF);
	snprintf(s, sizeof(s), "{\"payload\":\"%s\",\"protected\":\"%s\",\"signature\":\"AAAA\"}", pl, hd);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMALF);
	/* Compact serialisation and the general one are not accepted. */
	snprintf(s, sizeof(s), "%s.%s.AAAA", hd, pl);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMALF);
	snprintf(s, sizeof(s), "{\"payload\":\"%s\",\"signatures\":[{\"protected\":\"%s\",\"signature\":\"AA\"}]}",
		 pl, hd);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMISSING);
	assert_int_equal(verify_exact(key, NULL, ""), TP_EMALF);
	/* Trailing garbage after the object. */
	snprintf(s, sizeof(s), "%s x", good);
	assert_int_equal(verify_exact(key, NULL, s), TP_EMALF);

	/* Size bound. */
	char *big = malloc(TP_JWS_MAX + 1u);
	assert_non_null(big);
	memset(big, ' ', TP_JWS_MAX + 1u);
	uint8_t *out = NULL;
	size_t out_len = 0;
	assert_int_equal(tp_jws_verify(key, NULL, big, TP_JWS_MAX + 1u, &out, &out_len, NULL),
			 TP_ETOOBIG);
	free(big);
	uint8_t *payload = malloc(TP_JWS_PAYLOAD_MAX + 1u);
	assert_non_null(payload);
	memset(payload, 'a', TP_JWS_PAYLOAD_MAX + 1u);
	char *res = NULL;
	assert_int_equal(tp_jws_sign(&k, payload, TP_JWS_PAYLOAD_MAX + 1u, &res, &n), TP_ETOOBIG);
	/* The largest payload the signer takes, with the longest kid needing
	 * the most escaping, still fits the verifier's bound. */
	memset(k.kid, '\x01', TP_JWK_KID_MAX);
	k.kid[TP_JWK_KID_MAX] = '\0';
	assert_int_equal(tp_jws_sign(&k, payload, TP_JWS_PAYLOAD_MAX, &res, &n), 0);
	assert_true(n <= TP_JWS_MAX);
	assert_int_equal(tp_jws_verify(key, k.kid, res, n, &out, &out_len, NULL), 0);
	assert_int_equal(out_len, TP_JWS_PAYLOAD_MAX);
	free(out);
	free(res);
	free(payload);

	/* A non-Ed25519 key is refused as an argument. */
	EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(x25519);
	assert_int_equal(verify_exact(x25519, NULL, good), TP_EINVAL);
	EVP_PKEY_free(x25519);
	free(pl);
	free(hd);
	free(good);
	tp_jwk_free(&k);
}

/* ---- interop hook (tests/integration/test_jws.py) ------------------------- */

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(TP_JWS_MAX + 1u);
	assert_non_null(buf);
	*len = fread(buf, 1, TP_JWS_MAX, f);
	assert_int_equal(ferror(f), 0);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static void spit(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_jws_interop_files(void **state)
{
	(void)state;
	const char *dir = getenv("TAPIR_JWS_INTEROP_DIR");
	if (dir == NULL || dir[0] == '\0')
		skip();
	char path[4096];
	snprintf(path, sizeof(path), "%s/key.jwk", dir);
	struct tp_jwk k;
	assert_int_equal(tp_jwk_load(path, true, &k), 0);
	size_t len = 0, pem_len = 0, jose_len = 0;
	char *payload = slurp(dir, "payload.bin", &len);
	char *out = NULL;
	size_t out_len = 0;
	assert_int_equal(tp_jws_sign(&k, (const uint8_t *)payload, len, &out, &out_len), 0);
	spit(dir, "ours.json", out, out_len);

	char *pem = slurp(dir, "key.pem", &pem_len);
	EVP_PKEY *pub = NULL;
	assert_int_equal(tp_ed25519_public_from_pem(pem, pem_len, &pub), 0);
	char *jose = slurp(dir, "jose.json", &jose_len);
	uint8_t *pl = NULL;
	size_t pl_len = 0;
	char kid[TP_JWK_KID_MAX + 1u];
	assert_int_equal(tp_jws_verify(pub, k.kid, jose, jose_len, &pl, &pl_len, kid), 0);
	spit(dir, "jose.payload", pl, pl_len);
	free(pl);
	free(jose);
	EVP_PKEY_free(pub);
	free(pem);
	free(out);
	free(payload);
	tp_jwk_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8037_signature_and_thumbprint),
		cmocka_unit_test(test_sign_exact_output),
		cmocka_unit_test(test_b64url_rfc4648_and_edges),
		cmocka_unit_test(test_jwk_rejects_malformed),
		cmocka_unit_test(test_jwk_generate_write_reload),
		cmocka_unit_test(test_jws_round_trip_and_tamper),
		cmocka_unit_test(test_jws_rejects_malformed),
		cmocka_unit_test(test_jws_interop_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
