/* SPDX-License-Identifier: BSD-2-Clause
 *
 * mqtt.c - the MQTT sink (see mqtt.h): one thread that owns one libmosquitto
 * client at a time and moves events from the outbox to the broker.
 *
 * The thread drives libmosquitto itself (mosquitto_loop), so the client, the
 * window of unacknowledged events and every callback live on that one
 * thread; only the counters are read from elsewhere. A connection that fails
 * in any way is destroyed whole and a new client is made for the next
 * attempt, and publishing restarts from the outbox cursor: libmosquitto's own
 * resend queue is never relied on, so what it held cannot be sent twice by
 * it and again by us.
 */
#include "edge/mqtt.h"

#include <errno.h>
#include <limits.h>
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "net/stopper.h"
#include "util/log.h"
#include "util/str.h"

/* Longest wait in one mosquitto_loop() or outbox wait: bounds how late a new
 * event, a stop request or a keepalive is noticed. */
#define LOOP_WAIT_MS 200
/* MQTT v5 reason codes below this are successes (0x10: no subscribers). */
#define MQTT_RC_FAILURE 0x80
/* A broker that answered CONNECT (within TP_MQTT_CONNACK_TIMEOUT_MS) must
 * acknowledge an event within this; otherwise the connection is dropped and
 * the events are sent again on a new one, so a stuck broker cannot hold the
 * sink forever. */
#define ACK_TIMEOUT_MS 30000

struct inflight {
	int mid;
	uint64_t seq;
	int64_t sent_ms;
	bool done;
};

struct tp_mqtt {
	struct tp_stopper ctl;
	pthread_t thread;
	struct tp_seen *outbox; /* borrowed */
	struct tp_mqtt_url url;
	/* copies of the configuration, from strdup(), owned */
	char *ca_file, *cert_file, *key_file, *client_id, *topic;
	unsigned keepalive_s, backoff_max_s;

	/* the sink thread's own */
	struct mosquitto *mosq;
	bool session_up;  /* CONNACK success on this connection */
	int64_t connect_ms; /* when this connection's CONNECT was sent */
	bool drop_conn;   /* refused by the broker: start over */
	struct inflight win[TP_MQTT_INFLIGHT_MAX]; /* ring, oldest at win_head */
	size_t win_head, win_len;
	uint64_t last_sent; /* highest seq handed to the connection */
	int publish_error;  /* from the outbox read callback */

	_Atomic uint64_t published, confirmed, refused, connects, reconnects;
	_Atomic bool connected;
	_Atomic int last_error;
};

/* ---- thread side ---------------------------------------------------------- */

static void set_error(struct tp_mqtt *m, int err)
{
	atomic_store(&m->last_error, err);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	(void)mosq;
	(void)flags;
	(void)props;
	struct tp_mqtt *m = obj;
	if (rc == 0) {
		m->session_up = true;
		atomic_store(&m->connected, true);
		atomic_fetch_add(&m->connects, 1u);
		tp_log_info(MQTT, "connected to the broker");
		return;
	}
	set_error(m, TP_EREFUSED);
	m->drop_conn = true;
	tp_log_limited(TP_LOG_WARNING, MQTT, "broker refused the connection: reason %d (%s)",
		       rc, mosquitto_reason_string(rc));
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
		       const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	struct tp_mqtt *m = obj;
	for (size_t i = 0; i < m->win_len; i++) {
		struct inflight *f = &m->win[(m->win_head + i) % TP_MQTT_INFLIGHT_MAX];
		if (f->mid != mid || f->done)
			continue;
		if (reason >= MQTT_RC_FAILURE) {
			/* Not acknowledged: it stays queued. A refusal is about
			 * this client (authorisation, quota), so the connection
			 * starts over after the backoff rather than spinning. */
			atomic_fetch_add(&m->refused, 1u);
			set_error(m, TP_EREFUSED);
			m->drop_conn = true;
			tp_log_limited(TP_LOG_WARNING, MQTT, "broker refused an event: reason %d (%s)",
				       reason, mosquitto_reason_string(reason));
		} else {
			f->done = true;
		}
		return;
	}
}

static int publish_one(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	struct tp_mqtt *m = ctx;
	if (m->win_len >= TP_MQTT_INFLIGHT_MAX || len > INT_MAX)
		return 1;
	int mid = 0;
	int rc = mosquitto_publish_v5(m->mosq, &mid, m->topic, (int)len, data, 1, false, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		m->publish_error = tp_mqtt_err(rc);
		return 1;
	}
	struct inflight *f = &m->win[(m->win_head + m->win_len) % TP_MQTT_INFLIGHT_MAX];
	f->mid = mid;
	f->seq = seq;
	f->sent_ms = tp_stopper_now_ms();
	f->done = false;
	m->win_len++;
	m->last_sent = seq;
	atomic_fetch_add(&m->published, 1u);
	return 0;
}

