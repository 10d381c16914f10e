/* SPDX-License-Identifier: BSD-2-Clause
 *
 * log.h - operator logging: one line per event on stderr, tagged by module,
 * syslog levels, level checked before the arguments are evaluated.
 *
 * Logs carry reasons, never people: no client address and no query name may
 * be passed to these macros. Numbers belong in counters.
 */
#ifndef TP_UTIL_LOG_H
#define TP_UTIL_LOG_H

#include <stdbool.h>

enum tp_log_level {
	TP_LOG_ERR = 3,
	TP_LOG_WARNING = 4,
	TP_LOG_NOTICE = 5,
	TP_LOG_INFO = 6,
	TP_LOG_DEBUG = 7,
};

extern enum tp_log_level tp_log_threshold;

void tp_log_write(enum tp_log_level level, const char *module,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define tp_log(level, module, ...)                          \
	do {                                                \
		if ((level) <= tp_log_threshold)            \
			tp_log_write(level, #module, __VA_ARGS__); \
	} while (0)

/* Rate limit for messages a peer can trigger at will (a producer that
 * reconnects and misbehaves in a loop): TP_LOG_LIMIT_BURST per window per
 * call site, then one line saying how many were suppressed. */
#define TP_LOG_LIMIT_BURST 20u
#define TP_LOG_LIMIT_WINDOW_S 10

struct tp_log_limit {
	_Atomic long long window; /* start of the current window, seconds */
	_Atomic unsigned count;
	_Atomic unsigned suppressed;
};

/* Whether one more message may be written at this call site. */
bool tp_log_allow(struct tp_log_limit *limit, const char *module);

#define tp_log_limited(level, module, ...)                                 \
	do {                                                               \
		static struct tp_log_limit tp_limit_;                      \
		if ((level) <= tp_log_threshold && tp_log_allow(&tp_limit_, #module)) \
			tp_log_write(level, #module, __VA_ARGS__);         \
	} while (0)

#define tp_log_err(module, ...) tp_log(TP_LOG_ERR, module, __VA_ARGS__)
#define tp_log_warning(module, ...) tp_log(TP_LOG_WARNING, module, __VA_ARGS__)
#define tp_log_notice(module, ...) tp_log(TP_LOG_NOTICE, module, __VA_ARGS__)
#define tp_log_info(module, ...) tp_log(TP_LOG_INFO, module, __VA_ARGS__)
#define tp_log_debug(module, ...) tp_log(TP_LOG_DEBUG, module, __VA_ARGS__)

#endif
