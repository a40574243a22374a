/* SPDX-License-Identifier: MIT */
/* OCI JSON documents, compared byte for byte with hand-written text. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "image.h"
#include "layout.h"
#include "oci.h"
#include "testutil.h"
#include "util.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define L1 "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L2 "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CFG "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define JAN_2021 1609459200

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "oci");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

static void dump_eq(json_t *j, const char *want)
{
        char *s = oci_json_dump(j);
        ck_assert_msg(strcmp(s, want) == 0, "\n  got:      %s\n  expected: %s", s, want);
        free(s);
}

START_TEST(test_time)
{
        static const struct {
                int64_t t;
                const char *want;
        } cases[] = {
                { 0, "1970-01-01T00:00:00Z" },
                { JAN_2021, "2021-01-01T00:00:00Z" },
                { 1623456789, "2021-06-12T00:13:09Z" },
                { 951782400, "2000-02-29T00:00:00Z" },
                { 253402300799LL, "9999-12-31T23:59:59Z" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = oci_time(cases[i].t);
                ck_assert_str_eq(s, cases[i].want);
                free(s);
        }
}
END_TEST

START_TEST(test_json_dump)
{
        json_t *j = json_pack("{s:i, s:[i,i], s:{s:s, s:n}, s:s}", "b", 1, "a", 1, 2, "c", "z", "x y", "y", "B",
                              "\xc3\xa9");
        /* Sorted keys at every level, no whitespace outside strings, UTF-8 kept. */
        dump_eq(j, "{\"B\":\"\xc3\xa9\",\"a\":[1,2],\"b\":1,\"c\":{\"y\":null,\"z\":\"x y\"}}");
        json_decref(j);

        j = oci_index_new();
        dump_eq(j, "{\"manifests\":[],\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"schemaVersion\":2}");
        json_decref(j);

        j = oci_descriptor(OCI_MT_LAYER_GZIP, L1, 5000000000ull);
        dump_eq(j, "{\"digest\":\"" L1 "\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                   "\"size\":5000000000}");
        json_decref(j);
}
END_TEST

/* The architecture is an input: the config says what it is given, whatever
 * machine runs the test. */
START_TEST(test_arch)
{
        SpecImageConfig c = { 0 };
        json_t *j = oci_image_config(&c, "arm64", "v8", NULL, 0, 0);
        ck_assert_str_eq(json_string_value(json_object_get(j, "architecture")), "arm64");
        ck_assert_str_eq(json_string_value(json_object_get(j, "variant")), "v8");
        ck_assert_str_eq(json_string_value(json_object_get(j, "os")), "linux");
        json_decref(j);
        j = oci_image_config(&c, "amd64", "", NULL, 0, 0);
        ck_assert_str_eq(json_string_value(json_object_get(j, "architecture")), "amd64");
        ck_assert_ptr_null(json_object_get(j, "variant"));
        json_decref(j);
}
END_TEST

static char *env[] = { (char *) "PATH=/bin", (char *) "A=b=c", NULL };
static char *entrypoint[] = { (char *) "/app/run", NULL };
static char *cmd[] = { (char *) "--serve", NULL };
static char *ports[] = { (char *) "8080/tcp", (char *) "53/udp", NULL };
static char *volumes[] = { (char *) "/data", NULL };
static char *labels[] = { (char *) "team=infra=yes", (char *) "x=", NULL };

static const SpecImageConfig full_config = {
        .user = (char *) "1000:1000",
        .env = env,
        .workdir = (char *) "/app",
        .entrypoint = entrypoint,
        .cmd = cmd,
        .ports = ports,
        .volumes = volumes,
        .labels = labels,
};

START_TEST(test_image_config_full)
{
        OciLayerInfo layers[2] = {
                { .diff_id = D1, .created_by = "base layer" },
                { .diff_id = D2, .comment = "app" },
        };
        json_t *j = oci_image_config(&full_config, "arm64", "v8", layers, 2, JAN_2021);
        char *want = xasprintf(
                "{\"architecture\":\"%s\","
                "\"config\":{\"Cmd\":[\"--serve\"],\"Entrypoint\":[\"/app/run\"],\"Env\":[\"PATH=/bin\",\"A=b=c\"],"
                "\"ExposedPorts\":{\"53/udp\":{},\"8080/tcp\":{}},\"Labels\":{\"team\":\"infra=yes\",\"x\":\"\"},"
                "\"User\":\"1000:1000\",\"Volumes\":{\"/data\":{}},\"WorkingDir\":\"/app\"},"
                "\"created\":\"2021-01-01T00:00:00Z\","
                "\"history\":[{\"created\":\"2021-01-01T00:00:00Z\",\"created_by\":\"base layer\"},"
                "{\"comment\":\"app\",\"created\":\"2021-01-01T00:00:00Z\"}],"
                "\"os\":\"linux\","
                "\"rootfs\":{\"diff_ids\":[\"" D1 "\",\"" D2 "\"],\"type\":\"layers\"},\"variant\":\"v8\"}",
                "arm64");
        dump_eq(j, want);
        free(want);
        json_decref(j);
}
END_TEST

