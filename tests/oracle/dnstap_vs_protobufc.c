/* SPDX-License-Identifier: BSD-2-Clause
 *
 * dnstap_vs_protobufc.c - oracle test: our zero-copy dnstap decoder against
 * protobuf-c (code generated from proto/dnstap.proto), over every frame of
 * every shared capture, read with libfstrm (not with our reader).
 *
 * For each frame: the same verdict (valid or not) and, when valid, the same
 * value for every field the edge uses. Then the same for cuts of each of the
 * first frames at every length, where both decoders must agree that the
 * frame is invalid or decode it identically.
 *
 * Exit 0 all equal, 1 a mismatch, 77 skipped (no ../shared).
 */
#include <dirent.h>
#include <fstrm.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnstap.pb-c.h"
#include "dnstap/dnstap.h"

static unsigned long mismatches;

static void report(const char *file, unsigned long frame, const char *what)
{
	if (mismatches++ < 20)
		fprintf(stderr, "%s frame %lu: %s differs\n", file, frame, what);
}

static bool bytes_equal(const struct tp_dt_bytes *ours, protobuf_c_boolean has,
			ProtobufCBinaryData theirs)
{
	if (!has)
		return ours->p == NULL;
	return ours->p != NULL && ours->len == theirs.len &&
	       (theirs.len == 0 || memcmp(ours->p, theirs.data, theirs.len) == 0);
}

/* Valid for protobuf-c means: well-formed and every required field present
 * (Message.type included when Message is present). */
static bool ours_valid(int rc, const struct tp_dt_msg *m)
{
	return rc == 0 && (!m->has_message || m->has_type);
}

static void compare(const char *file, unsigned long n, const uint8_t *data, size_t len)
{
	struct tp_dt_msg m;
	int rc = tp_dt_decode(data, len, &m);
	Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, len, data);

	if (ours_valid(rc, &m) != (d != NULL)) {
		report(file, n, "validity");
		goto out;
	}
	if (d == NULL)
		return;
	if (!bytes_equal(&m.identity, d->has_identity, d->identity))
		report(file, n, "identity");
	if (!bytes_equal(&m.version, d->has_version, d->version))
		report(file, n, "version");
	if (m.dnstap_type != (uint32_t)d->type)
		report(file, n, "Dnstap.type");
	if (m.has_message != (d->message != NULL)) {
		report(file, n, "message presence");
		goto out;
	}
	if (d->message == NULL)
		goto out;
	const Dnstap__Message *x = d->message;
	if (m.type != (uint32_t)x->type)
		report(file, n, "Message.type");
	if (m.has_socket_family != (bool)x->has_socket_family ||
	    (x->has_socket_family && m.socket_family != (uint32_t)x->socket_family))
		report(file, n, "socket_family");
	if (m.has_socket_protocol != (bool)x->has_socket_protocol ||
	    (x->has_socket_protocol && m.socket_protocol != (uint32_t)x->socket_protocol))
		report(file, n, "socket_protocol");
	if (!bytes_equal(&m.query_address, x->has_query_address, x->query_address))
		report(file, n, "query_address");
	if (!bytes_equal(&m.response_address, x->has_response_address, x->response_address))
		report(file, n, "response_address");
	if (m.has_query_port != (bool)x->has_query_port ||
	    (x->has_query_port && m.query_port != x->query_port))
		report(file, n, "query_port");
	if (m.has_response_port != (bool)x->has_response_port ||
	    (x->has_response_port && m.response_port != x->response_port))
		report(file, n, "response_port");
	if (m.has_query_time_sec != (bool)x->has_query_time_sec ||
	    (x->has_query_time_sec && m.query_time_sec != x->query_time_sec))
		report(file, n, "query_time_sec");
	if (m.has_query_time_nsec != (bool)x->has_query_time_nsec ||
	    (x->has_query_time_nsec && m.query_time_nsec != x->query_time_nsec))
		report(file, n, "query_time_nsec");
	if (m.has_response_time_sec != (bool)x->has_response_time_sec ||
	    (x->has_response_time_sec && m.response_time_sec != x->response_time_sec))
		report(file, n, "response_time_sec");
	if (m.has_response_time_nsec != (bool)x->has_response_time_nsec ||
	    (x->has_response_time_nsec && m.response_time_nsec != x->response_time_nsec))
		report(file, n, "response_time_nsec");
	if (!bytes_equal(&m.query_message, x->has_query_message, x->query_message))
		report(file, n, "query_message");
	if (!bytes_equal(&m.query_zone, x->has_query_zone, x->query_zone))
		report(file, n, "query_zone");
	if (!bytes_equal(&m.response_message, x->has_response_message, x->response_message))
		report(file, n, "response_message");
out:
	if (d)
		dnstap__dnstap__free_unpacked(d, NULL);
}

static int check_file(const char *path, unsigned long *frames)
{
	struct fstrm_file_options *fopt = fstrm_file_options_init();
	fstrm_file_options_set_file_path(fopt, path);
	struct fstrm_reader *r = fstrm_file_reader_init(fopt, NULL);
	fstrm_file_options_destroy(&fopt);
	if (r == NULL || fstrm_reader_open(r) != fstrm_res_success) {
		fprintf(stderr, "%s: libfstrm cannot open it\n", path);
		if (r)
			fstrm_reader_destroy(&r);
		return -1;
	}
	const uint8_t *data;
	size_t len;
	unsigned long n = 0;
	while (fstrm_reader_read(r, &data, &len) == fstrm_res_success) {
		n++;
		compare(path, n, data, len);
		if (n <= 50) {
			/* Every cut of an early frame: both must agree. */
			for (size_t cut = 0; cut < len; cut++)
				compare(path, n, data, cut);
		}
	}
	fstrm_reader_destroy(&r);
	*frames += n;
	printf("%s: %lu frames\n", path, n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/data", argv[1]);
	DIR *d = opendir(dir);
	if (d == NULL) {
		printf("SKIP: %s is absent (the shared captures are not here)\n", dir);
		return 77;
	}
	unsigned long frames = 0;
	int files = 0, bad = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 7 || strcmp(de->d_name + l - 7, ".dnstap") != 0)
			continue;
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (check_file(path, &frames) < 0)
			bad = 1;
		files++;
	}
	closedir(d);
	printf("dnstap_vs_protobufc: %d files, %lu frames, %lu mismatches\n", files, frames,
	       mismatches);
	return bad || mismatches || files == 0 ? 1 : 0;
}
