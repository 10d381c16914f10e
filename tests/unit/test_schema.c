/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_schema.c - unit tests for core/schema.c: the new_qname payload
 * rules and the unverified kid of a flattened JWS.
 *
 * The valid payloads include the reference's own example event
 * (core-spec §2.1) byte for byte; each invalid one breaks exactly one rule
 * of core-spec §3.1 (or of RFC 3339 / RFC 4122 for the formats), so the
 * table doubles as the list of what the bridge refuses. A truncation sweep
 * feeds every proper prefix of a valid payload, none of which is JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/schema.h"

struct qcase {
	const char *json;
	int rc;
};

/* The reference edge's example event, as published (core-spec §2.1). */
#define REF_EVENT                                                               \
	"{\"flags\":33155,\"qclass\":1,\"qname\":\"dnstapir.xa.\",\"qtype\":28,"   \
	"\"timestamp\":\"2026-03-23T11:50:07+00:00\",\"type\":\"new_qname\","       \
	"\"version\":0}"

static const struct qcase valid[] = {
	{REF_EVENT, 0},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"example.com.\"}", 0},
	{"{\"type\":\"new_qname\",\"version\":3,\"qname\":\"\"}", 0},
	/* all ten members, extreme legal values */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\","
	 "\"message_id\":\"123e4567-E89B-12d3-a456-426614174000\","
	 "\"timestamp\":\"2024-02-29T23:59:59.123456789Z\",\"qtype\":65535,"
	 "\"qclass\":0,\"rdlength\":65535,\"flags\":-1,\"initiator\":\"resolver\"}", 0},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"initiator\":\"client\","
	 "\"timestamp\":\"2000-02-29T00:00:00-23:59\"}", 0},
	/* a non-ASCII name is a string like any other */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"r\\u00e4ksm\\u00f6rg\\u00e5s.se.\"}", 0},
	{" {\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\"} \n", 0},
};

static const struct qcase invalid[] = {
	/* not JSON, not an object */
	{"", TP_EMALF},
	{"null", TP_EMALF},
	{"[]", TP_EMALF},
	{"\"new_qname\"", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\"} x", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",}", TP_EMALF},
	/* duplicates: the second qname would win in some decoders */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"qname\":\"b.\"}", TP_EMALF},
	/* required members */
	{"{\"version\":0,\"qname\":\"a.\"}", TP_EMISSING},
	{"{\"type\":\"new_qname\",\"qname\":\"a.\"}", TP_EMISSING},
	{"{\"type\":\"new_qname\",\"version\":0}", TP_EMISSING},
	{"{}", TP_EMISSING},
	/* type */
	{"{\"type\":\"new_aggregate\",\"version\":0,\"qname\":\"a.\"}", TP_EMALF},
	{"{\"type\":\"New_qname\",\"version\":0,\"qname\":\"a.\"}", TP_EMALF},
	{"{\"type\":null,\"version\":0,\"qname\":\"a.\"}", TP_EMALF},
	/* version */
	{"{\"type\":\"new_qname\",\"version\":-1,\"qname\":\"a.\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":\"0\",\"qname\":\"a.\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":1.0,\"qname\":\"a.\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":1e0,\"qname\":\"a.\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":true,\"qname\":\"a.\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":99999999999999999999999,\"qname\":\"a.\"}", TP_EMALF},
	/* qname */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":7}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":[\"a.\"]}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a\\u0000b.\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"\xff.\"}", TP_EMALF},
	/* extra members: allowed by the JSON Schema, refused by the analysts */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"$schema\":\"x\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"i\":1}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"Qtype\":1}", TP_EMALF},
	/* qtype, qclass, rdlength */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"qtype\":65536}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"qclass\":-1}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"rdlength\":\"4\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"qtype\":1.5}", TP_EMALF},
	/* flags */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"flags\":\"0x8180\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"flags\":null}", TP_EMALF},
	/* initiator */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"initiator\":\"Client\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"initiator\":\"stub\"}", TP_EMALF},
	/* message_id (RFC 4122 text) */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\","
	 "\"message_id\":\"123e4567e89b12d3a456426614174000\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\","
	 "\"message_id\":\"123e4567-e89b-12d3-a456-42661417400g\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\","
	 "\"message_id\":\"{123e4567-e89b-12d3-a456-426614174000}\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"message_id\":42}", TP_EMALF},
	/* timestamp (RFC 3339 §5.6) */
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-03-23 11:50:07Z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-03-23T11:50:07\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-03-23T11:50Z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-13-01T00:00:00Z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2025-02-29T00:00:00Z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"1900-02-29T00:00:00Z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-04-31T00:00:00Z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-03-23T24:00:00Z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2016-12-31T23:59:60Z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-03-23T11:50:07.Z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-03-23T11:50:07+0000\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-03-23T11:50:07+24:00\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-03-23t11:50:07z\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":\"2026-03-23T11:50:07ZZ\"}", TP_EMALF},
	{"{\"type\":\"new_qname\",\"version\":0,\"qname\":\"a.\",\"timestamp\":1711194607}", TP_EMALF},
};

