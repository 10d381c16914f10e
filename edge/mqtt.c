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

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "edge/sink.h"
#include "util/ascii.h"
#include "util/log.h"

/* Longest wait in one mosquitto_loop() or outbox wait: bounds how late a new
 * event, a stop request or a keepalive is noticed. */
#define LOOP_WAIT_MS 200
/* MQTT v5 reason codes below this are successes (0x10: no subscribers). */
#define MQTT_RC_FAILURE 0x80
/* A broker that accepted TCP (and TLS) must answer CONNECT within this, and
 * acknowledge an event within ACK_TIMEOUT_MS; otherwise the connection is
 * dropped and the events are sent again on a new one, so a stuck broker
 * cannot hold the sink forever. */
#define CONNACK_TIMEOUT_MS 10000
#define ACK_TIMEOUT_MS 30000

struct inflight {
	int mid;
	uint64_t seq;
	int64_t sent_ms;
	bool done;
};

struct tp_mqtt {
	struct tp_sink_ctl ctl;
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

static const struct {
	const char *name;
	bool tls;
} schemes[] = {
	{"mqtt", false}, {"tcp", false}, {"ssl", true}, {"tls", true},
	{"mqtts", true}, {"mqtt+ssl", true}, {"tcps", true},
};

static bool ascii_ieq(const char *a, size_t a_len, const char *b)
{
	size_t b_len = strlen(b);
	if (a_len != b_len)
		return false;
	for (size_t i = 0; i < a_len; i++)
		if (tp_ascii_tolower((uint8_t)a[i]) != (uint8_t)b[i])
			return false;
	return true;
}

static int url_fail(const char **why, const char *text, int rc)
{
	if (why != NULL)
		*why = text;
	return rc;
}

static bool host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       tp_ascii_isdigit((uint8_t)c) || c == '-' || c == '.' || c == '_';
}

int tp_mqtt_parse_url(const char *url, struct tp_mqtt_url *out, const char **why)
{
	if (url == NULL || out == NULL)
		return url_fail(why, "no URL", TP_EINVAL);
	memset(out, 0, sizeof(*out));
	const char *rest = url;
	const char *sep = strstr(url, "://");
	/* edm-spec §5.3: a bare host:port is TLS. */
	out->tls = true;
	if (sep != NULL) {
		size_t slen = (size_t)(sep - url);
		if (ascii_ieq(url, slen, "ws") || ascii_ieq(url, slen, "wss"))
			return url_fail(why, "MQTT over WebSockets (ws://, wss://) is not supported",
					-EPROTONOSUPPORT);
		size_t i;
		for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
			if (ascii_ieq(url, slen, schemes[i].name))
				break;
		if (i == sizeof(schemes) / sizeof(schemes[0]))
			return url_fail(why, "unknown scheme (use mqtt://, tcp://, mqtts://, tls://, ssl://, mqtt+ssl://, tcps:// or host:port)",
					TP_EINVAL);
		out->tls = schemes[i].tls;
		rest = sep + 3;
	}
	size_t len = strlen(rest);
	if (len > 0 && rest[len - 1u] == '/')
		len--;
	if (memchr(rest, '@', len) != NULL)
		return url_fail(why, "user information in the URL is not supported", TP_EINVAL);
	if (memchr(rest, '/', len) != NULL || memchr(rest, '?', len) != NULL ||
	    memchr(rest, '#', len) != NULL)
		return url_fail(why, "the URL must not have a path, query or fragment", TP_EINVAL);

	const char *host = rest, *port = NULL;
	size_t host_len;
	if (len > 0 && rest[0] == '[') {
		const char *close = memchr(rest, ']', len);
		if (close == NULL)
			return url_fail(why, "unbalanced [ in the URL", TP_EINVAL);
		host = rest + 1;
		host_len = (size_t)(close - host);
		size_t after = (size_t)(close - rest) + 1u;
		if (after < len) {
			if (rest[after] != ':')
				return url_fail(why, "junk after ] in the URL", TP_EINVAL);
			port = rest + after + 1u;
		}
		if (host_len > TP_MQTT_HOST_MAX)
			return url_fail(why, "host too long", TP_EINVAL);
		char tmp[TP_MQTT_HOST_MAX + 1u];
		struct in6_addr a6;
		memcpy(tmp, host, host_len);
		tmp[host_len] = '\0';
		if (host_len == 0 || inet_pton(AF_INET6, tmp, &a6) != 1)
			return url_fail(why, "not an IPv6 address inside [ ]", TP_EINVAL);
	} else {
		const char *colon = memchr(rest, ':', len);
		if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - rest) - 1u) != NULL)
			return url_fail(why, "write an IPv6 address in brackets: [::1]:8883", TP_EINVAL);
		host_len = colon != NULL ? (size_t)(colon - rest) : len;
		if (colon != NULL)
			port = colon + 1;
		for (size_t i = 0; i < host_len; i++)
			if (!host_char_ok(host[i]))
				return url_fail(why, "bad character in the host", TP_EINVAL);
	}
	if (host_len == 0)
		return url_fail(why, "no host in the URL", TP_EINVAL);
	if (host_len > TP_MQTT_HOST_MAX)
		return url_fail(why, "host too long", TP_EINVAL);

	unsigned long p = out->tls ? 8883u : 1883u;
	if (port != NULL) {
		size_t plen = len - (size_t)(port - rest);
		if (plen == 0 || plen > 5)
			return url_fail(why, "bad port", TP_EINVAL);
		p = 0;
		for (size_t i = 0; i < plen; i++) {
			if (!tp_ascii_isdigit((uint8_t)port[i]))
				return url_fail(why, "bad port", TP_EINVAL);
			p = p * 10u + (unsigned long)(port[i] - '0');
		}
		if (p == 0 || p > 65535u)
			return url_fail(why, "port out of range 1..65535", TP_EINVAL);
	}
	memcpy(out->host, host, host_len);
	out->host[host_len] = '\0';
	out->port = (uint16_t)p;
	return 0;
}

