/* SPDX-License-Identifier: BSD-2-Clause
 *
 * hll.c - HyperLogLog, Aggregate Knowledge storage format v1 (see hll.h).
 *
 * Written from the storage specification's description, edm-spec §3.3 and
 * the behaviour the shared vectors pin down (vectors/hll/README.md); the
 * estimator is the one of Flajolet et al. with the storage spec's range
 * corrections. Deserialisation treats its input as hostile: every length
 * is checked before a read, every field against its range, and a failure
 * leaves the sketch EMPTY, never half-loaded. Nothing here allocates except
 * tp_hll_new(); nothing reads or writes outside the sketch's own block and
 * the caller's buffers.
 *
 * Layout of the block: struct tp_hll, then the explicit set (explicit_max
 * 64-bit keys, sorted), then one byte per register. Explicit values are kept
 * as key = value ^ 2^63, so that unsigned order on keys is signed order on
 * values (the format's order) without converting between signed and
 * unsigned types.
 */
#include "sketch/hll.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define SIGN_FLIP (UINT64_C(1) << 63)
#define HEADER_SIZE 3u
#define FORMAT_VERSION 1u
/* Byte 2: bit 7 reserved, bit 6 sparse enabled, bits 0-5 the cutoff. */
#define B2_RESERVED 0x80u
#define B2_SPARSE 0x40u
#define B2_CUTOFF_MASK 0x3fu
#define CUTOFF_AUTO 63u
/* Highest cutoff that means a threshold (2^30); 32..62 are meaningless. */
#define CUTOFF_MAX_VALUE 31u

struct tp_hll {
	struct tp_hll_params p; /* as given; thresholds may be AUTO */
	uint32_t m;             /* 2^log2m registers */
	uint32_t explicit_max;  /* resolved explicit threshold = capacity */
	uint32_t sparse_max;    /* resolved sparse threshold */
	uint8_t reg_max;        /* 2^regwidth - 1 */
	uint8_t type;           /* enum tp_hll_type */
	uint32_t n_explicit;    /* keys in use (EXPLICIT) */
	uint64_t filter;        /* small sets: bit (key >> 58) per key held */
	uint32_t n_nonzero;     /* non-zero registers (SPARSE, FULL) */
	uint64_t keys[];        /* explicit_max keys, then m register bytes */
};

static inline uint8_t *regs(struct tp_hll *h)
{
	return (uint8_t *)&h->keys[h->explicit_max];
}

static inline const uint8_t *cregs(const struct tp_hll *h)
{
	return (const uint8_t *)&h->keys[h->explicit_max];
}

/* ---- parameters --------------------------------------------------------- */

void tp_hll_params_default(struct tp_hll_params *out)
{
	*out = (struct tp_hll_params){
		.log2m = 10,
		.regwidth = 4,
		.sparse = true,
		.explicit_threshold = 20,
		.sparse_threshold = TP_HLL_AUTO,
		.cutoff = TP_HLL_CUTOFF_GOHLL,
	};
}

static bool is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1u)) == 0;
}

/* Number of significant bits: bitlen(20) = 5, bitlen(0) = 0. */
static unsigned bitlen(uint32_t v)
{
	return v == 0 ? 0u : 32u - (unsigned)__builtin_clz(v);
}

int tp_hll_params_check(const struct tp_hll_params *p)
{
	if (p == NULL || p->log2m < TP_HLL_LOG2M_MIN ||
	    p->log2m > TP_HLL_LOG2M_MAX || p->regwidth < TP_HLL_REGWIDTH_MIN ||
	    p->regwidth > TP_HLL_REGWIDTH_MAX)
		return TP_EINVAL;
	int32_t t = p->explicit_threshold;
	if (t != TP_HLL_AUTO && (t < 0 || t > TP_HLL_EXPLICIT_MAX))
		return TP_EINVAL;
	int32_t s = p->sparse_threshold;
	if (s != TP_HLL_AUTO && s != TP_HLL_SMALLER &&
	    (s < 0 || s > (INT32_C(1) << p->log2m) ||
	     ((uint64_t)s * (p->log2m + p->regwidth) + 7u) / 8u >
		     TP_HLL_SPARSE_BODY_MAX))
		return TP_EINVAL;
	switch (p->cutoff) {
	case TP_HLL_CUTOFF_GOHLL:
		break;
	case TP_HLL_CUTOFF_SPEC:
		/* The spec's byte holds log2(t)+1: only powers of two. */
		if (t > 0 && !is_pow2((uint32_t)t))
			return TP_EINVAL;
		break;
	default:
		return TP_EINVAL;
	}
	return 0;
}

