/* SPDX-License-Identifier: BSD-2-Clause
 *
 * dnstap.h - zero-copy decoding of one dnstap protobuf message.
 *
 * A frame's payload is a protobuf `dnstap.Dnstap` (proto2). We decode only the
 * fields the edge uses, straight from the frame buffer: byte fields are views
 * into it, so a struct tp_dt_msg lives exactly as long as its frame. Every
 * optional field may be absent and each has a presence flag; unknown fields
 * are skipped. The protobuf-c library, generated from proto/dnstap.proto, is
 * kept as the test oracle for this decoder (tests/oracle/).
 */
#ifndef TP_DNSTAP_DNSTAP_H
#define TP_DNSTAP_DNSTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* dnstap.proto Message.Type, X(name, value) */
#define TP_DT_MESSAGE_TYPES(X)      \
	X(AUTH_QUERY, 1)            \
	X(AUTH_RESPONSE, 2)         \
	X(RESOLVER_QUERY, 3)        \
	X(RESOLVER_RESPONSE, 4)     \
	X(CLIENT_QUERY, 5)          \
	X(CLIENT_RESPONSE, 6)       \
	X(FORWARDER_QUERY, 7)       \
	X(FORWARDER_RESPONSE, 8)    \
	X(STUB_QUERY, 9)            \
	X(STUB_RESPONSE, 10)        \
	X(TOOL_QUERY, 11)           \
	X(TOOL_RESPONSE, 12)        \
	X(UPDATE_QUERY, 13)         \
	X(UPDATE_RESPONSE, 14)

enum tp_dt_type {
#define TP_DT_TYPE_ENUM(name, value) TP_DT_##name = value,
	TP_DT_MESSAGE_TYPES(TP_DT_TYPE_ENUM)
#undef TP_DT_TYPE_ENUM
};
#define TP_DT_TYPE_MAX 14u

enum tp_dt_family { TP_DT_INET = 1, TP_DT_INET6 = 2 };

/* A bytes field: p == NULL when absent (an empty field has p != NULL). */
struct tp_dt_bytes {
	const uint8_t *p;
	uint32_t len;
};

struct tp_dt_msg {
	/* Dnstap */
	struct tp_dt_bytes identity, version;
	uint32_t dnstap_type; /* 1 = MESSAGE */
	bool has_message;
	/* Message */
	bool has_type;
	uint32_t type; /* enum tp_dt_type, unchecked */
	bool has_socket_family, has_socket_protocol;
	uint32_t socket_family, socket_protocol;
	struct tp_dt_bytes query_address, response_address;
	bool has_query_port, has_response_port;
	uint32_t query_port, response_port;
	bool has_query_time_sec, has_query_time_nsec;
	bool has_response_time_sec, has_response_time_nsec;
	uint64_t query_time_sec, response_time_sec;
	uint32_t query_time_nsec, response_time_nsec;
	struct tp_dt_bytes query_message, query_zone, response_message;
};

/* Decode a Dnstap message.
 *   frame, len: borrowed; out's byte views point into frame.
 * Returns 0 when the encoding is valid and the required Dnstap.type is
 * present (Message may still be absent, or lack its type: see has_message,
 * has_type), or
 *   TP_EMALF    a truncated or malformed varint, length or field, a wire type
 *               that does not match a known field, a group, field number 0;
 *   TP_EMISSING Dnstap.type absent. */
int tp_dt_decode(const uint8_t *frame, size_t len, struct tp_dt_msg *out) TP_WUR;

/* Name of a Message.Type as in dnstap.proto, or NULL if unknown. */
const char *tp_dt_type_name(uint32_t type);

/* Message.Type from its name; returns 0 if unknown. */
uint32_t tp_dt_type_from_name(const char *name, size_t len);

/* Whether a Message.Type is a *_QUERY (odd values in dnstap.proto). */
static inline bool tp_dt_type_is_query(uint32_t type)
{
	return (type & 1u) == 1u;
}

#endif
