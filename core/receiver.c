/* SPDX-License-Identifier: BSD-2-Clause
 *
 * receiver.c - the core's HTTP API (receiver.h), the C counterpart of the
 * reference's aggrec (core-spec §1).
 *
 * An upload is checked in the reference's order (core-spec §1.3-1.7, §1.11
 * with the decisions of §7), cheapest and most hostile first:
 *   404/405 path and method, 422 unknown aggregate type,
 *   413 Content-Length over max-body-size (before one body byte is read),
 *   422 a required header missing or ill-typed,
 *   503 too many body bytes in flight across all uploads,
 *   then the body, bounded by its declared length,
 *   400/401 the HTTP message signature (400: alg missing or unknown, alg not
 *       the key's, malformed fields or keyid; 401: everything else),
 *   401 the Content-Digest against the body,
 *   201 a duplicate by the exact Content-Digest string (nothing stored),
 *   422 Aggregate-Interval, 400 body length not the declared one,
 *   500 storage, else 201 + Location once tp_aggstore_put() returned 0.
 * Only then is the new_aggregate notification queued. Every answer carries
 * Server and a fresh X-Request-ID, and counts in /metrics.
 */
#include "core/receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/interval.h"
#include "sign/httpsig.h"
#include "util/ascii.h"
#include "util/log.h"

#define SERVER_HEADER "tapir-core/" TP_VERSION
#define PREFIX_POST "/api/v1/aggregate/"
#define PREFIX_GET "/api/v1/aggregates/"
#define INTERVAL_ERROR \
	"Invalid Aggregate-Interval: must be an ISO 8601 time interval " \
	"(e.g., '2024-01-01T12:00:00Z/PT1M')"

/* Why a signature or digest was refused: the metric's reason label. */
#define SIG_FAIL_REASONS(X)                                           \
	X(missing, "Signature or Signature-Input absent")             \
	X(malformed, "a field or the keyid is malformed")             \
	X(multiple, "more than one signature")                        \
	X(param, "a parameter refused: unknown, stale or future")     \
	X(alg, "alg missing, unknown or not the key's")               \
	X(cover, "a required component not covered, or a derived one") \
	X(unknown_key, "no key for the keyid")                        \
	X(bad_signature, "the signature does not verify")             \
	X(digest_mismatch, "Content-Digest does not match the body")  \
	X(digest_unusable, "Content-Digest without sha-256 or sha-512") \
	X(other, "another error")

enum sig_fail {
#define SIG_ENUM(name, text) SIG_FAIL_##name,
	SIG_FAIL_REASONS(SIG_ENUM)
#undef SIG_ENUM
	SIG_FAIL_COUNT
};

static const char *const sig_fail_names[] = {
#define SIG_NAME(name, text) #name,
	SIG_FAIL_REASONS(SIG_NAME)
#undef SIG_NAME
};

/* Status codes counted by name; anything else counts as "other". */
static const unsigned counted_status[] = { 200, 201, 400, 401, 403, 404, 405, 413, 422,
					   500, 502, 503 };
#define N_STATUS (sizeof(counted_status) / sizeof(counted_status[0]))

/* Why an upload was refused before its signature: metric labels. */
#define REFUSE_REASONS(X)                                                          \
	X(too_big) X(inflight) X(headers) X(content_type) X(aggregate_type) X(interval) \
	X(length_mismatch) X(client_cert)

enum refuse {
#define REFUSE_ENUM(name) REFUSE_##name,
	REFUSE_REASONS(REFUSE_ENUM)
#undef REFUSE_ENUM
	REFUSE_COUNT
};

static const char *const refuse_names[] = {
#define REFUSE_NAME(name) #name,
	REFUSE_REASONS(REFUSE_NAME)
#undef REFUSE_NAME
};

struct counters {
	atomic_uint_fast64_t status[N_STATUS + 1u];
	atomic_uint_fast64_t sig_fail[SIG_FAIL_COUNT];
	atomic_uint_fast64_t refused[REFUSE_COUNT];
	atomic_uint_fast64_t stored, stored_bytes, duplicates, storage_errors;
};

struct tp_receiver {
	struct MHD_Daemon *mhd;
	struct tp_receiver_config cfg;
	bool tls_client_ca;
	uint16_t port;
	atomic_uint_fast64_t inflight_bytes;
	atomic_int inflight_requests;
	struct counters c;
};

struct header {
	char name[64]; /* lower case */
	char *value;   /* heap: field lines joined by ", " (RFC 9110 §5.3) */
};

enum route {
	ROUTE_NONE,
	ROUTE_UPLOAD,
	ROUTE_META,
	ROUTE_PAYLOAD,
	ROUTE_STATS_CREATORS,
	ROUTE_STATS_AGGREGATES,
	ROUTE_HEALTH,
	ROUTE_METRICS,
};