START_TEST(test_image_config_fields)
{
        /* The same, field by field, on any machine. */
        OciLayerInfo layers[3] = { { .diff_id = D2 }, { .diff_id = D1 }, { .diff_id = D2 } };
        json_t *j = oci_image_config(&full_config, "amd64", NULL, layers, 3, 0);
        json_t *c = json_object_get(j, "config");
        ck_assert_str_eq(json_string_value(json_object_get(c, "User")), "1000:1000");
        ck_assert_str_eq(json_string_value(json_object_get(c, "WorkingDir")), "/app");
        json_t *e = json_object_get(c, "Env");
        ck_assert_uint_eq(json_array_size(e), 2);
        ck_assert_str_eq(json_string_value(json_array_get(e, 0)), "PATH=/bin");
        json_t *p = json_object_get(c, "ExposedPorts");
        ck_assert(json_is_object(p));
        ck_assert_uint_eq(json_object_size(p), 2);
        ck_assert(json_is_object(json_object_get(p, "8080/tcp")));
        ck_assert_uint_eq(json_object_size(json_object_get(p, "8080/tcp")), 0);
        json_t *r = json_object_get(j, "rootfs");
        ck_assert_str_eq(json_string_value(json_object_get(r, "type")), "layers");
        json_t *ids = json_object_get(r, "diff_ids");
        ck_assert_uint_eq(json_array_size(ids), 3);
        ck_assert_str_eq(json_string_value(json_array_get(ids, 0)), D2);
        ck_assert_str_eq(json_string_value(json_array_get(ids, 1)), D1);
        ck_assert_str_eq(json_string_value(json_array_get(ids, 2)), D2);
        json_t *h = json_object_get(j, "history");
        ck_assert_uint_eq(json_array_size(h), 3);
        for (size_t i = 0; i < 3; i++) {
                json_t *item = json_array_get(h, i);
                ck_assert_str_eq(json_string_value(json_object_get(item, "created")), "1970-01-01T00:00:00Z");
                ck_assert_ptr_null(json_object_get(item, "created_by"));
                ck_assert_ptr_null(json_object_get(item, "empty_layer"));
        }
        ck_assert_str_eq(json_string_value(json_object_get(j, "created")), "1970-01-01T00:00:00Z");
        ck_assert_str_eq(json_string_value(json_object_get(j, "os")), "linux");
        ck_assert_str_eq(json_string_value(json_object_get(j, "architecture")), "amd64");
        json_decref(j);
}
END_TEST

START_TEST(test_image_config_empty)
{
        /* Nothing set: an empty config object, no empty port or volume sets. */
        static char *none[] = { NULL };
        SpecImageConfig c = { .ports = none, .volumes = none, .labels = none };
        json_t *j = oci_image_config(&c, "amd64", NULL, NULL, 0, 0);
        dump_eq(json_object_get(j, "config"), "{}");
        dump_eq(json_object_get(j, "rootfs"), "{\"diff_ids\":[],\"type\":\"layers\"}");
        dump_eq(json_object_get(j, "history"), "[]");
        json_decref(j);
}
END_TEST

START_TEST(test_manifest)
{
        OciLayerInfo layers[2] = { { .digest = L1, .size = 10 }, { .digest = L2, .size = 5000000000ull } };
        json_t *ann = json_pack("{s:s}", "org.opencontainers.image.title", "base");
        json_t *m = oci_manifest(CFG, 123, layers, 2, ann);
        dump_eq(m, "{\"annotations\":{\"org.opencontainers.image.title\":\"base\"},"
                   "\"config\":{\"digest\":\"" CFG "\",\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                   "\"size\":123},"
                   "\"layers\":[{\"digest\":\"" L1 "\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                   "\"size\":10},"
                   "{\"digest\":\"" L2 "\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                   "\"size\":5000000000}],"
                   "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2}");
        ck_assert(json_is_integer(json_object_get(m, "schemaVersion")));
        json_decref(m);

        m = oci_manifest(CFG, 2, NULL, 0, NULL);
        dump_eq(m, "{\"config\":{\"digest\":\"" CFG "\",\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                   "\"size\":2},\"layers\":[],\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                   "\"schemaVersion\":2}");
        json_decref(m);
}
END_TEST

static void evp_sha256(const void *data, size_t n, char out[72])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        ck_assert_int_eq(EVP_Digest(data, n, md, &len, EVP_sha256(), NULL), 1);
        strcpy(out, "sha256:");
        for (unsigned i = 0; i < 32; i++)
                snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static json_t *read_json_blob(Layout *l, const char *digest, size_t *ret_size)
{
        ObError e = { 0 };
        char *data = NULL;
        size_t n = 0;
        ck_assert_msg(layout_read_blob(l, digest, &data, &n, &e) == 0, "%s", e.msg);
        char sum[72];
        evp_sha256(data, n, sum);
        ck_assert_str_eq(sum, digest);
        json_error_t jerr;
        json_t *j = json_loads(data, 0, &jerr);
        ck_assert_msg(j != NULL, "%s", jerr.text);
        free(data);
        *ret_size = n;
        return j;
}

