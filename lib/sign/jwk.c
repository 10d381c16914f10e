/* SPDX-License-Identifier: BSD-2-Clause
 *
 * jwk.c - Ed25519 JWK parsing and writing, SPKI PEM, RFC 7638 thumbprints
 * (jwk.h).
 *
 * Raw key bytes go straight into OpenSSL (EVP_PKEY_new_raw_*_key with
 * EVP_PKEY_ED25519, RFC 8037 §2: x and d are the raw 32-byte RFC 8032
 * public key and seed). Private bytes only ever sit in stack buffers and
 * in buffers we allocate; all of them are wiped with explicit_bzero(),
 * which the compiler may not drop. Jansson keeps its own copy of the d
 * string while a file is parsed: we overwrite that copy in place before
 * releasing the JSON tree (the tree is heap memory jansson allocated, so
 * writing it is defined, only its type says const).
 */
#include "sign/jwk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sign/b64.h"

/* A 32-byte value is 43 base64url characters. */
#define KEY_B64_LEN 43u

/* A JSON string member: NULL if absent; TP_EMALF if not a string or if it
 * holds a NUL (jansson allows \u0000, C strings do not). */
static int get_string(json_t *obj, const char *name, const char **out,
		      size_t *len)
{
	json_t *v = json_object_get(obj, name);
	*out = NULL;
	*len = 0;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return TP_EMALF;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (strlen(s) != n)
		return TP_EMALF;
	*out = s;
	*len = n;
	return 0;
}

static bool str_is(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* Decode a base64url member that must be exactly 32 bytes. */
static int decode_key32(const char *s, size_t len,
			unsigned char out[TP_ED25519_KEY_SIZE])
{
	size_t n = 0;
	if (len != KEY_B64_LEN)
		return TP_EMALF;
	int rc = tp_b64url_decode(s, len, out, TP_ED25519_KEY_SIZE, &n);
	if (rc != 0)
		return rc == TP_ENOSPACE ? TP_EMALF : rc;
	return n == TP_ED25519_KEY_SIZE ? 0 : TP_EMALF;
}

static int check_kid(const char *kid, size_t len)
{
	return len >= 1u && len <= TP_JWK_KID_MAX && strlen(kid) == len ? 0
									 : TP_EMALF;
}

/* Everything but building the key: member presence, types and values. */
static int parse_tree(json_t *root, bool need_private, struct tp_jwk *out,
		      unsigned char x[TP_ED25519_KEY_SIZE],
		      unsigned char d[TP_ED25519_KEY_SIZE], bool *has_d)
{
	const char *kty, *crv, *xs, *ds, *kid, *alg, *use;
	size_t kty_n, crv_n, xs_n, ds_n, kid_n, alg_n, use_n;
	int rc;

	if (!json_is_object(root))
		return TP_EMALF;
	if ((rc = get_string(root, "kty", &kty, &kty_n)) != 0 ||
	    (rc = get_string(root, "crv", &crv, &crv_n)) != 0 ||
	    (rc = get_string(root, "x", &xs, &xs_n)) != 0 ||
	    (rc = get_string(root, "d", &ds, &ds_n)) != 0 ||
	    (rc = get_string(root, "kid", &kid, &kid_n)) != 0 ||
	    (rc = get_string(root, "alg", &alg, &alg_n)) != 0 ||
	    (rc = get_string(root, "use", &use, &use_n)) != 0)
		return rc;
	/* key_ops, when present, must at least be an array (RFC 7517 §4.3);
	 * its values only restrict use and we use the key for one thing. */
	json_t *ops = json_object_get(root, "key_ops");
	if (ops != NULL && !json_is_array(ops))
		return TP_EMALF;
	if (kty == NULL || crv == NULL || xs == NULL || kid == NULL)
		return TP_EMISSING;
	if (!str_is(kty, kty_n, "OKP") || !str_is(crv, crv_n, "Ed25519"))
		return TP_EMALF;
	if (alg != NULL && !str_is(alg, alg_n, "EdDSA"))
		return TP_EMALF;
	if (use != NULL && !str_is(use, use_n, "sig"))
		return TP_EMALF;
	if ((rc = check_kid(kid, kid_n)) != 0)
		return rc;
	if (ds == NULL && need_private)
		return TP_EMISSING;
	if ((rc = decode_key32(xs, xs_n, x)) != 0)
		return rc;
	if (ds != NULL && (rc = decode_key32(ds, ds_n, d)) != 0)
		return rc;
	*has_d = ds != NULL;
	memcpy(out->kid, kid, kid_n);
	out->kid[kid_n] = '\0';
	return 0;
}

/* Overwrite jansson's copy of d before the tree is released. */
static void wipe_d_member(json_t *root)
{
	json_t *v = json_is_object(root) ? json_object_get(root, "d") : NULL;
	if (json_is_string(v))
		explicit_bzero((char *)json_string_value(v),
			       json_string_length(v));
}

int tp_jwk_parse(const char *json, size_t len, bool need_private,
		 struct tp_jwk *out)
{
	if (out == NULL)
		return TP_EINVAL;
	memset(out, 0, sizeof(*out));
	if (json == NULL)
		return TP_EINVAL;
	if (len > TP_JWK_FILE_MAX)
		return TP_ETOOBIG;

	/* Duplicate members would let two readers of one file see two
	 * different keys; trailing data after the object is refused by
	 * jansson unless asked otherwise. */
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return TP_EMALF;

	unsigned char x[TP_ED25519_KEY_SIZE], d[TP_ED25519_KEY_SIZE];
	unsigned char derived[TP_ED25519_KEY_SIZE];
	bool has_d = false;
	int rc = parse_tree(root, need_private, out, x, d, &has_d);
	wipe_d_member(root);
	json_decref(root);
	if (rc != 0)
		goto out;

	rc = TP_EBUG;
	if (has_d) {
		out->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
							 d, sizeof(d));
		size_t n = sizeof(derived);
		if (out->pkey == NULL ||
		    EVP_PKEY_get_raw_public_key(out->pkey, derived, &n) != 1 ||
		    n != sizeof(derived))
			goto out;
		/* A d whose public key is not x is a corrupted or forged
		 * file: signing with it would produce events nobody can
		 * verify under the advertised key. */
		if (CRYPTO_memcmp(derived, x, sizeof(x)) != 0) {
			rc = TP_EMALF;
			goto out;
		}
		out->has_private = true;
	} else {
		/* OpenSSL does not check that x is a point on the curve; a
		 * bad x simply never verifies anything. */
		out->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
							x, sizeof(x));
		if (out->pkey == NULL)
			goto out;
	}
	rc = 0;
