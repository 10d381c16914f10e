/* SPDX-License-Identifier: BSD-2-Clause
 *
 * httpsig.c - HTTP Message Signatures (RFC 9421) and Content-Digest
 * (RFC 9530): the edge signs its histogram uploads, the core verifies them
 * (httpsig.h).
 *
 * Written from RFC 9421 §2 (components, §2.5 signature base), §3.1-3.2
 * (sign, verify), §3.3 (algorithms), §4 (the two fields) and RFC 9530 §2.
 * The signature base is built in one bounded buffer; the
 * "@signature-params" line carries the Signature-Input member's value
 * exactly as received (sfv.c keeps its raw bytes), so a verifier never
 * re-serialises what the signer wrote. The checks run in the order the
 * header documents, cheapest and most telling first, so a caller can map
 * each code to one HTTP answer and one counter; the key callback runs only
 * after everything that can be checked without a key has passed.
 *
 * OpenSSL does the arithmetic. ECDSA signatures travel as raw r||s
 * (RFC 9421 §3.3.4) and are converted to the DER OpenSSL wants; RSA-PSS is
 * MGF1-SHA512 with a 64-byte salt (§3.3.1).
 */
#include "sign/httpsig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "sign/sfv.h"

/* ---- a bounded growing buffer for the signature base -------------------- */

struct base {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct base *b, const char *s, size_t n)
{
	if (b->err != 0)
		return;
	if (n > TP_HTTPSIG_BASE_MAX - b->len) {
		b->err = TP_ETOOBIG;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap == 0 ? 1024u : b->cap;
		while (cap < b->len + n)
			cap *= 2u;
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void put_str(struct base *b, const char *s)
{
	put(b, s, strlen(s));
}

/* ---- components ---------------------------------------------------------- */

static const char *const derived_names[] = {
	"@method", "@authority", "@path", "@query", "@target-uri",
	"@scheme", "@request-target", "@status",
};

static bool is_derived_known(const char *name)
{
	for (size_t i = 0; i < sizeof(derived_names) / sizeof(derived_names[0]); i++)
		if (strcmp(name, derived_names[i]) == 0)
			return true;
	return false;
}

/* A component name as RFC 9421 §2.1-2.2 allows it: a lower-case field
 * name (RFC 9110 tchar) or "@" and lower-case letters and '-'. */
static bool valid_name(const char *p, size_t len)
{
	if (len == 0 || len > TP_HTTPSIG_COMPONENT_NAME_MAX)
		return false;
	if (p[0] == '@') {
		if (len == 1)
			return false;
		for (size_t i = 1; i < len; i++)
			if (!((p[i] >= 'a' && p[i] <= 'z') || p[i] == '-'))
				return false;
		return true;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			continue;
		if (ch == '\0' || strchr("!#$%&'*+-.^_`|~", ch) == NULL)
			return false;
	}
	return true;
}

/* RFC 9421 §2.1: the value without leading and trailing whitespace; a
 * CR, LF or NUL inside would add lines to the base. */
static int put_field(struct base *b, const char *v)
{
	size_t n = strlen(v), s = 0;
	while (s < n && (v[s] == ' ' || v[s] == '\t'))
		s++;
	while (n > s && (v[n - 1u] == ' ' || v[n - 1u] == '\t'))
		n--;
	for (size_t i = s; i < n; i++)
		if (v[i] == '\r' || v[i] == '\n')
			return TP_EMALF;
	put(b, v + s, n - s);
	return 0;
}

static void put_lower(struct base *b, const char *s)
{
	for (; *s != '\0'; s++) {
		char ch = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
		put(b, &ch, 1);
	}
}

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* RFC 9421 §2.2: the derived component's value appended to b. */
static int put_derived(struct base *b, const struct tp_httpsig_msg *m,
		       const char *name)
{
	const char *q = m->query != NULL ? m->query : "?";
	const char *parts[] = { m->method, m->authority, m->path, m->scheme, q };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i] != NULL && has_crlf(parts[i]))
			return TP_EMALF;
	if (strcmp(name, "@status") == 0) {
		if (m->status < 100 || m->status > 999)
			return TP_EMISSING;
		char st[8];
		int n = snprintf(st, sizeof(st), "%03d", m->status);
		if (n != 3)
			return TP_EBUG;
		put(b, st, 3);
		return 0;
	}
	if (strcmp(name, "@method") == 0) {
		if (m->method == NULL)
			return TP_EMISSING;
		put_str(b, m->method);
	} else if (strcmp(name, "@authority") == 0) {
		if (m->authority == NULL)
			return TP_EMISSING;
		put_lower(b, m->authority);
	} else if (strcmp(name, "@scheme") == 0) {
		if (m->scheme == NULL)
			return TP_EMISSING;
		put_lower(b, m->scheme);
	} else if (strcmp(name, "@path") == 0) {
		if (m->path == NULL)
			return TP_EMISSING;
		put_str(b, m->path[0] == '\0' ? "/" : m->path);
	} else if (strcmp(name, "@query") == 0) {
		put_str(b, q);
	} else if (strcmp(name, "@request-target") == 0) {
		if (m->path == NULL)
			return TP_EMISSING;
		put_str(b, m->path[0] == '\0' ? "/" : m->path);
		if (m->query != NULL)
			put_str(b, m->query);
	} else if (strcmp(name, "@target-uri") == 0) {
		if (m->scheme == NULL || m->authority == NULL || m->path == NULL)
			return TP_EMISSING;
		put_lower(b, m->scheme);
		put_str(b, "://");
		put_lower(b, m->authority);
		put_str(b, m->path[0] == '\0' ? "/" : m->path);
		if (m->query != NULL)
			put_str(b, m->query);
	} else {
		return TP_ECOVER;
	}
	return 0;
}

