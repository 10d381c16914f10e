/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_publish.c - the event sinks' parts that need no broker: the MQTT
 * server URL table (edm-spec §5.3), NATS subject rules, the capped backoff,
 * and the configuration checks of tp_mqtt_start()/tp_nats_start(). Delivery
 * through real brokers is tests/integration/test_publish.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "edge/mqtt.h"
#include "edge/nats.h"
#include "edge/sink.h"

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

static void test_sink_backoff_doubles_to_cap(void **state)
{
	(void)state;
	/* 1 s, doubling, capped at max_s. */
	assert_int_equal(tp_sink_backoff_ms(1, 30), 1000);
	assert_int_equal(tp_sink_backoff_ms(2, 30), 2000);
	assert_int_equal(tp_sink_backoff_ms(3, 30), 4000);
	assert_int_equal(tp_sink_backoff_ms(5, 30), 16000);
	assert_int_equal(tp_sink_backoff_ms(6, 30), 30000);
	assert_int_equal(tp_sink_backoff_ms(1000000, 30), 30000);
	assert_int_equal(tp_sink_backoff_ms(0, 30), 1000);
	assert_int_equal(tp_sink_backoff_ms(4, 1), 1000);
	assert_int_equal(tp_sink_backoff_ms(40, 86400), 86400000);
}

static void test_sink_sleep_cut_short_by_stop(void **state)
{
	(void)state;
	struct tp_sink_ctl c;
	assert_int_equal(tp_sink_ctl_init(&c), 0);
	int64_t t0 = tp_sink_now_ms();
	assert_false(tp_sink_ctl_sleep(&c, 50));
	assert_true(tp_sink_now_ms() - t0 >= 50);
	tp_sink_ctl_request_stop(&c, 1234);
	int64_t until = 0;
	assert_true(tp_sink_ctl_stopping(&c, &until));
	assert_true(until >= t0 + 1234);
	t0 = tp_sink_now_ms();
	assert_true(tp_sink_ctl_sleep(&c, 60000));
	assert_true(tp_sink_now_ms() - t0 < 1000);
	tp_sink_ctl_destroy(&c);
}

static int open_store(struct tp_seen **s, char *dir)
{
	if (mkdtemp(dir) == NULL)
		return -errno;
	return tp_seen_open(dir, 1024u * 1024u, 30, s);
}

static void close_store(struct tp_seen *s, const char *dir)
{
	tp_seen_close(s);
	char path[256];
	static const char *files[] = {"data.mdb", "lock.mdb"};
	for (size_t i = 0; i < 2; i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_true(n > 0 && (size_t)n < sizeof(path));
		(void)unlink(path);
	}
	assert_int_equal(rmdir(dir), 0);
}

static void test_mqtt_start_refuses_bad_config(void **state)
{
	(void)state;
	char dir[] = "/tmp/tapir-test-publish-XXXXXX";
	struct tp_seen *s = NULL;
	assert_int_equal(open_store(&s, dir), 0);
	struct tp_mqtt *m = NULL;
	const struct tp_mqtt_config good = {
		.server = "mqtt://127.0.0.1:1", .client_id = "k-edm",
		.topic = "events/up/k/new_qname",
	};
	struct tp_mqtt_config c = good;
	c.server = "ws://127.0.0.1:1";
	assert_int_equal(tp_mqtt_start(&c, s, &m), -EPROTONOSUPPORT);
	c = good;
	c.topic = "events/up/+/new_qname";
	assert_int_equal(tp_mqtt_start(&c, s, &m), TP_EINVAL);
	c = good;
	c.topic = "events/#";
	assert_int_equal(tp_mqtt_start(&c, s, &m), TP_EINVAL);
	c = good;
	c.topic = "";
	assert_int_equal(tp_mqtt_start(&c, s, &m), TP_EINVAL);
	c = good;
	c.client_id = NULL;
	assert_int_equal(tp_mqtt_start(&c, s, &m), TP_EINVAL);
	c = good;
	c.server = "mqtts://127.0.0.1:1";
	c.client_cert_file = "/nonexistent.pem"; /* without its key */
	assert_int_equal(tp_mqtt_start(&c, s, &m), TP_EINVAL);
	c = good;
	c.ca_file = "/nonexistent.pem"; /* TLS file for a plain server */
	assert_int_equal(tp_mqtt_start(&c, s, &m), TP_EINVAL);
	c = good;
	c.keepalive_s = 4;
	assert_int_equal(tp_mqtt_start(&c, s, &m), TP_EINVAL);
	c = good;
	c.keepalive_s = 65536;
	assert_int_equal(tp_mqtt_start(&c, s, &m), TP_EINVAL);
	c = good;
	c.backoff_max_s = TP_MQTT_BACKOFF_MAX_S + 1u;
	assert_int_equal(tp_mqtt_start(&c, s, &m), TP_EINVAL);
	assert_null(m);
	/* A good config starts although nothing listens on port 1, and stops
	 * at once. */
	assert_int_equal(tp_mqtt_start(&good, s, &m), 0);
	assert_non_null(m);
	tp_mqtt_stop(m, 1000);
	close_store(s, dir);
}

static void test_nats_start_refuses_bad_config(void **state)
{
	(void)state;
	char dir[] = "/tmp/tapir-test-publish-XXXXXX";
	struct tp_seen *s = NULL;
	assert_int_equal(open_store(&s, dir), 0);
	struct tp_nats *n = NULL;
	const struct tp_nats_config good = {
		.url = "nats://127.0.0.1:1", .subject = "events.up",
		.kid = "k", .thumbprint = "0123456789012345678901234567890123456789abc",
		.mqtt_topic = "events/up/k/new_qname",
	};
	struct tp_nats_config c = good;
	c.url = "http://127.0.0.1:1";
	assert_int_equal(tp_nats_start(&c, s, &n), TP_EINVAL);
	c = good;
	c.url = "nats://";
	assert_int_equal(tp_nats_start(&c, s, &n), TP_EINVAL);
	c = good;
	c.subject = "events.>";
	assert_int_equal(tp_nats_start(&c, s, &n), TP_EINVAL);
	c = good;
	c.kid = "k\r\nX-Injected: 1";
	assert_int_equal(tp_nats_start(&c, s, &n), TP_EINVAL);
	c = good;
	c.thumbprint = "short";
	assert_int_equal(tp_nats_start(&c, s, &n), TP_EINVAL);
	c = good;
	c.mqtt_topic = NULL;
	assert_int_equal(tp_nats_start(&c, s, &n), TP_EINVAL);
	c = good;
	c.client_key_file = "/nonexistent.pem";
	assert_int_equal(tp_nats_start(&c, s, &n), TP_EINVAL);
	assert_null(n);
	close_store(s, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mqtt_parse_url_table),
		cmocka_unit_test(test_mqtt_parse_url_host_length),
		cmocka_unit_test(test_nats_subject_rules),
		cmocka_unit_test(test_sink_backoff_doubles_to_cap),
		cmocka_unit_test(test_sink_sleep_cut_short_by_stop),
		cmocka_unit_test(test_mqtt_start_refuses_bad_config),
		cmocka_unit_test(test_nats_start_refuses_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
