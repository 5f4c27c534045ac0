/*
 * lock_acquire.c — acquiring (docs/PROTOCOL.md B3, B4): create the lock record
 * if absent; else wait, polling at a bounded pace, until it is free, changes, or
 * its tflock holder stays silent for its whole lease (then take it over with one
 * conditional write on the version we saw); through a failing store with
 * backoff, up to the patience budget.
 */
#include "lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "ci.h"
#include "cijob.h"
#include "dur.h"
#include "lock_int.h"
#include "log.h"
#include "queue.h"
#include "rfc3339.h"
#include "sanitize.h"

#define PRINT_EVERY_NS (10000 * NS_PER_MS) /* progress lines: a human pace */

/* "holder's job 123 was cancelled 40 s ago (GitHub: completed/cancelled)" */
static void ci_said(const struct lock *l, char *out, size_t size)
{
	const struct ci_watch *w = &l->ciw;
	char ago[48] = "";
	if (w->ended_ago_s >= 0) {
		char d[32];
		/* counted on from the answer's receipt, so a later line stays true */
		dur_format(w->ended_ago_s * 1000 +
		                   (clock_boot_ns() - w->t_recv) / NS_PER_MS / 1000 * 1000,
		           d, sizeof(d));
		snprintf(ago, sizeof(ago), " %s ago", d);
	}
	snprintf(out, size, "the CI says the holder's %s ended%s (%s)", w->what, ago, w->state);
}

/* "parked by WHO (note …) until 14:05:00 UTC, 53m left" (B14.4) */
static void park_said(const struct lock_view *v, char *out, size_t size)
{
	const struct lockinfo_park *p = &v->li.tf.park;
	struct buf b = BUF_INIT;
	struct timespec until;
	char who[512];
	lock_describe_holder(v, who, sizeof(who));
	buf_addf(&b, "parked by %s", who);
	if (p->note && *p->note) {
		buf_adds(&b, " (note: ");
		sanitize_text(&b, p->note, 120);
		buf_addc(&b, ')');
	}
	buf_adds(&b, " until ");
	sanitize_text(&b, p->until, 40);
	if (!rfc3339_parse(p->until, RFC3339_AWS, &until)) {
		char left[32];
		int64_t ms = (int64_t)(until.tv_sec - clock_wall().tv_sec) * 1000;
		dur_format(ms > 0 ? ms : 0, left, sizeof(left));
		buf_addf(&b, ", %s left", left);
	}
	sanitize_to(out, size, b.data, 0);
	buf_free(&b);
}

static void progress(struct lock *l, const struct lock_view *v, int64_t now)
{
	char who[512], waited[32], hb[32];
	int64_t since_change = (now - v->first_seen_ns) / NS_PER_MS;
	lock_describe_holder(v, who, sizeof(who));
	dur_format((now - l->wait_start_ns) / NS_PER_MS, waited, sizeof(waited));
	dur_format(since_change < 0 ? 0 : since_change, hb, sizeof(hb));
	if (v->klass == LOCKINFO_TFLOCK && v->li.tf.park.parked) {
		char park[400];
		park_said(v, park, sizeof(park));
		log_info("waiting for %s: %s — waited %s", l->url, park, waited);
	} else if (v->klass == LOCKINFO_TFLOCK && l->ciw.verdict == CIJOB_FINISHED && v->li.id &&
	           !strcmp(l->ciw.id, v->li.id) && !strcmp(l->ciw.etag, v->etag)) {
		char said[320];
		ci_said(l, said, sizeof(said));
		log_info("waiting for %s: held by %s, unchanged for %s (lease %lds); %s — "
		         "waited %s",
		         l->url, who, hb, v->li.tf.lease, said, waited);
	} else if (v->klass == LOCKINFO_TFLOCK)
		log_info("waiting for %s: held by %s, unchanged for %s (lease %lds) — waited %s",
		         l->url, who, hb, v->li.tf.lease, waited);
	else
		log_info("waiting for %s: held by %s — waited %s", l->url, who, waited);
}

static void report_foreign(struct lock *l, const struct lock_view *v)
{
	char who[512], why[512], id[512];
	lock_describe_holder(v, who, sizeof(who));
	sanitize_to(why, sizeof(why), v->why, SANITIZE_FIELD_MAX);
	sanitize_to(id, sizeof(id), v->li.id, DESCRIBE_ID_MAX);
	if (v->klass == LOCKINFO_MALFORMED)
		log_warn("%s holds a body tflock and Terraform cannot use (%s); it is never "
		         "removed automatically: if nobody holds it, delete the object by hand",
		         l->url, why);
	else
		log_warn("%s is held by %s, a lock without a tflock lease (%s); it is never taken "
		         "over automatically: if its run is gone, run 'tflock unlock %s' or "
		         "'terraform force-unlock %s'",
		         l->url, who, *why ? why : "plain Terraform/OpenTofu lock", id, id);
}

/* The caller's display of waiting (lock_opts.on_wait) begins. */
static void wait_begin(struct lock *l)
{
	if (!l->waiting) {
		l->waiting = 1;
		if (l->o.on_wait)
			l->o.on_wait(l->o.on_wait_arg, LOCK_WAIT_BEGIN);
	}
}

/* The caller's display of waiting (lock_opts.on_wait) ends. */
static void wait_end(struct lock *l)
{
	if (l->waiting) {
		l->waiting = 0;
		if (l->o.on_wait)
			l->o.on_wait(l->o.on_wait_arg, LOCK_WAIT_END);
	}
}

