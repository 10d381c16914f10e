/* SPDX-License-Identifier: BSD-2-Clause
 *
 * tools.h - the subcommands that tools/tapir.c dispatches to. Each takes
 * the arguments after its name and returns the process exit status.
 */
#ifndef TP_TOOLS_TOOLS_H
#define TP_TOOLS_TOOLS_H

int tp_inspect_main(int argc, char **argv);
int tp_keygen_main(int argc, char **argv);
int tp_wkd_main(int argc, char **argv);
int tp_gen_main(int argc, char **argv);
int tp_replay_main(int argc, char **argv);

#endif
