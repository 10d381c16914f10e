/* SPDX-License-Identifier: BSD-2-Clause
 *
 * gen.c - `tapir gen`: writes a synthetic dnstap capture with the shape of
 * real resolver traffic, for benchmarks and load tests; and `tapir gen
 * --make-list` writes a synthetic well-known list to go with it.
 *
 * Real captures are small, private or both; benchmarks need tens of millions
 * of messages whose statistics look like a busy resolver's: a few names are
 * asked a lot and most rarely (Zipf, exponent 1, over the list), a share of
 * names no list knows, a few clients sending most queries (Zipf, exponent
 * 0.9, over the client population, 80% IPv4), the qtype and rcode mixes of
 * public resolver statistics, EDNS on most messages, and responses that
 * carry answer records so frames have real sizes. The file is Frame Streams
 * with content type protobuf:dnstap.Dnstap, readable by dnstap-ldns and by
 * tapir's own reader.
 *
 * The same arguments always give the same bytes: one pseudo-random stream
 * (a Weyl sequence through tp_fmix64) is consumed in a fixed order, and the
 * clock never enters the output. Speed matters more than elegance here (10
 * million messages must take seconds): every message is written by hand
 * into one large output buffer, with no allocation per message; names and
 * clients are drawn in O(1) from alias tables built once.
 *
 * This tool never reads traffic: its only input is the list, which is
 * checked by the edge's own loader (tp_wkd_load) before it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dnstap/fstrm.h"
#include "tools.h"
#include "util/limits.h"
#include "util/mix.h"
#include "util/opts.h"
#include "util/rd.h"
#include "wkd/wkd.h"

/* Output is collected here and written with one write() when full. */
#define GEN_OUT_BUF (4u * 1024u * 1024u)
/* One DNS message or one encoded dnstap Message: what this file builds
 * stays far below (a 255-octet name, four answers, OPT); a build that
 * would not fit is a bug, reported as TP_EBUG. */
#define GEN_SCRATCH 2048u
/* Ceilings on the arguments, so sizes and products never overflow. */
#define GEN_MESSAGES_MAX (UINT64_C(1) << 36)
#define GEN_CLIENTS_MAX (16u * 1024u * 1024u)
#define GEN_MINUTES_MAX (366u * 24u * 60u)
#define GEN_LIST_MAX (20u * 1000u * 1000u)
/* Tries to draw an unknown name that the list does not match. */
#define GEN_UNKNOWN_TRIES 8

#define NS_PER_S UINT64_C(1000000000)

/* ---- pseudo-random numbers ---- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	r->s += UINT64_C(0x9e3779b97f4a7c15);
	return tp_fmix64(r->s);
}

/* Uniform in [0, n) (multiply-shift; the bias of 2^-32 does not matter). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* A pick from a small table of (value, weight per mille). */
struct weighted {
	uint16_t value;
	uint16_t permille;
};

static uint16_t pick(struct rng *r, const struct weighted *t, size_t n)
{
	uint32_t x = rng_below(r, 1000);
	for (size_t i = 0; i + 1 < n; i++) {
		if (x < t[i].permille)
			return t[i].value;
		x -= t[i].permille;
	}
	return t[n - 1].value;
}

/* ---- Zipf draws through an alias table (Vose): O(1) per draw ---- */

struct alias {
	uint32_t n;
	uint32_t *threshold; /* from malloc(): keep i when the low word is below */
	uint32_t *other;     /* from malloc(): else take other[i] */
};

static void alias_free(struct alias *a)
{
	free(a->threshold);
	free(a->other);
	a->threshold = a->other = NULL;
}

/* Weights 1/(rank+1)^exponent for ranks 0..n-1. Returns 0 or -ENOMEM. */
static int alias_build(struct alias *a, uint32_t n, double exponent)
{
	double *q = malloc((size_t)n * sizeof(*q));
	uint32_t *small = malloc((size_t)n * sizeof(*small));
	uint32_t *large = malloc((size_t)n * sizeof(*large));
	a->n = n;
	a->threshold = malloc((size_t)n * sizeof(*a->threshold));
	a->other = malloc((size_t)n * sizeof(*a->other));
	int rc = 0;
	if (q == NULL || small == NULL || large == NULL || a->threshold == NULL ||
	    a->other == NULL) {
		alias_free(a);
		rc = -ENOMEM;
		goto out;
	}
	double sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		q[i] = pow((double)i + 1.0, -exponent);
		sum += q[i];
	}
	uint32_t n_small = 0, n_large = 0;
	for (uint32_t i = 0; i < n; i++) {
		q[i] = q[i] * (double)n / sum;
		if (q[i] < 1.0)
			small[n_small++] = i;
		else
			large[n_large++] = i;
	}
	while (n_small > 0 && n_large > 0) {
		uint32_t s = small[--n_small], l = large[n_large - 1];
		a->threshold[s] = (uint32_t)(q[s] * 4294967296.0);
		a->other[s] = l;
		q[l] -= 1.0 - q[s];
		if (q[l] < 1.0) {
			n_large--;
			small[n_small++] = l;
		}
	}
	/* What is left has weight 1 up to rounding: always itself. */
	while (n_large > 0) {
		uint32_t l = large[--n_large];
		a->threshold[l] = UINT32_MAX;
		a->other[l] = l;
	}
	while (n_small > 0) {
		uint32_t s = small[--n_small];
		a->threshold[s] = UINT32_MAX;
		a->other[s] = s;
	}
out:
	free(q);
	free(small);
	free(large);
	return rc;
}

static uint32_t alias_draw(const struct alias *a, struct rng *r)
{
	uint64_t x = rng_next(r);
	uint32_t i = (uint32_t)(((x >> 32) * a->n) >> 32);
	return (uint32_t)x < a->threshold[i] ? i : a->other[i];
}

