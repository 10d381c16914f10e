/* SPDX-License-Identifier: BSD-2-Clause
 *
 * events.c - from a name that is not well known to a queued, signed
 * new_qname event (see events.h for the shape of the pipeline).
 */
#include "edge/events.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "event/newqname.h"
#include "sign/jws.h"
#include "sketch/prf.h"
#include "util/log.h"

/* Most names per store transaction (one fdatasync each). Commits, not
 * names, are what costs: each writes every B-tree page it touched and waits
 * for the disk, so with random names a larger batch writes fewer pages per
 * name (BENCHMARKS.md, "seen-store batches"). */
#define BATCH 65536u
/* Names offered today, remembered by hash: 2^16 slots, 512 KiB. A repeat
 * costs one hash and one load; a slot reused by another name only means
 * one more lookup in the store. */
#define RECENT_BITS 16u
#define RECENT_SLOTS (1u << RECENT_BITS)

struct candidate {
	struct tp_dns_name name; /* folded and reduced */
	uint16_t qtype, qclass, flags;
	int64_t time_us;
};

struct tp_events {
	struct tp_events_config cfg;
	struct tp_seen *store;      /* owned */
	struct tp_events_stats stats;

	/* Input thread only. */
	struct tp_prf_key recent_key;
	uint64_t *recent;           /* owned; hash tag << 16 | day & 0xffff */

	/* The queue between the input and the events thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* names are waiting, or stop */
	pthread_cond_t room;        /* the ring has room (block_when_full) */
	struct candidate *ring;     /* owned; slots entries */
	uint32_t slots, head, count;
	bool stopping;

	pthread_t thread;
	bool running;

	/* Events thread only: one batch, owned (batch_max entries each). */
	uint32_t batch_max;
	struct candidate *batch;
	struct tp_seen_item *items;
	char **signed_event;
	uint32_t expired_day;       /* day of the last expiry run */
};

#define COUNT(ev, field) atomic_fetch_add_explicit(&(ev)->stats.field, 1, memory_order_relaxed)

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* Daily: names not seen for the expiry period leave the store (so it
 * cannot grow forever), in small transactions. */
static void expire_daily(struct tp_events *ev, int64_t now)
{
	uint32_t day = (uint32_t)(now / 86400);
	if (day == ev->expired_day)
		return;
	ev->expired_day = day;
	uint64_t deleted = 0;
	int rc = tp_seen_expire(ev->store, now, &deleted);
	if (rc < 0)
		tp_log_err(events, "seen-store expiry: %s", tp_strerror(rc));
	else if (deleted > 0)
		tp_log_notice(events, "seen-store: %" PRIu64 " names expired", deleted);
}

/* Build and sign the event of c; *out is heap memory (free()). */
static int sign_event(struct tp_events *ev, const struct candidate *c, char **out,
		      size_t *out_len)
{
	struct tp_newqname e = {
		.qname = c->name,
		.qtype = c->qtype,
		.qclass = c->qclass,
		.flags = c->flags,
		.time_us = c->time_us,
	};
	char json[TP_NEWQNAME_JSON_MAX];
	int n = tp_newqname_json(&e, json, sizeof(json));
	if (n < 0)
		return n;
	return tp_jws_sign(ev->cfg.key, (const uint8_t *)json, (size_t)n, out, out_len);
}

/* The store's key order (LMDB's default: octets, then the shorter first;
 * the names are folded already). A name offered twice in one batch keeps
 * its earliest sighting first, which is the one that gets the event. */
static int by_name(const void *a, const void *b)
{
	const struct candidate *p = a, *q = b;
	const struct tp_dns_name *x = &p->name, *y = &q->name;
	int c = memcmp(x->wire, y->wire, x->len < y->len ? x->len : y->len);
	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (p->time_us != q->time_us)
		return p->time_us < q->time_us ? -1 : 1;
	if (p->qtype != q->qtype)
		return p->qtype < q->qtype ? -1 : 1;
	if (p->qclass != q->qclass)
		return p->qclass < q->qclass ? -1 : 1;
	return (p->flags > q->flags) - (p->flags < q->flags);
}

