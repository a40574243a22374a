/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

static uint64_t tree_bytes;

static int add_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        if (type == FTW_F)
                tree_bytes += (uint64_t) st->st_size;
        return 0;
}

/* The run directories of 'oci-build test' and the data directories of a
 * tool build whose process died without removing them (SIGKILL, a crash):
 * each is claimed by a lock its owner holds (see sandbox_claim_dir()).
 * Directories of other users are passed over. */
static int collect_abandoned(ObError *err)
{
        const char *tmp = getenv("TMPDIR");
        const char *tmpdir = tmp && *tmp ? tmp : "/tmp";
        size_t n = 0;
        char size[32];

        _cleanup_dir_ DIR *d = opendir(tmpdir);
        if (!d)
                return errno == ENOENT ? 0 : ob_error_set(err, errno, "cannot read '%s'", tmpdir);
        tree_bytes = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (!str_startswith(de->d_name, "oci-build-run.") && !str_startswith(de->d_name, "oci-build-data-"))
                        continue;
                _cleanup_free_ char *dir = xasprintf("%s/%s", tmpdir, de->d_name);
                if (sandbox_dir_abandoned(dir) <= 0)
                        continue;
                uint64_t before = tree_bytes;
                (void) nftw(dir, add_size, 16, FTW_PHYS | FTW_MOUNT);
                int r = sandbox_remove_tree(dir, err);
                if (r < 0)
                        return r;
                ob_debug("removed '%s', left by a process that is gone (%s)", dir,
                         format_size(tree_bytes - before, size));
                n++;
        }
        if (n && ob_verbosity >= 0)
                printf("removed %zu director%s left in %s by killed runs (%s)\n", n, n == 1 ? "y" : "ies", tmpdir,
                       format_size(tree_bytes, size));
        return 0;
}

static bool arg_all;

static int run(Context *ctx, ObError *err)
{
        _cleanup_(layout_closep) Layout *l = NULL;
        struct stat st;
        size_t removed = 0, blobs = 0;
        uint64_t bytes = 0;
        char size[32];
        int r;

        r = collect_abandoned(err);
        if (r < 0)
                return r;
        if (stat(ctx->layout, &st) < 0 && errno == ENOENT) {
                ob_info("nothing to clean: '%s' does not exist", ctx->layout);
                return 0;
        }
        r = layout_open(ctx->layout, LAYOUT_WRITE, &l, err);
        if (r < 0)
                return r;

        if (arg_all && ctx->args && ctx->args[0])
                return ob_error_usage(err, "give image names or --all, not both");
        if (ctx->args && ctx->args[0]) {
                for (size_t i = 0; ctx->args[i]; i++)
                        if (!layout_index_find(l, ctx->args[i]))
                                return ob_error_plain(err, ENOENT, "no image named '%s' in '%s'", ctx->args[i],
                                                      ctx->layout);
                for (size_t i = 0; ctx->args[i]; i++) {
                        layout_index_remove(l, ctx->args[i], err);
                        removed++;
                }
        } else if (arg_all) {
                _cleanup_strv_ char **names = layout_index_names(l);
                for (size_t i = 0; names[i]; i++) {
                        layout_index_remove(l, names[i], err);
                        removed++;
                }
                /* Entries without a name go too: --all empties the layout. */
                json_array_clear(json_object_get(layout_index(l), "manifests"));
        }
        /* Nothing changes unless gc can read everything the remaining
         * images reference; then the index first: if gc is interrupted,
         * only unreferenced blobs remain. */
        r = layout_gc_check(l, err);
        if (r < 0)
                return r;
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

static const CommandOption options[] = {
        { "all", NULL, "remove every image of the layout (base included)" },
        {},
};

static int set_option(const char *name, const char *value, ObError *err)
{
        arg_all = true;
        return 0;
}

const Command command_clean = {
        .name = "clean",
        .synopsis = "[NAME... | --all]",
        .summary = "delete unused blobs; remove the named images, or all with --all",
        .help = "Deletes every blob that no image of the layout references, and temporary files left by\n"
                "an interrupted build. With NAME..., first removes those images from index.json; with\n"
                "--all, every image (base included). Without either, no image is removed. Also removes the directories "
                "in $TMPDIR (or /tmp) that a killed\n"
                "'oci-build test' or tool build left behind, and says how much that was.\n",
        .options = options,
        .set_option = set_option,
        .run = run,
};
