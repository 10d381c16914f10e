/* SPDX-License-Identifier: BSD-2-Clause
 *
 * io.c - see io.h.
 */
#include "util/io.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

int tp_write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	while (len > 0) {
		ssize_t k = write(fd, b, len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		b += (size_t)k;
		len -= (size_t)k;
	}
	return 0;
}