int lock_acquired(struct lock *l, const char *how)
{
	wait_end(l);
	l->held = 1;
	l->acquired_ns = clock_boot_ns();
	log_verbose("acquired %s (%s, ID %s)", l->url, how, l->mine.id);
	log_event("acquired %s id=%s how=%s renew_send=%lld", l->url, l->mine.id, how,
	          (long long)l->renew_send_ns);
	return 0;
}

/*
 * A failing store while acquiring: the streak of failed requests since the last
 * answer that said something about the lock. It slows every retry down (backoff
 * with jitter, SlowDown/503/429 counting double), is reported at a human pace,
 * and ends the wait as LOCK_UNAVAILABLE when it lasts the patience budget, or
 * when the waiting limit comes while it lasts (then the store, not a holder, was
 * the obstacle).
 */
struct trouble {
	unsigned errors;
	int64_t since, last_print;
	struct tf_error err;
};

static void trouble_ok(struct lock *l, struct trouble *t)
{
	if (t->errors >= 2)
		log_info("%s answers again", l->url);
	t->errors = 0;
	t->since = 0;
}

static void trouble_fail(struct lock *l, struct trouble *t, const struct tf_error *e)
{
	int64_t now = clock_boot_ns();
	/* SlowDown, 503, 429, and DynamoDB's throttles (HTTP 400) count double */
	int slow = e->kind == ERR_HTTP &&
	           (e->http_status == 429 || e->http_status == 503 ||
	            !strcmp(e->s3_code, "ProvisionedThroughputExceededException") ||
	            !strcmp(e->s3_code, "ThrottlingException") ||
	            !strcmp(e->s3_code, "RequestLimitExceeded"));
	t->errors += slow ? 2 : 1;
	if (!t->since)
		t->since = now;
	t->err = *e;
	if (t->errors >= 2 && (!t->last_print || now - t->last_print >= PRINT_EVERY_NS)) {
		char d[32];
		dur_format((now - t->since) / NS_PER_MS, d, sizeof(d));
		log_warn("the store fails while acquiring %s (for %s; retrying with backoff): %s",
		         l->url, d, e->msg);
		t->last_print = now;
	} else {
		log_verbose("acquiring %s: %s", l->url, e->msg);
	}
}

static int64_t trouble_delay(const struct lock *l, const struct trouble *t, int64_t poll)
{
	if (!t->errors)
		return poll;
	return poll + backoff_full_jitter(t->errors < 10 ? t->errors : 10, lock_poll_ms(l),
	                                  l->o.lease_ms / 4, rand_u64_default, NULL);
}

static int unavailable(struct lock *l, const struct trouble *t, struct tf_error *err)
{
	char d[32];
	dur_format((clock_boot_ns() - t->since) / NS_PER_MS, d, sizeof(d));
	*err = t->err;
	err_prefix(err, "the store at %s kept failing for %s", s3_client_describe(l->s3), d);
	return LOCK_UNAVAILABLE;
}

/*
 * Our ID is in the store with an older seq than we last wrote: one of our
 * earlier writes of this acquisition applied late (a delayed create or
 * takeover). It was sent no earlier than the first write carrying our ID, so
 * the lease counts from that send (B4); a renewal follows at once.
 */
static int adopt(struct lock *l, const char *how, struct tf_error *err)
{
	struct tf_error rerr;
	int ret;
	l->renew_send_ns = l->id_first_send;
	l->held = 1;
	log_event("adopt %s id=%s first_send=%lld", l->url, l->mine.id,
	          (long long)l->id_first_send);
	err_clear(&rerr);
	ret = lock_renew(l, &rerr);
	if (ret == LOCK_LOST) {
		l->held = 0;
		*err = rerr;
		return LOCK_LOST;
	}
	if (ret)
		log_verbose("renewing %s right after acquiring it failed: %s", l->url, rerr.msg);
	return lock_acquired(l, how);
}

/*
 * Stopping while acquiring: a create sent before the signal may have applied
 * unseen. Look once (not abandoned on the signal, bounded by the request
 * timeout) and release it if it is ours, so no lock is left behind.
 */
static void cancel_cleanup(struct lock *l)
{
	struct lock_view v;
	struct tf_error e;
	if (!l->maybe_created || l->held)
		return;
	l->in_acquire = 0;
	lock_view_init(&v);
	err_clear(&e);
	if (lock_read(l, &v, &e)) {
		log_warn("a create of %s was sent before the signal and may have applied; "
		         "reading it back failed (%s): if it did, it is taken over after its "
		         "lease (%lds)",
		         l->url, e.msg, l->mine.tf.lease);
	} else if (v.present && v.li.id && !strcmp(v.li.id, l->mine.id)) {
		snprintf(l->etag, sizeof(l->etag), "%s", v.etag);
		l->held = 1;
		if (lock_release_first(l, &e))
			log_warn("a create of %s sent before the signal had applied; releasing "
			         "it failed: %s",
			         l->url, e.msg);
		else
			log_info("released %s: a create sent before the signal had applied",
			         l->url);
	}
	lock_view_free(&v);
}

/* One acquisition's state. */
struct acq {
	struct lock_view v; /* the holder as last seen */
	struct trouble t;
	int64_t deadline; /* the waiting limit (CLOCK_BOOTTIME), 0: none */
	int64_t last_print;
	int creates;
	char last_id[64];
	int ret; /* the outcome, once decided */
};

/* What the loop does next. */
enum { A_OUT, A_HELD, A_CREATE, A_WAIT, A_NEXT };

