/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_util.c - error texts and the option table (command line + file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdatomic.h>
#include <time.h>

#include "util/err.h"
#include "util/log.h"
#include "util/opts.h"
#include "util/rd.h"

static void test_err_every_code_has_text(void **state)
{
	(void)state;
	assert_string_equal(tp_strerror(0), "success");
	assert_string_equal(tp_strerror(TP_ELOOP), "compression pointer loop or bad pointer");
	assert_string_equal(tp_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(tp_strerror(-5000), "unknown error");
}

static void test_rd_big_endian_loads(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0x12, 0x34, 0x56, 0x78 };
	assert_int_equal(tp_load_be16(b), 0x1234);
	assert_int_equal(tp_load_be32(b), 0x12345678);
	assert_int_equal(tp_load_le32(b), 0x78563412);
	uint8_t out[4];
	tp_store_be32(out, 0xa1b2c3d4);
	assert_int_equal(tp_load_be32(out), 0xa1b2c3d4);
}

struct conf {
	const char *config_file, *name;
	uint64_t count;
	bool flag;
	int mode;
};

static size_t make_opts(struct tp_opt *o, struct conf *c)
{
	struct tp_opt tmpl[] = {
		{ "config-file", TP_OPT_STRING, &c->config_file, 0, 0, "", true, false, NULL },
		{ "name", TP_OPT_STRING, &c->name, 0, 0, "", false, false, NULL },
		{ "count", TP_OPT_UINT, &c->count, 1, 100, "", false, false, NULL },
		{ "flag", TP_OPT_BOOL, &c->flag, 0, 0, "", false, false, NULL },
		{ "mode", TP_OPT_MODE, &c->mode, 0, 0, "", false, false, NULL },
	};
	memcpy(o, tmpl, sizeof(tmpl));
	return sizeof(tmpl) / sizeof(tmpl[0]);
}

static void test_opts_command_line_forms(void **state)
{
	(void)state;
	struct conf c = { .mode = -1 };
	struct tp_opt o[5];
	size_t n = make_opts(o, &c);
	char *argv[] = { "--name", "edge-1", "--count=42", "--flag", "--mode", "0660" };
	assert_int_equal(tp_opts_parse(o, n, 6, argv, &c.config_file), 0);
	assert_string_equal(c.name, "edge-1");
	assert_int_equal(c.count, 42);
	assert_true(c.flag);
	assert_int_equal(c.mode, 0660);
}

static void test_opts_reports_all_errors(void **state)
{
	(void)state;
	struct conf c = { .mode = -1 };
	struct tp_opt o[5];
	size_t n = make_opts(o, &c);
	char *argv[] = { "--count", "101", "--bogus", "--mode", "999", "stray" };
	assert_int_equal(tp_opts_parse(o, n, 6, argv, &c.config_file), TP_EINVAL);
	char *argv2[] = { "--count" };
	assert_int_equal(tp_opts_parse(o, n, 1, argv2, &c.config_file), TP_EINVAL);
}

static void test_opts_config_file_and_precedence(void **state)
{
	(void)state;
	char path[] = "/tmp/tapir-opts-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "# comment\n\nname = \"from-file\"\ncount = 7\nflag = true\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	struct conf c = { .mode = -1 };
	struct tp_opt o[5];
	size_t n = make_opts(o, &c);
	char *argv[] = { "--config-file", path, "--count", "9" };
	assert_int_equal(tp_opts_parse(o, n, 4, argv, &c.config_file), 0);
	assert_string_equal(c.name, "from-file");
	assert_int_equal(c.count, 9); /* the command line wins */
	assert_true(c.flag);
	tp_opts_free(o, n);
	assert_null(c.name);

	/* Unknown keys and config-file inside a file are errors. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("nme = x\nconfig-file = y\ncount = zero\n", f);
	fclose(f);
	struct conf c2 = { .mode = -1 };
	n = make_opts(o, &c2);
	char *argv2[] = { "--config-file", path };
	assert_int_equal(tp_opts_parse(o, n, 2, argv2, &c2.config_file), TP_EINVAL);
	tp_opts_free(o, n);
	unlink(path);
}

/* The limiter's own clock. */
static time_t monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void test_log_limit_allows_a_burst_per_window(void **state)
{
	(void)state;
	/* Retried if the 10-second window turns during the loop. */
	for (int attempt = 0; attempt < 3; attempt++) {
		struct tp_log_limit limit = { 0 };
		time_t before = monotonic_s() / TP_LOG_LIMIT_WINDOW_S;
		unsigned allowed = 0;
		for (unsigned i = 0; i < TP_LOG_LIMIT_BURST + 5; i++)
			allowed += tp_log_allow(&limit, "test");
		if (monotonic_s() / TP_LOG_LIMIT_WINDOW_S != before)
			continue;
		assert_int_equal(allowed, TP_LOG_LIMIT_BURST);
		assert_int_equal(atomic_load(&limit.suppressed), 5);
		return;
	}
	fail_msg("the clock kept crossing window boundaries");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_every_code_has_text),
		cmocka_unit_test(test_rd_big_endian_loads),
		cmocka_unit_test(test_opts_command_line_forms),
		cmocka_unit_test(test_opts_reports_all_errors),
		cmocka_unit_test(test_opts_config_file_and_precedence),
		cmocka_unit_test(test_log_limit_allows_a_burst_per_window),
	};
	return cmocka_run_group_tests_name("unit.util", tests, NULL, NULL);
}
