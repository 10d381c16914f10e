/* SPDX-License-Identifier: BSD-2-Clause
 *
 * lmdb_err.c - see lmdb_err.h.
 */
#include "store/lmdb_err.h"

#include <errno.h>
#include <lmdb.h>

#include "util/err.h"

int tp_lmdb_err(int rc)
{
	if (rc == 0)
		return 0;
	if (rc > 0)
		return -rc; /* LMDB passes errno values through */
	switch (rc) {
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
	case MDB_READERS_FULL:
	case MDB_TXN_FULL:
	case MDB_DBS_FULL:
		return TP_ETOOBIG;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return TP_EMALF;
	default:
		return TP_EBUG;
	}
}
