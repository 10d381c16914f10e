/* SPDX-License-Identifier: BSD-2-Clause
 *
 * events.h - first sightings of names that are not well known become signed
 * new_qname events (SPEC §6), without slowing the input.
 *
 * The input thread offers each such name (tp_events_offer): the name is
 * folded and the device-unique rule applied (lib/event/newqname.h); a small
 * table of names offered today drops the repeats, which are nearly all
 * offers, for the cost of a hash; the rest goes into a bounded queue (the
 * reference's newqname-buffer) and, when that is full, is dropped and
 * counted (a later sighting offers the name again). File input is the
 * exception: a file can wait where a resolver cannot, so there the offer
 * waits for room and nothing is dropped (block_when_full). The events
 * thread owns the seen-store: per batch of names it looks each up without
 * a lock, builds and signs the events of the new ones, and records the
 * names and queues their events in ONE transaction (lib/store/seen.h), so
 * a crash leaves either both or neither; one fdatasync per batch, not per
 * name. A batch is whatever is waiting, up to a bound: one name when the
 * traffic is light, thousands when the thread is behind, so the fdatasyncs
 * per second stay few however many names arrive.
 * The sinks (MQTT, NATS) deliver the queued events from the store.
 */
#ifndef TP_EDGE_EVENTS_H
#define TP_EDGE_EVENTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "sign/jwk.h"
#include "store/seen.h"

struct tp_events_config {
	const char *seen_dir;       /* the store's directory (DATA/seen) */
	size_t seen_map_size;       /* octets the store may use */
	uint32_t seen_expiry_days;  /* qname-seen-expiry */
	uint32_t buffer;            /* names waiting for the events thread (at
				     * least a full batch if block_when_full) */
	uint64_t queue_max;         /* events waiting for the sinks */
	bool suppress_unique;       /* device-unique names: no event (else reduced) */
	bool block_when_full;       /* offers wait for room instead of dropping */
	const struct tp_jwk *key;   /* borrowed; NULL: record names, no events */
	uint32_t sinks;             /* outbox sinks that deliver (bit per sink) */
};

/* X(name, description): counters, written by the events thread (and the
 * input thread for the first four), read by anyone. */
#define TP_EVENT_COUNTERS(X)                                                        \
	X(offered, "names not well known passed to the events thread")               \
	X(repeats, "sightings of a name already offered today (not looked up)")      \
	X(buffer_full, "names dropped because the events thread was behind")         \
	X(reduced, "names with device-unique labels reduced to a pattern")           \
	X(suppressed, "names with device-unique labels that got no event")           \
	X(new_names, "first sightings recorded in the seen-store")                   \
	X(queued, "signed events queued for the sinks")                              \
	X(queue_full, "first sightings not recorded: the event queue was full")      \
	X(store_errors, "seen-store failures (batch not recorded)")                  \
	X(sign_errors, "events that could not be built or signed")

struct tp_events_stats {
#define TP_EVENT_FIELD(name, text) _Atomic uint64_t name;
	TP_EVENT_COUNTERS(TP_EVENT_FIELD)
#undef TP_EVENT_FIELD
};

struct tp_events;

/* Open the seen-store and start the events thread.
 * Returns 0 and *out, or a negative code (already logged). */
int tp_events_start(const struct tp_events_config *cfg, struct tp_events **out);

/* The store, for the sinks (owned by ev; valid until tp_events_free). */
struct tp_seen *tp_events_store(struct tp_events *ev);

/* Input thread: a processed message whose name is not well known.
 * dns: borrowed; its first question, header flags and type are used.
 * time_us: the message time (the event's timestamp, truncated to the
 * minute). Never blocks, unless block_when_full and the buffer is full. */
void tp_events_offer(struct tp_events *ev, const struct tp_dns_msg *dns, int64_t time_us);

/* Stop taking names, finish every queued one (nothing offered is lost at
 * a clean exit), join the thread. The store stays open for the sinks. */
void tp_events_stop(struct tp_events *ev);

/* Close the store and free; after the sinks stopped. NULL is a no-op. */
void tp_events_free(struct tp_events *ev);

const struct tp_events_stats *tp_events_stats(const struct tp_events *ev);

#endif
