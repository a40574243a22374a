/* SPDX-License-Identifier: MIT */
#include "app.h"

#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "digest.h"
#include "fs.h"
#include "layout.h"
#include "log.h"
#include "path.h"
#include "process.h"
#include "tmpfile.h"
#include "util.h"

/* As root, a build step runs as the owner of its directory, with that
 * user's HOME: `sudo oci-build app` must not leave root-owned files (or
 * run a registry's install scripts as root) in someone's checkout. */
static void build_user(const char *workdir, RunOptions *ro, char ***ret_env)
{
        struct stat st;
        ro->uid = ro->gid = -1;
        if (geteuid() != 0 || stat(workdir, &st) < 0 || st.st_uid == 0)
                return;
        struct passwd *pw = getpwuid(st.st_uid);
        ro->uid = (long) st.st_uid;
        ro->gid = (long) (pw ? pw->pw_gid : st.st_gid);
        char **env = NULL;
        for (char **e = environ; e && *e; e++)
                if (!str_startswith(*e, "HOME=") && !str_startswith(*e, "USER=") && !str_startswith(*e, "LOGNAME="))
                        strv_push(&env, *e);
        if (pw) {
                _cleanup_free_ char *home = xasprintf("HOME=%s", pw->pw_dir);
                _cleanup_free_ char *user = xasprintf("USER=%s", pw->pw_name);
                strv_push(&env, home);
                strv_push(&env, user);
        }
        *ret_env = env;
}

int app_run_build(const Spec *app, ObError *err)
{
        for (size_t i = 0; i < app->n_build; i++) {
                const SpecBuildStep *b = &app->build[i];
                char tmpl[] = "/tmp/oci-build-log-XXXXXX";
                int fd = mkstemp(tmpl);
                if (fd >= 0)
                        close(fd);
                ob_info("%s: build: %s (in %s)", app->name, b->command[0], b->workdir);
                int status = 0;
                _cleanup_strv_ char **env = NULL;
                RunOptions ro = { .workdir = b->workdir, .log = fd >= 0 ? tmpl : NULL };
                build_user(b->workdir, &ro, &env);
                ro.envp = env;
                if (fd >= 0 && ro.uid >= 0 && chown(tmpl, (uid_t) ro.uid, (gid_t) ro.gid) < 0)
                        ob_debug("cannot hand the build log to uid %ld", ro.uid);
                int r = run_program(b->command, &ro, &status, err);
                if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                        _cleanup_free_ char *tail = log_tail(tmpl, 240);
                        r = ob_error_plain(err, EIO, "%s: build step '%s' failed (exit %d): %s", app->file,
                                           b->command[0], WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                                           tail);
                }
                unlink(tmpl);
                if (r < 0)
                        return r;
        }
        return 0;
}

char *app_cache_dir(void)
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

char *app_lock_path(const Spec *app)
{
        if (str_endswith(app->file, ".yml"))
                return xasprintf("%.*s.lock", (int) (strlen(app->file) - 4), app->file);
        return xasprintf("%s.lock", app->file);
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
                        char *pin = xstrndup(line + n + 1, strcspn(line + n + 1, " \t\r"));
                        _cleanup_free_ char *dg = xasprintf("sha256:%s", pin);
                        if (!digest_is_valid(dg)) {
                                ob_info("%s: ignoring the pin for %s: '%s' is not a sha256 digest", lock, url, pin);
                                free(pin);
                                return NULL;
                        }
                        return pin;
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
        char *out = xstrdup("# Downloads pinned by their sha256 on first fetch; oci-build verifies them.\n");
        for (size_t i = 0; i < n; i++) {
                char *o = xasprintf("%s%s\n", out, lines[i]);
                free(out);
                out = o;
        }
        int r = write_file_atomic(lock, out, strlen(out), 0644, err);
        free(out);
        return r;
}

static int hash_file(const char *path, char out[static DIGEST_STRING_MAX], ObError *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open '%s'", path);
        Sha256 h;
        sha256_init(&h);
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        sha256_free(&h);
                        return ob_error_set(err, errno, "cannot read '%s'", path);
                }
                if (n == 0)
                        break;
                sha256_update(&h, buf, (size_t) n);
        }
        sha256_final(&h, out);
        return 0;
}

