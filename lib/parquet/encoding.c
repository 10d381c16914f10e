/* SPDX-License-Identifier: BSD-2-Clause
 *
 * encoding.c - byte-level pieces of Parquet shared by writer and reader:
 * the bounded growable buffer, the RLE/bit-packing hybrid (definition
 * levels and dictionary indices), page compression with libsnappy and
 * libzstd, and UTF-8 validation (see parquet_impl.h).
 *
 * The hybrid and the codecs are written from the Parquet format's
 * Encodings.md and Compression.md. The decoder side runs on untrusted
 * bytes: it checks every run header and every bit it reads against the end
 * of its input, and decompression writes only into a buffer of the size the
 * caller has already bounded, failing unless it comes out exactly full.
 */
#include "parquet/parquet_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>
#include <zstd.h>

/* ---- growable buffer ---------------------------------------------------- */

void pq_buf_init(struct pq_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->err = 0;
}

void pq_buf_free(struct pq_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->err = 0;
}

uint8_t *pq_buf_reserve(struct pq_buf *b, size_t n)
{
	if (b->err != 0)
		return NULL;
	if (n > b->max - b->len) {
		b->err = TP_ETOOBIG;
		return NULL;
	}
	size_t need = b->len + n;
	if (need > b->cap) {
		/* Double, but never past the ceiling. */
		size_t cap = b->cap < 256 ? 256 : b->cap;
		while (cap < need)
			cap = cap > b->max / 2 ? b->max : cap * 2;
		uint8_t *p = realloc(b->data, cap);
		if (p == NULL) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->data = p;
		b->cap = cap;
	}
	return b->data + b->len;
}

void pq_buf_put(struct pq_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	uint8_t *dst = pq_buf_reserve(b, n);
	if (dst == NULL)
		return;
	memcpy(dst, p, n);
	b->len += n;
}

void pq_buf_byte(struct pq_buf *b, uint8_t v)
{
	pq_buf_put(b, &v, 1);
}

void pq_buf_le32(struct pq_buf *b, uint32_t v)
{
	uint8_t tmp[4];
	pq_store_le32(tmp, v);
	pq_buf_put(b, tmp, sizeof(tmp));
}

void pq_buf_le64(struct pq_buf *b, uint64_t v)
{
	uint8_t tmp[8];
	for (unsigned i = 0; i < 8; i++)
		tmp[i] = (uint8_t)(v >> (8u * i));
	pq_buf_put(b, tmp, sizeof(tmp));
}

void pq_buf_uleb(struct pq_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	do {
		uint8_t c = (uint8_t)(v & 0x7fu);
		v >>= 7;
		tmp[n++] = (uint8_t)(c | (v != 0 ? 0x80u : 0u));
	} while (v != 0);
	pq_buf_put(b, tmp, n);
}

/* ---- RLE / bit-packing hybrid: encoder ------------------------------------ */

/* Encodings.md: a run header is a ULEB128; its low bit selects a
 * bit-packed run ((groups << 1) | 1, each group 8 values packed LSB first)
 * or an RLE run ((count << 1), then the value in ceil(bw / 8) octets, little
 * endian). Runs of 8 or more equal values are worth an RLE run; the rest go
 * into bit-packed groups. Only the very last group may be padded, since the
 * reader knows how many values to take. */

/* Literal groups per bit-packed run header; readers accept any count, but
 * a small bound keeps each header to one or two octets. */
#define RLE_MAX_GROUPS 63u
/* Shortest run worth an RLE header rather than packing. */
#define RLE_MIN_RUN 8u

struct rle_src {
	const uint8_t *u8;
	const uint32_t *u32;
};

static inline uint32_t src_get(const struct rle_src *s, size_t i)
{
	return s->u8 != NULL ? s->u8[i] : s->u32[i];
}

/* Pack values [from, to) (to - from a multiple of 8, except for the final
 * run, which is zero-padded) as bit-packed runs. */
static void emit_packed(struct pq_buf *out, const struct rle_src *s,
			size_t from, size_t to, size_t n, unsigned bw)
{
	while (from < to) {
		size_t count = to - from;
		if (count > RLE_MAX_GROUPS * 8u)
			count = RLE_MAX_GROUPS * 8u;
		size_t groups = (count + 7u) / 8u;
		pq_buf_uleb(out, (uint64_t)groups << 1 | 1u);
		uint64_t acc = 0;
		unsigned nbits = 0;
		for (size_t i = 0; i < groups * 8u; i++) {
			size_t at = from + i;
			uint32_t v = at < to && at < n ? src_get(s, at) : 0u;
			acc |= (uint64_t)v << nbits;
			nbits += bw;
			while (nbits >= 8) {
				pq_buf_byte(out, (uint8_t)acc);
				acc >>= 8;
				nbits -= 8;
			}
		}
		/* groups * 8 * bw is a multiple of 8 bits: nothing is left. */
		from += count;
	}
}

