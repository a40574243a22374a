/* SPDX-License-Identifier: MIT */
#include "download.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "digest.h"
#include "fs.h"
#include "log.h"
#include "path.h"
#include "process.h"
#include "tmpfile.h"
#include "util.h"

char *download_cache_dir(void)
{
        const char *e = getenv("OCI_BUILD_CACHE");
        if (e && *e)
                return xstrdup(e);
        e = getenv("XDG_CACHE_HOME");
        if (e && *e)
                return path_join(e, "oci-build");
        e = getenv("HOME");
        return xasprintf("%s/.cache/oci-build", e && *e ? e : "/tmp");
}

char *download_lock_path(const char *config)
{
        if (str_endswith(config, ".yml"))
                return xasprintf("%.*s.lock", (int) (strlen(config) - 4), config);
        return xasprintf("%s.lock", config);
}

/* The lock file: one "URL SHA256HEX" line per download, sorted; '#' lines
 * are comments. Anything else is an error, not a line to skip: a skipped
 * line would leave its URL unpinned, so a build would trust whatever the
 * server sends and record that as the pin. *ret_pin is NULL when the file
 * (or a line for url) does not exist. */
static int lock_lookup(const char *lock, const char *url, char **ret_pin, ObError *err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *pin = NULL;
        int r = read_file(lock, &text, NULL, err);
        if (r == -ENOENT) {
                *ret_pin = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_strv_ char **urls = NULL;
        _cleanup_free_ size_t *lines = NULL;
        size_t n_urls = 0, lineno = 0;
        for (char *line = text, *next; line && *line; line = next) {
                lineno++;
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (line[0] == '#' || line[0] == '\0')
                        continue;
                char *sp = strchr(line, ' ');
                _cleanup_free_ char *dg = sp ? xasprintf("sha256:%s", sp + 1) : NULL;
                /* A pin is a digest and nothing else: it becomes a file name. */
                if (!sp || sp == line || !digest_is_valid(dg) || strchr(line, '\t') || strchr(line, '\r'))
                        return ob_error_plain(err, EINVAL, "%s:%zu: not a pin: expected 'URL SHA256HEX'", lock, lineno);
                *sp = '\0';
                for (size_t i = 0; i < n_urls; i++)
                        if (strcmp(urls[i], line) == 0)
                                return ob_error_plain(err, EINVAL,
                                                      "%s:%zu: a second pin for '%s' (the first is on "
                                                      "line %zu)",
                                                      lock, lineno, line, lines[i]);
                strv_push(&urls, line);
                lines = xrealloc(lines, (n_urls + 1) * sizeof(size_t));
                lines[n_urls++] = lineno;
                if (strcmp(line, url) == 0)
                        pin = xstrdup(sp + 1);
        }
        *ret_pin = TAKE_PTR(pin);
        return 0;
}

static int lock_record(const char *lock, const char *url, const char *hex, ObError *err)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_ char **lines = NULL;
        ObError ignore;
        if (read_file(lock, &text, NULL, &ignore) == 0)
                for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
                        if (line[0] != '#')
                                strv_push(&lines, line);
        _cleanup_free_ char *entry = xasprintf("%s %s", url, hex);
        strv_push(&lines, entry);
        size_t n = strv_length(lines);
        qsort_safe(lines, n, sizeof(char *), strv_compare);
        _cleanup_free_ char *out =
                xstrdup("# Downloads pinned by their sha256 on first fetch; oci-build verifies them.\n");
        for (size_t i = 0; i < n; i++) {
                char *o = xasprintf("%s%s\n", out, lines[i]);
                free(out);
                out = o;
        }
        return write_file_atomic(lock, out, strlen(out), 0644, err);
}

/* The copies handed out live in a directory of their own, made when the
 * first is needed and removed when the process ends (or a signal stops it). */
static char *private_dir;
static int private_slot = -1;

static void private_dir_remove(void)
{
        if (!private_dir)
                return;
        (void) rm_rf_at(AT_FDCWD, private_dir);
        tmpfile_unregister(private_slot);
        free(TAKE_PTR(private_dir));
}

static int private_dir_get(const char *dir, const char **ret, ObError *err)
{
        if (!private_dir) {
                char *t = path_join(dir, ".in-use-XXXXXX");
                int r = tmpfile_create_dir(t, &private_slot);
                if (r < 0) {
                        free(t);
                        return ob_error_set(err, -r, "cannot create a directory in the download cache '%s'", dir);
                }
                private_dir = t;
                atexit(private_dir_remove);
        }
        *ret = private_dir;
        return 0;
}