/* ---- the name list ---- */

struct names {
	struct tp_wkd *wkd; /* the loaded list, to keep unknown names unknown */
	uint8_t *arena;     /* from malloc(): per entry, length octet + wire */
	size_t arena_len, arena_cap;
	uint32_t *entry;    /* from malloc(): arena offsets; wildcard in bit 31 */
	uint32_t n, cap;
	struct alias zipf;
};

#define NAME_WILDCARD (UINT32_C(1) << 31)

static void names_free(struct names *l)
{
	tp_wkd_free(l->wkd);
	free(l->arena);
	free(l->entry);
	alias_free(&l->zipf);
}

static int names_add(struct names *l, const struct tp_dns_name *name, bool wildcard)
{
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2u : 4096u;
		uint32_t *e = realloc(l->entry, (size_t)cap * sizeof(*e));
		if (e == NULL)
			return -ENOMEM;
		l->entry = e;
		l->cap = cap;
	}
	if (l->arena_cap - l->arena_len < 1u + name->len) {
		size_t cap = l->arena_cap ? l->arena_cap * 2u : 65536u;
		if (cap >= NAME_WILDCARD)
			return TP_ETOOBIG;
		uint8_t *a = realloc(l->arena, cap);
		if (a == NULL)
			return -ENOMEM;
		l->arena = a;
		l->arena_cap = cap;
	}
	l->entry[l->n++] = (uint32_t)l->arena_len | (wildcard ? NAME_WILDCARD : 0);
	l->arena[l->arena_len] = (uint8_t)name->len;
	memcpy(l->arena + l->arena_len + 1, name->wire, name->len);
	l->arena_len += 1u + name->len;
	return 0;
}

static void print_bad_line(void *ctx, uint64_t line, const char *why)
{
	fprintf(stderr, "tapir gen: %s:%" PRIu64 ": %s\n", (const char *)ctx, line, why);
}

/* Load the list: first through the edge's loader (same rules, bad lines
 * reported), then its lines in order, shuffled by the seed so that Zipf
 * rank does not follow the file's (often alphabetical) order. */
static int names_load(struct names *l, const char *path, struct rng *r)
{
	struct tp_wkd_stats st;
	int rc = tp_wkd_load(path, print_bad_line, (void *)path, &l->wkd, &st);
	if (rc != 0) {
		fprintf(stderr, "tapir gen: %s: %s\n", path, tp_strerror(rc));
		return rc;
	}
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		rc = -errno;
		fprintf(stderr, "tapir gen: %s: %s\n", path, strerror(errno));
		return rc;
	}
	char *line = NULL;
	size_t line_cap = 0;
	ssize_t got;
	uint64_t lineno = 0;
	while (rc == 0 && (got = getline(&line, &line_cap, f)) >= 0) {
		size_t len = (size_t)got;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len == 0 || line[0] == '#')
			continue;
		bool wildcard = len > 1 && line[0] == '.';
		struct tp_dns_name name;
		rc = tp_dns_name_from_text(line + (size_t)wildcard, len - (size_t)wildcard, &name);
		if (rc != 0) {
			/* The loader took it, so the file is a DAWG, or changed. */
			fprintf(stderr, "tapir gen: %s:%" PRIu64 ": %s (gen reads the text form only)\n",
				path, lineno, tp_strerror(rc));
			break;
		}
		rc = names_add(l, &name, wildcard);
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	free(line);
	fclose(f);
	if (rc == 0 && l->n == 0) {
		fprintf(stderr, "tapir gen: %s: no names\n", path);
		rc = TP_EINVAL;
	}
	if (rc != 0)
		return rc;
	for (uint32_t i = l->n - 1; i > 0; i--) {
		uint32_t j = rng_below(r, i + 1u);
		uint32_t t = l->entry[i];
		l->entry[i] = l->entry[j];
		l->entry[j] = t;
	}
	return alias_build(&l->zipf, l->n, 1.0);
}

/* ---- clients ---- */

struct client {
	uint8_t addr[16];
	uint8_t len; /* 4 or 16 */
};

/* IPv4 clients live in a few prefixes (home and office NAT, carrier-grade
 * NAT, a benchmark range); within one, a counter times an odd constant
 * modulo the prefix size gives distinct, scattered addresses. */
static const struct v4prefix {
	uint32_t base;
	uint32_t bits; /* host bits */
} v4prefixes[] = {
	{ 0x0a000000u, 24 }, /* 10/8 */
	{ 0x64400000u, 22 }, /* 100.64/10 */
	{ 0xac100000u, 20 }, /* 172.16/12 */
	{ 0xc6120000u, 17 }, /* 198.18/15 */
	{ 0xc0a80000u, 16 }, /* 192.168/16 */
};
#define N_V4PREFIXES (sizeof(v4prefixes) / sizeof(v4prefixes[0]))

