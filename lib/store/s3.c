/* SPDX-License-Identifier: BSD-2-Clause */
#include "store/s3.h"
