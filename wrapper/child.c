#include "child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"

extern char **environ;

/* TFLOCK_* variables that are options: removed from the child's environment.
 * TFLOCK_HELD_* (identity for nested runs) and TFLOCK_TIME_SCALE stay. */
static int is_option_var(const char *kv)
{
	if (strncmp(kv, "TFLOCK_", 7))
		return 0;
	if (!strncmp(kv, "TFLOCK_HELD_", 12) || !strncmp(kv, "TFLOCK_TIME_SCALE=", 18) ||
	    !strncmp(kv, "TFLOCK_TEST_", 12))
		return 0;
	return 1;
}

char **child_env_build(char *const *extra)
{
	size_t n = 0, m = 0, k = 0;
	char **env;
	for (char **e = environ; e && *e; e++)
		n++;
	for (char *const *e = extra; e && *e; e++)
		m++;
	env = xcalloc(n + m + 1, sizeof(char *));
	for (char **e = environ; e && *e; e++) {
		int overridden = 0;
		if (is_option_var(*e))
			continue;
		for (char *const *x = extra; x && *x; x++) {
			size_t nl = strcspn(*x, "=");
			if (!strncmp(*e, *x, nl) && (*e)[nl] == '=')
				overridden = 1;
		}
		if (!overridden)
			env[k++] = xstrdup(*e);
	}
	for (char *const *x = extra; x && *x; x++)
		env[k++] = xstrdup(*x);
	env[k] = NULL;
	return env;
}

void child_env_free(char **env)
{
	if (!env)
		return;
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

int child_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 70;
}

/* close_range(2) on everything above 2 but the two kept: 0, or -1 when the
 * kernel or the C library lacks it. A system call: safe between fork and exec
 * in a process with threads, as opendir() is not. */
static int close_ranges(int keep1, int keep2)
{
#ifdef CLOSE_RANGE_CLOEXEC
	int k[2] = { keep1 < keep2 ? keep1 : keep2, keep1 < keep2 ? keep2 : keep1 };
	unsigned int from = 3;
	for (int i = 0; i < 2; i++) {
		if (k[i] < 0 || (unsigned int)k[i] < from)
			continue; /* none, 0-2, or the other one again */
		if ((unsigned int)k[i] > from && close_range(from, (unsigned int)k[i] - 1, 0) != 0)
			return -1;
		from = (unsigned int)k[i] + 1;
	}
	return close_range(from, ~0U, 0);
#else
	(void)keep1;
	(void)keep2;
	return -1;
#endif
}

void child_close_fds(int keep1, int keep2)
{
	DIR *d;
	if (close_ranges(keep1, keep2) == 0)
		return;
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;
		int dfd = dirfd(d);
		int fds[1024], n = 0;
		while ((de = readdir(d)) && n < 1024) {
			int fd = atoi(de->d_name);
			if (fd > 2 && fd != keep1 && fd != keep2 && fd != dfd)
				fds[n++] = fd;
		}
		closedir(d);
		for (int i = 0; i < n; i++)
			close(fds[i]);
	} else {
		for (int fd = 3; fd < 1024; fd++)
			if (fd != keep1 && fd != keep2)
				close(fd);
	}
}

int child_spawn(struct child *c, char *const argv[], char *const envp[], int own_group,
                const sigset_t *orig_mask, struct tf_error *err)
{
	return child_spawn_group(c, argv, envp, own_group ? 0 : -1, orig_mask, err);
}

/* In the child: descriptor i on stdio[i] for each stdio[i] >= 0 (stdio NULL:
 * none). 0, or the errno of the failure. */
static int set_stdio(const int *stdio)
{
	for (int i = 0; stdio && i < 3; i++)
		if (stdio[i] >= 0 && (stdio[i] == i ? fcntl(i, F_SETFD, 0) : dup2(stdio[i], i)) < 0)
			return errno;
	return 0;
}

/* child_spawn_group(), with the child's descriptors 0, 1, 2 on those stdio names
 * (see set_stdio); orig_mask NULL keeps our signal mask. */
