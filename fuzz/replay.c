/* SPDX-License-Identifier: BSD-2-Clause
 *
 * replay.c - runs a libFuzzer target over every file of a corpus directory
 * without the fuzzer runtime, so `meson test` replays the stored corpus (and
 * every crash ever found) on each build, sanitizers on.
 *
 * Each input is copied into a heap buffer of exactly its size, so that
 * AddressSanitizer reports a read even one octet past the end, as libFuzzer
 * itself would. A file that cannot be read fails the run: a corpus that is
 * silently skipped tests nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input replayed; corpus files are small, crash files too. */
#define REPLAY_MAX_INPUT (4u * 1024u * 1024u)

/* Read one file into a fresh buffer of exactly its size (1 octet for an
 * empty file, so malloc never gets 0). Returns 0 or -1 with a message. */
static int read_input(const char *path, uint8_t **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *tmp = malloc(REPLAY_MAX_INPUT + 1u);
	if (tmp == NULL) {
		fclose(f);
		fprintf(stderr, "%s: out of memory\n", path);
		return -1;
	}
	size_t len = fread(tmp, 1, REPLAY_MAX_INPUT + 1u, f);
	int bad = ferror(f);
	fclose(f);
	if (bad || len > REPLAY_MAX_INPUT) {
		free(tmp);
		fprintf(stderr, "%s: %s\n", path,
			bad ? "read error" : "larger than the replay limit");
		return -1;
	}
	uint8_t *exact = malloc(len > 0 ? len : 1u);
	if (exact == NULL) {
		free(tmp);
		fprintf(stderr, "%s: out of memory\n", path);
		return -1;
	}
	if (len > 0)
		memcpy(exact, tmp, len);
	free(tmp);
	*out = exact;
	*out_len = len;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (d == NULL) {
		perror(argv[1]);
		return 1;
	}
	unsigned n = 0;
	int failed = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[4096];
		int w = snprintf(path, sizeof(path), "%s/%s", argv[1],
				 de->d_name);
		if (w < 0 || (size_t)w >= sizeof(path)) {
			fprintf(stderr, "%s/%s: path too long\n", argv[1],
				de->d_name);
			failed = 1;
			continue;
		}
		uint8_t *data;
		size_t len;
		if (read_input(path, &data, &len) != 0) {
			failed = 1;
			continue;
		}
		(void)LLVMFuzzerTestOneInput(data, len);
		free(data);
		n++;
	}
	closedir(d);
	printf("replayed %u inputs from %s\n", n, argv[1]);
	return n > 0 && !failed ? 0 : 1;
}