/* Try to create the lock: A_OUT (decided), A_CREATE (freed meanwhile: again at
 * once), or A_WAIT (someone holds it, or the store failed). */
static int acq_create(struct lock *l, struct acq *a, struct tf_error *err)
{
	int ret;
	if (lock_cancelled(l)) {
		a->ret = LOCK_CANCELLED;
		return A_OUT;
	}
	ret = lock_write(l, C_CREATE, NULL, clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS,
	                 err);
	a->creates++;
	if (ret == W_APPLIED) {
		a->ret = lock_acquired(l, "created");
		return A_OUT;
	}
	if (ret == W_NOT_APPLIED) { /* an earlier create of ours applied */
		a->ret = adopt(l, "created", err);
		if (a->ret != LOCK_LOST)
			return A_OUT;
		ret = W_OTHER;
	}
	if (ret < 0) {
		a->ret = ret;
		if (l->broken)
			return A_OUT;
		if (lock_cancelled(l)) {
			a->ret = LOCK_CANCELLED;
			return A_OUT;
		}
		trouble_fail(l, &a->t, err);
	} else if (l->write_err.kind) {
		trouble_fail(l, &a->t, &l->write_err); /* the PUT failed; its read-back did not */
	} else {
		trouble_ok(l, &a->t);
	}
	if (ret == W_OTHER) {
		/* the read-back left the holder there; a version already watched keeps
		 * the receipt it was first seen at (B4, B12) */
		if (a->v.present && !strcmp(a->v.etag, l->last_holder.etag))
			l->last_holder.first_seen_ns = a->v.first_seen_ns;
		lock_view_free(&a->v);
		a->v = l->last_holder;
		lock_view_init(&l->last_holder);
	} else if (ret == W_ABSENT) {
		lock_view_free(&a->v);
		if (!a->t.errors && a->creates < 1000)
			return A_CREATE; /* freed between our 412 and our read: again at once */
	}
	return A_WAIT;
}

/* A holder seen while waiting: counted for reports, described at a human pace. */
static void acq_note_holder(struct lock *l, struct acq *a, int64_t now)
{
	const struct lock_view *v = &a->v;
	const char *hid = v->li.id ? v->li.id : "";
	int new_holder = strcmp(a->last_id, hid) != 0 || !a->last_print;
	if (new_holder && strcmp(l->counted_id, hid)) { /* once per holder (B13: the
	                                                      create before queueing saw it too) */
		snprintf(l->counted_id, sizeof(l->counted_id), "%s", hid);
		l->holders_seen++;
		if (l->nseen < 16) {
			l->seen[l->nseen].who = xstrdup(v->li.who ? v->li.who : "");
			l->seen[l->nseen].operation =
			        xstrdup(v->li.operation ? v->li.operation : "");
			l->seen[l->nseen].id = xstrdup(hid);
			l->nseen++;
		}
		if (v->klass != LOCKINFO_TFLOCK)
			report_foreign(l, v);
	}
	if (new_holder && !l->trying)
		wait_begin(l);
	if (!l->o.no_wait && (new_holder || now - a->last_print >= PRINT_EVERY_NS)) {
		progress(l, v, now);
		a->last_print = now;
		snprintf(a->last_id, sizeof(a->last_id), "%s", hid);
	}
}

/* The limits of waiting: A_HELD with the outcome when one is reached, else A_WAIT. */
static int acq_limits(struct lock *l, struct acq *a, int64_t now, struct tf_error *err)
{
	const struct lock_view *v = &a->v;
	if (lock_cancelled(l)) {
		a->ret = LOCK_CANCELLED;
		return A_HELD;
	}
	if (v->present && v->li.id && l->o.inherited_id && !strcmp(v->li.id, l->o.inherited_id)) {
		err_set(err, ERR_USAGE,
		        "%s is held by the tflock that started this one (ID %s), but this run "
		        "could not verify it may re-enter: not waiting for our own parent",
		        l->url, v->li.id);
		a->ret = LOCK_HELD;
		return A_HELD;
	}
	if (a->t.since && now - a->t.since >= lock_patience_ms(l) * NS_PER_MS) {
		a->ret = unavailable(l, &a->t, err);
		return A_HELD;
	}
	if (v->present)
		acq_note_holder(l, a, now);
	if (l->o.no_wait && v->present && !a->t.errors) {
		a->ret = LOCK_HELD;
		return A_HELD;
	}
	if (a->deadline && now >= a->deadline) {
		a->ret = a->t.errors ? unavailable(l, &a->t, err) : LOCK_HELD;
		return A_HELD;
	}
	return A_WAIT;
}

/* B14.3: how long a finished answer must stand, the version unchanged, before
 * a live holder is taken over: its heartbeat period H, its renewal's request
 * bound T (L/8, at most 10 s) and the margin m, all from its lease (ms) */
static int64_t holder_h_t_m_ms(const struct lock *l, const struct lock_view *v)
{
	int64_t L = v->holder_lease_ms, m = L / 10, floor = lock_scaled(l, 2000), t = L / 8,
	        cap = lock_scaled(l, 10000);
	return L / 4 + (t < cap ? t : cap) + (m > floor ? m : floor);
}

/* B14.3: why --ci-takeover auto does not take the finished holder in v over
 * early, or NULL when it does (or with --ci-takeover any) */
