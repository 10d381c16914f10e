/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_aggstore.c - the aggregate store (lib/store/aggstore.h) with the
 * local backend: put and read back (metadata, payload, the file on disk
 * under the Hive key, whose layout this test formats itself from the id's
 * time), duplicate digests, per-creator statistics, reopening, a second
 * process refused, crash recovery (a child process _exit()s inside a put
 * through the crash_hook test hook: after the pending record, and with the
 * object durable but no metadata; reopening must leave no file and no
 * record), and 4 threads racing on one digest (exactly one stored).
 * Each test works in a fresh directory under $TMPDIR and removes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/aggstore.h"

#define PARQUET "application/vnd.apache.parquet"

struct fixture {
	char root[256];
	char index[300];
	char local[300];
};

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	const char *tmp = getenv("TMPDIR");
	snprintf(f->root, sizeof(f->root), "%s/tapir-aggstore-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->index, sizeof(f->index), "%s/index", f->root);
	snprintf(f->local, sizeof(f->local), "%s/objects", f->root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	nftw(f->root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct tp_aggstore *open_store(const struct fixture *f, void (*hook)(int))
{
	struct tp_aggstore_config cfg = { .index_dir = f->index, .local_dir = f->local,
					  .crash_hook = hook };
	struct tp_aggstore *st = NULL;
	assert_int_equal(tp_aggstore_open(&cfg, &st), 0);
	assert_non_null(st);
	return st;
}

static void fill(struct tp_agg_meta *m, const char *type, const char *creator,
		 const char *content_type, const char *digest)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->type, sizeof(m->type), "%s", type);
	snprintf(m->creator, sizeof(m->creator), "%s", creator);
	snprintf(m->content_type, sizeof(m->content_type), "%s", content_type);
	snprintf(m->content_digest, sizeof(m->content_digest), "%s", digest);
}

/* Regular files below dir; *n_tmp of them end in ".tmp". */
static size_t g_files, g_tmp;
static int count_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_F) {
		g_files++;
		size_t n = strlen(path);
		if (n > 4 && strcmp(path + n - 4, ".tmp") == 0)
			g_tmp++;
	}
	return 0;
}

static size_t count_files(const char *dir, size_t *n_tmp)
{
	g_files = g_tmp = 0;
	nftw(dir, count_cb, 16, FTW_PHYS);
	if (n_tmp != NULL)
		*n_tmp = g_tmp;
	return g_files;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	uint8_t *buf = malloc(1u << 20);
	assert_non_null(buf);
	*len = fread(buf, 1, 1u << 20, fp);
	fclose(fp);
	return buf;
}

/* The Hive key of core-spec §1.8, formatted here from the id's seconds. */
static void expected_key(const struct tp_agg_meta *m, const char *suffix, char *out, size_t size)
{
	char hex[9];
	memcpy(hex, m->id, 8);
	hex[8] = '\0';
	time_t t = (time_t)strtoul(hex, NULL, 16);
	struct tm tm;
	assert_non_null(gmtime_r(&t, &tm));
	char stamp[96];
	strftime(stamp, sizeof(stamp),
		 "year=%Y/month=%m/day=%d/hour=%H/minute=%M/second=%S", &tm);
	snprintf(out, size, "type=%s/%s/creator=%s/id=%s%s", m->type, stamp, m->creator, m->id,
		 suffix);
}