/* One request, from its first access-handler call to its completion. */
struct request {
	struct tp_receiver *r;
	enum route route;
	char arg[64];          /* aggregate type or id from the path */
	char request_id[37];
	uint64_t content_length;
	uint64_t reserved;     /* bytes counted in r->inflight_bytes */
	uint8_t *body;         /* heap, content_length bytes */
	size_t body_len;
	uint64_t received;     /* body bytes sent, kept or not: the 400's detail */
	bool overflow;         /* more body than declared */
	bool counted;          /* in r->inflight_requests */
	bool answered;         /* a response is queued */
	size_t n_headers;
	struct header headers[TP_RECV_HEADERS_MAX];
};

/* ---- small helpers ---- */

static void make_request_id(char out[37])
{
	uint8_t b[16];
	if (RAND_bytes(b, sizeof(b)) != 1) {
		/* Only a label for logs; a clock-based one is fine then. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t v = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* RFC 9562 version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

static void count_status(struct tp_receiver *r, unsigned status)
{
	size_t i = 0;
	while (i < N_STATUS && counted_status[i] != status)
		i++;
	atomic_fetch_add(&r->c.status[i], 1);
}

/* Queue a response built from a heap (or static, when must_free is
 * false) buffer, with the headers every answer has. */
static enum MHD_Result respond(struct MHD_Connection *conn, struct request *q, unsigned status,
			       void *body, size_t len, bool must_free, const char *content_type,
			       const char *location, const char *link)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	bool ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, SERVER_HEADER) == MHD_YES &&
		  MHD_add_response_header(resp, "X-Request-ID", q->request_id) == MHD_YES &&
		  (content_type == NULL ||
		   MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) == MHD_YES) &&
		  (location == NULL ||
		   MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location) == MHD_YES) &&
		  (link == NULL || MHD_add_response_header(resp, MHD_HTTP_HEADER_LINK, link) == MHD_YES) &&
		  (status != 503 ||
		   MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "5") == MHD_YES);
	enum MHD_Result rc = ok ? MHD_queue_response(conn, status, resp) : MHD_NO;
	MHD_destroy_response(resp);
	if (rc == MHD_YES) {
		q->answered = true;
		count_status(q->r, status);
	}
	return rc;
}

static enum MHD_Result respond_json(struct MHD_Connection *conn, struct request *q,
				    unsigned status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (text == NULL) {
		static char oom[] = "{\"detail\":\"Out of memory\"}";
		return respond(conn, q, 500, oom, strlen(oom), false, "application/json", NULL, NULL);
	}
	return respond(conn, q, status, text, strlen(text), true, "application/json", NULL, NULL);
}

static enum MHD_Result fail(struct MHD_Connection *conn, struct request *q, unsigned status,
			    const char *detail)
{
	return respond_json(conn, q, status, json_pack("{s:s}", "detail", detail));
}

static const char *header(void *ctx, const char *lower_name)
{
	const struct request *q = ctx;
	for (size_t i = 0; i < q->n_headers; i++)
		if (strcmp(q->headers[i].name, lower_name) == 0)
			return q->headers[i].value;
	return NULL;
}

/* MHD_get_connection_values callback: gather every header, lower-cased,
 * repeated lines joined. Too many names or an oversized name: the
 * request is refused with 422 through q->overflow. */
static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	(void)kind;
	struct request *q = cls;
	char name[sizeof(q->headers[0].name)];
	size_t n = strnlen(key, sizeof(name));
	if (n == sizeof(name) || value == NULL) {
		q->overflow = true;
		return MHD_YES;
	}
	for (size_t i = 0; i <= n; i++)
		name[i] = (char)tp_ascii_tolower((uint8_t)key[i]);
	struct header *h = NULL;
	for (size_t i = 0; i < q->n_headers && h == NULL; i++)
		if (strcmp(q->headers[i].name, name) == 0)
			h = &q->headers[i];
	if (h == NULL) {
		if (q->n_headers == TP_RECV_HEADERS_MAX) {
			q->overflow = true;
			return MHD_YES;
		}
		h = &q->headers[q->n_headers];
		h->value = strdup(value);
		if (h->value == NULL) {
			q->overflow = true;
			return MHD_YES;
		}
		memcpy(h->name, name, n + 1u);
		q->n_headers++;
		return MHD_YES;
	}
	size_t old = strlen(h->value), add = strlen(value);
	char *joined = realloc(h->value, old + add + 3u);
	if (joined == NULL) {
		q->overflow = true;
		return MHD_YES;
	}
	memcpy(joined + old, ", ", 2);
	memcpy(joined + old + 2, value, add + 1u);
	h->value = joined;
	return MHD_YES;
}

/* Strict decimal without sign, spaces or overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
	if (s == NULL || *s == '\0' || strlen(s) > 19u)
		return false;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10u + (uint64_t)(*p - '0');
	}
	*out = v;
	return true;
}

static bool id_ok(const char *id)
{
	size_t n = strnlen(id, TP_AGG_ID_LEN + 1u);
	if (n != TP_AGG_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static bool type_ok(const char *t)
{
	return strcmp(t, "histogram") == 0 || strcmp(t, "vector") == 0 || strcmp(t, "test") == 0;
}

static int iso_seconds(int64_t s, char out[TP_INTERVAL_ISO_SIZE])
{
	int64_t us;
	if (__builtin_mul_overflow(s, INT64_C(1000000), &us))
		return TP_EINVAL;
	return tp_interval_format_utc(us, out);
}

/* ---- routing ---- */

