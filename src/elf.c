/* SPDX-License-Identifier: MIT */
#include "elf.h"

#include <endian.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fs.h"
#include "log.h"
#include "path.h"
#include "util.h"

/* The on-disk layout is declared here rather than taken from the system's
 * <elf.h>, which include/elf.h shadows. Every field is little-endian in the
 * file; structs are only ever filled with memcpy, so alignment of the input
 * does not matter. */
typedef struct RawEhdr {
        uint8_t e_ident[16];
        uint16_t e_type;
        uint16_t e_machine;
        uint32_t e_version;
        uint64_t e_entry;
        uint64_t e_phoff;
        uint64_t e_shoff;
        uint32_t e_flags;
        uint16_t e_ehsize;
        uint16_t e_phentsize;
        uint16_t e_phnum;
        uint16_t e_shentsize;
        uint16_t e_shnum;
        uint16_t e_shstrndx;
} RawEhdr;

typedef struct RawPhdr {
        uint32_t p_type;
        uint32_t p_flags;
        uint64_t p_offset;
        uint64_t p_vaddr;
        uint64_t p_paddr;
        uint64_t p_filesz;
        uint64_t p_memsz;
        uint64_t p_align;
} RawPhdr;

typedef struct RawShdr {
        uint32_t sh_name;
        uint32_t sh_type;
        uint64_t sh_flags;
        uint64_t sh_addr;
        uint64_t sh_offset;
        uint64_t sh_size;
        uint32_t sh_link;
        uint32_t sh_info;
        uint64_t sh_addralign;
        uint64_t sh_entsize;
} RawShdr;

typedef struct RawDyn {
        int64_t d_tag;
        uint64_t d_val;
} RawDyn;

_Static_assert(sizeof(RawEhdr) == 64, "ELF64 header layout");
_Static_assert(sizeof(RawPhdr) == 56, "ELF64 program header layout");
_Static_assert(sizeof(RawShdr) == 64, "ELF64 section header layout");
_Static_assert(sizeof(RawDyn) == 16, "ELF64 dynamic entry layout");

enum {
        EI_CLASS = 4,
        EI_DATA = 5,
        EI_VERSION = 6,
        ELFCLASS32 = 1,
        ELFCLASS64 = 2,
        ELFDATA2LSB = 1,
        ELFDATA2MSB = 2,
        EV_CURRENT = 1,
        ET_EXEC = 2,
        ET_DYN = 3,
        PN_XNUM = 0xffff,
        PT_LOAD = 1,
        PT_DYNAMIC = 2,
        PT_INTERP = 3,
        DT_NULL = 0,
        DT_NEEDED = 1,
        DT_STRTAB = 5,
        DT_STRSZ = 10,
        DT_SONAME = 14,
        DT_RPATH = 15,
        DT_RUNPATH = 29,
};

/* A DT_NEEDED or PT_INTERP longer than PATH_MAX could never be opened, and
 * the caps keep the work on hostile input linear in its size. */
#define ELF_NAME_MAX 4096
#define ELF_PATH_LIST_MAX (64 * 1024)
#define ELF_NEEDED_MAX 4096
/* ld.so.conf include nesting; real configurations use one level. */
#define LD_SO_CONF_DEPTH_MAX 8

const char *elf_machine_multiarch(int machine)
{
        switch (machine) {
        case ELF_MACHINE_X86_64:
                return "x86_64-linux-gnu";
        case ELF_MACHINE_AARCH64:
                return "aarch64-linux-gnu";
        default:
                return NULL;
        }
}

