/* SPDX-License-Identifier: BSD-2-Clause
 *
 * wkd.c - the well-known domains list (see wkd.h).
 *
 * Memory layout, for 10 million entries in under 300 MB:
 *   arena: records [flags][wire length][wire name], back to back, ~20 octets
 *          per entry for typical names (no pointers, no per-entry malloc);
 *   two tables, exact entries and suffix entries, of 64-octet groups, each
 *   one cache line holding 10 slots: 10 uint16_t tags (0 = empty, else 16
 *   hash bits, never 0) and 10 uint32_t arena offsets; load factor <= 0.8.
 * A search reads one group and stops at the first group with a free slot:
 * there are no deletions, so a key is never stored past a group that had
 * room. A miss, the common case of the suffix fallback, thus costs about one
 * cache line; a hit one more, in the arena, and only when 16 more hash bits
 * agree. With no suffix entries at all (the shipped list) the fallback is
 * skipped.
 *
 * Hashing: a name's hash is built from its rightmost label leftwards, so the
 * hashes of all its suffixes fall out of one pass (a suffix is the tail of
 * the name). The state starts from a random per-list seed.
 */
#include "wkd/wkd.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "util/limits.h"
#include "util/mix.h"
#include "wkd/dawg.h"

#define FLAG_WILDCARD 0x01u
#define RECORD_HEADER 2u
#define MAX_LABELS 128u

#define GROUP 10u

struct group {
	uint16_t tag[GROUP];
	uint32_t at[GROUP];
	uint32_t unused;
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct group) == 64, "a group is one cache line");

struct table {
	struct group *groups; /* from big_alloc(), n_groups, zeroed */
	size_t n_groups;
	size_t n;        /* entries stored */
	size_t capacity; /* entries it was sized for */
};

struct tp_wkd {
	uint8_t *arena;    /* from big_alloc(), arena_cap octets */
	size_t arena_len, arena_cap;
	struct table exact, suffix;
	/* suffix_labels[k]: some suffix entry has k labels, so suffixes of
	 * other lengths need no probe. */
	bool suffix_labels[MAX_LABELS + 1];
	/* One bit per suffix-entry hash (about 8 bits per entry): most suffix
	 * probes of a query end here, in a bitmap small enough to stay cached,
	 * instead of in the table. */
	uint64_t *suffix_filter;  /* from calloc(), filter_mask / 64 + 1 words */
	uint64_t filter_mask;
	uint64_t seed;
};

/* Mixes one label (length octet and content, n octets at p) into h.
 * p must have 8 readable octets past the label: the last chunk is loaded
 * whole and masked (see suffix_states). */
static uint64_t absorb(uint64_t h, const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t chunk;
		memcpy(&chunk, p + i, 8);
		chunk = le64toh(chunk);
		h = (h ^ chunk) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 29;
	}
	if (i < n) {
		uint64_t chunk;
		memcpy(&chunk, p + i, 8);
		chunk = le64toh(chunk) & (~UINT64_C(0) >> (64 - 8 * (n - i))); /* first n - i octets */
		h = (h ^ chunk) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 29;
	}
	return h;
}

/* The final mix (MurmurHash3's fmix64), with the kind folded in so that
 * `example.net.` and `.example.net.` are different keys. */
static uint64_t finish(uint64_t h, bool wildcard)
{
	return tp_fmix64(h ^ (wildcard ? UINT64_C(0x5bd1e9955bd1e995) : 0));
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
	/* A copy with 8 spare octets, so absorb() loads whole 8-octet chunks. */
	uint8_t wire[TP_DNS_NAME_MAX + 8];
	memcpy(wire, name->wire, name->len);
	memset(wire + name->len, 0, 8);
	state[n] = w->seed;
	for (size_t i = n; i-- > 0;)
		state[i] = absorb(state[i + 1], wire + off[i], 1u + wire[off[i]]);
}

static size_t group_of(const struct table *t, uint64_t h)
{
	/* Multiply-shift maps the top 32 bits onto [0, n_groups). */
	return (size_t)(((h >> 32) * (uint64_t)t->n_groups) >> 32);
}

static uint16_t tag_of(uint64_t h)
{
	uint16_t t = (uint16_t)h;
	return t ? t : 1;
}

