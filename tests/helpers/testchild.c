/*
 * testchild — a configurable child process for tflock's runner tests. It
 * records what it was given (arguments, environment, signal state, open file
 * descriptors, process group) and every signal it receives, and then plays a
 * script of actions, so a test can check how tflock starts, signals, waits for
 * and reaps a child.
 *
 * Usage:
 *   testchild [--log FILE] [ACTION...]
 *
 * The log goes to FILE, else to the file named by $TESTCHILD_LOG, else to
 * standard error. It is opened with O_APPEND and every line is one write(2),
 * so lines from the child and its grandchildren never mix. Times are
 * CLOCK_BOOTTIME in nanoseconds. Log lines, in order:
 *
 *   start NS pid=PID pgid=PGID ppid=PPID
 *   parent ARGV0 ppid=PPID       the parent's argv[0] and its own parent (from /proc),
 *                                so a test can see through tflock's guardian
 *   argv I ARG                   one per argument, I from 0
 *   env NAME=VALUE               variables named TFLOCK_*, TF_CLI_ARGS*, AWS_*,
 *                                in environment order; the values of
 *                                AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN
 *                                are logged as "[set]"
 *   state NS sid=SID tty-fg=PGID|- blocked=SIGS|- ignored=SIGS|-
 *         pdeathsig=SIG|0 fds=FD,FD|-
 *                                as inherited: blocked signals, signals ignored
 *                                on entry, the parent-death signal, the
 *                                foreground process group of the controlling
 *                                terminal and the descriptors open above 2
 *                                (the log's own descriptor left out)
 *   signal NS NAME code=SI_CODE from=SI_PID
 *                                every SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 *                                SIGUSR1 and SIGUSR2 received (SI_CODE in
 *                                decimal: 0 kill(2), 128 kernel/tty, -6 tkill)
 *   graceful NS                  tf-like: first SIGINT/SIGTERM, stopping
 *   immediate NS                 tf-like: second one during the graceful stop
 *   grandchild NS pid=PID pgid=PGID ppid=PPID [kind=setsid|daemon]
 *   grandchild-exit NS pid=PID
 *   wait-file-timeout NS PATH
 *   die NS NAME                  just before raising a signal on itself
 *   exit NS STATUS               just before exiting normally
 *
 * Arguments and values are written with C escapes for control characters
 * and backslashes, so every record stays on one line.
 *
 * The signal handlers are installed before the first line is written: once
 * "start" is in the log, a signal is caught and logged, never fatal. The
 * "state" line is the last line written before the actions run; a test that
 * waits for it knows the child is ready.
 *
 * Actions run in order; when all have run, testchild exits 0.
 *   exit=N          exit with status N
 *   sleep=MS        wait MS ms; signals are logged and do not shorten it
 *                   (except under tf-like)
 *   run=MS          wait MS ms, then exit 0; SIGINT, SIGTERM, SIGHUP and
 *                   SIGQUIT end it at once with status 128+signal (SIGINT and
 *                   SIGTERM follow tf-like instead when that is on)
 *   die=SIG         raise SIG (number or name, with or without SIG) with its
 *                   default action
 *   ignore=SIG      ignore SIG from now on (it is then neither received nor
 *                   logged; ignore=SIGINT is what "nohup"-like children do)
 *   tf-like         behave like terraform from now on: the first SIGINT or
 *                   SIGTERM starts a graceful stop that exits 1 after the
 *                   graceful period, a second one during it exits 130 at once;
 *                   the current and later actions are abandoned. As the last
 *                   action it waits up to 600 s for a signal, then exits 0
 *   graceful=MS     the graceful period (default 200 ms)
 *   spawn=MS        fork a grandchild that keeps stdout/stderr and the log,
 *                   gets default signal handling, sleeps MS ms, logs
 *                   grandchild-exit and exits 0; testchild does not wait for it
 *   spawn-setsid=MS the same, but the grandchild calls setsid() first (a new
 *                   session and group: a group kill of ours misses it)
 *   daemon=MS       a double-forked daemon: a child calls setsid() and forks
 *                   the grandchild, then exits (testchild reaps it), so the
 *                   grandchild is an orphan from the start; it ignores SIGHUP,
 *                   SIGINT and SIGTERM, then sleeps MS ms as above
 *   flood=N         write N lines "testchild flood line I of N on fd 1" to
 *                   standard output (a closed pipe kills it with SIGPIPE)
 *   flood-err=N     the same on standard error
 *   echo=TEXT       write TEXT and a newline to standard output
 *   wait-file=PATH  poll every 10 ms until PATH exists (at most 600 s, then
 *                   log wait-file-timeout and exit 3)
 *   touch=PATH      create PATH (empty) if it does not exist
 *   wrap            a wrapper like setup-terraform's node one: run the command
 *                   after "--" (execvp) as a child in our process group, with
 *                   default signal handling, and wait for it; meanwhile
 *                   SIGINT, SIGTERM, SIGHUP and SIGQUIT kill us at once (a
 *                   process with no handlers), leaving the child running.
 *                   Logs "wrap NS pid=CHILD" and, if we live to see it,
 *                   "wrap-exit NS STATUS"; exits with the child's status
 *                   (128+signal when it was killed)
 *
 * Exit status 64 on a usage error.
 */