/* Explicit values that take no more room than the dense registers:
 * m*regwidth bits / 64 (java-hll's and postgresql-hll's "auto": 64 for
 * 10/4, 160 for 11/5). */
static uint32_t explicit_auto(const struct tp_hll_params *p)
{
	return ((UINT32_C(1) << p->log2m) * p->regwidth) / 64u;
}

static uint32_t resolve_explicit(const struct tp_hll_params *p)
{
	if (p->explicit_threshold == TP_HLL_AUTO)
		return explicit_auto(p);
	return (uint32_t)p->explicit_threshold;
}

static uint32_t resolve_sparse(const struct tp_hll_params *p)
{
	uint32_t m = UINT32_C(1) << p->log2m;
	uint32_t dense_bits = m * p->regwidth;
	uint32_t word_bits = (uint32_t)p->log2m + p->regwidth;
	switch (p->sparse_threshold) {
	case TP_HLL_AUTO: {
		/* go-hll/java-hll: the largest power of two not above the
		 * number of sparse words that fit in the dense size. */
		uint32_t fit = dense_bits / word_bits;
		return fit == 0 ? 0u : UINT32_C(1) << (bitlen(fit) - 1u);
	}
	case TP_HLL_SMALLER:
		/* Largest n with n*word_bits < dense_bits. */
		return (dense_bits - 1u) / word_bits;
	default:
		return (uint32_t)p->sparse_threshold;
	}
}

size_t tp_hll_footprint(const struct tp_hll_params *p)
{
	if (tp_hll_params_check(p) != 0)
		return 0;
	size_t size = sizeof(struct tp_hll) +
		      (size_t)resolve_explicit(p) * sizeof(uint64_t) +
		      ((size_t)1 << p->log2m);
	/* Round up so that blocks placed back to back stay aligned. */
	return (size + alignof(struct tp_hll) - 1u) &
	       ~(alignof(struct tp_hll) - 1u);
}

int tp_hll_init(void *mem, size_t size, const struct tp_hll_params *p,
		struct tp_hll **out)
{
	size_t need = tp_hll_footprint(p);
	if (need == 0 || mem == NULL || out == NULL || size < need ||
	    ((uintptr_t)mem % alignof(struct tp_hll)) != 0)
		return TP_EINVAL;
	struct tp_hll *h = mem;
	h->p = *p;
	h->m = UINT32_C(1) << p->log2m;
	h->explicit_max = resolve_explicit(p);
	h->sparse_max = resolve_sparse(p);
	h->reg_max = (uint8_t)((1u << p->regwidth) - 1u);
	h->type = TP_HLL_FULL; /* fresh memory: make reset() clear it */
	tp_hll_reset(h);
	*out = h;
	return 0;
}

int tp_hll_new(const struct tp_hll_params *p, struct tp_hll **out)
{
	size_t need = tp_hll_footprint(p);
	if (need == 0 || out == NULL)
		return TP_EINVAL;
	void *mem = malloc(need);
	if (mem == NULL)
		return -ENOMEM;
	int rc = tp_hll_init(mem, need, p, out);
	if (rc != 0)
		free(mem);
	return rc;
}

void tp_hll_free(struct tp_hll *h)
{
	free(h);
}

