/* SPDX-License-Identifier: BSD-2-Clause
 *
 * hll.h - HyperLogLog in the Aggregate Knowledge storage format, version 1.
 *
 * The distinct-client columns of the histogram dataset (SPEC §5) are HLL
 * sketches that EDM writes with go-hll and that PostgreSQL reads with the
 * hll extension; java-hll is the format's reference implementation. This
 * module produces the same bytes and the same cardinality as go-hll for the
 * same input (vectors/hll/), and reads what any of the three writes.
 *
 * A sketch moves through four storage types, never backwards (reset()
 * aside):
 *   EMPTY    nothing added yet;
 *   EXPLICIT the exact set of added 64-bit values, up to the explicit
 *            threshold (default 20); cardinality is exact;
 *   SPARSE   the non-zero registers only, up to the sparse threshold;
 *   FULL     all 2^log2m registers ("dense").
 * EXPLICIT promotes when it would hold more than the explicit threshold;
 * SPARSE promotes when more registers than the sparse threshold are non-zero
 * (go-hll's automatic value is 256 for log2m 10, regwidth 4: edm-spec §3.3).
 * In memory SPARSE and FULL share one byte per register, so promotion is a
 * change of label, and add() costs the same in both.
 *
 * Memory: one block per sketch, sized from its parameters at creation
 * (tp_hll_footprint(); 1,224 bytes for EDM's 10/4/20). Nothing here
 * allocates after that: add, union, estimate, serialise and deserialise
 * work in place. A sketch is not thread-safe; one writer at a time.
 *
 * Inputs are hashes: add() takes a 64-bit value that must already be
 * uniformly distributed (murmur3.h for `compat`, prf.h for `keyed`).
 * The value 0 means "no hash" and is ignored everywhere.
 */
#ifndef TP_SKETCH_HLL_H
#define TP_SKETCH_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Ceilings of the sketch module. (They belong with the others in
 * util/limits.h; kept here until that file is reorganised.) */
#define TP_HLL_LOG2M_MIN 4u   /* java-hll's minimum: 16 registers */
#define TP_HLL_LOG2M_MAX 16u  /* 65,536 registers, 64 KiB dense */
#define TP_HLL_REGWIDTH_MIN 1u
#define TP_HLL_REGWIDTH_MAX 8u /* three header bits: 1..8 */
/* Explicit threshold: the automatic value for log2m 16, regwidth 8. */
#define TP_HLL_EXPLICIT_MAX 8192
/* Serialized size of the largest sketch we produce: 3 header bytes plus a
 * 64 KiB body (8192 explicit values, or 2^16 8-bit registers, or a sparse
 * body, which tp_hll_params_check() keeps within 64 KiB even when the
 * sparse threshold is set above the dense size, as java-hll's vectors do
 * with 850 at 10/4). tp_hll_deserialize() also reads the larger sparse
 * bodies other writers may produce (up to m words). */
#define TP_HLL_SPARSE_BODY_MAX 65536u
#define TP_HLL_SERIALIZED_MAX (3u + 65536u)

/* Storage types; the numbers are those of the format's byte 0. */
enum tp_hll_type {
	TP_HLL_EMPTY = 1,
	TP_HLL_EXPLICIT = 2,
	TP_HLL_SPARSE = 3,
	TP_HLL_FULL = 4,
};

/* Threshold values with a meaning of their own. */
#define TP_HLL_AUTO (-1)    /* explicit: m*regwidth/64 values (what fits in
			     * the dense size); sparse: go-hll's rule, the
			     * largest power of 2 <= m*regwidth/(log2m+regwidth) */
#define TP_HLL_SMALLER (-2) /* sparse only: stay sparse while the sparse body
			     * is smaller than the dense one, i.e. while
			     * n*(log2m+regwidth) < m*regwidth; this is the
			     * form postgresql-hll writes */

/* How header byte 2 encodes the explicit threshold t (low 6 bits). The
 * spec stores log2(t)+1 and can only express powers of two; go-hll (hence
 * EDM) writes bitlen(t)-1 (20 -> 4, written 0x44; 1 -> 0, which readers
 * take as "explicit off"). Readers, go-hll included, decode 2^(v-1), so a
 * go-hll byte understates the threshold; see vectors/hll/README.md. */