/* Bit j set: tag[j] == tag; bit 16 + j set: tag[j] is free. */
static unsigned group_match(const struct group *g, uint16_t tag)
{
#ifdef __SSE2__
	/* Tags 0-7 in one register, 8-9 in the low lanes of another; packing
	 * the 16-bit comparisons to bytes gives one mask bit per tag. */
	uint32_t last2;
	memcpy(&last2, &g->tag[8], sizeof(last2));
	__m128i lo = _mm_load_si128((const __m128i *)(const void *)g->tag);
	__m128i hi = _mm_cvtsi32_si128((int)last2);
	__m128i want = _mm_set1_epi16((short)tag), zero = _mm_setzero_si128();
	unsigned eq = (unsigned)_mm_movemask_epi8(
		_mm_packs_epi16(_mm_cmpeq_epi16(lo, want), _mm_cmpeq_epi16(hi, want)));
	unsigned free_ = (unsigned)_mm_movemask_epi8(
		_mm_packs_epi16(_mm_cmpeq_epi16(lo, zero), _mm_cmpeq_epi16(hi, zero)));
	/* Lanes past tag 9 hold zeros: never equal to a tag (never 0), always
	 * "free", so they are masked off. */
	return (eq & 0x3ffu) | (free_ & 0x3ffu) << 16;
#else
	unsigned bits = 0;
	for (unsigned j = 0; j < GROUP; j++) {
		bits |= (unsigned)(g->tag[j] == tag) << j;
		bits |= (unsigned)(g->tag[j] == 0) << (16 + j);
	}
	return bits;
#endif
}

/* Find key wire[0..len) with hash h in t. Returns the arena offset or
 * UINT32_MAX; *out_slot is where it is, or the free slot where it goes. */
static uint32_t find(const struct tp_wkd *w, const struct table *t, uint64_t h,
		     const uint8_t *wire, size_t len, size_t *out_slot)
{
	if (t->n_groups == 0)
		return UINT32_MAX;
	uint16_t tag = tag_of(h);
	size_t g = group_of(t, h);
	for (;;) {
		const struct group *grp = &t->groups[g];
		unsigned bits = group_match(grp, tag);
		for (unsigned eq = bits & 0xffffu; eq != 0; eq &= eq - 1) {
			unsigned j = (unsigned)__builtin_ctz(eq);
			uint32_t at = grp->at[j];
			const uint8_t *rec = w->arena + at;
			if (rec[1] == len && memcmp(rec + RECORD_HEADER, wire, len) == 0) {
				*out_slot = g * GROUP + j;
				return at;
			}
		}
		if (bits >> 16) {
			*out_slot = g * GROUP + (size_t)__builtin_ctz(bits >> 16);
			return UINT32_MAX;
		}
		if (++g == t->n_groups)
			g = 0;
	}
}

bool tp_wkd_lookup(const struct tp_wkd *w, const struct tp_dns_name *name,
		   struct tp_wkd_match *out)
{
	uint8_t off[MAX_LABELS];
	uint64_t state[MAX_LABELS + 1];
	size_t slot;

	if (w == NULL || name->len == 0 || name->len > TP_DNS_NAME_MAX)
		return false;
	size_t n = label_offsets(name, off);
	suffix_states(w, name, off, n, state);

