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
#include "http.h" /* clock_boot_ns() */
#include "log.h"

#define NS_PER_MS 1000000LL
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
		int64_t kill_at = s->renew_send_ns + s->lease_ns - s->margin_ns;
		int64_t int_at = s->renew_send_ns + s->lease_ns / 2;
		if (now >= kill_at) {
			*why = GW_LEASE;
			return GA_KILL;
		}
		*next = kill_at;
		if (!s->int_sent && !s->cmd_reaped) {
			if (now >= int_at) {
				*why = GW_LEASE;
				return GA_INTERRUPT;
			}
			if (int_at < *next)
				*next = int_at;
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
	char path[300], buf[4096];
	int fd, n = 0;
	ssize_t r;
	long cur = -1;
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)gettid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
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

int guardian_spawn(struct guardian *g, char *const argv[], char *const envp[],
                   const struct guardian_opts *o, struct tf_error *err)
{
	int ctl[2] = { -1, -1 }, st[2] = { -1, -1 }, ret = 0;
	char exe[4096], a_ctl[16], a_st[16], a_mode[32], a_lease[32], a_margin[32], a_send[32],
	        a_mask[32], a_level[16];
	char a_name[] = GUARDIAN_ARGV0, a_proto[] = GUARDIAN_PROTO, a_dash[] = "--";
	char *a_ev = NULL;
	const char *evlog = getenv("TFLOCK_EVENT_LOG");
	char **gargv = NULL;
	size_t n = 0, k = 0;
	uint64_t bits = 0;
	ssize_t len;
	struct gmsg m;
	pid_t pid;

	memset(g, 0, sizeof(*g));
	g->ctl_fd = g->st_fd = -1;
	/* the binary's path as the kernel knows it (under valgrind, the client's);
	 * replaced meanwhile: the running image through /proc */
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0 || len >= (ssize_t)sizeof(exe) - 1) {
		snprintf(exe, sizeof(exe), "/proc/self/exe");
	} else {
		exe[len] = '\0';
		if (len > 10 && !strcmp(exe + len - 10, " (deleted)"))
			snprintf(exe, sizeof(exe), "/proc/self/exe");
	}
	if (pipe2(ctl, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) {
		ret = err_set(err, ERR_SYSTEM, "cannot start the guardian: pipe: %s",
		              strerror(errno));
		goto fail;
	}
	for (int s = 1; s < 64 && s < NSIG; s++)
		if (o->orig_mask && sigismember(o->orig_mask, s) == 1)
			bits |= 1ULL << s;
	snprintf(a_ctl, sizeof(a_ctl), "%d", ctl[0]);
	snprintf(a_st, sizeof(a_st), "%d", st[1]);
	if (o->own_group)
		snprintf(a_mode, sizeof(a_mode), "own");
	else
		snprintf(a_mode, sizeof(a_mode), "join:%ld", (long)getpgrp());
	snprintf(a_lease, sizeof(a_lease), "%lld", (long long)o->lease_ms);
	snprintf(a_margin, sizeof(a_margin), "%lld", (long long)o->margin_ms);
	snprintf(a_send, sizeof(a_send), "%lld", (long long)o->renew_send_ns);
	snprintf(a_mask, sizeof(a_mask), "%llx", (unsigned long long)bits);
	snprintf(a_level, sizeof(a_level), "%d", log_level);
	a_ev = xstrdup(evlog && *evlog ? evlog : "-");
	while (argv[n])
		n++;
	gargv = calloc(n + 13, sizeof(char *));
	if (!gargv) {
		ret = err_set(err, ERR_SYSTEM, "cannot start the guardian: out of memory");
		goto fail;
	}
	gargv[k++] = a_name;
	gargv[k++] = a_proto;
	gargv[k++] = a_ctl;
	gargv[k++] = a_st;
	gargv[k++] = a_mode;
	gargv[k++] = a_lease;
	gargv[k++] = a_margin;
	gargv[k++] = a_send;
	gargv[k++] = a_mask;
	gargv[k++] = a_ev;
	gargv[k++] = a_level;
	gargv[k++] = a_dash;
	for (size_t i = 0; i < n; i++)
		gargv[k++] = argv[i];
	gargv[k] = NULL;

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
		execve(exe, gargv, envp);
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
	ctl[0] = st[1] = -1;
	g->pid = pid;
	g->ctl_fd = ctl[1];
	g->st_fd = st[0];
	free(gargv);
	gargv = NULL;
	free(a_ev);
	a_ev = NULL;

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
		ret = err_set(err, ERR_NOT_FOUND, "cannot run '%s': command not found", argv[0]);
	else if (len == (ssize_t)sizeof(m) && m.type == M_EXEC_FAILED)
		ret = err_set(err, ERR_SYSTEM, "cannot run '%s': %s", argv[0], strerror(m.a));
	else if (len == (ssize_t)sizeof(m) && m.type == M_SELF_FAILED)
		ret = err_set(err, ERR_SYSTEM, "cannot start the guardian for '%s' (%s): %s",
		              argv[0], exe, strerror(m.a));
	else
		ret = err_set(err, ERR_SYSTEM, "cannot start the guardian for '%s': it exited",
		              argv[0]);
	{
		int ws;
		while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
			;
	}
	g->pid = 0;
	guardian_close(g);
	return ret;
fail:
	free(gargv);
	free(a_ev);
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
	ssize_t len;

	while (g->st_fd >= 0) {
		len = read(g->st_fd, ms, sizeof(ms));
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

int guardian_main(int argc, char **argv)
{
	static const int ignored[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
		                       SIGPIPE, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU };
	struct guardian_state s;
	struct child c;
	struct tf_error err;
	struct sigaction sa;
	sigset_t mask, chld;
	unsigned long long bits;
	pid_t join, last_stuck = 0;
	int ctl, st, sfd;
	char **cmd;

	if (argc < 13 || strcmp(argv[1], GUARDIAN_PROTO) || strcmp(argv[11], "--")) {
		fprintf(stderr, "tflock: the guardian mode is internal to tflock\n");
		return 64;
	}
	ctl = atoi(argv[2]);
	st = atoi(argv[3]);
	join = !strcmp(argv[4], "own") ? 0 : (pid_t)atol(argv[4] + 5);
	memset(&s, 0, sizeof(s));
	s.lease_ns = atoll(argv[5]) * NS_PER_MS;
	s.margin_ns = atoll(argv[6]) * NS_PER_MS;
	s.renew_send_ns = atoll(argv[7]);
	bits = strtoull(argv[8], NULL, 16);
	log_level = atoi(argv[10]);
	cmd = argv + 12;

	/* out of tflock's group (a group kill of it never reaches us), the reaper of
	 * every orphaned descendant, deaf to the signals a group or terminal sends */
	setpgid(0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		sigaction(ignored[i], &sa, NULL);
	child_close_fds(ctl, st);
	fcntl(ctl, F_SETFD, FD_CLOEXEC);
	fcntl(st, F_SETFD, FD_CLOEXEC);
	fcntl(ctl, F_SETFL, O_NONBLOCK);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (strcmp(argv[9], "-")) {
		/* opened by the first event, then out of the command's environment */
		setenv("TFLOCK_EVENT_LOG", argv[9], 1);
		log_event("guardian-start lease_ms=%lld", (long long)(s.lease_ns / NS_PER_MS));
		unsetenv("TFLOCK_EVENT_LOG");
	}

	sigemptyset(&mask);
	for (int i = 1; i < 64 && i < NSIG; i++)
		if (bits & (1ULL << i))
			sigaddset(&mask, i);
	err_clear(&err);
	if (child_spawn_group(&c, cmd, environ, join, &mask, &err)) {
		put(st, M_EXEC_FAILED, c.exec_errno ? c.exec_errno : EAGAIN, 0);
		return 0;
	}
	put(st, M_STARTED, (int32_t)c.pid, c.pgid);
	log_event("guardian-child pid=%d pgid=%d", (int)c.pid, (int)c.pgid);

	for (;;) {
		int64_t now = clock_boot_ns(), next;
		enum guardian_action a;
		enum guardian_why why;
		struct pollfd pfd[2];
		int timeout;

		while ((a = guardian_plan(&s, now, &next, &why)) != GA_NONE) {
			if (a == GA_INTERRUPT) {
				s.int_sent = 1;
				log_event("guardian-interrupt why=%s", why_name(why));
				kill(c.pgid > 0 ? -c.pgid : c.pid, SIGINT);
				if (why == GW_LEASE)
					put(st, M_LEASE_INT, 0, s.renew_send_ns);
			} else {
				s.killing = 1;
				log_event("guardian-kill why=%s", why_name(why));
				if (why == GW_LEASE)
					put(st, M_LEASE_KILL, 0, s.renew_send_ns);
			}
		}
		if (s.killing) {
			pid_t stuck;
			/* the group only while its leader, the command, is unreaped */
			guardian_kill_round(s.cmd_reaped ? 0 : c.pgid, 0, &stuck);
			if (stuck && stuck != last_stuck)
				log_warn("cannot kill process %d, started by '%s': %s; the lock is "
				         "kept while it runs",
				         (int)stuck, cmd[0], strerror(EPERM));
			last_stuck = stuck;
			next = now + (stuck ? 100 : 10) * NS_PER_MS;
		}
		for (;;) {
			int ws;
			pid_t p = waitpid(-1, &ws, WNOHANG);
			if (p > 0) {
				if (p == c.pid && !s.cmd_reaped) {
					s.cmd_reaped = 1;
					put(st, M_EXITED, ws, clock_boot_ns());
					log_event("guardian-child-exit status=%d", ws);
				}
				continue;
			}
			if (p < 0 && errno == EINTR)
				continue;
			if (p < 0 && errno == ECHILD && s.cmd_reaped) {
				log_event("guardian-gone");
				put(st, M_GONE, 0, 0);
				return 0;
			}
			break;
		}

		pfd[0].fd = s.eof ? -1 : ctl;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		now = clock_boot_ns();
		if (next == INT64_MAX)
			timeout = -1;
		else if (next <= now)
			timeout = 0;
		else
			timeout = (int)((next - now) / NS_PER_MS) + 1;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			timeout = 0; /* nothing sensible to do but go round */
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			struct gmsg ms[32];
			ssize_t len;
			while ((len = read(ctl, ms, sizeof(ms))) != 0) {
				if (len < 0 && errno == EINTR)
					continue;
				if (len < 0)
					break;
				for (ssize_t i = 0; i + (ssize_t)sizeof(ms[0]) <= len;
				     i += sizeof(ms[0])) {
					const struct gmsg *m = &ms[i / (ssize_t)sizeof(ms[0])];
					if (m->type == M_RENEWED && m->b > s.renew_send_ns)
						s.renew_send_ns = m->b;
					else if (m->type == M_SIGNAL && !s.cmd_reaped)
						kill(c.pgid > 0 ? -c.pgid : c.pid, m->a);
					else if (m->type == M_SIGNAL)
						signal_children(m->a);
					else if (m->type == M_INTERRUPT)
						s.int_asked = 1;
					else if (m->type == M_KILL)
						s.kill_asked = 1;
				}
			}
			if (len == 0) /* tflock is gone */
				s.eof = 1;
		}
	}
}
