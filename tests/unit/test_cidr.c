/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_cidr.c - the ignored-clients list (lib/wkd/cidr.c): which lines Go's
 * netip.ParsePrefix accepts (edm-spec §2.4), what matches, the families
 * kept apart, fail-closed answers for bad addresses, and a brute-force
 * oracle over random prefixes and addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wkd/cidr.h"

struct bad {
	uint64_t line[16];
	size_t n;
};

static void note_bad(void *ctx, uint64_t line, const char *why)
{
	struct bad *b = ctx;
	assert_non_null(why);
	assert_true(b->n < 16);
	b->line[b->n++] = line;
}

static void test_cidr_accepts_what_parseprefix_accepts(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		size_t len; /* 0: strlen */
		int family; /* 4, 6; 0 = skipped; -1 = bad */
	} cases[] = {
		{ "10.0.0.0/8", 0, 4 },
		{ "10.1.2.3/8", 0, 4 }, /* host bits set: fine */
		{ "0.0.0.0/0", 0, 4 },
		{ "255.255.255.255/32", 0, 4 },
		{ "192.0.2.1/0", 0, 4 },
		{ "::/0", 0, 6 },
		{ "2001:db8::1/32", 0, 6 },
		{ "2001:DB8::/32", 0, 6 },
		{ "::ffff:10.0.0.0/104", 0, 6 },
		{ "1:2:3:4:5:6:7:8/128", 0, 6 },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", 0, 6 },
		{ "", 0, 0 },
		{ "#", 0, 0 },
		{ "# 10.0.0.0/8 with anything after it \r", 0, 0 },
		{ "#not a prefix at all, and a long comment line is fine too, no matter how long it gets", 0, 0 },
		{ "10.0.0.1", 0, -1 },            /* bare address: length required */
		{ "2001:db8::1", 0, -1 },
		{ "10.0.0.0/33", 0, -1 },
		{ "::/129", 0, -1 },
		{ "10.0.0.0/8\r", 0, -1 },        /* no trimming */
		{ "10.0.0.0/8 ", 0, -1 },
		{ " 10.0.0.0/8", 0, -1 },
		{ "\t10.0.0.0/8", 0, -1 },
		{ " # indented comment", 0, -1 },
		{ "10.0.0.0/", 0, -1 },
		{ "10.0.0.0/+8", 0, -1 },
		{ "10.0.0.0/08", 0, -1 },
		{ "10.0.0.0/00", 0, -1 },
		{ "10.0.0.0/-1", 0, -1 },
		{ "10.0.0.0/8a", 0, -1 },
		{ "10.0.0.0/ 8", 0, -1 },
		{ "10.0.0.0/8/8", 0, -1 },
		{ "10.0.0.0//8", 0, -1 },
		{ "010.0.0.0/8", 0, -1 },         /* leading zero in an octet */
		{ "10.0.0/8", 0, -1 },
		{ "1.2.3.4.5/8", 0, -1 },
		{ "256.0.0.0/8", 0, -1 },
		{ "fe80::1%eth0/64", 0, -1 },     /* zones are not allowed */
		{ "::ffff:01.2.3.4/96", 0, -1 },
		{ "1:2:3:4:5:6:7:8:9/64", 0, -1 },
		{ "12345::/16", 0, -1 },
		{ "/8", 0, -1 },
		{ "garbage", 0, -1 },
		{ "10.0.0.0/4294967304", 0, -1 }, /* 2^32 + 8 must not wrap to 8 */
		{ "10.0.0.0\0/8", 11, -1 },       /* NUL inside the line */
		{ "10.0.0.0/8\0", 11, -1 },
		{ "2001:db8::/32 # note", 0, -1 },
		{ "0000000000000000000000000000000000000000000000000000000010.0.0.0/8", 0, -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Each case as a one-line file, newline-terminated. */
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);
		char buf[128];
		assert_true(len < sizeof(buf));
		memcpy(buf, cases[i].line, len);
		buf[len++] = '\n';
		struct bad b = { 0 };
		struct tp_cidr_set *s = NULL;
		struct tp_cidr_stats st;
		int rc = tp_cidr_parse(buf, len, note_bad, &b, &s, &st);
		if (cases[i].family < 0) {
			if (rc != TP_EMALF)
				fail_msg("accepted line %zu: %s", i, cases[i].line);
			assert_null(s);
			assert_int_equal(b.n, 1);
			assert_int_equal(b.line[0], 1);
			assert_int_equal(st.bad, 1);
			continue;
		}
		if (rc != 0)
			fail_msg("refused line %zu: %s", i, cases[i].line);
		assert_int_equal(b.n, 0);
		assert_int_equal(st.v4, cases[i].family == 4);
		assert_int_equal(st.v6, cases[i].family == 6);
		assert_int_equal(st.skipped, cases[i].family == 0);
		assert_int_equal(tp_cidr_active(s), cases[i].family != 0);
		tp_cidr_free(s);
	}
}

