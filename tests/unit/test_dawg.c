/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_dawg.c - the DAWG reader (lib/wkd/dawg.c) and DAWG lists in
 * tp_wkd_load: the reference's own files decode to the word lists decoded
 * independently in ../shared/data (README there), lists built from a DAWG
 * and from text match alike, hand-made broken files are refused, and
 * truncated or bit-flipped files never crash.
 *
 * A small trie writer below encodes word sets from the format description
 * (edm-spec §2.3), independently of the reader: random sets of words,
 * including code points beyond ASCII and words that are prefixes of
 * others, must come back exactly, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/limits.h"
#include "wkd/dawg.h"
#include "wkd/wkd.h"

static const char *shared_dir(void)
{
	const char *s = getenv("TAPIR_SHARED");
	return s ? s : "../shared";
}

/* Reads a whole file; returns NULL if it cannot be opened. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	uint8_t *buf = malloc((size_t)n + 1u);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static uint64_t rng_state = 0x243f6a8885a308d3u;

static uint64_t rnd(void)
{
	/* splitmix64: fixed seed, same sequence on every run */
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* ---- collecting words ---- */

struct words {
	char **w; /* UTF-8 */
	size_t n, cap;
	uint64_t next_rank;
	size_t stop_after; /* 0 = never */
};

static size_t utf8(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int collect(void *ctx, uint64_t rank, const uint32_t *word, size_t n)
{
	struct words *ws = ctx;
	assert_int_equal(rank, ws->next_rank);
	ws->next_rank++;
	assert_true(n <= TP_DAWG_WORD_MAX);
	char *s = malloc(n * 4u + 1u);
	assert_non_null(s);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		assert_true(word[i] <= 0x10ffff);
		k += utf8(word[i], s + k);
	}
	s[k] = '\0';
	if (ws->n == ws->cap) {
		ws->cap = ws->cap ? ws->cap * 2 : 64;
		ws->w = realloc(ws->w, ws->cap * sizeof(*ws->w));
		assert_non_null(ws->w);
	}
	ws->w[ws->n++] = s;
	if (ws->stop_after && ws->n >= ws->stop_after)
		return 1;
	return 0;
}

static void words_free(struct words *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		free(ws->w[i]);
	free(ws->w);
	memset(ws, 0, sizeof(*ws));
}

/* The lines of a text file (newline-terminated, as the twins are). */
static size_t split_lines(char *text, size_t len, char ***out)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	char **v = calloc(n + 1, sizeof(*v));
	assert_non_null(v);
	size_t k = 0;
	char *p = text;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			text[i] = '\0';
			v[k++] = p;
			p = text + i + 1;
		}
	}
	assert_true(p == text + len); /* every line ends with a newline */
	*out = v;
	return n;
}

/* ---- the reference's files ---- */

static void test_dawg_small_files_match_their_twins(void **state)
{
	(void)state;
	/* Header fields from the first line of each *.dump.txt and from the
	 * table in ../shared/data/README.md. */
	static const struct {
		const char *name;
		uint32_t size;
		uint8_t cbits, abits;
		uint64_t words, nodes, edges, first;
	} files[] = {
		{ "ignored", 27, 7, 8, 1, 15, 14, 72 },
		{ "ignored-question-names.valid1", 43, 7, 9, 2, 24, 25, 72 },
		{ "ignored-question-names.valid2", 43, 7, 9, 2, 24, 25, 72 },
		{ "ignored-question-names.empty", 11, 0, 7, 0, 1, 0, 72 },
	};
	char path[4096];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len, tlen;
		snprintf(path, sizeof(path), "%s/data/dawg/%s.dawg", shared_dir(), files[i].name);
		uint8_t *buf = slurp(path, &len);
		if (buf == NULL)
			skip(); /* ../shared absent */
		snprintf(path, sizeof(path), "%s/data/dawg/%s.txt", shared_dir(), files[i].name);
		char *text = (char *)slurp(path, &tlen);
		assert_non_null(text);

		struct tp_dawg_header h;
		assert_true(tp_dawg_detect(buf, len));
		assert_int_equal(tp_dawg_header(buf, len, &h), 0);
		assert_int_equal(h.size, files[i].size);
		assert_int_equal(h.cbits, files[i].cbits);
		assert_int_equal(h.abits, files[i].abits);
		assert_int_equal(h.n_words, files[i].words);
		assert_int_equal(h.n_nodes, files[i].nodes);
		assert_int_equal(h.n_edges, files[i].edges);
		assert_int_equal(h.first_node_bit, files[i].first);

		struct words ws = { 0 };
		assert_int_equal(tp_dawg_words(buf, len, collect, &ws), 0);
		char **lines;
		size_t n = split_lines(text, tlen, &lines);
		assert_int_equal(ws.n, n);
		assert_int_equal(ws.n, files[i].words);
		for (size_t k = 0; k < n; k++)
			assert_string_equal(ws.w[k], lines[k]);
		words_free(&ws);
		free(lines);
		free(text);
		free(buf);
	}
}

