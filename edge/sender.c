/* SPDX-License-Identifier: BSD-2-Clause
 *
 * sender.c - the histogram sender (sender.h): one thread that uploads the
 * Parquet files of DATA/parquet/histograms/outbox to the core and moves
 * each to sent/ on the core's 201.
 *
 * The outbox directory is the queue: nothing is kept in memory between
 * scans, so a crash or restart loses nothing and resumes where it was.
 * A file leaves the outbox only by rename after a 201 (at least once; the
 * core de-duplicates by Content-Digest). Files are sent oldest name first;
 * the first failure ends the pass and starts a backoff (1 s doubling to
 * backoff_max_s), so a core that is down costs one request per backoff,
 * not one per file. Everything the request carries is what the reference
 * edge sends (edm-spec §3.7): Content-Type, an explicit Content-Length,
 * Aggregate-Interval with the exact start and an ISO 8601 duration,
 * Content-Digest and an RFC 9421 signature (lib/sign/httpsig.c) over
 * the three content headers. libcurl does HTTP and TLS; its progress
 * callback aborts a request in flight when the sender stops, and the
 * backoff is a condition wait, so stopping never waits for the network.
 */
#include "edge/sender.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "edge/outfile.h"
#include "sign/httpsig.h"
#include "sign/jwk.h"
#include "util/io.h"
#include "util/log.h"
#include "util/str.h"

#ifndef TP_VERSION
#define TP_VERSION "0"
#endif

#define PREFIX "dns_histogram-"
#define SUFFIX ".parquet"
#define PATH_SIZE 4096u
#define CLEAN_INTERVAL_S 60

struct tp_sender {
	char *data_dir, *url, *ca_file, *cert_file, *key_file;
	char outbox[PATH_SIZE], sent[PATH_SIZE], post_url[PATH_SIZE];
	unsigned scan_interval_s, backoff_max_s, timeout_s;
	uint64_t retention_s;
	struct tp_jwk key;
	CURL *curl;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* kicks and stop for the thread, scans for drain */
	bool kicked;                /* under mu */
	atomic_bool stop;           /* read by curl's progress callback too */
	uint64_t scans;             /* under mu: passes finished */
	struct tp_sender_stats st;  /* under mu */
};

/* ---- pure parts ---------------------------------------------------------- */

int tp_sender_duration(int64_t ns, char *out, size_t size)
{
	if (out == NULL || size == 0)
		return TP_ENOSPACE;
	if (ns <= 0) {
		int n = snprintf(out, size, "PT0S");
		return n > 0 && (size_t)n < size ? 0 : TP_ENOSPACE;
	}
	int64_t s = ns / 1000000000, frac = ns % 1000000000;
	int64_t h = s / 3600, m = s / 60 % 60;
	s %= 60;
	size_t o = 0;
	int n = snprintf(out, size, "PT");
	if (n < 0 || (size_t)n >= size)
		return TP_ENOSPACE;
	o = (size_t)n;
	if (h > 0) {
		n = snprintf(out + o, size - o, "%" PRId64 "H", h);
		if (n < 0 || (size_t)n >= size - o)
			return TP_ENOSPACE;
		o += (size_t)n;
	}
	if (m > 0) {
		n = snprintf(out + o, size - o, "%" PRId64 "M", m);
		if (n < 0 || (size_t)n >= size - o)
			return TP_ENOSPACE;
		o += (size_t)n;
	}
	if (s > 0 || frac > 0) {
		char fr[16] = "";
		if (frac > 0) {
			int d = 9;
			while (frac % 10 == 0) {
				frac /= 10;
				d--;
			}
			if (snprintf(fr, sizeof(fr), ".%0*" PRId64, d, frac) < 0)
				return TP_ENOSPACE;
		}
		n = snprintf(out + o, size - o, "%" PRId64 "%sS", s, fr);
		if (n < 0 || (size_t)n >= size - o)
			return TP_ENOSPACE;
	}
	return 0;
}

