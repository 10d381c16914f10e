/* SPDX-License-Identifier: BSD-2-Clause
 *
 * histogram.c - per-minute crowd rows and their Parquet files (see
 * histogram.h).
 *
 * One row per (minute, matched list entry); all names under a suffix entry
 * share that entry's row (edm-spec §3.1). Counts sum to responses (§3.2).
 * Client sketches are allocated on the first client of a row and freed when
 * the minute is written. Each open minute keeps the list it was opened with:
 * a reloaded list applies from the next minute, and row keys (entry ids of
 * one list) never mix.
 */
#include "edge/histogram.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/outfile.h"
#include "parquet/parquet.h"
#include "sketch/hll.h"
#include "sketch/murmur3.h"
#include "util/log.h"
#include "util/mix.h"

#define MINUTE_US INT64_C(60000000)
/* Open minutes at once: lateness is capped at TP_HIST_LATENESS_MAX_S. */
#define MAX_OPEN 8

enum count {
	C_A, C_AAAA, C_MX, C_NS, C_OTHER_TYPE, C_NON_IN,
	C_OK, C_NX, C_FAIL, C_OTHER_RCODE,
	N_COUNTS
};

static const char *const count_names[N_COUNTS] = {
	"a_count", "aaaa_count", "mx_count", "ns_count", "other_type_count", "non_in_count",
	"ok_count", "nx_count", "fail_count", "other_rcode_count",
};

/* edm-spec §3.2 */
#define STATUS_EXACT 1u
#define STATUS_WILDCARD 2u

struct row {
	uint32_t id;
	uint64_t count[N_COUNTS];
	uint64_t status_bits;
	struct tp_hll *v4, *v6; /* from tp_hll_new(), or NULL: no client yet */
};

struct list_ref {
	struct tp_wkd *list; /* owned */
	unsigned refs;       /* intervals using it, plus one while current */
};

struct interval {
	int64_t minute_us;     /* UTC minute this interval bins */
	int64_t min_ts, max_ts; /* message times seen in it */
	struct list_ref *ref;
	struct row *rows;      /* from realloc(), cap_rows */
	size_t n_rows, cap_rows;
	uint32_t *slots;       /* id -> row index + 1 (0 = empty), n_slots */
	size_t n_slots;        /* power of two */
};

struct tp_hist {
	struct tp_hist_config cfg;
	struct tp_hll_params hll;
	struct list_ref *current;
	struct interval open[MAX_OPEN];
	size_t n_open;          /* sorted by minute, oldest first */
	int64_t watermark;      /* INT64_MIN until the first message (files) */
	int64_t first_ts;       /* first message (files): observation start */
	bool any;
	struct tp_hist_stats stats;
};

static void ref_put(struct list_ref *r)
{
	if (r != NULL && --r->refs == 0) {
		tp_wkd_free(r->list);
		free(r);
	}
}

static struct list_ref *ref_new(struct tp_wkd *list)
{
	struct list_ref *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->list = list;
	r->refs = 1;
	return r;
}

int tp_hist_new(const struct tp_hist_config *cfg, struct tp_wkd *list, struct tp_hist **out)
{
	struct tp_hist *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		tp_wkd_free(list);
		return -ENOMEM;
	}
	h->cfg = *cfg;
	tp_hll_params_default(&h->hll);
	h->hll.explicit_threshold = (int32_t)cfg->explicit_threshold;
	int rc = tp_hll_params_check(&h->hll);
	if (rc < 0) {
		tp_wkd_free(list);
		free(h);
		return rc;
	}
	h->current = ref_new(list);
	if (h->current == NULL) {
		tp_wkd_free(list);
		free(h);
		return -ENOMEM;
	}
	h->watermark = INT64_MIN;
	*out = h;
	return 0;
}

