#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "tap/basic.h"

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (char **e = env; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static int env_count(char **env, const char *name)
{
	size_t n = strlen(name);
	int k = 0;
	for (char **e = env; e && *e; e++)
		k += !strncmp(*e, name, n) && (*e)[n] == '=';
	return k;
}

/* child_capture of "/bin/sh -c script" */
static int capture(const char *script, const sigset_t *mask, long timeout_ms, size_t max,
                   struct buf *out, struct child_capture *res, struct tf_error *err)
{
	char sh[] = "/bin/sh", c[] = "-c", *cmd = strdup(script);
	char *argv[] = { sh, c, cmd, NULL };
	int rc;
	buf_free(out);
	err_clear(err);
	rc = child_capture(argv, environ, mask, timeout_ms, max, out, res, err);
	free(cmd);
	return rc;
}

static void test_capture(const sigset_t *mask)
{
	struct child_capture res;
	struct tf_error err;
	struct buf out = BUF_INIT;
	sigset_t blocked;
	int64_t t0;
	int fd;
	char script[128];

	is_int(0, capture("printf 'one\\ntwo'; exit 0", mask, 5000, 100, &out, &res, &err),
	       "capture: spawned");
	is_int(CHILD_CAPTURE_EXITED, res.end, "capture: exited");
	is_int(0, child_exit_code(res.status), "capture: status 0");
	is_string("one\ntwo", out.data, "capture: stdout read");

	is_int(0, capture("echo partial; exit 3", mask, 5000, 100, &out, &res, &err),
	       "capture: exit 3 spawned");
	is_int(CHILD_CAPTURE_EXITED, res.end, "capture: exit 3 ends as exited");
	is_int(3, child_exit_code(res.status), "capture: status 3");

	is_int(0, capture("head -c 5000 /dev/zero", mask, 5000, 1000, &out, &res, &err),
	       "capture: flood spawned");
	is_int(CHILD_CAPTURE_TOO_MUCH, res.end, "capture: more than max is TOO_MUCH");
	ok(out.len > 1000, "capture: ... after reading past max (%zu)", out.len);

	t0 = clock_boot_ns();
	is_int(0, capture("exec sleep 30", mask, 200, 100, &out, &res, &err),
	       "capture: sleeper spawned");
	is_int(CHILD_CAPTURE_TIMED_OUT, res.end, "capture: silent past the timeout is TIMED_OUT");
	ok(WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGKILL,
	   "capture: ... killed with SIGKILL and reaped");
	ok(clock_boot_ns() - t0 < 10 * NS_PER_S, "capture: ... at once, not after 30 s");

	/* only 0, 1, 2: an inheritable descriptor of ours is closed */
	fd = open("/dev/null", O_RDONLY);
	snprintf(script, sizeof(script), "test -e /proc/self/fd/%d && echo open || echo closed",
	         fd);
	is_int(0, capture(script, mask, 5000, 100, &out, &res, &err), "capture: fd check spawned");
	is_string("closed\n", out.data, "capture: our other descriptors are closed");
	close(fd);

	/* the mask given, not ours */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	is_int(0, capture("grep SigBlk /proc/self/status", mask, 5000, 1000, &out, &res, &err),
	       "capture: mask check spawned");
	is_string("SigBlk:\t0000000000000000\n", out.data,
	          "capture: the signal mask given (empty)");
	sigprocmask(SIG_UNBLOCK, &blocked, NULL);

	{
		char *argv[] = { (char[]){ "/nonexistent/tflock-helper" }, NULL };
		err_clear(&err);
		buf_free(&out);
		is_int(ERR_NOT_FOUND,
		       child_capture(argv, environ, mask, 5000, 100, &out, &res, &err),
		       "capture: exec failure is child_spawn's error");
		is_int(ENOENT, res.exec_errno, "capture: exec_errno ENOENT");
		ok(strstr(err.msg, "tflock-helper") != NULL, "capture: message: %s", err.msg);
	}
	buf_free(&out);
}

/* child_run_quiet of "/bin/sh -c script" with envp */
static int quiet(const char *script, char *const envp[], const sigset_t *mask, long timeout_ms,
                 struct child_capture *res, struct tf_error *err)
{
	char sh[] = "/bin/sh", c[] = "-c", *cmd = strdup(script);
	char *argv[] = { sh, c, cmd, NULL };
	int rc;
	err_clear(err);
	rc = child_run_quiet(argv, envp, mask, timeout_ms, res, err);
	free(cmd);
	return rc;
}

static void test_run_quiet(const sigset_t *mask)
{
	char *const extra[] = { (char[]){ "TFLOCK_TEST_QUIET=yes" }, NULL };
	struct child_capture res;
	struct tf_error err;
	sigset_t usr1;
	char **env = child_env_build(extra);
	int64_t t0;

	is_int(0, quiet("exit 0", environ, mask, 5000, &res, &err), "quiet: spawned");
	ok(res.end == CHILD_CAPTURE_EXITED && child_exit_code(res.status) == 0,
	   "quiet: exited 0 and reaped");
	is_int(0, quiet("exit 3", environ, mask, 5000, &res, &err), "quiet: exit 3 spawned");
	ok(res.end == CHILD_CAPTURE_EXITED && child_exit_code(res.status) == 3, "quiet: status 3");
	is_int(0,
	       quiet("for i in 0 1 2; do test \"$(readlink /proc/$$/fd/$i)\" = /dev/null || "
	             "exit 1; done; echo out; echo err >&2; read x; exit $?",
	             environ, mask, 5000, &res, &err),
	       "quiet: stdio check spawned");
	ok(res.end == CHILD_CAPTURE_EXITED && child_exit_code(res.status) == 1,
	   "quiet: stdin, stdout and stderr are /dev/null (read meets EOF)");
	is_int(0, quiet("test \"$TFLOCK_TEST_QUIET\" = yes", env, mask, 5000, &res, &err),
	       "quiet: env check spawned");
	ok(res.end == CHILD_CAPTURE_EXITED && child_exit_code(res.status) == 0,
	   "quiet: the environment given (child_env_build's extra entry)");

	t0 = clock_boot_ns();
	is_int(0, quiet("exec sleep 30", environ, mask, 200, &res, &err), "quiet: sleeper spawned");
	is_int(CHILD_CAPTURE_TIMED_OUT, res.end, "quiet: running past the timeout is TIMED_OUT");
	ok(WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGKILL,
	   "quiet: ... killed with SIGKILL and reaped");
	ok(clock_boot_ns() - t0 < 10 * NS_PER_S, "quiet: ... at once, not after 30 s");

	/* mask NULL: ours, here with SIGUSR1 blocked */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	is_int(0,
	       quiet("exec grep -q '^SigBlk:.0000000000000200$' /proc/self/status", environ, NULL,
	             5000, &res, &err),
	       "quiet: mask check spawned");
	ok(res.end == CHILD_CAPTURE_EXITED && child_exit_code(res.status) == 0,
	   "quiet: mask NULL keeps ours");
	is_int(0,
	       quiet("exec grep -q '^SigBlk:.0000000000000000$' /proc/self/status", environ, mask,
	             5000, &res, &err),
	       "quiet: mask check spawned again");
	ok(res.end == CHILD_CAPTURE_EXITED && child_exit_code(res.status) == 0,
	   "quiet: the mask given (empty)");
	sigprocmask(SIG_UNBLOCK, &usr1, NULL);

	{
		char *argv[] = { (char[]){ "/nonexistent/tflock-helper" }, NULL };
		err_clear(&err);
		is_int(ERR_NOT_FOUND, child_run_quiet(argv, environ, mask, 5000, &res, &err),
		       "quiet: exec failure is child_spawn's error");
		is_int(ENOENT, res.exec_errno, "quiet: exec_errno ENOENT");
	}
	child_env_free(env);
}

static int run_wait(char *const argv[], char *const envp[], const sigset_t *mask, int *code)
{
	struct child ch;
	struct tf_error err;
	int st, ret;
	err_clear(&err);
	ret = child_spawn(&ch, argv, envp, 0, mask, &err);
	if (ret)
		return ret;
	if (waitpid(ch.pid, &st, 0) != ch.pid)
		return -100;
	*code = child_exit_code(st);
	return 0;
}

int main(void)
{
	char tmpl[] = "/tmp/tflock-child-XXXXXX";
	char *dir, path[4096];
	char **env;
	struct child ch;
	struct tf_error err;
	sigset_t mask;
	int code, st;

	plan_lazy();
	sigemptyset(&mask);
	dir = mkdtemp(tmpl);
	if (!dir)
		bail("mkdtemp: %s", strerror(errno));

	/* child_env_build */
	setenv("TFLOCK_BUCKET", "b", 1);
	setenv("TFLOCK_LEASE", "1m", 1);
	setenv("TFLOCK_HELD_DIR", "/some/dir", 1);
	setenv("TFLOCK_HELD_TOKEN", "tok", 1);
	setenv("TFLOCK_TIME_SCALE", "0.5", 1);
	setenv("TFLOCK_TEST_HOOK", "h", 1);
	setenv("TFLOCKX", "not an option", 1);
	setenv("UT_KEEP", "keep", 1);
	setenv("UT_OVERRIDE", "old", 1);
	{
		char *extra[] = { (char[]){ "UT_OVERRIDE=new" }, (char[]){ "UT_ADDED=1" },
			          (char[]){ "TFLOCK_HELD_DIR=/new" }, NULL };
		env = child_env_build(extra);
	}
	ok(env != NULL, "env built");
	ok(env_get(env, "TFLOCK_BUCKET") == NULL, "TFLOCK_BUCKET removed");
	ok(env_get(env, "TFLOCK_LEASE") == NULL, "TFLOCK_LEASE removed");
	is_string("/new", env_get(env, "TFLOCK_HELD_DIR"), "TFLOCK_HELD_DIR overridden by extra");
	is_int(1, env_count(env, "TFLOCK_HELD_DIR"), "no duplicate TFLOCK_HELD_DIR");
	is_string("tok", env_get(env, "TFLOCK_HELD_TOKEN"), "TFLOCK_HELD_TOKEN kept");
	is_string("0.5", env_get(env, "TFLOCK_TIME_SCALE"), "TFLOCK_TIME_SCALE kept");
	is_string("h", env_get(env, "TFLOCK_TEST_HOOK"), "TFLOCK_TEST_* kept");
	is_string("not an option", env_get(env, "TFLOCKX"), "TFLOCKX is not an option variable");
	is_string("keep", env_get(env, "UT_KEEP"), "ordinary variable kept");
	is_string("new", env_get(env, "UT_OVERRIDE"), "duplicate overridden");
	is_int(1, env_count(env, "UT_OVERRIDE"), "override appears once");
	is_string("1", env_get(env, "UT_ADDED"), "extra added");

	/* the built environment is what the child sees */
	{
		char *argv[] = {
			(char[]){ "/bin/sh" }, (char[]){ "-c" },
			(char[]){ "test -z \"$TFLOCK_BUCKET\" && test \"$UT_OVERRIDE\" = new && "
			          "test \"$TFLOCK_HELD_TOKEN\" = tok" },
			NULL
		};
		code = -1;
		is_int(0, run_wait(argv, env, &mask, &code), "spawn sh with built env");
		is_int(0, code, "child saw the built environment");
	}
	child_env_free(env);
	child_env_free(NULL);
	env = child_env_build(NULL);
	is_string("keep", env_get(env, "UT_KEEP"), "no extras: environment copied");
	ok(env_get(env, "TFLOCK_LEASE") == NULL, "no extras: options still removed");
	child_env_free(env);

	/* child_exit_code with real statuses */
	{
		char *t[] = { (char[]){ "/bin/true" }, NULL },
		     *f[] = { (char[]){ "/bin/sh" }, (char[]){ "-c" }, (char[]){ "exit 3" }, NULL },
		     *s[] = { (char[]){ "/bin/sh" }, (char[]){ "-c" }, (char[]){ "kill -TERM $$" },
			      NULL };
		code = -1;
		is_int(0, run_wait(t, environ, &mask, &code), "spawn /bin/true");
		is_int(0, code, "/bin/true exits 0");
		is_int(0, run_wait(f, environ, &mask, &code), "spawn exit 3");
		is_int(3, code, "exit code 3");
		is_int(0, run_wait(s, environ, &mask, &code), "spawn self-kill");
		is_int(128 + SIGTERM, code, "signal gives 128+signal");
	}

	/* PATH lookup */
	{
		char *argv[] = { (char[]){ "true" }, NULL };
		is_int(0, run_wait(argv, environ, &mask, &code), "spawn via PATH");
		is_int(0, code, "true via PATH exits 0");
	}

	/* missing command */
	{
		char *argv[] = { (char[]){ "tflock-no-such-command-xyz" }, NULL };
		err_clear(&err);
		is_int(ERR_NOT_FOUND, child_spawn(&ch, argv, environ, 0, &mask, &err),
		       "missing command is ERR_NOT_FOUND");
		ok(strstr(err.msg, "tflock-no-such-command-xyz") && strstr(err.msg, "not found"),
		   "message: %s", err.msg);
		is_int(ENOENT, ch.exec_errno, "exec_errno ENOENT");
		is_int(0, ch.pid, "no pid left to wait for");
	}

	/* non-executable file */
	{
		FILE *fp;
		char *argv[2];
		snprintf(path, sizeof(path), "%s/not-exec", dir);
		fp = fopen(path, "w");
		if (!fp)
			bail("fopen %s: %s", path, strerror(errno));
		fputs("#!/bin/sh\nexit 0\n", fp);
		fclose(fp);
		chmod(path, 0644);
		argv[0] = path;
		argv[1] = NULL;
		err_clear(&err);
		is_int(ERR_SYSTEM, child_spawn(&ch, argv, environ, 0, &mask, &err),
		       "non-executable is ERR_SYSTEM");
		ok(strstr(err.msg, "not-exec") != NULL, "message: %s", err.msg);
		is_int(EACCES, ch.exec_errno, "exec_errno EACCES");
		unlink(path);
	}

	/* own process group */
	{
		char *argv[] = { (char[]){ "/bin/sleep" }, (char[]){ "60" }, NULL };
		err_clear(&err);
		is_int(0, child_spawn(&ch, argv, environ, 1, &mask, &err), "spawn in own group");
		ok(ch.pid > 0, "pid set");
		is_int(ch.pid, ch.pgid, "pgid recorded as the pid");
		is_int(ch.pid, getpgid(ch.pid), "child leads its own group");
		ok(getpgid(ch.pid) != getpgrp(), "not our group");
		is_int(0, kill(-ch.pgid, SIGTERM), "signal the group");
		is_int(ch.pid, waitpid(ch.pid, &st, 0), "waitpid");
		is_int(128 + SIGTERM, child_exit_code(st), "group signal reached the child");
	}
	{
		char *argv[] = { (char[]){ "/bin/true" }, NULL };
		err_clear(&err);
		is_int(0, child_spawn(&ch, argv, environ, 0, &mask, &err), "spawn in our group");
		is_int(0, ch.pgid, "pgid 0 without own_group");
		is_int(ch.pid, waitpid(ch.pid, &st, 0), "waitpid");
		is_int(0, child_exit_code(st), "exit 0");
	}

	test_capture(&mask);
	test_run_quiet(&mask);

	rmdir(dir);
	ok(access(dir, F_OK) != 0, "temp dir removed");
	return 0;
}
