/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_s3.c - the S3 client's pure parts (lib/store/s3.h): the SigV4 step
 * against AWS's published vectors, the <Code> scan of error bodies, and
 * the settings tp_s3_new() refuses.
 *
 * Vectors: the AWS Signature Version 4 test suite (credentials AKIDEXAMPLE
 * / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, service "service",
 * 20150830T123600Z: get-vanilla, post-vanilla, get-vanilla-query-order-key-
 * case, post-x-www-form-urlencoded, get-unreserved, get-utf8) and the S3
 * "Examples: Signature Calculations" page (AKIAIOSFODNN7EXAMPLE, s3,
 * 20130524T000000Z: GET object with Range, PUT object with an encoded '$',
 * GET bucket lifecycle, list objects). The expected Authorization values
 * are AWS's, not ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "store/s3.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SUITE_AK "AKIDEXAMPLE"
#define SUITE_SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define SUITE_HEADERS "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
#define SUITE_CRED "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
#define S3_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_DATE "20130524T000000Z"
#define S3_CRED "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
#define S3_HOST "host:examplebucket.s3.amazonaws.com\n"

struct vector {
	const char *name, *method, *uri, *query, *headers, *signed_headers, *payload;
	const char *date, *service, *ak, *sk, *want;
};

static const struct vector vectors[] = {
	{ "get-vanilla", "GET", "/", "", SUITE_HEADERS, "host;x-amz-date", EMPTY_SHA256,
	  SUITE_DATE, "service", SUITE_AK, SUITE_SK,
	  SUITE_CRED "SignedHeaders=host;x-amz-date, "
		     "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },
	{ "post-vanilla", "POST", "/", "", SUITE_HEADERS, "host;x-amz-date", EMPTY_SHA256,
	  SUITE_DATE, "service", SUITE_AK, SUITE_SK,
	  SUITE_CRED "SignedHeaders=host;x-amz-date, "
		     "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b" },
	{ "get-vanilla-query-order-key-case", "GET", "/", "Param1=value1&Param2=value2",
	  SUITE_HEADERS, "host;x-amz-date", EMPTY_SHA256, SUITE_DATE, "service", SUITE_AK,
	  SUITE_SK,
	  SUITE_CRED "SignedHeaders=host;x-amz-date, "
		     "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },
	{ "post-x-www-form-urlencoded", "POST", "/", "",
	  "content-type:application/x-www-form-urlencoded\n" SUITE_HEADERS,
	  "content-type;host;x-amz-date",
	  /* SHA-256 of the body "Param1=value1" */
	  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e", SUITE_DATE,
	  "service", SUITE_AK, SUITE_SK,
	  SUITE_CRED "SignedHeaders=content-type;host;x-amz-date, "
		     "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a" },
	{ "get-unreserved", "GET",
	  "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "",
	  SUITE_HEADERS, "host;x-amz-date", EMPTY_SHA256, SUITE_DATE, "service", SUITE_AK,
	  SUITE_SK,
	  SUITE_CRED "SignedHeaders=host;x-amz-date, "
		     "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f" },
	{ "get-utf8", "GET", "/%E1%88%B4", "", SUITE_HEADERS, "host;x-amz-date", EMPTY_SHA256,
	  SUITE_DATE, "service", SUITE_AK, SUITE_SK,
	  SUITE_CRED "SignedHeaders=host;x-amz-date, "
		     "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85" },
	{ "s3-get-object-range", "GET", "/test.txt", "",
	  S3_HOST "range:bytes=0-9\nx-amz-content-sha256:" EMPTY_SHA256
		  "\nx-amz-date:20130524T000000Z\n",
	  "host;range;x-amz-content-sha256;x-amz-date", EMPTY_SHA256, S3_DATE, "s3", S3_AK, S3_SK,
	  S3_CRED "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
		  "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41" },
	{ "s3-put-object", "PUT", "/test%24file.text", "",
	  "date:Fri, 24 May 2013 00:00:00 GMT\n" S3_HOST
	  "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
	  "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n",
	  "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
	  /* SHA-256 of "Welcome to Amazon S3." */
	  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", S3_DATE, "s3", S3_AK,
	  S3_SK,
	  S3_CRED "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
		  "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd" },
	{ "s3-get-bucket-lifecycle", "GET", "/", "lifecycle=",
	  S3_HOST "x-amz-content-sha256:" EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n",
	  "host;x-amz-content-sha256;x-amz-date", EMPTY_SHA256, S3_DATE, "s3", S3_AK, S3_SK,
	  S3_CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
		  "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543" },
	{ "s3-list-objects", "GET", "/", "max-keys=2&prefix=J",
	  S3_HOST "x-amz-content-sha256:" EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n",
	  "host;x-amz-content-sha256;x-amz-date", EMPTY_SHA256, S3_DATE, "s3", S3_AK, S3_SK,
	  S3_CRED "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
		  "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7" },
};

static void test_s3_sigv4_matches_aws_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		char out[512];
		int rc = tp_s3_sigv4(v->method, v->uri, v->query, v->headers, v->signed_headers,
				     v->payload, v->date, "us-east-1", v->service, v->ak, v->sk,
				     out, sizeof(out));
		if (rc != 0 || strcmp(out, v->want) != 0)
			fail_msg("%s: rc %d\n got %s\nwant %s", v->name, rc, out, v->want);
	}
}

