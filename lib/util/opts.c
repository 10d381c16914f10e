/* SPDX-License-Identifier: BSD-2-Clause
 *
 * opts.c - command line and config file options from one table (opts.h).
 *
 * Config file values are copied with strdup and live until the process
 * exits: options are read once at start-up and never freed.
 */
#include "util/opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/limits.h"

static struct tp_opt *find(struct tp_opt *opts, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

static int parse_uint(const char *s, uint64_t *out, int base)
{
	char *end;
	if (*s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Store value into the option; prints the problem and returns -1 if bad. */
static int set_value(struct tp_opt *o, const char *value, const char *where)
{
	uint64_t v;
	switch (o->kind) {
	case TP_OPT_STRING:
		if (*value == '\0') {
			fprintf(stderr, "%s: %s: empty value\n", where, o->name);
			return -1;
		}
		*(const char **)o->target = value;
		return 0;
	case TP_OPT_UINT:
		if (parse_uint(value, &v, 10) != 0 || v < o->min || v > o->max) {
			fprintf(stderr, "%s: %s: expected a whole number from %llu to %llu, got '%s'\n",
				where, o->name, (unsigned long long)o->min,
				(unsigned long long)o->max, value);
			return -1;
		}
		*(uint64_t *)o->target = v;
		return 0;
	case TP_OPT_MODE:
		if (parse_uint(value, &v, 8) != 0 || v > 07777) {
			fprintf(stderr, "%s: %s: expected an octal file mode such as 0660, got '%s'\n",
				where, o->name, value);
			return -1;
		}
		*(int *)o->target = (int)v;
		return 0;
	case TP_OPT_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
		    strcmp(value, "1") == 0) {
			*(bool *)o->target = true;
		} else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
			   strcmp(value, "0") == 0) {
			*(bool *)o->target = false;
		} else {
			fprintf(stderr, "%s: %s: expected true or false, got '%s'\n", where,
				o->name, value);
			return -1;
		}
		return 0;
	}
	return -1;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static int parse_file(struct tp_opt *opts, size_t n_opts, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open config file: %s\n", path, strerror(errno));
		return -1;
	}
	/* A config is a small regular file: not a device, not a directory. */
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TP_CONFIG_MAX) {
		fprintf(stderr, "%s: not a regular file of at most %u octets\n", path, TP_CONFIG_MAX);
		fclose(f);
		return -1;
	}
	char line[4096];
	char where[4200];
	unsigned lineno = 0;
	int bad = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fprintf(stderr, "%s: line too long\n", where);
			bad = -1;
			int ch;
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL) {
			fprintf(stderr, "%s: expected key = value\n", where);
			bad = -1;
			continue;
		}
		*eq = '\0';
		char *key = trim(s);
		char *value = trim(eq + 1);
		if (value[0] == '"') {
			/* "quoted" # an optional comment after it */
			char *close = strchr(value + 1, '"');
			char *rest = close ? trim(close + 1) : NULL;
			if (close == NULL || (*rest != '\0' && *rest != '#')) {
				fprintf(stderr, "%s: unterminated string or text after it\n", where);
				bad = -1;
				continue;
			}
			*close = '\0';
			value++;
		} else {
			/* value # a comment: a '#' after white space starts it */
			for (char *c = value; *c; c++) {
				if (*c == '#' && (c == value || c[-1] == ' ' || c[-1] == '\t')) {
					*c = '\0';
					value = trim(value);
					break;
				}
			}
		}
		struct tp_opt *o = find(opts, n_opts, key, strlen(key));
		if (o == NULL || o->cli_only) {
			fprintf(stderr, "%s: unknown key '%s'\n", where, key);
			bad = -1;
			continue;
		}
		if (o->seen_cli)
			continue;
		char *copy = strdup(value);
		if (copy == NULL) {
			fprintf(stderr, "%s: out of memory\n", where);
			bad = -1;
			continue;
		}
		bool ok = set_value(o, copy, where) == 0;
		if (!ok)
			bad = -1;
		if (ok && o->kind == TP_OPT_STRING) {
			/* A key given twice: the last one wins, the first is freed. */
			free(o->owned);
			o->owned = copy;
		} else {
			free(copy);
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		bad = -1;
	}
	fclose(f);
	return bad;
}

int tp_opts_parse(struct tp_opt *opts, size_t n_opts, int argc, char **argv,
		  const char **config_path)
{
	int bad = 0;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0) {
			fprintf(stderr, "unexpected argument '%s'\n", arg);
			bad = -1;
			continue;
		}
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		struct tp_opt *o = find(opts, n_opts, name, len);
		if (o == NULL) {
			fprintf(stderr, "unknown option '--%.*s'\n", (int)len, name);
			bad = -1;
			continue;
		}
		const char *value = eq ? eq + 1 : NULL;
		if (value == NULL && o->kind == TP_OPT_BOOL) {
			value = "true";
		} else if (value == NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "option --%s needs a value\n", o->name);
				bad = -1;
				continue;
			}
			value = argv[++i];
		}
		o->seen_cli = true;
		if (set_value(o, value, "command line") != 0)
			bad = -1;
	}
	/* The file is read even after command-line errors: every problem is
	 * reported in one go. */
	if (config_path != NULL && *config_path != NULL && parse_file(opts, n_opts, *config_path) != 0)
		bad = -1;
	return bad == 0 ? 0 : TP_EINVAL;
}

void tp_opts_free(struct tp_opt *opts, size_t n_opts)
{
	for (size_t i = 0; i < n_opts; i++) {
		if (opts[i].owned == NULL)
			continue;
		if (*(char **)opts[i].target == opts[i].owned)
			*(const char **)opts[i].target = NULL;
		free(opts[i].owned);
		opts[i].owned = NULL;
	}
}

void tp_opts_usage(const struct tp_opt *opts, size_t n_opts, const char *synopsis)
{
	printf("usage: %s\n\noptions (also config file keys):\n", synopsis);
	for (size_t i = 0; i < n_opts; i++) {
		const char *arg = opts[i].kind == TP_OPT_BOOL ? "" :
				  opts[i].kind == TP_OPT_UINT ? " N" :
				  opts[i].kind == TP_OPT_MODE ? " MODE" : " VALUE";
		char left[64];
		snprintf(left, sizeof(left), "--%s%s", opts[i].name, arg);
		printf("  %-32s %s\n", left, opts[i].help);
	}
}
