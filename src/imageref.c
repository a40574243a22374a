/* SPDX-License-Identifier: MIT */
#include "imageref.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util.h"

#define DOCKER_DOMAIN "docker.io"

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* A repository path component: lowercase alphanumerics joined by '.', '_',
 * '__' or runs of '-'. */
static bool path_component_valid(const char *s, size_t n)
{
        size_t i = 0;

        if (n == 0 || !is_lower_alnum(s[0]))
                return false;
        while (i < n) {
                if (is_lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                size_t j = i + 1;
                if (s[i] == '_' && j < n && s[j] == '_')
                        j++;
                else if (s[i] == '-')
                        while (j < n && s[j] == '-')
                                j++;
                else if (s[i] != '.' && s[i] != '_')
                        return false;
                if (j >= n || !is_lower_alnum(s[j]))
                        return false;
                i = j;
        }
        return true;
}

/* host[:port], the host made of dot-separated labels that start and end
 * with an alphanumeric. */
static bool domain_valid(const char *s, size_t n)
{
        const char *colon = memchr(s, ':', n);
        size_t host = colon ? (size_t) (colon - s) : n;

        if (colon) {
                size_t digits = n - host - 1;
                if (digits == 0 || digits > 5)
                        return false;
                for (size_t i = host + 1; i < n; i++)
                        if (s[i] < '0' || s[i] > '9')
                                return false;
        }
        size_t start = 0;
        for (size_t i = 0; i <= host; i++) {
                if (i < host && s[i] != '.')
                        continue;
                if (i == start || !is_alnum(s[start]) || !is_alnum(s[i - 1]))
                        return false;
                for (size_t k = start; k < i; k++)
                        if (!is_alnum(s[k]) && s[k] != '-')
                                return false;
                start = i + 1;
        }
        return true;
}

static bool tag_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 128 || !(is_alnum(s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
                        return false;
        return true;
}

void image_ref_clear(ImageRef *r)
{
        if (!r)
                return;
        free(r->familiar);
        free(r->full);
        free(r->tag);
        *r = (ImageRef){ 0 };
}

int image_ref_parse(const char *ref, ImageRef *ret, ObError *err)
{
        if (strchr(ref, '@'))
                return ob_error_plain(err, EINVAL, "'%s' is a digest reference; images are saved under tags (REPO:TAG)",
                                      ref);
        const char *slash = strrchr(ref, '/');
        const char *colon = strrchr(ref, ':');
        if (!colon || (slash && colon < slash))
                return ob_error_plain(err, EINVAL, "'%s' has no tag (write REPO:TAG, e.g. '%s:latest')", ref, ref);
        _cleanup_free_ char *repo = xstrndup(ref, (size_t) (colon - ref));
        const char *tag = colon + 1;
        if (!tag_valid(tag))
                return ob_error_plain(err, EINVAL,
                                      "'%s' has an invalid tag '%s' (letters, digits, '_', '.' and '-', at most 128, "
                                      "not starting with '.' or '-')",
                                      ref, tag);

        /* As Docker decides it: a first component that looks like a host
         * (a dot, a port, "localhost", capitals) is the registry. */
        const char *domain = DOCKER_DOMAIN, *path = repo;
        size_t domain_n = strlen(DOCKER_DOMAIN);
        const char *first_slash = strchr(repo, '/');
        if (first_slash) {
                size_t n = (size_t) (first_slash - repo);
                bool upper = false;
                for (size_t i = 0; i < n; i++)
                        upper |= repo[i] >= 'A' && repo[i] <= 'Z';
                if (memchr(repo, '.', n) || memchr(repo, ':', n) || upper ||
                    (n == strlen("localhost") && strncmp(repo, "localhost", n) == 0)) {
                        if (!domain_valid(repo, n))
                                return ob_error_plain(err, EINVAL, "'%s' has an invalid registry '%.*s'", ref, (int) n,
                                                      repo);
                        domain = repo;
                        domain_n = n;
                        path = first_slash + 1;
                }
        }
        if (domain_n == strlen("index.docker.io") && strncmp(domain, "index.docker.io", domain_n) == 0) {
                domain = DOCKER_DOMAIN;
                domain_n = strlen(DOCKER_DOMAIN);
        }
        if (!*path)
                return ob_error_plain(err, EINVAL, "'%s' has no repository name", ref);
        for (const char *p = path;;) {
                const char *e = strchr(p, '/');
                size_t n = e ? (size_t) (e - p) : strlen(p);
                if (!path_component_valid(p, n))
                        return ob_error_plain(err, EINVAL,
                                              "'%s' has an invalid repository name '%s' (lowercase letters and digits, "
                                              "separated by '/', '.', '_' or '-')",
                                              ref, path);
                if (!e)
                        break;
                p = e + 1;
        }

        bool docker_hub = domain_n == strlen(DOCKER_DOMAIN) && strncmp(domain, DOCKER_DOMAIN, domain_n) == 0;
        _cleanup_free_ char *name = NULL;
        if (docker_hub && !strchr(path, '/'))
                name = xasprintf(DOCKER_DOMAIN "/library/%s", path);
        else
                name = xasprintf("%.*s/%s", (int) domain_n, domain, path);
        if (strlen(name) > 255)
                return ob_error_plain(err, EINVAL, "'%s': a repository name is at most 255 characters", ref);

        const char *familiar = name;
        if (docker_hub) {
                familiar = name + strlen(DOCKER_DOMAIN "/");
                if (str_startswith(familiar, "library/") && !strchr(familiar + strlen("library/"), '/'))
                        familiar += strlen("library/");
        }
        ret->familiar = xasprintf("%s:%s", familiar, tag);
        ret->full = xasprintf("%s:%s", name, tag);
        ret->tag = xstrdup(tag);
        return 0;
}
