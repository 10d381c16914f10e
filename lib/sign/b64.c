/* SPDX-License-Identifier: BSD-2-Clause
 *
 * b64.c - strict base64url without padding (b64.h).
 *
 * Written from RFC 4648 §4-5: every 3 input bytes become 4 characters of 6
 * bits each, most significant first; a final 1 or 2 bytes become 2 or 3
 * characters whose unused low bits are zero. Decoding maps characters
 * through explicit ASCII ranges (no locale, no signed char arithmetic) and
 * validates before it writes a byte past what the input justifies.
 */
#include "sign/b64.h"

static const char alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of a character, or -1. Ranges are compared explicitly rather than
 * with isalpha() and friends, which depend on the locale. */
static int8_t value_of(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (int8_t)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (int8_t)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (int8_t)(c - '0' + 52);
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int tp_b64url_encode(const uint8_t *in, size_t in_len, char *out,
		     size_t out_size)
{
	if (out == NULL || (in == NULL && in_len != 0))
		return TP_EINVAL;
	/* in_len / 3 * 4 cannot overflow for any in-memory buffer, but the
	 * caller's out_size is the real bound: check before writing. */
	if (in_len > (SIZE_MAX - 4u) / 4u * 3u ||
	    tp_b64url_encoded_len(in_len) >= out_size)
		return TP_ENOSPACE;
	size_t o = 0, i = 0;
	for (; i + 3u <= in_len; i += 3u) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1u] << 8 |
			     in[i + 2u];
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63u];
		out[o++] = alphabet[(v >> 6) & 63u];
		out[o++] = alphabet[v & 63u];
	}
	size_t rest = in_len - i;
	if (rest == 1u) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63u];
	} else if (rest == 2u) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1u] << 8;
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63u];
		out[o++] = alphabet[(v >> 6) & 63u];
	}
	out[o] = '\0';
	return 0;
}

int tp_b64url_decode(const char *in, size_t in_len, uint8_t *out,
		     size_t out_size, size_t *out_len)
{
	if ((in == NULL && in_len != 0) || (out == NULL && out_size != 0) ||
	    out_len == NULL)
		return TP_EINVAL;
	/* One character carries 6 bits, less than a byte: no encoder emits it. */
	if (in_len % 4u == 1u)
		return TP_EMALF;
	/* Validate every character first, so a bad one late in the input is
	 * reported as malformed rather than as a short buffer. */
	for (size_t i = 0; i < in_len; i++)
		if (value_of((unsigned char)in[i]) < 0)
			return TP_EMALF;
	size_t need = tp_b64url_decoded_max(in_len);
	if (need > out_size)
		return TP_ENOSPACE;

	size_t o = 0, i = 0;
	for (; i + 4u <= in_len; i += 4u) {
		uint32_t v = (uint32_t)value_of((unsigned char)in[i]) << 18 |
			     (uint32_t)value_of((unsigned char)in[i + 1u]) << 12 |
			     (uint32_t)value_of((unsigned char)in[i + 2u]) << 6 |
			     (uint32_t)value_of((unsigned char)in[i + 3u]);
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	size_t rest = in_len - i;
	if (rest >= 2u) {
		uint32_t v = (uint32_t)value_of((unsigned char)in[i]) << 18 |
			     (uint32_t)value_of((unsigned char)in[i + 1u]) << 12;
		if (rest == 3u)
			v |= (uint32_t)value_of((unsigned char)in[i + 2u]) << 6;
		/* Bits below the last whole byte must be zero (RFC 4648 §3.5),
		 * else "AB" and "AC" would decode to the same byte. */
		uint32_t unused = rest == 2u ? 0xffffu : 0xffu;
		if ((v & unused) != 0)
			return TP_EMALF;
		out[o++] = (uint8_t)(v >> 16);
		if (rest == 3u)
			out[o++] = (uint8_t)(v >> 8);
	}
	*out_len = o;
	return 0;
}
