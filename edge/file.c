/* SPDX-License-Identifier: BSD-2-Clause
 *
 * file.c - batch input: a dnstap file or stdin, read to the end, its frames
 * spread over worker threads.
 *
 * File input blocks and never drops (SPEC §3). Bad frames are counted and
 * skipped; only a stream that is not dnstap at all, or cannot be read, stops
 * the run, with one line naming the file and the offset.
 *
 * The input thread reads frames into batches, numbered in input order, and
 * hands them to the workers. Workers decode, classify and count into their
 * own counters and histogram shards. The input thread then retires the batches strictly in order:
 * what must follow input order (session rows, first sightings) is done
 * there, and the histogram minutes that no later frame can reach are
 * written. The output is the same for any number of workers because the
 * one order-dependent input, the watermark that makes a frame late, is
 * fixed per batch: batch k starts from the newest message time of batches
 * 0..k-RING (known before k is handed out, whatever the thread count) and
 * follows its own frames from there. At most RING batches are in flight.
 *
 * With one worker there is nobody to hand a batch to: the input thread runs
 * each frame as it is read, straight from the reader's buffer (no copy),
 * and finishes what workers would defer at once, which is input order
 * too. The batches remain as bookkeeping, cut by the same rule, so the
 * watermark and thus the output are the same as with workers.
 */
#include "edge/edge.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dnstap/fstrm.h"
#include "dnstap/reader.h"
#include "util/log.h"

/* Frames per batch: enough that handing a batch over costs nothing per
 * frame, few enough that the copies stay in the cache. */
#define BATCH_FRAMES 1024u
#define BATCH_BYTES (256u * 1024u)
/* Batches in flight; also the watermark's lag, in batches (see above).
 * Part of the output's definition: changing it may change which frames of
 * a file with out-of-order times are late. */
#define RING 8u

struct deferred {
	uint32_t frame;
	int64_t ts_us;
};

struct batch {
	uint64_t index;       /* position in the input, in batches */
	uint32_t n;           /* frames */
	uint32_t off[BATCH_FRAMES], len[BATCH_FRAMES];
	uint8_t *buf;         /* owned; the frames' bytes */
	size_t used, cap;
	int64_t base;         /* the watermark the batch starts from */
	int64_t newest;       /* newest message time of batches 0..index */
	struct tp_hist_batch hist;
	uint32_t n_deferred;
	struct deferred deferred[BATCH_FRAMES];
	uint32_t current;     /* the frame being processed (its worker) */
	bool done;            /* under pool.lock */
};

struct worker {
	struct tp_edge_worker w;
	struct pool *pool;
	pthread_t thread;
	bool started;
};

struct pool {
	struct tp_edge *e;
	bool inline_run;        /* one worker: frames run as they are read */
	struct batch ring[RING];
	struct worker *workers; /* owned, n_workers */
	unsigned n_workers;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	uint64_t queue[RING];   /* batch indexes waiting for a worker */
	unsigned q_head, q_len;
	bool stopping;
	uint64_t next;          /* the next batch to fill */
	uint64_t retired;       /* batches retired (all before it) */
};

static void defer_frame(void *arg, int64_t ts_us)
{
	struct batch *b = arg;
	b->deferred[b->n_deferred++] = (struct deferred){ b->current, ts_us };
}

/* Worker w starts running batch b (its shard takes b's watermark) ... */
static void run_begin(struct tp_edge_worker *w, struct batch *b)
{
	b->n_deferred = 0;
	if (w->shard != NULL)
		tp_hist_shard_begin(w->shard, b->base);
}

/* ... runs frame i of it (the bytes may be elsewhere than b->buf) ... */
static void run_frame(struct tp_edge_worker *w, struct batch *b, uint32_t i,
		      const uint8_t *frame, size_t len)
{
	b->current = i;
	w->seq = b->index * BATCH_FRAMES + i;
	tp_edge_process(w, frame, len);
}

/* ... and ends it: what its shard saw goes to b->hist. */
static void run_end(struct tp_edge_worker *w, struct batch *b)
{
	if (w->shard != NULL)
		tp_hist_shard_end(w->shard, &b->hist);
	else
		b->hist = (struct tp_hist_batch){ false, 0, INT64_MIN };
}

