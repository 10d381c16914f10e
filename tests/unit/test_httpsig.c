/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_httpsig.c - unit tests for lib/sign/sfv.c and lib/sign/httpsig.c.
 *
 * Published facts first: the RFC 9421 Appendix B.1 test keys and the
 * B.2.1, B.2.3, B.2.4 and B.2.6 signatures (those whose algorithm we
 * support and whose parameters our policy knows) must verify in our
 * verifier, byte for byte as the RFC prints them; B.2.2 (a "tag" parameter
 * and @query-param) must be refused with its code. The RFC 9530 Appendix B
 * digests of {"hello": "world"} come next. Then every failure of the
 * verifier's documented order, each on a hostile field, and the signer's
 * output checked against a signature base written out by hand here and
 * verified by OpenSSL directly (not by our verifier).
 *
 * One test is an interop hook for tests/integration/test_sender.py and is
 * skipped unless TAPIR_HTTPSIG_INTEROP_DIR names a directory holding
 * key.jwk, body.bin and node.txt (a request the npm http-message-signatures
 * package signed: Signature-Input and Signature on two lines, created and
 * keyid as the JWK's kid): it verifies node.txt with our verifier into
 * node.ok, and signs body.bin into ours.txt for node to verify.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "sign/httpsig.h"
#include "sign/jwk.h"
#include "sign/sfv.h"

/* ---- RFC 9421 Appendix B.1 keys ------------------------------------------ */

static const char rsa_pss_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2\n"
	"+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+\n"
	"oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq\n"
	"gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W\n"
	"Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4\n"
	"aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI\n"
	"2wIDAQAB\n"
	"-----END PUBLIC KEY-----\n";

static const char rsa_priv[] =
	"-----BEGIN RSA PRIVATE KEY-----\n"
	"MIIEqAIBAAKCAQEAhAKYdtoeoy8zcAcR874L8cnZxKzAGwd7v36APp7Pv6Q2jdsP\n"
	"BRrwWEBnez6d0UDKDwGbc6nxfEXAy5mbhgajzrw3MOEt8uA5txSKobBpKDeBLOsd\n"
	"JKFqMGmXCQvEG7YemcxDTRPxAleIAgYYRjTSd/QBwVW9OwNFhekro3RtlinV0a75\n"
	"jfZgkne/YiktSvLG34lw2zqXBDTC5NHROUqGTlML4PlNZS5Ri2U4aCNx2rUPRcKI\n"
	"lE0PuKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dSFFn/nnv5OoZJEIB+VmuKn3DCUcCZ\n"
	"SFlQPSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ10wIDAQABAoIBAG/JZuSWdoVHbi56\n"
	"vjgCgkjg3lkO1KrO3nrdm6nrgA9P9qaPjxuKoWaKO1cBQlE1pSWp/cKncYgD5WxE\n"
	"CpAnRUXG2pG4zdkzCYzAh1i+c34L6oZoHsirK6oNcEnHveydfzJL5934egm6p8DW\n"
	"+m1RQ70yUt4uRc0YSor+q1LGJvGQHReF0WmJBZHrhz5e63Pq7lE0gIwuBqL8SMaA\n"
	"yRXtK+JGxZpImTq+NHvEWWCu09SCq0r838ceQI55SvzmTkwqtC+8AT2zFviMZkKR\n"
	"Qo6SPsrqItxZWRty2izawTF0Bf5S2VAx7O+6t3wBsQ1sLptoSgX3QblELY5asI0J\n"
	"YFz7LJECgYkAsqeUJmqXE3LP8tYoIjMIAKiTm9o6psPlc8CrLI9CH0UbuaA2JCOM\n"
	"cCNq8SyYbTqgnWlB9ZfcAm/cFpA8tYci9m5vYK8HNxQr+8FS3Qo8N9RJ8d0U5Csw\n"
	"DzMYfRghAfUGwmlWj5hp1pQzAuhwbOXFtxKHVsMPhz1IBtF9Y8jvgqgYHLbmyiu1\n"
	"mwJ5AL0pYF0G7x81prlARURwHo0Yf52kEw1dxpx+JXER7hQRWQki5/NsUEtv+8RT\n"
	"qn2m6qte5DXLyn83b1qRscSdnCCwKtKWUug5q2ZbwVOCJCtmRwmnP131lWRYfj67\n"
	"B/xJ1ZA6X3GEf4sNReNAtaucPEelgR2nsN0gKQKBiGoqHWbK1qYvBxX2X3kbPDkv\n"
	"9C+celgZd2PW7aGYLCHq7nPbmfDV0yHcWjOhXZ8jRMjmANVR/eLQ2EfsRLdW69bn\n"
	"f3ZD7JS1fwGnO3exGmHO3HZG+6AvberKYVYNHahNFEw5TsAcQWDLRpkGybBcxqZo\n"
	"81YCqlqidwfeO5YtlO7etx1xLyqa2NsCeG9A86UjG+aeNnXEIDk1PDK+EuiThIUa\n"
	"/2IxKzJKWl1BKr2d4xAfR0ZnEYuRrbeDQYgTImOlfW6/GuYIxKYgEKCFHFqJATAG\n"
	"IxHrq1PDOiSwXd2GmVVYyEmhZnbcp8CxaEMQoevxAta0ssMK3w6UsDtvUvYvF22m\n"
	"qQKBiD5GwESzsFPy3Ga0MvZpn3D6EJQLgsnrtUPZx+z2Ep2x0xc5orneB5fGyF1P\n"
	"WtP+fG5Q6Dpdz3LRfm+KwBCWFKQjg7uTxcjerhBWEYPmEMKYwTJF5PBG9/ddvHLQ\n"
	"EQeNC8fHGg4UXU8mhHnSBt3EA10qQJfRDs15M38eG2cYwB1PZpDHScDnDA0=\n"
	"-----END RSA PRIVATE KEY-----\n";

static const char ecc_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf\n"
	"w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==\n"
	"-----END PUBLIC KEY-----\n";

static const char ecc_priv[] =
	"-----BEGIN EC PRIVATE KEY-----\n"
	"MHcCAQEEIFKbhfNZfpDsW43+0+JjUr9K+bTeuxopu653+hBaXGA7oAoGCCqGSM49\n"
	"AwEHoUQDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lfw0EkjqF7xB4FivAxzic30tMM\n"
	"4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==\n"
	"-----END EC PRIVATE KEY-----\n";

static const char ed_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n"
	"-----END PUBLIC KEY-----\n";

static const char ed_priv[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
	"-----END PRIVATE KEY-----\n";

/* ---- RFC 9421 Appendix B.2 messages -------------------------------------- */

#define REQ_DIGEST                                                          \
	"sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu" \
	"7BNNyealdVLvRwEmTHWXvJwew==:"
#define RESP_DIGEST                                                         \
	"sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69" \
	"wWdXymyU0rjJuahq4l5aGgfLQ==:"
#define CREATED 1618884473

#define B21_INPUT \
	"sig-b21=();created=1618884473;keyid=\"test-key-rsa-pss\";nonce=\"b3k2pp5k7z-50gnwp.yemd\""
#define B21_SIG                                                              \
	"sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cR" \
	"Atx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD" \
	"4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+" \
	"O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8" \
	"m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:"
#define B22_INPUT                                                                 \
	"sig-b22=(\"@authority\" \"content-digest\" \"@query-param\";name=\"Pet\");" \
	"created=1618884473;keyid=\"test-key-rsa-pss\";tag=\"header-example\""
#define B22_SIG                                                              \
	"sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLR" \
	"iLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNr" \
	"CQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh" \
	"62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjY" \
	"ErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:"
#define B23_INPUT                                                               \
	"sig-b23=(\"date\" \"@method\" \"@path\" \"@query\" \"@authority\" "       \
	"\"content-type\" \"content-digest\" \"content-length\");created=1618884473;" \
	"keyid=\"test-key-rsa-pss\""
#define B23_SIG                                                              \
	"sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb" \
	"0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxS" \
	"mme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9" \
	"o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39" \
	"VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:"
#define B24_INPUT                                                             \
	"sig-b24=(\"@status\" \"content-type\" \"content-digest\" "              \
	"\"content-length\");created=1618884473;keyid=\"test-key-ecc-p256\""
#define B24_SIG                                                              \
	"sig-b24=:wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAU" \
	"y5eCdlYUEkLIj+32oiasw==:"
#define B26_INPUT                                                             \
	"sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" " \
	"\"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
#define B26_SIG                                                              \
	"sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4" \
	"A0w6vuQv5lIp5WPpBKRCw==:"

/* ---- a message: a few header lines ------------------------------------- */

#define HDR_MAX 12
struct hdrs {
	const char *name[HDR_MAX];
	const char *value[HDR_MAX];
	size_t n;
};

static const char *get_hdr(void *ctx, const char *name)
{
	struct hdrs *h = ctx;
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->name[i], name) == 0)
			return h->value[i];
	return NULL;
}