static void process_batch(struct tp_events *ev, size_t n)
{
	const struct candidate *batch = ev->batch;
	struct tp_seen_item *items = ev->items;
	char **signed_event = ev->signed_event;
	size_t m = 0;
	int64_t now = now_s();
	expire_daily(ev, now);

	/* In the store's key order, so that the transaction walks the B-tree
	 * once from left to right instead of jumping about it. */
	qsort(ev->batch, n, sizeof(*ev->batch), by_name);
	for (size_t i = 0; i < n; i++) {
		/* The look without a lock spares signing a known name; with
		 * nothing to sign, the write transaction's own look suffices. */
		enum tp_seen_state st = TP_SEEN_NEW;
		if (ev->cfg.key != NULL) {
			int rc = tp_seen_peek(ev->store, &batch[i].name, now, &st);
			if (rc < 0) {
				COUNT(ev, store_errors);
				tp_log_limited(TP_LOG_ERR, events, "seen-store: %s",
					       tp_strerror(rc));
				continue;
			}
			if (st == TP_SEEN_KNOWN)
				continue;
		}
		struct tp_seen_item *it = &items[m];
		memset(it, 0, sizeof(*it));
		it->name = batch[i].name;
		signed_event[m] = NULL;
		/* A refresh needs no event; without a key names are only
		 * recorded (so turning events on later sends no backlog). */
		if (st == TP_SEEN_NEW && ev->cfg.key != NULL) {
			size_t len;
			int rc = sign_event(ev, &batch[i], &signed_event[m], &len);
			if (rc < 0) {
				COUNT(ev, sign_errors);
				tp_log_limited(TP_LOG_ERR, events, "new_qname event: %s",
					       tp_strerror(rc));
				continue; /* not recorded: a later sighting retries */
			}
			it->event = (const uint8_t *)signed_event[m];
			it->event_len = len;
		}
		m++;
	}
	if (m > 0) {
		int rc = tp_seen_record(ev->store, items, m, now);
		if (rc < 0) {
			atomic_fetch_add_explicit(&ev->stats.store_errors, m, memory_order_relaxed);
			tp_log_limited(TP_LOG_ERR, events, "seen-store: %s (%zu names not recorded)",
				       tp_strerror(rc), m);
		} else {
			for (size_t i = 0; i < m; i++) {
				if (items[i].is_new)
					COUNT(ev, new_names);
				if (items[i].queued)
					COUNT(ev, queued);
				if (items[i].error == TP_ETOOBIG)
					COUNT(ev, queue_full);
			}
		}
	}
	for (size_t i = 0; i < m; i++)
		free(signed_event[i]);
}

static void *events_thread(void *arg)
{
	struct tp_events *ev = arg;
	for (;;) {
		pthread_mutex_lock(&ev->lock);
		while (ev->count == 0 && !ev->stopping)
			pthread_cond_wait(&ev->cond, &ev->lock);
		size_t n = 0;
		while (ev->count > 0 && n < ev->batch_max) {
			ev->batch[n++] = ev->ring[ev->head];
			ev->head = (ev->head + 1u) % ev->slots;
			ev->count--;
		}
		if (n > 0)
			pthread_cond_broadcast(&ev->room);
		bool stop = ev->stopping && n == 0;
		pthread_mutex_unlock(&ev->lock);
		if (stop)
			break;
		process_batch(ev, n);
	}
	return NULL;
}

