/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_schema.c - libFuzzer target for the event bridge's checks of
 * untrusted MQTT payloads (core/schema.c): the unverified kid of a
 * flattened JWS, and the new_qname schema.
 *
 * Each input goes through both parsers. Their contracts are checked: the
 * kid is 1..255 bytes with no NUL when found and empty otherwise, and
 * every refusal is one of the documented codes with a reason phrase.
 * Built with -fsanitize=fuzzer for fuzzing, and linked with fuzz/replay.c
 * to replay fuzz/corpus/schema/ in `meson test --suite fuzz`.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char kid[TP_JWK_KID_MAX + 1u];
	int rc = tp_jws_peek_kid((const char *)data, size, kid);
	size_t kn = strnlen(kid, sizeof(kid));
	if (rc == 0 ? (kn == 0 || kn > TP_JWK_KID_MAX) : (kn != 0 ||
	    (rc != TP_EMALF && rc != TP_EMISSING && rc != TP_ETOOBIG && rc != -ENOMEM)))
		abort();
	const char *why = NULL;
	rc = tp_schema_new_qname(data, size, &why);
	if (rc != 0 && (why == NULL ||
			(rc != TP_EMALF && rc != TP_EMISSING && rc != TP_ETOOBIG)))
		abort();
	return 0;
}