static void set_hdr(struct hdrs *h, const char *name, const char *value)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->name[i], name) == 0) {
			h->value[i] = value;
			return;
		}
	assert_true(h->n < HDR_MAX);
	h->name[h->n] = name;
	h->value[h->n++] = value;
}

static void del_hdr(struct hdrs *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->name[i], name) == 0) {
			h->name[i] = "-deleted-";
			return;
		}
}

/* The RFC's test-request (B.2). */
static void request(struct hdrs *h, struct tp_httpsig_msg *m)
{
	memset(h, 0, sizeof(*h));
	set_hdr(h, "host", "example.com");
	set_hdr(h, "date", "Tue, 20 Apr 2021 02:07:55 GMT");
	set_hdr(h, "content-type", "application/json");
	set_hdr(h, "content-digest", REQ_DIGEST);
	set_hdr(h, "content-length", "18");
	*m = (struct tp_httpsig_msg){
		.method = "POST", .scheme = "https", .authority = "example.com",
		.path = "/foo", .query = "?param=Value&Pet=dog", .status = 0,
		.header = get_hdr, .ctx = h,
	};
}

/* The RFC's test-response (B.2). */
static void response(struct hdrs *h, struct tp_httpsig_msg *m)
{
	memset(h, 0, sizeof(*h));
	set_hdr(h, "date", "Tue, 20 Apr 2021 02:07:56 GMT");
	set_hdr(h, "content-type", "application/json");
	set_hdr(h, "content-digest", RESP_DIGEST);
	set_hdr(h, "content-length", "23");
	*m = (struct tp_httpsig_msg){ .status = 200, .header = get_hdr, .ctx = h };
}