static const char *ci_refusal(const struct lock *l, const struct lock_view *v)
{
	if (l->o.ci_takeover == LOCK_CI_ANY)
		return NULL;
	if (v->li.tf.cj.eph != 1 || !l->ciw.shared_runner)
		return "on a runner that may outlive its jobs";
	/* a store whose If-Match is not atomic under concurrency (RGW, A4) could
	 * apply a late renewal of a holder still alive next to our takeover */
	if (!l->rec->caps.known || !l->rec->caps.cond_delete)
		return "this store does not prove its conditional writes atomic";
	return NULL;
}

/* B14.2: ask the holder's CI whether its job ended, when the waiter may and a
 * question is due: at once for a new holder, then every 30 s, never while a
 * finished answer for the current version stands. */
static void ci_ask(struct lock *l, const struct lock_view *v)
{
	struct ci_watch *w = &l->ciw;
	struct cijob_answer ans;
	char why[320], who[512];
	int64_t now = clock_boot_ns(), next;
	enum cijob_subject subj;
	if (l->o.ci_takeover == LOCK_CI_OFF || !l->o.ci_api || !v->present ||
	    v->klass != LOCKINFO_TFLOCK || !v->li.id || !*v->li.id)
		return;
	/* B14.4: a parked lock is asked about by its run, and only when tied to it */
	subj = v->li.tf.park.parked ? CIJOB_RUN : CIJOB_JOB;
	if (subj == CIJOB_RUN && strcmp(v->li.tf.park.tie, "run"))
		return;
	if (strlen(v->li.id) >= sizeof(w->id)) /* not a tflock ID: never paced, never asked */
		return;
	if (strcmp(w->id, v->li.id)) { /* another holder: start afresh */
		memset(w, 0, sizeof(*w));
		snprintf(w->id, sizeof(w->id), "%s", v->li.id);
	}
	if ((w->verdict == CIJOB_FINISHED && !strcmp(w->etag, v->etag)) || now < w->next_ask)
		return;
	w->asks++;
	if (!cijob_askable(&v->li.tf.cj, subj, l->o.ci_api, why, sizeof(why))) {
		w->next_ask = INT64_MAX; /* nothing about this holder will change that */
		/* say so only when the holder is a job of this very CI */
		if (v->li.tf.cj.cip && *v->li.tf.cj.cip && l->mine.tf.cj.cip &&
		    !strcmp(v->li.tf.cj.cip, l->mine.tf.cj.cip)) {
			lock_describe_holder(v, who, sizeof(who));
			log_info("not asking the CI whether %s's job has ended (%s): waiting for "
			         "its lease",
			         who, why);
		}
		return;
	}
	snprintf(w->etag, sizeof(w->etag), "%s", v->etag);
	cijob_ask(&v->li.tf.cj, subj, l->o.ci_api, (long)lock_scaled(l, 10000), &ans);
	now = clock_boot_ns();
	/* 30 s, doubling per question about this holder up to 5 min: a healthy
	 * holder's waiters cost the CI's rate limit little (B14.2) */
	next = lock_scaled(l, 30000LL << (w->asks < 5 ? w->asks - 1 : 4));
	if (next > lock_scaled(l, 300000))
		next = lock_scaled(l, 300000);
	if (ans.rate_limited) {
		int64_t wait = ans.retry_s >= 0 && ans.retry_s < 600 ? ans.retry_s * 1000 : 600000;
		wait = lock_scaled(l, wait);
		next = wait > next ? wait : next;
	}
	w->next_ask = now + next * NS_PER_MS;
	w->verdict = ans.verdict;
	w->t_recv = ans.t_recv ? ans.t_recv : now;
	w->ended_ago_s = ans.ended_ago_s;
	w->shared_runner = ans.shared_runner;
	snprintf(w->what, sizeof(w->what), "%s", ans.what);
	snprintf(w->state, sizeof(w->state), "%s", ans.state);
	log_event("ci-answer %s holder=%s etag=%s verdict=%s t_recv=%lld", l->url, v->li.id,
	          v->etag,
	          ans.verdict == CIJOB_FINISHED ? "finished"
	          : ans.verdict == CIJOB_ALIVE  ? "alive"
	                                        : "unknown",
	          (long long)w->t_recv);
	lock_describe_holder(v, who, sizeof(who));
	if (ans.verdict == CIJOB_UNKNOWN && !w->warned) {
		w->warned = 1;
		log_warn("cannot tell whether %s's CI job has ended: %s; waiting for its lease",
		         who, ans.why);
	} else if (ans.verdict == CIJOB_FINISHED && subj == CIJOB_RUN) {
		ci_said(l, why, sizeof(why));
		log_info("%s: %s: the parked lock is taken over", l->url, why);
	} else if (ans.verdict == CIJOB_FINISHED) {
		const char *no = ci_refusal(l, v);
		ci_said(l, why, sizeof(why));
		if (no) {
			if (!w->said_ended)
				log_info("%s: %s, but %s: waiting for its lease (--ci-takeover any "
				         "takes such locks over)",
				         l->url, why, no);
			w->said_ended = 1;
		} else {
			char hm[32];
			dur_format(holder_h_t_m_ms(l, v), hm, sizeof(hm));
			log_info("%s: %s: taking it over if the lock stays unchanged for %s",
			         l->url, why, hm);
		}
	}
}

