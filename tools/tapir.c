/* SPDX-License-Identifier: BSD-2-Clause
 *
 * tapir.c - the one main(): a table of subcommands.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/receiver.h"
#include "edge/edge.h"
#include "tools.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "core", tp_core_main, "receive signed aggregates from edges (HTTP API)" },
	{ "edge", tp_edge_main, "read dnstap from a resolver and minimise it" },
	{ "gen", tp_gen_main, "write a synthetic dnstap capture (load tests)" },
	{ "inspect", tp_inspect_main, "print a Parquet file tapir wrote as JSON lines" },
	{ "keygen", tp_keygen_main, "create an Ed25519 signing key (JWK + PEM)" },
	{ "replay", tp_replay_main, "send a capture to a listening edge as a producer" },
	{ "wkd", tp_wkd_main, "check a well-known domains list" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: tapir COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\n'tapir COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
	/* A closed stderr pipe or a peer gone mid-write must give an error
	 * code, never kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].run(argc - 2, argv + 2);
	fprintf(stderr, "tapir: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
