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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/limits.h"
#include "util/opts.h"

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

static void *reload_thread(void *arg)
{
	struct tp_edge *e = arg;
	e->reload.result = load_list(e->cfg.well_known_file);
	atomic_store(&e->reload.done, true);
	return NULL;
}

void tp_edge_report(const struct tp_edge *e)
{
	tp_edge_summary_print(e, stderr);
	if (e->cfg.summary_json)
		(void)tp_edge_summary_write_json(e, e->cfg.summary_json);
}

void tp_edge_reload(struct tp_edge *e)
{
	if (e->hist == NULL) {
		tp_log_notice(edge, "SIGHUP: nothing to reload");
		return;
	}
	if (e->reload.running) {
		tp_log_warning(edge, "SIGHUP: a reload is still running; this one is ignored");
		return;
	}
	e->reload.result = NULL;
	atomic_store(&e->reload.done, false);
	int rc = pthread_create(&e->reload.thread, NULL, reload_thread, e);
	if (rc != 0) {
		tp_log_err(edge, "SIGHUP: cannot start the reload: %s", strerror(rc));
		return;
	}
	e->reload.running = true;
}

void tp_edge_poll(struct tp_edge *e, bool wait)
{
	if (e->reload.running && (wait || atomic_load(&e->reload.done))) {
		pthread_join(e->reload.thread, NULL);
		e->reload.running = false;
		if (e->reload.result == NULL) {
			tp_log_err(edge, "SIGHUP: keeping the current well-known list");
		} else {
			tp_hist_set_list(e->hist, e->reload.result);
			e->reload.result = NULL;
			tp_log_notice(edge, "SIGHUP: the new well-known list applies from the next minute");
		}
	}
	if (e->hist)
		tp_hist_tick(e->hist, tp_edge_now_us());
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
	bool debug = false, help = false;

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
		{ "input-tcp", TP_OPT_STRING, &e.cfg.input_tcp, 0, 0, "listen for Frame Streams producers on HOST:PORT", false, false, NULL },
		{ "max-frame-size", TP_OPT_UINT, &max_frame, TP_FRAME_MIN_MAX, TP_FRAME_HARD_MAX, "largest data frame accepted, in octets (default 1048576)", false, false, NULL },
		{ "message-types", TP_OPT_STRING, &message_types, 0, 0, "dnstap message types to process (default CLIENT_RESPONSE,AUTH_RESPONSE)", false, false, NULL },
		{ "data-dir", TP_OPT_STRING, &data_dir, 0, 0, "where output goes (parquet/histograms/outbox/...)", false, false, NULL },
		{ "well-known-domains-file", TP_OPT_STRING, &e.cfg.well_known_file, 0, 0, "the well-known list; turns on the per-minute histograms", false, false, NULL },
		{ "histogram-hll-explicit-threshold", TP_OPT_UINT, &explicit_threshold, 1, 8192, "distinct clients kept exact before the sketch (default 20)", false, false, NULL },
		{ "histogram-hash-mode", TP_OPT_STRING, &hash_mode, 0, 0, "client hashing: compat (the reference's murmur3) or keyed (SipHash with a shared secret)", false, false, NULL },
		{ "histogram-hash-secret-file", TP_OPT_STRING, &hash_secret_file, 0, 0, "file holding the federation secret for keyed mode", false, false, NULL },
		{ "histogram-lateness", TP_OPT_UINT, &lateness_s, 0, 240, "seconds a minute stays open after its end for late frames (default 10)", false, false, NULL },
		{ "histogram-future-skew", TP_OPT_UINT, &future_skew_s, 0, 3600, "seconds a frame may be stamped ahead of the wall clock (default 5)", false, false, NULL },
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

	int rc = e.cfg.input_file ? tp_edge_run_file(&e) : tp_edge_run_listen(&e);
	if (rc == TP_EINTR)
		tp_log_notice(edge, "interrupted: the summary covers the %" PRIu64 " frames read",
			      e.stats.frames);
	tp_edge_poll(&e, true);
	if (e.hist) {
		/* Nothing lost: every open minute is written (SPEC §10). */
		tp_hist_flush(e.hist, tp_edge_now_us());
		if (tp_hist_stats(e.hist)->write_errors)
			rc = rc ? rc : -1;
	}
	tp_edge_summary_print(&e, stderr);
	if (e.cfg.summary_json && tp_edge_summary_write_json(&e, e.cfg.summary_json) < 0)
		rc = rc ? rc : -1;
	status = rc == 0 ? 0 : 1;
out:
	tp_hist_free(e.hist);
	e.hist = NULL;
	tp_prf_key_wipe(&e.cfg.hist.key);
	tp_opts_free(opts, n_opts);
	return status;
}