/* B14.3: may the live holder in v be taken over now on its CI's word? */
static int ci_takeable(const struct lock *l, const struct lock_view *v, int64_t now)
{
	const struct ci_watch *w = &l->ciw;
	if (l->acq_mode != ACQ_FULL || w->verdict != CIJOB_FINISHED || !v->present ||
	    v->klass != LOCKINFO_TFLOCK || !v->li.id || strcmp(w->id, v->li.id) ||
	    strcmp(w->etag, v->etag) || (v->holder_lease_ms <= 0 && !v->li.tf.park.parked))
		return 0;
	if (v->li.tf.park.parked) /* no process: at once (B14.3) */
		return 1;
	if (ci_refusal(l, v))
		return 0;
	return now - w->t_recv >= holder_h_t_m_ms(l, v) * NS_PER_MS;
}

/* B14.4: is v a lock parked by this very job of this very CI run (the plan job
 * run again)? Same CI, server, project, run and job name, all non-empty. */
static int own_parking(const struct lock *l, const struct lock_view *v)
{
	const struct lockinfo_cijob *h = &v->li.tf.cj, *m = &l->mine.tf.cj;
	if (!l->o.park_job || !*l->o.park_job || !v->present || v->klass != LOCKINFO_TFLOCK ||
	    !v->li.tf.park.parked || !m->cip || !m->run)
		return 0;
	return *m->cip && *m->run && !strcmp(h->cip, m->cip) && ci_same_server(h->srv, m->srv) &&
	       !strcmp(h->proj, m->proj) && !strcmp(h->run, m->run) &&
	       !strcmp(v->li.tf.park.jname, l->o.park_job);
}

/* Has the holder in v been silent for its whole lease (B4)? */
static int stale(const struct lock_view *v, int64_t now)
{
	return v->present && v->klass == LOCKINFO_TFLOCK && v->holder_lease_ms > 0 &&
	       now - v->first_seen_ns >= v->holder_lease_ms * NS_PER_MS;
}

/* B14.4: has the parking in v expired, by the wall clock (until + the skew
 * margin) or clock-free (the same version seen for for_ms + the margin)? */
static int park_expired(const struct lock *l, const struct lock_view *v, int64_t now)
{
	const struct lockinfo_park *p = &v->li.tf.park;
	int64_t margin = lock_scaled(l, 60000);
	struct timespec until, wall;
	if (!v->present || v->klass != LOCKINFO_TFLOCK || !p->parked)
		return 0;
	if (now - v->first_seen_ns >= (p->for_ms + margin) * NS_PER_MS)
		return 1;
	if (rfc3339_parse(p->until, RFC3339_AWS, &until))
		return 0;
	wall = clock_wall();
	return ((int64_t)wall.tv_sec - (int64_t)until.tv_sec) * 1000 +
	               ((int64_t)wall.tv_nsec - (int64_t)until.tv_nsec) / 1000000 >=
	       margin;
}

/* B4: take over a tflock holder silent for its whole lease (or, B14.3, one whose
 * CI job ended), with one conditional write on the version we saw. A_OUT
 * (decided), A_CREATE (it was freed), A_NEXT (another holder), A_WAIT (the write
 * failed: poll on). */
static int acq_takeover(struct lock *l, struct acq *a, int64_t now, struct tf_error *err)
{
	struct lock_view *v = &a->v;
	char who[512], why[320];
	int by_lease = stale(v, now), by_park = !by_lease && park_expired(l, v, now);
	int by_own = !by_lease && !by_park && own_parking(l, v);
	int by_ci = !by_lease && !by_park && !by_own && ci_takeable(l, v, now);
	const char *via = by_lease  ? "lease"
	                  : by_park ? "park-expiry"
	                  : by_own  ? "own-parking"
	                  : by_ci   ? "ci"
	                            : "hold";
	int ret;
	lock_describe_holder(v, who, sizeof(who));
	if (by_ci) {
		ci_said(l, why, sizeof(why));
	} else if (by_park) {
		char until[64];
		sanitize_to(until, sizeof(until), v->li.tf.park.until, 40);
		snprintf(why, sizeof(why), "its parking ended (until %s)", until);
	} else if (by_own) {
		snprintf(why, sizeof(why), "it was parked by this job of this run, run again");
	} else if (by_lease) {
		snprintf(why, sizeof(why), "unchanged for its whole lease (%lds)", v->li.tf.lease);
	} else { /* B12: the other record of the same hold was taken over */
		snprintf(why, sizeof(why), "the hold's other record was taken over (same ID)");
	}
	log_debug("takeover: %s unchanged since %lld ns (receipt), lease %lld ms", v->etag,
	          (long long)v->first_seen_ns, (long long)v->holder_lease_ms);
	ret = lock_write(l, C_MATCH, v->etag, now + lock_heartbeat_ms(l) * NS_PER_MS, err);
	if (ret == W_APPLIED || ret == W_NOT_APPLIED) {
		l->took_over = 1;
		log_event("takeover %s from=%s etag=%s first_seen=%lld lease_ms=%lld via=%s "
		          "ci_recv=%lld",
		          l->url, v->li.id, v->etag, (long long)v->first_seen_ns,
		          (long long)v->holder_lease_ms, via,
		          (long long)(by_ci ? l->ciw.t_recv : 0));
		log_warn("took over %s from %s: %s — its holder is gone", l->url, who, why);
		snprintf(l->takeover_why, sizeof(l->takeover_why), "%s", why);
		/* B12's shortcut for the item stays for a parked hold (no process) */
		l->took_over_by_ci = by_ci && !v->li.tf.park.parked;
		lock_view_free(&l->last_holder);
		l->last_holder = *v;
		lock_view_init(v);
		if (ret == W_APPLIED) {
			a->ret = lock_acquired(l, "taken over");
			return A_OUT;
		}
		a->ret = adopt(l, "taken over", err);
		return a->ret == LOCK_LOST ? A_NEXT : A_OUT;
	}
	if (ret == W_ABSENT) {
		if (l->write_err.kind)
			trouble_fail(l, &a->t, &l->write_err);
		return A_CREATE;
	}
	if (ret == W_OTHER) {
		if (l->write_err.kind)
			trouble_fail(l, &a->t, &l->write_err);
		else
			trouble_ok(l, &a->t);
		lock_view_free(v);
		*v = l->last_holder;
		lock_view_init(&l->last_holder);
		return A_NEXT;
	}
	a->ret = ret;
	if (l->broken)
		return A_OUT;
	trouble_fail(l, &a->t, err);
	return A_WAIT;
}