static const char *machine_platform(int machine)
{
        return machine == ELF_MACHINE_AARCH64 ? "aarch64" : "x86_64";
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct Image {
        const uint8_t *data;
        uint64_t size;
        const char *name;
        uint64_t phoff;
        uint64_t phentsize;
        uint64_t phnum;
} Image;

static int image_error(ObError *err, const Image *im, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int image_error(ObError *err, const Image *im, const char *fmt, ...)
{
        char what[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return ob_error_plain(err, EINVAL, "'%s': %s", im->name, what);
}

/* True when [off, off + len) lies inside the image. */
static bool image_has(const Image *im, uint64_t off, uint64_t len)
{
        return off <= im->size && len <= im->size - off;
}

static void read_phdr(const Image *im, uint64_t i, RawPhdr *ph)
{
        memcpy(ph, im->data + im->phoff + i * im->phentsize, sizeof(*ph));
        ph->p_type = le32toh(ph->p_type);
        ph->p_flags = le32toh(ph->p_flags);
        ph->p_offset = le64toh(ph->p_offset);
        ph->p_vaddr = le64toh(ph->p_vaddr);
        ph->p_paddr = le64toh(ph->p_paddr);
        ph->p_filesz = le64toh(ph->p_filesz);
        ph->p_memsz = le64toh(ph->p_memsz);
        ph->p_align = le64toh(ph->p_align);
}

/* Copies the NUL-terminated string at [base + off, limit), limit being the
 * end of the table it lives in (an absolute file offset, within the image). */
static int image_string(const Image *im, uint64_t base, uint64_t limit, uint64_t off, uint64_t max,
                        const char *what, char **ret, ObError *err)
{
        uint64_t table = limit - base;
        if (off >= table)
                return image_error(err, im, "%s string offset %llu is outside the string table (%llu bytes)", what,
                                   (unsigned long long) off, (unsigned long long) table);
        uint64_t avail = table - off;
        uint64_t n = avail < max + 1 ? avail : max + 1;
        const uint8_t *p = im->data + base + off;
        const uint8_t *nul = memchr(p, 0, (size_t) n);
        if (!nul) {
                if (n > max)
                        return image_error(err, im, "%s string at offset %llu is longer than %llu bytes", what,
                                           (unsigned long long) off, (unsigned long long) max);
                return image_error(err, im, "%s string at offset %llu is not NUL-terminated", what,
                                   (unsigned long long) off);
        }
        *ret = xstrndup((const char *) p, (size_t) (nul - p));
        return 0;
}

/* Finds the file range that holds the virtual address addr, through the
 * PT_LOAD segments, the way the loader would have mapped it. */
static int image_vaddr_to_offset(const Image *im, uint64_t addr, const char *what, uint64_t *ret_off,
                                 uint64_t *ret_limit, ObError *err)
{
        for (uint64_t i = 0; i < im->phnum; i++) {
                RawPhdr ph;
                read_phdr(im, i, &ph);
                if (ph.p_type != PT_LOAD || addr < ph.p_vaddr || addr - ph.p_vaddr >= ph.p_filesz)
                        continue;
                if (!image_has(im, ph.p_offset, ph.p_filesz))
                        return image_error(err, im,
                                           "PT_LOAD segment holding %s (offset %llu, %llu bytes) runs past the end of the file (%llu bytes)",
                                           what, (unsigned long long) ph.p_offset,
                                           (unsigned long long) ph.p_filesz, (unsigned long long) im->size);
                *ret_off = ph.p_offset + (addr - ph.p_vaddr);
                *ret_limit = ph.p_offset + ph.p_filesz;
                return 0;
        }
        return image_error(err, im, "%s address 0x%llx is not inside any loaded segment", what,
                           (unsigned long long) addr);
}

/* *ret_foreign tells a file that is simply not something this module handles
 * (not ELF, another class, byte order or machine, not loadable) from one that
 * claims to be a supported ELF object but is damaged. */
static int parse_image(Image *im, ElfInfo *ret, bool *ret_foreign, ObError *err)
{
        _cleanup_free_ char *interp = NULL, *runpath = NULL, *rpath = NULL, *soname = NULL;
        _cleanup_free_ uint64_t *needed_off = NULL;
        _cleanup_strv_ char **needed = NULL;
        RawEhdr eh;
        int r;

        *ret_foreign = true;
        if (im->size < 4 || memcmp(im->data, "\177ELF", 4) != 0)
                return image_error(err, im, "not an ELF file");
        if (im->size < sizeof(eh))
                return image_error(err, im, "truncated ELF header (%llu bytes)", (unsigned long long) im->size);
        memcpy(&eh, im->data, sizeof(eh));
        if (eh.e_ident[EI_CLASS] == ELFCLASS32)
                return image_error(err, im, "32-bit ELF is not supported (only ELF64)");
        if (eh.e_ident[EI_CLASS] != ELFCLASS64)
                return image_error(err, im, "invalid ELF class %u", eh.e_ident[EI_CLASS]);
        if (eh.e_ident[EI_DATA] == ELFDATA2MSB)
                return image_error(err, im, "big-endian ELF is not supported (only little-endian)");
        if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
                return image_error(err, im, "invalid ELF byte order %u", eh.e_ident[EI_DATA]);
        if (eh.e_ident[EI_VERSION] != EV_CURRENT)
                return image_error(err, im, "invalid ELF version %u", eh.e_ident[EI_VERSION]);

        uint16_t machine = le16toh(eh.e_machine);
        uint16_t type = le16toh(eh.e_type);
        if (machine != ELF_MACHINE_X86_64 && machine != ELF_MACHINE_AARCH64)
                return image_error(err, im, "unsupported machine %u (only x86-64 and aarch64)", machine);
        if (type != ET_EXEC && type != ET_DYN)
                return image_error(err, im, "not an executable or shared object (ELF type %u)", type);
        *ret_foreign = false;

        im->phoff = le64toh(eh.e_phoff);
        im->phentsize = le16toh(eh.e_phentsize);
        im->phnum = le16toh(eh.e_phnum);
        if (im->phnum == PN_XNUM) {
                /* Too many entries for e_phnum: the count is in section 0. */
                uint64_t shoff = le64toh(eh.e_shoff);
                RawShdr sh;
                if (shoff == 0 || le16toh(eh.e_shentsize) < sizeof(sh) || !image_has(im, shoff, sizeof(sh)))
                        return image_error(err, im, "e_phnum is PN_XNUM but there is no section header 0");
                memcpy(&sh, im->data + shoff, sizeof(sh));
                im->phnum = le32toh(sh.sh_info);
        }
        if (im->phnum == 0)
                return image_error(err, im, "no program headers");
        if (im->phentsize < sizeof(RawPhdr))
                return image_error(err, im, "program header entry size %llu is too small",
                                   (unsigned long long) im->phentsize);
        /* Both factors are below 2^32, so the product cannot overflow. */
        if (!image_has(im, im->phoff, im->phnum * im->phentsize))
                return image_error(err, im,
                                   "program header table (offset %llu, %llu entries) runs past the end of the file (%llu bytes)",
                                   (unsigned long long) im->phoff, (unsigned long long) im->phnum,
                                   (unsigned long long) im->size);

        bool have_dynamic = false;
        RawPhdr dyn_ph = { 0 };
        for (uint64_t i = 0; i < im->phnum; i++) {
                RawPhdr ph;
                read_phdr(im, i, &ph);
                if (ph.p_type == PT_INTERP) {
                        if (interp)
                                return image_error(err, im, "more than one PT_INTERP");
                        if (!image_has(im, ph.p_offset, ph.p_filesz))
                                return image_error(err, im,
                                                   "PT_INTERP (offset %llu, %llu bytes) runs past the end of the file (%llu bytes)",
                                                   (unsigned long long) ph.p_offset,
                                                   (unsigned long long) ph.p_filesz, (unsigned long long) im->size);
                        r = image_string(im, ph.p_offset, ph.p_offset + ph.p_filesz, 0, ELF_NAME_MAX, "PT_INTERP",
                                         &interp, err);
                        if (r < 0)
                                return r;
                        if (!interp[0])
                                return image_error(err, im, "empty PT_INTERP");
                } else if (ph.p_type == PT_DYNAMIC) {
                        if (have_dynamic)
                                return image_error(err, im, "more than one PT_DYNAMIC");
                        if (!image_has(im, ph.p_offset, ph.p_filesz))
                                return image_error(err, im,
                                                   "PT_DYNAMIC (offset %llu, %llu bytes) runs past the end of the file (%llu bytes)",
                                                   (unsigned long long) ph.p_offset,
                                                   (unsigned long long) ph.p_filesz, (unsigned long long) im->size);
                        have_dynamic = true;
                        dyn_ph = ph;
                }
        }

        size_t n_needed = 0;
        bool have_strtab = false, have_strsz = false;
        bool have_runpath = false, have_rpath = false, have_soname = false;
        uint64_t strtab = 0, strsz = 0, runpath_off = 0, rpath_off = 0, soname_off = 0;
        if (have_dynamic) {
                uint64_t count = dyn_ph.p_filesz / sizeof(RawDyn);
                for (uint64_t i = 0; i < count; i++) {
                        RawDyn d;
                        memcpy(&d, im->data + dyn_ph.p_offset + i * sizeof(d), sizeof(d));
                        int64_t tag = (int64_t) le64toh((uint64_t) d.d_tag);
                        uint64_t val = le64toh(d.d_val);
                        if (tag == DT_NULL)
                                break;
                        /* Repeated tags: the last one wins, as in ld.so. */
                        switch (tag) {
                        case DT_NEEDED:
                                if (n_needed >= ELF_NEEDED_MAX)
                                        return image_error(err, im, "more than %d DT_NEEDED entries",
                                                           ELF_NEEDED_MAX);
                                if (!needed_off)
                                        needed_off = xmalloc(sizeof(uint64_t) *
                                                             (count < ELF_NEEDED_MAX ? count : ELF_NEEDED_MAX));
                                needed_off[n_needed++] = val;
                                break;
                        case DT_STRTAB:
                                have_strtab = true;
                                strtab = val;
                                break;
                        case DT_STRSZ:
                                have_strsz = true;
                                strsz = val;
                                break;
                        case DT_RUNPATH:
                                have_runpath = true;
                                runpath_off = val;
                                break;
                        case DT_RPATH:
                                have_rpath = true;
                                rpath_off = val;
                                break;
                        case DT_SONAME:
                                have_soname = true;
                                soname_off = val;
                                break;
                        default:
                                break;
                        }
                }
        }

        needed = xcalloc(n_needed + 1, sizeof(char *));
        if (n_needed > 0 || have_runpath || have_rpath || have_soname) {
                uint64_t base = 0, limit = 0;
                if (!have_strtab)
                        return image_error(err, im, "dynamic section has strings but no DT_STRTAB");
                r = image_vaddr_to_offset(im, strtab, "DT_STRTAB", &base, &limit, err);
                if (r < 0)
                        return r;
                if (have_strsz) {
                        if (strsz > limit - base)
                                return image_error(err, im,
                                                   "string table (DT_STRSZ %llu bytes at offset %llu) runs past its segment (%llu bytes left)",
                                                   (unsigned long long) strsz, (unsigned long long) base,
                                                   (unsigned long long) (limit - base));
                        limit = base + strsz;
                }
                for (size_t i = 0; i < n_needed; i++) {
                        r = image_string(im, base, limit, needed_off[i], ELF_NAME_MAX, "DT_NEEDED", &needed[i], err);
                        if (r < 0)
                                return r;
                        if (!needed[i][0])
                                return image_error(err, im, "empty DT_NEEDED entry");
                }
                if (have_runpath) {
                        r = image_string(im, base, limit, runpath_off, ELF_PATH_LIST_MAX, "DT_RUNPATH", &runpath, err);
                        if (r < 0)
                                return r;
                }
                if (have_rpath) {
                        r = image_string(im, base, limit, rpath_off, ELF_PATH_LIST_MAX, "DT_RPATH", &rpath, err);
                        if (r < 0)
                                return r;
                }
                if (have_soname) {
                        r = image_string(im, base, limit, soname_off, ELF_NAME_MAX, "DT_SONAME", &soname, err);
                        if (r < 0)
                                return r;
                }
        }

        *ret = (ElfInfo) {
                .machine = machine,
                .interp = TAKE_PTR(interp),
                .needed = TAKE_PTR(needed),
                .runpath = TAKE_PTR(runpath),
                .rpath = TAKE_PTR(rpath),
                .soname = TAKE_PTR(soname),
        };
        return 0;
}

int elf_parse(const void *data, size_t size, const char *name, ElfInfo *ret, ObError *err)
{
        Image im = {
                .data = data,
                .size = size,
                .name = name ? name : "(memory)",
        };
        bool foreign;

        if (!data)
                im.size = 0;
        return parse_image(&im, ret, &foreign, err);
}

void elf_info_clear(ElfInfo *info)
{
        if (!info)
                return;
        free(info->interp);
        strv_free(info->needed);
        free(info->runpath);
        free(info->rpath);
        free(info->soname);
        *info = (ElfInfo) { 0 };
}

/* ---- string map ------------------------------------------------------- */

/* Open addressing, string keys owned by the map; enough for a few thousand
 * paths without quadratic lookups. */
typedef struct StrMap {
        char **keys;
        size_t *vals;
        size_t cap;     /* 0 or a power of two */
        size_t n;
} StrMap;

static size_t str_hash(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ull;
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= 0x100000001b3ull;
        }
        return (size_t) h;
}

static size_t strmap_slot(const StrMap *m, const char *key)
{
        size_t i = str_hash(key) & (m->cap - 1);
        while (m->keys[i] && strcmp(m->keys[i], key) != 0)
                i = (i + 1) & (m->cap - 1);
        return i;
}

static bool strmap_get(const StrMap *m, const char *key, size_t *ret)
{
        if (m->cap == 0)
                return false;
        size_t i = strmap_slot(m, key);
        if (!m->keys[i])
                return false;
        if (ret)
                *ret = m->vals[i];
        return true;
}

/* Inserts key unless present; an existing value is kept. */
static void strmap_add(StrMap *m, const char *key, size_t val)
{
        if ((m->n + 1) * 2 > m->cap) {
                StrMap bigger = {
                        .cap = m->cap ? m->cap * 2 : 64,
                };
                bigger.keys = xcalloc(bigger.cap, sizeof(char *));
                bigger.vals = xcalloc(bigger.cap, sizeof(size_t));
                for (size_t i = 0; i < m->cap; i++) {
                        if (!m->keys[i])
                                continue;
                        size_t j = strmap_slot(&bigger, m->keys[i]);
                        bigger.keys[j] = m->keys[i];
                        bigger.vals[j] = m->vals[i];
                }
                bigger.n = m->n;
                free(m->keys);
                free(m->vals);
                *m = bigger;
        }
        size_t i = strmap_slot(m, key);
        if (m->keys[i])
                return;
        m->keys[i] = xstrdup(key);
        m->vals[i] = val;
        m->n++;
}

static void strmap_done(StrMap *m)
{
        for (size_t i = 0; i < m->cap; i++)
                free(m->keys[i]);
        free(m->keys);
        free(m->vals);
        *m = (StrMap) { 0 };
}

/* A search path: directories in order, each once. */
typedef struct DirList {
        char **v;          /* NULL-terminated once anything is in it */
        size_t n;
        StrMap seen;
} DirList;

static void dir_list_done(DirList *d)
{
        strv_free(d->v);
        strmap_done(&d->seen);
        *d = (DirList) { 0 };
}

static void push_dir(DirList *d, const char *dir)
{
        if (strmap_get(&d->seen, dir, NULL))
                return;
        strmap_add(&d->seen, dir, 0);
        d->v = xrealloc(d->v, (d->n + 2) * sizeof(char *));
        d->v[d->n++] = xstrdup(dir);
        d->v[d->n] = NULL;
}

/* ---- closure ---------------------------------------------------------- */

/* A file read once per closure, by canonical path. */
typedef struct ElfObject {
        char *path;
        bool regular;
        bool elf;          /* a supported ELF executable or shared object */
        char *why_not;     /* !elf: why not */
        ElfInfo info;
} ElfObject;

struct ElfClosure {
        Sysroot *sysroot;
        ElfDep *deps;
        size_t n_deps;
        size_t cap_deps;
        StrMap dep_index;
        ElfObject **objects;
        size_t n_objects;
        StrMap object_index;
        DirList conf_dirs;
        bool conf_loaded;
};

int elf_closure_new(Sysroot *sysroot, ElfClosure **ret, ObError *err)
{
        if (!sysroot)
                return ob_error_plain(err, EINVAL, "no sysroot given for the library closure");
        ElfClosure *c = xcalloc(1, sizeof(*c));
        c->sysroot = sysroot;
        *ret = c;
        return 0;
}

void elf_closure_free(ElfClosure *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n_deps; i++) {
                free(c->deps[i].path);
                free(c->deps[i].target);
                free(c->deps[i].needed_by);
        }
        free(c->deps);
        strmap_done(&c->dep_index);
        for (size_t i = 0; i < c->n_objects; i++) {
                free(c->objects[i]->path);
                free(c->objects[i]->why_not);
                elf_info_clear(&c->objects[i]->info);
                free(c->objects[i]);
        }
        free(c->objects);
        strmap_done(&c->object_index);
        dir_list_done(&c->conf_dirs);
        free(c);
}

size_t elf_closure_count(const ElfClosure *c)
{
        return c ? c->n_deps : 0;
}

const ElfDep *elf_closure_get(const ElfClosure *c, size_t i)
{
        if (!c || i >= c->n_deps)
                return NULL;
        return &c->deps[i];
}

static void closure_add_dep(ElfClosure *c, const char *path, ElfDepType type, const char *target,
                            const char *needed_by)
{
        if (strmap_get(&c->dep_index, path, NULL))
                return;
        if (c->n_deps == c->cap_deps) {
                c->cap_deps = c->cap_deps ? c->cap_deps * 2 : 32;
                c->deps = xrealloc(c->deps, c->cap_deps * sizeof(ElfDep));
        }
        c->deps[c->n_deps] = (ElfDep) {
                .path = xstrdup(path),
                .type = type,
                .target = target ? xstrdup(target) : NULL,
                .needed_by = needed_by ? xstrdup(needed_by) : NULL,
        };
        strmap_add(&c->dep_index, path, c->n_deps);
        c->n_deps++;
}

/* Symlinks met while resolving a path, held back until the path is accepted:
 * a rejected search candidate must leave no trace in the closure. */
typedef struct LinkList {
        char **paths;
        char **targets;
} LinkList;

static void link_list_done(LinkList *l)
{
        strv_free(l->paths);
        strv_free(l->targets);
}

static int link_list_collect(void *userdata, const char *link_path, const char *target, ObError *err)
{
        LinkList *l = userdata;
        (void) err;
        strv_push(&l->paths, link_path);
        strv_push(&l->targets, target);
        return 0;
}

static void closure_commit(ElfClosure *c, const LinkList *links, const char *canonical, const char *needed_by)
{
        for (size_t i = 0; links->paths && links->paths[i]; i++)
                closure_add_dep(c, links->paths[i], ELF_DEP_SYMLINK, links->targets[i], needed_by);
        closure_add_dep(c, canonical, ELF_DEP_FILE, NULL, needed_by);
}

/* Reads and parses the file at a canonical path, once per closure. A damaged
 * ELF object is an error; anything else that is not a supported ELF object is
 * cached as such, with the reason. */
static int closure_object(ElfClosure *c, const char *canonical, ElfObject **ret, ObError *err)
{
        size_t idx;
        int r;

        if (strmap_get(&c->object_index, canonical, &idx)) {
                *ret = c->objects[idx];
                return 0;
        }

        /* Checked before opening: opening a FIFO would block. */
        struct stat st;
        r = sysroot_lstat(c->sysroot, canonical, &st, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = -1;
        if (S_ISREG(st.st_mode)) {
                fd = sysroot_open_file(c->sysroot, canonical, err);
                if (fd < 0)
                        return fd;
                if (fstat(fd, &st) < 0)
                        return ob_error_set(err, errno, "cannot stat '%s'", canonical);
        }

        ElfInfo info = { 0 };
        _cleanup_free_ char *why_not = NULL;
        bool regular = S_ISREG(st.st_mode), elf = false;
        if (!regular) {
                why_not = xasprintf("'%s' is not a regular file", canonical);
        } else {
                void *map = NULL;
                size_t size = (size_t) st.st_size;
                if ((off_t) size != st.st_size)
                        return ob_error_plain(err, EFBIG, "'%s' is too large", canonical);
                if (size > 0) {
                        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
                        if (map == MAP_FAILED)
                                return ob_error_set(err, errno, "cannot map '%s'", canonical);
                }
                Image im = {
                        .data = map,
                        .size = size,
                        .name = canonical,
                };
                ObError perr = { 0 };
                bool foreign;
                r = parse_image(&im, &info, &foreign, &perr);
                if (map)
                        munmap(map, size);
                if (r < 0 && !foreign) {
                        if (err)
                                *err = perr;
                        return r;
                }
                elf = r >= 0;
                if (r < 0)
                        why_not = xstrdup(perr.msg);
        }

        ElfObject *ob = xcalloc(1, sizeof(*ob));
        *ob = (ElfObject) {
                .path = xstrdup(canonical),
                .regular = regular,
                .elf = elf,
                .why_not = TAKE_PTR(why_not),
                .info = info,
        };
        c->objects = xrealloc(c->objects, (c->n_objects + 1) * sizeof(ElfObject *));
        c->objects[c->n_objects] = ob;
        strmap_add(&c->object_index, canonical, c->n_objects);
        c->n_objects++;
        *ret = ob;
        return 0;
}

/* ---- search paths ----------------------------------------------------- */

typedef struct Buf {
        char *s;
        size_t n, cap;
} Buf;

static void buf_append(Buf *b, const char *s, size_t n)
{
        if (b->n + n + 1 > b->cap) {
                b->cap = (b->n + n + 1) * 2;
                b->s = xrealloc(b->s, b->cap);
        }
        memcpy(b->s + b->n, s, n);
        b->n += n;
        b->s[b->n] = '\0';
}

static bool is_ident_char(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* Length of the dynamic string token "$NAME" or "${NAME}" at s, or 0. */
static size_t dst_match(const char *s, const char *name)
{
        size_t n = strlen(name);
        if (s[1] == '{')
                return strncmp(s + 2, name, n) == 0 && s[2 + n] == '}' ? n + 3 : 0;
        return strncmp(s + 1, name, n) == 0 && !is_ident_char(s[1 + n]) ? n + 1 : 0;
}

/* Expands $ORIGIN, $LIB and $PLATFORM as ld.so does; unknown tokens stay. */
static char *expand_dst(const char *s, const char *origin, int machine)
{
        if (!strchr(s, '$'))
                return xstrdup(s);

        _cleanup_free_ char *lib = NULL;
        const char *multiarch = elf_machine_multiarch(machine);
        lib = multiarch ? xasprintf("lib/%s", multiarch) : xstrdup("lib64");
        Buf b = { 0 };
        buf_append(&b, "", 0);
        while (*s) {
                const char *value = NULL;
                size_t n = 0;
                if (*s == '$') {
                        if ((n = dst_match(s, "ORIGIN")))
                                value = origin;
                        else if ((n = dst_match(s, "LIB")))
                                value = lib;
                        else if ((n = dst_match(s, "PLATFORM")))
                                value = machine_platform(machine);
                }
                if (value) {
                        buf_append(&b, value, strlen(value));
                        s += n;
                } else {
                        buf_append(&b, s, 1);
                        s++;
                }
        }
        return b.s;
}

static char *parent_dir(const char *path)
{
        const char *slash = strrchr(path, '/');
        if (!slash || slash == path)
                return xstrdup("/");
        return xstrndup(path, (size_t) (slash - path));
}

/* Appends the absolute entries of a ':'-separated DT_RPATH/DT_RUNPATH.
 * Empty and relative entries mean the process's working directory to ld.so,
 * which an image cannot know: they are left out. */
static void push_path_list(DirList *dirs, const char *list, const char *origin, int machine)
{
        _cleanup_free_ char *expanded = expand_dst(list, origin, machine);
        for (char *p = expanded;;) {
                char *e = strchrnul(p, ':');
                bool last = !*e;
                *e = '\0';
                if (p[0] == '/')
                        push_dir(dirs, p);
                if (last)
                        break;
                p = e + 1;
        }
}

static void push_default_dirs(DirList *dirs, int machine)
{
        const char *multiarch = elf_machine_multiarch(machine);
        if (multiarch) {
                _cleanup_free_ char *a = xasprintf("/lib/%s", multiarch);
                _cleanup_free_ char *b = xasprintf("/usr/lib/%s", multiarch);
                push_dir(dirs, a);
                push_dir(dirs, b);
        }
        push_dir(dirs, "/lib64");
        push_dir(dirs, "/usr/lib64");
        push_dir(dirs, "/lib");
        push_dir(dirs, "/usr/lib");
}

static int conf_parse(ElfClosure *c, const char *path, unsigned depth, ObError *err);

static char *glob_escape(const char *s)
{
        Buf b = { 0 };
        buf_append(&b, "", 0);
        for (; *s; s++) {
                if (strchr("*?[]\\", *s))
                        buf_append(&b, "\\", 1);
                buf_append(&b, s, 1);
        }
        return b.s;
}

static int conf_include(ElfClosure *c, const char *including, const char *pattern, unsigned depth, ObError *err)
{
        _cleanup_free_ char *dir = parent_dir(including);
        _cleanup_free_ char *abs = pattern[0] == '/' ? xstrdup(pattern) : path_join(dir, pattern);
        _cleanup_free_ char *prefix = glob_escape(c->sysroot->path);
        _cleanup_free_ char *host_pattern = xasprintf("%s%s", prefix, abs);
        size_t strip = strlen(c->sysroot->path);
        glob_t g;
        int r = 0;

        int gr = glob(host_pattern, 0, NULL, &g);
        if (gr == GLOB_NOMATCH)
                return 0;
        if (gr != 0)
                return ob_error_plain(err, EIO, "%s: cannot expand include pattern '%s'", including, pattern);
        for (size_t i = 0; i < g.gl_pathc && r >= 0; i++) {
                const char *inner = g.gl_pathv[i];
                if (strlen(inner) < strip || strncmp(inner, c->sysroot->path, strip) != 0)
                        continue;
                r = conf_parse(c, inner + strip, depth + 1, err);
        }
        globfree(&g);
        return r;
}

static int conf_parse(ElfClosure *c, const char *path, unsigned depth, ObError *err)
{
        _cleanup_free_ char *canonical = NULL, *host = NULL, *data = NULL;
        ObError local = { 0 };
        int r;

        if (depth > LD_SO_CONF_DEPTH_MAX) {
                ob_debug("%s: ld.so.conf includes nested too deeply, ignored", path);
                return 0;
        }
        r = sysroot_resolve(c->sysroot, path, NULL, NULL, &canonical, &local);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0) {
                if (err)
                        *err = local;
                return r;
        }
        host = sysroot_host_path(c->sysroot, canonical);
        r = read_file(host, &data, NULL, err);
        if (r < 0)
                return r;

        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                line[strcspn(line, "#")] = '\0';
                line += strspn(line, " \t\r");
                if (!*line)
                        continue;
                if (str_startswith(line, "include") && (line[7] == ' ' || line[7] == '\t')) {
                        char *save2 = NULL;
                        for (char *pat = strtok_r(line + 8, " \t\r", &save2); pat;
                             pat = strtok_r(NULL, " \t\r", &save2)) {
                                r = conf_include(c, path, pat, depth, err);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                if (str_startswith(line, "hwcap") && (line[5] == ' ' || line[5] == '\t'))
                        continue;
                line[strcspn(line, " \t\r")] = '\0';
                if (line[0] != '/')
                        continue;
                _cleanup_free_ char *dir = path_join(line, "");
                push_dir(&c->conf_dirs, dir);
        }
        return 0;
}

static int closure_conf_dirs(ElfClosure *c, ObError *err)
{
        if (c->conf_loaded)
                return 0;
        int r = conf_parse(c, "/etc/ld.so.conf", 0, err);
        if (r < 0)
                return ob_error_wrap(err, "reading /etc/ld.so.conf in the sysroot");
        c->conf_loaded = true;
        return 0;
}

/* ---- loading ---------------------------------------------------------- */

/* One object of the process being modelled, as ld.so has it in its list. */
typedef struct Loaded {
        ElfObject *object;
        char *origin;      /* what $ORIGIN expands to for it */
        size_t loader;     /* index of the object whose DT_NEEDED brought it; SIZE_MAX for the root */
} Loaded;

typedef struct LoadState {
        Loaded *items;
        size_t n;
        StrMap by_name;    /* names ld.so matches a DT_NEEDED against, to an item */
        StrMap by_path;    /* canonical path, to an item */
} LoadState;

static void load_state_done(LoadState *st)
{
        for (size_t i = 0; i < st->n; i++)
                free(st->items[i].origin);
        free(st->items);
        strmap_done(&st->by_name);
        strmap_done(&st->by_path);
}

/* Adds an object to the process unless the same file is already in it, and
 * registers the names it can be matched by: the path it was reached by and
 * its DT_SONAME (ld.so also matches the requested name, which the caller
 * registers). */
static size_t load_state_add(LoadState *st, ElfObject *ob, const char *reached, size_t loader)
{
        size_t idx;
        if (!strmap_get(&st->by_path, ob->path, &idx)) {
                st->items = xrealloc(st->items, (st->n + 1) * sizeof(Loaded));
                st->items[st->n] = (Loaded) {
                        .object = ob,
                        .origin = parent_dir(reached),
                        .loader = loader,
                };
                idx = st->n++;
                strmap_add(&st->by_path, ob->path, idx);
        }
        strmap_add(&st->by_name, reached, idx);
        if (ob->info.soname)
                strmap_add(&st->by_name, ob->info.soname, idx);
        return idx;
}

/* Tries one path for an object of the given machine. Returns 1 and the object
 * when it is accepted, 0 (with the reason in err) when ld.so would pass over
 * it and keep searching, or a negative errno when it would give up. */
static int try_candidate(ElfClosure *c, const char *path, int machine, const char *needed_by, ElfObject **ret,
                         ObError *err)
{
        _cleanup_(link_list_done) LinkList links = { 0 };
        _cleanup_free_ char *canonical = NULL;
        ElfObject *ob;
        int r;

        r = sysroot_resolve(c->sysroot, path, link_list_collect, &links, &canonical, err);
        if (r == -ENOENT || r == -ENOTDIR || r == -EACCES || r == -EXDEV || r == -ENAMETOOLONG)
                return 0;
        if (r < 0)
                return r;
        r = closure_object(c, canonical, &ob, err);
        if (r == -ENOENT || r == -EACCES || r == -ENAMETOOLONG)
                return 0;
        if (r < 0)
                return r;
        if (!ob->elf) {
                ob_error_plain(err, ENOEXEC, "%s", ob->why_not);
                return 0;
        }
        if (ob->info.machine != machine) {
                ob_error_plain(err, ENOEXEC, "'%s' is for machine %d, not %d", canonical, ob->info.machine,
                               machine);
                return 0;
        }
        closure_commit(c, &links, canonical, needed_by);
        *ret = ob;
        return 1;
}

static char *join_dirs(char **v, const char *sep)
{
        Buf b = { 0 };
        buf_append(&b, "", 0);
        for (size_t i = 0; v && v[i]; i++) {
                if (i > 0)
                        buf_append(&b, sep, strlen(sep));
                buf_append(&b, v[i], strlen(v[i]));
        }
        return b.s;
}

/* Finds what item i's DT_NEEDED (or, for the root, PT_INTERP) entry name
 * refers to, the way ld.so would, and adds it to the process. */
static int load_needed(ElfClosure *c, LoadState *st, size_t i, const char *name, bool is_interp, ObError *err)
{
        ElfObject *self = st->items[i].object;
        int machine = self->info.machine;
        _cleanup_free_ char *expanded = expand_dst(name, st->items[i].origin, machine);
        ObError local = { 0 };
        ElfObject *ob = NULL;
        size_t idx;
        int r;

        if (strmap_get(&st->by_name, expanded, &idx))
                return 0;

        if (strchr(expanded, '/')) {
                /* A relative path would be relative to the working directory;
                 * take it from the root, where a container starts. */
                _cleanup_free_ char *path = expanded[0] == '/' ? xstrdup(expanded) : path_join("/", expanded);
                r = try_candidate(c, path, machine, self->path, &ob, &local);
                if (r <= 0) {
                        if (!err)
                                return -local.code;
                        *err = local;
                        return ob_error_wrap(err, "%s%s (needed by %s)", is_interp ? "program interpreter " : "",
                                             name, self->path);
                }
                idx = load_state_add(st, ob, path, i);
                strmap_add(&st->by_name, expanded, idx);
                return 0;
        }

        _cleanup_(dir_list_done) DirList dirs = { 0 };
        if (!self->info.runpath) {
                /* DT_RPATH of the object, then of whatever loaded it, up to
                 * the executable; a DT_RUNPATH switches all of that off. */
                for (size_t l = i; l != SIZE_MAX; l = st->items[l].loader) {
                        const ElfObject *o = st->items[l].object;
                        if (o->info.rpath && !o->info.runpath)
                                push_path_list(&dirs, o->info.rpath, st->items[l].origin, machine);
                }
        } else {
                push_path_list(&dirs, self->info.runpath, st->items[i].origin, machine);
        }
        r = closure_conf_dirs(c, err);
        if (r < 0)
                return r;
        for (size_t k = 0; k < c->conf_dirs.n; k++)
                push_dir(&dirs, c->conf_dirs.v[k]);
        push_default_dirs(&dirs, machine);

        for (size_t k = 0; k < dirs.n; k++) {
                _cleanup_free_ char *path = path_join(dirs.v[k], expanded);
                r = try_candidate(c, path, machine, self->path, &ob, &local);
                if (r < 0) {
                        if (!err)
                                return r;
                        *err = local;
                        return ob_error_wrap(err, "%s (needed by %s)", name, self->path);
                }
                if (r > 0) {
                        idx = load_state_add(st, ob, path, i);
                        strmap_add(&st->by_name, expanded, idx);
                        return 0;
                }
        }

        _cleanup_free_ char *searched = join_dirs(dirs.v, ":");
        return ob_error_plain(err, ENOENT, "%s (needed by %s) not found in the library path (searched %s)", name,
                              self->path, searched);
}

int elf_closure_add(ElfClosure *c, const char *path, int must_be_elf, ObError *err)
{
        _cleanup_(link_list_done) LinkList links = { 0 };
        _cleanup_(load_state_done) LoadState st = { 0 };
        _cleanup_free_ char *canonical = NULL;
        ElfObject *ob;
        int r;

        r = sysroot_resolve(c->sysroot, path, link_list_collect, &links, &canonical, err);
        if (r < 0)
                return r;
        r = closure_object(c, canonical, &ob, err);
        if (r < 0)
                return r;
        if (!ob->regular)
                return ob_error_plain(err, EINVAL, "'%s' is not a regular file", path);
        closure_commit(c, &links, canonical, NULL);
        if (!ob->elf) {
                if (must_be_elf)
                        return ob_error_plain(err, EINVAL, "%s", ob->why_not);
                return 0;
        }

        /* Like ld.so, breadth first: an object's DT_NEEDED are all loaded
         * before their own dependencies are looked at, which decides which
         * names later DT_NEEDED entries match. The executable's $ORIGIN is
         * its real path, as the kernel reports it. */
        load_state_add(&st, ob, canonical, SIZE_MAX);
        for (size_t i = 0; i < st.n; i++) {
                ElfObject *self = st.items[i].object;
                /* ld.so ignores the PT_INTERP of anything but the program. */
                if (i == 0 && self->info.interp) {
                        r = load_needed(c, &st, i, self->info.interp, true, err);
                        if (r < 0)
                                return r;
                }
                for (size_t k = 0; self->info.needed[k]; k++) {
                        r = load_needed(c, &st, i, self->info.needed[k], false, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
