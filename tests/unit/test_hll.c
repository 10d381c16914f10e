/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_hll.c - unit tests for lib/sketch/hll.c.
 *
 * Two halves. The first replays every row of every file in the shared HLL
 * vectors (vectors/hll/, read in place from $TAPIR_SHARED, skipped when
 * absent): java-hll's cumulative-add and cumulative-union files for 10/4,
 * 11/5 and 12/6, byte for byte and ceil(cardinality) for ceil(cardinality),
 * once with the spec's byte 2 (exact file bytes) and once with go-hll's
 * (byte 2 then 0x48, as EDM would write it); the EDM-derived files from
 * address to hash to bytes; and the cross-check vector of vectors/README.md
 * §4. The second half is behaviour and hostility: promotion boundaries,
 * union rules, every malformed-input class with its code, truncation and
 * bit-flip sweeps over exact-size heap copies (so ASan sees any overread),
 * and round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "sketch/hll.h"
#include "sketch/murmur3.h"

/* ---- helpers ------------------------------------------------------------ */

static struct tp_hll *new_hll(const struct tp_hll_params *p)
{
	struct tp_hll *h = NULL;
	assert_int_equal(tp_hll_new(p, &h), 0);
	assert_non_null(h);
	return h;
}

static struct tp_hll *new_default(void)
{
	struct tp_hll_params p;
	tp_hll_params_default(&p);
	return new_hll(&p);
}

