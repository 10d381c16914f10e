/* SPDX-License-Identifier: BSD-2-Clause
 *
 * ascii.h - locale-free ASCII character helpers.
 *
 * DNS names are compared and keyed with ASCII case folding only (RFC 4343
 * §3: only the 26 letters A-Z fold; every other octet, including 0x80-0xff,
 * is compared as is). tolower()/toupper() depend on the process locale (in a
 * Latin-1 locale 0xC4 would fold to 0xE4), so tapir never calls them; these
 * helpers give the same answer in every locale and every process.
 */
#ifndef TP_UTIL_ASCII_H
#define TP_UTIL_ASCII_H

#include <stdbool.h>
#include <stdint.h>

/* 'A'..'Z' -> 'a'..'z'; every other octet unchanged. */
static inline uint8_t tp_ascii_tolower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20u) : c;
}

/* 'a'..'z' -> 'A'..'Z'; every other octet unchanged. */
static inline uint8_t tp_ascii_toupper(uint8_t c)
{
	return (c >= 'a' && c <= 'z') ? (uint8_t)(c & 0xdfu) : c;
}

static inline bool tp_ascii_isdigit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

#endif
