/* SPDX-License-Identifier: BSD-2-Clause
 *
 * wkd.c - the well-known domains list (see wkd.h).
 *
 * Memory layout, for 10 million entries in well under 300 MB:
 *   arena: records [flags][wire length][wire name], back to back, ~20 octets
 *          per entry for typical names (no pointers, no per-entry malloc);
 *   slots: uint32_t arena offset per table slot, load factor <= 0.8;
 *   tags:  uint16_t per slot, 0 = empty, else 16 hash bits (never 0), so a
 *          probe touches the arena only when 16 more bits agree.
 *
 * Hashing: a name's hash is built from its rightmost label leftwards, so the
 * hashes of all its suffixes fall out of one pass (a suffix is the tail of
 * the name). The state starts from a random per-list seed.
 */
#include "wkd/wkd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/limits.h"

#define FLAG_WILDCARD 0x01u
#define RECORD_HEADER 2u
#define MAX_LABELS 128u

struct tp_wkd {
	uint8_t *arena;    /* from malloc(), arena_cap octets */
	size_t arena_len, arena_cap;
	uint32_t *slots;   /* from calloc(), n_slots */
	uint16_t *tags;    /* from calloc(), n_slots */
	size_t n_slots;
	size_t n_entries;
	uint64_t seed;
};

static uint64_t absorb(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t chunk = 0;
		size_t k = n - i < 8 ? n - i : 8;
		memcpy(&chunk, p + i, k);
		h = (h ^ chunk) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 29;
	}
	return h;
}

/* The final mix (MurmurHash3's fmix64), with the kind folded in so that
 * `example.net.` and `.example.net.` are different keys. */
