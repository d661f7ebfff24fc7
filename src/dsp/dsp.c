/* SPDX-License-Identifier: MIT */
/*
 * Library-wide facts of src/dsp.
 */
#include "dsp/dsp.h"

int lg_dsp_version(void)
{
    return 1;
}
