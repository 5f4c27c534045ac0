#include "guardian.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h" /* xstrdup() */
#include "child.h"
#include "clock.h"
#include "log.h"
#include "plan.h"

#define GUARDIAN_PROTO "1"

extern char **environ;

/* One record on either pipe: 16 bytes, written whole (< PIPE_BUF, so atomic). */
enum {
	/* tflock -> guardian */
	M_RENEWED = 1, /* b: send time of a successful renewal */
	M_SIGNAL,      /* a: signal to forward */
	M_INTERRUPT,   /* the lease SIGINT (at most once) */
	M_KILL,        /* kill the whole tree */
	/* guardian -> tflock */
	M_STARTED = 16, /* a: pid, b: pgid */
	M_EXEC_FAILED,  /* a: errno of the command's exec */
	M_SELF_FAILED,  /* a: errno of the guardian's own exec */
	M_EXITED,       /* a: wait status, b: when */
	M_LEASE_INT,    /* b: the renewal send it counted from */
	M_LEASE_KILL,
	M_GONE,
};

struct gmsg {
	int32_t type;
	int32_t a;
	int64_t b;
};

static void put(int fd, int type, int32_t a, int64_t b)
{
	struct gmsg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.a = a;
	m.b = b;
	if (fd >= 0 && write(fd, &m, sizeof(m)) < 0) {
		/* the other side is gone (EPIPE) or not reading (EAGAIN): nothing to do;
		 * a guardian that misses a renewal kills early, never late */
	}
}

enum guardian_action guardian_plan(const struct guardian_state *s, int64_t now, int64_t *next,
                                   enum guardian_why *why)
{
	*next = INT64_MAX;
	*why = GW_NONE;
	if (s->killing)
		return GA_NONE;
	if (s->eof) {
		*why = GW_EOF;
		return GA_KILL;
	}
	if (s->kill_asked) {
		*why = GW_ASKED;
		return GA_KILL;
	}
	if (s->lease_ns > 0) {
		/* the same deadlines tflock's own loop counts (plan.h) */
		struct plan_lease d = plan_lease(s->renew_send_ns, s->lease_ns, s->margin_ns);
		if (now >= d.kill_at) {
			*why = GW_LEASE;
			return GA_KILL;
		}
		*next = d.kill_at;
		if (!s->int_sent && !s->cmd_reaped) {
			if (now >= d.int_at) {
				*why = GW_LEASE;
				return GA_INTERRUPT;
			}
			if (d.int_at < *next)
				*next = d.int_at;
		}
	}
	if (s->int_asked && !s->int_sent && !s->cmd_reaped) {
		*why = GW_ASKED;
		return GA_INTERRUPT;
	}
	return GA_NONE;
}

/* Add pid to out (at most max); returns the new count. */
static int add_pid(pid_t *out, int n, int max, long pid, pid_t spare)
{
	if (pid > 0 && pid != spare && n < max)
		out[n++] = (pid_t)pid;
	return n;
}

/* The direct children of the calling thread; where the kernel lacks
 * /proc/PID/task/TID/children, the processes whose parent is this process. */
static int list_children(pid_t *out, int max, pid_t spare)
{
	char path[300];
	int fd, n = 0;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)gettid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[4096];
		ssize_t r;
		long cur = -1;
		while ((r = read(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < r; i++) {
				if (buf[i] >= '0' && buf[i] <= '9') {
					cur = (cur < 0 ? 0 : cur * 10) + (buf[i] - '0');
				} else if (cur >= 0) {
					n = add_pid(out, n, max, cur, spare);
					cur = -1;
				}
			}
		}
		close(fd);
		return add_pid(out, n, max, cur, spare);
	}
	d = opendir("/proc");
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		FILE *fp;
		char line[1024], *rp;
		long ppid;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fp = fopen(path, "re");
		if (!fp)
			continue;
		rp = fgets(line, sizeof(line), fp) ? strrchr(line, ')') : NULL;
		fclose(fp);
		/* "PID (COMM) STATE PPID ..." */
		if (rp && sscanf(rp + 1, " %*c %ld", &ppid) == 1 && ppid == (long)getpid())
			n = add_pid(out, n, max, atol(de->d_name), spare);
	}
	closedir(d);
	return n;
}

