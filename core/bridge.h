/* SPDX-License-Identifier: BSD-2-Clause
 *
 * bridge.h - the core's event bridge (SPEC §8, core-spec §2.3 "up"):
 * subscribe to MQTT events/up/#, verify each flattened JWS against the
 * sender's public key (keys.h), require the topic's node level to equal the
 * kid, validate the payload against the new_qname schema, and publish the
 * exact signed payload bytes on NATS with the DNSTAPIR-* headers.
 * Anything invalid is dropped and counted by reason.
 */
#ifndef TP_CORE_BRIDGE_H
#define TP_CORE_BRIDGE_H

#include <stdint.h>

#include "core/keys.h"
#include "util/err.h"

#define TP_BRIDGE_DROP_REASONS(X)                                       \
	X(malformed, "not a flattened JWS, or no kid")                      \
	X(unknown_key, "no public key for the kid")                         \
	X(bad_signature, "the signature does not verify")                   \
	X(wrong_topic, "the topic's node is not the kid")                   \
	X(schema, "the payload is not a valid new_qname")                   \
	X(nats, "NATS publish failed")

struct tp_bridge_config {
	const char *mqtt_url;     /* mqtt://127.0.0.1:1883 (net/mqtt.h syntax) */
	const char *mqtt_topic;   /* "events/up/#" when NULL */
	const char *ca_file, *client_cert_file, *client_key_file;
	const char *nats_url;     /* required */
	const char *nats_subject; /* "events.up.new_qname" when NULL */
	const char *client_id;    /* "tapir-core-bridge" when NULL; the MQTT
				   * session (clean start off, 500 s expiry)
				   * is kept under it across reconnections */
};

struct tp_bridge;
struct tp_bridge_stats {
	uint64_t received, forwarded;
#define TP_BRIDGE_STAT_FIELD(name, text) uint64_t drop_##name;
	TP_BRIDGE_DROP_REASONS(TP_BRIDGE_STAT_FIELD)
#undef TP_BRIDGE_STAT_FIELD
};

/* keys: borrowed until tp_bridge_stop(). */
int tp_bridge_start(const struct tp_bridge_config *cfg, struct tp_keys *keys,
		    struct tp_bridge **out) TP_WUR;
void tp_bridge_stop(struct tp_bridge *b);
void tp_bridge_stats(struct tp_bridge *b, struct tp_bridge_stats *out);

#endif