/* Serialise into buf (TP_HLL_SERIALIZED_MAX); returns the length. */
static size_t ser(const struct tp_hll *h, uint8_t *buf)
{
	int n = tp_hll_serialize(h, buf, TP_HLL_SERIALIZED_MAX);
	assert_true(n >= 3);
	assert_int_equal((size_t)n, tp_hll_serialized_size(h));
	return (size_t)n;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex (optionally with the PostgreSQL "\x" prefix) to bytes; -1 if bad. */
static long unhex(const char *s, size_t slen, uint8_t *out, size_t out_size)
{
	if (slen >= 2 && s[0] == '\\' && s[1] == 'x') {
		s += 2;
		slen -= 2;
	}
	if (slen % 2u != 0 || slen / 2u > out_size)
		return -1;
	for (size_t i = 0; i < slen / 2u; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(slen / 2u);
}

static void assert_hex(const char *what, const uint8_t *got, size_t got_len,
		       const char *hex)
{
	static uint8_t want[TP_HLL_SERIALIZED_MAX];
	long n = unhex(hex, strlen(hex), want, sizeof(want));
	assert_true(n >= 0);
	if ((size_t)n != got_len || memcmp(got, want, got_len) != 0) {
		print_error("%s: bytes differ (got %zu, want %ld)\n", what,
			    got_len, n);
		fail();
	}
}

/* Java's Double.toString -> ceil as an unsigned integer, as go-hll's
 * Cardinality() rounds. *is_nan set for "NaN". */
static uint64_t java_ceil(const char *s, bool *is_nan)
{
	char *end = NULL;
	double d = strtod(s, &end);
	assert_true(end != s);
	*is_nan = isnan(d);
	if (*is_nan)
		return 0;
	assert_true(d >= 0.0 && d < 1e18);
	return (uint64_t)ceil(d);
}

/* ---- vector files ------------------------------------------------------- */

static const char *shared_dir(void)
{
	const char *s = getenv("TAPIR_SHARED");
	return s != NULL ? s : "../shared";
}

/* Line reader over a gzip or plain file (gzopen reads both). Lines of the
 * vector files are at most ~12 KiB (two 12/6 dense sketches in hex). */
struct csv {
	gzFile f;
	char line[64 * 1024];
	char *col[8];
	unsigned n_col;
	unsigned row; /* 1 = header */
};

/* Opens path; returns false if it does not exist. */
static bool csv_open(struct csv *c, const char *path)
{
	c->f = gzopen(path, "rb");
	c->row = 0;
	return c->f != NULL;
}

/* Next line split at commas; false at EOF. */
static bool csv_next(struct csv *c)
{
	if (gzgets(c->f, c->line, (int)sizeof(c->line)) == NULL)
		return false;
	size_t len = strlen(c->line);
	assert_true(len + 1u < sizeof(c->line)); /* no line was cut */
	while (len > 0 && (c->line[len - 1] == '\n' || c->line[len - 1] == '\r'))
		c->line[--len] = '\0';
	c->n_col = 0;
	char *p = c->line;
	for (;;) {
		assert_true(c->n_col < 8u);
		c->col[c->n_col++] = p;
		char *comma = strchr(p, ',');
		if (comma == NULL)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	c->row++;
	return true;
}

static void csv_close(struct csv *c)
{
	gzclose(c->f);
}

/* Skip the calling test when the shared vectors are not there. */
static void require_vectors(void)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/vectors/hll/README.md", shared_dir());
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		print_message("SKIP: %s absent (shared vectors not here)\n",
			      path);
		skip();
	}
	fclose(f);
}

static const char *const param_dirs[] = {
	"log2m-10_regwidth-4",
	"log2m-11_regwidth-5",
	"log2m-12_regwidth-6",
};

static const char *const add_files[] = {
	"v1_cumulative_add_cardinality_correction.csv.gz",
	"v1_cumulative_add_comprehensive_promotion.csv.gz",
	"v1_cumulative_add_sparse_edge.csv.gz",
	"v1_cumulative_add_sparse_random.csv.gz",
	"v1_cumulative_add_sparse_step.csv.gz",
};

static const char *const union_files[] = {
	"v1_cumulative_union_comprehensive.csv.gz",
	"v1_cumulative_union_explicit_explicit.csv.gz",
	"v1_cumulative_union_explicit_promotion.csv.gz",
	"v1_cumulative_union_probabilistic_probabilistic.csv.gz",
	"v1_cumulative_union_sparse_full_representation.csv",
	"v1_cumulative_union_sparse_promotion.csv.gz",
	"v1_cumulative_union_sparse_sparse.csv.gz",
};

/* The generator's sparse -> dense threshold; not in the bytes (README). */
#define VECTOR_SPARSE_THRESHOLD 850

/* Compare serialised bytes with the file's; with go-hll's byte 2 the file's
 * spec byte 0x49 (t = 256) is written 0x48 instead. */
static bool same_bytes(const uint8_t *got, size_t got_len, const uint8_t *want,
		       size_t want_len, bool gohll)
{
	if (got_len != want_len || memcmp(got, want, 2) != 0)
		return false;
	uint8_t b2 = want[2];
	if (gohll) {
		assert_int_equal(b2, 0x49); /* every vector row */
		b2 = 0x48;
	}
	return got[2] == b2 && memcmp(got + 3, want + 3, got_len - 3u) == 0;
}

/* Parameters for a vector file: from row 1's header, the generator's
 * sparse threshold, and the requested byte-2 rule. */
static void vector_params(const uint8_t *hdr, size_t len, bool gohll,
			  struct tp_hll_params *p)
{
	assert_int_equal(tp_hll_params_from_bytes(hdr, len, p), 0);
	assert_int_equal(p->explicit_threshold, 256);
	p->sparse_threshold = VECTOR_SPARSE_THRESHOLD;
	if (gohll)
		p->cutoff = TP_HLL_CUTOFF_GOHLL;
}

struct tally {
	unsigned files, rows, nan_rows, mismatches;
};

static void replay_add_file(const char *path, bool gohll, struct tally *t)
{
	static uint8_t want[TP_HLL_SERIALIZED_MAX], got[TP_HLL_SERIALIZED_MAX];
	struct csv *c = malloc(sizeof(*c));
	assert_non_null(c);
	if (!csv_open(c, path))
		fail_msg("%s: cannot open", path);
	assert_true(csv_next(c)); /* header */
	assert_string_equal(c->col[0], "cardinality");
	assert_string_equal(c->col[2], "HLL");
	struct tp_hll *h = NULL;
	unsigned bad = 0;
	while (csv_next(c)) {
		assert_int_equal(c->n_col, 3);
		long n = unhex(c->col[2], strlen(c->col[2]), want, sizeof(want));
		assert_true(n >= 3);
		if (h == NULL) {
			/* Row 2 gives the starting state; value 0 is no add. */
			struct tp_hll_params p;
			vector_params(want, (size_t)n, gohll, &p);
			h = new_hll(&p);
			assert_int_equal(tp_hll_deserialize(h, want, (size_t)n),
					 0);
			assert_string_equal(c->col[1], "0");
		} else {
			errno = 0;
			long long raw = strtoll(c->col[1], NULL, 10);
			assert_int_equal(errno, 0);
			/* Java long -> two's complement bits. */
			tp_hll_add(h, (uint64_t)raw);
		}
		t->rows++;
		size_t len = ser(h, got);
		bool ok = tp_hll_type(h) == (want[0] & 0x0f) &&
			  same_bytes(got, len, want, (size_t)n, gohll);
		bool is_nan;
		uint64_t card = java_ceil(c->col[0], &is_nan);
		if (is_nan) {
			t->nan_rows++;
			ok = ok && isnan(tp_hll_estimate(h)) &&
			     tp_hll_cardinality(h) == UINT64_MAX;
		} else {
			ok = ok && tp_hll_cardinality(h) == card;
		}
		if (!ok && bad++ < 5)
			print_error("%s row %u: type %d/%d card %" PRIu64
				    " want %s\n",
				    path, c->row, tp_hll_type(h),
				    want[0] & 0x0f, tp_hll_cardinality(h),
				    c->col[0]);
	}
	csv_close(c);
	free(c);
	tp_hll_free(h);
	t->files++;
	t->mismatches += bad;
}

static void replay_union_file(const char *path, bool gohll, struct tally *t)
{
	static uint8_t want[TP_HLL_SERIALIZED_MAX], inc[TP_HLL_SERIALIZED_MAX],
		got[TP_HLL_SERIALIZED_MAX];
	struct csv *c = malloc(sizeof(*c));
	assert_non_null(c);
	if (!csv_open(c, path))
		fail_msg("%s: cannot open", path);
	assert_true(csv_next(c));
	assert_string_equal(c->col[3], "union_HLL");
	struct tp_hll *acc = NULL, *x = NULL;
	unsigned bad = 0;
	while (csv_next(c)) {
		assert_int_equal(c->n_col, 4);
		long ni = unhex(c->col[1], strlen(c->col[1]), inc, sizeof(inc));
		long nw = unhex(c->col[3], strlen(c->col[3]), want, sizeof(want));
		assert_true(ni >= 3 && nw >= 3);
		if (acc == NULL) {
			/* The accumulator starts as row 2's union_HLL. */
			struct tp_hll_params p;
			vector_params(want, (size_t)nw, gohll, &p);
			acc = new_hll(&p);
			x = new_hll(&p);
		}
		t->rows++;
		bool ok = true;
		/* The increment itself must load and round-trip. */
		assert_int_equal(tp_hll_deserialize(x, inc, (size_t)ni), 0);
		size_t len = ser(x, got);
		bool nan1, nan3;
		uint64_t card1 = java_ceil(c->col[0], &nan1);
		uint64_t card3 = java_ceil(c->col[2], &nan3);
		assert_false(nan1 || nan3);
		ok = ok && same_bytes(got, len, inc, (size_t)ni, gohll) &&
		     tp_hll_cardinality(x) == card1;
		assert_int_equal(tp_hll_union(acc, x), 0);
		len = ser(acc, got);
		/* The README allows a different storage type here; ours
		 * follows java-hll, so type and bytes must both match. */
		ok = ok && tp_hll_type(acc) == (want[0] & 0x0f) &&
		     same_bytes(got, len, want, (size_t)nw, gohll) &&
		     tp_hll_cardinality(acc) == card3;
		if (!ok && bad++ < 5)
			print_error("%s row %u: type %d/%d card %" PRIu64
				    " want %s\n",
				    path, c->row, tp_hll_type(acc),
				    want[0] & 0x0f, tp_hll_cardinality(acc),
				    c->col[2]);
	}
	csv_close(c);
	free(c);
	tp_hll_free(acc);
	tp_hll_free(x);
	t->files++;
	t->mismatches += bad;
}

static void test_hll_vectors_cumulative_add(void **state)
{
	(void)state;
	require_vectors();
	for (int gohll = 0; gohll <= 1; gohll++) {
		struct tally t = { 0 };
		for (size_t d = 0; d < 3; d++)
			for (size_t f = 0; f < 5; f++) {
				char path[4096];
				snprintf(path, sizeof(path),
					 "%s/vectors/hll/%s/%s", shared_dir(),
					 param_dirs[d], add_files[f]);
				replay_add_file(path, gohll != 0, &t);
			}
		print_message("cumulative add (%s byte 2): %u files, %u rows "
			      "(%u NaN), %u mismatches\n",
			      gohll ? "go-hll" : "spec", t.files, t.rows,
			      t.nan_rows, t.mismatches);
		assert_int_equal(t.files, 15);
		/* README row counts: 3072+10001+853+851+851 (10/4),
		 * 6144+10001+853+851+851 (11/5), 12288+10001+853+851+851
		 * (12/6), each including the starting-state row. */
		assert_int_equal(t.rows, 59172);
		/* Only 10/4 saturates: 30 is below the cap for 11/5, 12/6. */
		assert_int_equal(t.nan_rows, 2);
		assert_int_equal(t.mismatches, 0);
	}
}

static void test_hll_vectors_cumulative_union(void **state)
{
	(void)state;
	require_vectors();
	for (int gohll = 0; gohll <= 1; gohll++) {
		struct tally t = { 0 };
		for (size_t f = 0; f < 7; f++) {
			char path[4096];
			snprintf(path, sizeof(path),
				 "%s/vectors/hll/log2m-10_regwidth-4/%s",
				 shared_dir(), union_files[f]);
			replay_union_file(path, gohll != 0, &t);
		}
		print_message("cumulative union (%s byte 2): %u files, %u "
			      "rows, %u mismatches\n",
			      gohll ? "go-hll" : "spec", t.files, t.rows,
			      t.mismatches);
		assert_int_equal(t.files, 7);
		assert_int_equal(t.rows,
				 1001 + 513 + 757 + 1001 + 4 + 1851 + 851);
		assert_int_equal(t.mismatches, 0);
	}
}

/* edm-derived: n,address,murmur3_h1,cardinality,storage,hll_hex with EDM's
 * own settings (go-hll byte 2, threshold 20, sparse threshold 256). */
static void replay_edm_file(const char *name, int family, unsigned want_rows,
			    uint64_t want_final)
{
	static uint8_t got[TP_HLL_SERIALIZED_MAX];
	static const char *const storage[] = { "", "empty", "explicit",
					       "sparse", "dense" };
	char path[4096];
	snprintf(path, sizeof(path), "%s/vectors/hll/edm-derived/%s",
		 shared_dir(), name);
	struct csv *c = malloc(sizeof(*c));
	assert_non_null(c);
	if (!csv_open(c, path))
		fail_msg("%s: cannot open", path);
	assert_true(csv_next(c));
	assert_string_equal(c->col[5], "hll_hex");
	struct tp_hll *h = new_default();
	unsigned rows = 0, first_sparse = 0, first_dense = 0;
	uint64_t card = 0;
	while (csv_next(c)) {
		assert_int_equal(c->n_col, 6);
		uint8_t addr[16];
		assert_int_equal(inet_pton(family, c->col[1], addr), 1);
		size_t alen = family == AF_INET ? 4u : 16u;
		uint64_t hash = tp_murmur3_h1(addr, alen);
		char hex[17];
		snprintf(hex, sizeof(hex), "%016" PRIx64, hash);
		assert_string_equal(hex, c->col[2]);
		tp_hll_add(h, hash);
		rows++;
		card = tp_hll_cardinality(h);
		assert_int_equal(card, strtoull(c->col[3], NULL, 10));
		assert_string_equal(storage[tp_hll_type(h)], c->col[4]);
		if (tp_hll_type(h) == TP_HLL_SPARSE && first_sparse == 0)
			first_sparse = rows;
		if (tp_hll_type(h) == TP_HLL_FULL && first_dense == 0)
			first_dense = rows;
		size_t len = ser(h, got);
		assert_hex(c->col[0], got, len, c->col[5]);
	}
	csv_close(c);
	free(c);
	tp_hll_free(h);
	print_message("%s: %u rows, sparse from row %u, dense from row %u, "
		      "final cardinality %" PRIu64 ", 0 mismatches\n",
		      name, rows, first_sparse, first_dense, card);
	assert_int_equal(rows, want_rows);
	assert_int_equal(first_sparse, 21);
	assert_int_equal(card, want_final);
}

static void test_hll_vectors_edm_derived(void **state)
{
	(void)state;
	require_vectors();
	replay_edm_file("edm_ipv4_thr20.csv", AF_INET, 500, 485);
	replay_edm_file("edm_ipv6_thr20.csv", AF_INET6, 400, 390);
}

/* vectors/README.md §4 (edm-spec §3.3): threshold 10, 127.0.0.1..11. */
static void test_hll_cross_check_vector(void **state)
{
	(void)state;
	struct tp_hll_params p;
	tp_hll_params_default(&p);
	p.explicit_threshold = 10;
	struct tp_hll *h = new_hll(&p);
	uint8_t buf[TP_HLL_SERIALIZED_MAX];
	for (uint8_t i = 1; i <= 11; i++) {
		const uint8_t addr[4] = { 127, 0, 0, i };
		uint64_t hash = tp_murmur3_h1(addr, sizeof(addr));
		if (i == 1)
			assert_true(hash == UINT64_C(0x2ec77f0a75794c2e));
		tp_hll_add(h, hash);
		if (i == 10) {
			size_t len = ser(h, buf);
			assert_int_equal(len, 83);
			static const uint8_t head[] = { 0x12, 0x6a, 0x43, 0x8d,
							0x26, 0xb5, 0x40, 0x4a,
							0x37, 0x7f, 0xec, 0x9c };
			assert_memory_equal(buf, head, sizeof(head));
			assert_int_equal(tp_hll_cardinality(h), 10);
		}
	}
	size_t len = ser(h, buf);
	assert_hex("§4 after 11", buf, len,
		   "136a430b847515505c217306c21b486e63c9c7912fb040");
	assert_int_equal(tp_hll_cardinality(h), 12);
	double e = tp_hll_estimate(h);
	assert_true(e > 11.0595 && e < 11.0596);
	tp_hll_free(h);
}

/* ---- parameters and memory ---------------------------------------------- */

static void test_hll_params_check_rejects_out_of_range(void **state)
{
	(void)state;
	struct tp_hll_params d, p;
	tp_hll_params_default(&d);
	assert_int_equal(tp_hll_params_check(&d), 0);
	assert_int_equal(tp_hll_params_check(NULL), TP_EINVAL);
	p = d, p.log2m = 3;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	p = d, p.log2m = 17;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	p = d, p.regwidth = 0;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	p = d, p.regwidth = 9;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	p = d, p.explicit_threshold = -3;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	p = d, p.explicit_threshold = TP_HLL_EXPLICIT_MAX + 1;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	p = d, p.sparse_threshold = 1025;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	p = d, p.sparse_threshold = -3;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	/* The spec's byte 2 only expresses powers of two. */
	p = d, p.cutoff = TP_HLL_CUTOFF_SPEC;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	p.explicit_threshold = 16;
	assert_int_equal(tp_hll_params_check(&p), 0);
	p = d, p.cutoff = (enum tp_hll_cutoff)7;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	/* Extremes are fine. */
	p = d, p.log2m = 16, p.regwidth = 8, p.explicit_threshold = TP_HLL_AUTO,
	p.sparse_threshold = 21845; /* 21845 * 24 bits: just within 64 KiB */
	assert_int_equal(tp_hll_params_check(&p), 0);
	p.sparse_threshold = 21846;
	assert_int_equal(tp_hll_params_check(&p), TP_EINVAL);
	p.sparse_threshold = TP_HLL_SMALLER;
	assert_int_equal(tp_hll_params_check(&p), 0);
	p = d, p.log2m = 4, p.regwidth = 1, p.explicit_threshold = 0,
	p.sparse_threshold = 0;
	assert_int_equal(tp_hll_params_check(&p), 0);
	assert_int_equal(tp_hll_footprint(NULL), 0);
}

static void test_hll_init_in_caller_memory(void **state)
{
	(void)state;
	struct tp_hll_params p;
	tp_hll_params_default(&p);
	size_t need = tp_hll_footprint(&p);
	/* 20 explicit values + 1,024 registers + bookkeeping. */
	assert_true(need >= 20 * 8 + 1024 && need <= 20 * 8 + 1024 + 64);
	assert_int_equal(need % 8, 0);
	uint64_t *mem = malloc(need + 8);
	assert_non_null(mem);
	struct tp_hll *h = NULL;
	assert_int_equal(tp_hll_init(mem, need - 1, &p, &h), TP_EINVAL);
	assert_int_equal(tp_hll_init((uint8_t *)mem + 1, need, &p, &h),
			 TP_EINVAL);
	assert_int_equal(tp_hll_init(NULL, need, &p, &h), TP_EINVAL);
	assert_int_equal(tp_hll_init(mem, need, &p, NULL), TP_EINVAL);
	assert_int_equal(tp_hll_init(mem, need, &p, &h), 0);
	assert_ptr_equal(h, mem);
	assert_int_equal(tp_hll_type(h), TP_HLL_EMPTY);
	assert_int_equal(tp_hll_get_params(h)->explicit_threshold, 20);
	tp_hll_add(h, 12345u << 10);
	assert_int_equal(tp_hll_cardinality(h), 1);
	free(mem);

	struct tp_hll *x = NULL;
	p.log2m = 2;
	assert_int_equal(tp_hll_new(&p, &x), TP_EINVAL);
	assert_null(x);
	tp_hll_free(NULL);
}

/* ---- adding and promotion ---------------------------------------------- */

/* A hash that sets register idx to value v (the vectors' construction). */
static uint64_t reg_hash(unsigned log2m, uint32_t idx, unsigned v)
{
	return (UINT64_C(1) << (v - 1u + log2m)) | idx;
}

static void test_hll_add_ignores_zero_and_rankless(void **state)
{
	(void)state;
	struct tp_hll *h = new_default();
	tp_hll_add(h, 0);
	assert_int_equal(tp_hll_type(h), TP_HLL_EMPTY);
	/* In EXPLICIT a value without rank is still a member... */
	tp_hll_add(h, 5);
	assert_int_equal(tp_hll_type(h), TP_HLL_EXPLICIT);
	assert_int_equal(tp_hll_cardinality(h), 1);
	tp_hll_add(h, 5);
	assert_int_equal(tp_hll_cardinality(h), 1);
	/* ...but sets no register once promoted. */
	for (uint32_t i = 0; i < 20; i++)
		tp_hll_add(h, reg_hash(10, i + 100, 1));
	assert_int_equal(tp_hll_type(h), TP_HLL_SPARSE);
	uint8_t buf[TP_HLL_SERIALIZED_MAX];
	/* 20 registers of 14 bits = 35 bytes. */
	assert_int_equal(ser(h, buf), 3 + 35);
	tp_hll_add(h, 7);
	assert_int_equal(ser(h, buf), 3 + 35);
	tp_hll_free(h);
}

static void test_hll_promotion_boundaries_edm_defaults(void **state)
{
	(void)state;
	struct tp_hll *h = new_default();
	uint8_t buf[TP_HLL_SERIALIZED_MAX];
	for (uint32_t i = 0; i < 20; i++)
		tp_hll_add(h, reg_hash(10, i, 2));
	assert_int_equal(tp_hll_type(h), TP_HLL_EXPLICIT);
	assert_int_equal(ser(h, buf), 3 + 20 * 8);
	assert_int_equal(buf[2], 0x44); /* go-hll: bitlen(20) - 1 */
	tp_hll_add(h, reg_hash(10, 0, 2)); /* already a member */
	assert_int_equal(tp_hll_type(h), TP_HLL_EXPLICIT);
	tp_hll_add(h, reg_hash(10, 20, 2)); /* the 21st */
	assert_int_equal(tp_hll_type(h), TP_HLL_SPARSE);
	for (uint32_t i = 21; i < 256; i++)
		tp_hll_add(h, reg_hash(10, i, 2));
	assert_int_equal(tp_hll_type(h), TP_HLL_SPARSE); /* 256 registers */
	tp_hll_add(h, reg_hash(10, 255, 3)); /* same register, higher */
	assert_int_equal(tp_hll_type(h), TP_HLL_SPARSE);
	tp_hll_add(h, reg_hash(10, 256, 1)); /* the 257th register */
	assert_int_equal(tp_hll_type(h), TP_HLL_FULL);
	assert_int_equal(ser(h, buf), 3 + 512);
	tp_hll_reset(h);
	assert_int_equal(tp_hll_type(h), TP_HLL_EMPTY);
	assert_int_equal(tp_hll_cardinality(h), 0);
	assert_int_equal(ser(h, buf), 3);
	static const uint8_t empty[] = { 0x11, 0x6a, 0x44 };
	assert_memory_equal(buf, empty, 3);
	tp_hll_free(h);
}

static void test_hll_explicit_sorted_as_signed(void **state)
{
	(void)state;
	struct tp_hll *h = new_default();
	const uint64_t v[] = { 1, UINT64_MAX, UINT64_C(1) << 63,
			       UINT64_C(0x7fffffffffffffff), 2 };
	for (size_t i = 0; i < 5; i++)
		tp_hll_add(h, v[i]);
	uint8_t buf[64];
	assert_int_equal(tp_hll_serialize(h, buf, sizeof(buf)), 43);
	static const uint8_t want[] = {
		0x12, 0x6a, 0x44,
		0x80, 0, 0, 0, 0, 0, 0, 0,    /* INT64_MIN */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* -1 */
		0, 0, 0, 0, 0, 0, 0, 1,
		0, 0, 0, 0, 0, 0, 0, 2,
		0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	assert_memory_equal(buf, want, sizeof(want));
	tp_hll_free(h);
}

static void test_hll_thresholds_off_and_auto(void **state)
{
	(void)state;
	struct tp_hll_params p;
	uint8_t buf[TP_HLL_SERIALIZED_MAX];
	/* Explicit off: EMPTY -> SPARSE on the first add; byte 2 0x40. */
	tp_hll_params_default(&p);
	p.explicit_threshold = 0;
	struct tp_hll *h = new_hll(&p);
	tp_hll_add(h, reg_hash(10, 3, 1));
	assert_int_equal(tp_hll_type(h), TP_HLL_SPARSE);
	assert_int_equal(ser(h, buf), 5);
	assert_int_equal(buf[2], 0x40);
	tp_hll_free(h);
	/* Sparse off: EXPLICIT -> FULL. */
	tp_hll_params_default(&p);
	p.sparse = false;
	h = new_hll(&p);
	for (uint32_t i = 0; i <= 20; i++)
		tp_hll_add(h, reg_hash(10, i, 1));
	assert_int_equal(tp_hll_type(h), TP_HLL_FULL);
	assert_int_equal(ser(h, buf), 3 + 512);
	assert_int_equal(buf[2], 0x04);
	tp_hll_free(h);
	/* Both off: EMPTY -> FULL. */
	p.explicit_threshold = 0;
	h = new_hll(&p);
	tp_hll_add(h, reg_hash(10, 3, 1));
	assert_int_equal(tp_hll_type(h), TP_HLL_FULL);
	tp_hll_free(h);
	/* Threshold 1 (go-hll writes 0x40: "off" to a reader, a quirk we
	 * reproduce) still keeps one explicit value. */
	tp_hll_params_default(&p);
	p.explicit_threshold = 1;
	h = new_hll(&p);
	tp_hll_add(h, 77);
	assert_int_equal(tp_hll_type(h), TP_HLL_EXPLICIT);
	assert_int_equal(ser(h, buf), 11);
	assert_int_equal(buf[2], 0x40);
	tp_hll_free(h);
	/* Auto explicit: 64 values for 10/4, byte 2 = 0x7f. Auto sparse for
	 * 11/5 is 512; "smaller" is 639 (2048*5/16 = 640 words fill the
	 * dense size exactly). */
	tp_hll_params_default(&p);
	p.explicit_threshold = TP_HLL_AUTO;
	h = new_hll(&p);
	for (uint32_t i = 0; i < 64; i++)
		tp_hll_add(h, reg_hash(10, i, 1));
	assert_int_equal(tp_hll_type(h), TP_HLL_EXPLICIT);
	assert_int_equal(ser(h, buf), 3 + 64 * 8);
	assert_int_equal(buf[2], 0x7f);
	tp_hll_add(h, reg_hash(10, 64, 1));
	assert_int_equal(tp_hll_type(h), TP_HLL_SPARSE);
	tp_hll_free(h);
	for (int mode = 0; mode < 2; mode++) {
		tp_hll_params_default(&p);
		p.log2m = 11, p.regwidth = 5, p.explicit_threshold = 0;
		p.sparse_threshold = mode ? TP_HLL_SMALLER : TP_HLL_AUTO;
		uint32_t limit = mode ? 639 : 512;
		h = new_hll(&p);
		for (uint32_t i = 0; i < limit; i++)
			tp_hll_add(h, reg_hash(11, i, 1));
		assert_int_equal(tp_hll_type(h), TP_HLL_SPARSE);
		tp_hll_add(h, reg_hash(11, limit, 1));
		assert_int_equal(tp_hll_type(h), TP_HLL_FULL);
		tp_hll_free(h);
	}
	/* Spec byte 2: 16 -> 0x45 (PostgreSQL's hll_empty(10,4,16,1)). */
	tp_hll_params_default(&p);
	p.explicit_threshold = 16, p.cutoff = TP_HLL_CUTOFF_SPEC;
	h = new_hll(&p);
	assert_int_equal(ser(h, buf), 3);
	assert_int_equal(buf[2], 0x45);
	tp_hll_free(h);
}

static void test_hll_register_cap_and_nan(void **state)
{
	(void)state;
	struct tp_hll_params p;
	tp_hll_params_default(&p);
	p.explicit_threshold = 0;
	p.sparse = false;
	struct tp_hll *h = new_hll(&p);
	uint8_t buf[TP_HLL_SERIALIZED_MAX];
	/* Rank 30 is capped at 15 for regwidth 4. */
	tp_hll_add(h, reg_hash(10, 0, 30));
	assert_int_equal(ser(h, buf), 3 + 512);
	assert_int_equal(buf[3], 0xf0);
	/* The highest possible rank: only the top bit above the index. */
	tp_hll_add(h, (UINT64_C(1) << 63) | 1u);
	ser(h, buf);
	assert_int_equal(buf[3], 0xff);
	for (uint32_t i = 0; i < 1024; i++)
		tp_hll_add(h, reg_hash(10, i, 15));
	/* Every register at its maximum: the large-range correction has no
	 * answer (as in the vectors' last rows). */
	assert_true(isnan(tp_hll_estimate(h)));
	assert_true(tp_hll_cardinality(h) == UINT64_MAX);
	tp_hll_free(h);
}

/* ---- union -------------------------------------------------------------- */

static void test_hll_union_rules(void **state)
{
	(void)state;
	struct tp_hll_params p;
	tp_hll_params_default(&p);
	struct tp_hll *a = new_hll(&p), *b = new_hll(&p);
	/* Mismatched shapes are refused and leave dst alone. */
	struct tp_hll_params q = p;
	q.log2m = 11;
	struct tp_hll *c = new_hll(&q);
	tp_hll_add(a, 42);
	assert_int_equal(tp_hll_union(a, c), TP_EINVAL);
	q = p, q.regwidth = 5;
	tp_hll_free(c);
	c = new_hll(&q);
	assert_int_equal(tp_hll_union(a, c), TP_EINVAL);
	assert_int_equal(tp_hll_cardinality(a), 1);
	tp_hll_free(c);
	/* EMPTY ∪ EMPTY, x ∪ EMPTY. */
	tp_hll_reset(a);
	assert_int_equal(tp_hll_union(a, b), 0);
	assert_int_equal(tp_hll_type(a), TP_HLL_EMPTY);
	tp_hll_add(a, 42);
	assert_int_equal(tp_hll_union(a, b), 0);
	assert_int_equal(tp_hll_type(a), TP_HLL_EXPLICIT);
	/* EXPLICIT ∪ EXPLICIT promotes past the threshold (20). */
	for (uint32_t i = 0; i < 19; i++)
		tp_hll_add(b, reg_hash(10, i, 1));
	assert_int_equal(tp_hll_union(a, b), 0);
	assert_int_equal(tp_hll_type(a), TP_HLL_EXPLICIT);
	assert_int_equal(tp_hll_cardinality(a), 20);
	tp_hll_add(b, reg_hash(10, 500, 1));
	assert_int_equal(tp_hll_union(a, b), 0);
	assert_int_equal(tp_hll_type(a), TP_HLL_SPARSE);
	/* Union with itself changes nothing. */
	uint8_t before[TP_HLL_SERIALIZED_MAX], after[TP_HLL_SERIALIZED_MAX];
	size_t n1 = ser(a, before);
	assert_int_equal(tp_hll_union(a, a), 0);
	assert_int_equal(ser(a, after), n1);
	assert_memory_equal(before, after, n1);
	/* EMPTY ∪ FULL with one register: SPARSE, as java-hll. */
	p.explicit_threshold = 0;
	p.sparse = false;
	struct tp_hll *full = new_hll(&p);
	tp_hll_add(full, reg_hash(10, 7, 3));
	assert_int_equal(tp_hll_type(full), TP_HLL_FULL);
	tp_hll_reset(a);
	assert_int_equal(tp_hll_union(a, full), 0);
	assert_int_equal(tp_hll_type(a), TP_HLL_SPARSE);
	assert_int_equal(ser(a, after), 5);
	/* EXPLICIT ∪ SPARSE keeps both contributions. */
	tp_hll_reset(a);
	tp_hll_reset(b);
	tp_hll_add(a, reg_hash(10, 1, 1));
	for (uint32_t i = 0; i < 30; i++)
		tp_hll_add(b, reg_hash(10, 100 + i, 2));
	assert_int_equal(tp_hll_type(b), TP_HLL_SPARSE);
	assert_int_equal(tp_hll_union(a, b), 0);
	assert_int_equal(tp_hll_type(a), TP_HLL_SPARSE);
	assert_int_equal(ser(a, after), 3 + (31 * 14 + 7) / 8);
	/* SPARSE ∪ SPARSE past 256 registers goes FULL. */
	tp_hll_reset(a);
	tp_hll_reset(b);
	for (uint32_t i = 0; i < 200; i++) {
		tp_hll_add(a, reg_hash(10, i, 1));
		tp_hll_add(b, reg_hash(10, 1023 - i, 1));
	}
	assert_int_equal(tp_hll_type(a), TP_HLL_SPARSE);
	assert_int_equal(tp_hll_union(a, b), 0);
	assert_int_equal(tp_hll_type(a), TP_HLL_FULL);
	/* Union is commutative in content. */
	struct tp_hll *x = new_default(), *y = new_default();
	assert_int_equal(tp_hll_union(x, b), 0);
	assert_int_equal(tp_hll_union(x, full), 0);
	assert_int_equal(tp_hll_union(y, full), 0);
	assert_int_equal(tp_hll_union(y, b), 0);
	assert_true(tp_hll_equal(x, y));
	tp_hll_free(x);
	tp_hll_free(y);
	tp_hll_free(full);
	tp_hll_free(a);
	tp_hll_free(b);
}

/* ---- hostile input ------------------------------------------------------ */

struct bad_case {
	const char *what;
	const char *hex;
	int code;
};

static const struct bad_case bad_cases[] = {
	{ "empty input", "", TP_ETRUNC },
	{ "one byte", "11", TP_ETRUNC },
	{ "two bytes", "116a", TP_ETRUNC },
	{ "version 0", "016a44", TP_EMALF },
	{ "version 2", "216a44", TP_EMALF },
	{ "type 0 (undefined)", "106a44", TP_EMALF },
	{ "type 5", "156a44", TP_EMALF },
	{ "type 15", "1f6a44", TP_EMALF },
	{ "reserved bit of byte 2", "116ac4", TP_EMALF },
	{ "cutoff 32", "116a60", TP_EMALF },
	{ "cutoff 62", "116a7e", TP_EMALF },
	{ "log2m 3", "116344", TP_ETOOBIG },
	{ "log2m 17", "117144", TP_ETOOBIG },
	{ "explicit threshold 2^14", "116a4f", TP_ETOOBIG },
	{ "other log2m", "116b44", TP_EINVAL },
	{ "other regwidth", "118a44", TP_EINVAL },
	{ "EMPTY with a body", "116a4400", TP_EMALF },
	{ "EXPLICIT without values", "126a44", TP_EMALF },
	{ "EXPLICIT of 7 bytes", "126a4400000000000001", TP_ETRUNC },
	{ "EXPLICIT of 9 bytes", "126a44000000000000000101", TP_ETRUNC },
	{ "EXPLICIT not sorted",
	  "126a4400000000000000020000000000000001", TP_EMALF },
	{ "EXPLICIT duplicate",
	  "126a4400000000000000010000000000000001", TP_EMALF },
	{ "EXPLICIT unsigned order (-1 after 1)",
	  "126a440000000000000001ffffffffffffffff", TP_EMALF },
	/* SPARSE words are 14 bits: (index << 4) | value. */
	{ "SPARSE value 0", "136a44000000", TP_EMALF },
	{ "SPARSE index 0 value 0 then data", "136a440000" "40", TP_EMALF },
	{ "SPARSE index repeated", "136a440004" "0010", TP_EMALF },
	{ "SPARSE index descending", "136a440044" "0010", TP_EMALF },
	{ "SPARSE non-zero padding", "136a440005", TP_EMALF },
	{ "SPARSE extra padding byte", "136a44000400", TP_EMALF },
	{ "SPARSE longer than every register",
	  "136a44" "00" /* placeholder, replaced below */, 0 },
	{ "FULL short by one", "146a44", TP_ETRUNC },
	{ "FULL long by one", "146a44", TP_EMALF },
};

/* Each input in an exact-size heap buffer, so ASan catches overreads. */
static int deser_exact(struct tp_hll *h, const uint8_t *p, size_t len)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, p, len);
	int rc = tp_hll_deserialize(h, copy, len);
	free(copy);
	return rc;
}

