/* SPDX-License-Identifier: MIT */
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

void sha256_init(Sha256 *h)
{
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
                fputs("oci-build: cannot initialise sha256\n", stderr);
                abort();
        }
        h->ctx = ctx;
}

void sha256_update(Sha256 *h, const void *data, size_t size)
{
        if (size > 0 && EVP_DigestUpdate(h->ctx, data, size) != 1)
                abort();
}

void sha256_final(Sha256 *h, char out[static DIGEST_STRING_MAX])
{
        static const char hexdigits[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
                abort();
        memcpy(out, "sha256:", 7);
        for (unsigned i = 0; i < n; i++) {
                out[7 + 2 * i] = hexdigits[md[i] >> 4];
                out[7 + 2 * i + 1] = hexdigits[md[i] & 15];
        }
        out[7 + 64] = '\0';
        sha256_free(h);
}

void sha256_free(Sha256 *h)
{
        if (h && h->ctx) {
                EVP_MD_CTX_free(h->ctx);
                h->ctx = NULL;
        }
}

void sha256_string(const void *data, size_t size, char out[static DIGEST_STRING_MAX])
{
        Sha256 h;
        sha256_init(&h);
        sha256_update(&h, data, size);
        sha256_final(&h, out);
}

bool digest_is_valid(const char *digest)
{
        if (!digest || strncmp(digest, "sha256:", 7) != 0)
                return false;
        const char *p = digest + 7;
        size_t n = 0;
        for (; p[n]; n++)
                if (!((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'f')))
                        return false;
        return n == 64;
}

const char *digest_hex(const char *digest)
{
        return digest + 7;
}

#define FILE_HASH_CHUNK (256u * 1024u)

bool sha256_file_matches(const char *path, const char *digest)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return false;
        _cleanup_free_ char *buf = xmalloc(FILE_HASH_CHUNK);
        _cleanup_sha256_ Sha256 h = { 0 };
        sha256_init(&h);
        for (;;) {
                ssize_t n = read(fd, buf, FILE_HASH_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return false;
                if (n == 0)
                        break;
                sha256_update(&h, buf, (size_t) n);
        }
        char actual[DIGEST_STRING_MAX];
        sha256_final(&h, actual);
        return strcmp(actual, digest) == 0;
}
