/* SPDX-License-Identifier: BSD-2-Clause
 *
 * interval.c - the Aggregate-Interval parser (core-spec §1.3, §1.12).
 *
 * The header is attacker-controlled, so this is a strict hand-written
 * scanner over a NUL-terminated string of bounded length: fixed digit
 * counts, every field range-checked, every sum checked for overflow, and
 * nothing after the interval. A time without a zone is refused (the
 * reference answers 422 for it) because its instant is unknowable.
 *
 * Calendar arithmetic uses the proleptic Gregorian day count (days since
 * 1970-01-01), so no libc time function and no TZ environment is involved.
 */
#include "core/interval.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define US_PER_S INT64_C(1000000)
/* Digits of one duration number; nine keep every product in range. */
#define DURATION_DIGITS_MAX 9u

struct datetime {
	int year, month, day, hour, minute, second;
	int64_t us;
	int offset_s; /* local time minus UTC */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits; *p moves past them only on success. */
static bool digits(const char **p, unsigned n, int *out)
{
	int v = 0;
	for (unsigned i = 0; i < n; i++) {
		char c = (*p)[i];
		if (!is_digit(c))
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, eras of 400
 * years of 146097 days). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t min_us(void)
{
	return days_from_civil(TP_INTERVAL_YEAR_MIN, 1, 1) * 86400 * US_PER_S;
}

static int64_t end_us(void)
{
	return days_from_civil(TP_INTERVAL_YEAR_MAX + 1, 1, 1) * 86400 * US_PER_S;
}

static int64_t to_us(const struct datetime *t)
{
	int64_t s = days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 +
		    t->minute * 60 + t->second - t->offset_s;
	return s * US_PER_S + t->us;
}

/* '.' or ',' and one or more digits: microseconds, further digits cut. */
static bool fraction(const char **p, int64_t *us)
{
	if (**p != '.' && **p != ',')
		return true;
	(*p)++;
	if (!is_digit(**p))
		return false;
	int64_t scale = 100000;
	*us = 0;
	while (is_digit(**p)) {
		*us += (**p - '0') * scale;
		scale /= 10;
		(*p)++;
	}
	return true;
}

/* Z, +hh, +hh:mm, +hhmm (or '-'). */
static bool zone(const char **p, int *offset_s)
{
	if (**p == 'Z') {
		(*p)++;
		*offset_s = 0;
		return true;
	}
	if (**p != '+' && **p != '-')
		return false;
	int sign = **p == '-' ? -1 : 1;
	(*p)++;
	int hh, mm = 0;
	if (!digits(p, 2, &hh))
		return false;
	if (**p == ':') {
		(*p)++;
		if (!digits(p, 2, &mm))
			return false;
	} else if (is_digit(**p) && !digits(p, 2, &mm)) {
		return false;
	}
	if (hh > 23 || mm > 59)
		return false;
	*offset_s = sign * (hh * 3600 + mm * 60);
	return true;
}

/* A full date-time with a zone, extended or basic format. */
static bool datetime(const char **p, struct datetime *t)
{
	memset(t, 0, sizeof(*t));
	if (!digits(p, 4, &t->year))
		return false;
	bool extended = **p == '-';
	if (extended)
		(*p)++;
	if (!digits(p, 2, &t->month))
		return false;
	if (extended && *(*p)++ != '-')
		return false;
	if (!digits(p, 2, &t->day) || *(*p)++ != 'T' || !digits(p, 2, &t->hour))
		return false;
	if (extended && *(*p)++ != ':')
		return false;
	if (!digits(p, 2, &t->minute))
		return false;
	bool has_seconds = extended ? **p == ':' : is_digit(**p);
	if (has_seconds) {
		if (extended)
			(*p)++;
		if (!digits(p, 2, &t->second) || !fraction(p, &t->us))
			return false;
	}
	if (!zone(p, &t->offset_s))
		return false;
	return t->year >= TP_INTERVAL_YEAR_MIN && t->month >= 1 && t->month <= 12 &&
	       t->day >= 1 && t->day <= month_days(t->year, t->month) && t->hour <= 23 &&
	       t->minute <= 59 && t->second <= 59;
}

struct duration {
	int64_t years, months; /* calendar steps */
	int64_t seconds, us;   /* fixed part */
};

/* P[nY][nM][nW][nD][T[nH][nM][n[.f]S]], designators in this order, each
 * at most once, at least one; a fraction only on seconds. */
static bool duration(const char **p, struct duration *d)
{
	static const char date_units[] = "YMWD", time_units[] = "HMS";
	static const int64_t date_s[] = { 0, 0, 7 * 86400, 86400 };
	static const int64_t time_s[] = { 3600, 60, 1 };
	memset(d, 0, sizeof(*d));
	if (*(*p)++ != 'P')
		return false;
	bool in_time = false, any = false, any_time = false;
	size_t next = 0; /* first designator still allowed */
	for (;;) {
		if (**p == 'T' && !in_time) {
			(*p)++;
			in_time = true;
			next = 0;
			continue;
		}
		if (!is_digit(**p))
			break;
		int64_t n = 0;
		unsigned nd = 0;
		while (is_digit(**p)) {
			if (++nd > DURATION_DIGITS_MAX)
				return false;
			n = n * 10 + (**p - '0');
			(*p)++;
		}
		int64_t us = 0;
		if ((**p == '.' || **p == ',') && !fraction(p, &us))
			return false;
		const char *units = in_time ? time_units : date_units;
		const char *u = **p ? strchr(units + next, **p) : NULL;
		if (u == NULL)
			return false;
		size_t i = (size_t)(u - units);
		(*p)++;
		next = i + 1;
		if (us != 0 && !(in_time && i == 2))
			return false;
		any = true;
		if (in_time) {
			any_time = true;
			d->seconds += n * time_s[i];
			d->us = us;
		} else if (i == 0) {
			d->years = n;
		} else if (i == 1) {
			d->months = n;
		} else {
			d->seconds += n * date_s[i];
		}
	}
	return any && (!in_time || any_time);
}

/* start + d, the calendar part on the start's local date as ISO 8601
 * reads it. Returns 0, or TP_ETOOBIG past year TP_INTERVAL_YEAR_MAX. */
static int add_duration(const struct datetime *start, const struct duration *d, int64_t *out)
{
	struct datetime t = *start;
	int64_t months = (int64_t)t.month - 1 + d->months + d->years * 12;
	int64_t year = t.year + months / 12;
	if (year > TP_INTERVAL_YEAR_MAX)
		return TP_ETOOBIG;
	t.year = (int)year;
	t.month = (int)(months % 12) + 1;
	if (t.day > month_days(t.year, t.month))
		t.day = month_days(t.year, t.month);
	int64_t us = to_us(&t), add;
	if (__builtin_mul_overflow(d->seconds, US_PER_S, &add) ||
	    __builtin_add_overflow(add, d->us, &add) || __builtin_add_overflow(us, add, &us) ||
	    us >= end_us())
		return TP_ETOOBIG;
	*out = us;
	return 0;
}

int tp_interval_parse(const char *text, struct tp_interval *out)
{
	if (text == NULL || out == NULL)
		return TP_EINVAL;
	if (strnlen(text, TP_INTERVAL_TEXT_MAX + 1u) > TP_INTERVAL_TEXT_MAX)
		return TP_ETOOBIG;
	const char *p = text;
	struct datetime start;
	if (!datetime(&p, &start) || *p++ != '/')
		return TP_EMALF;
	int64_t start_us = to_us(&start), stop_us;
	if (*p == 'P') {
		struct duration d;
		if (!duration(&p, &d) || *p != '\0')
			return TP_EMALF;
		int rc = add_duration(&start, &d, &stop_us);
		if (rc < 0)
			return rc;
	} else {
		struct datetime stop;
		if (!datetime(&p, &stop) || *p != '\0')
			return TP_EMALF;
		stop_us = to_us(&stop);
	}
	/* A zone can move a first-of-January start before year 1 in UTC. */
	if (start_us < min_us() || stop_us >= end_us())
		return TP_ETOOBIG;
	if (stop_us < start_us)
		return TP_EMALF;
	out->start_us = start_us;
	out->duration_us = stop_us - start_us;
	return 0;
}

int tp_interval_format_utc(int64_t us, char out[TP_INTERVAL_ISO_SIZE])
{
	if (us < min_us() || us >= end_us())
		return TP_EINVAL;
	int64_t s = us / US_PER_S, frac = us % US_PER_S;
	if (frac < 0) {
		frac += US_PER_S;
		s -= 1;
	}
	int64_t days = s / 86400, sod = s % 86400;
	if (sod < 0) {
		sod += 86400;
		days -= 1;
	}
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	int n;
	if (frac != 0)
		n = snprintf(out, TP_INTERVAL_ISO_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d,
			     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
	else
		n = snprintf(out, TP_INTERVAL_ISO_SIZE, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
			     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	return n > 0 && (size_t)n < TP_INTERVAL_ISO_SIZE ? 0 : TP_EBUG;
}
