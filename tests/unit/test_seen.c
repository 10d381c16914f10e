/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_seen.c - the seen-store (lib/store/seen.h): first sightings, case
 * folding, persistence, exactly one "new" per name under 8 threads, expiry and
 * its once-a-day refresh, tp_seen_expire(), a full map, and a SIGKILLed
 * writer. Time is simulated through the now_s argument. Each test uses a
 * fresh directory under $TMPDIR (default /tmp) and removes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/seen.h"

#define DAY 86400
#define MAP (16u * 1024u * 1024u)

static struct tp_dns_name name_of(const char *text)
{
	struct tp_dns_name n;
	assert_int_equal(tp_dns_name_from_text(text, strlen(text), &n), 0);
	return n;
}

static struct tp_dns_name numbered(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct tp_dns_name numbered(const char *fmt, ...)
{
	char text[64];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_true(len > 0 && (size_t)len < sizeof(text));
	return name_of(text);
}

/* 0 = seen, 1 = new; fails the test on an error. */
static int check(struct tp_seen *s, const struct tp_dns_name *n, int64_t now_s)
{
	bool is_new = true;
	assert_int_equal(tp_seen_check(s, n, now_s, &is_new), 0);
	return is_new ? 1 : 0;
}

static int check_text(struct tp_seen *s, const char *text, int64_t now_s)
{
	struct tp_dns_name n = name_of(text);
	return check(s, &n, now_s);
}

static void make_dir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	int len = snprintf(dir, size, "%s/tapir-seen-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_true(len > 0 && (size_t)len < size);
	assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	char path[512];
	for (size_t i = 0; i < 2; i++) {
		int len = snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_true(len > 0 && (size_t)len < sizeof(path));
		assert_true(unlink(path) == 0 || errno == ENOENT);
	}
	assert_int_equal(rmdir(dir), 0);
}

static uint64_t entries(struct tp_seen *s)
{
	struct tp_seen_stats st;
	assert_int_equal(tp_seen_stats(s, &st), 0);
	return st.entries;
}

static uint64_t commits(struct tp_seen *s)
{
	struct tp_seen_stats st;
	assert_int_equal(tp_seen_stats(s, &st), 0);
	return st.commits;
}

static void test_seen_bad_arguments(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s = (struct tp_seen *)1;
	assert_int_equal(tp_seen_open(dir, MAP, 0, &s), TP_EINVAL);
	assert_null(s);
	assert_int_equal(tp_seen_open(dir, 4096, 30, &s), TP_EINVAL);
	assert_int_equal(tp_seen_open(NULL, MAP, 30, &s), TP_EINVAL);
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	struct tp_dns_name n = name_of("example.com.");
	bool is_new = true;
	assert_int_equal(tp_seen_check(s, &n, -1, &is_new), TP_EINVAL);
	assert_false(is_new);
	n.len = 0;
	assert_int_equal(tp_seen_check(s, &n, 0, &is_new), TP_EINVAL);
	assert_int_equal(tp_seen_expire(s, -5, NULL), TP_EINVAL);
	assert_int_equal(entries(s), 0);
	tp_seen_close(s);
	tp_seen_close(NULL);
	remove_dir(dir);
}

static void test_seen_new_then_seen(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	int64_t now = 20000LL * DAY + 123;
	assert_int_equal(check_text(s, "example.com.", now), 1);
	assert_int_equal(check_text(s, "example.com.", now), 0);
	assert_int_equal(check_text(s, "example.com.", now + 60), 0);
	assert_int_equal(check_text(s, "www.example.com.", now), 1);
	assert_int_equal(check_text(s, "com.", now), 1);
	assert_int_equal(check_text(s, ".", now), 1);
	assert_int_equal(check_text(s, ".", now), 0);
	assert_int_equal(entries(s), 4);
	tp_seen_close(s);
	remove_dir(dir);
}

static void test_seen_folds_case(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	struct tp_dns_name mixed = name_of("Example.COM.");
	struct tp_dns_name copy = mixed;
	assert_int_equal(check(s, &mixed, 0), 1);
	/* The caller's name is not changed by the internal fold. */
	assert_memory_equal(&mixed, &copy, sizeof(mixed));
	assert_int_equal(check_text(s, "example.com.", 0), 0);
	assert_int_equal(check_text(s, "EXAMPLE.COM.", 0), 0);
	/* Real traffic is case-randomised (SPEC §6). */
	assert_int_equal(check_text(s, "SWCDn.APPLe.coM.", 0), 1);
	assert_int_equal(check_text(s, "swcdn.apple.com.", 0), 0);
	/* Only ASCII letters fold: \195 and \227 stay distinct. */
	assert_int_equal(check_text(s, "\\195x.", 0), 1);
	assert_int_equal(check_text(s, "\\227x.", 0), 1);
	assert_int_equal(entries(s), 4);
	tp_seen_close(s);
	remove_dir(dir);
}

static void test_seen_persists(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	for (unsigned i = 0; i < 50; i++) {
		struct tp_dns_name n = numbered("p%u.example.", i);
		assert_int_equal(check(s, &n, DAY), 1);
	}
	tp_seen_close(s);
	/* A smaller limit than the file: opened at the file's size. */
	assert_int_equal(tp_seen_open(dir, TP_SEEN_MAP_MIN, 30, &s), 0);
	assert_int_equal(entries(s), 50);
	for (unsigned i = 0; i < 50; i++) {
		struct tp_dns_name n = numbered("P%u.EXAMPLE.", i);
		assert_int_equal(check(s, &n, DAY), 0);
	}
	assert_int_equal(check_text(s, "p50.example.", DAY), 1);
	tp_seen_close(s);
	remove_dir(dir);
}

#define THREADS 8
#define THREAD_NAMES 1000u

struct race {
	struct tp_seen *s;
	unsigned offset;
	atomic_uint *news;
	atomic_uint *errors;
	pthread_barrier_t *start;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;
	(void)pthread_barrier_wait(r->start);
	for (unsigned j = 0; j < THREAD_NAMES; j++) {
		unsigned i = (j + r->offset) % THREAD_NAMES;
		char text[64];
		snprintf(text, sizeof(text), "n%u.race.example.", i);
		struct tp_dns_name n;
		bool is_new;
		if (tp_dns_name_from_text(text, strlen(text), &n) != 0 ||
		    tp_seen_check(r->s, &n, 7 * DAY, &is_new) != 0) {
			atomic_fetch_add(r->errors, 1u);
			continue;
		}
		if (is_new)
			atomic_fetch_add(r->news, 1u);
	}
	return NULL;
}

static void test_seen_exactly_one_new_under_threads(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	atomic_uint news = 0, errors = 0;
	pthread_barrier_t start;
	assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
	pthread_t tid[THREADS];
	struct race r[THREADS];
	for (unsigned t = 0; t < THREADS; t++) {
		/* Pairs of threads walk the names in the same order (racing on
		 * the very same name), pairs start at different places. */
		r[t] = (struct race){ s, (t / 2) * 250u, &news, &errors, &start };
		assert_int_equal(pthread_create(&tid[t], NULL, race_thread, &r[t]), 0);
	}
	for (unsigned t = 0; t < THREADS; t++)
		assert_int_equal(pthread_join(tid[t], NULL), 0);
	assert_int_equal(pthread_barrier_destroy(&start), 0);
	assert_int_equal(atomic_load(&errors), 0);
	assert_int_equal(atomic_load(&news), THREAD_NAMES);
	assert_int_equal(entries(s), THREAD_NAMES);
	tp_seen_close(s);
	remove_dir(dir);
}

static void test_seen_expiry_and_refresh(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 3, &s), 0);
	const int64_t d0 = 19000LL * DAY;

	/* Not seen for 3 days: new again. */
	assert_int_equal(check_text(s, "a.example.", d0), 1);
	assert_int_equal(check_text(s, "a.example.", d0 + 3 * DAY - 1), 0); /* day 2 */
	assert_int_equal(check_text(s, "b.example.", d0), 1);
	assert_int_equal(check_text(s, "b.example.", d0 + 3 * DAY), 1);     /* day 3 */
	assert_int_equal(check_text(s, "b.example.", d0 + 3 * DAY), 0);

	/* a was refreshed on day 2, so it lives until day 5. */
	assert_int_equal(check_text(s, "a.example.", d0 + 4 * DAY), 0);
	/* ...and now refreshed on day 4: day 6 is fine, day 7 is new. */
	assert_int_equal(check_text(s, "a.example.", d0 + 6 * DAY), 0);
	assert_int_equal(check_text(s, "a.example.", d0 + 9 * DAY), 1);

	/* Refresh writes at most once per day per name. */
	const int64_t d20 = d0 + 20 * DAY;
	assert_int_equal(check_text(s, "c.example.", d20), 1);
	uint64_t c = commits(s);
	for (int i = 0; i < 100; i++)
		assert_int_equal(check_text(s, "c.example.", d20 + i), 0);
	assert_int_equal(commits(s), c);
	for (int i = 0; i < 100; i++)
		assert_int_equal(check_text(s, "c.example.", d20 + DAY + i), 0);
	assert_int_equal(commits(s), c + 1);

	/* The clock going back keeps the later day and writes nothing. */
	assert_int_equal(check_text(s, "c.example.", d0), 0);
	assert_int_equal(commits(s), c + 1);
	tp_seen_close(s);
	remove_dir(dir);
}

