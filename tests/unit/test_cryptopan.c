/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_cryptopan.c - unit tests for lib/privacy/cryptopan.c.
 *
 * First the shared vectors (vectors/cryptopan/, read in place from
 * $TAPIR_SHARED, skipped when absent): every Argon2id-derived key of edm.tsv
 * and every address row of it, and all pairs of reference-sample.tsv (the
 * original Crypto-PAn sample plus the Go port's IPv6 pairs, raw 32-byte
 * key). Each address is run with the cache off, then twice with it on (miss,
 * then hit), so all three paths must agree with the vector. Then behaviour
 * that needs no files: the IPv4-mapped rule, zero bytes for bad lengths,
 * argument checks, cache hit == miss under heavy eviction, and the defining
 * property, prefix preservation, on random pairs sharing exactly k bits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/cryptopan.h"

/* ---- helpers ------------------------------------------------------------ */

/* The key of the original Crypto-PAn sample (vectors/README.md §3). Kept
 * here too so the property tests run without the shared files. */
static const uint8_t sample_key[TP_CRYPTOPAN_KEY_SIZE] = {
	21,  34,  23,  141, 51,  164, 207, 128, 19,  10,  91,
	22,  73,  144, 125, 16,  216, 152, 143, 131, 121, 121,
	101, 39,  98,  87,  76,  45,  42,  132, 34,  2,
};

static const char *shared_dir(void)
{
	const char *s = getenv("TAPIR_SHARED");
	return s != NULL ? s : "../shared";
}

/* Opens vectors/cryptopan/<name>, or skips the calling test. */
static FILE *open_vectors(const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/vectors/cryptopan/%s", shared_dir(),
		 name);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		print_message("SKIP: %s absent (shared vectors not here)\n",
			      path);
		skip();
	}
	return f;
}

/* Next data line split at tabs into col[0..*n); false at EOF. Comment (#)
 * and blank lines are skipped. */
static bool tsv_next(FILE *f, char *line, size_t size, char **col,
		     unsigned max_col, unsigned *n)
{
	for (;;) {
		if (fgets(line, (int)size, f) == NULL)
			return false;
		size_t len = strlen(line);
		assert_true(len + 1u < size); /* no line was cut */
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		*n = 0;
		char *p = line;
		for (;;) {
			assert_true(*n < max_col);
			col[(*n)++] = p;
			char *tab = strchr(p, '\t');
			if (tab == NULL)
				break;
			*tab = '\0';
			p = tab + 1;
		}
		return true;
	}
}

/* Text address to bytes: 4 for dotted quads, 16 for anything with ':'. */
static size_t parse_addr(const char *s, uint8_t out[16])
{
	if (strchr(s, ':') != NULL) {
		assert_int_equal(inet_pton(AF_INET6, s, out), 1);
		return 16;
	}
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
	return 4;
}

