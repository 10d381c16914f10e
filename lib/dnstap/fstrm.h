/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fstrm.h - Frame Streams framing: splitting a byte stream into frames and
 * encoding/decoding control frames.
 *
 * Frame Streams carries dnstap from a resolver. A data frame is a 32-bit
 * big-endian length and that many payload octets. A length of zero escapes a
 * control frame: a 32-bit length, a 32-bit control type and fields
 * (type, length, value), of which only CONTENT_TYPE exists. Files hold START,
 * data frames, STOP; sockets add READY/ACCEPT before START and FINISH after
 * STOP (the bidirectional handshake).
 *
 * This module is stateless and does no I/O: tp_fstrm_next() looks at a buffer
 * and says what the next frame is, or that more bytes are needed. The file
 * reader (reader.c) and the socket listener (edge) keep the protocol state.
 */
#ifndef TP_DNSTAP_FSTRM_H
#define TP_DNSTAP_FSTRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/limits.h"

#define TP_FSTRM_CONTENT_TYPE "protobuf:dnstap.Dnstap"

enum tp_fstrm_control_type {
	TP_FSTRM_ACCEPT = 1,
	TP_FSTRM_START = 2,
	TP_FSTRM_STOP = 3,
	TP_FSTRM_READY = 4,
	TP_FSTRM_FINISH = 5,
};

struct tp_fstrm_control {
	uint32_t type; /* enum tp_fstrm_control_type */
	uint32_t n_content_types;
	/* Borrowed views into the frame buffer. */
	const uint8_t *content_type[TP_CONTROL_MAX_CONTENT_TYPES];
	uint32_t content_type_len[TP_CONTROL_MAX_CONTENT_TYPES];
};

enum tp_fstrm_kind { TP_FSTRM_DATA, TP_FSTRM_CONTROL };

struct tp_fstrm_frame {
	enum tp_fstrm_kind kind;
	const uint8_t *data; /* DATA: payload, borrowed from the buffer */
	size_t len;          /* DATA: payload length */
	struct tp_fstrm_control control; /* CONTROL: parsed */
};

/* Look at the next frame in buf.
 *   buf, len: borrowed; out's views point into buf.
 *   max_data: largest data payload accepted.
 *   out_need: on TP_ETOOBIG, the whole frame's size (header included), so a
 *             file reader can skip it; otherwise unchanged.
 * Returns the frame's total size (> 0) when a whole frame is in buf, 0 when
 * more bytes are needed, or
 *   TP_ETOOBIG a data frame longer than max_data (the stream cannot go on
 *              unless the caller skips *out_need octets);
 *   TP_EPROTO  a control frame that is too long, too short, of an unknown
 *              type or with bad fields;
 *   TP_ETLS    the bytes look like a TLS handshake record, not Frame Streams
 *              (only detected at the very start of a stream: see
 *              tp_fstrm_looks_like_tls). */
int64_t tp_fstrm_next(const uint8_t *buf, size_t len, size_t max_data,
		      struct tp_fstrm_frame *out, uint64_t *out_need) TP_WUR;

/* Parse a control frame payload (after the escape and length).
 * Returns 0, or TP_EPROTO. */
int tp_fstrm_control_parse(const uint8_t *p, size_t len,
			   struct tp_fstrm_control *out) TP_WUR;

/* Whether content types of a control frame include ours. A frame without any
 * content type field matches (Frame Streams makes the field optional). */
bool tp_fstrm_control_has_dnstap(const struct tp_fstrm_control *c);

/* Encode a whole control frame (escape, length, type, optional content type).
 *   content_type: NULL for none.
 * Returns the number of octets written into out, or TP_ENOSPACE. */
int tp_fstrm_control_encode(uint32_t type, const char *content_type,
			    uint8_t *out, size_t size) TP_WUR;

/* A stream that starts with a TLS handshake record (0x16 0x03 ...) was sent
 * by a TLS client to a plain listener (peers.md §3 item 7). Needs 3 octets. */
bool tp_fstrm_looks_like_tls(const uint8_t *buf, size_t len);

/* Name of a control type for logs ("READY", ...), "UNKNOWN" otherwise. */
const char *tp_fstrm_control_name(uint32_t type);

#endif
