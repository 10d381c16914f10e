/* SPDX-License-Identifier: BSD-2-Clause
 *
 * receiver.h - the core's HTTP API (core-spec §1.2-1.11, SPEC §8): signed
 * aggregate uploads, their metadata and payloads, statistics, a health
 * check and Prometheus metrics, served by libmicrohttpd's thread pool.
 *
 * Everything a request carries is untrusted: sizes are checked against
 * the limits below before anything is read, a refused request gets a
 * {"detail": "..."} body and a counter, and the process carries on.
 */
#ifndef TP_CORE_RECEIVER_H
#define TP_CORE_RECEIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/bridge.h"
#include "core/keys.h"
#include "core/notify.h"
#include "store/aggstore.h"
#include "util/err.h"
#include "wkd/cidr.h"

/* Default and hard ceiling of one upload's body (413 above the limit). */
#define TP_RECV_BODY_DEFAULT (64u * 1024u * 1024u)
#define TP_RECV_BODY_HARD_MAX (UINT64_C(4) * 1024u * 1024u * 1024u)
/* Bodies of all uploads being received at once (503 above). */
#define TP_RECV_INFLIGHT_DEFAULT (256u * 1024u * 1024u)
/* Distinct header names kept per request; MHD's per-connection memory
 * limit (TP_RECV_CONN_MEMORY) already bounds their total size. */
#define TP_RECV_HEADERS_MAX 64u
#define TP_RECV_CONN_MEMORY (64u * 1024u)
/* Concurrent connections, and seconds an idle one is kept. */
#define TP_RECV_CONNECTIONS_MAX 1024u
#define TP_RECV_CONN_TIMEOUT_S 60u
/* Worker threads (the option's bounds). */
#define TP_RECV_THREADS_DEFAULT 4u
#define TP_RECV_THREADS_MAX 256u
/* Longest metadata-base-url. */
#define TP_RECV_BASE_URL_MAX 512u

struct tp_receiver_config {
	struct sockaddr_storage addr; /* where to listen */
	socklen_t addr_len;
	unsigned threads;
	uint64_t max_body_size, max_inflight;
	const char *base_url;         /* borrowed for the receiver's life */
	int64_t signature_max_age_s, signature_future_skew_s;
	/* HTTPS when cert and key are set (PEM text, borrowed until start
	 * returns); client_ca: require a client certificate it signed. */
	const char *tls_cert_pem, *tls_key_pem, *tls_client_ca_pem;
	/* Who may read /api/v1/stats/..., /metrics and the health check.
	 * Borrowed; NULL or inactive refuses everyone. */
	const struct tp_cidr_set *stats_hosts, *healthcheck_hosts;
	/* Borrowed until tp_receiver_stop(); notify and bridge may be NULL. */
	struct tp_keys *keys;
	struct tp_aggstore *store;
	struct tp_notify *notify;
	struct tp_bridge *bridge;
};

struct tp_receiver;

/* Start serving. Returns 0 and *out, TP_EINVAL (a bad setting), or
 * -errno when the address cannot be bound (logged). */
int tp_receiver_start(const struct tp_receiver_config *cfg, struct tp_receiver **out) TP_WUR;
/* The bound port (useful when the configuration said port 0). */
uint16_t tp_receiver_port(const struct tp_receiver *r);
/* Stop accepting connections, let requests in flight finish for up to
 * drain_ms, then close everything. NULL is a no-op. */
void tp_receiver_stop(struct tp_receiver *r, unsigned drain_ms);

/* "ADDR:PORT" or "[IPv6]:PORT" (numeric addresses only) to a socket
 * address. Returns 0 or TP_EMALF. */
int tp_receiver_parse_listen(const char *text, struct sockaddr_storage *addr,
			     socklen_t *len) TP_WUR;

/* `tapir core` (core.c): options, start, wait for SIGTERM/SIGINT. */
int tp_core_main(int argc, char **argv);

#endif
