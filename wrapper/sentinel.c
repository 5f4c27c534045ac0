#include "sentinel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"

static const int reported[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static int report_fd = -1;

/* In the sentinel: one record per signal, written at once (async-signal-safe). */
static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	int rec[2] = { sig, (int)si->si_pid };
	(void)ctx;
	if (write(report_fd, rec, sizeof(rec)) < 0) {
		/* tflock is gone: nothing to report to */
	}
	/* reported, and out of the way: a sender that signals one pid at a time
	 * and waits for each to exit (GitLab's docker executor) moves on at once */
	if (sig == SIGTERM)
		_exit(0);
}

static void sentinel_main(int fd, pid_t pgid, pid_t parent)
{
	struct sigaction sa;
	sigset_t set;
	report_fd = fd;
	child_close_fds(fd, -1); /* hold nothing of tflock's (pipes, sockets) */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(reported) / sizeof(reported[0]); i++) {
		sigaction(reported[i], &sa, NULL);
		sigaddset(&set, reported[i]);
	}
	/* joined before it reports anything: a report means "in the group" */
	if (pgid > 0 && setpgid(0, pgid) < 0)
		_exit(3);
	if (write(fd, (int[2]){ 0, 0 }, 2 * sizeof(int)) < 0)
		_exit(0);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	for (;;)
		pause();
}

int sentinel_start(struct sentinel *s, pid_t pgid)
{
	int p[2], rec[2];
	pid_t parent = getpid(), pid;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		sentinel_main(p[1], pgid, parent);
		_exit(0);
	}
	close(p[1]);
	if (pgid > 0)
		setpgid(pid, pgid); /* also here: no race with a group kill right now */
	/* the first record (0, 0) says it is in place */
	do
		n = read(p[0], rec, sizeof(rec));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rec) || rec[0] != 0) {
		int st;
		close(p[0]);
		kill(pid, SIGKILL);
		waitpid(pid, &st, __WALL);
		return -1;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	s->pid = pid;
	s->fd = p[0];
	return 0;
}

/* Read what the sentinel reported so far; keep the newest 16. */
static void drain(struct sentinel *s)
{
	int rec[2];
	while (s->fd >= 0 && read(s->fd, rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
		unsigned i = s->nseen < 16 ? s->nseen++ : 15;
		if (i == 15 && s->nseen == 16)
			memmove(&s->seen[0], &s->seen[1], 15 * sizeof(s->seen[0]));
		s->seen[i].sig = rec[0];
		s->seen[i].from = (pid_t)rec[1];
		s->seen[i].ns = clock_boot_ns();
		s->seen[i].used = 0;
	}
}

/* A report counts for one signal of tflock's: the same sender's next one is new. */
static int match(struct sentinel *s, int sig, pid_t from, int64_t since)
{
	for (unsigned i = 0; i < s->nseen; i++)
		if (s->seen[i].sig == sig && s->seen[i].from == from && s->seen[i].ns >= since &&
		    !s->seen[i].used) {
			s->seen[i].used = 1;
			return 1;
		}
	return 0;
}

int sentinel_saw(struct sentinel *s, int sig, pid_t from)
{
	int64_t now = clock_boot_ns(), until = now + SENTINEL_WAIT_MS * NS_PER_MS;
	int64_t since = now - SENTINEL_WINDOW_MS * NS_PER_MS;
	if (s->fd < 0) /* stopped: what it reported before still counts */
		return match(s, sig, from, since);
	for (;;) {
		struct pollfd pfd = { s->fd, POLLIN, 0 };
		int64_t left;
		drain(s);
		if (match(s, sig, from, since))
			return 1;
		left = (until - clock_boot_ns()) / NS_PER_MS;
		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return 0;
		if (pfd.revents & (POLLHUP | POLLERR) && !(pfd.revents & POLLIN))
			return 0; /* the sentinel is gone (a group kill): nothing more */
	}
}

pid_t sentinel_pid(const struct sentinel *s)
{
	return s->pid;
}

void sentinel_reaped(struct sentinel *s)
{
	s->pid = 0; /* never signal a pid that may have been reused */
}

void sentinel_stop(struct sentinel *s)
{
	drain(s); /* what it reported so far is kept */
	if (s->pid > 0) {
		int st;
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->pid = 0;
	s->fd = -1;
}
