/* SPDX-License-Identifier: BSD-2-Clause
 *
 * histogram.h - the crowd dataset: per-minute rows for well-known names,
 * with counts and distinct-client sketches (SPEC §5, edm-spec §3).
 *
 * Messages are binned by their own timestamp into UTC minutes. A minute stays
 * open until the watermark passes its end plus the allowed lateness; then its
 * rows are written as one Parquet file in DATA/parquet/histograms/outbox/.
 * The watermark is the wall clock for live input and the newest message time
 * for file input. A message for a minute already written is late; one
 * stamped beyond the wall clock plus a small skew is from the future; both
 * are counted and never reopen or create far buckets (peers.md §3 item 17).
 *
 * The first interval of a run starts when observation started (process start
 * live, first message in a file); the last one ends when it stopped: partial
 * intervals carry their exact bounds (item 18).
 */
#ifndef TP_EDGE_HISTOGRAM_H
#define TP_EDGE_HISTOGRAM_H

#include <stdbool.h>
#include <stdint.h>

#include "dns/dns.h"
#include "sketch/prf.h"
#include "util/err.h"
#include "wkd/wkd.h"

enum tp_hist_hash { TP_HIST_HASH_COMPAT, TP_HIST_HASH_KEYED };

struct tp_hist_config {
	const char *data_dir;
	bool live;                   /* watermark = wall clock */
	uint32_t explicit_threshold; /* HLL explicit threshold, >= 1 */
	enum tp_hist_hash hash;
	struct tp_prf_key key;       /* TP_HIST_HASH_KEYED */
	int64_t lateness_us;         /* how long a minute stays open after its end */
	int64_t future_skew_us;      /* accepted time ahead of the wall clock */
	int64_t start_us;            /* live: observation start (process start) */
};

enum tp_hist_result {
	TP_HIST_WELL_KNOWN,
	TP_HIST_NOT_WELL_KNOWN,
	TP_HIST_LATE,
	TP_HIST_FUTURE,
};

struct tp_hist_stats {
	uint64_t intervals_written, rows_written, write_errors;
	uint64_t rows_dropped; /* rows of intervals that could not be written */
	uint64_t reloads, reload_errors;
};

/* What one batch of file input saw: its first message time (the run's
 * observation start if it is the first batch with one) and its newest. */
struct tp_hist_batch {
	bool any;
	int64_t first_ts, max_ts;
};

/* The aggregator: configuration, the list, the open minutes and writing.
 * Owned by the input thread. Rows live in shards, one per worker thread;
 * a minute's file merges the rows of every shard, in the order of each
 * row's first sighting (the frame's sequence number in the input), so the
 * file is the same whatever the number of workers and however the frames
 * were spread over them. Sums, first sightings and sketch unions do not
 * depend on order; the watermark is the only order-dependent input, and
 * the caller makes it deterministic (tp_hist_shard_begin). */
struct tp_hist;
struct tp_hist_shard;

/* Create the aggregator.
 *   cfg: copied. list: taken (freed with the aggregator).
 * Returns 0 and *out, or -ENOMEM. */
int tp_hist_new(const struct tp_hist_config *cfg, struct tp_wkd *list,
		struct tp_hist **out) TP_WUR;

/* Free the aggregator and its shards (after tp_hist_flush). */
void tp_hist_free(struct tp_hist *h);

/* A worker's shard, freed with h. Input thread, before workers start.
 * Returns 0 and *out, or -ENOMEM. */
int tp_hist_shard_new(struct tp_hist *h, struct tp_hist_shard **out) TP_WUR;

/* File input: the shard's worker starts a batch. Until tp_hist_shard_end
 * the shard is locked against tp_hist_settle/flush.
 *   base_us: the settled watermark (the newest message time of the input
 *   up to a point fixed before the batch); inside the batch the watermark
 *   is the larger of it and the batch's own newest time so far. */
void tp_hist_shard_begin(struct tp_hist_shard *s, int64_t base_us);
void tp_hist_shard_end(struct tp_hist_shard *s, struct tp_hist_batch *out);

/* Count one response (the shard's worker).
 *   seq: the frame's position in the input (orders rows by first sighting).
 *   qname: borrowed, case-folded. addr: borrowed, the client address as in
 *   dnstap (NULL or a length other than 4/16: counted, no client).
 *   now_us: the wall clock (UTC microseconds); the watermark of live input. */
enum tp_hist_result tp_hist_shard_add(struct tp_hist_shard *s, uint64_t seq, int64_t ts_us,
				      const struct tp_dns_name *qname, uint16_t qtype,
				      uint16_t qclass, uint16_t rcode, const uint8_t *addr,
				      size_t addr_len, int64_t now_us);

/* File input, input thread, once per batch in input order: take the
 * batch's first time, then write the minutes that every later frame will
 * find late, i.e. whose end plus the lateness is at or before settled_us
 * (the smallest base any later batch will get). */
void tp_hist_settle(struct tp_hist *h, const struct tp_hist_batch *b, int64_t settled_us);

/* Live input: write the minutes the wall clock has passed (about once a
 * second). */
void tp_hist_tick(struct tp_hist *h, int64_t now_us);

/* Write every open minute; observation ends at end_us (live: now; a file:
 * ignored, the newest message time is used). Workers must be idle. */
void tp_hist_flush(struct tp_hist *h, int64_t end_us);

/* Use a new list from the next minute on. list: taken. */
void tp_hist_set_list(struct tp_hist *h, struct tp_wkd *list);

const struct tp_hist_stats *tp_hist_stats(const struct tp_hist *h);

/* The file name of an interval: dns_histogram-<START>_<STOP>.parquet, times
 * as YYYY-MM-DDTHH-MM-SSZ (seconds, rounded down). Returns 0 or TP_ENOSPACE. */
int tp_hist_file_name(int64_t start_us, int64_t stop_us, char *out, size_t size) TP_WUR;

#endif
