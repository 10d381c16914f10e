/* SPDX-License-Identifier: BSD-2-Clause
 *
 * bridge.c - the core's event bridge (bridge.h): one thread owns one
 * libmosquitto client at a time, subscribed to events/up/#, and turns each
 * message into either one NATS publish or one drop counter.
 *
 * The thread drives libmosquitto itself (mosquitto_loop), as the edge's
 * sink does (edge/mqtt.c; both make their clients with lib/net's
 * tp_mqtt_client_new()), so every callback runs on it and a failed
 * connection of any kind (refused, TLS, lost, no CONNACK) is thrown away
 * whole and retried after a capped backoff, forever; libmosquitto's own
 * reconnect loop gives up on TLS and authorisation errors. The session is
 * persistent (clean start off, 500 s expiry, as the reference's bridge) so
 * that events queued at QoS 1 while we reconnect are not lost.
 *
 * Per message, cheapest refusal first (core-spec §2.3, SPEC §8): the kid
 * is read from the unverified protected header (core/schema.c) only to
 * choose the key and check the topic; tp_jws_verify() then parses the
 * same header again and insists on the same kid, so nothing unverified
 * reaches NATS. The payload is forwarded as the exact signed bytes: the
 * analysts decode strictly and the signature covers those bytes only.
 *
 * libnats reconnects by itself, forever; while it is away, publishes wait
 * in its reconnect buffer, and a publish it refuses is counted as a drop.
 * Never logged: payloads and topics (attacker-chosen bytes).
 */
#include "core/bridge.h"

#include <errno.h>
#include <limits.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/schema.h"
#include "net/mqtt.h"
#include "net/nats.h"
#include "net/stopper.h"
#include "sign/jwk.h"
#include "sign/jws.h"
#include "util/log.h"
#include "util/str.h"

#define TOPIC_DEFAULT "events/up/#"
#define SUBJECT_DEFAULT "events.up.new_qname"
#define CLIENT_ID_DEFAULT "tapir-core-bridge"
#define TOPIC_PREFIX "events/up/"
/* The reference bridge's MQTT settings (core-spec §2.3). */
#define KEEPALIVE_S 20
#define SESSION_EXPIRY_S 500u
#define BACKOFF_MAX_S 30u
/* Largest MQTT packet we let the broker send us (MQTT v5 §3.1.2.11.4: the
 * broker discards bigger ones). Room for a TP_JWS_MAX payload and a long
 * topic, and for oversized events up to this size to be counted. */
#define MAX_PACKET_SIZE (4u * TP_JWS_MAX)
#define LOOP_WAIT_MS 200
/* At stop, how long buffered publishes may take to reach NATS. */
#define STOP_FLUSH_MS 2000

enum drop {
#define DROP_ENUM(name, text) DROP_##name,
	TP_BRIDGE_DROP_REASONS(DROP_ENUM)
#undef DROP_ENUM
	N_DROPS
};

static const char *const drop_text[N_DROPS] = {
#define DROP_TEXT(name, text) text,
	TP_BRIDGE_DROP_REASONS(DROP_TEXT)
#undef DROP_TEXT
};

struct tp_bridge {
	struct tp_stopper ctl;
	pthread_t thread;
	struct tp_keys *keys; /* borrowed */
	struct tp_mqtt_url url;
	/* copies of the configuration, from strdup(), owned */
	char *topic, *ca_file, *cert_file, *key_file, *client_id, *subject;
	natsOptions *nopts;
	natsConnection *nc;

	/* the bridge thread's own */
	struct mosquitto *mosq;
	bool session_up;
	bool drop_conn;
	int64_t connect_ms;

	_Atomic uint64_t received, forwarded;
	_Atomic uint64_t drops[N_DROPS];
};

/* ---- one message ---------------------------------------------------------- */

/* topic is events/up/<kid>/<rest>, rest non-empty, and the whole topic has
 * no control characters (it becomes a NATS header line). kid passed
 * tp_keys_id_ok(), so it holds no '/' or wildcard. */
static bool topic_ok(const char *topic, const char *kid)
{
	size_t n = strnlen(topic, TP_MQTT_TOPIC_MAX + 1u);
	size_t pn = sizeof(TOPIC_PREFIX) - 1u, kn = strlen(kid);
	if (n > TP_MQTT_TOPIC_MAX || n < pn + kn + 2u ||
	    memcmp(topic, TOPIC_PREFIX, pn) != 0 || memcmp(topic + pn, kid, kn) != 0 ||
	    topic[pn + kn] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)topic[i];
		if (c < 0x20u || c == 0x7fu)
			return false;
	}
	return true;
}