/* RFC 9421 §2.5: one line per covered component, then the
 * "@signature-params" line with params_raw. names: n valid, distinct
 * component names. On success b holds the base (not NUL-terminated). */
static int build_base(const struct tp_httpsig_msg *m, char names[][TP_HTTPSIG_COMPONENT_NAME_MAX + 1u],
		      size_t n, const char *params_raw, size_t params_len,
		      struct base *b)
{
	for (size_t i = 0; i < n; i++) {
		put_str(b, "\"");
		put_str(b, names[i]);
		put_str(b, "\": ");
		int rc;
		if (names[i][0] == '@') {
			rc = put_derived(b, m, names[i]);
		} else {
			const char *v = m->header(m->ctx, names[i]);
			rc = v == NULL ? TP_EMISSING : put_field(b, v);
		}
		if (rc != 0)
			return rc;
		put_str(b, "\n");
	}
	put_str(b, "\"@signature-params\": ");
	put(b, params_raw, params_len);
	return b->err;
}

/* ---- algorithms ---------------------------------------------------------- */

enum alg { ALG_ED25519, ALG_ECDSA_P256, ALG_RSA_PSS, ALG_RSA_V15, ALG_NONE };

static enum alg alg_from_name(const char *p, size_t len)
{
	static const char *const names[] = {
		"ed25519", "ecdsa-p256-sha256", "rsa-pss-sha512", "rsa-v1_5-sha256",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(names[i], p, len) == 0)
			return (enum alg)i;
	return ALG_NONE;
}

static bool key_fits(EVP_PKEY *key, enum alg a)
{
	int id = EVP_PKEY_get_base_id(key);
	switch (a) {
	case ALG_ED25519:
		return id == EVP_PKEY_ED25519;
	case ALG_ECDSA_P256: {
		char group[32];
		size_t glen = 0;
		return id == EVP_PKEY_EC &&
		       EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) == 1 &&
		       strcmp(group, "prime256v1") == 0;
	}
	case ALG_RSA_PSS:
		/* RFC 9421 §3.3.1 keys are often plain rsaEncryption SPKI. */
		return (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) &&
		       EVP_PKEY_get_bits(key) >= 2048;
	case ALG_RSA_V15:
		return id == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) >= 2048;
	case ALG_NONE:
		break;
	}
	return false;
}

/* Raw r||s (32 + 32 bytes) to DER; *der is OPENSSL_malloc'd. */
static int ecdsa_raw_to_der(const uint8_t *raw, unsigned char **der, size_t *der_len)
{
	int rc = TP_EBUG;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		goto out;
	}
	*der = NULL;
	int n = i2d_ECDSA_SIG(sig, der);
	if (n > 0) {
		*der_len = (size_t)n;
		rc = 0;
	}
out:
	ECDSA_SIG_free(sig);
	return rc;
}