#define _GNU_SOURCE 1

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 8192
#define WAIT_FILE_LIMIT_MS (600LL * 1000)
#define TF_LIKE_IDLE_MS (600LL * 1000)

extern char **environ;

struct sigrec {
	int signo;
	int code;
	pid_t pid;
	uint64_t ns;
};

struct signame {
	int signo;
	const char *name;
};

static const struct signame signames[] = {
	{ SIGHUP, "SIGHUP" },       { SIGINT, "SIGINT" },   { SIGQUIT, "SIGQUIT" },
	{ SIGILL, "SIGILL" },       { SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" },
	{ SIGBUS, "SIGBUS" },       { SIGFPE, "SIGFPE" },   { SIGKILL, "SIGKILL" },
	{ SIGUSR1, "SIGUSR1" },     { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
	{ SIGPIPE, "SIGPIPE" },     { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" },
	{ SIGCHLD, "SIGCHLD" },     { SIGCONT, "SIGCONT" }, { SIGSTOP, "SIGSTOP" },
	{ SIGTSTP, "SIGTSTP" },     { SIGTTIN, "SIGTTIN" }, { SIGTTOU, "SIGTTOU" },
	{ SIGURG, "SIGURG" },       { SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" },
	{ SIGVTALRM, "SIGVTALRM" }, { SIGPROF, "SIGPROF" }, { SIGWINCH, "SIGWINCH" },
	{ SIGIO, "SIGIO" },         { SIGSYS, "SIGSYS" },
};

/* The signals testchild catches and logs. */
static const int caught[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static int log_fd = -1;
static int sig_pipe[2] = { -1, -1 };

/* tf-like state */
static int tf_like;
static long long graceful_ms = 200;
static int graceful_started;
static long long graceful_deadline; /* monotonic ms */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("testchild: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(64);
}

static uint64_t boot_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *sig_name(int signo, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
		if (signames[i].signo == signo)
			return signames[i].name;
	if (signo >= SIGRTMIN && signo <= SIGRTMAX)
		snprintf(buf, len, "SIGRTMIN+%d", signo - SIGRTMIN);
	else
		snprintf(buf, len, "SIG%d", signo);
	return buf;
}

static int parse_signal(const char *s)
{
	if (*s >= '0' && *s <= '9') {
		char *end;
		long n;

		errno = 0;
		n = strtol(s, &end, 10);
		if (errno || *end || n < 1 || n >= NSIG)
			return -1;
		return (int)n;
	}
	for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++) {
		const char *name = signames[i].name;
		if (strcasecmp(s, name) == 0 || strcasecmp(s, name + 3) == 0)
			return signames[i].signo;
	}
	return -1;
}

static long long parse_num(const char *what, const char *s, long long max)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *end || n < 0 || n > max)
		die("%s: \"%s\" is not a number from 0 to %lld", what, s, max);
	return n;
}

/* Write all of buf, retrying on EINTR and short writes. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One log record: formatted, newline added, one write(2). */
static void logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_line(const char *fmt, ...)
{
	char buf[LINE_MAX_LEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	write_all(log_fd, buf, (size_t)n);
}

/* C-escape control characters and backslashes so a value stays on one line. */
static void escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s && o + 5 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c == '\t') {
			out[o++] = '\\';
			out[o++] = 't';
		} else if (c == '\r') {
			out[o++] = '\\';
			out[o++] = 'r';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static void on_signal(int signo, siginfo_t *si, void *ctx)
{
	int saved = errno;
	struct sigrec r;

	(void)ctx;
	r.signo = signo;
	r.code = si ? si->si_code : 0;
	r.pid = si ? si->si_pid : 0;
	r.ns = boot_ns();
	/* The pipe is non-blocking; a full pipe loses the record, never blocks. */
	if (write(sig_pipe[1], &r, sizeof(r)) < 0) {
		/* nothing safe to do here */
	}
	errno = saved;
}

static void install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	/* one handler at a time, so records queue in the order they are taken */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaddset(&sa.sa_mask, caught[i]);
	for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		if (sigaction(caught[i], &sa, NULL) != 0)
			die("sigaction: %s", strerror(errno));
}

static void list_append(char *buf, size_t len, const char *item)
{
	size_t used = strlen(buf);
	if (used + strlen(item) + 2 >= len)
		return;
	if (used)
		buf[used++] = ',';
	strcpy(buf + used, item);
}

/* Describe the inherited signal state, descriptors and terminal into buf. */
static void read_state(char *out, size_t outlen)
{
	char blocked[1024] = "", ignored[1024] = "", fds[1024] = "";
	char namebuf[32], num[32];
	sigset_t mask;
	int pdeath = 0;
	pid_t fg;
	DIR *d;

	sigprocmask(SIG_SETMASK, NULL, &mask);
	for (int s = 1; s < NSIG; s++) {
		struct sigaction old;
		if (sigismember(&mask, s) == 1)
			list_append(blocked, sizeof(blocked),
			            sig_name(s, namebuf, sizeof(namebuf)));
		if (s != SIGKILL && s != SIGSTOP && sigaction(s, NULL, &old) == 0 &&
		    !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
			list_append(ignored, sizeof(ignored),
			            sig_name(s, namebuf, sizeof(namebuf)));
	}
	if (prctl(PR_GET_PDEATHSIG, &pdeath, 0, 0, 0) != 0)
		pdeath = -1;

	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		int dfd = dirfd(d);
		while ((e = readdir(d)) != NULL) {
			char *end;
			long fd = strtol(e->d_name, &end, 10);
			if (*end || e->d_name[0] == '.' || fd <= 2 || fd == dfd || fd == log_fd ||
			    fd == sig_pipe[0] || fd == sig_pipe[1])
				continue;
			snprintf(num, sizeof(num), "%ld", fd);
			list_append(fds, sizeof(fds), num);
		}
		closedir(d);
	}

	fg = -1;
	{
		int tty = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
		if (tty >= 0) {
			fg = tcgetpgrp(tty);
			close(tty);
		}
	}
	if (fg >= 0)
		snprintf(num, sizeof(num), "%ld", (long)fg);
	else
		strcpy(num, "-");

	snprintf(out, outlen, "sid=%ld tty-fg=%s blocked=%s ignored=%s pdeathsig=%s fds=%s",
	         (long)getsid(0), num, *blocked ? blocked : "-", *ignored ? ignored : "-",
	         pdeath > 0 ? sig_name(pdeath, namebuf, sizeof(namebuf)) : "0", *fds ? fds : "-");
}

static void log_start(int argc, char **argv)
{
	char esc[LINE_MAX_LEN - 64];

	logf_line("start %llu pid=%ld pgid=%ld ppid=%ld", (unsigned long long)boot_ns(),
	          (long)getpid(), (long)getpgrp(), (long)getppid());
	{
		char path[64], comm[64] = "?";
		long pp = 0;
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)getppid());
		if ((f = fopen(path, "r"))) {
			size_t n = fread(comm, 1, sizeof(comm) - 1, f);
			comm[n] = '\0'; /* argv[0] ends at the first NUL */
			if (!n)
				snprintf(comm, sizeof(comm), "?");
			for (char *c = comm; *c; c++)
				if (*c == ' ')
					*c = '_';
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)getppid());
		if ((f = fopen(path, "r"))) {
			char stat[512];
			/* pid (comm) state ppid ...: ppid follows the last ')' */
			if (fgets(stat, sizeof(stat), f) && strrchr(stat, ')'))
				sscanf(strrchr(stat, ')') + 1, " %*c %ld", &pp);
			fclose(f);
		}
		logf_line("parent %s ppid=%ld", comm, pp);
	}
	for (int i = 0; i < argc; i++) {
		escape(argv[i], esc, sizeof(esc));
		logf_line("argv %d %s", i, esc);
	}
	for (char **e = environ; e && *e; e++) {
		const char *v = *e;
		if (strncmp(v, "TFLOCK_", 7) != 0 && strncmp(v, "TF_CLI_ARGS", 11) != 0 &&
		    strncmp(v, "AWS_", 4) != 0)
			continue;
		if (strncmp(v, "AWS_SECRET_ACCESS_KEY=", 22) == 0 ||
		    strncmp(v, "AWS_SESSION_TOKEN=", 18) == 0) {
			logf_line("env %.*s=[set]", (int)(strchr(v, '=') - v), v);
			continue;
		}
		escape(v, esc, sizeof(esc));
		logf_line("env %s", esc);
	}
}

