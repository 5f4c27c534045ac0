#include "basic.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long planned, current, failed;
static int lazy, plan_printed;
static pid_t tap_pid;

static void finish(void)
{
	if (getpid() != tap_pid) /* a forked child of the test must not report */
		return;
	fflush(stderr);
	if (lazy && !plan_printed) {
		printf("1..%lu\n", current);
		plan_printed = 1;
	}
	fflush(stdout);
	if (planned && current != planned)
		printf("# planned %lu tests but ran %lu\n", planned, current);
	if (failed)
		printf("# failed %lu of %lu tests\n", failed, current);
	fflush(stdout);
	if (failed || (planned && current != planned))
		_exit(1);
}

static void start(void)
{
	tap_pid = getpid();
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(finish);
}

void plan(unsigned long count)
{
	start();
	planned = count;
	printf("1..%lu\n", count);
	plan_printed = 1;
}

void plan_lazy(void)
{
	start();
	lazy = 1;
}

void skip_all(const char *fmt, ...)
{
	va_list ap;
	start();
	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	plan_printed = 1;
	fflush(stdout);
	exit(0);
}

static int report(int success, const char *fmt, va_list ap)
{
	current++;
	if (!success)
		failed++;
	printf("%sok %lu", success ? "" : "not ", current);
	if (fmt && *fmt) {
		printf(" - ");
		vprintf(fmt, ap);
	}
	printf("\n");
	fflush(stdout);
	return success;
}

int ok(int success, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(success, fmt, ap);
	va_end(ap);
	return success;
}

int is_int(long long wanted, long long seen, const char *fmt, ...)
{
	va_list ap;
	int success = wanted == seen;
	va_start(ap, fmt);
	report(success, fmt, ap);
	va_end(ap);
	if (!success)
		diag("wanted: %lld\n#   seen: %lld", wanted, seen);
	return success;
}

int is_string(const char *wanted, const char *seen, const char *fmt, ...)
{
	va_list ap;
	int success;
	if (!wanted || !seen)
		success = wanted == seen;
	else
		success = strcmp(wanted, seen) == 0;
	va_start(ap, fmt);
	report(success, fmt, ap);
	va_end(ap);
	if (!success)
		diag("wanted: %s\n#   seen: %s", wanted ? wanted : "(null)",
		     seen ? seen : "(null)");
	return success;
}

int is_blob(const void *wanted, const void *seen, size_t len, const char *fmt, ...)
{
	va_list ap;
	int success = memcmp(wanted, seen, len) == 0;
	va_start(ap, fmt);
	report(success, fmt, ap);
	va_end(ap);
	return success;
}

int ok_returns(int (*fn)(void *), void *arg, const char *fmt, ...)
{
	va_list ap;
	int status = 0, success, fork_errno;
	pid_t pid;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	fork_errno = errno;
	if (pid == 0)
		_exit(fn(arg) == 0 ? 0 : 1); /* _exit: no atexit report, no stdio flush */
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	success = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	va_start(ap, fmt);
	report(success, fmt, ap);
	va_end(ap);
	if (pid < 0)
		diag("fork: %s", strerror(fork_errno));
	else if (WIFSIGNALED(status))
		diag("the call died of signal %d (%s)", WTERMSIG(status),
		     strsignal(WTERMSIG(status)));
	else if (!success)
		diag("the call's child exited %d (1: its check failed)", WEXITSTATUS(status));
	return success;
}

void skip(const char *reason, ...)
{
	va_list ap;
	current++;
	printf("ok %lu # skip ", current);
	va_start(ap, reason);
	vprintf(reason, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void diag(const char *fmt, ...)
{
	va_list ap;
	fflush(stderr);
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void bail(const char *fmt, ...)
{
	va_list ap;
	fflush(stderr);
	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	_exit(255);
}

unsigned long tap_failures(void)
{
	return failed;
}
