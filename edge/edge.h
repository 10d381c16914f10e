/* SPDX-License-Identifier: BSD-2-Clause
 *
 * edge.h - the `tapir edge` program: configuration, the per-frame pipeline
 * and the inputs that feed it.
 *
 * Data flows one way: input (file.c, listen.c) -> process.c (decode,
 * classify, count) -> summary.c. The edge context is owned by the thread
 * that runs the input loop. File input can spread the per-frame work over
 * worker threads (file.c); each worker has its own counters and histogram
 * shard and only reads the edge context, which does not change while they
 * run (list reloads are for live input).
 */
#ifndef TP_EDGE_EDGE_H
#define TP_EDGE_EDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "edge/events.h"
#include "edge/histogram.h"
#include "edge/mqtt.h"
#include "edge/nats.h"
#include "edge/sender.h"
#include "edge/session.h"
#include "edge/stats.h"
#include "wkd/cidr.h"
#include "wkd/wkd.h"

/* A live edge that stops waits at most this long for the core to take the
 * outbox (http-upload-wait, if shorter); the rest goes at the next start. */
#define TP_EDGE_LIVE_UPLOAD_WAIT_MAX_S 5u

/* Worker threads for file input: more than the cores only costs. */
#define TP_EDGE_THREADS_MAX 64u

struct tp_edge_config {
	const char *input_file;  /* "-" = stdin */
	const char *input_unix;
	const char *input_tcp;   /* HOST:PORT */
	int input_unix_mode;     /* -1 = leave as umask made it */
	long input_unix_gid;     /* -1 = leave as created */
	unsigned silence_warn_s; /* 0 = no silent-producer alarm */
	size_t input_buffer_limit; /* all connections' buffers together */
	size_t max_frame_size;
	bool selected[TP_DT_TYPE_MAX + 1];
	const char *summary_json;
	const char *well_known_file; /* histograms on when set */
	const char *ignored_clients_file; /* ignored-client-ips-file */
	const char *ignored_qnames_file;  /* ignored-question-names-file */
	unsigned threads;        /* worker threads for file input, >= 1 */
	struct tp_hist_config hist;
};

/* A list reload runs in its own thread, so loading 10 million names never
 * stalls the input; the input thread picks the result up (tp_edge_poll). */
struct tp_edge_reload {
	pthread_t thread;
	bool running;               /* input thread only: a thread to join */
	atomic_bool done;           /* set by the reload thread when it ends */
	struct tp_wkd *result;      /* the loaded list or NULL; read after done */
	/* The ignore lists, reloaded in the same thread; read after done. */
	bool clients_ok, qnames_ok; /* loaded (a NULL result: list off) */
	struct tp_cidr_set *clients_result;
	struct tp_wkd *qnames_result;
};

struct tp_edge {
	struct tp_edge_config cfg;
	struct tp_edge_stats stats;
	struct tp_hist *hist;         /* NULL: histograms off */
	struct tp_cidr_set *ignored_clients; /* NULL: no list (or an empty one) */
	struct tp_wkd *ignored_qnames;       /* NULL: no list (or an empty one) */
	struct tp_session *session;   /* NULL: session log off */
	struct tp_events *events;     /* NULL: no seen-store (no data-dir) */
	struct tp_mqtt *mqtt;         /* NULL: no MQTT sink */
	struct tp_nats *nats;         /* NULL: no NATS sink */
	/* The sinks' counters as of the last tp_edge_sink_stats() (they
	 * outlive the sinks, for the summary at exit). */
	bool has_mqtt, has_nats;
	struct tp_mqtt_stats mqtt_stats;
	struct tp_nats_stats nats_stats;
	/* The histogram sender (NULL: off); its counters as of the last
	 * tp_edge_sink_stats(), and the histogram files written when it was
	 * last kicked (a new one is in the outbox). */
	struct tp_sender *sender;
	bool has_sender;
	struct tp_sender_stats sender_stats;
	uint64_t sender_kicked_at;
	struct tp_edge_reload reload;
};

/* What one thread needs to run frames through the pipeline. */
struct tp_edge_worker {
	struct tp_edge *e;            /* read only, but for finish (below) */
	struct tp_edge_stats *stats;  /* this worker's frame counters */
	struct tp_hist_shard *shard;  /* NULL: histograms off (owned by e->hist) */
	uint64_t seq;                 /* the frame's position in the input */
	/* NULL: a frame not well known goes to the session log and the
	 * events at once (live input, one thread). Else it is handed to
	 * defer with its message time, and the input thread later calls
	 * tp_edge_finish_frame in input order. */
	void (*defer)(void *arg, int64_t ts_us);
	void *defer_arg;
};

/* Wall clock in UTC microseconds. */
int64_t tp_edge_now_us(void);

/* Copy the running sinks' counters into e (for the summaries). */
void tp_edge_sink_stats(struct tp_edge *e);

/* SIGUSR1: the counters so far, on stderr and in --summary-json. */
void tp_edge_report(struct tp_edge *e);

/* SIGHUP: start reloading what can be reloaded (the well-known list). A
 * list that fails to load leaves the old one in place. */
void tp_edge_reload(struct tp_edge *e);

/* Called by the input loop about once a second: applies a finished reload
 * (the new list counts from the next interval) and writes finished minutes.
 * With wait, blocks until a running reload ends (shutdown). */
void tp_edge_poll(struct tp_edge *e, bool wait);

/* Run one data frame through the pipeline; counts the outcome. */
void tp_edge_process(struct tp_edge_worker *w, const uint8_t *frame, size_t len);

/* The input thread, in input order, for a frame a worker deferred: its row
 * in the session log and its name offered to the events thread. */
void tp_edge_finish_frame(struct tp_edge *e, const uint8_t *frame, size_t len, int64_t ts_us);

/* Input loops. Return 0 or a negative code (already logged). */
int tp_edge_run_file(struct tp_edge *e);
int tp_edge_run_listen(struct tp_edge *e);

/* Start-up checks, so a mistake is reported before a long run, not after:
 * the summary path must be writable ("-" = stdout) and not a special file;
 * HOST:PORT must have a port 1-65535. Print the problem; 0 or -1. */
int tp_edge_summary_check(const char *path);
int tp_edge_check_tcp(const char *spec);

/* Summaries: JSON for machines, a few lines for people. */
int tp_edge_summary_write_json(const struct tp_edge *e, const char *path);
void tp_edge_summary_print(const struct tp_edge *e, FILE *out);

int tp_edge_main(int argc, char **argv);

#endif