static void test_dawg_shipped_list_matches_the_text(void **state)
{
	(void)state;
	char path[4096];
	size_t len, tlen;
	snprintf(path, sizeof(path), "%s/data/dawg/well-known-domains.dawg", shared_dir());
	uint8_t *buf = slurp(path, &len);
	if (buf == NULL)
		skip(); /* ../shared absent */
	snprintf(path, sizeof(path), "%s/data/well-known-domains.txt", shared_dir());
	char *text = (char *)slurp(path, &tlen);
	assert_non_null(text);

	struct tp_dawg_header h;
	assert_int_equal(tp_dawg_header(buf, len, &h), 0);
	assert_int_equal(h.n_words, 99999);
	assert_int_equal(h.abits, 23);
	assert_int_equal(h.first_node_bit, 120);

	struct words ws = { 0 };
	assert_int_equal(tp_dawg_words(buf, len, collect, &ws), 0);
	char **lines;
	size_t n = split_lines(text, tlen, &lines);
	assert_int_equal(n, 99999);
	assert_int_equal(ws.n, n);
	/* Same words in the same order; the text is sorted by byte value,
	 * so this is also the set in sorted (rank) order. */
	for (size_t k = 0; k < n; k++) {
		assert_string_equal(ws.w[k], lines[k]);
		if (k > 0)
			assert_true(strcmp(ws.w[k - 1], ws.w[k]) < 0);
	}
	/* Ranks from the README table (IndexOf of the reference). */
	assert_string_equal(ws.w[3577], "amazon.com.");
	assert_string_equal(ws.w[36973], "google.com.");
	assert_string_equal(ws.w[99998], "zzz.bwh.harvard.edu.");

	/* A callback's non-zero return stops the walk and comes back. */
	struct words part = { .stop_after = 10 };
	assert_int_equal(tp_dawg_words(buf, len, collect, &part), 1);
	assert_int_equal(part.n, 10);
	assert_string_equal(part.w[0], "0.gravatar.com.");
	words_free(&part);

	words_free(&ws);
	free(lines);
	free(text);
	free(buf);
}

/* Look text up (folded, as the edge does); returns hit and the entry. */
static bool lookup(const struct tp_wkd *w, const char *q, char *entry, size_t size, bool *wc)
{
	struct tp_dns_name n;
	if (tp_dns_name_from_text(q, strlen(q), &n) != 0)
		return false;
	tp_dns_name_fold(&n);
	struct tp_wkd_match m;
	if (!tp_wkd_lookup(w, &n, &m))
		return false;
	struct tp_dns_name e;
	assert_int_equal(tp_wkd_entry(w, m.id, &e, wc), 0);
	assert_int_equal(*wc, m.wildcard);
	assert_true(tp_dns_name_present(&e, entry, size) >= 0);
	return true;
}

static void same_lookup(const struct tp_wkd *a, const struct tp_wkd *b, const char *q)
{
	char ea[TP_DNS_PRESENT_MAX], eb[TP_DNS_PRESENT_MAX];
	bool wa = false, wb = false;
	bool ha = lookup(a, q, ea, sizeof(ea), &wa);
	bool hb = lookup(b, q, eb, sizeof(eb), &wb);
	assert_int_equal(ha, hb);
	if (ha) {
		assert_string_equal(ea, eb);
		assert_int_equal(wa, wb);
	}
}

