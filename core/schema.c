/* SPDX-License-Identifier: BSD-2-Clause
 *
 * schema.c - the bridge's check of untrusted event payloads (schema.h):
 * the new_qname schema.
 *
 * jansson does the JSON grammar: it refuses trailing bytes, invalid UTF-8
 * and NUL inside strings by default, and bounds nesting depth; we add
 * JSON_REJECT_DUPLICATES so that no two readers of a payload can disagree
 * about which of two equal members counts. The field rules are written
 * from core-spec §3.1, RFC 4122 §3 (uuid text) and RFC 3339 §5.6
 * (date-time).
 */
/* Quoted and relative: fuzz/ builds this file without the project root
 * on its include path. */
#include "schema.h"

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "util/ascii.h"

/* ---- new_qname ------------------------------------------------------------ */

/* RFC 4122 §3: 8-4-4-4-12 hex digits, either case. */
static bool uuid_ok(const char *s, size_t n)
{
	if (n != 36u)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!tp_ascii_isdigit(c) && !((c | 0x20u) >= 'a' && (c | 0x20u) <= 'f')) {
			return false;
		}
	}
	return true;
}

/* n decimal digits at s[*pos], advancing *pos; -1 if not all digits. */
static int digits(const char *s, size_t len, size_t *pos, size_t n)
{
	if (len - *pos < n)
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[*pos + i];
		if (!tp_ascii_isdigit(c))
			return -1;
		v = v * 10 + (c - '0');
	}
	*pos += n;
	return v;
}

static bool expect(const char *s, size_t len, size_t *pos, char c)
{
	if (*pos >= len || s[*pos] != c)
		return false;
	(*pos)++;
	return true;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

/* RFC 3339 §5.6 date-time, with two refusals the grammar allows: 't'/'z'
 * in lower case and a leap second (:60). The analysts parse timestamps
 * with Go's time package, which refuses both; the edge never writes them. */
static bool date_time_ok(const char *s, size_t len)
{
	size_t p = 0;
	int year = digits(s, len, &p, 4);
	if (year < 0 || !expect(s, len, &p, '-'))
		return false;
	int month = digits(s, len, &p, 2);
	if (month < 1 || month > 12 || !expect(s, len, &p, '-'))
		return false;
	int day = digits(s, len, &p, 2);
	if (day < 1 || day > days_in_month(year, month) || !expect(s, len, &p, 'T'))
		return false;
	int hour = digits(s, len, &p, 2);
	if (hour < 0 || hour > 23 || !expect(s, len, &p, ':'))
		return false;
	int minute = digits(s, len, &p, 2);
	if (minute < 0 || minute > 59 || !expect(s, len, &p, ':'))
		return false;
	int second = digits(s, len, &p, 2);
	if (second < 0 || second > 59)
		return false;
	if (p < len && s[p] == '.') {
		p++;
		size_t start = p;
		while (p < len && tp_ascii_isdigit((uint8_t)s[p]))
			p++;
		if (p == start)
			return false;
	}
	if (p < len && s[p] == 'Z')
		return p + 1u == len;
	if (p >= len || (s[p] != '+' && s[p] != '-'))
		return false;
	p++;
	int oh = digits(s, len, &p, 2);
	if (oh < 0 || oh > 23 || !expect(s, len, &p, ':'))
		return false;
	int om = digits(s, len, &p, 2);
	return om >= 0 && om <= 59 && p == len;
}

static bool int_in(json_t *v, json_int_t lo, json_int_t hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static int fail(const char **why, const char *text, int rc)
{
	if (why != NULL)
		*why = text;
	return rc;
}

/* One member against its rule; returns a static phrase, or NULL if it
 * passes. */
static const char *check_member(const char *name, json_t *v)
{
	if (strcmp(name, "type") == 0)
		return json_is_string(v) && strcmp(json_string_value(v), "new_qname") == 0
			       ? NULL
			       : "type is not \"new_qname\"";
	if (strcmp(name, "version") == 0)
		return json_is_integer(v) && json_integer_value(v) >= 0 ? NULL : "version is not an integer >= 0";
	if (strcmp(name, "qname") == 0)
		return json_is_string(v) ? NULL : "qname is not a string";
	if (strcmp(name, "message_id") == 0)
		return json_is_string(v) && uuid_ok(json_string_value(v), json_string_length(v))
			       ? NULL
			       : "message_id is not a uuid string";
	if (strcmp(name, "timestamp") == 0)
		return json_is_string(v) && date_time_ok(json_string_value(v), json_string_length(v))
			       ? NULL
			       : "timestamp is not an RFC 3339 date-time string";
	if (strcmp(name, "qtype") == 0 || strcmp(name, "qclass") == 0 ||
	    strcmp(name, "rdlength") == 0)
		return int_in(v, 0, 65535) ? NULL : "qtype, qclass or rdlength is not an integer 0..65535";
	if (strcmp(name, "flags") == 0)
		return json_is_integer(v) ? NULL : "flags is not an integer";
	if (strcmp(name, "initiator") == 0)
		return json_is_string(v) && (strcmp(json_string_value(v), "client") == 0 ||
					     strcmp(json_string_value(v), "resolver") == 0)
			       ? NULL
			       : "initiator is not \"client\" or \"resolver\"";
	return "a member outside the new_qname schema (the analysts refuse unknown members)";
}

int tp_schema_new_qname(const uint8_t *json, size_t len, const char **why)
{
	if (json == NULL)
		return fail(why, "no payload", TP_EINVAL);
	if (len > TP_JWS_MAX)
		return fail(why, "payload too large", TP_ETOOBIG);
	json_error_t jerr;
	json_t *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return fail(why, "not JSON, or duplicate members", TP_EMALF);
	int rc = 0;
	if (!json_is_object(root)) {
		rc = fail(why, "not a JSON object", TP_EMALF);
		goto out;
	}
	static const char *const required[] = {"type", "version", "qname"};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (json_object_get(root, required[i]) == NULL) {
			rc = fail(why, "type, version or qname missing", TP_EMISSING);
			goto out;
		}
	}
	const char *name;
	json_t *v;
	json_object_foreach(root, name, v) {
		/* A member name with a NUL inside would compare equal to its
		 * prefix; jansson refuses NUL in keys, so strcmp is exact. */
		const char *bad = check_member(name, v);
		if (bad != NULL) {
			rc = fail(why, bad, TP_EMALF);
			goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}
