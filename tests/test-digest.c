/* SPDX-License-Identifier: MIT */
/* sha256 helpers against the FIPS 180-2 test vectors. */
#include <check.h>

#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "util.h"

#define SHA_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448 "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

START_TEST(test_known_vectors)
{
        char out[DIGEST_STRING_MAX];

        sha256_string("", 0, out);
        ck_assert_str_eq(out, SHA_EMPTY);
        sha256_string("abc", 3, out);
        ck_assert_str_eq(out, SHA_ABC);
        static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        sha256_string(m448, strlen(m448), out);
        ck_assert_str_eq(out, SHA_448);
        ck_assert_uint_eq(strlen(out), 71);
}
END_TEST

START_TEST(test_streaming_million_a)
{
        /* One million 'a', fed in 1000 pieces of 1000. */
        char piece[1000];
        char out[DIGEST_STRING_MAX];
        Sha256 h;

        memset(piece, 'a', sizeof(piece));
        sha256_init(&h);
        for (int i = 0; i < 1000; i++)
                sha256_update(&h, piece, sizeof(piece));
        sha256_final(&h, out);
        ck_assert_str_eq(out, SHA_MILLION_A);
        ck_assert_ptr_null(h.ctx); /* final releases the context */
        sha256_free(&h);           /* and a second release is harmless */
}
END_TEST

START_TEST(test_streaming_equals_oneshot)
{
        size_t n = 100003;
        unsigned char *data = xmalloc(n);
        uint32_t x = 12345;
        for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                data[i] = (unsigned char) (x >> 16);
        }
        char one[DIGEST_STRING_MAX], pieces[DIGEST_STRING_MAX];
        sha256_string(data, n, one);

        /* Uneven piece sizes, including empty updates. */
        Sha256 h;
        sha256_init(&h);
        size_t off = 0, step = 0;
        while (off < n) {
                size_t len = (step * 37) % 4099;
                if (len > n - off)
                        len = n - off;
                sha256_update(&h, data + off, len);
                off += len;
                step++;
        }
        sha256_update(&h, NULL, 0);
        sha256_final(&h, pieces);
        ck_assert_str_eq(one, pieces);
        ck_assert(digest_is_valid(one));

        /* A different input gives a different digest. */
        data[n / 2] ^= 1;
        sha256_string(data, n, pieces);
        ck_assert_str_ne(one, pieces);
        free(data);
}
END_TEST

START_TEST(test_free_without_final)
{
        /* Abandoning a hash must not leak (the leak checker judges). */
        Sha256 h;
        sha256_init(&h);
        sha256_update(&h, "x", 1);
        sha256_free(&h);
        ck_assert_ptr_null(h.ctx);
        sha256_free(NULL);
}
END_TEST

START_TEST(test_digest_is_valid)
{
        ck_assert(digest_is_valid(SHA_EMPTY));
        ck_assert(digest_is_valid(SHA_ABC));
        ck_assert(digest_is_valid("sha256:0000000000000000000000000000000000000000000000000000000000000000"));

        static const char *const bad[] = {
                /* uppercase hex */
                "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85A",
                /* 63 and 65 digits */
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550",
                /* wrong or missing prefix */
                "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "sha256e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                " sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                /* not hex */
                "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 ",
                "sha256:../../../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "sha256:",
                "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(!digest_is_valid(bad[i]), "'%s' accepted", bad[i]);
        ck_assert(!digest_is_valid(NULL));
}
END_TEST

START_TEST(test_file_matches)
{
        char dir[] = "/tmp/oci-build-digest-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(dir));
        _cleanup_free_ char *file = xasprintf("%s/abc", dir);
        _cleanup_free_ char *link = xasprintf("%s/link", dir);
        FILE *f = fopen(file, "w");
        ck_assert_ptr_nonnull(f);
        fputs("abc", f);
        fclose(f);
        ck_assert_int_eq(symlink("abc", link), 0);
        const char *abc = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        ck_assert(sha256_file_matches(file, abc));
        ck_assert(
                !sha256_file_matches(file, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        /* A symlink is not followed, and a missing file matches nothing. */
        ck_assert(!sha256_file_matches(link, abc));
        unlink(file);
        ck_assert(!sha256_file_matches(file, abc));
        unlink(link);
        rmdir(dir);
}
END_TEST

START_TEST(test_digest_hex)
{
        const char *hex = digest_hex(SHA_ABC);
        ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        ck_assert_ptr_eq(hex, &SHA_ABC[7]);
}
END_TEST

static Suite *digest_suite(void)
{
        Suite *s = suite_create("digest");
        TCase *tc = tcase_create("sha256");
        tcase_add_test(tc, test_known_vectors);
        tcase_add_test(tc, test_streaming_million_a);
        tcase_add_test(tc, test_streaming_equals_oneshot);
        tcase_add_test(tc, test_free_without_final);
        tcase_add_test(tc, test_digest_is_valid);
        tcase_add_test(tc, test_digest_hex);
        tcase_add_test(tc, test_file_matches);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(digest_suite());
}