/* With fetch false, only a verified copy in the cache is returned:
 * -ENOENT otherwise, and nothing is downloaded or recorded. */
static int fetch_artifact(const Spec *app, const SpecArtifact *a, const char *arch, bool fetch, char **ret_path,
                          ObError *err)
{
        _cleanup_free_ char *u1 = str_replace_all(a->url, "{arch}", arch);
        _cleanup_free_ char *url = str_replace_all(u1, "{version}", app->version);
        _cleanup_free_ char *lock = app_lock_path(app);
        _cleanup_free_ char *pin = NULL;
        const char *pin_from = "the config";
        int r;

        for (size_t i = 0; a->sha256 && a->sha256[i]; i++) {
                const char *eq = strchr(a->sha256[i], '=');
                if ((strncmp(a->sha256[i], arch, (size_t) (eq - a->sha256[i])) == 0 &&
                     strlen(arch) == (size_t) (eq - a->sha256[i])) ||
                    (!pin && strncmp(a->sha256[i], "*=", 2) == 0)) {
                        free(pin);
                        pin = xstrdup(eq + 1);
                }
        }
        if (a->sha256 && !pin)
                return ob_error_plain(err, EINVAL, "%s:%zu: artifacts: 'sha256' has no pin for architecture '%s'",
                                      app->file, a->line, arch);
        if (!pin) {
                pin = lock_lookup(lock, url);
                pin_from = "the lock file";
        }

        _cleanup_free_ char *cache = app_cache_dir();
        _cleanup_free_ char *dir = path_join(cache, "downloads");
        if (pin) {
                /* A cache entry is named by its digest; it is hashed again
                 * anyway, so a damaged cache is noticed, not used. */
                _cleanup_free_ char *cached = path_join(dir, pin);
                char have[DIGEST_STRING_MAX];
                ObError ignore;
                if (access(cached, R_OK) == 0) {
                        if (hash_file(cached, have, &ignore) == 0 && strcmp(digest_hex(have), pin) == 0) {
                                *ret_path = TAKE_PTR(cached);
                                return 0;
                        }
                        ob_info("%s: the cached copy of %s is damaged; downloading it again", app->name, url);
                        unlink(cached);
                }
        }
        if (!fetch)
                return ob_error_plain(err, ENOENT, "%s is not downloaded yet", url);
        if ((r = mkdir_p(dir, 0755, err)) < 0)
                return r;

        _cleanup_free_ char *tmp = path_join(dir, ".part-XXXXXX");
        int fd = mkstemp(tmp);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot create a file in the download cache '%s'", dir);
        close(fd);
        /* An interrupted download leaves nothing in the cache. */
        int slot = tmpfile_register(tmp);
        _cleanup_free_ char *log = xasprintf("%s.log", tmp);
        /* -q: no ~/.curlrc; only web and file URLs, also after redirects. */
        char *argv[] = { (char *) "curl", (char *) "-q", (char *) "--fail", (char *) "--silent",
                         (char *) "--show-error", (char *) "--location", (char *) "--proto", (char *) "=https,http,file",
                         (char *) "--proto-redir", (char *) "=https,http", (char *) "--retry", (char *) "2",
                         (char *) "--connect-timeout", (char *) "20", (char *) "--output", tmp, (char *) "--", url,
                         NULL };
        ob_info("%s: downloading %s", app->name, url);
        int status = 0;
        RunOptions ro = { .log = log, .uid = -1, .gid = -1 };
        r = run_program(argv, &ro, &status, err);
        if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                _cleanup_free_ char *tail = log_tail(log, 240);
                r = ob_error_plain(err, EIO, "%s:%zu: artifacts: cannot download '%s': %s", app->file, a->line, url,
                                   WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "curl is not installed" : tail);
        }
        unlink(log);
        char got[DIGEST_STRING_MAX];
        if (r == 0)
                r = hash_file(tmp, got, err);
        if (r == 0 && pin && strcmp(digest_hex(got), pin) != 0)
                r = ob_error_plain(err, EIO, "%s:%zu: artifacts: '%s' has sha256 %s, but %s pins %s", app->file, a->line,
                                   url, digest_hex(got), pin_from, pin);
        _cleanup_free_ char *final = r == 0 ? path_join(dir, digest_hex(got)) : NULL;
        if (r == 0 && rename(tmp, final) < 0)
                r = ob_error_set(err, errno, "cannot move the download into '%s'", final);
        tmpfile_unregister(slot);
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        if (!pin) {
                r = lock_record(lock, url, digest_hex(got), err);
                if (r < 0)
                        return r;
                ob_info("%s: no sha256 pin for %s: recorded %s in %s; later builds verify against it", app->name, url,
                        digest_hex(got), lock);
        }
        *ret_path = TAKE_PTR(final);
        return 0;
}