/* Acknowledge the longest prefix of the window the broker confirmed. */
static int ack_prefix(struct tp_mqtt *m)
{
	uint64_t upto = 0;
	uint64_t n = 0;
	while (m->win_len > 0 && m->win[m->win_head].done) {
		upto = m->win[m->win_head].seq;
		m->win_head = (m->win_head + 1u) % TP_MQTT_INFLIGHT_MAX;
		m->win_len--;
		n++;
	}
	if (n == 0)
		return 0;
	int rc = tp_outbox_ack(m->outbox, TP_OUTBOX_SINK_MQTT, upto);
	if (rc != 0) {
		/* The broker has them; the cursor did not move, so they will
		 * be sent again after the next reconnect (a duplicate, never a
		 * loss). */
		set_error(m, rc);
		tp_log_limited(TP_LOG_ERR, MQTT, "outbox ack failed: %s", tp_strerror(rc));
		return rc;
	}
	atomic_fetch_add(&m->confirmed, n);
	return 0;
}

static void drop_client(struct tp_mqtt *m, bool polite)
{
	if (m->mosq == NULL)
		return;
	tp_mqtt_client_close(m->mosq, polite && m->session_up);
	m->mosq = NULL;
	m->session_up = false;
	m->drop_conn = false;
	m->win_head = m->win_len = 0;
	atomic_store(&m->connected, false);
}

static int make_client(struct tp_mqtt *m)
{
	/* A clean session each time: what was in flight is published again
	 * from the outbox. */
	const struct tp_mqtt_tls tls = {m->ca_file, m->cert_file, m->key_file};
	int rc = tp_mqtt_client_new(m->client_id, true, m, &m->url, &tls, &m->mosq);
	if (rc != 0)
		return rc;
	mosquitto_connect_v5_callback_set(m->mosq, on_connect);
	mosquitto_publish_v5_callback_set(m->mosq, on_publish);
	return 0;
}

static int connect_once(struct tp_mqtt *m)
{
	int rc = make_client(m);
	if (rc != 0)
		return rc;
	m->session_up = false;
	m->drop_conn = false;
	m->win_head = m->win_len = 0;
	/* Resend everything not acknowledged (at-least-once). */
	rc = tp_outbox_cursor(m->outbox, TP_OUTBOX_SINK_MQTT, &m->last_sent);
	if (rc != 0) {
		drop_client(m, false);
		return rc;
	}
	int mrc = mosquitto_connect_bind_v5(m->mosq, m->url.host, m->url.port,
					    (int)m->keepalive_s, NULL, NULL);
	if (mrc != MOSQ_ERR_SUCCESS) {
		rc = tp_mqtt_err(mrc);
		drop_client(m, false);
		return rc;
	}
	m->connect_ms = tp_stopper_now_ms();
	return 0;
}

/* Runs one connection until it fails or the sink stops. Returns 0 when
 * stopping, else the failure. */
static int run_connection(struct tp_mqtt *m)
{
	for (;;) {
		int64_t drain_until = 0;
		bool stopping = tp_stopper_stopping(&m->ctl, &drain_until);
		/* Draining: a connection still waiting for CONNACK may finish
		 * within the deadline too. */
		if (stopping && tp_stopper_now_ms() >= drain_until)
			return 0;

		size_t n_read = 0;
		if (m->session_up && !m->drop_conn && m->win_len < TP_MQTT_INFLIGHT_MAX) {
			m->publish_error = 0;
			int rc = tp_outbox_read(m->outbox, TP_OUTBOX_SINK_MQTT, m->last_sent,
						TP_MQTT_INFLIGHT_MAX - m->win_len, publish_one, m,
						&n_read);
			if (rc == 0)
				rc = m->publish_error;
			if (rc != 0)
				return rc;
		}
		if (stopping && m->session_up && n_read == 0 && m->win_len == 0)
			return 0;
		if (m->session_up && n_read == 0 && m->win_len == 0 && !mosquitto_want_write(m->mosq))
			(void)tp_outbox_wait(m->outbox, m->last_sent, LOOP_WAIT_MS);
		int mrc = mosquitto_loop(m->mosq, m->session_up && m->win_len == 0 ? 0 : LOOP_WAIT_MS, 1);
		if (mrc != MOSQ_ERR_SUCCESS)
			return tp_mqtt_err(mrc);
		if (m->drop_conn)
			return TP_EREFUSED;
		int rc = ack_prefix(m);
		if (rc != 0)
			return rc;
		int64_t now = tp_stopper_now_ms();
		if (!m->session_up && now - m->connect_ms > TP_MQTT_CONNACK_TIMEOUT_MS)
			return TP_ETIMEDOUT;
		if (m->win_len > 0 && now - m->win[m->win_head].sent_ms > ACK_TIMEOUT_MS)
			return TP_ETIMEDOUT;
	}
}

