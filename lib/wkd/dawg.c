/* SPDX-License-Identifier: BSD-2-Clause
 *
 * dawg.c - enumerates the words of a smhanov/dawg file (see dawg.h).
 *
 * Node layout, bits MSB first at an absolute bit offset:
 *   final(1) fallthrough(1)
 *   fallthrough: char(cbits); its one child is the node right after it.
 *   otherwise:   single(1); unless single: varint edge count, then the
 *                skip-field width (bitlen(bitlen(words)) bits); then per
 *                edge: char(cbits), skip (that width, not for the first
 *                edge), child address(abits).
 * A word's rank is the sum, along its path, of each taken edge's skip
 * value, where the first edge of a node counts 1 if the node is final and
 * 0 otherwise (the word ending there comes first).
 *
 * The walk is depth first with an explicit stack of at most
 * TP_DAWG_WORD_MAX + 1 frames: no recursion on file data. Every bit read is
 * checked against the declared size, which equals the buffer length.
 */
#include "wkd/dawg.h"

#include <string.h>

#include "util/limits.h"

#define CODE_POINT_MAX 0x10ffffu
#define CBITS_MAX 21u  /* bits for CODE_POINT_MAX */
#define ABITS_MAX 35u  /* bit offsets in a file of at most 4 GiB */
#define VARINT_MAX 5u  /* octets: 35 bits of value */
#define HEADER_FIXED 6u /* size, cbits, abits */

/* A bounded bit reader; after the first overrun err stays set and every
 * read yields 0, so a series of reads is checked once. */
struct bits {
	const uint8_t *buf;
	uint64_t n_bits, pos;
	bool err;
};

static uint64_t get_bits(struct bits *b, unsigned n)
{
	if (b->err || n > 64u || b->pos > b->n_bits || n > b->n_bits - b->pos) {
		b->err = true;
		return 0;
	}
	uint64_t v = 0;
	while (n > 0) {
		unsigned avail = 8u - (unsigned)(b->pos & 7u);
		unsigned take = n < avail ? n : avail;
		unsigned octet = b->buf[b->pos >> 3];
		v = v << take | ((octet >> (avail - take)) & ((1u << take) - 1u));
		b->pos += take;
		n -= take;
	}
	return v;
}

/* A varint of 7-bit groups, most significant first, high bit = more. */
static uint64_t get_varint(struct bits *b)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < VARINT_MAX; i++) {
		uint64_t octet = get_bits(b, 8);
		v = v << 7 | (octet & 0x7fu);
		if ((octet & 0x80u) == 0)
			return v;
	}
	b->err = true; /* longer than any count we accept */
	return 0;
}

static unsigned bit_len(uint64_t v)
{
	return v == 0 ? 0 : 64u - (unsigned)__builtin_clzll(v);
}

