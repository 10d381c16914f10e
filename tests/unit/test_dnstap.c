/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_dnstap.c - the zero-copy dnstap protobuf decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dnstap/dnstap.h"
#include "pbenc.h"

static const uint8_t dns_wire[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0,
				    3, 'c', 'o', 'm', 0, 0, 1, 0, 1 };

/* A CLIENT_RESPONSE as Unbound writes it. */
static void build_message(struct enc *m)
{
	m->n = 0;
	enc_uint(m, 1, 6);
	enc_uint(m, 2, 1);
	enc_uint(m, 3, 1);
	enc_bytes(m, 4, "\x7f\x00\x00\x01", 4);
	enc_bytes(m, 5, "\x7f\x00\x00\x02", 4);
	enc_uint(m, 6, 40000);
	enc_uint(m, 7, 53);
	enc_uint(m, 12, 1764780000);
	enc_fixed32(m, 13, 123456789);
	enc_bytes(m, 14, dns_wire, sizeof(dns_wire));
}

static void build_dnstap(struct enc *d, const struct enc *m)
{
	d->n = 0;
	enc_bytes(d, 1, "resolver-1", 10);
	enc_bytes(d, 2, "unbound 1.17.1", 14);
	enc_bytes(d, 14, m->b, m->n);
	enc_uint(d, 15, 1);
}

static void test_dnstap_decode_client_response(void **state)
{
	(void)state;
	static struct enc m, d;
	struct tp_dt_msg out;
	build_message(&m);
	build_dnstap(&d, &m);

	assert_int_equal(tp_dt_decode(d.b, d.n, &out), 0);
	assert_int_equal(out.dnstap_type, 1);
	assert_true(out.has_message);
	assert_true(out.has_type);
	assert_int_equal(out.type, TP_DT_CLIENT_RESPONSE);
	assert_int_equal(out.socket_family, TP_DT_INET);
	assert_int_equal(out.socket_protocol, 1);
	assert_int_equal(out.query_address.len, 4);
	assert_memory_equal(out.query_address.p, "\x7f\x00\x00\x01", 4);
	assert_int_equal(out.query_port, 40000);
	assert_int_equal(out.response_port, 53);
	assert_true(out.has_response_time_sec);
	assert_int_equal(out.response_time_sec, 1764780000);
	assert_int_equal(out.response_time_nsec, 123456789);
	assert_false(out.has_query_time_sec);
	assert_null(out.query_message.p);
	assert_int_equal(out.response_message.len, sizeof(dns_wire));
	assert_memory_equal(out.response_message.p, dns_wire, sizeof(dns_wire));
	assert_int_equal(out.identity.len, 10);
	/* Zero copy: views point into the frame. */
	assert_true(out.response_message.p > d.b && out.response_message.p < d.b + d.n);
}

static void test_dnstap_missing_required_type_is_error(void **state)
{
	(void)state;
	static struct enc d;
	struct tp_dt_msg out;
	d.n = 0;
	enc_bytes(&d, 1, "x", 1);
	assert_int_equal(tp_dt_decode(d.b, d.n, &out), TP_EMISSING);
	/* An empty buffer is a Dnstap without its required type. */
	assert_int_equal(tp_dt_decode(d.b, 0, &out), TP_EMISSING);
}

static void test_dnstap_absent_message_and_message_type(void **state)
{
	(void)state;
	static struct enc d, m;
	struct tp_dt_msg out;
	d.n = 0;
	enc_uint(&d, 15, 1);
	assert_int_equal(tp_dt_decode(d.b, d.n, &out), 0);
	assert_false(out.has_message);

	m.n = 0;
	enc_uint(&m, 2, 1); /* family only, no type */
	d.n = 0;
	enc_bytes(&d, 14, m.b, m.n);
	enc_uint(&d, 15, 1);
	assert_int_equal(tp_dt_decode(d.b, d.n, &out), 0);
	assert_true(out.has_message);
	assert_false(out.has_type);
}

static void test_dnstap_every_truncation_is_safe(void **state)
{
	(void)state;
	static struct enc m, d;
	struct tp_dt_msg out;
	build_message(&m);
	build_dnstap(&d, &m);
	/* Cutting inside the Message field (which comes before type) must fail:
	 * either the length runs past the end or the required type is gone. */
	for (size_t cut = 0; cut < d.n; cut++) {
		int rc = tp_dt_decode(d.b, cut, &out);
		assert_true(rc == TP_EMALF || rc == TP_EMISSING);
	}
}