int guardian_kill_round(pid_t pgid, pid_t spare, pid_t *stuck)
{
	pid_t kids[4096];
	int n, k = 0;

	*stuck = 0;
	if (pgid > 0 && kill(-pgid, SIGKILL) == 0)
		k++;
	n = list_children(kids, 4096, spare);
	/* each is our unreaped child until we reap it, which we do not do here:
	 * its pid cannot have been reused */
	for (int i = 0; i < n; i++) {
		if (kill(kids[i], SIGKILL) == 0)
			k++;
		else if (errno == EPERM)
			*stuck = kids[i];
	}
	return k;
}

/* The command is reaped, its group may be gone: a forwarded signal goes to
 * what it left running, our direct children (reparented to us, unreaped, so
 * their pids cannot have been reused). */
static void signal_children(int sig)
{
	pid_t kids[4096];
	int n = list_children(kids, 4096, 0);
	for (int i = 0; i < n; i++)
		kill(kids[i], sig);
	log_event("guardian-signal-left signal=%d n=%d", sig, n);
}

/* ---- tflock's side ---- */

/* The binary's path as the kernel knows it (under valgrind, the client's);
 * replaced meanwhile: the running image through /proc. */
static void self_exe(char *exe, size_t size)
{
	ssize_t len = readlink("/proc/self/exe", exe, size - 1);
	if (len <= 0 || len >= (ssize_t)size - 1) {
		snprintf(exe, size, "/proc/self/exe");
	} else {
		exe[len] = '\0';
		if (len > 10 && !strcmp(exe + len - 10, " (deleted)"))
			snprintf(exe, size, "/proc/self/exe");
	}
}

/* The guardian's command line: "tflock-guardian PROTO CTL ST MODE LEASE MARGIN
 * SEND MASK EVLOG LEVEL -- ARGV..." (guardian_main() reads it back). */
struct gargs {
	char name[sizeof(GUARDIAN_ARGV0)], proto[sizeof(GUARDIAN_PROTO)], dash[3];
	char ctl[16], st[16], mode[32], lease[32], margin[32], send[32], mask[32], level[16];
	char *ev;    /* malloc'd */
	char **argv; /* malloc'd; the strings are the fields above and the caller's */
};

static void gargs_free(struct gargs *a)
{
	free(a->argv);
	free(a->ev);
	a->argv = NULL;
	a->ev = NULL;
}

static int gargs_build(struct gargs *a, char *const argv[], int ctl, int st,
                       const struct guardian_opts *o)
{
	const char *evlog = getenv("TFLOCK_EVENT_LOG");
	uint64_t bits = 0;
	size_t n = 0, k = 0;

	for (int s = 1; s < 64 && s < NSIG; s++)
		if (o->orig_mask && sigismember(o->orig_mask, s) == 1)
			bits |= 1ULL << s;
	snprintf(a->name, sizeof(a->name), "%s", GUARDIAN_ARGV0);
	snprintf(a->proto, sizeof(a->proto), "%s", GUARDIAN_PROTO);
	snprintf(a->dash, sizeof(a->dash), "--");
	snprintf(a->ctl, sizeof(a->ctl), "%d", ctl);
	snprintf(a->st, sizeof(a->st), "%d", st);
	if (o->own_group)
		snprintf(a->mode, sizeof(a->mode), "own");
	else
		snprintf(a->mode, sizeof(a->mode), "join:%ld", (long)getpgrp());
	snprintf(a->lease, sizeof(a->lease), "%lld", (long long)o->lease_ms);
	snprintf(a->margin, sizeof(a->margin), "%lld", (long long)o->margin_ms);
	snprintf(a->send, sizeof(a->send), "%lld", (long long)o->renew_send_ns);
	snprintf(a->mask, sizeof(a->mask), "%llx", (unsigned long long)bits);
	snprintf(a->level, sizeof(a->level), "%d", log_level);
	a->ev = xstrdup(evlog && *evlog ? evlog : "-");
	while (argv[n])
		n++;
	a->argv = calloc(n + 13, sizeof(char *));
	if (!a->argv)
		return -1;
	a->argv[k++] = a->name;
	a->argv[k++] = a->proto;
	a->argv[k++] = a->ctl;
	a->argv[k++] = a->st;
	a->argv[k++] = a->mode;
	a->argv[k++] = a->lease;
	a->argv[k++] = a->margin;
	a->argv[k++] = a->send;
	a->argv[k++] = a->mask;
	a->argv[k++] = a->ev;
	a->argv[k++] = a->level;
	a->argv[k++] = a->dash;
	for (size_t i = 0; i < n; i++)
		a->argv[k++] = argv[i];
	a->argv[k] = NULL;
	return 0;
}

