/* SPDX-License-Identifier: BSD-2-Clause
 *
 * dns_impl.h - internals shared by the files of lib/dns, not part of the
 * public API (dns.h, scrub.h).
 *
 * The parser (wire.c) and the EDNS scrubber (scrub.c) must agree on which
 * record types carry domain names in their RDATA: a name the parser checks
 * is a name whose compression pointers the scrubber relocates. One table
 * serves both.
 */
#ifndef TP_DNS_DNS_IMPL_H
#define TP_DNS_DNS_IMPL_H

#include <stdbool.h>
#include <stdint.h>

/* RDATA layouts that embed domain names: fixed octets, names, then either
 * exactly `suffix` octets or (rest) at least `suffix` octets. */
struct tp_dns_rdata_shape {
	uint8_t prefix;
	uint8_t names;
	uint8_t suffix;
	bool rest;
};

/* The layout of type's RDATA. Returns false for types whose RDATA is
 * opaque (RFC 3597 §4); *s is then all zero. */
bool tp_dns_rdata_shape(uint16_t type, struct tp_dns_rdata_shape *s);

#endif
