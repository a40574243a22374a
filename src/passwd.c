/* SPDX-License-Identifier: MIT */
#include "passwd.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "sysroot.h"
#include "util.h"

#define IMAGE_FILE_MAX (4u * 1024u * 1024u)

/* ---- writing -------------------------------------------------------------- */

char *passwd_render(const SpecUser *users, size_t n_users)
{
        char *out = xstrdup("");
        for (size_t i = 0; i < n_users; i++) {
                const SpecUser *u = &users[i];
                char *line =
                        xasprintf("%s%s:x:%u:%u:%s:%s:%s\n", out, u->name, u->uid, u->gid, u->gecos, u->home, u->shell);
                free(out);
                out = line;
        }
        return out;
}

char *group_render(const SpecGroup *groups, size_t n_groups)
{
        char *out = xstrdup("");
        for (size_t i = 0; i < n_groups; i++) {
                const SpecGroup *g = &groups[i];
                char *members = xstrdup("");
                for (size_t k = 0; g->members && g->members[k]; k++) {
                        char *m = xasprintf("%s%s%s", members, k ? "," : "", g->members[k]);
                        free(members);
                        members = m;
                }
                char *line = xasprintf("%s%s:x:%u:%s\n", out, g->name, g->gid, members);
                free(members);
                free(out);
                out = line;
        }
        return out;
}

/* ---- reading -------------------------------------------------------------- */

void image_account_clear(ImageAccount *a)
{
        if (!a)
                return;
        free(a->groups);
        free(a->home);
        *a = (ImageAccount){ 0 };
}

/* A file of the unpacked image, read with its symlinks resolved inside the
 * image. A missing file gives NULL and no error: images need no passwd. */
static int read_image_file(Sysroot *root, const char *path, char **ret, ObError *err)
{
        _cleanup_free_ char *canon = NULL, *buf = NULL;
        ObError ignored;
        *ret = NULL;
        if (sysroot_resolve(root, path, NULL, NULL, &canon, &ignored) < 0)
                return 0;
        _cleanup_close_ int fd = sysroot_open_file(root, canon, &ignored);
        if (fd < 0)
                return 0;
        size_t cap = 4096, n = 0;
        buf = xmalloc(cap);
        for (;;) {
                if (n + 1 >= cap)
                        buf = xrealloc(buf, cap *= 2);
                ssize_t k = read(fd, buf + n, cap - n - 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return ob_error_set(err, errno, "cannot read the image's %s", path);
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > IMAGE_FILE_MAX)
                        return ob_error_plain(err, EFBIG, "the image's %s is larger than %u bytes", path,
                                              IMAGE_FILE_MAX);
        }
        buf[n] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static bool parse_id(const char *s, uint32_t *ret)
{
        size_t len = strlen(s);
        if (len == 0 || len > 10)
                return false;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v >= UINT32_MAX)
                return false;
        *ret = (uint32_t) v;
        return true;
}

/* Field i (from 0) of a colon-separated line, as a new string. */
static char *field(const char *line, size_t len, unsigned i)
{
        const char *p = line, *end = line + len;
        for (; i > 0; i--) {
                const char *c = memchr(p, ':', (size_t) (end - p));
                if (!c)
                        return NULL;
                p = c + 1;
        }
        const char *c = memchr(p, ':', (size_t) (end - p));
        return xstrndup(p, (size_t) ((c ? c : end) - p));
}

/* A field holding an id, or false when it is missing or not a number. */
static bool field_id(const char *line, size_t len, unsigned i, uint32_t *ret)
{
        _cleanup_free_ char *s = field(line, len, i);
        return s && parse_id(s, ret);
}

typedef struct DbEntry {
        char *name;
        uint32_t id;   /* uid or gid */
        uint32_t gid;  /* passwd: primary group */
        char *home;    /* passwd */
        char *members; /* group: "a,b,c" */
} DbEntry;

static void db_entry_clear(DbEntry *e)
{
        free(e->name);
        free(e->home);
        free(e->members);
        *e = (DbEntry){ 0 };
}

/* Finds a line of passwd (is_passwd) or group by name, or by id when name
 * is NULL. */
