/* SPDX-License-Identifier: BSD-2-Clause
 *
 * test_keys.c - the core's key directory (core/keys.c): which keyids may
 * name a file, every key type the reference resolves (Ed25519, EC P-256,
 * RSA), what is not a public key, the TTL cache (a replaced key applies
 * when the entry expires, a miss is never cached) and concurrent callers.
 * Keys are made here with OpenSSL and compared with EVP_PKEY_eq.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/keys.h"

struct dir {
	char path[64];
};

static void make_dir(struct dir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/tapir-keys-XXXXXX");
	assert_non_null(mkdtemp(d->path));
}

static void remove_dir(struct dir *d)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
}

static EVP_PKEY *new_key(const char *type)
{
	EVP_PKEY *k = NULL;
	if (strcmp(type, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (strcmp(type, "p256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(k);
	return k;
}

static void write_file(const struct dir *d, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void write_pub(const struct dir *d, const char *keyid, EVP_PKEY *k)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.pem", d->path, keyid);
	/* Replace atomically, as an operator's tooling would. */
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_keys_id_rules(void **state)
{
	(void)state;
	static const char *const ok[] = { "edge1", "clever-albattani.dev.dnstapir.se", "a_b",
					  "...", ".hidden", "A-Z.0_9" };
	static const char *const bad[] = { "", ".", "..", "a/b", "../x", "a b", "a\\b", "ä",
					   "x\n", "k%2f" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!tp_keys_id_ok(ok[i]))
			fail_msg("'%s' refused", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (tp_keys_id_ok(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
	assert_false(tp_keys_id_ok(NULL));
	char longest[TP_KEYS_ID_MAX + 2];
	memset(longest, 'k', sizeof(longest));
	longest[TP_KEYS_ID_MAX] = '\0';
	assert_true(tp_keys_id_ok(longest));
	longest[TP_KEYS_ID_MAX] = 'k';
	longest[TP_KEYS_ID_MAX + 1] = '\0';
	assert_false(tp_keys_id_ok(longest));
}

static void test_keys_every_type_and_refusals(void **state)
{
	(void)state;
	struct dir d;
	make_dir(&d);
	static const char *const types[] = { "ed25519", "p256", "rsa" };
	EVP_PKEY *made[3];
	for (size_t i = 0; i < 3; i++) {
		made[i] = new_key(types[i]);
		write_pub(&d, types[i], made[i]);
	}
	/* A private key is not a public key file. */
	char path[256];
	snprintf(path, sizeof(path), "%s/private.pem", d.path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, made[0], NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
	write_file(&d, "garbage.pem", "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n");
	write_file(&d, "empty.pem", "");
	snprintf(path, sizeof(path), "%s/dir.pem", d.path);
	assert_int_equal(mkdir(path, 0700), 0);

	struct tp_keys *k;
	assert_int_equal(tp_keys_open(d.path, 300, &k), 0);
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *got = NULL;
		assert_int_equal(tp_keys_get(k, types[i], &got), 0);
		assert_int_equal(EVP_PKEY_eq(got, made[i]), 1);
		EVP_PKEY_free(got);
	}
	static const char *const none[] = { "private", "garbage", "empty", "dir", "absent" };
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		EVP_PKEY *got = (EVP_PKEY *)(uintptr_t)1;
		if (tp_keys_get(k, none[i], &got) != TP_ENOKEY || got != NULL)
			fail_msg("%s: expected TP_ENOKEY", none[i]);
	}
	EVP_PKEY *got = NULL;
	assert_int_equal(tp_keys_get(k, "../ed25519", &got), TP_EMALF);
	assert_int_equal(tp_keys_get(k, "", &got), TP_EMALF);
	assert_null(got);
	tp_keys_close(k);
	for (size_t i = 0; i < 3; i++)
		EVP_PKEY_free(made[i]);
	remove_dir(&d);

	assert_int_equal(tp_keys_open("/nonexistent/tapir/keys", 300, &k), TP_EINVAL);
	assert_null(k);
}

static void test_keys_cache_ttl(void **state)
{
	(void)state;
	struct dir d;
	make_dir(&d);
	EVP_PKEY *a = new_key("ed25519"), *b = new_key("ed25519"), *got = NULL;
	struct tp_keys *cached, *uncached;
	assert_int_equal(tp_keys_open(d.path, 3600, &cached), 0);
	assert_int_equal(tp_keys_open(d.path, 0, &uncached), 0);
	/* A miss is not cached: the key works as soon as it is there. */
	assert_int_equal(tp_keys_get(cached, "edge", &got), TP_ENOKEY);
	write_pub(&d, "edge", a);
	assert_int_equal(tp_keys_get(cached, "edge", &got), 0);
	assert_int_equal(EVP_PKEY_eq(got, a), 1);
	EVP_PKEY_free(got);
	/* Replaced: the cache keeps the old key until its TTL, TTL 0 sees it. */
	write_pub(&d, "edge", b);
	assert_int_equal(tp_keys_get(cached, "edge", &got), 0);
	assert_int_equal(EVP_PKEY_eq(got, a), 1);
	EVP_PKEY_free(got);
	assert_int_equal(tp_keys_get(uncached, "edge", &got), 0);
	assert_int_equal(EVP_PKEY_eq(got, b), 1);
	EVP_PKEY_free(got);
	char path[256];
	snprintf(path, sizeof(path), "%s/edge.pem", d.path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(tp_keys_get(uncached, "edge", &got), TP_ENOKEY);
	/* The reference returned to the caller outlives the cache. */
	assert_int_equal(tp_keys_get(cached, "edge", &got), 0);
	tp_keys_close(cached);
	assert_int_equal(EVP_PKEY_eq(got, a), 1);
	EVP_PKEY_free(got);
	tp_keys_close(uncached);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	remove_dir(&d);
}

struct worker {
	struct tp_keys *k;
	EVP_PKEY *want;
	int failures;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 2000; i++) {
		char keyid[16];
		snprintf(keyid, sizeof(keyid), "k%d", i % 8);
		EVP_PKEY *got = NULL;
		if (tp_keys_get(w->k, keyid, &got) != 0 || EVP_PKEY_eq(got, w->want) != 1)
			w->failures++;
		EVP_PKEY_free(got);
	}
	return NULL;
}

static void test_keys_concurrent_callers(void **state)
{
	(void)state;
	struct dir d;
	make_dir(&d);
	EVP_PKEY *key = new_key("p256");
	for (int i = 0; i < 8; i++) {
		char keyid[16];
		snprintf(keyid, sizeof(keyid), "k%d", i);
		write_pub(&d, keyid, key);
	}
	struct tp_keys *k;
	/* TTL 1: entries expire and reload while other threads read. */
	assert_int_equal(tp_keys_open(d.path, 1, &k), 0);
	struct worker w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ k, key, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	tp_keys_close(k);
	EVP_PKEY_free(key);
	remove_dir(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_id_rules),
		cmocka_unit_test(test_keys_every_type_and_refusals),
		cmocka_unit_test(test_keys_cache_ttl),
		cmocka_unit_test(test_keys_concurrent_callers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