static int verify_sig(EVP_PKEY *key, enum alg a, const struct base *b,
		      const uint8_t *sig, size_t sig_len)
{
	unsigned char *der = NULL;
	const EVP_MD *md = NULL;
	switch (a) {
	case ALG_ED25519:
		if (sig_len != 64u)
			return TP_EBADSIG;
		break;
	case ALG_ECDSA_P256:
		if (sig_len != 64u)
			return TP_EBADSIG;
		if (ecdsa_raw_to_der(sig, &der, &sig_len) != 0)
			return TP_EBUG;
		sig = der;
		md = EVP_sha256();
		break;
	case ALG_RSA_PSS:
		md = EVP_sha512();
		break;
	case ALG_RSA_V15:
		md = EVP_sha256();
		break;
	case ALG_NONE:
		return TP_EBUG;
	}
	int rc = TP_EBADSIG;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key) != 1) {
		rc = TP_EBUG;
		goto out;
	}
	if (a == ALG_RSA_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha512()) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64) != 1)) {
		rc = TP_EBUG;
		goto out;
	}
	if (a == ALG_RSA_V15 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
		rc = TP_EBUG;
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)b->p,
			     b->len) == 1)
		rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ERR_clear_error();
	return rc;
}

/* ---- Content-Digest ------------------------------------------------------ */

int tp_content_digest_sha256(const void *body, size_t len,
			     char out[TP_CONTENT_DIGEST_SHA256_SIZE])
{
	if (out == NULL || (body == NULL && len > 0))
		return TP_EINVAL;
	uint8_t md[32];
	unsigned md_len = 0;
	static const uint8_t empty = 0;
	if (EVP_Digest(len == 0 ? &empty : body, len, md, &md_len, EVP_sha256(),
		       NULL) != 1 || md_len != sizeof(md)) {
		ERR_clear_error();
		return TP_EBUG;
	}
	memcpy(out, "sha-256=:", 9);
	if (tp_sfv_bytes_encode(md, sizeof(md), out + 9,
				TP_CONTENT_DIGEST_SHA256_SIZE - 10u) != 0)
		return TP_EBUG;
	out[TP_CONTENT_DIGEST_SHA256_SIZE - 2u] = ':';
	out[TP_CONTENT_DIGEST_SHA256_SIZE - 1u] = '\0';
	return 0;
}

static int digest_check(const struct tp_sfv_bare *v, const EVP_MD *md,
			const void *body, size_t len)
{
	uint8_t want[64], got[64];
	size_t want_len = 0;
	unsigned got_len = 0;
	if (tp_sfv_bytes_decode(v->text, want, sizeof(want), &want_len) != 0)
		return TP_EDIGEST;
	static const uint8_t empty = 0;
	if (EVP_Digest(len == 0 ? &empty : body, len, got, &got_len, md, NULL) != 1) {
		ERR_clear_error();
		return TP_EBUG;
	}
	if (want_len != got_len || CRYPTO_memcmp(want, got, got_len) != 0)
		return TP_EDIGEST;
	return 0;
}

int tp_content_digest_verify(const char *field, const void *body, size_t len)
{
	if (field == NULL || (body == NULL && len > 0))
		return TP_EINVAL;
	size_t flen = strlen(field);
	if (flen > TP_HTTPSIG_FIELD_MAX)
		return TP_ETOOBIG;
	struct tp_sfv_dict *d = malloc(sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	int rc = tp_sfv_parse_dict(field, flen, d);
	if (rc == TP_ETOOBIG)
		rc = TP_EMALF;
	const struct tp_sfv_bare *s256 = NULL, *s512 = NULL;
	for (size_t i = 0; rc == 0 && i < d->n_members; i++) {
		const struct tp_sfv_member *m = &d->members[i];
		if (m->inner || m->bare.type != TP_SFV_BYTES) {
			rc = TP_EMALF;
			break;
		}
		/* A repeated algorithm would make "which one counts" a choice. */
		for (size_t j = 0; j < i; j++)
			if (d->members[j].key.len == m->key.len &&
			    memcmp(d->members[j].key.p, m->key.p, m->key.len) == 0)
				rc = TP_EMALF;
		if (tp_sfv_span_is(m->key, "sha-256"))
			s256 = &m->bare;
		else if (tp_sfv_span_is(m->key, "sha-512"))
			s512 = &m->bare;
	}
	if (rc == 0) {
		if (s256 != NULL)
			rc = digest_check(s256, EVP_sha256(), body, len);
		else if (s512 != NULL)
			rc = digest_check(s512, EVP_sha512(), body, len);
		else
			rc = TP_EMISSING;
	}
	free(d);
	return rc;
}

/* ---- signing ------------------------------------------------------------- */

static bool valid_label(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > TP_HTTPSIG_LABEL_MAX || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '*'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      strchr("_-.*", s[i]) != NULL))
			return false;
	return true;
}