static EVP_PKEY *pub_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	assert_non_null(bio);
	EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(k);
	return k;
}

static EVP_PKEY *priv_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	assert_non_null(bio);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(k);
	return k;
}

/* Key callback: the RFC's keyids; "x-*" return the key in ctx. */
static int rfc_keys(void *ctx, const char *keyid, EVP_PKEY **out)
{
	if (strncmp(keyid, "x-", 2) == 0 && ctx != NULL) {
		if (EVP_PKEY_up_ref(ctx) != 1)
			return TP_EBUG;
		*out = ctx;
		return 0;
	}
	if (strcmp(keyid, "test-key-rsa-pss") == 0)
		*out = pub_pem(rsa_pss_pub);
	else if (strcmp(keyid, "test-key-ecc-p256") == 0)
		*out = pub_pem(ecc_pub);
	else if (strcmp(keyid, "test-key-ed25519") == 0)
		*out = pub_pem(ed_pub);
	else
		return TP_ENOKEY;
	return 0;
}

static struct tp_httpsig_policy rfc_policy(const char *alg)
{
	return (struct tp_httpsig_policy){
		.required = NULL, .n_required = 0, .allow_derived = true,
		.now = CREATED + 60, .max_age_s = 86400, .future_skew_s = 0,
		.alg_if_absent = alg,
	};
}

static int verify(struct tp_httpsig_msg *m, const struct tp_httpsig_policy *p,
		  void *key_ctx, struct tp_httpsig_verified *v)
{
	return tp_httpsig_verify(m, p, rfc_keys, key_ctx, v);
}

/* ---- RFC 9421 Appendix B.2 ---------------------------------------------- */

static void test_rfc9421_b2_vectors_verify(void **state)
{
	(void)state;
	struct hdrs h;
	struct tp_httpsig_msg m;
	struct tp_httpsig_verified v;
	struct {
		const char *input, *sig, *alg, *label, *keyid;
		bool resp;
	} cases[] = {
		{ B21_INPUT, B21_SIG, "rsa-pss-sha512", "sig-b21", "test-key-rsa-pss", false },
		{ B23_INPUT, B23_SIG, "rsa-pss-sha512", "sig-b23", "test-key-rsa-pss", false },
		{ B24_INPUT, B24_SIG, "ecdsa-p256-sha256", "sig-b24", "test-key-ecc-p256", true },
		{ B26_INPUT, B26_SIG, "ed25519", "sig-b26", "test-key-ed25519", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].resp)
			response(&h, &m);
		else
			request(&h, &m);
		set_hdr(&h, "signature-input", cases[i].input);
		set_hdr(&h, "signature", cases[i].sig);
		struct tp_httpsig_policy p = rfc_policy(cases[i].alg);
		assert_int_equal(verify(&m, &p, NULL, &v), 0);
		assert_string_equal(v.label, cases[i].label);
		assert_string_equal(v.keyid, cases[i].keyid);
		assert_string_equal(v.alg, cases[i].alg);
		assert_int_equal(v.created, CREATED);
		/* The same signature under another key type's alg: refused. */
		p.alg_if_absent = strcmp(cases[i].alg, "ed25519") == 0 ?
				  "ecdsa-p256-sha256" : "ed25519";
		assert_int_equal(verify(&m, &p, NULL, &v), TP_EALG);
		/* Without an alg to assume, the RFC's examples lack one. */
		p.alg_if_absent = NULL;
		assert_int_equal(verify(&m, &p, NULL, &v), TP_EALG);
		/* Any change to a covered value breaks it (B.2.1 covers none). */
		p.alg_if_absent = cases[i].alg;
		set_hdr(&h, "content-type", "application/json ");
		assert_int_equal(verify(&m, &p, NULL, &v), 0); /* OWS is trimmed */
		set_hdr(&h, "content-type", "application/jsom");
		assert_int_equal(verify(&m, &p, NULL, &v),
				 i == 0 ? 0 : TP_EBADSIG);
	}
	/* B.2.2: a "tag" parameter, refused by our policy before anything. */
	request(&h, &m);
	set_hdr(&h, "signature-input", B22_INPUT);
	set_hdr(&h, "signature", B22_SIG);
	struct tp_httpsig_policy p = rfc_policy("rsa-pss-sha512");
	assert_int_equal(verify(&m, &p, NULL, &v), TP_EPARAM);
}

