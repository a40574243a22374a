/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the ELF parser: any input must give either a result
 * or an error message, never a crash, leak or out-of-bounds read. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* s, with its terminating NUL, occurs in the image. */
static int in_image(const uint8_t *data, size_t size, const char *s)
{
        return memmem(data, size, s, strlen(s) + 1) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ObError err = { 0 };
        ElfInfo info;

        if (elf_parse(data, size, "fuzz", &info, &err) < 0) {
                if (err.msg[0] == '\0' || err.code != EINVAL)
                        abort();
                return 0;
        }
        /* Every string is copied out of the image, NUL included: it must be
         * found there whole. This walks each one, so that a wrong length
         * shows up under ASan. Strings may share bytes (two DT_NEEDED entries
         * naming one string table offset, DT_SONAME a suffix of another), so
         * their lengths are not summed. */
        if (info.interp && !in_image(data, size, info.interp))
                abort();
        for (char **n = info.needed; *n; n++)
                if (!**n || !in_image(data, size, *n))
                        abort();
        if (info.runpath && !in_image(data, size, info.runpath))
                abort();
        if (info.rpath && !in_image(data, size, info.rpath))
                abort();
        if (info.soname && !in_image(data, size, info.soname))
                abort();
        if (!elf_machine_multiarch(info.machine))
                abort();
        elf_info_clear(&info);
        return 0;
}
