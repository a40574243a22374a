/* SPDX-License-Identifier: MIT */
#include "tmpfile.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

#define MAX_TMP 16

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