void tp_hist_set_list(struct tp_hist *h, struct tp_wkd *list)
{
	struct list_ref *r = ref_new(list);
	if (r == NULL) {
		tp_log_err(histogram, "out of memory: the new list is not used");
		tp_wkd_free(list);
		h->stats.reload_errors++;
		return;
	}
	ref_put(h->current);
	h->current = r;
	h->stats.reloads++;
}

const struct tp_hist_stats *tp_hist_stats(const struct tp_hist *h)
{
	return &h->stats;
}

static int64_t floor_minute(int64_t ts)
{
	int64_t m = ts / MINUTE_US;
	if (ts % MINUTE_US < 0)
		m--;
	return m * MINUTE_US;
}

/* ---- one interval's rows ---- */

static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static int grow_slots(struct interval *iv)
{
	size_t n = iv->n_slots ? iv->n_slots * 2 : 1024;
	uint32_t *slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	for (size_t r = 0; r < iv->n_rows; r++) {
		size_t i = mix32(iv->rows[r].id) & (n - 1);
		while (slots[i] != 0)
			i = (i + 1) & (n - 1);
		slots[i] = (uint32_t)(r + 1);
	}
	free(iv->slots);
	iv->slots = slots;
	iv->n_slots = n;
	return 0;
}

/* The row of entry id, created if new. Returns NULL on OOM. */
static struct row *row_for(struct interval *iv, uint32_t id, bool wildcard)
{
	if ((iv->n_rows + 1) * 2 > iv->n_slots && grow_slots(iv) < 0)
		return NULL;
	size_t i = mix32(id) & (iv->n_slots - 1);
	while (iv->slots[i] != 0) {
		struct row *r = &iv->rows[iv->slots[i] - 1];
		if (r->id == id)
			return r;
		i = (i + 1) & (iv->n_slots - 1);
	}
	if (iv->n_rows == iv->cap_rows) {
		size_t cap = iv->cap_rows ? iv->cap_rows * 2 : 256;
		struct row *rows = realloc(iv->rows, cap * sizeof(*rows));
		if (rows == NULL)
			return NULL;
		iv->rows = rows;
		iv->cap_rows = cap;
	}
	struct row *r = &iv->rows[iv->n_rows];
	memset(r, 0, sizeof(*r));
	r->id = id;
	/* edm-spec §3.2: fixed at row creation from the first match. */
	r->status_bits = wildcard ? STATUS_WILDCARD : STATUS_EXACT;
	iv->slots[i] = (uint32_t)++iv->n_rows;
	return r;
}

static void interval_release(struct interval *iv)
{
	for (size_t r = 0; r < iv->n_rows; r++) {
		tp_hll_free(iv->rows[r].v4);
		tp_hll_free(iv->rows[r].v6);
	}
	free(iv->rows);
	free(iv->slots);
	ref_put(iv->ref);
	memset(iv, 0, sizeof(*iv));
}

/* ---- writing ---- */

int tp_hist_file_name(int64_t start_us, int64_t stop_us, char *out, size_t size)
{
	return tp_outfile_name("dns_histogram-", start_us, stop_us, out, size);
}

/* The reference histogram schema, edm-spec §3.5: names, types, order. */
enum { COL_START, COL_LABEL0, COL_COUNT0 = COL_LABEL0 + 10, COL_STATUS = COL_COUNT0 + N_COUNTS,
       COL_V4, COL_V6, COL_V4_HLL, COL_V6_HLL, N_COLS };

