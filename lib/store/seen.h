/* SPDX-License-Identifier: BSD-2-Clause
 *
 * seen.h - the seen-store: a persistent, crash-safe set of first sightings.
 *
 * The edge emits one new_qname event for the first sighting of a name that
 * is not well known (SPEC §6). This store decides "first": it maps each name,
 * case-folded, in wire form, to the day (UTC days since the epoch) it was
 * last seen, in an LMDB environment in a directory of its own.
 *
 * What it fixes relative to the reference (edm-spec §5.1):
 *   - exactly one caller gets "new" for a name, however many threads and
 *     processes ask at once (the reference could emit duplicates, #230): the
 *     check and the insert happen in one LMDB write transaction, and LMDB
 *     serialises writers;
 *   - names are folded here, whatever the caller did (#157);
 *   - entries expire: a name not seen for expiry_days days is new again, and
 *     tp_seen_expire() deletes such entries, so the store cannot grow forever.
 *
 * Durability (the exact guarantee). A sighting is committed before
 * tp_seen_check() reports it as new, so a caller that emits an event only
 * after the call returns never emits an event for a name the store lacks:
 *   - process crash (SIGKILL, abort, segfault): nothing that a returned call
 *     recorded is lost, and the store is consistent (a transaction in flight
 *     is simply absent);
 *   - OS crash or power loss: the store is still consistent (never
 *     corrupted), but the last committed write transaction may be undone,
 *     that is at most one sighting (or one refresh, or one expiry batch).
 *     The only effect is that this one name can be reported new once more: a
 *     duplicate event, never a missing record of a name whose event went out
 *     before the last commit. This assumes the disk honours fdatasync() and a
 *     local filesystem (LMDB does not work on network filesystems).
 *   - A caller that dies between the commit and emitting its event loses that
 *     event: events are at most once per name per expiry period, except for
 *     the one duplicate after an OS crash above.
 *
 * Policy left to the caller: names seen while event publishing is off are
 * still to be passed to tp_seen_check() (and so recorded), so turning
 * publishing on later does not produce a burst of events for old names. If
 * the caller wants the opposite it must not call tp_seen_check() at all
 * while publishing is off.
 *
 * Thread safety: one tp_seen may be used by any number of threads at once
 * (open and close excepted). Do not use a tp_seen in a child after fork();
 * open a new one there. Several processes may open the same directory.
 */
#ifndef TP_STORE_SEEN_H
#define TP_STORE_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "util/err.h"

struct tp_seen;

/* Smallest map_size accepted (and it must also be at least 64 pages): LMDB
 * needs pages of its own, and 1/16 of the map (at least 16 pages) is kept
 * back from new names so that expiry can still run when the store is full. */
#define TP_SEEN_MAP_MIN (256u * 1024u)
/* Largest expiry: about 180 years; anything above is a configuration error. */
#define TP_SEEN_EXPIRY_MAX 65535u

/* Open (creating if needed) the store in directory dir.
 *   dir: borrowed; created with mode 0700 if missing (the parent must
 *        exist). The files in it are created with mode 0600: they hold
 *        query names.
 *   map_size: the most octets the store may use on disk, >= TP_SEEN_MAP_MIN
 *        (rounded up to the page size). New names fill at most 15/16 of it
 *        (the rest lets expiry work in a full store). If an existing
 *        store's data already reaches further, the map is that big.
 *   expiry_days: 1..TP_SEEN_EXPIRY_MAX; a name last seen expiry_days or
 *        more days ago is new again.
 * Returns 0 and *out (close with tp_seen_close), or
 *   TP_EINVAL   bad argument;
 *   TP_EMALF    the files exist but are not a usable LMDB store;
 *   -errno      the directory or files cannot be created or opened. */
int tp_seen_open(const char *dir, size_t map_size, uint32_t expiry_days,
		 struct tp_seen **out) TP_WUR;

/* Close the store; NULL is allowed. No call may be in progress. */
void tp_seen_close(struct tp_seen *s);

