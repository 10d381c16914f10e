/* SPDX-License-Identifier: BSD-2-Clause
 *
 * aggstore.h - the core's aggregate store: payloads in a local directory
 * or an S3-compatible bucket, metadata in an embedded LMDB index
 * (core-spec §1.7-1.10, SPEC §8).
 *
 * Keys are Hive-style so DuckDB, Spark or Trino read the tree as a table:
 *   type=<t>/year=YYYY/month=MM/day=DD/hour=HH/minute=MM/second=SS/creator=<keyid>/id=<id>.parquet
 * (the reference's key plus ".parquet" when the payload is Parquet, so
 * that a glob on *.parquet finds the files). The id is 24 hex digits
 * whose first 8 are the creation time in seconds, as the reference's
 * MongoDB ObjectId.
 *
 * Invariants, also across kill -9 (checked at open by recovery):
 *   - no metadata without its object: tp_aggstore_put() returns 0 only
 *     after the object is durable (local: written, fsynced, renamed, the
 *     directory fsynced; S3: the server's 200) and then its metadata is
 *     committed;
 *   - no object without metadata: the put is first recorded as pending in
 *     the index; at open, every pending put left by a crash has its object
 *     deleted and its record dropped (the client got no 201 and retries);
 *   - one object per Content-Digest: the digest index is unique.
 *
 * Thread safety: any number of threads may call put/get/lookup at once.
 */
#ifndef TP_STORE_AGGSTORE_H
#define TP_STORE_AGGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/s3.h"
#include "util/err.h"

#define TP_AGG_ID_LEN 24u
#define TP_AGG_HEADERS_MAX 16u
/* Largest payload stored or read back, and longest kept header value. */
#define TP_AGG_PAYLOAD_MAX (256u * 1024u * 1024u)
#define TP_AGG_HEADER_VALUE_MAX 8192u

struct tp_aggstore;

/* One stored aggregate's metadata (core-spec §1.8, §1.10). */
struct tp_agg_meta {
	char id[TP_AGG_ID_LEN + 1u];
	char type[16];                 /* histogram | vector | test */
	char creator[256];
	int64_t created;               /* UNIX seconds, from the id */
	char content_type[64];
	uint64_t content_length;
	char content_digest[256];      /* the header string, exactly */
	char bucket[64];               /* "" for the local backend */
	char object_key[TP_S3_KEY_MAX + 1u];
	bool has_interval;             /* interval known and duration != 0 */
	int64_t interval_start_us;     /* UTC microseconds */
	int64_t interval_duration_s;
	/* Request headers kept with the metadata (lower-case names). */
	size_t n_headers;
	struct { char name[32]; char *value; } headers[TP_AGG_HEADERS_MAX];
};

struct tp_aggstore_config {
	const char *index_dir;   /* LMDB environment directory; required */
	const char *local_dir;   /* payload root for the local backend, or NULL */
	const struct tp_s3_config *s3; /* S3 backend when not NULL */
	bool s3_create_bucket;
	/* Test hook, NULL in production: called by tp_aggstore_put() with
	 * stage TP_AGG_STAGE_PENDING (pending record committed, object not
	 * yet written) and TP_AGG_STAGE_OBJECT (object durable, metadata not
	 * yet committed), so a test can _exit() there to act out a crash. */
	void (*crash_hook)(int stage);
};
#define TP_AGG_STAGE_PENDING 1
#define TP_AGG_STAGE_OBJECT 2

/* Open (creating directories 0750), run recovery. Returns 0, TP_EINVAL,
 * -errno, or the S3 error when the bucket cannot be reached or created.
 * One process at a time: another process holding index_dir gives -EBUSY
 * (recovery must never delete a live put's object). */
int tp_aggstore_open(const struct tp_aggstore_config *cfg,
		     struct tp_aggstore **out) TP_WUR;
void tp_aggstore_close(struct tp_aggstore *st);

/* The id of the aggregate stored under this exact Content-Digest string.
 * Returns 0 and id, -ENOENT, or an LMDB error. */
int tp_aggstore_find_digest(struct tp_aggstore *st, const char *digest,
			    char id[TP_AGG_ID_LEN + 1u]) TP_WUR;

/* Store body[0..len) with meta (id, created, bucket, object_key and
 * content_length (= len) are filled in here; the rest by the caller:
 * type 1..15 of [a-z0-9_-], creator 1..255 of [A-Za-z0-9_.-] (the key id
 * rule), content_digest non-empty printable, headers values at most
 * TP_AGG_HEADER_VALUE_MAX; otherwise TP_EINVAL. len <= TP_AGG_PAYLOAD_MAX
 * or TP_ETOOBIG). Puts of one digest wait for each other. If another put with the same
 * content_digest won the race, returns TP_EEXIST with meta->id set to the
 * existing id and nothing stored. Returns 0 (durable, as above), or the
 * backend's error (nothing left behind). */
int tp_aggstore_put(struct tp_aggstore *st, struct tp_agg_meta *meta,
		    const void *body, size_t len) TP_WUR;

/* Metadata of id (meta->headers values are heap: tp_agg_meta_clear()).
 * Returns 0, -ENOENT (unknown or malformed id), or an error. */
int tp_aggstore_get_meta(struct tp_aggstore *st, const char *id,
			 struct tp_agg_meta *meta) TP_WUR;
/* The payload of id. *body: heap, free(). Returns 0, -ENOENT, errors. */
int tp_aggstore_get_payload(struct tp_aggstore *st, const char *id,
			    uint8_t **body, size_t *len) TP_WUR;
void tp_agg_meta_clear(struct tp_agg_meta *meta);

/* Totals and per-creator statistics (core-spec §1.10). The callback is
 * called once per creator in creator order. */
struct tp_agg_creator_stats {
	const char *creator;
	const char *last_id;
	int64_t last_seen;
	uint64_t count, total_size;
};
int tp_aggstore_stats(struct tp_aggstore *st, uint64_t *count, uint64_t *total_size,
		      void (*each)(void *ctx, const struct tp_agg_creator_stats *c),
		      void *ctx) TP_WUR;

/* Health: the index is readable and the backend reachable (S3 HEAD
 * bucket). Returns 0, or TP_ECONN naming which in *what ("index"/"s3"). */
int tp_aggstore_check(struct tp_aggstore *st, const char **what) TP_WUR;

#endif
