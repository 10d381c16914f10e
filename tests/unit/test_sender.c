/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_sender.c - unit tests for the histogram sender's pure parts
 * (edge/sender.c): the ISO 8601 durations of Aggregate-Interval and the
 * outbox file names.
 *
 * The duration table is the reference's (edm-spec §7.1,
 * aggregate_sender_test: 0 -> PT0S, 45 s -> PT45S, 1 min -> PT1M,
 * 1 h 2 min 3 s -> PT1H2M3S, 1.5 s -> PT1.5S, -1 s -> PT0S), plus the
 * first partial minute of edm-spec §3.7 (PT37S). File names are those of
 * edm-spec §3.7; the expected UNIX times were computed with `date -u -d`.
 * The upload itself is tested against a real HTTP server in
 * tests/integration/test_sender.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "edge/sender.h"

#define S INT64_C(1000000000)

static void test_sender_duration_table(void **state)
{
	(void)state;
	static const struct {
		int64_t ns;
		const char *want;
	} cases[] = {
		{ 0, "PT0S" },
		{ 45 * S, "PT45S" },
		{ 60 * S, "PT1M" },
		{ 37 * S, "PT37S" },
		{ 2 * 60 * S, "PT2M" },
		{ 3723 * S, "PT1H2M3S" },
		{ 3600 * S, "PT1H" },
		{ 3603 * S, "PT1H3S" },
		{ 3 * S / 2, "PT1.5S" },
		{ 1, "PT0.000000001S" },
		{ -S, "PT0S" },
		{ INT64_MIN, "PT0S" },
		{ 100 * 3600 * S, "PT100H" },
	};
	char out[TP_SENDER_DURATION_SIZE];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(tp_sender_duration(cases[i].ns, out, sizeof(out)), 0);
		assert_string_equal(out, cases[i].want);
	}
	assert_int_equal(tp_sender_duration(INT64_MAX, out, sizeof(out)), 0);
	assert_int_equal(tp_sender_duration(3723 * S, out, 8), TP_ENOSPACE);
	assert_int_equal(tp_sender_duration(0, out, 4), TP_ENOSPACE);
}

static void test_sender_file_names(void **state)
{
	(void)state;
	int64_t a = 0, b = 0;
	/* date -u -d 2024-09-26T18:14:00Z +%s = 1727374440 */
	assert_int_equal(tp_sender_parse_name(
		"dns_histogram-2024-09-26T18-14-00Z_2024-09-26T18-15-00Z.parquet", &a, &b), 0);
	assert_int_equal(a, 1727374440);
	assert_int_equal(b, 1727374500);
	/* date -u -d 2026-05-28T10:00:23Z +%s = 1779962423 */
	assert_int_equal(tp_sender_parse_name(
		"dns_histogram-2026-05-28T10-00-23Z_2026-05-28T10-01-00Z.parquet", &a, &b), 0);
	assert_int_equal(a, 1779962423);
	assert_int_equal(b - a, 37);
	static const char *const bad[] = {
		"",
		"dns_histogram-2024-09-26T18-14-00Z_2024-09-26T18-15-00Z.parquet.tmp",
		"dns_histogram-2024-09-26T18:14:00Z_2024-09-26T18:15:00Z.parquet",
		"dns_histogram-2024-09-26T18-14-00Z-2024-09-26T18-15-00Z.parquet",
		"dns_session-2024-09-26T18-14-00Z_2024-09-26T18-15-00Z.parquet",
		"dns_histogram-2024-13-26T18-14-00Z_2024-09-26T18-15-00Z.parquet",
		"dns_histogram-2024-09-26T18-14-00Z_2024-09-26T25-15-00Z.parquet",
		"dns_histogram-2024-09-26T18-14-00+_2024-09-26T18-15-00Z.parquet",
		"dns_histogram-2024-09-26T18-14-00Z_2024-09-26T18-15-00Z.parque",
		"dns_histogram-2024-09-26T18-14-00Z_2024-09-26T18-15-00Z.parquetx",
		"DNS_histogram-2024-09-26T18-14-00Z_2024-09-26T18-15-00Z.parquet",
		"dns_histogram-2024-09-26T18-14-0xZ_2024-09-26T18-15-00Z.parquet",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tp_sender_parse_name(bad[i], &a, &b), TP_EMALF);
	assert_int_equal(tp_sender_parse_name(NULL, &a, &b), TP_EMALF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sender_duration_table),
		cmocka_unit_test(test_sender_file_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
