/* SPDX-License-Identifier: MIT */
#include "debroot.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "path.h"
#include "process.h"
#include "util.h"

const char *const debroot_base_packages[] = {
        "base-files", "libc6", "libc-bin", "ca-certificates", "tzdata", NULL,
};

static void archive_read_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

/* The host's Debian release ("bookworm"), for the suite. */
static char *host_suite(void)
{
        _cleanup_free_ char *text = NULL;
        ObError ignore;
        if (read_file("/etc/os-release", &text, NULL, &ignore) == 0) {
                const char *p = strstr(text, "VERSION_CODENAME=");
                if (p) {
                        p += strlen("VERSION_CODENAME=");
                        size_t n = strcspn(p, "\n\"");
                        if (n > 0)
                                return xstrndup(p, n);
                }
        }
        return xstrdup("bookworm");
}

/* The paths of a data tarball, as dpkg lists them: "/." first, then
 * "/usr", "/usr/bin/curl"... without a trailing slash. */
static int tar_paths(struct archive *a, const char *what, char **ret, ObError *err)
{
        size_t cap = 4096, n = 0;
        _cleanup_free_ char *out = xmalloc(cap);
        out[0] = '\0';
        struct archive_entry *e;
        int r;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                const char *name = archive_entry_pathname(e);
                if (strcmp(name, "./") == 0 || strcmp(name, ".") == 0)
                        name = "/.";
                else if (str_startswith(name, "./"))
                        name += 1;
                size_t len = strlen(name);
                while (len > 2 && name[len - 1] == '/')
                        len--;
                if (n + len + 2 > cap) {
                        cap = (n + len + 2) * 2;
                        out = xrealloc(out, cap);
                }
                memcpy(out + n, name, len);
                n += len;
                out[n++] = '\n';
                out[n] = '\0';
        }
        if (r != ARCHIVE_EOF)
                return ob_error_plain(err, EIO, "cannot read '%s': %s", what, archive_error_string(a));
        *ret = TAKE_PTR(out);
        return 0;
}

/* A member of the .deb read as a tar archive of its own, straight from the
 * outer one: no temporary file, no program. */
static ssize_t member_read(struct archive *inner, void *userdata, const void **buf)
{
        static char block[64 * 1024];
        struct archive *outer = userdata;
        la_ssize_t n = archive_read_data(outer, block, sizeof(block));
        *buf = block;
        if (n < 0)
                archive_set_error(inner, EIO, "%s", archive_error_string(outer));
        return n;
}

static struct archive *member_open(struct archive *outer)
{
        struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        archive_read_support_filter_all(a);
        if (archive_read_open(a, outer, NULL, member_read, NULL) != ARCHIVE_OK) {
                archive_read_free(a);
                return NULL;
        }
        return a;
}

/* The control file and the file list of a .deb. */
static int read_deb(const char *deb, char **ret_control, char **ret_paths, ObError *err)
{
        _cleanup_(archive_read_freep) struct archive *outer = archive_read_new();
        archive_read_support_format_ar(outer);
        if (archive_read_open_filename(outer, deb, 64 * 1024) != ARCHIVE_OK)
                return ob_error_plain(err, EIO, "cannot read '%s': %s", deb, archive_error_string(outer));
        _cleanup_free_ char *control = NULL, *paths = NULL;
        struct archive_entry *e;
        int r;
        while ((r = archive_read_next_header(outer, &e)) == ARCHIVE_OK) {
                const char *name = archive_entry_pathname(e);
                bool is_control = str_startswith(name, "control.tar"), is_data = str_startswith(name, "data.tar");
                if (!is_control && !is_data)
                        continue;
                _cleanup_(archive_read_freep) struct archive *inner = member_open(outer);
                if (!inner)
                        return ob_error_plain(err, EIO, "'%s': cannot read its %s", deb, name);
                if (is_data) {
                        _cleanup_free_ char *what = xasprintf("%s: %s", deb, name);
                        int k = tar_paths(inner, what, &paths, err);
                        if (k < 0)
                                return k;
                        continue;
                }
                struct archive_entry *ie;
                while (!control && archive_read_next_header(inner, &ie) == ARCHIVE_OK) {
                        const char *in = archive_entry_pathname(ie);
                        if (strcmp(in, "./control") != 0 && strcmp(in, "control") != 0)
                                continue;
                        la_int64_t size = archive_entry_size(ie);
                        if (size < 0 || size > (1 << 20))
                                return ob_error_plain(err, EINVAL, "'%s': its control file is too large", deb);
                        control = xmalloc((size_t) size + 1);
                        la_ssize_t got = archive_read_data(inner, control, (size_t) size);
                        if (got != size)
                                return ob_error_plain(err, EIO, "'%s': cannot read its control file", deb);
                        control[size] = '\0';
                }
        }
        if (r != ARCHIVE_EOF)
                return ob_error_plain(err, EIO, "cannot read '%s': %s", deb, archive_error_string(outer));
        if (!control || !paths)
                return ob_error_plain(err, EINVAL, "'%s' is not a Debian package (no control or data member)", deb);
        *ret_control = TAKE_PTR(control);
        *ret_paths = TAKE_PTR(paths);
        return 0;
}

