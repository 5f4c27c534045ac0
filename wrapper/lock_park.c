/*
 * lock_park.c — parked locks (docs/PROTOCOL.md B14.4): park a held hold (each
 * record becomes a v 2 body held by no process), resume one by its handle's
 * ID and versions, release one by its handle. Every write is B2's one
 * conditional write (lock_write()); nothing here waits for a holder.
 */
#include "lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lock_int.h"
#include "log.h"
#include "rfc3339.h"
#include "sanitize.h"

#define PARK_TRIES 3 /* writes of one record whose read-back said "not applied" */

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v ? v : "");
}

/* The v 2 body of a parking (B14.4), in l->mine: same ID and Created. */
static int is_file(const struct lock *l)
{
	return !strcmp(l->rec->ops->kind, "s3-object");
}

static void park_body(struct lock *l, const struct lock_park_opts *p, const char *until)
{
	struct lockinfo_park *k = &l->mine.tf.park;
	l->mine.tf.v = LOCKINFO_VERSION_PARKED;
	k->parked = 1;
	set_str(&k->until, until);
	k->for_ms = p->for_ms;
	set_str(&k->note, p->note);
	set_str(&k->by, p->by);
	set_str(&k->tie, p->tie && !strcmp(p->tie, "run") ? "run" : "none");
	set_str(&k->jname, p->jname);
	/* what tflock writes is stripped (B1): a note is someone's text */
	sanitize_strip_all(k->note, k->by, k->jname, (char *)NULL);
	/* the file's Info is what plain terraform shows ("Lock Info"): it says
	 * parked; the item's Info never changes during a hold (B11) */
	if (is_file(l)) {
		free(l->live_info);
		l->live_info = l->mine.info;
		l->mine.info =
		        xasprintf("parked by tflock hold for %s until %s%s%s%s; 'tflock status' "
		                  "shows more",
		                  l->mine.who, until, *k->note ? " (note: " : "", k->note,
		                  *k->note ? ")" : "");
		sanitize_strip_all(l->mine.info, (char *)NULL);
	}
}

/* Back to a live body (a failed parking, or a resume): v 1, no park. */
static void live_body(struct lock *l)
{
	l->mine.tf.v = LOCKINFO_VERSION;
	lockinfo_park_free(&l->mine.tf.park);
	if (l->live_info) {
		free(l->mine.info);
		l->mine.info = l->live_info;
		l->live_info = NULL;
	}
}

static int park_one(struct lock *l, struct tf_error *err)
{
	int64_t deadline = clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS,
	        end = l->renew_send_ns + (l->o.lease_ms - lock_margin_ms(l)) * NS_PER_MS;
	int ret = W_NOT_APPLIED;
	if (clock_boot_ns() >= end) { /* B4: never a write past the lease's end */
		l->held = 0;
		return err_set(err, ERR_NONE, "%s: its lease ran out before it could be parked",
		               l->url),
		       LOCK_LOST;
	}
	if (deadline > end)
		deadline = end;
	for (int i = 0; i < PARK_TRIES && ret == W_NOT_APPLIED; i++)
		ret = lock_write(l, C_MATCH, l->etag, deadline, err);
	if (ret == W_APPLIED) {
		l->held = 0; /* held by no process from now on: no renewal, no release */
		l->parked = 1;
		log_event("parked %s id=%s version=%s", l->url, l->mine.id, l->etag);
		return LOCK_OK;
	}
	if (ret == W_OTHER || ret == W_ABSENT) {
		l->held = 0;
		err_set(err, ERR_NONE, "%s was lost before it could be parked", l->url);
		return LOCK_LOST;
	}
	if (ret == W_NOT_APPLIED)
		err_set(err, ERR_NONE, "%s: the parking write did not apply in %d tries", l->url,
		        PARK_TRIES);
	return lock_outcome(l, ret < 0 ? ret : ERR_INTERNAL);
}

/* A member parked before another failed: live again (held), so that the
 * caller's release gives it back instead of leaving it parked without a handle. */
static void unpark(struct lock *l)
{
	struct tf_error e;
	int ret;
	err_clear(&e);
	live_body(l);
	ret = lock_write(l, C_MATCH, l->etag, clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS,
	                 &e);
	l->parked = 0;
	if (ret == W_APPLIED) {
		l->held = 1;
		return;
	}
	log_warn("%s stays parked (the rest of the hold could not be parked, and turning it "
	         "live again failed: %s); it ends at its parking's end, or 'tflock unlock %s'",
	         l->url, e.msg[0] ? e.msg : "another holder", l->mine.id);
}

