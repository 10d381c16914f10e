/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_interval.c - the Aggregate-Interval parser (core/interval.c):
 * core-spec §1.12's table (start/PT1M is 60 s, the basic format's two-week
 * interval, a -05:00 offset moved to UTC, microseconds kept, garbage and
 * naive times refused), calendar months, bounds, and a truncation sweep.
 *
 * Expected instants were computed with Python's datetime (a second
 * implementation), e.g. (datetime.fromisoformat(s) - epoch) //
 * timedelta(microseconds=1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/interval.h"

#define S INT64_C(1000000)

static void test_interval_reference_table(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int64_t start_us, duration_us;
	} good[] = {
		/* aggrec test_iso8601.py */
		{ "1984-01-01T12:00:00Z/PT1M", 441806400 * S, 60 * S },
		{ "19840101T000000Z/19840115T000000Z", 441763200 * S, 14 * 86400 * S },
		{ "2024-05-06T08:56:58-05:00/PT1M", 1715003818 * S, 60 * S },
		{ "2024-01-01T12:00:00.123456Z/PT1M", 1704110400123456, 60 * S },
		/* offsets in every spelling */
		{ "2023-12-31T23:00:00+01:00/PT1H", 1704060000 * S, 3600 * S },
		{ "2023-12-31T23:00:00+01/PT1H", 1704060000 * S, 3600 * S },
		{ "2023-12-31T23:00:00+0100/PT1H", 1704060000 * S, 3600 * S },
		{ "2020-02-29T12:30:00+05:30/PT0S", 1582959600 * S, 0 },
		/* seconds omitted; decimal comma; digits beyond µs cut */
		{ "1984-01-01T12:00Z/PT1M", 441806400 * S, 60 * S },
		{ "1984-01-01T12:00:00,5Z/PT1.25S", 441806400 * S + 500000, 1250000 },
		{ "2024-01-01T12:00:00.1234569Z/PT1M", 1704110400123456, 60 * S },
		/* calendar months clamp the day (2024-01-31 + 1 month = 02-29) */
		{ "2024-01-31T00:00:00Z/P1M", 1706659200 * S, 2505600 * S },
		/* P1Y: 2025-02-28 (clamped), then one day and 1:02:03 */
		{ "2024-02-29T00:00:00Z/P1Y1DT1H2M3S", 1709164800 * S, 31626123 * S },
		{ "2024-01-01T00:00:00Z/P2W", 1704067200 * S, 14 * 86400 * S },
		/* start/end with microseconds and different zones */
		{ "2024-01-01T12:00:00.5Z/2024-01-01T07:00:01-05:00", 1704110400 * S + 500000,
		  500000 },
		/* the edges of the accepted years */
		{ "0001-01-01T00:00:00Z/PT0S", -62135596800 * S, 0 },
		{ "9999-12-31T23:59:59Z/PT0.999999S", 253402300799 * S, 999999 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tp_interval iv = { -1, -1 };
		int rc = tp_interval_parse(good[i].text, &iv);
		if (rc != 0 || iv.start_us != good[i].start_us ||
		    iv.duration_us != good[i].duration_us)
			fail_msg("%s: rc %d start %lld duration %lld", good[i].text, rc,
				 (long long)iv.start_us, (long long)iv.duration_us);
	}
}

static void test_interval_refuses_garbage_and_naive_times(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "garbage", "/", "PT1M", "1984-01-01T12:00:00Z",
		"1984-01-01T12:00:00/PT1M",            /* naive start */
		"1984-01-01T12:00:00Z/1984-01-02T00:00:00", /* naive end */
		"1984-01-01T12:00:00Z/P",  "1984-01-01T12:00:00Z/PT",
		"1984-01-01T12:00:00Z/P1DT", "1984-01-01T12:00:00Z/-PT1M",
		"1984-01-01T12:00:00Z/PT1M ", " 1984-01-01T12:00:00Z/PT1M",
		"1984-01-01T12:00:00Z/PT1M/PT1M", "1984-01-01T12:00:00Z/PT1S1M",
		"1984-01-01T12:00:00Z/P1M1Y", "1984-01-01T12:00:00Z/PT1.5M",
		"1984-01-01T12:00:00Z/P1.5D", "1984-01-01T12:00:00Z/PT1H1H",
		"1984-01-01T12:00:00Z/PT1234567890S", "1984-01-01T12:00:00Z/PT.5S",
		"1984-13-01T12:00:00Z/PT1M", "1984-02-30T12:00:00Z/PT1M",
		"1983-02-29T12:00:00Z/PT1M", "1984-01-01T24:00:00Z/PT1M",
		"1984-01-01T23:60:00Z/PT1M", "1984-01-01T23:59:60Z/PT1M",
		"1984-01-01T12:00:00+24:00/PT1M", "1984-01-01T12:00:00+01:60/PT1M",
		"1984-01-01T12:00:00+1/PT1M", "1984-01-01T12:00:00.Z/PT1M",
		"1984-01-01 12:00:00Z/PT1M", "84-01-01T12:00:00Z/PT1M",
		"1984-0101T12:00:00Z/PT1M", "0000-01-01T12:00:00Z/PT1M",
		/* an end before the start */
		"1984-01-02T00:00:00Z/1984-01-01T00:00:00Z",
		"1984-01-01T12:00:00Z\0/PT1M",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tp_interval iv;
		int rc = tp_interval_parse(bad[i], &iv);
		if (rc != TP_EMALF)
			fail_msg("'%s' gave %d, expected TP_EMALF", bad[i], rc);
	}
}