	uint32_t at = find(w, &w->exact, finish(state[0], false), name->wire, name->len, &slot);
	if (at != UINT32_MAX) {
		out->id = at;
		out->wildcard = false;
		return true;
	}
	if (w->suffix.n == 0)
		return false;
	/* Every suffix group this lookup may read is known now: ask for all
	 * of them at once, so their cache misses overlap instead of queueing. */
	bool any = false, probe[MAX_LABELS];
	for (size_t i = 1; i < n; i++) {
		probe[i] = false;
		if (!w->suffix_labels[n - i])
			continue;
		state[i] = finish(state[i], true);
		uint64_t bit = (state[i] >> 16) & w->filter_mask;
		if ((w->suffix_filter[bit / 64] >> (bit % 64) & 1) == 0)
			continue; /* certainly no entry: no probe */
		probe[i] = any = true;
		__builtin_prefetch(&w->suffix.groups[group_of(&w->suffix, state[i])]);
	}
	if (!any)
		return false;
	/* Most specific suffix first; never the root alone (i < n). state[i]
	 * holds the finished hash of each suffix length that exists. */
	for (size_t i = 1; i < n; i++) {
		if (!probe[i])
			continue;
		at = find(w, &w->suffix, state[i], name->wire + off[i], name->len - off[i], &slot);
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
	uint8_t off[MAX_LABELS] = { 0 };
	uint64_t state[MAX_LABELS + 1];
	size_t slot;
	struct table *t = wildcard ? &w->suffix : &w->exact;

	size_t n = label_offsets(name, off);
	suffix_states(w, name, off, n, state);
	uint64_t h = finish(state[0], wildcard);
	if (find(w, t, h, name->wire, name->len, &slot) != UINT32_MAX)
		return 0;
	/* Both are sized from the line count before parsing. */
	if (t->n == t->capacity || w->arena_cap - w->arena_len < RECORD_HEADER + name->len)
		return TP_EBUG;
	uint8_t *rec = w->arena + w->arena_len;
	rec[0] = wildcard ? FLAG_WILDCARD : 0;
	rec[1] = (uint8_t)name->len;
	memcpy(rec + RECORD_HEADER, name->wire, name->len);
	t->groups[slot / GROUP].at[slot % GROUP] = (uint32_t)w->arena_len;
	t->groups[slot / GROUP].tag[slot % GROUP] = tag_of(h);
	t->n++;
	if (wildcard) {
		w->suffix_labels[n] = true;
		uint64_t bit = (h >> 16) & w->filter_mask;
		w->suffix_filter[bit / 64] |= UINT64_C(1) << (bit % 64);
	}
	w->arena_len += RECORD_HEADER + name->len;
	return 1;
}

/* Memory for a big table: 2 MiB aligned and marked for transparent huge
 * pages where the kernel offers them, because random lookups over hundreds
 * of megabytes otherwise spend much of their time on TLB misses. Small
 * tables take ordinary 64-octet aligned memory. Free with free(). */
static void *big_alloc(size_t size)
{
	const size_t huge = 2u * 1024u * 1024u;
	if (size < huge)
		return aligned_alloc(64, (size + 63u) / 64u * 64u);
	size = (size + huge - 1u) / huge * huge;
	void *p = aligned_alloc(huge, size);
	if (p != NULL)
		(void)madvise(p, size, MADV_HUGEPAGE); /* a hint: failure is fine */
	return p;
}

/* Room for n entries at a load factor of at most 0.8. */
static int table_init(struct table *t, size_t n)
{
	t->capacity = n;
	t->n_groups = n == 0 ? 0 : (n + n / 4) / GROUP + 1;
	if (t->n_groups == 0)
		return 0;
	t->groups = big_alloc(t->n_groups * sizeof(*t->groups));
	if (t->groups == NULL)
		return -ENOMEM;
	memset(t->groups, 0, t->n_groups * sizeof(*t->groups));
	return 0;
}

static void table_free(struct table *t)
{
	free(t->groups);
}

/* An empty list for at most n_exact + n_suffix names of total text size. */
static int list_new(size_t n_exact, size_t n_suffix, size_t text_size, struct tp_wkd **out)
{
	size_t max_entries = n_exact + n_suffix;
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
	w->arena_cap = arena;
	w->arena = big_alloc(arena);
	size_t bits = 64;
	while (bits < n_suffix * 8)
		bits *= 2;
	w->filter_mask = bits - 1;
	w->suffix_filter = calloc(bits / 64, sizeof(uint64_t));
	if (w->arena == NULL || w->suffix_filter == NULL || table_init(&w->exact, n_exact) < 0 ||
	    table_init(&w->suffix, n_suffix) < 0 ||
	    getrandom(&w->seed, sizeof(w->seed), 0) != (ssize_t)sizeof(w->seed)) {
		tp_wkd_free(w);
		return -ENOMEM;
	}
	*out = w;
	return 0;
}

/* Whether a line is a suffix entry (".example.net."), for sizing; "." alone
 * is the root, an exact entry. */
static bool is_suffix_entry(const char *text, size_t len)
{
	return len >= 2 && text[0] == '.' && text[1] != '\r';
}

/* Parse one line into a name. Returns NULL, or why it is bad. */
static const char *parse_line(const char *text, size_t len, struct tp_dns_name *name,
			      bool *wildcard)
{
	*wildcard = false;
	if (is_suffix_entry(text, len)) {
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

/* Add one entry (a text line without comment handling, or a DAWG word). */
static int add_entry(struct tp_wkd *w, const char *text, size_t len, uint64_t lineno,
		     tp_wkd_bad_line_fn bad_line, void *ctx, struct tp_wkd_stats *st)
{
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

static int add_line(struct tp_wkd *w, const char *text, size_t len, uint64_t lineno,
		    tp_wkd_bad_line_fn bad_line, void *ctx, struct tp_wkd_stats *st)
{
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (len == 0 || text[0] == '#') {
		st->skipped++;
		return 0;
	}
	return add_entry(w, text, len, lineno, bad_line, ctx, st);
}

static int build_from_text(const char *text, size_t size, tp_wkd_bad_line_fn bad_line,
			   void *ctx, struct tp_wkd **out, struct tp_wkd_stats *st)
{
	size_t lines = 0, suffix_lines = 0;
	for (const char *p = text; p < text + size;) {
		const char *nl = memchr(p, '\n', (size_t)(text + size - p));
		const char *end = nl ? nl : text + size;
		lines++;
		suffix_lines += is_suffix_entry(p, (size_t)(end - p));
		p = nl ? nl + 1 : text + size;
	}
	struct tp_wkd *w;
	int rc = list_new(lines - suffix_lines, suffix_lines, size, &w);
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

/* DAWG words are sized in a first walk and added in a second. */
struct dawg_build {
	size_t n, suffixes, text;
	struct tp_wkd *w;
	tp_wkd_bad_line_fn bad_line;
	void *ctx;
	struct tp_wkd_stats *st;
};

static int dawg_count(void *ctx, uint64_t rank, const uint32_t *word, size_t n)
{
	(void)rank;
	struct dawg_build *d = ctx;
	d->n++;
	d->suffixes += n >= 2 && word[0] == '.';
	d->text += n;
	return 0;
}

static int dawg_add(void *ctx, uint64_t rank, const uint32_t *word, size_t n)
{
	struct dawg_build *d = ctx;
	char text[TP_DAWG_WORD_MAX];
	d->st->lines = rank + 1;
	if (n == 0) {
		d->st->bad++;
		if (d->bad_line)
			d->bad_line(d->ctx, rank + 1, "empty word");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		/* Code points beyond ASCII have no place in a name's text form
		 * (the reference's names escape them as \DDD). */
		if (word[i] < 0x21 || word[i] > 0x7e) {
			d->st->bad++;
			if (d->bad_line)
				d->bad_line(d->ctx, rank + 1, "character outside printable ASCII");
			return 0;
		}
		text[i] = (char)word[i];
	}
	return add_entry(d->w, text, n, rank + 1, d->bad_line, d->ctx, d->st);
}

/* A DAWG file's words, each checked like a text line; bad words are
 * reported with their rank + 1 as the line number, and a file whose
 * structure does not decode as line 0. */
static int build_from_dawg(const uint8_t *buf, size_t size, tp_wkd_bad_line_fn bad_line,
			   void *ctx, struct tp_wkd **out, struct tp_wkd_stats *st)
{
	struct dawg_build d = { .bad_line = bad_line, .ctx = ctx, .st = st };
	int rc = tp_dawg_words(buf, size, dawg_count, &d);
	if (rc == 0)
		rc = list_new(d.n - d.suffixes, d.suffixes, d.text, &d.w);
	if (rc == 0)
		rc = tp_dawg_words(buf, size, dawg_add, &d);
	if (rc == TP_EMALF || rc == TP_ETRUNC) {
		st->bad++;
		if (bad_line)
			bad_line(ctx, 0, rc == TP_ETRUNC ? "DAWG file truncated"
							 : "DAWG file corrupt (does not decode)");
		rc = TP_EMALF;
	}
	if (rc == 0 && st->bad > 0)
		rc = TP_EMALF;
	if (rc < 0) {
		tp_wkd_free(d.w);
		return rc;
	}
	*out = d.w;
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
			if (tp_dawg_detect(map, (size_t)sb.st_size))
				rc = build_from_dawg(map, (size_t)sb.st_size, bad_line, ctx, out, &st);
			else
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
	size_t text = 0, suffixes = 0;
	for (size_t i = 0; i < n; i++) {
		text += strlen(names[i]);
		suffixes += is_suffix_entry(names[i], strlen(names[i]));
	}
	struct tp_wkd *w;
	int rc = list_new(n - suffixes, suffixes, text, &w);
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
	table_free(&w->exact);
	table_free(&w->suffix);
	free(w->suffix_filter);
	free(w);
}

size_t tp_wkd_size(const struct tp_wkd *w)
{
	return w ? w->exact.n + w->suffix.n : 0;
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
	return sizeof(*w) + w->arena_cap + (w->filter_mask / 64 + 1) * sizeof(uint64_t) +
	       (w->exact.n_groups + w->suffix.n_groups) * sizeof(struct group);
}
