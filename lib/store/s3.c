/* SPDX-License-Identifier: BSD-2-Clause
 *
 * s3.c - the S3 client of s3.h: path-style requests over libcurl, signed
 * with AWS Signature Version 4 in the Authorization header.
 *
 * Written from AWS's "Authenticating Requests (AWS Signature Version 4)"
 * pages: canonical request, string to sign, the derived signing key
 * HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
 * "aws4_request"). Every request signs host, x-amz-content-sha256 (the
 * payload's SHA-256, so the server checks the body too), x-amz-date, the
 * content type and the user metadata; a PUT of an object also carries
 * x-amz-checksum-sha256 (base64 SHA-256), as the reference's
 * ChecksumSHA256 does, which AWS checks against the body it receives.
 *
 * Each request has its own curl easy handle, so one tp_s3 serves any number
 * of threads; nothing in struct tp_s3 changes after tp_s3_new(). We set
 * the Host header ourselves (the value we signed) and ask curl to send the
 * path as is, so what the server canonicalises is exactly what we signed.
 * Response bodies are bounded: an error body is read up to
 * TP_S3_ERROR_BODY_MAX, only to take its <Code> for the log.
 */
#include "store/s3.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/ascii.h"
#include "util/log.h"

#define SHA256_LEN 32u
#define SHA256_HEX_LEN 64u
#define AMZ_DATE_LEN 16u /* 20150830T123600Z */
#define DEFAULT_TIMEOUT_MS 30000u
#define CONNECT_TIMEOUT_MS 10000u
/* Bounds on settings we copy into signatures and headers. */
#define SETTING_MAX 256u
#define HOST_MAX 256u
#define BUCKET_MIN 3u
#define BUCKET_MAX 63u
/* Canonical header block of one request: our fixed headers and at most
 * TP_S3_META_MAX metadata pairs, each bounded. */
#define HEADERS_MAX (4096u + TP_S3_META_MAX * (TP_S3_META_NAME_MAX + TP_S3_META_VALUE_MAX + 16u))
#define CONTENT_TYPE_MAX 128u

struct tp_s3 {
	char *base;   /* scheme://host[:port], no trailing slash */
	char host[HOST_MAX];
	char *region;
	char *access_key;
	char *secret_key;
	char *bucket;
	char *ca_file;
	long timeout_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Locale-free character classes (STYLE §3.5). */
static bool is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_alnum(unsigned char c)
{
	return is_lower(c) || (c >= 'A' && c <= 'Z') || tp_ascii_isdigit(c);
}

static bool is_xdigit(unsigned char c)
{
	return tp_ascii_isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15u];
	}
	out[2 * len] = '\0';
}

static bool sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;
	return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == SHA256_LEN;
}

static bool hmac(const void *key, size_t key_len, const void *msg, size_t msg_len,
		 uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;
	if (key_len > (size_t)INT32_MAX)
		return false;
	return HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &n) != NULL &&
	       n == SHA256_LEN;
}

static bool is_hex64(const char *s)
{
	size_t i = 0;
	for (; s[i] != '\0'; i++)
		if (!is_xdigit((unsigned char)s[i]))
			return false;
	return i == SHA256_HEX_LEN;
}

