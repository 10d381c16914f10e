/* SPDX-License-Identifier: BSD-2-Clause
 *
 * io.c - see io.h.
 */
#include "util/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
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

int tp_read_file(const char *path, int open_flags, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | open_flags);
	if (fd < 0)
		return -errno;
	struct stat st;
	char *buf = NULL;
	size_t size = 0, got = 0;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = TP_EINVAL;
	else if ((uint64_t)st.st_size > max)
		rc = TP_ETOOBIG;
	else if ((buf = malloc((size = (size_t)st.st_size) + 1u)) == NULL)
		rc = -ENOMEM;
	while (rc == 0 && got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			rc = r < 0 ? -errno : TP_ETRUNC;
		else
			got += (size_t)r;
	}
	close(fd);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[size] = '\0';
	*out = buf;
	*len = size;
	return 0;
}