int tp_sender_parse_name(const char *name, int64_t *start_s, int64_t *stop_s)
{
	/* PREFIX + 20 + "_" + 20 + SUFFIX */
	const size_t plen = sizeof(PREFIX) - 1u, slen = sizeof(SUFFIX) - 1u;
	if (name == NULL || strlen(name) != plen + 41u + slen ||
	    strncmp(name, PREFIX, plen) != 0 || name[plen + 20u] != '_' ||
	    strcmp(name + plen + 41u, SUFFIX) != 0)
		return TP_EMALF;
	char a[21], b[21];
	memcpy(a, name + plen, 20);
	a[20] = '\0';
	memcpy(b, name + plen + 21u, 20);
	b[20] = '\0';
	int64_t ua, ub;
	if (tp_outfile_time_parse(a, &ua) != 0 || tp_outfile_time_parse(b, &ub) != 0)
		return TP_EMALF;
	*start_s = ua / 1000000;
	*stop_s = ub / 1000000;
	return 0;
}

/* ---- one upload ---------------------------------------------------------- */

struct hdr {
	const char *name, *value;
};

static const char *lookup(void *ctx, const char *name)
{
	for (const struct hdr *h = ctx; h->name != NULL; h++)
		if (strcmp(h->name, name) == 0)
			return h->value;
	return NULL;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static int progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	const struct tp_sender *s = ctx;
	return atomic_load(&s->stop) ? 1 : 0;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s: %s", name, value);
	if (n < 0 || (size_t)n >= sizeof(line))
		return TP_ENOSPACE;
	struct curl_slist *l = curl_slist_append(*list, line);
	if (l == NULL)
		return -ENOMEM;
	*list = l;
	return 0;
}

/* POST one file. Returns the HTTP status (201 = stored), 0 when there was
 * no answer, or a negative code (the file could not be read or signed). */
static int upload(struct tp_sender *s, const char *name, const uint8_t *body, size_t len)
{
	int64_t start_s, stop_s;
	if (tp_sender_parse_name(name, &start_s, &stop_s) != 0)
		return TP_EMALF;
	char start[32], dur[TP_SENDER_DURATION_SIZE], interval[96];
	time_t t = (time_t)start_s;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 ||
	    tp_sender_duration((stop_s - start_s) * 1000000000, dur, sizeof(dur)) != 0 ||
	    snprintf(interval, sizeof(interval), "%s/%s", start, dur) >= (int)sizeof(interval))
		return TP_EBUG;
	char digest[TP_CONTENT_DIGEST_SHA256_SIZE], length[24];
	int rc = tp_content_digest_sha256(body, len, digest);
	if (rc != 0)
		return rc;
	snprintf(length, sizeof(length), "%zu", len);
	struct hdr hdrs[] = {
		{ "content-type", "application/vnd.apache.parquet" },
		{ "content-length", length },
		{ "content-digest", digest },
		{ NULL, NULL },
	};
	static const char *const covered[] = { "content-type", "content-length",
					       "content-digest" };
	struct tp_httpsig_msg msg = { .method = "POST", .header = lookup, .ctx = hdrs };
	struct tp_httpsig_sign_opts so = {
		.label = "sig1", .covered = covered, .n_covered = 3,
		.created = (int64_t)time(NULL), .keyid = s->key.kid,
	};
	char sig_input[TP_HTTPSIG_INPUT_OUT_MAX], sig[TP_HTTPSIG_SIGNATURE_OUT_MAX];
	rc = tp_httpsig_sign(s->key.pkey, &msg, &so, sig_input, sig);
	if (rc != 0)
		return rc;
	struct curl_slist *list = NULL;
	rc = add_header(&list, "Content-Type", hdrs[0].value);
	if (rc == 0)
		rc = add_header(&list, "Content-Length", length);
	if (rc == 0)
		rc = add_header(&list, "Content-Digest", digest);
	if (rc == 0)
		rc = add_header(&list, "Aggregate-Interval", interval);
	if (rc == 0)
		rc = add_header(&list, "Signature-Input", sig_input);
	if (rc == 0)
		rc = add_header(&list, "Signature", sig);
	/* No "Expect: 100-continue" round trip. */
	if (rc == 0)
		rc = add_header(&list, "Expect", "");
	if (rc != 0) {
		curl_slist_free_all(list);
		return rc;
	}
	CURL *c = s->curl;
	curl_easy_reset(c);
	CURLcode cc = CURLE_OK;