static void test_interval_bounds(void **state)
{
	(void)state;
	struct tp_interval iv;
	/* past year 9999, by a duration, an end or an offset */
	assert_int_equal(tp_interval_parse("9999-12-31T23:59:59Z/PT1S", &iv), TP_ETOOBIG);
	assert_int_equal(tp_interval_parse("9999-12-31T00:00:00Z/P1Y", &iv), TP_ETOOBIG);
	assert_int_equal(tp_interval_parse("2024-01-01T00:00:00Z/P999999999W", &iv), TP_ETOOBIG);
	assert_int_equal(tp_interval_parse("2024-01-01T00:00:00Z/P999999999Y", &iv), TP_ETOOBIG);
	assert_int_equal(tp_interval_parse("0001-01-01T00:00:00+01:00/PT1H", &iv), TP_ETOOBIG);
	assert_int_equal(tp_interval_parse("9999-12-31T23:59:59-01:00/PT0S", &iv), TP_ETOOBIG);
	char longer[TP_INTERVAL_TEXT_MAX + 2];
	memset(longer, '0', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(tp_interval_parse(longer, &iv), TP_ETOOBIG);
	assert_int_equal(tp_interval_parse(NULL, &iv), TP_EINVAL);
}

/* Every proper prefix of a good interval is read safely and refused,
 * except those that are intervals themselves: a duration cut right after
 * a designator, and a "+0130" zone cut to "+01". */
static void test_interval_truncation_sweep(void **state)
{
	(void)state;
	static const char *const good[] = {
		"2024-05-06T08:56:58.123456-05:00/P1Y2M3W4DT5H6M7.5S",
		"19840101T000000Z/19840115T000000+0130",
	};
	for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
		struct tp_interval iv;
		assert_int_equal(tp_interval_parse(good[g], &iv), 0);
		size_t n = strlen(good[g]), slash = (size_t)(strchr(good[g], '/') - good[g]);
		for (size_t cut = 0; cut < n; cut++) {
			char buf[TP_INTERVAL_TEXT_MAX];
			memcpy(buf, good[g], cut);
			buf[cut] = '\0';
			bool whole = g == 0 ? cut > slash + 2 && strchr("YMWDHS", good[g][cut - 1])
					    : cut == n - 2;
			int rc = tp_interval_parse(buf, &iv);
			if ((rc == 0) != whole)
				fail_msg("prefix '%s' gave %d", buf, rc);
		}
	}
}

static void test_interval_format_utc(void **state)
{
	(void)state;
	char out[TP_INTERVAL_ISO_SIZE];
	assert_int_equal(tp_interval_format_utc(441806400 * S, out), 0);
	assert_string_equal(out, "1984-01-01T12:00:00Z");
	assert_int_equal(tp_interval_format_utc(1704110400123456, out), 0);
	assert_string_equal(out, "2024-01-01T12:00:00.123456Z");
	assert_int_equal(tp_interval_format_utc(-62135596800 * S, out), 0);
	assert_string_equal(out, "0001-01-01T00:00:00Z");
	assert_int_equal(tp_interval_format_utc(253402300799999999, out), 0);
	assert_string_equal(out, "9999-12-31T23:59:59.999999Z");
	assert_int_equal(tp_interval_format_utc(-1, out), 0);
	assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
	assert_int_equal(tp_interval_format_utc(253402300800 * S, out), TP_EINVAL);
	/* parse -> format -> parse is the identity */
	struct tp_interval a, b;
	assert_int_equal(tp_interval_parse("2024-05-06T08:56:58.5-05:00/PT1M", &a), 0);
	assert_int_equal(tp_interval_format_utc(a.start_us, out), 0);
	assert_string_equal(out, "2024-05-06T13:56:58.500000Z");
	char again[64];
	snprintf(again, sizeof(again), "%s/PT1M", out);
	assert_int_equal(tp_interval_parse(again, &b), 0);
	assert_true(a.start_us == b.start_us && a.duration_us == b.duration_us);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval_reference_table),
		cmocka_unit_test(test_interval_refuses_garbage_and_naive_times),
		cmocka_unit_test(test_interval_bounds),
		cmocka_unit_test(test_interval_truncation_sweep),
		cmocka_unit_test(test_interval_format_utc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
