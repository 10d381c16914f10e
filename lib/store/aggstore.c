/* SPDX-License-Identifier: BSD-2-Clause
 *
 * aggstore.c - the core's aggregate store (aggstore.h): payload objects in
 * a local directory or an S3 bucket, metadata in LMDB.
 *
 * Four named LMDB databases:
 *   meta     id (24 hex) -> metadata as compact JSON (jansson; ours, but
 *            decoded with every bound checked, as a file on disk can rot)
 *   digest   Content-Digest string -> id (the uniqueness of core-spec §1.7)
 *   creator  key id -> 48 octets: count, total size, last seen (int64 LE
 *            each), last id (24 hex) — the stats of core-spec §1.10
 *   pending  id -> object key, while a put is between its two commits
 * A put commits "pending", makes the object durable, then in one
 * transaction drops "pending" and writes meta, digest and creator. So a
 * crash anywhere leaves either a pending record (recovery at open deletes
 * the object, if any, and the record: the client got no 201 and retries)
 * or the complete metadata of a durable object; never metadata without
 * its object, nor an object nobody knows about. Commits use LMDB's full
 * sync (no MDB_NOMETASYNC): undoing the last commit after an OS crash
 * would bring back a pending record whose object was already acknowledged.
 *
 * Digest uniqueness across threads: a put registers its digest as in
 * flight (a list of stack nodes under a mutex) after checking the index;
 * a second put of the same digest waits until the first is done and then
 * finds it in the index (TP_EEXIST) or, if it failed, stores its own. A
 * lock file keeps a second process out, since recovery at its open would
 * delete the objects of our puts in flight.
 *
 * Local objects are written to "<key>.tmp", fsynced, renamed to the key
 * and the directory fsynced; a directory created on the way is made
 * durable by fsyncing its parent. Ids follow MongoDB's ObjectId layout:
 * 4 octets of UNIX seconds (big-endian), 5 random octets per process, a
 * 3-octet counter from a random start.
 */
#include "store/aggstore.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>

#include "store/lmdb_err.h"
#include "util/io.h"
#include "util/log.h"

/* Address space reserved for the index; the file grows as used. About
 * 1-2 KiB of metadata per aggregate: millions of aggregates. */
#define MAP_SIZE (16ull * 1024u * 1024u * 1024u)
#define MAX_READERS 512u
#define N_DBS 4u
#define CREATOR_VALUE_LEN (3u * 8u + TP_AGG_ID_LEN)
#define LOCK_NAME "aggstore.lock"
#define TMP_SUFFIX ".tmp"
#define PARQUET_TYPE "application/vnd.apache.parquet"
/* Largest metadata JSON we accept back from the index. */
#define META_JSON_MAX (TP_AGG_HEADERS_MAX * (TP_AGG_HEADER_VALUE_MAX * 6u + 64u) + 16384u)
/* Pending records read per recovery pass. */
#define RECOVER_BATCH 256u

struct inflight {
	const char *digest;
	struct inflight *next;
};

struct tp_aggstore {
	MDB_env *env;
	MDB_dbi db_meta, db_digest, db_creator, db_pending;
	int lock_fd;
	int root_fd; /* local backend's payload root, or -1 */
	struct tp_s3 *s3;
	char bucket[64];
	uint8_t rnd[5];
	_Atomic uint32_t counter;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct inflight *inflight; /* guarded by lock */
	void (*crash_hook)(int stage);
};

/* ---- validation --------------------------------------------------------- */

static bool in_set(char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c) != NULL;
}

static bool field_ok(const char *s, size_t size, const char *extra, bool upper)
{
	size_t n = strnlen(s, size);
	if (n == 0 || n >= size)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!in_set(s[i], extra) && !(upper && s[i] >= 'A' && s[i] <= 'Z'))
			return false;
	return true;
}