void tp_hll_reset(struct tp_hll *h)
{
	/* Registers must read zero when SPARSE or FULL begins. Only those
	 * types write them (invariant kept by every loader), so an EMPTY or
	 * EXPLICIT sketch -- EDM's usual row -- resets without the memset. */
	if (h->type == TP_HLL_SPARSE || h->type == TP_HLL_FULL)
		memset(regs(h), 0, h->m);
	h->type = TP_HLL_EMPTY;
	h->n_explicit = 0;
	h->filter = 0;
	h->n_nonzero = 0;
}

const struct tp_hll_params *tp_hll_get_params(const struct tp_hll *h)
{
	return &h->p;
}

enum tp_hll_type tp_hll_type(const struct tp_hll *h)
{
	return (enum tp_hll_type)h->type;
}

/* ---- adding ------------------------------------------------------------- */

/* Set one register from a hash: the low log2m bits pick the register, the
 * rank is 1 + the number of trailing zeros of the rest, capped at reg_max
 * (edm-spec §3.3). A rest of zero carries no rank and is ignored. */
static inline void reg_add(struct tp_hll *h, uint64_t v)
{
	uint64_t w = v >> h->p.log2m;
	if (w == 0)
		return;
	uint32_t idx = (uint32_t)(v & (h->m - 1u));
	unsigned rank = 1u + (unsigned)__builtin_ctzll(w);
	uint8_t r = rank < h->reg_max ? (uint8_t)rank : h->reg_max;
	uint8_t *reg = regs(h);
	if (reg[idx] >= r)
		return;
	if (reg[idx] == 0) {
		h->n_nonzero++;
		if (h->type == TP_HLL_SPARSE && h->n_nonzero > h->sparse_max)
			h->type = TP_HLL_FULL;
	}
	reg[idx] = r;
}

/* The type that follows EXPLICIT (or EMPTY when explicit is off). */
static uint8_t probabilistic_type(const struct tp_hll *h)
{
	return h->p.sparse ? TP_HLL_SPARSE : TP_HLL_FULL;
}

/* After SPARSE was entered with registers already set (promotion, union,
 * load): apply the sparse threshold once. */
static void check_sparse(struct tp_hll *h)
{
	if (h->type == TP_HLL_SPARSE && h->n_nonzero > h->sparse_max)
		h->type = TP_HLL_FULL;
}

/* EXPLICIT (or EMPTY) -> SPARSE/FULL: every explicit value becomes a
 * register update. Registers are zero until now (reset() cleared them). */
static void promote_explicit(struct tp_hll *h)
{
	h->type = probabilistic_type(h);
	for (uint32_t i = 0; i < h->n_explicit; i++)
		reg_add(h, h->keys[i] ^ SIGN_FLIP);
	h->n_explicit = 0;
	check_sparse(h);
}

/* An explicit set of up to SMALL_SET values (EDM's threshold is 20) is
 * kept in arrival order with a 64-bit presence filter: a value whose filter
 * bit is clear is new and is appended at once, which is the common case of
 * a new client; only a set bit costs a scan. Larger sets stay sorted and are
 * binary-searched. Whatever needs order (serialising, comparing) sorts a
 * copy of a small set (sorted_keys). */
#define SMALL_SET 32u

static bool small_set(const struct tp_hll *h)
{
	return h->explicit_max <= SMALL_SET;
}

static uint64_t filter_bit(uint64_t key)
{
	return UINT64_C(1) << (key >> 58);
}

/* Position of key in a sorted (large) set, or where it would go. */
static uint32_t key_lower_bound(const struct tp_hll *h, uint64_t key)
{
	uint32_t lo = 0, hi = h->n_explicit;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2u;
		if (h->keys[mid] < key)
			lo = mid + 1u;
		else
			hi = mid;
	}
	return lo;
}

/* The keys in ascending order: the set itself when it is kept sorted, else a
 * sorted copy in buf (SMALL_SET entries). */
