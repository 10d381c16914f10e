/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_newqname.c - the new_qname event JSON (the reference's example
 * event, read back with jansson) and the device-unique rule (the
 * reference's netseer example, identifier shapes, and the shared
 * well-known list, none of whose 99,999 names may be touched).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/newqname.h"

static struct tp_dns_name name_of(const char *text)
{
	struct tp_dns_name n;
	assert_int_equal(tp_dns_name_from_text(text, strlen(text), &n), 0);
	return n;
}

/* edm-spec §5.2: the reference's own example event, byte for byte. */
static void test_json_reference_example(void **state)
{
	(void)state;
	struct tp_newqname ev = {
		.qname = name_of("new.example."),
		.qtype = 1,
		.qclass = 1,
		.flags = 33024,
		.time_us = INT64_C(1700000000) * 1000000 + 123456, /* 22:13:20.123456Z */
	};
	char out[TP_NEWQNAME_JSON_MAX];
	int n = tp_newqname_json(&ev, out, sizeof(out));
	const char *want = "{\"flags\":33024,\"qclass\":1,\"qname\":\"new.example.\",\"qtype\":1,"
			   "\"timestamp\":\"2023-11-14T22:13:00Z\",\"type\":\"new_qname\",\"version\":0}";
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(out, want);
	/* Too small a buffer is an error, never a cut JSON. */
	assert_int_equal(tp_newqname_json(&ev, out, (size_t)n), TP_ENOSPACE);
	ev.time_us = -1;
	assert_int_equal(tp_newqname_json(&ev, out, sizeof(out)), TP_EINVAL);
}

/* Escapes survive a real JSON parser: the decoded qname is the
 * presentation form. */
static void test_json_escapes_read_back(void **state)
{
	(void)state;
	static const char *const names[] = {
		"a\\\"b.example.", "back\\\\slash.example.", "x<y>&z.example.", "\\000\\255.example.",
		"dot\\.inside.example.", ".",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct tp_newqname ev = { .qname = name_of(names[i]), .qtype = 28, .qclass = 1 };
		char out[TP_NEWQNAME_JSON_MAX];
		int n = tp_newqname_json(&ev, out, sizeof(out));
		assert_true(n > 0);
		assert_null(strchr(out, '<')); /* Go's encoder escapes these */
		assert_null(strchr(out, '&'));
		json_error_t err;
		json_t *j = json_loadb(out, (size_t)n, JSON_REJECT_DUPLICATES, &err);
		assert_non_null(j);
		char present[TP_DNS_PRESENT_MAX];
		assert_true(tp_dns_name_present(&ev.qname, present, sizeof(present)) > 0);
		assert_string_equal(json_string_value(json_object_get(j, "qname")), present);
		assert_int_equal(json_integer_value(json_object_get(j, "qtype")), 28);
		assert_string_equal(json_string_value(json_object_get(j, "timestamp")),
				    "1970-01-01T00:00:00Z");
		assert_int_equal(json_object_size(j), 7);
		json_decref(j);
	}
}

static void expect_reduced(const char *in, const char *want, unsigned runs)
{
	struct tp_dns_name n = name_of(in), r;
	unsigned reduced = 99;
	assert_int_equal(tp_newqname_reduce(&n, &r, &reduced), 0);
	char text[TP_DNS_PRESENT_MAX];
	assert_true(tp_dns_name_present(&r, text, sizeof(text)) > 0);
	if (strcmp(text, want) != 0 || reduced != runs)
		fail_msg("%s -> %s (%u runs), want %s (%u)", in, text, reduced, want, runs);
	struct tp_dns_name check = name_of(want);
	assert_int_equal(check.len, r.len);
	assert_int_equal(check.n_labels, r.n_labels);
	assert_memory_equal(check.wire, r.wire, r.len);
}

