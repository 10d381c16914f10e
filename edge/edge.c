/* SPDX-License-Identifier: BSD-2-Clause
 *
 * edge.c - `tapir edge`: options, validation, and the choice of input.
 *
 * Option names follow the reference where it has one (input-unix,
 * input-tcp, config-file); the rest are tapir's own. All validation errors
 * are reported together before exiting (SPEC §10).
 */
#include "edge/edge.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "privacy/cryptopan.h"
#include "edge/mqtt.h"
#include "edge/nats.h"
#include "util/log.h"
#include "util/limits.h"
#include "util/opts.h"

/* How long a clean exit waits for the brokers to confirm queued events. */
#define EVENT_DRAIN_MS 5000u

/* SPEC §3: CLIENT_RESPONSE, and AUTH_RESPONSE for authoritative servers. */
static const char default_types[] = "CLIENT_RESPONSE,AUTH_RESPONSE";

static int select_types(struct tp_edge_config *cfg, const char *list)
{
	int bad = 0;
	memset(cfg->selected, 0, sizeof(cfg->selected));
	const char *p = list;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		uint32_t t = tp_dt_type_from_name(p, len);
		if (t == 0) {
			fprintf(stderr, "message-types: unknown dnstap message type '%.*s' "
					"(names as in dnstap.proto, e.g. CLIENT_RESPONSE)\n",
				(int)len, p);
			bad = -1;
		} else {
			cfg->selected[t] = true;
		}
		p = comma ? comma + 1 : p + len;
	}
	return bad;
}

struct bad_lines {
	const char *path;
	unsigned shown;
};

static void report_bad_line(void *ctx, uint64_t line, const char *why)
{
	struct bad_lines *b = ctx;
	if (b->shown++ < 20)
		tp_log_err(edge, "%s:%" PRIu64 ": %s", b->path, line, why);
}

/* Loads the well-known list, logging what is wrong with it. */
static struct tp_wkd *load_list(const char *path)
{
	struct bad_lines bad = { path, 0 };
	struct tp_wkd_stats st;
	struct tp_wkd *list;
	int rc = tp_wkd_load(path, report_bad_line, &bad, &list, &st);
	if (rc < 0) {
		if (rc == TP_EMALF)
			tp_log_err(edge, "%s: %" PRIu64 " bad lines; the list is not used "
					 "(tapir wkd check %s lists them all)", path, st.bad, path);
		else
			tp_log_err(edge, "%s: %s", path, tp_strerror(rc));
		return NULL;
	}
	tp_log_notice(edge, "%s: %zu names (%" PRIu64 " exact, %" PRIu64 " suffix, %" PRIu64
			    " duplicates)", path, tp_wkd_size(list), st.exact, st.wildcard,
		      st.duplicates);
	return list;
}

/* The ignored-client list (edm-spec §2.4). Unset, or no prefixes: *out is
 * NULL (off). Returns 0, or -1 when the file is unreadable or has a bad
 * line (all logged). */
static int load_ignored_clients(const char *path, struct tp_cidr_set **out)
{
	*out = NULL;
	if (path == NULL)
		return 0;
	struct bad_lines bad = { path, 0 };
	struct tp_cidr_stats st;
	struct tp_cidr_set *set;
	int rc = tp_cidr_load(path, report_bad_line, &bad, &set, &st);
	if (rc < 0) {
		if (rc == TP_EMALF)
			tp_log_err(edge, "%s: %" PRIu64 " bad lines; the list is not used", path, st.bad);
		else
			tp_log_err(edge, "%s: %s", path, tp_strerror(rc));
		return -1;
	}
	if (!tp_cidr_active(set)) {
		tp_cidr_free(set);
		tp_log_notice(edge, "%s: no prefixes: no client is ignored", path);
		return 0;
	}
	tp_log_notice(edge, "%s: ignoring clients in %" PRIu64 " IPv4 and %" PRIu64 " IPv6 prefixes",
		      path, st.v4, st.v6);
	*out = set;
	return 0;
}

/* The ignored-question-names list: the well-known list's format and
 * matching (text or the reference's DAWG). Unset or empty: *out is NULL. */
static int load_ignored_qnames(const char *path, struct tp_wkd **out)
{
	*out = NULL;
	if (path == NULL)
		return 0;
	struct tp_wkd *list = load_list(path);
	if (list == NULL)
		return -1;
	if (tp_wkd_size(list) == 0) {
		tp_wkd_free(list);
		return 0;
	}
	*out = list;
	return 0;
}

static void *reload_thread(void *arg)
{
	struct tp_edge *e = arg;
	struct tp_edge_reload *r = &e->reload;
	r->result = e->cfg.well_known_file ? load_list(e->cfg.well_known_file) : NULL;
	r->clients_ok = load_ignored_clients(e->cfg.ignored_clients_file, &r->clients_result) == 0;
	r->qnames_ok = load_ignored_qnames(e->cfg.ignored_qnames_file, &r->qnames_result) == 0;
	atomic_store(&r->done, true);
	return NULL;
}