int lock_park(struct lock *l, const struct lock_park_opts *p, char until[RFC3339_MAX],
              struct tf_error *err)
{
	struct timespec t = clock_wall();
	int64_t end_ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 + p->for_ms;
	int ret = LOCK_OK;
	/* rounded up to the second: the parking never ends before for_ms */
	t.tv_sec = (time_t)((end_ms + 999) / 1000);
	t.tv_nsec = 0;
	rfc3339_format(&t, until);
	for (struct lock *m = l; m; m = m->next)
		if (!m->held)
			return err_set(err, ERR_NONE, "%s is not held: nothing to park", m->url),
			       LOCK_LOST;
	/* B12's order: the file first, then the item */
	for (struct lock *m = l; m && ret == LOCK_OK; m = m->next) {
		park_body(m, p, until);
		ret = park_one(m, err);
		if (ret != LOCK_OK)
			live_body(m);
	}
	if (ret != LOCK_OK) /* a hold is parked whole or not at all: the caller releases */
		for (struct lock *m = l; m && m->parked; m = m->next)
			unpark(m);
	return ret;
}

/* Does the record in v carry the parking the handle names (and, with run
 * non-NULL and tie "run", was it parked by that run)? LOCK_OK, LOCK_LOST with
 * err saying what became of it, or LOCK_BAD_INPUT (another run's). */
static int parked_as(struct lock *l, const struct lock_view *v, const char *id, const char *version,
                     const char *run, struct tf_error *err)
{
	char shown[128];
	if (!v->present)
		return err_set(err, ERR_NONE,
		               "%s is not locked: the parked lock was released "
		               "or expired and released; plan again",
		               l->url),
		       LOCK_LOST;
	if (!v->li.id || strcmp(v->li.id, id)) {
		char who[512];
		lock_describe_holder(v, who, sizeof(who));
		return err_set(err, ERR_NONE,
		               "%s is held by %s: the parked lock was taken over "
		               "or released; plan again",
		               l->url, who),
		       LOCK_LOST;
	}
	if (v->klass != LOCKINFO_TFLOCK || !v->li.tf.park.parked)
		return err_set(err, ERR_NONE, "%s is no longer parked (already resumed)", l->url),
		       LOCK_LOST;
	if (strcmp(v->etag, version)) {
		sanitize_to(shown, sizeof(shown), version, 80);
		return err_set(err, ERR_NONE,
		               "%s was re-parked or changed since the handle was "
		               "written (version %s): plan again",
		               l->url, shown),
		       LOCK_LOST;
	}
	if (run && !strcmp(v->li.tf.park.tie, "run") &&
	    strcmp(run, v->li.tf.cj.run ? v->li.tf.cj.run : "")) {
		sanitize_to(shown, sizeof(shown), v->li.tf.cj.run, 40);
		return err_set(err, ERR_USAGE, "%s is parked for run %s (--tie run), not this one",
		               l->url, *shown ? shown : "(none)"),
		       LOCK_BAD_INPUT;
	}
	return LOCK_OK;
}

/* Resume one record: its parked body becomes our live one (same Terraform
 * fields, ID and Created; our own Tflock part; seq above the parked one). */
static int resume_one(struct lock *l, const char *id, const char *version, const char *run,
                      struct tf_error *err)
{
	struct lock_view v;
	int64_t deadline = clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS;
	int ret, tries = 0;
	lock_view_init(&v);
	ret = lock_read(l, &v, err);
	if (ret)
		goto out;
	ret = parked_as(l, &v, id, version, run, err);
	if (ret)
		goto out;
	set_str(&l->mine.id, v.li.id);
	set_str(&l->mine.operation, v.li.operation);
	if (!is_file(l)) /* the item's Info is fixed (B11); the file's is ours */
		set_str(&l->mine.info, v.li.info);
	set_str(&l->mine.who, v.li.who);
	set_str(&l->mine.version, v.li.version);
	set_str(&l->mine.created, v.li.created);
	live_body(l);
	l->mine.tf.seq = v.li.tf.seq;
	do
		ret = lock_write(l, C_MATCH, version, deadline, err);
	while (ret == W_NOT_APPLIED && ++tries < PARK_TRIES);
	if (ret == W_APPLIED) {
		ret = lock_acquired(l, "resumed");
	} else if (ret == W_OTHER || ret == W_ABSENT || ret == W_NOT_APPLIED) {
		err_set(err, ERR_NONE, "%s changed while resuming it: taken over or released",
		        l->url);
		ret = LOCK_LOST;
	} else {
		ret = lock_outcome(l, ret);
	}
out:
	lock_view_free(&v);
	return ret;
}

