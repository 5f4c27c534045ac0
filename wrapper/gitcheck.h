/*
 * gitcheck — tflock's side of the pre-apply checks (preapply.h does them):
 * `tflock check-git`, for hooks and manual use, which reads (never writes)
 * the record of the last applied commit; the mode --git-check names; and
 * recording the applied commit while the lock is still held.
 */
#ifndef TFLOCK_GITCHECK_H
#define TFLOCK_GITCHECK_H

#include "config.h"
#include "lock.h"
#include "preapply.h"
#include "target.h"

/* --git-check (validated by config_finish()): auto when unset. */
enum preapply_mode gitcheck_mode(const struct config *c);

/* `tflock check-git`: 0 when the checks pass, 77 when they refuse,
 * outcome_exit_for_error() for an error; dies when the store is unusable. */
int gitcheck_main(const struct config *c, const struct target *t);

/* run_opts.before_release: record arg (a const struct gitinfo *) as the last
 * commit applied to l's state; a failure is a warning. */
void gitcheck_record_applied(struct lock *l, void *arg);

#endif