int app_fetch(const Spec *app, const SpecArtifact *a, const char *arch, char **ret_path, ObError *err)
{
        return fetch_artifact(app, a, arch, true, ret_path, err);
}

int app_plan(const Spec *app, Sysroot *root, const char *arch, int64_t mtime, bool fetch, Plan *ret, ObError *err)
{
        Plan p;
        int r = 0;
        plan_init(&p);

        Sysroot *host = NULL;
        if ((r = sysroot_open("/", &host, err)) < 0)
                return r;
        for (size_t i = 0; i < app->n_artifacts && r == 0; i++) {
                const SpecArtifact *a = &app->artifacts[i];
                _cleanup_free_ char *why = xasprintf("artifact (%s:%zu)", app->file, a->line);
                if (a->source) {
                        if (access(a->source, F_OK) < 0) {
                                r = ob_error_set(err, errno, "%s:%zu: artifacts: '%s'", app->file, a->line, a->source);
                                break;
                        }
                        PlanCopyOptions o = { .dst = a->path, .src = a->source, .has_mode = a->has_mode,
                                              .mode = a->mode, .uid = a->uid, .gid = a->gid,
                                              .normalize_modes = !a->has_mode, .why = why };
                        r = plan_add_host(&p, host, &o, err);
                        if (r < 0)
                                ob_error_wrap(err, "%s:%zu: artifacts", app->file, a->line);
                } else {
                        _cleanup_free_ char *cached = NULL;
                        r = fetch_artifact(app, a, arch, fetch, &cached, err);
                        if (r == -ENOENT && !fetch) {
                                /* Listed, not fetched: an empty stand-in says so. */
                                _cleanup_free_ char *note = xasprintf("%s; %s", why, err->msg);
                                Entry e = { .path = a->path, .type = ENTRY_FILE, .mode = a->has_mode ? a->mode : 0644,
                                            .uid = a->uid, .gid = a->gid, .mtime = mtime, .data = (char *) "",
                                            .why = note };
                                r = plan_add(&p, &e, err);
                                continue;
                        }
                        if (r < 0)
                                break;
                        struct stat st;
                        if (stat(cached, &st) < 0) {
                                r = ob_error_set(err, errno, "cannot stat '%s'", cached);
                                break;
                        }
                        Entry e = { .path = a->path, .type = ENTRY_FILE, .mode = a->has_mode ? a->mode : 0644,
                                    .uid = a->uid, .gid = a->gid, .mtime = mtime, .size = (uint64_t) st.st_size,
                                    .source = cached, .why = why };
                        r = plan_add(&p, &e, err);
                }
        }
        sysroot_free(host);

        for (size_t i = 0; i < app->n_files && r == 0; i++) {
                const SpecFile *f = &app->files[i];
                _cleanup_free_ char *why = xasprintf("named in config (%s:%zu)", app->file, f->line);
                PlanCopyOptions o = { .dst = f->path, .src = f->source, .exclude = f->exclude, .has_mode = f->has_mode,
                                      .mode = f->mode, .uid = f->uid, .gid = f->gid, .why = why };
                r = plan_add_host(&p, root, &o, err);
                if (r < 0)
                        ob_error_wrap(err, "%s:%zu: files entry '%s'", app->file, f->line, f->path);
        }
        for (size_t i = 0; i < app->n_dirs && r == 0; i++) {
                const SpecDir *d = &app->dirs[i];
                Entry e = { .path = d->path, .type = ENTRY_DIR, .mode = d->mode, .uid = d->uid, .gid = d->gid,
                            .mtime = mtime, .why = (char *) "directory named in config" };
                r = plan_add(&p, &e, err);
        }
        for (size_t i = 0; i < app->n_links && r == 0; i++) {
                Entry e = { .path = app->links[i].path, .type = ENTRY_SYMLINK, .mode = 0777, .mtime = mtime,
                            .target = app->links[i].target, .why = (char *) "symlink named in config" };
                r = plan_add(&p, &e, err);
        }
        if (r == 0 && app->data_dir && !plan_find(&p, app->data_dir)) {
                /* The data directory belongs to the user the app runs as. */
                uint32_t uid = 1000, gid = 1000;
                if (app->config.user)
                        sscanf(app->config.user, "%u:%u", &uid, &gid);
                Entry e = { .path = app->data_dir, .type = ENTRY_DIR, .mode = 0750, .uid = uid, .gid = gid,
                            .mtime = mtime, .why = (char *) "defaults.data_dir" };
                r = plan_add(&p, &e, err);
        }
        if (r == 0)
                r = plan_finish(&p, mtime, err);
        if (r < 0) {
                if (!strstr(err->msg, app->file))
                        ob_error_wrap(err, "%s", app->file);
                plan_clear(&p);
                return r;
        }
        *ret = p;
        return 0;
}