int tp_httpsig_sign(EVP_PKEY *key, const struct tp_httpsig_msg *msg,
		    const struct tp_httpsig_sign_opts *opts,
		    char sig_input[TP_HTTPSIG_INPUT_OUT_MAX],
		    char signature[TP_HTTPSIG_SIGNATURE_OUT_MAX])
{
	if (key == NULL || msg == NULL || msg->header == NULL || opts == NULL ||
	    sig_input == NULL || signature == NULL || opts->label == NULL ||
	    opts->keyid == NULL || opts->covered == NULL || opts->n_covered == 0 ||
	    opts->n_covered > TP_HTTPSIG_COMPONENTS_MAX || !valid_label(opts->label) ||
	    opts->created < 0 || opts->created > 999999999999999LL ||
	    EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519)
		return TP_EINVAL;
	sig_input[0] = signature[0] = '\0';
	size_t klen = strlen(opts->keyid), priv_len = 0;
	if (klen == 0 || klen > TP_HTTPSIG_KEYID_MAX ||
	    EVP_PKEY_get_raw_private_key(key, NULL, &priv_len) != 1) {
		ERR_clear_error();
		return TP_EINVAL;
	}
	char (*names)[TP_HTTPSIG_COMPONENT_NAME_MAX + 1u] =
		calloc(TP_HTTPSIG_COMPONENTS_MAX, sizeof(*names));
	struct base params = { 0 }, b = { 0 };
	int rc = names == NULL ? -ENOMEM : 0;
	/* The inner list and its parameters (RFC 8941 §4.1.1.1). */
	put_str(&params, "(");
	for (size_t i = 0; rc == 0 && i < opts->n_covered; i++) {
		const char *c = opts->covered[i];
		if (c == NULL || !valid_name(c, strlen(c))) {
			rc = TP_EINVAL;
			break;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[j], c) == 0)
				rc = TP_EINVAL;
		memcpy(names[i], c, strlen(c) + 1u);
		put_str(&params, i == 0 ? "\"" : " \"");
		put_str(&params, c);
		put_str(&params, "\"");
	}
	char num[64];
	int nn = snprintf(num, sizeof(num), ");created=%lld;alg=\"ed25519\";keyid=\"",
			  (long long)opts->created);
	if (rc == 0 && (nn <= 0 || (size_t)nn >= sizeof(num)))
		rc = TP_EBUG;
	if (rc == 0)
		put_str(&params, num);
	for (size_t i = 0; rc == 0 && i < klen; i++) {
		char ch = opts->keyid[i];
		if (ch < 0x20 || ch > 0x7e) {
			rc = TP_EINVAL;
			break;
		}
		if (ch == '"' || ch == '\\')
			put_str(&params, "\\");
		put(&params, &ch, 1);
	}
	put_str(&params, "\"");
	if (rc == 0)
		rc = params.err;
	if (rc == 0)
		rc = build_base(msg, names, opts->n_covered, params.p, params.len, &b);
	if (rc == 0 && strlen(opts->label) + 1u + params.len + 1u > TP_HTTPSIG_INPUT_OUT_MAX)
		rc = TP_ENOSPACE;
	uint8_t sig[64];
	size_t sig_len = sizeof(sig);
	EVP_MD_CTX *ctx = NULL;
	if (rc == 0) {
		ctx = EVP_MD_CTX_new();
		if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
		    EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)b.p,
				   b.len) != 1 || sig_len != sizeof(sig))
			rc = TP_EBUG;
	}
	if (rc == 0) {
		int n = snprintf(sig_input, TP_HTTPSIG_INPUT_OUT_MAX, "%s=%.*s",
				 opts->label, (int)params.len, params.p);
		size_t lab = strlen(opts->label);
		char b64[100];
		if (n < 0 || (size_t)n >= TP_HTTPSIG_INPUT_OUT_MAX ||
		    tp_sfv_bytes_encode(sig, sig_len, b64, sizeof(b64)) != 0 ||
		    lab + strlen(b64) + 4u > TP_HTTPSIG_SIGNATURE_OUT_MAX)
			rc = TP_EBUG;
		else if (snprintf(signature, TP_HTTPSIG_SIGNATURE_OUT_MAX, "%s=:%s:",
				  opts->label, b64) < 0)
			rc = TP_EBUG;
	}
	if (rc != 0) {
		sig_input[0] = signature[0] = '\0';
		ERR_clear_error();
	}
	EVP_MD_CTX_free(ctx);
	free(params.p);
	free(b.p);
	free(names);
	return rc;
}

