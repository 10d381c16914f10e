/* SPDX-License-Identifier: BSD-2-Clause
 *
 * seen.c - the seen-store on LMDB (see seen.h).
 *
 * One unnamed LMDB database: key = folded wire name (1..255 octets), value =
 * last-seen day, uint32 little-endian (so the files move between hosts).
 * The outbox shares it under keys whose first octet (>= 0xC0) no wire name
 * can start with, so they sort after every name:
 *   0xFD                  last sequence number used, uint64 LE
 *   0xFE <sink>           the sink's cursor, uint64 LE
 *   0xFF <seq, 8 BE>      a queued event (big-endian: sorted by seq)
 *
 * tp_seen_check() first looks the name up in a read transaction, which takes
 * no lock and is the common case (a name already seen today). Anything else
 * (absent, expired, or last seen on an earlier day) goes to a write
 * transaction that looks again before writing: LMDB admits one writer at a
 * time across threads and processes, so of many callers racing on one new
 * name exactly one finds it absent in its write transaction, and that one
 * alone commits and reports it new.
 *
 * Durability flag: MDB_NOMETASYNC, not MDB_NOSYNC. With NOMETASYNC every
 * commit fdatasync()s the data pages and defers only the meta page, so an OS
 * crash can undo at most the last commit and never corrupts the store on any
 * filesystem. MDB_NOSYNC would skip the sync entirely and keeps the store
 * consistent only if the filesystem preserves write order, which ext4 and
 * others do not promise: it could corrupt the store, so it is not used. The
 * cost is one fdatasync per write, and writes happen only for new names, the
 * first sighting of a known name on a new day, and expiry batches.
 * A process crash loses nothing either way: a commit has written to the
 * file (not MDB_WRITEMAP) before it returns.
 */
#include "store/seen.h"

#include <endian.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/lmdb_err.h"
#include "util/limits.h"

#define SECONDS_PER_DAY 86400

/* LMDB reader slots: one per thread that has ever read (slots are kept per
 * thread, not per transaction, which is what makes reads lock-free). Workers,
 * readers and housekeeping threads stay far below this; the lock file grows
 * by 64 octets per slot. */
#define MAX_READERS 512u

/* tp_seen_expire(): entries deleted and entries looked at per write
 * transaction. Small enough that a concurrent tp_seen_check waits for one
 * batch at most, and that a batch fits in the few free pages a full map has. */
#define EXPIRE_DELETE_BATCH 256u
#define EXPIRE_SCAN_BATCH 4096u

/* LMDB's largest key with its default build (mdb_env_get_maxkeysize). Keys
 * we write are at most 255 octets; this bounds the copy of a foreign one. */
#define KEY_BUF 511u

/* Pages of the map kept back from new names: deleting (and refreshing)
 * copies pages before it frees any, so a map filled to the last page could
 * not even expire entries. New names may use the map up to
 * pages - max(pages / RESERVE_DIVISOR, RESERVE_MIN_PAGES). */
#define RESERVE_DIVISOR 16u
#define RESERVE_MIN_PAGES 16u
/* Map pages required, so that a reserve leaves room for names. */
#define MIN_PAGES 64u
/* LMDB's database of free pages is always database 0 (FREE_DBI in mdb.c). */
#define FREE_DBI_ID 0u

struct tp_seen {
	MDB_env *env; /* owned; closed by tp_seen_close */
	MDB_dbi dbi;
	uint32_t expiry_days;
	uint64_t name_pages; /* pages new names may fill (see RESERVE_*) */
	/* A day for which a complete expiry pass has run (UINT32_MAX: none).
	 * Entries expire in whole days, so a second pass on the same day
	 * cannot find more; a full map then fails fast instead of scanning the
	 * whole store for every new name. Relaxed ordering: a stale value only
	 * costs one redundant pass. */
	_Atomic uint32_t expired_day;

