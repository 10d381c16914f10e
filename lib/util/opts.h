/* SPDX-License-Identifier: BSD-2-Clause
 *
 * opts.h - one table of options serves both the command line (--key value,
 * --key=value) and a config file (flat `key = value` lines, TOML subset:
 * quoted strings, integers, true/false, # comments).
 *
 * A flag and a config key are the same thing (SPEC §10). Unknown keys are
 * errors, and every error is reported before giving up, not just the first.
 * The command line wins over the file.
 */
#ifndef TP_UTIL_OPTS_H
#define TP_UTIL_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum tp_opt_kind { TP_OPT_STRING, TP_OPT_UINT, TP_OPT_BOOL, TP_OPT_MODE };

struct tp_opt {
	const char *name;   /* kebab-case, without "--" */
	enum tp_opt_kind kind;
	void *target;       /* const char ** / uint64_t * / bool * / int * */
	uint64_t min, max;  /* TP_OPT_UINT bounds */
	const char *help;
	bool cli_only;      /* e.g. config-file itself */
	bool seen_cli;      /* set while parsing */
	char *owned;        /* a string value read from the file, from
			     * strdup(); freed by tp_opts_free() */
};

/* Parse argv (after the subcommand name), then, if *config_path is set after
 * that, the config file for every option not given on the command line.
 *   opts: borrowed; targets are written; string targets point into argv or
 *         into copies the table owns (opts[i].owned) until tp_opts_free().
 * Returns 0, or TP_EINVAL after printing every problem to stderr. */
int tp_opts_parse(struct tp_opt *opts, size_t n_opts, int argc, char **argv,
		  const char **config_path) TP_WUR;

/* Free the string values read from a config file; string targets that
 * pointed at them are set to NULL. */
void tp_opts_free(struct tp_opt *opts, size_t n_opts);

/* Print the option table as help text. */
void tp_opts_usage(const struct tp_opt *opts, size_t n_opts, const char *synopsis);

#endif
