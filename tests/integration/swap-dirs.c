/* SPDX-License-Identifier: MIT */
/* swap-dirs A B SECONDS: exchanges the names A and B (a directory and a
 * symlink) atomically, over and over, for SECONDS: a sysroot changing under
 * a build as fast as the kernel allows. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
        if (argc != 4) {
                fprintf(stderr, "usage: swap-dirs A B SECONDS\n");
                return 2;
        }
        time_t end = time(NULL) + atoi(argv[3]);
        unsigned long n = 0;
        while (time(NULL) < end) {
                if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) < 0) {
                        perror("renameat2");
                        return 1;
                }
                n++;
        }
        /* An even count leaves the names as they were. */
        if (n % 2 && renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) < 0) {
                perror("renameat2");
                return 1;
        }
        return 0;
}
