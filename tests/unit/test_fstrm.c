/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_fstrm.c - Frame Streams framing and the unidirectional file reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <unistd.h>

#include "dnstap/fstrm.h"
#include "dnstap/reader.h"
#include "pbenc.h"

static void put_control(struct enc *e, uint32_t type, const char *ct)
{
	int n = tp_fstrm_control_encode(type, ct, e->b + e->n, sizeof(e->b) - e->n);
	assert_true(n > 0);
	e->n += (size_t)n;
}

static void test_fstrm_control_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[64];
	int n = tp_fstrm_control_encode(TP_FSTRM_ACCEPT, TP_FSTRM_CONTENT_TYPE, buf, sizeof(buf));
	/* escape(4) + length(4) + type(4) + field type(4) + field len(4) + 22 */
	assert_int_equal(n, 42);
	static const uint8_t head[] = { 0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 22 };
	assert_memory_equal(buf, head, sizeof(head));

	struct tp_fstrm_frame f;
	uint64_t need = 0;
	assert_int_equal(tp_fstrm_next(buf, (size_t)n, 1000, &f, &need), n);
	assert_int_equal(f.kind, TP_FSTRM_CONTROL);
	assert_int_equal(f.control.type, TP_FSTRM_ACCEPT);
	assert_true(tp_fstrm_control_has_dnstap(&f.control));
	/* Every shorter prefix asks for more bytes. */
	for (int cut = 0; cut < n; cut++)
		assert_int_equal(tp_fstrm_next(buf, (size_t)cut, 1000, &f, &need), 0);

	assert_int_equal(tp_fstrm_control_encode(TP_FSTRM_FINISH, NULL, buf, sizeof(buf)), 12);
	assert_int_equal(tp_fstrm_control_encode(TP_FSTRM_ACCEPT, TP_FSTRM_CONTENT_TYPE, buf, 20),
			 TP_ENOSPACE);
}

static void test_fstrm_ready_lists_several_content_types(void **state)
{
	(void)state;
	static const uint8_t ready[] = {
		0, 0, 0, 4,               /* READY */
		0, 0, 0, 1, 0, 0, 0, 3, 'f', 'o', 'o',
		0, 0, 0, 1, 0, 0, 0, 22, 'p', 'r', 'o', 't', 'o', 'b', 'u', 'f', ':',
		'd', 'n', 's', 't', 'a', 'p', '.', 'D', 'n', 's', 't', 'a', 'p',
	};
	struct tp_fstrm_control c;
	assert_int_equal(tp_fstrm_control_parse(ready, sizeof(ready), &c), 0);
	assert_int_equal(c.type, TP_FSTRM_READY);
	assert_int_equal(c.n_content_types, 2);
	assert_true(tp_fstrm_control_has_dnstap(&c));
	/* Only "foo": not ours. */
	assert_int_equal(tp_fstrm_control_parse(ready, 15, &c), 0);
	assert_false(tp_fstrm_control_has_dnstap(&c));
}

static void test_fstrm_rejects_bad_control_frames(void **state)
{
	(void)state;
	struct tp_fstrm_control c;
	static const uint8_t unknown_type[] = { 0, 0, 0, 9 };
	static const uint8_t field_overrun[] = { 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 9, 'a' };
	static const uint8_t unknown_field[] = { 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 'a' };
	static const uint8_t stop_with_field[] = { 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 'a' };
	static const uint8_t short_field[] = { 0, 0, 0, 2, 0, 0, 0 };
	assert_int_equal(tp_fstrm_control_parse(unknown_type, 4, &c), TP_EPROTO);
	assert_int_equal(tp_fstrm_control_parse(field_overrun, sizeof(field_overrun), &c), TP_EPROTO);
	assert_int_equal(tp_fstrm_control_parse(unknown_field, sizeof(unknown_field), &c), TP_EPROTO);
	assert_int_equal(tp_fstrm_control_parse(stop_with_field, sizeof(stop_with_field), &c), TP_EPROTO);
	assert_int_equal(tp_fstrm_control_parse(short_field, sizeof(short_field), &c), TP_EPROTO);
	assert_int_equal(tp_fstrm_control_parse(unknown_type, 3, &c), TP_EPROTO);

	/* A control length over the 512-octet limit is refused before waiting
	 * for its bytes. */
	static const uint8_t huge_control[] = { 0, 0, 0, 0, 0, 0, 2, 1 };
	struct tp_fstrm_frame f;
	uint64_t need = 0;
	assert_int_equal(tp_fstrm_next(huge_control, sizeof(huge_control), 1000, &f, &need),
			 TP_EPROTO);
}

static void test_fstrm_oversize_data_frame_reports_its_size(void **state)
{
	(void)state;
	static const uint8_t big[] = { 0x00, 0x10, 0x00, 0x01, 'x' };
	struct tp_fstrm_frame f;
	uint64_t need = 0;
	assert_int_equal(tp_fstrm_next(big, sizeof(big), 1u << 20, &f, &need), TP_ETOOBIG);
	assert_true(need == 4u + 0x100001u);
	/* Exactly at the limit is accepted (once its bytes are there). */
	assert_int_equal(tp_fstrm_next(big, sizeof(big), 0x100001u, &f, &need), 0);
}

static void test_fstrm_detects_tls_client_hello(void **state)
{
	(void)state;
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
	assert_true(tp_fstrm_looks_like_tls(hello, sizeof(hello)));
	static const uint8_t escape[] = { 0, 0, 0, 0 };
	assert_false(tp_fstrm_looks_like_tls(escape, sizeof(escape)));
}