int app_check_health(const Spec *app, const Plan *const *layers, size_t n, ObError *err)
{
        const SpecHealth *checks[1 + 64];
        size_t n_checks = 0;
        if (app->has_health)
                checks[n_checks++] = &app->health;
        for (size_t c = 0; c < n_checks; c++) {
                const char *prog = checks[c]->test[0];
                bool found = false;
                for (size_t i = 0; i < n && !found; i++)
                        found = plan_find(layers[i], prog) != NULL;
                if (!found)
                        return ob_error_plain(err, ENOENT,
                                              "%s:%zu: healthcheck runs '%s', which is not in the image (there is no "
                                              "shell either: name a program of the image or of one of its tools)",
                                              app->file, checks[c]->line, prog);
        }
        return 0;
}

/* YAML output: keys are plain, every value a JSON string, which YAML
 * reads as a double-quoted scalar, so nothing needs escaping by hand. */
static void yq(FILE *f, const char *s)
{
        json_t *j = json_string(s);
        char *t = json_dumps(j, JSON_ENCODE_ANY);
        fputs(t ? t : "\"\"", f);
        free(t);
        json_decref(j);
}

static void y_list(FILE *f, const char *indent, const char *key, char *const *v, const char *first)
{
        fprintf(f, "%s%s: [", indent, key);
        bool any = false;
        if (first) {
                yq(f, first);
                any = true;
        }
        for (size_t i = 0; v && v[i]; i++) {
                if (any)
                        fputs(", ", f);
                yq(f, v[i]);
                any = true;
        }
        fputs("]\n", f);
}

static void y_env(FILE *f, const char *indent, char *const *env)
{
        if (!env || !env[0])
                return;
        fprintf(f, "%senvironment:\n", indent);
        for (size_t i = 0; env[i]; i++) {
                const char *eq = strchr(env[i], '=');
                fprintf(f, "%s  %.*s: ", indent, (int) (eq - env[i]), env[i]);
                yq(f, eq + 1);
                fputc('\n', f);
        }
}

static void y_health(FILE *f, const char *indent, const SpecHealth *h)
{
        fprintf(f, "%shealthcheck:\n", indent);
        _cleanup_free_ char *in = xasprintf("%s  ", indent);
        y_list(f, in, "test", h->test, "CMD");
        fprintf(f, "%s  interval: %s\n", indent, h->interval ? h->interval : "5s");
        fprintf(f, "%s  timeout: %s\n", indent, h->timeout ? h->timeout : "5s");
        if (h->start_period)
                fprintf(f, "%s  start_period: %s\n", indent, h->start_period);
        fprintf(f, "%s  retries: %llu\n", indent, (unsigned long long) h->retries);
}

