/* SPDX-License-Identifier: BSD-2-Clause
 *
 * interval.h - the Aggregate-Interval header (core-spec §1.3): an ISO 8601
 * time interval `<start>/<duration>` or `<start>/<end>`, both date-times
 * carrying a time zone, converted to UTC, microseconds kept.
 *
 * The header comes from the network: the parser takes at most
 * TP_INTERVAL_TEXT_MAX characters, never reads past the terminating NUL,
 * and refuses anything it does not fully understand (trailing bytes, naive
 * times, out-of-range fields, negative or overflowing durations).
 */
#ifndef TP_CORE_INTERVAL_H
#define TP_CORE_INTERVAL_H

#include <stdint.h>

#include "util/err.h"

/* Longest header value looked at; real ones are about 30 characters. */
#define TP_INTERVAL_TEXT_MAX 128u
/* Years accepted in a date-time (Python's datetime range). */
#define TP_INTERVAL_YEAR_MIN 1
#define TP_INTERVAL_YEAR_MAX 9999

struct tp_interval {
	int64_t start_us;     /* UTC, microseconds since 1970-01-01 */
	int64_t duration_us;  /* >= 0 */
};

/* Parse text (NUL-terminated, borrowed). Accepted:
 *   date-time: YYYY-MM-DDThh:mm[:ss[.f]]  or basic YYYYMMDDThhmm[ss[.f]]
 *              followed by Z, +hh, +hh:mm or +hhmm (or '-'); a decimal
 *              comma works as a point; fractions beyond µs are cut;
 *   duration:  P[nY][nM][nW][nD][T[nH][nM][n[.f]S]] with at least one
 *              part; years and months are calendar steps from the start
 *              (the day clamped to the month's end), the rest fixed.
 * Returns 0 and *out, TP_EMALF (not such an interval, a naive time, an end
 * before the start) or TP_ETOOBIG (longer than TP_INTERVAL_TEXT_MAX, or an
 * end outside the years above). */
int tp_interval_parse(const char *text, struct tp_interval *out) TP_WUR;

/* UTC microseconds as "YYYY-MM-DDThh:mm:ssZ", or "...:ss.ffffffZ" when
 * there are microseconds. out: at least TP_INTERVAL_ISO_SIZE bytes.
 * Returns 0, or TP_EINVAL outside the years above. */
#define TP_INTERVAL_ISO_SIZE 32u
int tp_interval_format_utc(int64_t us, char out[TP_INTERVAL_ISO_SIZE]) TP_WUR;

#endif