static void test_hll_deserialize_rejects_malformed(void **state)
{
	(void)state;
	struct tp_hll *h = new_default();
	static uint8_t buf[TP_HLL_SERIALIZED_MAX + 16];
	size_t n_cases = sizeof(bad_cases) / sizeof(bad_cases[0]);
	for (size_t i = 0; i < n_cases; i++) {
		const struct bad_case *bc = &bad_cases[i];
		long n = unhex(bc->hex, strlen(bc->hex), buf, sizeof(buf));
		assert_true(n >= 0);
		int code = bc->code;
		if (strcmp(bc->what, "SPARSE longer than every register") == 0) {
			/* 1,024 words fill 1,792 bytes; one more byte. */
			memset(buf + 3, 0, 1793);
			n = 3 + 1793;
			code = TP_EMALF;
		} else if (strncmp(bc->what, "FULL", 4) == 0) {
			memset(buf + 3, 0, 513);
			n = bc->code == TP_ETRUNC ? 3 + 511 : 3 + 513;
		}
		tp_hll_add(h, 99); /* must be EMPTY after a failure */
		int rc = deser_exact(h, buf, (size_t)n);
		if (rc != code)
			fail_msg("%s: got %d (%s), want %d", bc->what, rc,
				 tp_strerror(rc), code);
		assert_int_equal(tp_hll_type(h), TP_HLL_EMPTY);
	}
	assert_int_equal(tp_hll_deserialize(NULL, buf, 3), TP_EINVAL);
	assert_int_equal(tp_hll_deserialize(h, NULL, 3), TP_EINVAL);
	struct tp_hll_params p;
	assert_int_equal(tp_hll_params_from_bytes(NULL, 3, &p), TP_EINVAL);
	tp_hll_free(h);
}

