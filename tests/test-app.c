/* SPDX-License-Identifier: MIT */
/* The app tier: loading app configs (and the exact message for each kind of
 * mistake), the app layer (its download fetched from a file:// URL by the
 * host's curl; skipped without it), build steps and the healthcheck program
 * check. Downloads are tested in test-download.c, compose files in
 * test-compose.c. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "fs.h"
#include "log.h"
#include "plan.h"
#include "spec.h"
#include "sysroot.h"
#include "testutil.h"
#include "util.h"

#define APP_DIR TEST_DATA_DIR "/app"

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
        Spec *s = test_load_app(APP_DIR "/good.yml");
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
        /* inputs and outputs: relative to the workdir, normalised */
        ck_assert_ptr_null(s->build[0].inputs);
        ck_assert_ptr_null(s->build[0].outputs);
        ck_assert_uint_eq(strv_length(s->build[1].inputs), 3);
        ck_assert_str_eq(s->build[1].inputs[0], "package.json");
        ck_assert_str_eq(s->build[1].inputs[1], "src");
        ck_assert_str_eq(s->build[1].inputs[2], ".");
        ck_assert_uint_eq(s->build[1].input_lines[0], 25);
        ck_assert_uint_eq(strv_length(s->build[1].outputs), 1);
        ck_assert_str_eq(s->build[1].outputs[0], "dist");
        ck_assert_uint_eq(s->build[1].line, 23);
        ck_assert_uint_eq(strlen(s->build[1].config_sha256), 64);
        ck_assert_str_ne(s->build[0].config_sha256, s->build[1].config_sha256);

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
        ck_assert_uint_eq(db->health.retries, 3); /* the default */
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
        Spec *s = test_load_app(APP_DIR "/good-minimal.yml");
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
        { "bad-sha256-upper.yml", "8:7: 'sha256' must be 64 lowercase hex digits, found "
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
        { "bad-build-inputs-abs.yml",
          "7:28: items of 'inputs' must be paths inside the workdir, relative to it and without '..', found "
          "'/etc'" },
        { "bad-build-inputs-dotdot.yml",
          "7:14: items of 'inputs' must be paths inside the workdir, relative to it and without '..', found "
          "'../x'" },
        { "bad-build-outputs-dotdot.yml",
          "8:15: items of 'outputs' must be paths inside the workdir, relative to it and without '..', found "
          "'node_modules/../../y'" },
        { "bad-build-outputs-alone.yml",
          "7:14: 'outputs' needs 'inputs': a step reruns when what it reads changes, so name that too" },
        { "bad-build-inputs-empty.yml",
          "7:13: 'inputs' must name at least one path (without 'inputs', the whole workdir is the step's input)" },
        { "bad-build-inputs-string.yml",
          "7:13: 'inputs' must be a list of paths relative to the workdir, found a scalar" },
        { "bad-build-env-name.yml",
          "7:22: names of 'env' must be letters, digits and '_', not starting with a digit, found '1BAD'" },
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

/* ---- app_plan ---------------------------------------------------------- */

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
        test_put_file(exe, "#!/bin/false\n", 0700);
        test_put_file(txt, "<p>hi</p>\n", 0600);
        /* a sysroot for 'files' */
        _cleanup_free_ char *root_dir = xasprintf("%s/root", f.dir);
        _cleanup_free_ char *etc = xasprintf("%s/root/etc", f.dir);
        _cleanup_free_ char *conf = xasprintf("%s/root/etc/app.conf", f.dir);
        ck_assert_int_eq(mkdir(root_dir, 0755), 0);
        ck_assert_int_eq(mkdir(etc, 0755), 0);
        test_put_file(conf, "k = v\n", 0640);
        /* append the rest of the config */
        _cleanup_free_ char *head = test_file_text(f.config);
        _cleanup_free_ char *text = xasprintf("%s"
                                              "  - path: /srv/site\n"
                                              "    source: site\n"
                                              "files: [/etc/app.conf]\n"
                                              "symlinks: [{path: /srv/current, target: site}]\n"
                                              "config: {user: \"1000:1001\"}\n"
                                              "defaults: {data_dir: /var/lib/app}\n",
                                              head);
        test_put_file(f.config, text, 0644);
        Spec *s = test_load_app(f.config);
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

/* An artifact compiled on the host, dynamically linked: its interpreter and
 * libc come from the sysroot, "needed by" it, unless a layer below has them. */
START_TEST(test_plan_elf_artifact)
{
        _cleanup_free_ char *dir = test_dir("elf");
        _cleanup_free_ char *src = xasprintf("%s/hello.c", dir);
        test_put_file(src, "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n", 0644);
        _cleanup_free_ char *cc = xasprintf("cc -o %s/hello %s 2>/dev/null", dir, src);
        if (system(cc) != 0)
                test_skip("no C compiler (cc) to build the artifact");
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        test_put_file(cfg, "name: e\nversion: \"1\"\ndescription: d\nartifacts: [{path: /app/hello, source: hello}]\n",
                      0644);
        Spec *s = test_load_app(cfg);
        Sysroot *host = NULL;
        ObError e = { 0 };
        ck_assert_msg(sysroot_open("/", &host, &e) == 0, "%s", e.msg);
        Plan p;
        ck_assert_msg(app_plan(s, host, "amd64", 5, true, &p, &e) == 0, "%s", e.msg);
        const Entry *libc = NULL;
        size_t needed = 0;
        for (size_t i = 0; i < p.n; i++) {
                const Entry *en = &p.entries[i];
                if (en->type == ENTRY_FILE && str_endswith(en->path, "/libc.so.6"))
                        libc = en;
                needed += en->why && strcmp(en->why, "needed by /app/hello") == 0;
        }
        ck_assert_msg(libc, "no libc.so.6 in the app layer");
        ck_assert_str_eq(libc->why, "needed by /app/hello");
        ck_assert_uint_ge(needed, 2); /* libc and the program interpreter, at least */

        /* a layer below that holds libc: left out */
        _cleanup_free_ char *libc_path = xstrdup(libc->path);
        Plan below;
        plan_init(&below);
        Entry held = { .path = libc_path, .type = ENTRY_FILE, .mode = 0644, .size = 1, .data = (char *) "x" };
        ck_assert_msg(plan_add(&below, &held, &e) == 0, "%s", e.msg);
        plan_clear(&p);
        const Plan *layers[] = { &below };
        ck_assert_msg(app_plan_over(s, host, layers, 1, "amd64", 5, true, &p, &e) == 0, "%s", e.msg);
        ck_assert_ptr_null(plan_find(&p, libc_path));
        ck_assert_ptr_nonnull(plan_find(&p, "app/hello"));
        plan_clear(&p);
        plan_clear(&below);

        /* a sysroot without them: the artifact, its interpreter and what is missing */
        _cleanup_free_ char *empty = xasprintf("%s/empty", dir);
        ck_assert_int_eq(mkdir(empty, 0755), 0);
        Sysroot *bare = NULL;
        ck_assert_msg(sysroot_open(empty, &bare, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(app_plan(s, bare, "amd64", 5, true, &p, &e), -ENOENT);
        ck_assert_msg(strstr(e.msg, "'/app/hello' needs the program interpreter /lib"), "%s", e.msg);
        ck_assert_msg(strstr(e.msg, "which is not in the sysroot"), "%s", e.msg);
        ck_assert_msg(str_startswith(e.msg, cfg), "%s", e.msg);
        /* with the interpreter there, libc is what is missing */
        const char *at = strstr(e.msg, "interpreter ") + strlen("interpreter ");
        _cleanup_free_ char *interp = xstrndup(at, strcspn(at, ","));
        _cleanup_free_ char *copy =
                xasprintf("mkdir -p %s$(dirname %s) && cp -L %s %s%s", empty, interp, interp, empty, interp);
        ck_assert_int_eq(system(copy), 0);
        ck_assert_int_eq(app_plan(s, bare, "amd64", 5, true, &p, &e), -ENOENT);
        _cleanup_free_ char *want = xasprintf("'/app/hello' (program interpreter %s) needs libc.so.6, which is not "
                                              "in the sysroot",
                                              interp);
        ck_assert_msg(strstr(e.msg, want), "%s", e.msg);
        sysroot_free(bare);
        sysroot_free(host);
        spec_free(s);
}
END_TEST

/* ---- app_run_build ----------------------------------------------------- */

START_TEST(test_run_build)
{
        _cleanup_free_ char *dir = test_dir("build");
        _cleanup_free_ char *work = xasprintf("%s/work", dir);
        ck_assert_int_eq(mkdir(work, 0755), 0);
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        test_put_file(cfg,
                      "name: b\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "build:\n"
                      "  - command: [sh, -c, \"pwd > out.txt\"]\n"
                      "    workdir: work\n"
                      "  - command: [sh, -c, \"echo second >> work/out.txt\"]\n",
                      0644);
        Spec *s = test_load_app(cfg);
        ObError e = { 0 };
        ck_assert_msg(app_run_build(s, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *out = xasprintf("%s/out.txt", work);
        _cleanup_free_ char *text = test_file_text(out);
        _cleanup_free_ char *want = xasprintf("%s\nsecond\n", work);
        ck_assert_str_eq(text, want);
        spec_free(s);

        /* 'env' is set in the step's environment, over what it inherits,
         * and only in that step's */
        setenv("OB_TEST_INHERITED", "from the caller", 1);
        test_put_file(cfg,
                      "name: b\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "build:\n"
                      "  - command: [sh, -c, 'echo \"$GREETING|$OB_TEST_INHERITED|$HOME\" > env.txt']\n"
                      "    env: {GREETING: hello world, HOME: /nowhere}\n"
                      "  - command: [sh, -c, 'echo \"${GREETING-unset}\" >> env.txt']\n",
                      0644);
        s = test_load_app(cfg);
        ck_assert_str_eq(s->build[0].env[0], "GREETING=hello world");
        ck_assert_ptr_null(s->build[1].env);
        ck_assert_msg(app_run_build(s, &e) == 0, "%s", e.msg);
        unsetenv("OB_TEST_INHERITED");
        _cleanup_free_ char *env_out = xasprintf("%s/env.txt", dir);
        _cleanup_free_ char *env_text = test_file_text(env_out);
        ck_assert_str_eq(env_text, "hello world|from the caller|/nowhere\nunset\n");
        spec_free(s);

        /* a failing step stops the build: exit status and output in the message */
        test_put_file(cfg,
                      "name: b\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "build:\n"
                      "  - command: [sh, -c, \"echo oops; echo again >&2; exit 4\"]\n"
                      "  - command: [sh, -c, \"echo never > never.txt\"]\n",
                      0644);
        s = test_load_app(cfg);
        ck_assert_int_eq(app_run_build(s, &e), -EIO);
        _cleanup_free_ char *want_err =
                xasprintf("%s: build step 'sh' failed (exit 4), its last lines:\noops\nagain", cfg);
        ck_assert_str_eq(e.msg, want_err);
        _cleanup_free_ char *never = xasprintf("%s/never.txt", dir);
        ck_assert_int_ne(access(never, F_OK), 0);
        spec_free(s);
}
END_TEST

/* A step's entry of the config as parsed: what decides the step, not the
 * rest of the file nor how the entry is written. */
START_TEST(test_step_config_digest)
{
        _cleanup_free_ char *dir = test_dir("stepdigest");
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        const char *steps[] = {
                /* the reference */
                "  - command: [npm, ci]\n    inputs: [package.json]\n",
                /* the same, written otherwise, with a comment */
                "  - {command: [ npm, \"ci\" ], inputs: [package.json]}  # deps\n",
                /* another command, other inputs */
                "  - command: [npm, install]\n    inputs: [package.json]\n",
                "  - command: [npm, ci]\n    inputs: [package.json, vendor]\n",
        };
        _cleanup_free_ char *ref = NULL;
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                _cleanup_free_ char *text =
                        xasprintf("name: b\nversion: \"1\"\ndescription: %s\nartifacts: [{path: /x, source: x}]\n"
                                  "build:\n%s",
                                  i == 1 ? "another description" : "d", steps[i]);
                test_put_file(cfg, text, 0644);
                Spec *s = test_load_app(cfg);
                if (i == 0)
                        ref = xstrdup(s->build[0].config_sha256);
                else if (i == 1)
                        ck_assert_str_eq(s->build[0].config_sha256, ref);
                else
                        ck_assert_str_ne(s->build[0].config_sha256, ref);
                spec_free(s);
        }
}
END_TEST

/* A declared input must be there before its step runs, an output after;
 * each error names the config, its line and the path. */
START_TEST(test_step_inputs_outputs)
{
        _cleanup_free_ char *dir = test_dir("stepio");
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        _cleanup_free_ char *marker = xasprintf("%s/ran", dir);
        test_put_file(cfg,
                      "name: b\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "build:\n"
                      "  - command: [sh, -c, \"touch ran; mkdir -p out\"]\n"
                      "    inputs:\n"
                      "      - app.yml\n"
                      "      - lock.json\n"
                      "    outputs: [out, out2]\n",
                      0644);
        Spec *s = test_load_app(cfg);
        ObError e = { 0 };
        ck_assert_int_eq(app_run_step(s, 0, &e), -ENOENT);
        _cleanup_free_ char *want =
                xasprintf("%s:9: build step 'sh': its input 'lock.json' is not there (in %s)", cfg, dir);
        ck_assert_str_eq(e.msg, want);
        ck_assert_int_ne(access(marker, F_OK), 0); /* it did not run */

        _cleanup_free_ char *lock = xasprintf("%s/lock.json", dir);
        test_put_file(lock, "{}\n", 0644);
        ck_assert_int_eq(app_run_step(s, 0, &e), -ENOENT);
        _cleanup_free_ char *want2 =
                xasprintf("%s:6: build step 'sh' did not make its output 'out2' (in %s)", cfg, dir);
        ck_assert_str_eq(e.msg, want2);
        ck_assert_int_eq(access(marker, F_OK), 0);
        _cleanup_free_ char *out2 = xasprintf("%s/out2", dir);
        test_put_file(out2, "x\n", 0644);
        ck_assert_msg(app_run_step(s, 0, &e) == 0, "%s", e.msg);
        spec_free(s);
}
END_TEST

/* Runs the build steps of cfg with stderr going to a file, at normal
 * verbosity; returns what they printed. */
static char *run_build_captured(const char *cfg, int *ret, ObError *e)
{
        _cleanup_free_ char *log = xasprintf("%s.stderr", cfg);
        Spec *s = test_load_app(cfg);
        fflush(stderr);
        int saved = dup(2);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_ge(dup2(fd, 2), 0);
        close(fd);
        ob_verbosity = 0;
        *ret = app_run_build(s, e);
        ob_verbosity = -1;
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        spec_free(s);
        return test_file_text(log);
}

START_TEST(test_build_output)
{
        _cleanup_free_ char *dir = test_dir("build-output");
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        test_put_file(cfg,
                      "name: b\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "build:\n"
                      "  - command: [sh, -c, \"echo one; echo two >&2; echo three; exit 3\"]\n",
                      0644);
        ObError e = { 0 };
        int r;
        /* each line as it comes, after the app and the step */
        _cleanup_free_ char *printed = run_build_captured(cfg, &r, &e);
        ck_assert_int_eq(r, -EIO);
        ck_assert_msg(strstr(printed, "\nb: sh: one\nb: sh: two\nb: sh: three\n"), "printed: %s", printed);
        /* one error, the lines kept whole */
        _cleanup_free_ char *want =
                xasprintf("%s: build step 'sh' failed (exit 3), its last lines:\none\ntwo\nthree", cfg);
        ck_assert_str_eq(e.msg, want);

        /* only the last 20 lines, and nothing printed when quiet */
        test_put_file(cfg,
                      "name: b\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "build:\n"
                      "  - command: [sh, -c, \"i=1; while [ $i -le 25 ]; do echo line$i; i=$((i+1)); done; exit 1\"]\n",
                      0644);
        Spec *s = test_load_app(cfg);
        ck_assert_int_eq(app_run_build(s, &e), -EIO);
        spec_free(s);
        ck_assert_msg(str_endswith(e.msg, "its last lines:\nline6\nline7\nline8\nline9\nline10\nline11\nline12\n"
                                          "line13\nline14\nline15\nline16\nline17\nline18\nline19\nline20\n"
                                          "line21\nline22\nline23\nline24\nline25"),
                      "%s", e.msg);
}
END_TEST

/* The processes whose environment holds marker. */
static size_t processes_with(const char *marker, bool kill_them)
{
        _cleanup_dir_ DIR *d = opendir("/proc");
        ck_assert_ptr_nonnull(d);
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end || pid <= 0 || pid == getpid())
                        continue;
                _cleanup_free_ char *path = xasprintf("/proc/%ld/environ", pid);
                _cleanup_free_ char *env = NULL;
                size_t size = 0;
                ObError ignore;
                if (read_file(path, &env, &size, &ignore) < 0)
                        continue;
                for (size_t off = 0; off < size; off += strlen(env + off) + 1)
                        if (strcmp(env + off, marker) == 0) {
                                n++;
                                if (kill_them)
                                        kill((pid_t) pid, SIGKILL);
                                break;
                        }
        }
        return n;
}

START_TEST(test_build_leaves_nothing_running)
{
        _cleanup_free_ char *dir = test_dir("build-leftovers");
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        /* in the background, in a session of its own, and one holding the
         * output pipe open: none may outlive the step */
        test_put_file(cfg,
                      "name: b\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "build:\n"
                      "  - command: [sh, -c, \"setsid nohup sleep 1000 >/dev/null 2>&1 & nohup sleep 1000 & "
                      "(sh -c 'sleep 1000' &) ; echo started\"]\n",
                      0644);
        _cleanup_free_ char *marker = xasprintf("OCI_BUILD_TEST_LEFTOVER=%ld-%ld", (long) getpid(), (long) time(NULL));
        char *eq = strchr(marker, '=');
        *eq = '\0';
        ck_assert_int_eq(setenv(marker, eq + 1, 1), 0);
        *eq = '=';
        Spec *s = test_load_app(cfg);
        ObError e = { 0 };
        time_t start = time(NULL);
        int r = app_run_build(s, &e);
        time_t took = time(NULL) - start;
        size_t left = processes_with(marker, /* kill_them= */ true);
        unsetenv("OCI_BUILD_TEST_LEFTOVER");
        spec_free(s);
        ck_assert_msg(r == 0, "%s", e.msg);
        ck_assert_msg(left == 0, "%zu processes started by the build step are still running", left);
        ck_assert_int_le(took, 10);
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
        Spec *s = test_load_app(APP_DIR "/good.yml");
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
        _cleanup_free_ char *want = xasprintf("%s:40: healthcheck runs '/app/bin/testapp', which is not in the image "
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
        s = test_load_app(APP_DIR "/good-minimal.yml");
        ck_assert_int_eq(app_check_health(s, layers, 0, &e), 0);
        spec_free(s);
        plan_clear(&base);
        plan_clear(&tool);
        plan_clear(&app);
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

        tc = tcase_create("layer");
        tcase_add_test(tc, test_plan);
        tcase_add_test(tc, test_plan_elf_artifact);
        tcase_add_test(tc, test_run_build);
        tcase_add_test(tc, test_step_config_digest);
        tcase_add_test(tc, test_step_inputs_outputs);
        tcase_add_test(tc, test_build_output);
        tcase_add_test(tc, test_build_leaves_nothing_running);
        tcase_add_test(tc, test_check_health);
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

        int status = test_run(app_suite());

        test_rm_rf(tmp_dir);
        free(tmp_dir);
        for (size_t i = 0; i < 3; i++)
                free(saved_env[i]);
        return status;
}