/* Copies src into a new file of the private directory, hashing the bytes as
 * they are written. The copy is what the digest says and what the image
 * gets: a cache file replaced after it was verified cannot change it, and
 * nothing but this process writes the directory it is in (0700). */
static int copy_hashed(const char *src, const char *cache_dir, char **ret_path,
                       char ret_digest[static DIGEST_STRING_MAX], ObError *err)
{
        const char *dir = NULL;
        int r = private_dir_get(cache_dir, &dir, err);
        if (r < 0)
                return r;
        _cleanup_close_ int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return ob_error_set(err, errno, "cannot open '%s'", src);
        _cleanup_free_ char *dst = path_join(dir, "XXXXXX");
        _cleanup_close_ int out = mkostemp(dst, O_CLOEXEC);
        if (out < 0)
                return ob_error_set(err, errno, "cannot create a file in '%s'", dir);
        _cleanup_(sha256_free) Sha256 h = { 0 };
        sha256_init(&h);
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = ob_error_set(err, errno, "cannot read '%s'", src);
                        break;
                }
                if (n == 0)
                        break;
                sha256_update(&h, buf, (size_t) n);
                if ((r = write_all(out, buf, (size_t) n)) < 0) {
                        r = ob_error_set(err, -r, "cannot write '%s'", dst);
                        break;
                }
        }
        if (r == 0 && close(TAKE_FD(out)) < 0)
                r = ob_error_set(err, errno, "cannot write '%s'", dst);
        if (r < 0) {
                unlink(dst);
                return r;
        }
        sha256_final(&h, ret_digest);
        *ret_path = TAKE_PTR(dst);
        return 0;
}

/* The config's pin for arch: its own, else the one for every architecture
 * ("*"); NULL when the config has none for it. */
static char *config_pin(char *const *pins, const char *arch)
{
        _cleanup_free_ char *pin = NULL;
        for (size_t i = 0; pins && pins[i]; i++) {
                const char *eq = strchr(pins[i], '=');
                if ((strncmp(pins[i], arch, (size_t) (eq - pins[i])) == 0 && strlen(arch) == (size_t) (eq - pins[i])) ||
                    (!pin && strncmp(pins[i], "*=", 2) == 0)) {
                        free(pin);
                        pin = xstrdup(eq + 1);
                }
        }
        return TAKE_PTR(pin);
}

/* A download being written: registered so that a signal removes it, and
 * removed when the function that made it returns without moving it into
 * the cache. */
typedef struct PartFile {
        char *path;
        int slot;
} PartFile;

static void part_file_remove(PartFile *p)
{
        if (!p->path)
                return;
        tmpfile_unregister(p->slot);
        unlink(p->path);
        free(p->path);
        p->path = NULL;
}

/* Moved into the cache: nothing left to remove. */
static void part_file_keep(PartFile *p)
{
        tmpfile_unregister(p->slot);
        free(TAKE_PTR(p->path));
}

/* A private copy of the cache's verified file, or NULL. A cache entry is
 * named by its digest; it is hashed again anyway (as it is copied), so a
 * damaged cache is noticed, not used. */
static char *cache_lookup(const DownloadRequest *req, const char *dir, const char *url, const char *pin)
{
        _cleanup_free_ char *cached = path_join(dir, pin);
        _cleanup_free_ char *copy = NULL;
        char have[DIGEST_STRING_MAX];
        ObError ignore;
        if (access(cached, R_OK) < 0)
                return NULL;
        if (copy_hashed(cached, dir, &copy, have, &ignore) < 0)
                return NULL;
        if (strcmp(digest_hex(have), pin) == 0)
                return TAKE_PTR(copy);
        ob_info("%s: the cached copy of %s is damaged; downloading it again", req->owner, url);
        unlink(copy);
        unlink(cached);
        return NULL;
}

