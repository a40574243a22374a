/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "log.h"
#include "save.h"
#include "tmpfile.h"
#include "util.h"

#define TMP_SUFFIX ".tmp"

/* The archive goes to a temporary file beside the output and is renamed
 * over it only when complete and on disk: a failed or interrupted save
 * never leaves a partial FILE.tar that docker load would choke on later. */
static int save_to_file(const SavePlan *p, const char *output, int64_t mtime, uint64_t *ret_bytes, ObError *err)
{
        _cleanup_free_ char *copy1 = xstrdup(output);
        _cleanup_free_ char *copy2 = xstrdup(output);
        const char *dir = dirname(copy1);
        const char *base = basename(copy2);
        _cleanup_free_ char *tmp = xasprintf("%s/.%s.XXXXXX" TMP_SUFFIX, dir, base);
        int r = 0;

        struct stat st;
        if (stat(output, &st) == 0 && S_ISDIR(st.st_mode))
                return ob_error_plain(err, EISDIR, "cannot write '%s': it is a directory", output);

        int fd = mkostemps(tmp, (int) strlen(TMP_SUFFIX), O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return ob_error_plain(err, ENOENT, "cannot write '%s': directory '%s' does not exist", output,
                                              dir);
                return ob_error_set(err, errno, "cannot write '%s'", output);
        }
        int slot = tmpfile_register(tmp);

        mode_t mask = umask(0);
        umask(mask);
        r = save_plan_write(p, mtime, fd, ret_bytes, err);
        if (r < 0)
                ob_error_wrap(err, "cannot write '%s'", output);
        else if (fchmod(fd, 0666 & ~mask) < 0 || fsync(fd) < 0)
                r = ob_error_set(err, errno, "cannot write '%s'", output);
        /* close() reports what fsync() may not, on network file systems. */
        if (close(fd) < 0 && r == 0)
                r = ob_error_set(err, errno, "cannot write '%s'", output);
        if (r == 0 && rename(tmp, output) < 0)
                r = ob_error_set(err, errno, "cannot rename the archive into '%s'", output);
        if (r < 0) {
                unlink(tmp);
                tmpfile_unregister(slot);
                return r;
        }
        tmpfile_unregister(slot);

        /* Make the rename itself durable. */
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

static void describe(const SavePlan *p, const char *output, uint64_t bytes, bool to_stdout)
{
        char size[32];
        for (size_t i = 0; i < p->n_images; i++) {
                const SaveImage *im = &p->images[i];
                _cleanup_free_ char *line = xasprintf("%s", im->name);
                for (size_t k = 0; k < im->n_refs; k++) {
                        char *n = xasprintf("%s %s", line, im->refs[k].familiar);
                        free(line);
                        line = n;
                }
                if (to_stdout)
                        ob_info("%s", line);
                else
                        printf("%s\n", line);
        }
        if (to_stdout)
                ob_info("%zu blobs, %s to standard output", p->n_blobs, format_size(bytes, size));
        else
                printf("%zu blobs, %s in %s\n", p->n_blobs, format_size(bytes, size), output);
}

static char **arg_tags;

static const CommandOption options[] = {
        { "tag", "NAME=REPO:TAG", "tag image NAME as REPO:TAG instead of the defaults (repeatable)" },
        { NULL },
};

static int set_option(const char *name, const char *value, ObError *err)
{
        strv_push(&arg_tags, value);
        return 0;
}

static int run(Context *ctx, ObError *err)
{
        _cleanup_(layout_closep) Layout *l = NULL;
        _cleanup_(save_plan_freep) SavePlan *p = NULL;
        _cleanup_strv_ char **tags = TAKE_PTR(arg_tags);
        uint64_t bytes = 0;
        struct stat st;
        int r;

        if (!ctx->args || !ctx->args[0])
                return ob_error_plain(err, EINVAL, "save needs the names of the images to save (see 'oci-build save --help')");
        if (!ctx->output || !*ctx->output)
                return ob_error_plain(err, EINVAL, "save needs -o FILE.tar, or -o - for standard output");
        bool to_stdout = strcmp(ctx->output, "-") == 0;
        if (to_stdout) {
                /* Checked before any file is opened: a closed stdout would
                 * hand descriptor 1 to the next open(). */
                if (fcntl(STDOUT_FILENO, F_GETFL) < 0)
                        return ob_error_set(err, errno, "cannot write to standard output");
                if (isatty(STDOUT_FILENO))
                        return ob_error_plain(err, EINVAL,
                                              "refusing to write a tar archive to a terminal (redirect standard "
                                              "output, or pipe it into 'docker load')");
        }
        if (stat(ctx->layout, &st) < 0)
                return ob_error_set(err, errno, "cannot read the OCI layout '%s' (name it with --layout)", ctx->layout);

        r = layout_open(ctx->layout, /* flags= */ 0, &l, err);
        if (r < 0)
                return r;
        r = save_plan(l, ctx->args, tags, &p, err);
        if (r < 0)
                return r;
        if (to_stdout) {
                r = save_plan_write(p, ctx->source_date_epoch, STDOUT_FILENO, &bytes, err);
                if (r < 0)
                        return ob_error_wrap(err, "cannot write to standard output");
        } else {
                r = save_to_file(p, ctx->output, ctx->source_date_epoch, &bytes, err);
                if (r < 0)
                        return r;
        }
        if (ob_verbosity >= 0)
                describe(p, ctx->output, bytes, to_stdout);
        return 0;
}

const Command command_save = {
        .name = "save",
        .synopsis = "NAME... -o FILE.tar [--tag NAME=REPO:TAG]...",
        .summary = "write images to a tar for docker load / podman load",
        .help = "Writes the named images of the layout (--layout, default ./oci) to FILE.tar ('-' for\n"
                "standard output): an OCI layout (oci-layout, index.json, blobs/) plus Docker's\n"
                "manifest.json, the form that 'docker load', 'podman load' and skopeo's docker-archive:\n"
                "and oci-archive: transports all read. Images sharing layers share blobs. Each image is\n"
                "tagged distroless-NAME:VERSION and distroless-NAME:latest unless --tag NAME=REPO:TAG\n"
                "gives its tags. The same layout gives the same bytes.\n",
        .options = options,
        .set_option = set_option,
        .run = run,
        .output_is_file = true,
};
