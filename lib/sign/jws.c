/* SPDX-License-Identifier: BSD-2-Clause
 *
 * jws.c - flattened JWS with EdDSA/Ed25519: sign and verify (jws.h).
 *
 * Written from RFC 7515 §5.1-5.2 and §7.2.2 and RFC 8037 §3.1: the
 * signature is PureEdDSA over the ASCII bytes "<b64url(protected)>.<
 * b64url(payload)>", 64 bytes, base64url-encoded. OpenSSL does Ed25519
 * through the one-shot EVP_DigestSign/EVP_DigestVerify with a NULL digest,
 * as Ed25519 hashes internally. The signer formats the JSON itself: every
 * value is base64url, so nothing needs escaping, and the member order is
 * fixed by the format string. The protected header is built by jansson
 * (JSON_PRESERVE_ORDER keeps alg before kid; the kid is escaped properly).
 */
#include "sign/jws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "sign/b64.h"

int tp_jws_signature(EVP_PKEY *key, const char *input, size_t input_len,
		     char out[TP_JWS_SIG_B64_LEN + 1u])
{
	if (key == NULL || input == NULL || out == NULL ||
	    EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
		return TP_EINVAL;
	out[0] = '\0';
	unsigned char sig[TP_ED25519_SIG_SIZE];
	size_t sig_len = sizeof(sig);
	int rc = TP_EBUG;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input,
			   input_len) == 1 &&
	    sig_len == sizeof(sig) &&
	    tp_b64url_encode(sig, sizeof(sig), out, TP_JWS_SIG_B64_LEN + 1u) == 0)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	if (rc != 0)
		ERR_clear_error();
	return rc;
}

/* base64url of {"alg":"EdDSA","kid":<kid>}; heap, release with free(). */
static char *protected_header(const char *kid)
{
	json_t *h = json_object();
	char *text = NULL, *b64 = NULL;
	if (h == NULL || json_object_set_new(h, "alg", json_string("EdDSA")) != 0 ||
	    json_object_set_new(h, "kid", json_string(kid)) != 0)
		goto out;
	text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		goto out;
	size_t n = strlen(text);
	b64 = malloc(tp_b64url_encoded_len(n) + 1u);
	if (b64 != NULL &&
	    tp_b64url_encode((const uint8_t *)text, n, b64,
			     tp_b64url_encoded_len(n) + 1u) != 0) {
		free(b64);
		b64 = NULL;
	}
out:
	free(text);
	json_decref(h);
	return b64;
}

