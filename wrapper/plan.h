/*
 * plan — what a holder does next, and when: the pure deadline planner of a run
 * (PROTOCOL B4, B7, B9).
 *
 * Nothing here reads a clock, sleeps, signals, logs or allocates: every
 * function takes the time ("now", CLOCK_BOOTTIME nanoseconds) and the state as
 * arguments and returns a decision, so that tests can drive every deadline and
 * every ordering of signals with tables of numbers. Its callers are thin loops
 * that sleep until the time it names, read their events, carry out the action
 * it chose and ask again:
 *   - the heartbeat thread (run.c): plan_heartbeat(): renew or check, and when;
 *   - the supervising loop (run.c): plan_run(): interrupt the command, kill its
 *     tree (for the lost lock, the lease, --max-hold, a cancel, or what the
 *     command left running), sweep, the stage is over, or wait until when;
 *     plan_cancel() folds a terminating signal into the cancel's deadline;
 *   - the guardian (guardian.c): plan_lease(), the lease's deadlines, the very
 *     ones the supervising loop counts, so the two can never disagree.
 * Durations are nanoseconds already scaled (--time-scale is the caller's); the
 * few cadences of the loop's own (PLAN_SWEEP_NS, PLAN_REAP_NS) are not scaled.
 * No function fails.
 */
#ifndef TFLOCK_PLAN_H
#define TFLOCK_PLAN_H

#include <stdint.h>

/* ---- the lease (B4, B9) ---- */

/* Counted from the send of the last successful renewal: SIGINT to the command
 * at send + L/2, the whole tree killed at send + L - m. */
struct plan_lease {
	int64_t int_at, kill_at; /* INT64_MAX: never */
};
/* lease_ns <= 0 (a nested run, --unsafe-keep-running): no deadline at all. */
struct plan_lease plan_lease(int64_t send_ns, int64_t lease_ns, int64_t margin_ns);

/* ---- the heartbeat thread (B4) ---- */

enum plan_hb_action {
	PLAN_RENEW, /* renew the lock (PUT If-Match) */
	PLAN_CHECK, /* read it (GET If-None-Match): a force-unlock or takeover shows at once */
};
struct plan_hb {
	int64_t send_ns;       /* the last successful renewal's send */
	int64_t hb_ns;         /* H: renew this long after it */
	int64_t check_ns;      /* between renewals, check this often; 0: never */
	int64_t last_check_ns; /* the last renewal or check ended (a check counts from it) */
	unsigned fails;        /* renewals failed in a row (then no checks: retries) */
	int64_t retry_ns;      /* fails > 0: the delay before the next try (backoff with
	                          jitter, drawn by the caller) */
};
/* The next request and *at, when to send it (<= now: at once). While renewals
 * fail the deadlines of plan_lease() stay counted from the last success; the
 * lock refuses to write past send + L - m (lock_renew(): LOCK_LOST). */
enum plan_hb_action plan_heartbeat(const struct plan_hb *h, int64_t now, int64_t *at);

/* ---- a cancel (B7) ---- */

/* The first SIGINT, SIGTERM, SIGHUP or SIGQUIT gives the command and what it
 * started grace_ns; a later SIGTERM (the CI's "now") cuts what is left to
 * term_grace_ns; no signal ever moves the deadline later. */
struct plan_cancel {
	int64_t first_ns; /* the first terminating signal; 0: no cancel */
	int64_t end_ns;   /* then: when the whole tree is killed */
};
enum plan_cancel_why {
	PLAN_CANCEL_SAME,       /* not a cancel, or the deadline did not move */
	PLAN_CANCEL_GRACE,      /* the first: end_ns = now + grace_ns */
	PLAN_CANCEL_TERM_GRACE, /* a later SIGTERM: end_ns = now + term_grace_ns */
};
/* Is sig one that cancels a run (INT, TERM, HUP, QUIT)? */
int plan_is_cancel(int sig);
/* Fold signal sig, received at now, into *c; says whether and why end_ns moved. */
enum plan_cancel_why plan_cancel(struct plan_cancel *c, int sig, int64_t now, int64_t grace_ns,
                                 int64_t term_grace_ns);

