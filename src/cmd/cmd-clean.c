/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cli.h"
#include "log.h"
#include "util.h"

static int run(Context *ctx, ObError *err)
{
        _cleanup_(layout_closep) Layout *l = NULL;
        struct stat st;
        size_t removed = 0, blobs = 0;
        uint64_t bytes = 0;
        char size[32];
        int r;

        if (stat(ctx->layout, &st) < 0 && errno == ENOENT) {
                ob_info("nothing to clean: '%s' does not exist", ctx->layout);
                return 0;
        }
        r = layout_open(ctx->layout, LAYOUT_WRITE, &l, err);
        if (r < 0)
                return r;

        if (ctx->args && ctx->args[0]) {
                for (size_t i = 0; ctx->args[i]; i++)
                        if (!layout_index_find(l, ctx->args[i]))
                                return ob_error_plain(err, ENOENT, "no image named '%s' in '%s'", ctx->args[i],
                                                      ctx->layout);
                for (size_t i = 0; ctx->args[i]; i++) {
                        layout_index_remove(l, ctx->args[i], err);
                        removed++;
                }
        } else {
                _cleanup_strv_ char **names = layout_index_names(l);
                for (size_t i = 0; names[i]; i++) {
                        layout_index_remove(l, names[i], err);
                        removed++;
                }
                /* Entries without a name go too: clean with no NAME empties the layout. */
                json_array_clear(json_object_get(layout_index(l), "manifests"));
        }
        /* The index first: if gc is interrupted, only unreferenced blobs remain. */
        r = layout_commit(l, err);
        if (r < 0)
                return r;
        r = layout_gc(l, &blobs, &bytes, err);
        if (r < 0)
                return r;
        if (ob_verbosity >= 0)
                printf("removed %zu image%s, deleted %zu blob%s (%s)\n", removed, removed == 1 ? "" : "s", blobs,
                       blobs == 1 ? "" : "s", format_size(bytes, size));
        return 0;
}

const Command command_clean = {
        .name = "clean",
        .synopsis = "[NAME...]",
        .summary = "remove images from the layout and delete unused blobs",
        .help = "Removes the named images (all images if none is named) from OUTPUT/index.json, then\n"
                "deletes every blob that no remaining image references, and temporary files left by\n"
                "an interrupted build.\n",
        .run = run,
};