/* ---- thread side ---------------------------------------------------------- */

static int mosq_to_err(int rc)
{
	switch (rc) {
	case MOSQ_ERR_SUCCESS:
		return 0;
	case MOSQ_ERR_NOMEM:
		return -ENOMEM;
	case MOSQ_ERR_ERRNO:
		return errno > 0 ? -errno : TP_ECONN;
	case MOSQ_ERR_CONN_REFUSED:
	case MOSQ_ERR_NOT_SUPPORTED:
		return TP_EREFUSED;
	case MOSQ_ERR_INVAL:
		return TP_EINVAL;
	default:
		return TP_ECONN;
	}
}

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
		m->publish_error = mosq_to_err(rc);
		return 1;
	}
	struct inflight *f = &m->win[(m->win_head + m->win_len) % TP_MQTT_INFLIGHT_MAX];
	f->mid = mid;
	f->seq = seq;
	f->sent_ms = tp_sink_now_ms();
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
	if (polite && m->session_up) {
		if (mosquitto_disconnect_v5(m->mosq, 0, NULL) == MOSQ_ERR_SUCCESS)
			(void)mosquitto_loop(m->mosq, 100, 1);
	}
	mosquitto_destroy(m->mosq);
	m->mosq = NULL;
	m->session_up = false;
	m->drop_conn = false;
	m->win_head = m->win_len = 0;
	atomic_store(&m->connected, false);
}

static int make_client(struct tp_mqtt *m)
{
	m->mosq = mosquitto_new(m->client_id, true, m);
	if (m->mosq == NULL)
		return errno == EINVAL ? TP_EINVAL : -ENOMEM;
	int rc = mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (rc == MOSQ_ERR_SUCCESS && m->url.tls) {
		if (m->ca_file == NULL)
			rc = mosquitto_int_option(m->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		/* Files are read here, at each connection: a renewed client
		 * certificate applies at the next reconnect. */
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_set(m->mosq, m->ca_file, NULL, m->cert_file, m->key_file, NULL);
		/* Verify the peer; tls_version NULL = TLS 1.2 or newer, 1.3
		 * when the broker has it. */
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(m->mosq, 1, NULL, NULL);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		int err = mosq_to_err(rc);
		mosquitto_destroy(m->mosq);
		m->mosq = NULL;
		return err;
	}
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
		rc = mosq_to_err(mrc);
		drop_client(m, false);
		return rc;
	}
	m->connect_ms = tp_sink_now_ms();
	return 0;
}

/* Runs one connection until it fails or the sink stops. Returns 0 when
 * stopping, else the failure. */
static int run_connection(struct tp_mqtt *m)
{
	for (;;) {
		int64_t drain_until = 0;
		bool stopping = tp_sink_ctl_stopping(&m->ctl, &drain_until);
		/* Draining: a connection still waiting for CONNACK may finish
		 * within the deadline too. */
		if (stopping && tp_sink_now_ms() >= drain_until)
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
			return mosq_to_err(mrc);
		if (m->drop_conn)
			return TP_EREFUSED;
		int rc = ack_prefix(m);
		if (rc != 0)
			return rc;
		int64_t now = tp_sink_now_ms();
		if (!m->session_up && now - m->connect_ms > CONNACK_TIMEOUT_MS)
			return TP_ETIMEDOUT;
		if (m->win_len > 0 && now - m->win[m->win_head].sent_ms > ACK_TIMEOUT_MS)
			return TP_ETIMEDOUT;
	}
}

