/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_scrub.c - libFuzzer target for the EDNS scrubber (lib/dns/scrub.c).
 *
 * Arbitrary bytes go to tp_dns_scrub(). A copy it returns must parse with
 * tp_dns_parse(), be no longer than the input, carry no Client Subnet
 * option, and scrub again to itself (nothing left to remove); anything else
 * aborts. A failure must be a domain code other than TP_EBUG. Built with
 * -fsanitize=fuzzer for fuzzing, and linked with fuzz/replay.c to replay
 * fuzz/corpus/scrub/ in `meson test --suite fuzz`. No state between inputs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/scrub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_dns_scrub_removed removed;
	size_t out_len, again_len;
	uint8_t *out = malloc(size + 1);
	uint8_t *again = malloc(size + 1);
	if (out == NULL || again == NULL)
		abort();

	int rc = tp_dns_scrub(data, size, out, size, &out_len, &removed);
	if (rc != 0) {
		if (rc > -1000 || rc == TP_EBUG)
			abort();
		goto done;
	}
	struct tp_dns_msg msg;
	if (out_len > size || tp_dns_parse(out, out_len, &msg) != 0 || msg.has_ecs)
		abort();
	if (tp_dns_scrub(out, out_len, again, out_len, &again_len, &removed) != 0 ||
	    again_len != out_len || memcmp(again, out, out_len) != 0 ||
	    removed.ecs + removed.cookie + removed.other != 0)
		abort();
done:
	free(again);
	free(out);
	return 0;
}