static bool is_amz_date(const char *s)
{
	if (strlen(s) != AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
		return false;
	for (size_t i = 0; i < AMZ_DATE_LEN - 1u; i++)
		if (i != 8 && !tp_ascii_isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A credential-scope element: non-empty, bounded, no '/' or control. */
static bool scope_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > SETTING_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '/')
			return false;
	return true;
}

/* Feed "part\n" (or part alone) into the running hash. */
static bool feed(EVP_MD_CTX *ctx, const char *part, bool newline)
{
	return EVP_DigestUpdate(ctx, part, strlen(part)) == 1 &&
	       (!newline || EVP_DigestUpdate(ctx, "\n", 1) == 1);
}

int tp_s3_sigv4(const char *method, const char *canonical_uri, const char *canonical_query,
		const char *headers, const char *signed_headers, const char *payload_sha256_hex,
		const char *amz_date, const char *region, const char *service,
		const char *access_key, const char *secret_key, char *out, size_t out_size)
{
	if (out != NULL && out_size > 0)
		out[0] = '\0';
	if (method == NULL || canonical_uri == NULL || canonical_query == NULL ||
	    headers == NULL || signed_headers == NULL || payload_sha256_hex == NULL ||
	    amz_date == NULL || region == NULL || service == NULL || access_key == NULL ||
	    secret_key == NULL || out == NULL || !is_hex64(payload_sha256_hex) ||
	    !is_amz_date(amz_date) || !scope_ok(region) || !scope_ok(service) ||
	    !scope_ok(access_key) || strlen(secret_key) > SETTING_MAX || method[0] == '\0')
		return TP_EINVAL;

	/* Canonical request (hashed as it is produced, never materialised):
	 * method, URI, query, header lines, empty line, signed names, hash. */
	uint8_t digest[SHA256_LEN];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		  feed(ctx, method, true) && feed(ctx, canonical_uri, true) &&
		  feed(ctx, canonical_query, true) && feed(ctx, headers, true) &&
		  feed(ctx, signed_headers, true) && feed(ctx, payload_sha256_hex, false) &&
		  EVP_DigestFinal_ex(ctx, digest, &dlen) == 1 && dlen == SHA256_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return TP_EBUG;
	char creq_hex[SHA256_HEX_LEN + 1u];
	hex(digest, SHA256_LEN, creq_hex);

	char date[9];
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	char sts[4u * SETTING_MAX];
	int n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
			 amz_date, date, region, service, creq_hex);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return TP_EINVAL;

	char ksecret[SETTING_MAX + 5u];
	size_t slen = strlen(secret_key);
	memcpy(ksecret, "AWS4", 4);
	memcpy(ksecret + 4, secret_key, slen);
	uint8_t k1[SHA256_LEN], k2[SHA256_LEN], k3[SHA256_LEN], k4[SHA256_LEN], sig[SHA256_LEN];
	ok = hmac(ksecret, slen + 4u, date, 8, k1) &&
	     hmac(k1, SHA256_LEN, region, strlen(region), k2) &&
	     hmac(k2, SHA256_LEN, service, strlen(service), k3) &&
	     hmac(k3, SHA256_LEN, "aws4_request", 12, k4) &&
	     hmac(k4, SHA256_LEN, sts, (size_t)n, sig);
	OPENSSL_cleanse(ksecret, sizeof(ksecret));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	OPENSSL_cleanse(k4, sizeof(k4));
	if (!ok)
		return TP_EBUG;
	char sig_hex[SHA256_HEX_LEN + 1u];
	hex(sig, SHA256_LEN, sig_hex);

	n = snprintf(out, out_size,
		     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
		     "SignedHeaders=%s, Signature=%s",
		     access_key, date, region, service, signed_headers, sig_hex);
	if (n < 0 || (size_t)n >= out_size) {
		out[0] = '\0';
		return TP_ENOSPACE;
	}
	return 0;
}

int tp_s3_error_code(const void *body, size_t len, char *out, size_t out_size)
{
	static const char open_tag[] = "<Code>";
	const size_t open_len = sizeof(open_tag) - 1u;
	if (out == NULL || out_size == 0 || (body == NULL && len > 0))
		return TP_EINVAL;
	out[0] = '\0';
	if (len > TP_S3_ERROR_BODY_MAX)
		len = TP_S3_ERROR_BODY_MAX;
	const char *p = body;
	for (size_t i = 0; i + open_len <= len; i++) {
		if (memcmp(p + i, open_tag, open_len) != 0)
			continue;
		size_t j = i + open_len, k = 0;
		for (; j < len && p[j] != '<'; j++) {
			unsigned char c = (unsigned char)p[j];
			if (!is_alnum(c) && c != '.' && c != '-' && c != '_') {
				out[0] = '\0';
				return TP_EMALF;
			}
			if (k + 1u >= out_size) {
				out[0] = '\0';
				return TP_ENOSPACE;
			}
			out[k++] = (char)c;
		}
		if (j == len || k == 0) {
			out[0] = '\0';
			return TP_EMALF;
		}
		out[k] = '\0';
		return 0;
	}
	return TP_EMALF;
}

