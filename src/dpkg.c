/* SPDX-License-Identifier: MIT */
#include "dpkg.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fs.h"
#include "util.h"

static bool is_blank(char ch)
{
        return ch == ' ' || ch == '\t' || ch == '\r';
}

/* s[0, n) without the blanks at both ends. */
static char *strip_dup(const char *s, size_t n)
{
        while (n > 0 && is_blank(*s)) {
                s++;
                n--;
        }
        while (n > 0 && is_blank(s[n - 1]))
                n--;
        return xstrndup(s, n);
}

/* Room for one more of n items: the array doubles when n is a power of
 * two, so that a status file of thousands of paragraphs is not copied at
 * each one. */
static void *grow(void *v, size_t n, size_t size)
{
        if (n > 0 && (n & (n - 1)) != 0)
                return v;
        return xrealloc(v, (n > 0 ? 2 * n : 1) * size);
}

static DpkgParagraph *status_new_paragraph(DpkgStatus *s)
{
        s->paragraphs = grow(s->paragraphs, s->n_paragraphs, sizeof(DpkgParagraph));
        s->paragraphs[s->n_paragraphs] = (DpkgParagraph){ 0 };
        return &s->paragraphs[s->n_paragraphs++];
}

static DpkgField *paragraph_add(DpkgParagraph *p, const char *line, const char *colon, const char *end)
{
        p->fields = grow(p->fields, p->n_fields, sizeof(DpkgField));
        p->fields[p->n_fields] = (DpkgField){
                .name = strip_dup(line, (size_t) (colon - line)),
                .value = strip_dup(colon + 1, (size_t) (end - colon - 1)),
        };
        return &p->fields[p->n_fields++];
}

static void field_continue(DpkgField *f, const char *line, const char *end)
{
        size_t n = (size_t) (end - line);
        while (n > 0 && is_blank(line[n - 1]))
                n--;
        /* Appended in place: a long Description or Conffiles is not
         * copied again at each of its lines. */
        size_t have = strlen(f->value);
        f->value = xrealloc(f->value, have + 1 + n + 1);
        f->value[have] = '\n';
        memcpy(f->value + have + 1, line, n);
        f->value[have + 1 + n] = '\0';
}

DpkgStatus *dpkg_status_parse(const char *text)
{
        DpkgStatus *s = xcalloc(1, sizeof(*s));
        s->n_ref = 1;
        DpkgParagraph *para = NULL;
        DpkgField *last = NULL;

        for (const char *line = text; line && *line;) {
                const char *end = strchrnul(line, '\n');
                const char *next = *end ? end + 1 : NULL;
                size_t blanks = strspn(line, " \t\r");

                if (line + blanks >= end) {
                        /* Policy allows blanks on the line that ends a paragraph. */
                        para = NULL;
                        last = NULL;
                } else if (blanks > 0) {
                        if (last)
                                field_continue(last, line, end);
                } else {
                        const char *colon = memchr(line, ':', (size_t) (end - line));
                        if (colon && colon > line && line[0] != '#') {
                                if (!para)
                                        para = status_new_paragraph(s);
                                last = paragraph_add(para, line, colon, end);
                        } else {
                                last = NULL;
                        }
                }
                line = next;
        }
        return s;
}

int dpkg_status_check(const char *text, const char *file, ObError *err)
{
        size_t lineno = 0, para_line = 0;
        bool in_para = false, has_package = false;

        for (const char *line = text; line && *line;) {
                const char *end = strchrnul(line, '\n');
                const char *next = *end ? end + 1 : NULL;
                size_t blanks = strspn(line, " \t\r");
                lineno++;

                if (line + blanks >= end) {
                        if (in_para && !has_package)
                                return ob_error_plain(err, EBADMSG, "%s:%zu: a paragraph without 'Package'", file,
                                                      para_line);
                        in_para = false;
                } else if (blanks > 0) {
                        if (!in_para)
                                return ob_error_plain(err, EBADMSG,
                                                      "%s:%zu: a continuation line with no field before it", file,
                                                      lineno);
                } else if (line[0] != '#') {
                        const char *colon = memchr(line, ':', (size_t) (end - line));
                        if (!colon || colon == line)
                                return ob_error_plain(err, EBADMSG, "%s:%zu: expected 'Name: value', got '%.*s'", file,
                                                      lineno, (int) (end - line > 60 ? 60 : end - line), line);
                        if (!in_para) {
                                in_para = true;
                                has_package = false;
                                para_line = lineno;
                        }
                        if ((size_t) (colon - line) == strlen("Package") &&
                            strncasecmp(line, "Package", strlen("Package")) == 0)
                                has_package = true;
                }
                line = next;
        }
        if (in_para && !has_package)
                return ob_error_plain(err, EBADMSG, "%s:%zu: a paragraph without 'Package'", file, para_line);
        return 0;
}

static void status_unref(void *s)
{
        dpkg_status_free(s);
}