/* curl writes url to path; its messages go to log. */
static int curl_fetch(const DownloadRequest *req, const char *url, const char *path, const char *log, ObError *err)
{
        /* -q: no ~/.curlrc; only web and file URLs, also after redirects. */
        char *argv[] = { (char *) "curl",
                         (char *) "-q",
                         (char *) "--fail",
                         (char *) "--silent",
                         (char *) "--show-error",
                         (char *) "--location",
                         (char *) "--proto",
                         (char *) "=https,http,file",
                         (char *) "--proto-redir",
                         (char *) "=https,http",
                         (char *) "--retry",
                         (char *) "2",
                         (char *) "--connect-timeout",
                         (char *) "20",
                         (char *) "--output",
                         (char *) path,
                         (char *) "--",
                         (char *) url,
                         NULL };
        ob_info("%s: downloading %s", req->owner, url);
        int status = 0;
        RunOptions ro = { .log = log, .uid = -1, .gid = -1 };
        int r = run_program(argv, &ro, &status, err);
        if (r < 0)
                return r;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        _cleanup_free_ char *tail = log_tail(log, 240);
        /* With retries curl says the same thing once per try: the last is enough. */
        const char *last = tail, *p = tail;
        while ((p = strstr(p + 1, "curl: (")))
                last = p;
        return ob_error_plain(err, EIO, "%s:%zu: %s: cannot download '%s': %s", req->file, req->line, req->key, url,
                              WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "curl is not installed" : last);
}

int download_fetch(const DownloadRequest *req, DownloadFlags flags, char **ret_path, ObError *err)
{
        _cleanup_free_ char *u1 = str_replace_all(req->url, "{arch}", req->url_arch ? req->url_arch : req->arch);
        _cleanup_free_ char *url = req->version ? str_replace_all(u1, "{version}", req->version) : xstrdup(u1);
        _cleanup_free_ char *pin = config_pin(req->sha256, req->arch);
        const char *pin_from = "the config";
        int r;

        if (req->sha256 && !pin)
                return ob_error_plain(err, EINVAL, "%s:%zu: %s: 'sha256' has no pin for architecture '%s'", req->file,
                                      req->line, req->key, req->arch);
        if (!pin) {
                r = lock_lookup(req->lock, url, &pin, err);
                if (r < 0)
                        return r;
                pin_from = "the lock file";
        }

        _cleanup_free_ char *cache = download_cache_dir();
        _cleanup_free_ char *dir = path_join(cache, "downloads");
        if (pin) {
                char *cached = cache_lookup(req, dir, url, pin);
                if (cached) {
                        *ret_path = cached;
                        return 0;
                }
        }
        if (flags & DOWNLOAD_CACHED_ONLY)
                return ob_error_plain(err, ENOENT, "%s is not downloaded yet", url);
        if ((r = mkdir_p(dir, 0755, err)) < 0)
                return r;

        _cleanup_free_ char *tmp = path_join(dir, ".part-XXXXXX");
        /* An interrupted download leaves nothing in the cache. */
        int slot;
        int fd = tmpfile_create(tmp, /* suffix_len= */ 0, O_CLOEXEC, &slot);
        if (fd < 0)
                return ob_error_set(err, -fd, "cannot create a file in the download cache '%s'", dir);
        close(fd);
        _cleanup_(part_file_remove) PartFile part = { .path = TAKE_PTR(tmp), .slot = slot };

        _cleanup_free_ char *log = xasprintf("%s.log", part.path);
        r = curl_fetch(req, url, part.path, log, err);
        unlink(log);
        if (r < 0)
                return r;
        char got[DIGEST_STRING_MAX];
        _cleanup_free_ char *copy = NULL;
        r = copy_hashed(part.path, dir, &copy, got, err);
        if (r < 0)
                return r;
        if (pin && strcmp(digest_hex(got), pin) != 0) {
                unlink(copy);
                return ob_error_plain(err, EIO, "%s:%zu: %s: '%s' has sha256 %s, but %s pins %s", req->file, req->line,
                                      req->key, url, digest_hex(got), pin_from, pin);
        }
        _cleanup_free_ char *final = path_join(dir, digest_hex(got));
        if (rename(part.path, final) < 0) {
                unlink(copy);
                return ob_error_set(err, errno, "cannot move the download into '%s'", final);
        }
        part_file_keep(&part);

        if (!pin) {
                r = lock_record(req->lock, url, digest_hex(got), err);
                if (r < 0) {
                        unlink(copy);
                        return r;
                }
                ob_info("%s: no sha256 pin for %s: recorded %s in %s; later builds verify against it", req->owner, url,
                        digest_hex(got), req->lock);
        }
        *ret_path = TAKE_PTR(copy);
        return 0;
}