static void test_aggstore_put_and_read_back(void **state)
{
	struct fixture *f = *state;
	struct tp_aggstore *st = open_store(f, NULL);
	static const uint8_t body[] = "PAR1 not really parquet PAR1";
	struct tp_agg_meta m;
	fill(&m, "histogram", "edge-1.example", PARQUET, "sha-256=:abc=:");
	m.has_interval = true;
	m.interval_start_us = 1700000000123456;
	m.interval_duration_s = 60;
	m.n_headers = 2;
	snprintf(m.headers[0].name, sizeof(m.headers[0].name), "user-agent");
	m.headers[0].value = "edm/1.0 linux/amd64";
	snprintf(m.headers[1].name, sizeof(m.headers[1].name), "aggregate-interval");
	m.headers[1].value = "2023-11-14T22:13:20Z/PT1M";

	time_t before = time(NULL);
	assert_int_equal(tp_aggstore_put(st, &m, body, sizeof(body)), 0);
	time_t after = time(NULL);

	/* Id: 24 lower-case hex digits, the first 8 the creation second. */
	assert_int_equal(strlen(m.id), 24);
	assert_int_equal(strspn(m.id, "0123456789abcdef"), 24);
	char hex[9];
	snprintf(hex, sizeof(hex), "%.8s", m.id);
	int64_t t = (int64_t)strtoul(hex, NULL, 16);
	assert_true(t >= before && t <= after);
	assert_int_equal(m.created, t);
	assert_int_equal(m.content_length, sizeof(body));
	assert_string_equal(m.bucket, "");
	char want[1200];
	expected_key(&m, ".parquet", want, sizeof(want));
	assert_string_equal(m.object_key, want);

	/* The file on disk holds the payload, and nothing else is there. */
	char path[1600];
	snprintf(path, sizeof(path), "%s/%s", f->local, want);
	size_t flen = 0;
	uint8_t *fbody = read_file(path, &flen);
	assert_non_null(fbody);
	assert_int_equal(flen, sizeof(body));
	assert_memory_equal(fbody, body, sizeof(body));
	free(fbody);
	size_t n_tmp = 9;
	assert_int_equal(count_files(f->local, &n_tmp), 1);
	assert_int_equal(n_tmp, 0);

	struct tp_agg_meta got;
	assert_int_equal(tp_aggstore_get_meta(st, m.id, &got), 0);
	assert_string_equal(got.id, m.id);
	assert_string_equal(got.type, "histogram");
	assert_string_equal(got.creator, "edge-1.example");
	assert_int_equal(got.created, t);
	assert_string_equal(got.content_type, PARQUET);
	assert_int_equal(got.content_length, sizeof(body));
	assert_string_equal(got.content_digest, "sha-256=:abc=:");
	assert_string_equal(got.object_key, want);
	assert_true(got.has_interval);
	assert_int_equal(got.interval_start_us, 1700000000123456);
	assert_int_equal(got.interval_duration_s, 60);
	assert_int_equal(got.n_headers, 2);
	assert_string_equal(got.headers[0].name, "user-agent");
	assert_string_equal(got.headers[0].value, "edm/1.0 linux/amd64");
	assert_string_equal(got.headers[1].name, "aggregate-interval");
	assert_string_equal(got.headers[1].value, "2023-11-14T22:13:20Z/PT1M");
	tp_agg_meta_clear(&got);

	uint8_t *payload = NULL;
	size_t plen = 0;
	assert_int_equal(tp_aggstore_get_payload(st, m.id, &payload, &plen), 0);
	assert_int_equal(plen, sizeof(body));
	assert_memory_equal(payload, body, sizeof(body));
	free(payload);

	char id[TP_AGG_ID_LEN + 1u];
	assert_int_equal(tp_aggstore_find_digest(st, "sha-256=:abc=:", id), 0);
	assert_string_equal(id, m.id);
	assert_int_equal(tp_aggstore_find_digest(st, "sha-256=:other=:", id), -ENOENT);

	/* Not Parquet: no suffix. An empty payload is a payload. */
	struct tp_agg_meta b;
	fill(&b, "test", "edge-1.example", "application/binary", "sha-256=:empty=:");
	assert_int_equal(tp_aggstore_put(st, &b, NULL, 0), 0);
	expected_key(&b, "", want, sizeof(want));
	assert_string_equal(b.object_key, want);
	assert_false(b.has_interval);
	assert_int_equal(tp_aggstore_get_payload(st, b.id, &payload, &plen), 0);
	assert_int_equal(plen, 0);
	free(payload);
	assert_int_equal(tp_aggstore_get_meta(st, b.id, &got), 0);
	assert_false(got.has_interval);
	assert_int_equal(got.n_headers, 0);
	tp_agg_meta_clear(&got);

	/* Unknown and malformed ids. */
	assert_int_equal(tp_aggstore_get_meta(st, "000000000000000000000000", &got), -ENOENT);
	assert_int_equal(tp_aggstore_get_meta(st, "../../etc/passwd", &got), -ENOENT);
	assert_int_equal(tp_aggstore_get_meta(st, "0123456789ABCDEF01234567", &got), -ENOENT);
	assert_int_equal(tp_aggstore_get_payload(st, "ffffffffffffffffffffffff", &payload, &plen),
			 -ENOENT);

	const char *what = "x";
	assert_int_equal(tp_aggstore_check(st, &what), 0);
	assert_null(what);
	tp_aggstore_close(st);

	/* Everything survives a reopen. */
	st = open_store(f, NULL);
	assert_int_equal(tp_aggstore_get_meta(st, m.id, &got), 0);
	assert_string_equal(got.content_digest, "sha-256=:abc=:");
	tp_agg_meta_clear(&got);
	assert_int_equal(tp_aggstore_get_payload(st, m.id, &payload, &plen), 0);
	assert_memory_equal(payload, body, sizeof(body));
	free(payload);
	tp_aggstore_close(st);
}

