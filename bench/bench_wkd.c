/* SPDX-License-Identifier: BSD-2-Clause
 *
 * bench_wkd.c - well-known list: resident memory and lookup time for lists
 * of 100k, 1M and 10M synthetic names (or the sizes given as arguments).
 *
 * Names are generated with a fixed seed and lengths like the shipped list
 * (2-4 labels, mostly 5-12 letters, common TLDs; 5% suffix entries). Each
 * size is loaded in a child process so its RSS is the list's alone. Lookups
 * mix exact hits (50%), names below an entry (25%: the suffix fallback runs
 * through every label) and random misses (25%). The first size is the
 * baseline the others are compared with, in the same run.
 *
 * Output: one line per figure, "name value unit".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "wkd/wkd.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	return bench_splitmix64(&rng_state);
}

static const char *const tlds[] = { "com", "net", "org", "se", "de", "io", "co.uk", "nu", "app", "xyz" };

static size_t make_label(char *out)
{
	size_t len = 5 + rng() % 8;
	if (rng() % 10 == 0)
		len += rng() % 12;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)('a' + rng() % 26);
	return len;
}

/* Name number i of the list (without trailing dot handling: adds it). */
static size_t make_name(char *out, uint64_t seed)
{
	uint64_t saved = rng_state;
	rng_state = seed;
	size_t p = 0;
	unsigned labels = 1 + (rng() % 10 < 3 ? 1 : 0);
	for (unsigned l = 0; l < labels; l++) {
		p += make_label(out + p);
		out[p++] = '.';
	}
	const char *tld = tlds[rng() % (sizeof(tlds) / sizeof(tlds[0]))];
	size_t tl = strlen(tld);
	memcpy(out + p, tld, tl);
	p += tl;
	out[p++] = '.';
	out[p] = '\0';
	rng_state = saved;
	return p;
}

static double now_s(void)
{
	return bench_now_ns() / 1e9;
}

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0)
			v = strtol(line + kl, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static int write_list(const char *path, size_t n)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	char name[300];
	for (size_t i = 0; i < n; i++) {
		make_name(name, i * 7919 + 1);
		if (i % 20 == 0)
			fputc('.', f); /* a suffix entry */
		fputs(name, f);
		fputc('\n', f);
	}
	return fclose(f);
}

/* Child: load, measure, look up; prints results. */
static int run(const char *path, size_t n, double *out_ns)
{
	long rss0 = status_kib("VmRSS:");
	double t0 = now_s();
	struct tp_wkd *w;
	struct tp_wkd_stats st;
	int rc = tp_wkd_load(path, NULL, NULL, &w, &st);
	if (rc < 0) {
		fprintf(stderr, "load: %s\n", tp_strerror(rc));
		return 1;
	}
	double load_s = now_s() - t0;
	long rss1 = status_kib("VmRSS:");

	enum { BATCH = 4096 };
	static struct tp_dns_name q[BATCH];
	char text[400];
	for (size_t i = 0; i < BATCH; i++) {
		uint64_t pick = rng() % n;
		size_t len = make_name(text, pick * 7919 + 1);
		unsigned kind = (unsigned)(rng() % 4);
		if (kind == 2) { /* below an entry: "x.y.<entry>" */
			memmove(text + 6, text, len + 1);
			memcpy(text, "cdn.a.", 6);
		} else if (kind == 3) { /* miss */
			make_name(text, rng() | 1u << 31);
		}
		if (tp_dns_name_from_text(text, strlen(text), &q[i]) != 0)
			return 1;
	}
	const size_t lookups = 4000000;
	size_t hits = 0;
	t0 = now_s();
	for (size_t i = 0; i < lookups; i++) {
		struct tp_wkd_match m;
		hits += tp_wkd_lookup(w, &q[(i * 2654435761u) % BATCH], &m);
	}
	double ns = (now_s() - t0) * 1e9 / (double)lookups;
	*out_ns = ns;
	printf("wkd_%zu_entries %zu entries\n", n, tp_wkd_size(w));
	printf("wkd_%zu_load %.2f s\n", n, load_s);
	printf("wkd_%zu_rss %.1f MiB\n", n, (double)(rss1 - rss0) / 1024.0);
	printf("wkd_%zu_memory_accounted %.1f MiB\n", n, (double)tp_wkd_memory(w) / 1048576.0);
	printf("wkd_%zu_lookup %.1f ns/op (hit rate %.2f)\n", n, ns, (double)hits / (double)lookups);
	tp_wkd_free(w);
	return 0;
}

int main(int argc, char **argv)
{
	size_t sizes[8] = { 100000, 1000000, 10000000 };
	size_t n_sizes = 3;
	if (argc > 1) {
		n_sizes = 0;
		for (int i = 1; i < argc && n_sizes < 8; i++)
			sizes[n_sizes++] = (size_t)strtoull(argv[i], NULL, 10);
	}
	double base_ns = 0;
	for (size_t s = 0; s < n_sizes; s++) {
		char path[] = "/tmp/tapir-bench-wkd-XXXXXX";
		int fd = mkstemp(path);
		if (fd < 0)
			return 1;
		close(fd);
		if (write_list(path, sizes[s]) != 0)
			return 1;
		int pipefd[2];
		if (pipe(pipefd) != 0)
			return 1;
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			double ns = 0;
			int rc = run(path, sizes[s], &ns);
			fflush(stdout);
			if (write(pipefd[1], &ns, sizeof(ns)) != (ssize_t)sizeof(ns))
				rc = 1;
			_exit(rc);
		}
		double ns = 0;
		int status = 0;
		if (read(pipefd[0], &ns, sizeof(ns)) != (ssize_t)sizeof(ns))
			ns = 0;
		waitpid(pid, &status, 0);
		close(pipefd[0]);
		close(pipefd[1]);
		unlink(path);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return 1;
		if (s == 0)
			base_ns = ns;
		else
			printf("wkd_%zu_lookup_vs_%zu %.2f x\n", sizes[s], sizes[0], ns / base_ns);
	}
	return 0;
}
