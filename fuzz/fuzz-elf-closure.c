/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the library search: the input is installed in a small
 * sysroot as /usr/bin/prog and, under a second name, as a library that
 * DT_NEEDED entries, RUNPATHs and the interpreter path can reach, so that
 * hostile strings go through $ORIGIN expansion, the search path and path
 * resolution. Every outcome but a crash is fine. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"
#include "fs.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *root;
static Sysroot *sysroot;

static void must(int ok, const char *what)
{
        if (!ok) {
                perror(what);
                abort();
        }
}

static void put(const char *rel, const char *text)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
        FILE *f = fopen(p, "we");
        must(f != NULL, p);
        fputs(text, f);
        must(fclose(f) == 0, p);
}

static void cleanup(void)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", root);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", root);
        sysroot_free(sysroot);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *tmp = getenv("TMPDIR");
        const char *dirs[] = {
                "usr",
                "usr/bin",
                "usr/lib",
                "usr/lib/x86_64-linux-gnu",
                "usr/lib/aarch64-linux-gnu",
                "etc",
                "etc/ld.so.conf.d",
                "opt",
                "opt/x86_64",
        };
        ObError err = { 0 };

        root = xasprintf("%s/fuzz-elf-closure-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        must(mkdtemp(root) != NULL, "mkdtemp");
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", root, dirs[i]);
                must(mkdir(p, 0755) == 0, p);
        }
        _cleanup_free_ char *lib = xasprintf("%s/lib", root);
        must(symlink("usr/lib", lib) == 0, lib);
        _cleanup_free_ char *up = xasprintf("%s/opt/up", root);
        must(symlink("../..", up) == 0, up);
        put("etc/ld.so.conf", "include ld.so.conf.d/*.conf\n/opt/x86_64\n");
        put("etc/ld.so.conf.d/a.conf", "# fuzz\n/opt\n");
        must(sysroot_open(root, &sysroot, &err) == 0, err.msg);
        atexit(cleanup);
        return 0;
}

static void install(const char *rel, const uint8_t *data, size_t size)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        must(fd >= 0, p);
        must(write_all(fd, data, size) == 0, p);
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ObError err = { 0 };
        ElfClosure *c;

        install("usr/bin/prog", data, size);
        install("usr/lib/x86_64-linux-gnu/libfuzz.so.1", data, size);
        install("usr/lib/aarch64-linux-gnu/libfuzz.so.1", data, size);

        must(elf_closure_new(sysroot, &c, &err) == 0, err.msg);
        if (elf_closure_add(c, "/usr/bin/prog", /* flags= */ 0, &err) < 0 && err.msg[0] == '\0')
                abort();
        for (size_t i = 0; i < elf_closure_count(c); i++) {
                const ElfDep *d = elf_closure_get(c, i);
                if (d->path[0] != '/' || (d->type == ELF_DEP_SYMLINK) != (d->target != NULL))
                        abort();
        }
        elf_closure_free(c);
        return 0;
}