static int clients_make(struct client **out, uint32_t n, struct rng *r)
{
	struct client *c = calloc(n, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	uint32_t used[N_V4PREFIXES] = { 0 };
	for (uint32_t i = 0; i < n; i++) {
		if (rng_below(r, 100) < 80) {
			uint32_t p = rng_below(r, N_V4PREFIXES);
			uint32_t mask = (UINT32_C(1) << v4prefixes[p].bits) - 1u;
			/* A full prefix spills into the next, so addresses stay
			 * distinct up to 2^24 + ... IPv4 clients. */
			while (used[p] > mask)
				p = (p + 1u) % N_V4PREFIXES;
			uint32_t host = (used[p]++ * UINT32_C(0x9e3779b1) + 1u) & mask;
			tp_store_be32(c[i].addr, v4prefixes[p].base | host);
			c[i].len = 4;
		} else {
			/* 2001:db8:<site>:<subnet>::/64 with a random interface
			 * identifier, as privacy addresses look. */
			static const uint8_t doc[4] = { 0x20, 0x01, 0x0d, 0xb8 };
			memcpy(c[i].addr, doc, sizeof(doc));
			uint64_t site = rng_next(r), iid = rng_next(r);
			for (int b = 0; b < 4; b++)
				c[i].addr[4 + b] = (uint8_t)(site >> (8 * b));
			for (int b = 0; b < 8; b++)
				c[i].addr[8 + b] = (uint8_t)(iid >> (8 * b));
			c[i].addr[4] = 0; /* a few hundred sites, not 2^32 */
			c[i].len = 16;
		}
	}
	*out = c;
	return 0;
}

/* ---- a bounded writer with a sticky overflow flag ---- */

struct wr {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void put(struct wr *w, const void *data, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put8(struct wr *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 2);
}

static void put32(struct wr *w, uint32_t v)
{
	uint8_t b[4];
	tp_store_be32(b, v);
	put(w, b, 4);
}

/* Patch a 16-bit big-endian value written earlier. */
static void patch16(struct wr *w, size_t at, uint16_t v)
{
	if (!w->overflow && at + 2 <= w->len) {
		w->p[at] = (uint8_t)(v >> 8);
		w->p[at + 1] = (uint8_t)v;
	}
}

static void put_varint(struct wr *w, uint64_t v)
{
	uint8_t b[TP_PB_VARINT_MAX_BYTES];
	size_t n = 0;
	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		b[n] |= v ? 0x80 : 0;
		n++;
	} while (v);
	put(w, b, n);
}

/* Protobuf fields (field number, wire type). */
static void pb_varint(struct wr *w, uint32_t field, uint64_t v)
{
	put_varint(w, (uint64_t)field << 3);
	put_varint(w, v);
}

static void pb_bytes(struct wr *w, uint32_t field, const void *data, size_t n)
{
	put_varint(w, (uint64_t)field << 3 | 2u);
	put_varint(w, n);
	put(w, data, n);
}

static void pb_fixed32(struct wr *w, uint32_t field, uint32_t v)
{
	put_varint(w, (uint64_t)field << 3 | 5u);
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	put(w, b, 4);
}

/* ---- DNS names ---- */

static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* Append a random label of [a-z0-9] (first a letter) to a wire name being
 * built in buf at *len. Returns false when it would not fit. */
static bool add_random_label(uint8_t *buf, size_t *len, size_t room, uint32_t n, struct rng *r)
{
	if (*len + 1u + n > room)
		return false;
	buf[(*len)++] = (uint8_t)n;
	for (uint32_t i = 0; i < n; i++)
		buf[(*len)++] = (uint8_t)alnum[rng_below(r, i == 0 ? 26u : 36u)];
	return true;
}

static bool add_text_label(uint8_t *buf, size_t *len, size_t room, const char *s)
{
	size_t n = strlen(s);
	if (*len + 1u + n > room)
		return false;
	buf[(*len)++] = (uint8_t)n;
	memcpy(buf + *len, s, n);
	*len += n;
	return true;
}

static const char *const sub_labels[] = {
	"www", "api", "cdn", "static", "img", "mail", "m", "app", "login", "auth",
	"edge", "media", "assets", "video", "ws", "push", "telemetry", "update",
};
#define N_SUB_LABELS (sizeof(sub_labels) / sizeof(sub_labels[0]))

static const char *const tlds[] = {
	"com", "com", "com", "com", "net", "org", "de", "se", "io", "xyz", "info",
	"ru", "cn", "top", "online", "app", "nl", "fr", "co", "uk",
};
#define N_TLDS (sizeof(tlds) / sizeof(tlds[0]))

/* A name strictly below a suffix: one label from a common set, sometimes
 * with a random label before it. Returns false if the suffix has no room. */
static bool random_below(struct tp_dns_name *out, const uint8_t *suffix, size_t suffix_len,
			 struct rng *r)
{
	size_t len = 0;
	size_t room = TP_DNS_NAME_MAX - suffix_len;
	if (rng_below(r, 4) == 0 && !add_random_label(out->wire, &len, room, 4u + rng_below(r, 9), r))
		len = 0;
	if (!add_text_label(out->wire, &len, room, sub_labels[rng_below(r, N_SUB_LABELS)]) &&
	    !add_random_label(out->wire, &len, room, 1, r))
		return false;
	memcpy(out->wire + len, suffix, suffix_len);
	out->len = (uint16_t)(len + suffix_len);
	return true;
}

/* A name that no list is meant to know: a random label under a listed
 * name (a miss on the suffix path), a random registrable name, or a DGA-
 * looking one; PTR questions get reverse names. */
static void random_unknown(struct tp_dns_name *out, const struct names *l, uint16_t qtype,
			   struct rng *r)
{
	size_t len = 0;
	if (qtype == 12) {
		char lab[4];
		for (int i = 0; i < 4; i++) {
			snprintf(lab, sizeof(lab), "%u", rng_below(r, 256));
			(void)add_text_label(out->wire, &len, TP_DNS_NAME_MAX, lab);
		}
		(void)add_text_label(out->wire, &len, TP_DNS_NAME_MAX, "in-addr");
		(void)add_text_label(out->wire, &len, TP_DNS_NAME_MAX, "arpa");
		out->wire[len++] = 0;
		out->len = (uint16_t)len;
		return;
	}
	uint32_t kind = rng_below(r, 100);
	if (kind < 40) {
		uint32_t e = l->entry[alias_draw(&l->zipf, r)];
		const uint8_t *s = l->arena + (e & ~NAME_WILDCARD);
		size_t room = TP_DNS_NAME_MAX - s[0];
		if (add_random_label(out->wire, &len, room, 3u + rng_below(r, 10), r)) {
			memcpy(out->wire + len, s + 1, s[0]);
			out->len = (uint16_t)(len + s[0]);
			return;
		}
		len = 0;
	}
	if (kind >= 40 && kind < 60)
		(void)add_text_label(out->wire, &len, TP_DNS_NAME_MAX,
				     sub_labels[rng_below(r, N_SUB_LABELS)]);
	(void)add_random_label(out->wire, &len, TP_DNS_NAME_MAX,
			       kind >= 85 ? 10u + rng_below(r, 12) : 4u + rng_below(r, 9), r);
	(void)add_text_label(out->wire, &len, TP_DNS_NAME_MAX, tlds[rng_below(r, N_TLDS)]);
	out->wire[len++] = 0;
	out->len = (uint16_t)len;
}

/* ---- the traffic model ---- */

enum {
	T_A = 1, T_NS = 2, T_CNAME = 5, T_SOA = 6, T_PTR = 12, T_MX = 15, T_TXT = 16,
	T_AAAA = 28, T_SRV = 33, T_NAPTR = 35, T_OPT = 41, T_DS = 43, T_DNSKEY = 48,
	T_SVCB = 64, T_HTTPS = 65, T_ANY = 255, T_CAA = 257,
};

static const struct weighted qtypes[] = {
	{ T_A, 550 }, { T_AAAA, 300 }, { T_HTTPS, 60 }, { T_PTR, 25 }, { T_TXT, 15 },
	{ T_MX, 10 }, { T_SRV, 10 }, { T_SOA, 8 }, { T_NS, 5 }, { T_SVCB, 4 },
	{ T_CAA, 3 }, { T_DNSKEY, 3 }, { T_DS, 2 }, { T_NAPTR, 2 }, { T_CNAME, 2 },
	{ T_ANY, 1 },
};

static const struct weighted rcodes[] = {
	{ 0, 855 }, /* NOERROR */
	{ 3, 100 }, /* NXDOMAIN */
	{ 2, 25 },  /* SERVFAIL */
	{ 5, 15 },  /* REFUSED */
	{ 1, 5 },   /* FORMERR */
};

#define N_OF(t) (sizeof(t) / sizeof((t)[0]))

static const char *const cdns[] = {
	"akamaiedge.net", "cloudfront.net", "fastly.net", "azureedge.net", "edgekey.net",
};

/* One message's draws, shared by its query and response. */
struct msg {
	struct tp_dns_name qname;
	uint16_t qtype, rcode, id, port;
	const struct client *client;
	bool edns, dnssec_ok, cookie, tcp, ad;
	uint8_t cookie_bytes[24];
};

/* Compression pointer to offset off of the message. */
static void put_ptr(struct wr *w, size_t off)
{
	put16(w, (uint16_t)(0xc000u | off));
}

/* Offset (from the message start) of the zone apex used in negative
 * answers: the last two labels of the question name. */
static size_t apex_offset(const struct tp_dns_name *q)
{
	size_t offs[128], n = 0;
	for (size_t at = 0; at < q->len && q->wire[at] != 0 && n < 128; at += 1u + q->wire[at])
		offs[n++] = at;
	return TP_DNS_HEADER_SIZE + (n >= 2 ? offs[n - 2] : 0);
}

/* RR header; returns where RDLENGTH goes (patched by rr_end). */
static size_t rr_begin(struct wr *w, size_t owner, uint16_t type, uint32_t ttl)
{
	put_ptr(w, owner);
	put16(w, type);
	put16(w, 1);
	put32(w, ttl);
	size_t at = w->len;
	put16(w, 0);
	return at;
}

static void rr_end(struct wr *w, size_t at)
{
	patch16(w, at, (uint16_t)(w->len - at - 2u));
}

static void put_soa(struct wr *w, size_t apex, struct rng *r)
{
	size_t at = rr_begin(w, apex, T_SOA, 300u + rng_below(r, 3300));
	put8(w, 3);
	put(w, "ns1", 3);
	put_ptr(w, apex);
	put8(w, 10);
	put(w, "hostmaster", 10);
	put_ptr(w, apex);
	put32(w, 2024000000u + rng_below(r, 999999));
	put32(w, 7200);
	put32(w, 3600);
	put32(w, 1209600);
	put32(w, 300);
	rr_end(w, at);
}

static void put_opt(struct wr *w, const struct msg *m, bool response)
{
	put8(w, 0); /* root */
	put16(w, T_OPT);
	put16(w, 1232); /* the DNS flag day 2020 buffer size */
	put32(w, m->dnssec_ok ? 0x8000u : 0u);
	size_t at = w->len;
	put16(w, 0);
	if (m->cookie) { /* RFC 7873: client cookie, plus the server's in responses */
		put16(w, 10);
		put16(w, response ? 24 : 8);
		put(w, m->cookie_bytes, response ? 24 : 8);
	}
	if (response && m->rcode == 2) { /* RFC 8914 §4.23: No Reachable Authority */
		put16(w, 15);
		put16(w, 2);
		put16(w, 22);
	}
	rr_end(w, at);
}

/* Answer records for a NOERROR response; returns how many, and sets
 * *n_auth when the answer is a NODATA with an SOA in AUTHORITY. */
static uint16_t put_answers(struct wr *w, const struct msg *m, struct rng *r, uint16_t *n_auth)
{
	const size_t q = TP_DNS_HEADER_SIZE;
	uint16_t n = 0;
	size_t owner = q;
	switch (m->qtype) {
	case T_A:
	case T_AAAA:
	case T_HTTPS:
		if (rng_below(r, 4) == 0) { /* behind a CDN */
			size_t at = rr_begin(w, q, T_CNAME, 60u + rng_below(r, 3540));
			owner = w->len;
			char lab[16];
			snprintf(lab, sizeof(lab), "e%u", rng_below(r, 100000));
			size_t len = 0;
			uint8_t name[64];
			(void)add_text_label(name, &len, sizeof(name), lab);
			const char *cdn = cdns[rng_below(r, N_OF(cdns))];
			const char *dot = strchr(cdn, '.');
			char first[32];
			snprintf(first, sizeof(first), "%.*s", (int)(dot - cdn), cdn);
			(void)add_text_label(name, &len, sizeof(name), first);
			(void)add_text_label(name, &len, sizeof(name), dot + 1);
			name[len++] = 0;
			put(w, name, len);
			rr_end(w, at);
			n++;
		}
		if (m->qtype == T_HTTPS) { /* RFC 9460: alpn h2,h3 and an ipv4hint */
			size_t at = rr_begin(w, owner, T_HTTPS, 300);
			put16(w, 1);
			put8(w, 0);
			put16(w, 1);
			put16(w, 6);
			put(w, "\x02h2\x02h3", 6);
			put16(w, 4);
			put16(w, 4);
			put32(w, (uint32_t)rng_next(r));
			rr_end(w, at);
			return (uint16_t)(n + 1u);
		}
		for (uint32_t i = 0, k = 1u + rng_below(r, m->qtype == T_A ? 4u : 2u); i < k; i++) {
			size_t at = rr_begin(w, owner, m->qtype, 20u + rng_below(r, 280));
			uint64_t x = rng_next(r);
			if (m->qtype == T_A) {
				/* Unicast, outside 0/8, 10/8 and 127/8. */
				uint32_t first = 1u + (uint32_t)(x >> 56) % 222u;
				first += first == 10 || first == 127;
				put32(w, first << 24 | ((uint32_t)x & 0xffffffu));
			} else {
				put32(w, 0x2a000000u | (uint32_t)(x >> 40));
				put32(w, (uint32_t)x);
				put32(w, 0);
				put32(w, (uint32_t)(x >> 16));
			}
			rr_end(w, at);
			n++;
		}
		return n;
	case T_MX:
	case T_NS:
	case T_SRV:
		for (uint32_t i = 0, k = (m->qtype == T_NS ? 2u : 1u) + rng_below(r, 3); i < k; i++) {
			size_t at = rr_begin(w, q, m->qtype, 3600u + rng_below(r, 82800));
			if (m->qtype == T_MX)
				put16(w, (uint16_t)(10u * (i + 1u)));
			if (m->qtype == T_SRV) {
				put16(w, 0);
				put16(w, 5);
				put16(w, (uint16_t)(rng_below(r, 2) ? 443 : 5060));
			}
			char lab[16];
			snprintf(lab, sizeof(lab), "%s%u", m->qtype == T_MX ? "mx" : m->qtype == T_NS ? "ns" : "srv", i + 1u);
			put8(w, (uint8_t)strlen(lab));
			put(w, lab, strlen(lab));
			/* Below the question name, unless that would pass 255
			 * octets: then a single-label name. */
			if (m->qname.len + 1u + strlen(lab) <= TP_DNS_NAME_MAX)
				put_ptr(w, q);
			else
				put8(w, 0);
			rr_end(w, at);
			n++;
		}
		return n;
	case T_TXT: {
		size_t at = rr_begin(w, q, T_TXT, 300u + rng_below(r, 3300));
		uint32_t k = 20u + rng_below(r, 90);
		put8(w, (uint8_t)k);
		for (uint32_t i = 0; i < k; i++)
			put8(w, (uint8_t)alnum[rng_below(r, 36)]);
		rr_end(w, at);
		return 1;
	}
	case T_PTR: {
		size_t at = rr_begin(w, q, T_PTR, 3600);
		size_t len = 0;
		uint8_t name[64];
		(void)add_random_label(name, &len, sizeof(name), 6u + rng_below(r, 8), r);
		(void)add_text_label(name, &len, sizeof(name), "isp");
		(void)add_text_label(name, &len, sizeof(name), "example");
		name[len++] = 0;
		put(w, name, len);
		rr_end(w, at);
		return 1;
	}
	case T_SOA:
		put_soa(w, apex_offset(&m->qname), r);
		return 1;
	default: /* NODATA: the zone's SOA in AUTHORITY */
		put_soa(w, apex_offset(&m->qname), r);
		*n_auth = 1;
		return 0;
	}
}

/* The DNS query or response of a message, into w (reset first). */
static void build_dns(struct wr *w, const struct msg *m, bool response, struct rng *r)
{
	w->len = 0;
	w->overflow = false;
	uint16_t flags = 0x0100; /* RD */
	if (response)
		flags |= (uint16_t)(0x8080u | m->rcode | (m->ad && m->rcode == 0 ? 0x0020u : 0u));
	else if (m->ad)
		flags |= 0x0020u;
	put16(w, m->id);
	put16(w, flags);
	put16(w, 1);
	size_t counts = w->len;
	put16(w, 0);
	put16(w, 0);
	put16(w, 0);
	put(w, m->qname.wire, m->qname.len);
	put16(w, m->qtype);
	put16(w, 1);
	uint16_t an = 0, ns = 0;
	if (response && m->rcode == 0)
		an = put_answers(w, m, r, &ns);
	else if (response && m->rcode == 3) {
		put_soa(w, apex_offset(&m->qname), r);
		ns = 1;
	}
	if (m->edns)
		put_opt(w, m, response);
	patch16(w, counts, an);
	patch16(w, counts + 2, ns);
	patch16(w, counts + 4, m->edns ? 1 : 0);
}

/* ---- output ---- */

struct out {
	int fd;
	uint8_t *buf; /* from malloc(), GEN_OUT_BUF octets */
	size_t len;
	uint64_t bytes;
};

static int out_flush(struct out *o)
{
	for (size_t off = 0; off < o->len;) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	o->bytes += o->len;
	o->len = 0;
	return 0;
}

/* Room for n more octets. */
static int out_reserve(struct out *o, size_t n)
{
	return GEN_OUT_BUF - o->len < n ? out_flush(o) : 0;
}

static int out_control(struct out *o, uint32_t type)
{
	int rc = out_reserve(o, TP_CONTROL_FRAME_MAX + 8u);
	if (rc != 0)
		return rc;
	int n = tp_fstrm_control_encode(type, type == TP_FSTRM_START ? TP_FSTRM_CONTENT_TYPE : NULL,
					o->buf + o->len, GEN_OUT_BUF - o->len);
	if (n < 0)
		return n;
	o->len += (size_t)n;
	return 0;
}

static const char identity[] = "resolver1.gen.tapir.test";
static const char version[] = "tapir gen";

/* One data frame: a Dnstap around the Message in msg. */
static int out_frame(struct out *o, const struct wr *msg)
{
	size_t max = 4u + 2u * sizeof(identity) + sizeof(version) + 16u + msg->len;
	int rc = out_reserve(o, max);
	if (rc != 0)
		return rc;
	struct wr w = { o->buf + o->len, 4, GEN_OUT_BUF - o->len, false };
	pb_bytes(&w, 1, identity, sizeof(identity) - 1u);
	pb_bytes(&w, 2, version, sizeof(version) - 1u);
	pb_bytes(&w, 14, msg->p, msg->len);
	pb_varint(&w, 15, 1); /* MESSAGE */
	if (w.overflow)
		return TP_EBUG;
	tp_store_be32(w.p, (uint32_t)(w.len - 4u));
	o->len += w.len;
	return 0;
}

/* ---- the command ---- */

struct gen_args {
	const char *out, *names, *start, *unknown_share;
	uint64_t messages, clients, minutes, seed, make_list;
	bool with_queries, help;
};

/* "YYYY-MM-DDTHH:MM:SSZ" to seconds since the epoch (UTC, proleptic
 * Gregorian). Returns 0 or TP_EINVAL. */
static int parse_start(const char *s, uint64_t *out)
{
	unsigned y, mo, d, h, mi, se;
	if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return TP_EINVAL;
	for (size_t i = 0; i < 19; i++)
		if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && (s[i] < '0' || s[i] > '9'))
			return TP_EINVAL;
	y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
	mo = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	h = (unsigned)((s[11] - '0') * 10 + (s[12] - '0'));
	mi = (unsigned)((s[14] - '0') * 10 + (s[15] - '0'));
	se = (unsigned)((s[17] - '0') * 10 + (s[18] - '0'));
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (s[19] != 'Z' || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || se > 59)
		return TP_EINVAL;
	uint64_t days = 0;
	for (unsigned yy = 1970; yy < y; yy++)
		days += ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0) ? 366u : 365u;
	for (unsigned m = 1; m < mo; m++)
		days += mdays[m - 1] + (m == 2 && leap);
	days += d - 1u;
	*out = days * 86400u + h * 3600u + mi * 60u + se;
	return 0;
}

