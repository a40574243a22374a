/* SPDX-License-Identifier: MIT */
/* Verified downloads: the cache directory, the lock file beside a config,
 * and fetches of file:// URLs by the host's curl (skipped without it),
 * described by app configs as they would be in a build. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "download.h"
#include "fs.h"
#include "log.h"
#include "spec.h"
#include "testutil.h"
#include "util.h"

static char *tmp_dir; /* everything the tests write */
static bool have_curl;

/* ---- helpers ---------------------------------------------------------- */

#define NEED_CURL()                                                                 \
        do {                                                                        \
                if (!have_curl)                                                     \
                        test_skip("curl not found on PATH (the downloads run it)"); \
        } while (0)

/* A fresh directory for one test. */
static char *test_dir(const char *name)
{
        char *p = xasprintf("%s/%s", tmp_dir, name);
        ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
        return p;
}

/* Entries of a directory, hidden ones (the copies a fetch hands out, checked
 * apart) aside; 0 when it does not exist. */
static size_t count_dir(const char *path)
{
        DIR *d = opendir(path);
        if (!d)
                return 0;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
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

/* The first artifact of an app config, downloaded for arch as an app
 * build downloads it. */
static int fetch(const Spec *s, const char *arch, char **ret_path, ObError *err)
{
        const SpecArtifact *a = &s->artifacts[0];
        _cleanup_free_ char *lock = download_lock_path(s->file);
        DownloadRequest req = { .url = a->url,
                                .version = s->version,
                                .arch = arch,
                                .sha256 = a->sha256,
                                .lock = lock,
                                .owner = s->name,
                                .file = s->file,
                                .line = a->line,
                                .key = "artifacts" };
        return download_fetch(&req, /* flags= */ 0, ret_path, err);
}

/* ---- cache directory and lock file ------------------------------------- */

START_TEST(test_cache_dir)
{
        char *d;
        setenv("OCI_BUILD_CACHE", "/c/ob", 1);
        setenv("XDG_CACHE_HOME", "/c/xdg", 1);
        setenv("HOME", "/c/home", 1);
        d = download_cache_dir();
        ck_assert_str_eq(d, "/c/ob");
        free(d);
        setenv("OCI_BUILD_CACHE", "", 1); /* empty: as if unset */
        d = download_cache_dir();
        ck_assert_str_eq(d, "/c/xdg/oci-build");
        free(d);
        unsetenv("OCI_BUILD_CACHE");
        unsetenv("XDG_CACHE_HOME");
        d = download_cache_dir();
        ck_assert_str_eq(d, "/c/home/.cache/oci-build");
        free(d);
        unsetenv("HOME");
        d = download_cache_dir();
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
        test_put_file(yml, text, 0644);
        test_put_file(yaml, text, 0644);
        Spec *s = test_load_app(yml);
        _cleanup_free_ char *lock = download_lock_path(s->file);
        _cleanup_free_ char *want = xasprintf("%s/app.lock", dir);
        ck_assert_str_eq(lock, want);
        spec_free(s);
        s = test_load_app(yaml);
        _cleanup_free_ char *lock2 = download_lock_path(s->file);
        _cleanup_free_ char *want2 = xasprintf("%s/other.yaml.lock", dir);
        ck_assert_str_eq(lock2, want2);
        spec_free(s);
}
END_TEST

/* ---- download_fetch ---------------------------------------------------- */

/* A fetch hands out a copy of the verified bytes, not the cache entry. */
static void expect_verified(const char *path, const char *cache_entry, const char *text)
{
        ck_assert_msg(strcmp(path, cache_entry) != 0, "'%s' is the cache entry itself", path);
        _cleanup_free_ char *got = test_file_text(path);
        ck_assert_str_eq(got, text);
        _cleanup_free_ char *cached = test_file_text(cache_entry);
        ck_assert_str_eq(cached, text);
}

/* Replaces the cache entry as another process could, after verification. */
static void swap_cache_entry(const char *cache_entry, const char *text)
{
        _cleanup_free_ char *other = xasprintf("%s.swap", cache_entry);
        test_put_file(other, text, 0644);
        ck_assert_int_eq(rename(other, cache_entry), 0);
}

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
        _cleanup_free_ char *text = xasprintf("name: f\n"                 /* 1 */
                                              "version: \"1.0\"\n"        /* 2 */
                                              "description: a download\n" /* 3 */
                                              "artifacts:\n"              /* 4 */
                                              "  - path: /app/payload\n"  /* 5 */
                                              "    url: file://%s/%s\n"   /* 6 */
                                              "%s",
                                              f->src, url_tail, sha_yaml ? sha_yaml : "");
        test_put_file(f->config, text, 0644);
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
        test_put_file(p, text, 0644);
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

        Spec *s = test_load_app(f.config);
        _cleanup_free_ char *lock = download_lock_path(s->file);
        ck_assert_str_eq(lock, f.lock);
        ck_assert_int_ne(access(f.lock, F_OK), 0);

        ObError e = { 0 };
        char *path = NULL;
        ck_assert_msg(fetch(s, "amd64", &path, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *want = xasprintf("%s/%s", f.downloads, hex_amd);
        expect_verified(path, want, amd);
        free(path);
        path = NULL;
        /* only the verified file is in the cache */
        ck_assert_uint_eq(count_dir(f.downloads), 1);

        /* the digest is recorded beside the config */
        _cleanup_free_ char *lock1 = test_file_text(f.lock);
        ck_assert(str_startswith(lock1, "# "));
        _cleanup_free_ char *line_amd = xasprintf("\n%s %s\n", url_amd, hex_amd);
        ck_assert_msg(str_endswith(lock1, line_amd), "lock file:\n%s", lock1);

        /* another architecture: another line, the first one kept */
        ck_assert_msg(fetch(s, "arm64", &path, &e) == 0, "%s", e.msg);
        free(path);
        path = NULL;
        _cleanup_free_ char *lock2 = test_file_text(f.lock);
        _cleanup_free_ char *line_arm = xasprintf("\n%s %s\n", url_arm, hex_arm);
        ck_assert_msg(strstr(lock2, line_amd) && strstr(lock2, line_arm), "lock file:\n%s", lock2);
        ck_assert_uint_eq(strlen(lock2), strcspn(lock2, "\n") + strlen(line_amd) + strlen(line_arm) - 1);
        ck_assert_uint_eq(count_dir(f.downloads), 2);

        /* Served from the cache: the source is gone, a fresh load of the
         * config finds the pin in the lock file. */
        _cleanup_free_ char *src_amd = xasprintf("%s/payload-1.0-amd64.bin", f.src);
        ck_assert_int_eq(unlink(src_amd), 0);
        spec_free(s);
        s = test_load_app(f.config);
        ck_assert_msg(fetch(s, "amd64", &path, &e) == 0, "%s", e.msg);
        expect_verified(path, want, amd);
        free(path);
        path = NULL;
        _cleanup_free_ char *lock3 = test_file_text(f.lock);
        ck_assert_str_eq(lock3, lock2);

        /* without the cached copy, the pin in the lock file fails the fetch */
        ck_assert_int_eq(unlink(want), 0);
        ck_assert_int_eq(fetch(s, "amd64", &path, &e), -EIO);
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
        Spec *s = test_load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;

        ck_assert_msg(fetch(s, "riscv64", &path, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *want = xasprintf("%s/%s", f.downloads, hex);
        expect_verified(path, want, payload);
        /* what was verified is what is used, whatever the cache holds since */
        swap_cache_entry(want, "swapped after verification\n");
        _cleanup_free_ char *used = test_file_text(path);
        ck_assert_str_eq(used, payload);
        free(path);
        path = NULL;
        test_put_file(want, payload, 0644);
        /* pinned in the config: nothing to record */
        ck_assert_int_ne(access(f.lock, F_OK), 0);
        /* and the next fetch does not need the source */
        _cleanup_free_ char *src = xasprintf("%s/p.bin", f.src);
        ck_assert_int_eq(unlink(src), 0);
        ck_assert_msg(fetch(s, "amd64", &path, &e) == 0, "%s", e.msg);
        expect_verified(path, want, payload);
        /* served from the cache, the same */
        swap_cache_entry(want, "swapped after verification\n");
        _cleanup_free_ char *used2 = test_file_text(path);
        ck_assert_str_eq(used2, payload);
        free(path);
        path = NULL;
        /* a damaged entry is noticed when it is read: downloaded again, or
         * (without the source) an error, never used */
        ck_assert_int_eq(fetch(s, "amd64", &path, &e), -EIO);
        ck_assert_ptr_null(path);
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
        Spec *s = test_load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;

        int r = fetch(s, "amd64", &path, &e);
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
        _cleanup_free_ char *lock_text = xasprintf("# pins\nfile:///elsewhere/l.bin %s\n%s %s\n", ones, url, ones);
        test_put_file(f.lock, lock_text, 0644);
        Spec *s = test_load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;

        ck_assert_int_eq(fetch(s, "amd64", &path, &e), -EIO);
        ck_assert_ptr_null(path);
        _cleanup_free_ char *hex = hex_of("changed upstream\n");
        _cleanup_free_ char *want =
                xasprintf("%s:5: artifacts: '%s' has sha256 %s, but the lock file pins %s", f.config, url, hex, ones);
        ck_assert_str_eq(e.msg, want);
        ck_assert_uint_eq(count_dir(f.downloads), 0);
        /* the lock file is left alone */
        _cleanup_free_ char *after = test_file_text(f.lock);
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
        Spec *s = test_load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;
        ck_assert_int_eq(fetch(s, "amd64", &path, &e), -EINVAL);
        ck_assert_ptr_null(path);
        _cleanup_free_ char *want =
                xasprintf("%s:5: artifacts: 'sha256' has no pin for architecture 'amd64'", f.config);
        ck_assert_str_eq(e.msg, want);
        ck_assert_uint_eq(count_dir(f.cache), 0);
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

START_TEST(test_fetch_url_arch)
{
        /* A release that names the architecture its own way (node's x64):
         * the URL gets that name, the pin stays keyed by the OCI name. */
        NEED_CURL();
        static const char x64[] = "a release for x64\n";
        _cleanup_free_ char *hex = hex_of(x64);
        _cleanup_free_ char *sha = xasprintf("    sha256: {amd64: %s}\n", hex);
        FetchSetup f;
        fetch_setup(&f, "fetch-url-arch", "r-{arch}.tar.xz", sha);
        put_src(&f, "r-x64.tar.xz", x64);
        put_src(&f, "r-amd64.tar.xz", "not this one\n");
        Spec *s = test_load_app(f.config);
        _cleanup_free_ char *url = xasprintf("file://%s/r-{arch}.tar.xz", f.src);
        DownloadRequest req = { .url = url,
                                .version = "1.0",
                                .arch = "amd64",
                                .url_arch = "x64",
                                .sha256 = s->artifacts[0].sha256,
                                .lock = f.lock,
                                .owner = "f",
                                .file = f.config,
                                .line = 5,
                                .key = "artifacts" };
        ObError e = { 0 };
        _cleanup_free_ char *path = NULL;
        ck_assert_msg(download_fetch(&req, 0, &path, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *got = test_file_text(path);
        ck_assert_str_eq(got, x64);
        ck_assert_int_ne(access(f.lock, F_OK), 0); /* pinned by the config: no lock file */
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

START_TEST(test_fetch_missing)
{
        NEED_CURL();
        FetchSetup f;
        fetch_setup(&f, "fetch-missing", "nothing-here.bin", NULL);
        Spec *s = test_load_app(f.config);
        ObError e = { 0 };
        char *path = NULL;
        ck_assert_int_eq(fetch(s, "amd64", &path, &e), -EIO);
        ck_assert_ptr_null(path);
        _cleanup_free_ char *want =
                xasprintf("%s:5: artifacts: cannot download 'file://%s/nothing-here.bin': ", f.config, f.src);
        ck_assert_msg(str_startswith(e.msg, want), "got: %s\nexpected: %s...", e.msg, want);
        ck_assert(!dir_has_prefix(f.downloads, ".part-"));
        ck_assert_uint_eq(count_dir(f.downloads), 0);
        ck_assert_int_ne(access(f.lock, F_OK), 0);
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

START_TEST(test_fetch_lock_bad)
{
        /* A lock file that is not all pins is an error naming its line: a
         * line skipped would leave the URL unpinned, and a second line for a
         * URL would make the pin depend on which is read. Nothing is
         * downloaded, the lock file is left alone. */
        static const char ones[] = "1111111111111111111111111111111111111111111111111111111111111111";
        static const char twos[] = "2222222222222222222222222222222222222222222222222222222222222222";
        FetchSetup f;
        fetch_setup(&f, "fetch-lock-bad", "b.bin", NULL);
        put_src(&f, "b.bin", "whatever the server sends\n");
        _cleanup_free_ char *url = xasprintf("file://%s/b.bin", f.src);
        Spec *s = test_load_app(f.config);
        struct {
                char *text;
                size_t line;
                const char *what;
        } cases[] = {
                { xasprintf("# pins\n%s junk\n%s %s\n", url, url, ones), 2, "not a pin" },
                { xasprintf("%s %s\njunk\n", url, ones), 2, "not a pin" },
                { xasprintf("%s %s\n", url, "ABCDEF"), 1, "not a pin" },
                { xasprintf("%s  %s\n", url, ones), 1, "not a pin" },
                { xasprintf("%s %s extra\n", url, ones), 1, "not a pin" },
                { xasprintf("%s %s\r\n", url, ones), 1, "not a pin" },
                { xasprintf("%s\n", url), 1, "not a pin" },
                { xasprintf(" %s\n", ones), 1, "not a pin" },
                { xasprintf("# pins\n%s %s\n%s %s\n", url, ones, url, twos), 3, "a second pin for" },
                { xasprintf("a %s\n\na %s\n", ones, ones), 3, "a second pin for 'a' (the first is on line 1)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                test_put_file(f.lock, cases[i].text, 0644);
                ObError e = { 0 };
                char *path = NULL;
                ck_assert_int_eq(fetch(s, "amd64", &path, &e), -EINVAL);
                ck_assert_ptr_null(path);
                _cleanup_free_ char *where = xasprintf("%s:%zu: %s", f.lock, cases[i].line, cases[i].what);
                ck_assert_msg(str_startswith(e.msg, where), "case %zu: '%s', expected '%s...'", i, e.msg, where);
                ck_assert_uint_eq(count_dir(f.downloads), 0);
                _cleanup_free_ char *after = test_file_text(f.lock);
                ck_assert_str_eq(after, cases[i].text);
                free(cases[i].text);
        }
        spec_free(s);
        fetch_teardown(&f);
}
END_TEST

static Suite *download_suite(void)
{
        Suite *s = suite_create("download");
        TCase *tc = tcase_create("fetch");
        tcase_add_test(tc, test_cache_dir);
        tcase_add_test(tc, test_lock_path);
        tcase_add_test(tc, test_fetch_unpinned);
        tcase_add_test(tc, test_fetch_pinned);
        tcase_add_test(tc, test_fetch_pinned_wrong);
        tcase_add_test(tc, test_fetch_lock_mismatch);
        tcase_add_test(tc, test_fetch_lock_bad);
        tcase_add_test(tc, test_fetch_other_arch);
        tcase_add_test(tc, test_fetch_url_arch);
        tcase_add_test(tc, test_fetch_missing);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        const char *tmp = getenv("TMPDIR");
        tmp_dir = xasprintf("%s/test-download-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmp_dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        have_curl = system("curl --version >/dev/null 2>&1") == 0;
        ob_verbosity = -1;
        save_env();

        int status = test_run(download_suite());

        test_rm_rf(tmp_dir);
        free(tmp_dir);
        for (size_t i = 0; i < 3; i++)
                free(saved_env[i]);
        return status;
}
