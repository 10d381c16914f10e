/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_publish.c - the event sinks' parts that need no broker: the
 * configuration checks of tp_mqtt_start()/tp_nats_start(). The URL, subject
 * and backoff rules under them are lib/net's (tests/unit/test_net.c);
 * delivery through real brokers is tests/integration/test_publish.py.
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
		cmocka_unit_test(test_mqtt_start_refuses_bad_config),
		cmocka_unit_test(test_nats_start_refuses_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