static uint64_t finish(uint64_t h, bool wildcard)
{
	h ^= wildcard ? UINT64_C(0x5bd1e9955bd1e995) : 0;
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/* Label start offsets of a wire name, left to right; returns the count. */
static size_t label_offsets(const struct tp_dns_name *name, uint8_t off[MAX_LABELS])
{
	size_t n = 0, p = 0;
	while (p < name->len && name->wire[p] != 0 && n < MAX_LABELS) {
		off[n++] = (uint8_t)p;
		p += 1u + name->wire[p];
	}
	return n;
}

/* state[i] = hash state of the suffix starting at label i; state[n] is the
 * root (the seed). */
static void suffix_states(const struct tp_wkd *w, const struct tp_dns_name *name,
			  const uint8_t *off, size_t n, uint64_t *state)
{
	state[n] = w->seed;
	for (size_t i = n; i-- > 0;)
		state[i] = absorb(state[i + 1], name->wire + off[i], 1u + name->wire[off[i]]);
}

static size_t slot_of(const struct tp_wkd *w, uint64_t h)
{
	/* Multiply-shift maps the top 32 bits onto [0, n_slots). */
	return (size_t)(((h >> 32) * (uint64_t)w->n_slots) >> 32);
}

static uint16_t tag_of(uint64_t h)
{
	uint16_t t = (uint16_t)h;
	return t ? t : 1;
}

/* Find key (wire[0..len), kind) with hash h. Returns the arena offset or
 * UINT32_MAX; *out_slot is where it is or where it would go. */
static uint32_t find(const struct tp_wkd *w, uint64_t h, const uint8_t *wire, size_t len,
		     bool wildcard, size_t *out_slot)
{
	size_t i = slot_of(w, h);
	uint16_t tag = tag_of(h);
	uint8_t flags = wildcard ? FLAG_WILDCARD : 0;
	for (;;) {
		uint16_t t = w->tags[i];
		if (t == 0)
			break;
		if (t == tag) {
			const uint8_t *rec = w->arena + w->slots[i];
			if (rec[0] == flags && rec[1] == len && memcmp(rec + RECORD_HEADER, wire, len) == 0) {
				*out_slot = i;
				return w->slots[i];
			}
		}
		if (++i == w->n_slots)
			i = 0;
	}
	*out_slot = i;
	return UINT32_MAX;
}

bool tp_wkd_lookup(const struct tp_wkd *w, const struct tp_dns_name *name,
		   struct tp_wkd_match *out)
{
	uint8_t off[MAX_LABELS];
	uint64_t state[MAX_LABELS + 1];
	size_t slot;

	if (w == NULL || w->n_entries == 0 || name->len == 0 || name->len > TP_DNS_NAME_MAX)
		return false;
	size_t n = label_offsets(name, off);
	suffix_states(w, name, off, n, state);

	uint32_t at = find(w, finish(state[0], false), name->wire, name->len, false, &slot);
	if (at != UINT32_MAX) {
		out->id = at;
		out->wildcard = false;
		return true;
	}
	/* Most specific suffix first; never the root alone (i < n). */
	for (size_t i = 1; i < n; i++) {
		at = find(w, finish(state[i], true), name->wire + off[i], name->len - off[i], true,
			  &slot);
		if (at != UINT32_MAX) {
			out->id = at;
			out->wildcard = true;
			return true;
		}
	}
	return false;
}

/* Insert a parsed entry; returns 1 if new, 0 if a duplicate, or a code. */
static int insert(struct tp_wkd *w, const struct tp_dns_name *name, bool wildcard)
{
	uint8_t off[MAX_LABELS];
	uint64_t state[MAX_LABELS + 1];
	size_t slot;

	size_t n = label_offsets(name, off);
	suffix_states(w, name, off, n, state);
	uint64_t h = finish(state[0], wildcard);
	if (find(w, h, name->wire, name->len, wildcard, &slot) != UINT32_MAX)
		return 0;
	if ((w->n_entries + 1) * 5 > w->n_slots * 4)
		return TP_EBUG; /* the table was sized from the line count */
	if (w->arena_cap - w->arena_len < RECORD_HEADER + name->len)
		return TP_EBUG;
	uint8_t *rec = w->arena + w->arena_len;
	rec[0] = wildcard ? FLAG_WILDCARD : 0;
	rec[1] = (uint8_t)name->len;
	memcpy(rec + RECORD_HEADER, name->wire, name->len);
	w->slots[slot] = (uint32_t)w->arena_len;
	w->tags[slot] = tag_of(h);
	w->arena_len += RECORD_HEADER + name->len;
	w->n_entries++;
	return 1;
}

/* An empty list sized for at most max_entries names of total text size. */
static int list_new(size_t max_entries, size_t text_size, struct tp_wkd **out)
{
	if (max_entries > TP_WKD_MAX_ENTRIES)
		return TP_ETOOBIG;
	/* A wire name is at most one octet longer than its text (escapes only
	 * shrink), plus the record header. */
	size_t arena = text_size + max_entries * (RECORD_HEADER + 1) + 1;
	if (arena > UINT32_MAX)
		return TP_ETOOBIG;
	struct tp_wkd *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->n_slots = max_entries + max_entries / 4 + 2;
	w->arena_cap = arena;
	w->arena = malloc(arena);
	w->slots = calloc(w->n_slots, sizeof(*w->slots));
	w->tags = calloc(w->n_slots, sizeof(*w->tags));
	if (w->arena == NULL || w->slots == NULL || w->tags == NULL ||
	    getrandom(&w->seed, sizeof(w->seed), 0) != (ssize_t)sizeof(w->seed)) {
		tp_wkd_free(w);
		return -ENOMEM;
	}
	*out = w;
	return 0;
}

/* Parse one line into a name. Returns NULL, or why it is bad. */
static const char *parse_line(const char *text, size_t len, struct tp_dns_name *name,
			      bool *wildcard)
{
	*wildcard = false;
	if (len >= 2 && text[0] == '.') {
		*wildcard = true;
		text++;
		len--;
	}
	/* The last character must be an unescaped dot (an even run of
	 * backslashes before it). */
	size_t bs = 0;
	while (bs + 1 < len && text[len - 2 - bs] == '\\')
		bs++;
	if (len == 0 || text[len - 1] != '.' || bs % 2 == 1)
		return "no trailing dot (names are fully qualified: example.com.)";
	switch (tp_dns_name_from_text(text, len, name)) {
	case 0:
		break;
	case TP_ELABEL:
		return "label longer than 63 octets";
	case TP_ENAMELEN:
		return "name longer than 255 octets";
	default:
		return "not a domain name (empty label or bad escape)";
	}
	if (*wildcard && name->n_labels == 0)
		return "a suffix entry needs at least one label";
	for (size_t i = 0; i < name->len; i++)
		if (name->wire[i] >= 'A' && name->wire[i] <= 'Z')
			return "upper-case letters (the list is lowercase)";
	return NULL;
}

static int add_line(struct tp_wkd *w, const char *text, size_t len, uint64_t lineno,
		    tp_wkd_bad_line_fn bad_line, void *ctx, struct tp_wkd_stats *st)
{
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len == 0 || text[0] == '#') {
		st->skipped++;
		return 0;
	}
	struct tp_dns_name name;
	bool wildcard;
	const char *why = parse_line(text, len, &name, &wildcard);
	if (why != NULL) {
		st->bad++;
		if (bad_line)
			bad_line(ctx, lineno, why);
		return 0;
	}
	int rc = insert(w, &name, wildcard);
	if (rc < 0)
		return rc;
	if (rc == 0)
		st->duplicates++;
	else if (wildcard)
		st->wildcard++;
	else
		st->exact++;
	return 0;
}

