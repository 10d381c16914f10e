/* SPDX-License-Identifier: BSD-2-Clause
 *
 * session.c - the local session log: rows, blocks, retention, free-disk
 * threshold and key reloads (see session.h).
 *
 * The open block streams into a Parquet writer under a provisional name
 * (dns_session_block-<START>_open.parquet, written as .tmp by the writer);
 * when the block closes its STOP is known and the file is renamed, without
 * replacing anything, to its final name. The retention sweep deletes final
 * names by the STOP they carry, and leftovers of a crash (provisional and
 * .tmp files other than the open block's) by their age.
 *
 * A key reload runs in its own thread because Argon2id takes 64 MiB and a
 * noticeable fraction of a second: the thread reads only the configuration
 * (immutable) and writes only s->reload; the input thread joins it once
 * `done` is set and swaps the instance in between two rows.
 */
#include "edge/session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "dns/scrub.h"
#include "edge/outfile.h"
#include "parquet/parquet.h"
#include "privacy/cryptopan.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/rd.h"

#define PREFIX "dns_session_block-"
#define OPEN_SUFFIX "_open.parquet"
#define SEC_US INT64_C(1000000)

/* edm-spec §4.1: every column OPTIONAL, in alphabetical order. */
enum {
	COL_DEST_IPV4, COL_DEST_IPV6_HOST, COL_DEST_IPV6_NETWORK, COL_DEST_PORT,
	COL_DNS_PROTOCOL, COL_LABEL0,
	COL_QUERY_MESSAGE = COL_LABEL0 + TP_DNS_LABEL_COLUMNS, COL_QUERY_TIME,
	COL_RESPONSE_MESSAGE, COL_RESPONSE_TIME, COL_SERVER_ID, COL_SOURCE_IPV4,
	COL_SOURCE_IPV6_HOST, COL_SOURCE_IPV6_NETWORK, COL_SOURCE_PORT, N_COLS
};

static void schema(struct tp_pq_column cols[N_COLS])
{
	static const char *const labels[TP_DNS_LABEL_COLUMNS] = {
		"label0", "label1", "label2", "label3", "label4",
		"label5", "label6", "label7", "label8", "label9",
	};
	const struct tp_pq_column u32 = { NULL, TP_PQ_INT32, TP_PQ_LT_INT, 32, false, true };
	const struct tp_pq_column u64 = { NULL, TP_PQ_INT64, TP_PQ_LT_INT, 64, false, true };
	const struct tp_pq_column u16 = { NULL, TP_PQ_INT32, TP_PQ_LT_INT, 16, false, true };
	const struct tp_pq_column ts = { NULL, TP_PQ_INT64, TP_PQ_LT_TIMESTAMP_MICROS, 0, false, true };
	const struct tp_pq_column raw = { NULL, TP_PQ_BYTE_ARRAY, TP_PQ_LT_NONE, 0, false, true };
	const struct tp_pq_column str = { NULL, TP_PQ_BYTE_ARRAY, TP_PQ_LT_STRING, 0, false, true };

	cols[COL_DEST_IPV4] = u32;
	cols[COL_DEST_IPV4].name = "dest_ipv4";
	cols[COL_DEST_IPV6_HOST] = u64;
	cols[COL_DEST_IPV6_HOST].name = "dest_ipv6_host";
	cols[COL_DEST_IPV6_NETWORK] = u64;
	cols[COL_DEST_IPV6_NETWORK].name = "dest_ipv6_network";
	cols[COL_DEST_PORT] = u16;
	cols[COL_DEST_PORT].name = "dest_port";
	cols[COL_DNS_PROTOCOL] = u16;
	cols[COL_DNS_PROTOCOL].int_bits = 8;
	cols[COL_DNS_PROTOCOL].name = "dns_protocol";
	for (size_t i = 0; i < TP_DNS_LABEL_COLUMNS; i++) {
		cols[COL_LABEL0 + i] = str;
		cols[COL_LABEL0 + i].name = labels[i];
	}
	cols[COL_QUERY_MESSAGE] = raw;
	cols[COL_QUERY_MESSAGE].name = "query_message";
	cols[COL_QUERY_TIME] = ts;
	cols[COL_QUERY_TIME].name = "query_time";
	cols[COL_RESPONSE_MESSAGE] = raw;
	cols[COL_RESPONSE_MESSAGE].name = "response_message";
	cols[COL_RESPONSE_TIME] = ts;
	cols[COL_RESPONSE_TIME].name = "response_time";
	cols[COL_SERVER_ID] = raw;
	cols[COL_SERVER_ID].name = "server_id";
	cols[COL_SOURCE_IPV4] = u32;
	cols[COL_SOURCE_IPV4].name = "source_ipv4";
	cols[COL_SOURCE_IPV6_HOST] = u64;
	cols[COL_SOURCE_IPV6_HOST].name = "source_ipv6_host";
	cols[COL_SOURCE_IPV6_NETWORK] = u64;
	cols[COL_SOURCE_IPV6_NETWORK].name = "source_ipv6_network";
	cols[COL_SOURCE_PORT] = u16;
	cols[COL_SOURCE_PORT].name = "source_port";
}

