/* SPDX-License-Identifier: MIT */
/* The layer cache: what its key covers, and that an entry is used only
 * when its blob is in the layout, intact; and what the step cache's keys
 * cover. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "layer-cache.h"
#include "layer-facts.h"
#include "layer.h"
#include "layout.h"
#include "plan.h"
#include "step-cache.h"
#include "testutil.h"
#include "util.h"

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "layer-cache");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

/* A plan of one generated file and, when host is given, one host file. */
static void make_plan(Plan *p, const char *data, uint32_t mode, const char *host)
{
        ObError e = { 0 };
        plan_init(p);
        Entry g = { .path = (char *) "etc/generated",
                    .type = ENTRY_FILE,
                    .mode = mode,
                    .data = (char *) data,
                    .size = strlen(data) };
        ck_assert_msg(plan_add(p, &g, &e) == 0, "%s", e.msg);
        if (host) {
                struct stat st;
                ck_assert_int_eq(stat(host, &st), 0);
                Entry h = { .path = (char *) "usr/bin/tool",
                            .type = ENTRY_FILE,
                            .mode = 0755,
                            .size = (uint64_t) st.st_size,
                            .source = (char *) host,
                            .dev = st.st_dev,
                            .ino = st.st_ino };
                ck_assert_msg(plan_add(p, &h, &e) == 0, "%s", e.msg);
        }
        ck_assert_msg(plan_finish(p, 0, &e) == 0, "%s", e.msg);
}

static LayerKey key_of(const Plan *p, const char *settings)
{
        LayerKey k;
        ObError e = { 0 };
        ck_assert_msg(layer_cache_key(p, 0, settings, &k, &e) == 0, "%s", e.msg);
        return k;
}

/* Sets a file's mtime and ctime back, as if it had settled long ago: only
 * the mtime can be set; the ctime is left at now, which the key marks racy. */
