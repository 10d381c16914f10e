/* SPDX-License-Identifier: BSD-2-Clause
 *
 * bench_stages.c - what each stage of the edge's per-message path costs,
 * measured apart, on the messages of a real (generated) capture.
 *
 * The batch figure of `make bench` says how fast the whole edge is; when it
 * misses a goal, these figures say which stage to work on. Every stage runs
 * over the same first N frames of CAPTURE (made by `tapir gen`) and, for the
 * lookups, the list LIST (made by `tapir gen --make-list`), so the mix of
 * names, clients and message sizes is the one the batch figure sees:
 *   frame_protobuf_decode  Frame Streams framing + dnstap protobuf decode,
 *                          from memory (the batch figure adds the reads);
 *   dns_question_parse     tp_dns_parse of the message the edge looks at;
 *   wkd_lookup             case-folded qname looked up in the list;
 *   hll_add                murmur3 of the client address + add to a sketch;
 *   histogram_update       tp_hist_shard_add as the edge calls it (list lookup,
 *                          row, counts, client hash and sketch included),
 *                          every message moved into one minute so no
 *                          interval is written while the clock runs;
 *   parquet_rows           tp_hist_flush of that minute: one histogram-schema
 *                          Parquet row per well-known name seen, HLL
 *                          serialisation, Snappy, fsync and rename included.
 * Crypto-PAn has its own benchmark (bench_cryptopan), run beside this one.
 *
 * Each figure is the median of REPS runs (the VM's speed drifts; the median
 * ignores a disturbed run without picking the luckiest one).
 *
 * Output: one line per stage, "name ns/op ops/s", then notes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "dns/dns.h"
#include "dnstap/dnstap.h"
#include "dnstap/fstrm.h"
#include "dnstap/reader.h"
#include "edge/histogram.h"
#include "sketch/hll.h"
#include "sketch/murmur3.h"
#include "util/limits.h"
#include "wkd/wkd.h"

#define REPS 5
#define N_DEFAULT 1000000u
#define N_MAX 20000000u
#define MINUTE_US INT64_C(60000000)

/* One message, as the stages after decoding need it. */
struct msg {
	const uint8_t *wire; /* DNS message, inside the frame buffer */
	uint32_t wire_len;
	uint32_t name_off;   /* folded qname in the name arena */
	uint8_t name_len, n_labels;
	uint8_t addr_len;    /* 0, 4 or 16 */
	uint8_t addr[16];
	uint16_t qtype, qclass, rcode;
	int64_t ts_us;
};

static uint8_t *frames;   /* Frame Streams data frames, back to back */
static size_t frames_len;
static struct msg *msgs;
static size_t n_msgs;     /* messages with a parseable question */
static size_t n_frames;
static uint8_t *names;    /* folded qnames in wire form */
static size_t names_len;
static volatile uint64_t sink; /* keeps results observable */

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_stages: %s: %s\n", what, tp_strerror(rc));
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL)
		die("malloc", -ENOMEM);
	return p;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double v[REPS])
{
	qsort(v, REPS, sizeof(v[0]), cmp_double);
	return v[REPS / 2];
}

static void report(const char *name, double ns)
{
	printf("%s %.1f ns/op %.0f ops/s\n", name, ns, 1e9 / ns);
}

static void name_of(const struct msg *m, struct tp_dns_name *out)
{
	memcpy(out->wire, names + m->name_off, m->name_len);
	out->len = m->name_len;
	out->n_labels = m->n_labels;
}

/* Read the first `want` data frames of path; keep each frame (re-framed)
 * and what the later stages need of its message. */
