/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_scrub.c - unit tests for lib/dns/scrub.c: EDNS options that can
 * identify a client are removed, everything else is kept byte for byte.
 *
 * Expected outputs are written out by hand from RFC 1035/6891 layouts (the
 * offsets are in the comments), not produced by the code under test. The
 * hostile cases are pointers that cannot follow the records they point at;
 * sweeps flip every bit of the valid messages and check that whatever is
 * accepted parses, carries no ECS and is never longer than the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns.h"
#include "dns/scrub.h"

#define U16(x) (uint8_t)(((x) >> 8) & 0xff), (uint8_t)((x) & 0xff)
#define HDR(flags, qd, an, ns, ar) \
	0x12, 0x34, U16(flags), U16(qd), U16(an), U16(ns), U16(ar)
#define TTL 0x00, 0x00, 0x0e, 0x10
#define A_IN 0x00, 0x01, 0x00, 0x01
/* www.example.com. (17 octets); at offset 12, "example" starts at 16. */
#define N_WWW_EXAMPLE_COM \
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0
#define PTR(off) (uint8_t)(0xc0 | (((off) >> 8) & 0x3f)), (uint8_t)((off) & 0xff)
#define OPT_RR(rdlen) 0x00, U16(41), U16(1232), 0x00, 0x00, U16(0), U16(rdlen)
/* Options, with their total sizes. */
#define O_NSID U16(3), U16(4), 'n', 's', '0', '1'                      /* 8 */
#define O_ECS U16(8), U16(7), U16(1), 24, 0, 192, 0, 2                  /* 11 */
#define O_COOKIE U16(10), U16(8), 1, 2, 3, 4, 5, 6, 7, 8                /* 12 */
#define O_EDE U16(15), U16(2), U16(18)                                  /* 6 */
#define O_PADDING U16(12), U16(3), 0, 0, 0                              /* 7 */
#define O_VENDOR U16(65001), U16(2), 0xab, 0xcd                         /* 6 */
#define O_EXPIRE U16(9), U16(4), 0, 0, 0x0e, 0x10                       /* 8 */
#define O_KEEPALIVE U16(11), U16(2), U16(300)                           /* 6 */

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A response whose OPT (the last record) carries six options. */
static const uint8_t opt_last[] = {
	HDR(0x8180, 1, 1, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	/* 33 */ PTR(12), A_IN, TTL, U16(4), 192, 0, 2, 1,
	/* 49 */ OPT_RR(50), O_NSID, O_ECS, O_COOKIE, O_EDE, O_PADDING, O_VENDOR,
};
static const uint8_t opt_last_scrubbed[] = {
	HDR(0x8180, 1, 1, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
	PTR(12), A_IN, TTL, U16(4), 192, 0, 2, 1,
	OPT_RR(14), O_NSID, O_EDE,
};

/* A referral with the OPT first in the additional section (as BIND writes
 * it): the glue after it moves 11 octets up, and the pointers that point at
 * the glue move with it. */
static const uint8_t opt_first[] = {
	HDR(0x8100, 1, 0, 1, 4), N_WWW_EXAMPLE_COM, A_IN,
	/* 33 NS */ PTR(16), U16(2), U16(1), TTL, U16(6),
	/* 45 */ 3, 'n', 's', '1', PTR(16),
	/* 51 OPT, RDATA 62..73 */ OPT_RR(11), O_ECS,
	/* 73 A */ PTR(45), A_IN, TTL, U16(4), 192, 0, 2, 53,
	/* 89 AAAA */ PTR(73), U16(28), U16(1), TTL, U16(16),
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
	/* 117 CNAME */ PTR(73), U16(5), U16(1), TTL, U16(2), PTR(89),
};
static const uint8_t opt_first_scrubbed[] = {
	HDR(0x8100, 1, 0, 1, 4), N_WWW_EXAMPLE_COM, A_IN,
	PTR(16), U16(2), U16(1), TTL, U16(6),
	3, 'n', 's', '1', PTR(16),
	/* 51 */ OPT_RR(0),
	/* 62 */ PTR(45), A_IN, TTL, U16(4), 192, 0, 2, 53,
	/* 78 */ PTR(62), U16(28), U16(1), TTL, U16(16),
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
	PTR(62), U16(5), U16(1), TTL, U16(2), PTR(78),
};

static void check_scrub(const uint8_t *in, size_t len, const uint8_t *want, size_t want_len,
			uint32_t ecs, uint32_t cookie, uint32_t other)
{
	/* Exact-size heap copies, so the sanitizers see any overrun. */
	uint8_t *copy = malloc(len);
	uint8_t *out = malloc(len);
	assert_non_null(copy);
	assert_non_null(out);
	memcpy(copy, in, len);
	size_t out_len = 99;
	struct tp_dns_scrub_removed removed;
	assert_int_equal(tp_dns_scrub(copy, len, out, len, &out_len, &removed), 0);
	assert_int_equal(out_len, want_len);
	assert_memory_equal(out, want, want_len);
	assert_int_equal(removed.ecs, ecs);
	assert_int_equal(removed.cookie, cookie);
	assert_int_equal(removed.other, other);

	/* Scrubbing is idempotent: a scrubbed message has nothing to remove. */
	uint8_t *again = malloc(out_len);
	assert_non_null(again);
	size_t again_len;
	assert_int_equal(tp_dns_scrub(out, out_len, again, out_len, &again_len, &removed), 0);
	assert_int_equal(again_len, out_len);
	assert_memory_equal(again, out, out_len);
	assert_int_equal(removed.ecs + removed.cookie + removed.other, 0);
	free(again);
	free(out);
	free(copy);
}

static void test_scrub_keeps_allowlist_only(void **state)
{
	(void)state;
	check_scrub(opt_last, sizeof(opt_last), opt_last_scrubbed, sizeof(opt_last_scrubbed), 1, 1,
		    2);
}

static void test_scrub_relocates_pointers_after_opt(void **state)
{
	(void)state;
	check_scrub(opt_first, sizeof(opt_first), opt_first_scrubbed, sizeof(opt_first_scrubbed),
		    1, 0, 0);
}

static void test_scrub_keeps_server_options_and_queries(void **state)
{
	(void)state;
	/* A query carrying ECS and a cookie: only EXPIRE and keepalive stay. */
	static const uint8_t query[] = {
		HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
		OPT_RR(37), O_ECS, O_EXPIRE, O_COOKIE, O_KEEPALIVE,
	};
	static const uint8_t want[] = {
		HDR(0x0100, 1, 0, 0, 1), N_WWW_EXAMPLE_COM, A_IN,
		OPT_RR(14), O_EXPIRE, O_KEEPALIVE,
	};
	check_scrub(query, sizeof(query), want, sizeof(want), 1, 1, 0);
}

static void test_scrub_drops_trailing_octets(void **state)
{
	(void)state;
	/* No OPT at all: the message is kept, the octets after it are not. */
	static const uint8_t in[] = {
		HDR(0x8180, 1, 1, 0, 0), N_WWW_EXAMPLE_COM, A_IN,
		PTR(12), A_IN, TTL, U16(4), 192, 0, 2, 1, 0xde, 0xad, 0xbe, 0xef,
	};
	check_scrub(in, sizeof(in), in, sizeof(in) - 4, 0, 0, 0);
}

static void test_scrub_refuses_unrelocatable_pointers(void **state)
{
	(void)state;
	/* A record after the OPT whose owner points into option data (a name
	 * hidden in a vendor option): no name of the copy can be there. */
	static const uint8_t into_opt[] = {
		HDR(0x8180, 1, 0, 0, 2), N_WWW_EXAMPLE_COM, A_IN,
		/* 33 OPT, option data at 48 */ OPT_RR(9), U16(65001), U16(5), 3, 'f', 'o', 'o', 0,
		/* 53 */ PTR(48), A_IN, TTL, U16(4), 1, 2, 3, 4,
	};
	/* A chain through a pointer inside opaque RDATA after the OPT: that
	 * pointer is not a name the scrubber may rewrite, so the copy would
	 * read a different name. */
	static const uint8_t via_opaque[] = {
		HDR(0x8180, 1, 0, 0, 3), N_WWW_EXAMPLE_COM, A_IN,
		/* 33 */ OPT_RR(11), O_ECS,
		/* 55 */ 3, 'x', 'y', 'z', 0, U16(65280), U16(1), TTL, U16(6),
		/* 70 */ 3, 'a', 'b', 'c', PTR(55),
		/* 76 */ PTR(70), A_IN, TTL, U16(4), 1, 2, 3, 4,
	};
	/* Regression (found by fuzz_scrub): the answer's owner points at the
	 * low octet of QTYPE (19), read as a label that runs over the answer
	 * into the octets after it, which the copy does not keep. */
	static const uint8_t into_trailing[] = {
		HDR(0x8180, 1, 1, 0, 0), 1, 'a', 0, U16(19), U16(1),
		/* 19 */ PTR(16), A_IN, TTL, U16(4), 1, 2, 3, 4,
		/* 35 */ 0xff, 0,
	};
	const struct {
		const uint8_t *wire;
		size_t len;
	} cases[] = { { into_opt, sizeof(into_opt) },
		      { via_opaque, sizeof(via_opaque) },
		      { into_trailing, sizeof(into_trailing) } };
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct tp_dns_msg msg;
		uint8_t out[128];
		size_t out_len = 7;
		struct tp_dns_scrub_removed removed;
		/* Both are messages the parser accepts... */
		assert_int_equal(tp_dns_parse(cases[i].wire, cases[i].len, &msg), 0);
		/* ...that cannot be copied faithfully. */
		assert_int_equal(tp_dns_scrub(cases[i].wire, cases[i].len, out, sizeof(out),
					      &out_len, &removed),
				 TP_EMALF);
		assert_int_equal(out_len, 0);
		assert_int_equal(removed.ecs + removed.cookie + removed.other, 0);
	}
}

static void test_scrub_errors(void **state)
{
	(void)state;
	uint8_t out[sizeof(opt_last)];
	size_t out_len;
	struct tp_dns_scrub_removed removed;
	/* Not a message: the parser's code, nothing stored. */
	assert_int_equal(tp_dns_scrub(opt_last, 11, out, sizeof(out), &out_len, &removed),
			 TP_ETRUNC);
	static const uint8_t loop[] = { HDR(0x8180, 1, 0, 0, 0), PTR(12), A_IN };
	assert_int_equal(tp_dns_scrub(loop, sizeof(loop), out, sizeof(out), &out_len, &removed),
			 TP_ELOOP);
	/* One octet short of the scrubbed size. */
	assert_int_equal(tp_dns_scrub(opt_last, sizeof(opt_last), out,
				      sizeof(opt_last_scrubbed) - 1, &out_len, &removed),
			 TP_ENOSPACE);
	assert_int_equal(tp_dns_scrub(opt_last, sizeof(opt_last), out, sizeof(opt_last_scrubbed),
				      &out_len, &removed),
			 0);
	assert_int_equal(tp_dns_scrub(NULL, 5, out, sizeof(out), &out_len, &removed), TP_EINVAL);
	assert_int_equal(tp_dns_scrub(opt_last, sizeof(opt_last), NULL, 0, &out_len, &removed),
			 TP_EINVAL);
	assert_int_equal(tp_dns_scrub(opt_last, sizeof(opt_last), out, sizeof(out), NULL, &removed),
			 TP_EINVAL);
	assert_int_equal(tp_dns_scrub(opt_last, sizeof(opt_last), out, sizeof(out), &out_len, NULL),
			 TP_EINVAL);
}

/* A result of 0 must be a parseable message, no longer than the input,
 * without ECS; anything else must be a domain code, never a bug. */
static void check_any(const uint8_t *buf, size_t n, uint8_t *out, size_t out_size)
{
	size_t out_len;
	struct tp_dns_scrub_removed removed;
	int rc = tp_dns_scrub(buf, n, out, out_size, &out_len, &removed);
	if (rc != 0) {
		assert_true(rc <= -1000 && rc != TP_EBUG);
		return;
	}
	struct tp_dns_msg parsed;
	assert_true(out_len <= n);
	assert_int_equal(tp_dns_parse(out, out_len, &parsed), 0);
	assert_false(parsed.has_ecs);
}

/* Every single-bit flip and every prefix of a valid message. */
static void sweep(const uint8_t *msg, size_t len)
{
	uint8_t *buf = malloc(len);
	uint8_t *out = malloc(len);
	assert_non_null(buf);
	assert_non_null(out);
	for (size_t i = 0; i < len * 8; i++) {
		memcpy(buf, msg, len);
		buf[i / 8] = (uint8_t)(buf[i / 8] ^ (1u << (i % 8)));
		check_any(buf, len, out, len);
	}
	memcpy(buf, msg, len);
	for (size_t n = 0; n < len; n++)
		check_any(buf, n, out, len);
	free(out);
	free(buf);
}

static void test_scrub_mutations(void **state)
{
	(void)state;
	sweep(opt_last, sizeof(opt_last));
	sweep(opt_first, sizeof(opt_first));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrub_keeps_allowlist_only),
		cmocka_unit_test(test_scrub_relocates_pointers_after_opt),
		cmocka_unit_test(test_scrub_keeps_server_options_and_queries),
		cmocka_unit_test(test_scrub_drops_trailing_octets),
		cmocka_unit_test(test_scrub_refuses_unrelocatable_pointers),
		cmocka_unit_test(test_scrub_errors),
		cmocka_unit_test(test_scrub_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
