/* SPDX-License-Identifier: BSD-2-Clause */
#include "util/err.h"