static void test_dawg_lists_load_like_text_lists(void **state)
{
	(void)state;
	char dpath[4096], tpath[4096];
	struct tp_wkd *d, *t;
	struct tp_wkd_stats st;

	/* valid1: the wildcard semantics of the reference's ignore test. */
	snprintf(dpath, sizeof(dpath), "%s/data/dawg/ignored-question-names.valid1.dawg",
		 shared_dir());
	if (access(dpath, R_OK) != 0)
		skip(); /* ../shared absent */
	assert_int_equal(tp_wkd_load(dpath, NULL, NULL, &d, &st), 0);
	assert_int_equal(st.exact, 1);
	assert_int_equal(st.wildcard, 1);
	char e[TP_DNS_PRESENT_MAX];
	bool wc;
	assert_true(lookup(d, "www.example.net.", e, sizeof(e), &wc));
	assert_string_equal(e, "example.net.");
	assert_true(wc);
	assert_false(lookup(d, "example.net.", e, sizeof(e), &wc));
	assert_true(lookup(d, "EXAMPLE.com.", e, sizeof(e), &wc));
	assert_false(wc);
	assert_false(lookup(d, "www.example.com.", e, sizeof(e), &wc));
	tp_wkd_free(d);

	/* The 0-word DAWG is an empty list. */
	snprintf(dpath, sizeof(dpath), "%s/data/dawg/ignored-question-names.empty.dawg",
		 shared_dir());
	assert_int_equal(tp_wkd_load(dpath, NULL, NULL, &d, &st), 0);
	assert_int_equal(tp_wkd_size(d), 0);
	assert_false(lookup(d, "example.com.", e, sizeof(e), &wc));
	tp_wkd_free(d);

	/* The shipped list, both forms: every name and mutations of it. */
	snprintf(dpath, sizeof(dpath), "%s/data/dawg/well-known-domains.dawg", shared_dir());
	snprintf(tpath, sizeof(tpath), "%s/data/well-known-domains.txt", shared_dir());
	assert_int_equal(tp_wkd_load(dpath, NULL, NULL, &d, &st), 0);
	assert_int_equal(st.exact, 99999);
	assert_int_equal(st.bad, 0);
	assert_int_equal(tp_wkd_load(tpath, NULL, NULL, &t, NULL), 0);
	assert_int_equal(tp_wkd_size(d), tp_wkd_size(t));

	size_t tlen;
	char *text = (char *)slurp(tpath, &tlen);
	assert_non_null(text);
	char **lines;
	size_t n = split_lines(text, tlen, &lines);
	size_t hits = 0;
	for (size_t k = 0; k < n; k++) {
		assert_true(lookup(d, lines[k], e, sizeof(e), &wc));
		assert_string_equal(e, lines[k]);
		same_lookup(d, t, lines[k]);
		hits++;
	}
	assert_int_equal(hits, 99999);
	char q[600];
	for (int k = 0; k < 5000; k++) {
		const char *base = lines[rnd() % n];
		size_t bl = strlen(base);
		switch (rnd() % 5) {
		case 0: /* one label more */
			snprintf(q, sizeof(q), "www.%s", base);
			break;
		case 1: /* one label less */
			snprintf(q, sizeof(q), "%s", strchr(base, '.') + 1);
			if (q[0] == '\0')
				snprintf(q, sizeof(q), ".");
			break;
		case 2: /* one character changed */
			snprintf(q, sizeof(q), "%s", base);
			q[rnd() % (bl - 1)] = (char)('a' + rnd() % 26);
			break;
		case 3: /* upper case */
			snprintf(q, sizeof(q), "%s", base);
			q[0] = (char)(q[0] >= 'a' && q[0] <= 'z' ? q[0] - 32 : q[0]);
			break;
		default: { /* another TLD */
			size_t dot = bl - 1;
			while (dot > 0 && base[dot - 1] != '.')
				dot--;
			snprintf(q, sizeof(q), "%.*sorg.", (int)dot, base);
			break;
		}
		}
		same_lookup(d, t, q);
	}
	free(lines);
	free(text);
	tp_wkd_free(d);
	tp_wkd_free(t);
}

/* ---- an independent writer: a trie, encoded from the format text ---- */

