/* SPDX-License-Identifier: BSD-2-Clause
 *
 * edge.c - `tapir edge`: options, validation, and the choice of input.
 *
 * Option names follow the reference where it has one (input-unix,
 * input-tcp, config-file); the rest are tapir's own. All validation errors
 * are reported together before exiting (SPEC §10).
 */
#include "edge/edge.h"

#include <grp.h>
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
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		uint32_t t = tp_dt_type_from_name(p, len);
		if (t == 0) {
			fprintf(stderr, "message-types: unknown dnstap message type '%.*s' "
					"(names as in dnstap.proto, e.g. CLIENT_RESPONSE)\n",
				(int)len, p);
			bad = -1;
		} else {
			cfg->selected[t] = true;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return bad;
}

int tp_edge_main(int argc, char **argv)
{
	static struct tp_edge e; /* counters are large: not on the stack */
	const char *config_file = NULL;
	const char *message_types = default_types;
	uint64_t max_frame = TP_FRAME_DEFAULT_MAX;
	uint64_t silence_warn = 60;
	const char *unix_group = NULL;
	bool debug = false, help = false;

	e.cfg.input_unix_mode = -1;
	e.cfg.input_unix_gid = -1;
	struct tp_opt opts[] = {
		{ "config-file", TP_OPT_STRING, &config_file, 0, 0, "read options from this file (key = value)", true, false },
		{ "input-file", TP_OPT_STRING, &e.cfg.input_file, 0, 0, "read a dnstap file to the end ('-' = stdin), then exit", false, false },
		{ "input-unix", TP_OPT_STRING, &e.cfg.input_unix, 0, 0, "listen for Frame Streams producers on this unix socket", false, false },
		{ "input-unix-mode", TP_OPT_MODE, &e.cfg.input_unix_mode, 0, 0, "file mode of the unix socket, e.g. 0660", false, false },
		{ "input-unix-group", TP_OPT_STRING, &unix_group, 0, 0, "group owning the unix socket (the resolver's group)", false, false },
		{ "input-silence-warn", TP_OPT_UINT, &silence_warn, 0, 86400, "warn when a connected producer sends nothing for this many seconds (0 = never; default 60)", false, false },
		{ "input-tcp", TP_OPT_STRING, &e.cfg.input_tcp, 0, 0, "listen for Frame Streams producers on HOST:PORT", false, false },
		{ "max-frame-size", TP_OPT_UINT, &max_frame, TP_FRAME_MIN_MAX, TP_FRAME_HARD_MAX, "largest data frame accepted, in octets (default 1048576)", false, false },
		{ "message-types", TP_OPT_STRING, &message_types, 0, 0, "dnstap message types to process (default CLIENT_RESPONSE,AUTH_RESPONSE)", false, false },
		{ "summary-json", TP_OPT_STRING, &e.cfg.summary_json, 0, 0, "write the counters as JSON to this file at exit", false, false },
		{ "debug", TP_OPT_BOOL, &debug, 0, 0, "log debug messages", false, false },
		{ "help", TP_OPT_BOOL, &help, 0, 0, "show this help", true, false },
	};
	const size_t n_opts = sizeof(opts) / sizeof(opts[0]);
	const char *synopsis = "tapir edge (--input-file FILE | --input-unix PATH | --input-tcp HOST:PORT) [options]";

	if (tp_opts_parse(opts, n_opts, argc, argv, &config_file) != 0) {
		fprintf(stderr, "try 'tapir edge --help'\n");
		return 2;
	}
	if (help) {
		tp_opts_usage(opts, n_opts, synopsis);
		return 0;
	}
	if (debug)
		tp_log_threshold = TP_LOG_DEBUG;

	int bad = select_types(&e.cfg, message_types);
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
	if (bad) {
		fprintf(stderr, "try 'tapir edge --help'\n");
		return 2;
	}
	e.cfg.max_frame_size = (size_t)max_frame;
	e.cfg.silence_warn_s = (unsigned)silence_warn;

	int rc = e.cfg.input_file ? tp_edge_run_file(&e) : tp_edge_run_listen(&e);
	tp_edge_summary_print(&e, stderr);
	if (e.cfg.summary_json && tp_edge_summary_write_json(&e, e.cfg.summary_json) < 0)
		rc = rc ? rc : -1;
	return rc == 0 ? 0 : 1;
}
