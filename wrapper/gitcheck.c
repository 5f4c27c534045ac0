#include "gitcheck.h"

#include <string.h>

#include "gitinfo.h"
#include "log.h"
#include "outcome.h"

enum preapply_mode gitcheck_mode(const struct config *c)
{
	if (!c->git_check || !strcmp(c->git_check, "auto"))
		return GIT_CHECK_AUTO;
	return !strcmp(c->git_check, "on")       ? GIT_CHECK_ON
	       : !strcmp(c->git_check, "strict") ? GIT_CHECK_STRICT
	                                         : GIT_CHECK_OFF;
}

void gitcheck_store(struct preapply_store *st, struct s3_client *s3, const struct lock *l)
{
	st->s3 = s3;
	st->state_key = lock_state_key(l);
	st->lock_id = lock_id(l);
	st->who = lock_who(l);
}

void gitcheck_record_applied(const struct preapply_store *st, const struct gitinfo *gi,
                             const char *url)
{
	struct tf_error err;
	err_clear(&err);
	if (preapply_record(st, gi, &err))
		log_warn("could not record commit %.12s as applied: %s", gi->head, err.msg);
	else
		log_verbose("recorded commit %.12s as the last applied to %s", gi->head, url);
}

int gitcheck_main(const struct config *c, const struct target *t)
{
	struct s3_client *s3 = target_open_store(c);
	struct lock_opts o;
	struct lock *l = NULL;
	struct gitinfo gi;
	struct preapply_opts po;
	struct preapply_store st;
	struct tf_error err;
	int active = 0, ret;
	err_clear(&err);
	memset(&po, 0, sizeof(po));
	memset(&gi, 0, sizeof(gi));
	target_lock_opts(t, c, &o);
	o.operation = "check-git";
	o.info = "tflock check-git";
	l = target_lock(s3, t, c, &o);
	po.mode = gitcheck_mode(c) == GIT_CHECK_STRICT ? GIT_CHECK_STRICT : GIT_CHECK_ON;
	po.origin = "tflock check-git";
	po.is_apply = 1;
	po.expect_commit = c->expect_commit;
	po.allow_dirty = c->allow_dirty;
	po.allow_older = c->allow_older;
	gitcheck_store(&st, s3, l);
	ret = preapply_check(&st, &po, &gi, &active, &err);
	if (ret == PREAPPLY_REFUSED) {
		log_error("%s", err.msg);
		ret = EXIT_REFUSED;
	} else if (ret) {
		log_error("%s", err.msg);
		ret = outcome_exit_for_error(&err);
	} else {
		log_info("git checks pass: %.12s%s%s is clean and not older than the last applied "
		         "commit",
		         gi.head, gi.branch ? " on " : "", gi.branch ? gi.branch : "");
	}
	gitinfo_free(&gi);
	lock_free(l);
	s3_client_free(s3);
	return ret;
}