static void run_table(const struct qcase *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		int rc = tp_schema_new_qname((const uint8_t *)t[i].json, strlen(t[i].json), &why);
		if (rc != t[i].rc)
			print_error("case %zu: %s -> %d (%s), want %d\n", i, t[i].json, rc,
				    why != NULL ? why : "", t[i].rc);
		assert_int_equal(rc, t[i].rc);
		if (rc != 0)
			assert_non_null(why);
	}
}

static void test_schema_accepts_valid_events(void **state)
{
	(void)state;
	run_table(valid, sizeof(valid) / sizeof(valid[0]));
}

static void test_schema_refuses_each_broken_rule(void **state)
{
	(void)state;
	run_table(invalid, sizeof(invalid) / sizeof(invalid[0]));
}

static void test_schema_refuses_every_truncation(void **state)
{
	(void)state;
	const char *ev = REF_EVENT;
	size_t n = strlen(ev);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tp_schema_new_qname((const uint8_t *)ev, i, NULL), TP_EMALF);
	assert_int_equal(tp_schema_new_qname((const uint8_t *)ev, n, NULL), 0);
}

static void test_schema_bounds(void **state)
{
	(void)state;
	assert_int_equal(tp_schema_new_qname(NULL, 0, NULL), TP_EINVAL);
	static char big[TP_JWS_MAX + 2u];
	memset(big, ' ', sizeof(big));
	assert_int_equal(tp_schema_new_qname((const uint8_t *)big, TP_JWS_MAX + 1u, NULL),
			 TP_ETOOBIG);
}

/* protected = base64url('{"alg":"EdDSA","kid":"edge-7"}'), encoded by hand
 * from RFC 4648 §5. */
#define HDR_KID "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkZ2UtNyJ9"
/* base64url('{"alg":"EdDSA"}') = RFC 8037 A.4's header. */
#define HDR_NOKID "eyJhbGciOiJFZERTQSJ9"

static void test_schema_jws_kid(void **state)
{
	(void)state;
	char kid[TP_JWK_KID_MAX + 1u];
	const char *ok = "{\"payload\":\"e30\",\"protected\":\"" HDR_KID "\",\"signature\":\"x\"}";
	assert_int_equal(tp_jws_peek_kid(ok, strlen(ok), kid), 0);
	assert_string_equal(kid, "edge-7");

	static const struct {
		const char *jws;
		int rc;
	} bad[] = {
		{"", TP_EMALF},
		{"[]", TP_EMALF},
		{"{\"payload\":\"e30\"}", TP_EMISSING},
		{"{\"protected\":7}", TP_EMALF},
		{"{\"protected\":\"" HDR_NOKID "\"}", TP_EMISSING},
		{"{\"protected\":\"" HDR_KID "=\"}", TP_EMALF},
		{"{\"protected\":\"" HDR_KID "\",\"protected\":\"" HDR_KID "\"}", TP_EMALF},
		/* base64url('[1]') and base64url('{"kid":""}') */
		{"{\"protected\":\"WzFd\"}", TP_EMALF},
		{"{\"protected\":\"eyJraWQiOiIifQ\"}", TP_EMALF},
		/* base64url('{"kid":7}') */
		{"{\"protected\":\"eyJraWQiOjd9\"}", TP_EMALF},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = tp_jws_peek_kid(bad[i].jws, strlen(bad[i].jws), kid);
		if (rc != bad[i].rc)
			print_error("case %zu: %d, want %d\n", i, rc, bad[i].rc);
		assert_int_equal(rc, bad[i].rc);
	}

	/* A protected member longer than the bound is refused unread. */
	static char big[TP_JWS_PEEK_PROTECTED_MAX + 64u];
	int n = snprintf(big, sizeof(big), "{\"protected\":\"");
	assert_true(n > 0);
	size_t p = (size_t)n;
	memset(big + p, 'A', TP_JWS_PEEK_PROTECTED_MAX + 4u);
	p += TP_JWS_PEEK_PROTECTED_MAX + 4u;
	memcpy(big + p, "\"}", 2);
	p += 2u;
	assert_int_equal(tp_jws_peek_kid(big, p, kid), TP_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_accepts_valid_events),
		cmocka_unit_test(test_schema_refuses_each_broken_rule),
		cmocka_unit_test(test_schema_refuses_every_truncation),
		cmocka_unit_test(test_schema_bounds),
		cmocka_unit_test(test_schema_jws_kid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
