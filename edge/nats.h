/* SPDX-License-Identifier: BSD-2-Clause
 *
 * nats.h - the NATS sink: delivers the outbox's signed events on a NATS
 * subject (core NATS, not JetStream).
 *
 * What is published. The core's bridge (core-spec §2.3) publishes the
 * *verified payload* on NATS, because it checked the JWS first. An edge that
 * publishes straight to NATS has nobody in between to vouch for it, so it
 * publishes the signed JWS itself (flattened JSON, the same bytes as on
 * MQTT): whoever receives it can and must verify it. It carries the bridge's
 * headers, so consumers route it the same way:
 *   DNSTAPIR-Message-Schema   https://schema.dnstapir.se/v1/new_qname
 *   DNSTAPIR-Mqtt-Topic       the MQTT topic the event has (events/up/<kid>/new_qname)
 *   DNSTAPIR-Key-Identifier   the kid of the signing key
 *   DNSTAPIR-Key-Thumbprint   its RFC 7638 thumbprint (tp_jwk_thumbprint)
 * A consumer must not trust these headers before verifying the JWS: they are
 * routing hints, the signature is the proof.
 *
 * Guarantee: AT-LEAST-ONCE, NO LOSS, as the MQTT sink (mqtt.h). Core NATS
 * has no per-message acknowledgement; a flush (PING answered by PONG) after a
 * batch proves the server received everything published before it, and only
 * then is the batch acknowledged in the outbox. A failed flush or a lost
 * connection sends the unacknowledged batch again; those (at most
 * TP_NATS_BATCH_MAX, plus what libnats buffered during the disconnection) are
 * the only possible duplicates. Delivery to subscribers is NATS's own
 * at-most-once: a subscriber that is not connected misses the event.
 *
 * Connection: the sink thread connects, retrying 1 s after a failure,
 * doubling up to backoff_max_s, so an unreachable server is not an error at
 * start; once connected, libnats reconnects forever by itself with the same
 * backoff. One attempt may take up to 5 s (libnats's connect timeout), which
 * bounds how long a stop can wait for it. tls:// or any TLS file turns TLS
 * on: the server's certificate must chain to ca_file (libnats's default
 * trust without it) and, when the URL names a host rather than an IP
 * address, carry that name; mTLS with cert and key. URL and subject rules
 * and the connection options are lib/net's (net/nats.h), shared with the
 * core.
 */
#ifndef TP_EDGE_NATS_H
#define TP_EDGE_NATS_H

#include <stdbool.h>
#include <stdint.h>

#include "net/nats.h"
#include "store/seen.h"
#include "util/err.h"

/* Events per flush. */
#define TP_NATS_BATCH_MAX 100u
/* The server must answer a flush within this. */
#define TP_NATS_FLUSH_TIMEOUT_MS 5000
#define TP_NATS_BACKOFF_MAX_DEFAULT_S 30u
#define TP_NATS_BACKOFF_MAX_S 86400u
/* A header value is short; a longer one is a mistake. */
#define TP_NATS_HEADER_VALUE_MAX 1024u
/* The schema id in DNSTAPIR-Message-Schema (core-spec §3.1). */
#define TP_NATS_SCHEMA_NEW_QNAME "https://schema.dnstapir.se/v1/new_qname"

struct tp_nats_config {
	const char *url;        /* nats://host:port or tls://host:port; required */
	const char *subject;    /* required: tokens of printable ASCII joined by
				 * '.', no wildcards */
	const char *ca_file;    /* PEM; NULL = system roots (TLS only) */
	const char *client_cert_file, *client_key_file; /* mTLS, both or none */
	const char *kid;        /* required, for the headers */
	const char *thumbprint; /* required, TP_JWK_THUMBPRINT_LEN characters */
	const char *mqtt_topic; /* required: events/up/<kid>/new_qname */
	unsigned backoff_max_s; /* 0 = default; else 1..TP_NATS_BACKOFF_MAX_S */
};

struct tp_nats;

struct tp_nats_stats {
	uint64_t published;  /* events handed to libnats */
	uint64_t confirmed;  /* events acknowledged after a flush */
	uint64_t flush_failures;
	uint64_t reconnects; /* libnats's reconnection attempts, as last seen */
	bool connected;
	int last_error;      /* 0 or the last failure (tp_strerror) */
};

/* Check cfg and start the sink thread, which connects.
 *   cfg: copied.
 *   outbox: borrowed until tp_nats_stop() returns; the caller has put
 *           TP_OUTBOX_SINK_NATS in its sink mask.
 * Returns 0 and *out, or TP_EINVAL (bad setting, logged), TP_ECONN (libnats
 * refused the options, e.g. an unreadable TLS file; logged), -ENOMEM, or
 * -errno from pthread_create. */
int tp_nats_start(const struct tp_nats_config *cfg, struct tp_seen *outbox,
		  struct tp_nats **out) TP_WUR;

/* As tp_mqtt_stop(): deliver for up to drain_ms if connected, then close
 * and free; NULL is a no-op. Joins the thread. */
void tp_nats_stop(struct tp_nats *n, unsigned drain_ms);

void tp_nats_stats(struct tp_nats *n, struct tp_nats_stats *out);

#endif
