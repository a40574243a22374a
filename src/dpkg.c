/* SPDX-License-Identifier: MIT */
#include "dpkg.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

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

static DpkgParagraph *status_new_paragraph(DpkgStatus *s)
{
        s->paragraphs = xrealloc(s->paragraphs, (s->n_paragraphs + 1) * sizeof(DpkgParagraph));
        s->paragraphs[s->n_paragraphs] = (DpkgParagraph) { 0 };
        return &s->paragraphs[s->n_paragraphs++];
}

static DpkgField *paragraph_add(DpkgParagraph *p, const char *line, const char *colon, const char *end)
{
        p->fields = xrealloc(p->fields, (p->n_fields + 1) * sizeof(DpkgField));
        p->fields[p->n_fields] = (DpkgField) {
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
        _cleanup_free_ char *more = xstrndup(line, n);
        char *joined = xasprintf("%s\n%s", f->value, more);
        free(f->value);
        f->value = joined;
}

DpkgStatus *dpkg_status_parse(const char *text)
{
        DpkgStatus *s = xcalloc(1, sizeof(*s));
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

int dpkg_status_load(Sysroot *root, DpkgStatus **ret, ObError *err)
{
        _cleanup_free_ char *path = sysroot_host_path(root, "/var/lib/dpkg/status");
        _cleanup_free_ char *text = NULL;
        int r = read_file(path, &text, NULL, err);
        if (r < 0)
                return r;
        *ret = dpkg_status_parse(text);
        return 0;
}

void dpkg_status_free(DpkgStatus *s)
{
        if (!s)
                return;
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
                return ob_error_plain(err, ENOENT, "the Debian package '%s' is not installed (apt-get install %s)",
                                      package, package);
        *ret = xstrdup(version);
        return 0;
}