/* The reader on an in-memory file. */
static struct tp_dt_reader *reader_over(const struct enc *e, size_t max_frame)
{
	int fd = memfd_create("fstrm-test", 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, e->b, e->n), (ssize_t)e->n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	struct tp_dt_reader *r;
	assert_int_equal(tp_dt_reader_new(fd, max_frame, &r), 0);
	return r;
}

static void test_reader_reads_frames_between_start_and_stop(void **state)
{
	(void)state;
	static struct enc e;
	e.n = 0;
	put_control(&e, TP_FSTRM_START, TP_FSTRM_CONTENT_TYPE);
	enc_frame(&e, (const uint8_t *)"one", 3);
	enc_frame(&e, (const uint8_t *)"second", 6);
	put_control(&e, TP_FSTRM_STOP, NULL);

	struct tp_dt_reader *r = reader_over(&e, 1024);
	const uint8_t *p;
	size_t len;
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 1);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "one", 3);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 1);
	assert_int_equal(len, 6);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 0);
	assert_false(tp_dt_reader_missing_stop(r));
	tp_dt_reader_free(r);
}

static void test_reader_skips_oversize_and_goes_on(void **state)
{
	(void)state;
	static struct enc e;
	static uint8_t big[5000];
	e.n = 0;
	put_control(&e, TP_FSTRM_START, TP_FSTRM_CONTENT_TYPE);
	enc_frame(&e, big, sizeof(big));
	enc_frame(&e, (const uint8_t *)"after", 5);
	put_control(&e, TP_FSTRM_STOP, NULL);

	struct tp_dt_reader *r = reader_over(&e, 1000);
	const uint8_t *p;
	size_t len;
	assert_int_equal(tp_dt_reader_next(r, &p, &len), TP_ETOOBIG);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 1);
	assert_memory_equal(p, "after", 5);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 0);
	tp_dt_reader_free(r);
}

static void test_reader_refuses_non_dnstap(void **state)
{
	(void)state;
	static struct enc e;
	struct tp_dt_reader *r;
	const uint8_t *p;
	size_t len;

	e.n = 0; /* empty file */
	r = reader_over(&e, 1000);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), TP_ECONTENT);
	tp_dt_reader_free(r);

	e.n = 0; /* another content type */
	put_control(&e, TP_FSTRM_START, "protobuf:other.Thing");
	r = reader_over(&e, 1000);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), TP_ECONTENT);
	tp_dt_reader_free(r);

	e.n = 0; /* text */
	memcpy(e.b, "hello world, not a capture\n", 27);
	e.n = 27;
	r = reader_over(&e, 1000);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), TP_ECONTENT);
	assert_int_equal(tp_dt_reader_offset(r), 0);
	tp_dt_reader_free(r);
}

static void test_reader_truncated_stream_keeps_earlier_frames(void **state)
{
	(void)state;
	static struct enc e;
	e.n = 0;
	put_control(&e, TP_FSTRM_START, TP_FSTRM_CONTENT_TYPE);
	enc_frame(&e, (const uint8_t *)"whole", 5);
	enc_frame(&e, (const uint8_t *)"cut here", 8);
	e.n -= 3;

	struct tp_dt_reader *r = reader_over(&e, 1000);
	const uint8_t *p;
	size_t len;
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 1);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), TP_ETRUNC);
	assert_true(tp_dt_reader_missing_stop(r));
	tp_dt_reader_free(r);
}

static void test_reader_bad_control_frame_is_skipped(void **state)
{
	(void)state;
	static struct enc e;
	e.n = 0;
	put_control(&e, TP_FSTRM_START, TP_FSTRM_CONTENT_TYPE);
	/* A control frame of an unknown type 9, well-formed length. */
	static const uint8_t bad[] = { 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 9 };
	memcpy(e.b + e.n, bad, sizeof(bad));
	e.n += sizeof(bad);
	enc_frame(&e, (const uint8_t *)"next", 4);
	put_control(&e, TP_FSTRM_STOP, NULL);

	struct tp_dt_reader *r = reader_over(&e, 1000);
	const uint8_t *p;
	size_t len;
	assert_int_equal(tp_dt_reader_next(r, &p, &len), TP_EPROTO);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 1);
	assert_memory_equal(p, "next", 4);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 0);
	tp_dt_reader_free(r);
}

static void test_reader_concatenated_streams(void **state)
{
	(void)state;
	static struct enc e;
	e.n = 0;
	for (int i = 0; i < 2; i++) {
		put_control(&e, TP_FSTRM_START, TP_FSTRM_CONTENT_TYPE);
		enc_frame(&e, (const uint8_t *)"x", 1);
		put_control(&e, TP_FSTRM_STOP, NULL);
	}
	struct tp_dt_reader *r = reader_over(&e, 1000);
	const uint8_t *p;
	size_t len;
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 1);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 1);
	assert_int_equal(tp_dt_reader_next(r, &p, &len), 0);
	tp_dt_reader_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fstrm_control_roundtrip),
		cmocka_unit_test(test_fstrm_ready_lists_several_content_types),
		cmocka_unit_test(test_fstrm_rejects_bad_control_frames),
		cmocka_unit_test(test_fstrm_oversize_data_frame_reports_its_size),
		cmocka_unit_test(test_fstrm_detects_tls_client_hello),
		cmocka_unit_test(test_reader_reads_frames_between_start_and_stop),
		cmocka_unit_test(test_reader_skips_oversize_and_goes_on),
		cmocka_unit_test(test_reader_refuses_non_dnstap),
		cmocka_unit_test(test_reader_truncated_stream_keeps_earlier_frames),
		cmocka_unit_test(test_reader_bad_control_frame_is_skipped),
		cmocka_unit_test(test_reader_concatenated_streams),
	};
	return cmocka_run_group_tests_name("unit.fstrm", tests, NULL, NULL);
}
