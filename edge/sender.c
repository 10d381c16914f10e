/* SPDX-License-Identifier: BSD-2-Clause */
#include "edge/sender.h"
