/* SPDX-License-Identifier: MIT */
/* Release tools: a tool layer made from upstream release archives (node's
 * and Go's official tarballs) instead of the sysroot's own binaries. The
 * artifacts are downloaded through the verified cache of src/download.c,
 * unpacked by src/archive-unpack.c into a directory of this process,
 * optionally compiled there by the config's build steps, and planned from
 * there; the libraries of the named binaries come from the sysroot, as for
 * any tool. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "app.h"
#include "archive-unpack.h"
#include "closure-plan.h"
#include "download.h"
#include "fs.h"
#include "log.h"
#include "path.h"
#include "sandbox.h"
#include "tmpfile.h"
#include "tool.h"
#include "util.h"

/* One directory per process holds every release unpacked in it; the plans
 * read from it until the layers are written, and it goes when the process
 * ends (or a signal stops it; `oci-build clean` takes it after SIGKILL). */
static char *release_dir;
static int release_slot = -1;

static void release_dir_remove(void)
{
        if (!release_dir)
                return;
        (void) rm_rf_at(AT_FDCWD, release_dir);
        tmpfile_unregister(release_slot);
        free(TAKE_PTR(release_dir));
}

static int release_dir_get(const char **ret, ObError *err)
{
        if (!release_dir) {
                const char *tmp = getenv("TMPDIR");
                char *t = xasprintf("%s/oci-build-data-XXXXXX", tmp && *tmp ? tmp : "/tmp");
                int r = tmpfile_create_dir(t, &release_slot);
                if (r < 0) {
                        free(t);
                        return ob_error_set(err, -r, "cannot create a temporary directory");
                }
                int lock;
                if ((r = sandbox_claim_dir(t, &lock, err)) < 0) {
                        (void) rm_rf_at(AT_FDCWD, t);
                        tmpfile_unregister(release_slot);
                        free(t);
                        return r;
                }
                chmod(t, 0755);
                release_dir = t;
                atexit(release_dir_remove);
        }
        *ret = release_dir;
        return 0;
}

/* What {arch} becomes in an artifact's url: the config's name for the OCI
 * architecture ("amd64: x64"), else the OCI name itself. */
static const char *url_arch(const SpecArtifact *a, const char *arch)
{
        size_t n = strlen(arch);
        for (size_t i = 0; a->arch && a->arch[i]; i++)
                if (strncmp(a->arch[i], arch, n) == 0 && a->arch[i][n] == '=')
                        return a->arch[i] + n + 1;
        return NULL;
}

static int copy_file(const char *src, const char *dst, mode_t mode, ObError *err)
{
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return ob_error_set(err, errno, "cannot open '%s'", src);
        _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (out < 0)
                return ob_error_set(err, errno, "cannot create '%s'", dst);
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return ob_error_set(err, errno, "cannot read '%s'", src);
                if (n == 0)
                        break;
                int r = write_all(out, buf, (size_t) n);
                if (r < 0)
                        return ob_error_set(err, -r, "cannot write '%s'", dst);
        }
        if (fchmod(out, mode) < 0 || close(TAKE_FD(out)) < 0)
                return ob_error_set(err, errno, "cannot write '%s'", dst);
        return 0;
}

static bool file_is_elf(const char *path)
{
        unsigned char magic[4];
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        return fd >= 0 && read(fd, magic, 4) == 4 && memcmp(magic, "\177ELF", 4) == 0;
}

/* Puts one artifact at its path below stage: an archive unpacked, another
 * file copied. *ret_missing is set instead when it is not fetched yet and
 * fetch is off. */
