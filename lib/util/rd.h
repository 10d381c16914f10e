/* SPDX-License-Identifier: BSD-2-Clause
 *
 * rd.h - big-endian loads for parsers of outside bytes.
 *
 * Callers check the remaining length first (check, then read); these helpers
 * only assemble the octets, so one tested place does the shifting.
 */
#ifndef TP_UTIL_RD_H
#define TP_UTIL_RD_H

#include <stdint.h>

static inline uint16_t tp_load_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | (uint16_t)p[1]);
}

static inline uint32_t tp_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void tp_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t tp_load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#endif
