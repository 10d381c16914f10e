/* SPDX-License-Identifier: BSD-2-Clause
 *
 * core.c - `tapir core`: the aggregate receiver's options, its storage,
 * notifications and event bridge, and an orderly stop.
 *
 * One option table serves flags and the config file (SPEC §10); every
 * problem is reported before giving up. SIGTERM and SIGINT are blocked in
 * every thread and taken by sigwait() in main, so a signal never lands in
 * a worker: the receiver stops accepting, requests in flight finish, the
 * bridge and the notifier stop, and the process exits 0.
 *
 * signature-future-skew defaults to 5 seconds where the reference allows
 * none: edges and core keep time with NTP, and a few seconds of drift
 * would otherwise refuse a fresh upload for no security gain (the window
 * for replay is max-age, not the skew).
 */
#include "core/receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/io.h"
#include "util/log.h"
#include "util/opts.h"

/* The reference's stats_hosts/healthcheck_hosts, plus IPv6 loopback. */
#define DEFAULT_HOSTS "127.0.0.1/32,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fe80::/10"
/* Largest PEM or secret file read at start. */
#define SMALL_FILE_MAX (1024u * 1024u)
/* How long a stop waits for requests and notifications in flight. */
#define DRAIN_MS 10000u

/* A whole small file, NUL-terminated, heap. NULL on error (printed). */
static char *read_small(const char *what, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = tp_read_file(path, 0, SMALL_FILE_MAX, &buf, &len);
	if (rc != 0) {
		fprintf(stderr, "%s %s: %s\n", what, path,
			rc == TP_EINVAL || rc == TP_ETOOBIG ? "not a regular file of at most 1 MiB"
							   : tp_strerror(rc));
		return NULL;
	}
	if (strlen(buf) != len) {
		fprintf(stderr, "%s %s: contains a NUL byte\n", what, path);
		free(buf);
		return NULL;
	}
	return buf;
}

static void report_bad_cidr(void *ctx, uint64_t line, const char *why)
{
	fprintf(stderr, "%s: prefix %llu: %s\n", (const char *)ctx, (unsigned long long)line, why);
}

/* A comma- or space-separated CIDR list. Returns 0 or -1 (printed). */
static int parse_hosts(const char *what, const char *list, struct tp_cidr_set **out)
{
	char *lines = strdup(list);
	if (lines == NULL)
		return -1;
	size_t o = 0;
	for (const char *p = list; *p; p++) {
		if (*p == ',' || *p == ' ') {
			if (o > 0 && lines[o - 1] != '\n')
				lines[o++] = '\n';
		} else {
			lines[o++] = *p;
		}
	}
	int rc = tp_cidr_parse(lines, o, report_bad_cidr, (void *)(uintptr_t)what, out, NULL);
	free(lines);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", what, tp_strerror(rc));
		return -1;
	}
	return 0;
}