static void run_batch(struct tp_edge_worker *w, struct batch *b)
{
	w->defer = defer_frame;
	w->defer_arg = b;
	run_begin(w, b);
	for (uint32_t i = 0; i < b->n; i++)
		run_frame(w, b, i, b->buf + b->off[i], b->len[i]);
	run_end(w, b);
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct pool *p = wk->pool;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->q_len == 0 && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->q_len == 0)
			break;
		uint64_t index = p->queue[p->q_head];
		p->q_head = (p->q_head + 1) % RING;
		p->q_len--;
		pthread_mutex_unlock(&p->lock);
		struct batch *b = &p->ring[index % RING];
		run_batch(&wk->w, b);
		pthread_mutex_lock(&p->lock);
		b->done = true;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* In order: deferred work, then the minutes no later batch can reach. */
static void retire_next(struct pool *p)
{
	struct tp_edge *e = p->e;
	struct batch *b = &p->ring[p->retired % RING];
	if (!p->inline_run) {
		pthread_mutex_lock(&p->lock);
		while (!b->done)
			pthread_cond_wait(&p->done, &p->lock);
		pthread_mutex_unlock(&p->lock);
	}
	for (uint32_t i = 0; i < b->n_deferred; i++) {
		const struct deferred *d = &b->deferred[i];
		tp_edge_finish_frame(e, b->buf + b->off[d->frame], b->len[d->frame], d->ts_us);
	}
	int64_t before = b->index == 0 ? INT64_MIN : p->ring[(b->index - 1) % RING].newest;
	b->newest = b->hist.max_ts > before ? b->hist.max_ts : before;
	p->retired++;
	if (e->hist != NULL) {
		/* The base of the next batch, the oldest any later one gets. */
		int64_t settled = p->retired >= RING ? p->ring[p->retired % RING].newest : INT64_MIN;
		tp_hist_settle(e->hist, &b->hist, settled);
	}
}

/* The slot still holds batch index-RING, retired: its running newest time
 * is this batch's base. */
static int64_t base_of(const struct batch *b)
{
	return b->index >= RING ? b->newest : INT64_MIN;
}

/* Hand batch b out to the workers. */
static void dispatch(struct pool *p, struct batch *b)
{
	b->base = base_of(b);
	b->done = false;
	pthread_mutex_lock(&p->lock);
	p->queue[(p->q_head + p->q_len) % RING] = b->index;
	p->q_len++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

/* Retire every batch handed out. */
static void drain(struct pool *p)
{
	while (p->retired < p->next)
		retire_next(p);
}

/* The workers' counters into the edge's; no worker may be running (all
 * batches retired, or frames run inline). */
static void collect_stats(struct pool *p)
{
	struct tp_edge_stats *to = &p->e->stats;
	for (unsigned i = 0; i < p->n_workers; i++) {
		struct tp_edge_stats *from = p->workers[i].w.stats;
		to->frames += from->frames;
		to->processed += from->processed;
		to->well_known += from->well_known;
		to->not_well_known += from->not_well_known;
		to->not_selected += from->not_selected;
#define ADD_ARRAY(field)                                                    \
		for (size_t k = 0; k < sizeof(to->field) / sizeof(to->field[0]); k++) \
			to->field[k] += from->field[k];
		ADD_ARRAY(dropped)
		ADD_ARRAY(anomalies)
		ADD_ARRAY(by_message_type)
		ADD_ARRAY(by_rcode)
		ADD_ARRAY(by_qtype)
		ADD_ARRAY(by_qclass)
		ADD_ARRAY(by_family)
		ADD_ARRAY(by_protocol)
#undef ADD_ARRAY
		memset(from, 0, sizeof(*from));
	}
}

static void pool_stop(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_workers; i++)
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
	for (unsigned i = 0; i < p->n_workers; i++)
		free(p->workers[i].w.stats);
	free(p->workers);
	for (unsigned i = 0; i < RING; i++)
		free(p->ring[i].buf);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
}

