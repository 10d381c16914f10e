/* SPDX-License-Identifier: BSD-2-Clause
 *
 * nats.c - the NATS sink (see nats.h): one thread reads the outbox,
 * publishes a batch with the DNSTAPIR-* headers, flushes, and acknowledges
 * the batch only if the flush proved the server received it on the same
 * connection.
 *
 * libnats runs threads of its own (reading, flushing, reconnecting) and
 * delivers its connection callbacks on another thread still, possibly after
 * natsConnection_Destroy() returned; so no callback gets a pointer to our
 * state (the reconnect delay gets the backoff cap by value), and the sink
 * thread watches the connection status itself.
 */
#include "edge/nats.h"

#include <errno.h>
#include <limits.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "net/stopper.h"
#include "sign/jwk.h"
#include "util/log.h"
#include "util/str.h"

/* How long the thread waits for news (outbox, connection) per round. */
#define LOOP_WAIT_MS 200

struct tp_nats {
	struct tp_stopper ctl;
	pthread_t thread;
	struct tp_seen *outbox; /* borrowed */
	/* copies, from strdup(), owned */
	char *subject, *kid, *thumbprint, *mqtt_topic;
	natsOptions *opts;      /* owned */
	natsConnection *nc;     /* made by the sink thread, destroyed by
				 * tp_nats_stop() after the join */
	natsStatistics *nstats; /* owned; the sink thread's */

	/* the sink thread's own */
	uint64_t last_sent;
	int publish_error;

	unsigned backoff_max_s;
	_Atomic uint64_t published, confirmed, flush_failures, reconnects;
	_Atomic bool connected;
	_Atomic int last_error;
};

/* A header value goes on a line of its own: no control characters. */
static bool header_value_ok(const char *v)
{
	if (v == NULL)
		return false;
	size_t len = strnlen(v, TP_NATS_HEADER_VALUE_MAX + 1u);
	if (len == 0 || len > TP_NATS_HEADER_VALUE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)v[i];
		if (c < 0x20u || c == 0x7fu)
			return false;
	}
	return true;
}

static void set_error(struct tp_nats *n, int err)
{
	atomic_store(&n->last_error, err);
}

static int publish_one(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	struct tp_nats *n = ctx;
	if (len > INT_MAX) {
		n->publish_error = TP_ETOOBIG;
		return 1;
	}
	natsMsg *msg = NULL;
	natsStatus s = natsMsg_Create(&msg, n->subject, NULL, (const char *)data, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "DNSTAPIR-Message-Schema", TP_NATS_SCHEMA_NEW_QNAME);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "DNSTAPIR-Mqtt-Topic", n->mqtt_topic);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "DNSTAPIR-Key-Identifier", n->kid);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "DNSTAPIR-Key-Thumbprint", n->thumbprint);
	if (s == NATS_OK)
		s = natsConnection_PublishMsg(n->nc, msg);
	natsMsg_Destroy(msg);
	if (s != NATS_OK) {
		n->publish_error = tp_nats_err(s);
		return 1;
	}
	n->last_sent = seq;
	atomic_fetch_add(&n->published, 1u);
	return 0;
}

/* Reconnection attempts libnats has made so far; *ok false if unknown. */
static uint64_t reconnect_epoch(struct tp_nats *n, bool *ok)
{
	uint64_t in_msgs, in_bytes, out_msgs, out_bytes, reconnects = 0;
	*ok = natsConnection_GetStats(n->nc, n->nstats) == NATS_OK &&
	      natsStatistics_GetCounts(n->nstats, &in_msgs, &in_bytes, &out_msgs, &out_bytes,
				       &reconnects) == NATS_OK;
	if (*ok)
		atomic_store(&n->reconnects, reconnects);
	return reconnects;
}

/* One batch: publish, flush, acknowledge. Returns 0 and *out_count (0 when
 * the outbox had nothing new), or a failure after which the caller resends
 * from the cursor. */