static void test_seen_expire_deletes_old_keeps_recent(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 10, &s), 0);
	/* More old entries than one deletion batch (256), interleaved in key
	 * order with recent ones. */
	for (unsigned i = 0; i < 600; i++) {
		struct tp_dns_name n = numbered("%u.old.example.", i);
		assert_int_equal(check(s, &n, 0), 1);
	}
	for (unsigned i = 0; i < 600; i += 10) {
		struct tp_dns_name n = numbered("%u.old.example.", i);
		assert_int_equal(check(s, &n, 5 * DAY), 0); /* refreshed: recent */
	}
	for (unsigned i = 0; i < 50; i++) {
		struct tp_dns_name n = numbered("%u.new.example.", i);
		assert_int_equal(check(s, &n, 9 * DAY), 1);
	}
	assert_int_equal(entries(s), 650);

	uint64_t deleted = 99;
	assert_int_equal(tp_seen_expire(s, 9 * DAY, &deleted), 0);
	assert_int_equal(deleted, 0);
	assert_int_equal(tp_seen_expire(s, 10 * DAY, &deleted), 0);
	assert_int_equal(deleted, 540);
	assert_int_equal(entries(s), 110);
	/* Second pass: nothing more. */
	assert_int_equal(tp_seen_expire(s, 10 * DAY, &deleted), 0);
	assert_int_equal(deleted, 0);

	for (unsigned i = 0; i < 600; i++) {
		struct tp_dns_name n = numbered("%u.old.example.", i);
		assert_int_equal(check(s, &n, 10 * DAY), i % 10 == 0 ? 0 : 1);
	}
	for (unsigned i = 0; i < 50; i++) {
		struct tp_dns_name n = numbered("%u.new.example.", i);
		assert_int_equal(check(s, &n, 10 * DAY), 0);
	}
	tp_seen_close(s);
	remove_dir(dir);
}