static enum route route_of(const char *url, char arg[64], bool *known_path)
{
	*known_path = true;
	arg[0] = '\0';
	if (strncmp(url, PREFIX_POST, strlen(PREFIX_POST)) == 0) {
		const char *t = url + strlen(PREFIX_POST);
		if (*t == '\0' || strchr(t, '/') != NULL || strlen(t) >= 64) {
			*known_path = false;
			return ROUTE_NONE;
		}
		memcpy(arg, t, strlen(t) + 1u);
		return ROUTE_UPLOAD;
	}
	if (strncmp(url, PREFIX_GET, strlen(PREFIX_GET)) == 0) {
		const char *id = url + strlen(PREFIX_GET);
		const char *slash = strchr(id, '/');
		size_t n = slash ? (size_t)(slash - id) : strlen(id);
		if (n == 0 || n >= 64 || (slash && strcmp(slash, "/payload") != 0)) {
			*known_path = false;
			return ROUTE_NONE;
		}
		memcpy(arg, id, n);
		arg[n] = '\0';
		return slash ? ROUTE_PAYLOAD : ROUTE_META;
	}
	if (strcmp(url, "/api/v1/stats/creators") == 0)
		return ROUTE_STATS_CREATORS;
	if (strcmp(url, "/api/v1/stats/aggregates") == 0)
		return ROUTE_STATS_AGGREGATES;
	if (strcmp(url, "/api/v1/healthcheck") == 0)
		return ROUTE_HEALTH;
	if (strcmp(url, "/metrics") == 0)
		return ROUTE_METRICS;
	*known_path = false;
	return ROUTE_NONE;
}

/* Whether the client's address is in set. Returns 1, 0, or -1 when the
 * address cannot be read (400). IPv4-mapped IPv6 counts as IPv4, so a
 * dual-stack listener applies the IPv4 prefixes. */
static int client_in(struct MHD_Connection *conn, const struct tp_cidr_set *set)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return -1;
	const struct sockaddr *sa = ci->client_addr;
	const uint8_t *addr;
	size_t len;
	if (sa->sa_family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		len = 4;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		addr = a6->s6_addr;
		len = 16;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			addr += 12;
			len = 4;
		}
	} else {
		return -1;
	}
	return tp_cidr_match(set, addr, len) == TP_CIDR_HIT ? 1 : 0;
}

/* ---- GET handlers ---- */

static enum MHD_Result get_meta(struct MHD_Connection *conn, struct request *q)
{
	struct tp_receiver *r = q->r;
	struct tp_agg_meta m;
	memset(&m, 0, sizeof(m));
	if (!id_ok(q->arg))
		return fail(conn, q, 404, "Aggregate not found");
	int rc = tp_aggstore_get_meta(r->cfg.store, q->arg, &m);
	if (rc == -ENOENT)
		return fail(conn, q, 404, "Aggregate not found");
	if (rc < 0) {
		tp_log_limited(TP_LOG_ERR, core, "metadata of an aggregate: %s", tp_strerror(rc));
		return fail(conn, q, 500, "Database error");
	}
	char created[TP_INTERVAL_ISO_SIZE], start[TP_INTERVAL_ISO_SIZE];
	char location[TP_RECV_BASE_URL_MAX + 64];
	json_t *headers = json_object();
	for (size_t i = 0; headers && i < m.n_headers && i < TP_AGG_HEADERS_MAX; i++)
		if (m.headers[i].value)
			json_object_set_new(headers, m.headers[i].name, json_string(m.headers[i].value));
	snprintf(location, sizeof(location), "%s/api/v1/aggregates/%s/payload", r->cfg.base_url,
		 m.id);
	json_t *doc = NULL;
	if (iso_seconds(m.created, created) == 0) {
		bool interval = m.has_interval && tp_interval_format_utc(m.interval_start_us, start) == 0;
		doc = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:s,s:s,s:s,s:o,s:o}",
				"aggregate_id", m.id, "aggregate_type", m.type, "created", created,
				"creator", m.creator, "headers", headers, "content_type",
				m.content_type, "content_length", (json_int_t)m.content_length,
				"content_location", location, "s3_bucket", m.bucket,
				"s3_object_key", m.object_key, "aggregate_interval_start",
				interval ? json_string(start) : json_null(),
				"aggregate_interval_duration",
				interval ? json_integer(m.interval_duration_s) : json_null());
	} else {
		json_decref(headers);
	}
	tp_agg_meta_clear(&m);
	return respond_json(conn, q, doc ? 200 : 500, doc);
}