static int pool_start(struct pool *p, struct tp_edge *e)
{
	memset(p, 0, sizeof(*p));
	p->e = e;
	p->n_workers = e->cfg.threads ? e->cfg.threads : 1;
	if (pthread_mutex_init(&p->lock, NULL) != 0 || pthread_cond_init(&p->work, NULL) != 0 ||
	    pthread_cond_init(&p->done, NULL) != 0)
		return -ENOMEM;
	p->workers = calloc(p->n_workers, sizeof(*p->workers));
	if (p->workers == NULL) {
		p->n_workers = 0;
		return -ENOMEM;
	}
	p->inline_run = p->n_workers == 1;
	for (unsigned i = 0; i < RING && !p->inline_run; i++) {
		p->ring[i].buf = malloc(BATCH_BYTES);
		if (p->ring[i].buf == NULL)
			return -ENOMEM;
		p->ring[i].cap = BATCH_BYTES;
	}
	for (unsigned i = 0; i < p->n_workers; i++) {
		struct worker *wk = &p->workers[i];
		wk->pool = p;
		wk->w.e = e;
		wk->w.stats = calloc(1, sizeof(*wk->w.stats));
		if (wk->w.stats == NULL)
			return -ENOMEM;
		if (e->hist != NULL) {
			int rc = tp_hist_shard_new(e->hist, &wk->w.shard);
			if (rc < 0)
				return rc;
		}
	}
	if (p->inline_run)
		return 0;
	/* Workers must not take the signals meant for the input loop. */
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	int rc = 0;
	for (unsigned i = 0; rc == 0 && i < p->n_workers; i++) {
		rc = -pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
		p->workers[i].started = rc == 0;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return rc;
}

/* Where batches end: after BATCH_FRAMES frames, or before a frame that
 * would take the batch past BATCH_BYTES (a larger frame is a batch alone).
 * Part of the output's definition, like RING: it depends on the input
 * only. */
static bool batch_fits(const struct batch *b, size_t len)
{
	return b->n < BATCH_FRAMES && (b->n == 0 || b->used + len <= BATCH_BYTES);
}

/* Put a frame into batch b (batch_fits said yes): run it at once with one
 * worker, else copy it, growing the buffer for a frame larger than an
 * empty batch's. Returns false only when out of memory. */
static bool batch_put(struct pool *p, struct batch *b, const uint8_t *frame, size_t len)
{
	if (p->inline_run) {
		struct tp_edge_worker *w = &p->workers[0].w;
		if (b->n == 0) {
			b->base = base_of(b);
			b->done = false;
			run_begin(w, b);
		}
		run_frame(w, b, b->n, frame, len);
	} else {
		if (b->cap < len) {
			uint8_t *buf = realloc(b->buf, len);
			if (buf == NULL)
				return false;
			b->buf = buf;
			b->cap = len;
		}
		memcpy(b->buf + b->used, frame, len);
		b->off[b->n] = (uint32_t)b->used;
		b->len[b->n] = (uint32_t)len;
	}
	b->used += len;
	b->n++;
	return true;
}

/* Batch b has all its frames (at least one). */
static void batch_close(struct pool *p, struct batch *b)
{
	if (!p->inline_run) {
		dispatch(p, b);
	} else {
		run_end(&p->workers[0].w, b);
		b->done = true;
	}
	p->next++;
}

static void show_progress(uint64_t frames, const struct tp_dt_reader *r, struct timespec *last)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == last->tv_sec)
		return;
	*last = now;
	fprintf(stderr, "\r%" PRIu64 " frames, %" PRIu64 " MiB read", frames,
		tp_dt_reader_offset(r) >> 20);
}

/* Set by signal handlers, read by the loop (async-signal-safe). */
static volatile sig_atomic_t stop_signal, report_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_report(int sig)
{
	(void)sig;
	report_signal = 1;
}

/* SIGTERM/SIGINT end a batch run early but cleanly: what was read is
 * counted, written and summarised. SIGUSR1 prints the counters so far.
 * No SA_RESTART, so a read blocked on a pipe returns at once. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_report;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
}

/* The next batch slot to fill, its predecessor in the slot retired. */
static struct batch *next_slot(struct pool *p)
{
	while (p->next - p->retired >= RING)
		retire_next(p);
	struct batch *b = &p->ring[p->next % RING];
	b->index = p->next;
	b->n = 0;
	b->used = 0;
	return b;
}

