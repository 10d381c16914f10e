/* SPDX-License-Identifier: BSD-2-Clause
 *
 * io.h - whole writes and whole reads: write(2) and read(2) may do less
 * than asked or be interrupted, and every writer of files (Parquet,
 * summaries, stored aggregates) and every reader of a bounded file (keys,
 * secrets, the outbox) needs the same loops and checks.
 */
#ifndef TP_UTIL_IO_H
#define TP_UTIL_IO_H

#include <stddef.h>

#include "util/err.h"

/* Write p[0..len) to fd, retrying after EINTR and short writes.
 * Returns 0, -errno, or -EIO if write(2) wrote nothing. */
int tp_write_all(int fd, const void *p, size_t len) TP_WUR;

/* Read the regular file at path whole, if it holds at most max bytes.
 *   open_flags: added to O_RDONLY | O_CLOEXEC | O_NONBLOCK (a FIFO must not
 *               block the open), e.g. O_NOFOLLOW.
 *   *out: heap, the bytes plus a NUL not counted in *len; free() it. Set
 *         only on success.
 * Returns 0, -errno (open, fstat, read), TP_EINVAL (not a regular file),
 * TP_ETOOBIG (larger than max), TP_ETRUNC (it shrank while read) or
 * -ENOMEM. */
int tp_read_file(const char *path, int open_flags, size_t max, char **out,
		 size_t *len) TP_WUR;

#endif
