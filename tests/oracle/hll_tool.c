/* SPDX-License-Identifier: BSD-2-Clause
 *
 * hll_tool.c - tapir's HLL sketches on stdout, for comparing with a real
 * PostgreSQL hll extension (tests/integration/test_postgres_hll.py).
 *
 * A test-only program: it reads commands from stdin, one per line, and
 * prints one answer line per command that asks for one. It is not
 * installed and never sees untrusted input other than the test's own.
 *
 *   new            start a new current sketch (kept for `union`)
 *   add <int64>    add a raw hash, signed decimal as PostgreSQL prints
 *                  hll_hashval (or unsigned decimal)
 *   addr <hex>     add tp_murmur3_h1 of the bytes
 *   hash <hex>     -> h1 of the bytes, signed decimal
 *   print          -> "<hex> <cardinality> <estimate> <type>" of current
 *   union          -> the same for a fresh sketch unioned with every
 *                     sketch made so far, in order
 *   load <hex>     replace the current sketch by deserialising the bytes;
 *                  -> "ok" or "error <code> <text>"
 *   clear          forget every sketch (start a new group for `union`)
 *
 * Parameters (defaults are EDM's): --log2m N --regwidth N --expthresh T
 * (0 off, -1 auto) --sparse 0|1 --sparse-threshold N|auto|smaller
 * --cutoff gohll|spec.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sketch/hll.h"
#include "sketch/murmur3.h"

#define MAX_SKETCHES 10000u
#define LINE_MAX_LEN (2u * TP_HLL_SERIALIZED_MAX + 64u)

static struct tp_hll_params params;
static struct tp_hll *sketches[MAX_SKETCHES];
static unsigned n_sketches;

_Noreturn static void die(const char *msg)
{
	fprintf(stderr, "hll_tool: %s\n", msg);
	exit(2);
}

static long parse_long(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		die("bad number");
	return v;
}

static size_t unhex(const char *s, uint8_t *out, size_t out_size)
{
	size_t len = strlen(s);
	if (len >= 2 && s[0] == '\\' && s[1] == 'x')
		s += 2, len -= 2;
	if (len % 2u != 0 || len / 2u > out_size)
		die("bad hex");
	for (size_t i = 0; i < len / 2u; i++) {
		unsigned v = 0;
		for (unsigned j = 0; j < 2; j++) {
			char c = s[2 * i + j];
			unsigned d;
			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				die("bad hex");
			v = v << 4 | d;
		}
		out[i] = (uint8_t)v;
	}
	return len / 2u;
}

/* uint64 -> the int64 PostgreSQL shows, without an implementation-
 * defined conversion. */
static void print_signed(uint64_t v)
{
	if (v <= INT64_MAX)
		printf("%" PRId64 "\n", (int64_t)v);
	else
		printf("-%" PRIu64 "\n", ~v + 1u);
}

static void print_sketch(const struct tp_hll *h)
{
	static uint8_t buf[TP_HLL_SERIALIZED_MAX];
	int n = tp_hll_serialize(h, buf, sizeof(buf));
	if (n < 0)
		die("serialize failed");
	for (int i = 0; i < n; i++)
		printf("%02x", buf[i]);
	static const char *const types[] = { "?", "empty", "explicit", "sparse",
					     "full" };
	printf(" %" PRIu64 " %.17g %s\n", tp_hll_cardinality(h),
	       tp_hll_estimate(h), types[tp_hll_type(h)]);
}

static struct tp_hll *new_sketch(void)
{
	struct tp_hll *h;
	if (tp_hll_new(&params, &h) != 0)
		die("tp_hll_new failed (parameters?)");
	return h;
}

static struct tp_hll *current(void)
{
	if (n_sketches == 0)
		die("no sketch: `new` first");
	return sketches[n_sketches - 1u];
}

static void parse_args(int argc, char **argv)
{
	tp_hll_params_default(&params);
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			die("option without value");
		const char *o = argv[i], *v = argv[i + 1];
		if (strcmp(o, "--log2m") == 0)
			params.log2m = (uint8_t)parse_long(v);
		else if (strcmp(o, "--regwidth") == 0)
			params.regwidth = (uint8_t)parse_long(v);
		else if (strcmp(o, "--expthresh") == 0)
			params.explicit_threshold = (int32_t)parse_long(v);
		else if (strcmp(o, "--sparse") == 0)
			params.sparse = parse_long(v) != 0;
		else if (strcmp(o, "--sparse-threshold") == 0)
			params.sparse_threshold =
				strcmp(v, "auto") == 0	  ? TP_HLL_AUTO
				: strcmp(v, "smaller") == 0 ? TP_HLL_SMALLER
							    : (int32_t)parse_long(v);
		else if (strcmp(o, "--cutoff") == 0)
			params.cutoff = strcmp(v, "spec") == 0
						? TP_HLL_CUTOFF_SPEC
						: TP_HLL_CUTOFF_GOHLL;
		else
			die("unknown option");
	}
	if (tp_hll_params_check(&params) != 0)
		die("invalid parameters");
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	static char line[LINE_MAX_LEN];
	static uint8_t bytes[TP_HLL_SERIALIZED_MAX];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		char *arg = strchr(line, ' ');
		if (arg != NULL)
			*arg++ = '\0';
		if (strcmp(line, "new") == 0) {
			if (n_sketches == MAX_SKETCHES)
				die("too many sketches");
			sketches[n_sketches++] = new_sketch();
		} else if (strcmp(line, "add") == 0 && arg != NULL) {
			char *end;
			errno = 0;
			uint64_t v = arg[0] == '-'
					     ? ~strtoull(arg + 1, &end, 10) + 1u
					     : strtoull(arg, &end, 10);
			if (errno != 0 || *end != '\0')
				die("bad add value");
			tp_hll_add(current(), v);
		} else if (strcmp(line, "addr") == 0 && arg != NULL) {
			size_t n = unhex(arg, bytes, sizeof(bytes));
			tp_hll_add(current(), tp_murmur3_h1(bytes, n));
		} else if (strcmp(line, "hash") == 0 && arg != NULL) {
			size_t n = unhex(arg, bytes, sizeof(bytes));
			print_signed(tp_murmur3_h1(bytes, n));
		} else if (strcmp(line, "print") == 0) {
			print_sketch(current());
		} else if (strcmp(line, "union") == 0) {
			struct tp_hll *acc = new_sketch();
			for (unsigned i = 0; i < n_sketches; i++)
				if (tp_hll_union(acc, sketches[i]) != 0)
					die("union failed");
			print_sketch(acc);
			tp_hll_free(acc);
		} else if (strcmp(line, "load") == 0 && arg != NULL) {
			size_t n = unhex(arg, bytes, sizeof(bytes));
			int rc = tp_hll_deserialize(current(), bytes, n);
			if (rc == 0)
				printf("ok\n");
			else
				printf("error %d %s\n", rc, tp_strerror(rc));
		} else if (strcmp(line, "clear") == 0) {
			for (unsigned i = 0; i < n_sketches; i++)
				tp_hll_free(sketches[i]);
			n_sketches = 0;
		} else if (line[0] != '\0') {
			die("unknown command");
		}
		fflush(stdout);
	}
	for (unsigned i = 0; i < n_sketches; i++)
		tp_hll_free(sketches[i]);
	return 0;
}
