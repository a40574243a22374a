/* SPDX-License-Identifier: MIT */
/* Image references: one table of references, each with the names it is
 * spelled as or the message it is refused with. The rows follow the grammar
 * of the distribution project's reference package (reference.go and
 * normalize.go):
 *
 *   reference        := name ":" tag          (a tag is required here, a digest refused)
 *   name             := [domain "/"] path-component ["/" path-component]*
 *   domain           := domain-component ["." domain-component]* [":" port-number]
 *   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   path-component   := alpha-numeric [separator alpha-numeric]*
 *   alpha-numeric    := /[a-z0-9]+/
 *   separator        := /[_.]|__|[-]*\/
 *   tag              := /[\w][\w.-]{0,127}/
 *
 * and its normalisation: the first component is a registry only when it has
 * a '.' or a ':', is "localhost", or has capitals; otherwise the registry is
 * docker.io, where a one-component path is in "library/". A name is at most
 * 255 characters. Ports have at most five digits and hosts are names or
 * IPv4 addresses: bracketed IPv6 hosts are refused. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "imageref.h"
#include "testutil.h"
#include "util.h"

#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X127 X100 X10 X10 "xxxxxxx"
/* docker.io/library/ is 18 characters, reg.example/ 12: 237 and 243 more make 255. */
#define X237 X100 X100 X10 X10 X10 "xxxxxxx"

#define BAD_TAG " (letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-')"
#define BAD_REPO " (lowercase letters and digits, separated by '/', '.', '_' or '-')"

typedef struct RefCase {
        const char *ref;
        /* accepted: */
        const char *familiar;
        const char *full;
        const char *tag;
        /* refused (familiar, full and tag NULL): */
        const char *error;
} RefCase;

#define OK(r, fam, ful, t)                                               \
        {                                                                \
                .ref = (r), .familiar = (fam), .full = (ful), .tag = (t) \
        }
#define BAD(r, msg)                        \
        {                                  \
                .ref = (r), .error = (msg) \
        }