static bool db_find(const char *db, bool is_passwd, const char *name, uint32_t id, DbEntry *ret)
{
        for (const char *line = db; line && *line;) {
                const char *nl = strchrnul(line, '\n');
                size_t len = (size_t) (nl - line);
                _cleanup_(db_entry_clear) DbEntry e = { 0 };
                e.name = field(line, len, 0);
                if (e.name && field_id(line, len, 2, &e.id) && (name ? strcmp(e.name, name) == 0 : e.id == id)) {
                        if (is_passwd) {
                                if (!field_id(line, len, 3, &e.gid))
                                        e.gid = 0;
                                e.home = field(line, len, 5);
                        } else
                                e.members = field(line, len, 3);
                        *ret = e;
                        e = (DbEntry){ 0 };
                        return true;
                }
                line = *nl ? nl + 1 : nl;
        }
        return false;
}

static bool list_has(const char *list, const char *name)
{
        size_t n = strlen(name);
        for (const char *p = list; p && *p;) {
                const char *c = strchrnul(p, ',');
                if ((size_t) (c - p) == n && strncmp(p, name, n) == 0)
                        return true;
                p = *c ? c + 1 : c;
        }
        return false;
}

/* The groups of the group file that list name as a member, less the
 * primary group. */
static void add_member_groups(const char *group, const char *name, ImageAccount *a)
{
        for (const char *line = group; line && *line;) {
                const char *nl = strchrnul(line, '\n');
                size_t len = (size_t) (nl - line);
                _cleanup_free_ char *members = field(line, len, 3);
                uint32_t gid;
                if (members && field_id(line, len, 2, &gid) && gid != a->gid && list_has(members, name)) {
                        a->groups = xrealloc(a->groups, (a->n_groups + 1) * sizeof(gid_t));
                        a->groups[a->n_groups++] = gid;
                }
                line = *nl ? nl + 1 : nl;
        }
}

int passwd_lookup(const char *root_dir, const char *image_name, const char *user, ImageAccount *ret, ObError *err)
{
        _cleanup_(sysroot_freep) Sysroot *root = NULL;
        _cleanup_free_ char *passwd = NULL, *group = NULL;
        _cleanup_(db_entry_clear) DbEntry pw = { 0 };
        _cleanup_(db_entry_clear) DbEntry gr = { 0 };
        _cleanup_(image_account_clear) ImageAccount a = { 0 };
        bool have_pw;
        uint32_t id;
        int r;

        if ((r = sysroot_open(root_dir, &root, err)) < 0 ||
            (r = read_image_file(root, "/etc/passwd", &passwd, err)) < 0 ||
            (r = read_image_file(root, "/etc/group", &group, err)) < 0)
                return r;

        const char *colon = strchr(user, ':');
        _cleanup_free_ char *u = colon ? xstrndup(user, (size_t) (colon - user)) : xstrdup(user);
        const char *g = colon ? colon + 1 : NULL;
        if (!*u) {
                a.uid = 0;
                have_pw = db_find(passwd, true, NULL, 0, &pw);
        } else if (parse_id(u, &id)) {
                a.uid = id;
                have_pw = db_find(passwd, true, NULL, id, &pw);
        } else {
                have_pw = db_find(passwd, true, u, 0, &pw);
                if (!have_pw)
                        return ob_error_plain(err, ENOENT, "the user '%s' of image '%s' is not in its /etc/passwd", u,
                                              image_name);
                a.uid = pw.id;
        }

        if (g && *g) {
                if (parse_id(g, &id))
                        a.gid = id;
                else if (db_find(group, false, g, 0, &gr))
                        a.gid = gr.id;
                else
                        return ob_error_plain(err, ENOENT, "the group '%s' of image '%s' is not in its /etc/group", g,
                                              image_name);
        } else
                a.gid = have_pw ? pw.gid : 0;
        a.home = xstrdup(have_pw && pw.home && pw.home[0] == '/' ? pw.home : "/");
        if (have_pw)
                add_member_groups(group, pw.name, &a);

        *ret = a;
        a = (ImageAccount){ 0 };
        return 0;
}