static bool printable(const char *s, size_t size)
{
	size_t n = strnlen(s, size);
	if (n == 0 || n >= size)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool id_ok(const char *id)
{
	if (id == NULL || strnlen(id, TP_AGG_ID_LEN + 1u) != TP_AGG_ID_LEN)
		return false;
	for (size_t i = 0; i < TP_AGG_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static int check_meta(const struct tp_agg_meta *m)
{
	if (!field_ok(m->type, sizeof(m->type), "_-", false) ||
	    !field_ok(m->creator, sizeof(m->creator), "_.-", true) ||
	    !printable(m->content_type, sizeof(m->content_type)) ||
	    !printable(m->content_digest, sizeof(m->content_digest)) ||
	    m->n_headers > TP_AGG_HEADERS_MAX ||
	    (m->has_interval && m->interval_duration_s <= 0))
		return TP_EINVAL;
	for (size_t i = 0; i < m->n_headers; i++) {
		const char *name = m->headers[i].name;
		if (!field_ok(name, sizeof(m->headers[i].name), "-", false) ||
		    m->headers[i].value == NULL ||
		    strnlen(m->headers[i].value, TP_AGG_HEADER_VALUE_MAX + 1u) >
			    TP_AGG_HEADER_VALUE_MAX)
			return TP_EINVAL;
	}
	return 0;
}

/* ---- ids and keys ------------------------------------------------------- */

static int new_id(struct tp_aggstore *st, char id[TP_AGG_ID_LEN + 1u], int64_t *created)
{
	time_t now = time(NULL);
	if (now < 0 || (uint64_t)now > UINT32_MAX)
		return TP_EBUG;
	uint32_t c = atomic_fetch_add_explicit(&st->counter, 1u, memory_order_relaxed) &
		     0xFFFFFFu;
	int n = snprintf(id, TP_AGG_ID_LEN + 1u, "%08" PRIx32 "%02x%02x%02x%02x%02x%06" PRIx32,
			 (uint32_t)now, st->rnd[0], st->rnd[1], st->rnd[2], st->rnd[3],
			 st->rnd[4], c);
	if (n != (int)TP_AGG_ID_LEN)
		return TP_EBUG;
	*created = (int64_t)now;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SSZ" of UNIX seconds. */
static int iso_utc(int64_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		return TP_EINVAL;
	return 0;
}

static int make_key(const struct tp_agg_meta *m, char *out, size_t size)
{
	time_t t = (time_t)m->created;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		return TP_EBUG;
	bool parquet = strcmp(m->content_type, PARQUET_TYPE) == 0;
	int n = snprintf(out, size,
			 "type=%s/year=%04d/month=%02d/day=%02d/hour=%02d/minute=%02d/"
			 "second=%02d/creator=%s/id=%s%s",
			 m->type, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, m->creator, m->id, parquet ? ".parquet" : "");
	if (n < 0 || (size_t)n >= size)
		return TP_EINVAL;
	return 0;
}

/* ---- local backend ------------------------------------------------------ */

/* Open the directory holding key's last component below the root, creating
 * missing directories (each made durable through its parent) if create.
 * Returns a directory fd (>= 0) and *base into key, or -errno. */
static int open_parent(struct tp_aggstore *st, const char *key, bool create, const char **base)
{
	int dir = dup(st->root_fd);
	if (dir < 0)
		return -errno;
	const char *p = key;
	for (;;) {
		const char *slash = strchr(p, '/');
		if (slash == NULL)
			break;
		char comp[TP_S3_KEY_MAX + 1u];
		size_t n = (size_t)(slash - p);
		if (n == 0 || n > TP_S3_KEY_MAX) {
			close(dir);
			return -EINVAL;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (create) {
			if (mkdirat(dir, comp, 0750) == 0) {
				if (fsync(dir) != 0) {
					int e = -errno;
					close(dir);
					return e;
				}
			} else if (errno != EEXIST) {
				int e = -errno;
				close(dir);
				return e;
			}
		}
		int next = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = -errno;
		close(dir);
		if (next < 0)
			return e;
		dir = next;
		p = slash + 1;
	}
	*base = p;
	return dir;
}

static int local_put(struct tp_aggstore *st, const char *key, const uint8_t *body, size_t len)
{
	const char *base = NULL;
	int dir = open_parent(st, key, true, &base);
	if (dir < 0)
		return dir;
	char tmp[TP_S3_KEY_MAX + sizeof(TMP_SUFFIX)];
	int n = snprintf(tmp, sizeof(tmp), "%s%s", base, TMP_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		close(dir);
		return TP_EINVAL;
	}
	int rc = 0;
	int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		close(dir);
		return rc;
	}
	rc = tp_write_all(fd, body, len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dir, tmp, dir, base) != 0)
		rc = -errno;
	if (rc == 0 && fsync(dir) != 0)
		rc = -errno;
	if (rc != 0) {
		(void)unlinkat(dir, tmp, 0);
		(void)unlinkat(dir, base, 0);
	}
	close(dir);
	return rc;
}

/* Removes the object and its temporary file; absent is success. */
static int local_delete(struct tp_aggstore *st, const char *key)
{
	const char *base = NULL;
	int dir = open_parent(st, key, false, &base);
	if (dir == -ENOENT)
		return 0;
	if (dir < 0)
		return dir;
	char tmp[TP_S3_KEY_MAX + sizeof(TMP_SUFFIX)];
	int rc = 0;
	int n = snprintf(tmp, sizeof(tmp), "%s%s", base, TMP_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		rc = TP_EINVAL;
	if (rc == 0 && unlinkat(dir, tmp, 0) != 0 && errno != ENOENT)
		rc = -errno;
	if (rc == 0 && unlinkat(dir, base, 0) != 0 && errno != ENOENT)
		rc = -errno;
	if (rc == 0 && fsync(dir) != 0)
		rc = -errno;
	close(dir);
	return rc;
}

static int local_get(struct tp_aggstore *st, const char *key, uint64_t want, uint8_t **body,
		     size_t *len)
{
	const char *base = NULL;
	int dir = open_parent(st, key, false, &base);
	if (dir < 0)
		return dir;
	int fd = openat(dir, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int rc = fd < 0 ? -errno : 0;
	close(dir);
	if (rc != 0)
		return rc;
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
	} else if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != want ||
		   want > TP_AGG_PAYLOAD_MAX) {
		tp_log_limited(TP_LOG_ERR, aggstore, "payload file size differs from metadata");
		rc = TP_EMALF;
	}
	uint8_t *buf = NULL;
	if (rc == 0 && (buf = malloc(want > 0 ? (size_t)want : 1u)) == NULL)
		rc = -ENOMEM;
	size_t got = 0;
	while (rc == 0 && got < want) {
		ssize_t n = read(fd, buf + got, (size_t)want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else if (n == 0)
			rc = TP_ETRUNC;
		else
			got += (size_t)n;
	}
	close(fd);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*body = buf;
	*len = got;
	return 0;
}

static int object_delete(struct tp_aggstore *st, const char *key)
{
	return st->s3 != NULL ? tp_s3_delete(st->s3, key) : local_delete(st, key);
}

/* ---- metadata encoding ---------------------------------------------------- */

static char *meta_encode(const struct tp_agg_meta *m)
{
	json_t *o = json_object(), *h = json_array();
	char *out = NULL;
	if (o == NULL || h == NULL)
		goto done;
	int bad = json_object_set_new(o, "id", json_string(m->id)) |
		  json_object_set_new(o, "type", json_string(m->type)) |
		  json_object_set_new(o, "creator", json_string(m->creator)) |
		  json_object_set_new(o, "created", json_integer(m->created)) |
		  json_object_set_new(o, "content_type", json_string(m->content_type)) |
		  json_object_set_new(o, "content_length",
				      json_integer((json_int_t)m->content_length)) |
		  json_object_set_new(o, "content_digest", json_string(m->content_digest)) |
		  json_object_set_new(o, "bucket", json_string(m->bucket)) |
		  json_object_set_new(o, "object_key", json_string(m->object_key));
	if (m->has_interval)
		bad |= json_object_set_new(o, "interval_start_us",
					   json_integer(m->interval_start_us)) |
		       json_object_set_new(o, "interval_duration_s",
					   json_integer(m->interval_duration_s));
	for (size_t i = 0; i < m->n_headers; i++) {
		json_t *pair = json_pack("[ss]", m->headers[i].name, m->headers[i].value);
		bad |= json_array_append_new(h, pair);
	}
	bad |= json_object_set(o, "headers", h);
	if (bad == 0)
		out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
done:
	json_decref(h);
	json_decref(o);
	return out;
}

static bool copy_str(json_t *o, const char *name, char *dst, size_t size, bool may_be_empty)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_string(v))
		return false;
	size_t n = json_string_length(v);
	if (n >= size || (n == 0 && !may_be_empty) || strlen(json_string_value(v)) != n)
		return false;
	memcpy(dst, json_string_value(v), n + 1u);
	return true;
}

static bool get_int(json_t *o, const char *name, int64_t *out)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_integer(v))
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

static int meta_decode(const void *data, size_t len, struct tp_agg_meta *m)
{
	memset(m, 0, sizeof(*m));
	if (len > META_JSON_MAX)
		return TP_EMALF;
	json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	int64_t clen = 0;
	bool ok = json_is_object(o) && copy_str(o, "id", m->id, sizeof(m->id), false) &&
		  copy_str(o, "type", m->type, sizeof(m->type), false) &&
		  copy_str(o, "creator", m->creator, sizeof(m->creator), false) &&
		  get_int(o, "created", &m->created) &&
		  copy_str(o, "content_type", m->content_type, sizeof(m->content_type), false) &&
		  get_int(o, "content_length", &clen) && clen >= 0 &&
		  copy_str(o, "content_digest", m->content_digest, sizeof(m->content_digest),
			   false) &&
		  copy_str(o, "bucket", m->bucket, sizeof(m->bucket), true) &&
		  copy_str(o, "object_key", m->object_key, sizeof(m->object_key), false);
	m->content_length = (uint64_t)clen;
	if (ok && json_object_get(o, "interval_start_us") != NULL) {
		m->has_interval = get_int(o, "interval_start_us", &m->interval_start_us) &&
				  get_int(o, "interval_duration_s", &m->interval_duration_s);
		ok = m->has_interval;
	}
	json_t *h = ok ? json_object_get(o, "headers") : NULL;
	if (ok && (!json_is_array(h) || json_array_size(h) > TP_AGG_HEADERS_MAX))
		ok = false;
	for (size_t i = 0; ok && i < json_array_size(h); i++) {
		json_t *pair = json_array_get(h, i);
		json_t *name = json_array_get(pair, 0), *value = json_array_get(pair, 1);
		if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_string(name) ||
		    !json_is_string(value) ||
		    json_string_length(name) >= sizeof(m->headers[i].name) ||
		    json_string_length(value) > TP_AGG_HEADER_VALUE_MAX) {
			ok = false;
			break;
		}
		memcpy(m->headers[i].name, json_string_value(name), json_string_length(name) + 1u);
		m->headers[i].value = strdup(json_string_value(value));
		if (m->headers[i].value == NULL) {
			ok = false;
			break;
		}
		m->n_headers = i + 1u;
	}
	json_decref(o);
	if (!ok) {
		tp_agg_meta_clear(m);
		tp_log_limited(TP_LOG_ERR, aggstore, "unreadable metadata record in the index");
		return TP_EMALF;
	}
	return 0;
}