static int one_batch(struct tp_nats *n, size_t *out_count)
{
	*out_count = 0;
	bool ok1 = false, ok2 = false;
	uint64_t epoch = reconnect_epoch(n, &ok1);
	n->publish_error = 0;
	size_t count = 0;
	int rc = tp_outbox_read(n->outbox, TP_OUTBOX_SINK_NATS, n->last_sent, TP_NATS_BATCH_MAX,
				publish_one, n, &count);
	if (rc == 0)
		rc = n->publish_error;
	if (rc != 0)
		return rc;
	*out_count = count;
	if (count == 0)
		return 0;
	natsStatus s = natsConnection_FlushTimeout(n->nc, TP_NATS_FLUSH_TIMEOUT_MS);
	if (s != NATS_OK) {
		atomic_fetch_add(&n->flush_failures, 1u);
		return tp_nats_err(s);
	}
	/* A PONG on a new connection proves nothing about what was written to
	 * the old one before it broke. */
	if (!ok1 || reconnect_epoch(n, &ok2) != epoch || !ok2)
		return TP_ECONN;
	rc = tp_outbox_ack(n->outbox, TP_OUTBOX_SINK_NATS, n->last_sent);
	if (rc != 0) {
		tp_log_limited(TP_LOG_ERR, NATS, "outbox ack failed: %s", tp_strerror(rc));
		return rc;
	}
	atomic_fetch_add(&n->confirmed, count);
	return 0;
}

/* The first connection is made here, not with libnats's retry-on-failed-
 * connect, which retries inside natsConnection_Connect() itself when TLS
 * fails and so would never return. Once connected, libnats reconnects on its
 * own. Returns true when connected, false when stopping. */
static bool first_connect(struct tp_nats *n)
{
	unsigned failures = 0;
	while (!tp_stopper_stopping(&n->ctl, NULL)) {
		natsStatus s = natsConnection_Connect(&n->nc, n->opts);
		if (s == NATS_OK)
			return true;
		n->nc = NULL;
		set_error(n, tp_nats_err(s));
		failures++;
		unsigned delay = tp_backoff_ms(failures, n->backoff_max_s);
		tp_log_limited(TP_LOG_WARNING, NATS, "cannot connect (%s); retrying in %u ms",
			       natsStatus_GetText(s), delay);
		if (tp_stopper_sleep(&n->ctl, delay))
			break;
	}
	return false;
}

static void *sink_thread(void *arg)
{
	struct tp_nats *n = arg;
	bool resync = true, was_up = false;
	if (!first_connect(n))
		return NULL;
	for (;;) {
		int64_t drain_until = 0;
		bool stopping = tp_stopper_stopping(&n->ctl, &drain_until);
		bool up = natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
		if (up != was_up) {
			bool ok;
			(void)reconnect_epoch(n, &ok);
			if (up) {
				tp_log_info(NATS, "connected to the server");
			} else {
				set_error(n, TP_ECONN);
				tp_log_limited(TP_LOG_WARNING, NATS, "disconnected from the server; reconnecting");
			}
			was_up = up;
			atomic_store(&n->connected, up);
		}
		if (stopping && (!up || tp_stopper_now_ms() >= drain_until))
			break;
		if (!up) {
			resync = true;
			(void)tp_stopper_sleep(&n->ctl, LOOP_WAIT_MS);
			continue;
		}
		if (resync) {
			/* Everything after the cursor is unacknowledged: send it
			 * (again). */
			int rc = tp_outbox_cursor(n->outbox, TP_OUTBOX_SINK_NATS, &n->last_sent);
			if (rc != 0) {
				set_error(n, rc);
				tp_log_limited(TP_LOG_ERR, NATS, "outbox cursor: %s", tp_strerror(rc));
				(void)tp_stopper_sleep(&n->ctl, LOOP_WAIT_MS);
				continue;
			}
			resync = false;
		}
		size_t count = 0;
		int rc = one_batch(n, &count);
		if (rc != 0) {
			set_error(n, rc);
			tp_log_limited(TP_LOG_WARNING, NATS, "events not confirmed (%s); sending them again",
				       tp_strerror(rc));
			resync = true;
			(void)tp_stopper_sleep(&n->ctl, LOOP_WAIT_MS);
			continue;
		}
		if (count == 0) {
			if (stopping)
				break;
			(void)tp_outbox_wait(n->outbox, n->last_sent, LOOP_WAIT_MS);
		}
	}
	return NULL;
}

/* ---- owner side ----------------------------------------------------------- */

