/*
 * reclaim — removing a lock this invocation does not hold:
 *   `tflock unlock ID`      the user vouches for the run being gone: the lock
 *                           is removed when its ID is ID (lock_unlock_id());
 *   `tflock unlock --force` the holder is proved gone by watching its lock
 *                           for one lease unchanged (status_watch_stale());
 *                           never a lock tflock did not write;
 *   `tflock release`        the cleanup step of a CI job (if: always(),
 *                           after_script): only a holder provably gone
 *                           (PROTOCOL B8, liveness.h): its pid dead in our PID
 *                           namespace on our boot, or left by this very CI
 *                           job. Never a live holder's, never another job's.
 * Both probe the store first (lock_selftest()), as every writer does.
 *
 * They return the exit code: 0 when removed or nothing was to remove, c's
 * --conflict-exit-code when the lock stays (another ID, alive, live here),
 * outcome_exit_for_error() for a failed removal; they die (64/69/70 or the
 * conflict code) where the store cannot be read or used, or --force cannot
 * prove the holder gone.
 */
#ifndef TFLOCK_RECLAIM_H
#define TFLOCK_RECLAIM_H

#include "ci.h"
#include "config.h"
#include "target.h"

/* id NULL: --force. */
int reclaim_unlock(const struct config *c, const struct target *t, const char *id);
/* ci: who runs us, for the "left by this CI job" rule. */
int reclaim_release(const struct config *c, const struct target *t, const struct ci_identity *ci);

#endif
