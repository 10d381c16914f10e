/* SPDX-License-Identifier: BSD-2-Clause
 *
 * stopper.h - what every thread that holds a broker connection (the edge's
 * event sinks, the core's bridge and notifier) needs in order to stop
 * cleanly and to retry politely: a stop request with a drain deadline,
 * sleeps that the request cuts short, and the capped exponential backoff
 * between connection attempts.
 *
 * One tp_stopper belongs to one such thread and to the owner that stops it.
 * Its mutex and condition variable may also guard and signal the owner's own
 * state (core/notify.c keeps its queue under them), so a waiter re-checks
 * both the stop flag and its own condition when woken.
 */
#ifndef TP_NET_STOPPER_H
#define TP_NET_STOPPER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* First delay after a failure; it doubles up to the configured maximum. */
#define TP_BACKOFF_FIRST_MS 1000u

struct tp_stopper {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	bool stop;
	int64_t drain_until_ms; /* tp_stopper_now_ms() deadline once stop is set */
};

/* Returns 0, or -errno from pthread. */
int tp_stopper_init(struct tp_stopper *c) TP_WUR;
void tp_stopper_destroy(struct tp_stopper *c);

/* Ask the thread to stop, delivering for up to drain_ms more. A second
 * request keeps the first deadline. */
void tp_stopper_request(struct tp_stopper *c, unsigned drain_ms);

/* Whether a stop was requested; *drain_until_ms (when not NULL) gets the
 * deadline. */
bool tp_stopper_stopping(struct tp_stopper *c, int64_t *drain_until_ms);

/* Sleep ms, or less if a stop is requested. Returns true when stopping. */
bool tp_stopper_sleep(struct tp_stopper *c, unsigned ms);

/* CLOCK_MONOTONIC in milliseconds: the clock of the deadlines above. */
int64_t tp_stopper_now_ms(void);

/* Delay before connection attempt number failures+1 after `failures`
 * consecutive failures (>= 1): TP_BACKOFF_FIRST_MS doubled (failures - 1)
 * times, at most max_s seconds (and never below 1 s). */
unsigned tp_backoff_ms(unsigned failures, unsigned max_s);

/* One try of a connection, run on the thread that owns it: returns 0 when
 * the thread is done for good (a stop ended the connection), else the
 * failure; sets *reached when the connection came up before it failed,
 * which restarts the backoff. */
typedef int (*tp_stopper_attempt_fn)(void *ctx, bool *reached);

/* Call attempt(ctx, ...) until it returns 0 or a stop is requested,
 * sleeping tp_backoff_ms(failures, backoff_max_s) after each failure. Each
 * failure is logged, rate-limited, under module (a log tag such as "MQTT")
 * as "<what> failed or lost (<error>); retrying in <n> ms". Returns true
 * when attempt returned 0, false when a stop cut the retries short. */
bool tp_stopper_retry(struct tp_stopper *c, unsigned backoff_max_s, const char *module,
		      const char *what, tp_stopper_attempt_fn attempt, void *ctx);

#endif
