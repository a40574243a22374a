/* SPDX-License-Identifier: MIT */
/* The library closure: what ld.so would load for a program, found by reading
 * the files of a sysroot (search paths, ld.so.conf with its includes, $ORIGIN
 * and the other dynamic string tokens, breadth-first loading). Nothing is
 * executed. */
#include "journal.h"
#include "elf.h"

#include <errno.h>
#include <glob.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fs.h"
#include "log.h"
#include "path.h"
#include "util.h"

/* ld.so.conf include nesting; real configurations use one level. */
#define LD_SO_CONF_DEPTH_MAX 8

static const char *machine_platform(int machine)
{
        return machine == ELF_MACHINE_AARCH64 ? "aarch64" : "x86_64";
}

/* ---- string map ------------------------------------------------------- */

/* Open addressing, string keys owned by the map; enough for a few thousand
 * paths without quadratic lookups. */
typedef struct StrMap {
        char **keys;
        size_t *vals;
        size_t cap; /* 0 or a power of two */
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
        *m = (StrMap){ 0 };
}

/* A search path: directories in order, each once. */
typedef struct DirList {
        char **v; /* NULL-terminated once anything is in it */
        size_t n;
        StrMap seen;
} DirList;

static void dir_list_done(DirList *d)
{
        strv_free(d->v);
        strmap_done(&d->seen);
        *d = (DirList){ 0 };
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
        bool elf;      /* a supported ELF executable or shared object */
        char *why_not; /* !elf: why not */
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

static void closure_add_dep(ElfClosure *c, const char *path, ElfDepType type, const char *target, const char *needed_by)
{
        if (strmap_get(&c->dep_index, path, NULL))
                return;
        if (c->n_deps == c->cap_deps) {
                c->cap_deps = c->cap_deps ? c->cap_deps * 2 : 32;
                c->deps = xrealloc(c->deps, c->cap_deps * sizeof(ElfDep));
        }
        c->deps[c->n_deps] = (ElfDep){
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
                ObError perr = { 0 };
                r = elf_probe(map, size, canonical, &info, &perr);
                if (map)
                        munmap(map, size);
                if (r < 0) {
                        if (err)
                                *err = perr;
                        return r;
                }
                elf = r > 0;
                if (!elf)
                        why_not = xstrdup(perr.msg);
        }

        ElfObject *ob = xcalloc(1, sizeof(*ob));
        *ob = (ElfObject){
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

/* An absolute path with "." and ".." taken out, a ".." at the root staying
 * there: what the kernel does inside a chroot, so that a glob built from it
 * cannot climb out of the sysroot. */
static char *clamp_at_root(const char *path)
{
        char *out = xmalloc(strlen(path) + 2);
        size_t n = 0;
        for (const char *p = path; *p;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *e = strchrnul(p, '/');
                size_t len = (size_t) (e - p);
                if (len == 2 && p[0] == '.' && p[1] == '.') {
                        while (n > 0 && out[n - 1] != '/')
                                n--;
                        if (n > 0)
                                n--;
                } else if (!(len == 1 && p[0] == '.')) {
                        out[n++] = '/';
                        memcpy(out + n, p, len);
                        n += len;
                }
                p = e;
        }
        if (n == 0)
                out[n++] = '/';
        out[n] = '\0';
        return out;
}

static int conf_include(ElfClosure *c, const char *including, const char *pattern, unsigned depth, ObError *err)
{
        _cleanup_free_ char *dir = parent_dir(including);
        _cleanup_free_ char *joined = pattern[0] == '/' ? xstrdup(pattern) : path_join(dir, pattern);
        _cleanup_free_ char *abs = clamp_at_root(joined);
        _cleanup_free_ char *prefix = glob_escape(c->sysroot->path);
        _cleanup_free_ char *host_pattern = xasprintf("%s%s", prefix, abs);
        size_t strip = strlen(c->sysroot->path);
        _cleanup_(globfree) glob_t g = { 0 };
        int r;

        /* The listing is an input: an include file added there counts. */
        journal_note_glob(host_pattern);
        int gr = glob(host_pattern, 0, NULL, &g);
        if (gr == GLOB_NOMATCH)
                return 0;
        if (gr != 0)
                return ob_error_plain(err, EIO, "%s: cannot expand include pattern '%s'", including, pattern);
        for (size_t i = 0; i < g.gl_pathc; i++) {
                const char *inner = g.gl_pathv[i];
                if (strlen(inner) < strip || strncmp(inner, c->sysroot->path, strip) != 0)
                        continue;
                r = conf_parse(c, inner + strip, depth + 1, err);
                if (r < 0)
                        return r;
        }
        return 0;
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
                return ob_error_wrap(err, "reading the library search path");
        c->conf_loaded = true;
        return 0;
}

/* ---- loading ---------------------------------------------------------- */

/* One object of the process being modelled, as ld.so has it in its list. */
typedef struct Loaded {
        ElfObject *object;
        char *origin;  /* what $ORIGIN expands to for it */
        size_t loader; /* index of the object whose DT_NEEDED brought it; SIZE_MAX for the root */
} Loaded;

typedef struct LoadState {
        Loaded *items;
        size_t n;
        StrMap by_name; /* names ld.so matches a DT_NEEDED against, to an item */
        StrMap by_path; /* canonical path, to an item */
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
                st->items[st->n] = (Loaded){
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
                ob_error_plain(err, ENOEXEC, "'%s' is for machine %d, not %d", canonical, ob->info.machine, machine);
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
                        /* Named as an absolute path, the name is what the
                         * message of its lookup starts with: said once. */
                        return ob_error_wrap_subject(err, name, "%s%s (needed by %s)",
                                                     is_interp ? "program interpreter " : "", name, self->path);
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

int elf_closure_add(ElfClosure *c, const char *path, ElfClosureFlags flags, ObError *err)
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
                if (flags & ELF_CLOSURE_MUST_BE_ELF)
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