/* ---- verifying ----------------------------------------------------------- */

/* Copy an unescaped SF string's text into out[0..size). */
static bool copy_string(const struct tp_sfv_bare *v, char *out, size_t size)
{
	if (v->type != TP_SFV_STRING || v->escaped || v->text.len >= size ||
	    memchr(v->text.p, '\0', v->text.len) != NULL)
		return false;
	memcpy(out, v->text.p, v->text.len);
	out[v->text.len] = '\0';
	return true;
}

static bool valid_keyid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

struct parsed {
	struct tp_sfv_dict input, sig;
	char names[TP_HTTPSIG_COMPONENTS_MAX][TP_HTTPSIG_COMPONENT_NAME_MAX + 1u];
	uint8_t sig_bytes[TP_HTTPSIG_SIG_MAX];
	size_t sig_len;
};

/* Steps TP_EMISSING .. TP_EMULTI of the header's list. */
static int parse_fields(const struct tp_httpsig_msg *msg, struct parsed *ps)
{
	const char *si = msg->header(msg->ctx, "signature-input");
	const char *sg = msg->header(msg->ctx, "signature");
	if (si == NULL || sg == NULL)
		return TP_EMISSING;
	size_t si_len = strlen(si), sg_len = strlen(sg);
	if (si_len > TP_HTTPSIG_FIELD_MAX || sg_len > TP_HTTPSIG_FIELD_MAX)
		return TP_ETOOBIG;
	int rc = tp_sfv_parse_dict(si, si_len, &ps->input);
	if (rc == 0)
		rc = tp_sfv_parse_dict(sg, sg_len, &ps->sig);
	if (rc != 0)
		return rc;
	/* RFC 9421 §4.1: each Signature-Input member an inner list of
	 * strings; §4.2: each Signature member a byte sequence. */
	for (size_t i = 0; i < ps->input.n_members; i++) {
		const struct tp_sfv_member *m = &ps->input.members[i];
		if (!m->inner)
			return TP_EMALF;
		for (size_t j = 0; j < m->n_items; j++)
			if (ps->input.items[m->first_item + j].bare.type != TP_SFV_STRING)
				return TP_EMALF;
		if (m->key.len > TP_HTTPSIG_LABEL_MAX)
			return TP_ETOOBIG;
	}
	for (size_t i = 0; i < ps->sig.n_members; i++) {
		const struct tp_sfv_member *m = &ps->sig.members[i];
		if (m->inner || m->bare.type != TP_SFV_BYTES)
			return TP_EMALF;
		rc = tp_sfv_bytes_decode(m->bare.text, ps->sig_bytes,
					 sizeof(ps->sig_bytes), &ps->sig_len);
		if (rc == TP_ENOSPACE)
			return TP_ETOOBIG;
		if (rc != 0)
			return TP_EMALF;
	}
	if (ps->input.n_members != 1 || ps->sig.n_members != 1 ||
	    ps->input.members[0].key.len != ps->sig.members[0].key.len ||
	    memcmp(ps->input.members[0].key.p, ps->sig.members[0].key.p,
		   ps->sig.members[0].key.len) != 0)
		return TP_EMULTI;
	return 0;
}

static int check_params(const struct tp_sfv_dict *d, const struct tp_sfv_member *m,
			const struct tp_httpsig_policy *pol,
			struct tp_httpsig_verified *out, bool *has_keyid,
			struct tp_sfv_span *alg)
{
	static const char *const known[] = { "alg", "created", "expires", "keyid", "nonce" };
	bool seen[5] = { false };
	bool has_created = false;
	*has_keyid = false;
	alg->p = NULL;
	alg->len = 0;
	for (size_t i = 0; i < m->n_params; i++) {
		const struct tp_sfv_param *p = &d->params[m->first_param + i];
		size_t k = 0;
		while (k < 5u && !tp_sfv_span_is(p->key, known[k]))
			k++;
		if (k == 5u || seen[k])
			return TP_EPARAM;
		seen[k] = true;
		bool want_int = k == 1u || k == 2u;
		if (p->value.type != (want_int ? TP_SFV_INTEGER : TP_SFV_STRING))
			return TP_EPARAM;
		switch (k) {
		case 0:
			*alg = p->value.text;
			break;
		case 1:
			has_created = true;
			out->created = p->value.integer;
			if (out->created < pol->now && pol->now - out->created > pol->max_age_s)
				return TP_EPARAM;
			if (out->created > pol->now &&
			    out->created - pol->now > pol->future_skew_s)
				return TP_EPARAM;
			break;
		case 2:
			if (p->value.integer < pol->now)
				return TP_EPARAM;
			break;
		case 3:
			if (!copy_string(&p->value, out->keyid, sizeof(out->keyid)) ||
			    !valid_keyid(out->keyid))
				out->keyid[0] = '\0';
			*has_keyid = true;
			break;
		default:
			break;
		}
	}
	return has_created ? 0 : TP_EPARAM;
}

