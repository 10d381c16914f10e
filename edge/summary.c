/* SPDX-License-Identifier: BSD-2-Clause
 *
 * summary.c - the edge's counters as JSON (--summary-json) and as a short
 * human summary on stderr.
 *
 * JSON keys are stable: tests and operators' scripts read them. Every drop
 * reason is always present (zero included) so a missing key never hides a
 * count. Names of types and rcodes are IANA mnemonics.
 */
#include "edge/edge.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/dns.h"
#include "util/io.h"
#include "util/log.h"

static const char *const family_names[4] = { "absent", "INET", "INET6", "other" };
static const char *const protocol_names[9] = {
	"absent", "UDP", "TCP", "DOT", "DOH", "DNSCryptUDP", "DNSCryptTCP", "DOQ", "other",
};

typedef const char *(*name_fn)(uint16_t value, char *buf, size_t size);

static int set_u64(json_t *obj, const char *key, uint64_t v)
{
	return json_object_set_new(obj, key, json_integer((json_int_t)v));
}

static json_t *counts_by_name(const uint64_t *counts, size_t n, name_fn name)
{
	json_t *obj = json_object();
	char buf[32];
	for (size_t i = 0; obj && i < n; i++) {
		if (counts[i] != 0 && set_u64(obj, name((uint16_t)i, buf, sizeof(buf)), counts[i]) < 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

static json_t *counts_by_table(const uint64_t *counts, const char *const *names, size_t n)
{
	json_t *obj = json_object();
	for (size_t i = 0; obj && i < n; i++) {
		if (counts[i] != 0 && set_u64(obj, names[i], counts[i]) < 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

/* A stream of only queries yields nothing when only response types are
 * selected: the resolver is probably not logging responses (SPEC §3: say
 * so rather than silently count nothing). */
static bool query_only(const struct tp_edge *e)
{
	uint64_t queries = 0, responses = 0;
	for (uint32_t t = 1; t <= TP_DT_TYPE_MAX; t++) {
		if (tp_dt_type_is_query(t) && e->cfg.selected[t])
			return false;
		if (tp_dt_type_is_query(t))
			queries += e->stats.by_message_type[t];
		else
			responses += e->stats.by_message_type[t];
	}
	return responses == 0 && queries > 0;
}

static const char query_only_warning[] =
	"the stream carries only query messages; configure the resolver to log "
	"responses, or select query types with --message-types";

/* The new_qname pipeline: names, the seen-store, the queue, the sinks. */
static json_t *events_json(const struct tp_edge *e)
{
	const struct tp_events_stats *es = tp_events_stats(e->events);
	json_t *ev = json_object();
	int rc = ev == NULL;
#define TP_EVENT_JSON(name, text) \
	rc |= set_u64(ev, #name, atomic_load_explicit(&es->name, memory_order_relaxed));
	TP_EVENT_COUNTERS(TP_EVENT_JSON)
#undef TP_EVENT_JSON
	uint64_t waiting = 0, last_seq = 0;
	struct tp_seen_stats st;
	if (tp_outbox_stats(tp_events_store(e->events), &waiting, &last_seq) == 0)
		rc |= set_u64(ev, "waiting_for_delivery", waiting);
	if (tp_seen_stats(tp_events_store(e->events), &st) == 0)
		rc |= set_u64(ev, "seen_store_names", st.entries);
	if (e->has_mqtt) {
		const struct tp_mqtt_stats ms = e->mqtt_stats;
		json_t *mq = json_object();
		rc |= mq == NULL;
		rc |= set_u64(mq, "published", ms.published);
		rc |= set_u64(mq, "confirmed", ms.confirmed);
		rc |= set_u64(mq, "refused", ms.refused);
		rc |= set_u64(mq, "connects", ms.connects);
		rc |= set_u64(mq, "reconnects", ms.reconnects);
		rc |= json_object_set_new(ev, "mqtt", mq);
	}
	if (e->has_nats) {
		const struct tp_nats_stats ns = e->nats_stats;
		json_t *na = json_object();
		rc |= na == NULL;
		rc |= set_u64(na, "published", ns.published);
		rc |= set_u64(na, "confirmed", ns.confirmed);
		rc |= set_u64(na, "flush_failures", ns.flush_failures);
		rc |= set_u64(na, "reconnects", ns.reconnects);
		rc |= json_object_set_new(ev, "nats", na);
	}
	if (rc != 0) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}

static json_t *summary_json(const struct tp_edge *e)
{
	const struct tp_edge_stats *s = &e->stats;
	json_t *root = json_object();
	json_t *types = json_object();
	json_t *selected = json_array();
	json_t *dropped = json_object();
	json_t *anomalies = json_object();
	json_t *conn = json_object();
	int rc = 0;

	if (!root || !types || !selected || !dropped || !anomalies || !conn)
		rc = -1;
	for (uint32_t t = 1; rc == 0 && t <= TP_DT_TYPE_MAX; t++) {
		if (s->by_message_type[t])
			rc |= set_u64(types, tp_dt_type_name(t), s->by_message_type[t]);
		if (e->cfg.selected[t])
			rc |= json_array_append_new(selected, json_string(tp_dt_type_name(t)));
	}
	if (rc == 0 && s->by_message_type[TP_DT_TYPE_MAX + 1])
		rc |= set_u64(types, "UNKNOWN", s->by_message_type[TP_DT_TYPE_MAX + 1]);
	for (int d = 0; rc == 0 && d < TP_DROP_COUNT; d++)
		rc |= set_u64(dropped, tp_drop_name((enum tp_drop)d), s->dropped[d]);
	static const char *const anomaly_names[TP_ANOMALY_COUNT] = {
#define TP_ANOMALY_NAME(name, text) #name,
		TP_ANOMALIES(TP_ANOMALY_NAME)
#undef TP_ANOMALY_NAME
	};
	for (int a = 0; rc == 0 && a < TP_ANOMALY_COUNT; a++)
		rc |= set_u64(anomalies, anomaly_names[a], s->anomalies[a]);

	rc |= set_u64(conn, "accepted", s->conn_accepted);
	rc |= set_u64(conn, "finished", s->conn_finished);
	rc |= set_u64(conn, "closed_eof", s->conn_eof);
	rc |= set_u64(conn, "closed_error", s->conn_error);
	rc |= set_u64(conn, "tls_on_plain_listener", s->conn_tls);
	rc |= set_u64(conn, "bad_content_type", s->conn_bad_content_type);
	rc |= set_u64(conn, "handshake_timeout", s->conn_handshake_timeout);
	rc |= set_u64(conn, "refused_too_many", s->conn_refused_full);
	rc |= set_u64(conn, "evicted_idle", s->conn_evicted);
	rc |= set_u64(conn, "closed_buffer_limit", s->conn_buffer_limit);
	rc |= set_u64(conn, "open_at_exit", s->conn_open_at_exit);
	rc |= set_u64(conn, "went_silent", s->conn_silent_total);
	rc |= set_u64(conn, "silent_now", s->conn_silent_now);

	const char *input = e->cfg.input_file ? "file" : e->cfg.input_unix ? "unix" : "tcp";
	rc |= json_object_set_new(root, "input", json_string(input));
	rc |= set_u64(root, "frames", s->frames);
	rc |= json_object_set_new(root, "by_message_type", types);
	rc |= json_object_set_new(root, "selected_message_types", selected);
	rc |= set_u64(root, "processed", s->processed);
	rc |= set_u64(root, "not_selected", s->not_selected);
	rc |= json_object_set_new(root, "dropped", dropped);
	rc |= json_object_set_new(root, "anomalies", anomalies);
	rc |= json_object_set_new(root, "by_rcode", counts_by_name(s->by_rcode, 4096, tp_dns_rcode_name));
	rc |= json_object_set_new(root, "by_qtype", counts_by_name(s->by_qtype, 65536, tp_dns_type_name));
	rc |= json_object_set_new(root, "by_qclass", counts_by_name(s->by_qclass, 65536, tp_dns_class_name));
	rc |= json_object_set_new(root, "by_socket_family", counts_by_table(s->by_family, family_names, 4));
	rc |= json_object_set_new(root, "by_socket_protocol", counts_by_table(s->by_protocol, protocol_names, 9));
	rc |= json_object_set_new(root, "connections", conn);
	if (e->hist) {
		const struct tp_hist_stats *hs = tp_hist_stats(e->hist);
		json_t *hist = json_object();
		rc |= set_u64(hist, "well_known", s->well_known);
		rc |= set_u64(hist, "not_well_known", s->not_well_known);
		rc |= set_u64(hist, "intervals_written", hs->intervals_written);
		rc |= set_u64(hist, "rows_written", hs->rows_written);
		rc |= set_u64(hist, "write_errors", hs->write_errors);
		rc |= set_u64(hist, "rows_dropped", hs->rows_dropped);
		rc |= set_u64(hist, "list_reloads", hs->reloads);
		rc |= json_object_set_new(root, "histograms", hist);
	}
	if (e->session) {
		struct tp_session_stats ss;
		tp_session_get_stats(e->session, &ss);
		json_t *ses = json_object(), *opts = json_object(), *cp = json_object();
		rc |= set_u64(ses, "rows", ss.rows);
		rc |= set_u64(ses, "files", ss.files);
		rc |= set_u64(ses, "bytes", ss.bytes);
		rc |= set_u64(ses, "rows_skipped_low_disk", ss.rows_skipped_low_disk);
		rc |= set_u64(ses, "rows_lost", ss.rows_lost);
		rc |= set_u64(ses, "write_errors", ss.write_errors);
		rc |= set_u64(ses, "files_deleted_retention", ss.files_deleted_retention);
		rc |= set_u64(ses, "retention_errors", ss.retention_errors);
		rc |= set_u64(opts, "ecs", ss.options_removed_ecs);
		rc |= set_u64(opts, "cookie", ss.options_removed_cookie);
		rc |= set_u64(opts, "other", ss.options_removed_other);
		rc |= json_object_set_new(ses, "options_removed", opts);
		rc |= set_u64(ses, "unparseable_messages", ss.unparseable_messages);
		rc |= set_u64(cp, "hits", ss.cryptopan_hits);
		rc |= set_u64(cp, "misses", ss.cryptopan_misses);
		rc |= json_object_set_new(ses, "cryptopan_cache", cp);
		rc |= set_u64(ses, "key_reloads", ss.key_reloads);
		rc |= set_u64(ses, "key_reload_errors", ss.key_reload_errors);
		rc |= json_object_set_new(root, "sessions", ses);
	}
	if (e->events)
		rc |= json_object_set_new(root, "events", events_json(e));
	if (e->has_sender) {
		const struct tp_sender_stats *ss = &e->sender_stats;
		json_t *snd = json_object();
		rc |= snd == NULL;
		rc |= set_u64(snd, "uploaded", ss->uploaded);
		rc |= set_u64(snd, "failed", ss->failed);
		rc |= set_u64(snd, "pending", ss->pending);
		rc |= set_u64(snd, "duplicates_skipped", ss->duplicates_skipped);
		rc |= set_u64(snd, "bad_names", ss->bad_names);
		rc |= set_u64(snd, "cleaned", ss->cleaned);
		rc |= json_object_set_new(snd, "last_status", json_integer(ss->last_status));
		rc |= json_object_set_new(root, "sender", snd);
	}
	json_t *warnings = json_array();
	if (warnings && query_only(e))
		rc |= json_array_append_new(warnings, json_string(query_only_warning));
	rc |= json_object_set_new(root, "warnings", warnings);
	if (rc != 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int tp_edge_summary_check(const char *path)
{
	if (strcmp(path, "-") == 0)
		return 0;
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "summary-json %s: exists and is not a regular file\n", path);
		return -1;
	}
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int n = slash == NULL ? snprintf(dir, sizeof(dir), ".")
	      : slash == path ? snprintf(dir, sizeof(dir), "/")
			      : snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (n < 0 || (size_t)n >= sizeof(dir) || access(dir, W_OK) != 0) {
		fprintf(stderr, "summary-json %s: cannot write in %s: %s\n", path, dir,
			n < 0 || (size_t)n >= sizeof(dir) ? "path too long" : strerror(errno));
		return -1;
	}
	return 0;
}

int tp_edge_summary_write_json(const struct tp_edge *e, const char *path)
{
	json_t *root = summary_json(e);
	char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	json_decref(root);
	if (text == NULL)
		return -ENOMEM;
	size_t len = strlen(text);
	int rc;

	if (strcmp(path, "-") == 0) {
		rc = tp_write_all(STDOUT_FILENO, text, len);
		if (rc == 0)
			rc = tp_write_all(STDOUT_FILENO, "\n", 1);
		free(text);
		return rc;
	}
	/* A fresh temporary file beside the target (O_EXCL, never through a
	 * link someone placed there), then rename: a reader never sees half a
	 * file, and a symlink or device at the path is never written through. */
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		free(text);
		return -ENAMETOOLONG;
	}
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
	} else {
		rc = tp_write_all(fd, text, len);
		if (rc == 0)
			rc = tp_write_all(fd, "\n", 1);
		if (rc == 0 && fchmod(fd, 0644) != 0)
			rc = -errno;
		if (rc == 0 && fsync(fd) != 0)
			rc = -errno;
		if (close(fd) != 0 && rc == 0)
			rc = -errno;
		struct stat st;
		if (rc == 0 && lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
			rc = -EEXIST;
		if (rc == 0 && rename(tmp, path) != 0)
			rc = -errno;
		if (rc < 0)
			unlink(tmp);
	}
	free(text);
	if (rc < 0)
		tp_log_err(edge, "cannot write summary %s: %s", path,
			   rc == -EEXIST ? "exists and is not a regular file" : strerror(-rc));
	return rc;
}

void tp_edge_summary_print(const struct tp_edge *e, FILE *out)
{
	const struct tp_edge_stats *s = &e->stats;
	uint64_t dropped = 0;

	for (int d = 0; d < TP_DROP_COUNT; d++)
		dropped += s->dropped[d];
	fprintf(out, "tapir edge: %" PRIu64 " frames, %" PRIu64 " processed, %" PRIu64
		     " of other message types, %" PRIu64 " dropped\n",
		s->frames, s->processed, s->not_selected, dropped);
	fprintf(out, "  by message type:");
	for (uint32_t t = 1; t <= TP_DT_TYPE_MAX; t++)
		if (s->by_message_type[t])
			fprintf(out, " %s %" PRIu64, tp_dt_type_name(t), s->by_message_type[t]);
	fprintf(out, "\n");
	if (dropped) {
		fprintf(out, "  dropped:");
		for (int d = 0; d < TP_DROP_COUNT; d++)
			if (s->dropped[d])
				fprintf(out, " %s %" PRIu64, tp_drop_name((enum tp_drop)d), s->dropped[d]);
		fprintf(out, "\n");
	}
	fprintf(out, "  by rcode:");
	char buf[32];
	for (uint16_t r = 0; r < 4096; r++)
		if (s->by_rcode[r])
			fprintf(out, " %s %" PRIu64, tp_dns_rcode_name(r, buf, sizeof(buf)), s->by_rcode[r]);
	fprintf(out, "\n");
	if (e->hist) {
		const struct tp_hist_stats *hs = tp_hist_stats(e->hist);
		fprintf(out, "  histograms: %" PRIu64 " well-known, %" PRIu64 " not; %" PRIu64
			     " rows in %" PRIu64 " files", s->well_known, s->not_well_known,
			hs->rows_written, hs->intervals_written);
		if (hs->write_errors)
			fprintf(out, "; %" PRIu64 " files NOT written (%" PRIu64 " rows)",
				hs->write_errors, hs->rows_dropped);
		fprintf(out, "\n");
	}
	if (e->session) {
		struct tp_session_stats ss;
		tp_session_get_stats(e->session, &ss);
		fprintf(out, "  sessions: %" PRIu64 " rows in %" PRIu64 " files", ss.rows, ss.files);
		if (ss.rows_skipped_low_disk)
			fprintf(out, "; %" PRIu64 " rows NOT written (disk low)", ss.rows_skipped_low_disk);
		if (ss.write_errors)
			fprintf(out, "; %" PRIu64 " rows NOT written (write errors)", ss.rows_lost);
		fprintf(out, "\n");
	}
	if (e->events) {
		const struct tp_events_stats *es = tp_events_stats(e->events);
		uint64_t waiting = 0, last_seq = 0;
		if (tp_outbox_stats(tp_events_store(e->events), &waiting, &last_seq) < 0)
			waiting = 0;
		fprintf(out, "  events: %" PRIu64 " new names, %" PRIu64 " events queued, %" PRIu64
			     " waiting for delivery",
			atomic_load(&es->new_names), atomic_load(&es->queued), waiting);
		uint64_t lost = atomic_load(&es->buffer_full) + atomic_load(&es->queue_full) +
				atomic_load(&es->store_errors) + atomic_load(&es->sign_errors);
		if (lost)
			fprintf(out, "; %" PRIu64 " names NOT recorded (see the JSON summary)", lost);
		fprintf(out, "\n");
	}
	if (query_only(e))
		fprintf(out, "  warning: %s\n", query_only_warning);
}