void tp_agg_meta_clear(struct tp_agg_meta *meta)
{
	if (meta == NULL)
		return;
	for (size_t i = 0; i < meta->n_headers && i < TP_AGG_HEADERS_MAX; i++) {
		free(meta->headers[i].value);
		meta->headers[i].value = NULL;
	}
	meta->n_headers = 0;
}

/* ---- creator statistics ---------------------------------------------------- */

struct creator_rec {
	uint64_t count, total_size;
	int64_t last_seen;
	char last_id[TP_AGG_ID_LEN + 1u];
};

static bool creator_decode(const MDB_val *v, struct creator_rec *r)
{
	if (v->mv_size != CREATOR_VALUE_LEN)
		return false;
	const uint8_t *p = v->mv_data;
	uint64_t le[3];
	memcpy(le, p, sizeof(le));
	r->count = le64toh(le[0]);
	r->total_size = le64toh(le[1]);
	r->last_seen = (int64_t)le64toh(le[2]);
	memcpy(r->last_id, p + 24, TP_AGG_ID_LEN);
	r->last_id[TP_AGG_ID_LEN] = '\0';
	return id_ok(r->last_id);
}

static void creator_encode(const struct creator_rec *r, uint8_t out[CREATOR_VALUE_LEN])
{
	uint64_t le[3] = { htole64(r->count), htole64(r->total_size),
			   htole64((uint64_t)r->last_seen) };
	memcpy(out, le, sizeof(le));
	memcpy(out + 24, r->last_id, TP_AGG_ID_LEN);
}