/* The guardian's first word: the command runs (0, g filled), or it could not
 * be started (the guardian is reaped, g's pipes closed, err set). */
static int await_start(struct guardian *g, const char *argv0, const char *exe, struct tf_error *err)
{
	struct gmsg m;
	ssize_t len;
	int ret, ws;

	do
		len = read(g->st_fd, &m, sizeof(m));
	while (len < 0 && errno == EINTR);
	if (len == (ssize_t)sizeof(m) && m.type == M_STARTED) {
		g->cmd_pid = (pid_t)m.a;
		g->cmd_pgid = (pid_t)m.b;
		fcntl(g->ctl_fd, F_SETFL, O_NONBLOCK);
		fcntl(g->st_fd, F_SETFL, O_NONBLOCK);
		return 0;
	}
	if (len == (ssize_t)sizeof(m) && m.type == M_EXEC_FAILED && m.a == ENOENT)
		ret = err_set(err, ERR_NOT_FOUND, "cannot run '%s': command not found", argv0);
	else if (len == (ssize_t)sizeof(m) && m.type == M_EXEC_FAILED)
		ret = err_set(err, ERR_SYSTEM, "cannot run '%s': %s", argv0, strerror(m.a));
	else if (len == (ssize_t)sizeof(m) && m.type == M_SELF_FAILED)
		ret = err_set(err, ERR_SYSTEM, "cannot start the guardian for '%s' (%s): %s", argv0,
		              exe, strerror(m.a));
	else
		ret = err_set(err, ERR_SYSTEM, "cannot start the guardian for '%s': it exited",
		              argv0);
	while (waitpid(g->pid, &ws, 0) < 0 && errno == EINTR)
		;
	g->pid = 0;
	guardian_close(g);
	return ret;
}

