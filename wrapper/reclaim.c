#include "reclaim.h"

#include <stdlib.h>

#include "buf.h"
#include "liveness.h"
#include "lock.h"
#include "log.h"
#include "outcome.h"
#include "status.h"

static struct lock *reclaim_lock(struct s3_client *s3, const struct config *c,
                                 const struct target *t, const char *operation, const char *info)
{
	struct lock_opts o;
	target_lock_opts(t, c, &o);
	o.operation = operation;
	o.info = info;
	return target_lock(s3, t, c, &o);
}

/* The hold's first member that is present (B12: a hold's item can outlive its
 * file when the item's release failed), read into v; the last member when none
 * is. Dies when a read fails. */
static struct lock *read_present(const struct config *c, struct lock *l, struct lock_view *v)
{
	struct tf_error err;
	struct lock *m = l;
	err_clear(&err);
	for (unsigned i = 0; lock_member(l, i); i++) {
		int rd;
		m = lock_member(l, i);
		lock_view_free(v);
		if ((rd = lock_read(m, v, &err)))
			die(outcome_exit_for_lock(rd, c), "%s", err.msg);
		if (v->present)
			break;
	}
	return m;
}

/* --force: the ID of a tflock lock whose holder is proved gone by one lease
 * unchanged (malloc'd), or NULL when there is nothing to remove; dies when the
 * holder cannot be proved gone. */
static char *stale_id(const struct config *c, struct lock *l, struct lock_view *v)
{
	struct tf_error err;
	int stale = 0, rd;
	err_clear(&err);
	l = read_present(c, l, v);
	if (!v->present) {
		log_info("%s is not locked", lock_url(l));
		return NULL;
	}
	if (v->klass != LOCKINFO_TFLOCK)
		die(c->conflict_exit_code,
		    "%s is not a tflock lock with a lease (%s): --force cannot prove it "
		    "stale; if you know its run is gone: tflock unlock %s",
		    lock_url(l), *v->why ? v->why : "plain Terraform/OpenTofu lock",
		    v->li.id ? v->li.id : "ID");
	if (v->li.tf.park.parked)
		die(c->conflict_exit_code,
		    "%s is parked (until %s): --force never removes a parked lock; 'tflock release "
		    "--handle-file HANDLE' drops it, or 'tflock unlock %s'",
		    lock_url(l), v->li.tf.park.until, v->li.id);
	if ((rd = status_watch_stale(l, v, &stale, &err)))
		die(outcome_exit_for_lock(rd, c), "%s", err.msg);
	if (!v->present) {
		log_info("%s was released while watching", lock_url(l));
		return NULL;
	}
	if (!stale)
		die(c->conflict_exit_code, "%s is alive (renewed while watched): not removed",
		    lock_url(l));
	return xstrdup(v->li.id);
}

int reclaim_unlock(const struct config *c, const struct target *t, const char *id)
{
	struct s3_client *s3 = target_open_store(c);
	struct lock *l = NULL;
	struct tf_error err;
	struct lock_view v;
	int ret = 0;
	char *want = NULL;
	err_clear(&err);
	lock_view_init(&v);
	l = reclaim_lock(s3, c, t, "unlock", "tflock unlock");
	if (!id && !(id = want = stale_id(c, l, &v)))
		goto out;
	if ((ret = lock_selftest(l, 0, &err)))
		die(outcome_exit_for_lock(ret, c), "%s", err.msg);
	ret = lock_unlock_id(l, id, &err);
	if (ret == 0) {
		log_info("unlocked %s (ID %s)", lock_describe_hold(l), id);
	} else if (ret == LOCK_FREE) {
		log_info("%s", err.msg);
		ret = 0;
	} else {
		log_error("%s", err.msg);
		ret = outcome_exit_for_lock(ret, c);
	}
out:
	free(want);
	lock_view_free(&v);
	lock_free(l);
	s3_client_free(s3);
	return ret;
}

int reclaim_release(const struct config *c, const struct target *t, const struct ci_identity *ci)
{
	struct s3_client *s3 = target_open_store(c);
	struct lock *l = NULL;
	struct lock_view v;
	struct tf_error err;
	struct liveness_self self;
	char *bid = liveness_read_boot_id(), *pidns = liveness_read_pidns();
	const char *why = "";
	char who[512];
	enum liveness gone;
	int ret = 0;

	err_clear(&err);
	lock_view_init(&v);
	l = reclaim_lock(s3, c, t, "release", "tflock release");
	read_present(c, l, &v);
	if (!v.present) {
		log_info("'%s' is free: nothing to release", lock_describe_hold(l));
		goto out;
	}
	if (v.klass != LOCKINFO_TFLOCK) {
		log_info("'%s' is held by a lock tflock did not write (%s): not ours to release",
		         lock_describe_hold(l), v.li.who ? v.li.who : "?");
		goto out;
	}
	if (v.li.tf.park.parked) { /* B14.4: only its handle drops a parked lock */
		lock_describe_holder(&v, who, sizeof(who));
		log_info("'%s' is parked by %s: tflock release leaves a parked lock alone; "
		         "'tflock release --handle-file FILE' drops it",
		         lock_describe_hold(l), who);
		goto out;
	}
	self.boot_id = bid;
	self.pidns = pidns;
	self.ci_job = ci->job;
	gone = liveness_judge(&v.li.tf, &self, liveness_probe_kill, NULL, &why);
	lock_describe_holder(&v, who, sizeof(who));
	if (gone == LIVENESS_ALIVE_HERE) {
		log_error("'%s' is held by a live tflock on this machine (pid %ld): not released; "
		          "let it finish, or stop it and run tflock release again",
		          lock_describe_hold(l), v.li.tf.pid);
		ret = (int)c->conflict_exit_code;
		goto out;
	}
	if (gone == LIVENESS_UNKNOWN) {
		log_info("'%s' is held by %s, not provably gone (%s%s): not released; if you know "
		         "its run has ended: tflock unlock %s",
		         lock_describe_hold(l), who, why,
		         *ci->job ? "; not left by this CI job" : "", v.li.id);
		goto out;
	}
	if ((ret = lock_selftest(l, 0, &err)))
		die(outcome_exit_for_lock(ret, c), "%s", err.msg);
	ret = lock_unlock_id(l, v.li.id, &err);
	if (ret == 0) {
		log_info("released '%s' left by %s (%s)", lock_describe_hold(l),
		         v.li.who ? v.li.who : "?",
		         gone == LIVENESS_GONE_PID ? "its process is gone" : "this CI job");
	} else if (ret == LOCK_HELD || ret == LOCK_FREE) {
		log_info("'%s' changed meanwhile: not released", lock_describe_hold(l));
		ret = 0;
	} else {
		log_error("%s", err.msg);
		ret = outcome_exit_for_lock(ret, c);
	}
out:
	free(bid);
	free(pidns);
	lock_view_free(&v);
	lock_free(l);
	s3_client_free(s3);
	return ret;
}
