/* SPDX-License-Identifier: BSD-2-Clause
 *
 * wkd.h - the well-known domains list: which names belong to the crowd.
 *
 * A list is text, one lowercase FQDN per line with a trailing dot (SPEC §5):
 * `example.com.` matches exactly that name; `.example.net.` (leading dot)
 * matches any name strictly below example.net. A lookup tries the exact entry
 * first, then the suffix entries from the most specific to the least; the
 * root alone is never tried (edm-spec §2.3).
 *
 * Built for 10 million entries: names are kept once, in lowercase wire form,
 * in one arena; an open-addressing table of 32-bit arena offsets with 16-bit
 * tags finds them. All suffix hashes of a query name come from one
 * right-to-left pass, so the suffix fallback costs one probe per label. The
 * hash is seeded per list from the OS random source, so query names chosen
 * by a client cannot be made to collide (hash flooding).
 *
 * A built list is immutable: lookups from many threads need no lock, and a
 * reload builds a new list and swaps it in (the edge does that between
 * intervals).
 */
#ifndef TP_WKD_WKD_H
#define TP_WKD_WKD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "util/err.h"

struct tp_wkd;

/* A matched entry: id is stable for the list's lifetime and unique per
 * entry (use it as a row key); wildcard tells which kind matched. */
struct tp_wkd_match {
	uint32_t id;
	bool wildcard;
};

/* What loading found. Bad lines make tp_wkd_load fail; the callback sees
 * every one of them with its 1-based line number. */
struct tp_wkd_stats {
	uint64_t lines, exact, wildcard, duplicates, skipped, bad;
};

typedef void (*tp_wkd_bad_line_fn)(void *ctx, uint64_t line, const char *why);

/* Load a list file.
 *   path: borrowed. bad_line: NULL, or called for each bad line.
 *   out_stats: NULL, or filled whether or not loading succeeds.
 * Blank lines and lines starting with '#' are skipped; a trailing CR is
 * ignored. Every other line must be a valid lowercase FQDN with a trailing
 * dot, optionally with a leading dot for a suffix entry.
 * A file whose content is a DAWG (the reference's binary form, dawg.h) is
 * read as its words instead, each checked like a line (no comments) and
 * reported with its rank + 1 as the line number; line 0 means the DAWG
 * structure itself is truncated or corrupt. A DAWG of 0 words is an empty
 * list.
 * Returns 0 and *out (free with tp_wkd_free), or
 *   TP_EMALF    one or more bad lines (all reported through bad_line);
 *   TP_ETOOBIG  the list exceeds TP_WKD_MAX_ENTRIES or the arena limit;
 *   -errno      the file cannot be read; -ENOMEM. */
int tp_wkd_load(const char *path, tp_wkd_bad_line_fn bad_line, void *ctx,
		struct tp_wkd **out, struct tp_wkd_stats *out_stats) TP_WUR;

/* Build a list from names in memory (tests, benchmarks): same rules, one
 * name per element, without newlines. */
int tp_wkd_build(const char *const *names, size_t n, struct tp_wkd **out,
		 struct tp_wkd_stats *out_stats) TP_WUR;

void tp_wkd_free(struct tp_wkd *w);

/* Number of distinct entries. */
size_t tp_wkd_size(const struct tp_wkd *w);

/* Look a name up.
 *   name: borrowed; must already be case-folded (tp_dns_name_fold).
 * Returns true with *out on a match, false otherwise. */
bool tp_wkd_lookup(const struct tp_wkd *w, const struct tp_dns_name *name,
		   struct tp_wkd_match *out);

/* The entry behind an id (from a match): its name in wire form (for a
 * wildcard entry, the name it is below) and its kind.
 * Returns 0, or TP_EINVAL for an id that is not an entry of this list. */
int tp_wkd_entry(const struct tp_wkd *w, uint32_t id, struct tp_dns_name *out,
		 bool *out_wildcard) TP_WUR;

/* Bytes of memory the list holds (arena and table). */
size_t tp_wkd_memory(const struct tp_wkd *w);

#endif
