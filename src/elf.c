/* SPDX-License-Identifier: MIT */
#include "elf.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
static int image_string(const Image *im, uint64_t base, uint64_t limit, uint64_t off, uint64_t max, const char *what,
                        char **ret, ObError *err)
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
                                           "PT_LOAD segment holding %s (offset %llu, %llu bytes) runs past the end of "
                                           "the file (%llu bytes)",
                                           what, (unsigned long long) ph.p_offset, (unsigned long long) ph.p_filesz,
                                           (unsigned long long) im->size);
                *ret_off = ph.p_offset + (addr - ph.p_vaddr);
                *ret_limit = ph.p_offset + ph.p_filesz;
                return 0;
        }
        return image_error(err, im, "%s address 0x%llx is not inside any loaded segment", what,
                           (unsigned long long) addr);
}

/* Checks the header of a file that may be anything: 0 for an object this
 * module handles, -EINVAL with the reason when it is something else. */
static int image_check_supported(const Image *im, ObError *err)
{
        RawEhdr eh;

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
        return 0;
}

/* Parses an image whose header image_check_supported() accepted. */
static int parse_image(Image *im, ElfInfo *ret, ObError *err)
{
        _cleanup_free_ char *interp = NULL, *runpath = NULL, *rpath = NULL, *soname = NULL;
        _cleanup_free_ uint64_t *needed_off = NULL;
        _cleanup_strv_ char **needed = NULL;
        RawEhdr eh;
        int r;

        memcpy(&eh, im->data, sizeof(eh));
        uint16_t machine = le16toh(eh.e_machine);

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
                return image_error(
                        err, im,
                        "program header table (offset %llu, %llu entries) runs past the end of the file (%llu bytes)",
                        (unsigned long long) im->phoff, (unsigned long long) im->phnum, (unsigned long long) im->size);

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
                                                   "PT_INTERP (offset %llu, %llu bytes) runs past the end of the file "
                                                   "(%llu bytes)",
                                                   (unsigned long long) ph.p_offset, (unsigned long long) ph.p_filesz,
                                                   (unsigned long long) im->size);
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
                                                   "PT_DYNAMIC (offset %llu, %llu bytes) runs past the end of the file "
                                                   "(%llu bytes)",
                                                   (unsigned long long) ph.p_offset, (unsigned long long) ph.p_filesz,
                                                   (unsigned long long) im->size);
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
                                        return image_error(err, im, "more than %d DT_NEEDED entries", ELF_NEEDED_MAX);
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
                                                   "string table (DT_STRSZ %llu bytes at offset %llu) runs past its "
                                                   "segment (%llu bytes left)",
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

        *ret = (ElfInfo){
                .machine = machine,
                .interp = TAKE_PTR(interp),
                .needed = TAKE_PTR(needed),
                .runpath = TAKE_PTR(runpath),
                .rpath = TAKE_PTR(rpath),
                .soname = TAKE_PTR(soname),
        };
        return 0;
}

int elf_probe(const void *data, size_t size, const char *name, ElfInfo *ret, ObError *err)
{
        Image im = {
                .data = data,
                .size = data ? size : 0,
                .name = name ? name : "(memory)",
        };
        int r;

        /* Not an object this module handles is an answer, not a failure. */
        if (image_check_supported(&im, err) < 0)
                return 0;
        r = parse_image(&im, ret, err);
        if (r < 0)
                return r;
        return 1;
}

int elf_parse(const void *data, size_t size, const char *name, ElfInfo *ret, ObError *err)
{
        int r = elf_probe(data, size, name, ret, err);
        if (r == 0)
                return -EINVAL;
        return r < 0 ? r : 0;
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
        *info = (ElfInfo){ 0 };
}