static void test_reduce_rule(void **state)
{
	(void)state;
	/* SPEC §6: the reference's real per-device name. */
	expect_reduced("3f2504e0-4f89-11d3-9a0c-0305e82c3301-netseer-ipaddr-assoc.xz.fbcdn.net.",
		       "*-netseer-ipaddr-assoc.xz.fbcdn.net.", 1);
	expect_reduced("3f2504e04f8911d39a0c0305e82c3301.example.", "*.example.", 1);
	expect_reduced("id-0123456789abcdef.example.", "id-*.example.", 1);
	expect_reduced("x0123456789abcdef0.example.", "*.example.", 1); /* hex inside a run */
	expect_reduced("user-4670123456789.sip.example.", "user-*.sip.example.", 1);
	expect_reduced("mzxw6ytboi2gk3tfon2a4ztp.b32.example.", "*.b32.example.", 1);
	expect_reduced("a1b2c3d4e5f6g7h8i9j0kl.x.example.", "*.x.example.", 1);
	expect_reduced("0123456789abcdef0123.0123456789abcdef0123.example.", "*.*.example.", 2);
	expect_reduced("3f2504e0-4f89-11d3-9a0c-0305e82c3301_0123456789abcdef0.e.", "*_*.e.", 2);
	/* Left alone: ordinary and CDN-style names. */
	static const char *const keep[] = {
		".",
		"www.google.com.",
		"r3---sn-4g5e6nzz.googlevideo.com.",
		"e6858.dscx.akamaiedge.net.",
		"d1a2b3c4d5e6f7.cloudfront.net.",
		"1.7.3.7.b.7.1.6.6.8.2.6.c.e.9.e.f.8.b.e.1.8.e.0.2.8.b.d.1.0.0.2.ip6.arpa.",
		"20.100.51.198.in-addr.arpa.",
		"xn--fiqs8s.xn--fiqz9s.",
		"supercalifragilisticexpialidocious.example.", /* letters only */
		"deadbeefcafe1234.short.example.",             /* 16 hex: reduced? see below */
		"_dmarc.example.com.",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.google.com.",
		"deadbeefcafebabe.example.",                   /* hex letters only */
		"0100101110101101.org.",                       /* two distinct digits */
		"covid19treatmentguidelines.nih.gov.",         /* one digit group */
		"https3a2f2ffreesexchatvideo.com.",            /* 17 letters in a row */
		"f.hubspotusercontent00.net.",
		"20241203.daily.example.",                     /* 8 digits */
	};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		if (strcmp(keep[i], "deadbeefcafe1234.short.example.") == 0)
			expect_reduced(keep[i], "*.short.example.", 1); /* 16 hex digits is the line */
		else
			expect_reduced(keep[i], keep[i], 0);
	}
	expect_reduced("deadbeefcafe123.short.example.", "deadbeefcafe123.short.example.", 0);
	/* In place, and a bad wire name. */
	struct tp_dns_name n = name_of("0123456789abcdef0123.example."), bad = n;
	unsigned k;
	assert_int_equal(tp_newqname_reduce(&n, &n, &k), 0);
	assert_int_equal(k, 1);
	bad.wire[0] = 70;
	assert_int_equal(tp_newqname_reduce(&bad, &n, &k), TP_EMALF);
}

/* The popular names of the shared well-known list are never reduced. */
static void test_reduce_spares_well_known(void **state)
{
	(void)state;
	const char *shared = getenv("TAPIR_SHARED");
	char path[4096];
	snprintf(path, sizeof(path), "%s/data/well-known-domains.txt", shared ? shared : "../shared");
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		skip(); /* ../shared is absent: nothing to compare with */
		return;
	}
	char line[512];
	size_t names = 0, reduced_names = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\n");
		struct tp_dns_name n, r;
		assert_int_equal(tp_dns_name_from_text(line, len, &n), 0);
		unsigned k;
		assert_int_equal(tp_newqname_reduce(&n, &r, &k), 0);
		if (k != 0)
			printf("reduced: %.*s\n", (int)len, line);
		reduced_names += k != 0;
		names++;
	}
	fclose(f);
	assert_int_equal(names, 99999);
	assert_int_equal(reduced_names, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_reference_example),
		cmocka_unit_test(test_json_escapes_read_back),
		cmocka_unit_test(test_reduce_rule),
		cmocka_unit_test(test_reduce_spares_well_known),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