/* Is name new? If so, record it, atomically.
 *   name: borrowed; any case (it is folded here; the caller's copy is not
 *         changed).
 *   now_s: the current time, seconds since the epoch (UTC), >= 0. Only its
 *         day counts.
 *   out_new: set to true exactly when this call recorded the name as a new
 *         sighting (absent, or expired); at most one caller in all threads
 *         and processes gets true for a name per expiry period.
 * A name already present gets its last-seen day moved to today, at most once
 * per day (the first sighting of the day writes; later ones only read), so
 * a name asked every day never expires, and a stream of queries for known
 * names costs no writes. If the clock goes back, a later last-seen day is
 * kept.
 * When the store is full (no room for a new name outside the reserve, or
 * LMDB's MDB_MAP_FULL), the call deletes expired entries (tp_seen_expire)
 * and retries once; if a complete expiry pass already ran today it fails at
 * once instead (entries expire in whole days, so it could not find more).
 * Returns 0, or on failure (*out_new is then false and this call changed
 * nothing; the caller should count it and must not emit an event):
 *   TP_EINVAL   bad argument (NULL, name length not 1..255, now_s < 0);
 *   TP_ETOOBIG  the store is full even after expiry, or LMDB's reader table
 *               is full;
 *   TP_EMALF    the store is corrupt;
 *   -errno      an I/O error; TP_EBUG any other LMDB failure. */
int tp_seen_check(struct tp_seen *s, const struct tp_dns_name *name, int64_t now_s,
		  bool *out_new) TP_WUR;

/* Delete every entry last seen expiry_days or more days before now_s's day
 * (and any entry whose value is not 4 octets, which only a foreign writer can
 * leave). Works in write transactions of a bounded number of entries each, so
 * that concurrent tp_seen_check() calls wait for one small batch at most, and
 * so that deleting needs only a few free pages even in a full map.
 *   out_deleted: NULL, or the number of entries deleted, also on failure.
 * Returns 0, or TP_EINVAL, TP_ETOOBIG (the map is too full even to delete
 * one entry), TP_EMALF, -errno, TP_EBUG as tp_seen_check. */
int tp_seen_expire(struct tp_seen *s, int64_t now_s, uint64_t *out_deleted) TP_WUR;

/* Counters for metrics. */
struct tp_seen_stats {
	uint64_t entries;   /* names in the store */
	uint64_t map_size;  /* octets the map may reach */
	uint64_t map_used;  /* octets up to the highest page ever used */
	uint64_t commits;   /* write transactions committed since creation */
};

/* Returns 0, TP_EINVAL or TP_EBUG. */
int tp_seen_stats(struct tp_seen *s, struct tp_seen_stats *out) TP_WUR;

/* ---- first sightings in batches, with their events -------------------------
 *
 * The edge turns each first sighting into a signed event and must not lose
 * one nor send one twice when it is killed. So the event is queued in the
 * same store, in the same LMDB write transaction that records the name: after
 * a crash either both are there or neither is. Queued events wait in the
 * store (the "outbox") until every active sink (MQTT, NATS) has delivered
 * them; a broker outage and a restart lose nothing.
 *
 * Outbox records live in the names' database under keys that cannot be a
 * wire name (a first octet >= 0xC0, which is a compression pointer and never
 * a key of ours), so one transaction covers both and expiry skips them. */

/* What tp_seen_peek() saw, for the caller to decide what to build. */
enum tp_seen_state {
	TP_SEEN_KNOWN,   /* seen today: nothing to do */
	TP_SEEN_REFRESH, /* seen on an earlier day, within the expiry */
	TP_SEEN_NEW,     /* absent or expired: probably a first sighting */
};

/* Read-only, lock-free look at name (folded here). Returns 0 and *out, or
 * TP_EINVAL, TP_EMALF, -errno, TP_EBUG. */
int tp_seen_peek(struct tp_seen *s, const struct tp_dns_name *name, int64_t now_s,
		 enum tp_seen_state *out) TP_WUR;

/* One name of a batch. */
struct tp_seen_item {
	struct tp_dns_name name;  /* in: any case (folded by the store) */
	const uint8_t *event;     /* in: bytes to queue if the name is new, or
				   * NULL to record it without an event */
	size_t event_len;         /* in: 1..TP_OUTBOX_ITEM_MAX when event */
	bool is_new;              /* out: recorded as a first sighting now */
	bool queued;              /* out: its event is in the outbox */
	int error;                /* out: 0, or why this item was skipped */
};