static void load(const char *path, size_t want)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path, -errno);
	struct tp_dt_reader *r;
	int rc = tp_dt_reader_new(fd, TP_FRAME_DEFAULT_MAX, &r);
	if (rc < 0)
		die("reader", rc);
	size_t cap = 64u * 1024u * 1024u;
	frames = xmalloc(cap);
	while (n_frames < want) {
		const uint8_t *data;
		size_t len;
		rc = tp_dt_reader_next(r, &data, &len);
		if (rc == 0)
			break;
		if (rc < 0)
			die("reading the capture", rc);
		while (frames_len + 4 + len > cap) {
			cap *= 2;
			uint8_t *bigger = realloc(frames, cap);
			if (bigger == NULL)
				die("realloc", -ENOMEM);
			frames = bigger;
		}
		uint32_t l = (uint32_t)len;
		frames[frames_len] = (uint8_t)(l >> 24);
		frames[frames_len + 1] = (uint8_t)(l >> 16);
		frames[frames_len + 2] = (uint8_t)(l >> 8);
		frames[frames_len + 3] = (uint8_t)l;
		memcpy(frames + frames_len + 4, data, len);
		frames_len += 4 + len;
		n_frames++;
	}
	tp_dt_reader_free(r);
	if (n_frames == 0)
		die("the capture has no data frames", TP_EINVAL);

	msgs = xmalloc(n_frames * sizeof(*msgs));
	names = xmalloc(n_frames * TP_DNS_NAME_MAX);
	size_t off = 0;
	while (off < frames_len) {
		struct tp_fstrm_frame f;
		uint64_t need;
		int64_t used = tp_fstrm_next(frames + off, frames_len - off, TP_FRAME_DEFAULT_MAX,
					     &f, &need);
		if (used <= 0)
			die("re-reading a frame", used < 0 ? (int)used : TP_EBUG);
		off += (size_t)used;
		struct tp_dt_msg m;
		if (tp_dt_decode(f.data, f.len, &m) < 0 || !m.has_type)
			continue;
		bool q = tp_dt_type_is_query(m.type);
		const struct tp_dt_bytes *w = q ? &m.query_message : &m.response_message;
		struct tp_dns_msg d;
		if (w->p == NULL || tp_dns_parse(w->p, w->len, &d) < 0 || d.qdcount != 1)
			continue;
		tp_dns_name_fold(&d.qname);
		struct msg *o = &msgs[n_msgs++];
		o->wire = w->p;
		o->wire_len = w->len;
		o->name_off = (uint32_t)names_len;
		o->name_len = (uint8_t)d.qname.len; /* 255 fits */
		o->n_labels = d.qname.n_labels;
		memcpy(names + names_len, d.qname.wire, d.qname.len);
		names_len += d.qname.len;
		o->addr_len = 0;
		if (m.query_address.p != NULL &&
		    (m.query_address.len == 4 || m.query_address.len == 16)) {
			o->addr_len = (uint8_t)m.query_address.len;
			memcpy(o->addr, m.query_address.p, m.query_address.len);
		}
		o->qtype = d.qtype;
		o->qclass = d.qclass;
		o->rcode = d.rcode;
		uint64_t sec = q ? m.query_time_sec : m.response_time_sec;
		uint32_t nsec = q ? m.query_time_nsec : m.response_time_nsec;
		o->ts_us = (int64_t)(sec % 86400u) * 1000000 + (int64_t)(nsec / 1000u);
	}
	if (n_msgs == 0)
		die("no frame carries a DNS question", TP_EINVAL);
}

static double stage_decode(void)
{
	double t0 = bench_now_ns();
	size_t off = 0, n = 0;
	while (off < frames_len) {
		struct tp_fstrm_frame f;
		uint64_t need;
		int64_t used = tp_fstrm_next(frames + off, frames_len - off, TP_FRAME_DEFAULT_MAX,
					     &f, &need);
		if (used <= 0)
			die("frame", used < 0 ? (int)used : TP_EBUG);
		off += (size_t)used;
		struct tp_dt_msg m;
		if (tp_dt_decode(f.data, f.len, &m) == 0)
			sink += m.type;
		n++;
	}
	return (bench_now_ns() - t0) / (double)n;
}

static double stage_parse(void)
{
	double t0 = bench_now_ns();
	for (size_t i = 0; i < n_msgs; i++) {
		struct tp_dns_msg d;
		if (tp_dns_parse(msgs[i].wire, msgs[i].wire_len, &d) == 0)
			sink += d.qtype;
	}
	return (bench_now_ns() - t0) / (double)n_msgs;
}

static uint64_t hits;

static double stage_lookup(const struct tp_wkd *list)
{
	uint64_t h = 0;
	double t0 = bench_now_ns();
	for (size_t i = 0; i < n_msgs; i++) {
		struct tp_dns_name name;
		struct tp_wkd_match match;
		name_of(&msgs[i], &name);
		h += tp_wkd_lookup(list, &name, &match);
	}
	double ns = (bench_now_ns() - t0) / (double)n_msgs;
	hits = h;
	return ns;
}

static double stage_hll(struct tp_hll *sketch)
{
	tp_hll_reset(sketch);
	double t0 = bench_now_ns();
	for (size_t i = 0; i < n_msgs; i++)
		if (msgs[i].addr_len != 0)
			tp_hll_add(sketch, tp_murmur3_h1(msgs[i].addr, msgs[i].addr_len));
	double ns = (bench_now_ns() - t0) / (double)n_msgs;
	sink += tp_hll_cardinality(sketch);
	return ns;
}

/* Remove DIR/parquet/histograms/outbox/<files> and those directories. */
static void clean_data_dir(const char *dir)
{
	static const char *const sub[] = { "/parquet/histograms/outbox", "/parquet/histograms",
					   "/parquet" };
	char path[4096];
	snprintf(path, sizeof(path), "%s%s", dir, sub[0]);
	DIR *d = opendir(path);
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			char file[8192];
			if (e->d_name[0] == '.')
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
			if (unlink(file) != 0)
				fprintf(stderr, "bench_stages: unlink %s: %s\n", file, strerror(errno));
		}
		closedir(d);
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, sub[i]);
		(void)rmdir(path); /* absent when nothing was written */
	}
}

/* One histogram run: the update loop, then the flush that writes the
 * minute's rows. */
