/* SPDX-License-Identifier: BSD-2-Clause
 *
 * stopper.c - stop requests, interruptible sleeps and the connection
 * backoff (see stopper.h). The condition variable runs on CLOCK_MONOTONIC so
 * that a step of the wall clock neither stretches nor cuts a sleep.
 */
#include "net/stopper.h"

#include <errno.h>
#include <time.h>

#include "util/log.h"

int tp_stopper_init(struct tp_stopper *c)
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

void tp_stopper_destroy(struct tp_stopper *c)
{
	(void)pthread_cond_destroy(&c->cond);
	(void)pthread_mutex_destroy(&c->mu);
}

int64_t tp_stopper_now_ms(void)
{
	struct timespec ts;
	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tp_stopper_request(struct tp_stopper *c, unsigned drain_ms)
{
	(void)pthread_mutex_lock(&c->mu);
	if (!c->stop) {
		c->stop = true;
		c->drain_until_ms = tp_stopper_now_ms() + (int64_t)drain_ms;
	}
	(void)pthread_cond_broadcast(&c->cond);
	(void)pthread_mutex_unlock(&c->mu);
}

bool tp_stopper_stopping(struct tp_stopper *c, int64_t *drain_until_ms)
{
	(void)pthread_mutex_lock(&c->mu);
	bool stop = c->stop;
	if (drain_until_ms != NULL)
		*drain_until_ms = c->drain_until_ms;
	(void)pthread_mutex_unlock(&c->mu);
	return stop;
}

bool tp_stopper_sleep(struct tp_stopper *c, unsigned ms)
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

unsigned tp_backoff_ms(unsigned failures, unsigned max_s)
{
	uint64_t cap = (uint64_t)(max_s == 0u ? 1u : max_s) * 1000u;
	uint64_t d = TP_BACKOFF_FIRST_MS;
	for (unsigned i = 1u; i < failures && d < cap; i++)
		d *= 2u;
	if (d > cap)
		d = cap;
	if (d < 1000u)
		d = 1000u;
	return (unsigned)d;
}

bool tp_stopper_retry(struct tp_stopper *c, unsigned backoff_max_s, const char *module,
		      const char *what, tp_stopper_attempt_fn attempt, void *ctx)
{
	/* A broker that drops us in a loop must not flood the log. */
	static struct tp_log_limit limit;
	unsigned failures = 0;
	while (!tp_stopper_stopping(c, NULL)) {
		bool reached = false;
		int rc = attempt(ctx, &reached);
		if (rc == 0)
			return true;
		failures = reached ? 1u : failures + 1u;
		unsigned delay = tp_backoff_ms(failures, backoff_max_s);
		if (TP_LOG_WARNING <= tp_log_threshold && tp_log_allow(&limit, module))
			tp_log_write(TP_LOG_WARNING, module, "%s failed or lost (%s); retrying in %u ms",
				     what, tp_strerror(rc), delay);
		if (tp_stopper_sleep(c, delay))
			break;
	}
	return false;
}
