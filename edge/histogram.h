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

struct tp_hist;

/* Create the aggregator.
 *   cfg: copied. list: taken (freed with the aggregator).
 * Returns 0 and *out, or -ENOMEM. */
int tp_hist_new(const struct tp_hist_config *cfg, struct tp_wkd *list,
		struct tp_hist **out) TP_WUR;

/* Write every open interval (observation ends at end_us), then free. */
void tp_hist_free(struct tp_hist *h);

/* Count one response.
 *   qname: borrowed, case-folded. addr: borrowed, the client address as in
 *   dnstap (NULL or a length other than 4/16: counted, no client).
 *   now_us: the wall clock (UTC microseconds). */
enum tp_hist_result tp_hist_add(struct tp_hist *h, int64_t ts_us,
				const struct tp_dns_name *qname, uint16_t qtype,
				uint16_t qclass, uint16_t rcode, const uint8_t *addr,
				size_t addr_len, int64_t now_us);

/* Write the intervals the watermark has passed (live: call about once a
 * second). */
void tp_hist_tick(struct tp_hist *h, int64_t now_us);

/* Write every open interval; observation ends at end_us (live: now; a file:
 * ignored, the newest message time is used). */
void tp_hist_flush(struct tp_hist *h, int64_t end_us);

/* Use a new list from the next interval on. list: taken. */
void tp_hist_set_list(struct tp_hist *h, struct tp_wkd *list);

const struct tp_hist_stats *tp_hist_stats(const struct tp_hist *h);

/* The file name of an interval: dns_histogram-<START>_<STOP>.parquet, times
 * as YYYY-MM-DDTHH-MM-SSZ (seconds, rounded down). Returns 0 or TP_ENOSPACE. */
int tp_hist_file_name(int64_t start_us, int64_t stop_us, char *out, size_t size) TP_WUR;

#endif