char *app_compose(const Spec *app, const ComposeOptions *o)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                abort();

        fprintf(f, "# Generated by oci-build %s from %s: the %s stack.\n", OB_VERSION, app->name, app->name);
        fprintf(f, "# Load the images first: oci-build save %s", app->name);
        for (size_t i = 0; i < app->n_services; i++)
                if (!strchr(o->service_images[i], '/') && str_startswith(o->service_images[i], "distroless-"))
                        fprintf(f, " %s", app->services[i].image);
        fprintf(f, " -o images.tar && docker load -i images.tar\n");
        fprintf(f, "version: \"2.4\"\nservices:\n");

        fprintf(f, "  %s:\n    image: ", app->name);
        yq(f, o->app_tag);
        fputc('\n', f);
        if (o->host_network)
                fprintf(f, "    network_mode: host\n");
        else if (app->config.ports && app->config.ports[0]) {
                fprintf(f, "    ports:\n");
                for (size_t i = 0; app->config.ports[i]; i++) {
                        _cleanup_free_ char *port = xstrndup(app->config.ports[i], strcspn(app->config.ports[i], "/"));
                        _cleanup_free_ char *map = xasprintf("%s:%s", port, port);
                        fprintf(f, "      - ");
                        yq(f, map);
                        fputc('\n', f);
                }
        }
        /* The image's env plus the compose-only settings (which may use
         * ${VAR:-default}, expanded by compose). */
        _cleanup_strv_ char **env = NULL;
        for (size_t i = 0; app->config.env && app->config.env[i]; i++) {
                size_t klen = strcspn(app->config.env[i], "=");
                bool overridden = false;
                for (size_t k = 0; app->compose_env && app->compose_env[k]; k++)
                        overridden |= strncmp(app->compose_env[k], app->config.env[i], klen + 1) == 0;
                if (!overridden)
                        strv_push(&env, app->config.env[i]);
        }
        for (size_t k = 0; app->compose_env && app->compose_env[k]; k++)
                strv_push(&env, app->compose_env[k]);
        y_env(f, "    ", env);
        if (app->data_dir) {
                _cleanup_free_ char *vol = xasprintf("%s-data:%s", app->name, app->data_dir);
                fprintf(f, "    volumes:\n      - ");
                yq(f, vol);
                fputc('\n', f);
        }
        if (app->has_health)
                y_health(f, "    ", &app->health);
        if (app->n_services > 0) {
                fprintf(f, "    depends_on:\n");
                for (size_t i = 0; i < app->n_services; i++)
                        fprintf(f, "      %s:\n        condition: %s\n", app->services[i].name,
                                app->services[i].has_health ? "service_healthy" : "service_started");
        }
        fprintf(f, "    restart: unless-stopped\n");

        for (size_t i = 0; i < app->n_services; i++) {
                const SpecService *s = &app->services[i];
                fprintf(f, "  %s:\n    image: ", s->name);
                yq(f, o->service_images[i]);
                fputc('\n', f);
                if (o->host_network)
                        fprintf(f, "    network_mode: host\n");
                if (s->command)
                        y_list(f, "    ", "command", s->command, NULL);
                y_env(f, "    ", s->environment);
                if (s->volumes && s->volumes[0]) {
                        fprintf(f, "    volumes:\n");
                        for (size_t k = 0; s->volumes[k]; k++) {
                                fprintf(f, "      - ");
                                yq(f, s->volumes[k]);
                                fputc('\n', f);
                        }
                }
                if (s->has_health)
                        y_health(f, "    ", &s->health);
                fprintf(f, "    restart: unless-stopped\n");
        }

        if (app->data_dir || (app->compose_volumes && app->compose_volumes[0])) {
                fprintf(f, "volumes:\n");
                if (app->data_dir)
                        fprintf(f, "  %s-data: {}\n", app->name);
                for (size_t i = 0; app->compose_volumes && app->compose_volumes[i]; i++)
                        fprintf(f, "  %s: {}\n", app->compose_volumes[i]);
        }
        fclose(f);
        return buf;
}
