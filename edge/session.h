/* SPDX-License-Identifier: BSD-2-Clause
 *
 * session.h - the edge's local session log: one row per processed response
 * that is not well known, pseudonymised and scrubbed, in short-lived
 * Parquet blocks that never leave the machine (SPEC §6, edm-spec §4).
 *
 * Privacy rules this module enforces, whatever the caller does:
 *  - no raw address is ever written: client and server addresses go through
 *    Crypto-PAn (lib/privacy), and without a key there is no session log;
 *  - stored DNS messages are copies without client-identifying EDNS options
 *    (lib/dns/scrub.h); a message that cannot be scrubbed is stored as NULL;
 *  - blocks are deleted by the daemon itself once their end is older than
 *    the retention, and a block never spans more than the retention, so a
 *    row lives at most about twice the retention;
 *  - below a free-disk threshold nothing is written (rows are counted).
 *
 * Blocks: rows go straight into a Parquet writer; a block is closed at the
 * end of its wall-clock period (a minute, or the retention if shorter), at
 * a row ceiling (TP_SESSION_BLOCK_ROWS_MAX), and at exit, as
 * DATA/parquet/sessions/dns_session_block-<START>_<STOP>.parquet. START and
 * STOP are the block's wall-clock interval; START seconds strictly increase
 * within a run, so two blocks never share a name. An empty block leaves no
 * file.
 *
 * Thread safety: one input thread calls everything except the key reload's
 * own thread, which touches only the reload state (see session.c).
 */
#ifndef TP_EDGE_SESSION_H
#define TP_EDGE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "dnstap/dnstap.h"
#include "util/err.h"

struct tp_session_config {
	const char *data_dir;     /* borrowed for the life of the log */
	const char *key;          /* --cryptopan-key, or NULL */
	const char *key_file;     /* --cryptopan-key-file, or NULL; re-read on reload */
	const char *salt;         /* --cryptopan-key-salt */
	size_t cache_entries;     /* --cryptopan-address-entries, 0 = no cache */
	uint64_t retention_s;     /* >= 1 */
	unsigned min_free_pct;    /* 0..100 */
};

struct tp_session_stats {
	uint64_t rows;                    /* written into closed files */
	uint64_t files, bytes;            /* closed files and their size */
	uint64_t rows_skipped_low_disk;
	uint64_t rows_lost;               /* rows of blocks that failed to write */
	uint64_t write_errors;
	uint64_t files_deleted_retention;
	uint64_t retention_errors;        /* files that could not be deleted */
	uint64_t options_removed_ecs, options_removed_cookie, options_removed_other;
	uint64_t unparseable_messages;    /* stored as NULL */
	uint64_t cryptopan_hits, cryptopan_misses;
	uint64_t key_reloads, key_reload_errors;
};

struct tp_session;

/* Derive the key (Argon2id: slow, once), create the sessions directory,
 * delete expired blocks.
 *   cfg: copied (its strings borrowed, see above). Exactly one of key and
 *   key_file must be set.
 *   now_us: the wall clock; the first block starts here.
 * Returns 0 and *out, or TP_EINVAL (bad configuration or key file, already
 * logged), -ENOMEM, -errno (the directory), or a code of
 * tp_cryptopan_derive_key(). */
int tp_session_new(const struct tp_session_config *cfg, int64_t now_us,
		   struct tp_session **out) TP_WUR;

/* At exit: write the open block (the observation ends at now_us) and wait
 * for a running key reload. Rows added later start a new block. */
void tp_session_flush(struct tp_session *s, int64_t now_us);

/* Free without writing (after tp_session_flush). NULL is a no-op. */
void tp_session_free(struct tp_session *s);

/* Add the row of one processed frame.
 *   m, dns: borrowed for the call; dns is the parse of m's message for its
 *   type (the response message, or the query message for query types).
 *   now_us: the wall clock. */
void tp_session_add(struct tp_session *s, const struct tp_dt_msg *m,
		    const struct tp_dns_msg *dns, int64_t now_us);

/* About once a second: applies a finished key reload, closes the block
 * whose period has ended, deletes expired blocks, re-checks the disk. */
void tp_session_tick(struct tp_session *s, int64_t now_us);

/* SIGHUP: re-read the key file in a background thread; the new key applies
 * (to the next row) once derived; a bad file keeps the old key (logged).
 * Without a key file, logs that there is nothing to reload. */
void tp_session_reload(struct tp_session *s);

/* A copy of the counters, the Crypto-PAn cache's included. */
void tp_session_get_stats(const struct tp_session *s, struct tp_session_stats *out);

#endif
