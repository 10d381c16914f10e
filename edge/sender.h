/* SPDX-License-Identifier: BSD-2-Clause
 *
 * sender.h - the histogram sender (SPEC §7, edm-spec §3.7): uploads each
 * Parquet file of DATA/parquet/histograms/outbox to the core, signed
 * (RFC 9421, RFC 9530), and moves it to sent/ on 201.
 *
 * At least once: a file leaves the outbox only after the core's 201; any
 * other answer, or none, keeps it there and it is retried, forever, with
 * capped exponential backoff; a restart resumes from the outbox. Files in
 * sent/ are deleted once older than sent_retention_s (mtime, strictly).
 */
#ifndef TP_EDGE_SENDER_H
#define TP_EDGE_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct tp_sender_config {
	const char *data_dir;          /* required */
	const char *url;               /* http-url: https://core:8443 */
	const char *signing_key_file;  /* private JWK with kid */
	const char *ca_file;           /* NULL = system roots */
	const char *client_cert_file, *client_key_file; /* mTLS, both or none */
	unsigned scan_interval_s;      /* 0 = 10 */
	unsigned backoff_max_s;        /* 0 = 60 */
	unsigned timeout_s;            /* per request; 0 = 30 */
	uint64_t sent_retention_s;     /* 0 = 86400 */
};

struct tp_sender;
/* uploaded, failed (attempts answered otherwise than 201, or unanswered),
 * duplicates_skipped (an outbox file identical to the one of its name in
 * sent/: removed without upload) and cleaned are counters; bad_names and
 * pending describe the last scan. */
struct tp_sender_stats {
	uint64_t uploaded, failed, duplicates_skipped, bad_names, cleaned;
	uint64_t pending;  /* files in the outbox at the last scan */
	int last_status;   /* last HTTP status, 0 if none */
};

/* Longest outbox file uploaded (histograms are kilobytes to megabytes); a
 * larger one stays in the outbox, counted as failed and logged. */
#define TP_SENDER_FILE_MAX (256u * 1024u * 1024u)
/* Most files considered per scan (the oldest names first). */
#define TP_SENDER_SCAN_MAX 4096u
/* "PT" + hours, minutes, seconds and 9 fraction digits, with room. */
#define TP_SENDER_DURATION_SIZE 48u

/* The ISO 8601 duration of ns nanoseconds as the reference writes it
 * (edm-spec §3.7): PT[nH][nM][n[.frac]S], zero parts left out, the
 * fraction without trailing zeros; 0 or negative -> "PT0S".
 * Returns 0 or TP_ENOSPACE. */
int tp_sender_duration(int64_t ns, char *out, size_t size) TP_WUR;

/* A histogram file name, dns_histogram-<START>_<STOP>.parquet (outfile.h):
 * START and STOP in UTC seconds. Returns 0 or TP_EMALF. */
int tp_sender_parse_name(const char *name, int64_t *start_s, int64_t *stop_s) TP_WUR;

/* Check cfg, load the key, start the thread. Returns 0 or TP_EINVAL
 * (logged), -errno. */
int tp_sender_start(const struct tp_sender_config *cfg, struct tp_sender **out) TP_WUR;
/* Scan now (a new file was written). */
void tp_sender_kick(struct tp_sender *s);
/* Batch mode: upload until the outbox is empty or wait_s passed.
 * Returns 0 (empty) or TP_ETIMEDOUT (files left, said in the log). */
int tp_sender_drain(struct tp_sender *s, unsigned wait_s) TP_WUR;
/* Stop (interrupting a backoff or a request in flight) and free. */
void tp_sender_stop(struct tp_sender *s);
void tp_sender_stats(struct tp_sender *s, struct tp_sender_stats *out);

#endif