static void emit_rle(struct pq_buf *out, uint32_t v, size_t count,
		     unsigned bw)
{
	pq_buf_uleb(out, (uint64_t)count << 1);
	for (unsigned i = 0; i < (bw + 7u) / 8u; i++)
		pq_buf_byte(out, (uint8_t)(v >> (8u * i)));
}

static void rle_encode(struct pq_buf *out, const struct rle_src *s, size_t n,
		       unsigned bw)
{
	size_t lit = 0; /* first value not yet emitted */
	size_t i = 0;
	while (i < n) {
		uint32_t v = src_get(s, i);
		size_t run = 1;
		while (i + run < n && src_get(s, i + run) == v)
			run++;
		if (run < RLE_MIN_RUN) {
			i += run;
			continue;
		}
		/* Literals before an RLE run must fill whole groups: lend
		 * them the first values of the run. */
		size_t pad = (8u - (i - lit) % 8u) % 8u;
		i += pad;
		run -= pad;
		emit_packed(out, s, lit, i, n, bw);
		emit_rle(out, v, run, bw);
		i += run;
		lit = i;
	}
	emit_packed(out, s, lit, n, n, bw);
}

void pq_rle_encode_u8(struct pq_buf *out, const uint8_t *vals, size_t n,
		      unsigned bw)
{
	struct rle_src s = { .u8 = vals, .u32 = NULL };
	rle_encode(out, &s, n, bw);
}

void pq_rle_encode_u32(struct pq_buf *out, const uint32_t *vals, size_t n,
		       unsigned bw)
{
	struct rle_src s = { .u8 = NULL, .u32 = vals };
	rle_encode(out, &s, n, bw);
}

/* ---- RLE / bit-packing hybrid: decoder ------------------------------------ */

void pq_rle_init(struct pq_rle_dec *d, const uint8_t *p, size_t len,
		 unsigned bw)
{
	d->p = p;
	d->len = len;
	d->pos = 0;
	d->bw = bw;
	d->rle_left = 0;
	d->rle_val = 0;
	d->bp_left = 0;
	d->bp_bit = 0;
}

int pq_rle_next(struct pq_rle_dec *d, uint32_t *out)
{
	for (;;) {
		if (d->rle_left > 0) {
			d->rle_left--;
			*out = d->rle_val;
			return 0;
		}
		if (d->bp_left > 0) {
			d->bp_left--;
			if (d->bw == 0) {
				*out = 0;
				return 0;
			}
			/* Check, then read: the value's last bit must lie
			 * inside the input. A writer may cut the final group
			 * short; values past the end are simply absent. */
			uint64_t bit = d->bp_bit;
			if (bit + d->bw > (uint64_t)d->len * 8u)
				return TP_ETRUNC;
			size_t first = (size_t)(bit >> 3);
			unsigned shift = (unsigned)(bit & 7u);
			size_t last = (size_t)((bit + d->bw - 1u) >> 3);
			uint64_t acc = 0;
			for (size_t k = first; k <= last; k++)
				acc |= (uint64_t)d->p[k] << (8u * (k - first));
			acc >>= shift;
			uint64_t mask = (d->bw == 32) ? UINT32_MAX
						      : ((uint64_t)1 << d->bw) - 1u;
			*out = (uint32_t)(acc & mask);
			d->bp_bit = bit + d->bw;
			return 0;
		}
		/* Next run header: a ULEB128 of at most 5 octets (32 bits). */
		uint64_t h = 0;
		unsigned k = 0;
		for (;;) {
			if (d->pos >= d->len)
				return TP_ETRUNC;
			uint8_t c = d->p[d->pos++];
			h |= (uint64_t)(c & 0x7fu) << (7u * k);
			k++;
			if ((c & 0x80u) == 0)
				break;
			if (k == 5)
				return TP_EMALF;
		}
		if (h > UINT32_MAX)
			return TP_EMALF;
		if (h & 1u) {
			uint64_t groups = h >> 1;
			d->bp_left = groups * 8u;
			d->bp_bit = (uint64_t)d->pos * 8u;
			uint64_t bytes = groups * d->bw;
			/* The run may be cut short (see above); skip what is
			 * there and let reads past the end fail. */
			if (bytes > d->len - d->pos)
				d->pos = d->len;
			else
				d->pos += (size_t)bytes;
		} else {
			unsigned nbytes = (d->bw + 7u) / 8u;
			if (nbytes > d->len - d->pos)
				return TP_ETRUNC;
			uint32_t v = 0;
			for (unsigned i = 0; i < nbytes; i++)
				v |= (uint32_t)d->p[d->pos + i] << (8u * i);
			d->pos += nbytes;
			if (d->bw < 32 && (v >> d->bw) != 0)
				return TP_EMALF;
			d->rle_left = h >> 1;
			d->rle_val = v;
		}
		/* A run of zero values consumed at least one octet: the loop
		 * ends with the input. */
	}
}