int guardian_spawn(struct guardian *g, char *const argv[], char *const envp[],
                   const struct guardian_opts *o, struct tf_error *err)
{
	int ctl[2] = { -1, -1 }, st[2] = { -1, -1 }, ret;
	char exe[4096];
	struct gargs a;
	pid_t pid;

	memset(g, 0, sizeof(*g));
	memset(&a, 0, sizeof(a));
	g->ctl_fd = g->st_fd = -1;
	self_exe(exe, sizeof(exe));
	if (pipe2(ctl, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) {
		ret = err_set(err, ERR_SYSTEM, "cannot start the guardian: pipe: %s",
		              strerror(errno));
		goto fail;
	}
	if (gargs_build(&a, argv, ctl[0], st[1], o)) {
		ret = err_set(err, ERR_SYSTEM, "cannot start the guardian: out of memory");
		goto fail;
	}

	pid = fork();
	if (pid < 0) {
		ret = err_set(err, ERR_SYSTEM, "cannot start the guardian: fork: %s",
		              strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* only async-signal-safe calls until exec: tflock has threads */
		struct gmsg f;
		setpgid(0, 0);
		fcntl(ctl[0], F_SETFD, 0);
		fcntl(st[1], F_SETFD, 0);
		execve(exe, a.argv, envp);
		memset(&f, 0, sizeof(f));
		f.type = M_SELF_FAILED;
		f.a = errno;
		if (write(st[1], &f, sizeof(f)) < 0) {
			/* nothing more we can do */
		}
		_exit(127);
	}
	setpgid(pid, pid); /* also here: no race with the first kill of our group */
	close(ctl[0]);
	close(st[1]);
	g->pid = pid;
	g->ctl_fd = ctl[1];
	g->st_fd = st[0];
	gargs_free(&a);
	return await_start(g, argv[0], exe, err);
fail:
	gargs_free(&a);
	for (int i = 0; i < 2; i++) {
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (st[i] >= 0)
			close(st[i]);
	}
	return ret;
}

void guardian_renewed(struct guardian *g, int64_t send_ns)
{
	if (send_ns <= g->sent_renewal)
		return;
	g->sent_renewal = send_ns;
	put(g->ctl_fd, M_RENEWED, 0, send_ns);
}

void guardian_signal(struct guardian *g, int sig)
{
	put(g->ctl_fd, M_SIGNAL, sig, 0);
}

void guardian_interrupt(struct guardian *g)
{
	put(g->ctl_fd, M_INTERRUPT, 0, 0);
}

void guardian_kill(struct guardian *g)
{
	if (g->kill_sent)
		return;
	g->kill_sent = 1;
	put(g->ctl_fd, M_KILL, 0, 0);
}

void guardian_read(struct guardian *g)
{
	struct gmsg ms[32];

	while (g->st_fd >= 0) {
		ssize_t len = read(g->st_fd, ms, sizeof(ms));
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return; /* EAGAIN: nothing more now */
		if (len == 0) {
			g->eof = 1;
			close(g->st_fd);
			g->st_fd = -1;
			return;
		}
		for (ssize_t i = 0; i + (ssize_t)sizeof(ms[0]) <= len; i += sizeof(ms[0])) {
			const struct gmsg *m = &ms[i / (ssize_t)sizeof(ms[0])];
			if (m->type == M_EXITED) {
				g->exited = 1;
				g->status = m->a;
				g->exit_ns = m->b;
			} else if (m->type == M_LEASE_INT) {
				g->lease_int = 1;
			} else if (m->type == M_LEASE_KILL) {
				g->lease_kill = 1;
			} else if (m->type == M_GONE) {
				g->gone = 1;
			}
		}
	}
}

void guardian_close(struct guardian *g)
{
	if (g->ctl_fd >= 0)
		close(g->ctl_fd);
	if (g->st_fd >= 0)
		close(g->st_fd);
	g->ctl_fd = g->st_fd = -1;
}

/* ---- the guardian process ---- */

static const char *why_name(enum guardian_why w)
{
	return w == GW_LEASE ? "lease" : w == GW_ASKED ? "asked" : w == GW_EOF ? "eof" : "none";
}

/* The guardian process: its state across the turns of its loop. */
struct gd {
	struct guardian_state s;
	struct child c;
	int ctl, st, sfd;
	char **cmd;
	pid_t last_stuck;
};

/* Out of tflock's group (a group kill of it never reaches us), the reaper of
 * every orphaned descendant, deaf to the signals a group or terminal sends;
 * SIGCHLD read from a signalfd. */
static void gd_setup(struct gd *d, const char *evlog)
{
	static const int ignored[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
		                       SIGPIPE, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU };
	struct sigaction sa;
	sigset_t chld;

	setpgid(0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		sigaction(ignored[i], &sa, NULL);
	child_close_fds(d->ctl, d->st);
	fcntl(d->ctl, F_SETFD, FD_CLOEXEC);
	fcntl(d->st, F_SETFD, FD_CLOEXEC);
	fcntl(d->ctl, F_SETFL, O_NONBLOCK);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	d->sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (strcmp(evlog, "-")) {
		/* opened by the first event, then out of the command's environment */
		setenv("TFLOCK_EVENT_LOG", evlog, 1);
		log_event("guardian-start lease_ms=%lld", (long long)(d->s.lease_ns / NS_PER_MS));
		unsetenv("TFLOCK_EVENT_LOG");
	}
}

/* Carry out what guardian_plan() says is due, and a kill round while killing.
 * Returns when to look again (INT64_MAX: when the pipe or a child speaks). */
static int64_t gd_act(struct gd *d, int64_t now)
{
	struct guardian_state *s = &d->s;
	enum guardian_action a;
	enum guardian_why why;
	int64_t next;

	while ((a = guardian_plan(s, now, &next, &why)) != GA_NONE) {
		if (a == GA_INTERRUPT) {
			s->int_sent = 1;
			log_event("guardian-interrupt why=%s", why_name(why));
			kill(d->c.pgid > 0 ? -d->c.pgid : d->c.pid, SIGINT);
			if (why == GW_LEASE)
				put(d->st, M_LEASE_INT, 0, s->renew_send_ns);
		} else {
			s->killing = 1;
			log_event("guardian-kill why=%s", why_name(why));
			if (why == GW_LEASE)
				put(d->st, M_LEASE_KILL, 0, s->renew_send_ns);
		}
	}
	if (s->killing) {
		pid_t stuck;
		/* the group only while its leader, the command, is unreaped */
		guardian_kill_round(s->cmd_reaped ? 0 : d->c.pgid, 0, &stuck);
		if (stuck && stuck != d->last_stuck)
			log_warn("cannot kill process %d, started by '%s': %s; the lock is "
			         "kept while it runs",
			         (int)stuck, d->cmd[0], strerror(EPERM));
		d->last_stuck = stuck;
		next = now + (stuck ? 100 : 10) * NS_PER_MS;
	}
	return next;
}

/* Reap what exited; the command's status goes to tflock. Returns 1 when the
 * command and every descendant are gone (reported). */
static int gd_reap(struct gd *d)
{
	for (;;) {
		int ws;
		pid_t p = waitpid(-1, &ws, WNOHANG);
		if (p > 0) {
			if (p == d->c.pid && !d->s.cmd_reaped) {
				d->s.cmd_reaped = 1;
				put(d->st, M_EXITED, ws, clock_boot_ns());
				log_event("guardian-child-exit status=%d", ws);
			}
			continue;
		}
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0 && errno == ECHILD && d->s.cmd_reaped) {
			log_event("guardian-gone");
			put(d->st, M_GONE, 0, 0);
			return 1;
		}
		return 0;
	}
}

/* What tflock wrote on the control pipe; EOF: tflock is gone. */
static void gd_read_ctl(struct gd *d)
{
	struct guardian_state *s = &d->s;
	struct gmsg ms[32];
	ssize_t len;

	while ((len = read(d->ctl, ms, sizeof(ms))) != 0) {
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			break;
		for (ssize_t i = 0; i + (ssize_t)sizeof(ms[0]) <= len; i += sizeof(ms[0])) {
			const struct gmsg *m = &ms[i / (ssize_t)sizeof(ms[0])];
			if (m->type == M_RENEWED && m->b > s->renew_send_ns)
				s->renew_send_ns = m->b;
			else if (m->type == M_SIGNAL && !s->cmd_reaped)
				kill(d->c.pgid > 0 ? -d->c.pgid : d->c.pid, m->a);
			else if (m->type == M_SIGNAL)
				signal_children(m->a);
			else if (m->type == M_INTERRUPT)
				s->int_asked = 1;
			else if (m->type == M_KILL)
				s->kill_asked = 1;
		}
	}
	if (len == 0) /* tflock is gone */
		s->eof = 1;
}

int guardian_main(int argc, char **argv)
{
	struct gd d;
	struct tf_error err;
	sigset_t mask;
	unsigned long long bits;
	pid_t join;

	if (argc < 13 || strcmp(argv[1], GUARDIAN_PROTO) || strcmp(argv[11], "--")) {
		fprintf(stderr, "tflock: the guardian mode is internal to tflock\n");
		return 64;
	}
	memset(&d, 0, sizeof(d));
	d.ctl = atoi(argv[2]);
	d.st = atoi(argv[3]);
	join = !strcmp(argv[4], "own") ? 0 : (pid_t)atol(argv[4] + 5);
	d.s.lease_ns = atoll(argv[5]) * NS_PER_MS;
	d.s.margin_ns = atoll(argv[6]) * NS_PER_MS;
	d.s.renew_send_ns = atoll(argv[7]);
	bits = strtoull(argv[8], NULL, 16);
	log_level = atoi(argv[10]);
	d.cmd = argv + 12;
	gd_setup(&d, argv[9]);

	sigemptyset(&mask);
	for (int i = 1; i < 64 && i < NSIG; i++)
		if (bits & (1ULL << i))
			sigaddset(&mask, i);
	err_clear(&err);
	if (child_spawn_group(&d.c, d.cmd, environ, join, &mask, &err)) {
		put(d.st, M_EXEC_FAILED, d.c.exec_errno ? d.c.exec_errno : EAGAIN, 0);
		return 0;
	}
	put(d.st, M_STARTED, (int32_t)d.c.pid, d.c.pgid);
	log_event("guardian-child pid=%d pgid=%d", (int)d.c.pid, (int)d.c.pgid);

	for (;;) {
		int64_t now = clock_boot_ns(), next = gd_act(&d, now);
		struct pollfd pfd[2] = { { d.s.eof ? -1 : d.ctl, POLLIN, 0 },
			                 { d.sfd, POLLIN, 0 } };
		int timeout;

		if (gd_reap(&d))
			return 0;
		now = clock_boot_ns();
		if (next == INT64_MAX)
			timeout = -1;
		else if (next <= now)
			timeout = 0;
		else
			timeout = (int)((next - now) / NS_PER_MS) + 1;
		if (poll(pfd, 2, timeout) < 0)
			continue; /* EINTR, or nothing sensible to do but go round */
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(d.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			gd_read_ctl(&d);
	}
}
