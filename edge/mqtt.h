/* SPDX-License-Identifier: BSD-2-Clause
 *
 * mqtt.h - the MQTT sink: delivers the outbox's signed events to a broker.
 *
 * One thread per sink reads the outbox (lib/store/seen.h, sink
 * TP_OUTBOX_SINK_MQTT) and publishes each event, a flattened JWS, on one
 * topic (events/up/<kid>/new_qname, edm-spec §5.3) with MQTT v5, QoS 1, not
 * retained. The reference publishes with QoS 0; we need the broker's PUBACK
 * to know an event arrived, because the guarantee is:
 *
 *   AT-LEAST-ONCE, NO LOSS. An event leaves the outbox only after the broker
 *   acknowledged it (PUBACK with a success reason code) and every earlier
 *   event was acknowledged too. After a lost connection, a crash or a
 *   restart, every unacknowledged event is published again, so the only
 *   duplicates are events that were in flight (at most TP_MQTT_INFLIGHT_MAX)
 *   at that moment. Receivers that care deduplicate by the JWS itself.
 *
 * Connection: plain TCP or TLS (at least 1.2; OpenSSL negotiates 1.3 when the
 * broker offers it, as the reference requires it), the server's certificate
 * checked against ca_file or the system roots and its name against the host,
 * a client certificate (mTLS) when cert and key are given, no user name or
 * password. A lost or refused connection is retried forever, 1 s after the
 * first failure, doubling up to backoff_max_s; a connection that reached
 * CONNACK resets the delay. Every connection starts a clean session: what was
 * in flight is published again from the outbox, not from a broker session.
 *
 * A connection attempt blocks the sink thread (libmosquitto's connect has no
 * timeout of its own), so tp_mqtt_stop() can wait for one attempt to an
 * unreachable host for as long as the kernel's TCP connect timeout. Nothing
 * is lost if the process is killed meanwhile: the outbox is on disk.
 *
 * The URL syntax and the client's settings are lib/net's (net/mqtt.h), shared
 * with the core's bridge.
 *
 * Never logged: event contents. Logs carry error codes and broker reason
 * codes only.
 */
#ifndef TP_EDGE_MQTT_H
#define TP_EDGE_MQTT_H

#include <stdbool.h>
#include <stdint.h>

#include "net/mqtt.h"
#include "store/seen.h"
#include "util/err.h"

/* Events published and not yet acknowledged, at most. */
#define TP_MQTT_INFLIGHT_MAX 100u
/* Defaults for the zero values of the config below. */
#define TP_MQTT_KEEPALIVE_DEFAULT_S 30u
#define TP_MQTT_BACKOFF_MAX_DEFAULT_S 30u
/* libmosquitto refuses a keepalive below 5 s; MQTT's field is 16 bits. */
#define TP_MQTT_KEEPALIVE_MIN_S 5u
#define TP_MQTT_KEEPALIVE_MAX_S 65535u
/* A day: anything longer is a configuration mistake. */
#define TP_MQTT_BACKOFF_MAX_S 86400u

struct tp_mqtt_config {
	const char *server;           /* URL (tp_mqtt_parse_url); required */
	const char *ca_file;          /* PEM CA bundle; NULL = system roots */
	const char *client_cert_file; /* PEM; with client_key_file: mTLS */
	const char *client_key_file;
	const char *client_id;        /* required; the reference uses <kid>-edm */
	const char *topic;            /* required; events/up/<kid>/new_qname */
	unsigned keepalive_s;         /* 0 = default; else 5..65535 */
	unsigned backoff_max_s;       /* 0 = default; else 1..TP_MQTT_BACKOFF_MAX_S */
};

struct tp_mqtt;

/* Counters and gauges, read at any time from any thread. */
struct tp_mqtt_stats {
	uint64_t published;   /* PUBLISH packets handed to the connection */
	uint64_t confirmed;   /* events acknowledged by the broker */
	uint64_t refused;     /* PUBACKs with a failure reason code */
	uint64_t connects;    /* connections that reached CONNACK success */
	uint64_t reconnects;  /* connections lost or attempts that failed */
	bool connected;       /* a connection is up now */
	int last_error;       /* 0 or the last failure (tp_strerror) */
};

/* Check cfg and start the sink thread.
 *   cfg: copied (strings too); the files are read at each connection, so
 *        replaced certificates apply at the next one.
 *   outbox: borrowed until tp_mqtt_stop() returns; the caller has put
 *        TP_OUTBOX_SINK_MQTT in its sink mask.
 * Returns 0 and *out, or TP_EINVAL (a bad or missing setting; the reason is
 * logged), -EPROTONOSUPPORT (a ws:// URL), -ENOMEM, or -errno from
 * pthread_create. No connection is attempted before the thread runs, so an
 * unreachable broker is not an error here. */
int tp_mqtt_start(const struct tp_mqtt_config *cfg, struct tp_seen *outbox,
		  struct tp_mqtt **out) TP_WUR;

/* Stop the sink and free it; NULL is a no-op. If connected, go on
 * publishing what is queued, for up to drain_ms, and wait for the
 * acknowledgements; then disconnect. What was not acknowledged stays in the
 * outbox for the next start. Joins the thread. */
void tp_mqtt_stop(struct tp_mqtt *m, unsigned drain_ms);

void tp_mqtt_stats(struct tp_mqtt *m, struct tp_mqtt_stats *out);

#endif