	/* Outbox. The counters mirror the store for this process; they
	 * change only after a commit, under lock. */
	uint32_t sink_mask;
	uint64_t queue_limit;
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* last_seq moved, or tp_outbox_wake_all */
	uint64_t last_seq;
	uint64_t queued;
	uint64_t wakes;
};

#define KEY_META 0xC0u   /* first octet of every non-name key */
#define KEY_SEQ 0xFDu
#define KEY_CURSOR 0xFEu
#define KEY_EVENT 0xFFu
#define EVENT_KEY_LEN 9u

enum state {
	ABSENT,  /* not in the store (or a value we cannot read) */
	EXPIRED, /* present, but not seen for expiry_days days */
	STALE,   /* present, last seen on an earlier day: refresh */
	FRESH,   /* present, last seen today (or later: the clock went back) */
};

/* The UTC day of now_s, or false if now_s is negative or the day does not
 * fit the uint32 the store keeps. */
static bool day_of(int64_t now_s, uint32_t *out)
{
	if (now_s < 0)
		return false;
	int64_t day = now_s / SECONDS_PER_DAY;
	if (day > (int64_t)UINT32_MAX)
		return false;
	*out = (uint32_t)day;
	return true;
}

static enum state classify(const struct tp_seen *s, const MDB_val *v, uint32_t today)
{
	if (v->mv_size != sizeof(uint32_t))
		return ABSENT; /* not written by us: overwrite it */
	uint32_t le;
	memcpy(&le, v->mv_data, sizeof(le));
	uint32_t last = le32toh(le);
	/* 64-bit sum: last + expiry_days cannot wrap. */
	if ((uint64_t)today >= (uint64_t)last + s->expiry_days)
		return EXPIRED;
	return last >= today ? FRESH : STALE;
}

static bool is_meta_key(const MDB_val *k)
{
	return k->mv_size > 0 && ((const uint8_t *)k->mv_data)[0] >= KEY_META;
}

static void event_key(uint8_t key[EVENT_KEY_LEN], uint64_t seq)
{
	key[0] = KEY_EVENT;
	uint64_t be = htobe64(seq);
	memcpy(key + 1, &be, sizeof(be));
}

static uint64_t event_seq(const MDB_val *k)
{
	uint64_t be;
	memcpy(&be, (const uint8_t *)k->mv_data + 1, sizeof(be));
	return be64toh(be);
}

static bool is_event_key(const MDB_val *k)
{
	return k->mv_size == EVENT_KEY_LEN && ((const uint8_t *)k->mv_data)[0] == KEY_EVENT;
}

/* A uint64 LE value under a one- or two-octet meta key; 0 when absent. */
static int get_u64(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t key_len,
		   uint64_t *out)
{
	MDB_val k = { .mv_size = key_len, .mv_data = (void *)key };
	MDB_val v;
	*out = 0;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.mv_size != sizeof(uint64_t))
		return MDB_CORRUPTED;
	uint64_t le;
	memcpy(&le, v.mv_data, sizeof(le));
	*out = le64toh(le);
	return 0;
}

