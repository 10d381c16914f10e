/* SPDX-License-Identifier: BSD-2-Clause
 *
 * schema.h - what the event bridge checks in bytes it has not verified yet
 * and in payloads it is about to forward (core-spec §2.3, §3.1).
 *
 * tp_schema_jws_kid() reads the kid out of a flattened JWS's protected
 * header before anything is verified: the bridge needs it to pick the key.
 * It trusts nothing it reads (tp_jws_verify() parses the same header again
 * and compares the kid), so it only has to be bounded and strict.
 *
 * tp_schema_new_qname() validates a verified payload against the new_qname
 * schema (https://schema.dnstapir.se/v1/new_qname). It is STRICTER than the
 * published JSON Schema, which allows additional members: the analysts
 * decode new_qname with unknown members forbidden (core-spec §3.1 NOTE), so
 * a payload with any member outside the ten below would be forwarded only
 * to be rejected downstream. We refuse it here, where it is counted.
 *   required: type == "new_qname", version (integer >= 0), qname (string)
 *   optional: message_id (RFC 4122 uuid text), timestamp (RFC 3339
 *             date-time), qtype, qclass, rdlength (integers 0..65535),
 *             flags (integer), initiator ("client" | "resolver")
 * "Integer" means a JSON number written without fraction or exponent
 * (1.0 is refused: the analysts decode into integer types). Duplicate
 * members and trailing bytes are refused.
 */
#ifndef TP_CORE_SCHEMA_H
#define TP_CORE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "sign/jwk.h"
#include "sign/jws.h"
#include "util/err.h"

#define TP_SCHEMA_NEW_QNAME_ID "https://schema.dnstapir.se/v1/new_qname"
/* A protected header is ~40 bytes; one with a 255-byte kid fully escaped
 * (\uXXXX) is under 2 KiB of JSON. Longer base64url text is not ours. */
#define TP_SCHEMA_PROTECTED_MAX 4096u

/* The kid of the flattened JWS jws[0..len) (untrusted), unverified.
 *   kid: TP_JWK_KID_MAX + 1 bytes; NUL-terminated on success.
 * Returns 0; TP_EINVAL (NULL argument); TP_ETOOBIG (len > TP_JWS_MAX or a
 * protected member longer than TP_SCHEMA_PROTECTED_MAX); TP_EMALF (not a
 * JSON object, duplicate members, protected not a string or not base64url,
 * header not a JSON object, kid not a 1..255-byte string without NUL);
 * TP_EMISSING (no protected member, or no kid); -ENOMEM. */
int tp_schema_jws_kid(const char *jws, size_t len,
		      char kid[TP_JWK_KID_MAX + 1u]) TP_WUR;

/* Validate json[0..len) (untrusted) as a new_qname event (above).
 *   why: when not NULL, set on failure to a static English phrase naming
 *        the rule that failed (never input bytes: safe to log).
 * Returns 0; TP_EINVAL (NULL json); TP_ETOOBIG (len > TP_JWS_MAX);
 * TP_EMALF (not JSON, not an object, a member of the wrong type or value,
 * an unknown member); TP_EMISSING (type, version or qname absent). */
int tp_schema_new_qname(const uint8_t *json, size_t len, const char **why) TP_WUR;

#endif