static void test_seen_full_map(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, TP_SEEN_MAP_MIN, 2, &s), 0);
	unsigned recorded = 0;
	int rc = 0;
	for (unsigned i = 0; i < 100000; i++) {
		struct tp_dns_name n = numbered("full-%u.a-longish-label-to-fill-pages.example.", i);
		bool is_new;
		rc = tp_seen_check(s, &n, DAY, &is_new);
		if (rc != 0) {
			assert_false(is_new);
			break;
		}
		assert_true(is_new);
		recorded++;
	}
	assert_int_equal(rc, TP_ETOOBIG);
	assert_true(recorded > 10);
	assert_int_equal(entries(s), recorded);

	/* Full: the name that did not fit still fails the same way (countable;
	 * a shorter one might yet fit a page with room), known names still
	 * answer. */
	bool is_new = true;
	struct tp_dns_name other =
		numbered("full-%u.a-longish-label-to-fill-pages.example.", recorded);
	assert_int_equal(tp_seen_check(s, &other, DAY + 5, &is_new), TP_ETOOBIG);
	assert_false(is_new);
	struct tp_dns_name first = numbered("full-%u.a-longish-label-to-fill-pages.example.", 0);
	assert_int_equal(check(s, &first, DAY + 5), 0);

	/* Two days on everything has expired: the full map is expired and the
	 * name recorded. */
	assert_int_equal(check(s, &other, 3 * DAY), 1);
	assert_true(entries(s) < recorded);
	for (unsigned i = 0; i < 20; i++) {
		struct tp_dns_name n = numbered("after-%u.example.", i);
		assert_int_equal(check(s, &n, 3 * DAY), 1);
	}
	tp_seen_close(s);
	remove_dir(dir);
}

