/* SPDX-License-Identifier: BSD-2-Clause
 *
 * notify.c - new_aggregate notifications (notify.h, core-spec §1.9): a
 * bounded ring of ready JSON texts, filled by the upload handlers and
 * drained by one thread that publishes on core NATS.
 *
 * The upload path only formats and enqueues under a mutex; it never waits
 * for NATS (a full ring drops the message and counts it, as the reference
 * does). libnats owns reconnection: the first connect is asynchronous
 * (retry-on-failed-connect) and publishes made while it is away wait in
 * its reconnect buffer; one it refuses is counted as failed. Messages still
 * queued when a stop's drain time runs out are counted as failed too.
 */
#include "core/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <nats/nats.h>
#include <openssl/rand.h>

#include "net/nats.h"
#include "net/stopper.h"
#include "util/log.h"

#define SUBJECT_DEFAULT "aggregates"
#define BASE_URL_DEFAULT "http://127.0.0.1"
#define SCHEMA_NEW_AGGREGATE "https://schema.dnstapir.se/v1/new_aggregate"
/* A ring larger than this is a configuration mistake (each entry is a
 * message of well under 2 KiB). */
#define QUEUE_MAX (1024u * 1024u)
#define BASE_URL_MAX 1024u
#define BACKOFF_MAX_S 30u
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" and its NUL. */
#define TIME_TEXT_SIZE 28u

struct tp_notify {
	pthread_t thread;
	/* Its mutex also guards the ring, and its condition variable also
	 * signals "something queued". */
	struct tp_stopper st;
	char **ring;         /* owned texts, from json_dumps() */
	unsigned cap, head, len;

	char *subject, *base_url; /* owned */
	natsOptions *opts;
	natsConnection *nc;

	_Atomic uint64_t queued, published, dropped_full, failed;
};

/* ---- the message ---------------------------------------------------------- */

/* UTC "YYYY-MM-DDTHH:MM:SSZ", with ".ffffff" before the Z when us is not
 * zero (the interval start keeps microseconds, core-spec §1.3). */
static int utc_text(int64_t s, int64_t us, char out[TIME_TEXT_SIZE])
{
	time_t t = (time_t)s;
	struct tm tm;
	if ((int64_t)t != s || gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0)
		return TP_EINVAL;
	size_t n = strftime(out, TIME_TEXT_SIZE, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n != 19u)
		return TP_EINVAL;
	int m = us != 0 ? snprintf(out + n, TIME_TEXT_SIZE - n, ".%06dZ", (int)us)
			: snprintf(out + n, TIME_TEXT_SIZE - n, "Z");
	return m > 0 && (size_t)m < TIME_TEXT_SIZE - n ? 0 : TP_EBUG;
}

/* RFC 9562 §5.4 version 4: 122 random bits from OpenSSL's CSPRNG. */
static int uuid4(char out[37])
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof(r)) != 1)
		return TP_EBUG;
	r[6] = (unsigned char)((r[6] & 0x0fu) | 0x40u);
	r[8] = (unsigned char)((r[8] & 0x3fu) | 0x80u);
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < sizeof(r); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[r[i] >> 4];
		out[o++] = hex[r[i] & 0x0fu];
	}
	out[o] = '\0';
	return 0;
}

/* The scheme and authority of base: the reference always replaces the
 * path with /api/v1/aggregates/... (core-spec §1.1). */
static size_t origin_len(const char *base)
{
	const char *p = strstr(base, "://");
	const char *from = p != NULL ? p + 3 : base;
	return (size_t)(from - base) + strcspn(from, "/?#");
}

static int set_str(json_t *o, const char *key, const char *value)
{
	return json_object_set_new(o, key, json_string(value)) == 0 ? 0 : TP_EINVAL;
}