out:
	explicit_bzero(d, sizeof(d));
	if (rc != 0) {
		ERR_clear_error();
		tp_jwk_free(out);
	}
	return rc;
}

int tp_jwk_load(const char *path, bool need_private, struct tp_jwk *out)
{
	if (out == NULL)
		return TP_EINVAL;
	memset(out, 0, sizeof(*out));
	if (path == NULL)
		return TP_EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* One byte more than allowed tells "too big" from "exactly max". */
	char *buf = malloc(TP_JWK_FILE_MAX + 1u);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	int rc = 0;
	while (got < TP_JWK_FILE_MAX + 1u) {
		ssize_t n = read(fd, buf + got, TP_JWK_FILE_MAX + 1u - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0)
		rc = got > TP_JWK_FILE_MAX ? TP_ETOOBIG
					   : tp_jwk_parse(buf, got, need_private, out);
	explicit_bzero(buf, TP_JWK_FILE_MAX + 1u);
	free(buf);
	return rc;
}

int tp_jwk_generate(const char *kid, struct tp_jwk *out)
{
	if (out == NULL)
		return TP_EINVAL;
	memset(out, 0, sizeof(*out));
	if (kid == NULL || check_kid(kid, strlen(kid)) != 0)
		return TP_EINVAL;
	out->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (out->pkey == NULL)
		return TP_EBUG;
	out->has_private = true;
	memcpy(out->kid, kid, strlen(kid) + 1u);
	return 0;
}

/* Raw public key as base64url (KEY_B64_LEN characters + NUL). */
static int x_b64(const struct tp_jwk *key, char out[KEY_B64_LEN + 1u])
{
	unsigned char x[TP_ED25519_KEY_SIZE];
	size_t n = sizeof(x);
	if (EVP_PKEY_get_raw_public_key(key->pkey, x, &n) != 1 || n != sizeof(x))
		return TP_EBUG;
	return tp_b64url_encode(x, sizeof(x), out, KEY_B64_LEN + 1u) == 0
		       ? 0
		       : TP_EBUG;
}

static bool usable(const struct tp_jwk *key)
{
	return key != NULL && key->pkey != NULL &&
	       EVP_PKEY_get_id(key->pkey) == EVP_PKEY_ED25519 &&
	       check_kid(key->kid, strnlen(key->kid, sizeof(key->kid))) == 0;
}

int tp_jwk_private_json(const struct tp_jwk *key, char **out, size_t *out_len)
{
	if (out == NULL || out_len == NULL)
		return TP_EINVAL;
	*out = NULL;
	*out_len = 0;
	if (!usable(key) || !key->has_private)
		return TP_EINVAL;

	char xs[KEY_B64_LEN + 1u], ds[KEY_B64_LEN + 1u];
	unsigned char d[TP_ED25519_KEY_SIZE];
	size_t n = sizeof(d);
	char *text = NULL;
	int rc = x_b64(key, xs);
	if (rc != 0)
		return rc;
	/* jansson escapes the kid (quotes, controls) as JSON requires; the
	 * private part is formatted here, into memory we wipe, instead of
	 * being handed to jansson's allocator. */
	json_t *kid_json = json_string(key->kid);
	char *kid_text = kid_json != NULL
				 ? json_dumps(kid_json, JSON_ENCODE_ANY | JSON_COMPACT)
				 : NULL;
	json_decref(kid_json);
	rc = TP_EBUG;
	if (kid_text == NULL)
		goto out;
	if (EVP_PKEY_get_raw_private_key(key->pkey, d, &n) != 1 || n != sizeof(d) ||
	    tp_b64url_encode(d, sizeof(d), ds, sizeof(ds)) != 0)
		goto out;
	static const char fmt[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
				  "\"alg\":\"EdDSA\",\"use\":\"sig\",\"kid\":%s,"
				  "\"x\":\"%s\",\"d\":\"%s\"}\n";
	int len = snprintf(NULL, 0, fmt, kid_text, xs, ds);
	if (len < 0)
		goto out;
	text = malloc((size_t)len + 1u);
	if (text == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (snprintf(text, (size_t)len + 1u, fmt, kid_text, xs, ds) != len) {
		tp_jwk_text_free(text, (size_t)len + 1u);
		text = NULL;
		goto out;
	}
	*out = text;
	*out_len = (size_t)len;
	rc = 0;
out:
	free(kid_text);
	explicit_bzero(d, sizeof(d));
	explicit_bzero(ds, sizeof(ds));
	return rc;
}

void tp_jwk_text_free(char *text, size_t len)
{
	if (text == NULL)
		return;
	explicit_bzero(text, len);
	free(text);
}

int tp_jwk_public_pem(const struct tp_jwk *key, char **out, size_t *out_len)
{
	if (out == NULL || out_len == NULL)
		return TP_EINVAL;
	*out = NULL;
	*out_len = 0;
	if (!usable(key))
		return TP_EINVAL;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	int rc = TP_EBUG;
	if (bio == NULL || PEM_write_bio_PUBKEY(bio, key->pkey) != 1)
		goto out;
	long n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || data == NULL)
		goto out;
	char *text = malloc((size_t)n + 1u);
	if (text == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(text, data, (size_t)n);
	text[n] = '\0';
	*out = text;
	*out_len = (size_t)n;
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

int tp_jwk_thumbprint(const struct tp_jwk *key,
		      char out[TP_JWK_THUMBPRINT_LEN + 1u])
{
	if (out == NULL)
		return TP_EINVAL;
	out[0] = '\0';
	if (!usable(key))
		return TP_EINVAL;
	char xs[KEY_B64_LEN + 1u];
	int rc = x_b64(key, xs);
	if (rc != 0)
		return rc;
	/* RFC 7638 §3.2: required members only, sorted, no whitespace; x is
	 * base64url, so nothing in it needs JSON escaping. */
	char canon[96]; /* 79 bytes with a 43-character x */
	int len = snprintf(canon, sizeof(canon),
			   "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", xs);
	unsigned char md[32];
	unsigned int md_len = 0;
	if (len < 0 || (size_t)len >= sizeof(canon) ||
	    EVP_Digest(canon, (size_t)len, md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len != sizeof(md))
		return TP_EBUG;
	return tp_b64url_encode(md, sizeof(md), out, TP_JWK_THUMBPRINT_LEN + 1u) == 0
		       ? 0
		       : TP_EBUG;
}

int tp_ed25519_public_from_pem(const char *pem, size_t len, EVP_PKEY **out)
{
	if (out == NULL)
		return TP_EINVAL;
	*out = NULL;
	if (pem == NULL)
		return TP_EINVAL;
	if (len > TP_JWK_FILE_MAX)
		return TP_ETOOBIG;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return TP_EBUG;
	EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (k == NULL) {
		/* Leave no stale entries for the next OpenSSL caller to misread. */
		ERR_clear_error();
		return TP_EMALF;
	}
	/* An RSA or EC key in the file would otherwise be used as-is; the
	 * verifier is EdDSA-only and says so here, at load time. */
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		return TP_EMALF;
	}
	*out = k;
	return 0;
}

void tp_jwk_free(struct tp_jwk *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	explicit_bzero(key, sizeof(*key));
}
