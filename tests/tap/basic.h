/*
 * basic — a small TAP producer for tflock's C test programs.
 *
 * plan(n) announces n tests up front; plan_lazy() prints the plan at exit from
 * the number of tests run. Each check prints "ok N - desc" or "not ok N - desc"
 * and returns whether it passed. diag() writes "# ..." to stderr-free stdout so
 * the TAP driver keeps it in the log. bail() aborts the whole run ("Bail out!").
 * The exit status is 0 only when every planned test ran and passed.
 */
#ifndef TFLOCK_TAP_BASIC_H
#define TFLOCK_TAP_BASIC_H

#include <stddef.h>

#define TAP_PRINTF(a, b) __attribute__((format(printf, a, b)))

void plan(unsigned long count);
void plan_lazy(void);
void skip_all(const char *fmt, ...) TAP_PRINTF(1, 2) __attribute__((noreturn));

int ok(int success, const char *fmt, ...) TAP_PRINTF(2, 3);
int is_int(long long wanted, long long seen, const char *fmt, ...) TAP_PRINTF(3, 4);
int is_string(const char *wanted, const char *seen, const char *fmt, ...) TAP_PRINTF(3, 4);
int is_blob(const void *wanted, const void *seen, size_t len, const char *fmt, ...)
        TAP_PRINTF(4, 5);
/*
 * For a contract whose only way to fail is a crash ("foo_free(NULL) is safe"):
 * run fn(arg) in a forked child; pass when fn returns 0 and the child exits
 * cleanly, fail (naming the signal or status) when fn returns non-zero, the
 * child dies of a signal or exits otherwise (a sanitizer's or valgrind's error
 * exit). The crash stays in the child: the program goes on to its next check.
 */
int ok_returns(int (*fn)(void *), void *arg, const char *fmt, ...) TAP_PRINTF(3, 4);
void skip(const char *reason, ...) TAP_PRINTF(1, 2);
void diag(const char *fmt, ...) TAP_PRINTF(1, 2);
void bail(const char *fmt, ...) TAP_PRINTF(1, 2) __attribute__((noreturn));

/* Number of failures so far (for tests that stop early on failure). */
unsigned long tap_failures(void);

#endif
