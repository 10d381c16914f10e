/* SPDX-License-Identifier: BSD-2-Clause
 *
 * s3.h - a small S3 client: PUT, GET, HEAD and DELETE of objects and HEAD
 * and PUT of a bucket, over libcurl, signed with AWS Signature Version 4
 * (header form, x-amz-content-sha256 carrying the payload's SHA-256).
 *
 * Path-style addressing (http://host:port/bucket/key), which every
 * S3-compatible server accepts. One tp_s3 may be used by any number of
 * threads at once: each request has its own curl handle.
 *
 * The signing step is a pure function (tp_s3_sigv4) so AWS's published
 * SigV4 test vectors check it without a server.
 */
#ifndef TP_STORE_S3_H
#define TP_STORE_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Object keys are at most 1024 bytes of UTF-8 (S3's own limit). */
#define TP_S3_KEY_MAX 1024u
/* User metadata: at most this many x-amz-meta-* pairs, names [a-z0-9-]
 * of at most TP_S3_META_NAME_MAX bytes, values of printable ASCII (no
 * leading, trailing or double spaces) of at most TP_S3_META_VALUE_MAX. */
#define TP_S3_META_MAX 16u
#define TP_S3_META_NAME_MAX 64u
#define TP_S3_META_VALUE_MAX 1024u
/* Bytes of an error response read (to find its <Code>), and the longest
 * error code kept, with its NUL. */
#define TP_S3_ERROR_BODY_MAX (16u * 1024u)
#define TP_S3_ERRCODE_MAX 64u

struct tp_s3_config {
	const char *endpoint;   /* "http://127.0.0.1:9000" or https://…; required */
	const char *region;     /* "us-east-1" when NULL */
	const char *access_key; /* required */
	const char *secret_key; /* required */
	const char *bucket;     /* required; 3..63 of [a-z0-9.-] */
	const char *ca_file;    /* PEM for https endpoints; NULL = system roots */
	unsigned timeout_ms;    /* whole request; 0 = 30000 */
};

struct tp_s3_meta {
	const char *name;  /* without the x-amz-meta- prefix, lower case */
	const char *value; /* printable ASCII */
};

struct tp_s3;

/* Returns 0 and *out, or TP_EINVAL (a bad setting, logged) or -ENOMEM.
 * Makes no request. cfg is copied. */
int tp_s3_new(const struct tp_s3_config *cfg, struct tp_s3 **out) TP_WUR;
void tp_s3_free(struct tp_s3 *s3);

/* PUT key with body[0..len). Returns 0 once the server answered 200, or
 * TP_ECONN (no answer), TP_EREFUSED (another status; logged with the
 * server's error code), TP_EINVAL. */
int tp_s3_put(struct tp_s3 *s3, const char *key, const void *body, size_t len,
	      const char *content_type, const struct tp_s3_meta *meta,
	      size_t n_meta) TP_WUR;
/* GET key whole, at most max_len bytes. *body: heap, release with free();
 * *content_type (optional): heap or NULL. Returns 0, -ENOENT (404),
 * TP_ETOOBIG, TP_ECONN, TP_EREFUSED. */
int tp_s3_get(struct tp_s3 *s3, const char *key, size_t max_len, uint8_t **body,
	      size_t *len, char **content_type) TP_WUR;
/* HEAD key. Returns 0 and *len, -ENOENT, TP_ECONN, TP_EREFUSED. */
int tp_s3_head(struct tp_s3 *s3, const char *key, size_t *len) TP_WUR;
/* DELETE key; a missing key is success. */
int tp_s3_delete(struct tp_s3 *s3, const char *key) TP_WUR;
/* HEAD the bucket (health check) / PUT it (create; "already owned" is
 * success). */
int tp_s3_bucket_check(struct tp_s3 *s3) TP_WUR;
int tp_s3_bucket_create(struct tp_s3 *s3) TP_WUR;

/* The SigV4 step, exposed for the test vectors: the Authorization header
 * value for one request.
 *   headers: "name:value" lines already canonical (lower-case names,
 *            trimmed values), sorted by name, each ending in '\n', and
 *            including host and x-amz-date;
 *   signed_headers: "host;x-amz-date"; payload_sha256_hex: 64 hex digits;
 *   amz_date: "20150830T123600Z".
 * out: NUL-terminated. Returns 0, TP_EINVAL or TP_ENOSPACE. */
int tp_s3_sigv4(const char *method, const char *canonical_uri,
		const char *canonical_query, const char *headers,
		const char *signed_headers, const char *payload_sha256_hex,
		const char *amz_date, const char *region, const char *service,
		const char *access_key, const char *secret_key, char *out,
		size_t out_size) TP_WUR;

/* The <Code> of an S3 XML error body (untrusted), by a bounded scan of
 * its first TP_S3_ERROR_BODY_MAX bytes: the text between the first
 * "<Code>" and the next '<', which must be 1.. characters of
 * [A-Za-z0-9._-] (so it is safe to log). out: NUL-terminated, "" on error.
 * Returns 0, TP_EMALF (none, or other characters), TP_ENOSPACE, TP_EINVAL. */
int tp_s3_error_code(const void *body, size_t len, char *out, size_t out_size) TP_WUR;

#endif