static char *dup_opt(const char *s, const char *dflt)
{
	return strdup(s != NULL ? s : dflt);
}

/* Split endpoint "http[s]://host[:port][/]" into base and host. */
static bool parse_endpoint(const char *ep, struct tp_s3 *s3)
{
	size_t skip;
	if (strncasecmp(ep, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(ep, "https://", 8) == 0)
		skip = 8;
	else
		return false;
	const char *h = ep + skip;
	size_t hl = strcspn(h, "/");
	if (hl == 0 || hl >= HOST_MAX || (h[hl] == '/' && h[hl + 1] != '\0'))
		return false;
	for (size_t i = 0; i < hl; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!is_alnum(c) && c != '.' && c != '-' && c != ':' && c != '[' && c != ']')
			return false; /* no userinfo, query or fragment */
		s3->host[i] = (char)tp_ascii_tolower(c);
	}
	s3->host[hl] = '\0';
	s3->base = strndup(ep, skip + hl);
	return s3->base != NULL;
}

static bool bucket_ok(const char *b)
{
	size_t n = strlen(b);
	if (n < BUCKET_MIN || n > BUCKET_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower((unsigned char)b[i]) && !tp_ascii_isdigit((unsigned char)b[i]) &&
		    b[i] != '.' && b[i] != '-')
			return false;
	return true;
}

int tp_s3_new(const struct tp_s3_config *cfg, struct tp_s3 **out)
{
	if (out != NULL)
		*out = NULL;
	if (cfg == NULL || out == NULL || cfg->endpoint == NULL || cfg->access_key == NULL ||
	    cfg->secret_key == NULL || cfg->bucket == NULL) {
		tp_log_err(s3, "endpoint, access key, secret key and bucket are required");
		return TP_EINVAL;
	}
	if (!bucket_ok(cfg->bucket)) {
		tp_log_err(s3, "bucket name must be 3 to 63 of [a-z0-9.-]");
		return TP_EINVAL;
	}
	const char *region = cfg->region != NULL ? cfg->region : "us-east-1";
	if (!scope_ok(region) || !scope_ok(cfg->access_key) ||
	    strlen(cfg->secret_key) > SETTING_MAX || cfg->secret_key[0] == '\0') {
		tp_log_err(s3, "region, access key or secret key malformed");
		return TP_EINVAL;
	}
	if (pthread_once(&curl_once, curl_init) != 0 || curl_init_rc != CURLE_OK) {
		tp_log_err(s3, "libcurl initialisation failed");
		return TP_EBUG;
	}
	struct tp_s3 *s3 = calloc(1, sizeof(*s3));
	if (s3 == NULL)
		return -ENOMEM;
	if (!parse_endpoint(cfg->endpoint, s3)) {
		tp_s3_free(s3);
		tp_log_err(s3, "endpoint must be http[s]://host[:port] without a path");
		return TP_EINVAL;
	}
	s3->region = dup_opt(region, "");
	s3->access_key = dup_opt(cfg->access_key, "");
	s3->secret_key = dup_opt(cfg->secret_key, "");
	s3->bucket = dup_opt(cfg->bucket, "");
	s3->ca_file = cfg->ca_file != NULL ? strdup(cfg->ca_file) : NULL;
	s3->timeout_ms = (long)(cfg->timeout_ms != 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS);
	if (s3->region == NULL || s3->access_key == NULL || s3->secret_key == NULL ||
	    s3->bucket == NULL || (cfg->ca_file != NULL && s3->ca_file == NULL)) {
		tp_s3_free(s3);
		return -ENOMEM;
	}
	*out = s3;
	return 0;
}

void tp_s3_free(struct tp_s3 *s3)
{
	if (s3 == NULL)
		return;
	free(s3->base);
	free(s3->region);
	free(s3->access_key);
	if (s3->secret_key != NULL) {
		OPENSSL_cleanse(s3->secret_key, strlen(s3->secret_key));
		free(s3->secret_key);
	}
	free(s3->bucket);
	free(s3->ca_file);
	free(s3);
}

/* ---- one request ---------------------------------------------------- */

/* A growable text buffer with a fixed ceiling; a failed append sets err. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool err;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->err || n > b->cap - b->len - 1u) {
		b->err = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* SigV4 UriEncode of an object key, '/' kept (S3 encodes the path once). */