#define MAXW 64   /* words per generated set */
#define MAXL 12   /* code points per generated word */
#define MAXN 1024 /* trie nodes */

struct tnode {
	bool final;
	size_t n_child;
	uint32_t ch[MAXW];
	size_t child[MAXW];
	uint64_t count; /* words in this subtree */
	uint64_t addr;
	bool fall; /* encoded as fallthrough (one child, right after it) */
};

struct trie {
	struct tnode node[MAXN];
	size_t n;
	size_t order[MAXN]; /* preorder */
	size_t n_order;
};

struct bw {
	uint8_t buf[65536];
	uint64_t pos;
};

static void put(struct bw *b, uint64_t v, unsigned n)
{
	for (unsigned i = n; i-- > 0;) {
		if ((v >> i) & 1u)
			b->buf[b->pos >> 3] |= (uint8_t)(0x80u >> (b->pos & 7u));
		b->pos++;
	}
}

static unsigned blen(uint64_t v)
{
	unsigned n = 0;
	while (v) {
		n++;
		v >>= 1;
	}
	return n;
}

static void put_varint(struct bw *b, uint64_t v)
{
	unsigned groups = 1;
	while (v >> (7u * groups))
		groups++;
	for (unsigned g = groups; g-- > 0;)
		put(b, ((v >> (7u * g)) & 0x7fu) | (g ? 0x80u : 0u), 8);
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >> (7u * n))
		n++;
	return n;
}

static size_t trie_add_node(struct trie *t)
{
	assert_true(t->n < MAXN);
	memset(&t->node[t->n], 0, sizeof(t->node[0]));
	return t->n++;
}

/* Words must be sorted and distinct. */
static void trie_build(struct trie *t, uint32_t words[][MAXL], const size_t *lens, size_t n)
{
	t->n = 0;
	trie_add_node(t);
	for (size_t i = 0; i < n; i++) {
		size_t cur = 0;
		for (size_t k = 0; k < lens[i]; k++) {
			struct tnode *nd = &t->node[cur];
			if (nd->n_child > 0 && nd->ch[nd->n_child - 1] == words[i][k]) {
				cur = nd->child[nd->n_child - 1];
				continue;
			}
			size_t c = trie_add_node(t);
			nd = &t->node[cur];
			nd->ch[nd->n_child] = words[i][k];
			nd->child[nd->n_child++] = c;
			cur = c;
		}
		t->node[cur].final = true;
	}
}

static uint64_t trie_count(struct trie *t, size_t i)
{
	struct tnode *nd = &t->node[i];
	t->order[t->n_order++] = i;
	nd->count = nd->final;
	for (size_t c = 0; c < nd->n_child; c++)
		nd->count += trie_count(t, nd->child[c]);
	return nd->count;
}

static unsigned node_nskip(const struct tnode *nd, const struct trie *t)
{
	uint64_t skip = nd->final;
	for (size_t c = 0; c < nd->n_child; c++)
		skip += t->node[nd->child[c]].count;
	return blen(skip);
}

/* Encode; returns the length. fall_ok: use fallthrough nodes where the
 * only child follows in the stream. */