static void do_exit(int status) __attribute__((noreturn));
static void do_exit(int status)
{
	logf_line("exit %llu %d", (unsigned long long)boot_ns(), status);
	exit(status);
}

/*
 * React to one received signal in normal context. mode_run: a terminating
 * signal ends the process (the run= action); otherwise it is only logged.
 * Returns 1 if the current wait must be abandoned (graceful stop started).
 */
static int handle_signal(const struct sigrec *r, int mode_run)
{
	char namebuf[32];

	logf_line("signal %llu %s code=%d from=%ld", (unsigned long long)r->ns,
	          sig_name(r->signo, namebuf, sizeof(namebuf)), r->code, (long)r->pid);

	if (tf_like && (r->signo == SIGINT || r->signo == SIGTERM)) {
		if (!graceful_started) {
			graceful_started = 1;
			graceful_deadline = mono_ms() + graceful_ms;
			logf_line("graceful %llu", (unsigned long long)boot_ns());
			return 1;
		}
		logf_line("immediate %llu", (unsigned long long)boot_ns());
		do_exit(130);
	}
	if (mode_run && (r->signo == SIGINT || r->signo == SIGTERM || r->signo == SIGHUP ||
	                 r->signo == SIGQUIT))
		do_exit(128 + r->signo);
	return 0;
}

