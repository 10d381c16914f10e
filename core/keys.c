/* SPDX-License-Identifier: BSD-2-Clause
 *
 * keys.c - the core's key directory (keys.h): <keyid>.pem public keys,
 * read with OpenSSL and cached for a TTL.
 *
 * Every upload and every event needs a key, so keys are cached; a miss is
 * not cached, so a key dropped into the directory works at once, while a
 * replaced or removed key takes effect within the TTL. The keyid reaches
 * the file system only after tp_keys_id_ok() (no '/', no "..", no hidden
 * file tricks beyond "." and ".." themselves), and the file is read with a
 * size cap: the directory is trusted, the keyid is not.
 */
#include "core/keys.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "util/io.h"
#include "util/log.h"

struct key_entry {
	char keyid[TP_KEYS_ID_MAX + 1u];
	EVP_PKEY *pkey;
	int64_t loaded_s; /* monotonic */
};

struct tp_keys {
	char *dir;
	int64_t ttl_s;
	pthread_mutex_t lock;
	size_t n;
	struct key_entry entries[TP_KEYS_CACHE_MAX];
};

static int64_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

bool tp_keys_id_ok(const char *keyid)
{
	if (keyid == NULL)
		return false;
	size_t n = strnlen(keyid, TP_KEYS_ID_MAX + 1u);
	if (n == 0 || n > TP_KEYS_ID_MAX || strcmp(keyid, ".") == 0 || strcmp(keyid, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = keyid[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

int tp_keys_open(const char *dir, unsigned ttl_s, struct tp_keys **out)
{
	*out = NULL;
	if (dir == NULL)
		return TP_EINVAL;
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, R_OK | X_OK) != 0) {
		tp_log_err(keys, "keys-dir %s: not a readable directory", dir);
		return TP_EINVAL;
	}
	struct tp_keys *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return -ENOMEM;
	k->dir = strdup(dir);
	if (k->dir == NULL) {
		free(k);
		return -ENOMEM;
	}
	k->ttl_s = ttl_s;
	int rc = pthread_mutex_init(&k->lock, NULL);
	if (rc != 0) {
		free(k->dir);
		free(k);
		return -rc;
	}
	*out = k;
	return 0;
}

void tp_keys_close(struct tp_keys *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n; i++)
		EVP_PKEY_free(k->entries[i].pkey);
	pthread_mutex_destroy(&k->lock);
	free(k->dir);
	free(k);
}

/* Read DIR/<keyid>.pem (a regular file, at most TP_KEYS_FILE_MAX bytes)
 * as a public key. Returns NULL when there is none (logged, rate-limited:
 * keyids come from the network). */
static EVP_PKEY *load(const struct tp_keys *k, const char *keyid)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s.pem", k->dir, keyid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	EVP_PKEY *pkey = NULL;
	char *buf = NULL;
	size_t got = 0;
	int rc = tp_read_file(path, 0, TP_KEYS_FILE_MAX, &buf, &got);
	if (rc == -ENOENT)
		return NULL;
	if (rc == TP_EINVAL || rc == TP_ETOOBIG || (rc == 0 && got == 0)) {
		tp_log_limited(TP_LOG_WARNING, keys, "%s: not a regular file of at most %u bytes",
			       path, TP_KEYS_FILE_MAX);
		goto out;
	}
	if (rc != 0) {
		tp_log_limited(TP_LOG_WARNING, keys, "key file of a keyid: %s", tp_strerror(rc));
		return NULL;
	}
	BIO *bio = BIO_new_mem_buf(buf, (int)got);
	if (bio == NULL)
		goto out;
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		tp_log_limited(TP_LOG_WARNING, keys, "%s: not a PEM public key (SubjectPublicKeyInfo)",
			       path);
out:
	free(buf);
	return pkey;
}

static struct key_entry *find(struct tp_keys *k, const char *keyid)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->entries[i].keyid, keyid) == 0)
			return &k->entries[i];
	return NULL;
}

static void drop(struct tp_keys *k, struct key_entry *e)
{
	EVP_PKEY_free(e->pkey);
	*e = k->entries[--k->n];
}

int tp_keys_get(struct tp_keys *k, const char *keyid, EVP_PKEY **out)
{
	*out = NULL;
	if (!tp_keys_id_ok(keyid))
		return TP_EMALF;
	int64_t now = now_s();
	pthread_mutex_lock(&k->lock);
	struct key_entry *e = find(k, keyid);
	if (e != NULL && now - e->loaded_s < k->ttl_s) {
		if (EVP_PKEY_up_ref(e->pkey) == 1)
			*out = e->pkey;
		pthread_mutex_unlock(&k->lock);
		return *out ? 0 : TP_EBUG;
	}
	if (e != NULL)
		drop(k, e);
	pthread_mutex_unlock(&k->lock);

	/* The file is read without the lock: a slow disk delays only this
	 * keyid's callers. Two threads may load the same key; the second
	 * replaces the first's entry. */
	EVP_PKEY *pkey = load(k, keyid);
	if (pkey == NULL)
		return TP_ENOKEY;
	if (k->ttl_s == 0) {
		*out = pkey;
		return 0;
	}
	pthread_mutex_lock(&k->lock);
	e = find(k, keyid);
	if (e != NULL) {
		drop(k, e);
	} else if (k->n == TP_KEYS_CACHE_MAX) {
		/* Full: forget the oldest key. */
		size_t oldest = 0;
		for (size_t i = 1; i < k->n; i++)
			if (k->entries[i].loaded_s < k->entries[oldest].loaded_s)
				oldest = i;
		drop(k, &k->entries[oldest]);
	}
	if (EVP_PKEY_up_ref(pkey) == 1) {
		e = &k->entries[k->n++];
		memcpy(e->keyid, keyid, strlen(keyid) + 1u);
		e->pkey = pkey;
		e->loaded_s = now;
	}
	pthread_mutex_unlock(&k->lock);
	*out = pkey;
	return 0;
}