static void test_hll_deserialize_accepts_foreign_forms(void **state)
{
	(void)state;
	struct tp_hll *h = new_default();
	uint8_t out[TP_HLL_SERIALIZED_MAX];
	/* postgresql-hll stores hll_add(h, 0) as an explicit 0. */
	static const uint8_t pg_zero[] = { 0x12, 0x6a, 0x45, 0, 0, 0, 0,
					   0,    0,    0,    0 };
	assert_int_equal(deser_exact(h, pg_zero, sizeof(pg_zero)), 0);
	assert_int_equal(tp_hll_cardinality(h), 1);
	size_t n = ser(h, out);
	assert_int_equal(n, sizeof(pg_zero));
	assert_memory_equal(out + 3, pg_zero + 3, 8);
	assert_int_equal(out[2], 0x44); /* h's byte 2, not the input's */
	/* Spec auto (63) and explicit off (0) are valid headers. */
	static const uint8_t auto_empty[] = { 0x11, 0x6a, 0x7f };
	assert_int_equal(deser_exact(h, auto_empty, 3), 0);
	struct tp_hll_params p;
	assert_int_equal(tp_hll_params_from_bytes(auto_empty, 3, &p), 0);
	assert_int_equal(p.explicit_threshold, TP_HLL_AUTO);
	static const uint8_t spec16[] = { 0x11, 0x6a, 0x45 };
	assert_int_equal(tp_hll_params_from_bytes(spec16, 3, &p), 0);
	assert_int_equal(p.explicit_threshold, 16);
	assert_int_equal(p.cutoff, TP_HLL_CUTOFF_SPEC);
	assert_true(p.sparse);
	/* go-hll's 0x44 reads as 8 (it meant 16..31). */
	static const uint8_t go20[] = { 0x11, 0x6a, 0x44 };
	assert_int_equal(tp_hll_params_from_bytes(go20, 3, &p), 0);
	assert_int_equal(p.explicit_threshold, 8);
	/* An explicit set larger than h's threshold is promoted on load. */
	struct tp_hll *big = NULL;
	tp_hll_params_default(&p);
	p.explicit_threshold = 64;
	big = new_hll(&p);
	for (uint32_t i = 0; i < 30; i++)
		tp_hll_add(big, reg_hash(10, i, 1));
	n = ser(big, out);
	assert_int_equal(deser_exact(h, out, n), 0);
	assert_int_equal(tp_hll_type(h), TP_HLL_SPARSE);
	/* 30 registers of value 1: linear counting, 1024 ln(1024/994). */
	assert_int_equal(tp_hll_cardinality(h), 31);
	/* A sparse body with more registers than h's threshold loads FULL. */
	tp_hll_reset(big);
	p.explicit_threshold = 0;
	p.sparse_threshold = 1024;
	tp_hll_free(big);
	big = new_hll(&p);
	for (uint32_t i = 0; i < 300; i++)
		tp_hll_add(big, reg_hash(10, i, 1));
	n = ser(big, out);
	assert_int_equal(out[0], 0x13);
	assert_int_equal(deser_exact(h, out, n), 0);
	assert_int_equal(tp_hll_type(h), TP_HLL_FULL);
	assert_true(tp_hll_estimate(h) == tp_hll_estimate(big));
	tp_hll_free(big);
	tp_hll_free(h);
}