static size_t trie_encode(struct trie *t, size_t n_words, bool fall_ok, struct bw *b)
{
	t->n_order = 0;
	trie_count(t, 0);
	uint32_t maxch = 0;
	uint64_t n_edges = 0;
	for (size_t i = 0; i < t->n; i++) {
		n_edges += t->node[i].n_child;
		for (size_t c = 0; c < t->node[i].n_child; c++)
			maxch = t->node[i].ch[c] > maxch ? t->node[i].ch[c] : maxch;
	}
	unsigned cbits = blen(maxch), wbits = blen(n_words), nskiplen = blen(wbits), abits = 1;
	uint64_t pos;
	for (;;) {
		pos = 48 + 8 * (varint_len(n_words) + varint_len(t->n) + varint_len(n_edges));
		for (size_t k = 0; k < t->n_order; k++) {
			struct tnode *nd = &t->node[t->order[k]];
			nd->addr = pos;
			nd->fall = fall_ok && nd->n_child == 1 && k + 1 < t->n_order &&
				   t->order[k + 1] == nd->child[0];
			pos += 2;
			if (nd->fall) {
				pos += cbits;
				continue;
			}
			unsigned nskip = node_nskip(nd, t);
			pos += 1;
			if (nd->n_child != 1)
				pos += 8 * varint_len(nd->n_child) + nskiplen;
			else
				nskip = 0;
			if (nd->n_child > 0)
				pos += nd->n_child * (cbits + nskip + abits) - nskip;
		}
		if (blen(pos) <= abits)
			break;
		abits = blen(pos);
	}
	memset(b, 0, sizeof(*b));
	size_t size = (size_t)((pos + 7) / 8);
	assert_true(size <= sizeof(b->buf));
	put(b, size, 32);
	put(b, cbits, 8);
	put(b, abits, 8);
	put_varint(b, n_words);
	put_varint(b, t->n);
	put_varint(b, n_edges);
	for (size_t k = 0; k < t->n_order; k++) {
		struct tnode *nd = &t->node[t->order[k]];
		assert_int_equal(b->pos, nd->addr);
		put(b, nd->final, 1);
		put(b, nd->fall, 1);
		if (nd->fall) {
			put(b, nd->ch[0], cbits);
			continue;
		}
		unsigned nskip = 0;
		if (nd->n_child == 1) {
			put(b, 1, 1);
		} else {
			nskip = node_nskip(nd, t);
			put(b, 0, 1);
			put_varint(b, nd->n_child);
			put(b, nskip, nskiplen);
		}
		uint64_t count = nd->final;
		for (size_t c = 0; c < nd->n_child; c++) {
			put(b, nd->ch[c], cbits);
			if (c > 0)
				put(b, count, nskip);
			put(b, t->node[nd->child[c]].addr, abits);
			count += t->node[nd->child[c]].count;
		}
	}
	return size;
}

static int cmp_word(const uint32_t *a, size_t la, const uint32_t *b, size_t lb)
{
	for (size_t i = 0; i < la && i < lb; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return la < lb ? -1 : la > lb;
}

static uint32_t gen_words[MAXW][MAXL];
static size_t gen_lens[MAXW];

/* A random sorted, distinct word set over a small alphabet (so words share
 * prefixes and some are prefixes of others); returns its size. */
static size_t gen_set(const uint32_t *alphabet, size_t n_alpha)
{
	size_t want = 1 + rnd() % MAXW, n = 0;
	while (n < want) {
		uint32_t w[MAXL];
		size_t l = 1 + rnd() % MAXL;
		for (size_t k = 0; k < l; k++)
			w[k] = alphabet[rnd() % n_alpha];
		/* insertion into sorted position, skipping duplicates */
		size_t at = 0;
		while (at < n && cmp_word(gen_words[at], gen_lens[at], w, l) < 0)
			at++;
		if (at < n && cmp_word(gen_words[at], gen_lens[at], w, l) == 0) {
			want--;
			continue;
		}
		memmove(&gen_words[at + 1], &gen_words[at], (n - at) * sizeof(gen_words[0]));
		memmove(&gen_lens[at + 1], &gen_lens[at], (n - at) * sizeof(gen_lens[0]));
		memcpy(gen_words[at], w, sizeof(w));
		gen_lens[at] = l;
		n++;
	}
	return n;
}

struct cps {
	size_t n;
	uint64_t bad; /* words that differ from gen_words */
};

static int compare_gen(void *ctx, uint64_t rank, const uint32_t *word, size_t n)
{
	struct cps *c = ctx;
	assert_int_equal(rank, c->n);
	assert_true(rank < MAXW);
	c->bad += cmp_word(word, n, gen_words[rank], gen_lens[rank]) != 0;
	c->n++;
	return 0;
}

static struct trie trie;
static struct bw bw;

static void test_dawg_random_sets_round_trip(void **state)
{
	(void)state;
	static const uint32_t ascii[] = { 'a', 'b', 'c', '.', '-' };
	static const uint32_t wide[] = { 'a', 0xe9, 0x5d0, 0x4e2d, 0x1f600, 0x10ffff };
	for (int round = 0; round < 400; round++) {
		bool use_wide = round % 2;
		size_t n = use_wide ? gen_set(wide, 6) : gen_set(ascii, 5);
		trie_build(&trie, gen_words, gen_lens, n);
		size_t len = trie_encode(&trie, n, round % 3 != 0, &bw);
		struct cps c = { 0 };
		assert_int_equal(tp_dawg_words(bw.buf, len, compare_gen, &c), 0);
		assert_int_equal(c.n, n);
		assert_int_equal(c.bad, 0);
	}
}

/* ---- hostile files ---- */

/* Checks what any decode yields: ranks in order, words strictly increasing. */
struct sane {
	uint64_t n;
	uint32_t prev[TP_DAWG_WORD_MAX];
	size_t prev_len;
};

static int check_sane(void *ctx, uint64_t rank, const uint32_t *word, size_t n)
{
	struct sane *s = ctx;
	assert_int_equal(rank, s->n);
	assert_true(n <= TP_DAWG_WORD_MAX);
	for (size_t i = 0; i < n; i++)
		assert_true(word[i] <= 0x10ffff);
	if (s->n > 0)
		assert_true(cmp_word(s->prev, s->prev_len, word, n) < 0);
	memcpy(s->prev, word, n * sizeof(*word));
	s->prev_len = n;
	s->n++;
	return s->n >= 100000; /* bound the work on a huge declared count */
}

static void decode_anything(const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1); /* exact size, for ASan */
	assert_non_null(copy);
	memcpy(copy, buf, len);
	struct sane s = { 0 };
	int rc = tp_dawg_words(copy, len, check_sane, &s);
	assert_true(rc == 0 || rc == 1 || rc == TP_EMALF || rc == TP_ETRUNC || rc == TP_ETOOBIG);
	free(copy);
}

