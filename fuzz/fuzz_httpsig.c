/* SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_httpsig.c - libFuzzer target for the HTTP Message Signatures and
 * Content-Digest parsers (lib/sign/sfv.c, lib/sign/httpsig.c).
 *
 * Signature-Input, Signature and Content-Digest are headers any client of
 * the core sends. The input is split at its first two newlines into the
 * three field values; the verifier runs on them with a fixed Ed25519 key
 * under both policies (the core's, and one allowing derived components),
 * and Content-Digest is checked against the rest of the input. Nothing may
 * crash or leak, and a success must report what the contract promises: a
 * non-empty label, a keyid of the allowed characters and a known alg.
 * Built with -fsanitize=fuzzer for fuzzing, and linked with fuzz/replay.c
 * to replay fuzz/corpus/httpsig/ in `meson test --suite fuzz`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sign/httpsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The RFC 8032 §7.1 TEST 1 secret key: any fixed key does. */
static const uint8_t seed[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
	0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
	0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};

struct fields {
	const char *input, *sig, *digest;
};

static const char *header(void *ctx, const char *name)
{
	const struct fields *f = ctx;
	if (strcmp(name, "signature-input") == 0)
		return f->input;
	if (strcmp(name, "signature") == 0)
		return f->sig;
	if (strcmp(name, "content-digest") == 0)
		return f->digest;
	if (strcmp(name, "content-type") == 0)
		return "application/vnd.apache.parquet";
	if (strcmp(name, "content-length") == 0)
		return "4";
	return NULL;
}

static int key_fn(void *ctx, const char *keyid, EVP_PKEY **out)
{
	if (strcmp(keyid, "edge1") != 0)
		return TP_ENOKEY;
	if (EVP_PKEY_up_ref(ctx) != 1)
		return TP_EBUG;
	*out = ctx;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key;
	if (key == NULL) {
		key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
						   sizeof(seed));
		if (key == NULL)
			abort();
	}
	char *text = malloc(size + 1u);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char *nl1 = strchr(text, '\n'), *nl2 = nl1 != NULL ? strchr(nl1 + 1, '\n') : NULL;
	if (nl1 != NULL)
		*nl1 = '\0';
	if (nl2 != NULL)
		*nl2 = '\0';
	struct fields f = {
		.input = text,
		.sig = nl1 != NULL ? nl1 + 1 : NULL,
		.digest = nl2 != NULL ? nl2 + 1 : NULL,
	};
	static const char *const required[] = { "content-type", "content-length",
						"content-digest" };
	struct tp_httpsig_msg m = {
		.method = "POST", .scheme = "https", .authority = "core.example:8443",
		.path = "/api/v1/aggregate/histogram", .query = NULL, .status = 0,
		.header = header, .ctx = &f,
	};
	for (int i = 0; i < 2; i++) {
		struct tp_httpsig_policy p = {
			.required = required, .n_required = i == 0 ? 3u : 0u,
			.allow_derived = i == 1, .now = 1700000000,
			.max_age_s = 86400, .future_skew_s = 60,
			.alg_if_absent = i == 1 ? "ed25519" : NULL,
		};
		struct tp_httpsig_verified v;
		int rc = tp_httpsig_verify(&m, &p, key_fn, key, &v);
		if (rc == 0 && (v.label[0] == '\0' || strcmp(v.keyid, "edge1") != 0 ||
				strcmp(v.alg, "ed25519") != 0))
			abort();
	}
	if (f.digest != NULL) {
		int rc = tp_content_digest_verify(f.digest, "PAR1", 4);
		if (rc > 0)
			abort();
	}
	free(text);
	return 0;
}