static const char *field(const char *control, const char *name, char *buf, size_t size)
{
        size_t len = strlen(name);
        for (const char *p = control; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, name, len) == 0 && p[len] == ':') {
                        const char *v = p + len + 1;
                        v += strspn(v, " \t");
                        snprintf(buf, size, "%.*s", (int) strcspn(v, "\n"), v);
                        return buf;
                }
        return NULL;
}

static int record_one(const char *deb, const char *info, FILE *status, ObError *err)
{
        _cleanup_free_ char *control = NULL, *paths = NULL;
        int r = read_deb(deb, &control, &paths, err);
        if (r < 0)
                return r;
        char package[256], arch[64], multi[64];
        if (!field(control, "Package", package, sizeof(package)) || !field(control, "Architecture", arch, sizeof(arch)))
                return ob_error_plain(err, EINVAL, "'%s': no Package or Architecture field", deb);

        /* The paragraph as dpkg keeps it: Package, then Status, then the rest. */
        size_t first = strcspn(control, "\n");
        size_t len = strlen(control);
        while (len > 0 && control[len - 1] == '\n')
                len--;
        fprintf(status, "%.*s\nStatus: install ok installed\n%.*s\n\n", (int) first, control,
                (int) (len > first + 1 ? len - first - 1 : 0), control + first + 1);

        bool same = field(control, "Multi-Arch", multi, sizeof(multi)) && strcmp(multi, "same") == 0;
        _cleanup_free_ char *list_name = same ? xasprintf("%s:%s.list", package, arch) : xasprintf("%s.list", package);
        _cleanup_free_ char *list = path_join(info, list_name);
        return write_file_atomic(list, paths, strlen(paths), 0644, err);
}

static int deb_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int debroot_record_packages(const char *tree, const char *debs, const char *dpkg_arch, ObError *err)
{
        _cleanup_free_ char *dpkg = path_join(tree, "var/lib/dpkg");
        _cleanup_free_ char *info = path_join(dpkg, "info");
        int r = mkdir_p(info, 0755, err);
        if (r < 0)
                return r;
        _cleanup_strv_ char **files = xcalloc(1, sizeof(char *));
        {
                _cleanup_dir_ DIR *d = opendir(debs);
                if (!d)
                        return ob_error_set(err, errno, "cannot open '%s'", debs);
                struct dirent *de;
                while ((de = readdir(d)))
                        if (str_endswith(de->d_name, ".deb"))
                                strv_push(&files, de->d_name);
        }
        if (!files[0])
                return ob_error_plain(err, ENOENT, "no .deb files in '%s'", debs);
        qsort_safe(files, strv_length(files), sizeof(char *), deb_cmp);

        _cleanup_free_ char *status_path = path_join(dpkg, "status");
        _cleanup_free_ char *status_tmp = xasprintf("%s.new", status_path);
        _cleanup_fclose_ FILE *status = fopen(status_tmp, "we");
        if (!status)
                return ob_error_set(err, errno, "cannot create '%s'", status_tmp);
        for (size_t i = 0; files[i]; i++) {
                _cleanup_free_ char *deb = path_join(debs, files[i]);
                r = record_one(deb, info, status, err);
                if (r < 0)
                        return r;
        }
        if (fflush(status) != 0)
                return ob_error_set(err, errno, "cannot write '%s'", status_tmp);
        if (rename(status_tmp, status_path) < 0)
                return ob_error_set(err, errno, "cannot rename '%s'", status_tmp);
        _cleanup_free_ char *arch_path = path_join(dpkg, "arch");
        _cleanup_free_ char *arch_text = xasprintf("%s\n", dpkg_arch);
        return write_file_atomic(arch_path, arch_text, strlen(arch_text), 0644, err);
}

