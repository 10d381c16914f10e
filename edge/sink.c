/* SPDX-License-Identifier: BSD-2-Clause
 *
 * sink.c - stop requests, interruptible sleeps and backoff for the event
 * sinks (see sink.h).
 */
#include "edge/sink.h"

#include <errno.h>
#include <time.h>

int tp_sink_ctl_init(struct tp_sink_ctl *c)
{
	pthread_condattr_t attr;
	int rc = pthread_condattr_init(&attr);
	if (rc != 0)
		return -rc;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&c->cond, &attr);
	(void)pthread_condattr_destroy(&attr);
	if (rc != 0)
		return -rc;
	rc = pthread_mutex_init(&c->mu, NULL);
	if (rc != 0) {
		(void)pthread_cond_destroy(&c->cond);
		return -rc;
	}
	c->stop = false;
	c->drain_until_ms = 0;
	return 0;
}

void tp_sink_ctl_destroy(struct tp_sink_ctl *c)
{
	(void)pthread_cond_destroy(&c->cond);
	(void)pthread_mutex_destroy(&c->mu);
}

int64_t tp_sink_now_ms(void)
{
	struct timespec ts;
	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tp_sink_ctl_request_stop(struct tp_sink_ctl *c, unsigned drain_ms)
{
	(void)pthread_mutex_lock(&c->mu);
	if (!c->stop) {
		c->stop = true;
		c->drain_until_ms = tp_sink_now_ms() + (int64_t)drain_ms;
	}
	(void)pthread_cond_broadcast(&c->cond);
	(void)pthread_mutex_unlock(&c->mu);
}

bool tp_sink_ctl_stopping(struct tp_sink_ctl *c, int64_t *drain_until_ms)
{
	(void)pthread_mutex_lock(&c->mu);
	bool stop = c->stop;
	if (drain_until_ms != NULL)
		*drain_until_ms = c->drain_until_ms;
	(void)pthread_mutex_unlock(&c->mu);
	return stop;
}

bool tp_sink_ctl_sleep(struct tp_sink_ctl *c, unsigned ms)
{
	struct timespec until;
	(void)clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000u);
	until.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec += 1;
		until.tv_nsec -= 1000000000L;
	}
	(void)pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		int rc = pthread_cond_timedwait(&c->cond, &c->mu, &until);
		if (rc == ETIMEDOUT)
			break;
	}
	bool stop = c->stop;
	(void)pthread_mutex_unlock(&c->mu);
	return stop;
}

unsigned tp_sink_backoff_ms(unsigned failures, unsigned max_s)
{
	uint64_t cap = (uint64_t)(max_s == 0u ? 1u : max_s) * 1000u;
	uint64_t d = TP_SINK_BACKOFF_FIRST_MS;
	for (unsigned i = 1u; i < failures && d < cap; i++)
		d *= 2u;
	if (d > cap)
		d = cap;
	if (d < 1000u)
		d = 1000u;
	return (unsigned)d;
}