/* Read and handle every queued signal record. */
static int drain_signals(int mode_run)
{
	struct sigrec r;
	int abandon = 0;

	for (;;) {
		ssize_t n = read(sig_pipe[0], &r, sizeof(r));
		if (n == (ssize_t)sizeof(r)) {
			abandon |= handle_signal(&r, mode_run);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	return abandon;
}

/* After a graceful stop has started: wait out the period, then exit 1. */
static void finish_graceful(void) __attribute__((noreturn));
static void finish_graceful(void)
{
	for (;;) {
		long long left = graceful_deadline - mono_ms();
		struct pollfd p = { .fd = sig_pipe[0], .events = POLLIN };
		if (left <= 0)
			do_exit(1);
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) > 0)
			drain_signals(0);
	}
}

/*
 * Wait ms milliseconds while handling signals. If path is set, return early
 * (0) once it exists, polling every 10 ms. Returns 1 when the time ran out.
 */
static int wait_ms(long long ms, int mode_run, const char *path)
{
	long long deadline = mono_ms() + ms;

	for (;;) {
		long long left, cap;
		int step;
		struct pollfd p = { .fd = sig_pipe[0], .events = POLLIN };

		if (path && access(path, F_OK) == 0)
			return 0;
		left = deadline - mono_ms();
		if (left <= 0)
			return 1;
		cap = path ? 10 : 1000;
		step = (int)(left > cap ? cap : left);
		if (poll(&p, 1, step) > 0 && drain_signals(mode_run))
			finish_graceful();
	}
}

static void flood(int fd, long long n)
{
	char buf[65536];
	size_t used = 0;

	for (long long i = 1; i <= n; i++) {
		int len = snprintf(buf + used, sizeof(buf) - used,
		                   "testchild flood line %lld of %lld on fd %d\n", i, n, fd);
		used += (size_t)len;
		if (sizeof(buf) - used < 128 || i == n) {
			if (write_all(fd, buf, used) != 0)
				return;
			used = 0;
		}
		if (drain_signals(0))
			finish_graceful();
	}
}

enum spawn_kind { SPAWN_PLAIN, SPAWN_SETSID, SPAWN_DAEMON };

