/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_dnstap.c - libFuzzer target: the dnstap protobuf decoder. Every
 * view it returns must lie inside the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "dnstap/dnstap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Copy so that ASan sees any read past the exact end. */
	uint8_t *copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	for (size_t i = 0; i < size; i++)
		copy[i] = data[i];
	struct tp_dt_msg m;
	if (tp_dt_decode(copy, size, &m) == 0) {
		const struct tp_dt_bytes *views[] = { &m.identity, &m.version, &m.query_address,
						      &m.response_address, &m.query_message,
						      &m.query_zone, &m.response_message };
		for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
			if (views[i]->p && views[i]->len)
				(void)(views[i]->p[0] + views[i]->p[views[i]->len - 1]);
	}
	free(copy);
	return 0;
}