static int stage_artifact(const Spec *tool, const SpecArtifact *a, const char *stage, const char *arch, bool fetch,
                          bool *ret_missing, ObError *err)
{
        _cleanup_free_ char *file = NULL, *url = NULL;
        const char *name = a->source;
        int r;
        if (a->source) {
                struct stat st;
                if (stat(a->source, &st) < 0)
                        return ob_error_set(err, errno, "%s:%zu: artifacts: '%s'", tool->file, a->line, a->source);
                if (!S_ISREG(st.st_mode))
                        return ob_error_plain(err, EINVAL,
                                              "%s:%zu: artifacts: 'source' of a tool must be a file, '%s' is not",
                                              tool->file, a->line, a->source);
                file = xstrdup(a->source);
        } else {
                _cleanup_free_ char *lock = download_lock_path(tool->file);
                DownloadRequest req = {
                        .url = a->url,
                        .version = tool->version,
                        .arch = arch,
                        .url_arch = url_arch(a, arch),
                        .sha256 = a->sha256,
                        .lock = lock,
                        .owner = tool->name,
                        .file = tool->file,
                        .line = a->line,
                        .key = "artifacts",
                };
                r = download_fetch(&req, fetch ? 0 : DOWNLOAD_CACHED_ONLY, &file, err);
                if (r == -ENOENT && !fetch) {
                        *ret_missing = true;
                        return 0;
                }
                if (r < 0)
                        return r;
                _cleanup_free_ char *u = str_replace_all(a->url, "{arch}", req.url_arch ? req.url_arch : arch);
                url = str_replace_all(u, "{version}", tool->version);
                name = url;
        }

        _cleanup_free_ char *dst = path_join(stage, a->path);
        _cleanup_free_ char *parent = xstrdup(dst);
        *strrchr(parent, '/') = '\0';
        if ((r = mkdir_p(parent, 0755, err)) < 0)
                return r;
        /* An empty directory (the top of the sources, for path '/') is
         * free; anything else is another artifact's. */
        if (rmdir(dst) < 0 && errno != ENOENT && access(dst, F_OK) == 0)
                return ob_error_plain(err, EEXIST, "%s:%zu: artifacts: path '%s' is already taken by another artifact",
                                      tool->file, a->line, a->path);
        if (archive_unpack_is_archive(name)) {
                ArchiveUnpackOptions o = { .strip_components = (unsigned) a->strip_components,
                                           .include = a->include,
                                           .exclude = a->exclude,
                                           .max_bytes = a->max_unpacked,
                                           .name = name };
                ob_info("%s: unpacking %s", tool->name, name);
                r = archive_unpack(file, dst, &o, err);
                if (r < 0)
                        return ob_error_wrap(err, "%s:%zu: artifacts", tool->file, a->line);
                return 0;
        }
        if (a->strip_components || a->include || a->exclude)
                return ob_error_plain(err, EINVAL,
                                      "%s:%zu: artifacts: '%s' is not a .tar.gz, .tar.xz or .zip archive by its name, "
                                      "so 'strip_components', 'include' and 'exclude' do not apply",
                                      tool->file, a->line, name);
        mode_t mode = a->has_mode ? a->mode : file_is_elf(file) ? 0755 : 0644;
        return copy_file(file, dst, mode, err);
}

/* The build steps, run in the unpacked sources with {srcdir} and {destdir}
 * replaced in their arguments; run as an app's are (app_run_build()). */
static int run_build(const Spec *tool, const char *src, const char *dest, ObError *err)
{
        _cleanup_free_ SpecBuildStep *steps = xcalloc(tool->n_build, sizeof(SpecBuildStep));
        int r = 0;
        for (size_t i = 0; i < tool->n_build; i++) {
                for (size_t k = 0; tool->build[i].command[k]; k++) {
                        _cleanup_free_ char *a = str_replace_all(tool->build[i].command[k], "{destdir}", dest);
                        _cleanup_free_ char *b = str_replace_all(a, "{srcdir}", src);
                        strv_push(&steps[i].command, b);
                }
                steps[i].workdir = tool->build[i].workdir ? path_join(src, tool->build[i].workdir) : xstrdup(src);
                steps[i].env = tool->build[i].env;
        }
        Spec shim = { .tier = SPEC_TIER_TOOL,
                      .file = tool->file,
                      .name = tool->name,
                      .build = steps,
                      .n_build = tool->n_build };
        r = app_run_build(&shim, err);
        for (size_t i = 0; i < tool->n_build; i++) {
                strv_free(steps[i].command);
                free(steps[i].workdir);
        }
        return r;
}

/* Where a binary of a release tool comes from, for a message. */
static const char *artifact_names(const Spec *tool)
{
        if (!tool->n_artifacts)
                return "no artifacts";
        const SpecArtifact *a = &tool->artifacts[0];
        return a->url ? a->url : a->source;
}