static enum MHD_Result get_payload(struct MHD_Connection *conn, struct request *q)
{
	struct tp_receiver *r = q->r;
	struct tp_agg_meta m;
	memset(&m, 0, sizeof(m));
	if (!id_ok(q->arg))
		return fail(conn, q, 404, "Aggregate not found");
	int rc = tp_aggstore_get_meta(r->cfg.store, q->arg, &m);
	uint8_t *body = NULL;
	size_t len = 0;
	if (rc == 0)
		rc = tp_aggstore_get_payload(r->cfg.store, q->arg, &body, &len);
	if (rc == -ENOENT) {
		tp_agg_meta_clear(&m);
		return fail(conn, q, 404, "Aggregate not found");
	}
	if (rc < 0) {
		tp_agg_meta_clear(&m);
		tp_log_limited(TP_LOG_ERR, core, "payload of an aggregate: %s", tp_strerror(rc));
		return fail(conn, q, 500, "Storage error");
	}
	char content_type[sizeof(m.content_type)], link[sizeof(q->arg) + 64];
	memcpy(content_type, m.content_type, sizeof(content_type));
	content_type[sizeof(content_type) - 1] = '\0';
	tp_agg_meta_clear(&m);
	/* RFC 8288 wants the target in <>; the reference leaves them out. */
	snprintf(link, sizeof(link), "</api/v1/aggregates/%s>; rel=\"about\"", q->arg);
	return respond(conn, q, 200, body, len, true, content_type, NULL, link);
}

static void each_creator(void *ctx, const struct tp_agg_creator_stats *c)
{
	json_t *list = ctx;
	char last[TP_INTERVAL_ISO_SIZE];
	if (iso_seconds(c->last_seen, last) != 0)
		last[0] = '\0';
	json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:I,s:I}", "creator", c->creator,
					      "last_aggregate_id", c->last_id, "last_seen", last,
					      "aggregates_count", (json_int_t)c->count,
					      "aggregates_total_size", (json_int_t)c->total_size));
}

static void ignore_creator(void *ctx, const struct tp_agg_creator_stats *c)
{
	(void)ctx;
	(void)c;
}

static enum MHD_Result get_stats(struct MHD_Connection *conn, struct request *q)
{
	uint64_t count = 0, size = 0;
	json_t *list = q->route == ROUTE_STATS_CREATORS ? json_array() : NULL;
	int rc = tp_aggstore_stats(q->r->cfg.store, &count, &size,
				   list ? each_creator : ignore_creator, list);
	if (rc < 0) {
		json_decref(list);
		tp_log_limited(TP_LOG_ERR, core, "statistics: %s", tp_strerror(rc));
		return fail(conn, q, 500, "Database error");
	}
	if (list)
		return respond_json(conn, q, 200, json_pack("{s:o}", "creators", list));
	return respond_json(conn, q, 200,
			    json_pack("{s:I,s:I}", "aggregates_count", (json_int_t)count,
				      "aggregates_total_size", (json_int_t)size));
}

static enum MHD_Result get_health(struct MHD_Connection *conn, struct request *q)
{
	const char *what = NULL;
	uint64_t count = 0, size = 0;
	int rc = tp_aggstore_check(q->r->cfg.store, &what);
	if (rc == 0)
		rc = tp_aggstore_stats(q->r->cfg.store, &count, &size, ignore_creator, NULL);
	if (rc < 0) {
		bool s3 = what != NULL && strcmp(what, "s3") == 0;
		return fail(conn, q, 502, s3 ? "Unable to connect to S3" : "Unable to read the index");
	}
	return respond_json(conn, q, 200, json_pack("{s:s,s:I}", "status", "OK",
						     "aggregates_count", (json_int_t)count));
}

