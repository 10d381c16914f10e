/* SPDX-License-Identifier: BSD-2-Clause
 *
 * nats.h - the NATS client plumbing that the edge's event sink
 * (edge/nats.c) and the core's notifier and bridge (core/notify.c,
 * core/bridge.c) share: which URLs and subjects we accept, and one way to
 * set up libnats's options so that all three connect, verify TLS and
 * reconnect alike.
 *
 * Reconnection: libnats reconnects forever by itself, waiting 1 s after the
 * first failed attempt and doubling up to backoff_max_s (tp_backoff_ms).
 * Its callbacks run on libnats's own threads, possibly after the connection
 * was destroyed, so they get the backoff cap and a static client name by
 * value, never a pointer to the user's state.
 *
 * TLS: a tls:// URL or any TLS file turns it on. The server's certificate
 * must chain to ca_file (libnats's default trust without it) and, when the
 * URL names a host rather than an IPv4 address, carry that name; mTLS with
 * a client certificate and key.
 */
#ifndef TP_NET_NATS_H
#define TP_NET_NATS_H

#include <stdbool.h>

#include <nats/nats.h>

#include "util/err.h"

/* A subject and a URL are short; longer ones are mistakes. */
#define TP_NATS_SUBJECT_MAX 255u
#define TP_NATS_URL_MAX 1024u
/* libnats's own connect timeout per attempt. */
#define TP_NATS_CONNECT_TIMEOUT_MS 5000

/* Whether subject can be published to: tokens of printable ASCII without
 * space joined by '.', no empty token, no wildcard ('*', '>'), at most
 * TP_NATS_SUBJECT_MAX octets. */
bool tp_nats_subject_ok(const char *subject);

/* Whether url is nats://... or tls://... with something after the scheme,
 * at most TP_NATS_URL_MAX octets (libnats parses the rest). NULL is not. */
bool tp_nats_url_ok(const char *url);

struct tp_nats_setup {
	const char *url;        /* passed tp_nats_url_ok() */
	const char *name;       /* static: the client name the server shows,
				 * and the tag of our connection log lines */
	const char *ca_file;    /* PEM; NULL = libnats's default trust */
	const char *client_cert_file, *client_key_file; /* mTLS, both or none */
	unsigned backoff_max_s; /* >= 1 */
	/* The first connection: false, natsConnection_Connect() tries once
	 * and the caller retries; true, it returns at once and libnats goes on
	 * trying in the background (tp_nats_connect()). */
	bool connect_in_background;
};

/* New options for s (all strings borrowed; the files are read now).
 * Returns NATS_OK and *out (natsOptions_Destroy() it), or libnats's error
 * (an unreadable TLS file, no memory). */
natsStatus tp_nats_options_new(const struct tp_nats_setup *s, natsOptions **out);

/* Options for s with connect_in_background set, and the connection, which
 * need not be up yet: publishes made before it is wait in libnats's
 * reconnect buffer. Logs a failure under s->name.
 * Returns 0 and *opts, *nc (destroy both), or -ENOMEM or TP_ECONN (the
 * options were refused). */
int tp_nats_connect(const struct tp_nats_setup *s, natsOptions **opts,
		    natsConnection **nc) TP_WUR;

/* A natsStatus as a tapir error: 0, -ENOMEM, TP_ETIMEDOUT, TP_EINVAL,
 * TP_EREFUSED or TP_ECONN. */
int tp_nats_err(natsStatus s);

#endif
