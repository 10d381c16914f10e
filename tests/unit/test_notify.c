/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_notify.c - unit tests for core/notify.c: the new_aggregate message
 * (core-spec §1.9) parsed back with jansson and compared with the metadata
 * it was built from, and the queue's accounting when NATS is unreachable.
 *
 * Expected times are published facts, not our output: UNIX time 0 is
 * 1970-01-01T00:00:00Z and 1700000000 is 2023-11-14T22:13:20Z (the
 * "1.7 billion seconds" instant); a uuid4's 13th hex digit is 4 and its
 * 17th is 8, 9, a or b (RFC 9562 §5.4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/notify.h"

static void fill_meta(struct tp_agg_meta *m)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->id, "6553f1000123456789abcdef");
	strcpy(m->type, "histogram");
	strcpy(m->creator, "edge-7");
	m->created = 1700000000;
	strcpy(m->bucket, "aggregates-2023");
	strcpy(m->object_key, "type=histogram/year=2023/month=11/day=14/hour=22/minute=13/"
			      "second=20/creator=edge-7/id=6553f1000123456789abcdef.parquet");
}

static json_t *build(const struct tp_agg_meta *m, const char *base, int64_t now)
{
	char *text = NULL;
	assert_int_equal(tp_notify_json(m, base, now, &text), 0);
	assert_non_null(text);
	json_error_t err;
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	free(text);
	assert_non_null(o);
	assert_true(json_is_object(o));
	return o;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	assert_non_null(v);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void check_uuid4(const char *s)
{
	assert_int_equal(strlen(s), 36);
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(s[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", s[i]));
	}
	assert_int_equal(s[14], '4');
	assert_non_null(strchr("89ab", s[19]));
}

static void test_notify_json_without_interval(void **state)
{
	(void)state;
	struct tp_agg_meta m;
	fill_meta(&m);
	json_t *o = build(&m, "http://core.example:8080", 0);
	static const char *const names[] = {
		"$schema", "version", "message_id", "timestamp", "type", "aggregate_id",
		"aggregate_type", "created", "creator", "metadata_location", "content_location",
		"s3_bucket", "s3_object_key",
	};
	assert_int_equal(json_object_size(o), sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(json_object_get(o, names[i]));
	assert_string_equal(str(o, "$schema"), "https://schema.dnstapir.se/v1/new_aggregate");
	assert_true(json_is_integer(json_object_get(o, "version")));
	assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
	check_uuid4(str(o, "message_id"));
	assert_string_equal(str(o, "timestamp"), "1970-01-01T00:00:00Z");
	assert_string_equal(str(o, "type"), "new_aggregate");
	assert_string_equal(str(o, "aggregate_id"), m.id);
	assert_string_equal(str(o, "aggregate_type"), m.type);
	assert_string_equal(str(o, "created"), "2023-11-14T22:13:20Z");
	assert_string_equal(str(o, "creator"), m.creator);
	assert_string_equal(str(o, "metadata_location"),
			    "http://core.example:8080/api/v1/aggregates/6553f1000123456789abcdef");
	assert_string_equal(str(o, "content_location"),
			    "http://core.example:8080/api/v1/aggregates/6553f1000123456789abcdef/payload");
	assert_string_equal(str(o, "s3_bucket"), m.bucket);
	assert_string_equal(str(o, "s3_object_key"), m.object_key);
	json_decref(o);

	/* Interval known but zero long: still no interval members. */
	m.has_interval = true;
	m.interval_start_us = 1700000000000000;
	m.interval_duration_s = 0;
	o = build(&m, NULL, 1700000000);
	assert_null(json_object_get(o, "aggregate_interval_start"));
	assert_null(json_object_get(o, "aggregate_interval_duration"));
	assert_string_equal(str(o, "timestamp"), "2023-11-14T22:13:20Z");
	/* The reference's default base (core-spec §1.1). */
	assert_string_equal(str(o, "metadata_location"),
			    "http://127.0.0.1/api/v1/aggregates/6553f1000123456789abcdef");
	json_decref(o);
}

static void test_notify_json_with_interval(void **state)
{
	(void)state;
	struct tp_agg_meta m;
	fill_meta(&m);
	m.has_interval = true;
	m.interval_start_us = 1700000000000000;
	m.interval_duration_s = 60;
	/* The path of the base is replaced, as the reference does. */
	json_t *o = build(&m, "https://core.example/ignored/path?q=1", 1700000060);
	assert_int_equal(json_object_size(o), 15);
	assert_string_equal(str(o, "aggregate_interval_start"), "2023-11-14T22:13:20Z");
	json_t *d = json_object_get(o, "aggregate_interval_duration");
	assert_true(json_is_integer(d)); /* integer seconds, not 60.0 */
	assert_int_equal(json_integer_value(d), 60);
	assert_string_equal(str(o, "timestamp"), "2023-11-14T22:14:20Z");
	assert_string_equal(str(o, "metadata_location"),
			    "https://core.example/api/v1/aggregates/6553f1000123456789abcdef");
	json_decref(o);

	/* Microseconds survive (core-spec §1.3). */
	m.interval_start_us = 1700000000123456;
	o = build(&m, NULL, 0);
	assert_string_equal(str(o, "aggregate_interval_start"), "2023-11-14T22:13:20.123456Z");
	json_decref(o);
}

static void test_notify_json_ids_differ(void **state)
{
	(void)state;
	struct tp_agg_meta m;
	fill_meta(&m);
	json_t *a = build(&m, NULL, 0), *b = build(&m, NULL, 0);
	assert_string_not_equal(str(a, "message_id"), str(b, "message_id"));
	json_decref(a);
	json_decref(b);
}

static void test_notify_json_refusals(void **state)
{
	(void)state;
	struct tp_agg_meta m;
	fill_meta(&m);
	char *text = NULL;
	assert_int_equal(tp_notify_json(NULL, NULL, 0, &text), TP_EINVAL);
	assert_int_equal(tp_notify_json(&m, NULL, 0, NULL), TP_EINVAL);
	/* invalid UTF-8 cannot become a JSON string */
	m.creator[0] = (char)0xff;
	assert_int_equal(tp_notify_json(&m, NULL, 0, &text), TP_EINVAL);
	assert_null(text);
}

static void test_notify_config_refusals(void **state)
{
	(void)state;
	struct tp_notify *n = NULL;
	struct tp_notify_config c = {.url = NULL};
	assert_int_equal(tp_notify_start(&c, &n), TP_EINVAL);
	c.url = "http://127.0.0.1:4222";
	assert_int_equal(tp_notify_start(&c, &n), TP_EINVAL);
	c.url = "nats://127.0.0.1:4222";
	c.subject = "aggregates.>";
	assert_int_equal(tp_notify_start(&c, &n), TP_EINVAL);
	c.subject = NULL;
	c.queue_size = 2u * 1024u * 1024u;
	assert_int_equal(tp_notify_start(&c, &n), TP_EINVAL);
	assert_null(n);
	tp_notify_stop(NULL, 0);
}

/* Nothing listens on port 1: messages are accepted without blocking and
 * every one is accounted for once the notifier stops. */
static void test_notify_accounts_for_every_message(void **state)
{
	(void)state;
	struct tp_notify *n = NULL;
	struct tp_notify_config c = {.url = "nats://127.0.0.1:1", .queue_size = 4};
	assert_int_equal(tp_notify_start(&c, &n), 0);
	struct tp_agg_meta m;
	fill_meta(&m);
	unsigned ok = 0, full = 0;
	for (int i = 0; i < 50; i++) {
		int rc = tp_notify_aggregate(n, &m);
		assert_true(rc == 0 || rc == TP_ENOSPACE);
		if (rc == 0)
			ok++;
		else
			full++;
	}
	struct tp_notify_stats st;
	tp_notify_stats(n, &st);
	assert_int_equal(st.queued, ok);
	assert_int_equal(st.dropped_full, full);
	tp_notify_stop(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_json_without_interval),
		cmocka_unit_test(test_notify_json_with_interval),
		cmocka_unit_test(test_notify_json_ids_differ),
		cmocka_unit_test(test_notify_json_refusals),
		cmocka_unit_test(test_notify_config_refusals),
		cmocka_unit_test(test_notify_accounts_for_every_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