static void free_all(struct tp_nats *n)
{
	if (n->nc != NULL)
		natsConnection_Destroy(n->nc);
	natsOptions_Destroy(n->opts);
	natsStatistics_Destroy(n->nstats);
	free(n->subject);
	free(n->kid);
	free(n->thumbprint);
	free(n->mqtt_topic);
	free(n);
}

static int check_config(const struct tp_nats_config *cfg)
{
	if (!tp_nats_url_ok(cfg->url)) {
		tp_log_err(NATS, "bad NATS URL: use nats://host:port or tls://host:port");
		return TP_EINVAL;
	}
	if (!tp_nats_subject_ok(cfg->subject)) {
		tp_log_err(NATS, "bad NATS subject: printable tokens joined by '.', no wildcards, at most 255 octets");
		return TP_EINVAL;
	}
	if (!header_value_ok(cfg->kid) || !header_value_ok(cfg->mqtt_topic) ||
	    cfg->thumbprint == NULL ||
	    strnlen(cfg->thumbprint, TP_JWK_THUMBPRINT_LEN + 1u) != TP_JWK_THUMBPRINT_LEN ||
	    !header_value_ok(cfg->thumbprint)) {
		tp_log_err(NATS, "the NATS headers need a kid, a thumbprint and an MQTT topic without control characters");
		return TP_EINVAL;
	}
	if ((cfg->client_cert_file == NULL) != (cfg->client_key_file == NULL)) {
		tp_log_err(NATS, "a NATS client certificate needs its key, and a key its certificate");
		return TP_EINVAL;
	}
	unsigned backoff = cfg->backoff_max_s;
	if (backoff > TP_NATS_BACKOFF_MAX_S) {
		tp_log_err(NATS, "the NATS backoff must be at most a day");
		return TP_EINVAL;
	}
	return 0;
}

int tp_nats_start(const struct tp_nats_config *cfg, struct tp_seen *outbox, struct tp_nats **out)
{
	if (cfg == NULL || outbox == NULL || out == NULL)
		return TP_EINVAL;
	*out = NULL;
	int rc = check_config(cfg);
	if (rc != 0)
		return rc;
	struct tp_nats *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->outbox = outbox;
	n->backoff_max_s = cfg->backoff_max_s == 0 ? TP_NATS_BACKOFF_MAX_DEFAULT_S : cfg->backoff_max_s;
	rc = tp_strdup_opt(cfg->subject, &n->subject);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->kid, &n->kid);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->thumbprint, &n->thumbprint);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->mqtt_topic, &n->mqtt_topic);
	if (rc == 0 && natsStatistics_Create(&n->nstats) != NATS_OK)
		rc = -ENOMEM;
	if (rc != 0) {
		free_all(n);
		return rc;
	}
	const struct tp_nats_setup setup = {
		.url = cfg->url, .name = "tapir-edge", .ca_file = cfg->ca_file,
		.client_cert_file = cfg->client_cert_file, .client_key_file = cfg->client_key_file,
		.backoff_max_s = n->backoff_max_s,
	};
	natsStatus s = tp_nats_options_new(&setup, &n->opts);
	if (s != NATS_OK) {
		tp_log_err(NATS, "cannot set up the NATS connection: %s", natsStatus_GetText(s));
		free_all(n);
		return s == NATS_NO_MEMORY ? -ENOMEM : TP_ECONN;
	}
	rc = tp_stopper_init(&n->ctl);
	if (rc != 0) {
		free_all(n);
		return rc;
	}
	rc = pthread_create(&n->thread, NULL, sink_thread, n);
	if (rc != 0) {
		tp_stopper_destroy(&n->ctl);
		free_all(n);
		return -rc;
	}
	*out = n;
	return 0;
}

void tp_nats_stop(struct tp_nats *n, unsigned drain_ms)
{
	if (n == NULL)
		return;
	tp_stopper_request(&n->ctl, drain_ms);
	(void)pthread_join(n->thread, NULL);
	tp_stopper_destroy(&n->ctl);
	free_all(n);
}

void tp_nats_stats(struct tp_nats *n, struct tp_nats_stats *out)
{
	out->published = atomic_load(&n->published);
	out->confirmed = atomic_load(&n->confirmed);
	out->flush_failures = atomic_load(&n->flush_failures);
	out->reconnects = atomic_load(&n->reconnects);
	out->connected = atomic_load(&n->connected);
	out->last_error = atomic_load(&n->last_error);
}