int tp_notify_json(const struct tp_agg_meta *meta, const char *base_url, int64_t now_s,
		   char **out)
{
	if (out == NULL)
		return TP_EINVAL;
	*out = NULL;
	if (meta == NULL)
		return TP_EINVAL;
	const char *base = base_url != NULL ? base_url : BASE_URL_DEFAULT;
	size_t blen = origin_len(base);
	if (blen == 0 || strnlen(base, BASE_URL_MAX + 1u) > BASE_URL_MAX)
		return TP_EINVAL;
	char id[37], now[TIME_TEXT_SIZE], created[TIME_TEXT_SIZE], start[TIME_TEXT_SIZE];
	int rc = uuid4(id);
	if (rc == 0)
		rc = utc_text(now_s, 0, now);
	if (rc == 0)
		rc = utc_text(meta->created, 0, created);
	bool interval = meta->has_interval && meta->interval_duration_s != 0;
	if (rc == 0 && interval) {
		int64_t s = meta->interval_start_us / 1000000, us = meta->interval_start_us % 1000000;
		if (us < 0) {
			s--;
			us += 1000000;
		}
		rc = utc_text(s, us, start);
	}
	if (rc != 0)
		return rc;
	/* 47 = "/api/v1/aggregates/" (19) + a 24-digit id + "/payload" (8),
	 * with room to spare. */
	char meta_loc[BASE_URL_MAX + 64u], content_loc[BASE_URL_MAX + 64u];
	int n1 = snprintf(meta_loc, sizeof(meta_loc), "%.*s/api/v1/aggregates/%s", (int)blen,
			  base, meta->id);
	int n2 = snprintf(content_loc, sizeof(content_loc), "%s/payload", meta_loc);
	if (n1 < 0 || (size_t)n1 >= sizeof(meta_loc) || n2 < 0 || (size_t)n2 >= sizeof(content_loc))
		return TP_EINVAL;

	json_t *o = json_object();
	if (o == NULL)
		return -ENOMEM;
	rc = set_str(o, "$schema", SCHEMA_NEW_AGGREGATE);
	if (rc == 0 && json_object_set_new(o, "version", json_integer(1)) != 0)
		rc = TP_EINVAL;
	if (rc == 0)
		rc = set_str(o, "message_id", id);
	if (rc == 0)
		rc = set_str(o, "timestamp", now);
	if (rc == 0)
		rc = set_str(o, "type", "new_aggregate");
	if (rc == 0)
		rc = set_str(o, "aggregate_id", meta->id);
	if (rc == 0)
		rc = set_str(o, "aggregate_type", meta->type);
	if (rc == 0)
		rc = set_str(o, "created", created);
	if (rc == 0)
		rc = set_str(o, "creator", meta->creator);
	if (rc == 0)
		rc = set_str(o, "metadata_location", meta_loc);
	if (rc == 0)
		rc = set_str(o, "content_location", content_loc);
	if (rc == 0)
		rc = set_str(o, "s3_bucket", meta->bucket);
	if (rc == 0)
		rc = set_str(o, "s3_object_key", meta->object_key);
	if (rc == 0 && interval) {
		rc = set_str(o, "aggregate_interval_start", start);
		/* Integer seconds (core-spec §7 item 4; the reference's 60.0
		 * is a float by accident). */
		if (rc == 0 && json_object_set_new(o, "aggregate_interval_duration",
						   json_integer(meta->interval_duration_s)) != 0)
			rc = TP_EINVAL;
	}
	/* json_string() refuses invalid UTF-8 (a creator is a key id, so it
	 * never is); that shows up above as TP_EINVAL. */
	if (rc == 0) {
		*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (*out == NULL)
			rc = -ENOMEM;
	}
	json_decref(o);
	return rc;
}

/* ---- the queue and its thread --------------------------------------------- */

static void publish_text(struct tp_notify *n, char *text)
{
	natsStatus s = natsConnection_PublishString(n->nc, n->subject, text);
	free(text);
	if (s == NATS_OK) {
		atomic_fetch_add(&n->published, 1u);
		return;
	}
	atomic_fetch_add(&n->failed, 1u);
	tp_log_limited(TP_LOG_WARNING, NOTIFY, "new_aggregate not published: %s",
		       natsStatus_GetText(s));
}

static void *notify_thread(void *arg)
{
	struct tp_notify *n = arg;
	(void)pthread_mutex_lock(&n->st.mu);
	for (;;) {
		while (n->len == 0 && !n->st.stop)
			(void)pthread_cond_wait(&n->st.cond, &n->st.mu);
		if (n->len == 0 || (n->st.stop && tp_stopper_now_ms() >= n->st.drain_until_ms))
			break;
		char *text = n->ring[n->head];
		n->ring[n->head] = NULL;
		n->head = (n->head + 1u) % n->cap;
		n->len--;
		(void)pthread_mutex_unlock(&n->st.mu);
		publish_text(n, text);
		(void)pthread_mutex_lock(&n->st.mu);
	}
	(void)pthread_mutex_unlock(&n->st.mu);
	return NULL;
}

static void free_all(struct tp_notify *n)
{
	if (n->ring != NULL) {
		for (unsigned i = 0; i < n->cap; i++)
			free(n->ring[i]);
		free(n->ring);
	}
	if (n->nc != NULL)
		natsConnection_Destroy(n->nc);
	natsOptions_Destroy(n->opts);
	free(n->subject);
	free(n->base_url);
	free(n);
}