static void unhex32(const char *s, uint8_t out[TP_CRYPTOPAN_KEY_SIZE])
{
	assert_int_equal(strlen(s), 2u * TP_CRYPTOPAN_KEY_SIZE);
	for (size_t i = 0; i < TP_CRYPTOPAN_KEY_SIZE; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static struct tp_cryptopan *new_cp(const uint8_t *key, size_t cache)
{
	struct tp_cryptopan *cp = NULL;
	assert_int_equal(tp_cryptopan_new(key, cache, &cp), 0);
	assert_non_null(cp);
	return cp;
}

/* Pseudonymise; asserts success and returns the output length. */
static size_t anon(struct tp_cryptopan *cp, const uint8_t *a, size_t len,
		   uint8_t out[16])
{
	size_t out_len = 99;
	assert_int_equal(tp_cryptopan_anon(cp, a, len, out, 16, &out_len), 0);
	return out_len;
}

/* The vector's expected output on both instances, cache miss and hit. */
static void check_pair(struct tp_cryptopan *plain, struct tp_cryptopan *cached,
		       const char *in_s, const char *want_s)
{
	uint8_t in[16], want[16], got[16];
	size_t in_len = parse_addr(in_s, in);
	size_t want_len = parse_addr(want_s, want);
	struct tp_cryptopan *cps[3] = {plain, cached, cached};
	for (unsigned k = 0; k < 3; k++) {
		memset(got, 0xAA, sizeof(got));
		size_t got_len = anon(cps[k], in, in_len, got);
		if (got_len != want_len || memcmp(got, want, want_len) != 0)
			fail_msg("%s: expected %s (pass %u)", in_s, want_s, k);
	}
}

/* Derivations are 64 MiB of Argon2 each; remember the ones done. */
static struct {
	char password[64], salt[64];
	uint8_t key[TP_CRYPTOPAN_KEY_SIZE];
} derived[8];
static unsigned n_derived;

static const uint8_t *derive_once(const char *password, const char *salt)
{
	for (unsigned i = 0; i < n_derived; i++)
		if (strcmp(derived[i].password, password) == 0 &&
		    strcmp(derived[i].salt, salt) == 0)
			return derived[i].key;
	assert_true(n_derived < 8u);
	assert_true(strlen(password) < 64u && strlen(salt) < 64u);
	strcpy(derived[n_derived].password, password);
	strcpy(derived[n_derived].salt, salt);
	assert_int_equal(
		tp_cryptopan_derive_key(derived[n_derived].key, password, salt),
		0);
	return derived[n_derived++].key;
}

/* ---- shared vectors ----------------------------------------------------- */

static void test_derived_keys(void **state)
{
	(void)state;
	FILE *f = open_vectors("edm.tsv");
	char line[1024], *col[8];
	unsigned n, rows = 0;
	while (tsv_next(f, line, sizeof(line), col, 8, &n)) {
		assert_int_equal(n, 6);
		uint8_t want[TP_CRYPTOPAN_KEY_SIZE];
		unhex32(col[2], want);
		assert_memory_equal(derive_once(col[0], col[1]), want,
				    sizeof(want));
		rows++;
	}
	fclose(f);
	assert_int_equal(rows, 13);
	assert_int_equal(n_derived, 4); /* key1x2 salts, key2, operator-key */
	print_message("derived keys checked: %u\n", n_derived);
}

static void test_edm_vectors(void **state)
{
	(void)state;
	FILE *f = open_vectors("edm.tsv");
	char line[1024], *col[8];
	unsigned n, rows = 0;
	while (tsv_next(f, line, sizeof(line), col, 8, &n)) {
		assert_int_equal(n, 6);
		const uint8_t *key = derive_once(col[0], col[1]);
		uint8_t want_key[TP_CRYPTOPAN_KEY_SIZE];
		unhex32(col[2], want_key);
		assert_memory_equal(key, want_key, sizeof(want_key));
		struct tp_cryptopan *plain = new_cp(key, 0);
		struct tp_cryptopan *cached = new_cp(key, 64);
		check_pair(plain, cached, col[3], col[4]);
		tp_cryptopan_free(plain);
		tp_cryptopan_free(cached);
		rows++;
	}
	fclose(f);
	assert_int_equal(rows, 13);
	print_message("edm.tsv: %u vectors\n", rows);
}

static void test_reference_sample(void **state)
{
	(void)state;
	FILE *f = open_vectors("reference-sample.tsv");
	struct tp_cryptopan *plain = new_cp(sample_key, 0);
	struct tp_cryptopan *cached = new_cp(sample_key, 1024);
	char line[1024], *col[4];
	unsigned n, v4 = 0, v6 = 0;
	/* The file states its key in a comment; it must be the one above. */
	static const char key_tag[] = "# key (32 bytes, hex): ";
	bool key_seen = false;
	while (fgets(line, (int)sizeof(line), f) != NULL && line[0] == '#') {
		if (strncmp(line, key_tag, sizeof(key_tag) - 1u) != 0)
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		uint8_t k[TP_CRYPTOPAN_KEY_SIZE];
		unhex32(line + sizeof(key_tag) - 1u, k);
		assert_memory_equal(k, sample_key, sizeof(k));
		key_seen = true;
	}
	assert_true(key_seen);
	rewind(f);
	while (tsv_next(f, line, sizeof(line), col, 4, &n)) {
		assert_int_equal(n, 2);
		check_pair(plain, cached, col[0], col[1]);
		if (strchr(col[0], ':') != NULL)
			v6++;
		else
			v4++;
	}
	fclose(f);
	tp_cryptopan_free(plain);
	tp_cryptopan_free(cached);
	assert_int_equal(v4, 71);
	assert_int_equal(v6, 5);
	print_message("reference-sample.tsv: %u IPv4 + %u IPv6 pairs\n", v4,
		      v6);
}

/* ---- behaviour ---------------------------------------------------------- */

static void test_v4_mapped_is_v4(void **state)
{
	(void)state;
	struct tp_cryptopan *cp = new_cp(sample_key, 0);
	uint8_t v4[4] = {198, 51, 100, 20};
	uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
			      198, 51, 100, 20};
	uint8_t a[16], b[16];
	assert_int_equal(anon(cp, v4, 4, a), 4);
	assert_int_equal(anon(cp, mapped, 16, b), 4);
	assert_memory_equal(a, b, 4);
	/* Not mapped: ::fffe:... and ::ffff:0:... (SIIT) take the 128-bit
	 * path and give 16 bytes. */
	mapped[11] = 0xfe;
	assert_int_equal(anon(cp, mapped, 16, b), 16);
	uint8_t siit[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0,
			    198, 51, 100, 20};
	assert_int_equal(anon(cp, siit, 16, b), 16);
	/* In place, mapped: 4 bytes written over the start of the input. */
	mapped[11] = 0xff;
	size_t out_len = 0;
	assert_int_equal(
		tp_cryptopan_anon(cp, mapped, 16, mapped, 16, &out_len), 0);
	assert_int_equal(out_len, 4);
	assert_memory_equal(mapped, a, 4);
	tp_cryptopan_free(cp);
}

static void test_bad_lengths_give_zero_bytes(void **state)
{
	(void)state;
	struct tp_cryptopan *cp = new_cp(sample_key, 16);
	static const size_t lens[] = {0, 1, 2, 3, 5, 7, 8, 15, 17, 20, 32};
	uint8_t in[32], out[32];
	memset(in, 0x5c, sizeof(in));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(out, 0xAA, sizeof(out));
		size_t out_len = 99;
		assert_int_equal(tp_cryptopan_anon(cp, in, lens[i], out,
						   sizeof(out), &out_len),
				 TP_EMALF);
		assert_int_equal(out_len, lens[i]);
		for (size_t j = 0; j < sizeof(out); j++)
			assert_int_equal(out[j], j < lens[i] ? 0 : 0xAA);
	}
	size_t out_len = 99;
	assert_int_equal(tp_cryptopan_anon(cp, NULL, 0, out, 0, &out_len),
			 TP_EMALF);
	assert_int_equal(out_len, 0);

	/* Output too small: nothing written, needed size reported. */
	memset(out, 0xAA, sizeof(out));
	assert_int_equal(tp_cryptopan_anon(cp, in, 16, out, 15, &out_len),
			 TP_ENOSPACE);
	assert_int_equal(out_len, 16);
	assert_int_equal(tp_cryptopan_anon(cp, in, 4, out, 3, &out_len),
			 TP_ENOSPACE);
	assert_int_equal(out_len, 4);
	assert_int_equal(tp_cryptopan_anon(cp, in, 17, out, 16, &out_len),
			 TP_ENOSPACE);
	assert_int_equal(out[0], 0xAA);
	/* A mapped address needs only 4. */
	uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
			      192, 0, 2, 1};
	assert_int_equal(tp_cryptopan_anon(cp, mapped, 16, out, 4, &out_len),
			 0);
	assert_int_equal(out_len, 4);

	assert_int_equal(tp_cryptopan_anon(NULL, in, 4, out, 16, &out_len),
			 TP_EINVAL);
	assert_int_equal(tp_cryptopan_anon(cp, NULL, 4, out, 16, &out_len),
			 TP_EINVAL);
	assert_int_equal(tp_cryptopan_anon(cp, in, 4, NULL, 16, &out_len),
			 TP_EINVAL);
	assert_int_equal(tp_cryptopan_anon(cp, in, 4, out, 16, NULL),
			 TP_EINVAL);
	tp_cryptopan_free(cp);
}