static const RefCase cases[] = {
        /* Docker Hub: official images live in library/ */
        OK("foo:1", "foo:1", "docker.io/library/foo:1", "1"),
        OK("foo:latest", "foo:latest", "docker.io/library/foo:latest", "latest"),
        OK("distroless-base:0.1.0", "distroless-base:0.1.0", "docker.io/library/distroless-base:0.1.0", "0.1.0"),
        OK("library/foo:1", "foo:1", "docker.io/library/foo:1", "1"),
        OK("docker.io/foo:1", "foo:1", "docker.io/library/foo:1", "1"),
        OK("docker.io/library/foo:1", "foo:1", "docker.io/library/foo:1", "1"),
        OK("index.docker.io/foo:1", "foo:1", "docker.io/library/foo:1", "1"),
        OK("index.docker.io/user/foo:1", "user/foo:1", "docker.io/user/foo:1", "1"),
        OK("user/foo:1", "user/foo:1", "docker.io/user/foo:1", "1"),
        OK("docker.io/user/foo:1", "user/foo:1", "docker.io/user/foo:1", "1"),
        OK("a/b/c/d:1", "a/b/c/d:1", "docker.io/a/b/c/d:1", "1"),
        /* library/ is dropped only before a single component */
        OK("library/a/b:1", "library/a/b:1", "docker.io/library/a/b:1", "1"),
        /* a first component without '.', ':' or capitals is a path */
        OK("localhostx/foo:1", "localhostx/foo:1", "docker.io/localhostx/foo:1", "1"),
        OK("reg-1/foo:1", "reg-1/foo:1", "docker.io/reg-1/foo:1", "1"),

        /* registries */
        OK("localhost/foo:1", "localhost/foo:1", "localhost/foo:1", "1"),
        OK("localhost:5000/foo:1", "localhost:5000/foo:1", "localhost:5000/foo:1", "1"),
        OK("localhost:1/c:2", "localhost:1/c:2", "localhost:1/c:2", "2"),
        OK("reg.example.com/foo:1", "reg.example.com/foo:1", "reg.example.com/foo:1", "1"),
        OK("reg.example.com:5000/team/app:v1.2", "reg.example.com:5000/team/app:v1.2",
           "reg.example.com:5000/team/app:v1.2", "v1.2"),
        OK("reg.example.com:65535/foo:1", "reg.example.com:65535/foo:1", "reg.example.com:65535/foo:1", "1"),
        OK("my-reg.example-1.com/foo:1", "my-reg.example-1.com/foo:1", "my-reg.example-1.com/foo:1", "1"),
        OK("a.b/foo:1", "a.b/foo:1", "a.b/foo:1", "1"),
        OK("192.168.1.1:5000/foo:1", "192.168.1.1:5000/foo:1", "192.168.1.1:5000/foo:1", "1"),
        OK("127.0.0.1/foo:1", "127.0.0.1/foo:1", "127.0.0.1/foo:1", "1"),
        OK("docker.io:443/foo:1", "docker.io:443/foo:1", "docker.io:443/foo:1", "1"),
        OK("localhost:5000/library/foo:1", "localhost:5000/library/foo:1", "localhost:5000/library/foo:1", "1"),
        /* capitals make a registry; registries may have them, paths not */
        OK("Reg.Example/foo:1", "Reg.Example/foo:1", "Reg.Example/foo:1", "1"),
        OK("UPPER/foo:1", "UPPER/foo:1", "UPPER/foo:1", "1"),
        OK("LocalHost/foo:1", "LocalHost/foo:1", "LocalHost/foo:1", "1"),

        /* separators in path components: '.', '_', '__' and runs of '-' */
        OK("a.b:1", "a.b:1", "docker.io/library/a.b:1", "1"),
        OK("a_b:1", "a_b:1", "docker.io/library/a_b:1", "1"),
        OK("a__b:1", "a__b:1", "docker.io/library/a__b:1", "1"),
        OK("a-b:1", "a-b:1", "docker.io/library/a-b:1", "1"),
        OK("a---b:1", "a---b:1", "docker.io/library/a---b:1", "1"),
        OK("a.b_c__d-e--f:1", "a.b_c__d-e--f:1", "docker.io/library/a.b_c__d-e--f:1", "1"),
        OK("0/9:1", "0/9:1", "docker.io/0/9:1", "1"),
        OK("reg.example/a.b/c_d/e-f:1", "reg.example/a.b/c_d/e-f:1", "reg.example/a.b/c_d/e-f:1", "1"),
        BAD("a___b:1", "'a___b:1' has an invalid repository name 'a___b'" BAD_REPO),
        BAD("a..b:1", "'a..b:1' has an invalid repository name 'a..b'" BAD_REPO),
        BAD("a._b:1", "'a._b:1' has an invalid repository name 'a._b'" BAD_REPO),
        BAD("a-.b:1", "'a-.b:1' has an invalid repository name 'a-.b'" BAD_REPO),
        BAD("-a:1", "'-a:1' has an invalid repository name '-a'" BAD_REPO),
        BAD("a-:1", "'a-:1' has an invalid repository name 'a-'" BAD_REPO),
        BAD("_a:1", "'_a:1' has an invalid repository name '_a'" BAD_REPO),
        BAD("a_:1", "'a_:1' has an invalid repository name 'a_'" BAD_REPO),
        BAD("a.:1", "'a.:1' has an invalid repository name 'a.'" BAD_REPO),
        BAD("user/.a:1", "'user/.a:1' has an invalid repository name 'user/.a'" BAD_REPO),
        BAD("a+b:1", "'a+b:1' has an invalid repository name 'a+b'" BAD_REPO),
        BAD("foo:bar:baz", "'foo:bar:baz' has an invalid repository name 'foo:bar'" BAD_REPO),

        /* path components: none empty */
        BAD("a//b:1", "'a//b:1' has an invalid repository name 'a//b'" BAD_REPO),
        BAD("a/:1", "'a/:1' has an invalid repository name 'a/'" BAD_REPO),
        BAD("/a:1", "'/a:1' has an invalid repository name '/a'" BAD_REPO),
        BAD(":1", "':1' has no repository name"),
        BAD("reg.example.com/:1", "'reg.example.com/:1' has no repository name"),

        /* an uppercase repository is refused */
        BAD("Foo:1", "'Foo:1' has an invalid repository name 'Foo'" BAD_REPO),
        BAD("foo/Bar:1", "'foo/Bar:1' has an invalid repository name 'foo/Bar'" BAD_REPO),
        BAD("docker.io/Foo:1", "'docker.io/Foo:1' has an invalid repository name 'Foo'" BAD_REPO),
        BAD("reg.example/team/App:1", "'reg.example/team/App:1' has an invalid repository name 'team/App'" BAD_REPO),

        /* registries that are not host[:port] */
        BAD("-reg.com/foo:1", "'-reg.com/foo:1' has an invalid registry '-reg.com'"),
        BAD("reg-.com/foo:1", "'reg-.com/foo:1' has an invalid registry 'reg-.com'"),
        BAD("reg..com/foo:1", "'reg..com/foo:1' has an invalid registry 'reg..com'"),
        BAD(".reg.com/foo:1", "'.reg.com/foo:1' has an invalid registry '.reg.com'"),
        BAD("reg.com./foo:1", "'reg.com./foo:1' has an invalid registry 'reg.com.'"),
        BAD("reg_x.com/foo:1", "'reg_x.com/foo:1' has an invalid registry 'reg_x.com'"),
        BAD("reg.com:/foo:1", "'reg.com:/foo:1' has an invalid registry 'reg.com:'"),
        BAD("reg.com:123456/foo:1", "'reg.com:123456/foo:1' has an invalid registry 'reg.com:123456'"),
        BAD("reg.com:80a/foo:1", "'reg.com:80a/foo:1' has an invalid registry 'reg.com:80a'"),
        BAD(":5000/foo:1", "':5000/foo:1' has an invalid registry ':5000'"),
        BAD("[::1]:5000/foo:1", "'[::1]:5000/foo:1' has an invalid registry '[::1]:5000'"),
        BAD("[fe80::1]/foo:1", "'[fe80::1]/foo:1' has an invalid registry '[fe80::1]'"),

        /* a tag is required */
        BAD("foo", "'foo' has no tag (write REPO:TAG, e.g. 'foo:latest')"),
        BAD("user/foo", "'user/foo' has no tag (write REPO:TAG, e.g. 'user/foo:latest')"),
        BAD("localhost:5000/foo", "'localhost:5000/foo' has no tag (write REPO:TAG, e.g. 'localhost:5000/foo:latest')"),
        BAD("", "'' has no tag (write REPO:TAG, e.g. ':latest')"),

        /* tags: word characters, '.' and '-', not first, at most 128 */
        OK("foo:A.b-C_d", "foo:A.b-C_d", "docker.io/library/foo:A.b-C_d", "A.b-C_d"),
        OK("foo:_x", "foo:_x", "docker.io/library/foo:_x", "_x"),
        OK("foo:0", "foo:0", "docker.io/library/foo:0", "0"),
        OK("foo:1.0.0-rc.1", "foo:1.0.0-rc.1", "docker.io/library/foo:1.0.0-rc.1", "1.0.0-rc.1"),
        OK("foo:a" X127, "foo:a" X127, "docker.io/library/foo:a" X127, "a" X127),
        BAD("foo:ab" X127, "'foo:ab" X127 "' has an invalid tag 'ab" X127 "'" BAD_TAG),
        BAD("foo:", "'foo:' has an invalid tag ''" BAD_TAG),
        BAD("foo:.1", "'foo:.1' has an invalid tag '.1'" BAD_TAG),
        BAD("foo:-1", "'foo:-1' has an invalid tag '-1'" BAD_TAG),
        BAD("foo:tag!", "'foo:tag!' has an invalid tag 'tag!'" BAD_TAG),
        BAD("foo:t+g", "'foo:t+g' has an invalid tag 't+g'" BAD_TAG),

        /* digests are refused, with or without a tag */
        BAD("foo@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "'foo@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' is a digest reference; "
            "images are saved under tags (REPO:TAG)"),
        BAD("foo:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "'foo:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' is a digest reference; "
            "images are saved under tags (REPO:TAG)"),

        /* the whole name is at most 255 characters */
        OK(X237 ":1", X237 ":1", "docker.io/library/" X237 ":1", "1"),
        BAD("x" X237 ":1", "'x" X237 ":1': a repository name is at most 255 characters"),
        OK("reg.example/" X237 "xxxxxx:1", "reg.example/" X237 "xxxxxx:1", "reg.example/" X237 "xxxxxx:1", "1"),
        BAD("reg.example/" X237 "xxxxxxx:1",
            "'reg.example/" X237 "xxxxxxx:1': a repository name is at most 255 characters"),
};

