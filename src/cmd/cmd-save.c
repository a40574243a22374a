/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "cli.h"

int cmd_save(Context *ctx, ObError *err)
{
        return ob_error_plain(err, ENOSYS, "save is not implemented yet");
}