/* Child of the crash test: records names and reports each new one on fd
 * after tp_seen_check() returned, until killed. No cmocka in here. */
static void crash_child(const char *dir, int fd, unsigned round)
{
	struct tp_seen *s;
	if (tp_seen_open(dir, MAP, 30, &s) != 0)
		_exit(2);
	for (unsigned i = 0;; i++) {
		char text[64];
		snprintf(text, sizeof(text), "r%u-%u.crash.example.", round, i);
		struct tp_dns_name n;
		bool is_new;
		if (tp_dns_name_from_text(text, strlen(text), &n) != 0 ||
		    tp_seen_check(s, &n, DAY, &is_new) != 0)
			_exit(3);
		if (is_new && write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i))
			_exit(4);
	}
}

/* After close: walk the store with LMDB directly. Every key is a wire name
 * of 1..255 octets ending in the root label, every value 4 octets. */
static void assert_consistent(const char *dir, uint64_t expect_entries)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	MDB_val k, v;
	uint64_t n = 0;
	int rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, n == 0 ? MDB_FIRST : MDB_NEXT)) == 0) {
		assert_true(k.mv_size >= 1 && k.mv_size <= TP_DNS_NAME_MAX);
		assert_int_equal(((const uint8_t *)k.mv_data)[k.mv_size - 1], 0);
		assert_int_equal(v.mv_size, 4);
		n++;
	}
	assert_int_equal(rc, MDB_NOTFOUND);
	assert_int_equal(n, expect_entries);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

static void test_seen_survives_sigkill(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	uint64_t total = 0;
	/* Several rounds on one store: each child is killed mid-stream, most
	 * likely inside a write transaction. */
	for (unsigned round = 0; round < 3; round++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(dir, fds[1], round);
		}
		assert_int_equal(close(fds[1]), 0);
		static unsigned told[1u << 16];
		size_t n_told = 0;
		unsigned want = 150u + 100u * round;
		while (n_told < want) {
			ssize_t got = read(fds[0], &told[n_told], sizeof(told[0]));
			assert_int_equal(got, (ssize_t)sizeof(told[0]));
			n_told++;
		}
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* Whatever the child reported before it died is in the pipe. */
		for (;;) {
			assert_true(n_told < sizeof(told) / sizeof(told[0]));
			ssize_t got = read(fds[0], &told[n_told], sizeof(told[0]));
			if (got == 0)
				break;
			assert_int_equal(got, (ssize_t)sizeof(told[0]));
			n_told++;
		}
		assert_int_equal(close(fds[0]), 0);

		struct tp_seen *s;
		assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
		uint64_t e = entries(s);
		/* At most one more than reported: a commit that returned
		 * just before the kill, whose report never happened. */
		assert_true(e == total + n_told || e == total + n_told + 1);
		for (size_t i = 0; i < n_told; i++) {
			assert_int_equal(told[i], i); /* reported in order, no gaps */
			struct tp_dns_name nm = numbered("r%u-%u.crash.example.", round, told[i]);
			assert_int_equal(check(s, &nm, DAY + 1), 0);
		}
		total = e;
		/* Still writable. */
		struct tp_dns_name fresh = numbered("after-%u.crash.example.", round);
		assert_int_equal(check(s, &fresh, DAY), 1);
		total++;
		tp_seen_close(s);
		assert_consistent(dir, total);
	}
	remove_dir(dir);
}

/* ---- batches and the outbox -------------------------------------------- */

static struct tp_seen_item item(const char *name, const char *event)
{
	struct tp_seen_item it = { .name = name_of(name) };
	if (event != NULL) {
		it.event = (const uint8_t *)event;
		it.event_len = strlen(event);
	}
	return it;
}

