/* SPDX-License-Identifier: BSD-2-Clause
 *
 * outfile.c - dated output file names and their directories (outfile.h).
 */
#include "edge/outfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TIME_LEN 20u /* YYYY-MM-DDTHH-MM-SSZ */

int tp_outfile_time(int64_t us, char *out, size_t size)
{
	time_t sec = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	struct tm tm;
	if (gmtime_r(&sec, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H-%M-%SZ", &tm) != TIME_LEN)
		return TP_ENOSPACE;
	return 0;
}

static int digits(const char *p, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

int tp_outfile_time_parse(const char *t, int64_t *out_us)
{
	int y, mo, d, h, mi, s;
	if (strlen(t) != TIME_LEN || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != '-' ||
	    t[16] != '-' || t[19] != 'Z' || digits(t, 4, &y) < 0 || digits(t + 5, 2, &mo) < 0 ||
	    digits(t + 8, 2, &d) < 0 || digits(t + 11, 2, &h) < 0 || digits(t + 14, 2, &mi) < 0 ||
	    digits(t + 17, 2, &s) < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 60)
		return TP_EMALF;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	time_t sec = timegm(&tm);
	if (sec == (time_t)-1)
		return TP_EMALF;
	*out_us = (int64_t)sec * 1000000;
	return 0;
}

int tp_outfile_name(const char *prefix, int64_t start_us, int64_t stop_us, char *out, size_t size)
{
	char a[TP_OUTFILE_TIME_SIZE], b[TP_OUTFILE_TIME_SIZE];
	if (tp_outfile_time(start_us, a, sizeof(a)) < 0 || tp_outfile_time(stop_us, b, sizeof(b)) < 0)
		return TP_ENOSPACE;
	int n = snprintf(out, size, "%s%s_%s.parquet", prefix, a, b);
	return n > 0 && (size_t)n < size ? 0 : TP_ENOSPACE;
}

int tp_outfile_mkdirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return -errno;
		buf[i] = saved;
	}
	return 0;
}