/* A few sketches of every type under EDM's settings. */
static void build_samples(struct tp_hll *s[4])
{
	uint64_t x = UINT64_C(0x9e3779b97f4a7c15);
	unsigned counts[4] = { 0, 7, 120, 2000 };
	for (int k = 0; k < 4; k++) {
		s[k] = new_default();
		for (unsigned i = 0; i < counts[k]; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			tp_hll_add(s[k], x);
		}
	}
	assert_int_equal(tp_hll_type(s[0]), TP_HLL_EMPTY);
	assert_int_equal(tp_hll_type(s[1]), TP_HLL_EXPLICIT);
	assert_int_equal(tp_hll_type(s[2]), TP_HLL_SPARSE);
	assert_int_equal(tp_hll_type(s[3]), TP_HLL_FULL);
}

static void test_hll_round_trip_and_enospace(void **state)
{
	(void)state;
	struct tp_hll *s[4];
	build_samples(s);
	struct tp_hll *y = new_default();
	uint8_t a[TP_HLL_SERIALIZED_MAX], b[TP_HLL_SERIALIZED_MAX];
	for (int k = 0; k < 4; k++) {
		size_t n = ser(s[k], a);
		assert_int_equal(deser_exact(y, a, n), 0);
		assert_true(tp_hll_equal(s[k], y));
		assert_int_equal(ser(y, b), n);
		assert_memory_equal(a, b, n);
		assert_true(tp_hll_estimate(y) == tp_hll_estimate(s[k]));
		/* Too small by one: refused. */
		assert_int_equal(tp_hll_serialize(s[k], b, n - 1), TP_ENOSPACE);
		assert_int_equal(tp_hll_serialize(s[k], NULL, 0), TP_ENOSPACE);
		assert_int_equal(tp_hll_serialize(s[k], NULL, 5), TP_EINVAL);
		tp_hll_free(s[k]);
	}
	tp_hll_free(y);
}