static int publish(struct tp_bridge *b, const char *topic, const char *kid,
		   const char *thumbprint, const uint8_t *data, size_t len)
{
	if (len > INT_MAX)
		return TP_ETOOBIG;
	natsMsg *msg = NULL;
	natsStatus s = natsMsg_Create(&msg, b->subject, NULL, (const char *)data, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "DNSTAPIR-Message-Schema", TP_SCHEMA_NEW_QNAME_ID);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "DNSTAPIR-Mqtt-Topic", topic);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "DNSTAPIR-Key-Identifier", kid);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(msg, "DNSTAPIR-Key-Thumbprint", thumbprint);
	if (s == NATS_OK)
		s = natsConnection_PublishMsg(b->nc, msg);
	natsMsg_Destroy(msg);
	return s == NATS_OK ? 0 : s == NATS_NO_MEMORY ? -ENOMEM : TP_ECONN;
}

/* Verify, check and forward one message. Returns N_DROPS when forwarded,
 * else the drop reason; *why: a static detail for the log. */
static enum drop process(struct tp_bridge *b, const char *topic, const char *jws, size_t len,
			 const char **why)
{
	char kid[TP_JWK_KID_MAX + 1u];
	*why = "";
	if (len > TP_JWS_MAX) {
		*why = "larger than TP_JWS_MAX";
		return DROP_malformed;
	}
	int rc = tp_jws_peek_kid(jws, len, kid);
	if (rc != 0) {
		*why = tp_strerror(rc);
		return DROP_malformed;
	}
	if (!tp_keys_id_ok(kid)) {
		*why = "the kid cannot name a key file";
		return DROP_unknown_key;
	}
	if (!topic_ok(topic, kid)) {
		*why = "the topic is not events/up/<kid>/...";
		return DROP_wrong_topic;
	}
	EVP_PKEY *pub = NULL;
	rc = tp_keys_get(b->keys, kid, &pub);
	if (rc != 0) {
		*why = tp_strerror(rc);
		return DROP_unknown_key;
	}
	enum drop verdict = DROP_bad_signature;
	uint8_t *payload = NULL;
	size_t payload_len = 0;
	/* Only Ed25519 keys sign events (RFC 8037 EdDSA): any other key
	 * cannot have made the signature. */
	if (EVP_PKEY_get_id(pub) != EVP_PKEY_ED25519) {
		*why = "the kid's key is not Ed25519";
		goto out;
	}
	rc = tp_jws_verify(pub, kid, jws, len, &payload, &payload_len, NULL);
	if (rc != 0) {
		*why = tp_strerror(rc);
		verdict = rc == TP_JWS_EBADSIG ? DROP_bad_signature : DROP_malformed;
		goto out;
	}
	rc = tp_schema_new_qname(payload, payload_len, why);
	if (rc != 0) {
		verdict = DROP_schema;
		goto out;
	}
	/* RFC 7638 thumbprint of the verifying key; the struct only lends
	 * pub to tp_jwk_thumbprint() and is never freed. */
	struct tp_jwk jwk = {.pkey = pub};
	memcpy(jwk.kid, kid, strlen(kid) + 1u);
	char thumbprint[TP_JWK_THUMBPRINT_LEN + 1u];
	rc = tp_jwk_thumbprint(&jwk, thumbprint);
	if (rc == 0)
		rc = publish(b, topic, kid, thumbprint, payload, payload_len);
	if (rc != 0) {
		*why = tp_strerror(rc);
		verdict = DROP_nats;
		goto out;
	}
	verdict = N_DROPS;
out:
	free(payload);
	EVP_PKEY_free(pub);
	return verdict;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	struct tp_bridge *b = obj;
	atomic_fetch_add(&b->received, 1u);
	const char *why = "";
	enum drop d = DROP_malformed;
	if (msg->topic != NULL && msg->payloadlen >= 0 &&
	    (msg->payload != NULL || msg->payloadlen == 0))
		d = process(b, msg->topic, msg->payloadlen == 0 ? "" : msg->payload,
			    (size_t)msg->payloadlen, &why);
	if (d == N_DROPS) {
		atomic_fetch_add(&b->forwarded, 1u);
		return;
	}
	atomic_fetch_add(&b->drops[d], 1u);
	tp_log_limited(TP_LOG_WARNING, BRIDGE, "dropped an event: %s (%s)", drop_text[d], why);
}