struct collected {
	size_t n;
	uint64_t seq[64];
	char text[64][64];
	size_t stop_after; /* 0: never stop */
};

static int collect(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	struct collected *c = ctx;
	if (c->stop_after != 0 && c->n == c->stop_after)
		return 1;
	assert_true(c->n < 64 && len < 64);
	c->seq[c->n] = seq;
	memcpy(c->text[c->n], data, len);
	c->text[c->n][len] = '\0';
	c->n++;
	return 0;
}

static struct collected read_all(struct tp_seen *s, unsigned sink, uint64_t after)
{
	struct collected c = { 0 };
	size_t got;
	assert_int_equal(tp_outbox_read(s, sink, after, 64, collect, &c, &got), 0);
	assert_int_equal(got, c.n);
	return c;
}

static uint64_t queued(struct tp_seen *s)
{
	uint64_t q, last;
	assert_int_equal(tp_outbox_stats(s, &q, &last), 0);
	return q;
}

static void test_outbox_record_and_read(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	assert_int_equal(tp_outbox_set_sinks(s, 1u << TP_OUTBOX_SINK_MQTT), 0);
	assert_int_equal(check_text(s, "old.example.", DAY), 1);

	struct tp_seen_item batch[] = {
		item("a.example.", "event-a"),
		item("A.Example.", "event-a-again"), /* same name, other case */
		item("old.example.", "event-old"),   /* recorded before */
		item("quiet.example.", NULL),        /* recorded, no event */
		item("b.example.", "event-b"),
	};
	assert_int_equal(tp_seen_record(s, batch, 5, DAY), 0);
	const bool is_new[] = { true, false, false, true, true };
	const bool was_queued[] = { true, false, false, false, true };
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(batch[i].is_new, is_new[i]);
		assert_int_equal(batch[i].queued, was_queued[i]);
		assert_int_equal(batch[i].error, 0);
	}
	/* The names are recorded like tp_seen_check() would. */
	assert_int_equal(check_text(s, "a.EXAMPLE.", DAY), 0);
	assert_int_equal(check_text(s, "quiet.example.", DAY), 0);
	enum tp_seen_state st;
	struct tp_dns_name b = name_of("B.example.");
	assert_int_equal(tp_seen_peek(s, &b, DAY, &st), 0);
	assert_int_equal(st, TP_SEEN_KNOWN);
	assert_int_equal(tp_seen_peek(s, &b, DAY + DAY, &st), 0);
	assert_int_equal(st, TP_SEEN_REFRESH);
	assert_int_equal(tp_seen_peek(s, &b, 40 * DAY, &st), 0);
	assert_int_equal(st, TP_SEEN_NEW);
	assert_int_equal(entries(s), 4); /* the outbox's keys are not names */

	struct collected c = read_all(s, TP_OUTBOX_SINK_MQTT, 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.seq[0], 1);
	assert_string_equal(c.text[0], "event-a");
	assert_int_equal(c.seq[1], 2);
	assert_string_equal(c.text[1], "event-b");
	c = read_all(s, TP_OUTBOX_SINK_MQTT, 1);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.text[0], "event-b");
	/* fn may stop early: that event does not count as read. */
	struct collected part = { .stop_after = 1 };
	size_t got;
	assert_int_equal(tp_outbox_read(s, TP_OUTBOX_SINK_MQTT, 0, 64, collect, &part, &got), 0);
	assert_int_equal(got, 1);
	assert_int_equal(queued(s), 2);
	tp_seen_close(s);
	remove_dir(dir);
}