static int atomic_store(const struct lock *l)
{
	return l->rec->caps.known && l->rec->caps.cond_delete;
}

/* On a store whose If-Match is not proven atomic (B14.4, A4): a takeover that
 * raced the resume on the parked version may have applied too. After one
 * request bound (the caller waits, once for the hold), read: still ours, or
 * lost. */
static int resume_confirm(struct lock *l, struct tf_error *err)
{
	struct lock_view v;
	int ret;
	if (atomic_store(l))
		return LOCK_OK;
	lock_view_init(&v);
	ret = lock_read(l, &v, err);
	if (!ret && (!v.present || !v.li.id || strcmp(v.li.id, l->mine.id) ||
	             v.li.tf.seq != l->mine.tf.seq)) {
		l->held = 0;
		err_set(err, ERR_NONE, "%s was taken over while it was being resumed", l->url);
		ret = LOCK_LOST;
	}
	lock_view_free(&v);
	return ret;
}

/* The hold's records, file first, in m; 0 unless the handle names n of them. */
static size_t handle_members(struct lock *l, struct lock *m[2], size_t n, struct tf_error *err)
{
	size_t members = l->next ? 2 : 1;
	m[0] = l;
	m[1] = l->next;
	if (n == members)
		return members;
	err_set(err, ERR_USAGE, "the handle names %zu record(s), the lock has %zu", n, members);
	return 0;
}

/* One wait of a request bound for the whole hold, when a record's store is
 * not proven atomic (resume_confirm()). */
static void resume_wait(struct lock *const m[], size_t members)
{
	for (size_t i = 0; i < members; i++)
		if (!atomic_store(m[i])) {
			log_info("%s: resumed; reading it again in %lld ms before the command "
			         "starts (this store's conditional writes are not proven atomic)",
			         m[i]->url, (long long)lock_request_timeout_ms(m[i]));
			lock_sleep_ms(m[i], lock_request_timeout_ms(m[i]));
			return;
		}
}

int lock_resume(struct lock *l, const char *id, const char *const *versions, size_t n,
                const char *run, struct tf_error *err)
{
	struct lock *m[2];
	size_t members = handle_members(l, m, n, err);
	int ret = LOCK_OK;
	if (!members)
		return LOCK_BAD_INPUT;
	for (size_t i = 0; i < members; i++)
		m[i]->wait_start_ns = clock_boot_ns(); /* a resume never waits */
	/* the item first, then the file (B14.4): the file is what plain
	 * terraform and most waiters watch, and it goes live last */
	for (size_t i = members; i-- > 0 && ret == LOCK_OK;)
		ret = resume_one(m[i], id, versions[i], run, err);
	if (ret == LOCK_OK)
		resume_wait(m, members);
	for (size_t i = members; i-- > 0 && ret == LOCK_OK;)
		ret = resume_confirm(m[i], err);
	if (ret != LOCK_OK) /* a half-resumed hold gives back what it took */
		for (size_t i = 0; i < members; i++)
			if (m[i]->held) {
				struct tf_error e;
				err_clear(&e);
				if (lock_release_first(m[i], &e))
					log_warn("releasing the resumed %s failed: %s", m[i]->url,
					         e.msg);
			}
	if (ret == LOCK_OK)
		for (size_t i = 0; i < members; i++)
			log_event("resumed %s id=%s version=%s", m[i]->url, id, m[i]->etag);
	return ret;
}

int lock_release_parked(struct lock *l, const char *id, const char *const *versions, size_t n,
                        struct tf_error *err)
{
	struct lock *m[2];
	size_t members = handle_members(l, m, n, err);
	int ret = LOCK_OK;
	if (!members)
		return LOCK_BAD_INPUT;
	for (size_t i = 0; i < members && ret == LOCK_OK; i++) {
		struct lock_view v;
		lock_view_init(&v);
		ret = lock_read(m[i], &v, err);
		if (!ret) /* any run may drop it: the handle says which */
			ret = parked_as(m[i], &v, id, versions[i], NULL, err);
		lock_view_free(&v);
	}
	/* B5 on exactly the handle's versions (never re-read by ID: a resume in
	 * between keeps the ID), the item first, then the file (B12) */
	for (size_t i = members; i-- > 0 && ret == LOCK_OK;) {
		ret = lock_remove_version(m[i], versions[i], err);
		if (ret == LOCK_HELD) {
			err_set(err, ERR_NONE,
			        "%s changed while it was being released (resumed?): "
			        "nothing removed",
			        m[i]->url);
			ret = LOCK_LOST;
		}
		ret = ret ? lock_outcome(m[i], ret) : LOCK_OK;
	}
	return ret;
}
