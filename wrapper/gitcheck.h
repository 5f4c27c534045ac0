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

/* Where the applied-commit record of l's state lives, and who writes it. */
void gitcheck_store(struct preapply_store *st, struct s3_client *s3, const struct lock *l);
/* Record gi's HEAD as the last commit applied to st's state (under the lock,
 * before it is released); a failure is a warning. url names the lock in logs. */
void gitcheck_record_applied(const struct preapply_store *st, const struct gitinfo *gi,
                             const char *url);

#endif