static const uint64_t *sorted_keys(const struct tp_hll *h, uint64_t *buf)
{
	if (!small_set(h))
		return h->keys;
	for (uint32_t i = 0; i < h->n_explicit; i++) {
		uint64_t k = h->keys[i];
		uint32_t j = i;
		for (; j > 0 && buf[j - 1u] > k; j--)
			buf[j] = buf[j - 1u];
		buf[j] = k;
	}
	return buf;
}

static bool small_set_has(const struct tp_hll *h, uint64_t key)
{
	if ((h->filter & filter_bit(key)) == 0)
		return false;
	for (uint32_t i = 0; i < h->n_explicit; i++)
		if (h->keys[i] == key)
			return true;
	return false;
}

static void explicit_add(struct tp_hll *h, uint64_t v)
{
	uint64_t key = v ^ SIGN_FLIP;
	uint32_t at = 0;
	if (small_set(h)) {
		if (small_set_has(h, key))
			return;
		at = h->n_explicit;
	} else {
		at = key_lower_bound(h, key);
		if (at < h->n_explicit && h->keys[at] == key)
			return;
	}
	if (h->n_explicit == h->explicit_max) {
		/* One more than the threshold: promote, then add. */
		promote_explicit(h);
		reg_add(h, v);
		return;
	}
	for (uint32_t i = h->n_explicit; i > at; i--)
		h->keys[i] = h->keys[i - 1u];
	h->keys[at] = key;
	h->n_explicit++;
	h->filter |= filter_bit(key);
}

void tp_hll_add(struct tp_hll *h, uint64_t hash)
{
	if (hash == 0)
		return;
	switch (h->type) {
	case TP_HLL_SPARSE:
	case TP_HLL_FULL:
		reg_add(h, hash);
		return;
	case TP_HLL_EXPLICIT:
		explicit_add(h, hash);
		return;
	default: /* EMPTY */
		if (h->explicit_max > 0) {
			h->type = TP_HLL_EXPLICIT;
			explicit_add(h, hash);
		} else {
			h->type = probabilistic_type(h);
			reg_add(h, hash);
			check_sparse(h);
		}
		return;
	}
}

/* ---- union -------------------------------------------------------------- */

/* d[i] = max(d[i], s[i]) for m registers; returns the non-zero count.
 * m is a multiple of 16 (log2m >= 4): fixed 16-byte blocks, no aliasing
 * and no branches let GCC's -O2 vectoriser (which refuses loops needing
 * alias checks or epilogues) turn each block into a few SIMD operations. */
static uint32_t merge_max(uint8_t *restrict d, const uint8_t *restrict s,
			  uint32_t m)
{
	uint32_t n = 0;
	/* size_t indexes: a 32-bit b + j could wrap as far as the compiler
	 * knows, which makes the accesses non-affine and blocks it. */
	for (size_t b = 0; b < m; b += 16u) {
		unsigned nz = 0;
		for (size_t j = 0; j < 16u; j++) {
			uint8_t r = d[b + j] > s[b + j] ? d[b + j] : s[b + j];
			d[b + j] = r;
			nz += r != 0;
		}
		n += nz;
	}
	return n;
}

int tp_hll_union(struct tp_hll *dst, const struct tp_hll *src)
{
	if (dst->p.log2m != src->p.log2m || dst->p.regwidth != src->p.regwidth)
		return TP_EINVAL;
	switch (src->type) {
	case TP_HLL_EXPLICIT:
		for (uint32_t i = 0; i < src->n_explicit; i++)
			tp_hll_add(dst, src->keys[i] ^ SIGN_FLIP);
		return 0;
	case TP_HLL_SPARSE:
	case TP_HLL_FULL:
		break;
	default: /* EMPTY */
		return 0;
	}
	if (dst == src)
		return 0; /* x ∪ x = x; also keeps merge_max()'s restrict true */
	if (dst->type == TP_HLL_EMPTY || dst->type == TP_HLL_EXPLICIT)
		promote_explicit(dst);
	dst->n_nonzero = merge_max(regs(dst), cregs(src), dst->m);
	check_sparse(dst);
	return 0;
}

/* ---- estimate ----------------------------------------------------------- */