static void test_dnstap_rejects_groups_and_wrong_wire_types(void **state)
{
	(void)state;
	static struct enc d;
	struct tp_dt_msg out;

	d.n = 0;
	enc_uint(&d, 15, 1);
	enc_key(&d, 7, 3); /* start group */
	enc_key(&d, 7, 4);
	assert_int_equal(tp_dt_decode(d.b, d.n, &out), TP_EMALF);

	d.n = 0;
	enc_bytes(&d, 15, "x", 1); /* type must be a varint */
	assert_int_equal(tp_dt_decode(d.b, d.n, &out), TP_EMALF);

	d.n = 0;
	enc_uint(&d, 15, 1);
	enc_key(&d, 0, 0); /* field number 0 */
	enc_varint(&d, 1);
	assert_int_equal(tp_dt_decode(d.b, d.n, &out), TP_EMALF);

	/* An eleven-byte varint. */
	static const uint8_t long_varint[] = { 0x78, 0xff, 0xff, 0xff, 0xff, 0xff,
					       0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(tp_dt_decode(long_varint, sizeof(long_varint), &out), TP_EMALF);

	/* A length beyond the buffer (peers.md §3 item 8). */
	static const uint8_t long_len[] = { 0x0a, 0xff, 0xff, 0x03, 'a' };
	assert_int_equal(tp_dt_decode(long_len, sizeof(long_len), &out), TP_EMALF);
}

static void test_dnstap_skips_unknown_fields(void **state)
{
	(void)state;
	static struct enc m, d;
	struct tp_dt_msg out;
	build_message(&m);
	enc_uint(&m, 15, 99);            /* Policy-era field, as a varint */
	enc_bytes(&m, 16, "abc", 3);     /* unknown bytes */
	enc_fixed32(&m, 99, 7);
	enc_key(&m, 100, 1);             /* fixed64 */
	for (int i = 0; i < 8; i++)
		m.b[m.n++] = 0;
	build_dnstap(&d, &m);
	enc_bytes(&d, 3, "extra", 5);
	assert_int_equal(tp_dt_decode(d.b, d.n, &out), 0);
	assert_int_equal(out.type, TP_DT_CLIENT_RESPONSE);
	assert_int_equal(out.response_port, 53);
}

static void test_dnstap_repeated_message_merges(void **state)
{
	(void)state;
	static struct enc m1, m2, d;
	struct tp_dt_msg out;
	m1.n = 0;
	enc_uint(&m1, 1, 5);
	enc_uint(&m1, 6, 1111);
	m2.n = 0;
	enc_uint(&m2, 7, 53);
	enc_uint(&m2, 6, 2222); /* last scalar wins */
	d.n = 0;
	enc_bytes(&d, 14, m1.b, m1.n);
	enc_bytes(&d, 14, m2.b, m2.n);
	enc_uint(&d, 15, 1);
	assert_int_equal(tp_dt_decode(d.b, d.n, &out), 0);
	assert_int_equal(out.type, 5);
	assert_int_equal(out.query_port, 2222);
	assert_int_equal(out.response_port, 53);
}

static void test_dnstap_uint32_keeps_low_bits(void **state)
{
	(void)state;
	static struct enc m, d;
	struct tp_dt_msg out;
	m.n = 0;
	enc_uint(&m, 1, 6);
	enc_uint(&m, 6, UINT64_C(0x100000035)); /* protobuf truncates to 32 bits */
	enc_uint(&m, 12, UINT64_C(0xffffffffffffffff));
	d.n = 0;
	enc_bytes(&d, 14, m.b, m.n);
	enc_uint(&d, 15, 1);
	assert_int_equal(tp_dt_decode(d.b, d.n, &out), 0);
	assert_int_equal(out.query_port, 0x35);
	assert_true(out.response_time_sec == UINT64_C(0xffffffffffffffff));
}

static void test_dnstap_type_names(void **state)
{
	(void)state;
	assert_string_equal(tp_dt_type_name(6), "CLIENT_RESPONSE");
	assert_string_equal(tp_dt_type_name(14), "UPDATE_RESPONSE");
	assert_null(tp_dt_type_name(0));
	assert_null(tp_dt_type_name(15));
	assert_int_equal(tp_dt_type_from_name("AUTH_RESPONSE", 13), 2);
	assert_int_equal(tp_dt_type_from_name("AUTH_RESPONSEX", 14), 0);
	assert_true(tp_dt_type_is_query(TP_DT_CLIENT_QUERY));
	assert_false(tp_dt_type_is_query(TP_DT_TOOL_RESPONSE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dnstap_decode_client_response),
		cmocka_unit_test(test_dnstap_missing_required_type_is_error),
		cmocka_unit_test(test_dnstap_absent_message_and_message_type),
		cmocka_unit_test(test_dnstap_every_truncation_is_safe),
		cmocka_unit_test(test_dnstap_rejects_groups_and_wrong_wire_types),
		cmocka_unit_test(test_dnstap_skips_unknown_fields),
		cmocka_unit_test(test_dnstap_repeated_message_merges),
		cmocka_unit_test(test_dnstap_uint32_keeps_low_bits),
		cmocka_unit_test(test_dnstap_type_names),
	};
	return cmocka_run_group_tests_name("unit.dnstap", tests, NULL, NULL);
}
