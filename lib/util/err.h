/* SPDX-License-Identifier: BSD-2-Clause
 *
 * err.h - tapir's one error space.
 *
 * Every fallible library function returns int: 0 on success, -errno for a
 * system error, or one of the TP_E* domain codes (all <= -1000) below.
 * tp_strerror() turns any of them into text. Codes never carry data from the
 * input (no names, no addresses), so they are safe to log.
 */
#ifndef TP_UTIL_ERR_H
#define TP_UTIL_ERR_H

#define TP_WUR __attribute__((warn_unused_result))

/* X(name, value, text) */
#define TP_ERRORS(X)                                                     \
	X(TP_EMALF, -1000, "malformed input")                                \
	X(TP_ETRUNC, -1001, "input truncated")                               \
	X(TP_ETOOBIG, -1002, "input exceeds a configured limit")             \
	X(TP_ELOOP, -1003, "compression pointer loop or bad pointer")        \
	X(TP_ELABEL, -1004, "bad label length or type")                      \
	X(TP_ENAMELEN, -1005, "name longer than 255 octets")                 \
	X(TP_EPROTO, -1006, "frame streams protocol violation")              \
	X(TP_ECONTENT, -1007, "content type is not protobuf:dnstap.Dnstap")  \
	X(TP_EMISSING, -1008, "required field missing")                      \
	X(TP_ENOSPACE, -1009, "output buffer too small")                     \
	X(TP_ETLS, -1010, "TLS record where Frame Streams was expected")     \
	X(TP_EEOF, -1011, "end of stream")                                   \
	X(TP_EBUG, -1012, "internal error (bug)")                            \
	X(TP_EINVAL, -1013, "invalid argument")                              \
	X(TP_EINTR, -1014, "interrupted by a signal")                        \
	X(TP_ECONN, -1015, "connection to the broker failed or was lost")   \
	X(TP_EREFUSED, -1016, "the broker refused the connection or a message") \
	X(TP_ETIMEDOUT, -1017, "the peer did not answer or confirm in time") \
	X(TP_EDIGEST, -1018, "content digest does not match the body")      \
	X(TP_EMULTI, -1019, "more than one signature")                       \
	X(TP_EPARAM, -1020, "signature parameter refused (unknown, stale or future)") \
	X(TP_EALG, -1021, "signature algorithm missing, unknown or not the key's") \
	X(TP_ECOVER, -1022, "a required component is not covered by the signature") \
	X(TP_ENOKEY, -1023, "unknown key")                                   \
	X(TP_EBADSIG, -1024, "signature does not verify")                    \
	X(TP_EEXIST, -1025, "already stored")

enum tp_err {
#define TP_ERR_ENUM(name, value, text) name = value,
	TP_ERRORS(TP_ERR_ENUM)
#undef TP_ERR_ENUM
};

/* Text for 0, -errno or a TP_E* code; never NULL, never allocated. */
const char *tp_strerror(int code);

#endif