static void age(const char *path)
{
        struct timespec t[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
        ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

START_TEST(test_key_covers_inputs)
{
        char *host = xasprintf("%s/tool", tmp_root);
        test_put_file(host, "#!tool\n", 0755);
        Plan a, b;
        make_plan(&a, "root:x:0:0\n", 0644, host);
        make_plan(&b, "root:x:0:0\n", 0644, host);
        LayerKey ka = key_of(&a, "gzip 6"), kb = key_of(&b, "gzip 6");
        ck_assert_str_eq(ka.hex, kb.hex);
        ck_assert_uint_eq(strlen(ka.hex), 64);
        /* Just written: its timestamps cannot yet tell a second change. */
        ck_assert(ka.racy);

        /* The compression settings. */
        ck_assert_str_ne(key_of(&a, "gzip 10").hex, ka.hex);
        plan_clear(&b);

        /* One byte of generated content. */
        make_plan(&b, "root:x:0:1\n", 0644, host);
        ck_assert_str_ne(key_of(&b, "gzip 6").hex, ka.hex);
        plan_clear(&b);

        /* A mode. */
        make_plan(&b, "root:x:0:0\n", 0600, host);
        ck_assert_str_ne(key_of(&b, "gzip 6").hex, ka.hex);
        plan_clear(&b);

        /* The host file's mtime, then its ctime alone (same mode again). */
        age(host);
        LayerKey aged = key_of(&a, "gzip 6");
        ck_assert_str_ne(aged.hex, ka.hex);
        struct timespec pause = { .tv_nsec = 20 * 1000 * 1000 };
        nanosleep(&pause, NULL);
        ck_assert_int_eq(chmod(host, 0755), 0);
        ck_assert_str_ne(key_of(&a, "gzip 6").hex, aged.hex);

        /* A plan whose source is gone has no key. */
        ck_assert_int_eq(unlink(host), 0);
        LayerKey k;
        ObError e = { 0 };
        ck_assert_int_lt(layer_cache_key(&a, 0, "gzip 6", &k, &e), 0);

        plan_clear(&a);
        free(host);
}
END_TEST

START_TEST(test_generated_only_is_not_racy)
{
        Plan a;
        make_plan(&a, "x", 0644, NULL);
        ck_assert(!key_of(&a, "gzip 6").racy);
        plan_clear(&a);
}
END_TEST

static Layout *open_layout(const char *dir)
{
        ObError e = { 0 };
        Layout *l = NULL;
        ck_assert_msg(layout_open(dir, LAYOUT_CREATE, &l, &e) == 0, "%s", e.msg);
        return l;
}

START_TEST(test_lookup_needs_intact_blob)
{
        ObError e = { 0 };
        char *cdir = xasprintf("%s/cache/layers", tmp_root);
        char *ldir = xasprintf("%s/oci", tmp_root);
        LayerCache *c = layer_cache_open(cdir);
        ck_assert(layer_cache_usable(c));

        Layout *l = open_layout(ldir);
        const char content[] = "pretend this is a gzip layer";
        OciLayerInfo info = { .size = sizeof(content), .tar_size = 10240 };
        ck_assert_msg(layout_put_blob(l, content, sizeof(content), info.digest, &e) == 0, "%s", e.msg);
        snprintf(info.diff_id, sizeof(info.diff_id), "sha256:%064d", 7);
        Plan p;
        make_plan(&p, "hello", 0644, NULL);
        LayerKey k = key_of(&p, "gzip 6");

        OciLayerInfo got = { 0 };
        ck_assert(!layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &got));
        layer_cache_store(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &info);
        /* Private: the directory 0700, its entries 0600. */
        struct stat st;
        ck_assert_int_eq(stat(cdir, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0700);
        char *stored = xasprintf("%s/%s", cdir, k.hex);
        ck_assert_int_eq(stat(stored, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        free(stored);
        ck_assert(layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &got));
        ck_assert_str_eq(got.digest, info.digest);
        ck_assert_str_eq(got.diff_id, info.diff_id);
        ck_assert_uint_eq(got.size, info.size);
        ck_assert_uint_eq(got.tar_size, info.tar_size);
        /* Another media type is another layer. */
        ck_assert(!layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+zstd", &got));

        /* The blob damaged in place, same size: not trusted. */
        char *blob = layout_blob_path(l, info.digest);
        int fd = open(blob, O_WRONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pwrite(fd, "P", 1, 0) == 1, 1);
        close(fd);
        ck_assert(!layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &got));

        /* Written again (another inode): hashed, found intact, used. */
        ck_assert_int_eq(unlink(blob), 0);
        ck_assert_msg(write_file_atomic(blob, content, sizeof(content), 0644, &e) == 0, "%s", e.msg);
        ck_assert(layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &got));

        /* Gone from the layout: a miss. */
        ck_assert_int_eq(unlink(blob), 0);
        ck_assert(!layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &got));

        /* A garbage entry: a miss, and storing makes it whole again. */
        ck_assert_msg(write_file_atomic(blob, content, sizeof(content), 0644, &e) == 0, "%s", e.msg);
        char *entry = xasprintf("%s/%s", cdir, k.hex);
        test_put_file(entry, "{\"version\": 1, \"digest\": 42}", 0600);
        ck_assert(!layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &got));
        layer_cache_store(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &info);
        ck_assert(layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &got));

        /* A racy key is not remembered. */
        LayerKey racy = k;
        racy.racy = true;
        racy.hex[0] = racy.hex[0] == 'a' ? 'b' : 'a';
        layer_cache_store(c, l, &racy, "application/vnd.oci.image.layer.v1.tar+gzip", &info);
        ck_assert(!layer_cache_lookup(c, l, &racy, "application/vnd.oci.image.layer.v1.tar+gzip", &got));

        layout_close(l);
        layer_cache_free(c);
        plan_clear(&p);
        free(entry);
        free(blob);
        free(ldir);
        free(cdir);
}
END_TEST

