/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_wkd.c - the well-known list: matching rules (edm-spec §2.3 and the
 * tables in ../shared/data/README.md), loading, bad lines, and the shipped
 * 99,999-name list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wkd/wkd.h"

/* Look up text (folded first, as the edge does). */
static bool lookup(const struct tp_wkd *w, const char *text, struct tp_wkd_match *m)
{
	struct tp_dns_name n;
	assert_int_equal(tp_dns_name_from_text(text, strlen(text), &n), 0);
	tp_dns_name_fold(&n);
	return tp_wkd_lookup(w, &n, m);
}

static void entry_text(const struct tp_wkd *w, uint32_t id, char *buf, size_t size, bool *wildcard)
{
	struct tp_dns_name n;
	assert_int_equal(tp_wkd_entry(w, id, &n, wildcard), 0);
	assert_true(tp_dns_name_present(&n, buf, size) >= 0);
}

static void test_wkd_matches_like_the_reference(void **state)
{
	(void)state;
	/* The valid1 list of the reference's tests. */
	static const char *const names[] = { ".example.net.", "example.com." };
	struct tp_wkd *w;
	struct tp_wkd_stats st;
	assert_int_equal(tp_wkd_build(names, 2, &w, &st), 0);
	assert_int_equal(st.exact, 1);
	assert_int_equal(st.wildcard, 1);
	assert_int_equal(tp_wkd_size(w), 2);

	struct {
		const char *q;
		bool hit, wildcard;
		const char *entry;
	} cases[] = {
		{ "example.com.", true, false, "example.com." },
		{ "eXample.com.", true, false, "example.com." },
		{ "www.example.com.", false, false, NULL },
		{ "www.example.net.", true, true, "example.net." },
		{ "wWw.example.net.", true, true, "example.net." },
		{ "example.www.example.net.", true, true, "example.net." },
		{ "eXample.www.example.net.", true, true, "example.net." },
		{ "example.net.", false, false, NULL }, /* never its own apex */
		{ "net.", false, false, NULL },
		{ ".", false, false, NULL },
		{ "example.org.", false, false, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tp_wkd_match m;
		bool hit = lookup(w, cases[i].q, &m);
		assert_int_equal(hit, cases[i].hit);
		if (!hit)
			continue;
		assert_int_equal(m.wildcard, cases[i].wildcard);
		char text[TP_DNS_PRESENT_MAX];
		bool wc;
		entry_text(w, m.id, text, sizeof(text), &wc);
		assert_string_equal(text, cases[i].entry);
		assert_int_equal(wc, cases[i].wildcard);
	}
	tp_wkd_free(w);
}

static void test_wkd_exact_first_then_most_specific_suffix(void **state)
{
	(void)state;
	static const char *const names[] = {
		".com.", ".example.com.", "www.example.com.", ".www.example.com.", ".",
	};
	struct tp_wkd *w;
	assert_int_equal(tp_wkd_build(names, 5, &w, NULL), 0);
	struct tp_wkd_match m;
	char text[TP_DNS_PRESENT_MAX];
	bool wc;

	assert_true(lookup(w, "www.example.com.", &m)); /* exact beats suffixes */
	assert_false(m.wildcard);
	entry_text(w, m.id, text, sizeof(text), &wc);
	assert_string_equal(text, "www.example.com.");

	assert_true(lookup(w, "a.www.example.com.", &m));
	entry_text(w, m.id, text, sizeof(text), &wc);
	assert_string_equal(text, "www.example.com.");
	assert_true(wc);

	assert_true(lookup(w, "mail.example.com.", &m));
	entry_text(w, m.id, text, sizeof(text), &wc);
	assert_string_equal(text, "example.com.");

	assert_true(lookup(w, "example.com.", &m));
	entry_text(w, m.id, text, sizeof(text), &wc);
	assert_string_equal(text, "com.");

	assert_true(lookup(w, ".", &m)); /* the root only as an exact entry */
	assert_false(m.wildcard);
	assert_false(lookup(w, "org.", &m));
	tp_wkd_free(w);
}

static void test_wkd_escapes_and_duplicates(void **state)
{
	(void)state;
	static const char *const names[] = {
		"dot\\.inside.github.com.", "r\\195\\164ksm.svt.se.", "example.com.", "example.com.",
	};
	struct tp_wkd *w;
	struct tp_wkd_stats st;
	assert_int_equal(tp_wkd_build(names, 4, &w, &st), 0);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(tp_wkd_size(w), 3);
	struct tp_wkd_match m;
	assert_true(lookup(w, "DOT\\.inside.GitHub.com.", &m));
	assert_false(lookup(w, "dot.inside.github.com.", &m)); /* an escaped dot is no boundary */
	assert_true(lookup(w, "R\\195\\164KSM.svt.se.", &m)); /* only A-Z fold */
	assert_false(lookup(w, "r\\195\\132ksm.svt.se.", &m)); /* 0xC4 is not 0xE4 */
	tp_wkd_free(w);
}

struct bad {
	uint64_t lines[8];
	size_t n;
};

static void on_bad(void *ctx, uint64_t line, const char *why)
{
	struct bad *b = ctx;
	assert_non_null(why);
	if (b->n < 8)
		b->lines[b->n++] = line;
}

static void test_wkd_load_reports_every_bad_line(void **state)
{
	(void)state;
	char path[] = "/tmp/tapir-wkd-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "# comment\n"
			   "example.com.\n"
			   "Example.org.\n"          /* 3: upper case */
			   "no-trailing-dot.com\n"   /* 4 */
			   "\n"
			   "a..b.\n"                 /* 6 */
			   ".sub.example.net.\r\n"   /* CRLF tolerated */
			   "..\n"                    /* 8 */
			   "last.example.";          /* no final newline */
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	struct bad bad = { 0 };
	struct tp_wkd *w = NULL;
	struct tp_wkd_stats st;
	assert_int_equal(tp_wkd_load(path, on_bad, &bad, &w, &st), TP_EMALF);
	assert_null(w);
	assert_int_equal(bad.n, 4);
	assert_int_equal(bad.lines[0], 3);
	assert_int_equal(bad.lines[1], 4);
	assert_int_equal(bad.lines[2], 6);
	assert_int_equal(bad.lines[3], 8);
	assert_int_equal(st.lines, 9);
	assert_int_equal(st.exact, 2);
	assert_int_equal(st.wildcard, 1);
	assert_int_equal(st.skipped, 2);

	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("example.com.\n.sub.example.net.\n", f);
	fclose(f);
	assert_int_equal(tp_wkd_load(path, on_bad, &bad, &w, &st), 0);
	struct tp_wkd_match m;
	assert_true(lookup(w, "x.sub.example.net.", &m));
	tp_wkd_free(w);
	unlink(path);
	assert_true(tp_wkd_load(path, NULL, NULL, &w, NULL) == -ENOENT);
}

static void test_wkd_shipped_list(void **state)
{
	(void)state;
	const char *shared = getenv("TAPIR_SHARED");
	char path[4096];
	snprintf(path, sizeof(path), "%s/data/well-known-domains.txt", shared ? shared : "../shared");
	FILE *f = fopen(path, "r");
	if (f == NULL)
		skip(); /* ../shared absent */
	struct tp_wkd *w;
	struct tp_wkd_stats st;
	assert_int_equal(tp_wkd_load(path, NULL, NULL, &w, &st), 0);
	assert_int_equal(tp_wkd_size(w), 99999);
	assert_int_equal(st.exact, 99999);
	/* Every line is found, as itself. */
	char line[512];
	size_t n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		struct tp_wkd_match m;
		assert_true(lookup(w, line, &m));
		char text[TP_DNS_PRESENT_MAX];
		bool wc;
		entry_text(w, m.id, text, sizeof(text), &wc);
		assert_string_equal(text, line);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 99999);
	struct tp_wkd_match m;
	assert_true(lookup(w, "GOOGLE.com.", &m));
	assert_false(lookup(w, "www.google.com.", &m)); /* no wildcards shipped */
	assert_false(lookup(w, "se.", &m));
	assert_false(lookup(w, "slaskzonen.se.", &m));
	tp_wkd_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wkd_matches_like_the_reference),
		cmocka_unit_test(test_wkd_exact_first_then_most_specific_suffix),
		cmocka_unit_test(test_wkd_escapes_and_duplicates),
		cmocka_unit_test(test_wkd_load_reports_every_bad_line),
		cmocka_unit_test(test_wkd_shipped_list),
	};
	return cmocka_run_group_tests_name("unit.wkd", tests, NULL, NULL);
}