/* Prometheus text exposition format 0.0.4. */
static enum MHD_Result get_metrics(struct MHD_Connection *conn, struct request *q)
{
	struct tp_receiver *r = q->r;
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	if (f == NULL)
		return fail(conn, q, 500, "Out of memory");
	fprintf(f, "# HELP tapir_core_requests_total HTTP requests answered, by status.\n"
		   "# TYPE tapir_core_requests_total counter\n");
	for (size_t i = 0; i <= N_STATUS; i++) {
		uint64_t v = atomic_load(&r->c.status[i]);
		if (i < N_STATUS)
			fprintf(f, "tapir_core_requests_total{code=\"%u\"} %" PRIu64 "\n",
				counted_status[i], v);
		else
			fprintf(f, "tapir_core_requests_total{code=\"other\"} %" PRIu64 "\n", v);
	}
	fprintf(f, "# HELP tapir_core_aggregates_stored_total Aggregates stored.\n"
		   "# TYPE tapir_core_aggregates_stored_total counter\n"
		   "tapir_core_aggregates_stored_total %" PRIu64 "\n"
		   "# HELP tapir_core_aggregates_stored_bytes_total Payload bytes stored.\n"
		   "# TYPE tapir_core_aggregates_stored_bytes_total counter\n"
		   "tapir_core_aggregates_stored_bytes_total %" PRIu64 "\n"
		   "# HELP tapir_core_aggregates_duplicate_total Uploads already stored (by Content-Digest).\n"
		   "# TYPE tapir_core_aggregates_duplicate_total counter\n"
		   "tapir_core_aggregates_duplicate_total %" PRIu64 "\n"
		   "# HELP tapir_core_storage_errors_total Uploads refused because storing failed.\n"
		   "# TYPE tapir_core_storage_errors_total counter\n"
		   "tapir_core_storage_errors_total %" PRIu64 "\n",
		atomic_load(&r->c.stored), atomic_load(&r->c.stored_bytes),
		atomic_load(&r->c.duplicates), atomic_load(&r->c.storage_errors));
	fprintf(f, "# HELP tapir_core_signature_failures_total Uploads refused by signature or digest checks.\n"
		   "# TYPE tapir_core_signature_failures_total counter\n");
	for (size_t i = 0; i < SIG_FAIL_COUNT; i++)
		fprintf(f, "tapir_core_signature_failures_total{reason=\"%s\"} %" PRIu64 "\n",
			sig_fail_names[i], atomic_load(&r->c.sig_fail[i]));
	fprintf(f, "# HELP tapir_core_uploads_refused_total Uploads refused before their signature.\n"
		   "# TYPE tapir_core_uploads_refused_total counter\n");
	for (size_t i = 0; i < REFUSE_COUNT; i++)
		fprintf(f, "tapir_core_uploads_refused_total{reason=\"%s\"} %" PRIu64 "\n",
			refuse_names[i], atomic_load(&r->c.refused[i]));
	if (r->cfg.notify) {
		struct tp_notify_stats ns;
		tp_notify_stats(r->cfg.notify, &ns);
		fprintf(f, "# HELP tapir_core_notify_total new_aggregate notifications, by outcome.\n"
			   "# TYPE tapir_core_notify_total counter\n"
			   "tapir_core_notify_total{result=\"queued\"} %" PRIu64 "\n"
			   "tapir_core_notify_total{result=\"published\"} %" PRIu64 "\n"
			   "tapir_core_notify_total{result=\"dropped_queue_full\"} %" PRIu64 "\n"
			   "tapir_core_notify_total{result=\"failed\"} %" PRIu64 "\n",
			ns.queued, ns.published, ns.dropped_full, ns.failed);
	}
	if (r->cfg.bridge) {
		struct tp_bridge_stats bs;
		tp_bridge_stats(r->cfg.bridge, &bs);
		fprintf(f, "# HELP tapir_core_bridge_messages_total Events received and forwarded by the bridge.\n"
			   "# TYPE tapir_core_bridge_messages_total counter\n"
			   "tapir_core_bridge_messages_total{result=\"received\"} %" PRIu64 "\n"
			   "tapir_core_bridge_messages_total{result=\"forwarded\"} %" PRIu64 "\n"
			   "# HELP tapir_core_bridge_dropped_total Events dropped by the bridge, by reason.\n"
			   "# TYPE tapir_core_bridge_dropped_total counter\n",
			bs.received, bs.forwarded);
#define BRIDGE_LINE(name, txt) \
	fprintf(f, "tapir_core_bridge_dropped_total{reason=\"" #name "\"} %" PRIu64 "\n", bs.drop_##name);
		TP_BRIDGE_DROP_REASONS(BRIDGE_LINE)
#undef BRIDGE_LINE
	}
	if (fclose(f) != 0) {
		free(text);
		return fail(conn, q, 500, "Out of memory");
	}
	return respond(conn, q, 200, text, size, true, "text/plain; version=0.0.4; charset=utf-8",
		       NULL, NULL);
}

/* ---- the upload ---- */

static enum sig_fail sig_reason(int rc)
{
	switch (rc) {
	case TP_EMISSING: return SIG_FAIL_missing;
	case TP_EMALF:
	case TP_ETOOBIG: return SIG_FAIL_malformed;
	case TP_EMULTI: return SIG_FAIL_multiple;
	case TP_EPARAM: return SIG_FAIL_param;
	case TP_EALG: return SIG_FAIL_alg;
	case TP_ECOVER: return SIG_FAIL_cover;
	case TP_ENOKEY: return SIG_FAIL_unknown_key;
	case TP_EBADSIG: return SIG_FAIL_bad_signature;
	default: return SIG_FAIL_other;
	}
}

static int key_of(void *ctx, const char *keyid, EVP_PKEY **out)
{
	return tp_keys_get(ctx, keyid, out);
}

/* Checks made before the body is read (first access-handler call).
 * Returns MHD_YES with nothing queued when the body may come. */
static enum MHD_Result upload_begin(struct MHD_Connection *conn, struct request *q)
{
	struct tp_receiver *r = q->r;
	if (!type_ok(q->arg)) {
		atomic_fetch_add(&r->c.refused[REFUSE_aggregate_type], 1);
		return fail(conn, q, 422, "Invalid aggregate type: expected histogram, vector or test");
	}
	const char *cl = header(q, "content-length");
	if (cl && parse_u64(cl, &q->content_length) && q->content_length > r->cfg.max_body_size) {
		atomic_fetch_add(&r->c.refused[REFUSE_too_big], 1);
		return fail(conn, q, 413, "Request body larger than the limit");
	}
	static const char *const required[] = { "content-type", "content-length", "content-digest",
						"signature", "signature-input", "aggregate-interval" };
	if (q->overflow) {
		atomic_fetch_add(&r->c.refused[REFUSE_headers], 1);
		return fail(conn, q, 422, "Too many or oversized header fields");
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (header(q, required[i]) == NULL) {
			atomic_fetch_add(&r->c.refused[REFUSE_headers], 1);
			char detail[96];
			snprintf(detail, sizeof(detail), "Missing header: %s", required[i]);
			return fail(conn, q, 422, detail);
		}
	}
	if (!parse_u64(cl, &q->content_length)) {
		atomic_fetch_add(&r->c.refused[REFUSE_headers], 1);
		return fail(conn, q, 422, "Invalid header: content-length");
	}
	const char *ct = header(q, "content-type");
	if (strcmp(ct, "application/vnd.apache.parquet") != 0 &&
	    strcmp(ct, "application/binary") != 0) {
		atomic_fetch_add(&r->c.refused[REFUSE_content_type], 1);
		return fail(conn, q, 422, "Invalid header: content-type must be "
					  "application/vnd.apache.parquet or application/binary");
	}
	uint64_t before = atomic_fetch_add(&r->inflight_bytes, q->content_length);
	q->reserved = q->content_length;
	if (before + q->content_length > r->cfg.max_inflight) {
		atomic_fetch_add(&r->c.refused[REFUSE_inflight], 1);
		return fail(conn, q, 503, "Too many uploads at once; retry later");
	}
	q->body = malloc(q->content_length ? (size_t)q->content_length : 1u);
	if (q->body == NULL)
		return fail(conn, q, 503, "Out of memory; retry later");
	return MHD_YES;
}

/* Keep the headers core-spec §1.8 lists, plus Aggregate-Interval. */
static void keep_headers(struct request *q, struct tp_agg_meta *m)
{
	static const char *const keep[] = { "user-agent", "content-length", "content-type",
					    "content-digest", "content-encoding", "signature",
					    "signature-input", "aggregate-interval" };
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]) && m->n_headers < TP_AGG_HEADERS_MAX;
	     i++) {
		const char *v = header(q, keep[i]);
		if (v == NULL)
			continue;
		memcpy(m->headers[m->n_headers].name, keep[i], strlen(keep[i]) + 1u);
		m->headers[m->n_headers].value = (char *)(uintptr_t)v;
		m->n_headers++;
	}
}

