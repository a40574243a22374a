/* SPDX-License-Identifier: MIT */
/* The app tier: loading app configs (and the exact message for each kind of
 * mistake), verified downloads with the cache and the lock file (file://
 * URLs fetched by the host's curl; skipped without it), the app layer, build
 * steps, the healthcheck program check, and compose files read back by an
 * independent YAML parser (libyaml always, PyYAML too when python3 has it). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "app.h"
#include "digest.h"
#include "fs.h"
#include "log.h"
#include "plan.h"
#include "spec.h"
#include "sysroot.h"
#include "testutil.h"
#include "util.h"

#define APP_DIR TEST_DATA_DIR "/app"

static char *tmp_dir;          /* everything the tests write */
static bool have_curl;

/* ---- helpers ---------------------------------------------------------- */

#define NEED_CURL()                                                              \
        do {                                                                     \
                if (!have_curl)                                                  \
                        test_skip("curl not found on PATH (the downloads run it)"); \
        } while (0)

/* A fresh directory for one test. */
static char *test_dir(const char *name)
{
        char *p = xasprintf("%s/%s", tmp_dir, name);
        ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
        return p;
}

static void put_file(const char *path, const char *text, mode_t mode)
{
        ObError err = { 0 };
        ck_assert_msg(write_file_atomic(path, text, strlen(text), mode, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(chmod(path, mode), 0);
}

static char *file_text(const char *path)
{
        char *text = NULL;
        ObError e = { 0 };
        ck_assert_msg(read_file(path, &text, NULL, &e) == 0, "%s", e.msg);
        return text;
}

static Spec *load_app(const char *path)
{
        ObError err = { 0 };
        Spec *s = NULL;
        ck_assert_msg(spec_load_app(path, &s, &err) == 0, "%s", err.msg);
        ck_assert_ptr_nonnull(s);
        return s;
}

/* Entries of a directory, "." and ".." aside; 0 when it does not exist. */
static size_t count_dir(const char *path)
{
        DIR *d = opendir(path);
        if (!d)
                return 0;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static bool dir_has_prefix(const char *path, const char *prefix)
{
        DIR *d = opendir(path);
        if (!d)
                return false;
        bool found = false;
        struct dirent *de;
        while ((de = readdir(d)))
                found |= str_startswith(de->d_name, prefix);
        closedir(d);
        return found;
}

static char *hex_of(const char *text)
{
        char dg[DIGEST_STRING_MAX];
        sha256_string(text, strlen(text), dg);
        return xstrdup(digest_hex(dg));
}

/* The environment the cache depends on, as it was when the tests started;
 * restored after every test that changes it (the tests may share one
 * process). */
static char *saved_env[3];
static const char *const env_names[3] = { "OCI_BUILD_CACHE", "XDG_CACHE_HOME", "HOME" };

static void save_env(void)
{
        for (size_t i = 0; i < 3; i++) {
                const char *v = getenv(env_names[i]);
                saved_env[i] = v ? xstrdup(v) : NULL;
        }
}

static void restore_env(void)
{
        for (size_t i = 0; i < 3; i++) {
                if (saved_env[i])
                        setenv(env_names[i], saved_env[i], 1);
                else
                        unsetenv(env_names[i]);
        }
}

/* ---- spec_load_app: good configs --------------------------------------- */

START_TEST(test_good_config)
{
        Spec *s = load_app(APP_DIR "/good.yml");
        ck_assert_int_eq(s->tier, SPEC_TIER_APP);
        ck_assert_str_eq(spec_tier_name(s->tier), "app");
        ck_assert_str_eq(s->file, APP_DIR "/good.yml");
        ck_assert_str_eq(s->name, "testapp");
        ck_assert_str_eq(s->version, "1.0.0");
        ck_assert_str_eq(s->description, "Test app with every key");
        ck_assert_uint_eq(strv_length(s->tools), 2);
        ck_assert_str_eq(s->tools[0], "postgres");
        ck_assert_str_eq(s->tools[1], "curl");

        /* artifacts: local ones absolute from the config's directory */
        ck_assert_uint_eq(s->n_artifacts, 4);
        const SpecArtifact *a = s->artifacts;
        ck_assert_str_eq(a[0].path, "/app/static");
        ck_assert_str_eq(a[0].source, APP_DIR "/static");
        ck_assert_ptr_null(a[0].url);
        ck_assert_ptr_null(a[0].sha256);
        ck_assert(!a[0].has_mode);
        ck_assert_uint_eq(a[0].line, 7);
        /* a download with a pin per architecture */
        ck_assert_str_eq(a[1].path, "/app/bin/testapp");
        ck_assert_ptr_null(a[1].source);
        ck_assert_str_eq(a[1].url, "https://example.com/testapp-{version}-{arch}");
        ck_assert_uint_eq(strv_length(a[1].sha256), 2);
        ck_assert_str_eq(a[1].sha256[0], "amd64=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        ck_assert_str_eq(a[1].sha256[1], "arm64=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        ck_assert(a[1].has_mode);
        ck_assert_uint_eq(a[1].mode, 0755);
        ck_assert_uint_eq(a[1].uid, 1000);
        ck_assert_uint_eq(a[1].gid, 1000);
        ck_assert_uint_eq(a[1].line, 9);
        ck_assert_str_eq(a[2].source, "/srv/abs.txt");
        /* one pin for every architecture */
        ck_assert_str_eq(a[3].url, "file:///srv/any.tar");
        ck_assert_uint_eq(strv_length(a[3].sha256), 1);
        ck_assert_str_eq(a[3].sha256[0], "*=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

        /* build steps: workdir relative to the config, defaulting to its directory */
        ck_assert_uint_eq(s->n_build, 3);
        ck_assert_uint_eq(strv_length(s->build[0].command), 3);
        ck_assert_str_eq(s->build[0].command[0], "make");
        ck_assert_str_eq(s->build[0].workdir, APP_DIR);
        ck_assert_str_eq(s->build[1].command[1], "run");
        ck_assert_str_eq(s->build[1].workdir, APP_DIR "/web/ui");
        ck_assert_str_eq(s->build[2].command[0], "true");
        ck_assert_str_eq(s->build[2].workdir, "/abs/dir");

        ck_assert_uint_eq(s->n_dirs, 1);
        ck_assert_str_eq(s->dirs[0].path, "/app/data");
        ck_assert_str_eq(s->config.user, "1000:1000");
        ck_assert_str_eq(s->config.workdir, "/app");
        ck_assert_uint_eq(strv_length(s->config.ports), 1);
        ck_assert_str_eq(s->config.ports[0], "8080/tcp");
        ck_assert_uint_eq(strv_length(s->config.env), 2);
        ck_assert_str_eq(s->config.env[0], "PORT=8080");

        /* healthcheck */
        ck_assert(s->has_health);
        ck_assert_uint_eq(strv_length(s->health.test), 3);
        ck_assert_str_eq(s->health.test[0], "/app/bin/testapp");
        ck_assert_str_eq(s->health.test[2], "--quiet");
        ck_assert_str_eq(s->health.interval, "10s");
        ck_assert_str_eq(s->health.timeout, "1m30s");
        ck_assert_str_eq(s->health.start_period, "500ms");
        ck_assert_uint_eq(s->health.retries, 5);

        /* defaults */
        ck_assert_uint_eq(s->default_port, 8080);
        ck_assert_str_eq(s->data_dir, "/app/data");

        /* compose */
        ck_assert_uint_eq(strv_length(s->compose_env), 2);
        ck_assert_str_eq(s->compose_env[0], "DB=postgres://u:p@${DB_HOST:-db}:5432/x");
        ck_assert_str_eq(s->compose_env[1], "QUOTED=he said \"hi\": ok # not a comment");
        ck_assert_uint_eq(strv_length(s->compose_volumes), 1);
        ck_assert_str_eq(s->compose_volumes[0], "testapp-db");
        ck_assert_uint_eq(s->n_services, 2);
        const SpecService *db = &s->services[0];
        ck_assert_str_eq(db->name, "db");
        ck_assert_str_eq(db->image, "postgres");
        ck_assert_uint_eq(strv_length(db->environment), 1);
        ck_assert_str_eq(db->environment[0], "POSTGRES_PASSWORD=pw");
        ck_assert_uint_eq(strv_length(db->volumes), 1);
        ck_assert_str_eq(db->volumes[0], "testapp-db:/var/lib/postgresql/data");
        ck_assert_uint_eq(strv_length(db->command), 2);
        ck_assert_str_eq(db->command[1], "5432");
        ck_assert(db->has_health);
        ck_assert_str_eq(db->health.test[0], "/usr/bin/pg_isready");
        ck_assert_str_eq(db->health.interval, "2s");
        ck_assert_ptr_null(db->health.timeout);
        ck_assert_uint_eq(db->health.retries, 3);     /* the default */
        const SpecService *cache = &s->services[1];
        ck_assert_str_eq(cache->name, "cache");
        ck_assert_str_eq(cache->image, "docker.io/library/redis:7");
        ck_assert(!cache->has_health);
        ck_assert_ptr_null(cache->environment);
        ck_assert_ptr_null(cache->command);

        /* no tool keys */
        ck_assert_ptr_null(s->binaries);
        ck_assert(!s->has_data);
        spec_free(s);
}
END_TEST

START_TEST(test_minimal_config)
{
        Spec *s = load_app(APP_DIR "/good-minimal.yml");
        ck_assert_str_eq(s->name, "mini");
        ck_assert_ptr_null(s->tools);
        ck_assert_uint_eq(s->n_artifacts, 1);
        ck_assert_str_eq(s->artifacts[0].source, APP_DIR "/mini.bin");
        ck_assert_uint_eq(s->n_build, 0);
        ck_assert(!s->has_health);
        ck_assert_uint_eq(s->default_port, 0);
        ck_assert_ptr_null(s->data_dir);
        ck_assert_uint_eq(s->n_services, 0);
        ck_assert_ptr_null(s->compose_env);
        spec_free(s);
}
END_TEST

/* ---- spec_load_app: bad configs ---------------------------------------- */

static const BadCase bad_cases[] = {
        { "bad-artifact-both.yml", "5:5: an 'artifacts' entry needs either 'source' (a local path) or 'url'" },
        { "bad-artifact-neither.yml", "7:5: an 'artifacts' entry needs either 'source' (a local path) or 'url'" },
        { "bad-url-ftp.yml", "6:10: 'url' must start with https://, http:// or file://, found 'ftp://example.com/x'" },
        { "bad-sha256-short.yml", "7:13: 'sha256' must be 64 lowercase hex digits, found 'abc123'" },
        { "bad-sha256-upper.yml",
          "8:7: 'sha256' must be 64 lowercase hex digits, found "
          "'0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF'" },
        { "bad-sha256-no-url.yml", "7:13: 'sha256' pins a download: it needs 'url'" },
        { "bad-port-name.yml", "6:9: 'port' must be a port number from 1 to 65535, found 'http'" },
        { "bad-port-zero.yml", "5:18: 'port' must be a port number from 1 to 65535, found '0'" },
        { "bad-health-string.yml",
          "6:9: 'test' must be a list (exec form: [/path/to/program, ARGS...]); there is no shell in the image to "
          "run a string" },
        { "bad-health-relative.yml",
          "6:9: the first word of 'test' must be the absolute path of a program in the image" },
        { "bad-health-duration.yml", "7:13: 'interval' must be a duration such as 5s, 500ms or 1m, found '5 seconds'" },
        { "bad-service-ports.yml",
          "9:7: key 'ports' is not supported in a service: services run with the app's network; set the port in "
          "'environment' or 'command'" },
        { "bad-service-name.yml", "7:5: service names must be lowercase letters, digits, '_', '-' or '.'" },
        { "bad-unknown-key.yml", "5:1: unknown key 'healthchek' in an app config (did you mean 'healthcheck'?)" },
        { "bad-env-top.yml", "5:1: key 'env' is not supported in an app config: put it under 'config: {env: ...}'" },
        { "bad-missing-version.yml", "2:1: missing required key 'version' in an app config" },
        { "bad-missing-artifacts.yml", "1:1: missing required key 'artifacts' in an app config" },
        { "bad-build-empty.yml", "6:14: 'command' must name a program" },
};

START_TEST(test_bad_config)
{
        test_check_bad_config(spec_load_app, APP_DIR, &bad_cases[_i]);
}
END_TEST

START_TEST(test_every_fixture_is_listed)
{
        test_check_fixtures_listed(APP_DIR, bad_cases, ELEMENTSOF(bad_cases));
}
END_TEST

/* ---- cache directory and lock file ------------------------------------- */

START_TEST(test_cache_dir)
{
        char *d;
        setenv("OCI_BUILD_CACHE", "/c/ob", 1);
        setenv("XDG_CACHE_HOME", "/c/xdg", 1);
        setenv("HOME", "/c/home", 1);
        d = app_cache_dir();
        ck_assert_str_eq(d, "/c/ob");
        free(d);
        setenv("OCI_BUILD_CACHE", "", 1);     /* empty: as if unset */
        d = app_cache_dir();
        ck_assert_str_eq(d, "/c/xdg/oci-build");
        free(d);
        unsetenv("OCI_BUILD_CACHE");
        unsetenv("XDG_CACHE_HOME");
        d = app_cache_dir();
        ck_assert_str_eq(d, "/c/home/.cache/oci-build");
        free(d);
        unsetenv("HOME");
        d = app_cache_dir();
        ck_assert_str_eq(d, "/tmp/.cache/oci-build");
        free(d);
        restore_env();
}
END_TEST

START_TEST(test_lock_path)
{
        _cleanup_free_ char *dir = test_dir("lockpath");
        static const char text[] = "name: l\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n";
        _cleanup_free_ char *yml = xasprintf("%s/app.yml", dir);
        _cleanup_free_ char *yaml = xasprintf("%s/other.yaml", dir);
        put_file(yml, text, 0644);
        put_file(yaml, text, 0644);
        Spec *s = load_app(yml);
        _cleanup_free_ char *lock = app_lock_path(s);
        _cleanup_free_ char *want = xasprintf("%s/app.lock", dir);
        ck_assert_str_eq(lock, want);
        spec_free(s);
        s = load_app(yaml);
        _cleanup_free_ char *lock2 = app_lock_path(s);
        _cleanup_free_ char *want2 = xasprintf("%s/other.yaml.lock", dir);
        ck_assert_str_eq(lock2, want2);
        spec_free(s);
}
END_TEST

/* ---- app_fetch --------------------------------------------------------- */

/* A directory with src/ (the "server"), cache/ ($OCI_BUILD_CACHE) and
 * app.yml whose single artifact downloads URL with the sha256 lines given. */
typedef struct FetchSetup {
        char *dir, *src, *cache, *downloads, *config, *lock;
} FetchSetup;

static void fetch_setup(FetchSetup *f, const char *name, const char *url_tail, const char *sha_yaml)
{
        f->dir = test_dir(name);
        f->src = xasprintf("%s/src", f->dir);
        f->cache = xasprintf("%s/cache", f->dir);
        f->downloads = xasprintf("%s/downloads", f->cache);
        f->config = xasprintf("%s/app.yml", f->dir);
        f->lock = xasprintf("%s/app.lock", f->dir);
        ck_assert_int_eq(mkdir(f->src, 0755), 0);
        ck_assert_int_eq(setenv("OCI_BUILD_CACHE", f->cache, 1), 0);
        _cleanup_free_ char *text = xasprintf("name: f\n"                              /* 1 */
                                              "version: \"1.0\"\n"                      /* 2 */
                                              "description: a download\n"               /* 3 */
                                              "artifacts:\n"                            /* 4 */
                                              "  - path: /app/payload\n"                /* 5 */
                                              "    url: file://%s/%s\n"                 /* 6 */
                                              "%s",
                                              f->src, url_tail, sha_yaml ? sha_yaml : "");
        put_file(f->config, text, 0644);
}

static void fetch_teardown(FetchSetup *f)
{
        free(f->dir);
        free(f->src);
        free(f->cache);
        free(f->downloads);
        free(f->config);
        free(f->lock);
        restore_env();
}

static void put_src(const FetchSetup *f, const char *name, const char *text)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", f->src, name);
        put_file(p, text, 0644);
}

START_TEST(test_fetch_unpinned)
{
        NEED_CURL();
        FetchSetup f;
        fetch_setup(&f, "fetch-unpinned", "payload-{version}-{arch}.bin", NULL);
        static const char amd[] = "payload for amd64\n", arm[] = "payload for arm64, longer\n";
        put_src(&f, "payload-1.0-amd64.bin", amd);
        put_src(&f, "payload-1.0-arm64.bin", arm);
        _cleanup_free_ char *hex_amd = hex_of(amd), *hex_arm = hex_of(arm);
        _cleanup_free_ char *url_amd = xasprintf("file://%s/payload-1.0-amd64.bin", f.src);
        _cleanup_free_ char *url_arm = xasprintf("file://%s/payload-1.0-arm64.bin", f.src);

        Spec *s = load_app(f.config);
        _cleanup_free_ char *lock = app_lock_path(s);
        ck_assert_str_eq(lock, f.lock);
        ck_assert_int_ne(access(f.lock, F_OK), 0);

        ObError e = { 0 };
        char *path = NULL;
        ck_assert_msg(app_fetch(s, &s->artifacts[0], "amd64", &path, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *want = xasprintf("%s/%s", f.downloads, hex_amd);
        ck_assert_str_eq(path, want);
        _cleanup_free_ char *got = file_text(path);
        ck_assert_str_eq(got, amd);
        free(path);
        path = NULL;
        /* only the verified file is in the cache */
        ck_assert_uint_eq(count_dir(f.downloads), 1);

        /* the digest is recorded beside the config */
        _cleanup_free_ char *lock1 = file_text(f.lock);
        ck_assert(str_startswith(lock1, "# "));
        _cleanup_free_ char *line_amd = xasprintf("\n%s %s\n", url_amd, hex_amd);
        ck_assert_msg(str_endswith(lock1, line_amd), "lock file:\n%s", lock1);

        /* another architecture: another line, the first one kept */
        ck_assert_msg(app_fetch(s, &s->artifacts[0], "arm64", &path, &e) == 0, "%s", e.msg);
        free(path);
        path = NULL;
        _cleanup_free_ char *lock2 = file_text(f.lock);
        _cleanup_free_ char *line_arm = xasprintf("\n%s %s\n", url_arm, hex_arm);
        ck_assert_msg(strstr(lock2, line_amd) && strstr(lock2, line_arm), "lock file:\n%s", lock2);
        ck_assert_uint_eq(strlen(lock2), strcspn(lock2, "\n") + strlen(line_amd) + strlen(line_arm) - 1);
        ck_assert_uint_eq(count_dir(f.downloads), 2);

        /* Served from the cache: the source is gone, a fresh load of the
         * config finds the pin in the lock file. */
        _cleanup_free_ char *src_amd = xasprintf("%s/payload-1.0-amd64.bin", f.src);
        ck_assert_int_eq(unlink(src_amd), 0);
        spec_free(s);
        s = load_app(f.config);
        ck_assert_msg(app_fetch(s, &s->artifacts[0], "amd64", &path, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(path, want);
        free(path);
        path = NULL;
        _cleanup_free_ char *lock3 = file_text(f.lock);
        ck_assert_str_eq(lock3, lock2);

        /* without the cached copy, the pin in the lock file fails the fetch */
        ck_assert_int_eq(unlink(want), 0);
        ck_assert_int_eq(app_fetch(s, &s->artifacts[0], "amd64", &path, &e), -EIO);
        ck_assert_ptr_null(path);
        ck_assert_ptr_nonnull(strstr(e.msg, url_amd));
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

START_TEST(test_fetch_pinned)
{
        NEED_CURL();
        static const char payload[] = "pinned payload\n";
        _cleanup_free_ char *hex = hex_of(payload);
        _cleanup_free_ char *sha = xasprintf("    sha256: %s\n", hex);
        FetchSetup f;
        fetch_setup(&f, "fetch-pinned", "p.bin", sha);
        put_src(&f, "p.bin", payload);
        Spec *s = load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;

        ck_assert_msg(app_fetch(s, &s->artifacts[0], "riscv64", &path, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *want = xasprintf("%s/%s", f.downloads, hex);
        ck_assert_str_eq(path, want);
        free(path);
        path = NULL;
        /* pinned in the config: nothing to record */
        ck_assert_int_ne(access(f.lock, F_OK), 0);
        /* and the next fetch does not need the source */
        _cleanup_free_ char *src = xasprintf("%s/p.bin", f.src);
        ck_assert_int_eq(unlink(src), 0);
        ck_assert_msg(app_fetch(s, &s->artifacts[0], "amd64", &path, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(path, want);
        free(path);
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

START_TEST(test_fetch_pinned_wrong)
{
        NEED_CURL();
        static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";
        _cleanup_free_ char *sha = xasprintf("    sha256:\n      arm64: %s\n      amd64: %s\n", zeros, zeros);
        FetchSetup f;
        fetch_setup(&f, "fetch-wrong", "w-{arch}.bin", sha);
        static const char payload[] = "not what the pin says\n";
        put_src(&f, "w-amd64.bin", payload);
        _cleanup_free_ char *hex = hex_of(payload);
        Spec *s = load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;

        int r = app_fetch(s, &s->artifacts[0], "amd64", &path, &e);
        ck_assert_int_eq(r, -EIO);
        ck_assert_ptr_null(path);
        _cleanup_free_ char *want = xasprintf("%s:5: artifacts: 'file://%s/w-amd64.bin' has sha256 %s, but the config "
                                              "pins %s",
                                              f.config, f.src, hex, zeros);
        ck_assert_str_eq(e.msg, want);
        /* nothing entered the cache, no partial file is left, nothing recorded */
        ck_assert_uint_eq(count_dir(f.downloads), 0);
        ck_assert(!dir_has_prefix(f.downloads, ".part-"));
        ck_assert_int_ne(access(f.lock, F_OK), 0);
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

START_TEST(test_fetch_lock_mismatch)
{
        NEED_CURL();
        static const char ones[] = "1111111111111111111111111111111111111111111111111111111111111111";
        FetchSetup f;
        fetch_setup(&f, "fetch-lock", "l.bin", NULL);
        put_src(&f, "l.bin", "changed upstream\n");
        _cleanup_free_ char *url = xasprintf("file://%s/l.bin", f.src);
        _cleanup_free_ char *lock_text = xasprintf("# pins\nfile:///elsewhere/l.bin 2222\n%s %s\n", url, ones);
        put_file(f.lock, lock_text, 0644);
        Spec *s = load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;

        ck_assert_int_eq(app_fetch(s, &s->artifacts[0], "amd64", &path, &e), -EIO);
        ck_assert_ptr_null(path);
        _cleanup_free_ char *hex = hex_of("changed upstream\n");
        _cleanup_free_ char *want = xasprintf("%s:5: artifacts: '%s' has sha256 %s, but the lock file pins %s",
                                              f.config, url, hex, ones);
        ck_assert_str_eq(e.msg, want);
        ck_assert_uint_eq(count_dir(f.downloads), 0);
        /* the lock file is left alone */
        _cleanup_free_ char *after = file_text(f.lock);
        ck_assert_str_eq(after, lock_text);
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

START_TEST(test_fetch_other_arch)
{
        /* No download at all: the pin is checked first. */
        static const char hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        _cleanup_free_ char *sha = xasprintf("    sha256: {arm64: %s}\n", hex);
        FetchSetup f;
        fetch_setup(&f, "fetch-arch", "a-{arch}.bin", sha);
        Spec *s = load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;
        ck_assert_int_eq(app_fetch(s, &s->artifacts[0], "amd64", &path, &e), -EINVAL);
        ck_assert_ptr_null(path);
        _cleanup_free_ char *want = xasprintf("%s:5: artifacts: 'sha256' has no pin for architecture 'amd64'",
                                              f.config);
        ck_assert_str_eq(e.msg, want);
        ck_assert_uint_eq(count_dir(f.cache), 0);
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

START_TEST(test_fetch_missing)
{
        NEED_CURL();
        FetchSetup f;
        fetch_setup(&f, "fetch-missing", "nothing-here.bin", NULL);
        Spec *s = load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;
        ck_assert_int_eq(app_fetch(s, &s->artifacts[0], "amd64", &path, &e), -EIO);
        ck_assert_ptr_null(path);
        _cleanup_free_ char *want = xasprintf("%s:5: artifacts: cannot download 'file://%s/nothing-here.bin': ",
                                              f.config, f.src);
        ck_assert_msg(str_startswith(e.msg, want), "got: %s\nexpected: %s...", e.msg, want);
        ck_assert(!dir_has_prefix(f.downloads, ".part-"));
        ck_assert_uint_eq(count_dir(f.downloads), 0);
        ck_assert_int_ne(access(f.lock, F_OK), 0);
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

/* ---- app_plan ---------------------------------------------------------- */

START_TEST(test_plan)
{
        NEED_CURL();
        FetchSetup f;
        fetch_setup(&f, "plan", "tool.bin", "    mode: \"0750\"\n    owner: \"1000:1000\"\n");
        put_src(&f, "tool.bin", "a downloaded program\n");
        /* a local tree with the modes of a careless checkout */
        _cleanup_free_ char *art = xasprintf("%s/site", f.dir);
        _cleanup_free_ char *sub = xasprintf("%s/site/sub", f.dir);
        _cleanup_free_ char *exe = xasprintf("%s/site/run.sh", f.dir);
        _cleanup_free_ char *txt = xasprintf("%s/site/sub/index.html", f.dir);
        ck_assert_int_eq(mkdir(art, 0700), 0);
        ck_assert_int_eq(mkdir(sub, 0700), 0);
        put_file(exe, "#!/bin/false\n", 0700);
        put_file(txt, "<p>hi</p>\n", 0600);
        /* a sysroot for 'files' */
        _cleanup_free_ char *root_dir = xasprintf("%s/root", f.dir);
        _cleanup_free_ char *etc = xasprintf("%s/root/etc", f.dir);
        _cleanup_free_ char *conf = xasprintf("%s/root/etc/app.conf", f.dir);
        ck_assert_int_eq(mkdir(root_dir, 0755), 0);
        ck_assert_int_eq(mkdir(etc, 0755), 0);
        put_file(conf, "k = v\n", 0640);
        /* append the rest of the config */
        _cleanup_free_ char *head = file_text(f.config);
        _cleanup_free_ char *text = xasprintf("%s"
                                              "  - path: /srv/site\n"
                                              "    source: site\n"
                                              "files: [/etc/app.conf]\n"
                                              "symlinks: [{path: /srv/current, target: site}]\n"
                                              "config: {user: \"1000:1001\"}\n"
                                              "defaults: {data_dir: /var/lib/app}\n",
                                              head);
        put_file(f.config, text, 0644);
        Spec *s = load_app(f.config);
        Sysroot *root = NULL;
        ObError e = { 0 };
        ck_assert_msg(sysroot_open(root_dir, &root, &e) == 0, "%s", e.msg);
        Plan p;
        plan_init(&p);
        ck_assert_msg(app_plan(s, root, "amd64", 5, true, &p, &e) == 0, "%s", e.msg);

        const Entry *dl = plan_find(&p, "app/payload");
        ck_assert_ptr_nonnull(dl);
        ck_assert_int_eq(dl->type, ENTRY_FILE);
        ck_assert_uint_eq(dl->mode, 0750);
        ck_assert_uint_eq(dl->uid, 1000);
        ck_assert_uint_eq(dl->size, strlen("a downloaded program\n"));
        ck_assert(str_startswith(dl->source, f.downloads));
        _cleanup_free_ char *why5 = xasprintf("artifact (%s:5)", f.config);
        ck_assert_str_eq(dl->why, why5);
        /* modes of a local tree normalised */
        const Entry *e1 = plan_find(&p, "srv/site");
        ck_assert_ptr_nonnull(e1);
        ck_assert_uint_eq(e1->mode, 0755);
        ck_assert_uint_eq(plan_find(&p, "srv/site/sub")->mode, 0755);
        ck_assert_uint_eq(plan_find(&p, "srv/site/run.sh")->mode, 0755);
        ck_assert_uint_eq(plan_find(&p, "srv/site/sub/index.html")->mode, 0644);
        /* from the sysroot, as they are */
        const Entry *c = plan_find(&p, "etc/app.conf");
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->mode, 0640);
        ck_assert_str_eq(plan_find(&p, "srv/current")->target, "site");
        /* the data directory belongs to the app's user */
        const Entry *d = plan_find(&p, "var/lib/app");
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(d->type, ENTRY_DIR);
        ck_assert_uint_eq(d->mode, 0750);
        ck_assert_uint_eq(d->uid, 1000);
        ck_assert_uint_eq(d->gid, 1001);
        ck_assert_str_eq(d->why, "defaults.data_dir");
        ck_assert_ptr_nonnull(plan_find(&p, "var/lib"));
        plan_clear(&p);

        /* a missing local artifact names the config line and the path */
        ck_assert_int_eq(unlink(txt), 0);
        ck_assert_int_eq(rmdir(sub), 0);
        ck_assert_int_eq(unlink(exe), 0);
        ck_assert_int_eq(rmdir(art), 0);
        ck_assert_int_eq(app_plan(s, root, "amd64", 5, true, &p, &e), -ENOENT);
        _cleanup_free_ char *want = xasprintf("%s:9: artifacts: '%s': No such file or directory", f.config, art);
        ck_assert_str_eq(e.msg, want);
        ck_assert_uint_eq(p.n, 0);

        sysroot_free(root);
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

/* ---- app_run_build ----------------------------------------------------- */

START_TEST(test_run_build)
{
        _cleanup_free_ char *dir = test_dir("build");
        _cleanup_free_ char *work = xasprintf("%s/work", dir);
        ck_assert_int_eq(mkdir(work, 0755), 0);
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        put_file(cfg,
                 "name: b\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                 "build:\n"
                 "  - command: [sh, -c, \"pwd > out.txt\"]\n"
                 "    workdir: work\n"
                 "  - command: [sh, -c, \"echo second >> work/out.txt\"]\n",
                 0644);
        Spec *s = load_app(cfg);
        ObError e = { 0 };
        ck_assert_msg(app_run_build(s, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *out = xasprintf("%s/out.txt", work);
        _cleanup_free_ char *text = file_text(out);
        _cleanup_free_ char *want = xasprintf("%s\nsecond\n", work);
        ck_assert_str_eq(text, want);
        spec_free(s);

        /* a failing step stops the build: exit status and output in the message */
        put_file(cfg,
                 "name: b\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                 "build:\n"
                 "  - command: [sh, -c, \"echo oops; echo again >&2; exit 4\"]\n"
                 "  - command: [sh, -c, \"echo never > never.txt\"]\n",
                 0644);
        s = load_app(cfg);
        ck_assert_int_eq(app_run_build(s, &e), -EIO);
        _cleanup_free_ char *want_err = xasprintf("%s: build step 'sh' failed (exit 4): oops again", cfg);
        ck_assert_str_eq(e.msg, want_err);
        _cleanup_free_ char *never = xasprintf("%s/never.txt", dir);
        ck_assert_int_ne(access(never, F_OK), 0);
        spec_free(s);
}
END_TEST

/* ---- app_check_health -------------------------------------------------- */

static void add_file(Plan *p, const char *path)
{
        ObError e = { 0 };
        Entry en = { .path = (char *) path, .type = ENTRY_FILE, .mode = 0755, .size = 1, .data = (char *) "x" };
        ck_assert_msg(plan_add(p, &en, &e) == 0, "%s", e.msg);
}

START_TEST(test_check_health)
{
        Spec *s = load_app(APP_DIR "/good.yml");
        Plan base, tool, app;
        plan_init(&base);
        plan_init(&tool);
        plan_init(&app);
        add_file(&base, "/etc/passwd");
        add_file(&tool, "/usr/bin/pg_isready");
        const Plan *layers[] = { &base, &tool, &app };
        ObError e = { 0 };

        /* absent from every layer; the services' programs do not count */
        ck_assert_int_eq(app_check_health(s, layers, 3, &e), -ENOENT);
        _cleanup_free_ char *want = xasprintf("%s:38: healthcheck runs '/app/bin/testapp', which is not in the image "
                                              "(there is no shell either: name a program of the image or of one "
                                              "of its tools)",
                                              s->file);
        ck_assert_str_eq(e.msg, want);
        /* a layer not passed in does not count either */
        add_file(&app, "/app/bin/testapp");
        ck_assert_int_eq(app_check_health(s, layers, 2, &e), -ENOENT);
        /* present in the last layer */
        ck_assert_msg(app_check_health(s, layers, 3, &e) == 0, "%s", e.msg);
        /* only the layers passed in are searched */
        const Plan *tool_first[] = { &app, &base };
        ck_assert_msg(app_check_health(s, tool_first, 1, &e) == 0, "%s", e.msg);
        spec_free(s);

        /* no healthcheck: nothing to check */
        s = load_app(APP_DIR "/good-minimal.yml");
        ck_assert_int_eq(app_check_health(s, layers, 0, &e), 0);
        spec_free(s);
        plan_clear(&base);
        plan_clear(&tool);
        plan_clear(&app);
}
END_TEST

/* ---- app_compose, read back -------------------------------------------- */

/* libyaml's document as JSON; every scalar a string. */
static json_t *yaml_node_json(yaml_document_t *doc, yaml_node_t *n)
{
        switch (n->type) {
        case YAML_SCALAR_NODE:
                return json_stringn((const char *) n->data.scalar.value, n->data.scalar.length);
        case YAML_SEQUENCE_NODE: {
                json_t *a = json_array();
                for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
                        json_array_append_new(a, yaml_node_json(doc, yaml_document_get_node(doc, *it)));
                return a;
        }
        case YAML_MAPPING_NODE: {
                json_t *o = json_object();
                for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                        yaml_node_t *k = yaml_document_get_node(doc, p->key);
                        ck_assert_int_eq(k->type, YAML_SCALAR_NODE);
                        const char *key = (const char *) k->data.scalar.value;
                        ck_assert_msg(!json_object_get(o, key), "duplicate key '%s'", key);
                        json_object_set_new(o, key, yaml_node_json(doc, yaml_document_get_node(doc, p->value)));
                }
                return o;
        }
        default:
                ck_abort_msg("empty YAML node");
        }
        return NULL;
}

static json_t *parse_libyaml(const char *text)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        ck_assert(yaml_parser_initialize(&parser));
        yaml_parser_set_input_string(&parser, (const unsigned char *) text, strlen(text));
        int ok = yaml_parser_load(&parser, &doc);
        ck_assert_msg(ok, "libyaml: %s at line %zu", parser.problem ? parser.problem : "?",
                      parser.problem_mark.line + 1);
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        ck_assert_ptr_nonnull(root);
        json_t *j = yaml_node_json(&doc, root);
        yaml_document_delete(&doc);
        /* exactly one document */
        yaml_document_t next;
        ck_assert(yaml_parser_load(&parser, &next));
        ck_assert_ptr_null(yaml_document_get_root_node(&next));
        yaml_document_delete(&next);
        yaml_parser_delete(&parser);
        return j;
}

/* A python3 that has PyYAML, found once: the system's first, then the one
 * on PATH (a version manager's wrapper can take a second to start; the
 * interpreter behind it does not, so that is what is kept). */
static char *pyyaml_python;

static bool try_pyyaml(const char *python)
{
        _cleanup_free_ char *cmd = xasprintf("%s -c 'import sys, yaml; print(sys.executable)' 2>/dev/null", python);
        FILE *f = popen(cmd, "r");
        if (!f)
                return false;
        char line[4096] = "";
        bool got = fgets(line, sizeof(line), f) != NULL;
        if (pclose(f) != 0 || !got)
                return false;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '/' || strchr(line, '\''))
                return false;
        pyyaml_python = xstrdup(line);
        return true;
}

static void find_pyyaml(void)
{
        if (access("/usr/bin/python3", X_OK) == 0 && try_pyyaml("/usr/bin/python3"))
                return;
        try_pyyaml("python3");
}

static bool have_pyyaml(void)
{
        return pyyaml_python != NULL;
}

/* PyYAML's reading, through JSON. */
static json_t *parse_pyyaml(const char *text, const char *name)
{
        _cleanup_free_ char *in = xasprintf("%s/%s.yml", tmp_dir, name);
        _cleanup_free_ char *out = xasprintf("%s/%s.json", tmp_dir, name);
        put_file(in, text, 0644);
        _cleanup_free_ char *cmd = xasprintf("'%s' -c 'import json, sys, yaml; "
                                             "json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], \"w\"))' "
                                             "'%s' '%s'",
                                             pyyaml_python, in, out);
        ck_assert_msg(system(cmd) == 0, "PyYAML could not read the compose file");
        json_error_t jerr;
        json_t *j = json_load_file(out, 0, &jerr);
        ck_assert_msg(j != NULL, "%s", jerr.text);
        unlink(in);
        unlink(out);
        return j;
}

/* A scalar as text, whichever parser typed it. */
static char *scalar_text(json_t *v)
{
        ck_assert_ptr_nonnull(v);
        if (json_is_string(v))
                return xstrdup(json_string_value(v));
        if (json_is_integer(v))
                return xasprintf("%lld", (long long) json_integer_value(v));
        ck_abort_msg("not a scalar");
        return NULL;
}

static json_t *at(json_t *o, const char *path)
{
        /* "services.db.image" */
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        json_t *cur = o;
        for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
                ck_assert_msg(json_is_object(cur), "'%s': '%s' is not in a mapping", path, t);
                cur = json_object_get(cur, t);
                ck_assert_msg(cur != NULL, "'%s' is missing", path);
        }
        return cur;
}

static bool has(json_t *o, const char *path)
{
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        json_t *cur = o;
        for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
                if (!json_is_object(cur))
                        return false;
                cur = json_object_get(cur, t);
                if (!cur)
                        return false;
        }
        return true;
}

static void expect_str(json_t *o, const char *path, const char *want)
{
        _cleanup_free_ char *got = scalar_text(at(o, path));
        ck_assert_msg(strcmp(got, want) == 0, "'%s' is '%s', expected '%s'", path, got, want);
}

/* A list of scalars, compared with want (NULL-terminated). */
static void expect_list(json_t *o, const char *path, const char *const *want)
{
        json_t *a = at(o, path);
        ck_assert_msg(json_is_array(a), "'%s' is not a list", path);
        size_t n = 0;
        while (want[n])
                n++;
        ck_assert_msg(json_array_size(a) == n, "'%s' has %zu items, expected %zu", path, json_array_size(a), n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *got = scalar_text(json_array_get(a, i));
                ck_assert_msg(strcmp(got, want[i]) == 0, "'%s'[%zu] is '%s', expected '%s'", path, i, got, want[i]);
        }
}

static void check_compose(json_t *doc, bool host)
{
        ck_assert(json_is_object(doc));
        expect_str(doc, "version", "2.4");
        json_t *svcs = at(doc, "services");
        ck_assert_uint_eq(json_object_size(svcs), 3);

        /* the app */
        expect_str(doc, "services.testapp.image", "distroless-testapp:1.0.0");
        if (host) {
                expect_str(doc, "services.testapp.network_mode", "host");
                expect_str(doc, "services.db.network_mode", "host");
                expect_str(doc, "services.cache.network_mode", "host");
                ck_assert(!has(doc, "services.testapp.ports"));
        } else {
                static const char *const ports[] = { "8080:8080", NULL };
                expect_list(doc, "services.testapp.ports", ports);
                ck_assert(!has(doc, "services.testapp.network_mode"));
                ck_assert(!has(doc, "services.db.network_mode"));
                ck_assert(!has(doc, "services.db.ports"));
        }
        /* the image's env, overridden by the compose settings, quotes and
         * colons intact */
        ck_assert_uint_eq(json_object_size(at(doc, "services.testapp.environment")), 3);
        expect_str(doc, "services.testapp.environment.PORT", "8080");
        expect_str(doc, "services.testapp.environment.DB", "postgres://u:p@${DB_HOST:-db}:5432/x");
        expect_str(doc, "services.testapp.environment.QUOTED", "he said \"hi\": ok # not a comment");
        static const char *const vols[] = { "testapp-data:/app/data", NULL };
        expect_list(doc, "services.testapp.volumes", vols);
        static const char *const test[] = { "CMD", "/app/bin/testapp", "health", "--quiet", NULL };
        expect_list(doc, "services.testapp.healthcheck.test", test);
        expect_str(doc, "services.testapp.healthcheck.interval", "10s");
        expect_str(doc, "services.testapp.healthcheck.timeout", "1m30s");
        expect_str(doc, "services.testapp.healthcheck.start_period", "500ms");
        expect_str(doc, "services.testapp.healthcheck.retries", "5");
        ck_assert_uint_eq(json_object_size(at(doc, "services.testapp.depends_on")), 2);
        expect_str(doc, "services.testapp.depends_on.db.condition", "service_healthy");
        expect_str(doc, "services.testapp.depends_on.cache.condition", "service_started");
        expect_str(doc, "services.testapp.restart", "unless-stopped");

        /* the services */
        expect_str(doc, "services.db.image", "distroless-postgres:1.0");
        static const char *const cmd[] = { "-p", "5432", NULL };
        expect_list(doc, "services.db.command", cmd);
        expect_str(doc, "services.db.environment.POSTGRES_PASSWORD", "pw");
        static const char *const dbvols[] = { "testapp-db:/var/lib/postgresql/data", NULL };
        expect_list(doc, "services.db.volumes", dbvols);
        static const char *const dbtest[] = { "CMD", "/usr/bin/pg_isready", "-q", NULL };
        expect_list(doc, "services.db.healthcheck.test", dbtest);
        expect_str(doc, "services.db.healthcheck.interval", "2s");
        expect_str(doc, "services.db.healthcheck.timeout", "5s");
        expect_str(doc, "services.db.healthcheck.retries", "3");
        ck_assert(!has(doc, "services.db.healthcheck.start_period"));
        expect_str(doc, "services.cache.image", "docker.io/library/redis:7");
        ck_assert(!has(doc, "services.cache.healthcheck"));
        ck_assert(!has(doc, "services.cache.depends_on"));
        ck_assert(!has(doc, "services.cache.environment"));

        /* named volumes are declared */
        json_t *v = at(doc, "volumes");
        ck_assert_uint_eq(json_object_size(v), 2);
        ck_assert(has(doc, "volumes.testapp-data"));
        ck_assert(has(doc, "volumes.testapp-db"));
}

START_TEST(test_compose)
{
        Spec *s = load_app(APP_DIR "/good.yml");
        char *images[] = { (char *) "distroless-postgres:1.0", (char *) "docker.io/library/redis:7" };
        for (int host = 0; host <= 1; host++) {
                ComposeOptions o = { .host_network = host, .app_tag = "distroless-testapp:1.0.0",
                                     .service_images = images };
                _cleanup_free_ char *text = app_compose(s, &o);
                ck_assert_ptr_nonnull(text);
                /* the comment names what to save: the app and its distroless services */
                ck_assert_msg(strstr(text, "oci-build save testapp postgres -o images.tar") != NULL, "%s", text);

                json_t *doc = parse_libyaml(text);
                check_compose(doc, host);
                json_decref(doc);
                if (have_pyyaml()) {
                        doc = parse_pyyaml(text, host ? "compose-host" : "compose");
                        check_compose(doc, host);
                        json_decref(doc);
                }
        }
        spec_free(s);
        if (!have_pyyaml())
                test_skip("PyYAML (python3-yaml) missing: the compose files were read with libyaml only");
}
END_TEST

START_TEST(test_compose_values)
{
        /* Values YAML would otherwise read as something else. */
        _cleanup_free_ char *dir = test_dir("compose-values");
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        put_file(cfg,
                 "name: v\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                 "config:\n"
                 "  env:\n"
                 "    TRICKY: \"a \\\"quoted\\\": 'b' \\\\ back\\nnew line\\ttab #c & *d {e: f} [g] \\u00e9\"\n"
                 "    BOOL: \"yes\"\n"
                 "    NUM: \"0755\"\n"
                 "    NUL: \"null\"\n"
                 "    EMPTY: \"\"\n"
                 "    LEAD: \"- dash\"\n",
                 0644);
        Spec *s = load_app(cfg);
        ComposeOptions o = { .app_tag = "reg.example:5000/v:1", .service_images = NULL };
        _cleanup_free_ char *text = app_compose(s, &o);
        static const struct {
                const char *key, *value;
        } want[] = {
                { "TRICKY", "a \"quoted\": 'b' \\ back\nnew line\ttab #c & *d {e: f} [g] \xc3\xa9" },
                { "BOOL", "yes" },
                { "NUM", "0755" },
                { "NUL", "null" },
                { "EMPTY", "" },
                { "LEAD", "- dash" },
        };
        json_t *docs[2] = { parse_libyaml(text), have_pyyaml() ? parse_pyyaml(text, "values") : NULL };
        for (size_t k = 0; k < 2 && docs[k]; k++) {
                json_t *env = at(docs[k], "services.v.environment");
                ck_assert_uint_eq(json_object_size(env), ELEMENTSOF(want));
                for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                        json_t *v = json_object_get(env, want[i].key);
                        ck_assert_msg(json_is_string(v), "%s: not a string", want[i].key);
                        ck_assert_msg(strcmp(json_string_value(v), want[i].value) == 0, "%s: '%s'", want[i].key,
                                      json_string_value(v));
                }
                expect_str(docs[k], "services.v.image", "reg.example:5000/v:1");
                /* nothing the app does not have */
                ck_assert(!has(docs[k], "volumes"));
                ck_assert(!has(docs[k], "services.v.ports"));
                ck_assert(!has(docs[k], "services.v.healthcheck"));
                ck_assert(!has(docs[k], "services.v.depends_on"));
                ck_assert_uint_eq(json_object_size(at(docs[k], "services")), 1);
                json_decref(docs[k]);
        }
        spec_free(s);
        if (!have_pyyaml())
                test_skip("PyYAML (python3-yaml) missing: the compose file was read with libyaml only");
}
END_TEST

static Suite *app_suite(void)
{
        Suite *s = suite_create("app");
        TCase *tc = tcase_create("load");
        tcase_add_test(tc, test_good_config);
        tcase_add_test(tc, test_minimal_config);
        tcase_add_loop_test(tc, test_bad_config, 0, (int) ELEMENTSOF(bad_cases));
        tcase_add_test(tc, test_every_fixture_is_listed);
        suite_add_tcase(s, tc);

        tc = tcase_create("fetch");
        tcase_add_test(tc, test_cache_dir);
        tcase_add_test(tc, test_lock_path);
        tcase_add_test(tc, test_fetch_unpinned);
        tcase_add_test(tc, test_fetch_pinned);
        tcase_add_test(tc, test_fetch_pinned_wrong);
        tcase_add_test(tc, test_fetch_lock_mismatch);
        tcase_add_test(tc, test_fetch_other_arch);
        tcase_add_test(tc, test_fetch_missing);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("layer");
        tcase_add_test(tc, test_plan);
        tcase_add_test(tc, test_run_build);
        tcase_add_test(tc, test_check_health);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("compose");
        tcase_add_test(tc, test_compose);
        tcase_add_test(tc, test_compose_values);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        const char *tmp = getenv("TMPDIR");
        tmp_dir = xasprintf("%s/test-app-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmp_dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        have_curl = system("curl --version >/dev/null 2>&1") == 0;
        ob_verbosity = -1;
        save_env();
        find_pyyaml();

        int status = test_run(app_suite());

        test_rm_rf(tmp_dir);
        free(tmp_dir);
        for (size_t i = 0; i < 3; i++)
                free(saved_env[i]);
        free(pyyaml_python);
        return status;
}