/* ---- open, recovery, close --------------------------------------------------- */

static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return TP_EINVAL;
	memcpy(buf, path, n + 1u);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	return 0;
}

/* Delete the objects of puts a crash interrupted, then their records. */
static int recover(struct tp_aggstore *st)
{
	uint64_t done = 0;
	for (;;) {
		struct {
			char id[TP_AGG_ID_LEN + 1u];
			char key[TP_S3_KEY_MAX + 1u];
			bool has_meta;
		} *batch = calloc(RECOVER_BATCH, sizeof(*batch));
		if (batch == NULL)
			return -ENOMEM;
		size_t n = 0;
		MDB_txn *txn;
		MDB_cursor *cur;
		int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
		if (rc == 0 && (rc = mdb_cursor_open(txn, st->db_pending, &cur)) != 0)
			mdb_txn_abort(txn);
		if (rc != 0) {
			free(batch);
			return tp_lmdb_err(rc);
		}
		MDB_val k, v;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < RECOVER_BATCH;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size != TP_AGG_ID_LEN || v.mv_size == 0 ||
			    v.mv_size > TP_S3_KEY_MAX) {
				rc = MDB_CORRUPTED;
				break;
			}
			memcpy(batch[n].id, k.mv_data, TP_AGG_ID_LEN);
			memcpy(batch[n].key, v.mv_data, v.mv_size);
			MDB_val mk = k, mv;
			batch[n].has_meta = mdb_get(txn, st->db_meta, &mk, &mv) == 0;
			n++;
		}
		mdb_cursor_close(cur);
		mdb_txn_abort(txn);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			free(batch);
			return tp_lmdb_err(rc);
		}
		for (size_t i = 0; i < n; i++) {
			/* A record with metadata cannot come from our puts
			 * (one transaction drops the one and writes the
			 * other); its object is known, so keep it. */
			int orc = batch[i].has_meta ? 0 : object_delete(st, batch[i].key);
			if (orc != 0) {
				tp_log_err(aggstore, "recovery: cannot delete an orphan object: %s",
					   tp_strerror(orc));
				free(batch);
				return orc;
			}
			if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
				free(batch);
				return tp_lmdb_err(rc);
			}
			MDB_val dk = { .mv_size = TP_AGG_ID_LEN, .mv_data = batch[i].id };
			rc = mdb_del(txn, st->db_pending, &dk, NULL);
			if (rc != 0 && rc != MDB_NOTFOUND) {
				mdb_txn_abort(txn);
				free(batch);
				return tp_lmdb_err(rc);
			}
			if ((rc = mdb_txn_commit(txn)) != 0) {
				free(batch);
				return tp_lmdb_err(rc);
			}
			done++;
		}
		free(batch);
		if (n < RECOVER_BATCH)
			break;
	}
	if (done > 0)
		tp_log_notice(aggstore, "recovery: removed %" PRIu64 " interrupted put(s)", done);
	return 0;
}