START_TEST(test_parse)
{
        const RefCase *c = &cases[_i];
        ImageRef ref = { 0 };
        ObError e = { 0 };
        int r = image_ref_parse(c->ref, &ref, &e);

        if (c->error) {
                ck_assert_msg(r == -EINVAL, "'%s': expected -EINVAL, got %d (%s)", c->ref, r, ref.full);
                ck_assert_str_eq(e.msg, c->error);
                /* untouched on failure */
                ck_assert_ptr_null(ref.familiar);
                ck_assert_ptr_null(ref.full);
                ck_assert_ptr_null(ref.tag);
                return;
        }
        ck_assert_msg(r == 0, "'%s': %s", c->ref, e.msg);
        ck_assert_str_eq(ref.familiar, c->familiar);
        ck_assert_str_eq(ref.full, c->full);
        ck_assert_str_eq(ref.tag, c->tag);
        image_ref_clear(&ref);
        ck_assert_ptr_null(ref.familiar);
        ck_assert_ptr_null(ref.full);
        ck_assert_ptr_null(ref.tag);
}
END_TEST

START_TEST(test_clear_null)
{
        image_ref_clear(NULL);
        _cleanup_(image_ref_clear) ImageRef ref = { 0 };
        image_ref_clear(&ref);
}
END_TEST

static Suite *imageref_suite(void)
{
        Suite *s = suite_create("imageref");
        TCase *tc = tcase_create("parse");
        tcase_add_loop_test(tc, test_parse, 0, (int) ELEMENTSOF(cases));
        tcase_add_test(tc, test_clear_null);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(imageref_suite());
}
