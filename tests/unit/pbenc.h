/* SPDX-License-Identifier: BSD-2-Clause
 *
 * pbenc.h - a tiny protobuf and Frame Streams encoder for tests, written
 * from the encoding rules, so test inputs do not come from the decoder
 * under test.
 */
#ifndef TP_TEST_PBENC_H
#define TP_TEST_PBENC_H

#include <stdint.h>
#include <string.h>

struct enc {
	uint8_t b[70000];
	size_t n;
};

static inline void enc_varint(struct enc *e, uint64_t v)
{
	do {
		uint8_t byte = (uint8_t)(v & 0x7f);
		v >>= 7;
		e->b[e->n++] = (uint8_t)(byte | (v ? 0x80 : 0));
	} while (v);
}

static inline void enc_key(struct enc *e, uint32_t field, uint32_t wt)
{
	enc_varint(e, (uint64_t)field << 3 | wt);
}

static inline void enc_uint(struct enc *e, uint32_t field, uint64_t v)
{
	enc_key(e, field, 0);
	enc_varint(e, v);
}

static inline void enc_bytes(struct enc *e, uint32_t field, const void *p, size_t len)
{
	enc_key(e, field, 2);
	enc_varint(e, len);
	memcpy(e->b + e->n, p, len);
	e->n += len;
}

static inline void enc_fixed32(struct enc *e, uint32_t field, uint32_t v)
{
	enc_key(e, field, 5);
	for (int i = 0; i < 4; i++)
		e->b[e->n++] = (uint8_t)(v >> (8 * i));
}

/* A Frame Streams data frame around payload. */
static inline void enc_frame(struct enc *e, const uint8_t *p, size_t len)
{
	e->b[e->n++] = (uint8_t)(len >> 24);
	e->b[e->n++] = (uint8_t)(len >> 16);
	e->b[e->n++] = (uint8_t)(len >> 8);
	e->b[e->n++] = (uint8_t)len;
	memcpy(e->b + e->n, p, len);
	e->n += len;
}

#endif