struct reload {
	pthread_t thread;
	bool running;              /* input thread only: a thread to join */
	atomic_bool done;          /* set by the reload thread when it ends */
	struct tp_cryptopan *result; /* the new instance or NULL; read after done */
};

struct tp_session {
	struct tp_session_config cfg;
	char dir[4096];
	struct tp_cryptopan *cp;          /* owned; the current key */
	struct tp_cryptopan_stats cp_past; /* counters of replaced instances */
	struct reload reload;

	int64_t period_us;          /* block period: a minute, or the retention */
	int64_t block_start, block_end; /* open block: start, end of its period */
	struct tp_pq_writer *w;     /* NULL until the block's first row */
	char open_path[4200];       /* provisional path while w is open */
	char open_tmp[256];         /* its writer's file name in dir */
	uint64_t block_rows;
	bool block_failed;          /* could not open, or a commit failed */

	bool disk_low;
	int64_t disk_checked_us;
	int64_t swept_us;

	struct tp_session_stats stats;
	uint8_t scratch[TP_DNS_MESSAGE_MAX]; /* the scrubbed message of a row */
};

/* ---- the key ---- */

/* The key file: the whole file, trailing newlines ignored, at most
 * TP_CRYPTOPAN_SECRET_MAX bytes. key: size bytes, room for the key, a CRLF
 * and a NUL. */
static int read_key_file(const char *path, char *key, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int rc = -errno;
		tp_log_err(session, "cryptopan-key-file %s: %s", path, strerror(errno));
		return rc;
	}
	struct stat st;
	size_t n = 0;
	int rc = fstat(fd, &st) != 0 ? -errno : S_ISREG(st.st_mode) ? 0 : TP_EINVAL;
	if (rc == 0 && (uint64_t)st.st_size > size - 1)
		rc = TP_ETOOBIG;
	while (rc == 0 && n < size - 1) {
		ssize_t r = read(fd, key + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -errno;
		else if (r == 0)
			break;
		else
			n += (size_t)r;
	}
	close(fd);
	while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r'))
		n--;
	if (rc == 0 && n > TP_CRYPTOPAN_SECRET_MAX)
		rc = TP_ETOOBIG;
	if (rc == 0 && (n == 0 || memchr(key, '\0', n) != NULL))
		rc = TP_EINVAL;
	if (rc < 0) {
		explicit_bzero(key, size);
		tp_log_err(session, "cryptopan-key-file %s: %s", path,
			   rc == TP_ETOOBIG ? "longer than 4096 bytes"
			   : rc == TP_EINVAL ? "not a regular file holding a key (empty, or a NUL byte)"
					     : tp_strerror(rc));
		return rc;
	}
	key[n] = '\0';
	if ((st.st_mode & 077) != 0)
		tp_log_warning(session, "cryptopan-key-file %s: readable by others than its owner "
					"(chmod 600)", path);
	return 0;
}