/* ---- the MQTT connection -------------------------------------------------- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	(void)flags;
	(void)props;
	struct tp_bridge *b = obj;
	if (rc != 0) {
		b->drop_conn = true;
		tp_log_limited(TP_LOG_WARNING, BRIDGE, "broker refused the connection: reason %d (%s)",
			       rc, mosquitto_reason_string(rc));
		return;
	}
	b->session_up = true;
	/* Subscribe on every connection: cheap, and right whether or not
	 * the broker kept the session. */
	int src = mosquitto_subscribe_v5(mosq, NULL, b->topic, 1, 0, NULL);
	if (src != MOSQ_ERR_SUCCESS) {
		b->drop_conn = true;
		tp_log_limited(TP_LOG_WARNING, BRIDGE, "cannot subscribe: %s", mosquitto_strerror(src));
		return;
	}
	tp_log_info(BRIDGE, "connected to the MQTT broker");
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
			 const int *granted_qos, const mosquitto_property *props)
{
	(void)mosq;
	(void)mid;
	(void)props;
	struct tp_bridge *b = obj;
	if (qos_count < 1 || granted_qos[0] >= 0x80) {
		/* Not authorised to read the topic: try again after the
		 * backoff rather than sit connected and deaf. */
		b->drop_conn = true;
		tp_log_limited(TP_LOG_WARNING, BRIDGE, "broker refused the subscription: reason %d",
			       qos_count < 1 ? -1 : granted_qos[0]);
	}
}

static void drop_client(struct tp_bridge *b, bool polite)
{
	if (b->mosq == NULL)
		return;
	tp_mqtt_client_close(b->mosq, polite && b->session_up);
	b->mosq = NULL;
	b->session_up = false;
	b->drop_conn = false;
}

static int make_client(struct tp_bridge *b)
{
	/* A persistent session (clean start off): see the top comment. */
	const struct tp_mqtt_tls tls = {b->ca_file, b->cert_file, b->key_file};
	int rc = tp_mqtt_client_new(b->client_id, false, b, &b->url, &tls, &b->mosq);
	if (rc != 0)
		return rc;
	mosquitto_connect_v5_callback_set(b->mosq, on_connect);
	mosquitto_subscribe_v5_callback_set(b->mosq, on_subscribe);
	mosquitto_message_v5_callback_set(b->mosq, on_message);
	return 0;
}

static int connect_once(struct tp_bridge *b)
{
	int rc = make_client(b);
	if (rc != 0)
		return rc;
	mosquitto_property *props = NULL;
	int mrc = mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
					       SESSION_EXPIRY_S);
	if (mrc == MOSQ_ERR_SUCCESS)
		mrc = mosquitto_property_add_int32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE,
						   MAX_PACKET_SIZE);
	if (mrc == MOSQ_ERR_SUCCESS)
		mrc = mosquitto_connect_bind_v5(b->mosq, b->url.host, b->url.port, KEEPALIVE_S,
						NULL, props);
	mosquitto_property_free_all(&props);
	if (mrc != MOSQ_ERR_SUCCESS) {
		drop_client(b, false);
		return tp_mqtt_err(mrc);
	}
	b->connect_ms = tp_stopper_now_ms();
	return 0;
}

/* One connection until it fails (returns the failure) or the bridge stops
 * (returns 0). */
static int run_connection(struct tp_bridge *b)
{
	for (;;) {
		if (tp_stopper_stopping(&b->ctl, NULL))
			return 0;
		int mrc = mosquitto_loop(b->mosq, LOOP_WAIT_MS, 1);
		if (mrc != MOSQ_ERR_SUCCESS)
			return tp_mqtt_err(mrc);
		if (b->drop_conn)
			return TP_EREFUSED;
		if (!b->session_up && tp_stopper_now_ms() - b->connect_ms > TP_MQTT_CONNACK_TIMEOUT_MS)
			return TP_ETIMEDOUT;
	}
}

/* One connection, start to end (tp_stopper_attempt_fn). */
static int attempt(void *ctx, bool *reached)
{
	struct tp_bridge *b = ctx;
	int rc = connect_once(b);
	if (rc == 0) {
		rc = run_connection(b);
		*reached = b->session_up;
		drop_client(b, rc == 0);
	}
	return rc;
}

static void *bridge_thread(void *arg)
{
	struct tp_bridge *b = arg;
	(void)tp_stopper_retry(&b->ctl, BACKOFF_MAX_S, "BRIDGE", "MQTT connection", attempt, b);
	return NULL;
}

/* ---- owner side ----------------------------------------------------------- */

static void free_all(struct tp_bridge *b)
{
	if (b->nc != NULL)
		natsConnection_Destroy(b->nc);
	natsOptions_Destroy(b->nopts);
	free(b->topic);
	free(b->ca_file);
	free(b->cert_file);
	free(b->key_file);
	free(b->client_id);
	free(b->subject);
	free(b);
}