/* RFC 9530 Appendix B: {"hello": "world"}. */
static void test_rfc9530_content_digest(void **state)
{
	(void)state;
	static const char body[] = "{\"hello\": \"world\"}";
	size_t n = strlen(body);
	char out[TP_CONTENT_DIGEST_SHA256_SIZE];
	assert_int_equal(tp_content_digest_sha256(body, n, out), 0);
	assert_string_equal(out, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
	assert_int_equal(tp_content_digest_verify(out, body, n), 0);
	assert_int_equal(tp_content_digest_verify(REQ_DIGEST, body, n), 0);
	assert_int_equal(tp_content_digest_verify(RESP_DIGEST, "{\"message\": \"good dog\"}", 23), 0);
	assert_int_equal(tp_content_digest_verify(REQ_DIGEST, body, n - 1u), TP_EDIGEST);
	/* sha-256 is used when present, whatever its position. */
	assert_int_equal(tp_content_digest_verify(
				 "sha-512=:AAAA:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
				 body, n), 0);
	assert_int_equal(tp_content_digest_verify(
				 "sha-256=:AAAA:, " REQ_DIGEST, body, n), TP_EDIGEST);
	/* Unknown algorithms are ignored; alone they leave nothing. */
	assert_int_equal(tp_content_digest_verify("md5=:AAAA:", body, n), TP_EMISSING);
	assert_int_equal(tp_content_digest_verify("md5=:AAAA:, " REQ_DIGEST, body, n), 0);
	const char *bad[] = {
		"", "sha-256", "sha-256=abc", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
		"sha-256=(:AAAA:)", "SHA-256=:AAAA:", "sha-256=:AAAA:,", "sha-256=:AA AA:",
		"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tp_content_digest_verify(bad[i], body, n), TP_EMALF);
	/* Bad base64 inside a well-formed byte sequence does not match. */
	assert_int_equal(tp_content_digest_verify("sha-256=:AAA:", body, n), TP_EDIGEST);
	char *big = malloc(TP_HTTPSIG_FIELD_MAX + 2u);
	assert_non_null(big);
	memset(big, 'a', TP_HTTPSIG_FIELD_MAX + 1u);
	big[TP_HTTPSIG_FIELD_MAX + 1u] = '\0';
	assert_int_equal(tp_content_digest_verify(big, body, n), TP_ETOOBIG);
	free(big);
	assert_int_equal(tp_content_digest_verify(NULL, body, n), TP_EINVAL);
	/* The empty body has a digest too. */
	assert_int_equal(tp_content_digest_sha256(NULL, 0, out), 0);
	assert_string_equal(out, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
}

/* ---- RFC 8941 parser ----------------------------------------------------- */

static void test_sfv_parse(void **state)
{
	(void)state;
	static struct tp_sfv_dict d;
	const char *t = "a=(\"x\" tok;p=1 ?0 -12.5 :AQID:);q=\"s\\\"t\", b, c=?1;z";
	assert_int_equal(tp_sfv_parse_dict(t, strlen(t), &d), 0);
	assert_int_equal(d.n_members, 3);
	assert_true(d.members[0].inner);
	assert_int_equal(d.members[0].n_items, 5);
	assert_int_equal(d.items[1].bare.type, TP_SFV_TOKEN);
	assert_int_equal(d.items[1].n_params, 1);
	assert_int_equal(d.items[3].bare.type, TP_SFV_DECIMAL);
	assert_int_equal(d.items[3].bare.integer, -12500);
	assert_int_equal(d.items[4].bare.type, TP_SFV_BYTES);
	uint8_t b[8];
	size_t bl = 0;
	assert_int_equal(tp_sfv_bytes_decode(d.items[4].bare.text, b, sizeof(b), &bl), 0);
	assert_int_equal(bl, 3);
	assert_int_equal(b[2], 3);
	assert_true(d.params[d.members[0].first_param].value.escaped);
	assert_true(tp_sfv_span_is(d.members[0].raw,
				   "(\"x\" tok;p=1 ?0 -12.5 :AQID:);q=\"s\\\"t\""));
	assert_int_equal(d.members[1].bare.type, TP_SFV_BOOLEAN);
	assert_true(d.members[1].bare.boolean);
	assert_int_equal(d.members[2].n_params, 1);
	const char *bad[] = {
		"", " ", "A=1", "a=", "a=(", "a=(1", "a=(1,2)", "a=1,", "a=1 b=2",
		"a=\"x", "a=\"\\n\"", "a=?2", "a=1234567890123456", "a=1.", "a=1.2345",
		"a=1234567890123.1", "a=:AA", "a=-", "a=@1", "a=%\"x\"", "a=1;B=2",
		"a=\"\x01\"", "a=(1)x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tp_sfv_parse_dict(bad[i], strlen(bad[i]), &d), TP_EMALF);
	/* A NUL inside is malformed, not an end. */
	assert_int_equal(tp_sfv_parse_dict("a=1\0b", 5, &d), TP_EMALF);
	/* Ceilings refuse, never truncate. */
	char many[TP_SFV_MEMBERS_MAX * 4 + 8];
	size_t o = 0;
	for (unsigned i = 0; i <= TP_SFV_MEMBERS_MAX; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "%sa", i ? "," : "");
	assert_int_equal(tp_sfv_parse_dict(many, o, &d), TP_ETOOBIG);
	/* base64: padding optional, trailing bits must be zero. */
	struct tp_sfv_span s = { "AQI", 3 };
	assert_int_equal(tp_sfv_bytes_decode(s, b, sizeof(b), &bl), 0);
	assert_int_equal(bl, 2);
	s = (struct tp_sfv_span){ "AQJ=", 4 };
	assert_int_equal(tp_sfv_bytes_decode(s, b, sizeof(b), &bl), TP_EMALF);
	s = (struct tp_sfv_span){ "A===", 4 };
	assert_int_equal(tp_sfv_bytes_decode(s, b, sizeof(b), &bl), TP_EMALF);
	s = (struct tp_sfv_span){ "AQ=I", 4 };
	assert_int_equal(tp_sfv_bytes_decode(s, b, sizeof(b), &bl), TP_EMALF);
	char enc[16];
	assert_int_equal(tp_sfv_bytes_encode((const uint8_t *)"fo", 2, enc, sizeof(enc)), 0);
	assert_string_equal(enc, "Zm8="); /* RFC 4648 §10 */
	assert_int_equal(tp_sfv_bytes_encode((const uint8_t *)"foobar", 6, enc, 8), TP_ENOSPACE);
}

/* ---- signing ------------------------------------------------------------- */

static const char *const edge_covered[] = { "content-type", "content-length", "content-digest" };

static void edge_request(struct hdrs *h, struct tp_httpsig_msg *m)
{
	memset(h, 0, sizeof(*h));
	set_hdr(h, "content-type", "application/vnd.apache.parquet");
	set_hdr(h, "content-length", "18");
	set_hdr(h, "content-digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
	*m = (struct tp_httpsig_msg){ .method = "POST", .header = get_hdr, .ctx = h };
}

static void sign_edge(EVP_PKEY *key, struct tp_httpsig_msg *m, struct hdrs *h,
		      const char *keyid, int64_t created, char *in, char *sig)
{
	struct tp_httpsig_sign_opts o = {
		.label = "sig1", .covered = edge_covered, .n_covered = 3,
		.created = created, .keyid = keyid,
	};
	assert_int_equal(tp_httpsig_sign(key, m, &o, in, sig), 0);
	set_hdr(h, "signature-input", in);
	set_hdr(h, "signature", sig);
}

static void test_sign_exact_and_verified_by_openssl(void **state)
{
	(void)state;
	EVP_PKEY *key = priv_pem(ed_priv);
	struct hdrs h;
	struct tp_httpsig_msg m;
	edge_request(&h, &m);
	char in[TP_HTTPSIG_INPUT_OUT_MAX], sig[TP_HTTPSIG_SIGNATURE_OUT_MAX];
	sign_edge(key, &m, &h, "edge1", CREATED, in, sig);
	assert_string_equal(in, "sig1=(\"content-type\" \"content-length\" \"content-digest\");"
				"created=1618884473;alg=\"ed25519\";keyid=\"edge1\"");
	/* The base as RFC 9421 §2.5 spells it, written out by hand. */
	static const char base[] =
		"\"content-type\": application/vnd.apache.parquet\n"
		"\"content-length\": 18\n"
		"\"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n"
		"\"@signature-params\": (\"content-type\" \"content-length\" \"content-digest\");"
		"created=1618884473;alg=\"ed25519\";keyid=\"edge1\"";
	size_t sl = strlen(sig);
	assert_true(sl > 8 && strncmp(sig, "sig1=:", 6) == 0 && sig[sl - 1u] == ':');
	static struct tp_sfv_dict d;
	assert_int_equal(tp_sfv_parse_dict(sig, sl, &d), 0);
	uint8_t raw[64];
	size_t raw_len = 0;
	assert_int_equal(tp_sfv_bytes_decode(d.members[0].bare.text, raw, sizeof(raw), &raw_len), 0);
	assert_int_equal(raw_len, 64);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key), 1);
	assert_int_equal(EVP_DigestVerify(ctx, raw, 64, (const unsigned char *)base,
					  strlen(base)), 1);
	EVP_MD_CTX_free(ctx);
	/* And our verifier takes it under the core's policy. */
	struct tp_httpsig_policy p = {
		.required = edge_covered, .n_required = 3, .allow_derived = false,
		.now = CREATED + 5, .max_age_s = 86400, .future_skew_s = 0,
	};
	struct tp_httpsig_verified v;
	assert_int_equal(tp_httpsig_verify(&m, &p, rfc_keys, key, &v), TP_ENOKEY);
	sign_edge(key, &m, &h, "x-edge1", CREATED, in, sig);
	assert_int_equal(tp_httpsig_verify(&m, &p, rfc_keys, key, &v), 0);
	assert_string_equal(v.keyid, "x-edge1");
	assert_string_equal(v.label, "sig1");
	/* Refusals of the signer. */
	struct tp_httpsig_sign_opts o = {
		.label = "sig1", .covered = edge_covered, .n_covered = 3,
		.created = CREATED, .keyid = "k",
	};
	del_hdr(&h, "content-digest");
	assert_int_equal(tp_httpsig_sign(key, &m, &o, in, sig), TP_EMISSING);
	edge_request(&h, &m);
	o.label = "Sig1";
	assert_int_equal(tp_httpsig_sign(key, &m, &o, in, sig), TP_EINVAL);
	o.label = "sig1";
	o.keyid = "";
	assert_int_equal(tp_httpsig_sign(key, &m, &o, in, sig), TP_EINVAL);
	o.keyid = "k";
	EVP_PKEY *ec = priv_pem(ecc_priv);
	assert_int_equal(tp_httpsig_sign(ec, &m, &o, in, sig), TP_EINVAL);
	EVP_PKEY *edpub = pub_pem(ed_pub);
	assert_int_equal(tp_httpsig_sign(edpub, &m, &o, in, sig), TP_EINVAL);
	const char *dup[] = { "content-type", "content-type" };
	o.covered = dup;
	o.n_covered = 2;
	assert_int_equal(tp_httpsig_sign(key, &m, &o, in, sig), TP_EINVAL);
	EVP_PKEY_free(edpub);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(key);
}

/* ECDSA and RSA signatures made by OpenSSL over a base written by hand:
 * the raw r||s conversion and the RSA paddings. */
static void test_verify_openssl_signed(void **state)
{
	(void)state;
	static const char input[] =
		"s=(\"content-type\");created=1618884473;alg=\"%s\";keyid=\"x-k\"";
	struct {
		const char *pem, *alg;
	} cases[] = {
		{ ecc_priv, "ecdsa-p256-sha256" },
		{ rsa_priv, "rsa-v1_5-sha256" },
		{ rsa_priv, "rsa-pss-sha512" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EVP_PKEY *key = priv_pem(cases[i].pem);
		char si[256], base[512];
		snprintf(si, sizeof(si), input, cases[i].alg);
		snprintf(base, sizeof(base),
			 "\"content-type\": application/json\n\"@signature-params\": %s", si + 2);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		const EVP_MD *md = i == 2 ? EVP_sha512() : EVP_sha256();
		assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md, NULL, key), 1);
		if (i == 2) {
			assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
			assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64), 1);
			assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha512()), 1);
		}
		uint8_t der[512], raw[512];
		size_t der_len = sizeof(der), raw_len;
		assert_int_equal(EVP_DigestSign(ctx, der, &der_len, (const uint8_t *)base,
						strlen(base)), 1);
		EVP_MD_CTX_free(ctx);
		if (i == 0) {
			const unsigned char *p = der;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
			assert_non_null(es);
			assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
			assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
			ECDSA_SIG_free(es);
			raw_len = 64;
		} else {
			memcpy(raw, der, der_len);
			raw_len = der_len;
		}
		char b64[800], sigf[820];
		assert_int_equal(tp_sfv_bytes_encode(raw, raw_len, b64, sizeof(b64)), 0);
		snprintf(sigf, sizeof(sigf), "s=:%s:", b64);
		struct hdrs h;
		struct tp_httpsig_msg m;
		request(&h, &m);
		set_hdr(&h, "signature-input", si);
		set_hdr(&h, "signature", sigf);
		struct tp_httpsig_policy p = rfc_policy(NULL);
		struct tp_httpsig_verified v;
		assert_int_equal(verify(&m, &p, key, &v), 0);
		assert_string_equal(v.alg, cases[i].alg);
		/* The raw form is required: DER is refused for ECDSA. */
		if (i == 0) {
			assert_int_equal(tp_sfv_bytes_encode(der, der_len, b64, sizeof(b64)), 0);
			snprintf(sigf, sizeof(sigf), "s=:%s:", b64);
			assert_int_equal(verify(&m, &p, key, &v), TP_EBADSIG);
		}
		/* An RSA key under v1_5 for a PSS signature and back: bad. */
		if (i == 1) {
			snprintf(si, sizeof(si), input, "rsa-pss-sha512");
			assert_int_equal(verify(&m, &p, key, &v), TP_EBADSIG);
		}
		EVP_PKEY_free(key);
	}
}

