/*
 * pidwatch — stamp the exit of processes that cannot log their own death
 * (SIGKILLed ones), for tests that order deaths against tflock's events.
 *
 * Usage:
 *   pidwatch --follow LOG --stop FILE [--limit SECONDS]
 *
 * Follows LOG (testchild's format) and watches every process that logs a
 * "start NS pid=PID ..." or "grandchild NS pid=PID ..." line: it opens a pidfd
 * at once and checks, through /proc/PID/stat's start time, that the pid still
 * names the process that logged (a pid reused meanwhile counts as exited). On
 * standard output, one line per event, times CLOCK_BOOTTIME in nanoseconds:
 *
 *   watch NS PID     watching from NS
 *   exit NS PID      PID was seen gone at NS (its death came no later)
 *   alive NS PID     at the end, PID still runs
 *
 * It ends when FILE exists and every watched process is gone (or 200 ms after
 * FILE appeared, or after --limit seconds, default 120, with "alive" lines for
 * the rest); exit status 0
 * when nothing is left alive, 1 otherwise, 64 on a usage error.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAXW 1024

struct watch {
	long pid;
	int fd; /* pidfd, -1 once gone */
};

static struct watch w[MAXW];
static int nw;

static long long boot_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The process's start, CLOCK_BOOTTIME ns (from clock ticks), or -1. */
static long long start_ns(long pid)
{
	char path[64], buf[2048], *p;
	unsigned long long ticks;
	FILE *fp;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	p = fgets(buf, sizeof(buf), fp) ? strrchr(buf, ')') : NULL;
	fclose(fp);
	/* after "(comm)": state is field 3, starttime field 22 */
	if (!p || sscanf(p + 1,
	                 " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
	                 "%*d %*d %*d %*d %llu",
	                 &ticks) != 1)
		return -1;
	return (long long)(ticks * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK)));
}

static void add(long pid, long long logged_ns)
{
	int fd;
	long long st;
	for (int i = 0; i < nw; i++)
		if (w[i].pid == pid)
			return;
	if (nw == MAXW)
		return;
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	st = fd >= 0 ? start_ns(pid) : -1;
	/* a process starts before it logs, and within a tick or so of it */
	if (fd >= 0 && (st < 0 || st > logged_ns + 20000000LL || st < logged_ns - 2000000000LL)) {
		close(fd);
		fd = -1;
	}
	w[nw].pid = pid;
	w[nw].fd = fd;
	nw++;
	printf("watch %lld %ld\n", boot_ns(), pid);
	if (fd < 0)
		printf("exit %lld %ld\n", boot_ns(), pid);
	fflush(stdout);
}

/* Read what LOG gained since last time; parse whole lines only. */
static void follow(int lfd, char *pend, size_t *plen, size_t cap)
{
	ssize_t r;
	while ((r = read(lfd, pend + *plen, cap - *plen - 1)) > 0) {
		char *line = pend, *nl;
		*plen += (size_t)r;
		pend[*plen] = '\0';
		while ((nl = strchr(line, '\n'))) {
			long long ns;
			long pid;
			char kind[32];
			*nl = '\0';
			if (sscanf(line, "%31s %lld pid=%ld", kind, &ns, &pid) == 3 &&
			    (!strcmp(kind, "start") || !strcmp(kind, "grandchild")))
				add(pid, ns);
			line = nl + 1;
		}
		*plen -= (size_t)(line - pend);
		memmove(pend, line, *plen);
	}
}

int main(int argc, char **argv)
{
	const char *log = NULL, *stop = NULL;
	long long limit = 120, deadline, stop_seen = 0;
	static char pend[1 << 16];
	size_t plen = 0;
	int lfd = -1, alive = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--follow"))
			log = argv[i + 1];
		else if (!strcmp(argv[i], "--stop"))
			stop = argv[i + 1];
		else if (!strcmp(argv[i], "--limit"))
			limit = atoll(argv[i + 1]);
		else
			log = NULL;
	}
	if (!log || !stop || argc % 2 == 0) {
		fprintf(stderr, "usage: pidwatch --follow LOG --stop FILE [--limit SECONDS]\n");
		return 64;
	}
	deadline = boot_ns() + limit * 1000000000LL;
	for (;;) {
		struct pollfd p[MAXW];
		int n = 0, left = 0, stopping;
		if (lfd < 0)
			lfd = open(log, O_RDONLY | O_CLOEXEC);
		/* the stop file first: every line logged before it was made is read below */
		stopping = access(stop, F_OK) == 0;
		if (lfd >= 0)
			follow(lfd, pend, &plen, sizeof(pend));
		for (int i = 0; i < nw; i++) {
			if (w[i].fd < 0)
				continue;
			p[n].fd = w[i].fd;
			p[n].events = POLLIN;
			p[n].revents = 0;
			n++;
			left++;
		}
		if (stopping && !stop_seen)
			stop_seen = boot_ns();
		/* after the stop file: a last look (200 ms) for deaths not yet seen */
		if ((stopping && (!left || boot_ns() > stop_seen + 200000000LL)) ||
		    boot_ns() > deadline)
			break;
		if (poll(p, (nfds_t)n, 2) > 0) {
			long long now = boot_ns();
			for (int i = 0, k = 0; i < nw; i++) {
				if (w[i].fd < 0)
					continue;
				if (p[k].revents) {
					close(w[i].fd);
					w[i].fd = -1;
					printf("exit %lld %ld\n", now, w[i].pid);
				}
				k++;
			}
			fflush(stdout);
		}
	}
	for (int i = 0; i < nw; i++) {
		if (w[i].fd >= 0) {
			printf("alive %lld %ld\n", boot_ns(), w[i].pid);
			close(w[i].fd);
			alive++;
		}
	}
	if (lfd >= 0)
		close(lfd);
	fflush(stdout);
	return alive ? 1 : 0;
}
