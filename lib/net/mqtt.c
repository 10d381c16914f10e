/* SPDX-License-Identifier: BSD-2-Clause
 *
 * mqtt.c - MQTT server URLs and configured libmosquitto clients (see
 * mqtt.h), for the edge's sink and the core's bridge alike.
 */
#include "net/mqtt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <string.h>

#include "util/ascii.h"

static const struct {
	const char *name;
	bool tls;
} schemes[] = {
	{"mqtt", false}, {"tcp", false}, {"ssl", true}, {"tls", true},
	{"mqtts", true}, {"mqtt+ssl", true}, {"tcps", true},
};

static bool ascii_ieq(const char *a, size_t a_len, const char *b)
{
	size_t b_len = strlen(b);
	if (a_len != b_len)
		return false;
	for (size_t i = 0; i < a_len; i++)
		if (tp_ascii_tolower((uint8_t)a[i]) != (uint8_t)b[i])
			return false;
	return true;
}

static int url_fail(const char **why, const char *text, int rc)
{
	if (why != NULL)
		*why = text;
	return rc;
}

static bool host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       tp_ascii_isdigit((uint8_t)c) || c == '-' || c == '.' || c == '_';
}

int tp_mqtt_parse_url(const char *url, struct tp_mqtt_url *out, const char **why)
{
	if (url == NULL || out == NULL)
		return url_fail(why, "no URL", TP_EINVAL);
	memset(out, 0, sizeof(*out));
	const char *rest = url;
	const char *sep = strstr(url, "://");
	/* edm-spec §5.3: a bare host:port is TLS. */
	out->tls = true;
	if (sep != NULL) {
		size_t slen = (size_t)(sep - url);
		if (ascii_ieq(url, slen, "ws") || ascii_ieq(url, slen, "wss"))
			return url_fail(why, "MQTT over WebSockets (ws://, wss://) is not supported",
					-EPROTONOSUPPORT);
		size_t i;
		for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
			if (ascii_ieq(url, slen, schemes[i].name))
				break;
		if (i == sizeof(schemes) / sizeof(schemes[0]))
			return url_fail(why, "unknown scheme (use mqtt://, tcp://, mqtts://, tls://, ssl://, mqtt+ssl://, tcps:// or host:port)",
					TP_EINVAL);
		out->tls = schemes[i].tls;
		rest = sep + 3;
	}
	size_t len = strlen(rest);
	if (len > 0 && rest[len - 1u] == '/')
		len--;
	if (memchr(rest, '@', len) != NULL)
		return url_fail(why, "user information in the URL is not supported", TP_EINVAL);
	if (memchr(rest, '/', len) != NULL || memchr(rest, '?', len) != NULL ||
	    memchr(rest, '#', len) != NULL)
		return url_fail(why, "the URL must not have a path, query or fragment", TP_EINVAL);

	const char *host = rest, *port = NULL;
	size_t host_len;
	if (len > 0 && rest[0] == '[') {
		const char *close = memchr(rest, ']', len);
		if (close == NULL)
			return url_fail(why, "unbalanced [ in the URL", TP_EINVAL);
		host = rest + 1;
		host_len = (size_t)(close - host);
		size_t after = (size_t)(close - rest) + 1u;
		if (after < len) {
			if (rest[after] != ':')
				return url_fail(why, "junk after ] in the URL", TP_EINVAL);
			port = rest + after + 1u;
		}
		if (host_len > TP_MQTT_HOST_MAX)
			return url_fail(why, "host too long", TP_EINVAL);
		char tmp[TP_MQTT_HOST_MAX + 1u];
		struct in6_addr a6;
		memcpy(tmp, host, host_len);
		tmp[host_len] = '\0';
		if (host_len == 0 || inet_pton(AF_INET6, tmp, &a6) != 1)
			return url_fail(why, "not an IPv6 address inside [ ]", TP_EINVAL);
	} else {
		const char *colon = memchr(rest, ':', len);
		if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - rest) - 1u) != NULL)
			return url_fail(why, "write an IPv6 address in brackets: [::1]:8883", TP_EINVAL);
		host_len = colon != NULL ? (size_t)(colon - rest) : len;
		if (colon != NULL)
			port = colon + 1;
		for (size_t i = 0; i < host_len; i++)
			if (!host_char_ok(host[i]))
				return url_fail(why, "bad character in the host", TP_EINVAL);
	}
	if (host_len == 0)
		return url_fail(why, "no host in the URL", TP_EINVAL);
	if (host_len > TP_MQTT_HOST_MAX)
		return url_fail(why, "host too long", TP_EINVAL);

	unsigned long p = out->tls ? 8883u : 1883u;
	if (port != NULL) {
		size_t plen = len - (size_t)(port - rest);
		if (plen == 0 || plen > 5)
			return url_fail(why, "bad port", TP_EINVAL);
		p = 0;
		for (size_t i = 0; i < plen; i++) {
			if (!tp_ascii_isdigit((uint8_t)port[i]))
				return url_fail(why, "bad port", TP_EINVAL);
			p = p * 10u + (unsigned long)(port[i] - '0');
		}
		if (p == 0 || p > 65535u)
			return url_fail(why, "port out of range 1..65535", TP_EINVAL);
	}
	memcpy(out->host, host, host_len);
	out->host[host_len] = '\0';
	out->port = (uint16_t)p;
	return 0;
}

