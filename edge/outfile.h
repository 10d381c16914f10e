/* SPDX-License-Identifier: BSD-2-Clause
 *
 * outfile.h - naming and placing the edge's dated output files, shared by
 * the histograms (histogram.c) and the session log (session.c), so both
 * datasets spell times and create directories the same way.
 *
 * File names carry UTC times as YYYY-MM-DDTHH-MM-SSZ (RFC 3339 at second
 * precision with ':' replaced by '-', as the reference names its files,
 * edm-spec §3.7), e.g. dns_histogram-2026-12-03T16-45-00Z_2026-12-03T16-46-00Z.parquet.
 */
#ifndef TP_EDGE_OUTFILE_H
#define TP_EDGE_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Text of a time in file names: 20 characters plus NUL. */
#define TP_OUTFILE_TIME_SIZE 21u

/* us: UTC microseconds, rounded down to the second.
 * Returns 0, or TP_ENOSPACE (size too small or a year beyond 9999). */
int tp_outfile_time(int64_t us, char *out, size_t size) TP_WUR;

/* The inverse, for names this code wrote: exactly 20 characters of the form
 * above. Returns 0 and *out_us (a whole second), or TP_EMALF. */
int tp_outfile_time_parse(const char *text, int64_t *out_us) TP_WUR;

/* "<prefix><START>_<STOP>.parquet". Returns 0 or TP_ENOSPACE. */
int tp_outfile_name(const char *prefix, int64_t start_us, int64_t stop_us, char *out,
		    size_t size) TP_WUR;

/* Create path and its missing parents, mode 0750 (existing ones are left
 * as they are). Returns 0, -ENAMETOOLONG or -errno. */
int tp_outfile_mkdirs(const char *path) TP_WUR;

#endif