static int generate(const struct gen_args *a, uint64_t start_s, double unknown, struct rng *r)
{
	struct names l = { 0 };
	struct client *clients = NULL;
	struct alias cz = { 0 };
	struct out o = { -1, NULL, 0, 0 };
	uint8_t msg_buf[GEN_SCRATCH], q_buf[GEN_SCRATCH], r_buf[GEN_SCRATCH];
	int rc = names_load(&l, a->names, r);
	if (rc != 0)
		goto out;
	if ((rc = clients_make(&clients, (uint32_t)a->clients, r)) != 0 ||
	    (rc = alias_build(&cz, (uint32_t)a->clients, 0.9)) != 0)
		goto fail;
	o.buf = malloc(GEN_OUT_BUF);
	if (o.buf == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	o.fd = strcmp(a->out, "-") == 0 ? STDOUT_FILENO :
		open(a->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o.fd < 0) {
		rc = -errno;
		fprintf(stderr, "tapir gen: %s: %s\n", a->out, strerror(errno));
		goto out;
	}
	if ((rc = out_control(&o, TP_FSTRM_START)) != 0)
		goto fail;

	/* Responses are evenly spaced and in order, as a resolver logs them;
	 * a query precedes its response by the resolution time. */
	uint64_t span_ns = a->minutes * 60u * NS_PER_S;
	uint64_t start_ns = start_s * NS_PER_S;
	static const uint8_t resolver4[4] = { 192, 0, 2, 53 };
	static const uint8_t resolver6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					       0, 0, 0, 0, 0, 0, 0, 0x53 };
	uint64_t known = 0;
	for (uint64_t i = 0; i < a->messages; i++) {
		struct msg m;
		m.qtype = pick(r, qtypes, N_OF(qtypes));
		m.rcode = pick(r, rcodes, N_OF(rcodes));
		m.id = (uint16_t)rng_next(r);
		m.port = (uint16_t)(1024u + rng_below(r, 64512));
		m.client = &clients[alias_draw(&cz, r)];
		m.edns = rng_below(r, 100) < 90;
		m.dnssec_ok = rng_below(r, 100) < 40;
		m.cookie = rng_below(r, 2) == 0;
		m.tcp = rng_below(r, 100) < 3;
		m.ad = rng_below(r, 100) < 30;
		for (size_t b = 0; b < sizeof(m.cookie_bytes); b += 8) {
			uint64_t x = rng_next(r);
			for (size_t k = 0; k < 8; k++)
				m.cookie_bytes[b + k] = (uint8_t)(x >> (8 * k));
		}
		if (rng_unit(r) >= unknown) {
			uint32_t e = l.entry[alias_draw(&l.zipf, r)];
			const uint8_t *s = l.arena + (e & ~NAME_WILDCARD);
			/* A suffix entry with no room below it (254 or 255
			 * octets) is asked as itself: not well known then. */
			if (!(e & NAME_WILDCARD) || !random_below(&m.qname, s + 1, s[0], r)) {
				memcpy(m.qname.wire, s + 1, s[0]);
				m.qname.len = s[0];
			}
			known++;
		} else {
			struct tp_wkd_match hit;
			for (int t = 0; t < GEN_UNKNOWN_TRIES; t++) {
				random_unknown(&m.qname, &l, m.qtype, r);
				if (!tp_wkd_lookup(l.wkd, &m.qname, &hit))
					break;
			}
		}
		uint64_t t_resp = start_ns + (uint64_t)((double)span_ns * (double)i / (double)a->messages);
		/* 80% cache hits (tens to hundreds of microseconds), the rest
		 * log-uniform between 2 ms and 300 ms. */
		uint64_t lat = rng_below(r, 100) < 80 ? 20000u + rng_below(r, 300000) :
			(uint64_t)(2e6 * exp(rng_unit(r) * log(150.0)));
		uint64_t t_query = t_resp - start_ns >= lat ? t_resp - lat : start_ns;

		bool v6 = m.client->len == 16;
		for (int pass = a->with_queries ? 0 : 1; pass < 2; pass++) {
			bool response = pass == 1;
			struct wr dns = { response ? r_buf : q_buf, 0, GEN_SCRATCH, false };
			build_dns(&dns, &m, response, r);
			struct wr w = { msg_buf, 0, GEN_SCRATCH, false };
			pb_varint(&w, 1, response ? 6 : 5); /* CLIENT_RESPONSE / CLIENT_QUERY */
			pb_varint(&w, 2, v6 ? 2 : 1);
			pb_varint(&w, 3, m.tcp ? 2 : 1);
			pb_bytes(&w, 4, m.client->addr, m.client->len);
			pb_bytes(&w, 5, v6 ? resolver6 : resolver4, v6 ? 16u : 4u);
			pb_varint(&w, 6, m.port);
			pb_varint(&w, 7, 53);
			pb_varint(&w, 8, t_query / NS_PER_S);
			pb_fixed32(&w, 9, (uint32_t)(t_query % NS_PER_S));
			if (response) {
				pb_varint(&w, 12, t_resp / NS_PER_S);
				pb_fixed32(&w, 13, (uint32_t)(t_resp % NS_PER_S));
				pb_bytes(&w, 14, dns.p, dns.len);
			} else {
				pb_bytes(&w, 10, dns.p, dns.len);
			}
			if (dns.overflow || w.overflow) {
				rc = TP_EBUG;
				goto fail;
			}
			if ((rc = out_frame(&o, &w)) != 0)
				goto fail;
		}
	}
	if ((rc = out_control(&o, TP_FSTRM_STOP)) != 0 || (rc = out_flush(&o)) != 0)
		goto fail;
	if (o.fd != STDOUT_FILENO && close(o.fd) != 0) {
		o.fd = -1;
		rc = -errno;
		goto fail;
	}
	o.fd = -1;
	fprintf(stderr, "tapir gen: %" PRIu64 " messages (%" PRIu64 " well-known), %" PRIu64
		" frames, %" PRIu64 " octets\n", a->messages, known,
		a->messages * (a->with_queries ? 2u : 1u), o.bytes);
	goto out;
fail:
	fprintf(stderr, "tapir gen: %s: %s\n", a->out, tp_strerror(rc));
out:
	if (o.fd >= 0 && o.fd != STDOUT_FILENO)
		close(o.fd);
	free(o.buf);
	alias_free(&cz);
	free(clients);
	names_free(&l);
	return rc;
}