static void spawn(long long ms, enum spawn_kind kind)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		if (kind == SPAWN_DAEMON) { /* the intermediate child exits at once */
			int st;
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
		}
		return;
	}
	if (kind != SPAWN_PLAIN)
		setsid();
	if (kind == SPAWN_DAEMON) {
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? 1 : 0);
	}

	/* grandchild: default signal handling, own sleep, then a log line */
	{
		struct sigaction sa;
		struct timespec until;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
			sigaction(caught[i], &sa, NULL);
		if (kind == SPAWN_DAEMON) {
			sa.sa_handler = SIG_IGN;
			sigaction(SIGHUP, &sa, NULL);
			sigaction(SIGINT, &sa, NULL);
			sigaction(SIGTERM, &sa, NULL);
		}
		close(sig_pipe[0]);
		close(sig_pipe[1]);

		logf_line("grandchild %llu pid=%ld pgid=%ld ppid=%ld%s",
		          (unsigned long long)boot_ns(), (long)getpid(), (long)getpgrp(),
		          (long)getppid(),
		          kind == SPAWN_SETSID   ? " kind=setsid"
		          : kind == SPAWN_DAEMON ? " kind=daemon"
		                                 : "");
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += ms / 1000;
		until.tv_nsec += (ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
			;
		logf_line("grandchild-exit %llu pid=%ld", (unsigned long long)boot_ns(),
		          (long)getpid());
		_exit(0);
	}
}

static void die_by(int signo)
{
	char namebuf[32];
	struct sigaction sa;
	sigset_t set;

	logf_line("die %llu %s", (unsigned long long)boot_ns(),
	          sig_name(signo, namebuf, sizeof(namebuf)));
	if (signo != SIGKILL && signo != SIGSTOP) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigemptyset(&sa.sa_mask);
		sigaction(signo, &sa, NULL);
	}
	sigemptyset(&set);
	sigaddset(&set, signo);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(signo);
	/* still here: the default action is to ignore or stop; carry on */
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die("touch \"%s\": %s", path, strerror(errno));
	close(fd);
}

static char **wrap_argv; /* after "--" */

