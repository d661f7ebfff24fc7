/* SPDX-License-Identifier: MIT */
/*
 * A small unit-test harness. A test file defines its cases with LG_TEST(name)
 * and lists them in LG_TEST_MAIN(...). Each failed check prints its file, line
 * and values; the executable prints one "ok"/"not ok" line per case and a
 * closing "cases: N passed, N failed" line (read by tests/run), and exits
 * non-zero when any case failed.
 */
#ifndef LG_TEST_HARNESS_H
#define LG_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

struct lg_test_case {
    const char *name;
    void (*fn)(void);
};

extern int lg_test_failed; /* checks failed in the running case */

#define LG_TEST(name) static void name(void)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            lg_test_failed++;                                                          \
        }                                                                              \
    } while (0)

#define CHECK_INT(a, b)                                                                           \
    do {                                                                                          \
        long long a_ = (long long)(a), b_ = (long long)(b);                                       \
        if (a_ != b_) {                                                                           \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, \
                    a_, #b, b_);                                                                  \
            lg_test_failed++;                                                                     \
        }                                                                                         \
    } while (0)

#define CHECK_STR(a, b)                                                                         \
    do {                                                                                        \
        const char *a_ = (a), *b_ = (b);                                                        \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                    \
            lg_test_failed++;                                                                   \
        }                                                                                       \
    } while (0)

int lg_test_run(const struct lg_test_case *cases, size_t n);

/* A fresh empty directory for this test executable (caller frees). */
char *lg_test_tmpdir(const char *name);

#define LG_TEST_MAIN(...)                                            \
    int main(void)                                                   \
    {                                                                \
        static const struct lg_test_case cases[] = { __VA_ARGS__ };  \
        return lg_test_run(cases, sizeof(cases) / sizeof(cases[0])); \
    }
#define LG_CASE(fn) \
    {               \
#fn, fn     \
    }

#endif