/* ---- --make-list: a synthetic well-known list ---- */

static const char *const syllables[] = {
	"ka", "ro", "mi", "tel", "net", "lo", "sa", "pe", "go", "tra", "vi", "do",
	"zen", "bar", "fi", "ma", "co", "li", "nu", "ster", "shop", "web", "news",
	"play", "cloud", "data", "tech", "soft", "blue", "sun", "star", "line",
};
#define N_SYLLABLES (sizeof(syllables) / sizeof(syllables[0]))

static const char *const list_tlds[] = {
	"com", "com", "com", "com", "com", "net", "org", "de", "co.uk", "ru", "jp",
	"fr", "se", "io", "nl", "it", "com.au", "pl", "es", "ca", "info", "edu",
};
#define N_LIST_TLDS (sizeof(list_tlds) / sizeof(list_tlds[0]))

/* A random registrable-looking name in text form, into buf. */
static size_t list_name(char *buf, size_t size, struct rng *r)
{
	size_t len = 0;
	uint32_t kind = rng_below(r, 100);
	if (kind < 5)
		buf[len++] = '.'; /* a suffix entry: everything below */
	else if (kind < 25)
		len += (size_t)snprintf(buf + len, size - len, "%s.",
					sub_labels[rng_below(r, N_SUB_LABELS)]);
	for (uint32_t i = 0, k = 2u + rng_below(r, 3); i < k; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s",
					syllables[rng_below(r, N_SYLLABLES)]);
	if (rng_below(r, 5) == 0)
		len += (size_t)snprintf(buf + len, size - len, "%u", rng_below(r, 1000));
	len += (size_t)snprintf(buf + len, size - len, ".%s.\n",
				list_tlds[rng_below(r, N_LIST_TLDS)]);
	return len;
}

