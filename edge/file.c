/* SPDX-License-Identifier: BSD-2-Clause
 *
 * file.c - batch input: a dnstap file or stdin, read to the end.
 *
 * File input blocks and never drops (SPEC §3). Bad frames are counted and
 * skipped; only a stream that is not dnstap at all, or cannot be read, stops
 * the run, with one line naming the file and the offset.
 */
#include "edge/edge.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dnstap/fstrm.h"
#include "dnstap/reader.h"
#include "util/log.h"

static void show_progress(const struct tp_edge *e, const struct tp_dt_reader *r,
			  struct timespec *last)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == last->tv_sec)
		return;
	*last = now;
	fprintf(stderr, "\r%" PRIu64 " frames, %" PRIu64 " MiB read, %" PRIu64 " processed",
		e->stats.frames, tp_dt_reader_offset(r) >> 20, e->stats.processed);
}

/* Set by signal handlers, read by the loop (async-signal-safe). */
static volatile sig_atomic_t stop_signal, report_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_report(int sig)
{
	(void)sig;
	report_signal = 1;
}

/* SIGTERM/SIGINT end a batch run early but cleanly: what was read is
 * counted, written and summarised. SIGUSR1 prints the counters so far.
 * No SA_RESTART, so a read blocked on a pipe returns at once. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_report;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
}

int tp_edge_run_file(struct tp_edge *e)
{
	const char *path = e->cfg.input_file;
	int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		tp_log_err(edge, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	/* Tell the kernel we read front to back (best effort). */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

	struct tp_dt_reader *r;
	int rc = tp_dt_reader_new(fd, e->cfg.max_frame_size, &r);
	if (rc < 0) {
		tp_log_err(edge, "%s: %s", path, tp_strerror(rc));
		return rc;
	}

	catch_signals();

	/* SPEC §10: progress on a terminal, quiet otherwise. */
	bool progress = isatty(STDERR_FILENO);
	struct timespec last = { 0, 0 };
	uint64_t n = 0;
	/* The session log's blocks follow the wall clock, also in a long
	 * batch run (a pipe on stdin): tick about once a second. */
	struct timespec last_poll;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &last_poll);

	for (;;) {
		const uint8_t *frame;
		size_t len;
		if (stop_signal) {
			rc = TP_EINTR;
			break;
		}
		if (report_signal) {
			report_signal = 0;
			tp_edge_report(e);
		}
		rc = tp_dt_reader_next(r, &frame, &len);
		if (rc == -EINTR)
			continue; /* the flags above decide */
		if (rc == 1) {
			tp_edge_process(e, frame, len);
			if (progress && (++n & 0xffff) == 0)
				show_progress(e, r, &last);
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
			if (now.tv_sec != last_poll.tv_sec) {
				last_poll = now;
				tp_edge_poll(e, false);
			}
			continue;
		}
		if (rc == 0)
			break;
		if (rc == TP_ETOOBIG) {
			e->stats.dropped[TP_DROP_frame_too_large]++;
			continue;
		}
		if (rc == TP_EPROTO) {
			e->stats.dropped[TP_DROP_bad_frame]++;
			continue;
		}
		if (rc == TP_ETRUNC) {
			e->stats.dropped[TP_DROP_truncated_frame]++;
			tp_log_warning(edge, "%s: stream ends inside a frame at offset %" PRIu64,
				       path, tp_dt_reader_offset(r));
			rc = 0;
			break;
		}
		const char *why = rc == TP_ECONTENT ? "not a dnstap Frame Streams file "
						      "(expected a START control frame with content "
						      "type " TP_FSTRM_CONTENT_TYPE ")"
				  : tp_strerror(rc);
		tp_log_err(edge, "%s: offset %" PRIu64 ": %s", path, tp_dt_reader_offset(r), why);
		break;
	}
	if (progress && last.tv_sec != 0)
		fputc('\n', stderr);
	if (rc == 0 && tp_dt_reader_missing_stop(r))
		tp_log_warning(edge, "%s: no STOP control frame at the end (file cut short?)", path);
	tp_dt_reader_free(r);
	return rc;
}