int tp_events_start(const struct tp_events_config *cfg, struct tp_events **out)
{
	*out = NULL;
	if (cfg->buffer == 0)
		return TP_EINVAL;
	struct tp_events *ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return -ENOMEM;
	ev->cfg = *cfg;
	ev->expired_day = UINT32_MAX;
	ev->recent = calloc(RECENT_SLOTS, sizeof(*ev->recent));
	/* Input that waits rather than drops needs no headroom: its ring is
	 * only the next batch, so it gets a whole one. */
	ev->slots = cfg->block_when_full && cfg->buffer < BATCH ? BATCH : cfg->buffer;
	ev->batch_max = ev->slots < BATCH ? ev->slots : BATCH;
	ev->ring = calloc(ev->slots, sizeof(*ev->ring));
	ev->batch = calloc(ev->batch_max, sizeof(*ev->batch));
	ev->items = calloc(ev->batch_max, sizeof(*ev->items));
	ev->signed_event = calloc(ev->batch_max, sizeof(*ev->signed_event));
	uint8_t seed[TP_PRF_KEY_SIZE];
	int rc = 0;
	if (ev->recent == NULL || ev->ring == NULL || ev->batch == NULL || ev->items == NULL ||
	    ev->signed_event == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	/* A secret hash key: query names chosen by a client must not be
	 * able to evict each other from the table on purpose. */
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		rc = -errno;
		goto fail;
	}
	tp_prf_key_from_bytes(&ev->recent_key, seed);
	explicit_bzero(seed, sizeof(seed));

	rc = tp_seen_open(cfg->seen_dir, cfg->seen_map_size, cfg->seen_expiry_days, &ev->store);
	if (rc < 0) {
		tp_log_err(events, "seen-store %s: %s", cfg->seen_dir, tp_strerror(rc));
		goto fail;
	}
	tp_outbox_set_limit(ev->store, cfg->queue_max);
	if ((rc = tp_outbox_set_sinks(ev->store, cfg->sinks)) < 0)
		goto fail;
	if (pthread_mutex_init(&ev->lock, NULL) != 0) {
		rc = TP_EBUG;
		goto fail;
	}
	if (pthread_cond_init(&ev->cond, NULL) != 0) {
		pthread_mutex_destroy(&ev->lock);
		rc = TP_EBUG;
		goto fail;
	}
	if (pthread_cond_init(&ev->room, NULL) != 0) {
		pthread_cond_destroy(&ev->cond);
		pthread_mutex_destroy(&ev->lock);
		rc = TP_EBUG;
		goto fail;
	}
	int prc = pthread_create(&ev->thread, NULL, events_thread, ev);
	if (prc != 0) {
		tp_log_err(events, "cannot start the events thread: %s", strerror(prc));
		pthread_cond_destroy(&ev->room);
		pthread_cond_destroy(&ev->cond);
		pthread_mutex_destroy(&ev->lock);
		rc = -prc;
		goto fail;
	}
	ev->running = true;
	uint64_t queued = 0, last = 0;
	if (tp_outbox_stats(ev->store, &queued, &last) == 0 && queued > 0)
		tp_log_notice(events, "%" PRIu64 " events from an earlier run wait for delivery",
			      queued);
	*out = ev;
	return 0;
fail:
	tp_seen_close(ev->store);
	free(ev->signed_event);
	free(ev->items);
	free(ev->batch);
	free(ev->ring);
	free(ev->recent);
	free(ev);
	return rc;
}

struct tp_seen *tp_events_store(struct tp_events *ev)
{
	return ev->store;
}

void tp_events_offer(struct tp_events *ev, const struct tp_dns_msg *dns, int64_t time_us)
{
	struct candidate c;
	tp_dns_name_fold_copy(&c.name, &dns->qname);
	unsigned runs = 0;
	if (tp_newqname_reduce(&c.name, &c.name, &runs) < 0)
		return; /* the parser produced it: cannot happen */
	if (runs > 0) {
		if (ev->cfg.suppress_unique) {
			COUNT(ev, suppressed);
			return;
		}
		COUNT(ev, reduced);
	}

	uint64_t h = tp_siphash24(&ev->recent_key, c.name.wire, c.name.len);
	uint64_t day = (uint64_t)(time_us / 1000000 / 86400);
	uint64_t tag = (h & ~(uint64_t)0xffff) | (day & 0xffff);
	uint64_t *slot = &ev->recent[h & (RECENT_SLOTS - 1u)];
	if (*slot == tag) {
		COUNT(ev, repeats);
		return;
	}
	c.qtype = dns->qtype;
	c.qclass = dns->qclass;
	c.flags = dns->flags;
	c.time_us = time_us;

	pthread_mutex_lock(&ev->lock);
	while (ev->cfg.block_when_full && ev->count >= ev->slots && !ev->stopping)
		pthread_cond_wait(&ev->room, &ev->lock);
	bool room = ev->count < ev->slots && !ev->stopping;
	if (room) {
		ev->ring[(ev->head + ev->count) % ev->slots] = c;
		ev->count++;
		pthread_cond_signal(&ev->cond);
	}
	pthread_mutex_unlock(&ev->lock);
	if (room) {
		*slot = tag;
		COUNT(ev, offered);
	} else {
		COUNT(ev, buffer_full);
	}
}

void tp_events_stop(struct tp_events *ev)
{
	if (ev == NULL || !ev->running)
		return;
	pthread_mutex_lock(&ev->lock);
	ev->stopping = true;
	pthread_cond_signal(&ev->cond);
	pthread_cond_broadcast(&ev->room);
	pthread_mutex_unlock(&ev->lock);
	pthread_join(ev->thread, NULL);
	ev->running = false;
}

void tp_events_free(struct tp_events *ev)
{
	if (ev == NULL)
		return;
	tp_events_stop(ev);
	pthread_cond_destroy(&ev->room);
	pthread_cond_destroy(&ev->cond);
	pthread_mutex_destroy(&ev->lock);
	tp_seen_close(ev->store);
	free(ev->signed_event);
	free(ev->items);
	free(ev->batch);
	free(ev->ring);
	free(ev->recent);
	free(ev);
}

const struct tp_events_stats *tp_events_stats(const struct tp_events *ev)
{
	return &ev->stats;
}
