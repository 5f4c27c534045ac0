/*
 * reentry — a nested tflock re-enters the lock its ancestor holds (PROTOCOL B7).
 *
 * The outer tflock makes a private run directory (mode 0700, owned by us) with a
 * random token, its identity (lock, pid, process start time, boot id) and a state
 * file it rewrites on every heartbeat ("held", "lost", "released"), and passes
 * the directory and the token to its command in TFLOCK_HELD_* variables. The
 * token never goes into the lock body.
 *
 * A nested tflock trusts those variables only when every check passes: the
 * directory is ours and private, the token matches, the outer process is alive
 * on this boot (same start time: no pid reuse) and holds the very same lock
 * (endpoint, bucket and key). It then never writes to S3: it takes an exclusive
 * flock on a file in the directory (siblings, e.g. make -j4, run one at a time),
 * runs its command, and follows the outer's held/lost state.
 *
 * struct reentry owns its strings; reentry_free() is NULL-safe and removes the
 * directory when this process created it.
 */
#ifndef TFLOCK_REENTRY_H
#define TFLOCK_REENTRY_H

#include <stddef.h>

#include "error.h"

struct reentry {
	char *dir;
	char token[65];
	char *ident; /* "endpoint|bucket|key" */
	int owner;   /* created by this process */
	int flock_fd;
};

void reentry_init(struct reentry *r);
/* Outer: create the run directory for the lock with identity ident and lock ID. */
int reentry_create(struct reentry *r, const char *ident, const char *lock_id, struct tf_error *err);
/* Outer: publish "held" / "lost" / "released", stamped with CLOCK_BOOTTIME. */
void reentry_set_state(struct reentry *r, const char *state);
/* Outer: NAME=value strings for the command's environment (malloc'd, NULL-ended
 * when added to an array by the caller); returns how many were written (<= 3). */
int reentry_env(const struct reentry *r, char **out, int max);
/* Nested: 1 when the inherited TFLOCK_HELD_* variables are genuine and name the
 * lock ident (any lock when ident is NULL: a nested run given no lock of its own
 * re-enters its ancestor's; r->ident tells which); 0 with why filled otherwise
 * (then the caller acquires normally). */
int reentry_check(struct reentry *r, const char *ident, char *why, size_t why_size);
/* Nested: wait for the sibling flock; timeout_ms < 0 waits forever, 0 tries once.
 * Returns 0, 1 when it timed out, negative on error. */
int reentry_lock_siblings(struct reentry *r, long long timeout_ms, const volatile int *cancel);
/* Nested: the outer's state, "held" / "lost" / "released" / "gone" (outer died). */
const char *reentry_outer_state(struct reentry *r);
/* Nested: CLOCK_BOOTTIME ns when the outer last refreshed its state (0: unknown). */
long long reentry_outer_stamp(struct reentry *r);
void reentry_free(struct reentry *r);

#endif