static void *sink_thread(void *arg)
{
	struct tp_mqtt *m = arg;
	unsigned failures = 0;
	while (!tp_sink_ctl_stopping(&m->ctl, NULL)) {
		int rc = connect_once(m);
		if (rc == 0) {
			rc = run_connection(m);
			if (m->session_up)
				failures = 0;
			drop_client(m, rc == 0);
			if (rc == 0)
				break;
		}
		set_error(m, rc);
		atomic_fetch_add(&m->reconnects, 1u);
		failures++;
		unsigned delay = tp_sink_backoff_ms(failures, m->backoff_max_s);
		tp_log_limited(TP_LOG_WARNING, MQTT, "connection failed or lost (%s); retrying in %u ms",
			       tp_strerror(rc), delay);
		if (tp_sink_ctl_sleep(&m->ctl, delay))
			break;
	}
	return NULL;
}

/* ---- owner side ----------------------------------------------------------- */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

static void lib_init(void)
{
	lib_rc = mosquitto_lib_init();
}

static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	*out = strdup(s);
	return *out == NULL ? -ENOMEM : 0;
}

static void free_copy(struct tp_mqtt *m)
{
	free(m->ca_file);
	free(m->cert_file);
	free(m->key_file);
	free(m->client_id);
	free(m->topic);
	free(m);
}

static int check_text(const char *s, size_t max, bool topic)
{
	if (s == NULL)
		return TP_EINVAL;
	size_t len = strnlen(s, max + 1u);
	if (len == 0 || len > max)
		return TP_EINVAL;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c < 0x20u || c == 0x7fu)
			return TP_EINVAL;
		/* A publish topic must not hold wildcards (MQTT v5 §4.7). */
		if (topic && (c == '+' || c == '#'))
			return TP_EINVAL;
	}
	return 0;
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
	if (check_text(cfg->topic, TP_MQTT_TOPIC_MAX, true) != 0) {
		tp_log_err(MQTT, "bad MQTT topic: empty, too long, control characters or wildcards");
		return TP_EINVAL;
	}
	if (check_text(cfg->client_id, TP_MQTT_CLIENT_ID_MAX, false) != 0) {
		tp_log_err(MQTT, "bad MQTT client id: empty, too long or control characters");
		return TP_EINVAL;
	}
	if ((cfg->client_cert_file == NULL) != (cfg->client_key_file == NULL)) {
		tp_log_err(MQTT, "an MQTT client certificate needs its key, and a key its certificate");
		return TP_EINVAL;
	}
	if (!url.tls && (cfg->ca_file != NULL || cfg->client_cert_file != NULL)) {
		tp_log_err(MQTT, "TLS files given for a plain mqtt:// or tcp:// server");
		return TP_EINVAL;
	}
	unsigned keepalive = cfg->keepalive_s == 0 ? TP_MQTT_KEEPALIVE_DEFAULT_S : cfg->keepalive_s;
	unsigned backoff = cfg->backoff_max_s == 0 ? TP_MQTT_BACKOFF_MAX_DEFAULT_S : cfg->backoff_max_s;
	if (keepalive < TP_MQTT_KEEPALIVE_MIN_S || keepalive > TP_MQTT_KEEPALIVE_MAX_S ||
	    backoff > TP_MQTT_BACKOFF_MAX_S) {
		tp_log_err(MQTT, "MQTT keepalive must be 5..65535 s and the backoff at most a day");
		return TP_EINVAL;
	}
	(void)pthread_once(&lib_once, lib_init);
	if (lib_rc != MOSQ_ERR_SUCCESS)
		return TP_EBUG;

	struct tp_mqtt *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->outbox = outbox;
	m->url = url;
	m->keepalive_s = keepalive;
	m->backoff_max_s = backoff;
	rc = dup_opt(cfg->ca_file, &m->ca_file);
	if (rc == 0)
		rc = dup_opt(cfg->client_cert_file, &m->cert_file);
	if (rc == 0)
		rc = dup_opt(cfg->client_key_file, &m->key_file);
	if (rc == 0)
		rc = dup_opt(cfg->client_id, &m->client_id);
	if (rc == 0)
		rc = dup_opt(cfg->topic, &m->topic);
	if (rc != 0) {
		free_copy(m);
		return rc;
	}
	rc = tp_sink_ctl_init(&m->ctl);
	if (rc != 0) {
		free_copy(m);
		return rc;
	}
	rc = pthread_create(&m->thread, NULL, sink_thread, m);
	if (rc != 0) {
		tp_sink_ctl_destroy(&m->ctl);
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
	tp_sink_ctl_request_stop(&m->ctl, drain_ms);
	(void)pthread_join(m->thread, NULL);
	tp_sink_ctl_destroy(&m->ctl);
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
