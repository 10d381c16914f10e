/* SPDX-License-Identifier: BSD-2-Clause
 *
 * httpsig.h - HTTP Message Signatures (RFC 9421) and Content-Digest
 * (RFC 9530): how an edge signs a histogram upload and how the core checks
 * it (SPEC §7, core-spec §1.4-1.5).
 *
 * The edge signs with Ed25519, label "sig1", covering
 *   ("content-type" "content-length" "content-digest")
 * with the parameters created, alg="ed25519" and keyid, exactly as the
 * reference edge. The core verifies ed25519 and ecdsa-p256-sha256 (raw
 * r||s), and rsa-pss-sha512 / rsa-v1_5-sha256 because RFC 9421's own
 * examples use them. Header values are untrusted input: they are parsed as
 * RFC 8941 structured fields with hard bounds (TP_HTTPSIG_FIELD_MAX, at most
 * TP_HTTPSIG_COMPONENTS_MAX covered components).
 *
 * Derived components (@method, @authority, @path, @query, @target-uri,
 * @scheme, @request-target, @status) are supported so that RFC 9421
 * Appendix B verifies; the core's policy refuses them (core-spec §1.4.6).
 */
#ifndef TP_SIGN_HTTPSIG_H
#define TP_SIGN_HTTPSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>

#include "util/err.h"

/* Longest Signature-Input, Signature or Content-Digest value accepted. */
#define TP_HTTPSIG_FIELD_MAX 8192u
/* Most covered components in one signature. */
#define TP_HTTPSIG_COMPONENTS_MAX 32u
/* Longest label, keyid, alg and nonce (keyids are node names). */
#define TP_HTTPSIG_LABEL_MAX 64u
#define TP_HTTPSIG_KEYID_MAX 255u
#define TP_HTTPSIG_ALG_MAX 32u
/* "sha-256=:" + 44 base64 characters + ":" + NUL. */
#define TP_CONTENT_DIGEST_SHA256_SIZE 55u
/* A Signature-Input we produce, with a keyid of TP_HTTPSIG_KEYID_MAX. */
#define TP_HTTPSIG_INPUT_OUT_MAX 1024u
/* "sig1=:" + base64 of a signature of at most 512 bytes (RSA 4096) + ":". */
#define TP_HTTPSIG_SIGNATURE_OUT_MAX 720u
/* Longest covered component name; longest signature accepted (RSA 4096). */
#define TP_HTTPSIG_COMPONENT_NAME_MAX 128u
#define TP_HTTPSIG_SIG_MAX 512u
/* Longest signature base: covered header values are bounded by the
 * caller's HTTP parser, the base by this. */
#define TP_HTTPSIG_BASE_MAX 65536u

/* A message as the signer or verifier sees it. Header names are looked up
 * lower-case; the callback returns the field value (several field lines
 * already combined with ", " as RFC 9110 §5.3), or NULL when absent. The
 * derived fields may be NULL when the caller never needs them. */
struct tp_httpsig_msg {
	const char *method;    /* "POST" */
	const char *scheme;    /* "https" */
	const char *authority; /* host[:port] as the client addressed it */
	const char *path;      /* "/api/v1/aggregate/histogram" */
	const char *query;     /* "?a=b", or NULL for none */
	int status;            /* a response's status; 0 for a request */
	const char *(*header)(void *ctx, const char *lower_name);
	void *ctx;
};

/* RFC 9530: the Content-Digest field value "sha-256=:<base64>:" of
 * body[0..len). out: TP_CONTENT_DIGEST_SHA256_SIZE bytes, NUL-terminated.
 * Returns 0, TP_EINVAL or TP_EBUG. */
int tp_content_digest_sha256(const void *body, size_t len,
			     char out[TP_CONTENT_DIGEST_SHA256_SIZE]) TP_WUR;

/* Check a received Content-Digest field value against body[0..len):
 * sha-256 is used when present, else sha-512 (core-spec §1.5); other
 * algorithms are ignored.
 * Returns 0 (matches), TP_EMALF (not a structured-field dictionary of byte
 * sequences), TP_EMISSING (neither sha-256 nor sha-512), TP_EDIGEST
 * (mismatch), TP_ETOOBIG, TP_EINVAL. */
int tp_content_digest_verify(const char *field, const void *body, size_t len) TP_WUR;

