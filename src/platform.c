/* SPDX-License-Identifier: MIT */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "cleanup-libs.h"
#include "download.h"
#include "fs.h"
#include "dpkg.h"
#include "elf.h"
#include "oci.h"
#include "path.h"
#include "sbom-attach.h"
#include "util.h"

/* The platforms whose Debian trees, ELF closure rules and seccomp filters
 * we have: what --platform all means. */
const Platform platform_supported[] = {
        { "linux", "amd64", "" },
        { "linux", "arm64", "v8" },
};
const size_t platform_n_supported = ELEMENTSOF(platform_supported);

static const struct {
        int machine;
        const char *dpkg, *arch, *variant;
} arch_map[] = {
        { ELF_MACHINE_X86_64, "amd64", "amd64", "" },
        { ELF_MACHINE_AARCH64, "arm64", "arm64", "v8" },
};

/* Every piece between separators, empty ones too ("a,,b" has three). */
static char **split(const char *s, char sep)
{
        char **v = xcalloc(1, sizeof(char *));
        for (const char *p = s;;) {
                const char *q = strchr(p, sep);
                _cleanup_free_ char *one = q ? xstrndup(p, (size_t) (q - p)) : xstrdup(p);
                strv_push(&v, one);
                if (!q)
                        return v;
                p = q + 1;
        }
}

int platform_parse(const char *s, Platform *ret, ObError *err)
{
        _cleanup_strv_ char **parts = split(s, '/');
        size_t n = strv_length(parts);
        if (n < 2 || n > 3 || !*parts[0] || !*parts[1] || (n == 3 && !*parts[2]))
                return ob_error_plain(err, EINVAL, "--platform '%s': expected OS/ARCH[/VARIANT], e.g. linux/arm64", s);
        if (strcmp(parts[0], "linux") != 0)
                return ob_error_plain(err, EINVAL, "--platform '%s': only linux images can be built", s);
        for (size_t i = 0; i < platform_n_supported; i++) {
                const Platform *p = &platform_supported[i];
                if (strcmp(parts[1], p->arch) != 0)
                        continue;
                if (n == 3 && strcmp(parts[2], p->variant) != 0)
                        return ob_error_plain(err, EINVAL, "--platform '%s': %s has no variant '%s' here%s%s", s,
                                              p->arch, parts[2], *p->variant ? " (only " : "",
                                              *p->variant ? p->variant : "");
                *ret = *p;
                return 0;
        }
        _cleanup_free_ char *list = NULL;
        for (size_t i = 0; i < platform_n_supported; i++) {
                _cleanup_free_ char *one = platform_string(&platform_supported[i]);
                char *next = list ? xasprintf("%s, %s", list, one) : xstrdup(one);
                free(list);
                list = next;
        }
        return ob_error_plain(err, EINVAL, "--platform '%s': unsupported architecture '%s' (supported: %s)", s,
                              parts[1], list);
}