static int build_from_text(const char *text, size_t size, tp_wkd_bad_line_fn bad_line,
			   void *ctx, struct tp_wkd **out, struct tp_wkd_stats *st)
{
	size_t lines = 0;
	for (const char *p = text; p < text + size;) {
		const char *nl = memchr(p, '\n', (size_t)(text + size - p));
		lines++;
		p = nl ? nl + 1 : text + size;
	}
	struct tp_wkd *w;
	int rc = list_new(lines, size, &w);
	if (rc < 0)
		return rc;
	uint64_t lineno = 0;
	for (const char *p = text; rc == 0 && p < text + size;) {
		const char *nl = memchr(p, '\n', (size_t)(text + size - p));
		const char *end = nl ? nl : text + size;
		st->lines = ++lineno;
		rc = add_line(w, p, (size_t)(end - p), lineno, bad_line, ctx, st);
		p = nl ? nl + 1 : text + size;
	}
	if (rc == 0 && st->bad > 0)
		rc = TP_EMALF;
	if (rc < 0) {
		tp_wkd_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int tp_wkd_load(const char *path, tp_wkd_bad_line_fn bad_line, void *ctx,
		struct tp_wkd **out, struct tp_wkd_stats *out_stats)
{
	struct tp_wkd_stats st = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	int rc;
	if (sb.st_size == 0) {
		rc = build_from_text("", 0, bad_line, ctx, out, &st);
	} else {
		void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			rc = -errno;
		} else {
			(void)madvise(map, (size_t)sb.st_size, MADV_SEQUENTIAL);
			rc = build_from_text(map, (size_t)sb.st_size, bad_line, ctx, out, &st);
			munmap(map, (size_t)sb.st_size);
		}
	}
	close(fd);
	if (out_stats)
		*out_stats = st;
	return rc;
}

int tp_wkd_build(const char *const *names, size_t n, struct tp_wkd **out,
		 struct tp_wkd_stats *out_stats)
{
	struct tp_wkd_stats st = { 0 };
	size_t text = 0;
	for (size_t i = 0; i < n; i++)
		text += strlen(names[i]);
	struct tp_wkd *w;
	int rc = list_new(n, text, &w);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		st.lines = i + 1;
		rc = add_line(w, names[i], strlen(names[i]), i + 1, NULL, NULL, &st);
	}
	if (rc == 0 && st.bad > 0)
		rc = TP_EMALF;
	if (out_stats)
		*out_stats = st;
	if (rc < 0) {
		tp_wkd_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void tp_wkd_free(struct tp_wkd *w)
{
	if (w == NULL)
		return;
	free(w->arena);
	free(w->slots);
	free(w->tags);
	free(w);
}

size_t tp_wkd_size(const struct tp_wkd *w)
{
	return w ? w->n_entries : 0;
}

int tp_wkd_entry(const struct tp_wkd *w, uint32_t id, struct tp_dns_name *out,
		 bool *out_wildcard)
{
	if (w == NULL || (size_t)id + RECORD_HEADER > w->arena_len)
		return TP_EINVAL;
	const uint8_t *rec = w->arena + id;
	size_t len = rec[1];
	if (len == 0 || len > TP_DNS_NAME_MAX || id + RECORD_HEADER + len > w->arena_len)
		return TP_EINVAL;
	memcpy(out->wire, rec + RECORD_HEADER, len);
	out->len = (uint16_t)len;
	uint8_t off[MAX_LABELS];
	out->n_labels = (uint8_t)label_offsets(out, off);
	*out_wildcard = (rec[0] & FLAG_WILDCARD) != 0;
	return 0;
}

size_t tp_wkd_memory(const struct tp_wkd *w)
{
	if (w == NULL)
		return 0;
	return sizeof(*w) + w->arena_cap + w->n_slots * (sizeof(*w->slots) + sizeof(*w->tags));
}
