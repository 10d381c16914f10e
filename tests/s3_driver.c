/* SPDX-License-Identifier: BSD-2-Clause
 *
 * s3_driver.c - test-only program (never installed) that drives the S3
 * client (lib/store/s3.h) and the aggregate store's S3 backend
 * (lib/store/aggstore.h) for tests/integration/test_s3.py.
 *
 *   s3_driver --endpoint URL --bucket B --access-key AK --secret-key SK
 *       [--region R] [--timeout-ms N] COMMAND [ARG...]
 *   bucket-create | bucket-check
 *   put KEY FILE [--content-type CT] [--meta NAME=VALUE]...
 *   get KEY OUTFILE [--max N] | head KEY | delete KEY
 *   agg-put FILE --index DIR --type T --creator C --digest D
 *       --content-type CT [--interval-start-us N --interval-duration-s N]
 *       [--create-bucket]
 *   agg-get ID OUTFILE --index DIR
 *
 * Options may come anywhere. Prints one JSON line: {"rc":N,"error":"..."}
 * plus what the command learnt (length, content_type, id, object_key,
 * bucket). Exit 0 when rc is 0, 1 otherwise, 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/aggstore.h"
#include "store/s3.h"

struct args {
	struct tp_s3_config s3;
	const char *index, *type, *creator, *digest, *content_type;
	struct tp_s3_meta meta[TP_S3_META_MAX];
	size_t n_meta;
	long long interval_start_us, interval_duration_s;
	bool has_interval, create_bucket;
	size_t max;
	const char *pos[4];
	size_t n_pos;
};

static int usage(void)
{
	fprintf(stderr, "usage: s3_driver --endpoint URL --bucket B --access-key AK "
			"--secret-key SK COMMAND [ARG...] (see the source)\n");
	return 2;
}

static int parse_ll(const char *s, long long *out)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->max = TP_AGG_PAYLOAD_MAX;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		long long n = 0;
		if (strcmp(o, "--create-bucket") == 0) {
			a->create_bucket = true;
			continue;
		}
		if (strncmp(o, "--", 2) != 0) {
			if (a->n_pos == sizeof(a->pos) / sizeof(a->pos[0]))
				return -1;
			a->pos[a->n_pos++] = o;
			continue;
		}
		if (v == NULL)
			return -1;
		i++;
		if (strcmp(o, "--endpoint") == 0) {
			a->s3.endpoint = v;
		} else if (strcmp(o, "--bucket") == 0) {
			a->s3.bucket = v;
		} else if (strcmp(o, "--access-key") == 0) {
			a->s3.access_key = v;
		} else if (strcmp(o, "--secret-key") == 0) {
			a->s3.secret_key = v;
		} else if (strcmp(o, "--region") == 0) {
			a->s3.region = v;
		} else if (strcmp(o, "--timeout-ms") == 0) {
			if (parse_ll(v, &n) != 0 || n < 0 || n > 600000)
				return -1;
			a->s3.timeout_ms = (unsigned)n;
		} else if (strcmp(o, "--index") == 0) {
			a->index = v;
		} else if (strcmp(o, "--type") == 0) {
			a->type = v;
		} else if (strcmp(o, "--creator") == 0) {
			a->creator = v;
		} else if (strcmp(o, "--digest") == 0) {
			a->digest = v;
		} else if (strcmp(o, "--content-type") == 0) {
			a->content_type = v;
		} else if (strcmp(o, "--max") == 0) {
			if (parse_ll(v, &n) != 0 || n < 0)
				return -1;
			a->max = (size_t)n;
		} else if (strcmp(o, "--interval-start-us") == 0) {
			if (parse_ll(v, &a->interval_start_us) != 0)
				return -1;
			a->has_interval = true;
		} else if (strcmp(o, "--interval-duration-s") == 0) {
			if (parse_ll(v, &a->interval_duration_s) != 0)
				return -1;
			a->has_interval = true;
		} else if (strcmp(o, "--meta") == 0) {
			char *eq = strchr(argv[i], '=');
			if (eq == NULL || a->n_meta == TP_S3_META_MAX)
				return -1;
			*eq = '\0';
			a->meta[a->n_meta].name = argv[i];
			a->meta[a->n_meta].value = eq + 1;
			a->n_meta++;
		} else {
			return -1;
		}
	}
	return a->n_pos == 0 ? -1 : 0;
}

static int read_whole(const char *path, uint8_t **out, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return -errno;
	size_t cap = 65536, n = 0;
	uint8_t *buf = malloc(cap);
	int rc = buf == NULL ? -ENOMEM : 0;
	while (rc == 0) {
		if (n == cap) {
			if (cap >= TP_AGG_PAYLOAD_MAX) {
				rc = TP_ETOOBIG;
				break;
			}
			uint8_t *p = realloc(buf, cap * 2u);
			if (p == NULL) {
				rc = -ENOMEM;
				break;
			}
			buf = p;
			cap *= 2u;
		}
		size_t got = fread(buf + n, 1, cap - n, fp);
		n += got;
		if (got == 0) {
			if (ferror(fp))
				rc = -EIO;
			break;
		}
	}
	fclose(fp);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int write_whole(const char *path, const uint8_t *p, size_t len)
{
	FILE *fp = fopen(path, "wb");
	if (fp == NULL)
		return -errno;
	int rc = fwrite(p, 1, len, fp) == len ? 0 : -EIO;
	if (fclose(fp) != 0 && rc == 0)
		rc = -EIO;
	return rc;
}

static void json_str(const char *name, const char *v)
{
	printf(",\"%s\":\"", name);
	for (const char *c = v; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if ((unsigned char)*c < 0x20)
			printf("\\u%04x", (unsigned)*c);
		else
			putchar(*c);
	}
	putchar('"');
}

static int cmd_s3(struct args *a, const char *cmd)
{
	struct tp_s3 *s3 = NULL;
	int rc = tp_s3_new(&a->s3, &s3);
	uint8_t *body = NULL;
	size_t len = 0;
	char *ct = NULL;
	if (rc != 0)
		goto out;
	if (strcmp(cmd, "bucket-create") == 0 && a->n_pos == 1) {
		rc = tp_s3_bucket_create(s3);
	} else if (strcmp(cmd, "bucket-check") == 0 && a->n_pos == 1) {
		rc = tp_s3_bucket_check(s3);
	} else if (strcmp(cmd, "put") == 0 && a->n_pos == 3) {
		rc = read_whole(a->pos[2], &body, &len);
		if (rc == 0)
			rc = tp_s3_put(s3, a->pos[1], body, len, a->content_type, a->meta,
				       a->n_meta);
	} else if (strcmp(cmd, "get") == 0 && a->n_pos == 3) {
		rc = tp_s3_get(s3, a->pos[1], a->max, &body, &len, &ct);
		if (rc == 0)
			rc = write_whole(a->pos[2], body, len);
	} else if (strcmp(cmd, "head") == 0 && a->n_pos == 2) {
		rc = tp_s3_head(s3, a->pos[1], &len);
	} else if (strcmp(cmd, "delete") == 0 && a->n_pos == 2) {
		rc = tp_s3_delete(s3, a->pos[1]);
	} else {
		tp_s3_free(s3);
		return 2;
	}
out:
	printf("{\"rc\":%d", rc);
	json_str("error", tp_strerror(rc));
	if (rc == 0)
		printf(",\"length\":%zu", len);
	if (ct != NULL)
		json_str("content_type", ct);
	printf("}\n");
	free(body);
	free(ct);
	tp_s3_free(s3);
	return rc == 0 ? 0 : 1;
}

static int cmd_agg(struct args *a, const char *cmd)
{
	if (a->index == NULL)
		return 2;
	struct tp_aggstore_config cfg = { .index_dir = a->index, .s3 = &a->s3,
					  .s3_create_bucket = a->create_bucket };
	struct tp_aggstore *st = NULL;
	struct tp_agg_meta m;
	memset(&m, 0, sizeof(m));
	uint8_t *body = NULL;
	size_t len = 0;
	bool put = strcmp(cmd, "agg-put") == 0;
	if (put ? (a->n_pos != 2 || a->type == NULL || a->creator == NULL ||
		   a->digest == NULL || a->content_type == NULL)
		: (strcmp(cmd, "agg-get") != 0 || a->n_pos != 3))
		return 2;
	int rc = tp_aggstore_open(&cfg, &st);
	if (rc == 0 && put) {
		snprintf(m.type, sizeof(m.type), "%s", a->type);
		snprintf(m.creator, sizeof(m.creator), "%s", a->creator);
		snprintf(m.content_digest, sizeof(m.content_digest), "%s", a->digest);
		snprintf(m.content_type, sizeof(m.content_type), "%s", a->content_type);
		m.has_interval = a->has_interval;
		m.interval_start_us = a->interval_start_us;
		m.interval_duration_s = a->interval_duration_s;
		rc = read_whole(a->pos[1], &body, &len);
		if (rc == 0)
			rc = tp_aggstore_put(st, &m, body, len);
	} else if (rc == 0) {
		rc = tp_aggstore_get_payload(st, a->pos[1], &body, &len);
		if (rc == 0)
			rc = write_whole(a->pos[2], body, len);
		if (rc == 0)
			rc = tp_aggstore_get_meta(st, a->pos[1], &m);
	}
	printf("{\"rc\":%d", rc);
	json_str("error", tp_strerror(rc));
	if (rc == 0 || rc == TP_EEXIST) {
		json_str("id", m.id);
		json_str("object_key", m.object_key);
		json_str("bucket", m.bucket);
		printf(",\"length\":%zu,\"created\":%" PRId64, len, m.created);
	}
	printf("}\n");
	tp_agg_meta_clear(&m);
	free(body);
	tp_aggstore_close(st);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct args a;
	if (parse_args(argc, argv, &a) != 0)
		return usage();
	const char *cmd = a.pos[0];
	int rc = strncmp(cmd, "agg-", 4) == 0 ? cmd_agg(&a, cmd) : cmd_s3(&a, cmd);
	if (rc == 2)
		return usage();
	return rc;
}
