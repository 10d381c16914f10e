/* SPDX-License-Identifier: BSD-2-Clause
 *
 * bridge_driver.c - test-only: runs the core's event bridge (core/bridge.c)
 * and, with --notify N, publishes N new_aggregate notifications
 * (core/notify.c), until SIGTERM or SIGINT; then prints the counters as one
 * JSON line on stdout. For tests/integration/test_bridge.py until `tapir
 * core` runs the bridge itself; never installed.
 *
 *   bridge_driver --keys DIR --mqtt URL --nats URL [--subject S]
 *                 [--notify N --notify-base URL]
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bridge.h"
#include "core/keys.h"
#include "core/notify.h"

static int usage(void)
{
	fprintf(stderr, "usage: bridge_driver --keys DIR --mqtt URL --nats URL [--subject S]"
			" [--notify N --notify-base URL]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *keys_dir = NULL, *base = NULL;
	struct tp_bridge_config bc = {.mqtt_url = NULL};
	long notify = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--keys") == 0)
			keys_dir = v;
		else if (strcmp(k, "--mqtt") == 0)
			bc.mqtt_url = v;
		else if (strcmp(k, "--nats") == 0)
			bc.nats_url = v;
		else if (strcmp(k, "--subject") == 0)
			bc.nats_subject = v;
		else if (strcmp(k, "--notify") == 0)
			notify = strtol(v, NULL, 10);
		else if (strcmp(k, "--notify-base") == 0)
			base = v;
		else
			return usage();
	}
	if (argc % 2 != 1 || keys_dir == NULL || bc.mqtt_url == NULL || bc.nats_url == NULL ||
	    notify < 0 || notify > 1000)
		return usage();

	/* Signals are taken by sigwait() below, never by the library threads
	 * (which inherit this mask). */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return 1;

	struct tp_keys *keys = NULL;
	int rc = tp_keys_open(keys_dir, 1, &keys);
	if (rc != 0) {
		fprintf(stderr, "keys: %s\n", tp_strerror(rc));
		return 1;
	}
	struct tp_bridge *b = NULL;
	rc = tp_bridge_start(&bc, keys, &b);
	if (rc != 0) {
		fprintf(stderr, "bridge: %s\n", tp_strerror(rc));
		tp_keys_close(keys);
		return 1;
	}
	struct tp_notify *n = NULL;
	if (notify > 0) {
		struct tp_notify_config nc = {.url = bc.nats_url, .base_url = base};
		rc = tp_notify_start(&nc, &n);
		if (rc != 0) {
			fprintf(stderr, "notify: %s\n", tp_strerror(rc));
			tp_bridge_stop(b);
			tp_keys_close(keys);
			return 1;
		}
		struct tp_agg_meta m;
		memset(&m, 0, sizeof(m));
		strcpy(m.type, "histogram");
		strcpy(m.creator, "edge-7");
		strcpy(m.bucket, "aggregates");
		m.created = 1700000000;
		m.has_interval = true;
		m.interval_start_us = 1700000000000000;
		m.interval_duration_s = 60;
		for (long i = 0; i < notify; i++) {
			snprintf(m.id, sizeof(m.id), "6553f100%016lx", (unsigned long)i);
			snprintf(m.object_key, sizeof(m.object_key), "type=histogram/id=%s", m.id);
			if (tp_notify_aggregate(n, &m) != 0)
				fprintf(stderr, "notify: message %ld dropped\n", i);
		}
	}
	puts("{\"ready\":true}");
	fflush(stdout);

	int sig = 0;
	while (sigwait(&set, &sig) != 0)
		;
	struct tp_bridge_stats st;
	tp_bridge_stats(b, &st);
	tp_bridge_stop(b);
	printf("{\"received\":%" PRIu64 ",\"forwarded\":%" PRIu64, st.received, st.forwarded);
#define PRINT_DROP(name, text) printf(",\"drop_" #name "\":%" PRIu64, st.drop_##name);
	TP_BRIDGE_DROP_REASONS(PRINT_DROP)
#undef PRINT_DROP
	if (n != NULL) {
		struct tp_notify_stats ns;
		tp_notify_stats(n, &ns);
		printf(",\"notify_queued\":%" PRIu64 ",\"notify_published\":%" PRIu64
		       ",\"notify_dropped_full\":%" PRIu64 ",\"notify_failed\":%" PRIu64,
		       ns.queued, ns.published, ns.dropped_full, ns.failed);
		tp_notify_stop(n, 2000);
	}
	puts("}");
	tp_keys_close(keys);
	return 0;
}