/* alpha_m * m^2 (Flajolet et al. 2007, Fig. 3; the constants for m = 16,
 * 32 and 64 are theirs, as in the storage spec). */
static double alpha_mm(uint32_t log2m)
{
	double m = ldexp(1.0, (int)log2m);
	switch (log2m) {
	case 4:
		return 0.673 * m * m;
	case 5:
		return 0.697 * m * m;
	case 6:
		return 0.709 * m * m;
	default:
		return (0.7213 / (1.0 + 1.079 / m)) * m * m;
	}
}

/* sum over registers of 2^-r, computed exactly: every term and partial sum
 * is a dyadic rational of few bits, so the result does not depend on the
 * order (java-hll sums register by register and gets the same double).
 * For regwidth <= 5 (ranks <= 31) as an integer, sum of 2^(31-r), with
 * four accumulators to keep the adds independent; wider registers count
 * the registers per value first. */
static double register_sum(const struct tp_hll *h)
{
	const uint8_t *reg = cregs(h);
	if (h->reg_max <= 31u) {
		uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
		for (uint32_t i = 0; i < h->m; i += 4u) {
			a0 += UINT64_C(1) << (31u - reg[i]);
			a1 += UINT64_C(1) << (31u - reg[i + 1u]);
			a2 += UINT64_C(1) << (31u - reg[i + 2u]);
			a3 += UINT64_C(1) << (31u - reg[i + 3u]);
		}
		/* <= 2^16 * 2^31 = 2^47: exact in a double. */
		return ldexp((double)(a0 + a1 + a2 + a3), -31);
	}
	uint32_t count[256] = { 0 };
	for (uint32_t i = 0; i < h->m; i++)
		count[reg[i]]++;
	double sum = 0.0;
	for (unsigned r = 0; r <= h->reg_max; r++)
		if (count[r] != 0)
			sum += ldexp((double)count[r], -(int)r);
	return sum;
}

double tp_hll_estimate(const struct tp_hll *h)
{
	switch (h->type) {
	case TP_HLL_EMPTY:
		return 0.0;
	case TP_HLL_EXPLICIT:
		return (double)h->n_explicit;
	default:
		break;
	}
	uint32_t zeros = h->m - h->n_nonzero;
	double sum = register_sum(h);
	double m = (double)h->m;
	double e = alpha_mm(h->p.log2m) / sum;
	/* Small range: linear counting while registers are still empty. */
	if (zeros != 0 && e < 2.5 * m)
		return m * log(m / (double)zeros);
	/* Large range: the hash space of 2^L values, L = 2^regwidth - 2 +
	 * log2m, starts to collide (edm-spec §3.3). */
	double two_l = ldexp(1.0, (int)h->reg_max - 1 + (int)h->p.log2m);
	if (e > two_l / 30.0)
		return -two_l * log(1.0 - e / two_l);
	return e;
}

uint64_t tp_hll_cardinality(const struct tp_hll *h)
{
	double e = tp_hll_estimate(h);
	if (isnan(e) || e >= 18446744073709551616.0) /* 2^64 */
		return UINT64_MAX;
	if (e <= 0.0)
		return 0;
	return (uint64_t)ceil(e);
}

/* ---- serialise ---------------------------------------------------------- */

/* Big-endian bit stream writer over a buffer known to be large enough. */
struct bitw {
	uint8_t *out;
	size_t pos;
	uint64_t acc; /* pending bits in the low n bits */
	unsigned n;   /* < 8 between calls */
};

static inline void bitw_put(struct bitw *w, uint32_t value, unsigned bits)
{
	w->acc = (w->acc << bits) | value;
	w->n += bits;
	while (w->n >= 8u) {
		w->n -= 8u;
		w->out[w->pos++] = (uint8_t)(w->acc >> w->n);
	}
}

static inline void bitw_flush(struct bitw *w)
{
	if (w->n > 0u)
		w->out[w->pos++] = (uint8_t)(w->acc << (8u - w->n));
	w->n = 0;
}