/* Every supported shape (log2m 4..16 in steps, regwidth 1..8) at several
 * fill levels: serialised size as the format defines it, exact round trip,
 * union with the round-tripped copy is a no-op, estimate never negative. */
static void test_hll_round_trip_all_shapes(void **state)
{
	(void)state;
	static const uint8_t log2ms[] = { 4, 5, 8, 11, 16 };
	static const unsigned fills[] = { 0, 3, 100, 3000 };
	static uint8_t a[TP_HLL_SERIALIZED_MAX], b[TP_HLL_SERIALIZED_MAX];
	uint64_t x = UINT64_C(0x853c49e6748fea9b);
	unsigned shapes = 0;
	for (size_t l = 0; l < sizeof(log2ms); l++)
		for (uint8_t rw = 1; rw <= 8; rw++) {
			struct tp_hll_params p;
			tp_hll_params_default(&p);
			p.log2m = log2ms[l], p.regwidth = rw;
			p.explicit_threshold = TP_HLL_AUTO;
			for (size_t f = 0; f < 4; f++) {
				struct tp_hll *h = new_hll(&p), *y = new_hll(&p);
				for (unsigned i = 0; i < fills[f]; i++) {
					x ^= x << 13, x ^= x >> 7, x ^= x << 17;
					tp_hll_add(h, x);
				}
				size_t n = ser(h, a);
				size_t m = (size_t)1 << p.log2m, body = n - 3;
				switch (tp_hll_type(h)) {
				case TP_HLL_FULL:
					assert_int_equal(body, m * rw / 8);
					break;
				case TP_HLL_EXPLICIT:
					assert_int_equal(body, fills[f] * 8u);
					break;
				default:
					break;
				}
				assert_int_equal(deser_exact(y, a, n), 0);
				assert_true(tp_hll_equal(h, y));
				assert_int_equal(ser(y, b), n);
				assert_memory_equal(a, b, n);
				assert_int_equal(tp_hll_union(h, y), 0);
				assert_int_equal(ser(h, b), n);
				assert_memory_equal(a, b, n);
				double e = tp_hll_estimate(h);
				assert_true(isnan(e) || e >= 0.0);
				tp_hll_free(h);
				tp_hll_free(y);
				shapes++;
			}
		}
	assert_int_equal(shapes, 5 * 8 * 4);
}

