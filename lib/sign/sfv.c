/* SPDX-License-Identifier: BSD-2-Clause
 *
 * sfv.c - RFC 8941 dictionary parser and the base64 of byte sequences
 * (sfv.h).
 *
 * Written from the parsing algorithms of RFC 8941 §4.2 (dictionary,
 * inner list, parameters, bare items), one static function per algorithm,
 * over a cursor that never reads past the end. Every array the result
 * lives in is fixed-size; the first member, item or parameter that does
 * not fit refuses the field with TP_ETOOBIG, so a hostile header costs at
 * most one pass over its bytes and no allocation.
 */
#include "sign/sfv.h"

#include <string.h>

struct cur {
	const char *p;
	size_t len, pos;
	struct tp_sfv_dict *d;
};

static bool at_end(const struct cur *c)
{
	return c->pos >= c->len;
}

static int peek(const struct cur *c)
{
	return at_end(c) ? -1 : (unsigned char)c->p[c->pos];
}

static bool is_lcalpha(int ch)
{
	return ch >= 'a' && ch <= 'z';
}

static bool is_alpha(int ch)
{
	return is_lcalpha(ch) || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(int ch)
{
	return is_alpha(ch) || is_digit(ch) ||
	       (ch > 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static void skip_sp(struct cur *c)
{
	while (peek(c) == ' ')
		c->pos++;
}

static void skip_ows(struct cur *c)
{
	while (peek(c) == ' ' || peek(c) == '\t')
		c->pos++;
}

/* RFC 8941 §4.2.3.3 */
static int parse_key(struct cur *c, struct tp_sfv_span *out)
{
	int ch = peek(c);
	if (!is_lcalpha(ch) && ch != '*')
		return TP_EMALF;
	size_t start = c->pos;
	for (;;) {
		ch = peek(c);
		if (!(is_lcalpha(ch) || is_digit(ch) || ch == '_' || ch == '-' ||
		      ch == '.' || ch == '*'))
			break;
		c->pos++;
	}
	out->p = c->p + start;
	out->len = c->pos - start;
	return 0;
}

/* RFC 8941 §4.2.4: at most 15 digits for an integer, 12.3 for a decimal. */
static int parse_number(struct cur *c, struct tp_sfv_bare *out)
{
	int64_t sign = 1, ipart = 0, frac = 0;
	size_t idigits = 0, fdigits = 0;
	bool decimal = false;
	if (peek(c) == '-') {
		sign = -1;
		c->pos++;
	}
	if (!is_digit(peek(c)))
		return TP_EMALF;
	for (;;) {
		int ch = peek(c);
		if (is_digit(ch)) {
			if (decimal) {
				if (++fdigits > 3)
					return TP_EMALF;
				frac = frac * 10 + (ch - '0');
			} else {
				if (++idigits > 15)
					return TP_EMALF;
				ipart = ipart * 10 + (ch - '0');
			}
			c->pos++;
		} else if (ch == '.' && !decimal) {
			if (idigits > 12)
				return TP_EMALF;
			decimal = true;
			c->pos++;
		} else {
			break;
		}
	}
	if (decimal) {
		if (fdigits == 0)
			return TP_EMALF;
		while (fdigits++ < 3)
			frac *= 10;
		out->type = TP_SFV_DECIMAL;
		out->integer = sign * (ipart * 1000 + frac);
	} else {
		out->type = TP_SFV_INTEGER;
		out->integer = sign * ipart;
	}
	return 0;
}

/* RFC 8941 §4.2.5 */
static int parse_string(struct cur *c, struct tp_sfv_bare *out)
{
	c->pos++; /* the opening quote */
	size_t start = c->pos;
	out->type = TP_SFV_STRING;
	out->escaped = false;
	for (;;) {
		int ch = peek(c);
		if (ch < 0)
			return TP_EMALF;
		c->pos++;
		if (ch == '\\') {
			ch = peek(c);
			if (ch != '"' && ch != '\\')
				return TP_EMALF;
			c->pos++;
			out->escaped = true;
		} else if (ch == '"') {
			out->text.p = c->p + start;
			out->text.len = c->pos - 1u - start;
			return 0;
		} else if (ch < 0x20 || ch > 0x7e) {
			return TP_EMALF;
		}
	}
}

/* RFC 8941 §4.2.6 */
static int parse_token(struct cur *c, struct tp_sfv_bare *out)
{
	size_t start = c->pos;
	c->pos++; /* ALPHA or '*', checked by the caller */
	for (;;) {
		int ch = peek(c);
		if (!(is_tchar(ch) || ch == ':' || ch == '/'))
			break;
		c->pos++;
	}
	out->type = TP_SFV_TOKEN;
	out->text.p = c->p + start;
	out->text.len = c->pos - start;
	return 0;
}

static bool is_b64(int ch)
{
	return is_alpha(ch) || is_digit(ch) || ch == '+' || ch == '/' || ch == '=';
}

/* RFC 8941 §4.2.7: the characters are checked here, the encoding when
 * somebody decodes it. */
static int parse_bytes(struct cur *c, struct tp_sfv_bare *out)
{
	c->pos++;
	size_t start = c->pos;
	while (is_b64(peek(c)))
		c->pos++;
	if (peek(c) != ':')
		return TP_EMALF;
	out->type = TP_SFV_BYTES;
	out->text.p = c->p + start;
	out->text.len = c->pos - start;
	c->pos++;
	return 0;
}

/* RFC 8941 §4.2.3.1 */
static int parse_bare(struct cur *c, struct tp_sfv_bare *out)
{
	memset(out, 0, sizeof(*out));
	int ch = peek(c);
	if (ch == '-' || is_digit(ch))
		return parse_number(c, out);
	if (ch == '"')
		return parse_string(c, out);
	if (ch == '*' || is_alpha(ch))
		return parse_token(c, out);
	if (ch == ':')
		return parse_bytes(c, out);
	if (ch == '?') {
		c->pos++;
		ch = peek(c);
		if (ch != '0' && ch != '1')
			return TP_EMALF;
		c->pos++;
		out->type = TP_SFV_BOOLEAN;
		out->boolean = ch == '1';
		return 0;
	}
	return TP_EMALF;
}

/* RFC 8941 §4.2.3.2; the parameters go to the end of d->params. */
static int parse_params(struct cur *c, uint16_t *first, uint16_t *n)
{
	*first = (uint16_t)c->d->n_params;
	*n = 0;
	while (peek(c) == ';') {
		c->pos++;
		skip_sp(c);
		if (c->d->n_params >= TP_SFV_PARAMS_MAX)
			return TP_ETOOBIG;
		struct tp_sfv_param *pm = &c->d->params[c->d->n_params];
		int rc = parse_key(c, &pm->key);
		if (rc != 0)
			return rc;
		if (peek(c) == '=') {
			c->pos++;
			rc = parse_bare(c, &pm->value);
			if (rc != 0)
				return rc;
		} else {
			memset(&pm->value, 0, sizeof(pm->value));
			pm->value.type = TP_SFV_BOOLEAN;
			pm->value.boolean = true;
		}
		c->d->n_params++;
		(*n)++;
	}
	return 0;
}

/* RFC 8941 §4.2.1.2 */
static int parse_inner_list(struct cur *c, struct tp_sfv_member *m)
{
	c->pos++; /* '(' */
	m->inner = true;
	m->first_item = (uint16_t)c->d->n_items;
	m->n_items = 0;
	for (;;) {
		skip_sp(c);
		if (peek(c) == ')') {
			c->pos++;
			return parse_params(c, &m->first_param, &m->n_params);
		}
		if (c->d->n_items >= TP_SFV_ITEMS_MAX)
			return TP_ETOOBIG;
		struct tp_sfv_item *it = &c->d->items[c->d->n_items];
		int rc = parse_bare(c, &it->bare);
		if (rc == 0)
			rc = parse_params(c, &it->first_param, &it->n_params);
		if (rc != 0)
			return rc;
		c->d->n_items++;
		m->n_items++;
		if (peek(c) != ' ' && peek(c) != ')')
			return TP_EMALF;
	}
}

/* RFC 8941 §4.2.2 */
int tp_sfv_parse_dict(const char *text, size_t len, struct tp_sfv_dict *out)
{
	if (text == NULL || out == NULL)
		return TP_EINVAL;
	out->n_members = out->n_items = out->n_params = 0;
	struct cur c = { .p = text, .len = len, .pos = 0, .d = out };
	skip_sp(&c);
	if (at_end(&c))
		return TP_EMALF;
	for (;;) {
		if (out->n_members >= TP_SFV_MEMBERS_MAX)
			return TP_ETOOBIG;
		struct tp_sfv_member *m = &out->members[out->n_members];
		memset(m, 0, sizeof(*m));
		int rc = parse_key(&c, &m->key);
		if (rc != 0)
			return rc;
		size_t vstart = c.pos;
		if (peek(&c) == '=') {
			c.pos++;
			vstart = c.pos;
			if (peek(&c) == '(') {
				rc = parse_inner_list(&c, m);
			} else {
				rc = parse_bare(&c, &m->bare);
				if (rc == 0)
					rc = parse_params(&c, &m->first_param,
							  &m->n_params);
			}
		} else {
			m->bare.type = TP_SFV_BOOLEAN;
			m->bare.boolean = true;
			rc = parse_params(&c, &m->first_param, &m->n_params);
		}
		if (rc != 0)
			return rc;
		m->raw.p = text + vstart;
		m->raw.len = c.pos - vstart;
		out->n_members++;
		skip_ows(&c);
		if (at_end(&c))
			return 0;
		if (peek(&c) != ',')
			return TP_EMALF;
		c.pos++;
		skip_ows(&c);
		if (at_end(&c))
			return TP_EMALF;
	}
}

bool tp_sfv_span_is(struct tp_sfv_span span, const char *s)
{
	size_t n = strlen(s);
	return span.len == n && (n == 0 || memcmp(span.p, s, n) == 0);
}

static int b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (is_digit(ch))
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int tp_sfv_bytes_decode(struct tp_sfv_span b64, uint8_t *out, size_t out_size,
			size_t *out_len)
{
	if ((b64.p == NULL && b64.len > 0) || out_len == NULL ||
	    (out == NULL && out_size > 0))
		return TP_EINVAL;
	size_t n = b64.len;
	/* Padding, when present, completes the last quantum exactly. */
	if (n % 4u == 0 && n > 0 && b64.p[n - 1u] == '=') {
		n--;
		if (b64.p[n - 1u] == '=')
			n--;
	}
	if (n % 4u == 1u)
		return TP_EMALF;
	size_t need = n / 4u * 3u + (n % 4u == 0 ? 0u : n % 4u - 1u);
	if (need > out_size)
		return TP_ENOSPACE;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)b64.p[i]);
		if (v < 0)
			return TP_EMALF;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1u;
		}
	}
	/* RFC 4648 §3.5: the unused low bits of the last character are 0. */
	if (acc != 0)
		return TP_EMALF;
	*out_len = o;
	return 0;
}

int tp_sfv_bytes_encode(const uint8_t *in, size_t len, char *out,
			size_t out_size)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (out == NULL || (in == NULL && len > 0))
		return TP_EINVAL;
	if (len / 3u >= (SIZE_MAX - 5u) / 4u ||
	    out_size < (len + 2u) / 3u * 4u + 1u)
		return TP_ENOSPACE;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3u) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1u < len)
			v |= (uint32_t)in[i + 1u] << 8;
		if (i + 2u < len)
			v |= in[i + 2u];
		out[o++] = alphabet[(v >> 18) & 63u];
		out[o++] = alphabet[(v >> 12) & 63u];
		out[o++] = i + 1u < len ? alphabet[(v >> 6) & 63u] : '=';
		out[o++] = i + 2u < len ? alphabet[v & 63u] : '=';
	}
	out[o] = '\0';
	return 0;
}