/* A new instance from the configured key (re-reading the key file). */
static int make_cryptopan(const struct tp_session_config *cfg, struct tp_cryptopan **out)
{
	char key[TP_CRYPTOPAN_SECRET_MAX + 3];
	uint8_t derived[TP_CRYPTOPAN_KEY_SIZE];
	int rc = 0;

	*out = NULL;
	if (cfg->key_file != NULL)
		rc = read_key_file(cfg->key_file, key, sizeof(key));
	else
		rc = snprintf(key, sizeof(key), "%s", cfg->key) < (int)sizeof(key) ? 0 : TP_ETOOBIG;
	if (rc == 0) {
		rc = tp_cryptopan_derive_key(derived, key, cfg->salt);
		if (rc < 0)
			tp_log_err(session, "cryptopan key: %s", tp_strerror(rc));
	}
	if (rc == 0) {
		rc = tp_cryptopan_new(derived, cfg->cache_entries, out);
		if (rc < 0)
			tp_log_err(session, "cryptopan: %s", tp_strerror(rc));
	}
	explicit_bzero(key, sizeof(key));
	explicit_bzero(derived, sizeof(derived));
	return rc;
}

static void *reload_thread(void *arg)
{
	struct tp_session *s = arg;
	struct tp_cryptopan *cp;
	s->reload.result = make_cryptopan(&s->cfg, &cp) == 0 ? cp : NULL;
	atomic_store(&s->reload.done, true);
	return NULL;
}

void tp_session_reload(struct tp_session *s)
{
	if (s->cfg.key_file == NULL) {
		tp_log_notice(session, "SIGHUP: the Crypto-PAn key was given directly, not in a file: "
				       "nothing to reload");
		return;
	}
	if (s->reload.running) {
		tp_log_warning(session, "SIGHUP: a key reload is still running; this one is ignored");
		return;
	}
	s->reload.result = NULL;
	atomic_store(&s->reload.done, false);
	int rc = pthread_create(&s->reload.thread, NULL, reload_thread, s);
	if (rc != 0) {
		tp_log_err(session, "SIGHUP: cannot start the key reload: %s", strerror(rc));
		return;
	}
	s->reload.running = true;
}

static void apply_reload(struct tp_session *s, bool wait)
{
	if (!s->reload.running || (!wait && !atomic_load(&s->reload.done)))
		return;
	pthread_join(s->reload.thread, NULL);
	s->reload.running = false;
	if (s->reload.result == NULL) {
		s->stats.key_reload_errors++;
		tp_log_err(session, "SIGHUP: keeping the current Crypto-PAn key");
		return;
	}
	struct tp_cryptopan_stats st;
	tp_cryptopan_get_stats(s->cp, &st);
	s->cp_past.hits += st.hits;
	s->cp_past.misses += st.misses;
	tp_cryptopan_free(s->cp);
	s->cp = s->reload.result;
	s->reload.result = NULL;
	s->stats.key_reloads++;
	tp_log_notice(session, "SIGHUP: the new Crypto-PAn key applies from the next row");
}

/* ---- disk ---- */

/* Free space at or above the threshold? Checked at most every
 * TP_SESSION_DISK_CHECK_S unless forced (before opening a block). */
static bool disk_ok(struct tp_session *s, int64_t now_us, bool force)
{
	if (s->cfg.min_free_pct == 0)
		return true;
	if (!force && now_us - s->disk_checked_us < (int64_t)TP_SESSION_DISK_CHECK_S * SEC_US)
		return !s->disk_low;
	s->disk_checked_us = now_us;
	struct statvfs v;
	bool low;
	if (statvfs(s->dir, &v) != 0) {
		tp_log_limited(TP_LOG_ERR, session, "%s: statvfs: %s", s->dir, strerror(errno));
		low = true; /* unknown space: do not write */
	} else {
		/* f_bavail: what an unprivileged writer may still use. */
		low = v.f_blocks > 0 && (uint64_t)v.f_bavail * 100u <
						(uint64_t)s->cfg.min_free_pct * v.f_blocks;
	}
	if (low != s->disk_low)
		tp_log(low ? TP_LOG_WARNING : TP_LOG_NOTICE, session,
		       low ? "%s: less than %u%% of the disk free: session rows are not written"
			   : "%s: %u%% of the disk free again: session rows are written",
		       s->dir, s->cfg.min_free_pct);
	s->disk_low = low;
	return !low;
}