/* ---- compression --------------------------------------------------------- */

int pq_compress(int codec, void *zctx, int level, const uint8_t *src,
		size_t n, struct pq_buf *out)
{
	out->len = 0;
	static const uint8_t empty[1];
	if (n == 0)
		src = empty; /* the libraries want a real pointer */
	if (codec == PQ_CODEC_UNCOMPRESSED) {
		pq_buf_put(out, src, n);
		return out->err;
	}
	if (codec == PQ_CODEC_SNAPPY) {
		size_t cap = snappy_max_compressed_length(n);
		uint8_t *dst = pq_buf_reserve(out, cap);
		if (dst == NULL)
			return out->err;
		size_t clen = cap;
		/* The C API takes char pointers; char may alias anything. */
		if (snappy_compress((const char *)src, n, (char *)dst,
				    &clen) != SNAPPY_OK)
			return TP_EBUG;
		out->len = clen;
		return 0;
	}
	if (codec == PQ_CODEC_ZSTD) {
		size_t cap = ZSTD_compressBound(n);
		if (ZSTD_isError(cap))
			return TP_ETOOBIG;
		uint8_t *dst = pq_buf_reserve(out, cap);
		if (dst == NULL)
			return out->err;
		size_t clen = ZSTD_compressCCtx(zctx, dst, cap, src, n, level);
		if (ZSTD_isError(clen))
			return TP_EBUG;
		out->len = clen;
		return 0;
	}
	return TP_EBUG;
}

int pq_decompress(int codec, void *zctx, const uint8_t *src, size_t n,
		  uint8_t *dst, size_t dst_len)
{
	if (codec == PQ_CODEC_UNCOMPRESSED) {
		if (n != dst_len)
			return TP_EMALF;
		if (n > 0)
			memcpy(dst, src, n);
		return 0;
	}
	if (codec == PQ_CODEC_SNAPPY) {
		size_t ulen;
		if (snappy_uncompressed_length((const char *)src, n, &ulen) !=
			    SNAPPY_OK ||
		    ulen != dst_len)
			return TP_EMALF;
		if (dst_len == 0)
			return 0;
		size_t got = dst_len;
		if (snappy_uncompress((const char *)src, n, (char *)dst,
				      &got) != SNAPPY_OK ||
		    got != dst_len)
			return TP_EMALF;
		return 0;
	}
	if (codec == PQ_CODEC_ZSTD) {
		/* Single-shot into a buffer of the declared size: zstd
		 * stops with an error rather than write past dst_len, and
		 * needs no window buffer of its own. */
		size_t got = ZSTD_decompressDCtx(zctx, dst, dst_len, src, n);
		if (ZSTD_isError(got) || got != dst_len)
			return TP_EMALF;
		return 0;
	}
	return -ENOTSUP;
}

/* ---- UTF-8 ----------------------------------------------------------------- */

bool pq_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = p[i];
		if (c < 0x80u) {
			i++;
			continue;
		}
		size_t need;
		uint32_t cp;
		uint32_t min;
		if (c >= 0xc2u && c <= 0xdfu) {
			need = 1;
			cp = c & 0x1fu;
			min = 0x80u;
		} else if (c >= 0xe0u && c <= 0xefu) {
			need = 2;
			cp = c & 0x0fu;
			min = 0x800u;
		} else if (c >= 0xf0u && c <= 0xf4u) {
			need = 3;
			cp = c & 0x07u;
			min = 0x10000u;
		} else {
			return false; /* continuation, overlong lead, > U+10FFFF */
		}
		if (len - i - 1u < need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			uint8_t cc = p[i + k];
			if ((cc & 0xc0u) != 0x80u)
				return false;
			cp = cp << 6 | (cc & 0x3fu);
		}
		if (cp < min || cp > 0x10ffffu ||
		    (cp >= 0xd800u && cp <= 0xdfffu))
			return false;
		i += need + 1u;
	}
	return true;
}
