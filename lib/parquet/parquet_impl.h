/* SPDX-License-Identifier: BSD-2-Clause
 *
 * parquet_impl.h - internals shared by the Parquet writer and reader: the
 * format's enum values, a growable byte buffer with a ceiling, the
 * RLE/bit-packing hybrid, page compression and UTF-8 validation.
 *
 * Nothing here is part of the module's API (parquet.h is). The enum values
 * are facts of the Apache Parquet format (parquet.thrift); they are written
 * out here once so that writer and reader cannot disagree.
 */
#ifndef TP_PARQUET_PARQUET_IMPL_H
#define TP_PARQUET_PARQUET_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"

/* parquet.thrift enum Type */
enum {
	PQ_TYPE_BOOLEAN = 0,
	PQ_TYPE_INT32 = 1,
	PQ_TYPE_INT64 = 2,
	PQ_TYPE_INT96 = 3,
	PQ_TYPE_FLOAT = 4,
	PQ_TYPE_DOUBLE = 5,
	PQ_TYPE_BYTE_ARRAY = 6,
	PQ_TYPE_FIXED_LEN_BYTE_ARRAY = 7,
};

/* enum ConvertedType (the subset we write or map) */
enum {
	PQ_CT_UTF8 = 0,
	PQ_CT_TIMESTAMP_MICROS = 10,
	PQ_CT_UINT_8 = 11,
	PQ_CT_UINT_16 = 12,
	PQ_CT_UINT_32 = 13,
	PQ_CT_UINT_64 = 14,
	PQ_CT_INT_8 = 15,
	PQ_CT_INT_16 = 16,
	PQ_CT_INT_32 = 17,
	PQ_CT_INT_64 = 18,
};

/* enum FieldRepetitionType */
enum { PQ_REP_REQUIRED = 0, PQ_REP_OPTIONAL = 1, PQ_REP_REPEATED = 2 };

/* enum Encoding */
enum {
	PQ_ENC_PLAIN = 0,
	PQ_ENC_PLAIN_DICTIONARY = 2,
	PQ_ENC_RLE = 3,
	PQ_ENC_BIT_PACKED = 4,
	PQ_ENC_RLE_DICTIONARY = 8,
};

/* enum CompressionCodec */
enum { PQ_CODEC_UNCOMPRESSED = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_ZSTD = 6 };

/* enum PageType */
enum {
	PQ_PAGE_DATA = 0,
	PQ_PAGE_INDEX = 1,
	PQ_PAGE_DICTIONARY = 2,
	PQ_PAGE_DATA_V2 = 3,
};

/* union LogicalType member ids, TimeUnit member ids */
enum {
	PQ_LT_STRING = 1,
	PQ_LT_TIMESTAMP = 8,
	PQ_LT_INTEGER = 10,
};
enum { PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };

/* "PAR1" at both ends of a file; the footer length sits before the last. */
#define PQ_MAGIC "PAR1"
#define PQ_MAGIC_LEN 4u
#define PQ_TAIL_LEN 8u /* footer length (LE32) + magic */

/* ---- growable buffer ---------------------------------------------------- */

/* A byte buffer that grows up to a ceiling given at init (STYLE §3.5). The
 * first failed append records its code in err and every later append is a
 * no-op, so a run of appends is checked once at the end. */
struct pq_buf {
	uint8_t *data; /* from malloc; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;    /* ceiling on len */
	int err;       /* 0, -ENOMEM or TP_ETOOBIG (sticky) */
};

void pq_buf_init(struct pq_buf *b, size_t max);
void pq_buf_free(struct pq_buf *b);
/* Room for n more octets; returns a pointer to them (len unchanged) or NULL
 * with b->err set. */
uint8_t *pq_buf_reserve(struct pq_buf *b, size_t n);
void pq_buf_put(struct pq_buf *b, const void *p, size_t n);
void pq_buf_byte(struct pq_buf *b, uint8_t v);
void pq_buf_le32(struct pq_buf *b, uint32_t v);
void pq_buf_le64(struct pq_buf *b, uint64_t v);
/* Unsigned LEB128, as the RLE hybrid and Thrift compact protocol use. */
void pq_buf_uleb(struct pq_buf *b, uint64_t v);

static inline uint64_t pq_load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8u * i);
	return v;
}

static inline void pq_store_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8u * i));
}

/* ---- RLE / bit-packing hybrid (Parquet Encodings.md) -------------------- */

/* Append the hybrid encoding of n values of bit width bw (0..32) to out,
 * without a length prefix. Values must be < 2^bw. */
void pq_rle_encode_u8(struct pq_buf *out, const uint8_t *vals, size_t n,
		      unsigned bw);
void pq_rle_encode_u32(struct pq_buf *out, const uint32_t *vals, size_t n,
		       unsigned bw);

/* Streaming decoder over untrusted bytes; never reads outside [p, p+len). */
struct pq_rle_dec {
	const uint8_t *p;
	size_t len;
	size_t pos;        /* next run header */
	unsigned bw;       /* 0..32 */
	uint64_t rle_left; /* values left in the current RLE run */
	uint32_t rle_val;
	uint64_t bp_left;  /* values left in the current bit-packed run */
	uint64_t bp_bit;   /* bit offset in p of the next bit-packed value */
};

void pq_rle_init(struct pq_rle_dec *d, const uint8_t *p, size_t len,
		 unsigned bw);
/* Next value. Returns 0, TP_ETRUNC (the runs end before the values do) or
 * TP_EMALF (a bad run header or an RLE value wider than bw). */
int pq_rle_next(struct pq_rle_dec *d, uint32_t *out) TP_WUR;

/* ---- compression --------------------------------------------------------- */

/* Compress src into out (cleared first) with a Parquet codec id.
 *   zctx: a ZSTD_CCtx for PQ_CODEC_ZSTD, reused across pages.
 * Returns 0, -ENOMEM, TP_ETOOBIG (out's ceiling) or TP_EBUG (the library
 * failed on valid input). */
int pq_compress(int codec, void *zctx, int level, const uint8_t *src,
		size_t n, struct pq_buf *out) TP_WUR;

/* Decompress exactly dst_len octets from untrusted src.
 *   zctx: a ZSTD_DCtx for PQ_CODEC_ZSTD.
 * Returns 0, TP_EMALF (corrupt data, or a size other than dst_len), or
 * -ENOTSUP for a codec other than none, Snappy and Zstd. */
int pq_decompress(int codec, void *zctx, const uint8_t *src, size_t n,
		  uint8_t *dst, size_t dst_len) TP_WUR;

/* ---- misc ----------------------------------------------------------------- */

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
bool pq_utf8_valid(const uint8_t *p, size_t len);

#endif
