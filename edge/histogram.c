/* SPDX-License-Identifier: BSD-2-Clause
 *
 * histogram.c - per-minute crowd rows and their Parquet files (see
 * histogram.h).
 *
 * One row per (minute, matched list entry); all names under a suffix entry
 * share that entry's row (edm-spec §3.1). Counts sum to responses (§3.2).
 * Each open minute keeps the list it was opened with: a reloaded list
 * applies from the next minute, and row keys (entry ids of one list) never
 * mix.
 *
 * Most rows of a minute see one or two clients, so a row keeps its first
 * few distinct client hashes inline and allocates a sketch only for more:
 * no allocation on the common path, and a sketch is 1,224 octets. Inline
 * hashes are an EXPLICIT sketch in all but storage (the same exact count;
 * no sketch bytes are written for EXPLICIT), and a sketch made later from
 * them holds the same set, so the result does not depend on when (or in
 * which shard) the sketch was made: a sketch's final state is a function
 * of its set of hashes (hll.h: promotions only ever follow the set's size
 * and its non-zero registers).
 *
 * Threads: a shard belongs to one worker; the aggregator to the input
 * thread. They meet in two places, each under a lock taken about once a
 * minute per worker, never per frame: a shard opening a minute asks the
 * aggregator which list the minute uses (h->lock), and closing a minute
 * takes each shard's rows for it (the shard's lock, which its worker holds
 * for the length of a batch).
 */
#include "edge/histogram.h"

#include <errno.h>
#include <pthread.h>
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
/* Minutes open at once. Lateness is capped at TP_HIST_LATENESS_MAX_S (four
 * minutes), so in-order input keeps at most six open; the rest is headroom
 * for the frames in flight between workers. A frame for a new minute
 * beyond this is counted late. */
#define MAX_OPEN 16
/* Distinct client hashes a row keeps before it needs a sketch. */
#define INLINE_CLIENTS 4

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

/* One address family's distinct clients of a row: up to INLINE_CLIENTS
 * distinct hashes in small[] (sketch NULL), then a sketch holding them all. */
struct clients {
	struct tp_hll *sketch; /* from tp_hll_new(), or NULL */
	uint64_t small[INLINE_CLIENTS];
	uint8_t n_small;
};

struct row {
	uint32_t id;
	bool wildcard;          /* how the first sighting matched (edm-spec §3.2) */
	uint64_t first_seq;     /* input position of the first sighting */
	uint64_t count[N_COUNTS];
	struct clients v4, v6;
};

struct list_ref {
	struct tp_wkd *list; /* owned */
	unsigned refs;       /* minutes using it, plus one while current */
};

/* One minute's rows in one shard (or, once merged, in the file). */
struct interval {
	int64_t minute_us;      /* UTC minute this interval bins */
	int64_t min_ts, max_ts; /* message times seen in it */
	const struct tp_wkd *list; /* the minute's list (the aggregator holds it) */
	struct row *rows;       /* from realloc(), cap_rows */
	size_t n_rows, cap_rows;
	uint32_t *slots;        /* id -> row index + 1 (0 = empty), n_slots */
	size_t n_slots;         /* power of two */
};

struct tp_hist_shard {
	struct tp_hist *h;
	pthread_mutex_t lock;   /* held by the worker for a batch; by closing */
	struct interval open[MAX_OPEN];
	size_t n_open;          /* sorted by minute, oldest first */
	int64_t watermark;      /* file input: see tp_hist_shard_begin */
	struct tp_hist_batch batch;
	struct tp_hist_shard *next;
};

/* A minute the aggregator has open: its list, until it is written. */
struct open_minute {
	int64_t minute_us;
	struct list_ref *ref;
};

struct tp_hist {
	struct tp_hist_config cfg;
	struct tp_hll_params hll;
	struct tp_hist_shard *shards; /* owned */
	size_t inline_clients;  /* INLINE_CLIENTS, or fewer below the explicit threshold */
	pthread_mutex_t lock;   /* current, open[], n_open, list refs */
	struct list_ref *current;
	struct open_minute open[MAX_OPEN];
	size_t n_open;          /* sorted by minute, oldest first */
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
	/* Inline hashes stand for an EXPLICIT sketch: never more of them than
	 * the sketch would hold before promoting. */
	h->inline_clients = cfg->explicit_threshold < INLINE_CLIENTS ? cfg->explicit_threshold
								    : INLINE_CLIENTS;
	h->current = ref_new(list);
	if (h->current == NULL) {
		tp_wkd_free(list);
		free(h);
		return -ENOMEM;
	}
	rc = pthread_mutex_init(&h->lock, NULL);
	if (rc != 0) {
		ref_put(h->current);
		free(h);
		return -rc;
	}
	*out = h;
	return 0;
}