static void test_new_and_derive_reject_bad_arguments(void **state)
{
	(void)state;
	struct tp_cryptopan *cp = (struct tp_cryptopan *)&cp;
	assert_int_equal(tp_cryptopan_new(NULL, 0, &cp), TP_EINVAL);
	assert_null(cp);
	assert_int_equal(tp_cryptopan_new(sample_key, 0, NULL), TP_EINVAL);
	assert_int_equal(
		tp_cryptopan_new(sample_key, TP_CRYPTOPAN_CACHE_MAX + 1u, &cp),
		TP_EINVAL);
	assert_null(cp);
	tp_cryptopan_free(NULL);

	uint8_t k[TP_CRYPTOPAN_KEY_SIZE];
	memset(k, 0xAA, sizeof(k));
	static const uint8_t zero[TP_CRYPTOPAN_KEY_SIZE];
	assert_int_equal(tp_cryptopan_derive_key(k, "", "edm-kdf-salt-val"),
			 TP_EINVAL);
	assert_memory_equal(k, zero, sizeof(k));
	assert_int_equal(tp_cryptopan_derive_key(k, "key1", "short"),
			 TP_EINVAL); /* Argon2 salts are >= 8 bytes */
	assert_int_equal(tp_cryptopan_derive_key(k, NULL, "edm-kdf-salt-val"),
			 TP_EINVAL);
	assert_int_equal(tp_cryptopan_derive_key(k, "key1", NULL), TP_EINVAL);
	assert_int_equal(tp_cryptopan_derive_key(NULL, "key1", "saltsalt"),
			 TP_EINVAL);
	char *big = malloc(TP_CRYPTOPAN_SECRET_MAX + 2u);
	assert_non_null(big);
	memset(big, 'k', TP_CRYPTOPAN_SECRET_MAX + 1u);
	big[TP_CRYPTOPAN_SECRET_MAX + 1u] = '\0';
	assert_int_equal(tp_cryptopan_derive_key(k, big, "edm-kdf-salt-val"),
			 TP_EINVAL);
	free(big);
}

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void)
{
	/* splitmix64: deterministic, so a failure reproduces. */
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void random_addr(uint8_t *a, size_t len)
{
	for (size_t i = 0; i < len; i++)
		a[i] = (uint8_t)rng();
}

static void test_cache_hit_equals_miss(void **state)
{
	(void)state;
	/* 7 entries (2 sets of 4) for 64 addresses: most lookups evict,
	 * many hit. */
	struct tp_cryptopan *plain = new_cp(sample_key, 0);
	struct tp_cryptopan *cached = new_cp(sample_key, 7);
	uint8_t addrs[64][16];
	for (unsigned i = 0; i < 64; i++) {
		random_addr(addrs[i], 16);
		if (i % 2 == 0)
			memset(addrs[i] + 4, 0, 12); /* marks IPv4 below */
	}
	for (unsigned round = 0; round < 2000; round++) {
		/* Skewed choice, so some addresses recur while cached. */
		unsigned i = (unsigned)(rng() % 64u);
		if (rng() % 2u)
			i %= 4u;
		size_t len = i % 2 == 0 ? 4 : 16;
		uint8_t a[16], b[16];
		size_t la = anon(plain, addrs[i], len, a);
		size_t lb = anon(cached, addrs[i], len, b);
		assert_int_equal(la, lb);
		assert_memory_equal(a, b, la);
	}
	struct tp_cryptopan_stats st;
	tp_cryptopan_get_stats(cached, &st);
	print_message("cache: %llu hits, %llu misses, %llu evictions\n",
		      (unsigned long long)st.hits,
		      (unsigned long long)st.misses,
		      (unsigned long long)st.evictions);
	assert_int_equal(st.hits + st.misses, 2000);
	assert_true(st.hits > 100 && st.evictions > 100);
	tp_cryptopan_get_stats(plain, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.misses, 2000);
	assert_int_equal(st.evictions, 0);

	/* Clearing forgets entries: the next lookup is a miss. Cleared
	 * first as well: which addresses the loop left cached depends on
	 * the cache's random hash key. */
	uint8_t a[16];
	tp_cryptopan_cache_clear(cached);
	tp_cryptopan_get_stats(cached, &st);
	uint64_t misses = st.misses, hits = st.hits;
	anon(cached, addrs[1], 16, a); /* miss */
	anon(cached, addrs[1], 16, a); /* hit */
	tp_cryptopan_cache_clear(cached);
	anon(cached, addrs[1], 16, a); /* miss again */
	tp_cryptopan_get_stats(cached, &st);
	assert_int_equal(st.misses, misses + 2u);
	assert_int_equal(st.hits, hits + 1u);
	tp_cryptopan_free(plain);
	tp_cryptopan_free(cached);
}

/* Leading bits two byte strings share. */
static unsigned common_prefix(const uint8_t *a, const uint8_t *b, size_t len)
{
	unsigned n = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t x = (uint8_t)(a[i] ^ b[i]);
		if (x == 0) {
			n += 8;
			continue;
		}
		while ((x & 0x80u) == 0) {
			n++;
			x = (uint8_t)(x << 1);
		}
		return n;
	}
	return n;
}