#define SET(opt, val) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt(c, opt, val); } while (0)
	SET(CURLOPT_URL, s->post_url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, (const char *)body);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	SET(CURLOPT_HTTPHEADER, list);
	SET(CURLOPT_USERAGENT, "tapir/" TP_VERSION);
	SET(CURLOPT_WRITEFUNCTION, discard);
	SET(CURLOPT_TIMEOUT, (long)s->timeout_s);
	SET(CURLOPT_CONNECTTIMEOUT, (long)(s->timeout_s < 30u ? s->timeout_s : 30u));
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, progress);
	SET(CURLOPT_XFERINFODATA, s);
	SET(CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_3);
	if (s->ca_file != NULL)
		SET(CURLOPT_CAINFO, s->ca_file);
	if (s->cert_file != NULL) {
		SET(CURLOPT_SSLCERT, s->cert_file);
		SET(CURLOPT_SSLKEY, s->key_file);
	}
#undef SET
	long status = 0;
	if (cc == CURLE_OK)
		cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		cc = curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(list);
	if (cc != CURLE_OK) {
		if (!atomic_load(&s->stop))
			tp_log_limited(TP_LOG_WARNING, sender, "%s: no answer: %s", name,
				       curl_easy_strerror(cc));
		return 0;
	}
	if (status != 201) {
		tp_log_limited(TP_LOG_WARNING, sender, "%s: the core answered %ld, not 201",
			       name, status);
	} else {
		tp_log_info(sender, "%s: uploaded", name);
	}
	return status > 0 && status < 1000 ? (int)status : 0;
}

/* ---- the outbox ---------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool same_bytes(const char *path, const uint8_t *body, size_t len)
{
	char *other = NULL;
	size_t olen = 0;
	if (tp_read_file(path, O_NOFOLLOW, TP_SENDER_FILE_MAX, &other, &olen) != 0)
		return false;
	bool same = olen == len && memcmp(other, body, len) == 0;
	free(other);
	return same;
}

/* One file: 1 done (sent or a duplicate), 0 failed with an answer or
 * locally (try the next file), -1 no answer from the core (end the pass). */