/* Read frames until the stream ends, fails or a signal stops it. */
static int read_frames(struct pool *p, struct tp_dt_reader *r, const char *path)
{
	struct tp_edge *e = p->e;
	bool progress = isatty(STDERR_FILENO);
	struct timespec last = { 0, 0 };
	/* The session log's blocks follow the wall clock, also in a long
	 * batch run (a pipe on stdin): tick about once a second. */
	struct timespec last_poll;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &last_poll);
	struct batch *b = next_slot(p);
	uint64_t frames = 0;
	int rc;

	for (;;) {
		const uint8_t *frame;
		size_t len;
		if (stop_signal) {
			rc = TP_EINTR;
			break;
		}
		if (report_signal) {
			report_signal = 0;
			/* Run inline, every frame read is counted already, and
			 * the open batch must stay open (it fixes the output). */
			if (!p->inline_run)
				drain(p);
			collect_stats(p);
			tp_edge_report(e);
		}
		rc = tp_dt_reader_next(r, &frame, &len);
		if (rc == -EINTR)
			continue; /* the flags above decide */
		if (rc == 1) {
			frames++;
			if (!batch_fits(b, len)) {
				batch_close(p, b);
				if (progress)
					show_progress(frames, r, &last);
				struct timespec now;
				clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
				if (now.tv_sec != last_poll.tv_sec) {
					last_poll = now;
					tp_edge_poll(e, false);
				}
				b = next_slot(p);
			}
			if (!batch_put(p, b, frame, len)) {
				tp_log_err(edge, "out of memory for a frame of %zu octets", len);
				rc = -ENOMEM;
				break;
			}
			continue;
		}
		if (rc == 0)
			break;
		if (rc == TP_ETOOBIG) {
			e->stats.dropped[TP_DROP_frame_too_large]++;
			continue;
		}
		if (rc == TP_EPROTO) {
			e->stats.dropped[TP_DROP_bad_frame]++;
			continue;
		}
		if (rc == TP_ETRUNC) {
			e->stats.dropped[TP_DROP_truncated_frame]++;
			tp_log_warning(edge, "%s: stream ends inside a frame at offset %" PRIu64,
				       path, tp_dt_reader_offset(r));
			rc = 0;
			break;
		}
		const char *why = rc == TP_ECONTENT ? "not a dnstap Frame Streams file "
						      "(expected a START control frame with content "
						      "type " TP_FSTRM_CONTENT_TYPE ")"
				  : tp_strerror(rc);
		tp_log_err(edge, "%s: offset %" PRIu64 ": %s", path, tp_dt_reader_offset(r), why);
		break;
	}
	/* What was read is counted, whatever ended the loop. */
	if (b->n > 0)
		batch_close(p, b);
	if (progress && last.tv_sec != 0)
		fputc('\n', stderr);
	return rc;
}

int tp_edge_run_file(struct tp_edge *e)
{
	const char *path = e->cfg.input_file;
	int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		tp_log_err(edge, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	/* Tell the kernel we read front to back (best effort). */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

	struct tp_dt_reader *r;
	int rc = tp_dt_reader_new(fd, e->cfg.max_frame_size, &r);
	if (rc < 0) {
		tp_log_err(edge, "%s: %s", path, tp_strerror(rc));
		return rc;
	}
	struct pool pool;
	rc = pool_start(&pool, e);
	if (rc < 0) {
		tp_log_err(edge, "cannot start %u worker threads: %s", e->cfg.threads,
			   tp_strerror(rc));
	} else {
		catch_signals();
		rc = read_frames(&pool, r, path);
	}
	drain(&pool);
	if (e->hist != NULL && pool.next > 0) {
		/* No frame follows: the minutes the newest time has passed
		 * are complete, not cut short (tp_hist_flush does the rest). */
		const struct tp_hist_batch none = { false, 0, INT64_MIN };
		tp_hist_settle(e->hist, &none, pool.ring[(pool.next - 1) % RING].newest);
	}
	collect_stats(&pool);
	pool_stop(&pool);
	if (rc == 0 && tp_dt_reader_missing_stop(r))
		tp_log_warning(edge, "%s: no STOP control frame at the end (file cut short?)", path);
	tp_dt_reader_free(r);
	return rc;
}
