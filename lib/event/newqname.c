/* SPDX-License-Identifier: BSD-2-Clause
 *
 * newqname.c - new_qname event JSON and the device-unique rule (see
 * newqname.h for the rule and why it exists).
 */
#include "event/newqname.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define UUID_LEN 36u
#define HEX_RUN_MIN 16u
#define DIGIT_RUN_MIN 12u
#define DIGIT_DISTINCT_MIN 4u
#define ALNUM_RUN_MIN 20u
#define ALNUM_DIGIT_GROUPS_MIN 3u
#define ALNUM_LETTERS_MAX 12u

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool is_alnum(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z');
}

/* A UUID (8-4-4-4-12 hex digits) at p[0..UUID_LEN), within len octets. */
static bool uuid_at(const uint8_t *p, size_t len)
{
	if (len < UUID_LEN)
		return false;
	for (size_t i = 0; i < UUID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? p[i] != '-' : !is_hex(p[i]))
			return false;
	}
	return true;
}

/* Whether the letters-and-digits run p[0..n) looks like an identifier. */
static bool run_is_unique(const uint8_t *p, size_t n)
{
	/* Hex runs: maximal, with both digits and letters, so that neither
	 * "aaaa…" nor a word like "deadbeefcafebabe" counts (a random 64-bit
	 * identifier lacks either with odds of about 1 in 2,000). */
	for (size_t i = 0; i < n;) {
		size_t j = i, hd = 0;
		while (j < n && is_hex(p[j]))
			hd += is_digit(p[j++]);
		if (j - i >= HEX_RUN_MIN && hd > 0 && hd < j - i)
			return true;
		i = j + 1;
	}
	/* Decimal runs with some variety: account and phone numbers, not
	 * "0100101110101101". */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		unsigned seen = 0, distinct = 0;
		for (; j < n && is_digit(p[j]); j++) {
			unsigned bit = 1u << (p[j] - '0');
			distinct += !(seen & bit);
			seen |= bit;
		}
		if (j - i >= DIGIT_RUN_MIN && distinct >= DIGIT_DISTINCT_MIN)
			return true;
		i = j + 1;
	}
	/* Long mixed runs: random base32/base36 text switches between letters
	 * and digits often and has no long stretch of letters; names such as
	 * "covid19treatmentguidelines" or "hubspotusercontent00" do not. */
	if (n < ALNUM_RUN_MIN)
		return false;
	size_t groups = 0, letters = 0, letters_max = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_digit(p[i])) {
			groups += i == 0 || !is_digit(p[i - 1]);
			letters = 0;
		} else if (++letters > letters_max) {
			letters_max = letters;
		}
	}
	return groups >= ALNUM_DIGIT_GROUPS_MIN && letters_max <= ALNUM_LETTERS_MAX;
}

/* Reduce one label into out (room for 63 octets); returns its new length. */
static size_t reduce_label(const uint8_t *p, size_t len, uint8_t *out, unsigned *reduced)
{
	size_t o = 0, i = 0;
	while (i < len) {
		if (uuid_at(p + i, len - i)) {
			out[o++] = '*';
			(*reduced)++;
			i += UUID_LEN;
			continue;
		}
		if (!is_alnum(p[i])) {
			out[o++] = p[i++];
			continue;
		}
		size_t j = i;
		while (j < len && is_alnum(p[j]))
			j++;
		if (run_is_unique(p + i, j - i)) {
			out[o++] = '*';
			(*reduced)++;
		} else {
			memcpy(out + o, p + i, j - i);
			o += j - i;
		}
		i = j;
	}
	return o;
}

int tp_newqname_reduce(const struct tp_dns_name *in, struct tp_dns_name *out,
		       unsigned *out_reduced)
{
	if (in == NULL || out == NULL || out_reduced == NULL)
		return TP_EINVAL;
	*out_reduced = 0;
	struct tp_dns_name r = { .len = 0, .n_labels = 0 };
	size_t pos = 0;
	for (;;) {
		if (pos >= in->len || in->len > TP_DNS_NAME_MAX)
			return TP_EMALF;
		uint8_t l = in->wire[pos];
		if (l == 0) {
			if (pos + 1 != in->len)
				return TP_EMALF;
			break;
		}
		if (l > 63 || pos + 1u + l >= in->len)
			return TP_EMALF;
		/* Reduction never lengthens a label, so r has room. */
		size_t n = reduce_label(in->wire + pos + 1, l, r.wire + r.len + 1, out_reduced);
		r.wire[r.len] = (uint8_t)n;
		r.len = (uint16_t)(r.len + 1u + n);
		r.n_labels++;
		pos += 1u + l;
	}
	r.wire[r.len++] = 0;
	*out = r;
	return 0;
}

int tp_newqname_json(const struct tp_newqname *ev, char *out, size_t size)
{
	/* 2^35 s is year 3058: beyond it gmtime is not worth trusting. */
	if (ev == NULL || out == NULL || ev->time_us < 0 ||
	    ev->time_us / 1000000 >= (INT64_C(1) << 35))
		return TP_EINVAL;
	char name[TP_DNS_PRESENT_MAX];
	int nlen = tp_dns_name_present(&ev->qname, name, sizeof(name));
	if (nlen < 0)
		return nlen == TP_ENOSPACE ? TP_EBUG : nlen;

	/* Encoded as Go's encoding/json does (the reference's encoder):
	 * '"' and '\\' escaped, '<' '>' '&' as \u00XX. The presentation form
	 * is printable ASCII, so nothing else needs escaping. */
	char escaped[TP_DNS_PRESENT_MAX * 6u];
	size_t e = 0;
	for (int i = 0; i < nlen; i++) {
		char c = name[i];
		if (c == '"' || c == '\\') {
			escaped[e++] = '\\';
			escaped[e++] = c;
		} else if (c == '<' || c == '>' || c == '&') {
			e += (size_t)snprintf(escaped + e, sizeof(escaped) - e, "\\u%04x",
					      (unsigned)(unsigned char)c);
		} else {
			escaped[e++] = c;
		}
	}
	escaped[e] = '\0';

	time_t minute = (time_t)(ev->time_us / 1000000 / 60 * 60);
	struct tm tm;
	if (gmtime_r(&minute, &tm) == NULL)
		return TP_EINVAL;
	int n = snprintf(out, size,
			 "{\"flags\":%u,\"qclass\":%u,\"qname\":\"%s\",\"qtype\":%u,"
			 "\"timestamp\":\"%04d-%02d-%02dT%02d:%02d:00Z\","
			 "\"type\":\"new_qname\",\"version\":0}",
			 (unsigned)ev->flags, (unsigned)ev->qclass, escaped, (unsigned)ev->qtype,
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
	if (n < 0)
		return TP_EBUG;
	if ((size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		return TP_ENOSPACE;
	}
	return n;
}