static unsigned word_bits(const struct tp_hll *h)
{
	return (unsigned)h->p.log2m + h->p.regwidth;
}

size_t tp_hll_serialized_size(const struct tp_hll *h)
{
	switch (h->type) {
	case TP_HLL_EXPLICIT:
		return HEADER_SIZE + (size_t)h->n_explicit * 8u;
	case TP_HLL_SPARSE:
		return HEADER_SIZE +
		       ((size_t)h->n_nonzero * word_bits(h) + 7u) / 8u;
	case TP_HLL_FULL:
		return HEADER_SIZE + (size_t)h->m * h->p.regwidth / 8u;
	default:
		return HEADER_SIZE;
	}
}

static uint8_t cutoff_byte(const struct tp_hll_params *p)
{
	uint8_t b = p->sparse ? B2_SPARSE : 0u;
	int32_t t = p->explicit_threshold;
	if (t == TP_HLL_AUTO)
		return (uint8_t)(b | CUTOFF_AUTO);
	if (t == 0)
		return b;
	unsigned bl = bitlen((uint32_t)t);
	/* GOHLL: bitlen(t) - 1; SPEC: log2(t) + 1 for t = 2^k, i.e. bitlen. */
	return (uint8_t)(b | (p->cutoff == TP_HLL_CUTOFF_SPEC ? bl : bl - 1u));
}

int tp_hll_serialize(const struct tp_hll *h, uint8_t *out, size_t out_size)
{
	if (out == NULL && out_size > 0)
		return TP_EINVAL;
	size_t len = tp_hll_serialized_size(h);
	if (len > out_size)
		return TP_ENOSPACE;
	out[0] = (uint8_t)((FORMAT_VERSION << 4) | h->type);
	out[1] = (uint8_t)(((unsigned)(h->p.regwidth - 1u) << 5) | h->p.log2m);
	out[2] = cutoff_byte(&h->p);

	const uint8_t *reg = cregs(h);
	struct bitw w = { .out = out, .pos = HEADER_SIZE };
	switch (h->type) {
	case TP_HLL_EXPLICIT: {
		uint64_t buf[SMALL_SET];
		const uint64_t *keys = sorted_keys(h, buf);
		for (uint32_t i = 0; i < h->n_explicit; i++) {
			uint64_t v = keys[i] ^ SIGN_FLIP;
			for (unsigned b = 0; b < 8u; b++)
				out[w.pos++] = (uint8_t)(v >> (56u - 8u * b));
		}
		break;
	}
	case TP_HLL_SPARSE:
		for (uint32_t i = 0; i < h->m; i++)
			if (reg[i] != 0)
				bitw_put(&w, i << h->p.regwidth | reg[i],
					 word_bits(h));
		bitw_flush(&w);
		break;
	case TP_HLL_FULL:
		if (h->p.regwidth == 4u) {
			/* EDM's width: two registers per byte, high nibble
			 * first (edm-spec §3.3); a plain loop vectorises. */
			uint8_t *o = out + HEADER_SIZE;
			for (size_t j = 0; j < h->m / 2u; j++)
				o[j] = (uint8_t)(reg[2u * j] << 4 | reg[2u * j + 1u]);
			break;
		}
		for (uint32_t i = 0; i < h->m; i++)
			bitw_put(&w, reg[i], h->p.regwidth);
		bitw_flush(&w);
		break;
	default:
		break;
	}
	/* len <= TP_HLL_SERIALIZED_MAX, far below INT_MAX. */
	return (int)len;
}

/* ---- deserialise -------------------------------------------------------- */

/* Big-endian bit stream reader; callers bound the number of bits read by
 * the body length first, so get() never runs past end. */
struct bitr {
	const uint8_t *in;
	size_t pos, end;
	uint64_t acc;
	unsigned n;
};

static inline uint32_t bitr_get(struct bitr *r, unsigned bits)
{
	while (r->n < bits) {
		r->acc = (r->acc << 8) | (r->pos < r->end ? r->in[r->pos] : 0u);
		r->pos++;
		r->n += 8u;
	}
	r->n -= bits;
	return (uint32_t)((r->acc >> r->n) & ((UINT64_C(1) << bits) - 1u));
}

