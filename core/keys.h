/* SPDX-License-Identifier: BSD-2-Clause
 *
 * keys.h - the core's public keys: a directory of <keyid>.pem files
 * (SubjectPublicKeyInfo PEM, core-spec §1.6), shared by the aggregate
 * receiver (HTTP signatures) and the event bridge (JWS).
 *
 * A keyid is a file name only when it matches [A-Za-z0-9_.-]+ and is not
 * "." or ".." and has at most TP_KEYS_ID_MAX characters; anything else is
 * refused before the file system is touched.
 * Keys are cached for ttl_s seconds (a removed or replaced file takes
 * effect within that time); a miss is not cached. Thread-safe.
 */
#ifndef TP_CORE_KEYS_H
#define TP_CORE_KEYS_H

#include <stdbool.h>
#include <openssl/types.h>

#include "util/err.h"

#define TP_KEYS_CACHE_MAX 1024u
#define TP_KEYS_TTL_DEFAULT_S 300u
/* Longest keyid (a file name with ".pem" appended must fit NAME_MAX). */
#define TP_KEYS_ID_MAX 250u
/* Largest key file read (an RSA 8192 public key PEM is about 1.5 KiB). */
#define TP_KEYS_FILE_MAX (64u * 1024u)

struct tp_keys;

/* dir: borrowed string copied. Returns 0, TP_EINVAL (dir unreadable,
 * logged) or -ENOMEM. */
int tp_keys_open(const char *dir, unsigned ttl_s, struct tp_keys **out) TP_WUR;
void tp_keys_close(struct tp_keys *k);

/* Whether keyid may name a key file. */
bool tp_keys_id_ok(const char *keyid);

/* The public key of keyid: any type OpenSSL reads (Ed25519, EC P-256, RSA).
 * *out: a new reference, EVP_PKEY_free() it. Returns 0, TP_EMALF (keyid
 * not acceptable), TP_ENOKEY (no file, or not a public key: logged). */
int tp_keys_get(struct tp_keys *k, const char *keyid, EVP_PKEY **out) TP_WUR;

#endif