static int put_u64(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t key_len,
		   uint64_t value)
{
	MDB_val k = { .mv_size = key_len, .mv_data = (void *)key };
	uint64_t le = htole64(value);
	MDB_val v = { .mv_size = sizeof(le), .mv_data = &le };
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* The outbox state of a store opened now: last sequence number and the
 * number of queued events (bounded by the queue limit of earlier runs). */
static int load_outbox(struct tp_seen *s, MDB_txn *txn)
{
	static const uint8_t seq_key[1] = { KEY_SEQ };
	int rc = get_u64(txn, s->dbi, seq_key, sizeof(seq_key), &s->last_seq);
	if (rc != 0)
		return rc;
	MDB_cursor *cur;
	if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0)
		return rc;
	uint8_t first[EVENT_KEY_LEN];
	event_key(first, 0);
	MDB_val k = { .mv_size = sizeof(first), .mv_data = first };
	MDB_val v;
	s->queued = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (!is_event_key(&k) || event_seq(&k) > s->last_seq) {
			rc = MDB_CORRUPTED;
			break;
		}
		s->queued++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int init_sync(struct tp_seen *s)
{
	pthread_condattr_t attr;
	if (pthread_condattr_init(&attr) != 0)
		return -1;
	/* Waits are timeouts, not dates: immune to clock steps. */
	int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0 && (rc = pthread_cond_init(&s->cond, &attr)) == 0 &&
	    (rc = pthread_mutex_init(&s->lock, NULL)) != 0)
		pthread_cond_destroy(&s->cond);
	pthread_condattr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

int tp_seen_open(const char *dir, size_t map_size, uint32_t expiry_days,
		 struct tp_seen **out)
{
	if (out != NULL)
		*out = NULL;
	if (dir == NULL || out == NULL || map_size < TP_SEEN_MAP_MIN || expiry_days == 0 ||
	    expiry_days > TP_SEEN_EXPIRY_MAX)
		return TP_EINVAL;

	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		page = 4096;
	size_t psize = (size_t)page;
	if (map_size > SIZE_MAX - psize)
		return TP_EINVAL;
	map_size = (map_size + psize - 1) / psize * psize;

	/* 0700: the store holds query names, which are nobody else's business. */
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;

	struct tp_seen *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->expiry_days = expiry_days;
	atomic_init(&s->expired_day, UINT32_MAX);

	int rc = mdb_env_create(&s->env);
	if (rc != 0) {
		free(s);
		return tp_lmdb_err(rc);
	}
	if ((rc = mdb_env_set_mapsize(s->env, map_size)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, MAX_READERS)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOMETASYNC, 0600)) != 0)
		goto fail;

	/* Free the reader slots of processes that died holding one (e.g. a
	 * SIGKILLed previous run), so they do not pin old pages forever. */
	int dead = 0;
	if ((rc = mdb_reader_check(s->env, &dead)) != 0)
		goto fail;

	/* The map may be bigger than asked for if the file already is. */
	MDB_stat st;
	MDB_envinfo info;
	if ((rc = mdb_env_stat(s->env, &st)) != 0 || (rc = mdb_env_info(s->env, &info)) != 0)
		goto fail;
	uint64_t pages = info.me_mapsize / st.ms_psize;
	if (pages < MIN_PAGES) {
		mdb_env_close(s->env);
		free(s);
		return TP_EINVAL;
	}
	uint64_t reserve = pages / RESERVE_DIVISOR;
	if (reserve < RESERVE_MIN_PAGES)
		reserve = RESERVE_MIN_PAGES;
	s->name_pages = pages - reserve;

	MDB_txn *txn;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &s->dbi)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = load_outbox(s, txn)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	if (init_sync(s) != 0) {
		mdb_env_close(s->env);
		free(s);
		return TP_EBUG;
	}
	s->queue_limit = TP_OUTBOX_DEFAULT_MAX;
	*out = s;
	return 0;

fail:
	mdb_env_close(s->env);
	free(s);
	return tp_lmdb_err(rc);
}

