/* SPDX-License-Identifier: MIT */
#include "journal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "fs.h"

static Journal *current;
static unsigned commands;

void journal_note_command(void)
{
        commands++;
}

void journal_forget_command(void)
{
        if (commands > 0)
                commands--;
}

unsigned journal_commands(void)
{
        return commands;
}

Journal *journal_new(void)
{
        return xcalloc(1, sizeof(Journal));
}

void journal_free(Journal *j)
{
        if (!j)
                return;
        if (current == j)
                current = NULL;
        for (size_t i = 0; i < j->n; i++)
                free(j->v[i].path);
        free(j->v);
        free(j->slots);
        free(j->broken);
        free(j);
}

void journal_begin(Journal *j)
{
        current = j;
}

Journal *journal_current(void)
{
        return current;
}

static uint64_t hash_key(const char *path, bool follow)
{
        uint64_t h = follow ? 1469598103934665603ULL : 1099511628211ULL;
        for (const unsigned char *p = (const unsigned char *) path; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        return h;
}

static void rehash(Journal *j)
{
        free(j->slots);
        j->n_slots = j->n_slots ? j->n_slots * 2 : 1024;
        j->slots = xcalloc(j->n_slots, sizeof(size_t));
        for (size_t i = 0; i < j->n; i++) {
                size_t s = hash_key(j->v[i].path, j->v[i].follow) & (j->n_slots - 1);
                while (j->slots[s])
                        s = (s + 1) & (j->n_slots - 1);
                j->slots[s] = i + 1;
        }
}

/* The slot of (path, follow): its entry's, or the empty one it would take. */
static size_t *find_slot(Journal *j, const char *path, bool follow)
{
        if ((j->n + 1) * 2 > j->n_slots)
                rehash(j);
        size_t s = hash_key(path, follow) & (j->n_slots - 1);
        while (j->slots[s]) {
                const JournalEntry *e = &j->v[j->slots[s] - 1];
                if (e->follow == follow && strcmp(e->path, path) == 0)
                        break;
                s = (s + 1) & (j->n_slots - 1);
        }
        return &j->slots[s];
}

static int64_t ns(const struct timespec *t)
{
        return (int64_t) t->tv_sec * 1000000000LL + t->tv_nsec;
}

void journal_entry_set(JournalEntry *e, int error, const struct stat *st)
{
        e->error = error;
        if (error || !st) {
                e->error = error ? error : EIO;
                e->mode = 0;
                e->dev = e->ino = 0;
                e->size = e->mtime = e->ctime = 0;
                return;
        }
        e->mode = (uint32_t) st->st_mode;
        e->dev = (uint64_t) st->st_dev;
        e->ino = (uint64_t) st->st_ino;
        e->size = (int64_t) st->st_size;
        e->mtime = ns(&st->st_mtim);
        e->ctime = ns(&st->st_ctim);
}

void journal_add(Journal *j, JournalEntry *e)
{
        size_t *slot = find_slot(j, e->path, e->follow);
        if (*slot) {
                free(e->path);
                e->path = NULL;
                return;
        }
        if (j->n == j->cap) {
                j->cap = j->cap ? j->cap * 2 : 1024;
                j->v = xrealloc(j->v, j->cap * sizeof(JournalEntry));
        }
        j->v[j->n++] = *e;
        *slot = j->n;
        e->path = NULL;
}

static void note_as(const char *path, bool follow, bool weak, int error, const struct stat *st)
{
        if (!current || !path)
                return;
        size_t *slot = find_slot(current, path, follow);
        if (*slot) {
                /* A path walked through and later read: all of it counts. */
                JournalEntry *e = &current->v[*slot - 1];
                if (e->weak && !weak) {
                        journal_entry_set(e, error, st);
                        e->weak = false;
                }
                return;
        }
        JournalEntry e = { .path = xstrdup(path), .follow = follow, .weak = weak };
        journal_entry_set(&e, error, st);
        journal_add(current, &e);
}

static void note(const char *path, bool follow, int error, const struct stat *st)
{
        note_as(path, follow, /* weak= */ false, error, st);
}

void journal_note_stat(const char *path, bool follow, const struct stat *st)
{
        note(path, follow, 0, st);
}

void journal_note_error(const char *path, bool follow, int error)
{
        note(path, follow, error > 0 ? error : EIO, NULL);
}

void journal_note_fd(const char *path, bool follow, int fd)
{
        if (!current)
                return;
        struct stat st;
        if (fstat(fd, &st) < 0)
                journal_set_broken("cannot stat '%s'", path);
        else
                note(path, follow, 0, &st);
}

void journal_note_path(const char *path, bool follow)
{
        if (!current)
                return;
        struct stat st;
        if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
                note(path, follow, errno, NULL);
        else
                note(path, follow, 0, &st);
}

void journal_note_walk(const char *path)
{
        if (!current)
                return;
        _cleanup_free_ char *abs = NULL;
        if (path[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd) {
                        journal_set_broken("cannot tell the current directory");
                        return;
                }
                abs = xasprintf("%s/%s", cwd, path);
        } else
                abs = xstrdup(path);
        for (char *s = abs + 1;; s++) {
                if (*s == '/' || !*s) {
                        char c = *s;
                        *s = '\0';
                        struct stat st;
                        if (lstat(abs, &st) < 0)
                                note_as(abs, /* follow= */ false, /* weak= */ true, errno, NULL);
                        else
                                note_as(abs, /* follow= */ false, /* weak= */ true, 0, &st);
                        *s = c;
                        if (!c)
                                break;
                }
        }
        journal_note_path(abs, /* follow= */ true);
}

void journal_note_glob(const char *pattern)
{
        if (!current)
                return;
        const char *slash = strrchr(pattern, '/');
        _cleanup_free_ char *dir = slash ? xstrndup(pattern, (size_t) (slash - pattern)) : xstrdup(".");
        if (strpbrk(dir, "*?[\\")) {
                journal_set_broken("the pattern '%s' lists more than one directory", pattern);
                return;
        }
        journal_note_walk(*dir ? dir : "/");
}

void journal_set_broken(const char *fmt, ...)
{
        if (!current || current->broken)
                return;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&current->broken, fmt, ap) < 0)
                abort();
        va_end(ap);
}