static void schema(struct tp_pq_column cols[N_COLS])
{
	static const char *const labels[10] = { "label0", "label1", "label2", "label3", "label4",
						"label5", "label6", "label7", "label8", "label9" };
	const struct tp_pq_column u64 = { NULL, TP_PQ_INT64, TP_PQ_LT_INT, 64, false, false };
	cols[COL_START] = (struct tp_pq_column){ "start_time", TP_PQ_INT64, TP_PQ_LT_TIMESTAMP_MICROS,
						 0, false, false };
	for (int i = 0; i < 10; i++)
		cols[COL_LABEL0 + i] = (struct tp_pq_column){ labels[i], TP_PQ_BYTE_ARRAY,
							      TP_PQ_LT_STRING, 0, false, true };
	for (int i = 0; i < N_COUNTS; i++) {
		cols[COL_COUNT0 + i] = u64;
		cols[COL_COUNT0 + i].name = count_names[i];
	}
	cols[COL_STATUS] = u64;
	cols[COL_STATUS].name = "edm_status_bits";
	cols[COL_V4] = u64;
	cols[COL_V4].name = "v4client_count";
	cols[COL_V6] = u64;
	cols[COL_V6].name = "v6client_count";
	cols[COL_V4_HLL] = (struct tp_pq_column){ "v4client_count_hll", TP_PQ_BYTE_ARRAY,
						  TP_PQ_LT_NONE, 0, false, true };
	cols[COL_V6_HLL] = cols[COL_V4_HLL];
	cols[COL_V6_HLL].name = "v6client_count_hll";
}

/* Client count, and the sketch column: bytes only once the sketch has left
 * the explicit (exact) representation, so a handful of clients never leaves
 * the edge as a sketch (SPEC §5, edm #93). */
static int put_clients(struct tp_pq_writer *w, size_t count_col, size_t hll_col,
		       const struct tp_hll *sketch)
{
	/* log2m 10, regwidth 4: a dense sketch is 3 + 512 octets. */
	uint8_t buf[1024];
	int rc = tp_pq_set_u64(w, count_col, sketch ? tp_hll_cardinality(sketch) : 0);
	if (rc < 0)
		return rc;
	enum tp_hll_type t = sketch ? tp_hll_type(sketch) : TP_HLL_EMPTY;
	if (t != TP_HLL_SPARSE && t != TP_HLL_FULL)
		return tp_pq_set_null(w, hll_col);
	rc = tp_hll_serialize(sketch, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	return tp_pq_set_bytes(w, hll_col, buf, (size_t)rc);
}

static int put_row(struct tp_pq_writer *w, const struct tp_wkd *list, int64_t start_us,
		   const struct row *r)
{
	struct tp_dns_name name;
	bool wildcard;
	struct tp_dns_labels labels;
	int rc = tp_wkd_entry(list, r->id, &name, &wildcard);
	if (rc == 0)
		rc = tp_dns_name_labels(&name, &labels);
	if (rc < 0)
		return rc;
	rc = tp_pq_set_i64(w, COL_START, start_us);
	/* edm-spec §3.6: a suffix entry `.example.net.` splits into
	 * "", "example", "net": one more label, empty, not NULL. */
	size_t n = labels.n;
	for (size_t i = 0; rc == 0 && i < 10; i++) {
		if (i < n)
			rc = tp_pq_set_str(w, COL_LABEL0 + i, labels.label[i]);
		else if (i == n && wildcard)
			rc = tp_pq_set_str(w, COL_LABEL0 + i, "");
		else
			rc = tp_pq_set_null(w, COL_LABEL0 + i);
	}
	for (size_t i = 0; rc == 0 && i < N_COUNTS; i++)
		rc = tp_pq_set_u64(w, COL_COUNT0 + i, r->count[i]);
	if (rc == 0)
		rc = tp_pq_set_u64(w, COL_STATUS, r->status_bits);
	if (rc == 0)
		rc = put_clients(w, COL_V4, COL_V4_HLL, r->v4);
	if (rc == 0)
		rc = put_clients(w, COL_V6, COL_V6_HLL, r->v6);
	if (rc == 0)
		rc = tp_pq_row_commit(w);
	else
		tp_pq_row_discard(w);
	return rc;
}

static int write_interval(struct tp_hist *h, const struct interval *iv, int64_t start_us,
			  int64_t stop_us)
{
	char dir[4096], name[128], path[4400];
	int rc = snprintf(dir, sizeof(dir), "%s/parquet/histograms/outbox", h->cfg.data_dir) <
				 (int)sizeof(dir)
			 ? 0
			 : -ENAMETOOLONG;
	if (rc == 0)
		rc = tp_hist_file_name(start_us, stop_us, name, sizeof(name));
	if (rc == 0)
		rc = tp_outfile_mkdirs(dir);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, name);

	struct tp_pq_column cols[N_COLS];
	schema(cols);
	struct tp_pq_writer_opts opts = { .codec = TP_PQ_CODEC_SNAPPY };
	struct tp_pq_writer *w;
	rc = tp_pq_writer_new(path, cols, N_COLS, &opts, &w);
	if (rc < 0)
		return rc;
	for (size_t r = 0; rc == 0 && r < iv->n_rows; r++)
		rc = put_row(w, iv->ref->list, start_us, &iv->rows[r]);
	if (rc < 0) {
		tp_pq_writer_free(w);
		return rc;
	}
	rc = tp_pq_writer_close(w);
	if (rc == 0)
		tp_log_info(histogram, "wrote %s (%zu rows)", name, iv->n_rows);
	return rc;
}

