/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_net.c - lib/net without a broker: the MQTT server URL table
 * (edm-spec §5.3), the text and TLS-file rules of MQTT clients, NATS
 * subjects and URLs, the capped backoff, the stopper's sleeps and its retry
 * loop. The
 * connections themselves are exercised through real brokers by
 * tests/integration/test_publish.py and test_bridge.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "net/mqtt.h"
#include "net/nats.h"
#include "net/stopper.h"

struct url_case {
	const char *url;
	int rc;
	const char *host;
	uint16_t port;
	bool tls;
};

/* Expected values from edm-spec §5.3: bare host:port is TLS; mqtt/tcp are
 * plain; ssl/tls/mqtts/mqtt+ssl/tcps are TLS; ws/wss are refused by us;
 * no host is an error. Default ports are the IANA ones (1883, 8883). */
static const struct url_case url_cases[] = {
	{"127.0.0.1:8883", 0, "127.0.0.1", 8883, true},
	{"broker.example:1883", 0, "broker.example", 1883, true},
	{"broker.example", 0, "broker.example", 8883, true},
	{"mqtt://broker.example", 0, "broker.example", 1883, false},
	{"mqtt://broker.example:1884", 0, "broker.example", 1884, false},
	{"tcp://10.0.0.1:1883", 0, "10.0.0.1", 1883, false},
	{"TCP://10.0.0.1:1883/", 0, "10.0.0.1", 1883, false},
	{"ssl://b.example:8883", 0, "b.example", 8883, true},
	{"tls://b.example", 0, "b.example", 8883, true},
	{"mqtts://b.example:443", 0, "b.example", 443, true},
	{"mqtt+ssl://b.example:8884", 0, "b.example", 8884, true},
	{"tcps://b.example:8885", 0, "b.example", 8885, true},
	{"MQTTS://B.Example:8883", 0, "B.Example", 8883, true},
	{"[::1]:1883", 0, "::1", 1883, true},
	{"mqtt://[2001:db8::1]", 0, "2001:db8::1", 1883, false},
	{"mqtts://[2001:db8::1]:9000/", 0, "2001:db8::1", 9000, true},
	{"b.example:65535", 0, "b.example", 65535, true},
	{"b.example:1", 0, "b.example", 1, true},
	{"ws://b.example:80", -EPROTONOSUPPORT, NULL, 0, false},
	{"WSS://b.example:443", -EPROTONOSUPPORT, NULL, 0, false},
	{"", TP_EINVAL, NULL, 0, false},
	{"mqtt://", TP_EINVAL, NULL, 0, false},
	{"mqtt://:1883", TP_EINVAL, NULL, 0, false},
	{":8883", TP_EINVAL, NULL, 0, false},
	{"http://b.example", TP_EINVAL, NULL, 0, false},
	{"mqtt://b.example:0", TP_EINVAL, NULL, 0, false},
	{"mqtt://b.example:65536", TP_EINVAL, NULL, 0, false},
	{"mqtt://b.example:123456", TP_EINVAL, NULL, 0, false},
	{"mqtt://b.example:", TP_EINVAL, NULL, 0, false},
	{"mqtt://b.example:18x3", TP_EINVAL, NULL, 0, false},
	{"mqtt://b.example:-1", TP_EINVAL, NULL, 0, false},
	{"mqtt://user:pw@b.example:1883", TP_EINVAL, NULL, 0, false},
	{"mqtt://b.example:1883/topic", TP_EINVAL, NULL, 0, false},
	{"mqtt://b.example:1883?x=1", TP_EINVAL, NULL, 0, false},
	{"::1:1883", TP_EINVAL, NULL, 0, false},
	{"[::1", TP_EINVAL, NULL, 0, false},
	{"[b.example]:1883", TP_EINVAL, NULL, 0, false},
	{"[::1]x", TP_EINVAL, NULL, 0, false},
	{"b example:1883", TP_EINVAL, NULL, 0, false},
};

static void test_mqtt_parse_url_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		const struct url_case *c = &url_cases[i];
		struct tp_mqtt_url u;
		const char *why = NULL;
		int rc = tp_mqtt_parse_url(c->url, &u, &why);
		if (rc != c->rc)
			fail_msg("%s: rc %d, want %d", c->url, rc, c->rc);
		if (rc != 0) {
			assert_non_null(why);
			continue;
		}
		assert_string_equal(u.host, c->host);
		assert_int_equal(u.port, c->port);
		assert_int_equal(u.tls, c->tls);
	}
}