static void set_size(uint8_t *buf, size_t len)
{
	buf[0] = (uint8_t)(len >> 24);
	buf[1] = (uint8_t)(len >> 16);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
}

static void test_dawg_truncations_and_bit_flips(void **state)
{
	(void)state;
	static const uint32_t ascii[] = { 'a', 'b', '.', 'z' };
	uint8_t work[65536];
	for (int round = 0; round < 60; round++) {
		size_t n = gen_set(ascii, 4);
		trie_build(&trie, gen_words, gen_lens, n);
		size_t len = trie_encode(&trie, n, round % 2, &bw);
		/* Every prefix: refused as truncated... */
		for (size_t cut = 0; cut < len; cut++) {
			memcpy(work, bw.buf, cut);
			struct sane s = { 0 };
			int rc = tp_dawg_words(work, cut, check_sane, &s);
			assert_true(rc == TP_ETRUNC || (cut >= 4 && rc == TP_EMALF));
			/* ...and with the size field patched to match, walked
			 * as far as it goes without reading past the end. */
			if (cut >= 4) {
				set_size(work, cut);
				decode_anything(work, cut);
			}
		}
		/* Random bit flips, 1 to 4 at a time. */
		for (int k = 0; k < 300; k++) {
			memcpy(work, bw.buf, len);
			int flips = 1 + (int)(rnd() % 4);
			for (int f = 0; f < flips; f++) {
				uint64_t bit = rnd() % (len * 8);
				work[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
			}
			decode_anything(work, len);
		}
	}
	/* The shared files too, when present. */
	char path[4096];
	snprintf(path, sizeof(path), "%s/data/dawg/ignored-question-names.valid1.dawg",
		 shared_dir());
	size_t len;
	uint8_t *buf = slurp(path, &len);
	if (buf == NULL)
		return;
	for (size_t cut = 0; cut <= len; cut++) {
		memcpy(work, buf, cut);
		if (cut >= 4)
			set_size(work, cut);
		decode_anything(work, cut);
	}
	for (uint64_t bit = 0; bit < len * 8; bit++) {
		memcpy(work, buf, len);
		work[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
		decode_anything(work, len);
	}
	free(buf);
}

static int count_words(void *ctx, uint64_t rank, const uint32_t *word, size_t n)
{
	(void)rank;
	(void)word;
	(void)n;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* Hand-made structures: {"a", "ab", "ac"} with each defect in turn. */
static size_t abc(struct bw *b, uint64_t words, uint32_t ch2, uint64_t skip2, bool leaf_final,
		  uint64_t leaf_addr_root, uint64_t child0)
{
	/* header 48 bits + 3 one-octet varints: root at 72. cbits 7, abits 8,
	 * nskip width field 2 bits (words 3: wbits 2). */
	memset(b, 0, sizeof(*b));
	b->pos = 32;
	put(b, 7, 8);
	put(b, 8, 8);
	put_varint(b, words);
	put_varint(b, 3);
	put_varint(b, 3);
	/* root @72: single edge 'a' -> @90 */
	put(b, 0, 1);
	put(b, 0, 1);
	put(b, 1, 1);
	put(b, 'a', 7);
	put(b, child0, 8);
	/* n1 @90: final, 2 edges, nskip 2: 'b' -> leaf, ch2 skip2 -> leaf */
	put(b, 1, 1);
	put(b, 0, 1);
	put(b, 0, 1);
	put_varint(b, 2);
	put(b, 2, 2);
	put(b, 'b', 7);
	put(b, leaf_addr_root ? 72 : 135, 8);
	put(b, ch2, 7);
	put(b, skip2, 2);
	put(b, 135, 8);
	/* leaf @135: 0 edges */
	assert_int_equal(b->pos, 135);
	put(b, leaf_final, 1);
	put(b, 0, 1);
	put(b, 0, 1);
	put_varint(b, 0);
	put(b, 0, 2);
	size_t size = (size_t)((b->pos + 7) / 8);
	uint64_t end = b->pos;
	b->pos = 0;
	put(b, size, 32);
	b->pos = end;
	return size;
}

static void test_dawg_refuses_broken_structures(void **state)
{
	(void)state;
	struct bw *b = &bw;
	uint64_t n = 0;
	size_t len = abc(b, 3, 'c', 2, true, 0, 90);
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), 0);
	assert_int_equal(n, 3);

	len = abc(b, 3, 'c', 1, true, 0, 90); /* rank of "ac" says 1 */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	len = abc(b, 3, 'b', 2, true, 0, 90); /* 'b' twice: not sorted */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	len = abc(b, 3, 'a', 2, true, 0, 90); /* 'a' after 'b' */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	len = abc(b, 3, 'c', 2, false, 0, 90); /* leaf is no word end */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	len = abc(b, 4, 'c', 2, true, 0, 90); /* fewer words than declared */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	len = abc(b, 2, 'c', 2, true, 0, 90); /* more words than declared */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	len = abc(b, 3, 'c', 2, true, 1, 90); /* 'b' leads back to the root */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	len = abc(b, 3, 'c', 2, true, 0, 72); /* the root is its own child */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	len = abc(b, 3, 'c', 2, true, 0, 0); /* address 0 */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	len = abc(b, 3, 'c', 2, true, 0, 250); /* past the end */
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);

	/* Size field against the buffer. */
	len = abc(b, 3, 'c', 2, true, 0, 90);
	assert_int_equal(tp_dawg_words(b->buf, len + 1, count_words, &n), TP_EMALF);
	assert_int_equal(tp_dawg_words(b->buf, len - 1, count_words, &n), TP_ETRUNC);
	assert_int_equal(tp_dawg_words(b->buf, 3, count_words, &n), TP_ETRUNC);
	/* Characters and addresses too wide, a varint too long. */
	b->buf[4] = 22;
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	b->buf[4] = 7;
	b->buf[5] = 36;
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
	b->buf[5] = 8;
	static const uint8_t long_varint[] = { 0, 0, 0, 12, 7, 8, 0x81, 0x80, 0x80, 0x80, 0x80, 0 };
	assert_int_equal(tp_dawg_words(long_varint, sizeof(long_varint), count_words, &n),
			 TP_EMALF);
	/* 0x60 << 21 = 201,326,592 words declared: above TP_DAWG_MAX_WORDS. */
	static const uint8_t huge[] = { 0, 0, 0, 12, 7, 8, 0xe0, 0x80, 0x80, 0, 1, 0 };
	assert_int_equal(tp_dawg_words(huge, sizeof(huge), count_words, &n), TP_ETOOBIG);

	/* A chain deeper than any word may be: 300 fallthrough nodes. */
	memset(b, 0, sizeof(*b));
	b->pos = 32;
	put(b, 7, 8);
	put(b, 16, 8);
	put_varint(b, 1);
	put_varint(b, 301);
	put_varint(b, 300);
	for (int i = 0; i < 300; i++) {
		put(b, 0, 1);
		put(b, 1, 1);
		put(b, 'a', 7);
	}
	put(b, 1, 1);
	put(b, 0, 1);
	put(b, 0, 1);
	put_varint(b, 0);
	put(b, 0, 1);
	len = (size_t)((b->pos + 7) / 8);
	set_size(b->buf, len);
	assert_int_equal(tp_dawg_words(b->buf, len, count_words, &n), TP_EMALF);
}

