/* SPDX-License-Identifier: BSD-2-Clause
 *
 * newqname.h - the new_qname event (SPEC §6, core-spec §3.1, edm-spec §5.2)
 * and the rule that keeps it from becoming a device identifier.
 *
 * The JSON is byte for byte what the reference edge sends, members in its
 * order: {"flags":…,"qclass":…,"qname":"…","qtype":…,"timestamp":"…",
 * "type":"new_qname","version":0}. Two deliberate differences: the qname is
 * case-folded (the reference forwarded 0x20-randomised names such as
 * "SWCDn.APPLe.coM.", which split one name into many and fingerprint the
 * resolver), and device-unique labels are reduced (below).
 *
 * Device-unique labels. Some names are asked by exactly one device: they
 * carry a UUID or a long random identifier in a label (the reference's
 * event stream showed "<uuid>-netseer-ipaddr-assoc.xz.fbcdn.net."). An event
 * with such a name, timestamped to the minute, singles out a client. The
 * rule, applied to each label of the case-folded name:
 *   - a UUID: 8-4-4-4-12 hexadecimal digits separated by '-';
 *   - a run of 16 or more hexadecimal digits [0-9a-f] holding both digits
 *     and letters;
 *   - a run of 12 or more decimal digits using at least 4 different digits
 *     (account or phone numbers);
 *   - a run of 20 or more letters and digits [0-9a-z] with at least 3
 *     separate groups of digits and no stretch of more than 12 letters
 *     (random base32/base36 text; "covid19treatmentguidelines" is not).
 * The thresholds were checked against the reference's well-known list: none
 * of its 99,999 names is touched (a unit test keeps it so).
 * Runs are maximal: they stop at any other octet ('-', '_', ...). Each such
 * run is replaced by a single '*', so the name above becomes
 * "*-netseer-ipaddr-assoc.xz.fbcdn.net.": one event for the pattern, not
 * one per device. The caller may instead suppress such names altogether.
 * The seen-store is keyed on the reduced name too, so it never holds the
 * identifiers either.
 */
#ifndef TP_EVENT_NEWQNAME_H
#define TP_EVENT_NEWQNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "util/err.h"

/* Longest event JSON: the name escaped for JSON ("\\" doubles every
 * backslash of the presentation form: 4 * 255 * 2) plus the fixed members. */
#define TP_NEWQNAME_JSON_MAX (TP_DNS_PRESENT_MAX * 2u + 160u)

struct tp_newqname {
	struct tp_dns_name qname; /* folded (tp_dns_name_fold) by the caller */
	uint16_t qtype, qclass;
	uint16_t flags;           /* DNS header octets 2-3 of the message */
	int64_t time_us;          /* message time, UTC microseconds, >= 0 */
};

/* Write the event JSON into out (NUL-terminated).
 * Returns its length, TP_ENOSPACE (out too small; TP_NEWQNAME_JSON_MAX
 * always suffices), TP_EINVAL (NULL, negative or out-of-range time) or
 * TP_EMALF (qname is not a valid wire name). */
int tp_newqname_json(const struct tp_newqname *ev, char *out, size_t size) TP_WUR;

/* Apply the device-unique rule to a folded name.
 *   out: the reduced name (may be in itself: in == out is allowed).
 *   out_reduced: set to the number of runs replaced (0: out equals in).
 * Returns 0, TP_EMALF (in is not a valid wire name) or TP_EINVAL. */
int tp_newqname_reduce(const struct tp_dns_name *in, struct tp_dns_name *out,
		       unsigned *out_reduced) TP_WUR;

#endif
