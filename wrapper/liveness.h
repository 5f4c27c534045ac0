/*
 * liveness — is the holder of a lock provably gone? (PROTOCOL B8)
 *
 * `tflock release` (and the re-entry checks of B7) must never act for a
 * process that may still run. A pid is only meaningful inside one PID
 * namespace on one boot: the same number in another container, or on another
 * machine, is another process. So a holder is provably gone only when
 *   - it ran on our boot (boot id) AND in our PID namespace, both recorded
 *     in its lock body and both equal to ours, AND kill(pid, 0) fails with
 *     ESRCH (EPERM means the pid exists, as another user): LIVENESS_GONE_PID;
 *   - or its body names our own CI job, and our CI job identity is one that
 *     no other job running at the same time can have (ci.h says which are):
 *     LIVENESS_GONE_SAME_JOB. A holder that is provably alive here (same
 *     boot and namespace, pid exists) wins over this: a live process is never
 *     released, not even our own job's.
 * Everything else is LIVENESS_UNKNOWN (another machine or boot, another PID
 * namespace, a body without a PID namespace written by an older tflock, a
 * probe that fails otherwise) and must be treated as alive.
 *
 * liveness_judge() and liveness_of_pid() are pure: the caller passes its own
 * boot id, PID namespace and CI job, and the pid probe as a function, so
 * tests pin every input. The probe is only called when the pid is ours to ask
 * about (same boot and namespace, pid > 0). The strings returned through why
 * are static, lowercase, and fit "... : <why>" in a message.
 *
 * liveness_read_pidns() and liveness_read_boot_id() read this process's values
 * (malloc'd strings, "" when unreadable: an empty value never matches).
 * liveness_probe_kill() is the real probe: 0 when kill(pid, 0) succeeds,
 * else errno; a zombie (exited, not reaped yet: a killed holder whose parent
 * died with it, under an init slow to reap) counts as ESRCH, read from /proc
 * only when /proc is our PID namespace's.
 */
#ifndef TFLOCK_LIVENESS_H
#define TFLOCK_LIVENESS_H

#include "lockinfo.h"

enum liveness {
	LIVENESS_UNKNOWN = 0,   /* cannot be proven gone: keep the lock */
	LIVENESS_ALIVE_HERE,    /* same boot and PID namespace, and the pid exists */
	LIVENESS_GONE_PID,      /* same boot and PID namespace, and no such pid (ESRCH) */
	LIVENESS_GONE_SAME_JOB, /* left by this very CI job, whose identity is unique */
};

struct liveness_self {
	const char *boot_id; /* our /proc/sys/kernel/random/boot_id, "" if unknown */
	const char *pidns;   /* our PID namespace (liveness_read_pidns), "" if unknown */
	const char *ci_job;  /* our unique CI job identity (ci.h), "" if none */
};

/* 0 when pid exists, else an errno value (ESRCH: no such process). */
typedef int (*liveness_probe_fn)(long pid, void *arg);

/*
 * The pid rule alone: a process recorded as (boot_id, pidns, pid) seen from
 * self. Returns LIVENESS_GONE_PID, LIVENESS_ALIVE_HERE or LIVENESS_UNKNOWN;
 * *why (may be NULL) gets the reason for UNKNOWN, else "".
 */
enum liveness liveness_of_pid(const char *boot_id, const char *pidns, long pid,
                              const struct liveness_self *self, liveness_probe_fn probe, void *arg,
                              const char **why);

/* The whole rule for a lock body's Tflock part (see the top of this file). */
enum liveness liveness_judge(const struct lockinfo_tflock *holder, const struct liveness_self *self,
                             liveness_probe_fn probe, void *arg, const char **why);

/* "gone-pid", "gone-same-job", "alive-here", "unknown" (for logs and tests) */
const char *liveness_name(enum liveness l);

int liveness_probe_kill(long pid, void *arg);
char *liveness_read_pidns(void);
char *liveness_read_boot_id(void);

#endif