int tp_hll_params_from_bytes(const uint8_t *bytes, size_t len,
			     struct tp_hll_params *out)
{
	if (bytes == NULL || out == NULL)
		return TP_EINVAL;
	if (len < HEADER_SIZE)
		return TP_ETRUNC;
	unsigned version = bytes[0] >> 4, type = bytes[0] & 0x0fu;
	if (version != FORMAT_VERSION || type < TP_HLL_EMPTY ||
	    type > TP_HLL_FULL)
		return TP_EMALF;
	unsigned cutoff = bytes[2] & B2_CUTOFF_MASK;
	if ((bytes[2] & B2_RESERVED) != 0 ||
	    (cutoff > CUTOFF_MAX_VALUE && cutoff != CUTOFF_AUTO))
		return TP_EMALF;
	unsigned log2m = bytes[1] & 0x1fu;
	if (log2m < TP_HLL_LOG2M_MIN || log2m > TP_HLL_LOG2M_MAX)
		return TP_ETOOBIG;
	int32_t t;
	if (cutoff == CUTOFF_AUTO)
		t = TP_HLL_AUTO;
	else if (cutoff == 0)
		t = 0;
	else if (cutoff - 1u > 13u) /* 2^13 = TP_HLL_EXPLICIT_MAX */
		return TP_ETOOBIG;
	else
		t = INT32_C(1) << (cutoff - 1u);
	*out = (struct tp_hll_params){
		.log2m = (uint8_t)log2m,
		.regwidth = (uint8_t)((bytes[1] >> 5) + 1u),
		.sparse = (bytes[2] & B2_SPARSE) != 0,
		.explicit_threshold = t,
		.sparse_threshold = TP_HLL_AUTO,
		.cutoff = TP_HLL_CUTOFF_SPEC,
	};
	return 0;
}

static int load_explicit(struct tp_hll *h, const uint8_t *body, size_t len)
{
	if (len % 8u != 0)
		return TP_ETRUNC;
	size_t n = len / 8u;
	if (n == 0)
		return TP_EMALF; /* writers emit EMPTY for the empty set */
	/* Validate the whole body before keeping anything. Sorted input also
	 * keeps the add() path below linear: each value lands at the end. */
	uint64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t key = 0;
		for (unsigned b = 0; b < 8u; b++)
			key = key << 8 | body[i * 8u + b];
		key ^= SIGN_FLIP;
		if (i > 0 && key <= prev)
			return TP_EMALF;
		prev = key;
	}
	bool fits = n <= h->explicit_max;
	h->type = fits ? TP_HLL_EXPLICIT : TP_HLL_EMPTY;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;
		for (unsigned b = 0; b < 8u; b++)
			v = v << 8 | body[i * 8u + b];
		if (fits) {
			/* Kept as written, including a 0 that postgresql-
			 * hll stores for hll_add(h, 0). */
			h->keys[i] = v ^ SIGN_FLIP;
			h->filter |= filter_bit(h->keys[i]);
		}
		else
			tp_hll_add(h, v);
	}
	if (fits)
		h->n_explicit = (uint32_t)n;
	return 0;
}