static void test_outbox_ack_two_sinks_and_restart(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	const uint32_t both = (1u << TP_OUTBOX_SINK_MQTT) | (1u << TP_OUTBOX_SINK_NATS);
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	assert_int_equal(tp_outbox_set_sinks(s, both), 0);
	struct tp_seen_item batch[] = {
		item("one.example.", "1"), item("two.example.", "2"), item("three.example.", "3"),
	};
	assert_int_equal(tp_seen_record(s, batch, 3, DAY), 0);
	assert_int_equal(tp_outbox_ack(s, TP_OUTBOX_SINK_MQTT, 4), TP_EINVAL); /* not queued */
	assert_int_equal(tp_outbox_ack(s, TP_OUTBOX_SINK_MQTT, 3), 0);
	/* NATS has not delivered: nothing deleted, NATS still reads all. */
	assert_int_equal(queued(s), 3);
	assert_int_equal(read_all(s, TP_OUTBOX_SINK_NATS, 0).n, 3);
	assert_int_equal(tp_outbox_ack(s, TP_OUTBOX_SINK_NATS, 2), 0);
	assert_int_equal(queued(s), 1);
	assert_int_equal(tp_outbox_ack(s, TP_OUTBOX_SINK_NATS, 1), 0); /* never backwards */
	uint64_t cur;
	assert_int_equal(tp_outbox_cursor(s, TP_OUTBOX_SINK_NATS, &cur), 0);
	assert_int_equal(cur, 2);
	tp_seen_close(s);

	/* Restart: cursors, the queued event and the sequence survive. */
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	assert_int_equal(tp_outbox_set_sinks(s, both), 0);
	assert_int_equal(queued(s), 1);
	assert_int_equal(tp_outbox_cursor(s, TP_OUTBOX_SINK_MQTT, &cur), 0);
	assert_int_equal(cur, 3);
	struct collected c = read_all(s, TP_OUTBOX_SINK_NATS, 2);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.text[0], "3");
	assert_int_equal(tp_outbox_ack(s, TP_OUTBOX_SINK_NATS, 3), 0);
	assert_int_equal(queued(s), 0);
	tp_seen_close(s);

	/* An empty outbox still continues the sequence (cursors stay valid). */
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	assert_int_equal(tp_outbox_set_sinks(s, 1u << TP_OUTBOX_SINK_MQTT), 0);
	struct tp_seen_item more = item("four.example.", "4");
	assert_int_equal(tp_seen_record(s, &more, 1, DAY), 0);
	c = read_all(s, TP_OUTBOX_SINK_MQTT, 3);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.seq[0], 4);
	/* Only MQTT is active now: its ack alone deletes. */
	assert_int_equal(tp_outbox_ack(s, TP_OUTBOX_SINK_MQTT, 4), 0);
	assert_int_equal(queued(s), 0);
	tp_seen_close(s);
	remove_dir(dir);
}

static void test_outbox_limit_and_expiry(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 2, &s), 0);
	assert_int_equal(tp_outbox_set_sinks(s, 1u), 0);
	tp_outbox_set_limit(s, 2);
	struct tp_seen_item batch[] = {
		item("x1.example.", "1"), item("x2.example.", "2"), item("x3.example.", "3"),
		item("x4.example.", NULL),
	};
	assert_int_equal(tp_seen_record(s, batch, 4, DAY), 0);
	assert_true(batch[0].queued && batch[1].queued);
	/* Full: the third is neither queued nor recorded, so a later sighting
	 * can still report it. A name without an event is not held back. */
	assert_int_equal(batch[2].error, TP_ETOOBIG);
	assert_false(batch[2].is_new);
	assert_int_equal(check_text(s, "x3.example.", DAY), 1);
	assert_true(batch[3].is_new);
	assert_int_equal(tp_outbox_ack(s, 0, 2), 0);
	struct tp_seen_item again = item("x5.example.", "5");
	assert_int_equal(tp_seen_record(s, &again, 1, DAY), 0);
	assert_true(again.queued);

	/* Expiry deletes names, never queued events. */
	uint64_t deleted;
	assert_int_equal(tp_seen_expire(s, 10 * DAY, &deleted), 0);
	assert_int_equal(deleted, 5);
	assert_int_equal(entries(s), 0);
	struct collected c = read_all(s, 0, 2);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.text[0], "5");
	/* Bad items are skipped, the rest of the batch goes on. */
	struct tp_seen_item bad[] = { item("y.example.", "y"), item("z.example.", "z") };
	bad[0].event_len = TP_OUTBOX_ITEM_MAX + 1u;
	assert_int_equal(tp_seen_record(s, bad, 2, 10 * DAY), 0);
	assert_int_equal(bad[0].error, TP_EINVAL);
	assert_true(bad[1].queued);
	tp_seen_close(s);
	remove_dir(dir);
}

