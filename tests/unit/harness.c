/* SPDX-License-Identifier: MIT */
/*
 * Runs the cases of one unit-test executable; see harness.h.
 */
#include "harness.h"

#include <stdlib.h>

#include <unistd.h>


int lg_test_failed;

int lg_test_run(const struct lg_test_case *cases, size_t n)
{
    int passed = 0;
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        lg_test_failed = 0;
        cases[i].fn();
        if (lg_test_failed) {
            printf("not ok %zu - %s\n", i + 1, cases[i].name);
            failed++;
        } else {
            printf("ok %zu - %s\n", i + 1, cases[i].name);
            passed++;
        }
        fflush(stdout);
    }
    printf("cases: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

char *lg_test_tmpdir(const char *name)
{
    const char *base = getenv("LG_TEST_TMP");
    if (!base || !*base)
        base = "/tmp";
    /* The harness stands alone (no legato code) so that libraries such as
     * src/dsp can be tested without anything else linked in. */
    size_t n = strlen(base) + strlen(name) + 32;
    char *dir = malloc(n);
    char *cmd = malloc(2 * n + 32);
    if (!dir || !cmd)
        abort();
    snprintf(dir, n, "%s/%s.%ld", base, name, (long)getpid());
    snprintf(cmd, 2 * n + 32, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot create %s\n", dir);
        abort();
    }
    free(cmd);
    return dir;
}