START_TEST(test_image_write)
{
        char *tag = image_default_tag("base", "1.2");
        ck_assert_str_eq(tag, "distroless-base:1.2");
        free(tag);

        char *dir = xasprintf("%s/layout", tmp_root);
        ObError e = { 0 };
        Layout *l = NULL;
        ck_assert_msg(layout_open(dir, LAYOUT_CREATE, &l, &e) == 0, "%s", e.msg);
        OciLayerInfo layer = { .digest = L1, .diff_id = D1, .size = 100, .created_by = "oci-build base" };
        const Platform arm64 = { "linux", "arm64", "v8" };
        ImageBuild b = { .name = "base",
                         .version = "1.2",
                         .description = "Distroless base",
                         .config = &full_config,
                         .layers = &layer,
                         .n_layers = 1,
                         .created = 0,
                         .platform = &arm64 };
        ImageResult res;
        ck_assert_msg(image_write(l, &b, &res, &e) == 0, "%s", e.msg);

        size_t cfg_size, man_size;
        json_t *cfg = read_json_blob(l, res.config_digest, &cfg_size);
        ck_assert_str_eq(
                json_string_value(json_array_get(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids"), 0)), D1);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cfg, "config"), "User")), "1000:1000");
        ck_assert_str_eq(json_string_value(json_object_get(cfg, "architecture")), "arm64");
        ck_assert_str_eq(json_string_value(json_object_get(cfg, "variant")), "v8");
        json_decref(cfg);

        json_t *man = read_json_blob(l, res.manifest_digest, &man_size);
        ck_assert_uint_eq(res.manifest_size, man_size);
        json_t *c = json_object_get(man, "config");
        ck_assert_str_eq(json_string_value(json_object_get(c, "digest")), res.config_digest);
        ck_assert_int_eq(json_integer_value(json_object_get(c, "size")), (json_int_t) cfg_size);
        ck_assert_str_eq(json_string_value(json_object_get(c, "mediaType")), OCI_MT_CONFIG);
        json_t *l0 = json_array_get(json_object_get(man, "layers"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(l0, "digest")), L1);
        ck_assert_int_eq(json_integer_value(json_object_get(l0, "size")), 100);
        json_t *ann = json_object_get(man, "annotations");
        ck_assert_str_eq(json_string_value(json_object_get(ann, "org.opencontainers.image.title")), "base");
        ck_assert_str_eq(json_string_value(json_object_get(ann, "org.opencontainers.image.version")), "1.2");
        ck_assert_str_eq(json_string_value(json_object_get(ann, "org.opencontainers.image.description")),
                         "Distroless base");
        ck_assert_str_eq(json_string_value(json_object_get(ann, "org.opencontainers.image.created")),
                         "1970-01-01T00:00:00Z");
        json_decref(man);
        ck_assert_uint_eq(res.total_size, man_size + cfg_size + 100);

        json_t *desc = layout_index_find(l, "base");
        ck_assert_ptr_nonnull(desc);
        ck_assert_str_eq(json_string_value(json_object_get(desc, "digest")), res.manifest_digest);
        ck_assert_str_eq(json_string_value(json_object_get(desc, "mediaType")), OCI_MT_MANIFEST);
        ck_assert_int_eq(json_integer_value(json_object_get(desc, "size")), (json_int_t) man_size);
        json_t *dann = json_object_get(desc, "annotations");
        ck_assert_str_eq(json_string_value(json_object_get(dann, OCI_REF_NAME)), "base");
        ck_assert_str_eq(json_string_value(json_object_get(dann, CONTAINERD_IMAGE_NAME)),
                         "docker.io/library/distroless-base:1.2");
        json_t *plat = json_object_get(desc, "platform");
        ck_assert_str_eq(json_string_value(json_object_get(plat, "os")), "linux");
        ck_assert_str_eq(json_string_value(json_object_get(plat, "architecture")), "arm64");
        ck_assert_str_eq(json_string_value(json_object_get(plat, "variant")), "v8");

        /* Writing the same image again changes nothing. */
        ImageResult again;
        ck_assert_int_eq(image_write(l, &b, &again, &e), 0);
        ck_assert_str_eq(again.manifest_digest, res.manifest_digest);
        ck_assert_uint_eq(json_array_size(json_object_get(layout_index(l), "manifests")), 1);
        layout_rollback(l);
        layout_close(l);
        ck_assert_int_ne(access(dir, F_OK), 0);
        free(dir);
}
END_TEST

static Suite *oci_suite(void)
{
        Suite *s = suite_create("oci");
        TCase *tc = tcase_create("json");
        tcase_add_test(tc, test_time);
        tcase_add_test(tc, test_json_dump);
        tcase_add_test(tc, test_arch);
        tcase_add_test(tc, test_image_config_full);
        tcase_add_test(tc, test_image_config_fields);
        tcase_add_test(tc, test_image_config_empty);
        tcase_add_test(tc, test_manifest);
        suite_add_tcase(s, tc);

        tc = tcase_create("image");
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_image_write);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(oci_suite());
}
