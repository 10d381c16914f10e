/* SPDX-License-Identifier: BSD-2-Clause
 *
 * schema.h - what the event bridge checks in payloads it is about to
 * forward (core-spec §2.3, §3.1). (The unverified kid it needs first to
 * pick a key comes from tp_jws_peek_kid(), sign/jws.h.)
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
/* Validate json[0..len) (untrusted) as a new_qname event (above).
 *   why: when not NULL, set on failure to a static English phrase naming
 *        the rule that failed (never input bytes: safe to log).
 * Returns 0; TP_EINVAL (NULL json); TP_ETOOBIG (len > TP_JWS_MAX);
 * TP_EMALF (not JSON, not an object, a member of the wrong type or value,
 * an unknown member); TP_EMISSING (type, version or qname absent). */
int tp_schema_new_qname(const uint8_t *json, size_t len, const char **why) TP_WUR;

#endif
