/* SPDX-License-Identifier: BSD-2-Clause
 *
 * process.c - the per-frame pipeline of the edge: dnstap decode, message
 * type selection, metadata checks, DNS parse, question checks, counting.
 *
 * Every frame ends in exactly one counter: processed, not_selected, or one
 * drop reason. Nothing here allocates; all views point into the frame.
 * A worker runs this with its own counters and histogram shard; the list
 * lookups only read what the input thread set up before the workers
 * started. What must follow input order (the session log's rows, the
 * names offered as first sightings) is done at once for live input and
 * deferred to the input thread for file input (tp_edge_finish_frame).
 */
#include "edge/edge.h"

#include <string.h>
#include <time.h>

#include "dns/dns.h"
#include "dnstap/dnstap.h"
#include "util/mix.h"

/* Seconds beyond which a timestamp cannot be a real message time and would
 * overflow microsecond arithmetic (SPEC §3, peers.md §3 item 16). */
#define MAX_TIME_SEC (UINT64_C(1) << 35)

const char *tp_drop_name(enum tp_drop d)
{
	static const char *const names[TP_DROP_COUNT] = {
#define TP_DROP_NAME(name, kind, text) [TP_DROP_##name] = #name,
		TP_DROP_REASONS(TP_DROP_NAME)
#undef TP_DROP_NAME
	};
	return (unsigned)d < TP_DROP_COUNT ? names[d] : "?";
}

bool tp_drop_is_stream(enum tp_drop d)
{
	static const bool stream[TP_DROP_COUNT] = {
#define TP_DROP_KIND(name, kind, text) [TP_DROP_##name] = TP_KIND_##kind,
#define TP_KIND_STREAM true
#define TP_KIND_FRAME false
		TP_DROP_REASONS(TP_DROP_KIND)
#undef TP_KIND_FRAME
#undef TP_KIND_STREAM
#undef TP_DROP_KIND
	};
	return (unsigned)d < TP_DROP_COUNT && stream[d];
}

static enum tp_drop dns_drop(int rc)
{
	switch (rc) {
	case TP_ELOOP:
	case TP_ELABEL:
	case TP_ENAMELEN:
		return TP_DROP_bad_name;
	default:
		return TP_DROP_bad_dns;
	}
}

static void drop(struct tp_edge_worker *w, enum tp_drop d)
{
	w->stats->dropped[d]++;
}

/* Address length must agree with the socket family (peers.md §3 item 15).
 * Returns false on a mismatch. */
static bool address_matches_family(const struct tp_dt_msg *m,
				   const struct tp_dt_bytes *addr)
{
	if (addr->p == NULL)
		return true;
	if (!m->has_socket_family)
		return addr->len == 4 || addr->len == 16;
	switch (m->socket_family) {
	case TP_DT_INET:
		/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is still IPv4. */
		return addr->len == 4 ||
		       (addr->len == 16 && tp_addr_is_v4_mapped(addr->p));
	case TP_DT_INET6:
		return addr->len == 16;
	default:
		return false;
	}
}

