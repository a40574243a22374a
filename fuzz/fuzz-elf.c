/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the ELF parser: any input must give either a result
 * or an error message, never a crash, leak or out-of-bounds read. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ObError err = { 0 };
        ElfInfo info;

        if (elf_parse(data, size, "fuzz", &info, &err) < 0) {
                if (err.msg[0] == '\0' || err.code != EINVAL)
                        abort();
                return 0;
        }
        /* Walk every string, so that a wrong length shows up under ASan. */
        size_t total = 0;
        if (info.interp)
                total += strlen(info.interp);
        for (char **n = info.needed; *n; n++)
                total += strlen(*n);
        if (info.runpath)
                total += strlen(info.runpath);
        if (info.rpath)
                total += strlen(info.rpath);
        if (info.soname)
                total += strlen(info.soname);
        if (total > size || !elf_machine_multiarch(info.machine))
                abort();
        elf_info_clear(&info);
        return 0;
}