static int open_env(struct tp_aggstore *st, const char *dir)
{
	int rc = mdb_env_create(&st->env);
	if (rc != 0) {
		st->env = NULL;
		return tp_lmdb_err(rc);
	}
	MDB_txn *txn;
	if ((rc = mdb_env_set_mapsize(st->env, (size_t)MAP_SIZE)) != 0 ||
	    (rc = mdb_env_set_maxreaders(st->env, MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, N_DBS)) != 0 ||
	    (rc = mdb_env_open(st->env, dir, 0, 0600)) != 0)
		return tp_lmdb_err(rc);
	int dead = 0;
	if ((rc = mdb_reader_check(st->env, &dead)) != 0)
		return tp_lmdb_err(rc);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		return tp_lmdb_err(rc);
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->db_meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "digest", MDB_CREATE, &st->db_digest)) != 0 ||
	    (rc = mdb_dbi_open(txn, "creator", MDB_CREATE, &st->db_creator)) != 0 ||
	    (rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &st->db_pending)) != 0) {
		mdb_txn_abort(txn);
		return tp_lmdb_err(rc);
	}
	return tp_lmdb_err(mdb_txn_commit(txn));
}

int tp_aggstore_open(const struct tp_aggstore_config *cfg, struct tp_aggstore **out)
{
	if (out != NULL)
		*out = NULL;
	if (cfg == NULL || out == NULL || cfg->index_dir == NULL ||
	    (cfg->local_dir == NULL) == (cfg->s3 == NULL)) {
		tp_log_err(aggstore, "an index directory and exactly one backend are required");
		return TP_EINVAL;
	}
	struct tp_aggstore *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->lock_fd = st->root_fd = -1;
	st->crash_hook = cfg->crash_hook;
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		free(st);
		return TP_EBUG;
	}
	if (pthread_cond_init(&st->cond, NULL) != 0) {
		pthread_mutex_destroy(&st->lock);
		free(st);
		return TP_EBUG;
	}
	uint8_t seed[8];
	int rc = mkdir_p(cfg->index_dir);
	if (rc == 0 && getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		rc = TP_EBUG;
	if (rc != 0)
		goto fail;
	memcpy(st->rnd, seed, sizeof(st->rnd));
	atomic_init(&st->counter, (uint32_t)seed[5] << 16 | (uint32_t)seed[6] << 8 | seed[7]);

	char lock_path[4200];
	int n = snprintf(lock_path, sizeof(lock_path), "%s/%s", cfg->index_dir, LOCK_NAME);
	if (n < 0 || (size_t)n >= sizeof(lock_path)) {
		rc = TP_EINVAL;
		goto fail;
	}
	st->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		tp_log_err(aggstore, "the index is in use by another process");
		goto fail;
	}
	if ((rc = open_env(st, cfg->index_dir)) != 0) {
		tp_log_err(aggstore, "cannot open the index: %s", tp_strerror(rc));
		goto fail;
	}
	if (cfg->local_dir != NULL) {
		if ((rc = mkdir_p(cfg->local_dir)) != 0)
			goto fail;
		st->root_fd = open(cfg->local_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (st->root_fd < 0) {
			rc = -errno;
			goto fail;
		}
	} else {
		if ((rc = tp_s3_new(cfg->s3, &st->s3)) != 0)
			goto fail;
		snprintf(st->bucket, sizeof(st->bucket), "%s", cfg->s3->bucket);
		rc = cfg->s3_create_bucket ? tp_s3_bucket_create(st->s3)
					   : tp_s3_bucket_check(st->s3);
		if (rc != 0) {
			tp_log_err(aggstore, "S3 bucket not usable: %s", tp_strerror(rc));
			goto fail;
		}
	}
	if ((rc = recover(st)) != 0)
		goto fail;
	*out = st;
	return 0;
fail:
	tp_aggstore_close(st);
	return rc;
}