/* ---- the verifier's order of refusals ----------------------------------- */

static void test_verify_refusals_in_order(void **state)
{
	(void)state;
	EVP_PKEY *key = priv_pem(ed_priv);
	struct hdrs h;
	struct tp_httpsig_msg m;
	char in[TP_HTTPSIG_INPUT_OUT_MAX], sig[TP_HTTPSIG_SIGNATURE_OUT_MAX];
	struct tp_httpsig_policy p = {
		.required = edge_covered, .n_required = 3, .allow_derived = false,
		.now = CREATED + 5, .max_age_s = 86400, .future_skew_s = 0,
	};
	struct tp_httpsig_verified v;
	edge_request(&h, &m);
	sign_edge(key, &m, &h, "x-edge", CREATED, in, sig);
	assert_int_equal(verify(&m, &p, key, &v), 0);

	char buf[2048];
	struct {
		const char *input, *sig;
		int want;
	} cases[] = {
		{ NULL, sig, TP_EMISSING },
		{ in, NULL, TP_EMISSING },
		/* bad structured-field syntax */
		{ "sig1=(\"content-type\"", sig, TP_EMALF },
		{ "sig1=(content-type content-length content-digest);created=1", sig, TP_EMALF },
		{ "sig1=\"content-type\";created=1", sig, TP_EMALF },
		{ "Sig1=()", sig, TP_EMALF },
		{ in, "sig1=\"abc\"", TP_EMALF },
		{ in, "sig1=:not base64!:", TP_EMALF },
		{ in, "sig1=:AQ=I:", TP_EMALF },
		{ in, "sig1=(:AAAA:)", TP_EMALF },
		/* two labels, duplicates, label in one header only */
		{ "sig1=(\"content-type\");created=1618884473, sig2=()", sig, TP_EMULTI },
		{ "sig1=(\"content-type\");created=1618884473, sig1=()", sig, TP_EMULTI },
		{ in, "sig1=:AAAA:, sig1=:AAAA:", TP_EMULTI },
		{ "sig2=(\"content-type\");created=1618884473", sig, TP_EMULTI },
		/* parameters */
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\";tag=\"t\"", sig, TP_EPARAM },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_EPARAM },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_EPARAM },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=\"1618884473\";alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_EPARAM },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618798072;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_EPARAM },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884479;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_EPARAM },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;expires=1618884477;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_EPARAM },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=ed25519;keyid=\"x-edge\"", sig, TP_EPARAM },
		/* alg */
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;keyid=\"x-edge\"", sig, TP_EALG },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"hmac-sha256\";keyid=\"x-edge\"", sig, TP_EALG },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"Ed25519\";keyid=\"x-edge\"", sig, TP_EALG },
		/* covered components */
		{ "sig1=(\"content-type\" \"content-length\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_ECOVER },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\" \"@method\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_ECOVER },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\" \"content-type\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_ECOVER },
		{ "sig1=(\"content-type\";sf \"content-length\" \"content-digest\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_ECOVER },
		{ "sig1=(\"Content-Type\" \"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_ECOVER },
		{ "sig1=(\"\" \"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_ECOVER },
		/* keyid */
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"ed25519\"", sig, TP_EMALF },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"ed25519\";keyid=\"x/edge\"", sig, TP_EMALF },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"ed25519\";keyid=\"\"", sig, TP_EMALF },
		/* key */
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"ed25519\";keyid=\"nobody\"", sig, TP_ENOKEY },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"ecdsa-p256-sha256\";keyid=\"x-edge\"", sig, TP_EALG },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884473;alg=\"ed25519\";keyid=\"test-key-ecc-p256\"", sig, TP_EALG },
		/* missing covered header, then the signature itself */
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\" \"date\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_EMISSING },
		{ "sig1=(\"content-type\" \"content-length\" \"content-digest\");created=1618884474;alg=\"ed25519\";keyid=\"x-edge\"", sig, TP_EBADSIG },
		{ in, "sig1=:AAAA:", TP_EBADSIG },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		edge_request(&h, &m);
		if (cases[i].input != NULL)
			set_hdr(&h, "signature-input", cases[i].input);
		if (cases[i].sig != NULL)
			set_hdr(&h, "signature", cases[i].sig);
		int rc = verify(&m, &p, key, &v);
		if (rc != cases[i].want)
			fail_msg("case %zu: got %d (%s), want %d", i, rc, tp_strerror(rc),
				 cases[i].want);
	}
	/* Derived components refused by the core's policy even when valid. */
	p.allow_derived = true;
	edge_request(&h, &m);
	set_hdr(&h, "signature-input",
		"sig1=(\"content-type\" \"content-length\" \"content-digest\" \"@query-param\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"");
	set_hdr(&h, "signature", sig);
	assert_int_equal(verify(&m, &p, key, &v), TP_ECOVER);
	set_hdr(&h, "signature-input",
		"sig1=(\"content-type\" \"content-length\" \"content-digest\" \"@status\");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"");
	assert_int_equal(verify(&m, &p, key, &v), TP_EMISSING);
	p.allow_derived = false;
	/* A covered value with a line break would forge base lines. */
	edge_request(&h, &m);
	sign_edge(key, &m, &h, "x-edge", CREATED, in, sig);
	set_hdr(&h, "content-type", "a\n\"content-length\": 18");
	assert_int_equal(verify(&m, &p, key, &v), TP_EMALF);
	/* Tampering with any covered header breaks the signature. */
	const char *names[] = { "content-type", "content-length", "content-digest" };
	for (size_t i = 0; i < 3; i++) {
		edge_request(&h, &m);
		sign_edge(key, &m, &h, "x-edge", CREATED, in, sig);
		set_hdr(&h, names[i], "x");
		assert_int_equal(verify(&m, &p, key, &v), TP_EBADSIG);
	}
	/* Oversized fields. */
	char *big = malloc(TP_HTTPSIG_FIELD_MAX + 16u);
	assert_non_null(big);
	memcpy(big, "sig1=(", 6);
	memset(big + 6, ' ', TP_HTTPSIG_FIELD_MAX);
	memcpy(big + 6 + TP_HTTPSIG_FIELD_MAX, ")", 2);
	edge_request(&h, &m);
	set_hdr(&h, "signature-input", big);
	set_hdr(&h, "signature", sig);
	assert_int_equal(verify(&m, &p, key, &v), TP_ETOOBIG);
	free(big);
	/* More covered components than allowed. */
	size_t o = (size_t)snprintf(buf, sizeof(buf), "sig1=(");
	for (unsigned i = 0; i <= TP_HTTPSIG_COMPONENTS_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"h%u\" ", i);
	snprintf(buf + o, sizeof(buf) - o, ");created=1618884473;alg=\"ed25519\";keyid=\"x-edge\"");
	set_hdr(&h, "signature-input", buf);
	assert_int_equal(verify(&m, &p, key, &v), TP_ECOVER);
	/* Within max age / skew limits exactly. */
	edge_request(&h, &m);
	sign_edge(key, &m, &h, "x-edge", CREATED - 86400 + 5, in, sig);
	assert_int_equal(verify(&m, &p, key, &v), 0);
	sign_edge(key, &m, &h, "x-edge", CREATED - 86400 + 4, in, sig);
	assert_int_equal(verify(&m, &p, key, &v), TP_EPARAM);
	p.future_skew_s = 10;
	sign_edge(key, &m, &h, "x-edge", CREATED + 15, in, sig);
	assert_int_equal(verify(&m, &p, key, &v), 0);
	sign_edge(key, &m, &h, "x-edge", CREATED + 16, in, sig);
	assert_int_equal(verify(&m, &p, key, &v), TP_EPARAM);
	EVP_PKEY_free(key);
}

/* ---- interop hook -------------------------------------------------------- */

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1u << 20);
	assert_non_null(buf);
	*len = fread(buf, 1, (1u << 20) - 1u, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void spit(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_httpsig_interop_files(void **state)
{
	(void)state;
	const char *dir = getenv("TAPIR_HTTPSIG_INTEROP_DIR");
	if (dir == NULL || *dir == '\0')
		skip();
	size_t jlen = 0, blen = 0, nlen = 0;
	char *jwk = slurp(dir, "key.jwk", &jlen);
	char *body = slurp(dir, "body.bin", &blen);
	char *node = slurp(dir, "node.txt", &nlen);
	struct tp_jwk k;
	assert_int_equal(tp_jwk_parse(jwk, jlen, true, &k), 0);
	char digest[TP_CONTENT_DIGEST_SHA256_SIZE], length[32];
	assert_int_equal(tp_content_digest_sha256(body, blen, digest), 0);
	snprintf(length, sizeof(length), "%zu", blen);
	struct hdrs h;
	struct tp_httpsig_msg m;
	memset(&h, 0, sizeof(h));
	set_hdr(&h, "content-type", "application/vnd.apache.parquet");
	set_hdr(&h, "content-length", length);
	set_hdr(&h, "content-digest", digest);
	m = (struct tp_httpsig_msg){ .method = "POST", .header = get_hdr, .ctx = &h };
	/* node.txt: Signature-Input, newline, Signature. */
	char *nl = strchr(node, '\n');
	assert_non_null(nl);
	*nl = '\0';
	char *end = strchr(nl + 1, '\n');
	if (end != NULL)
		*end = '\0';
	set_hdr(&h, "signature-input", node);
	set_hdr(&h, "signature", nl + 1);
	struct tp_httpsig_policy p = {
		.required = edge_covered, .n_required = 3, .allow_derived = false,
		.now = (int64_t)time(NULL), .max_age_s = 3600, .future_skew_s = 60,
	};
	struct tp_httpsig_verified v;
	/* rfc_keys answers "x-*" keyids with the key in ctx. */
	assert_int_equal(strncmp(k.kid, "x-", 2), 0);
	int rc = tp_httpsig_verify(&m, &p, rfc_keys, k.pkey, &v);
	spit(dir, "node.ok", rc == 0 ? "ok\n" : tp_strerror(rc));
	char in[TP_HTTPSIG_INPUT_OUT_MAX], sig[TP_HTTPSIG_SIGNATURE_OUT_MAX], out[2048];
	struct tp_httpsig_sign_opts o = {
		.label = "sig1", .covered = edge_covered, .n_covered = 3,
		.created = (int64_t)time(NULL), .keyid = k.kid,
	};
	assert_int_equal(tp_httpsig_sign(k.pkey, &m, &o, in, sig), 0);
	snprintf(out, sizeof(out), "%s\n%s\n%s\n", in, sig, digest);
	spit(dir, "ours.txt", out);
	tp_jwk_free(&k);
	free(node);
	free(body);
	free(jwk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9421_b2_vectors_verify),
		cmocka_unit_test(test_rfc9530_content_digest),
		cmocka_unit_test(test_sfv_parse),
		cmocka_unit_test(test_sign_exact_and_verified_by_openssl),
		cmocka_unit_test(test_verify_openssl_signed),
		cmocka_unit_test(test_verify_refusals_in_order),
		cmocka_unit_test(test_httpsig_interop_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