/* Record a batch of sightings in ONE write transaction (one fdatasync for
 * the batch): each name is looked at again under the write lock; the new
 * ones are recorded and their events queued; known ones are refreshed as
 * tp_seen_check() does. An item whose event would exceed the outbox limit
 * (TP_ETOOBIG in its error) is not recorded either, so a later sighting can
 * still report it once the sinks have caught up. Items with a bad argument
 * get TP_EINVAL in their error and are skipped.
 * Returns 0 (the whole batch committed; see each item), or a failure of the
 * transaction (nothing of the batch was recorded): TP_ETOOBIG (store full even
 * after expiry), TP_EMALF, -errno, TP_EBUG, TP_EINVAL. */
int tp_seen_record(struct tp_seen *s, struct tp_seen_item *items, size_t n,
		   int64_t now_s) TP_WUR;

/* Sinks that deliver the outbox, numbered 0..TP_OUTBOX_SINKS-1. */
#define TP_OUTBOX_SINKS 4u
#define TP_OUTBOX_SINK_MQTT 0u
#define TP_OUTBOX_SINK_NATS 1u
/* An event is a few hundred octets; this bounds what one may be. */
#define TP_OUTBOX_ITEM_MAX 16384u

/* Which sinks must deliver an event before it is deleted (bit i = sink i).
 * Set at start, before any other outbox call; sinks not in the mask neither
 * hold events back nor get them. A sink's position survives restarts, so a
 * sink turned off and on again resumes where it was (events deleted
 * meanwhile are gone for it). Returns 0 or TP_EINVAL. */
int tp_outbox_set_sinks(struct tp_seen *s, uint32_t mask) TP_WUR;

/* At most max_items events (limit on the queue, counting every queued
 * event): 0 = TP_OUTBOX_DEFAULT_MAX. */
#define TP_OUTBOX_DEFAULT_MAX 100000u
void tp_outbox_set_limit(struct tp_seen *s, uint64_t max_items);

/* Called by tp_outbox_read() for each event, inside a read transaction:
 * data is valid only during the call, and fn must not call into the store
 * (LMDB allows one transaction per thread). Return 0 to go on, anything else to stop (that event counts as not
 * read). */
typedef int (*tp_outbox_fn)(void *ctx, uint64_t seq, const uint8_t *data, size_t len);

/* Hand sink's events with sequence numbers > after (pass the sink's cursor,
 * or the last seq handed out while earlier ones are in flight) to fn, in
 * order, at most max of them. *out_read: how many fn accepted.
 * Returns 0, TP_EINVAL, TP_EMALF, -errno, TP_EBUG. */
int tp_outbox_read(struct tp_seen *s, unsigned sink, uint64_t after, size_t max,
		   tp_outbox_fn fn, void *ctx, size_t *out_read) TP_WUR;

/* The sink's cursor: every event with seq <= *out has been delivered by it
 * (0 = none yet). */
int tp_outbox_cursor(struct tp_seen *s, unsigned sink, uint64_t *out) TP_WUR;

/* Sink delivered every event up to and including seq: move its cursor there
 * (never backwards) and delete the events every active sink has delivered,
 * in one write transaction. Returns 0, TP_EINVAL, TP_EMALF, -errno, TP_EBUG. */
int tp_outbox_ack(struct tp_seen *s, unsigned sink, uint64_t seq) TP_WUR;

/* Block until an event with seq > after is queued, or timeout_ms passes
 * (it wakes for events queued by this process only; others are seen at the
 * next wait). Returns true when there is something newer than after. */
bool tp_outbox_wait(struct tp_seen *s, uint64_t after, int timeout_ms);

/* Events queued and not yet deleted, and the last sequence number used. */
int tp_outbox_stats(struct tp_seen *s, uint64_t *out_queued, uint64_t *out_last_seq) TP_WUR;

/* Wake every tp_outbox_wait() now (shutdown). */
void tp_outbox_wake_all(struct tp_seen *s);

#endif