static void test_dawg_detect(void **state)
{
	(void)state;
	static const uint8_t dawg[] = { 0, 0, 0, 6, 0, 0 };
	assert_true(tp_dawg_detect(dawg, sizeof(dawg)));
	assert_true(tp_dawg_detect(dawg, 3)); /* truncated: starts with NUL */
	static const uint8_t text[] = "example.com.\n";
	assert_false(tp_dawg_detect(text, sizeof(text) - 1));
	assert_false(tp_dawg_detect(text, 0));
	static const uint8_t comment[] = "# list\n";
	assert_false(tp_dawg_detect(comment, sizeof(comment) - 1));
}

struct bad {
	uint64_t line[8];
	size_t n;
};

static void note_bad(void *ctx, uint64_t line, const char *why)
{
	struct bad *b = ctx;
	assert_non_null(why);
	assert_true(b->n < 8);
	b->line[b->n++] = line;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_dawg_list_reports_bad_words(void **state)
{
	(void)state;
	/* Sorted by code point: "Example.com.", "a..", "ok.", "\u00e9t\u00e9." */
	static const char *const words[] = { "Example.com.", "a..", "ok.", "\xc3\xa9t\xc3\xa9." };
	size_t n = 4;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)words[i];
		size_t l = 0;
		while (*p) {
			if (*p == 0xc3) {
				gen_words[i][l++] = 0xc0u | (p[1] & 0x3fu);
				p += 2;
			} else {
				gen_words[i][l++] = *p++;
			}
		}
		gen_lens[i] = l;
	}
	assert_int_equal(gen_words[3][0], 0xe9);
	trie_build(&trie, gen_words, gen_lens, n);
	size_t len = trie_encode(&trie, n, true, &bw);

	char path[] = "/tmp/test_dawg_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, bw.buf, len);
	struct bad b = { 0 };
	struct tp_wkd *w = NULL;
	struct tp_wkd_stats st;
	assert_int_equal(tp_wkd_load(path, note_bad, &b, &w, &st), TP_EMALF);
	assert_null(w);
	assert_int_equal(b.n, 3); /* words 1, 2 and 4; "ok." is fine */
	assert_int_equal(b.line[0], 1);
	assert_int_equal(b.line[1], 2);
	assert_int_equal(b.line[2], 4);
	assert_int_equal(st.exact, 1);
	assert_int_equal(st.bad, 3);

	/* A corrupt structure (5 words declared) is one bad "line" 0;
	 * truncated likewise. */
	assert_int_equal(bw.buf[6], 4);
	bw.buf[6] = 5;
	write_file(path, bw.buf, len);
	memset(&b, 0, sizeof(b));
	assert_int_equal(tp_wkd_load(path, note_bad, &b, &w, &st), TP_EMALF);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.line[0], 0);
	write_file(path, bw.buf, len - 1);
	memset(&b, 0, sizeof(b));
	assert_int_equal(tp_wkd_load(path, note_bad, &b, &w, &st), TP_EMALF);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.line[0], 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dawg_small_files_match_their_twins),
		cmocka_unit_test(test_dawg_shipped_list_matches_the_text),
		cmocka_unit_test(test_dawg_lists_load_like_text_lists),
		cmocka_unit_test(test_dawg_random_sets_round_trip),
		cmocka_unit_test(test_dawg_truncations_and_bit_flips),
		cmocka_unit_test(test_dawg_refuses_broken_structures),
		cmocka_unit_test(test_dawg_detect),
		cmocka_unit_test(test_dawg_list_reports_bad_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
