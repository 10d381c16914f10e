/* SPDX-License-Identifier: BSD-2-Clause */
#include "sign/httpsig.h"
