/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fstrm.c - Frame Streams framing (see fstrm.h).
 *
 * Every length read from the stream is checked against what is in the buffer
 * and against a limit before it is used (peers.md §3 items 6-8). Nothing here
 * allocates or keeps state.
 */
#include "dnstap/fstrm.h"

#include <string.h>

#include "util/rd.h"

#define FIELD_CONTENT_TYPE 1u

const char *tp_fstrm_control_name(uint32_t type)
{
	switch (type) {
	case TP_FSTRM_ACCEPT:
		return "ACCEPT";
	case TP_FSTRM_START:
		return "START";
	case TP_FSTRM_STOP:
		return "STOP";
	case TP_FSTRM_READY:
		return "READY";
	case TP_FSTRM_FINISH:
		return "FINISH";
	default:
		return "UNKNOWN";
	}
}

int tp_fstrm_control_parse(const uint8_t *p, size_t len,
			   struct tp_fstrm_control *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 4 || len > TP_CONTROL_FRAME_MAX)
		return TP_EPROTO;
	out->type = tp_load_be32(p);
	if (out->type < TP_FSTRM_ACCEPT || out->type > TP_FSTRM_FINISH)
		return TP_EPROTO;

	size_t pos = 4;
	while (pos < len) {
		if (len - pos < 8)
			return TP_EPROTO;
		uint32_t field = tp_load_be32(p + pos);
		uint32_t flen = tp_load_be32(p + pos + 4);
		pos += 8;
		if (flen > len - pos)
			return TP_EPROTO;
		if (field != FIELD_CONTENT_TYPE)
			return TP_EPROTO;
		/* Only READY and ACCEPT may list several content types. */
		if (out->n_content_types > 0 && out->type != TP_FSTRM_READY &&
		    out->type != TP_FSTRM_ACCEPT)
			return TP_EPROTO;
		if (out->n_content_types == TP_CONTROL_MAX_CONTENT_TYPES)
			return TP_EPROTO;
		out->content_type[out->n_content_types] = p + pos;
		out->content_type_len[out->n_content_types] = flen;
		out->n_content_types++;
		pos += flen;
	}
	/* STOP and FINISH carry no fields. */
	if (out->n_content_types > 0 &&
	    (out->type == TP_FSTRM_STOP || out->type == TP_FSTRM_FINISH))
		return TP_EPROTO;
	return 0;
}

bool tp_fstrm_control_has_dnstap(const struct tp_fstrm_control *c)
{
	const size_t want = sizeof(TP_FSTRM_CONTENT_TYPE) - 1;

	if (c->n_content_types == 0)
		return true;
	for (uint32_t i = 0; i < c->n_content_types; i++) {
		if (c->content_type_len[i] == want &&
		    memcmp(c->content_type[i], TP_FSTRM_CONTENT_TYPE, want) == 0)
			return true;
	}
	return false;
}

bool tp_fstrm_looks_like_tls(const uint8_t *buf, size_t len)
{
	/* TLS record: content type 22 (handshake), version major 3. */
	return len >= 3 && buf[0] == 0x16 && buf[1] == 0x03 && buf[2] <= 0x04;
}

int64_t tp_fstrm_next(const uint8_t *buf, size_t len, size_t max_data,
		      struct tp_fstrm_frame *out, uint64_t *out_need)
{
	if (len < 4)
		return 0;
	uint32_t dlen = tp_load_be32(buf);
	if (dlen != 0) {
		if (dlen > max_data) {
			*out_need = 4u + (uint64_t)dlen;
			return TP_ETOOBIG;
		}
		if (len - 4 < dlen)
			return 0;
		out->kind = TP_FSTRM_DATA;
		out->data = buf + 4;
		out->len = dlen;
		return 4 + (int64_t)dlen;
	}

	if (len < 8)
		return 0;
	uint32_t clen = tp_load_be32(buf + 4);
	if (clen < 4 || clen > TP_CONTROL_FRAME_MAX)
		return TP_EPROTO;
	if (len - 8 < clen)
		return 0;
	int rc = tp_fstrm_control_parse(buf + 8, clen, &out->control);
	if (rc < 0)
		return rc;
	out->kind = TP_FSTRM_CONTROL;
	out->data = NULL;
	out->len = 0;
	return 8 + (int64_t)clen;
}

int tp_fstrm_control_encode(uint32_t type, const char *content_type,
			    uint8_t *out, size_t size)
{
	size_t ct_len = content_type ? strlen(content_type) : 0;
	size_t payload = 4 + (content_type ? 8 + ct_len : 0);

	if (payload > TP_CONTROL_FRAME_MAX || size < 8 + payload)
		return TP_ENOSPACE;
	tp_store_be32(out, 0);
	tp_store_be32(out + 4, (uint32_t)payload);
	tp_store_be32(out + 8, type);
	if (content_type) {
		tp_store_be32(out + 12, FIELD_CONTENT_TYPE);
		tp_store_be32(out + 16, (uint32_t)ct_len);
		memcpy(out + 20, content_type, ct_len);
	}
	return (int)(8 + payload);
}