/* Sleep a poll interval (jittered, within the holder's lease and the waiting
 * limit, slowed by trouble), then poll: A_OUT, A_CREATE (free), A_NEXT. */
static int acq_poll(struct lock *l, struct acq *a, struct tf_error *err)
{
	int64_t poll = jitter_down_pct(lock_poll_ms(l), 20, rand_u64_default, NULL);
	int ret, broken;
	if (a->v.holder_lease_ms > 0 && poll > a->v.holder_lease_ms / 4)
		poll = a->v.holder_lease_ms / 4;
	if (a->v.present && a->v.li.tf.park.parked && poll < lock_scaled(l, 2000))
		poll = lock_scaled(l, 2000); /* B14.4: nothing renews a parked lock */
	poll = trouble_delay(l, &a->t, poll);
	if (a->deadline && clock_boot_ns() + poll * NS_PER_MS > a->deadline)
		poll = (a->deadline - clock_boot_ns()) / NS_PER_MS;
	lock_sleep_ms(l, poll);
	if (lock_cancelled(l))
		return A_NEXT;
	ret = lock_read_rec(l, &a->v, 1, &broken, err);
	if (ret) {
		a->ret = ret;
		if (l->broken)
			return A_OUT;
		if (ret != ERR_CANCELLED)
			trouble_fail(l, &a->t, err);
		return A_NEXT;
	}
	if (!a->v.present)
		return A_CREATE; /* free: create at once */
	trouble_ok(l, &a->t);    /* an absent lock says nothing: the create will */
	return A_NEXT;
}

/* One turn of waiting: A_OUT, A_HELD (decided, the holder kept for the caller),
 * A_CREATE, or A_NEXT. ACQ_WATCH ends (A_OUT, LOCK_OK) where a write would
 * follow: the record is free or its holder stale. */
static int acq_turn(struct lock *l, struct acq *a, struct tf_error *err)
{
	int64_t now = clock_boot_ns();
	int step;
	if (queue_keepalive(l->queue)) { /* B13: our ticket is gone: join again */
		a->ret = LOCK_REQUEUE;
		return A_OUT;
	}
	step = acq_limits(l, a, now, err);
	if (step != A_WAIT)
		return step;
	if (l->acq_mode == ACQ_FULL && !stale(&a->v, now)) {
		ci_ask(l, &a->v); /* B14.2: may take up to its request's bound */
		now = clock_boot_ns();
	}
	if (stale(&a->v, now) || ci_takeable(l, &a->v, now) ||
	    (l->acq_mode != ACQ_ONCE && park_expired(l, &a->v, now)) ||
	    (l->acq_mode == ACQ_FULL && own_parking(l, &a->v))) {
		if (l->acq_mode == ACQ_WATCH) {
			a->ret = LOCK_OK;
			return A_OUT;
		}
		step = acq_takeover(l, a, now, err);
		if (step != A_WAIT)
			return step;
	}
	step = acq_poll(l, a, err);
	if (step == A_CREATE && l->acq_mode == ACQ_WATCH) {
		a->ret = LOCK_OK;
		return A_OUT;
	}
	return step;
}

/* ACQ_ONCE after a create (step: acq_create's): A_OUT (decided), A_CREATE
 * (freed meanwhile: create again), or A_HELD. A holder already watched for its
 * whole lease is taken over; a failing store is the outcome (no waiting here:
 * the caller holds another record meanwhile). */
static int acq_once(struct lock *l, struct acq *a, int step, struct tf_error *err)
{
	if (step == A_OUT || step == A_CREATE)
		return step;
	if (!a->v.present) { /* the store failed, no holder known */
		if (a->ret >= 0) {
			*err = a->t.err;
			a->ret = a->t.err.kind < 0 ? a->t.err.kind : ERR_TRANSPORT;
		}
		return A_OUT;
	}
	if (stale(&a->v, clock_boot_ns()) || park_expired(l, &a->v, clock_boot_ns()) ||
	    (l->dead_id[0] && a->v.klass == LOCKINFO_TFLOCK && a->v.li.id &&
	     !strcmp(a->v.li.id, l->dead_id))) {
		step = acq_takeover(l, a, clock_boot_ns(), err);
		if (step == A_OUT || step == A_CREATE)
			return step;
		if (step == A_WAIT) /* the write failed: a->ret says how */
			return A_OUT;
		/* A_NEXT: another holder meanwhile */
	}
	a->ret = LOCK_HELD;
	return A_HELD;
}

/* Keep watching the holder across calls (hold members, B12); the caller gets
 * a copy as the last holder seen. */