static void test_cidr_reports_every_bad_line(void **state)
{
	(void)state;
	static const char text[] = "# ignored clients\n"
				   "10.0.0.0/8\n"
				   "10.0.0.1\n"
				   "\n"
				   "2001:db8::/32\r\n"
				   "192.0.2.0/24\n"
				   "::/129"; /* last line without a newline */
	struct bad b = { 0 };
	struct tp_cidr_set *s = NULL;
	struct tp_cidr_stats st;
	assert_int_equal(tp_cidr_parse(text, sizeof(text) - 1, note_bad, &b, &s, &st), TP_EMALF);
	assert_null(s);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.line[0], 3);
	assert_int_equal(b.line[1], 5);
	assert_int_equal(b.line[2], 7);
	assert_int_equal(st.lines, 7);
	assert_int_equal(st.v4, 2);
	assert_int_equal(st.skipped, 2);
	/* No callback: the same answer. */
	assert_int_equal(tp_cidr_parse(text, sizeof(text) - 1, NULL, NULL, &s, NULL), TP_EMALF);
}

static enum tp_cidr_result match_text(const struct tp_cidr_set *s, const char *addr)
{
	uint8_t a[16];
	if (strchr(addr, ':') != NULL) {
		assert_int_equal(inet_pton(AF_INET6, addr, a), 1);
		return tp_cidr_match(s, a, 16);
	}
	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	return tp_cidr_match(s, a, 4);
}

