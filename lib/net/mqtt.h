/* SPDX-License-Identifier: BSD-2-Clause
 *
 * mqtt.h - the MQTT client plumbing that the edge's event sink
 * (edge/mqtt.c, a publisher) and the core's event bridge (core/bridge.c, a
 * subscriber) share, so that both read server URLs the same way and talk
 * to a broker with the same settings: MQTT v5, TCP_NODELAY, and TLS that
 * checks the broker's certificate against a CA file or the system roots,
 * with an optional client certificate.
 *
 * Nothing here holds a connection open or runs a thread: each user drives
 * its own libmosquitto client (mosquitto_loop) and throws it away whole
 * when the connection fails.
 */
#ifndef TP_NET_MQTT_H
#define TP_NET_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct mosquitto;

/* Longest host name or address accepted in a server URL. */
#define TP_MQTT_HOST_MAX 255u
/* MQTT topic names are at most 65535 octets; ours are short, so a topic
 * longer than this is a mistake. */
#define TP_MQTT_TOPIC_MAX 1024u
/* MQTT v5 client identifiers: the broker must accept 1..23 octets and may
 * accept more; mosquitto accepts up to 65535. */
#define TP_MQTT_CLIENT_ID_MAX 256u
/* A broker that accepted TCP (and TLS) must answer CONNECT within this;
 * otherwise the client is thrown away and the attempt counts as failed. */
#define TP_MQTT_CONNACK_TIMEOUT_MS 10000

/* A server URL, parsed (edm-spec §5.3):
 *   host:port                      TLS (the reference's default)
 *   mqtt://, tcp://                plain TCP, default port 1883
 *   ssl://, tls://, mqtts://,
 *   mqtt+ssl://, tcps://           TLS, default port 8883
 *   ws://, wss://                  refused: tapir does not do WebSockets
 * Scheme names are case-insensitive. An IPv6 address is written in
 * brackets ([::1]:8883). A trailing "/" is allowed; a path, a query, a
 * fragment or user information is refused (we never send a user name). */
struct tp_mqtt_url {
	char host[TP_MQTT_HOST_MAX + 1u]; /* without brackets, NUL-terminated */
	uint16_t port;
	bool tls;
};

/* Parse url (borrowed; NUL-terminated).
 *   why: when not NULL, set to a static English sentence on failure (for the
 *        operator: it never contains the URL).
 * Returns 0 and *out, or TP_EINVAL (NULL argument, empty URL, no host, bad
 * or zero port, unknown scheme, path or user information, host too long)
 * or -EPROTONOSUPPORT (ws:// or wss://). */
int tp_mqtt_parse_url(const char *url, struct tp_mqtt_url *out, const char **why) TP_WUR;

/* Whether s is 1..max octets without control characters (topics and
 * client ids: they end up in log lines and NATS headers). NULL is not. */
bool tp_mqtt_text_ok(const char *s, size_t max);

/* The TLS files of a client, all optional and borrowed. */
struct tp_mqtt_tls {
	const char *ca_file;          /* PEM CA bundle; NULL = system roots */
	const char *client_cert_file; /* PEM; with client_key_file: mTLS */
	const char *client_key_file;
};

/* Whether the files fit the URL: a certificate needs its key and a key its
 * certificate, and a plain mqtt:// or tcp:// server takes none. Returns 0,
 * or TP_EINVAL with *why set to a static sentence. */
int tp_mqtt_tls_check(const struct tp_mqtt_url *url, const struct tp_mqtt_tls *tls,
		      const char **why) TP_WUR;

/* Initialise libmosquitto once per process. Returns 0 or TP_EBUG. */
int tp_mqtt_lib_init(void) TP_WUR;

/* A new libmosquitto client, not connected yet: protocol v5, TCP_NODELAY
 * (a PUBACK is a few bytes: without it, Nagle's algorithm holds each one
 * until the peer's delayed ACK, capping a connection at a few hundred
 * messages a second), and when url->tls, TLS 1.2 or newer with the peer's
 * certificate verified against tls->ca_file or the system roots. The TLS
 * files are read here, so renewed files apply at the next client.
 *   client_id: borrowed; clean_start: false keeps the broker's session.
 *   obj: handed to the callbacks the caller sets.
 * Returns 0 and *out (free it with tp_mqtt_client_close()), or TP_EINVAL,
 * -ENOMEM or another code of tp_mqtt_err(). tp_mqtt_lib_init() must have
 * succeeded. */
int tp_mqtt_client_new(const char *client_id, bool clean_start, void *obj,
		       const struct tp_mqtt_url *url, const struct tp_mqtt_tls *tls,
		       struct mosquitto **out) TP_WUR;

/* Destroy a client; NULL is a no-op. With disconnect, first send a
 * DISCONNECT and give it up to 100 ms to leave. */
void tp_mqtt_client_close(struct mosquitto *mosq, bool disconnect);

/* A libmosquitto MOSQ_ERR_* code as a tapir error: 0, -ENOMEM, -errno,
 * TP_EREFUSED, TP_EINVAL or TP_ECONN. */
int tp_mqtt_err(int mosq_rc);

#endif
