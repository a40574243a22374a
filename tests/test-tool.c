/* SPDX-License-Identifier: MIT */
/* The tool tier: loading tool configs (and the exact message for each kind
 * of mistake), the tool's version from the package in a dpkg database, and
 * the tool layer planned from a sysroot built in a temporary directory.
 *
 * The sysroot is laid out when the test starts. Its ELF parts (a binary, its
 * interpreter, a library behind a chain of symlinks and a plugin) are built
 * with the system C compiler and -nostdlib; the tests that need them are
 * skipped when there is no compiler or the host is neither x86-64 nor
 * aarch64. The rest uses a minimal static ELF file written here. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"
#include "fs.h"
#include "path.h"
#include "plan.h"
#include "spec.h"
#include "sysroot.h"
#include "testutil.h"
#include "tool.h"
#include "util.h"

#define TOOL_DIR TEST_DATA_DIR "/tool"

#if defined(__x86_64__)
#define HOST_MACHINE ELF_MACHINE_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE ELF_MACHINE_AARCH64
#else
#define HOST_MACHINE 0
#endif

static char *tmp_dir;  /* everything the tests write */
static char *fix_root; /* <tmp>/root: the sysroot */
static const char *ma; /* multiarch triplet of the host */
static bool have_elf;  /* the compiler-built fixtures exist */

/* ---- helpers ---------------------------------------------------------- */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
        va_list ap;
        char *cmd;

        va_start(ap, fmt);
        if (vasprintf(&cmd, fmt, ap) < 0)
                abort();
        va_end(ap);
        _cleanup_free_ char *full = xasprintf("{ %s; } >>'%s/build.log' 2>&1", cmd, tmp_dir);
        int r = system(full);
        if (r != 0)
                fprintf(stderr, "fixture command failed (%d): %s\n", r, cmd);
        free(cmd);
        return r == 0 ? 0 : -1;
}

/* Writes text to a file under the sysroot (rel) or anywhere (absolute). */
static int put_file(const char *rel, const char *text, mode_t mode)
{
        _cleanup_free_ char *p = rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", fix_root, rel);
        ObError err = { 0 };
        return write_file_atomic(p, text, strlen(text), mode, &err);
}

static int put_link(const char *rel, const char *target)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", fix_root, rel);
        return symlink(target, p);
}