static void acq_finish(struct lock *l, struct acq *a, int step)
{
	if (step == A_HELD) {
		lock_view_free(&l->last_holder);
		lock_view_copy(&l->last_holder, &a->v);
	}
	if (l->in_hold && a->v.present && !l->held) {
		lock_view_free(&l->watch);
		l->watch = a->v;
		lock_view_init(&a->v);
	}
	lock_view_free(&a->v);
}

int lock_acquire_one(struct lock *l, struct tf_error *err)
{
	struct acq a;
	int step;

	memset(&a, 0, sizeof(a));
	a.v = l->watch; /* what was watched before (B12) goes on counting */
	lock_view_init(&l->watch);
	l->in_acquire = 1;
	l->maybe_created = 0;
	l->id_first_send = 0;
	a.deadline = l->wait_deadline;
	for (;;) {
		if (l->acq_mode == ACQ_WATCH) {
			step = A_NEXT;
		} else {
			step = acq_create(l, &a, err);
			if (l->acq_mode == ACQ_ONCE)
				step = acq_once(l, &a, step, err);
			if (step == A_CREATE && a.creates >= 1000) {
				a.ret = err_set(err, ERR_INTERNAL, "%s: freed and taken 1000 times",
				                l->url);
				step = A_OUT;
			}
			if (l->acq_mode == ACQ_ONCE && step != A_CREATE)
				break;
		}
		while (step == A_WAIT || step == A_NEXT)
			step = acq_turn(l, &a, err);
		if (step != A_CREATE)
			break;
	}
	acq_finish(l, &a, step);
	if (a.ret == LOCK_CANCELLED)
		cancel_cleanup(l);
	l->in_acquire = 0;
	wait_end(l);
	return lock_outcome(l, a.ret);
}

static void wait_limits(struct lock *l)
{
	l->wait_start_ns = clock_boot_ns();
	l->wait_deadline =
	        l->o.timeout_ms >= 0 ? l->wait_start_ns + l->o.timeout_ms * NS_PER_MS : 0;
}

/*
 * B12: a hold of [file, item]. The file by B3/B4; then the item, created or
 * taken over only when already watched for its holder's whole lease; else give
 * the file back and watch the item alone until it is free or stale, and start
 * again. No member is ever held while waiting for another.
 */
static int hold_acquire(struct lock *l, struct tf_error *err)
{
	struct lock *item = l->next;
	int64_t trouble_since = 0;
	int ret;
	item->wait_start_ns = l->wait_start_ns;
	item->wait_deadline = l->wait_deadline;
	for (unsigned round = 0;; round++) {
		struct tf_error rerr;
		if (round)
			lock_fresh_id(l); /* a leftover of an earlier round is never adopted */
		l->acq_mode = ACQ_FULL;
		ret = lock_acquire_one(l, err);
		if (ret != LOCK_OK)
			break;
		/* the file was taken over from a hold silent for its whole lease: that
		 * hold's deadline (the earliest of its records', B12) has passed, its
		 * command is gone (B9), so its item (same ID) is taken over at once */
		item->dead_id[0] = '\0';
		if (l->took_over && !l->took_over_by_ci && l->last_holder.li.id)
			snprintf(item->dead_id, sizeof(item->dead_id), "%s", l->last_holder.li.id);
		item->acq_mode = ACQ_ONCE;
		ret = lock_acquire_one(item, err);
		err_clear(&rerr);
		if (ret == LOCK_OK) {
			/* the item's writes may have taken a while (read-backs, throttles):
			 * then renew the file so the hold starts with both leases fresh; a
			 * file lost meanwhile means another round */
			if (clock_boot_ns() - l->renew_send_ns <
			    lock_heartbeat_ms(l) / 2 * NS_PER_MS)
				break; /* ret == LOCK_OK: quick enough */
			ret = lock_renew_one(l, &rerr);
			if (ret != LOCK_LOST) {
				ret = LOCK_OK;
				break;
			}
			log_warn("%s was lost while %s was acquired (%s): giving the item back",
			         l->url, item->url, rerr.msg);
			if (lock_release_first(item, &rerr))
				log_warn("giving %s back failed: %s", item->url, rerr.msg);
			continue;
		}
		log_event("hold: %s not acquired (%s); giving %s back", item->url,
		          lock_outcome_name(ret), l->url);
		if (lock_release_first(l, &rerr))
			log_warn("giving %s back while %s is held failed: %s", l->url, item->url,
			         rerr.msg);
		if (ret == LOCK_STORE_BROKEN || ret == LOCK_CANCELLED || ret == LOCK_BAD_INPUT ||
		    ret == LOCK_REQUEUE || (ret == LOCK_HELD && l->o.no_wait))
			break;
		/* a failing store: watched like a holder, within the patience budget */
		if (ret != LOCK_HELD && !trouble_since)
			trouble_since = clock_boot_ns();
		else if (ret == LOCK_HELD)
			trouble_since = 0;
		if (trouble_since &&
		    clock_boot_ns() - trouble_since >= lock_patience_ms(l) * NS_PER_MS) {
			err_prefix(err, "the store kept failing");
			ret = LOCK_UNAVAILABLE;
			break;
		}
		item->acq_mode = ACQ_WATCH;
		ret = lock_acquire_one(item, err);
		if (ret != LOCK_OK)
			break;
	}
	if (ret != LOCK_OK && ret != LOCK_CANCELLED && !l->held && item->last_holder.present) {
		lock_view_free(&l->last_holder); /* the caller reports the item's holder */
		lock_view_copy(&l->last_holder, &item->last_holder);
	}
	l->acq_mode = item->acq_mode = ACQ_FULL;
	return ret;
}