int platform_parse_list(const char *s, Platform **ret, size_t *ret_n, ObError *err)
{
        _cleanup_free_ Platform *v = NULL;
        size_t n = 0;
        if (strcmp(s, "all") == 0) {
                v = xcalloc(platform_n_supported, sizeof(Platform));
                memcpy(v, platform_supported, platform_n_supported * sizeof(Platform));
                *ret = TAKE_PTR(v);
                *ret_n = platform_n_supported;
                return 0;
        }
        _cleanup_strv_ char **parts = split(s, ',');
        if (!*s)
                return ob_error_plain(err, EINVAL, "--platform '%s': expected OS/ARCH[,OS/ARCH...] or 'all'", s);
        v = xcalloc(strv_length(parts), sizeof(Platform));
        for (size_t i = 0; parts[i]; i++) {
                Platform p;
                int r = platform_parse(parts[i], &p, err);
                if (r < 0)
                        return r;
                bool dup = false;
                for (size_t k = 0; k < n; k++)
                        dup = dup || platform_equal(&v[k], &p);
                if (!dup)
                        v[n++] = p;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

char *platform_string(const Platform *p)
{
        if (*p->variant)
                return xasprintf("%s/%s/%s", p->os, p->arch, p->variant);
        return xasprintf("%s/%s", p->os, p->arch);
}

char *platform_slug(const Platform *p)
{
        return xasprintf("%s-%s", p->os, p->arch);
}

bool platform_equal(const Platform *a, const Platform *b)
{
        return strcmp(a->os, b->os) == 0 && strcmp(a->arch, b->arch) == 0 && strcmp(a->variant, b->variant) == 0;
}

static void set_platform(Platform *ret, const char *arch, const char *variant)
{
        *ret = (Platform){ 0 };
        snprintf(ret->os, sizeof(ret->os), "linux");
        snprintf(ret->arch, sizeof(ret->arch), "%s", arch);
        snprintf(ret->variant, sizeof(ret->variant), "%s", variant);
}

bool platform_from_elf_machine(int machine, Platform *ret)
{
        for (size_t i = 0; i < ELEMENTSOF(arch_map); i++)
                if (arch_map[i].machine == machine) {
                        set_platform(ret, arch_map[i].arch, arch_map[i].variant);
                        return true;
                }
        return false;
}

bool platform_from_dpkg_arch(const char *arch, Platform *ret)
{
        for (size_t i = 0; i < ELEMENTSOF(arch_map); i++)
                if (strcmp(arch_map[i].dpkg, arch) == 0) {
                        set_platform(ret, arch_map[i].arch, arch_map[i].variant);
                        return true;
                }
        return false;
}

void platform_native(Platform *ret)
{
#if defined(__aarch64__)
        platform_from_elf_machine(ELF_MACHINE_AARCH64, ret);
#else
        platform_from_elf_machine(ELF_MACHINE_X86_64, ret);
#endif
}

static int sysroot_dpkg_arch(Sysroot *root, char **ret, ObError *err)
{
        _cleanup_free_ char *status = sysroot_host_path(root, "/var/lib/dpkg/status");
        journal_note_path(status, /* follow= */ true);
        if (access(status, F_OK) == 0) {
                _cleanup_(dpkg_status_freep) DpkgStatus *s = NULL;
                int r = dpkg_status_load(root, &s, err);
                if (r < 0)
                        return r;
                static const char *const packages[] = { "libc6", "base-files" };
                for (size_t i = 0; i < ELEMENTSOF(packages); i++) {
                        const DpkgParagraph *p = dpkg_status_find_installed(s, packages[i]);
                        const char *a = p ? dpkg_paragraph_get(p, "Architecture") : NULL;
                        if (a && strcmp(a, "all") != 0) {
                                *ret = xstrdup(a);
                                return 1;
                        }
                }
        }
        _cleanup_free_ char *archfile = sysroot_host_path(root, "/var/lib/dpkg/arch");
        journal_note_path(archfile, /* follow= */ true);
        if (access(archfile, F_OK) == 0) {
                _cleanup_free_ char *text = NULL;
                int r = read_file(archfile, &text, NULL, err);
                if (r < 0)
                        return r;
                size_t len = strcspn(text, "\n");
                if (len > 0) {
                        *ret = xstrndup(text, len);
                        return 1;
                }
        }
        return 0;
}

int platform_of_sysroot(Sysroot *root, Platform *ret, ObError *err)
{
        _cleanup_free_ char *arch = NULL;
        int r = sysroot_dpkg_arch(root, &arch, err);
        if (r <= 0)
                return r;
        if (!platform_from_dpkg_arch(arch, ret))
                return ob_error_plain(err, EINVAL,
                                      "sysroot '%s' is of the Debian architecture '%s', which is not supported",
                                      *root->path ? root->path : "/", arch);
        return 1;
}

void platform_probe_clear(PlatformProbe *p)
{
        free(p->file);
        *p = (PlatformProbe){ 0 };
}

int platform_elf_header_machine(const void *data, size_t size, int *ret_machine)
{
        const unsigned char *h = data;
        if (size < 20 || memcmp(h, "\177ELF", 4) != 0)
                return 0;
        bool le = h[5] == 1;
        unsigned type = le ? (unsigned) (h[16] | h[17] << 8) : (unsigned) (h[16] << 8 | h[17]);
        unsigned machine = le ? (unsigned) (h[18] | h[19] << 8) : (unsigned) (h[18] << 8 | h[19]);
        /* ET_EXEC and ET_DYN: what runs. Object files and core dumps say
         * nothing about the image. */
        if (type != 2 && type != 3)
                return 0;
        *ret_machine = (int) machine;
        return 1;
}

static int entry_header(const Entry *e, unsigned char *buf, size_t *ret_size, ObError *err)
{
        if (e->data) {
                size_t n = e->size < 20 ? (size_t) e->size : 20;
                memcpy(buf, e->data, n);
                *ret_size = n;
                return 0;
        }
        _cleanup_close_ int fd = -1;
        if (e->root)
                fd = sysroot_open_file(e->root, e->source_path, err);
        else if (e->source) {
                fd = open(e->source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        journal_note_error(e->source, /* follow= */ false, errno);
                else
                        journal_note_fd(e->source, /* follow= */ false, fd);
                if (fd < 0)
                        fd = ob_error_set(err, errno, "cannot open '%s'", e->source);
        }
        if (fd < 0)
                return fd;
        ssize_t n = pread(fd, buf, 20, 0);
        if (n < 0)
                return ob_error_set(err, errno, "cannot read '%s'", e->source ? e->source : e->path);
        *ret_size = (size_t) n;
        return 0;
}

int platform_probe_plan(PlatformProbe *probe, const Plan *plan, ObError *err)
{
        for (size_t i = 0; i < plan->n; i++) {
                const Entry *e = &plan->entries[i];
                if (e->type != ENTRY_FILE || e->size < 20)
                        continue;
                unsigned char buf[20];
                size_t n = 0;
                int r = entry_header(e, buf, &n, err);
                if (r < 0)
                        return r;
                int machine;
                if (platform_elf_header_machine(buf, n, &machine) == 0)
                        continue;
                const char *file = e->source ? e->source : e->path;
                Platform p;
                if (!platform_from_elf_machine(machine, &p))
                        return ob_error_plain(err, EINVAL, "'%s': ELF machine %d is not an architecture we build for",
                                              file, machine);
                if (!probe->found) {
                        probe->found = true;
                        probe->platform = p;
                        probe->file = xstrdup(file);
                } else if (!platform_equal(&probe->platform, &p))
                        return ob_error_plain(err, EINVAL, "mixed architectures: '%s' is %s but '%s' is %s",
                                              probe->file, probe->platform.arch, file, p.arch);
        }
        return 0;
}

json_t *platform_json(const Platform *p)
{
        json_t *j = json_pack("{s:s, s:s}", "architecture", p->arch, "os", p->os);
        if (*p->variant)
                json_object_set_new(j, "variant", json_string(p->variant));
        return j;
}

bool platform_json_matches(json_t *platform, const Platform *p)
{
        const char *arch = json_string_value(json_object_get(platform, "architecture"));
        const char *os = json_string_value(json_object_get(platform, "os"));
        const char *variant = json_string_value(json_object_get(platform, "variant"));
        return arch && os && strcmp(arch, p->arch) == 0 && strcmp(os, p->os) == 0 &&
               (!variant || strcmp(variant, p->variant) == 0);
}

static bool json_to_platform(json_t *j, Platform *ret)
{
        const char *arch = json_string_value(json_object_get(j, "architecture"));
        const char *os = json_string_value(json_object_get(j, "os"));
        const char *variant = json_string_value(json_object_get(j, "variant"));
        if (!arch || !os)
                return false;
        *ret = (Platform){ 0 };
        snprintf(ret->os, sizeof(ret->os), "%s", os);
        snprintf(ret->arch, sizeof(ret->arch), "%s", arch);
        snprintf(ret->variant, sizeof(ret->variant), "%s", variant ? variant : "");
        return true;
}

int platform_index_write(Layout *l, const char *name, json_t *const *manifests, size_t n, ObError *err)
{
        _cleanup_json_ json_t *idx = oci_index_new();
        json_t *list = json_object_get(idx, "manifests");
        for (size_t i = 0; i < n; i++) {
                json_t *d = oci_descriptor(OCI_MT_MANIFEST, json_string_value(json_object_get(manifests[i], "digest")),
                                           (uint64_t) json_integer_value(json_object_get(manifests[i], "size")));
                json_object_set(d, "platform", json_object_get(manifests[i], "platform"));
                /* Each platform's SBOM stays named by its manifest's descriptor. */
                json_t *sbom = json_object_get(json_object_get(manifests[i], "annotations"), SBOM_ANNOTATION);
                if (sbom)
                        json_object_set_new(d, "annotations", json_pack("{s:O}", SBOM_ANNOTATION, sbom));
                json_array_append_new(list, d);
        }
        json_t *ann = n > 0 ? json_object_get(manifests[0], "annotations") : NULL;
        /* The index carries the image's name and version, as a manifest does. */
        json_t *idx_ann = json_object();
        static const char *const keep[] = { "org.opencontainers.image.title", "org.opencontainers.image.version",
                                            "org.opencontainers.image.created" };
        for (size_t k = 0; k < ELEMENTSOF(keep); k++)
                if (json_object_get(ann, keep[k]))
                        json_object_set(idx_ann, keep[k], json_object_get(ann, keep[k]));
        if (json_object_size(idx_ann) > 0)
                json_object_set_new(idx, "annotations", idx_ann);
        else
                json_decref(idx_ann);

        _cleanup_free_ char *text = oci_json_dump(idx);
        char digest[DIGEST_STRING_MAX];
        int r = layout_put_blob(l, text, strlen(text), digest, err);
        if (r < 0)
                return r;
        json_t *desc = oci_descriptor(OCI_MT_INDEX, digest, strlen(text));
        if (ann) {
                json_object_set_new(desc, "annotations", json_deep_copy(ann));
                json_object_del(json_object_get(desc, "annotations"), SBOM_ANNOTATION);
        }
        return layout_index_set(l, name, desc, err);
}

static int read_index(Layout *l, const char *name, json_t *desc, json_t **ret, ObError *err)
{
        const char *digest = json_string_value(json_object_get(desc, "digest"));
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r = layout_read_blob(l, digest, &data, &size, err);
        if (r < 0)
                return ob_error_wrap(err, "image '%s'", name);
        json_t *j = json_loadb(data, size, 0, NULL);
        if (!json_is_array(json_object_get(j, "manifests"))) {
                json_decref(j);
                return ob_error_plain(err, EINVAL, "image '%s': index %s has no 'manifests' list", name, digest);
        }
        *ret = j;
        return 0;
}

static bool is_index(json_t *desc)
{
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));
        return mt && strcmp(mt, OCI_MT_INDEX) == 0;
}

int platform_resolve(Layout *l, const char *name, const Platform *p, json_t **ret_desc, ObError *err)
{
        json_t *desc = layout_index_find(l, name);
        if (!desc)
                return ob_error_plain(err, ENOENT, "no image '%s' in '%s'", name, layout_path(l));
        if (!is_index(desc)) {
                Platform have;
                if (p && json_to_platform(json_object_get(desc, "platform"), &have) && !platform_equal(&have, p)) {
                        _cleanup_free_ char *want = platform_string(p), *got = platform_string(&have);
                        return ob_error_plain(err, ENOENT, "image '%s' is for %s only, not %s", name, got, want);
                }
                *ret_desc = json_incref(desc);
                return 0;
        }
        _cleanup_json_ json_t *idx = NULL;
        int r = read_index(l, name, desc, &idx, err);
        if (r < 0)
                return r;
        json_t *list = json_object_get(idx, "manifests");
        Platform native;
        platform_native(&native);
        json_t *pick = NULL;
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m)
                if (!pick && platform_json_matches(json_object_get(m, "platform"), p ? p : &native))
                        pick = m;
        if (!pick && !p)
                pick = json_array_get(list, 0);
        if (!pick) {
                _cleanup_free_ char *want = platform_string(p);
                return ob_error_plain(err, ENOENT, "image '%s' has no manifest for %s", name, want);
        }
        json_t *out = json_deep_copy(pick);
        json_t *ann = json_object_get(desc, "annotations");
        if (ann)
                json_object_set_new(out, "annotations", json_deep_copy(ann));
        *ret_desc = out;
        return 0;
}