enum tp_hll_cutoff {
	TP_HLL_CUTOFF_GOHLL = 0, /* EDM-compatible; the default */
	TP_HLL_CUTOFF_SPEC = 1,  /* spec/java-hll/PostgreSQL; t must be 2^k */
};

struct tp_hll_params {
	uint8_t log2m;    /* m = 2^log2m registers, TP_HLL_LOG2M_MIN..MAX */
	uint8_t regwidth; /* bits per register, 1..8 (max value 2^regwidth-1) */
	bool sparse;      /* SPARSE storage enabled (else EXPLICIT -> FULL) */
	int32_t explicit_threshold; /* 0 = EXPLICIT off, TP_HLL_AUTO, or
				     * 1..TP_HLL_EXPLICIT_MAX values */
	int32_t sparse_threshold;   /* TP_HLL_AUTO, TP_HLL_SMALLER, or 0..m
				     * non-zero registers whose sparse body
				     * fits TP_HLL_SPARSE_BODY_MAX; not
				     * serialized */
	enum tp_hll_cutoff cutoff;  /* byte-2 encoding of explicit_threshold */
};

/* Opaque; one block of tp_hll_footprint() bytes. */
struct tp_hll;

/* EDM's settings (SPEC §5, edm-spec §3.3): log2m 10, regwidth 4, sparse on,
 * explicit threshold 20, sparse threshold auto (256), go-hll byte 2. */
void tp_hll_params_default(struct tp_hll_params *out);

/* Returns 0 if p describes a sketch this module can hold, else TP_EINVAL
 * (a field out of range, a sparse threshold whose body would exceed
 * TP_HLL_SPARSE_BODY_MAX, or TP_HLL_CUTOFF_SPEC with an explicit threshold
 * that is not a power of two). */
int tp_hll_params_check(const struct tp_hll_params *p) TP_WUR;

/* Bytes a sketch with parameters p occupies, or 0 if p is invalid. */
size_t tp_hll_footprint(const struct tp_hll_params *p);

/* Make an EMPTY sketch in caller memory (an arena, a larger block).
 *   mem: borrowed for the sketch's lifetime; size >= tp_hll_footprint(p),
 *        aligned for uint64_t (malloc'd memory is).
 *   out: receives the sketch, which is mem itself.
 * Returns 0, or TP_EINVAL (bad p, mem NULL or misaligned, size too small). */
int tp_hll_init(void *mem, size_t size, const struct tp_hll_params *p,
		struct tp_hll **out) TP_WUR;

/* Allocate and initialise an EMPTY sketch (one malloc of the footprint).
 *   out: receives the sketch, owned by the caller: tp_hll_free() it.
 * Returns 0, TP_EINVAL (bad p or out NULL) or -ENOMEM. */
int tp_hll_new(const struct tp_hll_params *p, struct tp_hll **out) TP_WUR;

/* Free a sketch made by tp_hll_new(); NULL is fine. Never for init'ed ones. */
void tp_hll_free(struct tp_hll *h);

/* Back to EMPTY with the same parameters. */
void tp_hll_reset(struct tp_hll *h);

/* Parameters as given at creation (thresholds may be TP_HLL_AUTO). */
const struct tp_hll_params *tp_hll_get_params(const struct tp_hll *h);
enum tp_hll_type tp_hll_type(const struct tp_hll *h);

/* Add a hash. 0 is ignored; so, in SPARSE and FULL, is a value whose bits
 * above the register index are all zero (it carries no rank). Promotes as
 * described at the top. Never fails, never allocates. */
void tp_hll_add(struct tp_hll *h, uint64_t hash);

/* Merge src into dst (dst := dst ∪ src); src is unchanged. Explicit values
 * of src are added to dst one by one. Registers of a SPARSE or FULL src are
 * merged into dst after promoting an EMPTY or EXPLICIT dst to SPARSE (or
 * FULL when sparse is off); a SPARSE dst then becomes FULL only if it has
 * more non-zero registers than its threshold. So EMPTY ∪ FULL-with-few-
 * registers is SPARSE, as java-hll writes (go-hll would keep FULL; the
 * cardinality is the same either way). dst keeps its own thresholds.
 * Returns 0, or TP_EINVAL if log2m or regwidth differ (dst unchanged). */
int tp_hll_union(struct tp_hll *dst, const struct tp_hll *src) TP_WUR;