void tp_aggstore_close(struct tp_aggstore *st)
{
	if (st == NULL)
		return;
	if (st->env != NULL)
		mdb_env_close(st->env);
	tp_s3_free(st->s3);
	if (st->root_fd >= 0)
		close(st->root_fd);
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* ---- lookups --------------------------------------------------------------- */

int tp_aggstore_find_digest(struct tp_aggstore *st, const char *digest,
			    char id[TP_AGG_ID_LEN + 1u])
{
	if (st == NULL || digest == NULL || id == NULL)
		return TP_EINVAL;
	id[0] = '\0';
	size_t dl = strlen(digest);
	if (dl == 0 || dl > 255u)
		return -ENOENT;
	MDB_txn *txn;
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return tp_lmdb_err(rc);
	MDB_val k = { .mv_size = dl, .mv_data = (void *)digest }, v;
	rc = mdb_get(txn, st->db_digest, &k, &v);
	if (rc == 0 && v.mv_size != TP_AGG_ID_LEN)
		rc = MDB_CORRUPTED;
	if (rc == 0) {
		memcpy(id, v.mv_data, TP_AGG_ID_LEN);
		id[TP_AGG_ID_LEN] = '\0';
	}
	mdb_txn_abort(txn);
	return tp_lmdb_err(rc);
}

int tp_aggstore_get_meta(struct tp_aggstore *st, const char *id, struct tp_agg_meta *meta)
{
	if (meta != NULL)
		memset(meta, 0, sizeof(*meta));
	if (st == NULL || meta == NULL)
		return TP_EINVAL;
	if (!id_ok(id))
		return -ENOENT;
	MDB_txn *txn;
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return tp_lmdb_err(rc);
	MDB_val k = { .mv_size = TP_AGG_ID_LEN, .mv_data = (void *)id }, v;
	rc = mdb_get(txn, st->db_meta, &k, &v);
	int err = rc == 0 ? meta_decode(v.mv_data, v.mv_size, meta) : tp_lmdb_err(rc);
	mdb_txn_abort(txn);
	return err;
}

int tp_aggstore_get_payload(struct tp_aggstore *st, const char *id, uint8_t **body, size_t *len)
{
	if (body != NULL)
		*body = NULL;
	if (len != NULL)
		*len = 0;
	if (st == NULL || body == NULL || len == NULL)
		return TP_EINVAL;
	struct tp_agg_meta m;
	int rc = tp_aggstore_get_meta(st, id, &m);
	if (rc != 0)
		return rc;
	tp_agg_meta_clear(&m);
	if (m.content_length > TP_AGG_PAYLOAD_MAX)
		return TP_EMALF;
	if (st->s3 == NULL)
		return local_get(st, m.object_key, m.content_length, body, len);
	rc = tp_s3_get(st->s3, m.object_key, (size_t)m.content_length, body, len, NULL);
	if (rc == 0 && *len != m.content_length) {
		free(*body);
		*body = NULL;
		*len = 0;
		rc = TP_EMALF;
	}
	return rc;
}

int tp_aggstore_stats(struct tp_aggstore *st, uint64_t *count, uint64_t *total_size,
		      void (*each)(void *ctx, const struct tp_agg_creator_stats *c), void *ctx)
{
	if (count != NULL)
		*count = 0;
	if (total_size != NULL)
		*total_size = 0;
	if (st == NULL)
		return TP_EINVAL;
	MDB_txn *txn;
	MDB_cursor *cur;
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return tp_lmdb_err(rc);
	if ((rc = mdb_cursor_open(txn, st->db_creator, &cur)) != 0) {
		mdb_txn_abort(txn);
		return tp_lmdb_err(rc);
	}
	uint64_t c = 0, s = 0;
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct creator_rec r;
		char name[256];
		if (k.mv_size == 0 || k.mv_size >= sizeof(name) || !creator_decode(&v, &r)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		c += r.count;
		s += r.total_size;
		if (each != NULL) {
			struct tp_agg_creator_stats cs = { .creator = name, .last_id = r.last_id,
							   .last_seen = r.last_seen,
							   .count = r.count,
							   .total_size = r.total_size };
			each(ctx, &cs);
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND)
		return tp_lmdb_err(rc);
	if (count != NULL)
		*count = c;
	if (total_size != NULL)
		*total_size = s;
	return 0;
}

int tp_aggstore_check(struct tp_aggstore *st, const char **what)
{
	if (what != NULL)
		*what = NULL;
	if (st == NULL)
		return TP_EINVAL;
	MDB_txn *txn;
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0) {
		if (what != NULL)
			*what = "index";
		return TP_ECONN;
	}
	mdb_txn_abort(txn);
	if (st->s3 != NULL && tp_s3_bucket_check(st->s3) != 0) {
		if (what != NULL)
			*what = "s3";
		return TP_ECONN;
	}
	return 0;
}

/* ---- put ------------------------------------------------------------------- */

static int pending_set(struct tp_aggstore *st, const char *id, const char *key, bool add)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc != 0)
		return tp_lmdb_err(rc);
	MDB_val k = { .mv_size = TP_AGG_ID_LEN, .mv_data = (void *)id };
	MDB_val v = { .mv_size = strlen(key), .mv_data = (void *)key };
	rc = add ? mdb_put(txn, st->db_pending, &k, &v, MDB_NOOVERWRITE)
		 : mdb_del(txn, st->db_pending, &k, NULL);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return tp_lmdb_err(rc);
	}
	return tp_lmdb_err(mdb_txn_commit(txn));
}

