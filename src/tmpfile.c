/* SPDX-License-Identifier: MIT */
#include "tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

/* A build registers every blob it adds until the index names them: tool --all
 * with apps adds a few dozen. */
#define MAX_TMP 256

enum { SLOT_FREE, SLOT_FILE, SLOT_TREE };

static char tmp_paths[MAX_TMP][PATH_MAX];
static volatile sig_atomic_t tmp_used[MAX_TMP];

static int add(const char *path, int kind)
{
        for (int i = 0; i < MAX_TMP; i++)
                if (tmp_used[i] == SLOT_FREE) {
                        snprintf(tmp_paths[i], PATH_MAX, "%s", path);
                        tmp_used[i] = kind;
                        return i;
                }
        return -1;
}

int tmpfile_register(const char *path)
{
        return add(path, SLOT_FILE);
}

int tmpfile_register_tree(const char *path)
{
        return add(path, SLOT_TREE);
}

void tmpfile_unregister(int slot)
{
        if (slot >= 0 && slot < MAX_TMP)
                tmp_used[slot] = SLOT_FREE;
}

void tmpfile_forget(const char *path)
{
        for (int i = 0; i < MAX_TMP; i++)
                if (tmp_used[i] != SLOT_FREE && strcmp(tmp_paths[i], path) == 0)
                        tmp_used[i] = SLOT_FREE;
}

void tmpfile_cleanup_all(void)
{
        for (int i = 0; i < MAX_TMP; i++) {
                if (tmp_used[i] == SLOT_FILE)
                        unlink(tmp_paths[i]);
                else if (tmp_used[i] == SLOT_TREE)
                        (void) rm_rf_at(AT_FDCWD, tmp_paths[i]);
        }
}

void tmpfile_block_signals(sigset_t *ret_old)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, ret_old);
}

int tmpfile_create(char *template, int suffix_len, int flags, int *ret_slot)
{
        sigset_t old;
        tmpfile_block_signals(&old);
        int fd = mkostemps(template, suffix_len, flags);
        int e = errno;
        *ret_slot = fd >= 0 ? tmpfile_register(template) : -1;
        sigprocmask(SIG_SETMASK, &old, NULL);
        return fd >= 0 ? fd : -e;
}

int tmpfile_create_dir(char *template, int *ret_slot)
{
        sigset_t old;
        tmpfile_block_signals(&old);
        char *d = mkdtemp(template);
        int e = errno;
        *ret_slot = d ? tmpfile_register_tree(template) : -1;
        sigprocmask(SIG_SETMASK, &old, NULL);
        return d ? 0 : -e;
}