/* The estimate: the exact set size for EMPTY and EXPLICIT, else the HLL
 * estimator with the small- and large-range corrections of the storage
 * spec (edm-spec §3.3). NaN when every register is at its maximum (the
 * large-range correction takes the log of a negative number; java-hll and
 * go-hll do the same, real traffic cannot get there). */
double tp_hll_estimate(const struct tp_hll *h);

/* ceil(tp_hll_estimate()) as go-hll's Cardinality() and EDM's
 * v4client_count report it; UINT64_MAX when the estimate is NaN or does
 * not fit (deliberate clamp: the conversion would be undefined). */
uint64_t tp_hll_cardinality(const struct tp_hll *h);

/* Exact length tp_hll_serialize() writes for h's current state. */
size_t tp_hll_serialized_size(const struct tp_hll *h);

/* Write h in storage format v1: byte 0 = 0x10 | type, byte 1 =
 * (regwidth-1) << 5 | log2m, byte 2 = sparse << 6 | cutoff, then the body:
 * EXPLICIT 8-byte big-endian values sorted as signed 64-bit integers;
 * SPARSE (index << regwidth | value) words of log2m+regwidth bits for each
 * non-zero register in index order; FULL every register in regwidth bits;
 * bit streams are big-endian and zero-padded to a byte.
 *   out: written, out_size bytes available.
 * Returns the length written, TP_ENOSPACE (out untouched beyond out_size,
 * contents undefined), or TP_EINVAL (out NULL with out_size > 0). */
int tp_hll_serialize(const struct tp_hll *h, uint8_t *out,
		     size_t out_size) TP_WUR;

/* Read the parameters of serialized bytes (header only), to create a sketch
 * that can hold them: byte 2 is decoded as the spec says (2^(v-1), 0 = off,
 * 63 = auto) with cutoff = TP_HLL_CUTOFF_SPEC, so that re-serialising
 * reproduces byte 2; sparse_threshold is TP_HLL_AUTO. For go-hll/EDM bytes
 * the decoded explicit threshold is below the writer's (0x44: 8, not 20);
 * use tp_hll_params_default() for those.
 *   bytes, len: borrowed for the call.
 * Returns 0, or TP_ETRUNC (len < 3), TP_EMALF (version not 1, type not
 * 1..4, reserved bit 7 of byte 2 set, cutoff 32..62), TP_ETOOBIG (log2m
 * outside TP_HLL_LOG2M_MIN..MAX, or an explicit threshold above
 * TP_HLL_EXPLICIT_MAX), TP_EINVAL (an argument NULL). */
int tp_hll_params_from_bytes(const uint8_t *bytes, size_t len,
			     struct tp_hll_params *out) TP_WUR;

/* Replace h's contents with a serialized sketch from outside (untrusted).
 * Every length and field is checked before use; h's own parameters are kept
 * (byte 2 is validated, not adopted). If the content is more than h's
 * thresholds allow (a larger explicit set, more sparse registers, explicit
 * or sparse off in h), h ends in the state adding that content would give;
 * otherwise the storage type of the bytes is kept, so a sketch that h could
 * have written round-trips byte for byte.
 *   bytes, len: borrowed for the call.
 * Returns 0, or (h is then EMPTY):
 *   TP_ETRUNC   shorter than the header, a FULL body shorter than
 *               m*regwidth/8, or an EXPLICIT body not a multiple of 8;
 *   TP_EMALF    a bad header (as tp_hll_params_from_bytes), an EMPTY with a
 *               body, an EXPLICIT with no value or values not strictly
 *               increasing as signed integers, a SPARSE with an index not
 *               strictly increasing, a zero value, non-zero padding, a
 *               padding byte too many or room for more words than
 *               registers, a FULL body too long;
 *   TP_ETOOBIG  a header outside the supported range;
 *   TP_EINVAL   log2m or regwidth differ from h's, or an argument NULL.
 * A prefix of a valid EXPLICIT or SPARSE body can itself be valid: the
 * format has no length field, so truncation is not always detectable. */
int tp_hll_deserialize(struct tp_hll *h, const uint8_t *bytes,
		       size_t len) TP_WUR;

/* Same storage type and same content (explicit set or registers);
 * parameters other than log2m and regwidth are not compared. */
bool tp_hll_equal(const struct tp_hll *a, const struct tp_hll *b);

#endif