static void sb_key(struct sbuf *b, const char *key)
{
	static const char digits[] = "0123456789ABCDEF";
	for (const unsigned char *k = (const unsigned char *)key; *k != '\0'; k++) {
		if (is_alnum(*k) || *k == '-' || *k == '.' || *k == '_' || *k == '~' || *k == '/') {
			sb_add(b, (const char *)k, 1);
		} else {
			char esc[3] = { '%', digits[*k >> 4], digits[*k & 15u] };
			sb_add(b, esc, 3);
		}
	}
}

/* Keys we send: 1..TP_S3_KEY_MAX bytes, no control bytes, no empty, "."
 * or ".." segment and no leading '/' (servers would normalise those, and
 * the signature would no longer match). */
static bool key_ok(const char *key)
{
	size_t n = strlen(key);
	if (n == 0 || n > TP_S3_KEY_MAX)
		return false;
	const char *seg = key;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c != '\0' && (c < 0x20 || c == 0x7f))
			return false;
		if (c == '/' || c == '\0') {
			size_t sl = (size_t)(key + i - seg);
			if (sl == 0 || (sl == 1 && seg[0] == '.') ||
			    (sl == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			seg = key + i + 1;
		}
	}
	return true;
}

/* A header value we sign: printable ASCII, no leading, trailing or double
 * spaces (SigV4 would trim and fold them; refusing keeps both sides equal). */
static bool value_ok(const char *v, size_t max)
{
	size_t n = strlen(v);
	if (n == 0 || n > max || v[0] == ' ' || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return false;
		if (v[i] == ' ' && v[i + 1] == ' ')
			return false;
	}
	return true;
}

static bool meta_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > TP_S3_META_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower((unsigned char)name[i]) && !tp_ascii_isdigit((unsigned char)name[i]) &&
		    name[i] != '-')
			return false;
	return true;
}

struct request {
	const char *method;
	const char *key; /* NULL: the bucket itself */
	const uint8_t *body;
	size_t len;
	const char *content_type;
	const struct tp_s3_meta *meta;
	size_t n_meta;
	bool head;
	size_t max_body; /* response body ceiling on success */
};

struct response {
	long status;
	uint8_t *body;
	size_t len, cap, max;
	bool overflow;
	char *content_type;
	curl_off_t content_length;
};

struct upload {
	const uint8_t *p;
	size_t left;
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct upload *u = ud;
	size_t n = size * nitems;
	if (n > u->left)
		n = u->left;
	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct response *r = ud;
	size_t n = size * nmemb;
	if (n > r->max - r->len) {
		r->overflow = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap == 0 ? 16384u : r->cap;
		while (cap < r->len + n)
			cap = cap > r->max / 2u ? r->max : cap * 2u;
		uint8_t *p = realloc(r->body, cap);
		if (p == NULL)
			return 0;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	return n;
}

static int cmp_meta(const void *a, const void *b)
{
	const struct tp_s3_meta *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

/* Appends "name:value\n" to the canonical block and "name: value" to curl's
 * list; signed names to names. */
static void add_header(struct sbuf *canon, struct sbuf *names, struct curl_slist **list,
		       bool *list_err, const char *name, const char *prefix, const char *value)
{
	if (names->len > 0)
		sb_str(names, ";");
	sb_str(names, prefix);
	sb_str(names, name);
	sb_str(canon, prefix);
	sb_str(canon, name);
	sb_str(canon, ":");
	sb_str(canon, value);
	sb_str(canon, "\n");
	char line[TP_S3_META_NAME_MAX + TP_S3_META_VALUE_MAX + 32u];
	int n = snprintf(line, sizeof(line), "%s%s: %s", prefix, name, value);
	struct curl_slist *l = NULL;
	if (n > 0 && (size_t)n < sizeof(line))
		l = curl_slist_append(*list, line);
	if (l == NULL)
		*list_err = true;
	else
		*list = l;
}

static int perform(struct tp_s3 *s3, const struct request *rq, struct response *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->content_length = -1;
	rs->max = rq->max_body > TP_S3_ERROR_BODY_MAX ? rq->max_body : TP_S3_ERROR_BODY_MAX;

	char amz_date[AMZ_DATE_LEN + 1u];
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm) != AMZ_DATE_LEN)
		return TP_EBUG;