static void test_aggstore_rejects_bad_input(void **state)
{
	struct fixture *f = *state;
	struct tp_aggstore *st = open_store(f, NULL);
	struct tp_agg_meta m;
	fill(&m, "histogram", "../evil", PARQUET, "d1");
	assert_int_equal(tp_aggstore_put(st, &m, "x", 1), TP_EINVAL);
	fill(&m, "histogram", "a/b", PARQUET, "d1");
	assert_int_equal(tp_aggstore_put(st, &m, "x", 1), TP_EINVAL);
	fill(&m, "Histogram", "edge", PARQUET, "d1");
	assert_int_equal(tp_aggstore_put(st, &m, "x", 1), TP_EINVAL);
	fill(&m, "histogram", "edge", PARQUET, "");
	assert_int_equal(tp_aggstore_put(st, &m, "x", 1), TP_EINVAL);
	fill(&m, "histogram", "", PARQUET, "d1");
	assert_int_equal(tp_aggstore_put(st, &m, "x", 1), TP_EINVAL);
	fill(&m, "histogram", "edge", PARQUET, "d1");
	m.n_headers = 1;
	snprintf(m.headers[0].name, sizeof(m.headers[0].name), "x-h");
	m.headers[0].value = NULL;
	assert_int_equal(tp_aggstore_put(st, &m, "x", 1), TP_EINVAL);
	fill(&m, "histogram", "edge", PARQUET, "d1");
	assert_int_equal(tp_aggstore_put(st, &m, "x", (size_t)TP_AGG_PAYLOAD_MAX + 1u),
			 TP_ETOOBIG);
	assert_int_equal(count_files(f->local, NULL), 0);

	/* A second opener (here: the same process, another lock file
	 * description) is refused while the store is open. */
	struct tp_aggstore_config cfg = { .index_dir = f->index, .local_dir = f->local };
	struct tp_aggstore *other = NULL;
	assert_int_equal(tp_aggstore_open(&cfg, &other), -EBUSY);
	assert_null(other);
	struct tp_aggstore_config none = { .index_dir = f->index };
	assert_int_equal(tp_aggstore_open(&none, &other), TP_EINVAL);
	tp_aggstore_close(st);
}

struct collected {
	size_t n;
	char creator[4][64];
	char last_id[4][TP_AGG_ID_LEN + 1u];
	int64_t last_seen[4];
	uint64_t count[4], size[4];
};

static void collect(void *ctx, const struct tp_agg_creator_stats *c)
{
	struct collected *col = ctx;
	assert_true(col->n < 4);
	snprintf(col->creator[col->n], sizeof(col->creator[0]), "%s", c->creator);
	snprintf(col->last_id[col->n], sizeof(col->last_id[0]), "%s", c->last_id);
	col->last_seen[col->n] = c->last_seen;
	col->count[col->n] = c->count;
	col->size[col->n] = c->total_size;
	col->n++;
}