static void stage_hist(const char *list_path, const char *data_dir, double *upd_ns,
		       double *row_ns, uint64_t *rows)
{
	struct tp_wkd *list;
	int rc = tp_wkd_load(list_path, NULL, NULL, &list, NULL);
	if (rc < 0)
		die("loading the list", rc);
	struct tp_hist_config cfg = {
		.data_dir = data_dir,
		.explicit_threshold = 20,
		.hash = TP_HIST_HASH_COMPAT,
		.lateness_us = 10 * 1000000,
		.future_skew_us = 10 * 1000000,
	};
	struct tp_hist *h;
	rc = tp_hist_new(&cfg, list, &h);
	if (rc < 0)
		die("tp_hist_new", rc);
	struct tp_hist_shard *shard;
	rc = tp_hist_shard_new(h, &shard);
	if (rc < 0)
		die("tp_hist_shard_new", rc);
	/* Every message lands in the minute starting at base. */
	const int64_t base = INT64_C(1767225600000000); /* 2026-01-01T00:00Z */
	const int64_t now = base + 2 * MINUTE_US;
	double t0 = bench_now_ns();
	tp_hist_shard_begin(shard, INT64_MIN);
	for (size_t i = 0; i < n_msgs; i++) {
		const struct msg *m = &msgs[i];
		struct tp_dns_name name;
		name_of(m, &name);
		sink += (uint64_t)tp_hist_shard_add(shard, i, base + m->ts_us % MINUTE_US, &name,
						    m->qtype, m->qclass, m->rcode,
						    m->addr_len ? m->addr : NULL, m->addr_len, now);
	}
	struct tp_hist_batch batch;
	tp_hist_shard_end(shard, &batch);
	tp_hist_settle(h, &batch, INT64_MIN);
	double t1 = bench_now_ns();
	tp_hist_flush(h, now);
	double t2 = bench_now_ns();
	const struct tp_hist_stats *st = tp_hist_stats(h);
	if (st->write_errors != 0 || st->rows_written == 0)
		die("writing the histogram", -EIO);
	*rows = st->rows_written;
	*upd_ns = (t1 - t0) / (double)n_msgs;
	*row_ns = (t2 - t1) / (double)st->rows_written;
	tp_hist_free(h);
	clean_data_dir(data_dir);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: bench_stages CAPTURE LIST [FRAMES (default %u)]\n",
			N_DEFAULT);
		return 2;
	}
	size_t want = N_DEFAULT;
	if (argc == 4) {
		char *end;
		unsigned long long v = strtoull(argv[3], &end, 10);
		if (*end != '\0' || v == 0 || v > N_MAX) {
			fprintf(stderr, "bench_stages: FRAMES must be 1..%u\n", N_MAX);
			return 2;
		}
		want = (size_t)v;
	}
	load(argv[1], want);
	printf("input %zu frames, %zu with one question, %.1f octets/frame\n", n_frames, n_msgs,
	       (double)frames_len / (double)n_frames);

	double v[REPS];
	for (int r = 0; r < REPS; r++)
		v[r] = stage_decode();
	report("frame_protobuf_decode", median(v));
	for (int r = 0; r < REPS; r++)
		v[r] = stage_parse();
	report("dns_question_parse", median(v));

	struct tp_wkd *list;
	struct tp_wkd_stats ls;
	double t0 = bench_now_ns();
	int rc = tp_wkd_load(argv[2], NULL, NULL, &list, &ls);
	if (rc < 0)
		die("loading the list", rc);
	printf("list %zu entries, loaded in %.2f s\n", tp_wkd_size(list),
	       (bench_now_ns() - t0) / 1e9);
	for (int r = 0; r < REPS; r++)
		v[r] = stage_lookup(list);
	report("wkd_lookup", median(v));
	printf("wkd_hit_ratio %.3f ratio\n", (double)hits / (double)n_msgs);
	tp_wkd_free(list);

	struct tp_hll_params hp;
	tp_hll_params_default(&hp);
	struct tp_hll *sketch;
	rc = tp_hll_new(&hp, &sketch);
	if (rc < 0)
		die("tp_hll_new", rc);
	for (int r = 0; r < REPS; r++)
		v[r] = stage_hll(sketch);
	report("hll_add", median(v));
	tp_hll_free(sketch);

	char dir[] = "/tmp/bench_stages.XXXXXX";
	if (mkdtemp(dir) == NULL)
		die("mkdtemp", -errno);
	double rows_ns[REPS];
	uint64_t rows = 0;
	for (int r = 0; r < REPS; r++)
		stage_hist(argv[2], dir, &v[r], &rows_ns[r], &rows);
	if (rmdir(dir) != 0)
		fprintf(stderr, "bench_stages: rmdir %s: %s\n", dir, strerror(errno));
	report("histogram_update", median(v));
	report("parquet_rows", median(rows_ns));
	printf("parquet_rows_per_file %" PRIu64 " rows\n", rows);

	free(msgs);
	free(names);
	free(frames);
	return 0;
}