static int load_sparse(struct tp_hll *h, const uint8_t *body, size_t len)
{
	unsigned wb = word_bits(h);
	/* A body with room for more words than registers is malformed;
	 * checking that first bounds the work and keeps len * 8 small. */
	if (len > ((size_t)h->m * wb + 7u) / 8u)
		return TP_EMALF;
	size_t slots = (len * 8u) / wb;
	struct bitr r = { .in = body, .end = len };
	uint8_t *reg = regs(h);
	size_t n = 0;
	int64_t prev = -1;
	for (; n < slots; n++) {
		uint32_t word = bitr_get(&r, wb);
		uint32_t value = word & h->reg_max;
		if (value == 0) {
			/* Only zero padding may follow the last word. */
			if (word != 0)
				goto malformed;
			break;
		}
		uint32_t idx = word >> h->p.regwidth;
		if ((int64_t)idx <= prev)
			goto malformed;
		prev = idx;
		reg[idx] = (uint8_t)value;
	}
	/* The rest of the body must be zero bits, and no whole byte of it:
	 * a writer pads the last word to a byte boundary and no further. */
	if ((n * wb + 7u) / 8u != len)
		goto malformed;
	for (size_t consumed = (n + (n < slots)) * wb; consumed < len * 8u;) {
		unsigned take = (unsigned)(len * 8u - consumed);
		take = take > 24u ? 24u : take;
		if (bitr_get(&r, take) != 0)
			goto malformed;
		consumed += take;
	}
	h->n_nonzero = (uint32_t)n;
	h->type = probabilistic_type(h);
	check_sparse(h);
	return 0;
malformed:
	memset(reg, 0, h->m);
	return TP_EMALF;
}

static int load_full(struct tp_hll *h, const uint8_t *body, size_t len)
{
	size_t need = (size_t)h->m * h->p.regwidth / 8u;
	if (len < need)
		return TP_ETRUNC;
	if (len > need)
		return TP_EMALF;
	uint8_t *reg = regs(h);
	uint32_t n = 0;
	if (h->p.regwidth == 4u) {
		for (size_t j = 0; j < h->m / 2u; j++) {
			uint8_t hi = (uint8_t)(body[j] >> 4), lo = body[j] & 0x0fu;
			reg[2u * j] = hi;
			reg[2u * j + 1u] = lo;
			n += (uint32_t)(hi != 0) + (uint32_t)(lo != 0);
		}
	} else {
		struct bitr r = { .in = body, .end = len };
		for (uint32_t i = 0; i < h->m; i++) {
			uint8_t v = (uint8_t)bitr_get(&r, h->p.regwidth);
			reg[i] = v;
			n += v != 0;
		}
	}
	h->n_nonzero = n;
	h->type = TP_HLL_FULL;
	return 0;
}

int tp_hll_deserialize(struct tp_hll *h, const uint8_t *bytes, size_t len)
{
	if (h == NULL)
		return TP_EINVAL;
	tp_hll_reset(h);
	struct tp_hll_params hp;
	int rc = tp_hll_params_from_bytes(bytes, len, &hp);
	if (rc != 0)
		return rc;
	if (hp.log2m != h->p.log2m || hp.regwidth != h->p.regwidth)
		return TP_EINVAL;
	const uint8_t *body = bytes + HEADER_SIZE;
	size_t body_len = len - HEADER_SIZE;
	switch (bytes[0] & 0x0fu) {
	case TP_HLL_EMPTY:
		rc = body_len == 0 ? 0 : TP_EMALF;
		break;
	case TP_HLL_EXPLICIT:
		rc = load_explicit(h, body, body_len);
		break;
	case TP_HLL_SPARSE:
		rc = load_sparse(h, body, body_len);
		break;
	default: /* FULL; params_from_bytes checked the range */
		rc = load_full(h, body, body_len);
		break;
	}
	if (rc != 0)
		tp_hll_reset(h);
	return rc;
}

bool tp_hll_equal(const struct tp_hll *a, const struct tp_hll *b)
{
	if (a->type != b->type || a->p.log2m != b->p.log2m ||
	    a->p.regwidth != b->p.regwidth)
		return false;
	switch (a->type) {
	case TP_HLL_EXPLICIT: {
		uint64_t abuf[SMALL_SET], bbuf[SMALL_SET];
		return a->n_explicit == b->n_explicit &&
		       memcmp(sorted_keys(a, abuf), sorted_keys(b, bbuf),
			      (size_t)a->n_explicit * sizeof(a->keys[0])) == 0;
	}
	case TP_HLL_SPARSE:
	case TP_HLL_FULL:
		return memcmp(cregs(a), cregs(b), a->m) == 0;
	default:
		return true;
	}
}