static void test_aggstore_duplicates_and_stats(void **state)
{
	struct fixture *f = *state;
	struct tp_aggstore *st = open_store(f, NULL);
	uint64_t count = 9, size = 9;
	assert_int_equal(tp_aggstore_stats(st, &count, &size, NULL, NULL), 0);
	assert_int_equal(count, 0);
	assert_int_equal(size, 0);

	struct tp_agg_meta a, b, c, dup;
	fill(&a, "histogram", "zulu", PARQUET, "sha-256=:A=:");
	fill(&b, "histogram", "alpha", PARQUET, "sha-256=:B=:");
	fill(&c, "vector", "zulu", "application/binary", "sha-256=:C=:");
	assert_int_equal(tp_aggstore_put(st, &a, "0123456789", 10), 0);
	assert_int_equal(tp_aggstore_put(st, &b, "01234", 5), 0);
	assert_int_equal(tp_aggstore_put(st, &c, "012", 3), 0);

	/* Same digest, other body and creator: nothing stored, first id. */
	fill(&dup, "histogram", "alpha", PARQUET, "sha-256=:A=:");
	assert_int_equal(tp_aggstore_put(st, &dup, "zz", 2), TP_EEXIST);
	assert_string_equal(dup.id, a.id);
	assert_int_equal(count_files(f->local, NULL), 3);

	struct collected col = { 0 };
	assert_int_equal(tp_aggstore_stats(st, &count, &size, collect, &col), 0);
	assert_int_equal(count, 3);
	assert_int_equal(size, 18);
	assert_int_equal(col.n, 2);
	assert_string_equal(col.creator[0], "alpha"); /* creator order */
	assert_int_equal(col.count[0], 1);
	assert_int_equal(col.size[0], 5);
	assert_string_equal(col.last_id[0], b.id);
	assert_int_equal(col.last_seen[0], b.created);
	assert_string_equal(col.creator[1], "zulu");
	assert_int_equal(col.count[1], 2);
	assert_int_equal(col.size[1], 13);
	/* last = the highest id (ids grow with time and the counter). */
	const char *last = strcmp(a.id, c.id) > 0 ? a.id : c.id;
	assert_string_equal(col.last_id[1], last);
	tp_aggstore_close(st);
}

/* ---- crash recovery --------------------------------------------------- */

static int g_crash_stage;

static void crash_at(int stage)
{
	if (stage == g_crash_stage)
		_exit(42);
}

/* A child opens the store and dies inside a put at stage. */
static void crash_child(const struct fixture *f, int stage)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		g_crash_stage = stage;
		struct tp_aggstore_config cfg = { .index_dir = f->index, .local_dir = f->local,
						  .crash_hook = crash_at };
		struct tp_aggstore *st = NULL;
		if (tp_aggstore_open(&cfg, &st) != 0)
			_exit(1);
		struct tp_agg_meta m;
		fill(&m, "histogram", "edge-crash", PARQUET, "sha-256=:crash=:");
		int rc = tp_aggstore_put(st, &m, "payload!", 8);
		_exit(rc == 0 ? 2 : 3); /* the hook did not fire */
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
}

