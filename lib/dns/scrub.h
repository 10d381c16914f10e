/* SPDX-License-Identifier: BSD-2-Clause
 *
 * scrub.h - a copy of a DNS message without the EDNS options that can
 * identify a client, for the edge's local session log (SPEC §6).
 *
 * Every record is kept byte for byte except the OPT pseudo-RR (RFC 6891),
 * whose options are filtered against an allowlist of options that describe
 * the server or the transport, never the client:
 *   NSID (3, RFC 5001)              names the answering server;
 *   EXPIRE (9, RFC 7314)            a zone's expire timer;
 *   edns-tcp-keepalive (11, 7828)   the server's idle timeout;
 *   Extended DNS Error (15, 8914)   why the server answered as it did.
 * Everything else goes: Client Subnet (8, RFC 7871) is the client's network,
 * COOKIE (10, RFC 7873) carries a per-client cookie, and padding, key tags,
 * client/device tags, vendor options and unknown codes are dropped because
 * nobody can vouch for what they carry. An allowlist, not a blocklist: a
 * new option is removed until someone shows it is harmless.
 *
 * Removing octets from the OPT RDATA moves every record after it, so
 * compression pointers (in owner names and in the RDATA names the parser
 * knows) that point past the OPT record are relocated; every moved name is
 * then decoded from both copies and compared. A pointer that cannot be
 * relocated (one into the OPT RDATA, or a chain through bytes that are not
 * a name) refuses the message rather than store a different one. Octets
 * after the last record are not copied.
 */
#ifndef TP_DNS_SCRUB_H
#define TP_DNS_SCRUB_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* EDNS option codes (IANA "DNS EDNS0 Option Codes"). */
#define TP_EDNS_NSID 3u
#define TP_EDNS_ECS 8u
#define TP_EDNS_EXPIRE 9u
#define TP_EDNS_COOKIE 10u
#define TP_EDNS_TCP_KEEPALIVE 11u
#define TP_EDNS_EDE 15u

/* Options removed from one message, by kind (for the summary). */
struct tp_dns_scrub_removed {
	uint32_t ecs;
	uint32_t cookie;
	uint32_t other;
};

/* Copy wire[0..len) to out without client-identifying EDNS options.
 *   wire, len: borrowed for the call; untrusted.
 *   out: out_size octets; out_size >= len always suffices (the copy is
 *        never longer than the input). May not overlap wire.
 *   out_len: receives the length of the copy.
 *   removed: receives the counts of this message's removed options (zero on
 *            failure).
 * Returns 0, or
 *   any code of tp_dns_parse() (the message does not parse);
 *   TP_EMALF    a compression pointer that cannot be relocated;
 *   TP_ENOSPACE out_size is too small;
 *   TP_EINVAL   a NULL argument (wire may be NULL only with len 0).
 * On failure nothing useful is in out: the caller stores no message. */
int tp_dns_scrub(const uint8_t *wire, size_t len, uint8_t *out,
		 size_t out_size, size_t *out_len,
		 struct tp_dns_scrub_removed *removed) TP_WUR;

#endif
