/* SPDX-License-Identifier: BSD-2-Clause
 *
 * notify.h - the core's new_aggregate notifications (core-spec §1.9): a
 * bounded queue drained by one thread that publishes each JSON message on a
 * NATS subject (core NATS, no headers). When the queue is full or NATS is
 * down for good, messages are dropped and counted; an upload never waits
 * for NATS.
 */
#ifndef TP_CORE_NOTIFY_H
#define TP_CORE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "store/aggstore.h"
#include "util/err.h"

#define TP_NOTIFY_QUEUE_DEFAULT 1024u

struct tp_notify_config {
	const char *url;          /* nats://host:port; required */
	const char *subject;      /* "aggregates" when NULL */
	const char *base_url;     /* metadata_base_url, e.g. http://127.0.0.1:8080 */
	unsigned queue_size;      /* 0 = TP_NOTIFY_QUEUE_DEFAULT */
};

struct tp_notify;
struct tp_notify_stats {
	uint64_t queued, published, dropped_full, failed;
};

int tp_notify_start(const struct tp_notify_config *cfg, struct tp_notify **out) TP_WUR;
/* Deliver what is queued for up to drain_ms, then stop. NULL is a no-op. */
void tp_notify_stop(struct tp_notify *n, unsigned drain_ms);
/* Build the new_aggregate message for meta and queue it. Never blocks.
 * Returns 0, or TP_ENOSPACE when dropped (counted). */
int tp_notify_aggregate(struct tp_notify *n, const struct tp_agg_meta *meta);
void tp_notify_stats(struct tp_notify *n, struct tp_notify_stats *out);

/* The message itself (exposed for tests): JSON text, heap, free(). */
int tp_notify_json(const struct tp_agg_meta *meta, const char *base_url,
		   int64_t now_s, char **out) TP_WUR;

#endif
