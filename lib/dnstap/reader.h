/* SPDX-License-Identifier: BSD-2-Clause
 *
 * reader.h - reads a unidirectional Frame Streams stream (a dnstap file, a
 * pipe, stdin) and hands out its data frames.
 *
 * File input blocks and never drops (SPEC §3), but it never aborts on bad
 * bytes either: an oversize or malformed frame is skipped by its declared
 * length and reported, and the next frame is read. Only a stream that is not
 * Frame Streams at all, or carries another content type, is refused.
 */
#ifndef TP_DNSTAP_READER_H
#define TP_DNSTAP_READER_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct tp_dt_reader;

/* Start reading fd.
 *   fd: taken (closed by tp_dt_reader_free, and on failure).
 *   max_frame: the largest data frame accepted; larger ones are skipped.
 * Returns 0 and *out, or -ENOMEM. */
int tp_dt_reader_new(int fd, size_t max_frame, struct tp_dt_reader **out) TP_WUR;

/* Free the reader and close its fd. NULL is accepted. */
void tp_dt_reader_free(struct tp_dt_reader *r);

/* Next data frame.
 *   out_data, out_len: a view valid until the next call.
 * Returns 1 with a frame; 0 at the end of the stream; or
 *   TP_ETOOBIG  a data frame over max_frame was skipped: call again;
 *   TP_EPROTO   a malformed control frame, or data outside START..STOP, was
 *               skipped: call again;
 *   TP_ETRUNC   the stream ended inside a frame: the end;
 *   TP_ECONTENT the stream is not Frame Streams (no START first) or its
 *               content type is not protobuf:dnstap.Dnstap: fatal;
 *   TP_ETLS     the stream starts with a TLS record: fatal;
 *   -EINTR      a signal interrupted a read; nothing was lost: call again
 *               to go on, or stop;
 *   -errno      a read error: fatal. */
int tp_dt_reader_next(struct tp_dt_reader *r, const uint8_t **out_data,
		      size_t *out_len) TP_WUR;

/* Stream offset of the frame that the last call returned or rejected. */
uint64_t tp_dt_reader_offset(const struct tp_dt_reader *r);

/* Whether the stream ended without a STOP control frame (cut short). */
int tp_dt_reader_missing_stop(const struct tp_dt_reader *r);

#endif
