/*
 * preapply — refuse an apply that would do harm, before the child runs.
 *
 * Runs after the lock is acquired (so the record it reads cannot change under
 * it): the working tree must be clean, HEAD must be the commit CI expects, and
 * HEAD must not be provably older (an ancestor of) the commit last applied to
 * this state, which
 * tflock records next to the lock (<state key>.applied.tflock) after each
 * successful apply, only while holding the lock. The repository's own pre-apply
 * hook (core.hooksPath or .git/hooks/pre-apply), if it has one, is found by
 * preapply_hook() and run by the caller under the held lock like the command
 * itself (renewed, bounded by the lease, signals forwarded: run.h). Each refusal
 * is overridable with an explicit flag.
 *
 * Returns 0 to go on, PREAPPLY_REFUSED with err->msg saying why, or a negative
 * error.
 */
#ifndef TFLOCK_PREAPPLY_H
#define TFLOCK_PREAPPLY_H

#include "gitinfo.h"
#include "s3.h"

enum { PREAPPLY_REFUSED = 1 };
/* STRICT: ON, and refuse when the clone and the CI's API cannot tell whether
 * HEAD is older than the last applied commit (ON warns and goes on). */
enum preapply_mode { GIT_CHECK_OFF, GIT_CHECK_ON, GIT_CHECK_AUTO, GIT_CHECK_STRICT };

struct preapply_opts {
	enum preapply_mode mode;
	int is_apply;              /* the child applies (terraform apply/destroy) */
	const char *dir;           /* where the configuration is (-chdir), else "." */
	const char *expect_commit; /* NULL: GITHUB_SHA / CI_COMMIT_SHA when set */
	int allow_dirty;
	int allow_older;
	const char *origin;   /* what asked for the check, for messages; NULL: --git-check on */
	long fetch_budget_ms; /* how long fetching missing history may take (0: 30 s) */
};

/* Where the record of the last applied commit lives (next to the lock: the key
 * P.applied.tflock, docs/PROTOCOL.md C) and whose run writes it. Borrowed. */
struct preapply_store {
	struct s3_client *s3;
	const char *state_key; /* P */
	const char *lock_id;   /* the ID of the lock held while recording */
	const char *who;
};

/* active: whether the check applies at all (mode, repository, command). */
int preapply_check(const struct preapply_store *st, const struct preapply_opts *o,
                   struct gitinfo *gi, int *active, struct tf_error *err);
/* The repository's executable pre-apply hook (malloc'd path), or NULL. */
char *preapply_hook(const struct gitinfo *gi);
/* Record HEAD as the last applied commit (we hold the lock). */
int preapply_record(const struct preapply_store *st, const struct gitinfo *gi,
                    struct tf_error *err);

#endif
