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
/* All producer connections' read buffers together (default). */
#define TP_INPUT_BUFFER_DEFAULT (256u * 1024u * 1024u)
/* A full listener closes the connection idle longest, if idle this long,
 * to admit a new producer. */
#define TP_EVICT_IDLE_MS 10000
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

/* A config file. */
#define TP_CONFIG_MAX (1024u * 1024u)

/* Well-known list: entries (the arena must also stay under 4 GiB). */
#define TP_WKD_MAX_ENTRIES (200u * 1000u * 1000u)

/* DAWG list files (lib/wkd/dawg.c, edm-spec §2.3): code points in one
 * word (a 255-octet name as text, plus a leading dot and slack), and words
 * in one file (as many as a well-known list may hold). */
#define TP_DAWG_WORD_MAX 257u
#define TP_DAWG_MAX_WORDS TP_WKD_MAX_ENTRIES

/* Client CIDR lists (lib/wkd/cidr.c, edm-spec §2.4): the file, the prefixes
 * in it, and one non-comment line (the longest prefix in text,
 * "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", has 49 characters). */
#define TP_CIDR_FILE_MAX (256u * 1024u * 1024u)
#define TP_CIDR_MAX_PREFIXES (4u * 1024u * 1024u)
#define TP_CIDR_LINE_MAX 64u

/* Protobuf: nesting we follow (Dnstap -> Message) and varint length. */
#define TP_PB_VARINT_MAX_BYTES 10u

/* Parquet (lib/parquet). The reader applies these to files it did not write;
 * the writer stays inside them, so that everything tapir writes reads back.
 * Leaf columns in a flat schema (the histogram has 26, sessions 24). */
#define TP_PQ_COLUMNS_MAX 256u
/* Octets in one column name or key/value metadata key, and in one
 * key/value metadata value (the footer must stay under TP_PQ_FOOTER_MAX). */
#define TP_PQ_NAME_MAX 256u
#define TP_PQ_KV_VALUE_MAX 4096u
/* Rows per row group: the writer's default and the hard ceiling of its
 * option. A histogram minute has one row per well-known entry hit. */
#define TP_PQ_ROW_GROUP_ROWS_DEFAULT (128u * 1024u)
#define TP_PQ_ROW_GROUP_ROWS_MAX (1024u * 1024u)
/* The writer also closes a row group once its buffered values reach this,
 * so memory stays bounded whatever the row width. */
#define TP_PQ_ROW_GROUP_BYTES_MAX (64u * 1024u * 1024u)
/* One BYTE_ARRAY value (a label is <= 252 octets, a DNS message 64 KiB). */
#define TP_PQ_VALUE_MAX (8u * 1024u * 1024u)
/* A page, compressed or decompressed. The writer cuts pages near 1 MiB, and
 * a page holding a single largest value still fits. Bounds every allocation
 * the reader makes from a page header (no decompression bombs). */
#define TP_PQ_PAGE_MAX (32u * 1024u * 1024u)
/* The serialized FileMetaData (footer) and the whole file read into memory
 * by tp_pq_reader_open(). */
#define TP_PQ_FOOTER_MAX (16u * 1024u * 1024u)
#define TP_PQ_FILE_MAX (1024u * 1024u * 1024u)
/* Memory the reader holds for decoded pages and dictionaries at once. */
#define TP_PQ_READER_MEM_MAX (512u * 1024u * 1024u)
/* Thrift compact protocol: struct/list nesting followed (FileMetaData needs
 * 6), row groups and key/value pairs in one footer. */
#define TP_PQ_THRIFT_DEPTH_MAX 16u
#define TP_PQ_ROW_GROUPS_MAX (64u * 1024u)
#define TP_PQ_KV_MAX 1024u

/* Session log (edge/session.c). A DNS message is at most 65535 octets
 * (RFC 1035 §4.2.2 length field); a longer one is not scrubbed or stored. */
#define TP_DNS_MESSAGE_MAX 65535u
/* Rows in one session block before it is closed early (a block then ends at
 * the next second, so names stay unique). */
#define TP_SESSION_BLOCK_ROWS_MAX (1024u * 1024u)
/* Rows per Parquet row group in a session block (each row may hold a DNS
 * message, so fewer than the writer's default). */
#define TP_SESSION_ROW_GROUP_ROWS 16384u
/* dnstap identity stored as server_id; longer ones are stored as NULL. */
#define TP_SESSION_SERVER_ID_MAX 1024u
/* Longest block period, and how often free disk space is re-checked while
 * a block is open. */
#define TP_SESSION_BLOCK_MAX_S 60u
#define TP_SESSION_DISK_CHECK_S 5u
/* Crypto-PAn cache entries per worker by default (about 34 octets each: a
 * little over 2 MiB; the reference's 10^7 would be 340 MB). */
#define TP_SESSION_CRYPTOPAN_ENTRIES_DEFAULT 65536u

#endif