static int spawn(struct child *c, char *const argv[], char *const envp[], pid_t group,
                 const sigset_t *orig_mask, const int *stdio, struct tf_error *err)
{
	int own_group = group == 0;
	int pfd[2], e = 0;
	pid_t parent = getpid(), pid;
	ssize_t n;

	memset(c, 0, sizeof(*c));
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_set(err, ERR_SYSTEM, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		int fe = errno;
		close(pfd[0]);
		close(pfd[1]);
		return err_set(err, ERR_SYSTEM, "fork: %s", strerror(fe));
	}
	if (pid == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (int s = 1; s < NSIG; s++)
			sigaction(s, &sa, NULL); /* fails harmlessly for SIGKILL/SIGSTOP */
		if (group >= 0)
			setpgid(0, group);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* tflock died before PDEATHSIG was armed */
			_exit(128 + SIGKILL);
		close(pfd[0]);
		e = set_stdio(stdio);
		child_close_fds(pfd[1], -1);
		if (orig_mask)
			sigprocmask(SIG_SETMASK, orig_mask, NULL);
		if (!e) {
			execvpe(argv[0], argv, envp);
			e = errno;
		}
		if (write(pfd[1], &e, sizeof(e)) < 0) {
			/* nothing more we can do */
		}
		_exit(e == ENOENT ? 127 : 126);
	}
	if (group >= 0) /* also in the parent: no race with the first signal */
		setpgid(pid, own_group ? pid : group);
	close(pfd[1]);
	do
		n = read(pfd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	c->pid = pid;
	c->pgid = own_group ? pid : 0;
	if (n == (ssize_t)sizeof(e)) {
		int st;
		c->exec_errno = e;
		waitpid(pid, &st, 0);
		c->pid = 0;
		if (e == ENOENT)
			return err_set(err, ERR_NOT_FOUND, "cannot run '%s': command not found",
			               argv[0]);
		return err_set(err, ERR_SYSTEM, "cannot run '%s': %s", argv[0], strerror(e));
	}
	return 0;
}

int child_spawn_group(struct child *c, char *const argv[], char *const envp[], pid_t group,
                      const sigset_t *orig_mask, struct tf_error *err)
{
	return spawn(c, argv, envp, group, orig_mask, NULL, err);
}

/* Read fd into out until EOF, the deadline, or more than max bytes. */
static enum child_capture_end read_output(int fd, long timeout_ms, size_t max, struct buf *out)
{
	int64_t deadline = clock_boot_ns() + (int64_t)timeout_ms * NS_PER_MS;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = (deadline - clock_boot_ns() + NS_PER_MS - 1) / NS_PER_MS; /* ms */
		ssize_t n;
		int prc;
		if (left <= 0)
			return CHILD_CAPTURE_TIMED_OUT;
		prc = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (prc < 0 && errno == EINTR)
			continue;
		if (prc == 0)
			return CHILD_CAPTURE_TIMED_OUT;
		buf_grow(out, 4096);
		n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return CHILD_CAPTURE_EXITED; /* EOF (or a broken pipe): reap it */
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		if (out->len > max)
			return CHILD_CAPTURE_TOO_MUCH;
	}
}

/* Kill pid with SIGKILL unless res->end says it ended by itself, then reap it
 * into res->status (a failed waitpid: CHILD_CAPTURE_LOST). */
static void reap(pid_t pid, struct child_capture *res)
{
	pid_t waited;
	if (res->end != CHILD_CAPTURE_EXITED)
		kill(pid, SIGKILL);
	while ((waited = waitpid(pid, &res->status, 0)) < 0 && errno == EINTR)
		;
	if (waited < 0) {
		res->wait_errno = errno;
		res->end = CHILD_CAPTURE_LOST;
	}
}

int child_capture(char *const argv[], char *const envp[], const sigset_t *mask, long timeout_ms,
                  size_t max, struct buf *out, struct child_capture *res, struct tf_error *err)
{
	struct child c;
	int fds[2], rc;

	memset(res, 0, sizeof(*res));
	if (pipe2(fds, O_CLOEXEC))
		return err_set(err, ERR_SYSTEM, "pipe: %s", strerror(errno));
	rc = spawn(&c, argv, envp, -1, mask, (const int[3]){ -1, fds[1], -1 }, err);
	close(fds[1]);
	if (rc) {
		close(fds[0]);
		res->exec_errno = c.exec_errno;
		return rc;
	}
	res->end = read_output(fds[0], timeout_ms, max, out);
	close(fds[0]);
	reap(c.pid, res);
	return 0;
}

/* Wait for pid to exit within timeout_ms, looking every 50 ms: EXITED (reaped,
 * *status set), TIMED_OUT (still running), or LOST (waitpid failed: *wait_errno). */
static enum child_capture_end wait_exit(pid_t pid, long timeout_ms, int *status, int *wait_errno)
{
	int64_t deadline = clock_boot_ns() + (int64_t)timeout_ms * NS_PER_MS;
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return CHILD_CAPTURE_EXITED;
		if (w < 0 && errno != EINTR) {
			*wait_errno = errno;
			return CHILD_CAPTURE_LOST;
		}
		if (clock_boot_ns() >= deadline)
			return CHILD_CAPTURE_TIMED_OUT;
		clock_sleep_ms(50);
	}
}

int child_run_quiet(char *const argv[], char *const envp[], const sigset_t *mask, long timeout_ms,
                    struct child_capture *res, struct tf_error *err)
{
	struct child c;
	int null, rc;

	memset(res, 0, sizeof(*res));
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return err_set(err, ERR_SYSTEM, "cannot open /dev/null: %s", strerror(errno));
	rc = spawn(&c, argv, envp, -1, mask, (const int[3]){ null, null, null }, err);
	close(null);
	if (rc) {
		res->exec_errno = c.exec_errno;
		return rc;
	}
	res->end = wait_exit(c.pid, timeout_ms, &res->status, &res->wait_errno);
	if (res->end == CHILD_CAPTURE_TIMED_OUT)
		reap(c.pid, res);
	return 0;
}