/* Write (if it has rows) and release the oldest open interval. */
static void close_oldest(struct tp_hist *h, bool final, int64_t end_us)
{
	struct interval *iv = &h->open[0];
	int64_t start = iv->minute_us, stop = iv->minute_us + MINUTE_US;
	/* Partial first interval: observation began inside the minute. */
	int64_t obs_start = h->cfg.live ? h->cfg.start_us : h->first_ts;
	if (obs_start > start)
		start = obs_start < iv->min_ts ? obs_start : iv->min_ts;
	/* Partial last interval: observation ended inside the minute. */
	if (final) {
		int64_t end = h->cfg.live && end_us > iv->max_ts ? end_us : iv->max_ts + 1;
		if (end < stop)
			stop = end;
	}
	if (iv->n_rows > 0) {
		int rc = write_interval(h, iv, start, stop);
		if (rc < 0) {
			h->stats.write_errors++;
			h->stats.rows_dropped += iv->n_rows;
			tp_log_err(histogram, "cannot write the histogram of %" PRId64 ": %s",
				   start / 1000000, tp_strerror(rc));
		} else {
			h->stats.intervals_written++;
			h->stats.rows_written += iv->n_rows;
		}
	}
	interval_release(iv);
	memmove(&h->open[0], &h->open[1], (h->n_open - 1) * sizeof(h->open[0]));
	h->n_open--;
	memset(&h->open[h->n_open], 0, sizeof(h->open[0]));
}

void tp_hist_tick(struct tp_hist *h, int64_t now_us)
{
	if (h->cfg.live)
		h->watermark = now_us;
	while (h->n_open > 0 &&
	       h->open[0].minute_us + MINUTE_US + h->cfg.lateness_us <= h->watermark)
		close_oldest(h, false, now_us);
}

void tp_hist_flush(struct tp_hist *h, int64_t end_us)
{
	while (h->n_open > 0)
		close_oldest(h, true, end_us);
}

void tp_hist_free(struct tp_hist *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n_open; i++)
		interval_release(&h->open[i]);
	ref_put(h->current);
	free(h);
}

/* The open interval of minute m, opened if needed. NULL when MAX_OPEN
 * minutes are open already (only possible with a far jump in a file). */
static struct interval *interval_for(struct tp_hist *h, int64_t m)
{
	size_t i = 0;
	while (i < h->n_open && h->open[i].minute_us < m)
		i++;
	if (i < h->n_open && h->open[i].minute_us == m)
		return &h->open[i];
	if (h->n_open == MAX_OPEN) {
		if (i == 0)
			return NULL;
		/* Room by writing the oldest: it is the furthest behind. */
		close_oldest(h, false, 0);
		i--;
	}
	memmove(&h->open[i + 1], &h->open[i], (h->n_open - i) * sizeof(h->open[0]));
	h->n_open++;
	struct interval *iv = &h->open[i];
	memset(iv, 0, sizeof(*iv));
	iv->minute_us = m;
	iv->min_ts = INT64_MAX;
	iv->max_ts = INT64_MIN;
	iv->ref = h->current;
	iv->ref->refs++;
	return iv;
}

