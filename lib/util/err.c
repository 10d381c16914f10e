/* SPDX-License-Identifier: BSD-2-Clause
 *
 * err.c - text for tapir's error codes (see err.h).
 */
#include "util/err.h"

#include <string.h>

const char *tp_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define TP_ERR_CASE(name, value, text) \
	case name:                      \
		return text;
		TP_ERRORS(TP_ERR_CASE)
#undef TP_ERR_CASE
	default:
		break;
	}
	if (code < 0 && code > -1000)
		return strerror(-code);
	return "unknown error";
}