static int check_config(const struct tp_bridge_config *cfg, struct tp_mqtt_url *url)
{
	const char *why = NULL;
	int rc = tp_mqtt_parse_url(cfg->mqtt_url, url, &why);
	if (rc != 0) {
		tp_log_err(BRIDGE, "bad MQTT URL: %s", why);
		return rc;
	}
	const char *topic = cfg->mqtt_topic != NULL ? cfg->mqtt_topic : TOPIC_DEFAULT;
	if (!tp_mqtt_text_ok(topic, TP_MQTT_TOPIC_MAX) || mosquitto_sub_topic_check(topic) != MOSQ_ERR_SUCCESS) {
		tp_log_err(BRIDGE, "bad MQTT topic filter");
		return TP_EINVAL;
	}
	const char *id = cfg->client_id != NULL ? cfg->client_id : CLIENT_ID_DEFAULT;
	if (!tp_mqtt_text_ok(id, TP_MQTT_CLIENT_ID_MAX)) {
		tp_log_err(BRIDGE, "bad MQTT client id: empty, too long or control characters");
		return TP_EINVAL;
	}
	const struct tp_mqtt_tls tls = {cfg->ca_file, cfg->client_cert_file, cfg->client_key_file};
	if (tp_mqtt_tls_check(url, &tls, &why) != 0) {
		tp_log_err(BRIDGE, "bad MQTT TLS settings: %s", why);
		return TP_EINVAL;
	}
	if (!tp_nats_url_ok(cfg->nats_url)) {
		tp_log_err(BRIDGE, "bad NATS URL: use nats://host:port or tls://host:port");
		return TP_EINVAL;
	}
	const char *subject = cfg->nats_subject != NULL ? cfg->nats_subject : SUBJECT_DEFAULT;
	if (!tp_nats_subject_ok(subject)) {
		tp_log_err(BRIDGE, "bad NATS subject: printable tokens joined by '.', no wildcards");
		return TP_EINVAL;
	}
	return 0;
}

int tp_bridge_start(const struct tp_bridge_config *cfg, struct tp_keys *keys,
		    struct tp_bridge **out)
{
	if (cfg == NULL || keys == NULL || out == NULL)
		return TP_EINVAL;
	*out = NULL;
	struct tp_mqtt_url url;
	int rc = check_config(cfg, &url);
	if (rc != 0)
		return rc;
	rc = tp_mqtt_lib_init();
	if (rc != 0)
		return rc;
	struct tp_bridge *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->keys = keys;
	b->url = url;
	rc = tp_strdup_opt(cfg->mqtt_topic != NULL ? cfg->mqtt_topic : TOPIC_DEFAULT, &b->topic);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->ca_file, &b->ca_file);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->client_cert_file, &b->cert_file);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->client_key_file, &b->key_file);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->client_id != NULL ? cfg->client_id : CLIENT_ID_DEFAULT,
			     &b->client_id);
	if (rc == 0)
		rc = tp_strdup_opt(cfg->nats_subject != NULL ? cfg->nats_subject : SUBJECT_DEFAULT,
			     &b->subject);
	if (rc != 0) {
		free_all(b);
		return rc;
	}
	/* libnats may call back after the bridge is gone: the setup gives it
	 * the backoff cap and a static name, nothing of ours. */
	const struct tp_nats_setup nats = {
		.url = cfg->nats_url, .name = "tapir-core-bridge", .backoff_max_s = BACKOFF_MAX_S,
	};
	rc = tp_nats_connect(&nats, &b->nopts, &b->nc);
	if (rc != 0) {
		free_all(b);
		return rc;
	}
	rc = tp_stopper_init(&b->ctl);
	if (rc != 0) {
		free_all(b);
		return rc;
	}
	rc = pthread_create(&b->thread, NULL, bridge_thread, b);
	if (rc != 0) {
		tp_stopper_destroy(&b->ctl);
		free_all(b);
		return -rc;
	}
	*out = b;
	return 0;
}

void tp_bridge_stop(struct tp_bridge *b)
{
	if (b == NULL)
		return;
	tp_stopper_request(&b->ctl, 0);
	(void)pthread_join(b->thread, NULL);
	tp_stopper_destroy(&b->ctl);
	/* What libnats still buffers goes out now, or is lost with the
	 * process (core NATS is at-most-once anyway). */
	if (natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED)
		(void)natsConnection_FlushTimeout(b->nc, STOP_FLUSH_MS);
	free_all(b);
}

void tp_bridge_stats(struct tp_bridge *b, struct tp_bridge_stats *out)
{
	out->received = atomic_load(&b->received);
	out->forwarded = atomic_load(&b->forwarded);
#define STAT_COPY(name, text) out->drop_##name = atomic_load(&b->drops[DROP_##name]);
	TP_BRIDGE_DROP_REASONS(STAT_COPY)
#undef STAT_COPY
}
