/* SPDX-License-Identifier: BSD-2-Clause
 *
 * cidr.h - the ignored-clients list: frames from client addresses inside
 * any of a file's prefixes are dropped before anything else looks at them
 * (edm-spec §2.2 step 3, §2.4).
 *
 * File format, as the reference reads it (Go netip.ParsePrefix per line):
 * one `address/length` per line, IPv4 or IPv6; the length is required and
 * is decimal without a sign or leading zeros ("0" itself is fine), at most
 * 32 or 128; host bits may be set (they are ignored). A line that is empty
 * or starts with '#' is skipped. Nothing is trimmed: a trailing space or CR
 * makes a line bad. Any bad line fails the whole load.
 *
 * Families are kept apart on purpose, for compatibility with the
 * reference: an IPv4 prefix never matches an IPv4-mapped IPv6 client
 * address (::ffff:a.b.c.d, 16 octets), and an IPv6 prefix such as
 * ::ffff:0:0/96 never matches a 4-octet IPv4 address.
 *
 * A loaded set is the union of its prefixes as disjoint sorted address
 * ranges per family, so a lookup is one binary search whatever the number
 * or the lengths of the prefixes. It is immutable: lookups from many
 * threads need no lock, and a reload builds a new set and swaps it in.
 */
#ifndef TP_WKD_CIDR_H
#define TP_WKD_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct tp_cidr_set;

enum tp_cidr_result {
	TP_CIDR_MISS = 0,        /* not in the set (or the set is inactive) */
	TP_CIDR_HIT = 1,         /* inside one of the prefixes */
	TP_CIDR_BAD_ADDRESS = 2, /* active set, address not 4 or 16 octets:
				  * the caller fails closed (drops it) */
};

/* What loading found; filled whether or not loading succeeds. */
struct tp_cidr_stats {
	uint64_t lines, v4, v6, skipped, bad;
};

/* Called for each bad line with its 1-based number and a constant reason. */
typedef void (*tp_cidr_bad_line_fn)(void *ctx, uint64_t line, const char *why);

/* Parse a list held in memory.
 *   buf: borrowed, len octets. bad_line: NULL or called for each bad line.
 *   out_stats: NULL or filled.
 * Returns 0 and *out (free with tp_cidr_free; inactive when it holds no
 * prefix), or
 *   TP_EMALF    one or more bad lines (all reported through bad_line);
 *   TP_ETOOBIG  more than TP_CIDR_MAX_PREFIXES prefixes, or len over
 *               TP_CIDR_FILE_MAX;
 *   -ENOMEM. */
int tp_cidr_parse(const char *buf, size_t len, tp_cidr_bad_line_fn bad_line, void *ctx,
		  struct tp_cidr_set **out, struct tp_cidr_stats *out_stats) TP_WUR;

/* Load a list file (path borrowed): as tp_cidr_parse, plus -errno when the
 * file cannot be read and -EINVAL when it is not a regular file. */
int tp_cidr_load(const char *path, tp_cidr_bad_line_fn bad_line, void *ctx,
		 struct tp_cidr_set **out, struct tp_cidr_stats *out_stats) TP_WUR;

void tp_cidr_free(struct tp_cidr_set *s);

/* Whether the set filters at all: false for NULL and for a set loaded from
 * a file without prefixes (the reference disables the feature then). */
bool tp_cidr_active(const struct tp_cidr_set *s);

/* Classify a client address as raw octets from dnstap.
 *   addr: borrowed, len octets (4 = IPv4, 16 = IPv6); may be NULL.
 * An inactive set answers TP_CIDR_MISS for everything, even for a bad
 * address: with no list, nothing is ignored (edm-spec §2.2 step 3). */
enum tp_cidr_result tp_cidr_match(const struct tp_cidr_set *s, const uint8_t *addr,
				  size_t len);

#endif
