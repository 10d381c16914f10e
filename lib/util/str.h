/* SPDX-License-Identifier: BSD-2-Clause
 *
 * str.h - owned copies of optional strings, the way every component that
 * outlives its caller's configuration keeps it (sinks, bridge, sender).
 */
#ifndef TP_UTIL_STR_H
#define TP_UTIL_STR_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* *out = a heap copy of s (free() it), or NULL when s is NULL.
 * Returns 0 or -ENOMEM. */
static inline int tp_strdup_opt(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	*out = strdup(s);
	return *out == NULL ? -ENOMEM : 0;
}

#endif
