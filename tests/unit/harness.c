/* SPDX-License-Identifier: MIT */
/*
 * Runs the cases of one unit-test executable; see harness.h.
 */
#include "harness.h"

#include <stdlib.h>

#include <unistd.h>

#include "core/common.h"

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
    char *dir = lg_xasprintf("%s/%s.%ld", base, name, (long)getpid());
    char *cmd = lg_xasprintf("rm -rf '%s' && mkdir -p '%s'", dir, dir);
    int r = system(cmd);
    free(cmd);
    lg_assert(r == 0);
    return dir;
}
