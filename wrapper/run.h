/*
 * run — hold the lock exactly as long as the wrapped command runs.
 *
 * Design: two threads. A heartbeat thread owns the lock while the child runs
 * and only renews it (blocking libcurl calls, each bounded by the request
 * timeout). The main thread owns the child and the signals: every signal is
 * blocked and read from a signalfd, the heartbeat thread wakes it through an
 * eventfd, and poll() sleeps until the next lease deadline. So a hanging
 * renewal never delays a forwarded signal, and a signal storm never delays a
 * renewal. The lock is used by one thread at a time: the heartbeat thread is
 * joined before the main thread releases.
 *
 * The lease bounds the child (PROTOCOL B4): without a successful renewal the
 * child gets SIGINT at last-renewal-send + L/2 and its process group SIGKILL at
 * last-renewal-send + L - m, unless unsafe_keep_running.
 *
 * What happens when is decided by the pure planner (plan.h): the heartbeat
 * thread asks plan_heartbeat() when to renew or check, the main thread's loop
 * asks plan_run() what is due (the lost lock's action, the lease's SIGINT and
 * kill, --max-hold's, a cancel's kill, the kill of what the command left) and
 * until when it may sleep; the loops only sleep, read events (signals, the
 * heartbeat's wake-ups, the guardian's reports) and carry the decisions out.
 * The guardian (guardian.h) counts the lease with the same plan_lease().
 *
 * run_command() runs the pre-apply hook and the command and never releases;
 * run_release() is the caller's, once run_command() returned.
 */
#ifndef TFLOCK_RUN_H
#define TFLOCK_RUN_H

#include <signal.h>
#include <stdint.h>

#include "lock.h"
#include "plan.h" /* enum on_lost */
#include "reentry.h"

struct run_opts {
	enum on_lost on_lost;
	int lost_exit_code;        /* also when the lease cut the command short */
	int refused_exit_code;     /* the pre-apply hook refused */
	int unavailable_exit_code; /* the command succeeded but the release failed */
	int unsafe_keep_running;
	int64_t max_hold_ms; /* 0: none */
	/* a cancel (the first SIGINT, SIGTERM, SIGHUP or SIGQUIT) gives the command
	 * and everything it started grace_ms, and a SIGTERM after it cuts what is
	 * left to term_grace_ms; then the whole tree is killed. Without a cancel,
	 * grace_ms is how long descendants may outlive the command. */
	int64_t grace_ms;
	int64_t term_grace_ms;
	char **extra_env;        /* NAME=value added to the child's environment */
	sigset_t orig_mask;      /* the mask to restore in the child */
	struct reentry *outer;   /* outer run: publish held/lost for nested tflocks */
	struct reentry *nested;  /* nested run: l is NULL; follow the outer's state */
	int64_t nested_lease_ms; /* nested: the outer's state is stale after this */
	/* the repository's pre-apply hook, run first under the lock exactly as the
	 * command (renewed, bounded by the lease, signals forwarded); NULL: none */
	char *const *hook_argv;
	char *const *hook_env; /* NAME=value added to the hook's environment */
	/* set by a signal handler before run_command() blocked signals: such a signal
	 * stops the run before anything starts */
	volatile sig_atomic_t *pending_signal;
};

struct run_result {
	int child_status; /* raw waitpid status; -1 when it never ran */
	int child_code;   /* exit code or 128+signal */
	int exec_failed;  /* 126/127 in child_code */
	int hook_refused; /* the pre-apply hook exited non-zero (or could not run) */
	int hook_code;
	int lost;
	int release_failed;
	int self_signal; /* a signal tflock was asked to stop with, 0 if none */
	unsigned signals_forwarded;
	int interrupted_for_lease, killed_for_lease;
	int killed_for_grace; /* a cancel's grace ran out: tflock killed the tree */
	char outcome[1024];   /* "released", "LOST to ...", "release FAILED ..." */
};

/* Runs argv (after o->hook_argv, when set) under the held lock l, or, nested
 * (l NULL), under the lock an outer tflock holds; fills res. Returns once the
 * command and every process it started are gone, with the heartbeat stopped;
 * the lock is still held unless res->lost. Never releases. */
void run_command(struct lock *l, char **argv, const struct run_opts *o, struct run_result *res);
/* The command ran and succeeded (exit 0, not lost, not refused by the hook):
 * what to record under the lock before releasing it (the applied commit). */
int run_succeeded(const struct run_result *res);
/* The command ran to its end with exit 2, the lock never lost, nobody asked
 * it to stop (no cancel, no lease cut): terraform's -detailed-exitcode for
 * "the plan has changes" (tflock hold parks, B14.4). */
int run_changes_planned(const struct run_result *res);
/* After run_command(): unless res->lost, releases l (nested, l NULL: nothing
 * to release), filling
 * res->outcome, res->lost or res->release_failed; publishes the end to nested
 * tflocks (o->outer). Returns the exit code: o->lost_exit_code when the lock
 * was lost or the lease cut the command short, o->unavailable_exit_code when
 * the command succeeded but the release failed, else the command's. */
int run_release(struct lock *l, const struct run_opts *o, struct run_result *res);

#endif
