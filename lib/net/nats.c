/* SPDX-License-Identifier: BSD-2-Clause
 *
 * nats.c - NATS URLs, subjects and connection options (see nats.h), for the
 * edge's sink and the core's notifier and bridge alike.
 */
#include "net/nats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "net/stopper.h"
#include "util/log.h"

bool tp_nats_subject_ok(const char *subject)
{
	if (subject == NULL)
		return false;
	size_t len = strnlen(subject, TP_NATS_SUBJECT_MAX + 1u);
	if (len == 0 || len > TP_NATS_SUBJECT_MAX)
		return false;
	bool token_start = true;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)subject[i];
		if (c == '.') {
			if (token_start)
				return false; /* empty token */
			token_start = true;
			continue;
		}
		/* Printable ASCII without space; '*' and '>' are wildcards,
		 * which a publisher must not use. */
		if (c <= 0x20u || c >= 0x7fu || c == '*' || c == '>')
			return false;
		token_start = false;
	}
	return !token_start;
}

static bool url_is_tls(const char *url)
{
	return strncmp(url, "tls://", 6) == 0;
}

bool tp_nats_url_ok(const char *url)
{
	size_t len = url != NULL ? strnlen(url, TP_NATS_URL_MAX + 1u) : 0;
	if (len == 0 || len > TP_NATS_URL_MAX)
		return false;
	size_t scheme = strncmp(url, "nats://", 7) == 0 ? 7u : url_is_tls(url) ? 6u : 0u;
	/* A scheme with nothing after it has no host. */
	return scheme != 0 && len > scheme;
}

int tp_nats_err(natsStatus s)
{
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_NO_MEMORY:
		return -ENOMEM;
	case NATS_TIMEOUT:
		return TP_ETIMEDOUT;
	case NATS_INVALID_ARG:
		return TP_EINVAL;
	case NATS_NOT_PERMITTED:
	case NATS_NO_SERVER_SUPPORT:
		return TP_EREFUSED;
	default:
		return TP_ECONN;
	}
}

/* closure: the backoff cap in seconds, by value. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
	(void)nc;
	return (int64_t)tp_backoff_ms(attempts > 0 ? (unsigned)attempts : 1u,
				      (unsigned)(uintptr_t)closure);
}

/* closure: the static client name. */
static void connected(natsConnection *nc, void *closure)
{
	(void)nc;
	tp_log_info(NATS, "%s: connected to NATS", (const char *)closure);
}

/* The host of a nats:// or tls:// URL when it is a DNS name (not an IP
 * literal), into out[0..out_size); false otherwise. */
static bool url_dns_host(const char *url, char *out, size_t out_size)
{
	const char *h = strstr(url, "://");
	if (h == NULL || h[3] == '[')
		return false;
	h += 3;
	size_t len = strcspn(h, ":/,");
	if (len == 0 || len >= out_size)
		return false;
	memcpy(out, h, len);
	out[len] = '\0';
	struct in_addr a4;
	return inet_pton(AF_INET, out, &a4) != 1;
}

natsStatus tp_nats_options_new(const struct tp_nats_setup *s, natsOptions **out)
{
	natsOptions *o = NULL;
	natsStatus st = natsOptions_Create(&o);
	if (st == NATS_OK)
		st = natsOptions_SetURL(o, s->url);
	if (st == NATS_OK)
		st = natsOptions_SetName(o, s->name);
	if (st == NATS_OK)
		st = natsOptions_SetTimeout(o, TP_NATS_CONNECT_TIMEOUT_MS);
	if (st == NATS_OK)
		st = natsOptions_SetMaxReconnect(o, -1);
	if (st == NATS_OK)
		st = natsOptions_SetCustomReconnectDelay(o, reconnect_delay,
							 (void *)(uintptr_t)s->backoff_max_s);
	if (st == NATS_OK && s->connect_in_background)
		st = natsOptions_SetRetryOnFailedConnect(o, true, connected,
							 (void *)(uintptr_t)s->name);
	bool tls = url_is_tls(s->url) || s->ca_file != NULL || s->client_cert_file != NULL;
	if (st == NATS_OK && tls)
		st = natsOptions_SetSecure(o, true);
	/* libnats checks the certificate's name only when told which name to
	 * expect; for an IP literal only the chain to ca_file is checked. */
	char host[TP_NATS_URL_MAX + 1u];
	if (st == NATS_OK && tls && url_dns_host(s->url, host, sizeof(host)))
		st = natsOptions_SetExpectedHostname(o, host);
	if (st == NATS_OK && s->ca_file != NULL)
		st = natsOptions_LoadCATrustedCertificates(o, s->ca_file);
	if (st == NATS_OK && s->client_cert_file != NULL)
		st = natsOptions_LoadCertificatesChain(o, s->client_cert_file, s->client_key_file);
	if (st != NATS_OK) {
		natsOptions_Destroy(o);
		return st;
	}
	*out = o;
	return NATS_OK;
}

int tp_nats_connect(const struct tp_nats_setup *s, natsOptions **opts, natsConnection **nc)
{
	struct tp_nats_setup bg = *s;
	bg.connect_in_background = true;
	*opts = NULL;
	*nc = NULL;
	natsStatus st = tp_nats_options_new(&bg, opts);
	if (st == NATS_OK) {
		st = natsConnection_Connect(nc, *opts);
		/* Retry-on-failed-connect: libnats goes on trying. */
		if (st == NATS_NOT_YET_CONNECTED)
			st = NATS_OK;
	}
	if (st == NATS_OK)
		return 0;
	tp_log_err(NATS, "%s: cannot set up the NATS connection: %s", s->name,
		   natsStatus_GetText(st));
	*nc = NULL;
	natsOptions_Destroy(*opts);
	*opts = NULL;
	return st == NATS_NO_MEMORY ? -ENOMEM : TP_ECONN;
}
