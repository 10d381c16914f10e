/* SPDX-License-Identifier: BSD-2-Clause
 *
 * publish_driver.c - test-only program (never installed) that runs one event
 * sink (edge/mqtt.c or edge/nats.c) on a seen-store outbox, for
 * tests/integration/test_publish.py, before and beside the edge's own wiring.
 *
 *   publish_driver --store DIR --sink mqtt|nats --server URL
 *       [--topic T] [--subject S] [--kid K] [--ca F] [--cert F] [--key F]
 *       [--sign-key JWK] [--thumbprint TP] [--feed-interval-ms N]
 *       [--timeout-s N] [--backoff-max-s N]
 *
 * Each stdin line (without its newline) becomes one queued event, through
 * tp_seen_record() as the edge queues them, under a made-up name unique to
 * this run; with --sign-key the line is the payload and the event its
 * flattened JWS. Lines are queued --feed-interval-ms apart (default all at
 * once) while the sink runs. After end of input it waits until the outbox is
 * empty (every event acknowledged), or --timeout-s passes, stops the sink
 * (draining 2 s) and prints one JSON line of counts. Exit 0 when nothing is
 * left, 1 when events remain, 2 on a usage or setup error.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edge/mqtt.h"
#include "edge/nats.h"
#include "net/stopper.h"
#include "sign/jwk.h"
#include "sign/jws.h"
#include "store/seen.h"

#define STORE_MAP_SIZE (64u * 1024u * 1024u)

struct args {
	const char *store, *sink, *server, *topic, *subject, *kid, *ca, *cert, *key;
	const char *sign_key, *thumbprint;
	unsigned feed_interval_ms, timeout_s, backoff_max_s;
};

static int parse_uint(const char *s, unsigned *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > 86400000ul)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->timeout_s = 60;
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			return -1;
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--store") == 0)
			a->store = v;
		else if (strcmp(k, "--sink") == 0)
			a->sink = v;
		else if (strcmp(k, "--server") == 0)
			a->server = v;
		else if (strcmp(k, "--topic") == 0)
			a->topic = v;
		else if (strcmp(k, "--subject") == 0)
			a->subject = v;
		else if (strcmp(k, "--kid") == 0)
			a->kid = v;
		else if (strcmp(k, "--ca") == 0)
			a->ca = v;
		else if (strcmp(k, "--cert") == 0)
			a->cert = v;
		else if (strcmp(k, "--key") == 0)
			a->key = v;
		else if (strcmp(k, "--sign-key") == 0)
			a->sign_key = v;
		else if (strcmp(k, "--thumbprint") == 0)
			a->thumbprint = v;
		else if (strcmp(k, "--feed-interval-ms") == 0) {
			if (parse_uint(v, &a->feed_interval_ms) != 0)
				return -1;
		} else if (strcmp(k, "--timeout-s") == 0) {
			if (parse_uint(v, &a->timeout_s) != 0)
				return -1;
		} else if (strcmp(k, "--backoff-max-s") == 0) {
			if (parse_uint(v, &a->backoff_max_s) != 0)
				return -1;
		} else
			return -1;
	}
	if (a->store == NULL || a->sink == NULL || a->server == NULL)
		return -1;
	if (strcmp(a->sink, "mqtt") != 0 && strcmp(a->sink, "nats") != 0)
		return -1;
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Queue one event under a name no earlier run used. */
static int queue_event(struct tp_seen *s, const uint8_t *ev, size_t len, unsigned idx)
{
	char text[128];
	int n = snprintf(text, sizeof(text), "e%u-p%ld-t%lld.driver.invalid.", idx, (long)getpid(),
			 (long long)time(NULL));
	if (n <= 0 || (size_t)n >= sizeof(text))
		return TP_EBUG;
	struct tp_seen_item item;
	memset(&item, 0, sizeof(item));
	int rc = tp_dns_name_from_text(text, (size_t)n, &item.name);
	if (rc < 0)
		return rc;
	item.event = ev;
	item.event_len = len;
	rc = tp_seen_record(s, &item, 1, (int64_t)time(NULL));
	if (rc != 0)
		return rc;
	if (item.error != 0)
		return item.error;
	return item.queued ? 0 : TP_EBUG;
}

