/* SPDX-License-Identifier: BSD-2-Clause
 *
 * sink.h - what the event sinks (edge/mqtt.c, edge/nats.c) share: the stop
 * request with its drain deadline, sleeps that a stop cuts short, and the
 * capped exponential backoff between connection attempts.
 *
 * Internal to the edge; one tp_sink_ctl belongs to one sink and is shared
 * only between that sink's thread and the thread that stops it.
 */
#ifndef TP_EDGE_SINK_H
#define TP_EDGE_SINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* First delay after a failure; it doubles up to the configured maximum. */
#define TP_SINK_BACKOFF_FIRST_MS 1000u

struct tp_sink_ctl {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	bool stop;
	int64_t drain_until_ms; /* tp_sink_now_ms() deadline once stop is set */
};

/* Returns 0, or -errno from pthread. */
int tp_sink_ctl_init(struct tp_sink_ctl *c) TP_WUR;
void tp_sink_ctl_destroy(struct tp_sink_ctl *c);

/* Ask the sink to stop, delivering for up to drain_ms more. */
void tp_sink_ctl_request_stop(struct tp_sink_ctl *c, unsigned drain_ms);

/* Whether a stop was requested; *drain_until_ms (when not NULL) gets the
 * deadline. */
bool tp_sink_ctl_stopping(struct tp_sink_ctl *c, int64_t *drain_until_ms);

/* Sleep ms, or less if a stop is requested. Returns true when stopping. */
bool tp_sink_ctl_sleep(struct tp_sink_ctl *c, unsigned ms);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t tp_sink_now_ms(void);

/* Delay before connection attempt number failures+1 after `failures`
 * consecutive failures (>= 1): TP_SINK_BACKOFF_FIRST_MS doubled
 * (failures - 1) times, at most max_s seconds (and never below 1 s). */
unsigned tp_sink_backoff_ms(unsigned failures, unsigned max_s);

#endif