	uint8_t digest[SHA256_LEN];
	char payload_hex[SHA256_HEX_LEN + 1u];
	if (!sha256(rq->body != NULL ? (const void *)rq->body : "", rq->len, digest))
		return TP_EBUG;
	hex(digest, SHA256_LEN, payload_hex);
	char checksum[48];
	bool with_checksum = rq->key != NULL && strcmp(rq->method, "PUT") == 0;
	if (with_checksum &&
	    EVP_EncodeBlock((unsigned char *)checksum, digest, (int)SHA256_LEN) != 44)
		return TP_EBUG;

	/* Sorted by name: content-type, host, x-amz-checksum-sha256,
	 * x-amz-content-sha256, x-amz-date, x-amz-meta-* (sorted). */
	const struct tp_s3_meta *sorted[TP_S3_META_MAX];
	for (size_t i = 0; i < rq->n_meta; i++)
		sorted[i] = &rq->meta[i];
	qsort(sorted, rq->n_meta, sizeof(sorted[0]), cmp_meta);

	int rc = TP_EBUG;
	char *canon_p = malloc(HEADERS_MAX), *names_p = malloc(HEADERS_MAX);
	char *url_p = malloc(TP_S3_KEY_MAX * 3u + HOST_MAX + 2u * BUCKET_MAX + 64u);
	struct sbuf canon = { canon_p, 0, HEADERS_MAX, canon_p == NULL };
	struct sbuf names = { names_p, 0, HEADERS_MAX, names_p == NULL };
	struct sbuf path = { url_p, 0, TP_S3_KEY_MAX * 3u + HOST_MAX + 2u * BUCKET_MAX + 64u,
			     url_p == NULL };
	struct curl_slist *list = NULL;
	bool list_err = false;
	CURL *c = NULL;
	if (canon.err || names.err || path.err) {
		rc = -ENOMEM;
		goto out;
	}
	canon.p[0] = names.p[0] = path.p[0] = '\0';

	if (rq->content_type != NULL)
		add_header(&canon, &names, &list, &list_err, "content-type", "",
			   rq->content_type);
	add_header(&canon, &names, &list, &list_err, "host", "", s3->host);
	if (with_checksum)
		add_header(&canon, &names, &list, &list_err, "x-amz-checksum-sha256", "",
			   checksum);
	add_header(&canon, &names, &list, &list_err, "x-amz-content-sha256", "", payload_hex);
	add_header(&canon, &names, &list, &list_err, "x-amz-date", "", amz_date);
	for (size_t i = 0; i < rq->n_meta; i++)
		add_header(&canon, &names, &list, &list_err, sorted[i]->name, "x-amz-meta-",
			   sorted[i]->value);

	sb_str(&path, "/");
	sb_str(&path, s3->bucket);
	if (rq->key != NULL) {
		sb_str(&path, "/");
		sb_key(&path, rq->key);
	}
	if (canon.err || names.err || path.err || list_err) {
		rc = list_err ? -ENOMEM : TP_EINVAL;
		goto out;
	}