/* A source touched, its bytes the same: the tar is the same, and its layer
 * is taken from the layout without being written again (its facts, which
 * only a write makes, stay gone). Other bytes of the same size make the
 * layer that a build without a cache makes. */
START_TEST(test_found_by_tar)
{
        ObError e = { 0 };
        char *cdir = xasprintf("%s/cache/layers", tmp_root);
        char *fdir = xasprintf("%s/cache/facts", tmp_root);
        char *ldir = xasprintf("%s/oci", tmp_root);
        char *ldir2 = xasprintf("%s/oci-nocache", tmp_root);
        char *host = xasprintf("%s/tool", tmp_root);
        test_put_file(host, "#!tool v1\n", 0755);
        age(host);
        LayerCache *c = layer_cache_open(cdir);
        LayerFactsCache *facts = layer_facts_cache_open(fdir);
        Layout *l = open_layout(ldir);
        LayerOptions o = { .level = 6, .threads = 1, .cache = c, .facts = facts };
        Plan p;
        make_plan(&p, "hello", 0644, host);
        OciLayerInfo first = { 0 }, got = { 0 };
        ck_assert_msg(layer_write(l, &p, &o, &first, &e) == 0, "%s", e.msg);
        char *facts_file = layer_facts_cache_path(facts, first.digest);
        ck_assert_int_eq(unlink(facts_file), 0);

        struct timespec t[2] = { { .tv_sec = 1000000500 }, { .tv_sec = 1000000500 } };
        ck_assert_int_eq(utimensat(AT_FDCWD, host, t, 0), 0);
        ck_assert_msg(layer_write(l, &p, &o, &got, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(got.digest, first.digest);
        ck_assert_str_eq(got.diff_id, first.diff_id);
        ck_assert_uint_eq(got.size, first.size);
        ck_assert_uint_eq(got.tar_size, first.tar_size);
        ck_assert_int_ne(access(facts_file, F_OK), 0);

        test_put_file(host, "#!tool v2\n", 0755);
        age(host);
        Plan q;
        make_plan(&q, "hello", 0644, host);
        ck_assert_msg(layer_write(l, &q, &o, &got, &e) == 0, "%s", e.msg);
        ck_assert_str_ne(got.digest, first.digest);
        ck_assert_str_ne(got.diff_id, first.diff_id);
        Layout *l2 = open_layout(ldir2);
        LayerOptions cold = { .level = 6, .threads = 1 };
        OciLayerInfo want = { 0 };
        ck_assert_msg(layer_write(l2, &q, &cold, &want, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(got.digest, want.digest);
        ck_assert_str_eq(got.diff_id, want.diff_id);

        layout_rollback(l2);
        layout_close(l2);
        layout_close(l);
        layer_facts_cache_free(facts);
        layer_cache_free(c);
        plan_clear(&q);
        plan_clear(&p);
        free(facts_file);
        free(host);
        free(ldir2);
        free(ldir);
        free(fdir);
        free(cdir);
}
END_TEST

START_TEST(test_unusable_dir)
{
        ObError e = { 0 };
        char *file = xasprintf("%s/a-file", tmp_root);
        test_put_file(file, "", 0644);
        char *ldir = xasprintf("%s/oci-unusable", tmp_root);
        Layout *l = open_layout(ldir);
        const char content[] = "a layer";
        OciLayerInfo info = { .size = sizeof(content) };
        ck_assert_msg(layout_put_blob(l, content, sizeof(content), info.digest, &e) == 0, "%s", e.msg);
        snprintf(info.diff_id, sizeof(info.diff_id), "sha256:%064d", 1);
        Plan p;
        make_plan(&p, "x", 0644, NULL);
        LayerKey k = key_of(&p, "gzip 6");

        /* Under a file, and a file itself: nothing made, nothing found, and
         * unusable once the first store found out. */
        char *under = xasprintf("%s/layers", file);
        const char *const dirs[] = { under, file };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                LayerCache *c = layer_cache_open(dirs[i]);
                OciLayerInfo got;
                ck_assert(!layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &got));
                layer_cache_store(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &info);
                ck_assert(!layer_cache_usable(c));
                ck_assert(!layer_cache_lookup(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &got));
                layer_cache_free(c);
        }
        ck_assert(!layer_cache_usable(NULL));

        /* A directory not made yet is made on the first store only. */
        char *later = xasprintf("%s/later/layers", tmp_root);
        LayerCache *c = layer_cache_open(later);
        ck_assert_int_ne(access(later, F_OK), 0);
        layer_cache_store(c, l, &k, "application/vnd.oci.image.layer.v1.tar+gzip", &info);
        ck_assert(layer_cache_usable(c));
        ck_assert_int_eq(access(later, F_OK), 0);
        layer_cache_free(c);

        layout_close(l);
        plan_clear(&p);
        free(later);
        free(ldir);
        free(under);
        free(file);
}
END_TEST

/* --- the step cache's keys ------------------------------------------------ */

static LayerKey data_key(const Spec *tool, const char *version, const Plan *p, const LayerOptions *o)
{
        LayerKey k;
        ObError e = { 0 };
        ck_assert_msg(step_cache_data_key(tool, version, p, o, &k, &e) == 0, "%s", e.msg);
        return k;
}

START_TEST(test_data_key_covers_inputs)
{
        char *prog = xasprintf("%s/initdb", tmp_root);
        test_put_file(prog, "#!/bin/sh\n", 0755);
        char *cmd[] = { prog, (char *) "--pgdata={dir}", NULL };
        char *cmd2[] = { prog, (char *) "--pgdata={dir}", (char *) "--locale=C", NULL };
        Spec tool = { .name = (char *) "db", .package = (char *) "db-15" };
        tool.has_data = true;
        tool.data = (SpecData){ .path = (char *) "/var/lib/db",
                                .uid = 1000,
                                .gid = 1000,
                                .mode = 0700,
                                .command = cmd,
                                .password = (char *) "secret" };
        Plan p;
        make_plan(&p, "root:x:0:0\n", 0644, NULL);
        LayerOptions o = { .compression = LAYER_GZIP, .level = LAYER_LEVEL_AUTO };
        LayerKey k = data_key(&tool, "15.1-1", &p, &o);
        ck_assert_str_eq(k.hex, data_key(&tool, "15.1-1", &p, &o).hex);
        ck_assert(k.racy); /* the program was written a moment ago */

        ck_assert_str_ne(k.hex, data_key(&tool, "15.2-1", &p, &o).hex);
        tool.data.password = (char *) "other";
        ck_assert_str_ne(k.hex, data_key(&tool, "15.1-1", &p, &o).hex);
        tool.data.password = (char *) "secret";
        tool.data.command = cmd2;
        ck_assert_str_ne(k.hex, data_key(&tool, "15.1-1", &p, &o).hex);
        tool.data.command = cmd;
        tool.data.mode = 0750;
        ck_assert_str_ne(k.hex, data_key(&tool, "15.1-1", &p, &o).hex);
        tool.data.mode = 0700;
        o.compression = LAYER_ZSTD;
        ck_assert_str_ne(k.hex, data_key(&tool, "15.1-1", &p, &o).hex);
        o.compression = LAYER_GZIP;
        o.source_date_epoch = 1;
        ck_assert_str_ne(k.hex, data_key(&tool, "15.1-1", &p, &o).hex);
        o.source_date_epoch = 0;

        /* The layer the command runs on. */
        Plan q;
        make_plan(&q, "root:x:0:0\nnobody:x:65534:65534\n", 0644, NULL);
        ck_assert_str_ne(k.hex, data_key(&tool, "15.1-1", &q, &o).hex);

        /* The program itself: its ctime alone is enough. */
        ck_assert_int_eq(chmod(prog, 0755), 0);
        ck_assert_str_ne(k.hex, data_key(&tool, "15.1-1", &p, &o).hex);

        /* What cannot be identified makes no key. */
        unlink(prog);
        LayerKey none;
        ObError e = { 0 };
        ck_assert_int_lt(step_cache_data_key(&tool, "15.1-1", &p, &o, &none, &e), 0);
        plan_clear(&p);
        plan_clear(&q);
        free(prog);
}
END_TEST

static LayerKey step_key(const Spec *app, const Plan *below, const LayerOptions *o)
{
        LayerKey k, bk;
        ObError e = { 0 };
        const Plan *layers[] = { below };
        ck_assert_msg(step_cache_below_key(layers, 1, o, &bk, &e) == 0, "%s", e.msg);
        ck_assert_msg(step_cache_step_key(app, 0, &bk, o, /* inputs_since= */ NULL, &k, &e) == 0, "%s", e.msg);
        return k;
}

static int try_step_key(const Spec *app, const Plan *below, const LayerOptions *o, ObError *e)
{
        LayerKey k, bk;
        const Plan *layers[] = { below };
        ck_assert_msg(step_cache_below_key(layers, 1, o, &bk, e) == 0, "%s", e->msg);
        return step_cache_step_key(app, 0, &bk, o, /* inputs_since= */ NULL, &k, e);
}

/* A step without inputs: every file under its workdir. */
START_TEST(test_step_key_covers_workdir)
{
        char *dir = xasprintf("%s/app", tmp_root);
        char *src = xasprintf("%s/app/server.js", tmp_root);
        char *other = xasprintf("%s/app/lib/extra.js", tmp_root);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        test_put_file(src, "console.log(1)\n", 0644);
        char *cmd[] = { (char *) "/bin/true", NULL };
        SpecBuildStep step = { .command = cmd, .workdir = dir, .config_sha256 = (char *) "c1" };
        Spec app = { .name = (char *) "app", .file = (char *) "app.yml", .build = &step, .n_build = 1 };
        Plan p;
        make_plan(&p, "root:x:0:0\n", 0644, NULL);
        LayerOptions o = { .compression = LAYER_GZIP, .level = LAYER_LEVEL_AUTO };
        LayerKey k = step_key(&app, &p, &o);
        ck_assert_str_eq(k.hex, step_key(&app, &p, &o).hex);

        /* A file rewritten with the same size and mtime: its ctime and inode tell. */
        struct stat st;
        ck_assert_int_eq(stat(src, &st), 0);
        test_put_file(src, "console.log(2)\n", 0644);
        struct timespec t[2] = { st.st_atim, st.st_mtim };
        ck_assert_int_eq(utimensat(AT_FDCWD, src, t, 0), 0);
        LayerKey k2 = step_key(&app, &p, &o);
        ck_assert_str_ne(k.hex, k2.hex);

        /* A new file anywhere under the workdir. */
        char *lib = xasprintf("%s/app/lib", tmp_root);
        ck_assert_int_eq(mkdir(lib, 0755), 0);
        test_put_file(other, "x\n", 0644);
        LayerKey k3 = step_key(&app, &p, &o);
        ck_assert_str_ne(k2.hex, k3.hex);

        /* The step's environment, its command, its entry of the config, the
         * layers below. */
        setenv("OB_TEST_STEP_VAR", "1", 1);
        LayerKey k4 = step_key(&app, &p, &o);
        ck_assert_str_ne(k3.hex, k4.hex);
        unsetenv("OB_TEST_STEP_VAR");
        ck_assert_str_eq(k3.hex, step_key(&app, &p, &o).hex);
        /* Except the shell's "last command", which says how we were started. */
        setenv("_", "/usr/bin/time", 1);
        ck_assert_str_eq(k3.hex, step_key(&app, &p, &o).hex);
        char *env[] = { (char *) "NODE_ENV=production", NULL };
        step.env = env;
        ck_assert_str_ne(k3.hex, step_key(&app, &p, &o).hex);
        step.env = NULL;
        char *cmd2[] = { (char *) "/bin/false", NULL };
        step.command = cmd2;
        ck_assert_str_ne(k3.hex, step_key(&app, &p, &o).hex);
        step.command = cmd;
        step.config_sha256 = (char *) "c2";
        ck_assert_str_ne(k3.hex, step_key(&app, &p, &o).hex);
        step.config_sha256 = (char *) "c1";
        Plan q;
        make_plan(&q, "root:x:0:0\nnobody:x:65534:65534\n", 0644, NULL);
        ck_assert_str_ne(k3.hex, step_key(&app, &q, &o).hex);
        ck_assert_str_eq(k3.hex, step_key(&app, &p, &o).hex);

        /* A workdir that is gone makes no key. */
        ObError e = { 0 };
        step.workdir = (char *) "/nonexistent/app";
        ck_assert_int_lt(try_step_key(&app, &p, &o, &e), 0);
        plan_clear(&p);
        plan_clear(&q);
        free(dir);
        free(src);
        free(other);
        free(lib);
}
END_TEST

/* A step with inputs: those and its outputs, nothing else of the workdir
 * nor of the config. */
START_TEST(test_step_key_covers_inputs_outputs)
{
        char *dir = xasprintf("%s/notes", tmp_root);
        char *server = xasprintf("%s/notes/server.js", tmp_root);
        char *lock = xasprintf("%s/notes/package-lock.json", tmp_root);
        char *vendor = xasprintf("%s/notes/vendor", tmp_root);
        char *tarball = xasprintf("%s/notes/vendor/pg.tgz", tmp_root);
        char *mods = xasprintf("%s/notes/node_modules", tmp_root);
        char *mod = xasprintf("%s/notes/node_modules/pg.js", tmp_root);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        ck_assert_int_eq(mkdir(vendor, 0755), 0);
        ck_assert_int_eq(mkdir(mods, 0755), 0);
        test_put_file(server, "console.log(1)\n", 0644);
        test_put_file(lock, "{}\n", 0644);
        test_put_file(tarball, "tgz\n", 0644);
        test_put_file(mod, "module.exports = 1\n", 0644);
        char *cmd[] = { (char *) "/bin/true", NULL };
        char *inputs[] = { (char *) "package-lock.json", (char *) "vendor", NULL };
        char *outputs[] = { (char *) "node_modules", NULL };
        SpecBuildStep step = { .command = cmd,
                               .workdir = dir,
                               .inputs = inputs,
                               .outputs = outputs,
                               .config_sha256 = (char *) "c1" };
        Spec app = { .name = (char *) "notes",
                     .file = (char *) "notes.yml",
                     .description = (char *) "one",
                     .build = &step,
                     .n_build = 1 };
        Plan p;
        make_plan(&p, "root:x:0:0\n", 0644, NULL);
        LayerOptions o = { .compression = LAYER_GZIP, .level = LAYER_LEVEL_AUTO };
        LayerKey k = step_key(&app, &p, &o);
        ck_assert_str_eq(k.hex, step_key(&app, &p, &o).hex);

        /* What the step does not read: a source file beside its inputs, a
         * new file there, the rest of the config. */
        test_put_file(server, "console.log(22)\n", 0644);
        ck_assert_str_eq(k.hex, step_key(&app, &p, &o).hex);
        char *extra = xasprintf("%s/notes/health.js", tmp_root);
        test_put_file(extra, "x\n", 0644);
        app.description = (char *) "two";
        ck_assert_str_eq(k.hex, step_key(&app, &p, &o).hex);

        /* An input rewritten, a new file under an input directory. */
        test_put_file(lock, "{ }\n", 0644);
        LayerKey k2 = step_key(&app, &p, &o);
        ck_assert_str_ne(k.hex, k2.hex);
        char *tarball2 = xasprintf("%s/notes/vendor/split2.tgz", tmp_root);
        test_put_file(tarball2, "tgz\n", 0644);
        LayerKey k3 = step_key(&app, &p, &o);
        ck_assert_str_ne(k2.hex, k3.hex);

        /* An output edited, then gone (which still makes a key). */
        test_put_file(mod, "module.exports = 2\n", 0644);
        LayerKey k4 = step_key(&app, &p, &o);
        ck_assert_str_ne(k3.hex, k4.hex);
        test_rm_rf(mods);
        LayerKey k5 = step_key(&app, &p, &o);
        ck_assert_str_ne(k4.hex, k5.hex);
        ck_assert_str_eq(k5.hex, step_key(&app, &p, &o).hex);

        /* The step's own entry of the config, and the list of its inputs. */
        step.config_sha256 = (char *) "c2";
        ck_assert_str_ne(k5.hex, step_key(&app, &p, &o).hex);
        step.config_sha256 = (char *) "c1";
        char *fewer[] = { (char *) "package-lock.json", NULL };
        step.inputs = fewer;
        ck_assert_str_ne(k5.hex, step_key(&app, &p, &o).hex);

        /* An input that is not there makes no key. */
        char *missing[] = { (char *) "package-lock.json", (char *) "nope", NULL };
        step.inputs = missing;
        ObError e = { 0 };
        ck_assert_int_lt(try_step_key(&app, &p, &o, &e), 0);
        ck_assert_ptr_nonnull(strstr(e.msg, "nope"));
        plan_clear(&p);
        free(dir);
        free(server);
        free(lock);
        free(vendor);
        free(tarball);
        free(tarball2);
        free(mods);
        free(mod);
        free(extra);
}
END_TEST

/* What a step reads through a relative program name or a symlink counts,
 * and an input changed after the step started makes its key racy. */
START_TEST(test_step_key_program_links_and_start)
{
        char *dir = xasprintf("%s/gen", tmp_root);
        char *src = xasprintf("%s/gen/src", tmp_root);
        char *ext = xasprintf("%s/ext.txt", tmp_root);
        char *link = xasprintf("%s/gen/src/in.txt", tmp_root);
        char *prog = xasprintf("%s/gen/gen.sh", tmp_root);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        ck_assert_int_eq(mkdir(src, 0755), 0);
        test_put_file(ext, "v1\n", 0644);
        ck_assert_int_eq(symlink("../../ext.txt", link), 0);
        test_put_file(prog, "#!/bin/sh\necho v1\n", 0755);
        /* A decoy of the same name where oci-build runs: not the one the step runs. */
        char *decoy = xasprintf("%s/gen.sh", tmp_root);
        test_put_file(decoy, "#!/bin/sh\n", 0755);
        char *cwd = getcwd(NULL, 0);
        ck_assert_int_eq(chdir(tmp_root), 0);
        char *cmd[] = { (char *) "./gen.sh", NULL };
        char *inputs[] = { (char *) "src", NULL };
        SpecBuildStep step = { .command = cmd, .workdir = dir, .inputs = inputs, .config_sha256 = (char *) "c1" };
        Spec app = { .name = (char *) "gen", .file = (char *) "gen.yml", .build = &step, .n_build = 1 };
        Plan p;
        make_plan(&p, "root:x:0:0\n", 0644, NULL);
        LayerOptions o = { .compression = LAYER_GZIP, .level = LAYER_LEVEL_AUTO };
        LayerKey k = step_key(&app, &p, &o);

        /* The program in the workdir, not the decoy. */
        test_put_file(decoy, "#!/bin/sh\necho decoy\n", 0755);
        ck_assert_str_eq(k.hex, step_key(&app, &p, &o).hex);
        test_put_file(prog, "#!/bin/sh\necho v2\n", 0755);
        LayerKey k2 = step_key(&app, &p, &o);
        ck_assert_str_ne(k.hex, k2.hex);

        /* A file an input links to, outside the inputs. */
        test_put_file(ext, "v2\n", 0644);
        LayerKey k3 = step_key(&app, &p, &o);
        ck_assert_str_ne(k2.hex, k3.hex);

        /* Inputs older than the step's start are not racy once the clock
         * moved on; one changed after it started is, however long after. */
        nanosleep(&(struct timespec){ .tv_sec = 2, .tv_nsec = 200 * 1000 * 1000 }, NULL);
        struct timespec started;
        clock_gettime(CLOCK_REALTIME, &started);
        LayerKey bk, k4;
        ObError e = { 0 };
        const Plan *layers[] = { &p };
        ck_assert_msg(step_cache_below_key(layers, 1, &o, &bk, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(step_cache_step_key(&app, 0, &bk, &o, &started, &k4, &e), 0);
        ck_assert(!k4.racy);
        nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
        test_put_file(ext, "v3\n", 0644);
        nanosleep(&(struct timespec){ .tv_sec = 2, .tv_nsec = 200 * 1000 * 1000 }, NULL);
        ck_assert_int_eq(step_cache_step_key(&app, 0, &bk, &o, &started, &k4, &e), 0);
        ck_assert(k4.racy);
        ck_assert_int_eq(step_cache_step_key(&app, 0, &bk, &o, /* inputs_since= */ NULL, &k4, &e), 0);
        ck_assert(!k4.racy);

        ck_assert_int_eq(chdir(cwd), 0);
        plan_clear(&p);
        free(cwd);
        free(dir);
        free(src);
        free(ext);
        free(link);
        free(prog);
        free(decoy);
}
END_TEST

/* A mark: found once stored, never for a racy key, and a damaged entry is
 * not one. */
START_TEST(test_marks)
{
        char *dir = xasprintf("%s/steps", tmp_root);
        LayerCache *c = layer_cache_open_kind(dir, "step cache");
        LayerKey k = { .hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
        LayerKey other = { .hex = "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
        ck_assert(!layer_cache_marked(c, &k));
        k.racy = true;
        layer_cache_mark(c, &k);
        ck_assert(!layer_cache_marked(c, &k));
        k.racy = false;
        layer_cache_mark(c, &k);
        ck_assert(layer_cache_marked(c, &k));
        ck_assert(!layer_cache_marked(c, &other));
        char *path = xasprintf("%s/%s", dir, k.hex);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 0777, 0600);
        test_put_file(path, "{\"digest\":1}", 0600);
        ck_assert(!layer_cache_marked(c, &k));
        layer_cache_free(c);
        free(path);
        free(dir);
}
END_TEST

static Suite *layer_cache_suite(void)
{
        Suite *s = suite_create("layer-cache");
        TCase *tc = tcase_create("cache");
        tcase_set_timeout(tc, 30);
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_key_covers_inputs);
        tcase_add_test(tc, test_generated_only_is_not_racy);
        tcase_add_test(tc, test_lookup_needs_intact_blob);
        tcase_add_test(tc, test_found_by_tar);
        tcase_add_test(tc, test_unusable_dir);
        suite_add_tcase(s, tc);
        TCase *steps = tcase_create("step cache keys");
        tcase_set_timeout(steps, 30);
        tcase_add_unchecked_fixture(steps, tmp_setup, tmp_teardown);
        tcase_add_test(steps, test_data_key_covers_inputs);
        tcase_add_test(steps, test_step_key_covers_workdir);
        tcase_add_test(steps, test_step_key_covers_inputs_outputs);
        tcase_add_test(steps, test_step_key_program_links_and_start);
        tcase_add_test(steps, test_marks);
        suite_add_tcase(s, steps);
        return s;
}

int main(void)
{
        return test_run(layer_cache_suite());
}