static void wrap(void)
{
	struct sigaction sa;
	sigset_t none;
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		die("wrap: fork: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	if (pid == 0) {
		for (size_t i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
			sigaction(caught[i], &sa, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		close(sig_pipe[0]);
		close(sig_pipe[1]);
		execvp(wrap_argv[0], wrap_argv);
		_exit(127);
	}
	logf_line("wrap %llu pid=%ld", (unsigned long long)boot_ns(), (long)pid);
	/* no handlers from here on: a signal kills us, not our child */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("wrap: waitpid: %s", strerror(errno));
	logf_line("wrap-exit %llu %d", (unsigned long long)boot_ns(), st);
	do_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static void run_action(const char *a)
{
	const char *eq = strchr(a, '=');
	size_t klen = eq ? (size_t)(eq - a) : strlen(a);
	const char *v = eq ? eq + 1 : NULL;

#define IS(name) (klen == strlen(name) && strncmp(a, name, klen) == 0)
	if (IS("tf-like") && !v) {
		tf_like = 1;
		return;
	}
	if (IS("wrap") && !v) {
		wrap();
		return;
	}
	if (!v)
		die("unknown action \"%s\"", a);
	if (IS("exit")) {
		do_exit((int)parse_num("exit", v, 255));
	} else if (IS("sleep")) {
		wait_ms(parse_num("sleep", v, 86400000), 0, NULL);
	} else if (IS("run")) {
		wait_ms(parse_num("run", v, 86400000), 1, NULL);
		do_exit(0);
	} else if (IS("die")) {
		int s = parse_signal(v);
		if (s < 0)
			die("die: unknown signal \"%s\"", v);
		die_by(s);
	} else if (IS("ignore")) {
		int s = parse_signal(v);
		if (s < 0 || s == SIGKILL || s == SIGSTOP)
			die("ignore: cannot ignore signal \"%s\"", v);
		signal(s, SIG_IGN);
	} else if (IS("graceful")) {
		graceful_ms = parse_num("graceful", v, 86400000);
	} else if (IS("spawn")) {
		spawn(parse_num("spawn", v, 86400000), SPAWN_PLAIN);
	} else if (IS("spawn-setsid")) {
		spawn(parse_num("spawn-setsid", v, 86400000), SPAWN_SETSID);
	} else if (IS("daemon")) {
		spawn(parse_num("daemon", v, 86400000), SPAWN_DAEMON);
	} else if (IS("flood")) {
		flood(STDOUT_FILENO, parse_num("flood", v, 1000000000));
	} else if (IS("flood-err")) {
		flood(STDERR_FILENO, parse_num("flood-err", v, 1000000000));
	} else if (IS("echo")) {
		size_t len = strlen(v);
		char *line = malloc(len + 1);
		if (!line)
			die("out of memory");
		memcpy(line, v, len);
		line[len] = '\n';
		write_all(STDOUT_FILENO, line, len + 1);
		free(line);
	} else if (IS("wait-file")) {
		if (wait_ms(WAIT_FILE_LIMIT_MS, 0, v)) {
			char esc[LINE_MAX_LEN - 64];
			escape(v, esc, sizeof(esc));
			logf_line("wait-file-timeout %llu %s", (unsigned long long)boot_ns(), esc);
			do_exit(3);
		}
	} else if (IS("touch")) {
		touch(v);
	} else {
		die("unknown action \"%s\"", a);
	}
#undef IS
}

/* Reject an unknown action or a bad value before anything runs. */
static void check_action(const char *a)
{
	const char *eq = strchr(a, '=');
	size_t klen = eq ? (size_t)(eq - a) : strlen(a);
	const char *v = eq ? eq + 1 : NULL;
	int s;

#define IS(name) (klen == strlen(name) && strncmp(a, name, klen) == 0)
	if (IS("tf-like") && !v)
		return;
	if (IS("wrap") && !v) {
		if (!wrap_argv || !wrap_argv[0])
			die("wrap: no command after \"--\"");
		return;
	}
	if (!v)
		die("unknown action \"%s\"", a);
	if (IS("exit"))
		parse_num("exit", v, 255);
	else if (IS("sleep") || IS("run") || IS("graceful") || IS("spawn") || IS("spawn-setsid") ||
	         IS("daemon"))
		parse_num(a, v, 86400000);
	else if (IS("flood") || IS("flood-err"))
		parse_num(a, v, 1000000000);
	else if (IS("die") || IS("ignore")) {
		s = parse_signal(v);
		if (s < 0 || (IS("ignore") && (s == SIGKILL || s == SIGSTOP)))
			die("%s: bad signal \"%s\"", a, v);
	} else if (IS("wait-file") || IS("touch")) {
		if (!*v)
			die("%s: empty path", a);
	} else if (!IS("echo"))
		die("unknown action \"%s\"", a);
#undef IS
}

int main(int argc, char **argv)
{
	const char *log_path = getenv("TESTCHILD_LOG");
	char state[4096];
	int first = 1;

	if (argc > 2 && strcmp(argv[1], "--log") == 0) {
		log_path = argv[2];
		first = 3;
	} else if (argc > 1 && strncmp(argv[1], "--log=", 6) == 0) {
		log_path = argv[1] + 6;
		first = 2;
	} else if (argc > 1 && strcmp(argv[1], "--log") == 0) {
		die("--log needs a file name");
	}

	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			wrap_argv = argv + i + 1;
			argv[i] = NULL;
			argc = i;
			break;
		}
	}
	/* Check the whole script before running any of it. */
	for (int i = first; i < argc; i++)
		check_action(argv[i]);

	if (log_path && *log_path) {
		log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (log_fd < 0)
			die("cannot open log \"%s\": %s", log_path, strerror(errno));
	} else {
		log_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (log_fd < 0)
			die("cannot duplicate standard error: %s", strerror(errno));
	}

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		die("pipe: %s", strerror(errno));

	/*
	 * Look at what we inherited before changing anything, but catch signals
	 * before the first log line: once "start" is logged, signals are caught.
	 */
	read_state(state, sizeof(state));
	install_handlers();
	log_start(argc, argv);
	logf_line("state %llu %s", (unsigned long long)boot_ns(), state);

	for (int i = first; i < argc; i++) {
		if (drain_signals(0))
			finish_graceful();
		run_action(argv[i]);
	}
	if (tf_like) {
		/* terraform-like and nothing left to do: wait for a signal */
		wait_ms(TF_LIKE_IDLE_MS, 0, NULL);
	}
	if (drain_signals(0))
		finish_graceful();
	do_exit(0);
}
