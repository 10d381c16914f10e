/* SPDX-License-Identifier: BSD-2-Clause
 *
 * lmdb_err.h - LMDB's return codes in tapir's error space (err.h), for the
 * two stores built on LMDB (seen.c, aggstore.c). Internal to lib/store.
 */
#ifndef TP_STORE_LMDB_ERR_H
#define TP_STORE_LMDB_ERR_H

/* 0 stays 0; errno values LMDB passes through become -errno; MDB_NOTFOUND
 * -ENOENT; a full map, reader table, transaction or DB table TP_ETOOBIG; a
 * damaged or foreign file TP_EMALF; anything else TP_EBUG. */
int tp_lmdb_err(int rc);

#endif