int debroot_ca_bundle(const char *tree, ObError *err)
{
        _cleanup_free_ char *conf_path = path_join(tree, "etc/ca-certificates.conf");
        _cleanup_free_ char *share = path_join(tree, "usr/share/ca-certificates");
        _cleanup_free_ char *conf = NULL;
        struct stat st;
        if (stat(conf_path, &st) < 0) {
                /* The file the package's postinst writes: every certificate it ships. */
                _cleanup_free_ char *list = NULL;
                _cleanup_free_ char *mozilla = path_join(share, "mozilla");
                _cleanup_dir_ DIR *d = opendir(mozilla);
                if (!d)
                        return ob_error_set(err, errno, "cannot open '%s'", mozilla);
                _cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
                struct dirent *de;
                while ((de = readdir(d)))
                        if (str_endswith(de->d_name, ".crt")) {
                                _cleanup_free_ char *n = xasprintf("mozilla/%s", de->d_name);
                                strv_push(&names, n);
                        }
                qsort_safe(names, strv_length(names), sizeof(char *), deb_cmp);
                list = strv_join(names, "\n");
                conf = xasprintf("%s\n", list);
                int r = write_file_atomic(conf_path, conf, strlen(conf), 0644, err);
                if (r < 0)
                        return r;
        } else {
                int r = read_file(conf_path, &conf, NULL, err);
                if (r < 0)
                        return r;
        }
        size_t cap = 1 << 16, n = 0;
        _cleanup_free_ char *bundle = xmalloc(cap);
        char *save = NULL;
        for (char *line = strtok_r(conf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (!*line || line[0] == '#' || line[0] == '!')
                        continue;
                _cleanup_free_ char *crt_path = path_join(share, line);
                _cleanup_free_ char *crt = NULL;
                size_t size = 0;
                int r = read_file(crt_path, &crt, &size, err);
                if (r < 0)
                        return r;
                if (n + size + 2 > cap) {
                        cap = (n + size + 2) * 2;
                        bundle = xrealloc(bundle, cap);
                }
                memcpy(bundle + n, crt, size);
                n += size;
                if (size > 0 && crt[size - 1] != '\n')
                        bundle[n++] = '\n';
        }
        _cleanup_free_ char *certs = path_join(tree, "etc/ssl/certs");
        int r = mkdir_p(certs, 0755, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *out = path_join(certs, "ca-certificates.crt");
        return write_file_atomic(out, bundle, n, 0644, err);
}

int debroot_make(const DebrootOptions *o, ObError *err)
{
        char dpkg_arch[16];
        snprintf(dpkg_arch, sizeof(dpkg_arch), "%s", o->platform->arch);
        _cleanup_free_ char *suite = o->suite ? xstrdup(o->suite) : host_suite();
        _cleanup_free_ char *tmp = xasprintf("%s.new", o->dir);
        _cleanup_free_ char *log = o->log ? xstrdup(o->log) : xasprintf("%s.log", o->dir);
        const char *slash = strrchr(o->dir, '/');
        _cleanup_free_ char *parent =
                slash && slash > o->dir ? xstrndup(o->dir, (size_t) (slash - o->dir)) : xstrdup(".");
        int r = mkdir_p(parent, 0755, err);
        if (r < 0)
                return r;
        if (access(tmp, F_OK) == 0) {
                r = rm_tree(tmp, err);
                if (r < 0)
                        return r;
        }

        _cleanup_strv_ char **include = xcalloc(1, sizeof(char *));
        for (size_t i = 0; debroot_base_packages[i]; i++)
                strv_push(&include, debroot_base_packages[i]);
        for (size_t i = 0; o->packages && o->packages[i]; i++)
                if (!strv_contains(include, o->packages[i]))
                        strv_push(&include, o->packages[i]);
        _cleanup_free_ char *list = strv_join(include, ",");
        _cleanup_free_ char *a_arch = xasprintf("--architectures=%s", dpkg_arch);
        _cleanup_free_ char *a_include = xasprintf("--include=%s", list);
        /* extract: unpack only, run nothing; keep the .deb files, which
         * hold what the dpkg database is written from. No mirror: the
         * one apt uses. */
        char *const argv[] = { (char *) "mmdebstrap",
                               (char *) "--variant=extract",
                               a_arch,
                               a_include,
                               (char *) "--skip=cleanup/apt/cache",
                               suite,
                               tmp,
                               NULL };
        ob_info("making %s with mmdebstrap (%s), log in %s", tmp, list, log);
        int status = 0;
        r = run_program(argv, &(RunOptions){ .log = log, .uid = -1, .gid = -1 }, &status, err);
        if (r < 0)
                return ob_error_wrap(err, "mmdebstrap (apt-get install mmdebstrap)");
        if (status != 0) {
                _cleanup_free_ char *tail = log_tail(log, 300);
                return ob_error_plain(err, EIO, "mmdebstrap failed (exit status %d): %s", status, tail);
        }
        _cleanup_free_ char *debs = path_join(tmp, "var/cache/apt/archives");
        r = debroot_record_packages(tmp, debs, dpkg_arch, err);
        if (r == 0)
                r = debroot_ca_bundle(tmp, err);
        if (r < 0)
                return r;
        /* The .deb files were only needed for the database. */
        {
                _cleanup_dir_ DIR *d = opendir(debs);
                struct dirent *de;
                while (d && (de = readdir(d)))
                        if (str_endswith(de->d_name, ".deb")) {
                                _cleanup_free_ char *p = path_join(debs, de->d_name);
                                unlink(p);
                        }
        }
        if (access(o->dir, F_OK) == 0) {
                r = rm_tree(o->dir, err);
                if (r < 0)
                        return r;
        }
        if (rename(tmp, o->dir) < 0)
                return ob_error_set(err, errno, "cannot rename '%s' to '%s'", tmp, o->dir);
        return 0;
}