static void test_aggstore_recovers_interrupted_puts(void **state)
{
	struct fixture *f = *state;
	/* One aggregate stored properly first: recovery must keep it. */
	struct tp_aggstore *st = open_store(f, NULL);
	struct tp_agg_meta keep;
	fill(&keep, "histogram", "edge-ok", PARQUET, "sha-256=:keep=:");
	assert_int_equal(tp_aggstore_put(st, &keep, "kept", 4), 0);
	tp_aggstore_close(st);

	/* Object durable, no metadata: the orphan is on disk ... */
	crash_child(f, TP_AGG_STAGE_OBJECT);
	assert_int_equal(count_files(f->local, NULL), 2);
	/* ... and open() removes it, and its pending record. */
	st = open_store(f, NULL);
	size_t n_tmp = 9;
	assert_int_equal(count_files(f->local, &n_tmp), 1);
	assert_int_equal(n_tmp, 0);
	char id[TP_AGG_ID_LEN + 1u];
	assert_int_equal(tp_aggstore_find_digest(st, "sha-256=:crash=:", id), -ENOENT);
	uint64_t count = 0, size = 0;
	assert_int_equal(tp_aggstore_stats(st, &count, &size, NULL, NULL), 0);
	assert_int_equal(count, 1);
	uint8_t *p = NULL;
	size_t len = 0;
	assert_int_equal(tp_aggstore_get_payload(st, keep.id, &p, &len), 0);
	assert_int_equal(len, 4);
	free(p);
	tp_aggstore_close(st);

	/* Pending only (died before writing): nothing to find either. */
	crash_child(f, TP_AGG_STAGE_PENDING);
	st = open_store(f, NULL);
	assert_int_equal(count_files(f->local, NULL), 1);
	assert_int_equal(tp_aggstore_find_digest(st, "sha-256=:crash=:", id), -ENOENT);

	/* The client retries: now it is stored. */
	struct tp_agg_meta again;
	fill(&again, "histogram", "edge-crash", PARQUET, "sha-256=:crash=:");
	assert_int_equal(tp_aggstore_put(st, &again, "payload!", 8), 0);
	assert_int_equal(count_files(f->local, NULL), 2);
	tp_aggstore_close(st);

	/* A clean reopen changes nothing. */
	st = open_store(f, NULL);
	assert_int_equal(count_files(f->local, NULL), 2);
	assert_int_equal(tp_aggstore_find_digest(st, "sha-256=:crash=:", id), 0);
	assert_string_equal(id, again.id);
	tp_aggstore_close(st);
}

/* ---- concurrency ------------------------------------------------------- */

#define N_THREADS 4

struct racer {
	struct tp_aggstore *st;
	pthread_barrier_t *barrier;
	int rc;
	char id[TP_AGG_ID_LEN + 1u];
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct tp_agg_meta m;
	fill(&m, "histogram", "edge-race", PARQUET, "sha-256=:same=:");
	pthread_barrier_wait(r->barrier);
	r->rc = tp_aggstore_put(r->st, &m, "same body", 9);
	memcpy(r->id, m.id, sizeof(r->id));
	return NULL;
}

static void test_aggstore_one_digest_four_threads(void **state)
{
	struct fixture *f = *state;
	struct tp_aggstore *st = open_store(f, NULL);
	for (int round = 0; round < 5; round++) {
		pthread_barrier_t barrier;
		assert_int_equal(pthread_barrier_init(&barrier, NULL, N_THREADS), 0);
		struct racer r[N_THREADS];
		pthread_t th[N_THREADS];
		for (int i = 0; i < N_THREADS; i++) {
			r[i] = (struct racer){ .st = st, .barrier = &barrier, .rc = 1 };
			assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
		}
		for (int i = 0; i < N_THREADS; i++)
			assert_int_equal(pthread_join(th[i], NULL), 0);
		pthread_barrier_destroy(&barrier);
		int stored = 0;
		for (int i = 0; i < N_THREADS; i++) {
			if (r[i].rc == 0)
				stored++;
			else
				assert_int_equal(r[i].rc, TP_EEXIST);
			assert_string_equal(r[i].id, r[0].id);
		}
		/* Exactly one stored, in the first round; none after. */
		assert_int_equal(stored, round == 0 ? 1 : 0);
	}
	assert_int_equal(count_files(f->local, NULL), 1);
	uint64_t count = 0, size = 0;
	assert_int_equal(tp_aggstore_stats(st, &count, &size, NULL, NULL), 0);
	assert_int_equal(count, 1);
	assert_int_equal(size, 9);
	tp_aggstore_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_aggstore_put_and_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggstore_rejects_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggstore_duplicates_and_stats, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_aggstore_recovers_interrupted_puts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_aggstore_one_digest_four_threads, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