int tp_hist_shard_new(struct tp_hist *h, struct tp_hist_shard **out)
{
	struct tp_hist_shard *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	int rc = pthread_mutex_init(&s->lock, NULL);
	if (rc != 0) {
		free(s);
		return -rc;
	}
	s->h = h;
	s->watermark = INT64_MIN;
	s->next = h->shards;
	h->shards = s;
	*out = s;
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
	pthread_mutex_lock(&h->lock);
	ref_put(h->current);
	h->current = r;
	pthread_mutex_unlock(&h->lock);
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

/* The row of entry id, created (zeroed but for id) if new; *created says
 * which. Returns NULL on OOM. */
static struct row *row_for(struct interval *iv, uint32_t id, bool *created)
{
	if ((iv->n_rows + 1) * 2 > iv->n_slots && grow_slots(iv) < 0)
		return NULL;
	size_t i = mix32(id) & (iv->n_slots - 1);
	while (iv->slots[i] != 0) {
		struct row *r = &iv->rows[iv->slots[i] - 1];
		if (r->id == id) {
			*created = false;
			return r;
		}
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
	iv->slots[i] = (uint32_t)++iv->n_rows;
	*created = true;
	return r;
}

static void interval_release(struct interval *iv)
{
	for (size_t r = 0; r < iv->n_rows; r++) {
		tp_hll_free(iv->rows[r].v4.sketch);
		tp_hll_free(iv->rows[r].v6.sketch);
	}
	free(iv->rows);
	free(iv->slots);
	memset(iv, 0, sizeof(*iv));
}

/* ---- distinct clients ---- */

/* Add a hash (0: none, as tp_hll_add). Returns 0 or -ENOMEM (the client
 * is then not counted). */
static int clients_add(const struct tp_hist *h, struct clients *c, uint64_t hash)
{
	if (c->sketch != NULL) {
		tp_hll_add(c->sketch, hash);
		return 0;
	}
	if (hash == 0)
		return 0;
	for (size_t i = 0; i < c->n_small; i++)
		if (c->small[i] == hash)
			return 0;
	if (c->n_small < h->inline_clients) {
		c->small[c->n_small++] = hash;
		return 0;
	}
	int rc = tp_hll_new(&h->hll, &c->sketch);
	if (rc < 0) {
		c->sketch = NULL;
		return rc;
	}
	for (size_t i = 0; i < c->n_small; i++)
		tp_hll_add(c->sketch, c->small[i]);
	c->n_small = 0;
	tp_hll_add(c->sketch, hash);
	return 0;
}

/* dst := dst ∪ src; src is emptied (its sketch moved or freed). */
static int clients_merge(const struct tp_hist *h, struct clients *dst, struct clients *src)
{
	int rc = 0;
	if (src->sketch != NULL && dst->sketch == NULL) {
		/* Take src's sketch and add dst's few hashes to it: the same set. */
		struct clients small = *dst;
		dst->sketch = src->sketch;
		dst->n_small = 0;
		src->sketch = NULL;
		for (size_t i = 0; i < small.n_small; i++)
			tp_hll_add(dst->sketch, small.small[i]);
		return 0;
	}
	if (src->sketch != NULL) {
		rc = tp_hll_union(dst->sketch, src->sketch);
		tp_hll_free(src->sketch);
		src->sketch = NULL;
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < src->n_small; i++)
		rc = clients_add(h, dst, src->small[i]);
	src->n_small = 0;
	return rc;
}

static uint64_t clients_count(const struct clients *c)
{
	return c->sketch != NULL ? tp_hll_cardinality(c->sketch) : c->n_small;
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
		       const struct clients *c)
{
	/* log2m 10, regwidth 4: a dense sketch is 3 + 512 octets. */
	uint8_t buf[1024];
	int rc = tp_pq_set_u64(w, count_col, clients_count(c));
	if (rc < 0)
		return rc;
	enum tp_hll_type t = c->sketch ? tp_hll_type(c->sketch) : TP_HLL_EMPTY;
	if (t != TP_HLL_SPARSE && t != TP_HLL_FULL)
		return tp_pq_set_null(w, hll_col);
	rc = tp_hll_serialize(c->sketch, buf, sizeof(buf));
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
		rc = tp_pq_set_u64(w, COL_STATUS, r->wildcard ? STATUS_WILDCARD : STATUS_EXACT);
	if (rc == 0)
		rc = put_clients(w, COL_V4, COL_V4_HLL, &r->v4);
	if (rc == 0)
		rc = put_clients(w, COL_V6, COL_V6_HLL, &r->v6);
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
		rc = put_row(w, iv->list, start_us, &iv->rows[r]);
	if (rc < 0) {
		tp_pq_writer_free(w);
		return rc;
	}
	rc = tp_pq_writer_close(w);
	if (rc == 0)
		tp_log_info(histogram, "wrote %s (%zu rows)", name, iv->n_rows);
	return rc;
}

/* ---- closing a minute: the shards' rows merged ---- */

/* dst := dst ∪ src for one minute; src is left empty. The first sighting
 * (smallest seq) decides a row's status. Returns 0 or -ENOMEM. */
static int interval_merge(const struct tp_hist *h, struct interval *dst, struct interval *src)
{
	int rc = 0;
	if (src->min_ts < dst->min_ts)
		dst->min_ts = src->min_ts;
	if (src->max_ts > dst->max_ts)
		dst->max_ts = src->max_ts;
	for (size_t i = 0; rc == 0 && i < src->n_rows; i++) {
		struct row *s = &src->rows[i];
		bool created;
		struct row *d = row_for(dst, s->id, &created);
		if (d == NULL) {
			rc = -ENOMEM;
			break;
		}
		if (created) {
			*d = *s;
			s->v4.sketch = NULL;
			s->v6.sketch = NULL;
			continue;
		}
		if (s->first_seq < d->first_seq) {
			d->first_seq = s->first_seq;
			d->wildcard = s->wildcard;
		}
		for (size_t c = 0; c < N_COUNTS; c++)
			d->count[c] += s->count[c];
		rc = clients_merge(h, &d->v4, &s->v4);
		if (rc == 0)
			rc = clients_merge(h, &d->v6, &s->v6);
	}
	return rc;
}

static int by_first_seq(const void *a, const void *b)
{
	uint64_t x = ((const struct row *)a)->first_seq, y = ((const struct row *)b)->first_seq;
	return x < y ? -1 : x > y;
}

/* Take a shard's rows of minute m (an empty interval if it has none). */
static void shard_take(struct tp_hist_shard *s, int64_t m, struct interval *out)
{
	memset(out, 0, sizeof(*out));
	out->min_ts = INT64_MAX;
	out->max_ts = INT64_MIN;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_open; i++) {
		if (s->open[i].minute_us != m)
			continue;
		*out = s->open[i];
		memmove(&s->open[i], &s->open[i + 1], (s->n_open - i - 1) * sizeof(s->open[0]));
		s->n_open--;
		break;
	}
	pthread_mutex_unlock(&s->lock);
}

/* Write (if it has rows) minute om, which is no longer open: no worker
 * adds to it any more. */
static void close_minute(struct tp_hist *h, struct open_minute om, bool final, int64_t end_us)
{
	struct interval iv, part;
	int rc = 0;
	memset(&iv, 0, sizeof(iv));
	iv.min_ts = INT64_MAX;
	iv.max_ts = INT64_MIN;
	for (struct tp_hist_shard *s = h->shards; s != NULL; s = s->next) {
		shard_take(s, om.minute_us, &part);
		if (iv.n_rows == 0) {
			int64_t lo = iv.min_ts < part.min_ts ? iv.min_ts : part.min_ts;
			int64_t hi = iv.max_ts > part.max_ts ? iv.max_ts : part.max_ts;
			interval_release(&iv);
			iv = part;
			iv.min_ts = lo;
			iv.max_ts = hi;
		} else {
			if (rc == 0)
				rc = interval_merge(h, &iv, &part);
			interval_release(&part);
		}
	}
	iv.list = om.ref->list;
	qsort(iv.rows, iv.n_rows, sizeof(iv.rows[0]), by_first_seq);

	int64_t start = om.minute_us, stop = om.minute_us + MINUTE_US;
	/* Partial first interval: observation began inside the minute. */
	int64_t obs_start = h->cfg.live ? h->cfg.start_us : h->first_ts;
	if (obs_start > start)
		start = obs_start < iv.min_ts ? obs_start : iv.min_ts;
	/* Partial last interval: observation ended inside the minute. */
	if (final) {
		int64_t end = h->cfg.live && end_us > iv.max_ts ? end_us : iv.max_ts + 1;
		if (end < stop)
			stop = end;
	}
	if (rc < 0) {
		h->stats.write_errors++;
		h->stats.rows_dropped += iv.n_rows;
		tp_log_err(histogram, "out of memory merging the histogram of %" PRId64,
			   start / 1000000);
	} else if (iv.n_rows > 0) {
		rc = write_interval(h, &iv, start, stop);
		if (rc < 0) {
			h->stats.write_errors++;
			h->stats.rows_dropped += iv.n_rows;
			tp_log_err(histogram, "cannot write the histogram of %" PRId64 ": %s",
				   start / 1000000, tp_strerror(rc));
		} else {
			h->stats.intervals_written++;
			h->stats.rows_written += iv.n_rows;
		}
	}
	interval_release(&iv);
	pthread_mutex_lock(&h->lock);
	ref_put(om.ref);
	pthread_mutex_unlock(&h->lock);
}

/* Close the oldest open minute if all must go or its end plus the lateness
 * is at or before w. Returns whether one was closed. */
static bool close_oldest(struct tp_hist *h, bool all, int64_t w, int64_t end_us)
{
	pthread_mutex_lock(&h->lock);
	bool go = h->n_open > 0 &&
		  (all || h->open[0].minute_us + MINUTE_US + h->cfg.lateness_us <= w);
	struct open_minute om = { 0, NULL };
	if (go) {
		om = h->open[0];
		memmove(&h->open[0], &h->open[1], (h->n_open - 1) * sizeof(h->open[0]));
		h->n_open--;
	}
	pthread_mutex_unlock(&h->lock);
	if (go)
		close_minute(h, om, all, end_us);
	return go;
}

void tp_hist_tick(struct tp_hist *h, int64_t now_us)
{
	if (!h->cfg.live)
		return; /* file input: tp_hist_settle */
	while (close_oldest(h, false, now_us, 0))
		;
}

void tp_hist_settle(struct tp_hist *h, const struct tp_hist_batch *b, int64_t settled_us)
{
	if (b->any && !h->any) {
		h->first_ts = b->first_ts;
		h->any = true;
	}
	while (close_oldest(h, false, settled_us, 0))
		;
}

void tp_hist_flush(struct tp_hist *h, int64_t end_us)
{
	while (close_oldest(h, true, 0, end_us))
		;
}

void tp_hist_free(struct tp_hist *h)
{
	if (h == NULL)
		return;
	while (h->shards != NULL) {
		struct tp_hist_shard *s = h->shards;
		h->shards = s->next;
		for (size_t i = 0; i < s->n_open; i++)
			interval_release(&s->open[i]);
		pthread_mutex_destroy(&s->lock);
		free(s);
	}
	for (size_t i = 0; i < h->n_open; i++)
		ref_put(h->open[i].ref);
	ref_put(h->current);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* ---- counting (a shard's worker) ---- */

/* The list of minute m, the minute opened if new. NULL when MAX_OPEN
 * minutes are open already. */
static const struct tp_wkd *minute_list(struct tp_hist *h, int64_t m)
{
	const struct tp_wkd *list = NULL;
	pthread_mutex_lock(&h->lock);
	size_t i = 0;
	while (i < h->n_open && h->open[i].minute_us < m)
		i++;
	if (i < h->n_open && h->open[i].minute_us == m) {
		list = h->open[i].ref->list;
	} else if (h->n_open < MAX_OPEN) {
		memmove(&h->open[i + 1], &h->open[i], (h->n_open - i) * sizeof(h->open[0]));
		h->n_open++;
		h->open[i].minute_us = m;
		h->open[i].ref = h->current;
		h->current->refs++;
		list = h->current->list;
	}
	pthread_mutex_unlock(&h->lock);
	return list;
}

/* The shard's interval of minute m, opened if needed; NULL if it cannot be. */
static struct interval *interval_for(struct tp_hist_shard *s, int64_t m)
{
	size_t i = s->n_open;
	/* Nearly every frame is for the newest minute. */
	if (i > 0 && s->open[i - 1].minute_us == m)
		return &s->open[i - 1];
	i = 0;
	while (i < s->n_open && s->open[i].minute_us < m)
		i++;
	if (i < s->n_open && s->open[i].minute_us == m)
		return &s->open[i];
	if (s->n_open == MAX_OPEN)
		return NULL;
	const struct tp_wkd *list = minute_list(s->h, m);
	if (list == NULL)
		return NULL;
	memmove(&s->open[i + 1], &s->open[i], (s->n_open - i) * sizeof(s->open[0]));
	s->n_open++;
	struct interval *iv = &s->open[i];
	memset(iv, 0, sizeof(*iv));
	iv->minute_us = m;
	iv->min_ts = INT64_MAX;
	iv->max_ts = INT64_MIN;
	iv->list = list;
	return iv;
}

void tp_hist_shard_begin(struct tp_hist_shard *s, int64_t base_us)
{
	pthread_mutex_lock(&s->lock);
	s->watermark = base_us;
	s->batch = (struct tp_hist_batch){ false, 0, INT64_MIN };
}

void tp_hist_shard_end(struct tp_hist_shard *s, struct tp_hist_batch *out)
{
	*out = s->batch;
	pthread_mutex_unlock(&s->lock);
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

static void add_client(const struct tp_hist *h, struct row *r, const uint8_t *addr, size_t len)
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
	if (clients_add(h, v4 ? &r->v4 : &r->v6, hash) < 0)
		tp_log_limited(TP_LOG_ERR, histogram, "out of memory: a client is not counted");
}

enum tp_hist_result tp_hist_shard_add(struct tp_hist_shard *s, uint64_t seq, int64_t ts_us,
				      const struct tp_dns_name *qname, uint16_t qtype,
				      uint16_t qclass, uint16_t rcode, const uint8_t *addr,
				      size_t addr_len, int64_t now_us)
{
	const struct tp_hist *h = s->h;
	if (ts_us > now_us + h->cfg.future_skew_us)
		return TP_HIST_FUTURE;
	int64_t watermark = now_us;
	if (!h->cfg.live) {
		if (!s->batch.any) {
			s->batch.first_ts = ts_us;
			s->batch.any = true;
		}
		if (ts_us > s->batch.max_ts)
			s->batch.max_ts = ts_us;
		if (ts_us > s->watermark)
			s->watermark = ts_us;
		watermark = s->watermark;
	}
	int64_t m = floor_minute(ts_us);
	if (m + MINUTE_US + h->cfg.lateness_us <= watermark)
		return TP_HIST_LATE;

	struct interval *iv = interval_for(s, m);
	if (iv == NULL)
		return TP_HIST_LATE;
	/* The interval's observed span counts every message, listed or not. */
	if (ts_us < iv->min_ts)
		iv->min_ts = ts_us;
	if (ts_us > iv->max_ts)
		iv->max_ts = ts_us;
	struct tp_wkd_match match;
	if (!tp_wkd_lookup(iv->list, qname, &match))
		return TP_HIST_NOT_WELL_KNOWN;
	bool created;
	struct row *r = row_for(iv, match.id, &created);
	if (r == NULL) {
		tp_log_limited(TP_LOG_ERR, histogram, "out of memory: a response is not counted");
		return TP_HIST_WELL_KNOWN;
	}
	if (created) {
		/* edm-spec §3.2: fixed at row creation from the first match. */
		r->wildcard = match.wildcard;
		r->first_seq = seq;
	}
	count(r, qtype, qclass, rcode);
	add_client(h, r, addr, addr_len);
	return TP_HIST_WELL_KNOWN;
}