static int feed(struct tp_seen *s, const struct args *a, struct tp_jwk *key, unsigned *out_n)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int rc = 0;
	*out_n = 0;
	while ((got = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)got;
		if (len > 0 && line[len - 1u] == '\n')
			len--;
		if (len == 0 || len > TP_OUTBOX_ITEM_MAX) {
			rc = TP_ETOOBIG;
			break;
		}
		if (key != NULL) {
			char *jws = NULL;
			size_t jws_len = 0;
			rc = tp_jws_sign(key, (const uint8_t *)line, len, &jws, &jws_len);
			if (rc == 0)
				rc = queue_event(s, (const uint8_t *)jws, jws_len, *out_n);
			free(jws);
		} else {
			rc = queue_event(s, (const uint8_t *)line, len, *out_n);
		}
		if (rc != 0)
			break;
		(*out_n)++;
		if (a->feed_interval_ms > 0)
			sleep_ms(a->feed_interval_ms);
	}
	free(line);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a;
	if (parse_args(argc, argv, &a) != 0) {
		fprintf(stderr, "usage: publish_driver --store DIR --sink mqtt|nats --server URL [options]\n");
		return 2;
	}
	/* A broker that closes the socket must not kill the process. */
	(void)signal(SIGPIPE, SIG_IGN);
	bool mqtt = strcmp(a.sink, "mqtt") == 0;
	struct tp_jwk key;
	memset(&key, 0, sizeof(key));
	char thumb[TP_JWK_THUMBPRINT_LEN + 1u] = "";
	const char *kid = a.kid != NULL ? a.kid : "driver";
	if (a.sign_key != NULL) {
		int rc = tp_jwk_load(a.sign_key, true, &key);
		if (rc == 0)
			rc = tp_jwk_thumbprint(&key, thumb);
		if (rc != 0) {
			fprintf(stderr, "publish_driver: key: %s\n", tp_strerror(rc));
			return 2;
		}
		kid = key.kid;
	}
	if (a.thumbprint != NULL)
		(void)snprintf(thumb, sizeof(thumb), "%s", a.thumbprint);
	char topic[TP_MQTT_TOPIC_MAX + 1u];
	int tn = snprintf(topic, sizeof(topic), "events/up/%s/new_qname", kid);
	if (tn <= 0 || (size_t)tn >= sizeof(topic))
		return 2;

	struct tp_seen *s = NULL;
	int rc = tp_seen_open(a.store, STORE_MAP_SIZE, 30, &s);
	if (rc == 0)
		rc = tp_outbox_set_sinks(s, 1u << (mqtt ? TP_OUTBOX_SINK_MQTT : TP_OUTBOX_SINK_NATS));
	if (rc != 0) {
		fprintf(stderr, "publish_driver: store: %s\n", tp_strerror(rc));
		tp_seen_close(s);
		return 2;
	}
	struct tp_mqtt *m = NULL;
	struct tp_nats *n = NULL;
	if (mqtt) {
		char client_id[TP_JWK_KID_MAX + 8u];
		(void)snprintf(client_id, sizeof(client_id), "%s-edm", kid);
		struct tp_mqtt_config c = {
			.server = a.server, .ca_file = a.ca, .client_cert_file = a.cert,
			.client_key_file = a.key, .client_id = client_id,
			.topic = a.topic != NULL ? a.topic : topic,
			.backoff_max_s = a.backoff_max_s,
		};
		rc = tp_mqtt_start(&c, s, &m);
	} else {
		struct tp_nats_config c = {
			.url = a.server, .subject = a.subject != NULL ? a.subject : "events.up.new_qname",
			.ca_file = a.ca, .client_cert_file = a.cert, .client_key_file = a.key,
			.kid = kid, .thumbprint = thumb, .mqtt_topic = topic,
			.backoff_max_s = a.backoff_max_s,
		};
		rc = tp_nats_start(&c, s, &n);
	}
	if (rc != 0) {
		fprintf(stderr, "publish_driver: start: %s\n", tp_strerror(rc));
		tp_seen_close(s);
		tp_jwk_free(&key);
		return 2;
	}

	unsigned fed = 0;
	int feed_rc = feed(s, &a, a.sign_key != NULL ? &key : NULL, &fed);
	if (feed_rc != 0)
		fprintf(stderr, "publish_driver: queueing: %s\n", tp_strerror(feed_rc));
	int64_t deadline = tp_stopper_now_ms() + (int64_t)a.timeout_s * 1000;
	uint64_t queued = 0, last_seq = 0;
	while ((rc = tp_outbox_stats(s, &queued, &last_seq)) == 0 && queued > 0 &&
	       tp_stopper_now_ms() < deadline)
		sleep_ms(50);
	if (mqtt) {
		struct tp_mqtt_stats st;
		tp_mqtt_stats(m, &st);
		tp_mqtt_stop(m, 2000);
		printf("{\"fed\":%u,\"published\":%" PRIu64 ",\"confirmed\":%" PRIu64
		       ",\"connects\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"refused\":%" PRIu64,
		       fed, st.published, st.confirmed, st.connects, st.reconnects, st.refused);
	} else {
		struct tp_nats_stats st;
		tp_nats_stats(n, &st);
		tp_nats_stop(n, 2000);
		printf("{\"fed\":%u,\"published\":%" PRIu64 ",\"confirmed\":%" PRIu64
		       ",\"reconnects\":%" PRIu64 ",\"flush_failures\":%" PRIu64,
		       fed, st.published, st.confirmed, st.reconnects, st.flush_failures);
	}
	if (rc == 0)
		rc = tp_outbox_stats(s, &queued, &last_seq);
	printf(",\"remaining\":%" PRIu64 ",\"last_seq\":%" PRIu64 "}\n", queued, last_seq);
	tp_seen_close(s);
	tp_jwk_free(&key);
	return rc == 0 && feed_rc == 0 && queued == 0 ? 0 : 1;
}