/* The second commit: pending out; meta, digest and creator in. */
static int commit_meta(struct tp_aggstore *st, const struct tp_agg_meta *m, const char *json)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc != 0)
		return tp_lmdb_err(rc);
	MDB_val id = { .mv_size = TP_AGG_ID_LEN, .mv_data = (void *)m->id };
	MDB_val jv = { .mv_size = strlen(json), .mv_data = (void *)json };
	MDB_val dk = { .mv_size = strlen(m->content_digest), .mv_data = (void *)m->content_digest };
	MDB_val ck = { .mv_size = strlen(m->creator), .mv_data = (void *)m->creator };
	MDB_val cv;
	struct creator_rec r = { 0 };
	uint8_t cbuf[CREATOR_VALUE_LEN];
	if ((rc = mdb_del(txn, st->db_pending, &id, NULL)) != 0 ||
	    (rc = mdb_put(txn, st->db_meta, &id, &jv, MDB_NOOVERWRITE)) != 0 ||
	    (rc = mdb_put(txn, st->db_digest, &dk, &id, MDB_NOOVERWRITE)) != 0)
		goto abort;
	rc = mdb_get(txn, st->db_creator, &ck, &cv);
	if (rc == 0 && !creator_decode(&cv, &r))
		rc = MDB_CORRUPTED;
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto abort;
	r.count++;
	r.total_size += m->content_length;
	if (rc == MDB_NOTFOUND || strcmp(m->id, r.last_id) > 0) {
		memcpy(r.last_id, m->id, TP_AGG_ID_LEN + 1u);
		r.last_seen = m->created;
	}
	creator_encode(&r, cbuf);
	cv.mv_size = sizeof(cbuf);
	cv.mv_data = cbuf;
	if ((rc = mdb_put(txn, st->db_creator, &ck, &cv, 0)) != 0)
		goto abort;
	return tp_lmdb_err(mdb_txn_commit(txn));