/* Every prefix of a valid sketch: refused with TP_EMALF/TP_ETRUNC, or (an
 * explicit or sparse body cut at a word boundary) a valid smaller sketch
 * that writes back exactly the prefix. Then every single-bit flip. */
static void test_hll_truncation_and_bit_flip_sweeps(void **state)
{
	(void)state;
	struct tp_hll *s[4];
	build_samples(s);
	struct tp_hll *y = new_default();
	uint8_t a[TP_HLL_SERIALIZED_MAX], b[TP_HLL_SERIALIZED_MAX];
	unsigned accepted = 0, refused = 0;
	for (int k = 0; k < 4; k++) {
		size_t n = ser(s[k], a);
		for (size_t cut = 0; cut < n; cut++) {
			int rc = deser_exact(y, a, cut);
			if (rc == 0) {
				accepted++;
				assert_int_equal(ser(y, b), cut);
				assert_memory_equal(a, b, cut);
			} else {
				refused++;
				assert_true(rc == TP_EMALF || rc == TP_ETRUNC);
				assert_int_equal(tp_hll_type(y), TP_HLL_EMPTY);
			}
		}
		for (size_t bit = 0; bit < n * 8u; bit++) {
			a[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
			int rc = deser_exact(y, a, n);
			assert_true(rc == 0 || rc == TP_EMALF ||
				    rc == TP_ETRUNC || rc == TP_ETOOBIG ||
				    rc == TP_EINVAL);
			if (rc == 0)
				(void)ser(y, b);
			a[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
		}
		tp_hll_free(s[k]);
	}
	print_message("truncation sweep: %u prefixes refused, %u valid "
		      "shorter sketches\n",
		      refused, accepted);
	assert_true(accepted > 0 && refused > 0);
	tp_hll_free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hll_vectors_cumulative_add),
		cmocka_unit_test(test_hll_vectors_cumulative_union),
		cmocka_unit_test(test_hll_vectors_edm_derived),
		cmocka_unit_test(test_hll_cross_check_vector),
		cmocka_unit_test(test_hll_params_check_rejects_out_of_range),
		cmocka_unit_test(test_hll_init_in_caller_memory),
		cmocka_unit_test(test_hll_add_ignores_zero_and_rankless),
		cmocka_unit_test(test_hll_promotion_boundaries_edm_defaults),
		cmocka_unit_test(test_hll_explicit_sorted_as_signed),
		cmocka_unit_test(test_hll_thresholds_off_and_auto),
		cmocka_unit_test(test_hll_register_cap_and_nan),
		cmocka_unit_test(test_hll_union_rules),
		cmocka_unit_test(test_hll_deserialize_rejects_malformed),
		cmocka_unit_test(test_hll_deserialize_accepts_foreign_forms),
		cmocka_unit_test(test_hll_round_trip_and_enospace),
		cmocka_unit_test(test_hll_round_trip_all_shapes),
		cmocka_unit_test(test_hll_truncation_and_bit_flip_sweeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
