/* SPDX-License-Identifier: BSD-2-Clause
 *
 * keygen.c - `tapir keygen --kid NAME --out-dir DIR`: a fresh Ed25519
 * signing key for new_qname events (edm-spec §5.3).
 *
 * Writes DIR/NAME.jwk, the private JWK the edge loads (mode 0600), and
 * DIR/NAME.pem, the public key as SubjectPublicKeyInfo PEM for the core
 * (mode 0644), and prints the kid and the RFC 7638 thumbprint the core will
 * report for it. Existing files are never overwritten (O_EXCL): replacing a
 * node's key by accident would silently orphan every event it signs. The
 * kid becomes a file name, an MQTT topic level and a JSON string, so it is
 * restricted to letters, digits, '.', '_' and '-', starting with a letter
 * or digit (no "..", no hidden files, nothing to escape).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sign/jwk.h"
#include "tools.h"

#define KID_NAME_MAX 64u

static bool kid_ok(const char *kid)
{
	size_t n = strlen(kid);
	if (n == 0 || n > KID_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = kid[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

/* Create dir/name exclusively with exactly mode (umask notwithstanding),
 * write data and fsync. On failure the file is removed. Returns 0 or
 * -errno. */
static int write_new(int dirfd, const char *name, const char *data,
		     size_t len, mode_t mode)
{
	int fd = openat(dirfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int rc = 0;
	/* The file was created with mode & ~umask; a private key must not be
	 * more open than asked and a public one should be readable as asked. */
	if (fchmod(fd, mode) != 0)
		rc = -errno;
	for (size_t off = 0; rc == 0 && off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0) {
			if (errno != EINTR)
				rc = -errno;
			continue;
		}
		off += (size_t)n;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0)
		(void)unlinkat(dirfd, name, 0);
	return rc;
}

static int usage(FILE *out)
{
	fprintf(out, "usage: tapir keygen --kid NAME --out-dir DIR\n"
		     "  writes a new Ed25519 key: DIR/NAME.jwk (private JWK, mode 0600,\n"
		     "  for the edge) and DIR/NAME.pem (public key, SPKI PEM, 0644, for\n"
		     "  the core); prints the RFC 7638 thumbprint. NAME (the JWS kid,\n"
		     "  normally the node name): 1-%u of A-Z a-z 0-9 . _ -, starting\n"
		     "  with a letter or digit. Existing files are never overwritten.\n",
		KID_NAME_MAX);
	return out == stdout ? 0 : 2;
}

int tp_keygen_main(int argc, char **argv)
{
	const char *kid = NULL, *dir = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return usage(stdout);
		if (i + 1 < argc && strcmp(argv[i], "--kid") == 0)
			kid = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--out-dir") == 0)
			dir = argv[++i];
		else
			return usage(stderr);
	}
	if (kid == NULL || dir == NULL)
		return usage(stderr);
	if (!kid_ok(kid)) {
		fprintf(stderr, "tapir keygen: bad --kid (allowed: 1-%u of A-Z a-z 0-9 . _ -, "
				"first a letter or digit)\n", KID_NAME_MAX);
		return 2;
	}

	char jwk_name[KID_NAME_MAX + 5u], pem_name[KID_NAME_MAX + 5u];
	snprintf(jwk_name, sizeof(jwk_name), "%s.jwk", kid);
	snprintf(pem_name, sizeof(pem_name), "%s.pem", kid);
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "tapir keygen: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	/* Refuse before generating anything if either file exists, so that a
	 * half-done pair is never left behind by this check; O_EXCL below
	 * still guards against a race. */
	struct stat st;
	const char *names[2] = { jwk_name, pem_name };
	for (size_t i = 0; i < 2u; i++) {
		int exists = fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (exists || errno != ENOENT) {
			fprintf(stderr, "tapir keygen: %s/%s: %s\n", dir, names[i],
				exists ? "exists, not overwritten" : strerror(errno));
			close(dirfd);
			return 1;
		}
	}

	struct tp_jwk key;
	char *jwk = NULL, *pem = NULL;
	size_t jwk_len = 0, pem_len = 0;
	char thumb[TP_JWK_THUMBPRINT_LEN + 1u];
	const char *what = "generating the key";
	int status = 1;
	int rc = tp_jwk_generate(kid, &key);
	if (rc != 0)
		goto out;
	what = "encoding the key";
	if ((rc = tp_jwk_private_json(&key, &jwk, &jwk_len)) != 0 ||
	    (rc = tp_jwk_public_pem(&key, &pem, &pem_len)) != 0 ||
	    (rc = tp_jwk_thumbprint(&key, thumb)) != 0)
		goto out;
	what = jwk_name;
	if ((rc = write_new(dirfd, jwk_name, jwk, jwk_len, 0600)) != 0)
		goto out;
	what = pem_name;
	if ((rc = write_new(dirfd, pem_name, pem, pem_len, 0644)) != 0) {
		/* Without its public half the private key is useless. */
		(void)unlinkat(dirfd, jwk_name, 0);
		goto out;
	}
	if (fsync(dirfd) != 0) {
		what = dir;
		rc = -errno;
		goto out;
	}
	printf("kid %s\nthumbprint %s\nprivate %s/%s\npublic %s/%s\n", kid, thumb, dir,
	       jwk_name, dir, pem_name);
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	if (status != 0 && rc != 0)
		fprintf(stderr, "tapir keygen: %s: %s\n", what, tp_strerror(rc));
	tp_jwk_text_free(jwk, jwk_len);
	free(pem);
	tp_jwk_free(&key);
	close(dirfd);
	return status;
}