static void put_le(uint8_t *p, size_t n, uint64_t v)
{
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

/* A header and one PT_LOAD: a static executable that needs nothing. */
static int put_static_elf(const char *rel)
{
        uint8_t img[64 + 56] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
        put_le(img + 16, 2, 2); /* ET_EXEC */
        put_le(img + 18, 2, HOST_MACHINE ? HOST_MACHINE : ELF_MACHINE_X86_64);
        put_le(img + 20, 4, 1);                /* EV_CURRENT */
        put_le(img + 32, 8, 64);               /* e_phoff */
        put_le(img + 52, 2, 64);               /* e_ehsize */
        put_le(img + 54, 2, 56);               /* e_phentsize */
        put_le(img + 56, 2, 1);                /* e_phnum */
        put_le(img + 64, 4, 1);                /* PT_LOAD */
        put_le(img + 64 + 32, 8, sizeof(img)); /* p_filesz */
        _cleanup_free_ char *p = xasprintf("%s/%s", fix_root, rel);
        ObError err = { 0 };
        return write_file_atomic(p, img, sizeof(img), 0755, &err);
}

/* The sysroot without compiled parts:
 *   /usr/bin/static-tool                  minimal static ELF
 *   /opt/tool/{bin/run, share/readme.txt, share/debug.log}
 *   /opt/tool/data -> ../../usr/share/tooldata     (outside /opt/tool)
 *   /opt/tool/self -> bin/run                      (inside)
 *   /opt/tool/broken -> /does/not/exist            (dangling on the host too)
 *   /usr/share/tooldata/{a.txt, b.log, sub/c.txt}
 *   /usr/lib/tool-1.0/{bin/toolver, lib/x.txt}
 *   /usr/bin/toolver -> ../lib/tool-1.0/bin/toolver
 *   /etc/tool.conf.dist
 *   /var/lib/dpkg/status, /var/lib/dpkg/info/wanted.list */
static int build_plain_fixtures(void)
{
        if (run("mkdir -p '%s/usr/bin' '%s/opt/tool/bin' '%s/opt/tool/share' '%s/usr/share/tooldata/sub' "
                "'%s/usr/lib/tool-1.0/bin' '%s/usr/lib/tool-1.0/lib' '%s/etc' '%s/var/lib/dpkg' '%s/src'",
                fix_root, fix_root, fix_root, fix_root, fix_root, fix_root, fix_root, fix_root, tmp_dir) < 0)
                return -1;
        if (put_static_elf("usr/bin/static-tool") < 0 || put_file("opt/tool/bin/run", "#!/bin/false\n", 0755) < 0 ||
            put_file("opt/tool/share/readme.txt", "read me\n", 0644) < 0 ||
            put_file("opt/tool/share/debug.log", "noise\n", 0644) < 0 ||
            put_link("opt/tool/data", "../../usr/share/tooldata") < 0 || put_link("opt/tool/self", "bin/run") < 0 ||
            put_link("opt/tool/broken", "/does/not/exist") < 0 ||
            put_file("usr/share/tooldata/a.txt", "a\n", 0644) < 0 ||
            put_file("usr/share/tooldata/b.log", "b\n", 0644) < 0 ||
            put_file("usr/share/tooldata/sub/c.txt", "c\n", 0644) < 0 ||
            put_file("usr/lib/tool-1.0/bin/toolver", "#!/bin/false\n", 0755) < 0 ||
            put_file("usr/lib/tool-1.0/lib/x.txt", "x\n", 0644) < 0 ||
            put_link("usr/bin/toolver", "../lib/tool-1.0/bin/toolver") < 0 ||
            put_file("etc/tool.conf.dist", "key = value\n", 0644) < 0)
                return -1;
        /* The packages the version tests look up. */
        _cleanup_free_ char *status = NULL;
        ObError err = { 0 };
        if (read_file(TEST_DATA_DIR "/dpkg/root/var/lib/dpkg/status", &status, NULL, &err) < 0)
                return -1;
        /* What dpkg recorded for the installed package 'wanted' (directories
         * too); /usr/bin/wanted-gone has been deleted since. */
        if (put_file("var/lib/dpkg/status", status, 0644) < 0 || run("mkdir -p '%s/var/lib/dpkg/info'", fix_root) < 0)
                return -1;
        return put_file("var/lib/dpkg/info/wanted.list",
                        "/.\n/usr\n/usr/bin\n/usr/bin/static-tool\n/usr/bin/wanted-gone\n/usr/lib/wanted/bin\n"
                        "/usr/lib/wanted/bin/helper\n/usr/sbin/wantedd\n/usr/share/doc/wanted\n",
                        0644);
}

/* The compiled parts:
 *   /lib -> usr/lib
 *   /usr/lib/<ma>/ld-t.so.2                    the interpreter
 *   /usr/lib/<ma>/libt.so.1 -> libt.so.1.0 -> libt.so.1.0.0   (soname libt.so.1)
 *   /usr/lib/<ma>/libu.so.1
 *   /usr/bin/t                                 needs libt.so.1
 *   /opt/plug/plugin.so                        needs libu.so.1 and libt.so.1 */
static int build_elf_fixtures(void)
{
        if (HOST_MACHINE == 0 || system("cc --version >/dev/null 2>&1") != 0)
                return -1;
        ma = elf_machine_multiarch(HOST_MACHINE);
        const char *R = fix_root, *T = tmp_dir;
        if (run("mkdir -p '%s/usr/lib/%s' '%s/opt/plug' && ln -s usr/lib '%s/lib'", R, ma, R, R) < 0)
                return -1;
        if (run("printf 'int fixture_data;\\n' >'%s/src/lib.c' && "
                "printf 'void _start(void) { for (;;) ; }\\n' >'%s/src/start.c'",
                T, T) < 0)
                return -1;
        _cleanup_free_ char *lib = xasprintf("cc -shared -nostdlib -fPIC -Wl,--no-as-needed '%s/src/lib.c'", T);
        _cleanup_free_ char *L = xasprintf("%s/usr/lib/%s", R, ma);
        if (run("%s -Wl,-soname,ld-t.so.2 -o '%s/ld-t.so.2'", lib, L) < 0 ||
            run("%s -Wl,-soname,libt.so.1 -o '%s/libt.so.1.0.0'", lib, L) < 0 ||
            run("ln -s libt.so.1.0.0 '%s/libt.so.1.0' && ln -s libt.so.1.0 '%s/libt.so.1'", L, L) < 0 ||
            run("%s -Wl,-soname,libu.so.1 -o '%s/libu.so.1'", lib, L) < 0 ||
            run("cc -nostdlib -Wl,--no-as-needed '%s/src/start.c' -Wl,-dynamic-linker,/lib/%s/ld-t.so.2 "
                "'%s/libt.so.1.0.0' -o '%s/usr/bin/t'",
                T, ma, L, R) < 0 ||
            run("%s -Wl,-soname,plugin.so '%s/libu.so.1' '%s/libt.so.1.0.0' -o '%s/opt/plug/plugin.so'", lib, L, L, R) <
                    0)
                return -1;
        return 0;
}

#define NEED_ELF()                                                                        \
        do {                                                                              \
                if (!have_elf)                                                            \
                        test_skip("the ELF fixtures could not be compiled (cc -shared)"); \
        } while (0)

/* A config written for one test; returns its path. */
static char *write_config(const char *name, const char *text)
{
        char *p = xasprintf("%s/%s.yml", tmp_dir, name);
        ObError err = { 0 };
        ck_assert_msg(write_file_atomic(p, text, strlen(text), 0644, &err) == 0, "%s", err.msg);
        return p;
}

static Spec *load_tool(const char *path)
{
        ObError err = { 0 };
        Spec *s = NULL;
        ck_assert_msg(spec_load_tool(path, &s, &err) == 0, "%s", err.msg);
        ck_assert_ptr_nonnull(s);
        return s;
}

static Sysroot *open_root(void)
{
        ObError err = { 0 };
        Sysroot *s = NULL;
        ck_assert_msg(sysroot_open(fix_root, &s, &err) == 0, "%s", err.msg);
        return s;
}

static const Entry *must_find(const Plan *p, const char *path, EntryType type)
{
        const Entry *e = plan_find(p, path);
        ck_assert_msg(e != NULL, "'%s' is not in the plan", path);
        ck_assert_msg(e->type == type, "'%s' has type %d, expected %d", path, (int) e->type, (int) type);
        return e;
}

static void must_lack(const Plan *p, const char *path)
{
        ck_assert_msg(plan_find(p, path) == NULL, "'%s' should not be in the plan", path);
}

static void assert_why(const Entry *e, const char *why)
{
        ck_assert_ptr_nonnull(e->why);
        ck_assert_msg(strcmp(e->why, why) == 0, "'%s': why is '%s', expected '%s'", e->path, e->why, why);
}

static void assert_sorted(const Plan *p)
{
        for (size_t i = 1; i < p->n; i++)
                ck_assert_msg(path_compare(p->entries[i - 1].path, p->entries[i].path) < 0, "'%s' before '%s'",
                              p->entries[i - 1].path, p->entries[i].path);
}

/* ---- spec_load_tool: good configs -------------------------------------- */

START_TEST(test_good_config)
{
        Spec *s = load_tool(TOOL_DIR "/good.yml");

        ck_assert_int_eq(s->tier, SPEC_TIER_TOOL);
        ck_assert_str_eq(spec_tier_name(s->tier), "tool");
        ck_assert_str_eq(s->file, TOOL_DIR "/good.yml");
        ck_assert_str_eq(s->name, "testtool");
        ck_assert_str_eq(s->version, "1.2.3");
        ck_assert_str_eq(s->package, "testtool-bin");
        ck_assert_str_eq(s->description, "Test tool with every key");
        ck_assert_str_eq(s->category, "testing");

        /* binaries, normalised */
        ck_assert_uint_eq(strv_length(s->binaries), 2);
        ck_assert_str_eq(s->binaries[0], "/usr/bin/testtool");
        ck_assert_str_eq(s->binaries[1], "/usr/lib/testtool/helper");

        /* files: the short form, ${resolve:...} kept for the planner, optional */
        ck_assert_uint_eq(s->n_files, 3);
        ck_assert_str_eq(s->files[0].path, "/etc/testtool.conf");
        ck_assert_str_eq(s->files[0].source, "/etc/testtool.conf");
        ck_assert(!s->files[0].optional);
        ck_assert_uint_eq(s->files[0].line, 11);
        ck_assert_str_eq(s->files[1].path, "${resolve:/usr/bin/testtool}/../share/testtool");
        ck_assert_str_eq(s->files[1].source, "${resolve:/usr/bin/testtool}/../share/testtool");
        ck_assert(s->files[1].optional);
        ck_assert_uint_eq(strv_length(s->files[1].exclude), 2);
        ck_assert_str_eq(s->files[1].exclude[0], "*.log");
        ck_assert_str_eq(s->files[1].exclude[1], "testdata");
        ck_assert_uint_eq(s->files[1].line, 12);
        ck_assert_str_eq(s->files[2].path, "/opt/dst");
        ck_assert_str_eq(s->files[2].source, "${resolve:/usr/lib/testtool}");
        ck_assert(s->files[2].has_mode);
        ck_assert_uint_eq(s->files[2].mode, 0640);
        ck_assert_uint_eq(s->files[2].uid, 1000);
        ck_assert_uint_eq(s->files[2].gid, 1000);
        ck_assert(!s->files[2].optional);

        ck_assert_uint_eq(s->n_dirs, 1);
        ck_assert_str_eq(s->dirs[0].path, "/var/lib/testtool");
        ck_assert_uint_eq(s->dirs[0].mode, 0750);
        ck_assert_uint_eq(s->dirs[0].uid, 1000);
        ck_assert_uint_eq(s->dirs[0].gid, 1000);
        ck_assert_uint_eq(s->n_links, 1);
        ck_assert_str_eq(s->links[0].path, "/usr/bin/tt");
        ck_assert_str_eq(s->links[0].target, "testtool");

        ck_assert_uint_eq(strv_length(s->config.entrypoint), 1);
        ck_assert_str_eq(s->config.entrypoint[0], "/usr/bin/testtool");
        ck_assert_uint_eq(strv_length(s->config.cmd), 1);
        ck_assert_str_eq(s->config.cmd[0], "--help");
        ck_assert_uint_eq(strv_length(s->config.env), 1);
        ck_assert_str_eq(s->config.env[0], "TT_HOME=/var/lib/testtool");

        /* test: the steps form */
        ck_assert_uint_eq(s->test.n_steps, 2);
        ck_assert_uint_eq(strv_length(s->test.steps[0].command), 2);
        ck_assert_str_eq(s->test.steps[0].command[0], "/usr/bin/testtool");
        ck_assert_str_eq(s->test.steps[0].command[1], "--version");
        ck_assert_str_eq(s->test.steps[0].expect, "testtool 1.2");
        ck_assert_uint_eq(strv_length(s->test.steps[1].command), 2);
        ck_assert_str_eq(s->test.steps[1].command[1], "/tmp/in/data.txt");
        ck_assert_ptr_null(s->test.steps[1].expect);
        ck_assert_uint_eq(strv_length(s->test.env), 1);
        ck_assert_str_eq(s->test.env[0], "TT_DEBUG=1");
        ck_assert_uint_eq(strv_length(s->test.files), 1);
        ck_assert_str_eq(s->test.files[0], "/tmp/in/data.txt=hello\n");

        /* data */
        ck_assert(s->has_data);
        ck_assert_str_eq(s->data.path, "/var/lib/testtool/db");
        ck_assert_uint_eq(s->data.uid, 1000);
        ck_assert_uint_eq(s->data.gid, 1000);
        ck_assert_uint_eq(s->data.mode, 0750);
        ck_assert_uint_eq(strv_length(s->data.command), 3);
        ck_assert_str_eq(s->data.command[0], "/usr/bin/testtool-init");
        ck_assert_str_eq(s->data.command[1], "--dir={dir}");
        ck_assert_str_eq(s->data.command[2], "--pw={password_file}");
        ck_assert_str_eq(s->data.run_as, "testtool");
        ck_assert_str_eq(s->data.password, "secret");
        ck_assert_uint_eq(strv_length(s->data.append), 2);
        ck_assert_str_eq(s->data.append[0], "main.conf=listen = *\n");
        ck_assert_str_eq(s->data.append[1], "extra.conf=x = 1\n");

        /* no app keys */
        ck_assert_ptr_null(s->artifacts);
        ck_assert_ptr_null(s->tools);
        spec_free(s);
}
END_TEST

START_TEST(test_command_form)
{
        Spec *s = load_tool(TOOL_DIR "/good-command.yml");
        ck_assert_str_eq(s->name, "minitool");
        ck_assert_ptr_null(s->version); /* read from the package later */
        ck_assert_str_eq(s->package, "minitool");
        ck_assert_ptr_null(s->category);
        ck_assert_uint_eq(strv_length(s->binaries), 1);
        ck_assert_str_eq(s->binaries[0], "/usr/bin/minitool");
        ck_assert_uint_eq(s->n_files, 0);
        ck_assert_uint_eq(s->test.n_steps, 1);
        ck_assert_uint_eq(strv_length(s->test.steps[0].command), 2);
        ck_assert_str_eq(s->test.steps[0].command[0], "/usr/bin/minitool");
        ck_assert_str_eq(s->test.steps[0].command[1], "--version");
        ck_assert_str_eq(s->test.steps[0].expect, "minitool");
        ck_assert_ptr_null(s->test.env);
        ck_assert_ptr_null(s->test.files);
        ck_assert(!s->has_data);
        ck_assert_ptr_null(s->data.command);
        spec_free(s);
}
END_TEST

START_TEST(test_no_test_section)
{
        _cleanup_free_ char *p = write_config("no-test", "name: bare\nversion: \"2\"\ndescription: d\n"
                                                         "binaries: [/usr/bin/bare]\n");
        Spec *s = load_tool(p);
        ck_assert_str_eq(s->version, "2");
        ck_assert_ptr_null(s->package);
        ck_assert_uint_eq(s->test.n_steps, 0);
        ck_assert_ptr_null(s->test.steps);
        ck_assert(!s->has_data);
        spec_free(s);
}
END_TEST

/* ---- spec_load_tool: bad configs --------------------------------------- */

static const BadCase bad_cases[] = {
        { "bad-release-no-version.yml",
          "1:1: a tool config with 'artifacts' or 'build' needs 'version': it is the release's version" },
        { "bad-release-max-unpacked.yml",
          "5:71: 'max_unpacked' must be a size such as 500M, 2G or a number of bytes, found '12X'" },
        { "bad-release-pin.yml", "5:65: 'sha256' must be 64 lowercase hex digits, found 'abc'" },
        { "bad-release-strip.yml", "5:75: 'strip_components' must be a whole number from 0 to 64, found '-1'" },
        { "bad-release-url.yml",
          "5:25: 'url' must start with https://, http:// or file://, found 'ftp://example.com/r.tar.gz'" },
        { "bad-release-workdir.yml",
          "7:32: 'workdir' must be relative to the unpacked sources, without '..', found '../up'" },
        { "bad-seed-build.yml",
          "5:3: key 'build' is not supported in a tool config as a mapping: 'build.binary_path' is now "
          "'binaries' (a list of image paths) and 'build.runtime_libraries' is not needed: libraries are found by "
          "reading the ELF files; name data files and helpers under 'files' ('build' is now a list of steps that "
          "compile a release's 'artifacts')" },
        { "bad-seed-install-path.yml",
          "5:1: key 'install_path' is not supported in a tool config: binaries and files keep their host paths; "
          "use 'files' with 'path' and 'source' to place something elsewhere" },
        { "bad-seed-test-command.yml",
          "5:1: key 'test_command' is not supported in a tool config: use 'test: {command: [...], expect: TEXT}'" },
        { "bad-env-top.yml", "5:1: key 'env' is not supported in a tool config: put it under 'config: {env: ...}'" },
        { "bad-no-binaries.yml", "2:1: missing required key 'binaries' in a tool config" },
        { "bad-binaries-empty.yml", "4:11: 'binaries' must name at least one program" },
        { "bad-binaries-scalar.yml", "4:11: 'binaries' must be a list of strings, found a scalar" },
        { "bad-binary-relative.yml", "6:5: 'binaries' entries must be absolute paths without '..', found 'usr/bin/u'" },
        { "bad-binary-dotdot.yml",
          "5:5: 'binaries' entries must be absolute paths without '..', found '/usr/bin/../../etc/shadow'" },
        { "bad-no-version.yml", "1:1: a tool config needs 'version', or 'package' to read the version from" },
        { "bad-test-both.yml", "8:5: 'test' takes 'steps' or 'command', not both" },
        { "bad-test-steps-empty.yml", "6:10: 'steps' must be a non-empty list of {command, expect}" },
        { "bad-test-step-key.yml", "8:7: unknown key 'expects' in a 'test' step (did you mean 'expect'?)" },
        { "bad-test-files-outside.yml", "8:5: 'test.files' paths must be under /tmp/, found '/etc/passwd'" },
        { "bad-test-files-dotdot.yml", "7:10: 'test.files' paths must be under /tmp/, found '/tmp/../etc/x'" },
        { "bad-data-relative.yml", "7:12: the first word of 'command' must be an absolute path of a host program" },
        { "bad-data-append-slash.yml",
          "9:5: 'append' keys must be file names inside the data directory, found 'conf/x.conf'" },
        { "bad-data-append-dotdot.yml",
          "8:11: 'append' keys must be file names inside the data directory, found '..'" },
        { "bad-data-no-path.yml", "6:3: missing required key 'path' in 'data'" },
        { "bad-resolve.yml",
          "6:11: 'path' must look like ${resolve:/ABSOLUTE/PATH}/REST, found '${resolve:usr/bin/go}/..'" },
        { "bad-files-optional.yml", "7:15: 'optional' must be true or false" },
};

START_TEST(test_bad_config)
{
        test_check_bad_config(spec_load_tool, TOOL_DIR, &bad_cases[_i]);
}
END_TEST

START_TEST(test_every_fixture_is_listed)
{
        test_check_fixtures_listed(TOOL_DIR, bad_cases, ELEMENTSOF(bad_cases));
}
END_TEST

START_TEST(test_missing_config)
{
        ObError e = { 0 };
        Spec *s = NULL;
        int r = spec_load_tool(TOOL_DIR "/does-not-exist.yml", &s, &e);
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(strstr(e.msg, "does-not-exist.yml"));
}
END_TEST

/* ---- versions from the dpkg database ------------------------------------ */

START_TEST(test_resolve_version)
{
        Sysroot *root = open_root();
        ObError e = { 0 };
        char *v = NULL;

        /* from the package: a valid tag that starts with the upstream
         * version, and the full Debian version beside it */
        _cleanup_free_ char *p1 = write_config("ver-pkg", "name: w\npackage: wanted\ndescription: d\n"
                                                          "binaries: [/usr/bin/w]\n");
        Spec *s = load_tool(p1);
        char *debian = NULL;
        ck_assert_msg(tool_resolve_version(s, root, &v, &debian, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(v, "2.3_dfsg-1-deb12u1");
        ck_assert_str_eq(debian, "1:2.3+dfsg-1~deb12u1");
        free(v);
        free(debian);
        v = NULL;
        /* the Debian version is optional */
        ck_assert_msg(tool_resolve_version(s, root, &v, /* ret_debian_version= */ NULL, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(v, "2.3_dfsg-1-deb12u1");
        free(v);
        v = NULL;
        spec_free(s);

        /* the config's version wins, as is */
        _cleanup_free_ char *p2 = write_config("ver-both", "name: w\nversion: 7.0+x\npackage: wanted\n"
                                                           "description: d\nbinaries: [/usr/bin/w]\n");
        s = load_tool(p2);
        char stale[] = "stale";
        debian = stale;
        ck_assert_msg(tool_resolve_version(s, root, &v, &debian, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(v, "7.0+x");
        ck_assert_ptr_null(debian);
        free(v);
        v = NULL;
        spec_free(s);

        /* not installed: names the config, the tool, the package and the fix */
        _cleanup_free_ char *p3 = write_config("ver-ghost", "name: g\npackage: ghost\ndescription: d\n"
                                                            "binaries: [/usr/bin/g]\n");
        s = load_tool(p3);
        ck_assert_int_eq(tool_resolve_version(s, root, &v, NULL, &e), -ENOPKG);
        ck_assert_ptr_null(v);
        _cleanup_free_ char *want = xasprintf("%s: cannot read the version of 'g': the Debian package 'ghost' is not "
                                              "installed (apt-get install ghost)",
                                              p3);
        ck_assert_str_eq(e.msg, want);
        spec_free(s);
        sysroot_free(root);
}
END_TEST

/* ---- tool_plan --------------------------------------------------------- */

/* A binary the sysroot lacks while its package is installed: a wrong path
 * in the config, which installing the package would not mend. The fixture's
 * package 'wanted' has /usr/bin/static-tool and two programs more; the
 * dpkg database says it is installed. */
START_TEST(test_plan_binary_not_in_package)
{
        static const struct {
                const char *binary;
                const char *tail; /* of the message, after "CONFIG: binary 'BINARY' " */
                int code;
        } cases[] = {
                { "/usr/bin/static-tol",
                  "does not exist, and the installed Debian package 'wanted' does not have it; its programs are "
                  "/usr/bin/static-tool, /usr/bin/wanted-gone, /usr/lib/wanted/bin/helper, /usr/sbin/wantedd",
                  -ENOENT },
                /* listed by dpkg, gone from the disk */
                { "/usr/bin/wanted-gone",
                  "does not exist, though the installed Debian package 'wanted' put it there: reinstall it "
                  "(apt-get install --reinstall wanted)",
                  -ENOENT },
        };
        Sysroot *root = open_root();
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = xasprintf("name: w\npackage: wanted\ndescription: d\n"
                                                      "binaries: [/usr/bin/static-tool, %s]\n",
                                                      cases[i].binary);
                _cleanup_free_ char *cfg = write_config("typo", text);
                Spec *s = load_tool(cfg);
                ObError e = { 0 };
                Plan p;
                plan_init(&p);
                ck_assert_int_eq(tool_plan(s, root, NULL, 0, &p, &e), cases[i].code);
                _cleanup_free_ char *want = xasprintf("%s: binary '%s' %s", cfg, cases[i].binary, cases[i].tail);
                ck_assert_msg(strcmp(e.msg, want) == 0, "got: %s\nexpected: %s", e.msg, want);
                ck_assert_msg(!strstr(e.msg, "apt-get install wanted"), "%s", e.msg);
                ck_assert_uint_eq(p.n, 0);
                spec_free(s);
        }
        sysroot_free(root);
}
END_TEST

static const char files_config[] = "name: ftool\n"                                 /* 1 */
                                   "version: \"1\"\n"                              /* 2 */
                                   "description: files and links\n"                /* 3 */
                                   "binaries: [/usr/bin/static-tool]\n"            /* 4 */
                                   "files:\n"                                      /* 5 */
                                   "  - path: /opt/tool\n"                         /* 6 */
                                   "    exclude: [\"*.log\"]\n"                    /* 7 */
                                   "  - path: /opt/nothing\n"                      /* 8 */
                                   "    optional: true\n"                          /* 9 */
                                   "  - path: ${resolve:/usr/bin/toolver}/../..\n" /* 10 */
                                   "  - path: /etc/tool.conf\n"                    /* 11 */
                                   "    source: /etc/tool.conf.dist\n"
                                   "    mode: \"0600\"\n"
                                   "    owner: \"1000:1000\"\n"
                                   "directories:\n"
                                   "  - { path: /var/lib/ftool, mode: \"0700\", owner: \"1000:1000\" }\n"
                                   "symlinks:\n"
                                   "  - { path: /usr/bin/ft, target: static-tool }\n";

START_TEST(test_plan_files)
{
        _cleanup_free_ char *cfg = write_config("files", files_config);
        Spec *s = load_tool(cfg);
        Sysroot *root = open_root();
        ObError e = { 0 };
        Plan p;
        plan_init(&p);

        ck_assert_msg(tool_plan(s, root, NULL, 1000, &p, &e) == 0, "%s", e.msg);
        assert_sorted(&p);

        /* the binary */
        const Entry *b = must_find(&p, "/usr/bin/static-tool", ENTRY_FILE);
        assert_why(b, "binary named in config");
        ck_assert_uint_eq(b->mode, 0755);
        ck_assert_uint_eq(b->size, 120);

        /* the directory, its files and its links; *.log excluded */
        _cleanup_free_ char *why6 = xasprintf("named in config (%s:6)", cfg);
        assert_why(must_find(&p, "opt/tool", ENTRY_DIR), why6);
        assert_why(must_find(&p, "opt/tool/bin/run", ENTRY_FILE), why6);
        ck_assert_uint_eq(must_find(&p, "opt/tool/bin/run", ENTRY_FILE)->mode, 0755);
        must_find(&p, "opt/tool/share/readme.txt", ENTRY_FILE);
        must_lack(&p, "opt/tool/share/debug.log");
        ck_assert_str_eq(must_find(&p, "opt/tool/data", ENTRY_SYMLINK)->target, "../../usr/share/tooldata");
        ck_assert_str_eq(must_find(&p, "opt/tool/self", ENTRY_SYMLINK)->target, "bin/run");
        /* dangling on the host too: kept as it is */
        ck_assert_str_eq(must_find(&p, "opt/tool/broken", ENTRY_SYMLINK)->target, "/does/not/exist");
        must_lack(&p, "does");

        /* the target of the link out of the directory came along, with the
         * same excludes */
        const Entry *t = must_find(&p, "usr/share/tooldata", ENTRY_DIR);
        assert_why(t, "target of symlink /opt/tool/data");
        assert_why(must_find(&p, "usr/share/tooldata/a.txt", ENTRY_FILE), "target of symlink /opt/tool/data");
        must_find(&p, "usr/share/tooldata/sub", ENTRY_DIR);
        must_find(&p, "usr/share/tooldata/sub/c.txt", ENTRY_FILE);
        must_lack(&p, "usr/share/tooldata/b.log");
        assert_why(must_find(&p, "usr/share", ENTRY_DIR), "parent directory");

        /* optional and missing: skipped */
        must_lack(&p, "opt/nothing");

        /* ${resolve:...}: the versioned directory behind the link */
        _cleanup_free_ char *why10 = xasprintf("named in config (%s:10)", cfg);
        assert_why(must_find(&p, "usr/lib/tool-1.0", ENTRY_DIR), why10);
        must_find(&p, "usr/lib/tool-1.0/bin/toolver", ENTRY_FILE);
        must_find(&p, "usr/lib/tool-1.0/lib/x.txt", ENTRY_FILE);
        must_lack(&p, "usr/bin/toolver"); /* not named */

        /* source, mode and owner */
        const Entry *c = must_find(&p, "etc/tool.conf", ENTRY_FILE);
        ck_assert(str_endswith(c->source, "/etc/tool.conf.dist"));
        ck_assert_uint_eq(c->mode, 0600);
        ck_assert_uint_eq(c->uid, 1000);
        ck_assert_uint_eq(c->gid, 1000);
        must_lack(&p, "etc/tool.conf.dist");

        /* directories and symlinks of the config */
        const Entry *d = must_find(&p, "var/lib/ftool", ENTRY_DIR);
        ck_assert_uint_eq(d->mode, 0700);
        ck_assert_uint_eq(d->uid, 1000);
        assert_why(d, "directory named in config");
        const Entry *l = must_find(&p, "usr/bin/ft", ENTRY_SYMLINK);
        ck_assert_str_eq(l->target, "static-tool");
        assert_why(l, "symlink named in config");

        /* parents are added, the root is not */
        ck_assert_uint_eq(must_find(&p, "var", ENTRY_DIR)->mtime, 1000);
        for (size_t i = 0; i < p.n; i++)
                ck_assert(p.entries[i].path[0] != '\0' && p.entries[i].path[0] != '/');

        plan_clear(&p);
        sysroot_free(root);
        spec_free(s);
}
END_TEST

/* A 'files' source written relative to the config is a host file beside
 * it, wherever the program runs from; an absolute one stays in the sysroot. */
START_TEST(test_plan_files_beside_config)
{
        _cleanup_free_ char *conf = xasprintf("%s/local/conf", tmp_dir);
        ck_assert_int_eq(run("mkdir -p '%s/local/conf/share/sub' '%s/elsewhere'", tmp_dir, tmp_dir), 0);
        _cleanup_free_ char *a = xasprintf("%s/tool.ini", conf), *b = xasprintf("%s/share/sub/x.txt", conf);
        ck_assert_int_eq(put_file(a, "local = yes\n", 0600), 0);
        ck_assert_int_eq(put_file(b, "x\n", 0644), 0);
        _cleanup_free_ char *cfg = xasprintf("%s/local/conf/beside.yml", tmp_dir);
        static const char text[] = "name: beside\nversion: \"1\"\ndescription: d\n"
                                   "binaries: [/usr/bin/static-tool]\nfiles:\n"
                                   "  - { path: /etc/tool.ini, source: tool.ini, mode: \"0644\" }\n"
                                   "  - { path: /usr/share/beside, source: ./share }\n"
                                   "  - { path: /etc/tool.conf, source: /etc/tool.conf.dist }\n";
        ObError e = { 0 };
        ck_assert_int_eq(write_file_atomic(cfg, text, strlen(text), 0644, &e), 0);
        /* loaded by a path relative to another working directory */
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        _cleanup_free_ char *elsewhere = xasprintf("%s/elsewhere", tmp_dir);
        ck_assert_int_eq(chdir(elsewhere), 0);
        Spec *s = load_tool("../local/conf/beside.yml");
        ck_assert_int_eq(chdir(cwd), 0);
        ck_assert(s->files[0].local);
        ck_assert_str_eq(s->files[0].source, a);
        ck_assert(!s->files[2].local);
        ck_assert_str_eq(s->files[2].source, "/etc/tool.conf.dist");

        Sysroot *root = open_root();
        Plan p;
        plan_init(&p);
        ck_assert_msg(tool_plan(s, root, NULL, 1000, &p, &e) == 0, "%s", e.msg);
        const Entry *ini = must_find(&p, "etc/tool.ini", ENTRY_FILE);
        ck_assert_str_eq(ini->source, a);
        ck_assert_uint_eq(ini->mode, 0644);
        must_find(&p, "usr/share/beside/sub", ENTRY_DIR);
        ck_assert_str_eq(must_find(&p, "usr/share/beside/sub/x.txt", ENTRY_FILE)->source, b);
        /* the sysroot's, not the host's /etc */
        _cleanup_free_ char *dist = xasprintf("%s/etc/tool.conf.dist", fix_root);
        ck_assert_str_eq(must_find(&p, "etc/tool.conf", ENTRY_FILE)->source, dist);
        plan_clear(&p);
        spec_free(s);

        /* a missing one names the path it looked for */
        ck_assert_int_eq(unlink(a), 0);
        s = load_tool(cfg);
        plan_init(&p);
        ck_assert_int_eq(tool_plan(s, root, NULL, 1000, &p, &e), -ENOENT);
        _cleanup_free_ char *want = xasprintf("%s:6: files entry '/etc/tool.ini': '%s': ", cfg, a);
        ck_assert_msg(str_startswith(e.msg, want), "got: %s\nexpected: %s...", e.msg, want);
        sysroot_free(root);
        spec_free(s);
}
END_TEST

START_TEST(test_plan_missing_file)
{
        _cleanup_free_ char *cfg = write_config("missing", "name: m\nversion: \"1\"\ndescription: d\n"
                                                           "binaries: [/usr/bin/static-tool]\nfiles:\n"
                                                           "  - /etc/tool.conf.dist\n"
                                                           "  - /opt/missing/file\n");
        Spec *s = load_tool(cfg);
        Sysroot *root = open_root();
        ObError e = { 0 };
        Plan p;
        plan_init(&p);
        int r = tool_plan(s, root, NULL, 0, &p, &e);
        ck_assert_int_eq(r, -ENOENT);
        _cleanup_free_ char *want = xasprintf("%s:7: files entry '/opt/missing/file': ", cfg);
        ck_assert_msg(str_startswith(e.msg, want), "got: %s\nexpected: %s...", e.msg, want);
        ck_assert_ptr_nonnull(strstr(e.msg + strlen(want), "/opt/missing"));
        ck_assert_uint_eq(p.n, 0); /* ret untouched */
        sysroot_free(root);
        spec_free(s);
}
END_TEST

START_TEST(test_plan_missing_binary)
{
        _cleanup_free_ char *cfg = write_config("nobin", "name: n\npackage: nopkg\ndescription: d\n"
                                                         "binaries: [/usr/bin/static-tool, /usr/bin/nope]\n");
        Spec *s = load_tool(cfg);
        Sysroot *root = open_root();
        ObError e = { 0 };
        Plan p;
        plan_init(&p);
        ck_assert_int_eq(tool_plan(s, root, NULL, 0, &p, &e), -ENOPKG);
        _cleanup_free_ char *want = xasprintf("%s: binary '/usr/bin/nope' is not installed: install the Debian "
                                              "package 'nopkg' (apt-get install nopkg)",
                                              cfg);
        ck_assert_msg(strcmp(e.msg, want) == 0, "got: %s\nexpected: %s", e.msg, want);
        ck_assert_uint_eq(p.n, 0);

        /* not an ELF file */
        _cleanup_free_ char *cfg2 = write_config("notelf", "name: n\nversion: \"1\"\ndescription: d\n"
                                                           "binaries: [/opt/tool/bin/run]\n");
        Spec *s2 = load_tool(cfg2);
        ck_assert_int_lt(tool_plan(s2, root, NULL, 0, &p, &e), 0);
        _cleanup_free_ char *want2 = xasprintf("%s: binary '/opt/tool/bin/run': ", cfg2);
        ck_assert_msg(str_startswith(e.msg, want2), "got: %s", e.msg);
        ck_assert_uint_eq(p.n, 0);
        spec_free(s2);
        sysroot_free(root);
        spec_free(s);
}
END_TEST

START_TEST(test_plan_elf)
{
        NEED_ELF();
        _cleanup_free_ char *cfg = write_config("elf", "name: e\nversion: \"1\"\ndescription: d\n"
                                                       "binaries: [/usr/bin/t]\nfiles: [/opt/plug]\n");
        Spec *s = load_tool(cfg);
        Sysroot *root = open_root();
        ObError e = { 0 };
        Plan p;
        plan_init(&p);
        ck_assert_msg(tool_plan(s, root, NULL, 0, &p, &e) == 0, "%s", e.msg);
        assert_sorted(&p);

        _cleanup_free_ char *ldso = xasprintf("usr/lib/%s/ld-t.so.2", ma);
        _cleanup_free_ char *t1 = xasprintf("usr/lib/%s/libt.so.1", ma);
        _cleanup_free_ char *t10 = xasprintf("usr/lib/%s/libt.so.1.0", ma);
        _cleanup_free_ char *t100 = xasprintf("usr/lib/%s/libt.so.1.0.0", ma);
        _cleanup_free_ char *u1 = xasprintf("usr/lib/%s/libu.so.1", ma);

        assert_why(must_find(&p, "usr/bin/t", ENTRY_FILE), "binary named in config");
        const Entry *lib = must_find(&p, "lib", ENTRY_SYMLINK);
        ck_assert_str_eq(lib->target, "usr/lib");
        assert_why(lib, "needed by /usr/bin/t");
        assert_why(must_find(&p, ldso, ENTRY_FILE), "needed by /usr/bin/t");
        /* the chain of links to the library, each a symlink in the image */
        const Entry *l1 = must_find(&p, t1, ENTRY_SYMLINK);
        ck_assert_str_eq(l1->target, "libt.so.1.0");
        assert_why(l1, "needed by /usr/bin/t");
        ck_assert_str_eq(must_find(&p, t10, ENTRY_SYMLINK)->target, "libt.so.1.0.0");
        assert_why(must_find(&p, t100, ENTRY_FILE), "needed by /usr/bin/t");
        /* an ELF file among the files brings its own libraries */
        _cleanup_free_ char *why_files = xasprintf("named in config (%s:5)", cfg);
        assert_why(must_find(&p, "opt/plug/plugin.so", ENTRY_FILE), why_files);
        must_find(&p, u1, ENTRY_FILE);
        plan_clear(&p);

        /* What the base layer holds is not repeated; parents it has keep its
         * metadata. */
        Plan base;
        plan_init(&base);
        _cleanup_free_ char *madir = xasprintf("usr/lib/%s", ma);
        Entry bl = { .path = (char *) "lib", .type = ENTRY_SYMLINK, .mode = 0777, .target = (char *) "usr/lib" };
        Entry bd = { .path = madir, .type = ENTRY_DIR, .mode = 0750, .uid = 7, .gid = 8, .mtime = 42 };
        ck_assert_msg(plan_add(&base, &bl, &e) == 0, "%s", e.msg);
        ck_assert_msg(plan_add(&base, &bd, &e) == 0, "%s", e.msg);
        PlanCopyOptions o = { .dst = t100, .src = t100, .why = "base" };
        ck_assert_msg(plan_add_host(&base, root, &o, &e) == 0, "%s", e.msg);
        ck_assert_msg(plan_finish(&base, 0, &e) == 0, "%s", e.msg);

        ck_assert_msg(tool_plan(s, root, &base, 0, &p, &e) == 0, "%s", e.msg);
        must_find(&p, "usr/bin/t", ENTRY_FILE);
        must_lack(&p, "lib");
        must_lack(&p, t100);
        must_find(&p, t1, ENTRY_SYMLINK);
        must_find(&p, t10, ENTRY_SYMLINK);
        must_find(&p, ldso, ENTRY_FILE);
        assert_why(must_find(&p, u1, ENTRY_FILE), "needed by /opt/plug/plugin.so");
        const Entry *pd = must_find(&p, madir, ENTRY_DIR);
        assert_why(pd, "parent directory");
        ck_assert_uint_eq(pd->mode, 0750);
        ck_assert_uint_eq(pd->uid, 7);
        ck_assert_uint_eq(pd->gid, 8);
        ck_assert_int_eq(pd->mtime, 42);

        plan_clear(&p);
        plan_clear(&base);
        sysroot_free(root);
        spec_free(s);
}
END_TEST

/* A release: the fixture binary in an archive of the release's layout,
 * unpacked at /opt/r; its libraries come from the sysroot. */
static char *make_release(void)
{
        char *archive = xasprintf("%s/r-1.tar.gz", tmp_dir);
        if (access(archive, F_OK) == 0)
                return archive;
        ck_assert_int_eq(run("mkdir -p '%s/rel/r-1/bin' '%s/rel/r-1/doc' && cp '%s/usr/bin/t' '%s/rel/r-1/bin/t' && "
                             "ln -s t '%s/rel/r-1/bin/t-link' && echo readme >'%s/rel/r-1/doc/README' && "
                             "tar czf '%s' -C '%s/rel' r-1",
                             tmp_dir, tmp_dir, fix_root, tmp_dir, tmp_dir, tmp_dir, archive, tmp_dir),
                         0);
        return archive;
}

static char *release_config(const char *name, const char *source, const char *binary)
{
        _cleanup_free_ char *text = xasprintf("name: %s\nversion: \"1.2.3\"\ndescription: d\n"
                                              "artifacts:\n"
                                              "  - path: /opt/r\n"
                                              "    source: %s\n"
                                              "    strip_components: 1\n"
                                              "    exclude: [doc]\n"
                                              "binaries: [%s]\n",
                                              name, source, binary);
        return write_config(name, text);
}

START_TEST(test_plan_release)
{
        NEED_ELF();
        _cleanup_free_ char *archive = make_release();
        _cleanup_free_ char *cfg = release_config("rel", "r-1.tar.gz", "/opt/r/bin/t");
        Spec *s = load_tool(cfg);
        Sysroot *root = open_root();
        ObError e = { 0 };
        Plan p;
        plan_init(&p);
        ck_assert_msg(tool_plan(s, root, NULL, 0, &p, &e) == 0, "%s", e.msg);
        assert_sorted(&p);
        _cleanup_free_ char *why = xasprintf("artifact (%s:5)", cfg);
        const Entry *bin = must_find(&p, "opt/r/bin/t", ENTRY_FILE);
        assert_why(bin, why);
        ck_assert_uint_eq(bin->mode, 0755);
        ck_assert_str_eq(must_find(&p, "opt/r/bin/t-link", ENTRY_SYMLINK)->target, "t");
        must_lack(&p, "opt/r/doc");
        must_lack(&p, "opt/r/r-1");
        /* the libraries are the sysroot's, as for a host binary */
        _cleanup_free_ char *ldso = xasprintf("usr/lib/%s/ld-t.so.2", ma);
        _cleanup_free_ char *t1 = xasprintf("usr/lib/%s/libt.so.1", ma);
        _cleanup_free_ char *t100 = xasprintf("usr/lib/%s/libt.so.1.0.0", ma);
        assert_why(must_find(&p, ldso, ENTRY_FILE), "needed by /opt/r/bin/t");
        assert_why(must_find(&p, t1, ENTRY_SYMLINK), "needed by /opt/r/bin/t");
        const Entry *lib = must_find(&p, t100, ENTRY_FILE);
        ck_assert_msg(str_startswith(lib->source, fix_root), "'%s' is not from the sysroot", lib->source);
        plan_clear(&p);
        sysroot_free(root);
        spec_free(s);
}
END_TEST

START_TEST(test_plan_release_missing_library)
{
        NEED_ELF();
        /* a sysroot with the interpreter but without libt */
        _cleanup_free_ char *bare = xasprintf("%s/bare-root", tmp_dir);
        ck_assert_int_eq(run("mkdir -p '%s/usr/lib/%s' && ln -sfn usr/lib '%s/lib' && cp '%s/usr/lib/%s/ld-t.so.2' "
                             "'%s/usr/lib/%s/'",
                             bare, ma, bare, fix_root, ma, bare, ma),
                         0);
        _cleanup_free_ char *archive = make_release();
        _cleanup_free_ char *cfg = release_config("rel-lib", "r-1.tar.gz", "/opt/r/bin/t");
        Spec *s = load_tool(cfg);
        Sysroot *root = NULL;
        ObError e = { 0 };
        ck_assert_msg(sysroot_open(bare, &root, &e) == 0, "%s", e.msg);
        Plan p;
        plan_init(&p);
        ck_assert_int_eq(tool_plan(s, root, NULL, 0, &p, &e), -ENOENT);
        ck_assert_msg(strstr(e.msg, cfg) && strstr(e.msg, "'/opt/r/bin/t'") && strstr(e.msg, "needs libt.so.1") &&
                              strstr(e.msg, "not in the sysroot"),
                      "%s", e.msg);
        sysroot_free(root);
        spec_free(s);
}
END_TEST

START_TEST(test_plan_release_bad)
{
        NEED_ELF();
        _cleanup_free_ char *archive = make_release();
        _cleanup_free_ char *page = xasprintf("%s/page.tar.gz", tmp_dir);
        test_put_file(page, "<html>not found</html>\n", 0644);
        static const struct {
                const char *source, *binary, *want;
                int code;
        } cases[] = {
                { "r-1.tar.gz", "/opt/r/bin/nope", "binaries: '/opt/r/bin/nope' is not a file of the release", ENOENT },
                { "r-1.tar.gz", "/opt/r/bin/t-link",
                  "binaries: '/opt/r/bin/t-link' is not a file of the release (a symlink", ENOENT },
                { "page.tar.gz", "/opt/r/bin/t", "is not a .tar.gz, .tar.xz or .zip archive", EINVAL },
                { "absent.tar.gz", "/opt/r/bin/t", "artifacts:", ENOENT },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *cfg = release_config("rel-bad", cases[i].source, cases[i].binary);
                Spec *s = load_tool(cfg);
                Sysroot *root = open_root();
                ObError e = { 0 };
                Plan p;
                plan_init(&p);
                ck_assert_int_eq(tool_plan(s, root, NULL, 0, &p, &e), -cases[i].code);
                ck_assert_msg(strstr(e.msg, cfg) && strstr(e.msg, cases[i].want), "%s: %s", cases[i].source, e.msg);
                ck_assert_msg(!strchr(e.msg, '\n'), "not one line: %s", e.msg);
                sysroot_free(root);
                spec_free(s);
        }
}
END_TEST

START_TEST(test_plan_release_bomb)
{
        NEED_ELF();
        _cleanup_free_ char *archive = make_release();
        _cleanup_free_ char *cfg =
                write_config("rel-bomb", "name: rel-bomb\nversion: \"1\"\ndescription: d\n"
                                         "artifacts: [{path: /opt/r, source: r-1.tar.gz, max_unpacked: 1K}]\n"
                                         "binaries: [/opt/r/bin/t]\n");
        Spec *s = load_tool(cfg);
        ck_assert_uint_eq(s->artifacts[0].max_unpacked, 1024);
        Sysroot *root = open_root();
        ObError e = { 0 };
        Plan p;
        plan_init(&p);
        ck_assert_int_eq(tool_plan(s, root, NULL, 0, &p, &e), -EFBIG);
        ck_assert_msg(strstr(e.msg, cfg) && strstr(e.msg, ":4: artifacts: '") &&
                              strstr(e.msg, "refused as an archive bomb"),
                      "%s", e.msg);
        sysroot_free(root);
        spec_free(s);
}
END_TEST

START_TEST(test_plan_source_build)
{
        NEED_ELF();
        _cleanup_free_ char *archive = make_release();
        _cleanup_free_ char *cfg =
                write_config("built", "name: built\nversion: \"1.2.3\"\ndescription: d\n"
                                      "artifacts: [{path: /, source: r-1.tar.gz, strip_components: 1}]\n"
                                      "build:\n"
                                      "  - command: [mkdir, -p, \"{destdir}/usr/local/bin\"]\n"
                                      "  - command: [cp, t, \"{destdir}/usr/local/bin/t\"]\n"
                                      "    workdir: bin\n"
                                      "binaries: [/usr/local/bin/t]\n");
        Spec *s = load_tool(cfg);
        Sysroot *root = open_root();
        ObError e = { 0 };
        Plan p;
        plan_init(&p);
        ck_assert_msg(tool_plan(s, root, NULL, 0, &p, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *why = xasprintf("built by the build steps (%s)", cfg);
        assert_why(must_find(&p, "usr/local/bin/t", ENTRY_FILE), why);
        _cleanup_free_ char *t1 = xasprintf("usr/lib/%s/libt.so.1", ma);
        assert_why(must_find(&p, t1, ENTRY_SYMLINK), "needed by /usr/local/bin/t");
        /* the sources are not part of the layer */
        must_lack(&p, "bin/t");
        plan_clear(&p);

        /* show --files runs no build step */
        ToolPlanOptions o = { .no_fetch = true };
        ck_assert_msg(tool_plan_with(s, root, NULL, 0, &o, &p, &e) == 0, "%s", e.msg);
        const Entry *stand_in = must_find(&p, "usr/local/bin/t", ENTRY_FILE);
        assert_why(stand_in, "binary named in config; not built yet");
        ck_assert_uint_eq(stand_in->size, 0);
        plan_clear(&p);
        sysroot_free(root);
        spec_free(s);
}
END_TEST

START_TEST(test_version_matches)
{
        ck_assert(tool_version_matches("24.22.3", "24"));
        ck_assert(tool_version_matches("24.22.3", "24.22"));
        ck_assert(tool_version_matches("24.22.3", "24.22.3"));
        ck_assert(tool_version_matches("18.19.0-1_deb12u1", "18.19.0"));
        ck_assert(tool_version_matches("1.25.4", ""));
        ck_assert(!tool_version_matches("24.22.3", "24.2"));
        ck_assert(!tool_version_matches("240.1", "24"));
        ck_assert(!tool_version_matches("18.19.0-1_deb12u1", "24"));
        ck_assert(!tool_version_matches("24", "24.1"));
}
END_TEST

START_TEST(test_plan_base_binary)
{
        /* A binary the base already has is not repeated either. */
        _cleanup_free_ char *cfg = write_config("basebin", "name: b\nversion: \"1\"\ndescription: d\n"
                                                           "binaries: [/usr/bin/static-tool]\n"
                                                           "files: [/etc/tool.conf.dist]\n");
        Spec *s = load_tool(cfg);
        Sysroot *root = open_root();
        ObError e = { 0 };
        Plan base, p;
        plan_init(&base);
        plan_init(&p);
        PlanCopyOptions o = { .dst = "/usr/bin/static-tool", .src = "/usr/bin/static-tool", .why = "base" };
        ck_assert_msg(plan_add_host(&base, root, &o, &e) == 0, "%s", e.msg);
        ck_assert_msg(plan_finish(&base, 0, &e) == 0, "%s", e.msg);

        ck_assert_msg(tool_plan(s, root, &base, 0, &p, &e) == 0, "%s", e.msg);
        must_lack(&p, "usr/bin/static-tool");
        must_find(&p, "etc/tool.conf.dist", ENTRY_FILE);
        plan_clear(&p);
        plan_clear(&base);
        sysroot_free(root);
        spec_free(s);
}
END_TEST

static Suite *tool_suite(void)
{
        Suite *s = suite_create("tool");
        TCase *tc = tcase_create("load");
        tcase_add_test(tc, test_good_config);
        tcase_add_test(tc, test_command_form);
        tcase_add_test(tc, test_no_test_section);
        tcase_add_loop_test(tc, test_bad_config, 0, (int) ELEMENTSOF(bad_cases));
        tcase_add_test(tc, test_every_fixture_is_listed);
        tcase_add_test(tc, test_missing_config);
        suite_add_tcase(s, tc);

        tc = tcase_create("version");
        tcase_add_test(tc, test_resolve_version);
        suite_add_tcase(s, tc);

        tc = tcase_create("plan");
        tcase_add_test(tc, test_plan_files);
        tcase_add_test(tc, test_plan_missing_file);
        tcase_add_test(tc, test_plan_files_beside_config);
        tcase_add_test(tc, test_plan_missing_binary);
        tcase_add_test(tc, test_plan_binary_not_in_package);
        tcase_add_test(tc, test_plan_elf);
        tcase_add_test(tc, test_plan_base_binary);
        tcase_add_test(tc, test_plan_release);
        tcase_add_test(tc, test_plan_release_missing_library);
        tcase_add_test(tc, test_plan_release_bad);
        tcase_add_test(tc, test_plan_release_bomb);
        tcase_add_test(tc, test_plan_source_build);
        tcase_add_test(tc, test_version_matches);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        const char *tmp = getenv("TMPDIR");
        tmp_dir = xasprintf("%s/test-tool-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmp_dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        fix_root = xasprintf("%s/root", tmp_dir);
        if (mkdir(fix_root, 0755) < 0 || build_plain_fixtures() < 0) {
                fprintf(stderr, "test-tool: cannot lay out the sysroot in %s\n", tmp_dir);
                test_rm_rf(tmp_dir);
                return EXIT_FAILURE;
        }
        have_elf = build_elf_fixtures() == 0;

        int status = test_run(tool_suite());

        test_rm_rf(tmp_dir);
        free(tmp_dir);
        free(fix_root);
        return status;
}