bool journal_entry_fresh(const JournalEntry *e, struct stat *ret_st)
{
        struct stat st;
        int error = 0;
        if ((e->follow ? stat(e->path, &st) : lstat(e->path, &st)) < 0)
                error = errno;
        if (error || e->error)
                return error == e->error;
        if (ret_st)
                *ret_st = st;
        if (e->weak)
                return e->mode == (uint32_t) st.st_mode && e->dev == (uint64_t) st.st_dev &&
                       e->ino == (uint64_t) st.st_ino;
        return e->mode == (uint32_t) st.st_mode && e->dev == (uint64_t) st.st_dev && e->ino == (uint64_t) st.st_ino &&
               e->size == (int64_t) st.st_size && e->mtime == ns(&st.st_mtim) && e->ctime == ns(&st.st_ctim);
}

bool journal_fresh(const Journal *j, const struct timespec *since, const char **why)
{
        for (size_t i = 0; i < j->n; i++) {
                const JournalEntry *e = &j->v[i];
                struct stat st;
                if (!journal_entry_fresh(e, &st)) {
                        *why = e->path;
                        return false;
                }
                if (since && !e->error && !e->weak && cache_stat_racy(&st, since)) {
                        *why = e->path;
                        return false;
                }
        }
        return true;
}

bool journal_write(const Journal *j, FILE *f)
{
        for (size_t i = 0; i < j->n; i++) {
                const JournalEntry *e = &j->v[i];
                if (strchr(e->path, '\n'))
                        return false;
                fprintf(f, "j %c %d %" PRIo32 " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64 " %s\n",
                        e->follow ? 'f'
                        : e->weak ? 'L'
                                  : 'l',
                        e->error, e->mode, e->dev, e->ino, e->size, e->mtime, e->ctime, e->path);
        }
        return true;
}

/* A decimal number and the space after it; false for anything else. */
static bool parse_num(const char **p, int base, bool is_signed, uint64_t *ret)
{
        const char *s = *p;
        bool neg = is_signed && *s == '-';
        if (neg)
                s++;
        uint64_t v = 0;
        const char *start = s;
        for (; *s >= '0' && *s <= (base == 8 ? '7' : '9'); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / (unsigned) base)
                        return false;
                v = v * (unsigned) base + d;
        }
        if (s == start || *s != ' ' || (is_signed && v > (uint64_t) INT64_MAX))
                return false;
        *ret = neg ? (uint64_t) - (int64_t) v : v;
        *p = s + 1;
        return true;
}

bool journal_parse_line(const char *line, JournalEntry *e)
{
        if (line[0] != 'j' || line[1] != ' ' || !strchr("flL", line[2]) || !line[2] || line[3] != ' ')
                return false;
        char how = line[2];
        const char *p = line + 4;
        uint64_t error, mode, dev, ino, size, mtime, ctime;
        if (!parse_num(&p, 10, false, &error) || error > 4095 || !parse_num(&p, 8, false, &mode) || mode > UINT32_MAX ||
            !parse_num(&p, 10, false, &dev) || !parse_num(&p, 10, false, &ino) || !parse_num(&p, 10, true, &size) ||
            !parse_num(&p, 10, true, &mtime) || !parse_num(&p, 10, true, &ctime))
                return false;
        if (!*p || strchr(p, '\n'))
                return false;
        *e = (JournalEntry){ .path = xstrdup(p),
                             .follow = how == 'f',
                             .weak = how == 'L',
                             .error = (int) error,
                             .mode = (uint32_t) mode,
                             .dev = dev,
                             .ino = ino,
                             .size = (int64_t) size,
                             .mtime = (int64_t) mtime,
                             .ctime = (int64_t) ctime };
        return true;
}

void journal_append(Journal *j, JournalEntry *e)
{
        if (j->n == j->cap) {
                j->cap = j->cap ? j->cap * 2 : 1024;
                j->v = xrealloc(j->v, j->cap * sizeof(JournalEntry));
        }
        j->v[j->n++] = *e;
        e->path = NULL;
}