abort:
	mdb_txn_abort(txn);
	return tp_lmdb_err(rc);
}

static int s3_put_object(struct tp_aggstore *st, const struct tp_agg_meta *m, const void *body,
			 size_t len)
{
	/* core-spec §1.8: the reference's user metadata. */
	char created[21], start[21], duration[24];
	struct tp_s3_meta sm[6] = {
		{ "aggregate-id", m->id },
		{ "aggregate-type", m->type },
		{ "created", created },
		{ "creator", m->creator },
		{ "interval-start", start },
		{ "interval-duration", duration },
	};
	size_t n = 4;
	int rc = iso_utc(m->created, created);
	if (rc == 0 && m->has_interval) {
		int64_t s = m->interval_start_us / 1000000;
		if (m->interval_start_us % 1000000 < 0)
			s--;
		rc = iso_utc(s, start);
		snprintf(duration, sizeof(duration), "%" PRId64, m->interval_duration_s);
		n = 6;
	}
	if (rc != 0)
		return rc;
	return tp_s3_put(st->s3, m->object_key, body, len, m->content_type, sm, n);
}

static void hook(const struct tp_aggstore *st, int stage)
{
	if (st->crash_hook != NULL)
		st->crash_hook(stage);
}

static int put_new(struct tp_aggstore *st, struct tp_agg_meta *m, const void *body, size_t len)
{
	int rc = new_id(st, m->id, &m->created);
	if (rc != 0)
		return rc;
	snprintf(m->bucket, sizeof(m->bucket), "%s", st->s3 != NULL ? st->bucket : "");
	m->content_length = len;
	if ((rc = make_key(m, m->object_key, sizeof(m->object_key))) != 0)
		return rc;
	char *json = meta_encode(m);
	if (json == NULL)
		return -ENOMEM;
	if ((rc = pending_set(st, m->id, m->object_key, true)) != 0) {
		free(json);
		return rc;
	}
	hook(st, TP_AGG_STAGE_PENDING);
	rc = st->s3 != NULL ? s3_put_object(st, m, body, len) : local_put(st, m->object_key, body, len);
	if (rc == 0) {
		hook(st, TP_AGG_STAGE_OBJECT);
		rc = commit_meta(st, m, json);
		if (rc != 0 && object_delete(st, m->object_key) != 0) {
			/* The pending record stays: the next open deletes it. */
			free(json);
			return rc;
		}
	}
	free(json);
	if (rc != 0 && pending_set(st, m->id, m->object_key, false) != 0)
		tp_log_err(aggstore, "a failed put stays pending until the next open");
	return rc;
}

static bool in_flight(const struct tp_aggstore *st, const char *digest)
{
	for (const struct inflight *f = st->inflight; f != NULL; f = f->next)
		if (strcmp(f->digest, digest) == 0)
			return true;
	return false;
}

int tp_aggstore_put(struct tp_aggstore *st, struct tp_agg_meta *meta, const void *body, size_t len)
{
	if (st == NULL || meta == NULL || (body == NULL && len > 0) || check_meta(meta) != 0)
		return TP_EINVAL;
	if (len > TP_AGG_PAYLOAD_MAX)
		return TP_ETOOBIG;

	struct inflight me = { .digest = meta->content_digest, .next = NULL };
	char existing[TP_AGG_ID_LEN + 1u];
	pthread_mutex_lock(&st->lock);
	while (in_flight(st, meta->content_digest))
		pthread_cond_wait(&st->cond, &st->lock);
	int rc = tp_aggstore_find_digest(st, meta->content_digest, existing);
	if (rc != -ENOENT) {
		pthread_mutex_unlock(&st->lock);
		if (rc == 0) {
			memcpy(meta->id, existing, sizeof(existing));
			return TP_EEXIST;
		}
		return rc;
	}
	me.next = st->inflight;
	st->inflight = &me;
	pthread_mutex_unlock(&st->lock);

	rc = put_new(st, meta, body, len);

	pthread_mutex_lock(&st->lock);
	for (struct inflight **p = &st->inflight; *p != NULL; p = &(*p)->next) {
		if (*p == &me) {
			*p = me.next;
			break;
		}
	}
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	return rc;
}
