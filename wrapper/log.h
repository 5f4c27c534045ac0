/*
 * log — messages on stderr with the "tflock: " prefix, verbosity, redaction,
 * and die() with cleanup hooks.
 *
 * log_level: 0 quiet (-q: errors only), 1 normal, 2 verbose (-v), 3 debug (-vv).
 * die() runs the registered cleanup hooks (in reverse order of registration,
 * each at most once, in normal context — never from a signal handler), then
 * exits with the given code. Hooks let a die() after the lock is taken still
 * release it. Secrets never reach these functions: callers redact first
 * (log_redact_header() helps with HTTP headers).
 *
 * Every message is one line: the formatted text passes sanitize_text() (no
 * length limit) before it is written, so a %s argument holding a lock body's
 * field, an S3 error message or git data cannot put a control character, an
 * escape sequence, a line break or a "##[" into the log. Callers still cut
 * foreign fields to a length (sanitize_to(), SANITIZE_FIELD_MAX); the escaping
 * is idempotent, so what they already escaped is not escaped again.
 */
#ifndef TFLOCK_LOG_H
#define TFLOCK_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

extern int log_level;

void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);   /* always shown */
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);    /* level >= 1... and -q */
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);    /* level >= 1 */
void log_verbose(const char *fmt, ...) LOG_PRINTF(1, 2); /* level >= 2 */
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);   /* level >= 3 */

typedef void (*cleanup_fn)(void *arg);
/* Register a hook run by die(); returns a handle for cleanup_unregister(). */
int cleanup_register(cleanup_fn fn, void *arg);
void cleanup_unregister(int handle);
void cleanup_run(void);

/* Machine-readable event for tests and reports: when TFLOCK_EVENT_LOG names a
 * file, appends "<CLOCK_BOOTTIME ns> <pid> <event text>\n" with one write (the
 * text escaped as the log's messages are). */
void log_event(const char *fmt, ...) LOG_PRINTF(1, 2);

void die(int code, const char *fmt, ...) LOG_PRINTF(2, 3) __attribute__((noreturn));
/* Called by die() after the cleanup hooks, with the exit code and the message
 * (unescaped: the callee escapes at its sinks), so that every exit can be
 * reported (the --report file, CI outputs); only in the process that set it. */
typedef void (*die_report_fn)(int code, const char *msg);
void die_report_set(die_report_fn fn);

/* Header line "Name: value" → a copy with the value replaced by "[redacted]" when
 * the header carries a secret (authorization, x-amz-security-token, SSE-C keys,
 * x-aws-ec2-metadata-token, ...). Returns malloc'd string. */
char *log_redact_header(const char *line, size_t len);

#endif
