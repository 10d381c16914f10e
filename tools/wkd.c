/* SPDX-License-Identifier: BSD-2-Clause
 *
 * wkd.c - `tapir wkd check FILE`: validates a well-known list the way the
 * edge loads it, and reports every bad line with its number, so an operator
 * can fix a list before a reload refuses it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tools.h"
#include "wkd/wkd.h"

static void print_bad(void *ctx, uint64_t line, const char *why)
{
	printf("%s:%" PRIu64 ": %s\n", (const char *)ctx, line, why);
}

static int check(const char *path)
{
	struct tp_wkd *w;
	struct tp_wkd_stats st = { 0 };
	int rc = tp_wkd_load(path, print_bad, (void *)path, &w, &st);
	if (rc < 0 && rc != TP_EMALF) {
		fprintf(stderr, "tapir wkd check: %s: %s\n", path, tp_strerror(rc));
		return 1;
	}
	printf("%s: %" PRIu64 " lines, %" PRIu64 " exact, %" PRIu64 " suffix, %" PRIu64
	       " duplicates, %" PRIu64 " skipped (blank or #), %" PRIu64 " bad\n",
	       path, st.lines, st.exact, st.wildcard, st.duplicates, st.skipped, st.bad);
	if (rc == 0) {
		printf("%s: ok (%.1f MiB in memory)\n", path,
		       (double)tp_wkd_memory(w) / (1024.0 * 1024.0));
		tp_wkd_free(w);
	}
	return rc == 0 ? 0 : 1;
}

int tp_wkd_main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[0], "check") == 0)
		return check(argv[1]);
	FILE *out = argc >= 1 && strcmp(argv[0], "--help") == 0 ? stdout : stderr;
	fprintf(out, "usage: tapir wkd check FILE\n"
		     "  validates a well-known list (one lowercase FQDN per line with a\n"
		     "  trailing dot; .example.net. = any name below example.net) and\n"
		     "  prints every bad line with its number; exit 0 when usable\n");
	return out == stdout ? 0 : 2;
}