static void test_mqtt_parse_url_host_length(void **state)
{
	(void)state;
	char url[TP_MQTT_HOST_MAX + 32u];
	struct tp_mqtt_url u;
	memset(url, 'a', TP_MQTT_HOST_MAX);
	memcpy(url + TP_MQTT_HOST_MAX, ":1883", 6);
	assert_int_equal(tp_mqtt_parse_url(url, &u, NULL), 0);
	assert_int_equal(strlen(u.host), TP_MQTT_HOST_MAX);
	memset(url, 'a', TP_MQTT_HOST_MAX + 1u);
	memcpy(url + TP_MQTT_HOST_MAX + 1u, ":1883", 6);
	assert_int_equal(tp_mqtt_parse_url(url, &u, NULL), TP_EINVAL);
	assert_int_equal(tp_mqtt_parse_url(NULL, &u, NULL), TP_EINVAL);
}

static void test_nats_subject_rules(void **state)
{
	(void)state;
	static const char *good[] = {"events", "events.up.new_qname", "a.b-c.d_e.F9", "x.$y"};
	static const char *bad[] = {"", ".events", "events.", "a..b", "a.*.c", "a.>", "a b",
				    "a\tb", "caf\xc3\xa9", "a\nb"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!tp_nats_subject_ok(good[i]))
			fail_msg("refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tp_nats_subject_ok(bad[i]))
			fail_msg("accepted bad subject %zu", i);
	assert_false(tp_nats_subject_ok(NULL));
	char longs[TP_NATS_SUBJECT_MAX + 2u];
	memset(longs, 'a', sizeof(longs) - 1u);
	longs[TP_NATS_SUBJECT_MAX] = '\0';
	assert_true(tp_nats_subject_ok(longs));
	longs[TP_NATS_SUBJECT_MAX] = 'a';
	longs[TP_NATS_SUBJECT_MAX + 1u] = '\0';
	assert_false(tp_nats_subject_ok(longs));
}

static void test_backoff_doubles_to_cap(void **state)
{
	(void)state;
	/* 1 s, doubling, capped at max_s. */
	assert_int_equal(tp_backoff_ms(1, 30), 1000);
	assert_int_equal(tp_backoff_ms(2, 30), 2000);
	assert_int_equal(tp_backoff_ms(3, 30), 4000);
	assert_int_equal(tp_backoff_ms(5, 30), 16000);
	assert_int_equal(tp_backoff_ms(6, 30), 30000);
	assert_int_equal(tp_backoff_ms(1000000, 30), 30000);
	assert_int_equal(tp_backoff_ms(0, 30), 1000);
	assert_int_equal(tp_backoff_ms(4, 1), 1000);
	assert_int_equal(tp_backoff_ms(40, 86400), 86400000);
}

static void test_stopper_sleep_cut_short_by_stop(void **state)
{
	(void)state;
	struct tp_stopper c;
	assert_int_equal(tp_stopper_init(&c), 0);
	int64_t t0 = tp_stopper_now_ms();
	assert_false(tp_stopper_sleep(&c, 50));
	assert_true(tp_stopper_now_ms() - t0 >= 50);
	tp_stopper_request(&c, 1234);
	int64_t until = 0;
	assert_true(tp_stopper_stopping(&c, &until));
	assert_true(until >= t0 + 1234);
	t0 = tp_stopper_now_ms();
	assert_true(tp_stopper_sleep(&c, 60000));
	assert_true(tp_stopper_now_ms() - t0 < 1000);
	tp_stopper_destroy(&c);
}

static void test_mqtt_text_rules(void **state)
{
	(void)state;
	assert_true(tp_mqtt_text_ok("events/up/#", 11));
	assert_false(tp_mqtt_text_ok("events/up/#", 10));
	assert_false(tp_mqtt_text_ok("", 10));
	assert_false(tp_mqtt_text_ok(NULL, 10));
	assert_false(tp_mqtt_text_ok("a\rb", 10));
	assert_false(tp_mqtt_text_ok("a\x7f", 10));
	assert_true(tp_mqtt_text_ok("caf\xc3\xa9", 10));
}

static void test_mqtt_tls_files_fit_the_url(void **state)
{
	(void)state;
	struct tp_mqtt_url plain, tls;
	assert_int_equal(tp_mqtt_parse_url("mqtt://b.example", &plain, NULL), 0);
	assert_int_equal(tp_mqtt_parse_url("mqtts://b.example", &tls, NULL), 0);
	const struct tp_mqtt_tls none = {0}, ca = {.ca_file = "ca.pem"};
	const struct tp_mqtt_tls pair = {.client_cert_file = "c.pem", .client_key_file = "k.pem"};
	const struct tp_mqtt_tls cert_only = {.client_cert_file = "c.pem"};
	const struct tp_mqtt_tls key_only = {.client_key_file = "k.pem"};
	const char *why = NULL;
	assert_int_equal(tp_mqtt_tls_check(&plain, &none, &why), 0);
	assert_int_equal(tp_mqtt_tls_check(&tls, &none, &why), 0);
	assert_int_equal(tp_mqtt_tls_check(&tls, &ca, &why), 0);
	assert_int_equal(tp_mqtt_tls_check(&tls, &pair, &why), 0);
	assert_int_equal(tp_mqtt_tls_check(&tls, &cert_only, &why), TP_EINVAL);
	assert_non_null(why);
	assert_int_equal(tp_mqtt_tls_check(&tls, &key_only, &why), TP_EINVAL);
	assert_int_equal(tp_mqtt_tls_check(&plain, &ca, &why), TP_EINVAL);
	assert_int_equal(tp_mqtt_tls_check(&plain, &pair, &why), TP_EINVAL);
}

static void test_nats_url_rules(void **state)
{
	(void)state;
	assert_true(tp_nats_url_ok("nats://127.0.0.1:4222"));
	assert_true(tp_nats_url_ok("tls://nats.example:4222"));
	assert_true(tp_nats_url_ok("nats://a:1,nats://b:2"));
	assert_false(tp_nats_url_ok(NULL));
	assert_false(tp_nats_url_ok(""));
	assert_false(tp_nats_url_ok("nats://"));
	assert_false(tp_nats_url_ok("tls://"));
	assert_false(tp_nats_url_ok("http://127.0.0.1:4222"));
	assert_false(tp_nats_url_ok("127.0.0.1:4222"));
	char longu[TP_NATS_URL_MAX + 2u];
	memset(longu, 'a', sizeof(longu) - 1u);
	memcpy(longu, "nats://", 7);
	longu[TP_NATS_URL_MAX] = '\0';
	assert_true(tp_nats_url_ok(longu));
	longu[TP_NATS_URL_MAX] = 'a';
	longu[TP_NATS_URL_MAX + 1u] = '\0';
	assert_false(tp_nats_url_ok(longu));
}

struct tries {
	unsigned n;
};

/* Fails unreached, then fails after coming up, then succeeds. */
static int flaky_attempt(void *ctx, bool *reached)
{
	struct tries *t = ctx;
	t->n++;
	if (t->n == 2u)
		*reached = true;
	return t->n < 3u ? TP_ECONN : 0;
}

static void test_stopper_retry_backs_off_and_restarts(void **state)
{
	(void)state;
	struct tp_stopper c;
	assert_int_equal(tp_stopper_init(&c), 0);
	struct tries t = {0};
	int64_t t0 = tp_stopper_now_ms();
	assert_true(tp_stopper_retry(&c, 30, "TEST", "attempt", flaky_attempt, &t));
	int64_t took = tp_stopper_now_ms() - t0;
	assert_int_equal(t.n, 3u);
	/* 1 s after the first failure; the second came up first, so the
	 * backoff starts over at 1 s rather than doubling to 2 s. */
	assert_true(took >= 2000 && took < 3000);
	/* Stopped: no attempt at all. */
	tp_stopper_request(&c, 0);
	t.n = 0;
	assert_false(tp_stopper_retry(&c, 30, "TEST", "attempt", flaky_attempt, &t));
	assert_int_equal(t.n, 0u);
	tp_stopper_destroy(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mqtt_parse_url_table),
		cmocka_unit_test(test_mqtt_parse_url_host_length),
		cmocka_unit_test(test_mqtt_text_rules),
		cmocka_unit_test(test_mqtt_tls_files_fit_the_url),
		cmocka_unit_test(test_nats_subject_rules),
		cmocka_unit_test(test_nats_url_rules),
		cmocka_unit_test(test_backoff_doubles_to_cap),
		cmocka_unit_test(test_stopper_sleep_cut_short_by_stop),
		cmocka_unit_test(test_stopper_retry_backs_off_and_restarts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
