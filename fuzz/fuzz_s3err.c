/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_s3err.c - libFuzzer target for the scan of S3 XML error bodies
 * (tp_s3_error_code, lib/store/s3.c).
 *
 * An error body comes from the S3 server, which we do not control. The
 * scan must stay inside the buffer, and what it returns must be what it
 * promises, since it goes into the log: on success 1..63 characters of
 * [A-Za-z0-9._-] found after a "<Code>" in the input; on failure "".
 * A broken promise aborts. Built with -fsanitize=fuzzer for fuzzing, and
 * linked with fuzz/replay.c to replay fuzz/corpus/s3err/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly the input's bytes: an overread shows under ASan. */
	uint8_t *copy = malloc(size > 0 ? size : 1u);
	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	char code[TP_S3_ERRCODE_MAX];
	int rc = tp_s3_error_code(copy, size, code, sizeof(code));
	size_t n = strnlen(code, sizeof(code));
	if (n == sizeof(code))
		abort();
	if (rc != 0) {
		if (n != 0)
			abort();
	} else {
		if (n == 0 || strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					   "0123456789._-") != n)
			abort();
		/* It is in the input, right after an opening tag. */
		size_t lim = size < TP_S3_ERROR_BODY_MAX ? size : TP_S3_ERROR_BODY_MAX;
		const uint8_t *at = memmem(copy, lim, "<Code>", 6);
		if (at == NULL || (size_t)(at - copy) + 6u + n > lim ||
		    memcmp(at + 6, code, n) != 0)
			abort();
	}
	free(copy);
	return 0;
}