static enum MHD_Result created(struct MHD_Connection *conn, struct request *q, const char *id)
{
	char location[sizeof(PREFIX_GET) + TP_AGG_ID_LEN];
	snprintf(location, sizeof(location), PREFIX_GET "%s", id);
	return respond(conn, q, 201, NULL, 0, false, NULL, location, NULL);
}

static bool copy_field(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		return false;
	memcpy(dst, src, n + 1u);
	return true;
}

static enum MHD_Result upload_end(struct MHD_Connection *conn, struct request *q)
{
	struct tp_receiver *r = q->r;
	if (q->overflow || q->body_len != q->content_length) {
		atomic_fetch_add(&r->c.refused[REFUSE_length_mismatch], 1);
		char detail[128];
		snprintf(detail, sizeof(detail),
			 "Content-Length header (%" PRIu64 ") does not match actual content length "
			 "(%" PRIu64 ")", q->content_length, q->received);
		return fail(conn, q, 400, detail);
	}
	/* core-spec §1.4 */
	static const char *const covered[] = { "content-type", "content-length", "content-digest" };
	struct tp_httpsig_msg msg = {
		.method = "POST",
		.scheme = r->cfg.tls_cert_pem ? "https" : "http",
		.authority = header(q, "host"),
		.path = NULL,
		.header = header,
		.ctx = q,
	};
	struct tp_httpsig_policy policy = {
		.required = covered,
		.n_required = sizeof(covered) / sizeof(covered[0]),
		.allow_derived = false,
		.now = (int64_t)time(NULL),
		.max_age_s = r->cfg.signature_max_age_s,
		.future_skew_s = r->cfg.signature_future_skew_s,
	};
	struct tp_httpsig_verified v;
	int rc = tp_httpsig_verify(&msg, &policy, key_of, r->cfg.keys, &v);
	if (rc < 0) {
		atomic_fetch_add(&r->c.sig_fail[sig_reason(rc)], 1);
		tp_log_limited(TP_LOG_INFO, core, "upload refused: %s", tp_strerror(rc));
		switch (rc) {
		case TP_EALG:
			return fail(conn, q, 400, "Unsupported or missing HTTP signature algorithm");
		case TP_EMALF:
		case TP_ETOOBIG:
			return fail(conn, q, 400, "Unable to verify HTTP signature");
		case TP_ENOKEY:
			return fail(conn, q, 401, "Unknown HTTP signature key");
		case TP_ECOVER:
			return fail(conn, q, 401, "Unable to verify Content-Digest: required "
						  "components not covered by the signature");
		default:
			return fail(conn, q, 401, "Invalid HTTP signature");
		}
	}
	if (v.keyid[0] == '\0')
		return fail(conn, q, 422, "Creator missing in signature parameters");
	/* core-spec §1.5 */
	const char *digest = header(q, "content-digest");
	rc = tp_content_digest_verify(digest, q->body, q->body_len);
	if (rc < 0) {
		bool mismatch = rc == TP_EDIGEST;
		atomic_fetch_add(&r->c.sig_fail[mismatch ? SIG_FAIL_digest_mismatch
						       : SIG_FAIL_digest_unusable], 1);
		return fail(conn, q, 401, mismatch ? "Content-Digest verification failed"
						  : "Unable to verify Content-Digest");
	}
	/* core-spec §1.7: duplicates by the exact header string. */
	char id[TP_AGG_ID_LEN + 1u];
	rc = tp_aggstore_find_digest(r->cfg.store, digest, id);
	if (rc == 0) {
		atomic_fetch_add(&r->c.duplicates, 1);
		return created(conn, q, id);
	}
	if (rc != -ENOENT) {
		atomic_fetch_add(&r->c.storage_errors, 1);
		tp_log_limited(TP_LOG_ERR, core, "duplicate lookup: %s", tp_strerror(rc));
		return fail(conn, q, 500, "Database error");
	}
	struct tp_interval iv;
	if (tp_interval_parse(header(q, "aggregate-interval"), &iv) < 0) {
		atomic_fetch_add(&r->c.refused[REFUSE_interval], 1);
		return fail(conn, q, 422, INTERVAL_ERROR);
	}

