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

/* The lock file: one "URL SHA256HEX" line per download, sorted. */
static char *lock_lookup(const char *lock, const char *url)
{
        _cleanup_free_ char *text = NULL;
        ObError ignore;
        if (read_file(lock, &text, NULL, &ignore) < 0)
                return NULL;
        size_t n = strlen(url);
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
                if (strncmp(line, url, n) == 0 && line[n] == ' ') {
                        /* A pin is a digest and nothing else: it becomes a file name. */
                        _cleanup_free_ char *pin = xstrndup(line + n + 1, strcspn(line + n + 1, " \t\r"));
                        _cleanup_free_ char *dg = xasprintf("sha256:%s", pin);
                        if (!digest_is_valid(dg)) {
                                ob_info("%s: ignoring the pin for %s: '%s' is not a sha256 digest", lock, url, pin);
                                return NULL;
                        }
                        return TAKE_PTR(pin);
                }
        return NULL;
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

static int hash_file(const char *path, char out[static DIGEST_STRING_MAX], ObError *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open '%s'", path);
        _cleanup_(sha256_free) Sha256 h = { 0 };
        sha256_init(&h);
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ob_error_set(err, errno, "cannot read '%s'", path);
                }
                if (n == 0)
                        break;
                sha256_update(&h, buf, (size_t) n);
        }
        sha256_final(&h, out);
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

/* A verified copy in the cache, or NULL. A cache entry is named by its
 * digest; it is hashed again anyway, so a damaged cache is noticed, not
 * used. */
static char *cache_lookup(const DownloadRequest *req, const char *dir, const char *url, const char *pin)
{
        _cleanup_free_ char *cached = path_join(dir, pin);
        char have[DIGEST_STRING_MAX];
        ObError ignore;
        if (access(cached, R_OK) < 0)
                return NULL;
        if (hash_file(cached, have, &ignore) == 0 && strcmp(digest_hex(have), pin) == 0)
                return TAKE_PTR(cached);
        ob_info("%s: the cached copy of %s is damaged; downloading it again", req->owner, url);
        unlink(cached);
        return NULL;
}

/* curl writes url to path; its messages go to log. */
static int curl_fetch(const DownloadRequest *req, const char *url, const char *path, const char *log, ObError *err)
{
        /* -q: no ~/.curlrc; only web and file URLs, also after redirects. */
        char *argv[] = { (char *) "curl", (char *) "-q", (char *) "--fail", (char *) "--silent",
                         (char *) "--show-error", (char *) "--location",
                         (char *) "--proto", (char *) "=https,http,file",
                         (char *) "--proto-redir", (char *) "=https,http",
                         (char *) "--retry", (char *) "2", (char *) "--connect-timeout", (char *) "20",
                         (char *) "--output", (char *) path, (char *) "--", (char *) url, NULL };
        ob_info("%s: downloading %s", req->owner, url);
        int status = 0;
        RunOptions ro = { .log = log, .uid = -1, .gid = -1 };
        int r = run_program(argv, &ro, &status, err);
        if (r < 0)
                return r;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        _cleanup_free_ char *tail = log_tail(log, 240);
        return ob_error_plain(err, EIO, "%s:%zu: %s: cannot download '%s': %s", req->file, req->line, req->key, url,
                              WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "curl is not installed" : tail);
}

int download_fetch(const DownloadRequest *req, DownloadFlags flags, char **ret_path, ObError *err)
{
        _cleanup_free_ char *u1 = str_replace_all(req->url, "{arch}", req->arch);
        _cleanup_free_ char *url = req->version ? str_replace_all(u1, "{version}", req->version) : xstrdup(u1);
        _cleanup_free_ char *pin = config_pin(req->sha256, req->arch);
        const char *pin_from = "the config";
        int r;

        if (req->sha256 && !pin)
                return ob_error_plain(err, EINVAL, "%s:%zu: %s: 'sha256' has no pin for architecture '%s'", req->file,
                                      req->line, req->key, req->arch);
        if (!pin) {
                pin = lock_lookup(req->lock, url);
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
        r = hash_file(part.path, got, err);
        if (r < 0)
                return r;
        if (pin && strcmp(digest_hex(got), pin) != 0)
                return ob_error_plain(err, EIO, "%s:%zu: %s: '%s' has sha256 %s, but %s pins %s", req->file, req->line,
                                      req->key, url, digest_hex(got), pin_from, pin);
        _cleanup_free_ char *final = path_join(dir, digest_hex(got));
        if (rename(part.path, final) < 0)
                return ob_error_set(err, errno, "cannot move the download into '%s'", final);
        part_file_keep(&part);

        if (!pin) {
                r = lock_record(req->lock, url, digest_hex(got), err);
                if (r < 0)
                        return r;
                ob_info("%s: no sha256 pin for %s: recorded %s in %s; later builds verify against it", req->owner, url,
                        digest_hex(got), req->lock);
        }
        *ret_path = TAKE_PTR(final);
        return 0;
}