int tp_notify_start(const struct tp_notify_config *cfg, struct tp_notify **out)
{
	if (cfg == NULL || out == NULL)
		return TP_EINVAL;
	*out = NULL;
	if (!tp_nats_url_ok(cfg->url)) {
		tp_log_err(NOTIFY, "bad NATS URL: use nats://host:port or tls://host:port");
		return TP_EINVAL;
	}
	const char *subject = cfg->subject != NULL ? cfg->subject : SUBJECT_DEFAULT;
	if (!tp_nats_subject_ok(subject)) {
		tp_log_err(NOTIFY, "bad NATS subject: printable tokens joined by '.', no wildcards");
		return TP_EINVAL;
	}
	const char *base = cfg->base_url != NULL ? cfg->base_url : BASE_URL_DEFAULT;
	if (strnlen(base, BASE_URL_MAX + 1u) > BASE_URL_MAX || origin_len(base) == 0) {
		tp_log_err(NOTIFY, "bad metadata base URL");
		return TP_EINVAL;
	}
	unsigned cap = cfg->queue_size == 0 ? TP_NOTIFY_QUEUE_DEFAULT : cfg->queue_size;
	if (cap > QUEUE_MAX) {
		tp_log_err(NOTIFY, "notification queue larger than %u", QUEUE_MAX);
		return TP_EINVAL;
	}
	struct tp_notify *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->cap = cap;
	n->ring = calloc(cap, sizeof(*n->ring));
	n->subject = strdup(subject);
	n->base_url = strdup(base);
	if (n->ring == NULL || n->subject == NULL || n->base_url == NULL) {
		free_all(n);
		return -ENOMEM;
	}
	const struct tp_nats_setup nats = {
		.url = cfg->url, .name = "tapir-core-notify", .backoff_max_s = BACKOFF_MAX_S,
	};
	int rc = tp_nats_connect(&nats, &n->opts, &n->nc);
	if (rc != 0) {
		free_all(n);
		return rc;
	}
	rc = tp_stopper_init(&n->st);
	if (rc != 0) {
		free_all(n);
		return rc;
	}
	rc = pthread_create(&n->thread, NULL, notify_thread, n);
	if (rc != 0) {
		tp_stopper_destroy(&n->st);
		free_all(n);
		return -rc;
	}
	*out = n;
	return 0;
}

void tp_notify_stop(struct tp_notify *n, unsigned drain_ms)
{
	if (n == NULL)
		return;
	tp_stopper_request(&n->st, drain_ms);
	int64_t until = 0;
	(void)tp_stopper_stopping(&n->st, &until);
	(void)pthread_join(n->thread, NULL);
	/* Published means handed to libnats; a flush within what is left of
	 * the drain time gets it onto the wire. */
	int64_t left = until - tp_stopper_now_ms();
	if (left > 0 && natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED)
		(void)natsConnection_FlushTimeout(n->nc, left);
	atomic_fetch_add(&n->failed, n->len);
	tp_stopper_destroy(&n->st);
	free_all(n);
}

int tp_notify_aggregate(struct tp_notify *n, const struct tp_agg_meta *meta)
{
	if (n == NULL || meta == NULL)
		return TP_EINVAL;
	/* Formatting (and the clock) outside the lock: the lock only guards
	 * the ring. */
	char *text = NULL;
	int rc = tp_notify_json(meta, n->base_url, (int64_t)time(NULL), &text);
	if (rc != 0) {
		atomic_fetch_add(&n->failed, 1u);
		tp_log_limited(TP_LOG_ERR, NOTIFY, "cannot build new_aggregate: %s", tp_strerror(rc));
		return rc;
	}
	(void)pthread_mutex_lock(&n->st.mu);
	bool full = n->len == n->cap || n->st.stop;
	if (!full) {
		n->ring[(n->head + n->len) % n->cap] = text;
		n->len++;
		(void)pthread_cond_signal(&n->st.cond);
	}
	(void)pthread_mutex_unlock(&n->st.mu);
	if (full) {
		free(text);
		atomic_fetch_add(&n->dropped_full, 1u);
		tp_log_limited(TP_LOG_WARNING, NOTIFY, "notification queue full: new_aggregate dropped");
		return TP_ENOSPACE;
	}
	atomic_fetch_add(&n->queued, 1u);
	return 0;
}

void tp_notify_stats(struct tp_notify *n, struct tp_notify_stats *out)
{
	out->queued = atomic_load(&n->queued);
	out->published = atomic_load(&n->published);
	out->dropped_full = atomic_load(&n->dropped_full);
	out->failed = atomic_load(&n->failed);
}
