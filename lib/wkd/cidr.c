/* SPDX-License-Identifier: BSD-2-Clause
 *
 * cidr.c - the ignored-clients list (see cidr.h).
 *
 * Each prefix becomes the address range it covers; per family the ranges
 * are sorted and merged where they overlap or touch, which leaves disjoint
 * ranges in increasing order. A lookup finds the last range starting at or
 * below the address and checks that it ends at or above it. IPv6 addresses
 * are two 64-bit halves compared as one 128-bit number.
 */
#include "wkd/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/limits.h"

struct u128 {
	uint64_t hi, lo;
};

struct range4 {
	uint32_t first, last;
};

struct range6 {
	struct u128 first, last;
};

struct tp_cidr_set {
	struct range4 *v4; /* from malloc(), n4 disjoint ranges, sorted */
	struct range6 *v6; /* from malloc(), n6 disjoint ranges, sorted */
	size_t n4, n6;
	size_t cap4, cap6; /* while loading */
};

static uint32_t load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t load64(const uint8_t *p)
{
	return (uint64_t)load32(p) << 32 | load32(p + 4);
}

static int cmp128(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

/* Ones in the top `bits` bits of a 64-bit word (bits <= 64). */
static uint64_t top_mask64(unsigned bits)
{
	return bits == 0 ? 0 : ~UINT64_C(0) << (64u - bits);
}

/* The prefix length: decimal, no sign, no leading zero except "0" itself,
 * at most max (Go's netip.ParsePrefix). Returns NULL or why it is bad. */
static const char *parse_bits(const char *s, size_t n, unsigned max, unsigned *out)
{
	if (n == 0)
		return "empty prefix length";
	if (n > 1 && s[0] == '0')
		return "prefix length with a leading zero";
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return "prefix length is not a decimal number";
		v = v * 10u + (unsigned)(s[i] - '0');
		if (v > max)
			return "prefix length too long for the address family";
	}
	*out = v;
	return NULL;
}

/* Parse one line `address/length`. Returns NULL and the family (4 or 6),
 * the address and the length, or why it is bad. */
static const char *parse_prefix(const char *line, size_t len, int *family, uint8_t addr[16],
				unsigned *bits)
{
	if (len > TP_CIDR_LINE_MAX)
		return "line too long for a prefix";
	/* The address is handed to inet_pton as a C string: a NUL inside
	 * the line would cut it short and hide the rest. */
	if (memchr(line, '\0', len) != NULL)
		return "NUL character";
	size_t slash = len;
	for (size_t i = len; i-- > 0;) {
		if (line[i] == '/') {
			slash = i;
			break;
		}
	}
	if (slash == len)
		return "no prefix length (the form is address/length)";
	/* Like Go's ParseAddr, the first '.' or ':' tells the family. */
	*family = 0;
	for (size_t i = 0; i < slash && *family == 0; i++) {
		if (line[i] == '.')
			*family = 4;
		else if (line[i] == ':')
			*family = 6;
	}
	char text[TP_CIDR_LINE_MAX + 1];
	memcpy(text, line, slash);
	text[slash] = '\0';
	if (*family == 0 ||
	    inet_pton(*family == 4 ? AF_INET : AF_INET6, text, addr) != 1)
		return "not an IPv4 or IPv6 address";
	return parse_bits(line + slash + 1, len - slash - 1, *family == 4 ? 32u : 128u, bits);
}

