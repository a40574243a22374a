/* SPDX-License-Identifier: MIT */
/* Loading base configs: typed values from a good file, and for each kind of
 * mistake the exact "file:line:col: message" the user sees. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "passwd.h"
#include "spec.h"
#include "testutil.h"
#include "util.h"
#include "yamlspec.h"

#define SPEC_DIR TEST_DATA_DIR "/spec"

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "spec");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

static void write_text(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        ck_assert_msg(f != NULL, "cannot create %s", path);
        fputs(text, f);
        fclose(f);
}

/* ---- the good config ---- */

START_TEST(test_good_config)
{
        ObError e = { 0 };
        Spec *s = NULL;
        int r = spec_load_base(SPEC_DIR "/good.yml", "9.9.9", &s, &e);
        ck_assert_msg(r == 0, "%s", e.msg);
        ck_assert_ptr_nonnull(s);

        ck_assert_int_eq(s->tier, SPEC_TIER_BASE);
        ck_assert_str_eq(spec_tier_name(s->tier), "base");
        ck_assert_str_eq(s->file, SPEC_DIR "/good.yml");
        ck_assert_str_eq(s->name, "testbase");
        ck_assert_str_eq(s->version, "9.9.9");
        ck_assert_str_eq(s->description, "Test base: every key");
        ck_assert_ptr_null(s->rootfs);

        /* files */
        ck_assert_uint_eq(s->n_files, 3);
        ck_assert_str_eq(s->files[0].path, "/etc/ssl/certs/ca-certificates.crt");
        ck_assert_str_eq(s->files[0].source, "/etc/ssl/certs/ca-certificates.crt");
        ck_assert_ptr_null(s->files[0].exclude);
        ck_assert(!s->files[0].has_mode);
        ck_assert_uint_eq(s->files[0].uid, 0);
        ck_assert_uint_eq(s->files[0].line, 5);
        ck_assert_str_eq(s->files[1].path, "/usr/share/zoneinfo");
        ck_assert_str_eq(s->files[1].source, "/usr/share/zoneinfo-data");
        ck_assert_uint_eq(strv_length(s->files[1].exclude), 1);
        ck_assert_str_eq(s->files[1].exclude[0], "*.tab");
        ck_assert(s->files[1].has_mode);
        ck_assert_uint_eq(s->files[1].mode, 0444);
        ck_assert_uint_eq(s->files[1].line, 6);
        ck_assert_str_eq(s->files[2].path, "/opt/x");
        ck_assert_str_eq(s->files[2].source, "/opt/x");
        ck_assert_uint_eq(strv_length(s->files[2].exclude), 2);
        ck_assert_str_eq(s->files[2].exclude[0], "*.log");
        ck_assert_str_eq(s->files[2].exclude[1], "/opt/x/cache");
        ck_assert_uint_eq(s->files[2].uid, 1000);
        ck_assert_uint_eq(s->files[2].gid, 1000);
        ck_assert_uint_eq(s->files[2].line, 11);

        /* directories */
        ck_assert_uint_eq(s->n_dirs, 4);
        ck_assert_str_eq(s->dirs[0].path, "/tmp");
        ck_assert_uint_eq(s->dirs[0].mode, 01777);
        ck_assert_str_eq(s->dirs[1].path, "/root");
        ck_assert_uint_eq(s->dirs[1].mode, 0700);
        ck_assert_uint_eq(s->dirs[1].uid, 0);
        ck_assert_str_eq(s->dirs[2].path, "/home/nonroot");
        ck_assert_uint_eq(s->dirs[2].mode, 0700);
        ck_assert_uint_eq(s->dirs[2].uid, 1000);
        ck_assert_uint_eq(s->dirs[2].gid, 1000);
        ck_assert_str_eq(s->dirs[3].path, "/var/empty");
        ck_assert_uint_eq(s->dirs[3].mode, 0755);   /* the default */

        /* symlinks */
        ck_assert_uint_eq(s->n_links, 1);
        ck_assert_str_eq(s->links[0].path, "/bin");
        ck_assert_str_eq(s->links[0].target, "usr/bin");

        /* groups and users */
        ck_assert_uint_eq(s->n_groups, 3);
        ck_assert_str_eq(s->groups[1].name, "nonroot");
        ck_assert_uint_eq(s->groups[1].gid, 1000);
        ck_assert_uint_eq(strv_length(s->groups[1].members), 1);
        ck_assert_str_eq(s->groups[1].members[0], "nonroot");
        ck_assert_ptr_null(s->groups[0].members);
        ck_assert_uint_eq(s->groups[2].gid, 65534);
        ck_assert_uint_eq(s->n_users, 3);
        ck_assert_str_eq(s->users[0].name, "root");
        ck_assert_uint_eq(s->users[0].uid, 0);
        ck_assert_str_eq(s->users[0].home, "/root");
        ck_assert_str_eq(s->users[0].shell, "/sbin/nologin");     /* default */
        ck_assert_str_eq(s->users[0].gecos, "root");              /* default: the name */
        ck_assert_str_eq(s->users[1].shell, "/bin/false");
        ck_assert_str_eq(s->users[1].gecos, "Non Root");
        ck_assert_uint_eq(s->users[2].uid, 65534);
        ck_assert_uint_eq(s->users[2].gid, 65534);

        /* image config */
        const SpecImageConfig *c = &s->config;
        ck_assert_str_eq(c->user, "1000:1000");
        ck_assert_str_eq(c->workdir, "/home/nonroot");
        ck_assert_uint_eq(strv_length(c->env), 3);
        ck_assert_str_eq(c->env[0], "PATH=/usr/local/bin:/usr/bin:/bin");
        ck_assert_str_eq(c->env[1], "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt");
        ck_assert_str_eq(c->env[2], "EMPTY=");
        ck_assert_uint_eq(strv_length(c->entrypoint), 2);
        ck_assert_str_eq(c->entrypoint[0], "/usr/bin/app");
        ck_assert_str_eq(c->entrypoint[1], "--serve");
        ck_assert_ptr_nonnull(c->cmd);              /* given, and empty */
        ck_assert_uint_eq(strv_length(c->cmd), 0);
        ck_assert_uint_eq(strv_length(c->ports), 3);
        ck_assert_str_eq(c->ports[0], "8080/tcp");
        ck_assert_str_eq(c->ports[1], "53/udp");
        ck_assert_str_eq(c->ports[2], "443/tcp");
        ck_assert_uint_eq(strv_length(c->volumes), 1);
        ck_assert_str_eq(c->volumes[0], "/data");
        ck_assert_uint_eq(strv_length(c->labels), 1);
        ck_assert_str_eq(c->labels[0], "org.example.team=infra=yes");

        char *passwd = passwd_render(s->users, s->n_users);
        ck_assert_str_eq(passwd, "root:x:0:0:root:/root:/sbin/nologin\n"
                                 "nonroot:x:1000:1000:Non Root:/home/nonroot:/bin/false\n"
                                 "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
        free(passwd);
        char *group = group_render(s->groups, s->n_groups);
        ck_assert_str_eq(group, "root:x:0:\nnonroot:x:1000:nonroot\nnogroup:x:65534:\n");
        free(group);
        spec_free(s);
        spec_free(NULL);
}
END_TEST

START_TEST(test_shipped_base_config)
{
        /* The config the project ships must always load. */
        ObError e = { 0 };
        Spec *s = NULL;
        int r = spec_load_base(TEST_DATA_DIR "/../../configs/base.yml", "1", &s, &e);
        ck_assert_msg(r == 0, "%s", e.msg);
        ck_assert_str_eq(s->name, "base");
        ck_assert_ptr_nonnull(s->rootfs);
        ck_assert(str_endswith(s->rootfs, "/rootfs"));
        ck_assert_uint_gt(s->n_users, 0);
        spec_free(s);
}
END_TEST

START_TEST(test_minimal_config)
{
        char *path = xasprintf("%s/minimal.yml", tmp_root);
        write_text(path, "name: min\ndescription: d\nversion: \"2.0\"\n");
        ObError e = { 0 };
        Spec *s = NULL;
        ck_assert_int_eq(spec_load_base(path, "1", &s, &e), 0);
        ck_assert_str_eq(s->version, "2.0");
        ck_assert_uint_eq(s->n_files + s->n_dirs + s->n_links + s->n_users + s->n_groups, 0);
        ck_assert_ptr_null(s->config.user);
        ck_assert_ptr_null(s->config.env);
        ck_assert_ptr_null(s->config.ports);
        char *passwd = passwd_render(s->users, s->n_users);
        ck_assert_str_eq(passwd, "");
        free(passwd);
        spec_free(s);
        free(path);
}
END_TEST

START_TEST(test_rootfs_resolution)
{
        /* Relative to the config file's directory, and canonical. */
        char *cfgdir = xasprintf("%s/cfg", tmp_root);
        char *tree = xasprintf("%s/tree", tmp_root);
        char *cfg = xasprintf("%s/base.yml", cfgdir);
        ck_assert_int_eq(mkdir(cfgdir, 0755), 0);
        ck_assert_int_eq(mkdir(tree, 0755), 0);
        write_text(cfg, "name: base\ndescription: d\nrootfs: ../tree/\n");
        char want[PATH_MAX];
        ck_assert_ptr_nonnull(realpath(tree, want));

        ObError e = { 0 };
        Spec *s = NULL;
        ck_assert_msg(spec_load_base(cfg, "1", &s, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(s->rootfs, want);
        spec_free(s);

        /* An absolute path is used as is. */
        char *text = xasprintf("name: base\ndescription: d\nrootfs: %s\n", tree);
        write_text(cfg, text);
        ck_assert_msg(spec_load_base(cfg, "1", &s, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(s->rootfs, want);
        spec_free(s);
        free(text);
        free(cfg);
        free(tree);
        free(cfgdir);
}
END_TEST

START_TEST(test_missing_file)
{
        ObError e = { 0 };
        Spec *s = NULL;
        char *path = xasprintf("%s/no-such.yml", tmp_root);
        char *want = xasprintf("cannot open '%s': %s", path, strerror(ENOENT));
        ck_assert_int_eq(spec_load_base(path, "1", &s, &e), -ENOENT);
        ck_assert_ptr_null(s);
        ck_assert_str_eq(e.msg, want);
        free(want);
        free(path);
}
END_TEST

/* ---- bad configs ---- */

static const BadCase bad_cases[] = {
        { "bad-unknown-key-typo.yml",
          "2:1: unknown key 'descripton' in the base config (did you mean 'description'?)" },
        { "bad-unknown-key.yml",
          "3:1: unknown key 'frobnicate' in the base config (expected one of: name, version, description, rootfs, "
          "files, directories, symlinks, users, groups, config)" },
        { "bad-unknown-nested.yml", "9:5: unknown key 'homedir' in a 'users' entry (did you mean 'home'?)" },
        { "bad-renamed-dirs.yml", "3:1: key 'dirs' is not supported in the base config: use 'directories'" },
        { "bad-config-renamed.yml", "4:3: key 'working_dir' is not supported in 'config': use 'workdir'" },
        { "bad-users-mapping.yml", "4:3: 'users' must be a list, found a mapping" },
        { "bad-top-level-list.yml", "1:1: the base config must be a mapping, found a list" },
        { "bad-missing-name.yml", "2:1: missing required key 'name' in the base config" },
        { "bad-missing-description.yml", "1:1: missing required key 'description' in the base config" },
        { "bad-empty-name.yml", "1:1: 'name' in the base config must have a value" },
        { "bad-name-invalid.yml",
          "1:7: 'name' must be lowercase letters, digits, '_', '-' or '.', found 'Base Image'" },
        { "bad-mode-digit.yml",
          "4:25: 'mode' must be an octal mode from \"0000\" to \"7777\" (e.g. \"0755\"), found '0999'" },
        { "bad-mode-long.yml",
          "5:11: 'mode' must be an octal mode from \"0000\" to \"7777\" (e.g. \"0755\"), found '12345'" },
        { "bad-uid-alpha.yml", "4:24: 'uid' must be a whole number from 0 to 4294967294, found 'abc'" },
        { "bad-uid-negative.yml", "4:24: 'uid' must be a whole number from 0 to 4294967294, found '-1'" },
        { "bad-uid-range.yml", "4:24: 'uid' is out of range: 4294967296 (at most 4294967294)" },
        { "bad-uid-reserved.yml", "4:24: 'uid' is out of range: 4294967295 (at most 4294967294)" },
        { "bad-user-no-home.yml", "6:5: missing required key 'home' in a 'users' entry" },
        { "bad-gecos.yml", "6:55: 'gecos' must not contain ':' or a newline" },
        { "bad-path-relative.yml", "4:13: 'path' must be an absolute path (starting with '/'), found 'tmp'" },
        { "bad-path-dotdot.yml",
          "4:11: 'path' must be a path inside the image without '..', found '/usr/share/../../etc/shadow'" },
        { "bad-files-relative.yml", "4:5: 'files' must be an absolute path (starting with '/'), found 'etc/hosts'" },
        { "bad-dir-root.yml", "4:13: 'path' must not be the image root" },
        { "bad-duplicate-key.yml", "3:1: duplicate key 'name' in the base config (first at line 1)" },
        { "bad-duplicate-user.yml", "7:5: user 'root' is defined twice" },
        { "bad-duplicate-uid.yml", "7:5: uid 0 is used by users 'root' and 'toor'" },
        { "bad-duplicate-gid.yml", "5:5: gid 0 is used by groups 'root' and 'wheel'" },
        { "bad-user-gid.yml", "6:3: user 'nonroot' has gid 1000, which no entry of 'groups' defines" },
        { "bad-group-member.yml", "4:3: group 'root' lists member 'ghost', which is not in 'users'" },
        { "bad-yaml-bracket.yml", "4:1: invalid YAML: did not find expected ',' or ']' while parsing a flow sequence" },
        { "bad-yaml-quote.yml", "3:1: invalid YAML: found unexpected end of stream while scanning a quoted scalar" },
        { "bad-empty.yml", "1:1: the file is empty (expected a mapping)" },
        { "bad-comment-only.yml", "1:1: the file is empty (expected a mapping)" },
        { "bad-owner.yml", "4:35: 'owner' must be numeric \"UID:GID\" (e.g. \"1000:1000\"), found 'root:root'" },
        { "bad-port.yml",
          "6:7: 'ports' entries must be a port number 1-65535 with an optional /tcp or /udp, found 'http'" },
        { "bad-port-sign.yml",
          "4:12: 'ports' entries must be a port number 1-65535 with an optional /tcp or /udp, found '+80'" },
        { "bad-volume-relative.yml", "4:21: 'volumes' entries must be absolute paths, found 'cache'" },
        { "bad-env-list.yml", "5:5: 'env' must be a mapping of names to strings, found a list" },
        { "bad-workdir-relative.yml", "4:12: 'workdir' must be an absolute path (starting with '/'), found 'app'" },
        { "bad-rootfs-missing.yml",
          "3:9: 'rootfs' directory '@DIR@/does-not-exist' cannot be used: No such file or directory" },
        { "bad-rootfs-file.yml", "3:9: 'rootfs' must be a directory, '@DIR@/good.yml' is not" },
};

/* s with every "@DIR@" replaced by dir. */
static char *expand_dir(const char *s, const char *dir)
{
        char *out = xstrdup("");
        for (;;) {
                const char *at = strstr(s, "@DIR@");
                char *next = xasprintf("%s%.*s%s", out, at ? (int) (at - s) : (int) strlen(s), s, at ? dir : "");
                free(out);
                out = next;
                if (!at)
                        return out;
                s = at + 5;
        }
}

START_TEST(test_bad_config)
{
        const BadCase *c = &bad_cases[_i];
        char *path = xasprintf("%s/%s", SPEC_DIR, c->file);
        char *tail = expand_dir(c->expected, SPEC_DIR);
        char *want = xasprintf("%s:%s", path, tail);
        ObError e = { 0 };
        Spec *s = NULL;

        ck_assert_msg(access(path, R_OK) == 0, "fixture %s is missing", path);
        int r = spec_load_base(path, "1", &s, &e);
        ck_assert_msg(r == -EINVAL, "%s: expected -EINVAL, got %d (%s)", c->file, r, e.msg);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(e.code, EINVAL);
        ck_assert_msg(str_startswith(e.msg, want), "%s:\n  got:      %s\n  expected: %s", c->file, e.msg, want);
        free(want);
        free(tail);
        free(path);
}
END_TEST

START_TEST(test_every_fixture_is_listed)
{
        /* A fixture without a table entry would never be checked. */
        test_check_fixtures_listed(SPEC_DIR, bad_cases, ELEMENTSOF(bad_cases));
        ck_assert_uint_ge(ELEMENTSOF(bad_cases), 12);
}
END_TEST

/* ---- yamlspec helpers ---- */

static YamlDoc *load(const char *text)
{
        ObError e = { 0 };
        YamlDoc *d = NULL;
        int r = ydoc_load_string("t.yml", text, &d, &e);
        ck_assert_msg(r == 0, "%s", e.msg);
        return d;
}

START_TEST(test_y_uint)
{
        YamlDoc *d = load("a: 4294967294\nb: 18446744073709551615\nc: 18446744073709551616\nd: ''\ne: [1]\nf: 007\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        uint64_t v = 0;
        ck_assert_int_eq(y_uint(d, y_get(d, root, "a"), "a", 0xfffffffeu, &v, &e), 0);
        ck_assert_uint_eq(v, 4294967294u);
        ck_assert_int_eq(y_uint(d, y_get(d, root, "b"), "b", UINT64_MAX, &v, &e), 0);
        ck_assert(v == UINT64_MAX);
        ck_assert_int_eq(y_uint(d, y_get(d, root, "c"), "c", UINT64_MAX, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:3:4: 'c' is out of range: 18446744073709551616 (at most 18446744073709551615)");
        ck_assert_int_eq(y_uint(d, y_get(d, root, "d"), "d", 10, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:4:4: 'd' must be a number, found an empty string");
        ck_assert_int_eq(y_uint(d, y_get(d, root, "e"), "e", 10, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:5:4: 'e' must be a number, found a list");
        ck_assert_int_eq(y_uint(d, y_get(d, root, "f"), "f", 10, &v, &e), 0);
        ck_assert_uint_eq(v, 7);        /* decimal, leading zeros ignored */
        ck_assert_int_eq(y_uint(d, y_get(d, root, "a"), "a", 4294967293u, &v, &e), -EINVAL);
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_bool_and_str)
{
        YamlDoc *d = load("t: true\ny: yes\nf: false\nn: no\nbad: True\ne:\nq: \"\"\nl: [a]\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        bool b = false;
        ck_assert_int_eq(y_bool(d, y_get(d, root, "t"), "t", &b, &e), 0);
        ck_assert(b);
        ck_assert_int_eq(y_bool(d, y_get(d, root, "f"), "f", &b, &e), 0);
        ck_assert(!b);
        ck_assert_int_eq(y_bool(d, y_get(d, root, "y"), "y", &b, &e), 0);
        ck_assert(b);
        ck_assert_int_eq(y_bool(d, y_get(d, root, "n"), "n", &b, &e), 0);
        ck_assert(!b);
        ck_assert_int_eq(y_bool(d, y_get(d, root, "bad"), "bad", &b, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:5:6: 'bad' must be true or false");

        /* A plain empty value is null; a quoted one is an empty string. */
        ck_assert_ptr_null(y_get(d, root, "e"));
        yaml_node_t *q = y_get(d, root, "q");
        ck_assert_ptr_nonnull(q);
        char *s = NULL;
        ck_assert_int_eq(y_str(d, q, "q", &s, &e), 0);
        ck_assert_str_eq(s, "");
        free(s);
        s = NULL;
        ck_assert_int_eq(y_nonempty_str(d, q, "q", &s, &e), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_str_eq(e.msg, "t.yml:7:4: 'q' must not be empty");
        ck_assert_int_eq(y_str(d, y_get(d, root, "l"), "l", &s, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:8:4: 'l' must be a string, found a list");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_null_and_require)
{
        YamlDoc *d = load("a: ~\nb:\nc: null\nd: ''\ne: x\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        yaml_node_t *v = NULL;
        ck_assert_ptr_null(y_get(d, root, "a"));
        ck_assert_ptr_null(y_get(d, root, "b"));
        ck_assert_ptr_null(y_get(d, root, "c"));
        ck_assert_ptr_nonnull(y_get(d, root, "d"));
        ck_assert_ptr_null(y_get(d, root, "zzz"));
        ck_assert_ptr_nonnull(y_get_key(d, root, "b"));
        ck_assert_ptr_null(y_get_key(d, root, "zzz"));
        ck_assert_ptr_null(y_get(d, y_get(d, root, "e"), "x"));   /* not a mapping */

        ck_assert_int_eq(y_require(d, root, "c", "the thing", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:3:1: 'c' in the thing must have a value");
        ck_assert_int_eq(y_require(d, root, "zzz", "the thing", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:1:1: missing required key 'zzz' in the thing");
        ck_assert_int_eq(y_require(d, root, "e", "the thing", &v, &e), 0);
        ck_assert_ptr_eq(v, y_get(d, root, "e"));

        ck_assert_int_eq(y_error(d, NULL, &e, "no position %d", 1), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml: no position 1");
        ck_assert_str_eq(y_kind(root), "a mapping");
        ck_assert_str_eq(y_kind(y_get(d, root, "e")), "a scalar");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_mode)
{
        static const struct {
                const char *text;
                int64_t want;   /* -1: rejected */
        } cases[] = {
                { "\"0755\"", 0755 }, { "\"755\"", 0755 }, { "\"1777\"", 01777 }, { "\"07777\"", 07777 },
                { "\"0000\"", 0 },    { "0644", 0644 },    { "\"75\"", -1 },      { "\"0999\"", -1 },
                { "\"10000\"", -1 },  { "\"007777\"", -1 }, { "\"0x1ff\"", -1 },  { "\"-755\"", -1 },
                { "[1]", -1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *text = xasprintf("m: %s\n", cases[i].text);
                YamlDoc *d = load(text);
                ObError e = { 0 };
                uint32_t mode = 0;
                int r = y_mode(d, y_get(d, ydoc_root(d), "m"), "m", &mode, &e);
                if (cases[i].want < 0) {
                        ck_assert_msg(r == -EINVAL, "%s accepted as %o", cases[i].text, mode);
                        ck_assert(str_startswith(e.msg, "t.yml:1:4: 'm' must be an octal mode"));
                } else {
                        ck_assert_msg(r == 0, "%s rejected: %s", cases[i].text, e.msg);
                        ck_assert_uint_eq(mode, (uint32_t) cases[i].want);
                }
                ydoc_free(d);
                free(text);
        }
}
END_TEST

START_TEST(test_y_owner)
{
        static const struct {
                const char *text;
                int64_t uid, gid;       /* uid -1: rejected */
        } cases[] = {
                { "\"1000\"", 1000, 1000 },
                { "\"1:2\"", 1, 2 },
                { "\"0:0\"", 0, 0 },
                { "\"4294967294:4294967294\"", 4294967294, 4294967294 },
                { "\"4294967295\"", -1, 0 },
                { "\"1:4294967295\"", -1, 0 },
                { "\"root:root\"", -1, 0 },
                { "\"root\"", -1, 0 },
                { "\":1\"", -1, 0 },
                { "\"1:\"", -1, 0 },
                { "\"1:2:3\"", -1, 0 },
                { "\" 1\"", -1, 0 },
                { "\"-1\"", -1, 0 },
                { "\"\"", -1, 0 },
                { "\"12345678901\"", -1, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *text = xasprintf("o: %s\n", cases[i].text);
                YamlDoc *d = load(text);
                ObError e = { 0 };
                uint32_t uid = 99, gid = 99;
                int r = y_owner(d, y_get(d, ydoc_root(d), "o"), "owner", &uid, &gid, &e);
                if (cases[i].uid < 0) {
                        ck_assert_msg(r == -EINVAL, "%s accepted as %u:%u", cases[i].text, uid, gid);
                        ck_assert(str_startswith(e.msg, "t.yml:1:4: 'owner' must be numeric \"UID:GID\""));
                        ck_assert_uint_eq(uid, 99);
                } else {
                        ck_assert_msg(r == 0, "%s rejected: %s", cases[i].text, e.msg);
                        ck_assert_uint_eq(uid, (uint32_t) cases[i].uid);
                        ck_assert_uint_eq(gid, (uint32_t) cases[i].gid);
                }
                ydoc_free(d);
                free(text);
        }
}
END_TEST

START_TEST(test_y_abs_path)
{
        YamlDoc *d = load("a: /usr//lib/./x/\nb: /\nc: rel/x\nd: /a/../b\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        char *p = NULL;
        ck_assert_int_eq(y_abs_path(d, y_get(d, root, "a"), "a", &p, &e), 0);
        ck_assert_str_eq(p, "/usr/lib/x");
        free(p);
        ck_assert_int_eq(y_abs_path(d, y_get(d, root, "b"), "b", &p, &e), 0);
        ck_assert_str_eq(p, "/");
        free(p);
        ck_assert_int_eq(y_abs_path(d, y_get(d, root, "c"), "c", &p, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:3:4: 'c' must be an absolute path (starting with '/'), found 'rel/x'");
        ck_assert_int_eq(y_abs_path(d, y_get(d, root, "d"), "d", &p, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:4:4: 'd' must be a path inside the image without '..', found '/a/../b'");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_str_list)
{
        YamlDoc *d = load("s: one\nl: [a, b, 'c d']\ne: []\nn: [a, [b]]\nm: {a: b}\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        char **v = NULL;
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "s"), "s", true, &v, &e), 0);
        ck_assert_uint_eq(strv_length(v), 1);
        ck_assert_str_eq(v[0], "one");
        strv_free(v);
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "s"), "s", false, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:1:4: 's' must be a list of strings, found a scalar");
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "l"), "l", false, &v, &e), 0);
        ck_assert_uint_eq(strv_length(v), 3);
        ck_assert_str_eq(v[2], "c d");
        strv_free(v);
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "e"), "e", false, &v, &e), 0);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_eq(strv_length(v), 0);
        strv_free(v);
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "n"), "n", false, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:4:8: items of 'n' must be strings, found a list");
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "m"), "m", true, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:5:4: 'm' must be a list of strings, found a mapping");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_str_map)
{
        YamlDoc *d = load("ok:\n  B: 2\n  A: x=y\n  N: 1\n"
                          "dup: {A: 1, A: 2}\n"
                          "eq: {A=B: 1}\n"
                          "val: {A: [1]}\n"
                          "lst: [A]\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        char **v = NULL;
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "ok"), "ok", &v, &e), 0);
        ck_assert_uint_eq(strv_length(v), 3);
        ck_assert_str_eq(v[0], "B=2");        /* document order, not sorted */
        ck_assert_str_eq(v[1], "A=x=y");
        ck_assert_str_eq(v[2], "N=1");
        strv_free(v);
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "dup"), "env", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:5:13: duplicate key 'A' in 'env'");
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "eq"), "env", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:6:6: keys of 'env' must not contain '=', found 'A=B'");
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "val"), "env", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:7:10: 'env.A' must be a string, found a list");
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "lst"), "env", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:8:6: 'env' must be a mapping of names to strings, found a list");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_check_map)
{
        static const char *const allowed[] = { "name", "description", "files", NULL };
        static const YamlRename renames[] = { { "dirs", "use 'directories'" }, { NULL, NULL } };
        static const struct {
                const char *text, *msg;
        } cases[] = {
                { "name: a\nfiles: []\n", NULL },
                { "name: a\ndesc: b\n", "t.yml:2:1: unknown key 'desc' in X (did you mean 'description'?)" },
                { "nmae: a\n", "t.yml:1:1: unknown key 'nmae' in X (did you mean 'name'?)" },
                { "filesystem: a\n", "t.yml:1:1: unknown key 'filesystem' in X (did you mean 'files'?)" },
                { "zzz: a\n", "t.yml:1:1: unknown key 'zzz' in X (expected one of: name, description, files)" },
                { "dirs: []\n", "t.yml:1:1: key 'dirs' is not supported in X: use 'directories'" },
                { "name: a\nname: b\n", "t.yml:2:1: duplicate key 'name' in X (first at line 1)" },
                { "? [a]\n: b\n", "t.yml:1:3: keys of X must be strings, found a list" },
                { "[a]\n", "t.yml:1:1: X must be a mapping, found a list" },
                { "just text\n", "t.yml:1:1: X must be a mapping, found a scalar" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                YamlDoc *d = load(cases[i].text);
                ObError e = { 0 };
                int r = y_check_map(d, ydoc_root(d), "X", allowed, renames, &e);
                if (!cases[i].msg)
                        ck_assert_msg(r == 0, "%s", e.msg);
                else {
                        ck_assert_int_eq(r, -EINVAL);
                        ck_assert_str_eq(e.msg, cases[i].msg);
                }
                ydoc_free(d);
        }
}
END_TEST

START_TEST(test_ydoc_load_string_errors)
{
        ObError e = { 0 };
        YamlDoc *d = NULL;
        ck_assert_int_eq(ydoc_load_string("x.yml", "a: [1, 2\n", &d, &e), -EINVAL);
        ck_assert_ptr_null(d);
        ck_assert(str_startswith(e.msg, "x.yml:2:1: invalid YAML: "));
        ck_assert_int_eq(ydoc_load_string("x.yml", "", &d, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "x.yml:1:1: the file is empty (expected a mapping)");
        ck_assert_int_eq(ydoc_load_string("x.yml", "a: b\n\tc: d\n", &d, &e), -EINVAL);
        ck_assert(str_startswith(e.msg, "x.yml:"));
        ck_assert_ptr_nonnull(strstr(e.msg, "invalid YAML"));
        ydoc_free(NULL);
}
END_TEST

static Suite *spec_suite(void)
{
        Suite *s = suite_create("spec");
        TCase *tc = tcase_create("load");
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_good_config);
        tcase_add_test(tc, test_shipped_base_config);
        tcase_add_test(tc, test_minimal_config);
        tcase_add_test(tc, test_rootfs_resolution);
        tcase_add_test(tc, test_missing_file);
        suite_add_tcase(s, tc);

        tc = tcase_create("bad");
        tcase_add_loop_test(tc, test_bad_config, 0, (int) ELEMENTSOF(bad_cases));
        tcase_add_test(tc, test_every_fixture_is_listed);
        suite_add_tcase(s, tc);

        tc = tcase_create("yamlspec");
        tcase_add_test(tc, test_y_uint);
        tcase_add_test(tc, test_y_bool_and_str);
        tcase_add_test(tc, test_y_null_and_require);
        tcase_add_test(tc, test_y_mode);
        tcase_add_test(tc, test_y_owner);
        tcase_add_test(tc, test_y_abs_path);
        tcase_add_test(tc, test_y_str_list);
        tcase_add_test(tc, test_y_str_map);
        tcase_add_test(tc, test_y_check_map);
        tcase_add_test(tc, test_ydoc_load_string_errors);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(spec_suite());
}