static void test_cidr_matches_and_keeps_families_apart(void **state)
{
	(void)state;
	static const char text[] = "10.0.0.0/8\n"
				   "192.168.1.77/24\n"
				   "172.16.0.0/13\n"
				   "172.24.0.0/13\n" /* adjacent to the one above */
				   "203.0.113.7/32\n"
				   "2001:db8::/32\n"
				   "::ffff:198.51.100.0/120\n"
				   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128\n"
				   "255.255.255.255/32\n";
	struct tp_cidr_set *s = NULL;
	assert_int_equal(tp_cidr_parse(text, sizeof(text) - 1, NULL, NULL, &s, NULL), 0);
	assert_true(tp_cidr_active(s));
	static const struct {
		const char *addr;
		enum tp_cidr_result want;
	} cases[] = {
		{ "10.0.0.0", TP_CIDR_HIT },
		{ "10.255.255.255", TP_CIDR_HIT },
		{ "9.255.255.255", TP_CIDR_MISS },
		{ "11.0.0.0", TP_CIDR_MISS },
		{ "192.168.1.0", TP_CIDR_HIT },
		{ "192.168.1.255", TP_CIDR_HIT },
		{ "192.168.0.255", TP_CIDR_MISS },
		{ "192.168.2.0", TP_CIDR_MISS },
		{ "172.15.255.255", TP_CIDR_MISS },
		{ "172.16.0.0", TP_CIDR_HIT },
		{ "172.23.255.255", TP_CIDR_HIT },
		{ "172.24.0.0", TP_CIDR_HIT },
		{ "172.31.255.255", TP_CIDR_HIT },
		{ "172.32.0.0", TP_CIDR_MISS },
		{ "203.0.113.7", TP_CIDR_HIT },
		{ "203.0.113.6", TP_CIDR_MISS },
		{ "203.0.113.8", TP_CIDR_MISS },
		{ "255.255.255.255", TP_CIDR_HIT },
		{ "255.255.255.254", TP_CIDR_MISS },
		{ "0.0.0.0", TP_CIDR_MISS },
		{ "2001:db8::", TP_CIDR_HIT },
		{ "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", TP_CIDR_HIT },
		{ "2001:db9::", TP_CIDR_MISS },
		{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", TP_CIDR_MISS },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", TP_CIDR_HIT },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", TP_CIDR_MISS },
		{ "::", TP_CIDR_MISS },
		/* An IPv4 prefix does not match the IPv4-mapped form... */
		{ "::ffff:10.0.0.1", TP_CIDR_MISS },
		/* ...and an IPv4-mapped IPv6 prefix matches only the 16-octet form. */
		{ "::ffff:198.51.100.5", TP_CIDR_HIT },
		{ "198.51.100.5", TP_CIDR_MISS },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (match_text(s, cases[i].addr) != cases[i].want)
			fail_msg("%s: wrong answer", cases[i].addr);
	/* Fail closed on what is not an address. */
	uint8_t a[17] = { 10 };
	assert_int_equal(tp_cidr_match(s, a, 4), TP_CIDR_HIT);
	assert_int_equal(tp_cidr_match(s, a, 0), TP_CIDR_BAD_ADDRESS);
	assert_int_equal(tp_cidr_match(s, a, 3), TP_CIDR_BAD_ADDRESS);
	assert_int_equal(tp_cidr_match(s, a, 5), TP_CIDR_BAD_ADDRESS);
	assert_int_equal(tp_cidr_match(s, a, 7), TP_CIDR_BAD_ADDRESS);
	assert_int_equal(tp_cidr_match(s, a, 15), TP_CIDR_BAD_ADDRESS);
	assert_int_equal(tp_cidr_match(s, a, 17), TP_CIDR_BAD_ADDRESS);
	assert_int_equal(tp_cidr_match(s, NULL, 4), TP_CIDR_BAD_ADDRESS);
	tp_cidr_free(s);

	/* The whole space, each family on its own. */
	static const char all4[] = "0.0.0.0/0\n";
	assert_int_equal(tp_cidr_parse(all4, sizeof(all4) - 1, NULL, NULL, &s, NULL), 0);
	assert_int_equal(match_text(s, "0.0.0.0"), TP_CIDR_HIT);
	assert_int_equal(match_text(s, "255.255.255.255"), TP_CIDR_HIT);
	assert_int_equal(match_text(s, "::ffff:1.2.3.4"), TP_CIDR_MISS);
	assert_int_equal(match_text(s, "::"), TP_CIDR_MISS);
	tp_cidr_free(s);
	static const char all6[] = "::/0\n";
	assert_int_equal(tp_cidr_parse(all6, sizeof(all6) - 1, NULL, NULL, &s, NULL), 0);
	assert_int_equal(match_text(s, "::"), TP_CIDR_HIT);
	assert_int_equal(match_text(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), TP_CIDR_HIT);
	assert_int_equal(match_text(s, "1.2.3.4"), TP_CIDR_MISS);
	tp_cidr_free(s);
}

static void test_cidr_without_prefixes_is_inactive(void **state)
{
	(void)state;
	static const char text[] = "# nothing here yet\n\n#\n";
	struct tp_cidr_set *s = NULL;
	struct tp_cidr_stats st;
	assert_int_equal(tp_cidr_parse(text, sizeof(text) - 1, NULL, NULL, &s, &st), 0);
	assert_non_null(s);
	assert_false(tp_cidr_active(s));
	assert_int_equal(st.skipped, 3);
	/* Inactive: nothing is ignored, not even what is not an address. */
	uint8_t a[16] = { 10 };
	assert_int_equal(tp_cidr_match(s, a, 4), TP_CIDR_MISS);
	assert_int_equal(tp_cidr_match(s, a, 16), TP_CIDR_MISS);
	assert_int_equal(tp_cidr_match(s, a, 7), TP_CIDR_MISS);
	assert_int_equal(tp_cidr_match(s, NULL, 0), TP_CIDR_MISS);
	tp_cidr_free(s);
	assert_int_equal(tp_cidr_parse("", 0, NULL, NULL, &s, NULL), 0);
	assert_false(tp_cidr_active(s));
	tp_cidr_free(s);
	assert_false(tp_cidr_active(NULL));
	assert_int_equal(tp_cidr_match(NULL, NULL, 0), TP_CIDR_MISS);
	assert_int_equal(tp_cidr_match(NULL, a, 4), TP_CIDR_MISS);
}

static void test_cidr_load_from_files(void **state)
{
	(void)state;
	char path[] = "/tmp/test_cidr_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static const char text[] = "198.51.100.0/24\n3fff::/20\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	assert_int_equal(close(fd), 0);
	struct tp_cidr_set *s = NULL;
	struct tp_cidr_stats st;
	assert_int_equal(tp_cidr_load(path, NULL, NULL, &s, &st), 0);
	assert_int_equal(st.v4, 1);
	assert_int_equal(st.v6, 1);
	assert_int_equal(match_text(s, "198.51.100.200"), TP_CIDR_HIT);
	assert_int_equal(match_text(s, "3fff:fff::1"), TP_CIDR_HIT);
	assert_int_equal(match_text(s, "3fff:1000::"), TP_CIDR_MISS);
	tp_cidr_free(s);
	/* An empty file: a set, inactive. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(tp_cidr_load(path, NULL, NULL, &s, NULL), 0);
	assert_false(tp_cidr_active(s));
	tp_cidr_free(s);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(tp_cidr_load(path, NULL, NULL, &s, NULL), -ENOENT);
	assert_int_equal(tp_cidr_load("/tmp", NULL, NULL, &s, NULL), -EINVAL);
}

/* ---- brute-force oracle ---- */

static uint64_t rng_state = 0x452821e638d01377u;

static uint64_t rnd(void)
{
	/* splitmix64: fixed seed, same sequence on every run */
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

struct pfx {
	uint8_t addr[16];
	size_t len; /* 4 or 16 */
	unsigned bits;
};

/* Whether the first `bits` bits of a and p agree, one bit at a time. */
static bool covers(const struct pfx *p, const uint8_t *a, size_t len)
{
	if (len != p->len)
		return false;
	for (unsigned i = 0; i < p->bits; i++) {
		unsigned x = (unsigned)a[i / 8] >> (7u - i % 8u) & 1u;
		unsigned y = (unsigned)p->addr[i / 8] >> (7u - i % 8u) & 1u;
		if (x != y)
			return false;
	}
	return true;
}

#define N_PFX 2000
#define N_ADDR 50000

static void test_cidr_agrees_with_brute_force(void **state)
{
	(void)state;
	static struct pfx p[N_PFX];
	/* Addresses cluster around a few bases, so prefixes nest, overlap
	 * and touch; lengths cover every value. */
	uint8_t base[8][16];
	for (int b = 0; b < 8; b++)
		for (int k = 0; k < 16; k++)
			base[b][k] = (uint8_t)rnd();
	size_t cap = N_PFX * 64, used = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	for (int i = 0; i < N_PFX; i++) {
		p[i].len = rnd() % 2 ? 4 : 16;
		memcpy(p[i].addr, base[rnd() % 8], 16);
		unsigned max = (unsigned)p[i].len * 8u;
		/* randomise some low bits so prefixes differ */
		unsigned keep = (unsigned)(rnd() % (max + 1));
		for (unsigned bit = keep; bit < max; bit++)
			if (rnd() % 2)
				p[i].addr[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
		/* Mostly the longer half, as in real lists; sometimes any. */
		p[i].bits = max / 2u + (unsigned)(rnd() % (max / 2u + 1u));
		if (rnd() % 16 == 0)
			p[i].bits = (unsigned)(rnd() % (max + 1));
		char a[INET6_ADDRSTRLEN];
		assert_non_null(inet_ntop(p[i].len == 4 ? AF_INET : AF_INET6, p[i].addr, a, sizeof(a)));
		used += (size_t)snprintf(text + used, cap - used, "%s/%u\n", a, p[i].bits);
		assert_true(used < cap);
	}
	struct tp_cidr_set *s = NULL;
	struct tp_cidr_stats st;
	assert_int_equal(tp_cidr_parse(text, used, NULL, NULL, &s, &st), 0);
	assert_int_equal(st.v4 + st.v6, N_PFX);
	size_t hits = 0;
	for (int i = 0; i < N_ADDR; i++) {
		uint8_t a[16];
		size_t len = rnd() % 2 ? 4 : 16;
		int how = (int)(rnd() % 3);
		if (how == 0) { /* anywhere */
			for (int k = 0; k < 16; k++)
				a[k] = (uint8_t)rnd();
		} else { /* near a prefix: its address with some bits flipped */
			const struct pfx *q = &p[rnd() % N_PFX];
			memcpy(a, q->addr, 16);
			unsigned max = (unsigned)len * 8u;
			unsigned from = how == 1 ? (q->bits < max ? q->bits : max) : (unsigned)(rnd() % max);
			for (unsigned bit = from; bit < max; bit++)
				if (rnd() % 2)
					a[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
		}
		bool want = false;
		for (int k = 0; k < N_PFX && !want; k++)
			want = covers(&p[k], a, len);
		enum tp_cidr_result got = tp_cidr_match(s, a, len);
		assert_int_equal(got, want ? TP_CIDR_HIT : TP_CIDR_MISS);
		hits += want;
	}
	/* Both answers were well represented. */
	assert_true(hits > N_ADDR / 10);
	assert_true(hits < N_ADDR - N_ADDR / 10);
	tp_cidr_free(s);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_accepts_what_parseprefix_accepts),
		cmocka_unit_test(test_cidr_reports_every_bad_line),
		cmocka_unit_test(test_cidr_matches_and_keeps_families_apart),
		cmocka_unit_test(test_cidr_without_prefixes_is_inactive),
		cmocka_unit_test(test_cidr_load_from_files),
		cmocka_unit_test(test_cidr_agrees_with_brute_force),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
