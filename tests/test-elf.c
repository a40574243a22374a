/* SPDX-License-Identifier: MIT */
/* ELF parsing and library closure. The fixtures are built when the test
 * starts, with the system C compiler and -nostdlib, into a temporary
 * directory laid out as a sysroot; tests that need them are skipped when no
 * compiler is available or the host is neither x86-64 nor aarch64. */
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
#include "sysroot.h"
#include "testutil.h"
#include "util.h"

#if defined(__x86_64__)
#define HOST_MACHINE ELF_MACHINE_X86_64
#define OTHER_MACHINE ELF_MACHINE_AARCH64
#elif defined(__aarch64__)
#define HOST_MACHINE ELF_MACHINE_AARCH64
#define OTHER_MACHINE ELF_MACHINE_X86_64
#else
#define HOST_MACHINE 0
#define OTHER_MACHINE 0
#endif

static char *tmp_dir;  /* everything the fixtures need */
static char *fix_root; /* <tmp>/root: the sysroot */
static const char *ma; /* multiarch triplet of the host */
static bool have_fixtures;

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

static char *fix_path(const char *rel)
{
        return xasprintf("%s/%s", fix_root, rel);
}

static int load(const char *path, uint8_t **ret, size_t *ret_size)
{
        ObError err = { 0 };
        char *data;
        if (read_file(path, &data, ret_size, &err) < 0)
                return -1;
        *ret = (uint8_t *) data;
        return 0;
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

static void put_le(uint8_t *p, size_t n, uint64_t v)
{
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

/* Offsets into the ELF64 header and program headers. */
enum {
        EH_TYPE = 16,
        EH_MACHINE = 18,
        EH_PHOFF = 32,
        EH_SHOFF = 40,
        EH_PHENTSIZE = 54,
        EH_PHNUM = 56,
        PH_TYPE = 0,
        PH_OFFSET = 8,
        PH_VADDR = 16,
        PH_FILESZ = 32,
        PT_LOAD_ = 1,
        PT_DYNAMIC_ = 2,
        PT_INTERP_ = 3,
        DT_NEEDED_ = 1,
        DT_STRTAB_ = 5,
        DT_STRSZ_ = 10,
};

static uint8_t *phdr(uint8_t *img, unsigned type)
{
        uint64_t phoff = get_le(img + EH_PHOFF, 8), phnum = get_le(img + EH_PHNUM, 2);
        for (uint64_t i = 0; i < phnum; i++) {
                uint8_t *ph = img + phoff + i * 56;
                if (get_le(ph + PH_TYPE, 4) == type)
                        return ph;
        }
        return NULL;
}

/* The d_val of the first dynamic entry with the tag, or NULL. */
static uint8_t *dyn_entry(uint8_t *img, int64_t tag)
{
        uint8_t *ph = phdr(img, PT_DYNAMIC_);
        if (!ph)
                return NULL;
        uint64_t off = get_le(ph + PH_OFFSET, 8), sz = get_le(ph + PH_FILESZ, 8);
        for (uint64_t i = 0; i + 16 <= sz; i += 16) {
                int64_t t = (int64_t) get_le(img + off + i, 8);
                if (t == 0)
                        break;
                if (t == tag)
                        return img + off + i;
        }
        return NULL;
}

static int patch_file(const char *from, const char *to, size_t at, size_t n, uint64_t value)
{
        uint8_t *data;
        size_t size;
        ObError err = { 0 };
        if (load(from, &data, &size) < 0)
                return -1;
        if (size < at + n) {
                free(data);
                return -1;
        }
        put_le(data + at, n, value);
        int r = write_file_atomic(to, data, size, 0755, &err);
        free(data);
        return r;
}

/* Lays out the fixture sysroot:
 *   /lib -> usr/lib                                (merged /usr)
 *   /usr/lib/<ma>/ld-fix.so.2                      (the interpreter of everything here)
 *   /usr/lib/<ma>/libbase.so.1                     (found in the default directories)
 *   /opt/app/bin/app           RUNPATH $ORIGIN/../lib, needs libfix.so.1
 *   /opt/app/lib/libfix.so.1 -> libfix.so.1.0      (soname libfix.so.1, needs libbase.so.1)
 *   /usr/bin/missing           needs libmissing.so.1, which is nowhere
 *   /usr/bin/noint             interpreter /lib/ld-nope.so.1, which is nowhere
 *   /usr/bin/useconf           needs libconf.so.1 from /opt/conflib (ld.so.conf.d)
 *   /usr/bin/skipwrong         RUNPATH /opt/fifo:/opt/dir:/opt/wrong32:/opt/wrong, holding
 *                              a FIFO, a directory, wrong-class and wrong-machine
 *                              copies of libbase.so.1
 *   /usr/bin/userpath          RPATH /opt/rp, needs libchain.so.1 which needs libonlyrp.so.1
 *   /usr/bin/userunpath        the same with RUNPATH, which is not inherited: fails
 *   /usr/bin/uselib            RUNPATH /opt/${LIB}/x, needs libl.so.1
 *   /opt/bundle/bin/b          RUNPATH ${ORIGIN}/../lib, needs libA.so.1 and libB.so.1;
 *                              libA.so.1 needs libB.so.1 and has no RUNPATH
 *   /usr/bin/applink -> ../../opt/app/bin/app
 *   /etc/notes.txt, /etc/fifo */
static char *lib_cmd, *exe_cmd;

/* out is relative to the sysroot unless absolute; extra is appended to the
 * command line as is (already quoted). */
static int build_lib(const char *out, const char *soname, const char *extra)
{
        _cleanup_free_ char *o = out[0] == '/' ? xstrdup(out) : fix_path(out);
        return run("%s -o '%s' -Wl,-soname,%s %s", lib_cmd, o, soname, extra);
}

static int build_exe(const char *out, const char *extra)
{
        _cleanup_free_ char *o = fix_path(out);
        return run("%s -o '%s' %s", exe_cmd, o, extra);
}

static int build_fixtures(void)
{
        if (HOST_MACHINE == 0 || system("cc --version >/dev/null 2>&1") != 0)
                return -1;
        ma = elf_machine_multiarch(HOST_MACHINE);

        const char *tmp = getenv("TMPDIR");
        tmp_dir = xasprintf("%s/test-elf-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmp_dir))
                return -1;
        fix_root = xasprintf("%s/root", tmp_dir);
        const char *t = tmp_dir, *R = fix_root;

        if (run("mkdir -p '%s/src' '%s/scratch' '%s/usr/lib/%s' '%s/usr/bin' '%s/opt/app/bin' '%s/opt/app/lib' "
                "'%s/opt/conflib' '%s/etc/ld.so.conf.d' '%s/opt/wrong' '%s/opt/wrong32' '%s/opt/rp' "
                "'%s/opt/lib/%s/x' '%s/opt/bundle/bin' '%s/opt/bundle/lib'",
                t, t, R, ma, R, R, R, R, R, R, R, R, R, ma, R, R) < 0)
                return -1;
        if (run("ln -s usr/lib '%s/lib' && ln -s ../../opt/app/bin/app '%s/usr/bin/applink' && "
                "mkdir -p '%s/opt/fifo' '%s/opt/dir/libbase.so.1' && mkfifo '%s/opt/fifo/libbase.so.1' '%s/etc/fifo'",
                R, R, R, R, R, R) < 0)
                return -1;
        if (run("printf 'int fixture_data;\\n' >'%s/src/lib.c' && "
                "printf 'void _start(void) { for (;;) ; }\\n' >'%s/src/start.c' && "
                "printf 'include ld.so.conf.d/*.conf\\n' >'%s/etc/ld.so.conf' && "
                "printf '# local libraries\\n/opt/conflib/\\n' >'%s/etc/ld.so.conf.d/fix.conf' && "
                "printf 'hello\\n' >'%s/etc/notes.txt'",
                t, t, R, R, R) < 0)
                return -1;

        lib_cmd = xasprintf("cc -shared -nostdlib -fPIC -Wl,--no-as-needed -Wl,-rpath-link,'%s/usr/lib/%s' "
                            "-Wl,-rpath-link,'%s/opt/rp' -Wl,-rpath-link,'%s/opt/bundle/lib' '%s/src/lib.c'",
                            R, ma, R, R, t);
        exe_cmd = xasprintf("cc -nostdlib -Wl,--no-as-needed -Wl,-rpath-link,'%s/usr/lib/%s' "
                            "-Wl,-rpath-link,'%s/opt/rp' -Wl,-rpath-link,'%s/opt/bundle/lib' '%s/src/start.c' "
                            "-Wl,-dynamic-linker,/lib/%s/ld-fix.so.2",
                            R, ma, R, R, t, ma);

        _cleanup_free_ char *ldso = xasprintf("usr/lib/%s/ld-fix.so.2", ma);
        _cleanup_free_ char *base = xasprintf("%s/usr/lib/%s/libbase.so.1", R, ma);
        _cleanup_free_ char *chain = xasprintf("%s/usr/lib/%s/libchain.so.1", R, ma);
        _cleanup_free_ char *libl = xasprintf("%s/opt/lib/%s/x/libl.so.1", R, ma);
        _cleanup_free_ char *missing = xasprintf("%s/scratch/libmissing.so.1", t);
        _cleanup_free_ char *q_base = xasprintf("'%s'", base);
        _cleanup_free_ char *q_fix = xasprintf("'%s/opt/app/lib/libfix.so.1.0'", R);
        _cleanup_free_ char *q_missing = xasprintf("'%s'", missing);
        _cleanup_free_ char *q_conf = xasprintf("'%s/opt/conflib/libconf.so.1'", R);
        _cleanup_free_ char *q_onlyrp = xasprintf("'%s/opt/rp/libonlyrp.so.1'", R);
        _cleanup_free_ char *q_chain = xasprintf("'%s' -Wl,--disable-new-dtags -Wl,-rpath,/opt/rp", chain);
        _cleanup_free_ char *q_chain_run = xasprintf("'%s' -Wl,--enable-new-dtags -Wl,-rpath,/opt/rp", chain);
        _cleanup_free_ char *q_l = xasprintf("'%s' -Wl,--enable-new-dtags -Wl,-rpath,'/opt/${LIB}/x'", libl);
        _cleanup_free_ char *q_app = xasprintf("%s -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN/../lib'", q_fix);
        _cleanup_free_ char *q_noint = xasprintf("%s -Wl,-dynamic-linker,/lib/ld-nope.so.1", q_base);
        _cleanup_free_ char *q_wrong =
                xasprintf("%s -Wl,--enable-new-dtags -Wl,-rpath,/opt/fifo:/opt/dir:/opt/wrong32:/opt/wrong", q_base);
        _cleanup_free_ char *q_a = xasprintf("'%s/opt/bundle/lib/libB.so.1'", R);
        _cleanup_free_ char *q_b = xasprintf("'%s/opt/bundle/lib/libA.so.1' %s -Wl,--enable-new-dtags "
                                             "-Wl,-rpath,'${ORIGIN}/../lib'",
                                             R, q_a);
        _cleanup_free_ char *wrong = xasprintf("%s/opt/wrong/libbase.so.1", R);
        _cleanup_free_ char *wrong32 = xasprintf("%s/opt/wrong32/libbase.so.1", R);

        if (build_lib(ldso, "ld-fix.so.2", "") < 0 || build_lib(base, "libbase.so.1", "") < 0 ||
            build_lib("opt/app/lib/libfix.so.1.0", "libfix.so.1", q_base) < 0 ||
            run("ln -s libfix.so.1.0 '%s/opt/app/lib/libfix.so.1'", R) < 0 || build_exe("opt/app/bin/app", q_app) < 0 ||
            build_lib(missing, "libmissing.so.1", "") < 0 || build_exe("usr/bin/missing", q_missing) < 0 ||
            build_exe("usr/bin/noint", q_noint) < 0 || build_lib("opt/conflib/libconf.so.1", "libconf.so.1", "") < 0 ||
            build_exe("usr/bin/useconf", q_conf) < 0 || build_exe("usr/bin/skipwrong", q_wrong) < 0 ||
            build_lib("opt/rp/libonlyrp.so.1", "libonlyrp.so.1", "") < 0 ||
            build_lib(chain, "libchain.so.1", q_onlyrp) < 0 || build_exe("usr/bin/userpath", q_chain) < 0 ||
            build_exe("usr/bin/userunpath", q_chain_run) < 0 || build_lib(libl, "libl.so.1", "") < 0 ||
            build_exe("usr/bin/uselib", q_l) < 0 || build_lib("opt/bundle/lib/libB.so.1", "libB.so.1", "") < 0 ||
            build_lib("opt/bundle/lib/libA.so.1", "libA.so.1", q_a) < 0 || build_exe("opt/bundle/bin/b", q_b) < 0)
                return -1;

        /* Same name, wrong machine and wrong class: ld.so passes over both. */
        if (patch_file(base, wrong, EH_MACHINE, 2, OTHER_MACHINE) < 0 || patch_file(base, wrong32, 4, 1, 1) < 0)
                return -1;
        return 0;
}

#define NEED_FIXTURES()                                                           \
        do {                                                                      \
                if (!have_fixtures)                                               \
                        test_skip("the ELF fixtures could not be compiled (cc)"); \
        } while (0)

/* ---- closure helpers -------------------------------------------------- */

static ElfClosure *closure_for(const char *root, Sysroot **ret_sysroot)
{
        ObError err = { 0 };
        Sysroot *s;
        ElfClosure *c;
        ck_assert_msg(sysroot_open(root, &s, &err) == 0, "%s", err.msg);
        ck_assert_msg(elf_closure_new(s, &c, &err) == 0, "%s", err.msg);
        *ret_sysroot = s;
        return c;
}

static const ElfDep *find_dep(const ElfClosure *c, const char *path)
{
        for (size_t i = 0; i < elf_closure_count(c); i++)
                if (strcmp(elf_closure_get(c, i)->path, path) == 0)
                        return elf_closure_get(c, i);
        return NULL;
}

static void assert_unique(const ElfClosure *c)
{
        for (size_t i = 0; i < elf_closure_count(c); i++)
                for (size_t j = i + 1; j < elf_closure_count(c); j++)
                        ck_assert_str_ne(elf_closure_get(c, i)->path, elf_closure_get(c, j)->path);
}

static void assert_file(const ElfClosure *c, const char *path, const char *needed_by)
{
        const ElfDep *d = find_dep(c, path);
        ck_assert_msg(d, "%s missing from the closure", path);
        ck_assert_int_eq(d->type, ELF_DEP_FILE);
        ck_assert_ptr_null(d->target);
        if (needed_by)
                ck_assert_str_eq(d->needed_by, needed_by);
        else
                ck_assert_ptr_null(d->needed_by);
}

static void assert_link(const ElfClosure *c, const char *path, const char *target, const char *needed_by)
{
        const ElfDep *d = find_dep(c, path);
        ck_assert_msg(d, "%s missing from the closure", path);
        ck_assert_int_eq(d->type, ELF_DEP_SYMLINK);
        ck_assert_str_eq(d->target, target);
        if (needed_by)
                ck_assert_str_eq(d->needed_by, needed_by);
        else
                ck_assert_ptr_null(d->needed_by);
}

static int closure_of(const char *path, ElfClosureFlags flags, ElfClosure **ret_c, Sysroot **ret_s, ObError *err)
{
        ElfClosure *c = closure_for(fix_root, ret_s);
        int r = elf_closure_add(c, path, flags, err);
        *ret_c = c;
        return r;
}

/* ---- parsing ---------------------------------------------------------- */

START_TEST(test_parse_fixture)
{
        NEED_FIXTURES();
        _cleanup_free_ char *path = fix_path("opt/app/bin/app");
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        ObError err = { 0 };
        ElfInfo info;

        ck_assert_int_eq(load(path, &data, &size), 0);
        ck_assert_msg(elf_parse(data, size, "app", &info, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(info.machine, HOST_MACHINE);
        _cleanup_free_ char *interp = xasprintf("/lib/%s/ld-fix.so.2", ma);
        ck_assert_str_eq(info.interp, interp);
        ck_assert_int_eq(strv_length(info.needed), 1);
        ck_assert_str_eq(info.needed[0], "libfix.so.1");
        ck_assert_str_eq(info.runpath, "$ORIGIN/../lib");
        ck_assert_ptr_null(info.rpath);
        ck_assert_ptr_null(info.soname);
        elf_info_clear(&info);
        ck_assert_ptr_null(info.needed);
        free(TAKE_PTR(data));

        free(path);
        path = fix_path("opt/app/lib/libfix.so.1.0");
        ck_assert_int_eq(load(path, &data, &size), 0);
        ck_assert_msg(elf_parse(data, size, "libfix", &info, &err) == 0, "%s", err.msg);
        ck_assert_ptr_null(info.interp);
        ck_assert_str_eq(info.soname, "libfix.so.1");
        ck_assert_int_eq(strv_length(info.needed), 1);
        ck_assert_str_eq(info.needed[0], "libbase.so.1");
        elf_info_clear(&info);
        free(TAKE_PTR(data));

        free(path);
        path = fix_path("usr/bin/userpath");
        ck_assert_int_eq(load(path, &data, &size), 0);
        ck_assert_msg(elf_parse(data, size, "userpath", &info, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(info.rpath, "/opt/rp");
        ck_assert_ptr_null(info.runpath);
        elf_info_clear(&info);
}
END_TEST

START_TEST(test_parse_host)
{
        const char *bins[] = { "/bin/true", "/usr/bin/true", "/bin/ls" };
        for (size_t i = 0; i < ELEMENTSOF(bins); i++) {
                _cleanup_free_ uint8_t *data = NULL;
                size_t size;
                ObError err = { 0 };
                ElfInfo info;
                if (load(bins[i], &data, &size) < 0)
                        continue;
                int r = elf_parse(data, size, bins[i], &info, &err);
                if (HOST_MACHINE == 0) {
                        ck_assert_int_lt(r, 0);
                        continue;
                }
                ck_assert_msg(r == 0, "%s", err.msg);
                ck_assert_int_eq(info.machine, HOST_MACHINE);
                ck_assert_msg(strv_contains(info.needed, "libc.so.6"), "%s does not need libc.so.6", bins[i]);
                ck_assert_ptr_nonnull(info.interp);
                elf_info_clear(&info);
        }
}
END_TEST

static void expect_error(const uint8_t *data, size_t size, const char *why)
{
        ObError err = { 0 };
        ElfInfo info = { 0 };
        int r = elf_parse(data, size, "damaged", &info, &err);
        if (r == 0)
                elf_info_clear(&info);
        ck_assert_msg(r < 0, "%s: parsed without an error", why);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_msg(strstr(err.msg, "'damaged': "), "%s: message '%s' does not name the file", why, err.msg);
        ck_assert_ptr_null(info.needed);
}

/* Applies one damage to a fresh copy of the image and expects an error. */
#define DAMAGE(why, ...)                      \
        do {                                  \
                uint8_t *img = xmalloc(size); \
                memcpy(img, orig, size);      \
                __VA_ARGS__;                  \
                expect_error(img, size, why); \
                free(img);                    \
        } while (0)

static void damage_image(const uint8_t *orig, size_t size)
{
        uint8_t *ph_dyn_o = phdr((uint8_t *) orig, PT_DYNAMIC_);
        uint8_t *ph_int_o = phdr((uint8_t *) orig, PT_INTERP_);
        ck_assert_ptr_nonnull(ph_dyn_o);
        ck_assert_ptr_nonnull(ph_int_o);
        ck_assert_ptr_nonnull(dyn_entry((uint8_t *) orig, DT_NEEDED_));
        ck_assert_ptr_nonnull(dyn_entry((uint8_t *) orig, DT_STRTAB_));
        ck_assert_ptr_nonnull(dyn_entry((uint8_t *) orig, DT_STRSZ_));
        size_t dyn = (size_t) (ph_dyn_o - orig), inter = (size_t) (ph_int_o - orig);

        DAMAGE("e_phoff at the end", put_le(img + EH_PHOFF, 8, size));
        DAMAGE("e_phoff huge", put_le(img + EH_PHOFF, 8, UINT64_MAX - 8));
        DAMAGE("e_phnum huge", put_le(img + EH_PHNUM, 2, 0xfff0));
        DAMAGE("e_phnum zero", put_le(img + EH_PHNUM, 2, 0));
        DAMAGE("e_phentsize small", put_le(img + EH_PHENTSIZE, 2, 8));
        DAMAGE("PN_XNUM without sections", put_le(img + EH_PHNUM, 2, 0xffff); put_le(img + EH_SHOFF, 8, 0));
        DAMAGE("PN_XNUM sections out of range", put_le(img + EH_PHNUM, 2, 0xffff);
               put_le(img + EH_SHOFF, 8, size - 10));
        DAMAGE("PT_DYNAMIC p_offset near the end", put_le(img + dyn + PH_OFFSET, 8, size - 8));
        DAMAGE("PT_DYNAMIC p_offset huge", put_le(img + dyn + PH_OFFSET, 8, UINT64_MAX - 4));
        DAMAGE("PT_DYNAMIC p_filesz huge", put_le(img + dyn + PH_FILESZ, 8, UINT64_MAX));
        DAMAGE("PT_DYNAMIC p_filesz past the end", put_le(img + dyn + PH_FILESZ, 8, size));
        DAMAGE("PT_INTERP p_offset huge", put_le(img + inter + PH_OFFSET, 8, UINT64_MAX - 1));
        DAMAGE("PT_INTERP p_filesz huge", put_le(img + inter + PH_FILESZ, 8, UINT64_MAX / 2));
        DAMAGE("PT_INTERP empty", put_le(img + inter + PH_FILESZ, 8, 0));
        DAMAGE("PT_INTERP not terminated", {
                uint64_t o = get_le(img + inter + PH_OFFSET, 8), n = get_le(img + inter + PH_FILESZ, 8);
                img[o + n - 1] = 'x';
        });
        DAMAGE("PT_INTERP first", img[get_le(img + inter + PH_OFFSET, 8)] = '\0');
        DAMAGE("DT_STRTAB out of range", put_le(dyn_entry(img, DT_STRTAB_) + 8, 8, 0xdeadbeef000ull));
        DAMAGE("DT_STRTAB at the top", put_le(dyn_entry(img, DT_STRTAB_) + 8, 8, UINT64_MAX));
        DAMAGE("DT_STRTAB missing", put_le(dyn_entry(img, DT_STRTAB_), 8, 21));
        DAMAGE("DT_STRSZ huge", put_le(dyn_entry(img, DT_STRSZ_) + 8, 8, UINT64_MAX - 3));
        DAMAGE("DT_STRSZ past the segment", put_le(dyn_entry(img, DT_STRSZ_) + 8, 8, size));
        DAMAGE("DT_NEEDED offset out of range", put_le(dyn_entry(img, DT_NEEDED_) + 8, 8, 0xffffffffull));
        DAMAGE("DT_NEEDED offset huge", put_le(dyn_entry(img, DT_NEEDED_) + 8, 8, UINT64_MAX));
        DAMAGE("DT_NEEDED empty", put_le(dyn_entry(img, DT_NEEDED_) + 8, 8, 0));
        DAMAGE("DT_NEEDED not terminated", {
                uint64_t off = get_le(dyn_entry(img, DT_NEEDED_) + 8, 8);
                put_le(dyn_entry(img, DT_STRSZ_) + 8, 8, off + 2);
        });
        DAMAGE("PT_LOAD of the string table past the end", {
                uint64_t strtab = get_le(dyn_entry(img, DT_STRTAB_) + 8, 8);
                uint64_t phoff = get_le(img + EH_PHOFF, 8), phnum = get_le(img + EH_PHNUM, 2);
                for (uint64_t i = 0; i < phnum; i++) {
                        uint8_t *ph = img + phoff + i * 56;
                        uint64_t va = get_le(ph + PH_VADDR, 8), fs = get_le(ph + PH_FILESZ, 8);
                        if (get_le(ph + PH_TYPE, 4) == PT_LOAD_ && strtab >= va && strtab - va < fs)
                                put_le(ph + PH_FILESZ, 8, size * 4);
                }
        });
        DAMAGE("no PT_LOAD", {
                uint64_t phoff = get_le(img + EH_PHOFF, 8), phnum = get_le(img + EH_PHNUM, 2);
                for (uint64_t i = 0; i < phnum; i++)
                        if (get_le(img + phoff + i * 56 + PH_TYPE, 4) == PT_LOAD_)
                                put_le(img + phoff + i * 56 + PH_TYPE, 4, 0x6474e551);
        });
        DAMAGE("two PT_DYNAMIC", put_le(img + inter + PH_TYPE, 4, PT_DYNAMIC_));
        DAMAGE("ELF32", img[4] = 1);
        DAMAGE("bad class", img[4] = 7);
        DAMAGE("big-endian", img[5] = 2);
        DAMAGE("bad byte order", img[5] = 0);
        DAMAGE("bad version", img[6] = 0);
        DAMAGE("i386 machine", put_le(img + EH_MACHINE, 2, 3));
        DAMAGE("ARM machine", put_le(img + EH_MACHINE, 2, 40));
        DAMAGE("relocatable", put_le(img + EH_TYPE, 2, 1));
        DAMAGE("not ELF", img[1] = 'X');

        /* Cutting the file anywhere before the last byte the parser needs is
         * an error; anywhere after it is fine. Nothing may crash. Every
         * length near a structure's edge is tried, a sample elsewhere. */
        uint64_t needed_end = get_le(orig + EH_PHOFF, 8) + get_le(orig + EH_PHNUM, 2) * 56;
        uint64_t dyn_end = get_le(ph_dyn_o + PH_OFFSET, 8) + get_le(ph_dyn_o + PH_FILESZ, 8);
        if (dyn_end > needed_end)
                needed_end = dyn_end;
        uint64_t edges[] = {
                needed_end,
                get_le(ph_dyn_o + PH_OFFSET, 8),
                get_le(ph_int_o + PH_OFFSET, 8),
                get_le(ph_int_o + PH_OFFSET, 8) + get_le(ph_int_o + PH_FILESZ, 8),
                get_le(orig + EH_PHOFF, 8) + get_le(orig + EH_PHNUM, 2) * 56,
                size,
        };
        for (size_t len = 0; len <= size; len++) {
                bool near = len < 512 || len % 61 == 0;
                for (size_t k = 0; k < ELEMENTSOF(edges) && !near; k++)
                        near = len + 24 >= edges[k] && len <= edges[k] + 24;
                if (!near)
                        continue;
                /* A heap copy of exactly len bytes, so that ASan sees any
                 * read past the end. */
                uint8_t *img = xmalloc(len);
                memcpy(img, orig, len);
                ObError err = { 0 };
                ElfInfo info;
                int r = elf_parse(img, len, "damaged", &info, &err);
                if (len < needed_end)
                        ck_assert_msg(r < 0, "truncated to %zu bytes: parsed", len);
                if (r < 0)
                        ck_assert_msg(strstr(err.msg, "'damaged': "), "%s", err.msg);
                else
                        elf_info_clear(&info);
                free(img);
        }

        /* Random damage, reproducible: only "no crash" is asserted. */
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        for (int i = 0; i < 2000; i++) {
                uint8_t *img = xmalloc(size);
                memcpy(img, orig, size);
                int flips = 1 + i % 8;
                for (int k = 0; k < flips; k++) {
                        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                        /* Mostly the headers and the dynamic section, which is
                         * where the parser looks. */
                        size_t span = (k & 1) ? size : (size < 1024 ? size : 1024);
                        size_t at = (size_t) (seed >> 33) % span;
                        img[at] ^= (uint8_t) (1u << ((seed >> 20) & 7));
                }
                ObError err = { 0 };
                ElfInfo info;
                if (elf_parse(img, size, "random", &info, &err) == 0)
                        elf_info_clear(&info);
                else
                        ck_assert(err.msg[0] != '\0');
                free(img);
        }
}

START_TEST(test_damaged)
{
        NEED_FIXTURES();
        _cleanup_free_ char *path = fix_path("opt/app/bin/app");
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;

        ck_assert_int_eq(load(path, &data, &size), 0);
        damage_image(data, size);
}
END_TEST

START_TEST(test_damaged_host)
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        ObError err = { 0 };
        ElfInfo info;

        if (HOST_MACHINE == 0)
                test_skip("this machine's architecture is neither x86_64 nor aarch64");
        if (load("/bin/true", &data, &size) < 0)
                test_skip("/bin/true cannot be read");
        ck_assert_msg(elf_parse(data, size, "t", &info, &err) == 0, "/bin/true: %s", err.msg);
        bool usable = info.interp && info.needed[0];
        elf_info_clear(&info);
        if (!usable) {
                free(TAKE_PTR(data));
                test_skip("/bin/true is static: it has no interpreter or library to damage");
        }
        damage_image(data, size);
}
END_TEST

START_TEST(test_not_elf)
{
        static const char text[] = "#!/bin/sh\necho hello\n";
        static const uint8_t tiny[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
        uint8_t header[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };

        expect_error((const uint8_t *) text, sizeof(text) - 1, "text");
        expect_error(NULL, 0, "empty");
        expect_error((const uint8_t *) "", 0, "empty string");
        expect_error(tiny, sizeof(tiny), "truncated ident");
        /* A bare header: no program headers. */
        put_le(header + EH_TYPE, 2, 3);
        put_le(header + EH_MACHINE, 2, HOST_MACHINE ? HOST_MACHINE : ELF_MACHINE_X86_64);
        expect_error(header, sizeof(header), "header only");
        put_le(header + EH_PHNUM, 2, 1);
        put_le(header + EH_PHENTSIZE, 2, 56);
        put_le(header + EH_PHOFF, 8, 64);
        expect_error(header, sizeof(header), "program header past the end");

        ObError err = { 0 };
        ElfInfo info;
        ck_assert_int_lt(elf_parse(text, sizeof(text) - 1, NULL, &info, &err), 0);
        ck_assert_ptr_nonnull(strstr(err.msg, "not an ELF file"));
        ck_assert_int_lt(elf_parse(text, sizeof(text) - 1, "x", &info, NULL), 0);
}
END_TEST

START_TEST(test_minimal_static)
{
        /* A header and one PT_LOAD, no PT_DYNAMIC: a static executable. */
        uint8_t img[64 + 56] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
        put_le(img + EH_TYPE, 2, 2);
        put_le(img + EH_MACHINE, 2, ELF_MACHINE_AARCH64);
        put_le(img + EH_PHOFF, 8, 64);
        put_le(img + EH_PHENTSIZE, 2, 56);
        put_le(img + EH_PHNUM, 2, 1);
        put_le(img + 64 + PH_TYPE, 4, PT_LOAD_);
        put_le(img + 64 + PH_FILESZ, 8, sizeof(img));

        ObError err = { 0 };
        ElfInfo info;
        ck_assert_msg(elf_parse(img, sizeof(img), "static", &info, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(info.machine, ELF_MACHINE_AARCH64);
        ck_assert_ptr_null(info.interp);
        ck_assert_ptr_nonnull(info.needed);
        ck_assert_ptr_null(info.needed[0]);
        elf_info_clear(&info);
        elf_info_clear(NULL);
}
END_TEST

/* ---- closure ---------------------------------------------------------- */

START_TEST(test_closure_app)
{
        NEED_FIXTURES();
        ElfClosure *c;
        Sysroot *s;
        ObError err = { 0 };

        ck_assert_msg(closure_of("/opt/app/bin/app", ELF_CLOSURE_MUST_BE_ELF, &c, &s, &err) == 0, "%s", err.msg);
        _cleanup_free_ char *ldso = xasprintf("/usr/lib/%s/ld-fix.so.2", ma);
        _cleanup_free_ char *base = xasprintf("/usr/lib/%s/libbase.so.1", ma);

        assert_unique(c);
        ck_assert_int_eq(elf_closure_count(c), 6);
        /* Order found: the root, the interpreter (behind /lib), libfix (behind its link), libbase. */
        ck_assert_str_eq(elf_closure_get(c, 0)->path, "/opt/app/bin/app");
        assert_file(c, "/opt/app/bin/app", NULL);
        ck_assert_str_eq(elf_closure_get(c, 1)->path, "/lib");
        assert_link(c, "/lib", "usr/lib", "/opt/app/bin/app");
        ck_assert_str_eq(elf_closure_get(c, 2)->path, ldso);
        assert_file(c, ldso, "/opt/app/bin/app");
        ck_assert_str_eq(elf_closure_get(c, 3)->path, "/opt/app/lib/libfix.so.1");
        assert_link(c, "/opt/app/lib/libfix.so.1", "libfix.so.1.0", "/opt/app/bin/app");
        assert_file(c, "/opt/app/lib/libfix.so.1.0", "/opt/app/bin/app");
        ck_assert_str_eq(elf_closure_get(c, 5)->path, base);
        assert_file(c, base, "/opt/app/lib/libfix.so.1.0");
        ck_assert_ptr_null(elf_closure_get(c, 6));

        /* Adding it again, or through a link, adds only the link. */
        ck_assert_msg(elf_closure_add(c, "/opt/app/bin/app", ELF_CLOSURE_MUST_BE_ELF, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(elf_closure_count(c), 6);
        ck_assert_msg(elf_closure_add(c, "/usr/bin/applink", ELF_CLOSURE_MUST_BE_ELF, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(elf_closure_count(c), 7);
        assert_link(c, "/usr/bin/applink", "../../opt/app/bin/app", NULL);

        /* A second program sharing the interpreter. */
        ck_assert_msg(elf_closure_add(c, "/opt/bundle/bin/b", ELF_CLOSURE_MUST_BE_ELF, &err) == 0, "%s", err.msg);
        assert_unique(c);
        assert_file(c, "/opt/bundle/lib/libA.so.1", "/opt/bundle/bin/b");
        assert_file(c, "/opt/bundle/lib/libB.so.1", "/opt/bundle/bin/b");
        elf_closure_free(c);
        sysroot_free(s);
}
END_TEST

START_TEST(test_closure_missing)
{
        NEED_FIXTURES();
        ElfClosure *c;
        Sysroot *s;
        ObError err = { 0 };

        ck_assert_int_eq(closure_of("/usr/bin/missing", ELF_CLOSURE_MUST_BE_ELF, &c, &s, &err), -ENOENT);
        ck_assert_msg(strstr(err.msg, "libmissing.so.1") && strstr(err.msg, "/usr/bin/missing") &&
                              strstr(err.msg, "not found"),
                      "%s", err.msg);
        /* Without an error to fill, only the code comes back. */
        ck_assert_int_eq(elf_closure_add(c, "/usr/bin/missing", ELF_CLOSURE_MUST_BE_ELF, NULL), -ENOENT);
        ck_assert_int_lt(elf_closure_add(c, "/usr/bin/noint", ELF_CLOSURE_MUST_BE_ELF, NULL), 0);
        elf_closure_free(c);
        sysroot_free(s);

        ck_assert_int_lt(closure_of("/usr/bin/noint", ELF_CLOSURE_MUST_BE_ELF, &c, &s, &err), 0);
        ck_assert_msg(strstr(err.msg, "program interpreter /lib/ld-nope.so.1") && strstr(err.msg, "/usr/bin/noint"),
                      "%s", err.msg);
        elf_closure_free(c);
        sysroot_free(s);

        ck_assert_int_eq(closure_of("/usr/bin/nothere", ELF_CLOSURE_MUST_BE_ELF, &c, &s, &err), -ENOENT);
        ck_assert_msg(strstr(err.msg, "/usr/bin/nothere"), "%s", err.msg);
        elf_closure_free(c);
        sysroot_free(s);

        /* RUNPATH applies to the object's own DT_NEEDED only. */
        ck_assert_int_eq(closure_of("/usr/bin/userunpath", ELF_CLOSURE_MUST_BE_ELF, &c, &s, &err), -ENOENT);
        _cleanup_free_ char *chain = xasprintf("/usr/lib/%s/libchain.so.1", ma);
        ck_assert_msg(strstr(err.msg, "libonlyrp.so.1") && strstr(err.msg, chain), "%s", err.msg);
        elf_closure_free(c);
        sysroot_free(s);
}
END_TEST

START_TEST(test_closure_search)
{
        NEED_FIXTURES();
        ElfClosure *c;
        Sysroot *s;
        ObError err = { 0 };
        _cleanup_free_ char *base = xasprintf("/usr/lib/%s/libbase.so.1", ma);
        _cleanup_free_ char *chain = xasprintf("/usr/lib/%s/libchain.so.1", ma);
        _cleanup_free_ char *libl = xasprintf("/opt/lib/%s/x/libl.so.1", ma);

        /* ld.so.conf with a relative include glob. */
        ck_assert_msg(closure_of("/usr/bin/useconf", ELF_CLOSURE_MUST_BE_ELF, &c, &s, &err) == 0, "%s", err.msg);
        assert_file(c, "/opt/conflib/libconf.so.1", "/usr/bin/useconf");

        /* A FIFO, a directory, wrong class and machine in the RUNPATH are passed over. */
        ck_assert_msg(elf_closure_add(c, "/usr/bin/skipwrong", ELF_CLOSURE_MUST_BE_ELF, &err) == 0, "%s", err.msg);
        assert_file(c, base, "/usr/bin/skipwrong");
        ck_assert_ptr_null(find_dep(c, "/opt/wrong/libbase.so.1"));
        ck_assert_ptr_null(find_dep(c, "/opt/wrong32/libbase.so.1"));

        /* DT_RPATH of the executable serves its libraries too. */
        ck_assert_msg(elf_closure_add(c, "/usr/bin/userpath", ELF_CLOSURE_MUST_BE_ELF, &err) == 0, "%s", err.msg);
        assert_file(c, chain, "/usr/bin/userpath");
        assert_file(c, "/opt/rp/libonlyrp.so.1", chain);

        /* $LIB */
        ck_assert_msg(elf_closure_add(c, "/usr/bin/uselib", ELF_CLOSURE_MUST_BE_ELF, &err) == 0, "%s", err.msg);
        assert_file(c, libl, "/usr/bin/uselib");
        assert_unique(c);
        elf_closure_free(c);
        sysroot_free(s);
}
END_TEST

/* An include with ".." climbs no higher than the sysroot's root, as ld.so
 * in a chroot would: what it names is looked for inside. */
START_TEST(test_conf_include_dotdot)
{
        NEED_FIXTURES();
        ElfClosure *c;
        Sysroot *s;
        ObError err = { 0 };
        const char *R = fix_root, *t = tmp_dir;
        _cleanup_free_ char *ups = xstrdup("");
        for (int i = 0; i < 24; i++) {
                char *more = xasprintf("%s../", ups);
                free(ups);
                ups = more;
        }
        /* Outside: a conf that would point elsewhere. Inside, at the same
         * path below the root: the one that finds libconf. */
        ck_assert_int_eq(
                run("mkdir -p '%s/outconf' '%s%s/outconf' && printf '/opt/nowhere/\\n' >'%s/outconf/x.conf' && "
                    "printf '/opt/conflib/\\n' >'%s%s/outconf/x.conf' && "
                    "printf 'include %s%s/outconf/*.conf\\n' >'%s/etc/ld.so.conf'",
                    t, R, t, t, R, t, ups, t + 1, R),
                0);
        int r = closure_of("/usr/bin/useconf", ELF_CLOSURE_MUST_BE_ELF, &c, &s, &err);
        ck_assert_int_eq(run("printf 'include ld.so.conf.d/*.conf\\n' >'%s/etc/ld.so.conf'", R), 0);
        ck_assert_msg(r == 0, "%s", err.msg);
        assert_file(c, "/opt/conflib/libconf.so.1", "/usr/bin/useconf");
        elf_closure_free(c);
        sysroot_free(s);
}
END_TEST

START_TEST(test_closure_not_elf)
{
        NEED_FIXTURES();
        ElfClosure *c;
        Sysroot *s;
        ObError err = { 0 };

        ck_assert_msg(closure_of("/etc/notes.txt", /* flags= */ 0, &c, &s, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(elf_closure_count(c), 1);
        assert_file(c, "/etc/notes.txt", NULL);
        ck_assert_int_eq(elf_closure_add(c, "/etc/notes.txt", ELF_CLOSURE_MUST_BE_ELF, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, "/etc/notes.txt") && strstr(err.msg, "not an ELF file"), "%s", err.msg);
        ck_assert_int_lt(elf_closure_add(c, "/etc", /* flags= */ 0, &err), 0);
        ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
        ck_assert_int_lt(elf_closure_add(c, "/etc/fifo", /* flags= */ 0, &err), 0);
        ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
        elf_closure_free(c);
        sysroot_free(s);
}
END_TEST

START_TEST(test_closure_host)
{
        const char *bins[] = { "/usr/bin/curl", "/bin/ls" };
        const char *bin = NULL;
        for (size_t i = 0; i < ELEMENTSOF(bins) && !bin; i++)
                if (access(bins[i], R_OK) == 0)
                        bin = bins[i];
        if (!bin)
                test_skip("neither /usr/bin/curl nor /bin/ls is here");
        if (HOST_MACHINE == 0)
                test_skip("this machine's architecture is neither x86_64 nor aarch64");

        ElfClosure *c = NULL;
        Sysroot *s;
        ObError err = { 0 };
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_free_ char *interp = NULL;
        size_t size;
        ElfInfo info;

        c = closure_for("/", &s);
        ck_assert_msg(elf_closure_add(c, bin, ELF_CLOSURE_MUST_BE_ELF, &err) == 0, "%s", err.msg);
        assert_unique(c);
        ck_assert_ptr_null(elf_closure_get(c, 0)->needed_by);

        ck_assert_int_eq(load(bin, &data, &size), 0);
        ck_assert_int_eq(elf_parse(data, size, bin, &info, &err), 0);
        ck_assert_int_eq(sysroot_resolve(s, info.interp, NULL, NULL, &interp, &err), 0);
        elf_info_clear(&info);

        bool have_libc = false, have_interp = false;
        for (size_t i = 0; i < elf_closure_count(c); i++) {
                const ElfDep *d = elf_closure_get(c, i);
                ck_assert(d->path[0] == '/');
                if (d->type == ELF_DEP_FILE && strcmp(d->path, interp) == 0)
                        have_interp = true;
                const char *b = strrchr(d->path, '/') + 1;
                if (str_startswith(b, "libc.so.6") || str_startswith(b, "libc-2.")) {
                        have_libc = true;
                        ck_assert_ptr_nonnull(d->needed_by);
                }
        }
        ck_assert_msg(have_libc, "libc.so.6 not in the closure of %s", bin);
        ck_assert_msg(have_interp, "%s not in the closure of %s", interp, bin);
        elf_closure_free(c);
        sysroot_free(s);
}
END_TEST

static Suite *elf_suite(void)
{
        Suite *s = suite_create("elf");
        TCase *tc = tcase_create("parse");
        tcase_add_test(tc, test_parse_fixture);
        tcase_add_test(tc, test_parse_host);
        tcase_add_test(tc, test_not_elf);
        tcase_add_test(tc, test_minimal_static);
        tcase_add_test(tc, test_damaged);
        tcase_add_test(tc, test_damaged_host);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);

        tc = tcase_create("closure");
        tcase_add_test(tc, test_closure_app);
        tcase_add_test(tc, test_closure_missing);
        tcase_add_test(tc, test_closure_search);
        tcase_add_test(tc, test_closure_not_elf);
        tcase_add_test(tc, test_conf_include_dotdot);
        tcase_add_test(tc, test_closure_host);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        have_fixtures = build_fixtures() == 0;

        int status = test_run(elf_suite());

        if (tmp_dir && !getenv("TEST_ELF_KEEP"))
                test_rm_rf(tmp_dir);
        free(tmp_dir);
        free(fix_root);
        free(lib_cmd);
        free(exe_cmd);
        return status;
}