static int check_covered(const struct tp_sfv_dict *d, const struct tp_sfv_member *m,
			 const struct tp_httpsig_policy *pol, struct parsed *ps)
{
	if (m->n_items > TP_HTTPSIG_COMPONENTS_MAX)
		return TP_ECOVER;
	for (size_t i = 0; i < m->n_items; i++) {
		const struct tp_sfv_item *it = &d->items[m->first_item + i];
		if (it->n_params != 0 ||
		    !copy_string(&it->bare, ps->names[i], sizeof(ps->names[i])) ||
		    !valid_name(ps->names[i], it->bare.text.len))
			return TP_ECOVER;
		if (ps->names[i][0] == '@' &&
		    (!pol->allow_derived || !is_derived_known(ps->names[i])))
			return TP_ECOVER;
		for (size_t j = 0; j < i; j++)
			if (strcmp(ps->names[j], ps->names[i]) == 0)
				return TP_ECOVER;
	}
	for (size_t r = 0; r < pol->n_required; r++) {
		bool found = false;
		for (size_t i = 0; i < m->n_items && !found; i++)
			found = pol->required[r] != NULL &&
				strcmp(pol->required[r], ps->names[i]) == 0;
		if (!found)
			return TP_ECOVER;
	}
	return 0;
}

int tp_httpsig_verify(const struct tp_httpsig_msg *msg,
		      const struct tp_httpsig_policy *policy,
		      tp_httpsig_key_fn key_fn, void *key_ctx,
		      struct tp_httpsig_verified *out)
{
	if (msg == NULL || msg->header == NULL || policy == NULL || key_fn == NULL ||
	    out == NULL || (policy->n_required > 0 && policy->required == NULL))
		return TP_EINVAL;
	memset(out, 0, sizeof(*out));
	struct parsed *ps = malloc(sizeof(*ps));
	if (ps == NULL)
		return -ENOMEM;
	EVP_PKEY *key = NULL;
	struct base b = { 0 };
	int rc = parse_fields(msg, ps);
	if (rc != 0)
		goto out;
	const struct tp_sfv_member *m = &ps->input.members[0];
	bool has_keyid = false;
	struct tp_sfv_span alg_span;
	rc = check_params(&ps->input, m, policy, out, &has_keyid, &alg_span);
	if (rc != 0)
		goto out;
	enum alg a;
	if (alg_span.p != NULL) {
		a = alg_from_name(alg_span.p, alg_span.len);
	} else if (policy->alg_if_absent != NULL) {
		a = alg_from_name(policy->alg_if_absent, strlen(policy->alg_if_absent));
		alg_span.p = policy->alg_if_absent;
		alg_span.len = strlen(policy->alg_if_absent);
	} else {
		a = ALG_NONE;
	}
	if (a == ALG_NONE) {
		rc = TP_EALG;
		goto out;
	}
	memcpy(out->alg, alg_span.p, alg_span.len);
	out->alg[alg_span.len] = '\0';
	rc = check_covered(&ps->input, m, policy, ps);
	if (rc != 0)
		goto out;
	if (!has_keyid || out->keyid[0] == '\0') {
		rc = TP_EMALF;
		goto out;
	}
	rc = key_fn(key_ctx, out->keyid, &key);
	if (rc != 0 || key == NULL) {
		rc = rc != 0 ? rc : TP_EBUG;
		goto out;
	}
	if (!key_fits(key, a)) {
		rc = TP_EALG;
		goto out;
	}
	rc = build_base(msg, ps->names, m->n_items, m->raw.p, m->raw.len, &b);
	if (rc == 0)
		rc = verify_sig(key, a, &b, ps->sig_bytes, ps->sig_len);
	if (rc == 0) {
		memcpy(out->label, m->key.p, m->key.len);
		out->label[m->key.len] = '\0';
	}
out:
	if (rc != 0) {
		int64_t created = out->created;
		memset(out, 0, sizeof(*out));
		out->created = created;
	}
	EVP_PKEY_free(key);
	free(b.p);
	free(ps);
	return rc;
}