static int make_list(const struct gen_args *a, struct rng *r)
{
	/* Distinctness by 64-bit hash in an open-addressing set (load <= 1/2);
	 * a hash collision only costs one extra draw. */
	uint64_t cap = 16;
	while (cap < a->make_list * 2u)
		cap *= 2;
	uint64_t *set = calloc(cap, sizeof(*set));
	struct out o = { -1, malloc(GEN_OUT_BUF), 0, 0 };
	int rc = 0;
	if (set == NULL || o.buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	o.fd = strcmp(a->out, "-") == 0 ? STDOUT_FILENO :
		open(a->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o.fd < 0) {
		rc = -errno;
		goto out;
	}
	for (uint64_t n = 0; n < a->make_list;) {
		char name[128];
		size_t len = list_name(name, sizeof(name), r);
		uint64_t h = 0x9e3779b97f4a7c15u;
		for (size_t i = 0; i < len; i++)
			h = tp_fmix64(h ^ (uint8_t)name[i]) + i;
		h |= 1; /* 0 marks an empty slot */
		uint64_t slot = h & (cap - 1u);
		while (set[slot] != 0 && set[slot] != h)
			slot = (slot + 1u) & (cap - 1u);
		if (set[slot] == h)
			continue;
		set[slot] = h;
		if ((rc = out_reserve(&o, len)) != 0)
			goto out;
		memcpy(o.buf + o.len, name, len);
		o.len += len;
		n++;
	}
	rc = out_flush(&o);
	if (rc == 0 && o.fd != STDOUT_FILENO) {
		int fd = o.fd;
		o.fd = -1;
		if (close(fd) != 0)
			rc = -errno;
	}
out:
	if (rc != 0)
		fprintf(stderr, "tapir gen: %s: %s\n", a->out, tp_strerror(rc));
	if (o.fd >= 0 && o.fd != STDOUT_FILENO)
		close(o.fd);
	free(o.buf);
	free(set);
	return rc;
}

int tp_gen_main(int argc, char **argv)
{
	struct gen_args a = { .start = "2024-01-01T00:00:00Z", .unknown_share = "0.2",
			      .messages = 100000, .clients = 10000, .minutes = 10, .seed = 1 };
	struct tp_opt opts[] = {
		{ "out", TP_OPT_STRING, &a.out, 0, 0, "the file to write ('-' = stdout)", true, false, NULL },
		{ "names", TP_OPT_STRING, &a.names, 0, 0, "well-known list to draw names from (text form)", true, false, NULL },
		{ "messages", TP_OPT_UINT, &a.messages, 1, GEN_MESSAGES_MAX, "CLIENT_RESPONSE messages to write (default 100000)", true, false, NULL },
		{ "clients", TP_OPT_UINT, &a.clients, 1, GEN_CLIENTS_MAX, "client addresses, about 80% IPv4 (default 10000)", true, false, NULL },
		{ "minutes", TP_OPT_UINT, &a.minutes, 1, GEN_MINUTES_MAX, "minutes the timestamps span (default 10)", true, false, NULL },
		{ "start", TP_OPT_STRING, &a.start, 0, 0, "first timestamp, YYYY-MM-DDTHH:MM:SSZ (default 2024-01-01T00:00:00Z)", true, false, NULL },
		{ "unknown-share", TP_OPT_STRING, &a.unknown_share, 0, 0, "share of names not in the list, 0 to 1 (default 0.2)", true, false, NULL },
		{ "seed", TP_OPT_UINT, &a.seed, 0, UINT64_MAX, "seed: the same arguments give the same bytes (default 1)", true, false, NULL },
		{ "with-queries", TP_OPT_BOOL, &a.with_queries, 0, 0, "also write each response's CLIENT_QUERY before it", true, false, NULL },
		{ "make-list", TP_OPT_UINT, &a.make_list, 1, GEN_LIST_MAX, "instead, write a synthetic well-known list of N distinct names", true, false, NULL },
		{ "help", TP_OPT_BOOL, &a.help, 0, 0, "show this help", true, false, NULL },
	};
	const size_t n_opts = sizeof(opts) / sizeof(opts[0]);
	const char *synopsis = "tapir gen --out FILE --names LIST [--messages N] [--clients N] "
			       "[--minutes M] [--unknown-share F] [--seed S] [--start TIME] [--with-queries]\n"
			       "       tapir gen --make-list N --out FILE [--seed S]";
	int bad = tp_opts_parse(opts, n_opts, argc, argv, NULL) != 0;
	if (a.help) {
		tp_opts_usage(opts, n_opts, synopsis);
		return 0;
	}
	uint64_t start_s = 0;
	double unknown = 0;
	char *end = NULL;
	if (a.out == NULL) {
		fprintf(stderr, "tapir gen: --out is required\n");
		bad = 1;
	}
	if (a.make_list == 0) {
		if (a.names == NULL) {
			fprintf(stderr, "tapir gen: --names is required\n");
			bad = 1;
		}
		if (parse_start(a.start, &start_s) != 0) {
			fprintf(stderr, "tapir gen: --start: expected YYYY-MM-DDTHH:MM:SSZ\n");
			bad = 1;
		}
		errno = 0;
		unknown = strtod(a.unknown_share, &end);
		if (errno != 0 || end == a.unknown_share || *end != '\0' || !(unknown >= 0.0) ||
		    unknown > 1.0) {
			fprintf(stderr, "tapir gen: --unknown-share: expected a number from 0 to 1\n");
			bad = 1;
		}
	}
	if (bad) {
		fprintf(stderr, "usage: %s\n", synopsis);
		return 2;
	}
	struct rng r = { tp_fmix64(a.seed ^ UINT64_C(0x7461706972206765)) };
	int rc = a.make_list ? make_list(&a, &r) : generate(&a, start_s, unknown, &r);
	return rc == 0 ? 0 : 1;
}
