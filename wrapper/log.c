#include "log.h"
#include "buf.h"
#include "clock.h"
#include "sanitize.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int log_level = 1;

#define MAX_HOOKS 16
static struct {
	cleanup_fn fn;
	void *arg;
} hooks[MAX_HOOKS];

/* The message as one line of the log: the sink every log function ends in, so
 * every %s argument, foreign or not, passes sanitize_text() here (idempotent:
 * a field a caller already escaped, cut or not, comes through unchanged). */
static void add_message(struct buf *b, const char *fmt, va_list ap)
{
	struct buf msg = BUF_INIT;
	buf_vaddf(&msg, fmt, ap);
	sanitize_text(b, msg.data, 0);
	buf_free(&msg);
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "tflock: ");
	if (prefix)
		buf_adds(&b, prefix);
	add_message(&b, fmt, ap);
	buf_addc(&b, '\n');
	/* one write so concurrent processes do not interleave within a line */
	fwrite(b.data, 1, b.len, stderr);
	fflush(stderr);
	buf_free(&b);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("error: ", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	if (log_level < 1)
		return;
	va_start(ap, fmt);
	vlog(NULL, fmt, ap);
	va_end(ap);
}

void log_verbose(const char *fmt, ...)
{
	va_list ap;
	if (log_level < 2)
		return;
	va_start(ap, fmt);
	vlog(NULL, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;
	if (log_level < 3)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

void log_event(const char *fmt, ...)
{
	static int fd = -2;
	struct buf b = BUF_INIT;
	va_list ap;
	if (fd == -2) {
		const char *path = getenv("TFLOCK_EVENT_LOG");
		fd = path && *path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)
		                   : -1;
	}
	if (fd < 0)
		return;
	buf_addf(&b, "%lld %ld ", (long long)clock_boot_ns(), (long)getpid());
	va_start(ap, fmt);
	add_message(&b, fmt, ap);
	va_end(ap);
	buf_addc(&b, '\n');
	if (write(fd, b.data, b.len) < 0) {
		/* a test hook: nothing to do */
	}
	buf_free(&b);
}

int cleanup_register(cleanup_fn fn, void *arg)
{
	for (int i = 0; i < MAX_HOOKS; i++) {
		if (!hooks[i].fn) {
			hooks[i].fn = fn;
			hooks[i].arg = arg;
			return i;
		}
	}
	abort(); /* a programming error: more hooks than any path registers */
}

void cleanup_unregister(int handle)
{
	if (handle >= 0 && handle < MAX_HOOKS)
		hooks[handle].fn = NULL;
}

void cleanup_run(void)
{
	for (int i = MAX_HOOKS - 1; i >= 0; i--) {
		cleanup_fn fn = hooks[i].fn;
		if (fn) {
			hooks[i].fn = NULL; /* at most once, even if the hook dies */
			fn(hooks[i].arg);
		}
	}
}

/* "tflock: MSG" (escaped), as die() has always printed it */
static void log_plain(const char *msg)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "tflock: ");
	sanitize_text(&b, msg, 0);
	buf_addc(&b, '\n');
	fwrite(b.data, 1, b.len, stderr);
	fflush(stderr);
	buf_free(&b);
}

static die_report_fn die_report;
static pid_t die_report_pid;

void die_report_set(die_report_fn fn)
{
	die_report = fn;
	die_report_pid = getpid();
}

void die(int code, const char *fmt, ...)
{
	va_list ap;
	struct buf msg = BUF_INIT;
	die_report_fn fn = die_report;
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	log_plain(msg.data);
	cleanup_run();
	die_report = NULL; /* once, and never in a forked child */
	if (fn && getpid() == die_report_pid)
		fn(code, msg.data);
	buf_free(&msg);
	exit(code);
}

static const char *const secret_headers[] = {
	"authorization",
	"private-token", /* GitLab's API token (cijob.c, gitapi.c) */
	"job-token",
	"x-amz-security-token",
	"x-amz-server-side-encryption-customer-key",
	"x-amz-copy-source-server-side-encryption-customer-key",
	"x-aws-ec2-metadata-token",
	"x-amz-sso_bearer_token",
	"private-token",
	"job-token",
	NULL,
};

char *log_redact_header(const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	if (colon) {
		size_t nlen = (size_t)(colon - line);
		for (int i = 0; secret_headers[i]; i++) {
			if (strlen(secret_headers[i]) == nlen &&
			    !strncasecmp(line, secret_headers[i], nlen))
				return xasprintf("%.*s: [redacted]", (int)nlen, line);
		}
		/* the AWS container token header is also a secret */
		if (nlen == 13 && !strncasecmp(line, "authorization", 13))
			return xasprintf("%.*s: [redacted]", (int)nlen, line);
	}
	return xstrndup(line, len);
}
