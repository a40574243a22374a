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
#include "src/spec-internal.h"
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
        ck_assert_uint_eq(s->dirs[3].mode, 0755); /* the default */

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
        ck_assert_str_eq(s->users[0].shell, "/sbin/nologin"); /* default */
        ck_assert_str_eq(s->users[0].gecos, "root");          /* default: the name */
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
        ck_assert_ptr_nonnull(c->cmd); /* given, and empty */
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

/* A config that is not a regular file: a FIFO blocked for ever, /dev/zero
 * filled memory. Each must fail at once with one line naming the file. */
START_TEST(test_not_a_regular_file)
{
        static const struct {
                const char *name;
                const char *target; /* of a symlink; NULL: a FIFO */
                const char *is;
        } cases[] = {
                { "fifo.yml", NULL, "a FIFO" },
                { "zero.yml", "/dev/zero", "a character device" },
                { "dir.yml", "/", "a directory" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *path = xasprintf("%s/%s", tmp_root, cases[i].name);
                if (cases[i].target)
                        ck_assert_int_eq(symlink(cases[i].target, path), 0);
                else
                        ck_assert_int_eq(mkfifo(path, 0644), 0);
                char *want = xasprintf("config '%s' is %s, not a regular file", path, cases[i].is);
                ObError e = { 0 };
                Spec *s = NULL;
                ck_assert_int_eq(spec_load_base(path, "1", &s, &e), -EINVAL);
                ck_assert_ptr_null(s);
                ck_assert_str_eq(e.msg, want);
                free(want);
                free(path);
        }
}
END_TEST

START_TEST(test_too_large)
{
        char *path = xasprintf("%s/large.yml", tmp_root);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("name: base\ndescription: large\n", f);
        while (ftell(f) <= YDOC_MAX_SIZE)
                fputs("# a comment line to make the file larger than a config may be\n", f);
        fclose(f);
        char *want = xasprintf("config '%s' is larger than a config may be (1024 KiB)", path);
        ObError e = { 0 };
        Spec *s = NULL;
        ck_assert_int_eq(spec_load_base(path, "1", &s, &e), -EFBIG);
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
        { "bad-mode-setuid-file.yml",
          "5:11: 'mode' \"6755\" sets setuid/setgid bits, which are not allowed in a distroless image" },
        { "bad-mode-setuid-dir.yml",
          "5:25: 'mode' \"6777\" sets the setuid bit, which is not allowed in a distroless image" },
        { "bad-nul-byte.yml", "2:18: a NUL byte is not allowed in a config" },
        { "bad-nul-escape.yml", "2:14: a NUL character (\\0) is not allowed in a config" },
        { "bad-second-document.yml", "3:1: a second YAML document starts here; a config is one document" },
        { "bad-utf8.yml", "2:17: incomplete UTF-8 octet sequence" },
        { "bad-tab-indent.yml", "4:1: tabs cannot indent YAML; indent with spaces" },
        { "bad-deep.yml", "4:70: nested deeper than 64 levels, more than a config may be" },
        { "bad-alias-bomb.yml",
          "6:45: aliases expand to more than 10000 nodes or 1024 KiB, more than a config may have" },
        { "bad-escape-name.yml",
          "1:7: 'name' must be lowercase letters, digits, '_', '-' or '.', found '\\x1b]0;pwned\\x07base'" },
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

/* Independent problems of one config are all reported, one a line, each
 * with its position; the first line is the one a single problem gives. */
START_TEST(test_several_problems)
{
        char *path = xasprintf("%s/several.yml", tmp_root);
        write_text(path, "name: Bad\n"
                         "descripton: d\n"
                         "directories:\n"
                         "  - { path: /srv, mode: \"999\" }\n"
                         "  - { path: relative }\n"
                         "  - { path: /ok }\n"
                         "config:\n"
                         "  user: nobody\n"
                         "  workdir: /w\n"
                         "  ports: [80000]\n"
                         "groups:\n"
                         "  - { name: g, gid: x }\n");
        ObError e = { 0 };
        Spec *s = NULL;
        ck_assert_int_eq(spec_load_base(path, "1", &s, &e), -EINVAL);
        ck_assert_ptr_null(s);
        char *want = xasprintf(
                "%1$s:2:1: unknown key 'descripton' in the base config (did you mean 'description'?)\n"
                "%1$s:1:7: 'name' must be lowercase letters, digits, '_', '-' or '.', found 'Bad'\n"
                "%1$s:4:25: 'mode' must be an octal mode from \"0000\" to \"7777\" (e.g. \"0755\"), found '999'\n"
                "%1$s:5:13: 'path' must be an absolute path (starting with '/'), found 'relative'\n"
                "%1$s:8:9: 'user' must be numeric \"UID:GID\" (e.g. \"1000:1000\"), found 'nobody'\n"
                "%1$s:10:11: 'ports' entries must be a port number 1-65535 with an optional /tcp or /udp, found "
                "'80000'\n"
                "%1$s:12:21: 'gid' must be a whole number from 0 to 4294967294, found 'x'",
                path);
        /* the misspelt 'description' is said once, not also as missing */
        ck_assert_str_eq(e.msg, want);
        free(want);
        free(path);
}
END_TEST

/* Past YDOC_MAX_PROBLEMS, the rest are counted. */
START_TEST(test_problems_capped)
{
        char *path = xasprintf("%s/many.yml", tmp_root);
        char *text = xstrdup("name: many\ndescription: d\n");
        for (int i = 0; i < YDOC_MAX_PROBLEMS + 5; i++) {
                char *next = xasprintf("%sbogus%d: x\n", text, i);
                free(text);
                text = next;
        }
        write_text(path, text);
        ObError e = { 0 };
        Spec *s = NULL;
        ck_assert_int_eq(spec_load_base(path, "1", &s, &e), -EINVAL);
        size_t lines = 1;
        for (const char *p = e.msg; (p = strchr(p, '\n')); p++)
                lines++;
        ck_assert_uint_eq(lines, YDOC_MAX_PROBLEMS + 1);
        ck_assert_msg(str_endswith(e.msg, "\nand 5 more problems"), "%s", e.msg);
        char *first = xasprintf("%s:3:1: unknown key 'bogus0' in the base config", path);
        ck_assert(str_startswith(e.msg, first));
        free(first);
        free(text);
        free(path);
}
END_TEST

/* A syntax error is not a list of problems: the rest depends on it. */
START_TEST(test_syntax_error_stops)
{
        char *path = xasprintf("%s/syntax.yml", tmp_root);
        write_text(path, "name: x\nbogus: 1\nfiles: [a, b\n");
        ObError e = { 0 };
        Spec *s = NULL;
        ck_assert_int_eq(spec_load_base(path, "1", &s, &e), -EINVAL);
        ck_assert_ptr_null(strchr(e.msg, '\n'));
        ck_assert_ptr_null(strstr(e.msg, "bogus"));
        ck_assert_ptr_nonnull(strstr(e.msg, "invalid YAML"));
        free(path);
}
END_TEST

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

/* ---- the walk over a list of entries that every tier uses ---- */

typedef struct Pair {
        char *a, *b;
} Pair;

static int parse_pair(YamlDoc *d, yaml_node_t *node, void *elem, void *userdata, ObError *err)
{
        Pair *p = elem;
        size_t *calls = userdata;
        (*calls)++;
        if (node->type == YAML_SCALAR_NODE)
                return y_str(d, node, "x", &p->a, err);
        int r = spec_get_str(d, node, "a", SPEC_KEY_REQUIRED, "an 'x' entry", &p->a, err);
        if (r < 0)
                return r;
        return spec_get_str(d, node, "b", SPEC_KEY_OPTIONAL, "an 'x' entry", &p->b, err);
}

static void pairs_free(Pair *pairs, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(pairs[i].a);
                free(pairs[i].b);
        }
        free(pairs);
}

START_TEST(test_parse_list)
{
        static const char *const keys[] = { "a", "b", NULL };
        const SpecEntryKind kind = { .key = "x",
                                     .what = "an 'x' entry",
                                     .keys = keys,
                                     .scalar_ok = true,
                                     .parse = parse_pair };
        const SpecEntryKind strict = { .key = "x", .what = "an 'x' entry", .keys = keys, .parse = parse_pair };
        static const struct {
                const char *text;
                bool strict;
                size_t n, calls; /* entries counted, parser calls */
                const char *msg; /* NULL: success */
        } cases[] = {
                { "x: [s, {a: 1, b: 2}]\n", false, 2, 2, NULL },
                { "x: []\n", false, 0, 0, NULL },
                { "x: {a: 1}\n", false, 0, 0, "t.yml:1:4: 'x' must be a list, found a mapping" },
                { "x: [{a: 1}, {zzzz: 1}]\n", false, 2, 2,
                  "t.yml:1:14: unknown key 'zzzz' in an 'x' entry (expected one of: a, b)\n"
                  "t.yml:1:13: missing required key 'a' in an 'x' entry" },
                /* counted before it is parsed, so that its owner frees it */
                { "x: [{b: 1}]\n", false, 1, 1, "t.yml:1:5: missing required key 'a' in an 'x' entry" },
                { "x: [s]\n", true, 0, 0, "t.yml:1:5: an 'x' entry must be a mapping, found a scalar" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ObError e = { 0 };
                YamlDoc *d = NULL;
                ck_assert_int_eq(ydoc_load_string("t.yml", cases[i].text, &d, &e), 0);
                Pair *pairs = NULL;
                size_t n = 0, calls = 0;
                int r = spec_parse_list(d, y_get(d, ydoc_root(d), "x"), cases[i].strict ? &strict : &kind, &pairs, &n,
                                        &calls, &e);
                /* a bad entry is noted, and the next one read */
                if (r == 0)
                        r = y_problems(d, &e);
                if (!cases[i].msg)
                        ck_assert_msg(r == 0, "%s", e.msg);
                else {
                        ck_assert_int_eq(r, -EINVAL);
                        ck_assert_str_eq(e.msg, cases[i].msg);
                }
                ck_assert_uint_eq(n, cases[i].n);
                ck_assert_uint_eq(calls, cases[i].calls);
                if (i == 0) {
                        ck_assert_str_eq(pairs[0].a, "s");
                        ck_assert_ptr_null(pairs[0].b);
                        ck_assert_str_eq(pairs[1].a, "1");
                        ck_assert_str_eq(pairs[1].b, "2");
                }
                pairs_free(pairs, n);
                ydoc_free(d);
        }
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
        tcase_add_test(tc, test_not_a_regular_file);
        tcase_add_test(tc, test_too_large);
        tcase_add_test(tc, test_several_problems);
        tcase_add_test(tc, test_problems_capped);
        tcase_add_test(tc, test_syntax_error_stops);
        suite_add_tcase(s, tc);

        tc = tcase_create("bad");
        tcase_add_loop_test(tc, test_bad_config, 0, (int) ELEMENTSOF(bad_cases));
        tcase_add_test(tc, test_every_fixture_is_listed);

        suite_add_tcase(s, tc);

        tc = tcase_create("list");
        tcase_add_test(tc, test_parse_list);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(spec_suite());
}