int tool_release_plan(const Spec *tool, Sysroot *root, const Plan *base, const char *arch, bool fetch, Plan *p,
                      ObError *err)
{
        /* Unpacked or compiled into a private directory: not journaled. */
        journal_set_broken("%s is a release tool", tool->name);
        const char *top = NULL;
        int r = release_dir_get(&top, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = path_join(top, tool->name);
        _cleanup_free_ char *stage = path_join(dir, tool->n_build ? "src" : "root");
        _cleanup_free_ char *dest = path_join(dir, "dest");
        /* A tool planned twice in one process (tests) starts afresh. */
        (void) rm_rf_at(AT_FDCWD, dir);
        if ((r = mkdir_p(stage, 0755, err)) < 0)
                return r;
        bool missing = false;
        for (size_t i = 0; i < tool->n_artifacts && !missing; i++)
                if ((r = stage_artifact(tool, &tool->artifacts[i], stage, arch, fetch, &missing, err)) < 0)
                        return r;
        if (missing || (tool->n_build && !fetch)) {
                /* `show --files` without the download, or without running the
                 * build: the entries are not known yet. */
                for (size_t i = 0; i < tool->n_artifacts; i++) {
                        const SpecArtifact *a = &tool->artifacts[i];
                        if (strcmp(a->path, "/") == 0)
                                continue;
                        _cleanup_free_ char *why = xasprintf("artifact (%s:%zu); not %s yet", tool->file, a->line,
                                                             missing ? "downloaded" : "built");
                        Entry e = { .path = a->path, .type = ENTRY_DIR, .mode = 0755, .why = why };
                        if ((r = plan_add(p, &e, err)) < 0)
                                return r;
                }
                for (size_t i = 0; tool->binaries[i]; i++) {
                        _cleanup_free_ char *why =
                                xasprintf("binary named in config; not %s yet", missing ? "downloaded" : "built");
                        Entry e = { .path = tool->binaries[i],
                                    .type = ENTRY_FILE,
                                    .mode = 0755,
                                    .data = (char *) "",
                                    .why = why };
                        if ((r = plan_add(p, &e, err)) < 0)
                                return r;
                }
                return 0;
        }
        if (tool->n_build) {
                if ((r = mkdir_p(dest, 0755, err)) < 0)
                        return r;
                if ((r = run_build(tool, stage, dest, err)) < 0)
                        return r;
        }

        _cleanup_(sysroot_freep) Sysroot *release = NULL;
        const char *from = tool->n_build ? dest : stage;
        if ((r = sysroot_open(from, &release, err)) < 0)
                return r;
        if (tool->n_build) {
                _cleanup_free_ char *why = xasprintf("built by the build steps (%s)", tool->file);
                PlanCopyOptions o = { .dst = "/",
                                      .src = "/",
                                      .normalize_modes = true,
                                      .allow_private = true,
                                      .why = why };
                if ((r = plan_add_host(p, release, &o, err)) < 0)
                        return ob_error_wrap(err, "%s: build", tool->file);
        } else
                for (size_t i = 0; i < tool->n_artifacts; i++) {
                        const SpecArtifact *a = &tool->artifacts[i];
                        _cleanup_free_ char *why = xasprintf("artifact (%s:%zu)", tool->file, a->line);
                        PlanCopyOptions o = { .dst = a->path,
                                              .src = a->path,
                                              .uid = a->uid,
                                              .gid = a->gid,
                                              .normalize_modes = true,
                                              .allow_private = true,
                                              .why = why };
                        if ((r = plan_add_host(p, release, &o, err)) < 0)
                                return ob_error_wrap(err, "%s:%zu: artifacts", tool->file, a->line);
                }

        /* The binaries are the release's: their libraries come from the
         * sysroot, as ld.so would find them in the image. */
        _cleanup_(elf_closure_freep) ElfClosure *c = NULL;
        if ((r = elf_closure_new(root, &c, err)) < 0)
                return r;
        for (size_t i = 0; tool->binaries[i]; i++) {
                const char *bin = tool->binaries[i];
                const Entry *e = plan_find(p, bin);
                if (!e || e->type != ENTRY_FILE || !e->source)
                        return ob_error_plain(err, ENOENT, "%s: binaries: '%s' is not a file of the %s (%s)",
                                              tool->file, bin, tool->n_build ? "build's output" : "release",
                                              e ? "a symlink or directory there: name the file itself"
                                                : artifact_names(tool));
                if (!file_is_elf(e->source))
                        return ob_error_plain(err, EINVAL, "%s: binaries: '%s' is not an ELF program", tool->file, bin);
                _cleanup_free_ char *host = xstrdup(e->source);
                r = closure_plan_add_foreign(p, &base, base ? 1 : 0, c, root, bin, host, err);
                if (r < 0)
                        return ob_error_wrap(err, "%s: binaries", tool->file);
        }
        return 0;
}

/* "24" matches "24.22.3" and "24.22.3-1_deb12u1", not "240.1" or "24.2" of
 * "24.22.3": whole components from the start. */
bool tool_version_matches(const char *version, const char *wanted)
{
        size_t n = strlen(wanted);
        if (!*wanted)
                return true;
        if (strncmp(version, wanted, n) != 0)
                return false;
        return version[n] == '\0' || version[n] == '.' || version[n] == '-' || version[n] == '_' || version[n] == '+' ||
               version[n] == '~';
}