struct tp_httpsig_sign_opts {
	const char *label;             /* "sig1" */
	const char *const *covered;    /* component names, e.g. "content-type" */
	size_t n_covered;              /* 1..TP_HTTPSIG_COMPONENTS_MAX */
	int64_t created;               /* UNIX seconds */
	const char *keyid;             /* required */
};

/* Sign msg with an Ed25519 private key: the Signature-Input and Signature
 * field values, NUL-terminated, e.g.
 *   sig1=("content-type" "content-length" "content-digest");created=1618884473;alg="ed25519";keyid="edge1"
 *   sig1=:<base64>:
 * Returns 0, TP_EINVAL (NULL, empty or oversized argument, key not Ed25519
 * private), TP_EMISSING (a covered header is absent from msg), TP_ENOSPACE
 * or TP_EBUG. */
int tp_httpsig_sign(EVP_PKEY *key, const struct tp_httpsig_msg *msg,
		    const struct tp_httpsig_sign_opts *opts,
		    char sig_input[TP_HTTPSIG_INPUT_OUT_MAX],
		    char signature[TP_HTTPSIG_SIGNATURE_OUT_MAX]) TP_WUR;

/* What a verifier accepts (core-spec §1.4, decision 6). */
struct tp_httpsig_policy {
	const char *const *required;  /* components that must be covered */
	size_t n_required;
	bool allow_derived;           /* false: any "@..." component refuses */
	int64_t now;                  /* UNIX seconds */
	int64_t max_age_s;            /* created older than now - this refuses */
	int64_t future_skew_s;        /* created later than now + this refuses */
	/* The alg to assume when the signature has none (RFC 9421 §3.2 lets a
	 * verifier know it from the key: RFC 9421's own examples omit alg).
	 * NULL, the default: a signature without alg refuses. */
	const char *alg_if_absent;
};

/* The key for a keyid and alg. Returns 0 and *out (a reference the
 * verifier frees with EVP_PKEY_free), TP_ENOKEY (no such key) or TP_EMALF
 * (keyid not [A-Za-z0-9_.-]+). */
typedef int (*tp_httpsig_key_fn)(void *ctx, const char *keyid, EVP_PKEY **out);

struct tp_httpsig_verified {
	char label[TP_HTTPSIG_LABEL_MAX + 1u];
	char keyid[TP_HTTPSIG_KEYID_MAX + 1u];
	char alg[TP_HTTPSIG_ALG_MAX + 1u];
	int64_t created;
};

/* Verify the one signature of msg (its Signature-Input and Signature
 * headers) under policy. Checks, in this order, and returns the first
 * failure:
 *   TP_EMISSING  Signature-Input or Signature absent
 *   TP_EMALF     either is not a structured-field dictionary as RFC 9421
 *                §4 describes, or TP_ETOOBIG for an oversized one
 *   TP_EMULTI    more than one signature, or the label only in one header
 *   TP_EPARAM    a parameter other than alg/created/expires/keyid/nonce,
 *                created absent, older than max_age_s or in the future
 *                beyond future_skew_s, expires past
 *   TP_EALG      alg absent or not one we know
 *   TP_ECOVER    a required component not covered, a derived component
 *                when not allowed, a component listed twice, a component
 *                with parameters (;sf, ;key, ;req, ;name, ...: none is
 *                supported), a name that is not lower-case, or a derived
 *                component we do not know (@query-param)
 *   TP_EMALF     keyid absent or with characters outside [A-Za-z0-9_.-]
 *   TP_ENOKEY    the key callback knows no such key
 *   TP_EALG      the key's type does not fit alg
 *   TP_EMISSING  a covered header is absent from msg (or a derived
 *                component's part: @status of a request)
 *   TP_EMALF     a covered header value holds CR, LF or NUL (it would
 *                forge lines of the signature base), or TP_ETOOBIG for a
 *                base longer than TP_HTTPSIG_BASE_MAX
 *   TP_EBADSIG   the signature does not verify
 * Other failures: TP_EINVAL (NULL argument), -ENOMEM, TP_EBUG.
 * Returns 0 and *out on success. */
int tp_httpsig_verify(const struct tp_httpsig_msg *msg,
		      const struct tp_httpsig_policy *policy,
		      tp_httpsig_key_fn key_fn, void *key_ctx,
		      struct tp_httpsig_verified *out) TP_WUR;

#endif
