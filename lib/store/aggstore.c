/* SPDX-License-Identifier: BSD-2-Clause */
#include "store/aggstore.h"
