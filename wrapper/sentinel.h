/*
 * sentinel — tell a signal sent to the whole process tree from one sent to
 * tflock alone, so that the command never gets the same interrupt twice.
 *
 * systemd (KillMode=control-group), some CI runners and a kill of a process
 * group signal every process at once: the command then has the signal already,
 * and forwarding it again would be terraform's "two interrupts: exit at once,
 * data loss". The sentinel is a tiny process in the command's process group
 * (so a group kill of the command, or a whole-tree kill, reaches it too) that
 * reports every INT, TERM, HUP, QUIT, USR1 and USR2 it gets, with its sender's
 * pid, through a pipe, and exits after a TERM (so a sender that signals pid by
 * pid and waits for each to exit, as GitLab's docker executor does in
 * decreasing pid order, does not wait on it). When tflock gets signal S from
 * sender P, it forwards S unless the sentinel got S from the same P within
 * SENTINEL_WINDOW_MS before (or up to SENTINEL_WAIT_MS after): then the tree
 * got it, the command included. Each report counts for one signal of tflock's,
 * so the same sender's next S is forwarded. The window is long because such a
 * pid-by-pid sender reaches tflock (the oldest, lowest pid) last, after up to
 * several seconds on each process between.
 * A signal tflock itself sends to the group (lease, --on-lost) comes from
 * tflock's pid and is never taken for an outside one.
 *
 * What it cannot tell: a sender that signals tflock and the command's pid
 * one by one, but not the rest of the group (then the command gets it twice,
 * as before). Without a sentinel (it could not be started, or could not join
 * the command's group) every signal is forwarded, as before.
 *
 * struct sentinel is owned by the caller; sentinel_stop() kills and reaps the
 * process and closes the pipe (safe on a stopped or never started one), and
 * keeps what it reported: sentinel_saw() still answers from that.
 */
#ifndef TFLOCK_SENTINEL_H
#define TFLOCK_SENTINEL_H

#include <stdint.h>
#include <sys/types.h>

#define SENTINEL_WAIT_MS 50      /* how long to wait for the sentinel's report */
#define SENTINEL_WINDOW_MS 60000 /* a report this old still counts */

struct sentinel {
	pid_t pid; /* 0: none */
	int fd;    /* read end of its report pipe, -1: none */
	struct {
		int sig;
		pid_t from;
		int64_t ns; /* CLOCK_BOOTTIME of the report's reading */
		int used;   /* matched one of tflock's signals already */
	} seen[16];
	unsigned nseen;
};

/* Start a sentinel in process group pgid (0: the caller's own group). Call with
 * the signals it reports blocked (it unblocks them itself). 0 or -1 (no
 * sentinel: every signal will be forwarded). */
int sentinel_start(struct sentinel *s, pid_t pgid);
/* Did the sentinel get sig from sender `from` within the window? Waits up to
 * SENTINEL_WAIT_MS for a report. */
int sentinel_saw(struct sentinel *s, int sig, pid_t from);
/* The sentinel's pid, to tell its exit from the command's (0: none). */
pid_t sentinel_pid(const struct sentinel *s);
/* The caller reaped it (a wait for any child): forget its pid. */
void sentinel_reaped(struct sentinel *s);
void sentinel_stop(struct sentinel *s);

#endif