bool tp_dawg_detect(const uint8_t *buf, size_t len)
{
	if (len == 0)
		return false;
	if (buf[0] == 0)
		return true;
	return len >= 4 && ((uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
			    (uint32_t)buf[2] << 8 | buf[3]) == len;
}

int tp_dawg_header(const uint8_t *buf, size_t len, struct tp_dawg_header *out)
{
	if (len < HEADER_FIXED)
		return TP_ETRUNC;
	struct tp_dawg_header h = { 0 };
	h.size = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	if (h.size > len)
		return TP_ETRUNC;
	if (h.size < len)
		return TP_EMALF;
	h.cbits = buf[4];
	h.abits = buf[5];
	if (h.cbits > CBITS_MAX || h.abits > ABITS_MAX)
		return TP_EMALF;
	struct bits b = { .buf = buf, .n_bits = (uint64_t)len * 8u, .pos = HEADER_FIXED * 8u };
	h.n_words = get_varint(&b);
	h.n_nodes = get_varint(&b);
	h.n_edges = get_varint(&b);
	if (b.err)
		return TP_EMALF;
	if (h.n_words > TP_DAWG_MAX_WORDS)
		return TP_ETOOBIG;
	h.first_node_bit = b.pos;
	*out = h;
	return 0;
}

/* One node, decoded up to its first edge. */
struct node {
	uint64_t n_edges;
	uint64_t edges_at;   /* bit offset of the first edge (not fallthrough) */
	uint64_t fall_child; /* fallthrough: the child's address */
	uint32_t fall_ch;    /* fallthrough: the character */
	unsigned nskip;      /* width of the skip fields */
	bool final, fall;
};

struct walk {
	struct tp_dawg_header h;
	struct bits b;
	unsigned nskip_len; /* width of a node's skip-width field */
	unsigned nskip_max; /* widest skip field: bitlen(words) */
};

static int read_node(struct walk *w, uint64_t at, struct node *n)
{
	struct bits *b = &w->b;
	b->pos = at;
	memset(n, 0, sizeof(*n));
	n->final = get_bits(b, 1) != 0;
	n->fall = get_bits(b, 1) != 0;
	if (n->fall) {
		n->n_edges = 1;
		n->fall_ch = (uint32_t)get_bits(b, w->h.cbits);
		n->fall_child = b->pos;
		return b->err ? TP_EMALF : 0;
	}
	if (get_bits(b, 1) != 0) {
		n->n_edges = 1;
	} else {
		n->n_edges = get_varint(b);
		n->nskip = (unsigned)get_bits(b, w->nskip_len);
	}
	n->edges_at = b->pos;
	if (b->err || n->nskip > w->nskip_max || n->n_edges > CODE_POINT_MAX + 1u)
		return TP_EMALF;
	/* All edges must lie inside the file (this also bounds n_edges). */
	uint64_t per_edge = (uint64_t)w->h.cbits + n->nskip + w->h.abits;
	if (n->n_edges > 0 &&
	    n->n_edges * per_edge - n->nskip > b->n_bits - n->edges_at)
		return TP_EMALF;
	return 0;
}

/* Edge i of node n: its character, skip value and child address. */
static int read_edge(struct walk *w, const struct node *n, uint64_t i, uint32_t *ch,
		     uint64_t *skip, uint64_t *child)
{
	if (n->fall) {
		*ch = n->fall_ch;
		*skip = n->final;
		*child = n->fall_child;
		return 0;
	}
	struct bits *b = &w->b;
	uint64_t per_edge = (uint64_t)w->h.cbits + n->nskip + w->h.abits;
	b->pos = n->edges_at + i * per_edge - (i > 0 ? n->nskip : 0);
	*ch = (uint32_t)get_bits(b, w->h.cbits);
	*skip = i > 0 ? get_bits(b, n->nskip) : n->final;
	*child = get_bits(b, w->h.abits);
	return b->err ? TP_EMALF : 0;
}

struct frame {
	struct node node;
	uint64_t next;  /* next edge to follow */
	uint64_t rank;  /* rank of the first word below this node */
	uint32_t prev_ch;
};

int tp_dawg_words(const uint8_t *buf, size_t len, tp_dawg_word_fn fn, void *ctx)
{
	struct walk w = { 0 };
	int rc = tp_dawg_header(buf, len, &w.h);
	if (rc < 0)
		return rc;
	w.b = (struct bits){ .buf = buf, .n_bits = (uint64_t)len * 8u };
	w.nskip_max = bit_len(w.h.n_words);
	w.nskip_len = bit_len(w.nskip_max);

	struct frame stack[TP_DAWG_WORD_MAX + 1];
	uint32_t word[TP_DAWG_WORD_MAX];
	uint64_t emitted = 0;
	size_t depth = 0; /* length of the current word; stack[depth] is on top */
	uint64_t at = w.h.first_node_bit, rank = 0;

	for (;;) {
		/* Enter the node at `at`, reached by word[0..depth). */
		struct frame *f = &stack[depth];
		rc = read_node(&w, at, &f->node);
		if (rc < 0)
			return rc;
		if (f->node.final) {
			/* The reference's IndexOf gives this word the rank its
			 * path's skips add up to; it must be its position. */
			if (emitted >= w.h.n_words || rank != emitted)
				return TP_EMALF;
			rc = fn(ctx, emitted, word, depth);
			if (rc != 0)
				return rc;
			emitted++;
		} else if (f->node.n_edges == 0 && (depth > 0 || w.h.n_words > 0)) {
			return TP_EMALF; /* a dead end: no word below */
		}
		if (f->node.n_edges > 0 && w.h.n_edges == 0)
			return TP_EMALF; /* the reference would follow no edge */
		f->next = 0;
		f->rank = rank;
		f->prev_ch = 0;

		/* Find the next edge to follow, popping finished nodes. */
		for (;;) {
			f = &stack[depth];
			if (f->next < f->node.n_edges)
				break;
			if (depth == 0)
				return emitted == w.h.n_words ? 0 : TP_EMALF;
			depth--;
		}
		uint32_t ch;
		uint64_t skip, child;
		rc = read_edge(&w, &f->node, f->next, &ch, &skip, &child);
		if (rc < 0)
			return rc;
		if ((f->next > 0 && ch <= f->prev_ch) || ch > CODE_POINT_MAX ||
		    child < w.h.first_node_bit || child >= w.b.n_bits || depth == TP_DAWG_WORD_MAX)
			return TP_EMALF;
		f->prev_ch = ch;
		f->next++;
		word[depth++] = ch;
		at = child;
		rank = f->rank + skip;
	}
}