void tp_seen_close(struct tp_seen *s)
{
	if (s == NULL)
		return;
	mdb_env_close(s->env);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Whether txn may add a name: the pages both B-trees hold (the names and
 * LMDB's free-page list, plus the two meta pages) are below name_pages.
 * Pages on the free list are free; pages freed but still pinned by a reader
 * are not counted, which the reserve absorbs (our readers are short).
 * Returns 0, MDB_MAP_FULL when there is no room, or another LMDB code. */
static int room_for_name(const struct tp_seen *s, MDB_txn *txn)
{
	MDB_stat names, free_list;
	int rc;
	if ((rc = mdb_stat(txn, s->dbi, &names)) != 0 ||
	    (rc = mdb_stat(txn, FREE_DBI_ID, &free_list)) != 0)
		return rc;
	uint64_t used = 2u + (uint64_t)names.ms_branch_pages + names.ms_leaf_pages +
			names.ms_overflow_pages + free_list.ms_branch_pages +
			free_list.ms_leaf_pages + free_list.ms_overflow_pages;
	return used < s->name_pages ? 0 : MDB_MAP_FULL;
}

/* The write path of tp_seen_check: look again and write, in one write
 * transaction. Returns an LMDB code (MDB_MAP_FULL is retried by the caller),
 * with *out_new set only on success. */
static int check_write(struct tp_seen *s, const struct tp_dns_name *key, uint32_t today,
		       bool *out_new)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	MDB_val k = { .mv_size = key->len, .mv_data = (void *)key->wire };
	MDB_val v;
	enum state st;
	rc = mdb_get(txn, s->dbi, &k, &v);
	if (rc == 0) {
		st = classify(s, &v, today);
	} else if (rc == MDB_NOTFOUND) {
		st = ABSENT;
	} else {
		mdb_txn_abort(txn);
		return rc;
	}
	if (st == FRESH) {
		/* Another caller got here first (recorded or refreshed it). */
		mdb_txn_abort(txn);
		*out_new = false;
		return 0;
	}
	/* Only a new key grows the tree; an overwrite may use the reserve
	 * (the pages it copies are freed again). */
	if (st == ABSENT && (rc = room_for_name(s, txn)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	uint32_t le = htole32(today);
	MDB_val nv = { .mv_size = sizeof(le), .mv_data = &le };
	if ((rc = mdb_put(txn, s->dbi, &k, &nv, 0)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* mdb_txn_commit frees the transaction whether or not it succeeds. */
	if ((rc = mdb_txn_commit(txn)) != 0)
		return rc;
	*out_new = st != STALE;
	return 0;
}

/* The fast path: a read transaction, no lock, no write, for a folded key.
 * Returns an LMDB code. */
static int read_state(struct tp_seen *s, const struct tp_dns_name *key, uint32_t today,
		      enum state *out)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return rc;
	MDB_val k = { .mv_size = key->len, .mv_data = (void *)key->wire };
	MDB_val v;
	*out = ABSENT;
	rc = mdb_get(txn, s->dbi, &k, &v);
	if (rc == 0)
		*out = classify(s, &v, today);
	/* v points into the map only while the transaction lives; the state
	 * is all we keep. */
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int tp_seen_check(struct tp_seen *s, const struct tp_dns_name *name, int64_t now_s,
		  bool *out_new)
{
	if (out_new != NULL)
		*out_new = false;
	uint32_t today;
	if (s == NULL || name == NULL || out_new == NULL || name->len == 0 ||
	    name->len > TP_DNS_NAME_MAX || !day_of(now_s, &today))
		return TP_EINVAL;

	/* Fold a copy: the key must not depend on the case the client used
	 * (reference bug #157), whatever the caller did. */
	struct tp_dns_name key = *name;
	tp_dns_name_fold(&key);

	enum state st;
	int rc = read_state(s, &key, today, &st);
	if (rc != 0)
		return tp_lmdb_err(rc);
	if (st == FRESH)
		return 0;

	bool is_new = false;
	rc = check_write(s, &key, today, &is_new);
	if (rc == MDB_MAP_FULL) {
		/* Make room from expired entries and try once more; if no
		 * room can be made the caller counts TP_ETOOBIG. */
		if (atomic_load_explicit(&s->expired_day, memory_order_relaxed) == today)
			return TP_ETOOBIG;
		int erc = tp_seen_expire(s, now_s, NULL);
		if (erc != 0)
			return erc;
		rc = check_write(s, &key, today, &is_new);
	}
	if (rc != 0)
		return tp_lmdb_err(rc);
	*out_new = is_new;
	return 0;
}

/* Where the next expiry batch starts: after no key (the first entry), or at
 * the first key >= key[0..len). */
struct resume {
	bool set;
	size_t len;
	uint8_t key[KEY_BUF];
};

/* One expiry batch in one write transaction: from *at, delete up to
 * max_delete expired entries among at most EXPIRE_SCAN_BATCH. On success
 * moves *at on (and sets *done at the end of the store); on failure leaves
 * it, so the batch can be retried smaller. Returns an LMDB code. */
static int expire_batch(struct tp_seen *s, uint32_t today, struct resume *at,
			size_t max_delete, uint64_t *out_deleted, bool *done)
{
	*out_deleted = 0;
	*done = false;
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	MDB_cursor *cur;
	if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}

	struct resume next = { .set = false };
	MDB_val k = { .mv_size = at->len, .mv_data = at->key };
	MDB_val v;
	size_t scanned = 0, deleted = 0;
	rc = mdb_cursor_get(cur, &k, &v, at->set ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0) {
		if (scanned == EXPIRE_SCAN_BATCH || deleted == max_delete) {
			/* Copy now: k points into the map, valid only inside
			 * this transaction. */
			if (k.mv_size > sizeof(next.key)) {
				rc = MDB_BAD_VALSIZE; /* cannot happen: LMDB's key limit */
				break;
			}
			next.set = true;
			next.len = k.mv_size;
			memcpy(next.key, k.mv_data, k.mv_size);
			break;
		}
		if (is_meta_key(&k)) {
			rc = MDB_NOTFOUND; /* the names end here; the outbox follows */
			break;
		}
		scanned++;
		if (classify(s, &v, today) == EXPIRED || v.mv_size != sizeof(uint32_t)) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			deleted++;
		}
		/* After a delete the cursor already stands on the following
		 * entry; LMDB's MDB_NEXT knows and returns that entry. */
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
		*done = true;
	} else if (rc != 0 || !next.set) {
		mdb_txn_abort(txn);
		return rc != 0 ? rc : MDB_PANIC; /* the loop ends only these ways */
	}
	if (deleted == 0) {
		mdb_txn_abort(txn); /* nothing to write: spare the fdatasync */
	} else if ((rc = mdb_txn_commit(txn)) != 0) {
		return rc;
	}
	if (!*done)
		*at = next;
	*out_deleted = deleted;
	return 0;
}

int tp_seen_expire(struct tp_seen *s, int64_t now_s, uint64_t *out_deleted)
{
	if (out_deleted != NULL)
		*out_deleted = 0;
	uint32_t today;
	if (s == NULL || !day_of(now_s, &today))
		return TP_EINVAL;

	struct resume at = { .set = false };
	size_t max_delete = EXPIRE_DELETE_BATCH;
	uint64_t total = 0;
	int rc;
	for (;;) {
		uint64_t n;
		bool done;
		rc = expire_batch(s, today, &at, max_delete, &n, &done);
		if (rc == MDB_MAP_FULL && max_delete > 1) {
			/* Deleting copies pages too; in a full map only a few
			 * are free. Smaller batches need fewer. */
			max_delete /= 2;
			continue;
		}
		if (rc != 0)
			break;
		total += n;
		if (done)
			break;
	}
	if (out_deleted != NULL)
		*out_deleted = total;
	if (rc != 0)
		return tp_lmdb_err(rc);
	atomic_store_explicit(&s->expired_day, today, memory_order_relaxed);
	return 0;
}

int tp_seen_stats(struct tp_seen *s, struct tp_seen_stats *out)
{
	if (s == NULL || out == NULL)
		return TP_EINVAL;
	MDB_stat st;
	MDB_envinfo info;
	/* mdb_env_stat reads the last committed meta page, consistently. */
	if (mdb_env_stat(s->env, &st) != 0 || mdb_env_info(s->env, &info) != 0)
		return TP_EBUG;
	/* The outbox's keys are not names. */
	uint64_t meta = 0;
	MDB_txn *txn;
	MDB_cursor *cur;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return TP_EBUG;
	if (mdb_cursor_open(txn, s->dbi, &cur) != 0) {
		mdb_txn_abort(txn);
		return TP_EBUG;
	}
	uint8_t first = KEY_META;
	MDB_val k = { .mv_size = 1, .mv_data = &first };
	MDB_val v;
	int rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		meta++;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND)
		return tp_lmdb_err(rc);
	out->entries = st.ms_entries >= meta ? st.ms_entries - meta : 0;
	out->map_size = info.me_mapsize;
	out->map_used = ((uint64_t)info.me_last_pgno + 1u) * st.ms_psize;
	out->commits = info.me_last_txnid;
	return 0;
}

/* ---- batches and the outbox ------------------------------------------- */

int tp_seen_peek(struct tp_seen *s, const struct tp_dns_name *name, int64_t now_s,
		 enum tp_seen_state *out)
{
	uint32_t today;
	if (s == NULL || name == NULL || out == NULL || name->len == 0 ||
	    name->len > TP_DNS_NAME_MAX || !day_of(now_s, &today))
		return TP_EINVAL;
	struct tp_dns_name key = *name;
	tp_dns_name_fold(&key);
	enum state st;
	int rc = read_state(s, &key, today, &st);
	if (rc != 0)
		return tp_lmdb_err(rc);
	*out = st == FRESH ? TP_SEEN_KNOWN : st == STALE ? TP_SEEN_REFRESH : TP_SEEN_NEW;
	return 0;
}

/* One attempt at a batch. Returns an LMDB code; on MDB_MAP_FULL nothing was
 * written and the caller may expire and retry. On success *new_seq and
 * *added tell what was queued. */
static int record_txn(struct tp_seen *s, struct tp_seen_item *items, size_t n,
		      uint32_t today, uint64_t *new_seq, uint64_t *added)
{
	static const uint8_t seq_key[1] = { KEY_SEQ };
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	uint64_t seq, queued;
	if ((rc = get_u64(txn, s->dbi, seq_key, sizeof(seq_key), &seq)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	queued = s->queued;
	uint64_t limit = s->queue_limit;
	pthread_mutex_unlock(&s->lock);
	uint64_t first_seq = seq;
	bool wrote = false;

	for (size_t i = 0; i < n; i++) {
		struct tp_seen_item *it = &items[i];
		it->is_new = it->queued = false;
		it->error = 0;
		if (it->name.len == 0 || it->name.len > TP_DNS_NAME_MAX ||
		    (it->event != NULL && (it->event_len == 0 || it->event_len > TP_OUTBOX_ITEM_MAX))) {
			it->error = TP_EINVAL;
			continue;
		}
		struct tp_dns_name key = it->name;
		tp_dns_name_fold(&key);
		MDB_val k = { .mv_size = key.len, .mv_data = key.wire };
		MDB_val v;
		enum state st;
		rc = mdb_get(txn, s->dbi, &k, &v);
		if (rc == 0) {
			st = classify(s, &v, today);
		} else if (rc == MDB_NOTFOUND) {
			st = ABSENT;
		} else {
			break;
		}
		rc = 0;
		if (st == FRESH)
			continue;
		bool first = st != STALE;
		if (first && it->event != NULL && queued >= limit) {
			/* Not recorded: a later sighting may report it. */
			it->error = TP_ETOOBIG;
			continue;
		}
		if (st == ABSENT && (rc = room_for_name(s, txn)) != 0)
			break;
		uint32_t le = htole32(today);
		MDB_val nv = { .mv_size = sizeof(le), .mv_data = &le };
		if ((rc = mdb_put(txn, s->dbi, &k, &nv, 0)) != 0)
			break;
		wrote = true;
		if (!first)
			continue;
		it->is_new = true;
		if (it->event == NULL)
			continue;
		uint8_t ek[EVENT_KEY_LEN];
		event_key(ek, ++seq);
		MDB_val evk = { .mv_size = sizeof(ek), .mv_data = ek };
		MDB_val evv = { .mv_size = it->event_len, .mv_data = (void *)it->event };
		if ((rc = mdb_put(txn, s->dbi, &evk, &evv, MDB_NOOVERWRITE)) != 0)
			break;
		it->queued = true;
		queued++;
	}
	if (rc == 0 && seq != first_seq)
		rc = put_u64(txn, s->dbi, seq_key, sizeof(seq_key), seq);
	if (rc != 0) {
		mdb_txn_abort(txn);
		for (size_t i = 0; i < n; i++)
			items[i].is_new = items[i].queued = false;
		return rc;
	}
	if (!wrote) {
		mdb_txn_abort(txn); /* all known today: spare the fdatasync */
	} else if ((rc = mdb_txn_commit(txn)) != 0) {
		for (size_t i = 0; i < n; i++)
			items[i].is_new = items[i].queued = false;
		return rc;
	}
	*new_seq = seq;
	*added = seq - first_seq;
	return 0;
}

int tp_seen_record(struct tp_seen *s, struct tp_seen_item *items, size_t n, int64_t now_s)
{
	uint32_t today;
	if (s == NULL || (items == NULL && n > 0) || !day_of(now_s, &today))
		return TP_EINVAL;
	if (n == 0)
		return 0;
	uint64_t seq = 0, added = 0;
	int rc = record_txn(s, items, n, today, &seq, &added);
	if (rc == MDB_MAP_FULL) {
		if (atomic_load_explicit(&s->expired_day, memory_order_relaxed) == today)
			return TP_ETOOBIG;
		int erc = tp_seen_expire(s, now_s, NULL);
		if (erc != 0)
			return erc;
		rc = record_txn(s, items, n, today, &seq, &added);
	}
	if (rc != 0)
		return tp_lmdb_err(rc);
	if (added > 0) {
		pthread_mutex_lock(&s->lock);
		s->queued += added;
		s->last_seq = seq;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	return 0;
}

int tp_outbox_set_sinks(struct tp_seen *s, uint32_t mask)
{
	if (s == NULL || mask >= (1u << TP_OUTBOX_SINKS))
		return TP_EINVAL;
	pthread_mutex_lock(&s->lock);
	s->sink_mask = mask;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void tp_outbox_set_limit(struct tp_seen *s, uint64_t max_items)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->queue_limit = max_items == 0 ? TP_OUTBOX_DEFAULT_MAX : max_items;
	pthread_mutex_unlock(&s->lock);
}

int tp_outbox_read(struct tp_seen *s, unsigned sink, uint64_t after, size_t max,
		   tp_outbox_fn fn, void *ctx, size_t *out_read)
{
	if (out_read != NULL)
		*out_read = 0;
	if (s == NULL || sink >= TP_OUTBOX_SINKS || fn == NULL || out_read == NULL ||
	    after == UINT64_MAX)
		return TP_EINVAL;
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return tp_lmdb_err(rc);
	MDB_cursor *cur;
	if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return tp_lmdb_err(rc);
	}
	uint8_t from[EVENT_KEY_LEN];
	event_key(from, after + 1);
	MDB_val k = { .mv_size = sizeof(from), .mv_data = from };
	MDB_val v;
	size_t done = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && done < max;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (!is_event_key(&k)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (fn(ctx, event_seq(&k), v.mv_data, v.mv_size) != 0)
			break;
		done++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	*out_read = done;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return tp_lmdb_err(rc);
	return 0;
}

int tp_outbox_cursor(struct tp_seen *s, unsigned sink, uint64_t *out)
{
	if (out != NULL)
		*out = 0;
	if (s == NULL || sink >= TP_OUTBOX_SINKS || out == NULL)
		return TP_EINVAL;
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return tp_lmdb_err(rc);
	const uint8_t key[2] = { KEY_CURSOR, (uint8_t)sink };
	rc = get_u64(txn, s->dbi, key, sizeof(key), out);
	mdb_txn_abort(txn);
	return tp_lmdb_err(rc);
}

int tp_outbox_ack(struct tp_seen *s, unsigned sink, uint64_t seq)
{
	if (s == NULL || sink >= TP_OUTBOX_SINKS)
		return TP_EINVAL;
	pthread_mutex_lock(&s->lock);
	uint32_t mask = s->sink_mask;
	uint64_t last = s->last_seq;
	pthread_mutex_unlock(&s->lock);
	if (seq > last)
		return TP_EINVAL;

	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0)
		return tp_lmdb_err(rc);
	const uint8_t key[2] = { KEY_CURSOR, (uint8_t)sink };
	uint64_t cur_pos;
	if ((rc = get_u64(txn, s->dbi, key, sizeof(key), &cur_pos)) != 0)
		goto abort;
	if (seq <= cur_pos) {
		mdb_txn_abort(txn);
		return 0;
	}
	if ((rc = put_u64(txn, s->dbi, key, sizeof(key), seq)) != 0)
		goto abort;

	/* Everything every active sink has delivered can go. */
	uint64_t upto = UINT64_MAX;
	for (unsigned i = 0; i < TP_OUTBOX_SINKS; i++) {
		if (!(mask & (1u << i)))
			continue;
		uint64_t c = seq;
		const uint8_t ck[2] = { KEY_CURSOR, (uint8_t)i };
		if (i != sink && (rc = get_u64(txn, s->dbi, ck, sizeof(ck), &c)) != 0)
			goto abort;
		if (c < upto)
			upto = c;
	}
	if (!(mask & (1u << sink)))
		upto = 0; /* an inactive sink's progress deletes nothing */
	uint64_t deleted = 0;
	if (upto != UINT64_MAX && upto > 0) {
		MDB_cursor *cur;
		if ((rc = mdb_cursor_open(txn, s->dbi, &cur)) != 0)
			goto abort;
		uint8_t from[EVENT_KEY_LEN];
		event_key(from, 0);
		MDB_val k = { .mv_size = sizeof(from), .mv_data = from };
		MDB_val v;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		while (rc == 0 && is_event_key(&k) && event_seq(&k) <= upto) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			deleted++;
			/* As in expire_batch: after a delete MDB_NEXT
			 * returns the entry that followed it. */
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto abort;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return tp_lmdb_err(rc);
	if (deleted > 0) {
		pthread_mutex_lock(&s->lock);
		s->queued = s->queued >= deleted ? s->queued - deleted : 0;
		pthread_mutex_unlock(&s->lock);
	}
	return 0;
abort:
	mdb_txn_abort(txn);
	return tp_lmdb_err(rc);
}

bool tp_outbox_wait(struct tp_seen *s, uint64_t after, int timeout_ms)
{
	if (s == NULL)
		return false;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	if (timeout_ms > 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&s->lock);
	uint64_t wakes = s->wakes;
	while (s->last_seq <= after && s->wakes == wakes && timeout_ms > 0) {
		if (pthread_cond_timedwait(&s->cond, &s->lock, &until) != 0)
			break;
	}
	bool newer = s->last_seq > after;
	pthread_mutex_unlock(&s->lock);
	return newer;
}

void tp_outbox_wake_all(struct tp_seen *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->wakes++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int tp_outbox_stats(struct tp_seen *s, uint64_t *out_queued, uint64_t *out_last_seq)
{
	if (s == NULL || out_queued == NULL || out_last_seq == NULL)
		return TP_EINVAL;
	pthread_mutex_lock(&s->lock);
	*out_queued = s->queued;
	*out_last_seq = s->last_seq;
	pthread_mutex_unlock(&s->lock);
	return 0;
}