/* ---- blocks ---- */

static int64_t period_start(const struct tp_session *s, int64_t t)
{
	int64_t p = t / s->period_us;
	if (t % s->period_us < 0)
		p--;
	return p * s->period_us;
}

static void start_block(struct tp_session *s, int64_t start_us)
{
	s->block_start = start_us;
	s->block_end = period_start(s, start_us) + s->period_us;
	s->block_rows = 0;
	s->block_failed = false;
}

static int open_writer(struct tp_session *s)
{
	char start[TP_OUTFILE_TIME_SIZE];
	int rc = tp_outfile_time(s->block_start, start, sizeof(start));
	if (rc < 0)
		return rc;
	int n = snprintf(s->open_tmp, sizeof(s->open_tmp), PREFIX "%s" OPEN_SUFFIX ".tmp", start);
	int m = snprintf(s->open_path, sizeof(s->open_path), "%s/" PREFIX "%s" OPEN_SUFFIX, s->dir,
			 start);
	if (n < 0 || (size_t)n >= sizeof(s->open_tmp) || m < 0 || (size_t)m >= sizeof(s->open_path))
		return -ENAMETOOLONG;
	rc = tp_outfile_mkdirs(s->dir);
	if (rc < 0)
		return rc;
	struct tp_pq_column cols[N_COLS];
	schema(cols);
	struct tp_pq_writer_opts opts = {
		.codec = TP_PQ_CODEC_SNAPPY,
		.row_group_rows = TP_SESSION_ROW_GROUP_ROWS,
		.root_name = "sessionData",
	};
	return tp_pq_writer_new(s->open_path, cols, N_COLS, &opts, &s->w);
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Close the open block at stop_us: its file gets its final name. */
static void close_block(struct tp_session *s, int64_t stop_us)
{
	if (s->w == NULL)
		return;
	uint64_t rows = s->block_rows;
	/* A writer that failed returns its first error here. */
	int rc = tp_pq_writer_close(s->w);
	s->w = NULL;
	s->open_tmp[0] = '\0';
	char name[128], path[4400];
	if (rc == 0)
		rc = tp_outfile_name(PREFIX, s->block_start, stop_us, name, sizeof(name));
	if (rc == 0 && snprintf(path, sizeof(path), "%s/%s", s->dir, name) >= (int)sizeof(path))
		rc = -ENAMETOOLONG;
	/* Never over another block (a restart within the same second). */
	if (rc == 0 && renameat2(AT_FDCWD, s->open_path, AT_FDCWD, path, RENAME_NOREPLACE) != 0)
		rc = -errno;
	if (rc < 0) {
		(void)unlink(s->open_path); /* if the rename failed */
		s->stats.write_errors++;
		s->stats.rows_lost += rows;
		tp_log_err(session, "cannot write the session block of %" PRId64 " (%" PRIu64
				    " rows): %s", s->block_start / SEC_US, rows, tp_strerror(rc));
		return;
	}
	sync_dir(s->dir);
	struct stat st;
	if (stat(path, &st) == 0)
		s->stats.bytes += (uint64_t)st.st_size;
	s->stats.files++;
	s->stats.rows += rows;
	tp_log_info(session, "wrote %s (%" PRIu64 " rows)", name, rows);
}

/* Close the block if its period is over, or (at the row ceiling) once the
 * second of its start has passed, so START seconds never repeat. */
static void maybe_rotate(struct tp_session *s, int64_t now_us)
{
	if (now_us >= s->block_end) {
		close_block(s, s->block_end);
		start_block(s, period_start(s, now_us));
	} else if (s->block_rows >= TP_SESSION_BLOCK_ROWS_MAX &&
		   now_us / SEC_US > s->block_start / SEC_US) {
		close_block(s, now_us);
		start_block(s, now_us);
	}
}

/* ---- retention ---- */

/* "<START>_<STOP>.parquet" after the prefix: the STOP time, or TP_EMALF. */
static int name_stop(const char *rest, int64_t *stop_us)
{
	char t[TP_OUTFILE_TIME_SIZE];
	size_t tl = TP_OUTFILE_TIME_SIZE - 1;
	if (strlen(rest) != 2 * tl + 1 + strlen(".parquet") || rest[tl] != '_' ||
	    strcmp(rest + 2 * tl + 1, ".parquet") != 0)
		return TP_EMALF;
	int64_t start_us;
	memcpy(t, rest, tl);
	t[tl] = '\0';
	if (tp_outfile_time_parse(t, &start_us) < 0)
		return TP_EMALF;
	memcpy(t, rest + tl + 1, tl);
	return tp_outfile_time_parse(t, stop_us);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* Delete blocks whose STOP is older than now - retention, and leftovers of
 * a crash (provisional or .tmp files, not the open block's) by their age. */
static void sweep(struct tp_session *s, int64_t now_us)
{
	int64_t limit = now_us - (int64_t)s->cfg.retention_s * SEC_US;
	DIR *d = opendir(s->dir);
	if (d == NULL) {
		if (errno != ENOENT)
			tp_log_limited(TP_LOG_ERR, session, "%s: %s", s->dir, strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		if (strncmp(name, PREFIX, strlen(PREFIX)) != 0 || strcmp(name, s->open_tmp) == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		int64_t stop_us;
		bool expired;
		if (ends_with(name, ".parquet.tmp") || ends_with(name, OPEN_SUFFIX))
			expired = (int64_t)st.st_mtime * SEC_US < limit;
		else if (name_stop(name + strlen(PREFIX), &stop_us) == 0)
			expired = stop_us < limit;
		else
			continue; /* not a name this code writes: not ours to delete */
		if (!expired)
			continue;
		if (unlinkat(dirfd(d), name, 0) == 0) {
			s->stats.files_deleted_retention++;
			tp_log_debug(session, "deleted %s (retention)", name);
		} else if (errno != ENOENT) {
			s->stats.retention_errors++;
			tp_log_limited(TP_LOG_ERR, session, "cannot delete %s/%s: %s", s->dir, name,
				       strerror(errno));
		}
	}
	closedir(d);
	s->swept_us = now_us;
}

/* ---- life ---- */

int tp_session_new(const struct tp_session_config *cfg, int64_t now_us, struct tp_session **out)
{
	*out = NULL;
	if (cfg->data_dir == NULL || cfg->salt == NULL || cfg->retention_s == 0 ||
	    cfg->min_free_pct > 100 || (cfg->key == NULL) == (cfg->key_file == NULL))
		return TP_EINVAL;
	struct tp_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->cfg = *cfg;
	if (snprintf(s->dir, sizeof(s->dir), "%s/parquet/sessions", cfg->data_dir) >=
	    (int)sizeof(s->dir)) {
		free(s);
		return -ENAMETOOLONG;
	}
	int rc = tp_outfile_mkdirs(s->dir);
	if (rc < 0) {
		tp_log_err(session, "%s: %s", s->dir, tp_strerror(rc));
		free(s);
		return rc;
	}
	rc = make_cryptopan(&s->cfg, &s->cp);
	if (rc < 0) {
		free(s);
		return rc;
	}
	uint64_t period_s = cfg->retention_s < TP_SESSION_BLOCK_MAX_S ? cfg->retention_s
								   : TP_SESSION_BLOCK_MAX_S;
	s->period_us = (int64_t)period_s * SEC_US;
	start_block(s, now_us);
	sweep(s, now_us);
	(void)disk_ok(s, now_us, true);
	*out = s;
	return 0;
}

void tp_session_flush(struct tp_session *s, int64_t now_us)
{
	/* Nothing lost at exit: the open block is written. */
	int64_t stop = now_us < s->block_end ? now_us : s->block_end;
	close_block(s, stop);
	start_block(s, stop);
	apply_reload(s, true);
}

void tp_session_free(struct tp_session *s)
{
	if (s == NULL)
		return;
	if (s->reload.running) {
		pthread_join(s->reload.thread, NULL);
		tp_cryptopan_free(s->reload.result);
	}
	tp_pq_writer_free(s->w);
	tp_cryptopan_free(s->cp);
	free(s);
}

void tp_session_tick(struct tp_session *s, int64_t now_us)
{
	apply_reload(s, false);
	maybe_rotate(s, now_us);
	if (s->w != NULL)
		(void)disk_ok(s, now_us, false);
	if (now_us - s->swept_us >= SEC_US)
		sweep(s, now_us);
}

void tp_session_get_stats(const struct tp_session *s, struct tp_session_stats *out)
{
	struct tp_cryptopan_stats st;
	tp_cryptopan_get_stats(s->cp, &st);
	*out = s->stats;
	out->cryptopan_hits = s->cp_past.hits + st.hits;
	out->cryptopan_misses = s->cp_past.misses + st.misses;
}

/* ---- rows ---- */

/* An address as edm-spec §4.1 stores it: pseudonymised, by socket family.
 * Every column stays NULL when the family is absent or does not fit. */
static int put_addr(struct tp_session *s, const struct tp_dt_msg *m, const struct tp_dt_bytes *a,
		    size_t col_v4, size_t col_v6_host, size_t col_v6_net)
{
	uint8_t p[TP_CRYPTOPAN_OUT_MAX];
	size_t len;
	if (!m->has_socket_family || a->p == NULL ||
	    tp_cryptopan_anon(s->cp, a->p, a->len, p, sizeof(p), &len) != 0)
		return 0;
	if (m->socket_family == TP_DT_INET && len == 4)
		return tp_pq_set_u64(s->w, col_v4, tp_load_be32(p));
	if (m->socket_family != TP_DT_INET6)
		return 0;
	uint64_t net = 0, host;
	if (len == 4) {
		/* IPv4 under INET6 (a mapped address): ::ffff:a.b.c.d */
		host = UINT64_C(0xffff) << 32 | tp_load_be32(p);
	} else {
		net = (uint64_t)tp_load_be32(p) << 32 | tp_load_be32(p + 4);
		host = (uint64_t)tp_load_be32(p + 8) << 32 | tp_load_be32(p + 12);
	}
	int rc = tp_pq_set_u64(s->w, col_v6_net, net);
	return rc != 0 ? rc : tp_pq_set_u64(s->w, col_v6_host, host);
}

static int put_port(struct tp_session *s, size_t col, bool has, uint32_t port)
{
	return has && port <= 65535 ? tp_pq_set_u64(s->w, col, port) : 0;
}

/* The message of the frame's type, scrubbed, with its own time. */
static int put_message(struct tp_session *s, const struct tp_dt_msg *m)
{
	bool is_query = tp_dt_type_is_query(m->type);
	const struct tp_dt_bytes *wire = is_query ? &m->query_message : &m->response_message;
	bool has_sec = is_query ? m->has_query_time_sec : m->has_response_time_sec;
	uint64_t sec = is_query ? m->query_time_sec : m->response_time_sec;
	uint32_t nsec = is_query ? m->query_time_nsec : m->response_time_nsec;
	size_t col_msg = is_query ? COL_QUERY_MESSAGE : COL_RESPONSE_MESSAGE;
	size_t col_time = is_query ? COL_QUERY_TIME : COL_RESPONSE_TIME;

	struct tp_dns_scrub_removed removed;
	size_t len;
	int rc = wire->len > sizeof(s->scratch)
			 ? TP_ETOOBIG
			 : tp_dns_scrub(wire->p, wire->len, s->scratch, sizeof(s->scratch), &len,
					&removed);
	if (rc == 0) {
		s->stats.options_removed_ecs += removed.ecs;
		s->stats.options_removed_cookie += removed.cookie;
		s->stats.options_removed_other += removed.other;
		rc = tp_pq_set_bytes(s->w, col_msg, s->scratch, len);
	} else {
		/* Never the raw bytes: the column stays NULL. */
		s->stats.unparseable_messages++;
		rc = 0;
	}
	/* The caller's checks bound sec (< 2^35) and nsec for the time used. */
	if (rc == 0 && has_sec && nsec < 1000000000u && sec < (UINT64_C(1) << 35))
		rc = tp_pq_set_i64(s->w, col_time, (int64_t)sec * SEC_US + (int64_t)(nsec / 1000));
	return rc;
}

static int put_row(struct tp_session *s, const struct tp_dt_msg *m, const struct tp_dns_msg *dns)
{
	struct tp_dns_labels labels;
	int rc = put_addr(s, m, &m->query_address, COL_SOURCE_IPV4, COL_SOURCE_IPV6_HOST,
			  COL_SOURCE_IPV6_NETWORK);
	if (rc == 0)
		rc = put_addr(s, m, &m->response_address, COL_DEST_IPV4, COL_DEST_IPV6_HOST,
			      COL_DEST_IPV6_NETWORK);
	if (rc == 0)
		rc = put_port(s, COL_SOURCE_PORT, m->has_query_port, m->query_port);
	if (rc == 0)
		rc = put_port(s, COL_DEST_PORT, m->has_response_port, m->response_port);
	if (rc == 0 && m->has_socket_protocol && m->socket_protocol <= 255)
		rc = tp_pq_set_u64(s->w, COL_DNS_PROTOCOL, m->socket_protocol);
	if (rc == 0 && m->identity.p != NULL && m->identity.len > 0 &&
	    m->identity.len <= TP_SESSION_SERVER_ID_MAX)
		rc = tp_pq_set_bytes(s->w, COL_SERVER_ID, m->identity.p, m->identity.len);
	/* edm-spec §3.6: labels of the question as asked (case kept). */
	if (rc == 0)
		rc = tp_dns_name_labels(&dns->qname, &labels);
	for (size_t i = 0; rc == 0 && i < labels.n; i++)
		rc = tp_pq_set_str(s->w, COL_LABEL0 + i, labels.label[i]);
	if (rc == 0)
		rc = put_message(s, m);
	return rc;
}

void tp_session_add(struct tp_session *s, const struct tp_dt_msg *m, const struct tp_dns_msg *dns,
		    int64_t now_us)
{
	maybe_rotate(s, now_us);
	if (s->w == NULL && s->block_failed) {
		s->stats.rows_lost++; /* the block could not be opened */
		return;
	}
	if (s->w == NULL) {
		if (!disk_ok(s, now_us, s->disk_checked_us < s->block_start)) {
			s->stats.rows_skipped_low_disk++;
			return;
		}
		int rc = open_writer(s);
		if (rc < 0) {
			/* Tried again with the next block, not for every row. */
			s->w = NULL;
			s->block_failed = true;
			s->stats.write_errors++;
			s->stats.rows_lost++;
			tp_log_limited(TP_LOG_ERR, session, "cannot open a session block in %s: %s",
				       s->dir, tp_strerror(rc));
			return;
		}
	} else if (!disk_ok(s, now_us, false)) {
		s->stats.rows_skipped_low_disk++;
		return;
	}
	/* A value refused while staging loses this row only; a failed commit
	 * is the writer's end and loses the block (counted when it closes). */
	int rc = put_row(s, m, dns);
	if (rc < 0) {
		tp_pq_row_discard(s->w);
		s->stats.rows_lost++;
		tp_log_limited(TP_LOG_ERR, session, "a session row is not written: %s",
			       tp_strerror(rc));
		return;
	}
	rc = tp_pq_row_commit(s->w);
	if (rc < 0 && !s->block_failed) {
		s->block_failed = true;
		tp_log_err(session, "the session block is lost: %s", tp_strerror(rc));
	}
	s->block_rows++;
}
