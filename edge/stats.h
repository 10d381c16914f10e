/* SPDX-License-Identifier: BSD-2-Clause
 *
 * stats.h - the edge's counters: every frame read is either processed or
 * dropped for exactly one named reason (SPEC §3).
 *
 * Each reason appears once in TP_DROP_REASONS; the enum, the summary keys and
 * (later) the metric labels are generated from it, so they cannot drift.
 * Accounting identity, checked by the tests:
 *   frames == processed + not_selected + sum(dropped reasons of kind FRAME)
 * Reasons of kind STREAM are framing faults that never became a frame.
 */
#ifndef TP_EDGE_STATS_H
#define TP_EDGE_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "dnstap/dnstap.h"

/* X(name, kind, description) */
#define TP_DROP_REASONS(X)                                                       \
	X(frame_too_large, STREAM, "data frame over --max-frame-size (skipped)")  \
	X(bad_frame, STREAM, "malformed control frame or data outside START..STOP") \
	X(truncated_frame, STREAM, "stream ended inside a frame")                 \
	X(bad_protobuf, FRAME, "not a valid dnstap protobuf")                     \
	X(not_message, FRAME, "Dnstap.type is not MESSAGE")                       \
	X(no_message, FRAME, "Dnstap without a Message")                          \
	X(no_message_type, FRAME, "Message without its required type")           \
	X(unknown_message_type, FRAME, "Message.type unknown to dnstap.proto")    \
	X(no_dns_message, FRAME, "no DNS message bytes for the selected type")   \
	X(no_timestamp, FRAME, "neither response nor query time present")         \
	X(bad_timestamp, FRAME, "nanoseconds >= 1e9 or seconds out of range")     \
	X(address_family_mismatch, FRAME, "query address length does not match socket family") \
	X(bad_dns, FRAME, "DNS message truncated or malformed")                   \
	X(bad_name, FRAME, "name with pointer loop, bad label or over 255 octets") \
	X(empty_question, FRAME, "QDCOUNT is 0")                                 \
	X(multi_question, FRAME, "QDCOUNT is more than 1")                       \
	X(ignored_client, FRAME, "client on the ignored-client-ips list")           \
	X(ignored_client_bad_address, FRAME, "no usable client address while an ignored-client list is on (fail closed)") \
	X(ignored_qname, FRAME, "question name on the ignored-question-names list") \
	X(late, FRAME, "its minute was already written (older than the lateness allows)") \
	X(future, FRAME, "stamped later than the wall clock plus the allowed skew")

enum tp_drop {
#define TP_DROP_ENUM(name, kind, text) TP_DROP_##name,
	TP_DROP_REASONS(TP_DROP_ENUM)
#undef TP_DROP_ENUM
	TP_DROP_COUNT
};

/* Facts about accepted frames that are worth counting but do not drop. */
#define TP_ANOMALIES(X)                                                 \
	X(no_query_address, "no client address (no distinct-client count)") \
	X(port_out_of_range, "port above 65535 ignored")                    \
	X(time_from_query, "the message's own time absent, the other time used")

enum tp_anomaly {
#define TP_ANOMALY_ENUM(name, text) TP_ANOMALY_##name,
	TP_ANOMALIES(TP_ANOMALY_ENUM)
#undef TP_ANOMALY_ENUM
	TP_ANOMALY_COUNT
};

const char *tp_drop_name(enum tp_drop d);
bool tp_drop_is_stream(enum tp_drop d);

struct tp_edge_stats {
	uint64_t frames;        /* data frames read */
	uint64_t processed;
	uint64_t well_known, not_well_known; /* of processed, with histograms on */
	uint64_t not_selected;  /* valid, but of a message type not selected */
	uint64_t dropped[TP_DROP_COUNT];
	uint64_t anomalies[TP_ANOMALY_COUNT];
	uint64_t by_message_type[TP_DT_TYPE_MAX + 2]; /* [TP_DT_TYPE_MAX+1] = unknown */
	/* of processed messages */
	uint64_t by_rcode[4096];
	uint64_t by_qtype[65536];
	uint64_t by_qclass[65536];
	uint64_t by_family[4];   /* [0] absent, 1 INET, 2 INET6, 3 other */
	uint64_t by_protocol[9]; /* [0] absent, 1..7 dnstap, 8 other */
	/* live input */
	uint64_t conn_accepted, conn_finished, conn_eof, conn_error;
	uint64_t conn_tls, conn_bad_content_type, conn_handshake_timeout;
	uint64_t conn_refused_full;
	uint64_t conn_silent_total, conn_silent_now;
	uint64_t conn_evicted, conn_buffer_limit, conn_open_at_exit;
};

#endif
