/* SPDX-License-Identifier: BSD-2-Clause
 *
 * log.c - the single sink for operator logs (see log.h).
 *
 * A whole line is formatted first and written with one write(2), so lines
 * from different threads never interleave.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum tp_log_level tp_log_threshold = TP_LOG_NOTICE;

static const char *level_name(enum tp_log_level level)
{
	switch (level) {
	case TP_LOG_ERR:
		return "error";
	case TP_LOG_WARNING:
		return "warning";
	case TP_LOG_NOTICE:
		return "notice";
	case TP_LOG_INFO:
		return "info";
	case TP_LOG_DEBUG:
		return "debug";
	}
	return "?";
}

void tp_log_write(enum tp_log_level level, const char *module,
		  const char *fmt, ...)
{
	char line[1024];
	struct timespec now;
	struct tm tm;
	size_t used = 0;
	int n;

	if (clock_gettime(CLOCK_REALTIME, &now) == 0 &&
	    gmtime_r(&now.tv_sec, &tm) != NULL)
		used = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	n = snprintf(line + used, sizeof(line) - used, "tapir[%s] %s: ",
		     module, level_name(level));
	if (n > 0)
		used += (size_t)n < sizeof(line) - used ? (size_t)n : sizeof(line) - used - 1;

	va_list ap;
	va_start(ap, fmt);
	n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	va_end(ap);
	if (n > 0)
		used += (size_t)n < sizeof(line) - used ? (size_t)n : sizeof(line) - used - 1;
	if (used >= sizeof(line) - 1)
		used = sizeof(line) - 2;
	line[used++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, used);
	(void)w; /* nowhere left to report a failed log write */
}

bool tp_log_allow(struct tp_log_limit *limit, const char *module)
{
	struct timespec now;
	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return true;
	long long window = (long long)now.tv_sec / TP_LOG_LIMIT_WINDOW_S;
	if (atomic_exchange(&limit->window, window) != window) {
		unsigned dropped = atomic_exchange(&limit->suppressed, 0);
		atomic_store(&limit->count, 0);
		if (dropped > 0)
			tp_log_write(TP_LOG_WARNING, module, "%u similar messages suppressed", dropped);
	}
	if (atomic_fetch_add(&limit->count, 1) < TP_LOG_LIMIT_BURST)
		return true;
	atomic_fetch_add(&limit->suppressed, 1);
	return false;
}