static void test_s3_sigv4_refuses_bad_arguments(void **state)
{
	(void)state;
	const struct vector *v = &vectors[0];
	char out[512];
	/* Exactly long enough, and one byte short. */
	size_t need = strlen(v->want) + 1u;
	assert_int_equal(tp_s3_sigv4(v->method, v->uri, v->query, v->headers, v->signed_headers,
				     v->payload, v->date, "us-east-1", v->service, v->ak, v->sk,
				     out, need),
			 0);
	assert_int_equal(tp_s3_sigv4(v->method, v->uri, v->query, v->headers, v->signed_headers,
				     v->payload, v->date, "us-east-1", v->service, v->ak, v->sk,
				     out, need - 1u),
			 TP_ENOSPACE);
	assert_string_equal(out, "");
	/* Malformed date, payload hash, scope element. */
	assert_int_equal(tp_s3_sigv4("GET", "/", "", SUITE_HEADERS, "host;x-amz-date",
				     EMPTY_SHA256, "2015-08-30T12:36Z", "us-east-1", "service",
				     SUITE_AK, SUITE_SK, out, sizeof(out)),
			 TP_EINVAL);
	assert_int_equal(tp_s3_sigv4("GET", "/", "", SUITE_HEADERS, "host;x-amz-date", "abc",
				     SUITE_DATE, "us-east-1", "service", SUITE_AK, SUITE_SK, out,
				     sizeof(out)),
			 TP_EINVAL);
	assert_int_equal(tp_s3_sigv4("GET", "/", "", SUITE_HEADERS, "host;x-amz-date",
				     EMPTY_SHA256, SUITE_DATE, "us/east", "service", SUITE_AK,
				     SUITE_SK, out, sizeof(out)),
			 TP_EINVAL);
	assert_int_equal(tp_s3_sigv4(NULL, "/", "", SUITE_HEADERS, "host;x-amz-date",
				     EMPTY_SHA256, SUITE_DATE, "us-east-1", "service", SUITE_AK,
				     SUITE_SK, out, sizeof(out)),
			 TP_EINVAL);
}