/* ---- the supervising loop (B4, B7, B9) ---- */

enum on_lost { ON_LOST_INTERRUPT, ON_LOST_KILL, ON_LOST_REPORT };

#define PLAN_SWEEP_NS 10000000LL /* killing what the command left: a round this often */
#define PLAN_REAP_NS 50000000LL  /* waiting for what it left: look this often */

enum plan_action {
	PLAN_WAIT,            /* nothing is due: look again at *next */
	PLAN_LOST_INTERRUPT,  /* the lock is lost, --on-lost interrupt: SIGINT the command */
	PLAN_LOST_KILL,       /* the lock is lost, --on-lost kill: kill the tree */
	PLAN_LEASE_INTERRUPT, /* no successful renewal for L/2: SIGINT the command */
	PLAN_LEASE_KILL,      /* none until L - m: kill the tree */
	PLAN_HOLD_INTERRUPT,  /* --max-hold reached: SIGINT the command */
	PLAN_HOLD_KILL,       /* still running a while after it: kill the tree */
	PLAN_CANCEL_KILL,     /* a cancel's grace ran out: kill the tree */
	PLAN_LEFT_GRACE_KILL, /* the command exited and what it left outlived --grace: kill it */
	PLAN_LEFT_LEASE_KILL, /* ... or would outlive the lease: kill it */
	PLAN_SWEEP,           /* killing, the command exited: one kill round of our own
	                         children (orphans that came to us when the guardian died) */
	PLAN_DONE,            /* the command exited and every process is gone: the stage is
	                         over, and the lock may be released (B9) */
};

/*
 * The state of one supervised process (the pre-apply hook, or the command).
 * The caller fills the inputs, and the "done" part as it carries out the
 * actions: each action, once carried out, is never returned again, so a loop
 * that asks again until PLAN_WAIT ends.
 */
struct plan_run {
	/* the lease, the lock, the options */
	int64_t send_ns;             /* the last successful renewal's send */
	int64_t lease_ns, margin_ns; /* L and m (a nested run: the outer's L, m = 0) */
	int lease_bounds;            /* 0: nested, or --unsafe-keep-running */
	int lost;                    /* the lock is lost */
	enum on_lost on_lost;
	int64_t max_hold_at; /* when --max-hold is reached; 0: no --max-hold */
	int64_t grace_ns;    /* how long what the command left may run after it exited */
	struct plan_cancel cancel;
	int64_t idle_ns; /* the longest sleep (shorter while following an outer tflock) */
	/* the command */
	int exited;
	int64_t exit_ns;
	int gone; /* exited, and every process of its tree reaped */
	/* done: set by the caller as it carries out the actions */
	int lost_acted; /* PLAN_LOST_* */
	int lease_int_sent, lease_kill_sent;
	int hold_stage; /* 0, 1 after PLAN_HOLD_INTERRUPT, 2 after PLAN_HOLD_KILL */
	int killing;    /* the tree is being killed (any *_KILL; the guardian died) */
	int64_t swept_ns;
};

/* After --max-hold, the command is killed this long after its SIGINT: L/2 - m,
 * or m when that is not positive. */
int64_t plan_hold_kill_after(int64_t lease_ns, int64_t margin_ns);

/*
 * One action due at now, in this order: the lost lock's, the lease's SIGINT
 * then its kill, --max-hold's SIGINT then its kill (all only while the command
 * runs), the cancel's kill (unless killing), then, once the command exited:
 * PLAN_DONE when its tree is gone, else the kill of what it left at --grace's
 * end or at the lease's kill deadline, and sweeps while killing. PLAN_WAIT sets
 * *next to the earliest time something may be due (never later than
 * now + idle_ns).
 */
enum plan_action plan_run(const struct plan_run *p, int64_t now, int64_t *next);

#endif