static int add4(struct tp_cidr_set *s, const uint8_t *addr, unsigned bits)
{
	if (s->n4 == s->cap4) {
		size_t cap = s->cap4 ? s->cap4 * 2u : 16u;
		struct range4 *v = realloc(s->v4, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		s->v4 = v;
		s->cap4 = cap;
	}
	uint32_t mask = bits == 0 ? 0 : ~UINT32_C(0) << (32u - bits);
	uint32_t a = load32(addr);
	s->v4[s->n4++] = (struct range4){ a & mask, (a & mask) | ~mask };
	return 0;
}

static int add6(struct tp_cidr_set *s, const uint8_t *addr, unsigned bits)
{
	if (s->n6 == s->cap6) {
		size_t cap = s->cap6 ? s->cap6 * 2u : 16u;
		struct range6 *v = realloc(s->v6, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		s->v6 = v;
		s->cap6 = cap;
	}
	struct u128 m = { top_mask64(bits > 64u ? 64u : bits), top_mask64(bits > 64u ? bits - 64u : 0) };
	struct u128 a = { load64(addr), load64(addr + 8) };
	struct u128 first = { a.hi & m.hi, a.lo & m.lo };
	struct u128 last = { first.hi | ~m.hi, first.lo | ~m.lo };
	s->v6[s->n6++] = (struct range6){ first, last };
	return 0;
}

static int by_first4(const void *a, const void *b)
{
	uint32_t x = ((const struct range4 *)a)->first, y = ((const struct range4 *)b)->first;
	return (x > y) - (x < y);
}

static int by_first6(const void *a, const void *b)
{
	return cmp128(((const struct range6 *)a)->first, ((const struct range6 *)b)->first);
}

/* Sort and merge overlapping or adjacent ranges in place. */
static void merge4(struct tp_cidr_set *s)
{
	if (s->n4 == 0)
		return;
	qsort(s->v4, s->n4, sizeof(*s->v4), by_first4);
	size_t out = 0;
	for (size_t i = 1; i < s->n4; i++) {
		struct range4 *cur = &s->v4[out];
		if (cur->last == UINT32_MAX || s->v4[i].first <= cur->last + 1u) {
			if (s->v4[i].last > cur->last)
				cur->last = s->v4[i].last;
		} else {
			s->v4[++out] = s->v4[i];
		}
	}
	s->n4 = out + 1;
}

static struct u128 inc128(struct u128 a)
{
	struct u128 r = { a.hi, a.lo + 1u };
	if (r.lo == 0)
		r.hi++;
	return r;
}

static void merge6(struct tp_cidr_set *s)
{
	if (s->n6 == 0)
		return;
	qsort(s->v6, s->n6, sizeof(*s->v6), by_first6);
	const struct u128 max = { UINT64_MAX, UINT64_MAX };
	size_t out = 0;
	for (size_t i = 1; i < s->n6; i++) {
		struct range6 *cur = &s->v6[out];
		if (cmp128(cur->last, max) == 0 || cmp128(s->v6[i].first, inc128(cur->last)) <= 0) {
			if (cmp128(s->v6[i].last, cur->last) > 0)
				cur->last = s->v6[i].last;
		} else {
			s->v6[++out] = s->v6[i];
		}
	}
	s->n6 = out + 1;
}

static int parse_line(struct tp_cidr_set *s, const char *line, size_t len, uint64_t lineno,
		      tp_cidr_bad_line_fn bad_line, void *ctx, struct tp_cidr_stats *st)
{
	if (len == 0 || line[0] == '#') {
		st->skipped++;
		return 0;
	}
	int family;
	uint8_t addr[16];
	unsigned bits;
	const char *why = parse_prefix(line, len, &family, addr, &bits);
	if (why != NULL) {
		st->bad++;
		if (bad_line)
			bad_line(ctx, lineno, why);
		return 0;
	}
	if (s->n4 + s->n6 >= TP_CIDR_MAX_PREFIXES)
		return TP_ETOOBIG;
	if (family == 4) {
		st->v4++;
		return add4(s, addr, bits);
	}
	st->v6++;
	return add6(s, addr, bits);
}

int tp_cidr_parse(const char *buf, size_t len, tp_cidr_bad_line_fn bad_line, void *ctx,
		  struct tp_cidr_set **out, struct tp_cidr_stats *out_stats)
{
	struct tp_cidr_stats st = { 0 };
	int rc = 0;
	struct tp_cidr_set *s = NULL;
	if (len > TP_CIDR_FILE_MAX) {
		rc = TP_ETOOBIG;
		goto done;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = -ENOMEM;
		goto done;
	}
	for (size_t pos = 0; rc == 0 && pos < len;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		st.lines++;
		rc = parse_line(s, buf + pos, end - pos, st.lines, bad_line, ctx, &st);
		pos = nl ? end + 1 : len;
	}
	if (rc == 0 && st.bad > 0)
		rc = TP_EMALF;
	if (rc == 0) {
		merge4(s);
		merge6(s);
	}
done:
	if (out_stats)
		*out_stats = st;
	if (rc < 0) {
		tp_cidr_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int tp_cidr_load(const char *path, tp_cidr_bad_line_fn bad_line, void *ctx,
		 struct tp_cidr_set **out, struct tp_cidr_stats *out_stats)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	int rc;
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
	} else if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
	} else if ((uint64_t)sb.st_size > TP_CIDR_FILE_MAX) {
		rc = TP_ETOOBIG;
	} else if (sb.st_size == 0) {
		rc = tp_cidr_parse("", 0, bad_line, ctx, out, out_stats);
	} else {
		void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			rc = -errno;
		} else {
			rc = tp_cidr_parse(map, (size_t)sb.st_size, bad_line, ctx, out, out_stats);
			munmap(map, (size_t)sb.st_size);
		}
	}
	close(fd);
	return rc;
}

void tp_cidr_free(struct tp_cidr_set *s)
{
	if (s == NULL)
		return;
	free(s->v4);
	free(s->v6);
	free(s);
}

bool tp_cidr_active(const struct tp_cidr_set *s)
{
	return s != NULL && s->n4 + s->n6 > 0;
}

enum tp_cidr_result tp_cidr_match(const struct tp_cidr_set *s, const uint8_t *addr, size_t len)
{
	if (!tp_cidr_active(s))
		return TP_CIDR_MISS;
	if (addr == NULL || (len != 4 && len != 16))
		return TP_CIDR_BAD_ADDRESS;
	/* Binary search for the number of ranges starting at or below a. */
	size_t lo = 0, hi;
	if (len == 4) {
		uint32_t a = load32(addr);
		hi = s->n4;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2u;
			if (s->v4[mid].first <= a)
				lo = mid + 1u;
			else
				hi = mid;
		}
		return lo > 0 && a <= s->v4[lo - 1u].last ? TP_CIDR_HIT : TP_CIDR_MISS;
	}
	struct u128 a = { load64(addr), load64(addr + 8) };
	hi = s->n6;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2u;
		if (cmp128(s->v6[mid].first, a) <= 0)
			lo = mid + 1u;
		else
			hi = mid;
	}
	return lo > 0 && cmp128(a, s->v6[lo - 1u].last) <= 0 ? TP_CIDR_HIT : TP_CIDR_MISS;
}