void tp_edge_sink_stats(struct tp_edge *e)
{
	if (e->mqtt)
		tp_mqtt_stats(e->mqtt, &e->mqtt_stats);
	if (e->sender)
		tp_sender_stats(e->sender, &e->sender_stats);
	if (e->nats)
		tp_nats_stats(e->nats, &e->nats_stats);
}

/* At exit: give the brokers up to EVENT_DRAIN_MS to confirm what is queued
 * (what they do not confirm stays on disk for the next start), then stop
 * the sinks, keeping their final counters. */
static void stop_sinks(struct tp_edge *e)
{
	if (e->events && (e->mqtt || e->nats)) {
		int64_t deadline = tp_edge_now_us() + (int64_t)EVENT_DRAIN_MS * 1000;
		uint64_t waiting = 0, last = 0;
		while (tp_outbox_stats(tp_events_store(e->events), &waiting, &last) == 0 &&
		       waiting > 0 && tp_edge_now_us() < deadline) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	tp_edge_sink_stats(e);
	tp_mqtt_stop(e->mqtt, 0);
	e->mqtt = NULL;
	tp_nats_stop(e->nats, 0);
	e->nats = NULL;
}

void tp_edge_report(struct tp_edge *e)
{
	tp_edge_sink_stats(e);
	tp_edge_summary_print(e, stderr);
	if (e->cfg.summary_json)
		(void)tp_edge_summary_write_json(e, e->cfg.summary_json);
}

void tp_edge_reload(struct tp_edge *e)
{
	if (e->session)
		tp_session_reload(e->session);
	if (e->hist == NULL && !e->cfg.ignored_clients_file && !e->cfg.ignored_qnames_file) {
		if (e->session == NULL)
			tp_log_notice(edge, "SIGHUP: nothing to reload");
		return;
	}
	if (e->reload.running) {
		tp_log_warning(edge, "SIGHUP: a reload is still running; this one is ignored");
		return;
	}
	e->reload.result = NULL;
	e->reload.clients_result = NULL;
	e->reload.qnames_result = NULL;
	atomic_store(&e->reload.done, false);
	int rc = pthread_create(&e->reload.thread, NULL, reload_thread, e);
	if (rc != 0) {
		tp_log_err(edge, "SIGHUP: cannot start the reload: %s", strerror(rc));
		return;
	}
	e->reload.running = true;
}

/* A histogram file was renamed into the outbox since the last look: the
 * sender need not wait for its next scan. */
static void kick_sender(struct tp_edge *e)
{
	if (e->sender == NULL || e->hist == NULL)
		return;
	uint64_t written = tp_hist_stats(e->hist)->intervals_written;
	if (written != e->sender_kicked_at) {
		e->sender_kicked_at = written;
		tp_sender_kick(e->sender);
	}
}

void tp_edge_poll(struct tp_edge *e, bool wait)
{
	if (e->reload.running && (wait || atomic_load(&e->reload.done))) {
		pthread_join(e->reload.thread, NULL);
		e->reload.running = false;
		/* The input thread is the only reader of the lists: the old
		 * ones can go at once. */
		if (!e->reload.clients_ok) {
			tp_log_err(edge, "SIGHUP: keeping the current ignored-client list");
		} else {
			tp_cidr_free(e->ignored_clients);
			e->ignored_clients = e->reload.clients_result;
		}
		if (!e->reload.qnames_ok) {
			tp_log_err(edge, "SIGHUP: keeping the current ignored-question-names list");
		} else {
			tp_wkd_free(e->ignored_qnames);
			e->ignored_qnames = e->reload.qnames_result;
		}
		e->reload.clients_result = NULL;
		e->reload.qnames_result = NULL;
		if (e->reload.result == NULL) {
			if (e->hist != NULL)
				tp_log_err(edge, "SIGHUP: keeping the current well-known list");
		} else {
			tp_hist_set_list(e->hist, e->reload.result);
			e->reload.result = NULL;
			tp_log_notice(edge, "SIGHUP: the new well-known list applies from the next minute");
		}
	}
	if (e->hist)
		tp_hist_tick(e->hist, tp_edge_now_us());
	kick_sender(e);
	if (e->session)
		tp_session_tick(e->session, tp_edge_now_us());
}

/* The keyed-mode secret: the whole file (trailing newline ignored). */
static int load_key(const char *path, struct tp_prf_key *out)
{
	uint8_t secret[TP_PRF_SECRET_MAX + 2];
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "histogram-hash-secret-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = fread(secret, 1, sizeof(secret), f);
	fclose(f);
	while (n > 0 && (secret[n - 1] == '\n' || secret[n - 1] == '\r'))
		n--;
	int rc = n < TP_PRF_SECRET_MIN || n > TP_PRF_SECRET_MAX
			 ? TP_EINVAL
			 : tp_prf_key_derive(out, secret, n, "");
	explicit_bzero(secret, sizeof(secret));
	if (rc < 0) {
		fprintf(stderr, "histogram-hash-secret-file %s: the secret must be %u to %u bytes\n",
			path, TP_PRF_SECRET_MIN, TP_PRF_SECRET_MAX);
		return -1;
	}
	return 0;
}

/* The options of the unique dataset's events and their brokers, and what
 * they become (SPEC §6). Lives as long as the run: the sinks copy their
 * strings, the events thread borrows the key. */
struct event_opts {
	uint64_t seen_expiry_days, seen_size_mib, newqname_buffer, queue_max;
	const char *device_labels;
	const char *signing_key_file;
	bool disable_mqtt;
	uint64_t mqtt_keepalive, backoff_max;
	struct tp_mqtt_config mq;
	struct tp_nats_config nc;
	/* derived by check_event_opts() */
	struct tp_jwk key;
	bool suppress_unique;
	bool publishing;
};

/* Validate the event options and load the signing key; print every
 * problem. Returns 0 or -1. */
static int check_event_opts(struct event_opts *o, const char *data_dir)
{
	int bad = 0;
	if (strcmp(o->device_labels, "suppress") == 0) {
		o->suppress_unique = true;
	} else if (strcmp(o->device_labels, "reduce") != 0) {
		fprintf(stderr, "event-device-labels: expected reduce or suppress, got '%s'\n",
			o->device_labels);
		bad = -1;
	}
	if (o->disable_mqtt)
		o->mq.server = NULL;
	o->publishing = o->mq.server != NULL || o->nc.url != NULL;
	if (o->signing_key_file) {
		if (!data_dir) {
			fprintf(stderr, "mqtt-signing-key-file needs data-dir (events wait in DATA/seen)\n");
			bad = -1;
		}
		if (!o->publishing) {
			fprintf(stderr, "mqtt-signing-key-file is set but no mqtt-server or nats-server\n");
			bad = -1;
		}
		if (tp_jwk_load(o->signing_key_file, true, &o->key) < 0) {
			fprintf(stderr, "mqtt-signing-key-file %s: not a private Ed25519 JWK with a kid\n",
				o->signing_key_file);
			bad = -1;
		} else if (strpbrk(o->key.kid, "/+#. ") != NULL) {
			/* It becomes an MQTT topic level and a NATS subject token. */
			fprintf(stderr, "mqtt-signing-key-file: the kid must not contain / + # . or spaces\n");
			bad = -1;
		}
	} else if (o->publishing) {
		fprintf(stderr, "publishing events (mqtt-server, nats-server) needs mqtt-signing-key-file\n");
		bad = -1;
	}
	if (o->mq.server) {
		struct tp_mqtt_url u;
		const char *why = NULL;
		if (tp_mqtt_parse_url(o->mq.server, &u, &why) < 0) {
			fprintf(stderr, "mqtt-server %s: %s\n", o->mq.server, why ? why : "not a broker URL");
			bad = -1;
		}
	}
	if (!o->mq.client_cert_file != !o->mq.client_key_file) {
		fprintf(stderr, "mqtt-client-cert-file and mqtt-client-key-file go together\n");
		bad = -1;
	}
	if (!o->nc.client_cert_file != !o->nc.client_key_file) {
		fprintf(stderr, "nats-client-cert-file and nats-client-key-file go together\n");
		bad = -1;
	}
	if (o->nc.subject && !tp_nats_subject_ok(o->nc.subject)) {
		fprintf(stderr, "nats-subject: dot-separated tokens of printable characters, no wildcards\n");
		bad = -1;
	}
	return bad;
}

/* Open the seen-store (DATA/seen), start the events thread and the sinks.
 * Returns 0 or -1 (logged). */
static int start_events(struct tp_edge *e, struct event_opts *o, const char *data_dir)
{
	char seen_dir[4096];
	int n = snprintf(seen_dir, sizeof(seen_dir), "%s/seen", data_dir);
	if (n < 0 || (size_t)n >= sizeof(seen_dir)) {
		tp_log_err(edge, "data-dir %s: path too long", data_dir);
		return -1;
	}
	if (mkdir(data_dir, 0750) != 0 && errno != EEXIST) {
		tp_log_err(edge, "data-dir %s: %s", data_dir, strerror(errno));
		return -1;
	}
	struct tp_events_config ec = {
		.seen_dir = seen_dir,
		.seen_map_size = (size_t)o->seen_size_mib << 20,
		.seen_expiry_days = (uint32_t)o->seen_expiry_days,
		.buffer = (uint32_t)o->newqname_buffer,
		.queue_max = o->queue_max,
		.suppress_unique = o->suppress_unique,
		.block_when_full = e->cfg.input_file != NULL,
		.key = o->publishing ? &o->key : NULL,
		.sinks = (o->mq.server ? 1u << TP_OUTBOX_SINK_MQTT : 0u) |
			 (o->nc.url ? 1u << TP_OUTBOX_SINK_NATS : 0u),
	};
	if (tp_events_start(&ec, &e->events) < 0)
		return -1;
	if (!o->publishing)
		return 0;

	/* The reference's names: topic events/up/<kid>/new_qname, client id
	 * <kid>-edm; the NATS subject mirrors the topic. */
	char topic[TP_JWK_KID_MAX + 32], client_id[TP_JWK_KID_MAX + 8];
	char subject[TP_JWK_KID_MAX + 32], thumbprint[TP_JWK_THUMBPRINT_LEN + 1];
	snprintf(topic, sizeof(topic), "events/up/%s/new_qname", o->key.kid);
	snprintf(client_id, sizeof(client_id), "%s-edm", o->key.kid);
	snprintf(subject, sizeof(subject), "events.up.%s.new_qname", o->key.kid);
	e->has_mqtt = o->mq.server != NULL;
	e->has_nats = o->nc.url != NULL;
	if (e->has_mqtt) {
		struct tp_mqtt_config mq = o->mq; /* the sink copies what it keeps */
		mq.topic = topic;
		mq.client_id = client_id;
		mq.keepalive_s = (unsigned)o->mqtt_keepalive;
		mq.backoff_max_s = (unsigned)o->backoff_max;
		if (tp_mqtt_start(&mq, tp_events_store(e->events), &e->mqtt) < 0)
			return -1;
	}
	if (e->has_nats) {
		struct tp_nats_config nc = o->nc;
		if (tp_jwk_thumbprint(&o->key, thumbprint) < 0)
			return -1;
		if (nc.subject == NULL)
			nc.subject = subject;
		nc.kid = o->key.kid;
		nc.thumbprint = thumbprint;
		nc.mqtt_topic = topic;
		nc.backoff_max_s = (unsigned)o->backoff_max;
		if (tp_nats_start(&nc, tp_events_store(e->events), &e->nats) < 0)
			return -1;
	}
	return 0;
}

int tp_edge_main(int argc, char **argv)
{
	static struct tp_edge e; /* counters are large: not on the stack */
	const char *config_file = NULL;
	const char *message_types = default_types;
	uint64_t max_frame = TP_FRAME_DEFAULT_MAX;
	uint64_t silence_warn = 300;
	uint64_t buffer_limit = TP_INPUT_BUFFER_DEFAULT;
	const char *unix_group = NULL;
	const char *data_dir = NULL;
	const char *hash_mode = "compat";
	const char *hash_secret_file = NULL;
	uint64_t explicit_threshold = 20, lateness_s = 10, future_skew_s = 5;
	uint64_t threads = 1;
	bool debug = false, help = false;
	/* the local session log (edm-spec §4) */
	const char *cryptopan_key = NULL, *cryptopan_key_file = NULL;
	const char *cryptopan_salt = TP_CRYPTOPAN_DEFAULT_SALT;
	uint64_t cryptopan_entries = TP_SESSION_CRYPTOPAN_ENTRIES_DEFAULT;
	uint64_t session_retention = 3600, session_min_free = 5;
	bool disable_sessions = false;
	/* the histogram sender (edm-spec §3.7, §6.2) */
	struct tp_sender_config snd = { .data_dir = NULL };
	bool disable_sender = false;
	uint64_t upload_wait = 60;
	static struct event_opts ev = {
		.seen_expiry_days = 30,
		.seen_size_mib = 1024,
		.newqname_buffer = 10000,
		.queue_max = TP_OUTBOX_DEFAULT_MAX,
		.device_labels = "reduce",
		.mqtt_keepalive = TP_MQTT_KEEPALIVE_DEFAULT_S,
		.backoff_max = 30,
	};

	e.cfg.input_unix_mode = -1;
	e.cfg.input_unix_gid = -1;
	struct tp_opt opts[] = {
		{ "config-file", TP_OPT_STRING, &config_file, 0, 0, "read options from this file (key = value)", true, false, NULL },
		{ "input-file", TP_OPT_STRING, &e.cfg.input_file, 0, 0, "read a dnstap file to the end ('-' = stdin), then exit", false, false, NULL },
		{ "input-unix", TP_OPT_STRING, &e.cfg.input_unix, 0, 0, "listen for Frame Streams producers on this unix socket", false, false, NULL },
		{ "input-unix-mode", TP_OPT_MODE, &e.cfg.input_unix_mode, 0, 0, "file mode of the unix socket, e.g. 0660", false, false, NULL },
		{ "input-unix-group", TP_OPT_STRING, &unix_group, 0, 0, "group owning the unix socket (the resolver's group)", false, false, NULL },
		{ "input-silence-warn", TP_OPT_UINT, &silence_warn, 0, 86400, "warn when a connected producer sends nothing for this many seconds (0 = never; default 300)", false, false, NULL },
		{ "input-buffer-limit", TP_OPT_UINT, &buffer_limit, 2u * TP_FRAME_MIN_MAX, UINT64_C(1) << 40, "octets of read buffers for all producers together (default 268435456)", false, false, NULL },
		{ "threads", TP_OPT_UINT, &threads, 1, TP_EDGE_THREADS_MAX, "worker threads for --input-file (default 1); the output is the same for any number", false, false, NULL },
		{ "input-tcp", TP_OPT_STRING, &e.cfg.input_tcp, 0, 0, "listen for Frame Streams producers on HOST:PORT", false, false, NULL },
		{ "max-frame-size", TP_OPT_UINT, &max_frame, TP_FRAME_MIN_MAX, TP_FRAME_HARD_MAX, "largest data frame accepted, in octets (default 1048576)", false, false, NULL },
		{ "message-types", TP_OPT_STRING, &message_types, 0, 0, "dnstap message types to process (default CLIENT_RESPONSE,AUTH_RESPONSE)", false, false, NULL },
		{ "data-dir", TP_OPT_STRING, &data_dir, 0, 0, "where output goes (parquet/histograms/outbox/...)", false, false, NULL },
		{ "well-known-domains-file", TP_OPT_STRING, &e.cfg.well_known_file, 0, 0, "the well-known list; turns on the per-minute histograms", false, false, NULL },
		{ "ignored-client-ips-file", TP_OPT_STRING, &e.cfg.ignored_clients_file, 0, 0, "clients (one CIDR per line) whose queries are ignored; reloaded on SIGHUP", false, false, NULL },
		{ "ignored-question-names-file", TP_OPT_STRING, &e.cfg.ignored_qnames_file, 0, 0, "names ignored entirely, in the well-known list's format or DAWG; reloaded on SIGHUP", false, false, NULL },
		{ "histogram-hll-explicit-threshold", TP_OPT_UINT, &explicit_threshold, 1, 8192, "distinct clients kept exact before the sketch (default 20)", false, false, NULL },
		{ "histogram-hash-mode", TP_OPT_STRING, &hash_mode, 0, 0, "client hashing: compat (the reference's murmur3) or keyed (SipHash with a shared secret)", false, false, NULL },
		{ "histogram-hash-secret-file", TP_OPT_STRING, &hash_secret_file, 0, 0, "file holding the federation secret for keyed mode", false, false, NULL },
		{ "histogram-lateness", TP_OPT_UINT, &lateness_s, 0, 240, "seconds a minute stays open after its end for late frames (default 10)", false, false, NULL },
		{ "histogram-future-skew", TP_OPT_UINT, &future_skew_s, 0, 3600, "seconds a frame may be stamped ahead of the wall clock (default 5)", false, false, NULL },
		{ "qname-seen-expiry", TP_OPT_UINT, &ev.seen_expiry_days, 1, TP_SEEN_EXPIRY_MAX, "days after which a name not seen again is new again (default 30)", false, false, NULL },
		{ "qname-seen-max-size", TP_OPT_UINT, &ev.seen_size_mib, 1, UINT64_C(1) << 20, "MiB the seen-store may use on disk (default 1024)", false, false, NULL },
		{ "newqname-buffer", TP_OPT_UINT, &ev.newqname_buffer, 1, 1u << 24, "names waiting for the seen-store; more are dropped and counted (live input; a file waits) (default 10000)", false, false, NULL },
		{ "event-queue-max", TP_OPT_UINT, &ev.queue_max, 1, UINT64_C(1) << 30, "signed events kept on disk for the brokers (default 100000)", false, false, NULL },
		{ "event-device-labels", TP_OPT_STRING, &ev.device_labels, 0, 0, "names with device-unique labels: reduce (to a pattern) or suppress (no event)", false, false, NULL },
		{ "mqtt-signing-key-file", TP_OPT_STRING, &ev.signing_key_file, 0, 0, "private Ed25519 JWK that signs events (tapir keygen); its kid names this edge", false, false, NULL },
		{ "cryptopan-key", TP_OPT_STRING, &cryptopan_key, 0, 0, "Crypto-PAn key of the session log (visible in ps: prefer cryptopan-key-file)", false, false, NULL },
		{ "cryptopan-key-file", TP_OPT_STRING, &cryptopan_key_file, 0, 0, "file holding the Crypto-PAn key; re-read on SIGHUP", false, false, NULL },
		{ "cryptopan-key-salt", TP_OPT_STRING, &cryptopan_salt, 0, 0, "Argon2id salt of the key, 8 bytes at least (default edm-kdf-salt-val)", false, false, NULL },
		{ "cryptopan-address-entries", TP_OPT_UINT, &cryptopan_entries, 0, TP_CRYPTOPAN_CACHE_MAX, "pseudonyms cached, about 34 bytes each (default 65536; 0 = no cache)", false, false, NULL },
		{ "disable-session-files", TP_OPT_BOOL, &disable_sessions, 0, 0, "write no session log", false, false, NULL },
		{ "session-retention", TP_OPT_UINT, &session_retention, 0, UINT64_C(10) * 365 * 86400, "seconds a session block is kept (default 3600; 0 = none written)", false, false, NULL },
		{ "session-min-free-disk", TP_OPT_UINT, &session_min_free, 0, 100, "percent of the disk that must stay free for session rows to be written (default 5)", false, false, NULL },
		{ "mqtt-server", TP_OPT_STRING, &ev.mq.server, 0, 0, "MQTT broker for events: mqtt://HOST:PORT, mqtts://HOST:PORT (TLS; bare HOST:PORT is TLS too)", false, false, NULL },
		{ "disable-mqtt", TP_OPT_BOOL, &ev.disable_mqtt, 0, 0, "do not publish events over MQTT even if mqtt-server is set", false, false, NULL },
		{ "mqtt-ca-file", TP_OPT_STRING, &ev.mq.ca_file, 0, 0, "CA certificates (PEM) that sign the broker's certificate (default: system roots)", false, false, NULL },
		{ "mqtt-client-cert-file", TP_OPT_STRING, &ev.mq.client_cert_file, 0, 0, "client certificate (PEM) for mutual TLS", false, false, NULL },
		{ "mqtt-client-key-file", TP_OPT_STRING, &ev.mq.client_key_file, 0, 0, "its private key (PEM)", false, false, NULL },
		{ "mqtt-keepalive", TP_OPT_UINT, &ev.mqtt_keepalive, TP_MQTT_KEEPALIVE_MIN_S, TP_MQTT_KEEPALIVE_MAX_S, "MQTT keepalive in seconds (default 30)", false, false, NULL },
		{ "nats-server", TP_OPT_STRING, &ev.nc.url, 0, 0, "NATS server for events: nats://HOST:PORT or tls://HOST:PORT", false, false, NULL },
		{ "nats-subject", TP_OPT_STRING, &ev.nc.subject, 0, 0, "NATS subject for events (default events.up.<kid>.new_qname)", false, false, NULL },
		{ "nats-ca-file", TP_OPT_STRING, &ev.nc.ca_file, 0, 0, "CA certificates (PEM) for a TLS NATS server", false, false, NULL },
		{ "nats-client-cert-file", TP_OPT_STRING, &ev.nc.client_cert_file, 0, 0, "client certificate (PEM) for NATS mutual TLS", false, false, NULL },
		{ "nats-client-key-file", TP_OPT_STRING, &ev.nc.client_key_file, 0, 0, "its private key (PEM)", false, false, NULL },
		{ "event-backoff-max", TP_OPT_UINT, &ev.backoff_max, 1, 86400, "longest wait between reconnection attempts to a broker, seconds (default 30)", false, false, NULL },
		{ "http-url", TP_OPT_STRING, &snd.url, 0, 0, "the core that receives the histograms, e.g. https://core.example:8443 (the sender is off without it)", false, false, NULL },
		{ "http-signing-key-file", TP_OPT_STRING, &snd.signing_key_file, 0, 0, "private Ed25519 JWK (tapir keygen) that signs each upload; its kid is the keyid", false, false, NULL },
		{ "http-ca-file", TP_OPT_STRING, &snd.ca_file, 0, 0, "CA certificates (PEM) that sign the core's certificate (default: system roots)", false, false, NULL },
		{ "http-client-cert-file", TP_OPT_STRING, &snd.client_cert_file, 0, 0, "client certificate (PEM) for mutual TLS with the core", false, false, NULL },
		{ "http-client-key-file", TP_OPT_STRING, &snd.client_key_file, 0, 0, "its private key (PEM)", false, false, NULL },
		{ "disable-histogram-sender", TP_OPT_BOOL, &disable_sender, 0, 0, "upload nothing even if http-url is set (files stay in the outbox)", false, false, NULL },
		{ "http-upload-wait", TP_OPT_UINT, &upload_wait, 0, 86400, "seconds to wait for the outbox to drain at the end of a file run (exit 1 if files remain; default 60) or, at most 5, when a live run stops", false, false, NULL },
		{ "summary-json", TP_OPT_STRING, &e.cfg.summary_json, 0, 0, "write the counters as JSON to this file at exit", false, false, NULL },
		{ "debug", TP_OPT_BOOL, &debug, 0, 0, "log debug messages", false, false, NULL },
		{ "help", TP_OPT_BOOL, &help, 0, 0, "show this help", true, false, NULL },
	};
	const size_t n_opts = sizeof(opts) / sizeof(opts[0]);
	const char *synopsis = "tapir edge (--input-file FILE | --input-unix PATH | --input-tcp HOST:PORT) [options]";

	/* Every problem is reported before giving up (SPEC §10): option and
	 * file errors first, then the checks between options. */
	int bad = tp_opts_parse(opts, n_opts, argc, argv, &config_file) != 0 ? -1 : 0;
	int status = 0;
	if (help) {
		tp_opts_usage(opts, n_opts, synopsis);
		goto out;
	}
	if (debug)
		tp_log_threshold = TP_LOG_DEBUG;

	bad |= select_types(&e.cfg, message_types);
	int inputs = !!e.cfg.input_file + !!e.cfg.input_unix + !!e.cfg.input_tcp;
	if (inputs != 1) {
		fprintf(stderr, "exactly one of --input-file, --input-unix, --input-tcp is required\n");
		bad = -1;
	}
	if ((e.cfg.input_unix_mode >= 0 || unix_group) && !e.cfg.input_unix) {
		fprintf(stderr, "input-unix-mode and input-unix-group need input-unix\n");
		bad = -1;
	}
	if (unix_group) {
		struct group *gr = getgrnam(unix_group);
		if (gr == NULL) {
			fprintf(stderr, "input-unix-group: no group named '%s'\n", unix_group);
			bad = -1;
		} else {
			e.cfg.input_unix_gid = (long)gr->gr_gid;
		}
	}
	if (e.cfg.well_known_file && !data_dir) {
		fprintf(stderr, "well-known-domains-file needs data-dir (where the histograms go)\n");
		bad = -1;
	}
	if (strcmp(hash_mode, "compat") == 0) {
		e.cfg.hist.hash = TP_HIST_HASH_COMPAT;
		if (hash_secret_file) {
			fprintf(stderr, "histogram-hash-secret-file is only used with histogram-hash-mode keyed\n");
			bad = -1;
		}
	} else if (strcmp(hash_mode, "keyed") == 0) {
		e.cfg.hist.hash = TP_HIST_HASH_KEYED;
		if (!hash_secret_file) {
			fprintf(stderr, "histogram-hash-mode keyed needs histogram-hash-secret-file\n");
			bad = -1;
		} else if (load_key(hash_secret_file, &e.cfg.hist.key) < 0) {
			bad = -1;
		}
	} else {
		fprintf(stderr, "histogram-hash-mode: expected compat or keyed, got '%s'\n", hash_mode);
		bad = -1;
	}
	bad |= check_event_opts(&ev, data_dir);
	bool sending = snd.url != NULL && !disable_sender;
	if (sending && (!snd.signing_key_file || !data_dir)) {
		fprintf(stderr, "http-url needs http-signing-key-file and data-dir (the outbox)\n");
		bad = -1;
	}
	if (!snd.url && (snd.signing_key_file || snd.ca_file || snd.client_cert_file ||
			snd.client_key_file)) {
		fprintf(stderr, "http-signing-key-file, http-ca-file and the client certificate need http-url\n");
		bad = -1;
	}
	if (snd.url && strncmp(snd.url, "https://", 8) != 0 && strncmp(snd.url, "http://", 7) != 0) {
		fprintf(stderr, "http-url %s: expected https://HOST[:PORT] (or http://)\n", snd.url);
		bad = -1;
	}
	if (!snd.client_cert_file != !snd.client_key_file) {
		fprintf(stderr, "http-client-cert-file and http-client-key-file go together\n");
		bad = -1;
	}
	bool sessions = !disable_sessions && session_retention > 0 &&
			(cryptopan_key || cryptopan_key_file);
	if (cryptopan_key && cryptopan_key_file) {
		fprintf(stderr, "cryptopan-key and cryptopan-key-file: give one of them\n");
		bad = -1;
	}
	if (sessions && !data_dir) {
		fprintf(stderr, "the session log needs data-dir (or disable-session-files)\n");
		bad = -1;
	}
	if (strlen(cryptopan_salt) < 8 || strlen(cryptopan_salt) > TP_CRYPTOPAN_SECRET_MAX ||
	    (cryptopan_key && strlen(cryptopan_key) > TP_CRYPTOPAN_SECRET_MAX)) {
		fprintf(stderr, "cryptopan-key-salt must be 8 to %u bytes, cryptopan-key at most %u\n",
			TP_CRYPTOPAN_SECRET_MAX, TP_CRYPTOPAN_SECRET_MAX);
		bad = -1;
	}
	if (buffer_limit < 2 * (max_frame + 8)) {
		fprintf(stderr, "input-buffer-limit must hold at least two frames of max-frame-size\n");
		bad = -1;
	}
	if (e.cfg.input_tcp && tp_edge_check_tcp(e.cfg.input_tcp) < 0)
		bad = -1;
	if (e.cfg.summary_json && tp_edge_summary_check(e.cfg.summary_json) < 0)
		bad = -1;
	if (bad) {
		fprintf(stderr, "try 'tapir edge --help'\n");
		status = 2;
		goto out;
	}
	e.cfg.max_frame_size = (size_t)max_frame;
	e.cfg.threads = (unsigned)threads;
	e.cfg.input_buffer_limit = (size_t)buffer_limit;
	e.cfg.hist.data_dir = data_dir;
	e.cfg.hist.live = e.cfg.input_file == NULL;
	e.cfg.hist.explicit_threshold = (uint32_t)explicit_threshold;
	e.cfg.hist.lateness_us = (int64_t)lateness_s * 1000000;
	e.cfg.hist.future_skew_us = (int64_t)future_skew_s * 1000000;
	e.cfg.hist.start_us = tp_edge_now_us();
	if (e.cfg.well_known_file) {
		struct tp_wkd *list = load_list(e.cfg.well_known_file);
		int rc = list ? tp_hist_new(&e.cfg.hist, list, &e.hist) : -1;
		if (rc < 0) {
			if (list)
				fprintf(stderr, "histograms: %s\n", tp_strerror(rc));
			status = 1;
			goto out;
		}
	}
	e.cfg.silence_warn_s = (unsigned)silence_warn;
	if (sessions) {
		struct tp_session_config sc = {
			.data_dir = data_dir,
			.key = cryptopan_key,
			.key_file = cryptopan_key_file,
			.salt = cryptopan_salt,
			.cache_entries = (size_t)cryptopan_entries,
			.retention_s = session_retention,
			.min_free_pct = (unsigned)session_min_free,
		};
		int rc = tp_session_new(&sc, tp_edge_now_us(), &e.session);
		if (rc < 0) {
			fprintf(stderr, "session log: %s\n", tp_strerror(rc));
			status = 1;
			goto out;
		}
	} else if (data_dir && !disable_sessions) {
		tp_log_notice(edge, "%s", session_retention == 0
			      ? "session-retention 0: the session log is off"
			      : "no Crypto-PAn key (cryptopan-key-file): the session log is off");
	}
	if (load_ignored_clients(e.cfg.ignored_clients_file, &e.ignored_clients) < 0 ||
	    load_ignored_qnames(e.cfg.ignored_qnames_file, &e.ignored_qnames) < 0) {
		status = 1;
		goto out;
	}
	/* Threads started here must not take the signals meant for the
	 * input loop (which blocks them for its signalfd, or handles them):
	 * a SIGTERM delivered to one of them would kill the process. They
	 * inherit this mask; the input thread gets its own back below. */
	sigset_t async_signals, saved_mask;
	sigemptyset(&async_signals);
	sigaddset(&async_signals, SIGTERM);
	sigaddset(&async_signals, SIGINT);
	sigaddset(&async_signals, SIGHUP);
	sigaddset(&async_signals, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &async_signals, &saved_mask);
	if (data_dir && start_events(&e, &ev, data_dir) < 0) {
		status = 1;
		goto out;
	}
	if (sending) {
		snd.data_dir = data_dir;
		if (tp_sender_start(&snd, &e.sender) < 0) {
			status = 1;
			goto out;
		}
		e.has_sender = true;
	}
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	int rc = e.cfg.input_file ? tp_edge_run_file(&e) : tp_edge_run_listen(&e);
	if (rc == TP_EINTR)
		tp_log_notice(edge, "interrupted: the summary covers the %" PRIu64 " frames read",
			      e.stats.frames);
	tp_edge_poll(&e, true);
	/* Every name offered is looked up and recorded before the summary. */
	tp_events_stop(e.events);
	stop_sinks(&e);
	if (e.hist) {
		/* Nothing lost: every open minute is written (SPEC §10). */
		tp_hist_flush(e.hist, tp_edge_now_us());
		if (tp_hist_stats(e.hist)->write_errors)
			rc = rc ? rc : -1;
	}
	if (e.session) {
		tp_session_flush(e.session, tp_edge_now_us());
		struct tp_session_stats st;
		tp_session_get_stats(e.session, &st);
		if (st.write_errors)
			rc = rc ? rc : -1;
	}
	/* A file run ends when its histograms are uploaded, or fails
	 * saying so; they stay in the outbox for the next run. A live run
	 * stopping gives the last minutes a short chance, as the event
	 * brokers get, and sends the rest at its next start. */
	if (e.sender && e.cfg.input_file && rc != TP_EINTR &&
	    tp_sender_drain(e.sender, (unsigned)upload_wait) != 0) {
		fprintf(stderr, "histograms: not all uploaded within http-upload-wait (%" PRIu64
			" s); they stay in %s/parquet/histograms/outbox\n", upload_wait, data_dir);
		rc = rc ? rc : -1;
	} else if (e.sender && !e.cfg.input_file) {
		unsigned wait_s = upload_wait < TP_EDGE_LIVE_UPLOAD_WAIT_MAX_S ?
			(unsigned)upload_wait : TP_EDGE_LIVE_UPLOAD_WAIT_MAX_S;
		if (tp_sender_drain(e.sender, wait_s) != 0)
			tp_log_notice(edge, "histograms left in %s/parquet/histograms/outbox "
			       "are uploaded at the next start", data_dir);
	}
	if (e.sender) {
		tp_sender_stats(e.sender, &e.sender_stats);
		tp_sender_stop(e.sender);
		e.sender = NULL;
	}
	tp_edge_summary_print(&e, stderr);
	if (e.cfg.summary_json && tp_edge_summary_write_json(&e, e.cfg.summary_json) < 0)
		rc = rc ? rc : -1;
	status = rc == 0 ? 0 : 1;
out:
	tp_hist_free(e.hist);
	e.hist = NULL;
	tp_cidr_free(e.ignored_clients);
	e.ignored_clients = NULL;
	tp_wkd_free(e.ignored_qnames);
	e.ignored_qnames = NULL;
	tp_session_free(e.session);
	e.session = NULL;
	tp_mqtt_stop(e.mqtt, 0);
	tp_nats_stop(e.nats, 0);
	tp_sender_stop(e.sender);
	e.sender = NULL;
	tp_events_free(e.events);
	e.events = NULL;
	tp_jwk_free(&ev.key);
	tp_prf_key_wipe(&e.cfg.hist.key);
	tp_opts_free(opts, n_opts);
	return status;
}