	struct tp_agg_meta *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return fail(conn, q, 503, "Out of memory; retry later");
	bool fits = copy_field(m->type, sizeof(m->type), q->arg) &&
		    copy_field(m->creator, sizeof(m->creator), v.keyid) &&
		    copy_field(m->content_type, sizeof(m->content_type), header(q, "content-type")) &&
		    copy_field(m->content_digest, sizeof(m->content_digest), digest);
	if (!fits) {
		free(m);
		atomic_fetch_add(&r->c.refused[REFUSE_headers], 1);
		return fail(conn, q, 422, "Invalid header: content-digest too long");
	}
	m->content_length = q->body_len;
	/* Decision 4: whole seconds; a zero duration means no interval. */
	m->interval_start_us = iv.start_us;
	m->interval_duration_s = iv.duration_us / 1000000;
	m->has_interval = m->interval_duration_s != 0;
	keep_headers(q, m);
	rc = tp_aggstore_put(r->cfg.store, m, q->body, q->body_len);
	enum MHD_Result res;
	if (rc == TP_EEXIST) {
		atomic_fetch_add(&r->c.duplicates, 1);
		res = created(conn, q, m->id);
	} else if (rc < 0) {
		atomic_fetch_add(&r->c.storage_errors, 1);
		tp_log_limited(TP_LOG_ERR, core, "storing an aggregate: %s", tp_strerror(rc));
		res = fail(conn, q, 500, "Storage error");
	} else {
		atomic_fetch_add(&r->c.stored, 1);
		atomic_fetch_add(&r->c.stored_bytes, q->body_len);
		if (r->cfg.notify)
			(void)tp_notify_aggregate(r->cfg.notify, m); /* a drop is counted there */
		res = created(conn, q, m->id);
	}
	free(m); /* header values point into q */
	return res;
}

/* With tls-client-ca-file: the peer's certificate chain must verify
 * (libmicrohttpd asks for it but leaves the verdict to us). */
static bool client_cert_ok(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return false;
	gnutls_session_t s = (gnutls_session_t)ci->tls_session;
	unsigned n = 0, status = 0;
	if (gnutls_certificate_get_peers(s, &n) == NULL || n == 0)
		return false;
	return gnutls_certificate_verify_peers2(s, &status) == GNUTLS_E_SUCCESS && status == 0;
}