int tp_jws_sign(const struct tp_jwk *key, const uint8_t *payload, size_t len,
		char **out, size_t *out_len)
{
	if (out == NULL || out_len == NULL)
		return TP_EINVAL;
	*out = NULL;
	*out_len = 0;
	if (key == NULL || key->pkey == NULL || !key->has_private ||
	    (payload == NULL && len != 0) || key->kid[0] == '\0' ||
	    memchr(key->kid, '\0', sizeof(key->kid)) == NULL)
		return TP_EINVAL;
	if (len > TP_JWS_PAYLOAD_MAX)
		return TP_ETOOBIG;

	char sig[TP_JWS_SIG_B64_LEN + 1u];
	char *hdr = protected_header(key->kid);
	if (hdr == NULL)
		return -ENOMEM;
	size_t hdr_len = strlen(hdr), pl_len = tp_b64url_encoded_len(len);
	/* Signing input and output share one buffer: the output is
	 * '{"payload":"' P '","protected":"' H '","signature":"' S '"}', so
	 * the input "H.P" is built first in a separate allocation. */
	char *input = malloc(hdr_len + 1u + pl_len + 1u);
	int rc = -ENOMEM;
	char *json = NULL;
	if (input == NULL)
		goto out;
	memcpy(input, hdr, hdr_len);
	input[hdr_len] = '.';
	rc = tp_b64url_encode(payload, len, input + hdr_len + 1u, pl_len + 1u);
	if (rc != 0) {
		rc = TP_EBUG;
		goto out;
	}
	if ((rc = tp_jws_signature(key->pkey, input, hdr_len + 1u + pl_len, sig)) != 0)
		goto out;
	static const char fmt[] =
		"{\"payload\":\"%s\",\"protected\":\"%s\",\"signature\":\"%s\"}";
	size_t total = sizeof(fmt) - 7u + pl_len + hdr_len + TP_JWS_SIG_B64_LEN;
	json = malloc(total + 1u);
	if (json == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	input[hdr_len] = '\0'; /* split "H.P" into two strings */
	int n = snprintf(json, total + 1u, fmt, input + hdr_len + 1u, input, sig);
	if (n < 0 || (size_t)n != total) {
		rc = TP_EBUG;
		goto out;
	}
	*out = json;
	*out_len = total;
	json = NULL;
	rc = 0;
out:
	free(json);
	free(input);
	free(hdr);
	return rc;
}

/* A required string member of the JWS object. */
static int member(json_t *obj, const char *name, const char **s, size_t *n)
{
	json_t *v = json_object_get(obj, name);
	if (v == NULL)
		return TP_EMISSING;
	if (!json_is_string(v))
		return TP_EMALF;
	*s = json_string_value(v);
	*n = json_string_length(v);
	return 0;
}

/* Decode base64url into a fresh heap buffer with a NUL after the bytes. */
static int decode_alloc(const char *s, size_t n, uint8_t **out, size_t *out_len)
{
	size_t max = tp_b64url_decoded_max(n);
	uint8_t *buf = malloc(max + 1u);
	if (buf == NULL)
		return -ENOMEM;
	int rc = tp_b64url_decode(s, n, buf, max, out_len);
	if (rc != 0) {
		free(buf);
		return rc == TP_ENOSPACE ? TP_EBUG : rc;
	}
	buf[*out_len] = '\0';
	*out = buf;
	return 0;
}

/* A header's kid, if it is a 1..TP_JWK_KID_MAX-byte string without NUL,
 * into kid (NUL-terminated). Returns 0 or TP_EMALF. */
static int copy_kid(json_t *k, char kid[TP_JWK_KID_MAX + 1u])
{
	if (!json_is_string(k))
		return TP_EMALF;
	size_t kn = json_string_length(k);
	const char *ks = json_string_value(k);
	if (kn == 0 || kn > TP_JWK_KID_MAX || strlen(ks) != kn)
		return TP_EMALF;
	memcpy(kid, ks, kn + 1u);
	return 0;
}

/* Check the decoded protected header and copy its kid into kid. */
static int check_header(const uint8_t *hdr, size_t len,
			char kid[TP_JWK_KID_MAX + 1u])
{
	json_error_t jerr;
	json_t *h = json_loadb((const char *)hdr, len, JSON_REJECT_DUPLICATES, &jerr);
	int rc = TP_EMALF;
	if (h == NULL)
		return TP_EMALF;
	if (!json_is_object(h))
		goto out;
	json_t *alg = json_object_get(h, "alg"), *k = json_object_get(h, "kid");
	if (alg == NULL || k == NULL) {
		rc = TP_EMISSING;
		goto out;
	}
	/* RFC 7515 §4.1.11: a crit we do not understand must be refused, and
	 * we understand no extension (this also refuses RFC 7797 "b64"). */
	if (json_object_get(h, "crit") != NULL)
		goto out;
	if (!json_is_string(alg) || strcmp(json_string_value(alg), "EdDSA") != 0 ||
	    json_string_length(alg) != 5u)
		goto out;
	rc = copy_kid(k, kid);
out:
	json_decref(h);
	return rc;
}

int tp_jws_peek_kid(const char *jws, size_t len, char kid[TP_JWK_KID_MAX + 1u])
{
	if (jws == NULL || kid == NULL)
		return TP_EINVAL;
	kid[0] = '\0';
	if (len > TP_JWS_MAX)
		return TP_ETOOBIG;
	json_error_t jerr;
	json_t *root = json_loadb(jws, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : TP_EMALF;
	int rc = TP_EMALF;
	json_t *hdr = NULL;
	const char *prot;
	size_t plen;
	if (!json_is_object(root) || (rc = member(root, "protected", &prot, &plen)) != 0)
		goto out;
	if (plen > TP_JWS_PEEK_PROTECTED_MAX) {
		rc = TP_ETOOBIG;
		goto out;
	}
	uint8_t raw[TP_JWS_PEEK_PROTECTED_MAX / 4u * 3u];
	size_t raw_len = 0;
	rc = TP_EMALF;
	if (tp_b64url_decode(prot, plen, raw, sizeof(raw), &raw_len) != 0)
		goto out;
	hdr = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, &jerr);
	if (hdr == NULL || !json_is_object(hdr))
		goto out;
	json_t *k = json_object_get(hdr, "kid");
	rc = k == NULL ? TP_EMISSING : copy_kid(k, kid);
out:
	json_decref(hdr);
	json_decref(root);
	return rc;
}

int tp_jws_verify(EVP_PKEY *pub, const char *expect_kid, const char *jws,
		  size_t len, uint8_t **payload, size_t *payload_len,
		  char *kid_out)
{
	if (payload == NULL || payload_len == NULL)
		return TP_EINVAL;
	*payload = NULL;
	*payload_len = 0;
	if (pub == NULL || jws == NULL || EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519)
		return TP_EINVAL;
	if (len > TP_JWS_MAX)
		return TP_ETOOBIG;

	json_error_t jerr;
	json_t *root = json_loadb(jws, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return TP_EMALF;
	const char *ps = NULL, *hs = NULL, *ss = NULL;
	size_t pn = 0, hn = 0, sn = 0;
	uint8_t *hdr = NULL, *pl = NULL, *sig = NULL;
	size_t hdr_len = 0, pl_len = 0, sig_len = 0;
	char kid[TP_JWK_KID_MAX + 1u];
	char *input = NULL;
	EVP_MD_CTX *ctx = NULL;
	int rc = TP_EMALF;

	if (!json_is_object(root))
		goto out;
	if ((rc = member(root, "payload", &ps, &pn)) != 0 ||
	    (rc = member(root, "protected", &hs, &hn)) != 0 ||
	    (rc = member(root, "signature", &ss, &sn)) != 0)
		goto out;
	/* Exactly the three members: an unprotected "header" could carry a
	 * kid or alg that differs from the signed one, and "signatures"
	 * means the general serialisation, which we do not accept. */
	rc = TP_EMALF;
	if (json_object_size(root) != 3u)
		goto out;
	if ((rc = decode_alloc(hs, hn, &hdr, &hdr_len)) != 0 ||
	    (rc = check_header(hdr, hdr_len, kid)) != 0)
		goto out;
	if (expect_kid != NULL && strcmp(kid, expect_kid) != 0) {
		rc = TP_JWS_EKID;
		goto out;
	}
	if ((rc = decode_alloc(ss, sn, &sig, &sig_len)) != 0)
		goto out;
	if (sig_len != TP_ED25519_SIG_SIZE) {
		rc = TP_EMALF;
		goto out;
	}
	if ((rc = decode_alloc(ps, pn, &pl, &pl_len)) != 0)
		goto out;
	/* The signing input is the texts as received (both are strict
	 * base64url, so each has exactly one accepted spelling). */
	rc = -ENOMEM;
	input = malloc(hn + 1u + pn);
	if (input == NULL)
		goto out;
	memcpy(input, hs, hn);
	input[hn] = '.';
	memcpy(input + hn + 1u, ps, pn);
	rc = TP_EBUG;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) != 1)
		goto out;
	int ok = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input,
				  hn + 1u + pn);
	if (ok != 1) {
		rc = TP_JWS_EBADSIG;
		goto out;
	}
	if (kid_out != NULL)
		memcpy(kid_out, kid, strlen(kid) + 1u);
	*payload = pl;
	*payload_len = pl_len;
	pl = NULL;
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	free(input);
	free(sig);
	free(pl);
	free(hdr);
	json_decref(root);
	return rc;
}