static void format_listen(const struct sockaddr_storage *a, uint16_t port, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (a->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr, host,
			  sizeof(host));
		snprintf(out, size, "[%s]:%u", host, port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)a)->sin_addr, host,
			  sizeof(host));
		snprintf(out, size, "%s:%u", host, port);
	}
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0750) != 0 && errno != EEXIST) {
		tp_log_err(core, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int tp_core_main(int argc, char **argv)
{
	const char *config_file = NULL, *listen = "127.0.0.1:8080", *data_dir = NULL;
	const char *keys_dir = NULL, *base_url = NULL;
	uint64_t max_body = TP_RECV_BODY_DEFAULT, max_inflight = TP_RECV_INFLIGHT_DEFAULT;
	uint64_t max_age = 86400, future_skew = 5, threads = TP_RECV_THREADS_DEFAULT;
	uint64_t key_ttl = TP_KEYS_TTL_DEFAULT_S;
	struct tp_s3_config s3 = { 0 };
	const char *s3_secret_file = NULL;
	bool s3_create = false, debug = false, help = false;
	const char *nats_url = NULL, *nats_subject = "aggregates";
	const char *mqtt_url = NULL, *bridge_subject = NULL, *mqtt_ca = NULL;
	const char *mqtt_cert = NULL, *mqtt_key = NULL;
	const char *tls_cert = NULL, *tls_key = NULL, *tls_client_ca = NULL;
	const char *stats_hosts = DEFAULT_HOSTS, *health_hosts = DEFAULT_HOSTS;

	struct tp_opt opts[] = {
		{ "config-file", TP_OPT_STRING, &config_file, 0, 0, "read options from this file (key = value)", true, false, NULL },
		{ "listen", TP_OPT_STRING, &listen, 0, 0, "ADDR:PORT or [IPv6]:PORT to serve HTTP on (default 127.0.0.1:8080)", false, false, NULL },
		{ "data-dir", TP_OPT_STRING, &data_dir, 0, 0, "payloads in DATA/aggregates, the index in DATA/index (required)", false, false, NULL },
		{ "keys-dir", TP_OPT_STRING, &keys_dir, 0, 0, "directory of <keyid>.pem public keys of the edges (required)", false, false, NULL },
		{ "key-cache-ttl", TP_OPT_UINT, &key_ttl, 0, 86400, "seconds a key read from keys-dir is cached (default 300)", false, false, NULL },
		{ "max-body-size", TP_OPT_UINT, &max_body, 1, TP_RECV_BODY_HARD_MAX, "largest upload in bytes; larger ones get 413 (default 67108864)", false, false, NULL },
		{ "max-inflight-size", TP_OPT_UINT, &max_inflight, 1, UINT64_C(1) << 40, "upload bytes received at once over all connections; more get 503 (default 268435456)", false, false, NULL },
		{ "metadata-base-url", TP_OPT_STRING, &base_url, 0, 0, "absolute URL prefix of the locations in metadata and notifications (default http://<listen>)", false, false, NULL },
		{ "signature-max-age", TP_OPT_UINT, &max_age, 1, UINT64_C(365) * 86400, "seconds a signature's created may lie in the past (default 86400)", false, false, NULL },
		{ "signature-future-skew", TP_OPT_UINT, &future_skew, 0, 3600, "seconds a signature's created may lie in the future (default 5)", false, false, NULL },
		{ "threads", TP_OPT_UINT, &threads, 1, TP_RECV_THREADS_MAX, "HTTP worker threads (default 4)", false, false, NULL },
		{ "s3-endpoint", TP_OPT_STRING, &s3.endpoint, 0, 0, "store payloads in this S3-compatible service (http[s]://host:port) instead of data-dir", false, false, NULL },
		{ "s3-bucket", TP_OPT_STRING, &s3.bucket, 0, 0, "S3 bucket", false, false, NULL },
		{ "s3-region", TP_OPT_STRING, &s3.region, 0, 0, "S3 region (default us-east-1)", false, false, NULL },
		{ "s3-access-key-id", TP_OPT_STRING, &s3.access_key, 0, 0, "S3 access key id", false, false, NULL },
		{ "s3-secret-access-key", TP_OPT_STRING, &s3.secret_key, 0, 0, "S3 secret key (visible in ps: prefer s3-secret-access-key-file)", false, false, NULL },
		{ "s3-secret-access-key-file", TP_OPT_STRING, &s3_secret_file, 0, 0, "file holding the S3 secret key", false, false, NULL },
		{ "s3-ca-file", TP_OPT_STRING, &s3.ca_file, 0, 0, "CA certificates (PEM) of an https S3 endpoint", false, false, NULL },
		{ "s3-create-bucket", TP_OPT_BOOL, &s3_create, 0, 0, "create the bucket at start if it is missing", false, false, NULL },
		{ "nats-url", TP_OPT_STRING, &nats_url, 0, 0, "publish new_aggregate notifications on this NATS server (nats://host:port)", false, false, NULL },
		{ "nats-subject", TP_OPT_STRING, &nats_subject, 0, 0, "NATS subject of the notifications (default aggregates)", false, false, NULL },
		{ "mqtt-url", TP_OPT_STRING, &mqtt_url, 0, 0, "run the event bridge: subscribe to events/up/# on this MQTT broker (needs nats-url)", false, false, NULL },
		{ "mqtt-ca-file", TP_OPT_STRING, &mqtt_ca, 0, 0, "CA certificates (PEM) of the MQTT broker", false, false, NULL },
		{ "mqtt-client-cert-file", TP_OPT_STRING, &mqtt_cert, 0, 0, "client certificate (PEM) for the MQTT broker", false, false, NULL },
		{ "mqtt-client-key-file", TP_OPT_STRING, &mqtt_key, 0, 0, "its private key (PEM)", false, false, NULL },
		{ "bridge-nats-subject", TP_OPT_STRING, &bridge_subject, 0, 0, "NATS subject of verified events (default events.up.new_qname)", false, false, NULL },
		{ "tls-cert-file", TP_OPT_STRING, &tls_cert, 0, 0, "serve HTTPS with this certificate chain (PEM)", false, false, NULL },
		{ "tls-key-file", TP_OPT_STRING, &tls_key, 0, 0, "its private key (PEM)", false, false, NULL },
		{ "tls-client-ca-file", TP_OPT_STRING, &tls_client_ca, 0, 0, "require client certificates signed by these CAs (PEM)", false, false, NULL },
		{ "stats-hosts", TP_OPT_STRING, &stats_hosts, 0, 0, "CIDR prefixes (comma-separated) allowed /api/v1/stats/* and /metrics (default loopback and RFC 1918)", false, false, NULL },
		{ "healthcheck-hosts", TP_OPT_STRING, &health_hosts, 0, 0, "CIDR prefixes allowed /api/v1/healthcheck (default loopback and RFC 1918)", false, false, NULL },
		{ "debug", TP_OPT_BOOL, &debug, 0, 0, "log debug messages", false, false, NULL },
		{ "help", TP_OPT_BOOL, &help, 0, 0, "show this help", true, false, NULL },
	};
	const size_t n_opts = sizeof(opts) / sizeof(opts[0]);
	const char *synopsis = "tapir core --data-dir DIR --keys-dir DIR [options]";

	struct tp_receiver_config rc = { 0 };
	struct tp_cidr_set *stats_set = NULL, *health_set = NULL;
	char *cert_pem = NULL, *key_pem = NULL, *ca_pem = NULL, *secret = NULL;
	struct tp_keys *keys = NULL;
	struct tp_aggstore *store = NULL;
	struct tp_notify *notify = NULL;
	struct tp_bridge *bridge = NULL;
	struct tp_receiver *recv = NULL;
	char url_buf[TP_RECV_BASE_URL_MAX + 1], where[80];
	int status = 1;

	int bad = tp_opts_parse(opts, n_opts, argc, argv, &config_file) != 0 ? -1 : 0;
	if (help) {
		tp_opts_usage(opts, n_opts, synopsis);
		status = 0;
		goto out;
	}
	if (debug)
		tp_log_threshold = TP_LOG_DEBUG;
	if (data_dir == NULL || keys_dir == NULL) {
		fprintf(stderr, "data-dir and keys-dir are required\n");
		bad = -1;
	}
	if (tp_receiver_parse_listen(listen, &rc.addr, &rc.addr_len) < 0) {
		fprintf(stderr, "listen %s: expected ADDR:PORT or [IPv6]:PORT with a numeric address\n",
			listen);
		bad = -1;
	}
	if (max_inflight < max_body) {
		fprintf(stderr, "max-inflight-size must be at least max-body-size\n");
		bad = -1;
	}
	if (!tls_cert != !tls_key) {
		fprintf(stderr, "tls-cert-file and tls-key-file go together\n");
		bad = -1;
	}
	if (tls_client_ca && !tls_cert) {
		fprintf(stderr, "tls-client-ca-file needs tls-cert-file and tls-key-file\n");
		bad = -1;
	}
	if (tls_cert && (cert_pem = read_small("tls-cert-file", tls_cert)) == NULL)
		bad = -1;
	if (tls_key && (key_pem = read_small("tls-key-file", tls_key)) == NULL)
		bad = -1;
	if (tls_client_ca && (ca_pem = read_small("tls-client-ca-file", tls_client_ca)) == NULL)
		bad = -1;
	if (s3.endpoint) {
		if (s3_secret_file) {
			if (s3.secret_key) {
				fprintf(stderr, "s3-secret-access-key and s3-secret-access-key-file exclude each other\n");
				bad = -1;
			} else if ((secret = read_small("s3-secret-access-key-file", s3_secret_file)) != NULL) {
				secret[strcspn(secret, "\r\n")] = '\0';
				s3.secret_key = secret;
			} else {
				bad = -1;
			}
		}
		if (!s3.bucket || !s3.access_key || !s3.secret_key) {
			fprintf(stderr, "s3-endpoint needs s3-bucket, s3-access-key-id and a secret key\n");
			bad = -1;
		}
	} else if (s3.bucket || s3.access_key || s3.secret_key || s3_secret_file || s3_create) {
		fprintf(stderr, "the s3-* options need s3-endpoint\n");
		bad = -1;
	}
	if (mqtt_url && !nats_url) {
		fprintf(stderr, "mqtt-url (the event bridge) needs nats-url\n");
		bad = -1;
	}
	if (!mqtt_cert != !mqtt_key) {
		fprintf(stderr, "mqtt-client-cert-file and mqtt-client-key-file go together\n");
		bad = -1;
	}
	if (parse_hosts("stats-hosts", stats_hosts, &stats_set) < 0 ||
	    parse_hosts("healthcheck-hosts", health_hosts, &health_set) < 0)
		bad = -1;
	if (base_url == NULL && bad == 0) {
		format_listen(&rc.addr, ntohs(rc.addr.ss_family == AF_INET6
			      ? ((struct sockaddr_in6 *)(void *)&rc.addr)->sin6_port
			      : ((struct sockaddr_in *)(void *)&rc.addr)->sin_port), where, sizeof(where));
		snprintf(url_buf, sizeof(url_buf), "%s://%s", tls_cert ? "https" : "http", where);
		base_url = url_buf;
	}
	if (base_url && (strlen(base_url) > TP_RECV_BASE_URL_MAX ||
			 (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0))) {
		fprintf(stderr, "metadata-base-url: an http:// or https:// URL of at most %u characters\n",
			TP_RECV_BASE_URL_MAX);
		bad = -1;
	}
	if (bad)
		goto out;
	/* A base URL ending in '/' would give "//api" in every location. */
	if (base_url != url_buf) {
		snprintf(url_buf, sizeof(url_buf), "%s", base_url);
		base_url = url_buf;
	}
	for (size_t n = strlen(url_buf); n > 0 && url_buf[n - 1] == '/'; n--)
		url_buf[n - 1] = '\0';

	/* Before any thread exists: the signals go to sigwait() only. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	char index_dir[4096], payload_dir[4096];
	if (snprintf(index_dir, sizeof(index_dir), "%s/index", data_dir) >= (int)sizeof(index_dir) ||
	    snprintf(payload_dir, sizeof(payload_dir), "%s/aggregates", data_dir) >=
		    (int)sizeof(payload_dir)) {
		tp_log_err(core, "data-dir: path too long");
		goto out;
	}
	if (make_dir(data_dir) < 0)
		goto out;
	int err = tp_keys_open(keys_dir, (unsigned)key_ttl, &keys);
	if (err < 0)
		goto out;
	struct tp_aggstore_config sc = {
		.index_dir = index_dir,
		.local_dir = s3.endpoint ? NULL : payload_dir,
		.s3 = s3.endpoint ? &s3 : NULL,
		.s3_create_bucket = s3_create,
	};
	err = tp_aggstore_open(&sc, &store);
	if (err < 0) {
		tp_log_err(core, "aggregate store: %s", tp_strerror(err));
		goto out;
	}
	if (nats_url) {
		struct tp_notify_config nc = { .url = nats_url, .subject = nats_subject,
					       .base_url = base_url };
		err = tp_notify_start(&nc, &notify);
		if (err < 0) {
			tp_log_err(core, "notifications: %s", tp_strerror(err));
			goto out;
		}
	}
	if (mqtt_url) {
		struct tp_bridge_config bc = {
			.mqtt_url = mqtt_url, .ca_file = mqtt_ca, .client_cert_file = mqtt_cert,
			.client_key_file = mqtt_key, .nats_url = nats_url, .nats_subject = bridge_subject,
		};
		err = tp_bridge_start(&bc, keys, &bridge);
		if (err < 0) {
			tp_log_err(core, "event bridge: %s", tp_strerror(err));
			goto out;
		}
	}
	rc.threads = (unsigned)threads;
	rc.max_body_size = max_body;
	rc.max_inflight = max_inflight;
	rc.base_url = base_url;
	rc.signature_max_age_s = (int64_t)max_age;
	rc.signature_future_skew_s = (int64_t)future_skew;
	rc.tls_cert_pem = cert_pem;
	rc.tls_key_pem = key_pem;
	rc.tls_client_ca_pem = ca_pem;
	rc.stats_hosts = stats_set;
	rc.healthcheck_hosts = health_set;
	rc.keys = keys;
	rc.store = store;
	rc.notify = notify;
	rc.bridge = bridge;
	if (tp_receiver_start(&rc, &recv) < 0)
		goto out;
	format_listen(&rc.addr, tp_receiver_port(recv), where, sizeof(where));
	tp_log_notice(core, "listening on %s", where);

	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	tp_log_notice(core, "signal %d: stopping", sig);
	tp_receiver_stop(recv, DRAIN_MS);
	recv = NULL;
	status = 0;
out:
	tp_receiver_stop(recv, 0);
	if (bridge)
		tp_bridge_stop(bridge);
	tp_notify_stop(notify, notify ? DRAIN_MS / 2 : 0);
	if (store)
		tp_aggstore_close(store);
	tp_keys_close(keys);
	tp_cidr_free(stats_set);
	tp_cidr_free(health_set);
	free(cert_pem);
	if (key_pem)
		explicit_bzero(key_pem, strlen(key_pem));
	free(key_pem);
	free(ca_pem);
	if (secret)
		explicit_bzero(secret, strlen(secret));
	free(secret);
	tp_opts_free(opts, n_opts);
	return bad ? 2 : status;
}