/* ---- libmicrohttpd glue ---- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct tp_receiver *r = cls;
	struct request *q = *con_cls;
	if (q == NULL) {
		q = calloc(1, sizeof(*q));
		if (q == NULL)
			return MHD_NO;
		q->r = r;
		make_request_id(q->request_id);
		*con_cls = q;
		atomic_fetch_add(&r->inflight_requests, 1);
		q->counted = true;
		(void)MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, q);
		if (r->tls_client_ca && !client_cert_ok(conn)) {
			atomic_fetch_add(&r->c.refused[REFUSE_client_cert], 1);
			return fail(conn, q, 403, "A valid client certificate is required");
		}
		bool known;
		q->route = route_of(url, q->arg, &known);
		if (!known)
			return fail(conn, q, 404, "Not Found");
		bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
		bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
		if (q->route == ROUTE_UPLOAD ? !post : !get)
			return fail(conn, q, 405, "Method Not Allowed");
		if (q->route != ROUTE_UPLOAD)
			return MHD_YES;
		return upload_begin(conn, q);
	}
	if (q->answered) {
		/* Answered early (413, 422, ...): the rest of the body is dropped. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (q->route == ROUTE_UPLOAD && q->body != NULL) {
		if (*upload_data_size > 0) {
			size_t n = *upload_data_size;
			q->received += n;
			if (n > q->content_length - q->body_len) {
				q->overflow = true;
				n = (size_t)(q->content_length - q->body_len);
			}
			memcpy(q->body + q->body_len, upload_data, n);
			q->body_len += n;
			*upload_data_size = 0;
			return MHD_YES;
		}
		return upload_end(conn, q);
	}
	if (*upload_data_size > 0) {
		/* A body on a GET, or after an early answer: ignored. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (q->route) {
	case ROUTE_META:
		return get_meta(conn, q);
	case ROUTE_PAYLOAD:
		return get_payload(conn, q);
	case ROUTE_STATS_CREATORS:
	case ROUTE_STATS_AGGREGATES:
	case ROUTE_METRICS:
	case ROUTE_HEALTH: {
		const struct tp_cidr_set *set = q->route == ROUTE_HEALTH ? r->cfg.healthcheck_hosts
									 : r->cfg.stats_hosts;
		int in = client_in(conn, set);
		if (in < 0)
			return fail(conn, q, 400, "Unable to determine the client address");
		if (in == 0)
			return fail(conn, q, 403, "Access denied");
		if (q->route == ROUTE_HEALTH)
			return get_health(conn, q);
		if (q->route == ROUTE_METRICS)
			return get_metrics(conn, q);
		return get_stats(conn, q);
	}
	case ROUTE_UPLOAD:
	case ROUTE_NONE:
		break;
	}
	return fail(conn, q, 500, "Internal error");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)toe;
	struct tp_receiver *r = cls;
	struct request *q = *con_cls;
	if (q == NULL)
		return;
	*con_cls = NULL;
	if (q->reserved)
		atomic_fetch_sub(&r->inflight_bytes, q->reserved);
	for (size_t i = 0; i < q->n_headers; i++)
		free(q->headers[i].value);
	free(q->body);
	if (q->counted)
		atomic_fetch_sub(&r->inflight_requests, 1);
	free(q);
}

/* libmicrohttpd's own messages; the format comes from the library. */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	tp_log_limited(TP_LOG_INFO, http, "%s", line);
}

int tp_receiver_parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *len)
{
	memset(addr, 0, sizeof(*addr));
	if (text == NULL)
		return TP_EMALF;
	char host[64];
	const char *port_text;
	size_t n = strlen(text);
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host))
			return TP_EMALF;
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		port_text = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (colon == NULL || (size_t)(colon - text) >= sizeof(host) || n == 0)
			return TP_EMALF;
		memcpy(host, text, (size_t)(colon - text));
		host[colon - text] = '\0';
		port_text = colon + 1;
	}
	uint64_t port;
	if (!parse_u64(port_text, &port) || port > 65535)
		return TP_EMALF;
	struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)addr;
	if (text[0] != '[' && inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (text[0] == '[' && inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	return TP_EMALF;
}

int tp_receiver_start(const struct tp_receiver_config *cfg, struct tp_receiver **out)
{
	*out = NULL;
	if (cfg->keys == NULL || cfg->store == NULL || cfg->base_url == NULL ||
	    cfg->threads == 0 || cfg->threads > TP_RECV_THREADS_MAX ||
	    strlen(cfg->base_url) > TP_RECV_BASE_URL_MAX ||
	    !cfg->tls_cert_pem != !cfg->tls_key_pem ||
	    (cfg->tls_client_ca_pem && !cfg->tls_cert_pem))
		return TP_EINVAL;
	struct tp_receiver *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->cfg = *cfg;
	r->tls_client_ca = cfg->tls_client_ca_pem != NULL;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	if (cfg->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cfg->tls_cert_pem)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem o[16];
	size_t n = 0;
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, (void *)(uintptr_t)&cfg->addr };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, TP_RECV_CONNECTIONS_MAX, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, TP_RECV_CONN_TIMEOUT_S, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, TP_RECV_CONN_MEMORY, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)(uintptr_t)completed, r };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)(uintptr_t)mhd_log, NULL };
	if (cfg->tls_cert_pem) {
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)cfg->tls_cert_pem };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)cfg->tls_key_pem };
	}
	if (cfg->tls_client_ca_pem)
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)(uintptr_t)cfg->tls_client_ca_pem };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	r->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, r, MHD_OPTION_ARRAY, o,
				  MHD_OPTION_END);
	if (r->mhd == NULL) {
		tp_log_err(core, "cannot listen (address in use, or a bad TLS certificate or key)");
		free(r);
		return -EADDRINUSE;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT);
	r->port = di ? di->port : 0;
	*out = r;
	return 0;
}

uint16_t tp_receiver_port(const struct tp_receiver *r)
{
	return r->port;
}

void tp_receiver_stop(struct tp_receiver *r, unsigned drain_ms)
{
	if (r == NULL)
		return;
	MHD_socket listen_fd = MHD_quiesce_daemon(r->mhd);
	struct timespec step = { 0, 20 * 1000 * 1000 };
	for (unsigned waited = 0; atomic_load(&r->inflight_requests) > 0 && waited < drain_ms;
	     waited += 20)
		nanosleep(&step, NULL);
	if (atomic_load(&r->inflight_requests) > 0)
		tp_log_warning(core, "stopping with %d requests unfinished",
			       atomic_load(&r->inflight_requests));
	MHD_stop_daemon(r->mhd);
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	free(r);
}
