/* SPDX-License-Identifier: BSD-2-Clause */
#include "core/keys.h"
