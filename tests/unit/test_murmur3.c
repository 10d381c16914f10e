/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_murmur3.c - MurmurHash3 x64_128 known answers (lib/sketch/murmur3.c).
 *
 * The table is vectors/README.md §1 (EDM's murmur3_test.go values plus the
 * derived rows); the same values are also read in place from
 * vectors/murmur3/sum64.tsv when the shared folder is present, so a row
 * added there is tested without editing this file. Every tail length
 * 0..15 appears in the table. A misaligned copy must hash the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sketch/murmur3.h"

struct kat {
	const char *hex; /* input bytes */
	uint64_t h1;
};

static const struct kat kats[] = {
	{ "", UINT64_C(0x0000000000000000) },
	{ "c0000201", UINT64_C(0x596a50a5a9831dff) },
	{ "c6336414", UINT64_C(0x50cc36f917736c57) },
	{ "cb0071ff", UINT64_C(0xd8046d7f364db971) },
	{ "20010db8000000000000000000000001", UINT64_C(0x6abaaee0764bf3c5) },
	{ "20010db8000000000000000000000020", UINT64_C(0x8d2fbf75b678d034) },
	{ "fe800000000000000000000000000001", UINT64_C(0x87e7ddf30d74c981) },
	{ "61", UINT64_C(0x85555565f6597889) },
	{ "61626364656667", UINT64_C(0xa6cd2f9fc09ee499) },
	{ "6162636465666768", UINT64_C(0xcc8a0ab037ef8c02) },
	{ "6162636465666768696a6b6c6d6e6f", UINT64_C(0x8abe2451890c2ffb) },
	{ "6162636465666768696a6b6c6d6e6f70", UINT64_C(0xc4ca3ca3224cb723) },
	{ "6162636465666768696a6b6c6d6e6f7071",
	  UINT64_C(0x7564747f88bda657) },
	{ "7f000001", UINT64_C(0x2ec77f0a75794c2e) },
	{ "00000000000000000000ffff7f000001", UINT64_C(0xe525f2c4457c9764) },
	{ "0a000001", UINT64_C(0xb3b5306c412ca505) },
};

static size_t unhex(const char *s, uint8_t *out, size_t out_size)
{
	size_t n = strlen(s) / 2u;
	assert_true(n <= out_size && strlen(s) % 2u == 0);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		char pair[3] = { s[2 * i], s[2 * i + 1], '\0' };
		char *end;
		v = (unsigned)strtoul(pair, &end, 16);
		assert_true(*end == '\0');
		out[i] = (uint8_t)v;
	}
	return n;
}

static void check(const uint8_t *p, size_t len, uint64_t want)
{
	assert_true(tp_murmur3_h1(p, len) == want);
	/* Same bytes at an odd address. */
	uint8_t *shifted = malloc(len + 1u);
	assert_non_null(shifted);
	if (len > 0)
		memcpy(shifted + 1, p, len);
	assert_true(tp_murmur3_h1(shifted + 1, len) == want);
	free(shifted);
}

static void test_murmur3_h1_known_answers(void **state)
{
	(void)state;
	uint8_t buf[64];
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		size_t n = unhex(kats[i].hex, buf, sizeof(buf));
		check(buf, n, kats[i].h1);
	}
	assert_true(tp_murmur3_h1(NULL, 0) == 0);
}

/* The full 128-bit digest of the classic sentence, as bytes h1 || h2
 * little-endian (vectors/README.md §1, last row). */
static void test_murmur3_128_digest_bytes(void **state)
{
	(void)state;
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	static const uint8_t want[16] = { 0x6c, 0x1b, 0x07, 0xbc, 0x7b, 0xbc,
					  0x4b, 0xe3, 0x47, 0x93, 0x9a, 0xc4,
					  0xa9, 0x3c, 0x43, 0x7a };
	uint64_t h[2];
	tp_murmur3_128(fox, strlen(fox), 0, h);
	uint8_t got[16];
	for (unsigned i = 0; i < 16; i++)
		got[i] = (uint8_t)(h[i / 8u] >> (8u * (i % 8u)));
	assert_memory_equal(got, want, 16);
	assert_true(tp_murmur3_h1(fox, strlen(fox)) ==
		    UINT64_C(0xe34bbc7bbc071b6c));
	/* A seed changes the result (postgresql-hll passes its seed here). */
	uint64_t s[2];
	tp_murmur3_128(fox, strlen(fox), 123, s);
	assert_true(s[0] != h[0] && s[1] != h[1]);
}

static void test_murmur3_shared_tsv(void **state)
{
	(void)state;
	const char *shared = getenv("TAPIR_SHARED");
	char path[4096];
	snprintf(path, sizeof(path), "%s/vectors/murmur3/sum64.tsv",
		 shared ? shared : "../shared");
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		print_message("SKIP: %s absent\n", path);
		skip();
	}
	char line[1024];
	unsigned rows = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		/* input TAB description TAB h1 TAB source */
		char *input = line;
		char *tab1 = strchr(input, '\t');
		assert_non_null(tab1);
		*tab1 = '\0';
		char *tab2 = strchr(tab1 + 1, '\t');
		assert_non_null(tab2);
		char *h1 = tab2 + 1;
		uint8_t buf[256];
		size_t n = strcmp(input, "-") == 0 ? 0 : unhex(input, buf, sizeof(buf));
		check(buf, n, strtoull(h1, NULL, 16));
		rows++;
	}
	fclose(f);
	print_message("sum64.tsv: %u rows, all equal\n", rows);
	assert_int_equal(rows, 17);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_murmur3_h1_known_answers),
		cmocka_unit_test(test_murmur3_128_digest_bytes),
		cmocka_unit_test(test_murmur3_shared_tsv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