static int acquire_records(struct lock *l, struct tf_error *err)
{
	if (!l->next) {
		l->acq_mode = ACQ_FULL;
		return lock_acquire_one(l, err);
	}
	return hold_acquire(l, err);
}

/* ---- B13: the queue in front of B3 ---- */

#define Q_PROCEED (-100) /* go on to B3: we are the head, or the queue is off */

/* The waiting line's holder: one read of the lock (the first record), kept as
 * the last holder seen for the caller's report. */
static void queue_holder(void *arg, char *out, size_t size)
{
	struct lock *l = arg;
	struct lock_view v;
	struct tf_error e;
	int broken;
	lock_view_init(&v);
	err_clear(&e);
	if (lock_read_rec(l, &v, 0, &broken, &e) == 0 && v.present) {
		lock_describe_holder(&v, out, size);
		lock_view_free(&l->last_holder);
		l->last_holder = v;
		return;
	}
	lock_view_free(&v);
}

static struct queue *queue_for(struct lock *l)
{
	struct queue_opts qo;
	/* Q = L/3 within 5 s .. 40 s (protocol seconds), scaled (B13) */
	int64_t q = l->o.lease_s * 1000 / 3;
	memset(&qo, 0, sizeof(qo));
	qo.s3 = l->s3;
	qo.state_key = l->state_key;
	qo.rec.put_headers = l->o.put_headers;
	qo.rec.nput_headers = l->o.nput_headers;
	qo.rec.no_checksum = l->o.no_checksum;
	qo.rec.tagging = l->o.tagging;
	qo.id = l->mine.id;
	qo.who = l->mine.who;
	qo.operation = l->mine.operation;
	qo.ci = l->mine.tf.ci;
	qo.host = l->mine.tf.host;
	qo.pid = l->mine.tf.pid;
	qo.lease_ms = lock_scaled(l, q < 5000 ? 5000 : q > 40000 ? 40000 : q);
	/* the queue's objects are S3 objects, cheap to read even when the lock is
	 * a DynamoDB item polled once a second (B11): the file's pace */
	qo.poll_ms = l->o.poll_ms > 0 ? l->o.poll_ms : lock_scaled(l, 250);
	/* a ticket request never outlasts an eighth of the ticket's lease (B13) */
	qo.timeout_ms = (long)lock_request_timeout_ms(l);
	if (qo.timeout_ms > qo.lease_ms / 8)
		qo.timeout_ms = (long)(qo.lease_ms / 8 > 0 ? qo.lease_ms / 8 : 1);
	qo.patience_ms = lock_patience_ms(l);
	qo.cancel = l->o.cancel;
	return queue_new(&qo);
}

static void queue_off(struct lock *l, const struct tf_error *why)
{
	log_warn("not queueing for %s (%s): waiting without the queue, as tflock --no-queue "
	         "does",
	         l->url, why->msg);
	log_event("queue-off %s", l->url);
	queue_leave(l->queue, "off");
}

/* Queue first (B13): Q_PROCEED, or the outcome (the one create before joining
 * acquired it or failed; --timeout or a signal while queued). */
static int queue_turn(struct lock *l, struct tf_error *err)
{
	int ret;
	if (!l->queue) {
		l->queue = queue_for(l);
		if (l->next)
			l->next->queue = l->queue;
	}
	if (l->rec->ops->list) /* the file's capabilities (B6); an item's are not S3's */
		queue_set_caps(l->queue, &l->rec->caps);
	ret = queue_peek(l->queue, err);
	if (ret == QUEUE_EMPTY) { /* nobody queued: one create, as without the queue */
		l->o.no_wait = 1;
		l->trying = 1;
		ret = acquire_records(l, err);
		l->o.no_wait = 0;
		l->trying = 0;
		if (ret != LOCK_HELD)
			return ret;
		err_clear(err);
		ret = queue_join(l->queue, err);
	} else if (ret == QUEUE_OK) {
		ret = queue_join(l->queue, err);
	}
	wait_begin(l);
	if (ret == QUEUE_OK)
		ret = queue_wait(l->queue, l->wait_deadline, l->hold_desc, queue_holder, l, err);
	switch (ret) {
	case QUEUE_OK:
		return Q_PROCEED;
	case QUEUE_CANCELLED:
		queue_leave(l->queue, "signal");
		return LOCK_CANCELLED;
	case QUEUE_TIMEOUT:
		queue_leave(l->queue, "timeout");
		if (!l->last_holder.present) {
			char tmp[8];
			queue_holder(l, tmp, sizeof(tmp));
		}
		if (l->last_holder.present) /* said at least once, however short the wait */
			progress(l, &l->last_holder, clock_boot_ns());
		err_clear(err);
		return LOCK_HELD;
	default:
		queue_off(l, err);
		err_clear(err);
		return Q_PROCEED;
	}
}

int lock_acquire(struct lock *l, struct tf_error *err)
{
	int ret = Q_PROCEED;
	wait_limits(l);
	do {
		if (l->o.queue && !l->o.no_wait)
			ret = queue_turn(l, err);
		if (ret == Q_PROCEED)
			ret = acquire_records(l, err);
		if (ret == LOCK_REQUEUE)
			log_info("queue: this run was judged gone by the waiters behind it; it "
			         "joins "
			         "the queue again at the back");
	} while (ret == LOCK_REQUEUE);
	queue_leave(l->queue, ret == LOCK_OK ? "acquired" : lock_outcome_name(ret));
	wait_end(l);
	return ret;
}