static void count(struct row *r, uint16_t qtype, uint16_t qclass, uint16_t rcode)
{
	/* edm-spec §3.2: types only for class IN; everything else non_in. */
	if (qclass != 1)
		r->count[C_NON_IN]++;
	else if (qtype == 1)
		r->count[C_A]++;
	else if (qtype == 28)
		r->count[C_AAAA]++;
	else if (qtype == 15)
		r->count[C_MX]++;
	else if (qtype == 2)
		r->count[C_NS]++;
	else
		r->count[C_OTHER_TYPE]++;

	if (rcode == 0)
		r->count[C_OK]++;
	else if (rcode == 3)
		r->count[C_NX]++;
	else if (rcode == 2)
		r->count[C_FAIL]++;
	else
		r->count[C_OTHER_RCODE]++;
}

static void add_client(struct tp_hist *h, struct row *r, const uint8_t *addr, size_t len)
{
	bool v4;
	uint64_t hash;
	if (addr == NULL || (len != 4 && len != 16))
		return; /* counted, no client (edm-spec §3.2) */
	v4 = len == 4 || tp_addr_is_v4_mapped(addr);
	if (h->cfg.hash == TP_HIST_HASH_COMPAT) {
		/* The reference hashes the bytes as dnstap has them, a mapped
		 * address as 16 bytes, so sketches union across edges. */
		hash = tp_murmur3_h1(addr, len);
	} else {
		/* Keyed: one client is one input whatever its representation. */
		hash = v4 && len == 16 ? tp_prf_addr(&h->cfg.key, addr + 12, 4)
				       : tp_prf_addr(&h->cfg.key, addr, len);
	}
	struct tp_hll **sketch = v4 ? &r->v4 : &r->v6;
	if (*sketch == NULL && tp_hll_new(&h->hll, sketch) < 0) {
		*sketch = NULL;
		tp_log_limited(TP_LOG_ERR, histogram, "out of memory: a client is not counted");
		return;
	}
	tp_hll_add(*sketch, hash);
}

enum tp_hist_result tp_hist_add(struct tp_hist *h, int64_t ts_us, const struct tp_dns_name *qname,
				uint16_t qtype, uint16_t qclass, uint16_t rcode, const uint8_t *addr,
				size_t addr_len, int64_t now_us)
{
	if (ts_us > now_us + h->cfg.future_skew_us)
		return TP_HIST_FUTURE;
	if (h->cfg.live) {
		h->watermark = now_us;
	} else {
		if (!h->any) {
			h->first_ts = ts_us;
			h->any = true;
		}
		if (ts_us > h->watermark)
			h->watermark = ts_us;
	}
	int64_t m = floor_minute(ts_us);
	if (m + MINUTE_US + h->cfg.lateness_us <= h->watermark)
		return TP_HIST_LATE;
	if (!h->cfg.live)
		tp_hist_tick(h, now_us);

	struct interval *iv = interval_for(h, m);
	if (iv == NULL)
		return TP_HIST_LATE;
	/* The interval's observed span counts every message, listed or not. */
	if (ts_us < iv->min_ts)
		iv->min_ts = ts_us;
	if (ts_us > iv->max_ts)
		iv->max_ts = ts_us;
	struct tp_wkd_match match;
	if (!tp_wkd_lookup(iv->ref->list, qname, &match))
		return TP_HIST_NOT_WELL_KNOWN;
	struct row *r = row_for(iv, match.id, match.wildcard);
	if (r == NULL) {
		tp_log_limited(TP_LOG_ERR, histogram, "out of memory: a response is not counted");
		return TP_HIST_WELL_KNOWN;
	}
	count(r, qtype, qclass, rcode);
	add_client(h, r, addr, addr_len);
	return TP_HIST_WELL_KNOWN;
}