static void *record_later(void *arg)
{
	struct tp_seen *s = arg;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	struct tp_seen_item it = item("wake.example.", "w");
	assert_int_equal(tp_seen_record(s, &it, 1, DAY), 0);
	return NULL;
}

static void test_outbox_wait(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	assert_int_equal(tp_outbox_set_sinks(s, 1u), 0);
	assert_false(tp_outbox_wait(s, 0, 20)); /* times out */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, record_later, s), 0);
	assert_true(tp_outbox_wait(s, 0, 10000));
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(tp_outbox_wait(s, 1, 0)); /* nothing newer than 1 */
	tp_seen_close(s);
	remove_dir(dir);
}

/* Child of the atomicity test: records names with an event each (the event
 * text is the name) in small batches until killed. */
static void outbox_crash_child(const char *dir)
{
	struct tp_seen *s;
	if (tp_seen_open(dir, MAP, 30, &s) != 0 || tp_outbox_set_sinks(s, 1u) != 0)
		_exit(2);
	tp_outbox_set_limit(s, 1000000);
	for (unsigned i = 0;; i += 4) {
		char text[4][64];
		struct tp_seen_item batch[4];
		for (unsigned j = 0; j < 4; j++) {
			snprintf(text[j], sizeof(text[j]), "n%u.atomic.example.", i + j);
			memset(&batch[j], 0, sizeof(batch[j]));
			if (tp_dns_name_from_text(text[j], strlen(text[j]), &batch[j].name) != 0)
				_exit(3);
			batch[j].event = (const uint8_t *)text[j];
			batch[j].event_len = strlen(text[j]);
		}
		if (tp_seen_record(s, batch, 4, DAY) != 0)
			_exit(4);
	}
}

struct names_seen {
	size_t n;
	char (*text)[64];
};

static int collect_names(void *ctx, uint64_t seq, const uint8_t *data, size_t len)
{
	struct names_seen *ns = ctx;
	assert_int_equal(seq, ns->n + 1); /* no gaps */
	assert_true(len < 64);
	memcpy(ns->text[ns->n], data, len);
	ns->text[ns->n][len] = '\0';
	ns->n++;
	return 0;
}

static void test_outbox_atomic_under_sigkill(void **state)
{
	(void)state;
	char dir[256];
	make_dir(dir, sizeof(dir));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		outbox_crash_child(dir);
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	/* Every recorded name has its event and every event its name. */
	struct tp_seen *s;
	assert_int_equal(tp_seen_open(dir, MAP, 30, &s), 0);
	assert_int_equal(tp_outbox_set_sinks(s, 1u), 0);
	static char text[1u << 20][64];
	struct names_seen ns = { 0, text };
	size_t got;
	assert_int_equal(tp_outbox_read(s, 0, 0, 1u << 20, collect_names, &ns, &got), 0);
	assert_true(got > 0 && got < (1u << 20));
	for (size_t i = 0; i < got; i++) {
		struct tp_dns_name n = name_of(text[i]);
		enum tp_seen_state st;
		assert_int_equal(tp_seen_peek(s, &n, DAY, &st), 0);
		assert_int_equal(st, TP_SEEN_KNOWN);
	}
	assert_int_equal(entries(s), got);
	assert_int_equal(queued(s), got);
	tp_seen_close(s);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seen_bad_arguments),
		cmocka_unit_test(test_seen_new_then_seen),
		cmocka_unit_test(test_seen_folds_case),
		cmocka_unit_test(test_seen_persists),
		cmocka_unit_test(test_seen_exactly_one_new_under_threads),
		cmocka_unit_test(test_seen_expiry_and_refresh),
		cmocka_unit_test(test_seen_expire_deletes_old_keeps_recent),
		cmocka_unit_test(test_seen_full_map),
		cmocka_unit_test(test_seen_survives_sigkill),
		cmocka_unit_test(test_outbox_record_and_read),
		cmocka_unit_test(test_outbox_ack_two_sinks_and_restart),
		cmocka_unit_test(test_outbox_limit_and_expiry),
		cmocka_unit_test(test_outbox_wait),
		cmocka_unit_test(test_outbox_atomic_under_sigkill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