int platform_list(Layout *l, const char *name, Platform **ret, size_t *ret_n, ObError *err)
{
        json_t *desc = layout_index_find(l, name);
        if (!desc)
                return ob_error_plain(err, ENOENT, "no image '%s' in '%s'", name, layout_path(l));
        _cleanup_free_ Platform *v = NULL;
        size_t n = 0;
        if (!is_index(desc)) {
                v = xcalloc(1, sizeof(Platform));
                if (json_to_platform(json_object_get(desc, "platform"), &v[0]))
                        n = 1;
        } else {
                _cleanup_json_ json_t *idx = NULL;
                int r = read_index(l, name, desc, &idx, err);
                if (r < 0)
                        return r;
                json_t *list = json_object_get(idx, "manifests");
                v = xcalloc(json_array_size(list) + 1, sizeof(Platform));
                size_t i;
                json_t *m;
                json_array_foreach(list, i, m)
                        if (json_to_platform(json_object_get(m, "platform"), &v[n]))
                                n++;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

char *platform_sysroot_dir(const Platform *p)
{
        _cleanup_free_ char *slug = platform_slug(p);
        const char *e = getenv("OCI_BUILD_SYSROOTS");
        if (e && *e)
                return path_join(e, slug);
        _cleanup_free_ char *cache = download_cache_dir();
        _cleanup_free_ char *dir = path_join(cache, "sysroots");
        return path_join(dir, slug);
}

int platform_choice_init(PlatformChoice *c, Sysroot *root, const Platform *asked, ObError *err)
{
        *c = (PlatformChoice){ 0 };
        if (asked) {
                c->asked = true;
                c->request = *asked;
        }
        Platform p;
        int r = platform_of_sysroot(root, &p, err);
        if (r < 0)
                return r;
        if (r == 0)
                return 0;
        const char *dir = *root->path ? root->path : "/";
        if (asked && !platform_equal(&p, asked)) {
                _cleanup_free_ char *want = platform_string(asked), *have = platform_string(&p);
                return ob_error_plain(err, EINVAL, "--platform %s: sysroot '%s' is %s (its dpkg architecture)", want,
                                      dir, have);
        }
        c->platform = p;
        c->known = true;
        c->from = xasprintf("sysroot '%s'", dir);
        return 0;
}

int platform_choice_add_plan(PlatformChoice *c, const Plan *plan, ObError *err)
{
        _cleanup_(platform_probe_clear) PlatformProbe probe = { 0 };
        int r = platform_probe_plan(&probe, plan, err);
        if (r < 0 || !probe.found)
                return r;
        if (c->known) {
                if (platform_equal(&c->platform, &probe.platform))
                        return 0;
                return ob_error_plain(err, EINVAL, "mixed architectures: '%s' is %s but %s is %s", probe.file,
                                      probe.platform.arch, c->from, c->platform.arch);
        }
        if (c->asked && !platform_equal(&c->request, &probe.platform)) {
                _cleanup_free_ char *want = platform_string(&c->request);
                return ob_error_plain(err, EINVAL, "--platform %s: '%s' is %s", want, probe.file, probe.platform.arch);
        }
        c->platform = probe.platform;
        c->known = true;
        c->from = TAKE_PTR(probe.file);
        return 0;
}

const Platform *platform_choice_get(const PlatformChoice *c)
{
        static Platform native;
        if (c->known)
                return &c->platform;
        if (c->asked)
                return &c->request;
        platform_native(&native);
        return &native;
}

void platform_choice_clear(PlatformChoice *c)
{
        free(c->from);
        *c = (PlatformChoice){ 0 };
}

int platform_sysroot_for(const Platform *p, const char *sysroot, bool sysroot_given, bool several, char **ret,
                         ObError *err)
{
        Platform native;
        platform_native(&native);
        if (platform_equal(p, &native) || (sysroot_given && !several)) {
                *ret = xstrdup(sysroot);
                return 0;
        }
        _cleanup_free_ char *dir = platform_sysroot_dir(p);
        _cleanup_free_ char *name = platform_string(p);
        struct stat st;
        journal_note_path(dir, /* follow= */ true);
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return ob_error_plain(err, ENOENT,
                                      "--platform %s: no sysroot for it in '%s' (make one with 'oci-build sysroot "
                                      "--platform %s --packages-of all')",
                                      name, dir, name);
        *ret = TAKE_PTR(dir);
        return 0;
}

int platform_can_run(const Platform *p, ObError *err)
{
        Platform native;
        platform_native(&native);
        if (platform_equal(p, &native))
                return 0;
        const char *qemu = strcmp(p->arch, "arm64") == 0 ? "aarch64" : "x86_64";
        _cleanup_free_ char *name = platform_string(p);
        _cleanup_free_ char *entry = xasprintf("/proc/sys/fs/binfmt_misc/qemu-%s", qemu);
        _cleanup_free_ char *text = NULL;
        ObError ignore;
        if (read_file(entry, &text, NULL, &ignore) == 0 && str_startswith(text, "enabled"))
                return 0;
        return ob_error_plain(err, ENOEXEC,
                              "cannot run %s programs here: no binfmt_misc handler for %s (%s); install "
                              "qemu-user-static and binfmt-support, then 'update-binfmts --enable qemu-%s'",
                              name, qemu, entry, qemu);
}