	char auth[sizeof("Authorization: ") + 4u * SETTING_MAX + HEADERS_MAX];
	memcpy(auth, "Authorization: ", 15);
	rc = tp_s3_sigv4(rq->method, path.p, "", canon.p, names.p, payload_hex, amz_date,
			 s3->region, "s3", s3->access_key, s3->secret_key, auth + 15,
			 sizeof(auth) - 15u);
	if (rc != 0)
		goto out;
	struct curl_slist *l = curl_slist_append(list, auth);
	OPENSSL_cleanse(auth, sizeof(auth));
	if (l == NULL || (list = l, l = curl_slist_append(list, "Expect:")) == NULL ||
	    (list = l, l = curl_slist_append(list, "Accept:")) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	list = l;

	/* The URL: base + path (path already percent-encoded). */
	char url[TP_S3_KEY_MAX * 3u + HOST_MAX + 2u * BUCKET_MAX + 96u];
	int un = snprintf(url, sizeof(url), "%s%s", s3->base, path.p);
	if (un < 0 || (size_t)un >= sizeof(url)) {
		rc = TP_EINVAL;
		goto out;
	}

	c = curl_easy_init();
	if (c == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	struct upload up = { rq->body, rq->len };
	CURLcode cc = CURLE_OK;
#define SETOPT(opt, val)                                        \
	do {                                                    \
		if (cc == CURLE_OK)                             \
			cc = curl_easy_setopt(c, opt, val);     \
	} while (0)
	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_PATH_AS_IS, 1L);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_TIMEOUT_MS, s3->timeout_ms);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
	       s3->timeout_ms < (long)CONNECT_TIMEOUT_MS ? s3->timeout_ms : (long)CONNECT_TIMEOUT_MS);
	SETOPT(CURLOPT_HTTPHEADER, list);
	SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(CURLOPT_WRITEDATA, rs);
	if (s3->ca_file != NULL)
		SETOPT(CURLOPT_CAINFO, s3->ca_file);
	if (strcmp(rq->method, "PUT") == 0) {
		SETOPT(CURLOPT_UPLOAD, 1L);
		SETOPT(CURLOPT_READFUNCTION, read_cb);
		SETOPT(CURLOPT_READDATA, &up);
		SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->len);
	} else if (rq->head) {
		SETOPT(CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "GET") != 0) {
		SETOPT(CURLOPT_CUSTOMREQUEST, rq->method);
	}
#undef SETOPT
	if (cc != CURLE_OK) {
		rc = TP_EBUG;
		goto out;
	}
	cc = curl_easy_perform(c);
	long status = 0;
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		status = 0;
	rs->status = status;
	if (cc == CURLE_WRITE_ERROR && rs->overflow && status != 0) {
		rc = 0; /* answered; the caller judges the overflow by status */
	} else if (cc != CURLE_OK) {
		tp_log_limited(TP_LOG_WARNING, s3, "%s: %s", rq->method, curl_easy_strerror(cc));
		rc = TP_ECONN;
		goto out;
	} else {
		rc = 0;
	}
	char *ct = NULL;
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL &&
	    strlen(ct) <= CONTENT_TYPE_MAX) {
		rs->content_type = strdup(ct);
		if (rs->content_type == NULL)
			rc = -ENOMEM;
	}
	curl_off_t cl = -1;
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
		rs->content_length = cl;
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(list);
	free(canon_p);
	free(names_p);
	free(url_p);
	if (rc != 0) {
		free(rs->body);
		free(rs->content_type);
		memset(rs, 0, sizeof(*rs));
	}
	return rc;
}

static void response_free(struct response *rs)
{
	free(rs->body);
	free(rs->content_type);
	memset(rs, 0, sizeof(*rs));
}

/* Log an unexpected answer with the server's error code, if it sent one. */
static int refused(const char *what, const struct response *rs)
{
	char code[TP_S3_ERRCODE_MAX];
	if (tp_s3_error_code(rs->body, rs->len, code, sizeof(code)) != 0)
		snprintf(code, sizeof(code), "%s", "-");
	tp_log_limited(TP_LOG_WARNING, s3, "%s: HTTP %ld, code %s", what, rs->status, code);
	return TP_EREFUSED;
}

static int check_meta(const struct tp_s3_meta *meta, size_t n_meta)
{
	if (n_meta > TP_S3_META_MAX || (meta == NULL && n_meta > 0))
		return TP_EINVAL;
	for (size_t i = 0; i < n_meta; i++) {
		if (meta[i].name == NULL || meta[i].value == NULL ||
		    !meta_name_ok(meta[i].name) || !value_ok(meta[i].value, TP_S3_META_VALUE_MAX))
			return TP_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(meta[i].name, meta[j].name) == 0)
				return TP_EINVAL;
	}
	return 0;
}

