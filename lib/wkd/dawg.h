/* SPDX-License-Identifier: BSD-2-Clause
 *
 * dawg.h - reads the reference's binary name lists (smhanov/dawg files, as
 * `dnstapir-cli dawg compile` writes them; edm-spec §2.3), so an operator
 * can hand the edge the same well-known and ignored-name files as EDM.
 *
 * A DAWG file is a bit-packed, minimised trie: a header (u32 big-endian file
 * size, u8 bits per character, u8 bits per node address, then word, node and
 * edge counts as 7-bit varints), then nodes addressed by absolute bit offset.
 * This module only enumerates the words, in rank order (the order of
 * the reference's IndexOf); the list itself is built by wkd.c with the same
 * rules as a text list, so both forms match identically.
 *
 * The bytes are treated as hostile. The walk accepts only a well-formed
 * DAWG: addresses inside the file, edges of a node in strictly increasing
 * character order, every leaf a word end, words no longer than
 * TP_DAWG_WORD_MAX (so a cycle ends there), no more words than declared
 * (at most TP_DAWG_MAX_WORDS), and each word's rank as the skip counts of
 * its path say (what the reference's IndexOf would return). The work is
 * thus bounded by the declared word count times TP_DAWG_WORD_MAX.
 */
#ifndef TP_WKD_DAWG_H
#define TP_WKD_DAWG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* The fixed part of a DAWG file. */
struct tp_dawg_header {
	uint32_t size;           /* declared file size in octets */
	uint8_t cbits, abits;    /* bits per character, per node address */
	uint64_t n_words, n_nodes, n_edges; /* as declared */
	uint64_t first_node_bit; /* bit offset of the root node */
};

/* Whether buf looks like a DAWG file rather than a text list: its first
 * four octets are its own length (big-endian), or its first octet is NUL
 * (a truncated DAWG; a text list never holds NUL). */
bool tp_dawg_detect(const uint8_t *buf, size_t len);

/* Parse the header.
 *   buf: borrowed, len octets.
 * Returns 0 and *out, or
 *   TP_ETRUNC   buf is shorter than the header or than its declared size;
 *   TP_EMALF    the declared size is below len, a field is out of range
 *               (cbits > 21, abits > 35, varint longer than 5 octets);
 *   TP_ETOOBIG  more than TP_DAWG_MAX_WORDS words declared. */
int tp_dawg_header(const uint8_t *buf, size_t len, struct tp_dawg_header *out) TP_WUR;

/* Called once per word, in rank order (0, 1, ...).
 *   word: n Unicode code points (each <= 0x10FFFF), borrowed for the call;
 *         n may be 0 (the empty word) and is <= TP_DAWG_WORD_MAX.
 * Return 0 to go on; any other value stops the walk and is returned by
 * tp_dawg_words. */
typedef int (*tp_dawg_word_fn)(void *ctx, uint64_t rank, const uint32_t *word, size_t n);

/* Enumerate every word of a DAWG file held in memory.
 *   buf: borrowed, len octets (the whole file). fn: required.
 * Returns 0 once all declared words came out, fn's non-zero return, or the
 * codes of tp_dawg_header, and TP_EMALF for a structure that is not a DAWG
 * (bad address, unsorted edges, dead end, word too long, rank mismatch,
 * more or fewer words than declared). Words already passed to fn before an
 * error stay passed: a caller that builds from them must drop the result. */
int tp_dawg_words(const uint8_t *buf, size_t len, tp_dawg_word_fn fn, void *ctx) TP_WUR;

#endif