static void prefix_preservation(size_t len, unsigned samples)
{
	struct tp_cryptopan *cp = new_cp(sample_key, 0);
	unsigned bits = (unsigned)len * 8u;
	for (unsigned s = 0; s < samples; s++) {
		uint8_t a[16], b[16], oa[16], ob[16];
		random_addr(a, len);
		if (len == 16)
			a[10] = 0; /* never IPv4-mapped: stay 128-bit */
		/* b shares exactly k leading bits with a: same first k bits,
		 * bit k flipped, the rest random. k = bits: b == a. */
		unsigned k = (unsigned)(rng() % (bits + 1u));
		random_addr(b, len);
		for (unsigned i = 0; i < bits && i <= k; i++) {
			uint8_t m = (uint8_t)(0x80u >> (i % 8u));
			uint8_t bit = (uint8_t)((i < k ? a[i / 8] : ~a[i / 8]) &
						m);
			b[i / 8] = (uint8_t)((b[i / 8] & ~m) | bit);
		}
		static const uint8_t mapped_prefix[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (len == 16 && memcmp(b, mapped_prefix, 12) == 0)
			continue; /* b happened to be mapped: not this test */
		assert_int_equal(common_prefix(a, b, len), k);
		assert_int_equal(anon(cp, a, len, oa), len);
		assert_int_equal(anon(cp, b, len, ob), len);
		if (common_prefix(oa, ob, len) != k)
			fail_msg("%zu-byte sample %u: k=%u, outputs share %u",
				 len, s, k, common_prefix(oa, ob, len));
	}
	tp_cryptopan_free(cp);
}

static void test_prefix_preservation_v4(void **state)
{
	(void)state;
	prefix_preservation(4, 4000);
}

static void test_prefix_preservation_v6(void **state)
{
	(void)state;
	prefix_preservation(16, 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derived_keys),
		cmocka_unit_test(test_edm_vectors),
		cmocka_unit_test(test_reference_sample),
		cmocka_unit_test(test_v4_mapped_is_v4),
		cmocka_unit_test(test_bad_lengths_give_zero_bytes),
		cmocka_unit_test(test_new_and_derive_reject_bad_arguments),
		cmocka_unit_test(test_cache_hit_equals_miss),
		cmocka_unit_test(test_prefix_preservation_v4),
		cmocka_unit_test(test_prefix_preservation_v6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