int64_t tp_edge_now_us(void)
{
	struct timespec ts;
	/* Coarse is enough to tell late and future frames (seconds apart), and
	 * costs a few ns per frame. */
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The message time of m's selected message (SPEC §5): its own time, else
 * the other time of the same transaction. Returns 0, or the drop reason. */
static int message_time(const struct tp_dt_msg *m, bool is_query, int64_t *ts_us,
			bool *from_other)
{
	*from_other = false;
	bool has_sec = is_query ? m->has_query_time_sec : m->has_response_time_sec;
	uint64_t sec = is_query ? m->query_time_sec : m->response_time_sec;
	uint32_t nsec = is_query ? m->query_time_nsec : m->response_time_nsec;
	if (!has_sec) {
		has_sec = is_query ? m->has_response_time_sec : m->has_query_time_sec;
		sec = is_query ? m->response_time_sec : m->query_time_sec;
		nsec = is_query ? m->response_time_nsec : m->query_time_nsec;
		if (!has_sec)
			return TP_DROP_no_timestamp;
		*from_other = true;
	}
	if (sec >= MAX_TIME_SEC || nsec >= 1000000000u)
		return TP_DROP_bad_timestamp;
	*ts_us = (int64_t)sec * 1000000 + (int64_t)(nsec / 1000);
	return 0;
}

static void finish(struct tp_edge *e, const struct tp_dt_msg *m, const struct tp_dns_msg *dns,
		   int64_t ts_us)
{
	/* The local session log (edm-spec §4.1): responses not well known. */
	if (e->session != NULL)
		tp_session_add(e->session, m, dns, tp_edge_now_us());
	/* The unique dataset (SPEC §6): first sightings become events. */
	if (e->events != NULL)
		tp_events_offer(e->events, dns, ts_us);
}

void tp_edge_finish_frame(struct tp_edge *e, const uint8_t *frame, size_t len, int64_t ts_us)
{
	struct tp_dt_msg m;
	struct tp_dns_msg dns;
	/* The worker decoded the same bytes without error. */
	if (tp_dt_decode(frame, len, &m) < 0)
		return;
	const struct tp_dt_bytes *wire =
		tp_dt_type_is_query(m.type) ? &m.query_message : &m.response_message;
	if (tp_dns_parse(wire->p, wire->len, &dns) < 0)
		return;
	finish(e, &m, &dns, ts_us);
}

void tp_edge_process(struct tp_edge_worker *w, const uint8_t *frame, size_t len)
{
	const struct tp_edge *e = w->e;
	struct tp_edge_stats *s = w->stats;
	struct tp_dt_msg m;
	struct tp_dns_msg dns;

	s->frames++;
	if (tp_dt_decode(frame, len, &m) < 0) {
		drop(w, TP_DROP_bad_protobuf);
		return;
	}
	if (m.dnstap_type != 1) {
		drop(w, TP_DROP_not_message);
		return;
	}
	if (!m.has_message) {
		drop(w, TP_DROP_no_message);
		return;
	}
	if (!m.has_type) {
		drop(w, TP_DROP_no_message_type);
		return;
	}
	if (tp_dt_type_name(m.type) == NULL) {
		s->by_message_type[TP_DT_TYPE_MAX + 1]++;
		drop(w, TP_DROP_unknown_message_type);
		return;
	}
	s->by_message_type[m.type]++;
	if (!e->cfg.selected[m.type]) {
		s->not_selected++;
		return;
	}

	/* Ignored clients first (edm-spec §2.2 step 3): nothing of theirs is
	 * looked at further. With a list on, a frame whose client cannot be
	 * checked is dropped too: fail closed. */
	if (e->ignored_clients != NULL) {
		switch (tp_cidr_match(e->ignored_clients, m.query_address.p, m.query_address.len)) {
		case TP_CIDR_HIT:
			drop(w, TP_DROP_ignored_client);
			return;
		case TP_CIDR_BAD_ADDRESS:
			drop(w, TP_DROP_ignored_client_bad_address);
			return;
		case TP_CIDR_MISS:
			break;
		}
	}

	/* SPEC §4: the response message, or the query message for query types. */
	bool is_query = tp_dt_type_is_query(m.type);
	const struct tp_dt_bytes *wire = is_query ? &m.query_message : &m.response_message;
	if (wire->p == NULL) {
		drop(w, TP_DROP_no_dns_message);
		return;
	}

	int64_t ts_us;
	bool time_from_other;
	int why = message_time(&m, is_query, &ts_us, &time_from_other);
	if (why != 0) {
		drop(w, (enum tp_drop)why);
		return;
	}

	if (!address_matches_family(&m, &m.query_address) ||
	    !address_matches_family(&m, &m.response_address)) {
		drop(w, TP_DROP_address_family_mismatch);
		return;
	}

	int rc = tp_dns_parse(wire->p, wire->len, &dns);
	if (rc < 0) {
		drop(w, dns_drop(rc));
		return;
	}
	if (dns.qdcount == 0) {
		drop(w, TP_DROP_empty_question);
		return;
	}
	if (dns.qdcount > 1) {
		drop(w, TP_DROP_multi_question);
		return;
	}

	struct tp_dns_name folded;
	tp_dns_name_fold_copy(&folded, &dns.qname);
	struct tp_wkd_match ignored;
	if (e->ignored_qnames != NULL && tp_wkd_lookup(e->ignored_qnames, &folded, &ignored)) {
		drop(w, TP_DROP_ignored_qname);
		return;
	}

	bool well_known = false;
	if (w->shard != NULL) {
		switch (tp_hist_shard_add(w->shard, w->seq, ts_us, &folded, dns.qtype, dns.qclass,
					  dns.rcode, m.query_address.p, m.query_address.len,
					  tp_edge_now_us())) {
		case TP_HIST_LATE:
			drop(w, TP_DROP_late);
			return;
		case TP_HIST_FUTURE:
			drop(w, TP_DROP_future);
			return;
		case TP_HIST_WELL_KNOWN:
			s->well_known++;
			well_known = true;
			break;
		case TP_HIST_NOT_WELL_KNOWN:
			s->not_well_known++;
			break;
		}
	}
	if (!well_known && (e->session != NULL || e->events != NULL)) {
		if (w->defer != NULL)
			w->defer(w->defer_arg, ts_us);
		else
			finish(w->e, &m, &dns, ts_us);
	}

	/* Anomalies describe accepted frames only. */
	if (time_from_other)
		s->anomalies[TP_ANOMALY_time_from_query]++;
	if (m.query_address.p == NULL)
		s->anomalies[TP_ANOMALY_no_query_address]++;
	if ((m.has_query_port && m.query_port > 65535) ||
	    (m.has_response_port && m.response_port > 65535))
		s->anomalies[TP_ANOMALY_port_out_of_range]++;

	s->processed++;
	s->by_rcode[dns.rcode & 0xfffu]++;
	s->by_qtype[dns.qtype]++;
	s->by_qclass[dns.qclass]++;
	s->by_family[!m.has_socket_family ? 0 : m.socket_family <= 2 ? m.socket_family : 3]++;
	s->by_protocol[!m.has_socket_protocol ? 0
		       : m.socket_protocol >= 1 && m.socket_protocol <= 7 ? m.socket_protocol
		       : 8]++;
}
