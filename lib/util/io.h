/* SPDX-License-Identifier: BSD-2-Clause
 *
 * io.h - whole writes to a file descriptor: write(2) may write less than
 * asked or be interrupted, and every writer of files (Parquet, summaries,
 * stored aggregates) needs the same loop.
 */
#ifndef TP_UTIL_IO_H
#define TP_UTIL_IO_H

#include <stddef.h>

#include "util/err.h"

/* Write p[0..len) to fd, retrying after EINTR and short writes.
 * Returns 0, -errno, or -EIO if write(2) wrote nothing. */
int tp_write_all(int fd, const void *p, size_t len) TP_WUR;

#endif