/* One connection, start to end (tp_stopper_attempt_fn). */
static int attempt(void *ctx, bool *reached)
{
	struct tp_mqtt *m = ctx;
	int rc = connect_once(m);
	if (rc == 0) {
		rc = run_connection(m);
		*reached = m->session_up;
		drop_client(m, rc == 0);
	}
	if (rc != 0) {
		set_error(m, rc);
		atomic_fetch_add(&m->reconnects, 1u);
	}
	return rc;
}

static void *sink_thread(void *arg)
{
	struct tp_mqtt *m = arg;
	(void)tp_stopper_retry(&m->ctl, m->backoff_max_s, "MQTT", "connection", attempt, m);
	return NULL;
}

/* ---- owner side ----------------------------------------------------------- */

static void free_copy(struct tp_mqtt *m)
{
	free(m->ca_file);
	free(m->cert_file);
	free(m->key_file);
	free(m->client_id);
	free(m->topic);
	free(m);
}

int tp_mqtt_start(const struct tp_mqtt_config *cfg, struct tp_seen *outbox, struct tp_mqtt **out)
{
	if (cfg == NULL || outbox == NULL || out == NULL)
		return TP_EINVAL;
	*out = NULL;
	struct tp_mqtt_url url;
	const char *why = NULL;
	int rc = tp_mqtt_parse_url(cfg->server, &url, &why);
	if (rc != 0) {
		tp_log_err(MQTT, "bad MQTT server URL: %s", why);
		return rc;
	}
	/* A publish topic must not hold wildcards (MQTT v5 §4.7). */
	if (!tp_mqtt_text_ok(cfg->topic, TP_MQTT_TOPIC_MAX) || strpbrk(cfg->topic, "+#") != NULL) {
		tp_log_err(MQTT, "bad MQTT topic: empty, too long, control characters or wildcards");
		return TP_EINVAL;
	}
	if (!tp_mqtt_text_ok(cfg->client_id, TP_MQTT_CLIENT_ID_MAX)) {
		tp_log_err(MQTT, "bad MQTT client id: empty, too long or control characters");
		return TP_EINVAL;
	}
	const struct tp_mqtt_tls tls = {cfg->ca_file, cfg->client_cert_file, cfg->client_key_file};
	if (tp_mqtt_tls_check(&url, &tls, &why) != 0) {
		tp_log_err(MQTT, "bad MQTT TLS settings: %s", why);
		return TP_EINVAL;
	}
	unsigned keepalive = cfg->keepalive_s == 0 ? TP_MQTT_KEEPALIVE_DEFAULT_S : cfg->keepalive_s;
	unsigned backoff = cfg->backoff_max_s == 0 ? TP_MQTT_BACKOFF_MAX_DEFAULT_S : cfg->backoff_max_s;
	if (keepalive < TP_MQTT_KEEPALIVE_MIN_S || keepalive > TP_MQTT_KEEPALIVE_MAX_S ||
	    backoff > TP_MQTT_BACKOFF_MAX_S) {
		tp_log_err(MQTT, "MQTT keepalive must be 5..65535 s and the backoff at most a day");
		return TP_EINVAL;
	}
	rc = tp_mqtt_lib_init();
	if (rc != 0)
		return rc;

	struct tp_mqtt *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->outbox = outbox;
	m->url = url;
	m->keepalive_s = keepalive;
	m->backoff_max_s = backoff;
	rc = tp_strdup_opt(cfg->ca_file, &m->ca_file);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->client_cert_file, &m->cert_file);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->client_key_file, &m->key_file);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->client_id, &m->client_id);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->topic, &m->topic);
	if (rc != 0) {
		free_copy(m);
		return rc;
	}
	rc = tp_stopper_init(&m->ctl);
	if (rc != 0) {
		free_copy(m);
		return rc;
	}
	rc = pthread_create(&m->thread, NULL, sink_thread, m);
	if (rc != 0) {
		tp_stopper_destroy(&m->ctl);
		free_copy(m);
		return -rc;
	}
	*out = m;
	return 0;
}

void tp_mqtt_stop(struct tp_mqtt *m, unsigned drain_ms)
{
	if (m == NULL)
		return;
	tp_stopper_request(&m->ctl, drain_ms);
	(void)pthread_join(m->thread, NULL);
	tp_stopper_destroy(&m->ctl);
	free_copy(m);
}

void tp_mqtt_stats(struct tp_mqtt *m, struct tp_mqtt_stats *out)
{
	out->published = atomic_load(&m->published);
	out->confirmed = atomic_load(&m->confirmed);
	out->refused = atomic_load(&m->refused);
	out->connects = atomic_load(&m->connects);
	out->reconnects = atomic_load(&m->reconnects);
	out->connected = atomic_load(&m->connected);
	out->last_error = atomic_load(&m->last_error);
}