bool tp_mqtt_text_ok(const char *s, size_t max)
{
	if (s == NULL)
		return false;
	size_t len = strnlen(s, max + 1u);
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((uint8_t)s[i] < 0x20u || (uint8_t)s[i] == 0x7fu)
			return false;
	return true;
}

int tp_mqtt_tls_check(const struct tp_mqtt_url *url, const struct tp_mqtt_tls *tls,
		      const char **why)
{
	if ((tls->client_cert_file == NULL) != (tls->client_key_file == NULL)) {
		*why = "a client certificate needs its key, and a key its certificate";
		return TP_EINVAL;
	}
	if (!url->tls && (tls->ca_file != NULL || tls->client_cert_file != NULL)) {
		*why = "TLS files given for a plain mqtt:// or tcp:// server";
		return TP_EINVAL;
	}
	return 0;
}

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

static void lib_init(void)
{
	lib_rc = mosquitto_lib_init();
}

int tp_mqtt_lib_init(void)
{
	(void)pthread_once(&lib_once, lib_init);
	return lib_rc == MOSQ_ERR_SUCCESS ? 0 : TP_EBUG;
}

int tp_mqtt_err(int mosq_rc)
{
	switch (mosq_rc) {
	case MOSQ_ERR_SUCCESS:
		return 0;
	case MOSQ_ERR_NOMEM:
		return -ENOMEM;
	case MOSQ_ERR_ERRNO:
		return errno > 0 ? -errno : TP_ECONN;
	case MOSQ_ERR_CONN_REFUSED:
	case MOSQ_ERR_NOT_SUPPORTED:
		return TP_EREFUSED;
	case MOSQ_ERR_INVAL:
		return TP_EINVAL;
	default:
		return TP_ECONN;
	}
}

int tp_mqtt_client_new(const char *client_id, bool clean_start, void *obj,
		       const struct tp_mqtt_url *url, const struct tp_mqtt_tls *tls,
		       struct mosquitto **out)
{
	*out = NULL;
	struct mosquitto *mosq = mosquitto_new(client_id, clean_start, obj);
	if (mosq == NULL)
		return errno == EINVAL ? TP_EINVAL : -ENOMEM;
	int rc = mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (rc == MOSQ_ERR_SUCCESS && url->tls) {
		if (tls->ca_file == NULL)
			rc = mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_set(mosq, tls->ca_file, NULL, tls->client_cert_file,
					       tls->client_key_file, NULL);
		/* Verify the peer; tls_version NULL = TLS 1.2 or newer, 1.3
		 * when the broker has it. */
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(mosq, 1, NULL, NULL);
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		int err = tp_mqtt_err(rc);
		mosquitto_destroy(mosq);
		return err;
	}
	*out = mosq;
	return 0;
}

void tp_mqtt_client_close(struct mosquitto *mosq, bool disconnect)
{
	if (mosq == NULL)
		return;
	if (disconnect && mosquitto_disconnect_v5(mosq, 0, NULL) == MOSQ_ERR_SUCCESS)
		(void)mosquitto_loop(mosq, 100, 1);
	mosquitto_destroy(mosq);
}