static void test_s3_error_code_scan(void **state)
{
	(void)state;
	char code[TP_S3_ERRCODE_MAX];
	static const char ok[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
				 "SignatureDoesNotMatch</Code><Message>The request signature "
				 "we calculated does not match</Message></Error>";
	assert_int_equal(tp_s3_error_code(ok, strlen(ok), code, sizeof(code)), 0);
	assert_string_equal(code, "SignatureDoesNotMatch");

	static const struct {
		const char *body;
		int rc;
	} bad[] = {
		{ "", TP_EMALF },
		{ "<Error><Message>x</Message></Error>", TP_EMALF },
		{ "<Code></Code>", TP_EMALF },
		{ "<Code>NoSuchKey", TP_EMALF },          /* truncated */
		{ "<Code>No Such</Code>", TP_EMALF },     /* space */
		{ "<Code>a\x1b[31m</Code>", TP_EMALF },   /* control */
		{ "<Code>&lt;x</Code>", TP_EMALF },
		{ "<Cod", TP_EMALF },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tp_s3_error_code(bad[i].body, strlen(bad[i].body), code,
						  sizeof(code)),
				 bad[i].rc);
		assert_string_equal(code, "");
	}
	char small[4];
	assert_int_equal(tp_s3_error_code("<Code>NoSuchKey</Code>", 22, small, sizeof(small)),
			 TP_ENOSPACE);
	assert_string_equal(small, "");
	assert_int_equal(tp_s3_error_code(NULL, 0, code, sizeof(code)), TP_EMALF);
	assert_int_equal(tp_s3_error_code(NULL, 3, code, sizeof(code)), TP_EINVAL);
}

static void test_s3_new_refuses_bad_settings(void **state)
{
	(void)state;
	static const struct {
		const char *endpoint, *bucket;
	} bad[] = {
		{ "ftp://127.0.0.1:9000", "aggregates" },
		{ "http://127.0.0.1:9000/prefix", "aggregates" },
		{ "http://user@127.0.0.1:9000", "aggregates" },
		{ "http://", "aggregates" },
		{ "http://127.0.0.1:9000", "ab" },
		{ "http://127.0.0.1:9000", "Aggregates" },
		{ "http://127.0.0.1:9000", "a/b/c" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tp_s3_config cfg = { .endpoint = bad[i].endpoint, .access_key = "AK",
					    .secret_key = "SK", .bucket = bad[i].bucket };
		struct tp_s3 *s3 = (struct tp_s3 *)&cfg;
		assert_int_equal(tp_s3_new(&cfg, &s3), TP_EINVAL);
		assert_null(s3);
	}
	struct tp_s3_config good = { .endpoint = "http://127.0.0.1:9000/", .access_key = "AK",
				     .secret_key = "SK", .bucket = "aggregates-2026" };
	struct tp_s3 *s3 = NULL;
	assert_int_equal(tp_s3_new(&good, &s3), 0);
	/* Keys the client refuses before any request. */
	assert_int_equal(tp_s3_put(s3, "", "x", 1, NULL, NULL, 0), TP_EINVAL);
	assert_int_equal(tp_s3_put(s3, "/abs", "x", 1, NULL, NULL, 0), TP_EINVAL);
	assert_int_equal(tp_s3_put(s3, "a/../b", "x", 1, NULL, NULL, 0), TP_EINVAL);
	assert_int_equal(tp_s3_put(s3, "a//b", "x", 1, NULL, NULL, 0), TP_EINVAL);
	struct tp_s3_meta m[2] = { { "Upper", "v" }, { "ok", "  two  spaces" } };
	assert_int_equal(tp_s3_put(s3, "k", "x", 1, NULL, &m[0], 1), TP_EINVAL);
	assert_int_equal(tp_s3_put(s3, "k", "x", 1, NULL, &m[1], 1), TP_EINVAL);
	tp_s3_free(s3);
	tp_s3_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s3_sigv4_matches_aws_vectors),
		cmocka_unit_test(test_s3_sigv4_refuses_bad_arguments),
		cmocka_unit_test(test_s3_error_code_scan),
		cmocka_unit_test(test_s3_new_refuses_bad_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