static bool same_version(const struct stat *a, const struct stat *b)
{
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int dpkg_status_load(Sysroot *root, DpkgStatus **ret, ObError *err)
{
        _cleanup_free_ char *path = sysroot_host_path(root, "/var/lib/dpkg/status");
        DpkgStatus *known = root->dpkg_status;
        /* Looked at before the read: a file replaced meanwhile is read
         * again by the next reader, not taken for the one read. */
        struct stat st;
        bool stated = stat(path, &st) == 0;
        if (known && stated && same_version(&known->st, &st)) {
                known->n_ref++;
                *ret = known;
                return 0;
        }
        _cleanup_free_ char *text = NULL;
        int r = read_file(path, &text, NULL, err);
        if (r < 0)
                return r;
        DpkgStatus *s = dpkg_status_parse(text);
        s->text = TAKE_PTR(text);
        if (stated) {
                s->st = st;
                s->n_ref++; /* the sysroot's */
                if (root->dpkg_status_unref)
                        root->dpkg_status_unref(root->dpkg_status);
                root->dpkg_status = s;
                root->dpkg_status_unref = status_unref;
        }
        *ret = s;
        return 0;
}

void dpkg_status_free(DpkgStatus *s)
{
        if (!s || --s->n_ref > 0)
                return;
        free(s->text);
        for (size_t i = 0; i < s->n_paragraphs; i++) {
                DpkgParagraph *p = &s->paragraphs[i];
                for (size_t k = 0; k < p->n_fields; k++) {
                        free(p->fields[k].name);
                        free(p->fields[k].value);
                }
                free(p->fields);
        }
        free(s->paragraphs);
        free(s);
}

const char *dpkg_paragraph_get(const DpkgParagraph *p, const char *name)
{
        /* A repeated field, which dpkg never writes, counts by its last value. */
        for (size_t k = p->n_fields; k > 0; k--)
                if (strcasecmp(p->fields[k - 1].name, name) == 0)
                        return p->fields[k - 1].value;
        return NULL;
}

bool dpkg_paragraph_installed(const DpkgParagraph *p)
{
        /* "want flag status": only the third word says what is on disk. */
        const char *status = dpkg_paragraph_get(p, "Status");
        if (!status)
                return false;
        const char *word = strrchr(status, ' ');
        return word && strcmp(word + 1, "installed") == 0;
}

const DpkgParagraph *dpkg_status_find_installed(const DpkgStatus *s, const char *package)
{
        for (size_t i = 0; i < s->n_paragraphs; i++) {
                const DpkgParagraph *p = &s->paragraphs[i];
                const char *name = dpkg_paragraph_get(p, "Package");
                if (name && strcmp(name, package) == 0 && dpkg_paragraph_installed(p))
                        return p;
        }
        return NULL;
}

int dpkg_package_version(Sysroot *root, const char *package, char **ret, ObError *err)
{
        _cleanup_(dpkg_status_freep) DpkgStatus *status = NULL;
        int r = dpkg_status_load(root, &status, err);
        if (r < 0)
                return r;

        const DpkgParagraph *p = dpkg_status_find_installed(status, package);
        const char *version = p ? dpkg_paragraph_get(p, "Version") : NULL;
        if (!version)
                return ob_error_plain(err, ENOPKG, "the Debian package '%s' is not installed (apt-get install %s)",
                                      package, package);
        *ret = xstrdup(version);
        return 0;
}

int dpkg_paragraph_files(Sysroot *root, const DpkgParagraph *p, char ***ret, ObError *err)
{
        const char *package = dpkg_paragraph_get(p, "Package");
        const char *arch = dpkg_paragraph_get(p, "Architecture");
        if (!package)
                return ob_error_plain(err, EINVAL, "a dpkg status paragraph without 'Package'");

        /* A Multi-Arch: same package may be installed once per architecture,
         * so dpkg names its list after both; every other package's list has
         * the package name alone. */
        _cleanup_free_ char *plain = xasprintf("/var/lib/dpkg/info/%s.list", package);
        _cleanup_free_ char *path = sysroot_host_path(root, plain);
        _cleanup_free_ char *text = NULL;
        int r = read_file(path, &text, NULL, err);
        if (r == -ENOENT && arch) {
                _cleanup_free_ char *qualified = xasprintf("/var/lib/dpkg/info/%s:%s.list", package, arch);
                free(path);
                path = sysroot_host_path(root, qualified);
                r = read_file(path, &text, NULL, err);
        }
        if (r < 0)
                return r;

        /* One pass, no strv_push(): a package may list tens of thousands
         * of paths (a Go toolchain's sources). */
        size_t lines = 1;
        for (const char *c = text; *c; c++)
                lines += *c == '\n';
        _cleanup_strv_ char **files = xcalloc(lines + 1, sizeof(char *));
        size_t n = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (line[0] == '/')
                        files[n++] = xstrdup(line);
        *ret = TAKE_PTR(files);
        return 0;
}

char *dpkg_version_tag(const char *version)
{
        /* The epoch only orders versions whose upstream numbering changed;
         * a tag has no order, and readers look for the upstream version
         * first. A colon with no digits before it is no epoch. */
        const char *colon = strchr(version, ':');
        size_t digits = strspn(version, "0123456789");
        if (colon && digits > 0 && version + digits == colon)
                version = colon + 1;

        size_t n = strnlen(version, DPKG_TAG_MAX);
        if (n == 0)
                return NULL;
        char *tag = xstrndup(version, n);
        for (char *c = tag; *c; c++) {
                if (*c == '~')
                        *c = '-'; /* "before": semver's pre-release separator */
                else if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9') &&
                         *c != '.' && *c != '-' && *c != '_')
                        *c = '_'; /* '+' (and any other): what Helm writes for semver's '+' in a tag */
        }
        if (tag[0] == '.' || tag[0] == '-')
                tag[0] = '_';
        return tag;
}
