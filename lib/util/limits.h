/* SPDX-License-Identifier: BSD-2-Clause
 *
 * limits.h - every ceiling tapir applies to outside input, in one place.
 *
 * A parser never trusts a length it read; it checks it against one of these.
 */
#ifndef TP_UTIL_LIMITS_H
#define TP_UTIL_LIMITS_H

/* Frame Streams: default and hard bounds for a data frame. TCP DNS messages
 * reach 64 KiB and dnstap metadata adds more, so the default is well above
 * (peers.md §3 item 6). */
#define TP_FRAME_DEFAULT_MAX (1024u * 1024u)
#define TP_FRAME_MIN_MAX (64u * 1024u + 1024u)
#define TP_FRAME_HARD_MAX (64u * 1024u * 1024u)

/* Frame Streams control frames are small by definition (fstrm uses 512). */
#define TP_CONTROL_FRAME_MAX 512u
/* Content types listed in one READY frame. */
#define TP_CONTROL_MAX_CONTENT_TYPES 16u

/* Frame Streams handshake must complete within this many milliseconds. */
#define TP_HANDSHAKE_TIMEOUT_MS 5000
/* At shutdown, reading what producers already sent stops after this. */
#define TP_SHUTDOWN_DRAIN_MS 3000
/* Concurrent producer connections on one listener. */
#define TP_MAX_CONNECTIONS 256u

/* DNS (RFC 1035 §2.3.4, §4.1.4). */
#define TP_DNS_NAME_MAX 255u
#define TP_DNS_LABEL_MAX 63u
#define TP_DNS_HEADER_SIZE 12u
/* Pointer hops while decoding one name; a legal name of 127 labels can need
 * at most one hop per label. */
#define TP_DNS_MAX_POINTER_HOPS 128u
/* Presentation form: every octet may become \DDD (4 chars). */
#define TP_DNS_PRESENT_MAX (TP_DNS_NAME_MAX * 4u + 2u)
/* Labels kept in separate columns (SPEC §4). */
#define TP_DNS_LABEL_COLUMNS 10u

/* Well-known list: entries (the arena must also stay under 4 GiB). */
#define TP_WKD_MAX_ENTRIES (200u * 1000u * 1000u)

/* Protobuf: nesting we follow (Dnstap -> Message) and varint length. */
#define TP_PB_VARINT_MAX_BYTES 10u

#endif
