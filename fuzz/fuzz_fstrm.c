/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_fstrm.c - libFuzzer target: Frame Streams framing, both as the socket
 * path sees it (tp_fstrm_next over a buffer) and through the file reader.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dnstap/fstrm.h"
#include "dnstap/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Socket path: walk the frames until one is incomplete or bad. */
	size_t pos = 0;
	for (;;) {
		struct tp_fstrm_frame f;
		uint64_t need = 0;
		int64_t n = tp_fstrm_next(data + pos, size - pos, 4096, &f, &need);
		if (n <= 0)
			break;
		if (f.kind == TP_FSTRM_DATA && f.len > 0)
			(void)(f.data[0] + f.data[f.len - 1]);
		pos += (size_t)n;
	}

	/* File path: a small frame limit so oversize skipping is exercised. */
	int fd = memfd_create("fuzz", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return 0;
	}
	struct tp_dt_reader *r;
	if (tp_dt_reader_new(fd, 64, &r) != 0)
		return 0;
	for (int i = 0; i < 100000; i++) {
		const uint8_t *p;
		size_t len;
		int rc = tp_dt_reader_next(r, &p, &len);
		if (rc == 1 && len > 0)
			(void)(p[0] + p[len - 1]);
		else if (rc != TP_ETOOBIG && rc != TP_EPROTO)
			break;
	}
	tp_dt_reader_free(r);
	return 0;
}