int tp_s3_put(struct tp_s3 *s3, const char *key, const void *body, size_t len,
	      const char *content_type, const struct tp_s3_meta *meta, size_t n_meta)
{
	if (s3 == NULL || key == NULL || !key_ok(key) || (body == NULL && len > 0) ||
	    (content_type != NULL && !value_ok(content_type, CONTENT_TYPE_MAX)) ||
	    check_meta(meta, n_meta) != 0)
		return TP_EINVAL;
	struct request rq = { .method = "PUT", .key = key, .body = body, .len = len,
			      .content_type = content_type, .meta = meta, .n_meta = n_meta };
	struct response rs;
	int rc = perform(s3, &rq, &rs);
	if (rc != 0)
		return rc;
	if (rs.status != 200)
		rc = refused("PUT object", &rs);
	response_free(&rs);
	return rc;
}

int tp_s3_get(struct tp_s3 *s3, const char *key, size_t max_len, uint8_t **body, size_t *len,
	      char **content_type)
{
	if (body != NULL)
		*body = NULL;
	if (len != NULL)
		*len = 0;
	if (content_type != NULL)
		*content_type = NULL;
	if (s3 == NULL || key == NULL || !key_ok(key) || body == NULL || len == NULL)
		return TP_EINVAL;
	struct request rq = { .method = "GET", .key = key, .max_body = max_len };
	struct response rs;
	int rc = perform(s3, &rq, &rs);
	if (rc != 0)
		return rc;
	if (rs.status == 404) {
		rc = -ENOENT;
	} else if (rs.status != 200) {
		rc = refused("GET object", &rs);
	} else if (rs.overflow || rs.len > max_len) {
		rc = TP_ETOOBIG;
	} else {
		*body = rs.body != NULL ? rs.body : malloc(1);
		if (*body == NULL) {
			rc = -ENOMEM;
		} else {
			*len = rs.len;
			rs.body = NULL;
			if (content_type != NULL) {
				*content_type = rs.content_type;
				rs.content_type = NULL;
			}
		}
	}
	response_free(&rs);
	return rc;
}

int tp_s3_head(struct tp_s3 *s3, const char *key, size_t *len)
{
	if (len != NULL)
		*len = 0;
	if (s3 == NULL || key == NULL || !key_ok(key) || len == NULL)
		return TP_EINVAL;
	struct request rq = { .method = "HEAD", .key = key, .head = true };
	struct response rs;
	int rc = perform(s3, &rq, &rs);
	if (rc != 0)
		return rc;
	if (rs.status == 404)
		rc = -ENOENT;
	else if (rs.status != 200)
		rc = refused("HEAD object", &rs);
	else if (rs.content_length < 0)
		rc = TP_EREFUSED;
	else
		*len = (size_t)rs.content_length;
	response_free(&rs);
	return rc;
}

int tp_s3_delete(struct tp_s3 *s3, const char *key)
{
	if (s3 == NULL || key == NULL || !key_ok(key))
		return TP_EINVAL;
	struct request rq = { .method = "DELETE", .key = key };
	struct response rs;
	int rc = perform(s3, &rq, &rs);
	if (rc != 0)
		return rc;
	if (rs.status != 200 && rs.status != 204 && rs.status != 404)
		rc = refused("DELETE object", &rs);
	response_free(&rs);
	return rc;
}

int tp_s3_bucket_check(struct tp_s3 *s3)
{
	if (s3 == NULL)
		return TP_EINVAL;
	struct request rq = { .method = "HEAD", .head = true };
	struct response rs;
	int rc = perform(s3, &rq, &rs);
	if (rc != 0)
		return rc;
	if (rs.status == 404)
		rc = -ENOENT;
	else if (rs.status != 200)
		rc = refused("HEAD bucket", &rs);
	response_free(&rs);
	return rc;
}

int tp_s3_bucket_create(struct tp_s3 *s3)
{
	if (s3 == NULL)
		return TP_EINVAL;
	struct request rq = { .method = "PUT" };
	struct response rs;
	int rc = perform(s3, &rq, &rs);
	if (rc != 0)
		return rc;
	long status = rs.status;
	if (status == 409) {
		/* BucketAlreadyOwnedByYou (AWS) or BucketAlreadyExists (some
		 * servers say so for our own bucket): ours if we can HEAD it. */
		response_free(&rs);
		return tp_s3_bucket_check(s3);
	}
	if (status != 200)
		rc = refused("PUT bucket", &rs);
	response_free(&rs);
	return rc;
}