static int send_one(struct tp_sender *s, const char *name)
{
	char path[PATH_SIZE * 2], dest[PATH_SIZE * 2];
	snprintf(path, sizeof(path), "%s/%s", s->outbox, name);
	snprintf(dest, sizeof(dest), "%s/%s", s->sent, name);
	char *body = NULL;
	size_t len = 0;
	int rc = tp_read_file(path, O_NOFOLLOW, TP_SENDER_FILE_MAX, &body, &len);
	if (rc == -ENOENT)
		return 1; /* gone meanwhile (an operator) */
	if (rc != 0) {
		tp_log_limited(TP_LOG_ERR, sender, "%s: cannot read: %s", name, tp_strerror(rc));
		pthread_mutex_lock(&s->mu);
		s->st.failed++;
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	if (access(dest, F_OK) == 0 && same_bytes(dest, (const uint8_t *)body, len)) {
		free(body);
		if (unlink(path) != 0)
			tp_log_limited(TP_LOG_ERR, sender, "%s: cannot remove: %s", name, strerror(errno));
		pthread_mutex_lock(&s->mu);
		s->st.duplicates_skipped++;
		pthread_mutex_unlock(&s->mu);
		return 1;
	}
	int status = upload(s, name, (const uint8_t *)body, len);
	free(body);
	if (status == 201) {
		rc = tp_outfile_mkdirs(s->sent);
		if (rc == 0 && rename(path, dest) != 0)
			rc = -errno;
		if (rc != 0)
			tp_log_limited(TP_LOG_ERR, sender, "%s: uploaded, but cannot move it to sent/: %s",
				       name, tp_strerror(rc));
	}
	pthread_mutex_lock(&s->mu);
	if (status > 0)
		s->st.last_status = status;
	if (status == 201)
		s->st.uploaded++;
	else
		s->st.failed++;
	pthread_mutex_unlock(&s->mu);
	if (status < 0)
		tp_log_limited(TP_LOG_ERR, sender, "%s: %s", name, tp_strerror(status));
	if (status == 201)
		return rc == 0 ? 1 : 0;
	return status > 0 ? 0 : -1;
}

/* One pass over the outbox. Returns false after a failure. */
static bool scan(struct tp_sender *s)
{
	DIR *d = opendir(s->outbox);
	if (d == NULL) {
		if (errno != ENOENT)
			tp_log_limited(TP_LOG_ERR, sender, "%s: %s", s->outbox, strerror(errno));
		pthread_mutex_lock(&s->mu);
		s->st.pending = 0;
		s->st.bad_names = 0;
		pthread_mutex_unlock(&s->mu);
		return errno == ENOENT;
	}
	char **names = calloc(TP_SENDER_SCAN_MAX, sizeof(*names));
	size_t n = 0;
	uint64_t bad = 0, total = 0;
	struct dirent *de;
	while (names != NULL && (de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		size_t l = strlen(nm);
		if (nm[0] == '.' || (l > 4 && strcmp(nm + l - 4, ".tmp") == 0))
			continue;
		int64_t a, b;
		if (tp_sender_parse_name(nm, &a, &b) != 0) {
			bad++;
			tp_log_limited(TP_LOG_WARNING, sender, "outbox: ignoring a file with a bad name");
			continue;
		}
		total++;
		if (n < TP_SENDER_SCAN_MAX) {
			names[n] = strdup(nm);
			if (names[n] != NULL)
				n++;
		}
	}
	closedir(d);
	pthread_mutex_lock(&s->mu);
	s->st.bad_names = bad;
	s->st.pending = total;
	pthread_mutex_unlock(&s->mu);
	if (names == NULL)
		return false;
	qsort(names, n, sizeof(*names), cmp_names);
	/* A file the core refuses must not hold back the ones after it, so a
	 * pass goes on after an answer other than 201; it ends at the first
	 * request that got no answer at all (the core is down). */
	bool ok = true, unreachable = false;
	for (size_t i = 0; i < n; i++) {
		if (!unreachable && !atomic_load(&s->stop)) {
			int sent = send_one(s, names[i]);
			if (sent == 1) {
				pthread_mutex_lock(&s->mu);
				s->st.pending--;
				pthread_mutex_unlock(&s->mu);
			} else {
				ok = false;
				unreachable = sent < 0;
			}
		}
		free(names[i]);
	}
	free(names);
	return ok && n == total;
}

/* Delete sent/ files strictly older than the retention (mtime). */
static void clean_sent(struct tp_sender *s)
{
	DIR *d = opendir(s->sent);
	if (d == NULL)
		return;
	time_t now = time(NULL);
	uint64_t cleaned = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		int64_t a, b;
		struct stat st;
		if (tp_sender_parse_name(de->d_name, &a, &b) != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime >= now ||
		    (uint64_t)(now - st.st_mtime) <= s->retention_s)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			cleaned++;
		else
			tp_log_limited(TP_LOG_ERR, sender, "sent/: cannot delete an old file: %s",
				       strerror(errno));
	}
	closedir(d);
	pthread_mutex_lock(&s->mu);
	s->st.cleaned += cleaned;
	pthread_mutex_unlock(&s->mu);
}

static void *run(void *arg)
{
	struct tp_sender *s = arg;
	unsigned backoff = 0;
	time_t last_clean = 0;
	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stop)) {
		s->kicked = false;
		pthread_mutex_unlock(&s->mu);
		bool ok = scan(s);
		time_t now = time(NULL);
		if (now - last_clean >= CLEAN_INTERVAL_S || now < last_clean) {
			clean_sent(s);
			last_clean = now;
		}
		if (ok)
			backoff = 0;
		else
			backoff = backoff == 0 ? 1u : backoff * 2u > s->backoff_max_s ? s->backoff_max_s : backoff * 2u;
		pthread_mutex_lock(&s->mu);
		s->scans++;
		pthread_cond_broadcast(&s->cv);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += ok ? (time_t)s->scan_interval_s : (time_t)backoff;
		while (!s->kicked && !atomic_load(&s->stop) &&
		       pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- the API ------------------------------------------------------------- */

static void free_sender(struct tp_sender *s)
{
	if (s == NULL)
		return;
	curl_easy_cleanup(s->curl);
	tp_jwk_free(&s->key);
	free(s->data_dir);
	free(s->url);
	free(s->ca_file);
	free(s->cert_file);
	free(s->key_file);
	free(s);
}

/* libcurl's global state, once per process (it is not thread-safe). */
static CURLcode curl_global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	curl_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int tp_sender_start(const struct tp_sender_config *cfg, struct tp_sender **out)
{
	if (out == NULL)
		return TP_EINVAL;
	*out = NULL;
	if (cfg == NULL || cfg->data_dir == NULL || cfg->url == NULL ||
	    cfg->signing_key_file == NULL ||
	    (strncmp(cfg->url, "https://", 8) != 0 && strncmp(cfg->url, "http://", 7) != 0) ||
	    (cfg->client_cert_file == NULL) != (cfg->client_key_file == NULL)) {
		tp_log_err(sender, "needs data-dir, an http(s):// http-url, http-signing-key-file, "
			   "and both or none of the client certificate and key");
		return TP_EINVAL;
	}
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (pthread_once(&once, global_init) != 0 || curl_global_rc != CURLE_OK) {
		tp_log_err(sender, "libcurl: %s", curl_easy_strerror(curl_global_rc));
		return TP_EBUG;
	}
	struct tp_sender *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	bool fail = tp_strdup_opt(cfg->data_dir, &s->data_dir) != 0 ||
		    tp_strdup_opt(cfg->url, &s->url) != 0 ||
		    tp_strdup_opt(cfg->ca_file, &s->ca_file) != 0 ||
		    tp_strdup_opt(cfg->client_cert_file, &s->cert_file) != 0 ||
		    tp_strdup_opt(cfg->client_key_file, &s->key_file) != 0;
	s->scan_interval_s = cfg->scan_interval_s ? cfg->scan_interval_s : 10u;
	s->backoff_max_s = cfg->backoff_max_s ? cfg->backoff_max_s : 60u;
	s->timeout_s = cfg->timeout_s ? cfg->timeout_s : 30u;
	s->retention_s = cfg->sent_retention_s ? cfg->sent_retention_s : 86400u;
	if (fail) {
		free_sender(s);
		return -ENOMEM;
	}
	size_t ul = strlen(s->url);
	while (ul > 0 && s->url[ul - 1u] == '/')
		ul--;
	if (snprintf(s->outbox, sizeof(s->outbox), "%s/parquet/histograms/outbox", s->data_dir) >=
		    (int)sizeof(s->outbox) ||
	    snprintf(s->sent, sizeof(s->sent), "%s/parquet/histograms/sent", s->data_dir) >=
		    (int)sizeof(s->sent) ||
	    snprintf(s->post_url, sizeof(s->post_url), "%.*s/api/v1/aggregate/histogram", (int)ul,
		     s->url) >= (int)sizeof(s->post_url)) {
		tp_log_err(sender, "data-dir or http-url too long");
		free_sender(s);
		return TP_EINVAL;
	}
	int rc = tp_jwk_load(cfg->signing_key_file, true, &s->key);
	if (rc != 0) {
		tp_log_err(sender, "http-signing-key-file %s: %s (a private Ed25519 JWK with a kid)",
			   cfg->signing_key_file, tp_strerror(rc));
		free_sender(s);
		return TP_EINVAL;
	}
	s->curl = curl_easy_init();
	if (s->curl == NULL) {
		free_sender(s);
		return -ENOMEM;
	}
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&s->cv, &ca) != 0) {
		free_sender(s);
		return -ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		pthread_cond_destroy(&s->cv);
		free_sender(s);
		return -ENOMEM;
	}
	atomic_init(&s->stop, false);
	rc = pthread_create(&s->thread, NULL, run, s);
	if (rc != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free_sender(s);
		return -rc;
	}
	tp_log_info(sender, "uploading histograms to %s as %s", s->post_url, s->key.kid);
	*out = s;
	return 0;
}

void tp_sender_kick(struct tp_sender *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->kicked = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int tp_sender_drain(struct tp_sender *s, unsigned wait_s)
{
	if (s == NULL)
		return 0;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)wait_s;
	pthread_mutex_lock(&s->mu);
	/* Only a pass that starts after this call counts. */
	uint64_t seen = s->scans + 1u;
	s->kicked = true;
	pthread_cond_broadcast(&s->cv);
	int rc = 0;
	for (;;) {
		if (s->scans >= seen && s->st.pending == 0)
			break;
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
			rc = s->st.pending == 0 && s->scans >= seen ? 0 : TP_ETIMEDOUT;
			break;
		}
	}
	uint64_t left = s->st.pending;
	pthread_mutex_unlock(&s->mu);
	if (rc != 0)
		tp_log_err(sender, "%" PRIu64 " histogram file(s) not uploaded after %u s; "
			   "they stay in the outbox for the next run", left, wait_s);
	return rc;
}

void tp_sender_stop(struct tp_sender *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stop, true);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free_sender(s);
}

void tp_sender_stats(struct tp_sender *s, struct tp_sender_stats *out)
{
	if (s == NULL || out == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	pthread_mutex_unlock(&s->mu);
}
