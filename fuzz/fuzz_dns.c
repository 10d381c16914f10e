/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_dns.c - libFuzzer target for the DNS wire parser and name helpers.
 *
 * Feeds arbitrary bytes to tp_dns_parse() and, when a message parses, runs
 * everything the edge does with its question name: fold, presentation form
 * and label columns. Whatever parses must present and split, so a failure
 * there aborts (a bug, not bad input). Built with -fsanitize=fuzzer for
 * fuzzing, and linked with fuzz/replay.c to replay fuzz/corpus/dns/ in
 * `meson test --suite fuzz`. It keeps no state between inputs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_dns_msg msg;
	char text[TP_DNS_PRESENT_MAX];
	char type_buf[16];
	struct tp_dns_labels labels;

	int rc = tp_dns_parse(data, size, &msg);
	if (rc != 0) {
		if (rc > -1000)
			abort(); /* only TP_E* domain codes are expected */
		return 0;
	}
	if (msg.qdcount == 0)
		return 0;

	int n = tp_dns_name_present(&msg.qname, text, sizeof(text));
	if (n <= 0 || (size_t)n != strlen(text))
		abort();
	if (tp_dns_name_labels(&msg.qname, &labels) != 0)
		abort();
	if (labels.n > TP_DNS_LABEL_COLUMNS ||
	    labels.n != (msg.qname.n_labels < TP_DNS_LABEL_COLUMNS
				 ? msg.qname.n_labels
				 : TP_DNS_LABEL_COLUMNS))
		abort();

	/* Folding keeps the name valid and never changes its length. */
	struct tp_dns_name folded = msg.qname;
	tp_dns_name_fold(&folded);
	char folded_text[TP_DNS_PRESENT_MAX];
	if (tp_dns_name_present(&folded, folded_text, sizeof(folded_text)) != n)
		abort();

	(void)tp_dns_type_name(msg.qtype, type_buf, sizeof(type_buf));
	(void)tp_dns_class_name(msg.qclass, type_buf, sizeof(type_buf));
	(void)tp_dns_rcode_name(msg.rcode, type_buf, sizeof(type_buf));
	return 0;
}
