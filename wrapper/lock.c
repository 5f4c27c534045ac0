/*
 * lock.c — the lock engine's rules (docs/PROTOCOL.md part B) on a lock record
 * (record.h): the B2 conditional write and its read-back, renewal (B4), the
 * holder's check between renewals, release (B5), unlock by ID and the store
 * self-test's use (B6). Waiting and takeover are in lock_acquire.c.
 */
#include "lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "buf.h"
#include "ddb.h"
#include "dur.h"
#include "liveness.h"
#include "lock_int.h"
#include "log.h"
#include "queue.h"
#include "sanitize.h"

int64_t lock_scaled(const struct lock *l, int64_t ms)
{
	double v = (double)ms * l->o.time_scale;
	return v < 1 ? 1 : (int64_t)v;
}

int64_t lock_heartbeat_ms(const struct lock *l)
{
	return l->o.lease_ms / 4;
}

int64_t lock_margin_ms(const struct lock *l)
{
	int64_t m = l->o.lease_ms / 10, floor = lock_scaled(l, 2000);
	return m > floor ? m : floor;
}

int64_t lock_request_timeout_ms(const struct lock *l)
{
	int64_t t = l->o.lease_ms / 8, cap = lock_scaled(l, 10000);
	return t < cap ? t : cap;
}

int64_t lock_poll_ms(const struct lock *l)
{
	if (l->o.poll_ms > 0) /* --poll (B13: the head's pace) */
		return l->rec->costly_reads && l->o.poll_ms < lock_scaled(l, 1000)
		               ? lock_scaled(l, 1000)
		               : l->o.poll_ms;
	return lock_scaled(l, l->rec->costly_reads ? 1000 : 250); /* B11: 1 RCU a read */
}

int64_t lock_delete_budget_ms(const struct lock *l)
{
	return (l->o.lease_ms - lock_margin_ms(l)) / 4;
}

int64_t lock_delete_transit_ms(const struct lock *l)
{
	return l->o.lease_ms - lock_margin_ms(l) - lock_delete_budget_ms(l);
}

int64_t lock_patience_ms(const struct lock *l)
{
	return l->o.patience_ms > 0 ? l->o.patience_ms : lock_scaled(l, 60000);
}

int lock_cancelled(const struct lock *l)
{
	return l->o.cancel && *l->o.cancel;
}

static int cancelled_arg(const void *l)
{
	return lock_cancelled(l);
}

void lock_sleep_ms(const struct lock *l, int64_t ms)
{
	clock_sleep_ms_unless(ms, cancelled_arg, l);
}

void lock_view_init(struct lock_view *v)
{
	memset(v, 0, sizeof(*v));
	lockinfo_init(&v->li);
}

void lock_view_free(struct lock_view *v)
{
	if (!v)
		return;
	lockinfo_free(&v->li);
	lock_view_init(v);
}

void lock_view_copy(struct lock_view *dst, const struct lock_view *src)
{
	struct lockinfo li = dst->li;
	*dst = *src;
	dst->li = li;
	lockinfo_copy(&dst->li, &src->li);
}

/* Our body (B1): Terraform's seven LockInfo fields, as plain terraform shows
 * them to others, and tflock's lease part. */
static void lock_body_init(struct lock *l, const struct lock_opts *o)
{
	char id[37], created[48], host[256] = "";
	struct timespec now;
	gethostname(host, sizeof(host) - 1);
	now = clock_wall();
	lockinfo_new_id(id);
	lockinfo_format_created(&now, created);
	l->mine.id = xstrdup(id);
	l->mine.operation = xstrdup(o->operation ? o->operation : "OperationTypeInvalid");
	l->mine.info = xstrdup(o->info ? o->info : "");
	l->mine.who = xstrdup(o->who ? o->who : "tflock");
	l->mine.version = xstrdup(o->version ? o->version : "");
	l->mine.created = xstrdup(created);
	l->mine.path = xstrdup(l->path);
	l->mine.has_tflock = 1;
	l->mine.tf.v = 1;
	l->mine.tf.lease = o->lease_s;
	/* a time scale (TFLOCK_TIME_SCALE) is never silent: the body states the lease
	 * this holder really keeps, and waiters count with it */
	if (l->o.lease_ms != (int64_t)o->lease_s * 1000)
		l->mine.tf.lease_ms = (long)l->o.lease_ms;
	l->mine.tf.seq = 0;
	l->mine.tf.pid = (long)getpid();
	l->mine.tf.host = xstrdup(host);
	l->mine.tf.boot_id = liveness_read_boot_id();
	l->mine.tf.ci = xstrdup(o->ci ? o->ci : "");
	l->mine.tf.ci_job = xstrdup(o->ci_job ? o->ci_job : "");
	l->mine.tf.pidns = liveness_read_pidns();
	if (o->cj) { /* B14.1: checked by ci_detect() */
		l->mine.tf.cj.cip = xstrdup(o->cj->cip ? o->cj->cip : "");
		l->mine.tf.cj.srv = xstrdup(o->cj->srv ? o->cj->srv : "");
		l->mine.tf.cj.proj = xstrdup(o->cj->proj ? o->cj->proj : "");
		l->mine.tf.cj.run = xstrdup(o->cj->run ? o->cj->run : "");
		l->mine.tf.cj.att = xstrdup(o->cj->att ? o->cj->att : "");
		l->mine.tf.cj.jid = xstrdup(o->cj->jid ? o->cj->jid : "");
		l->mine.tf.cj.eph = o->cj->eph == 1;
	}
	/* B1: other people's plain terraform shows these raw ("Lock Info") */
	sanitize_strip_all(l->mine.operation, l->mine.info, l->mine.who, l->mine.version,
	                   l->mine.tf.host, l->mine.tf.ci, l->mine.tf.ci_job, (char *)NULL);
}

/* One member of a hold on the state key, without its record yet. */
static struct lock *lock_alloc(struct s3_client *s3, const char *state_key,
                               const struct lock_opts *o)
{
	struct lock *l = xcalloc(1, sizeof(*l));
	lockinfo_init(&l->mine);
	lock_view_init(&l->last_holder);
	lock_view_init(&l->watch);
	l->s3 = s3;
	l->o = *o;
	if (l->o.time_scale <= 0)
		l->o.time_scale = 1.0;
	l->state_key = xstrdup(state_key);
	l->lock_key = xasprintf("%s.tflock", state_key);
	l->path = xasprintf("%s/%s", s3_client_bucket(s3), state_key);
	return l;
}

static void set_record(struct lock *l, struct record *rec)
{
	l->rec = rec;
	l->url = xstrdup(rec->name);
}

/* B12: the item as the hold's second member, with the same ID and Created. */
static struct lock *member_new(const struct lock *top)
{
	struct lock *m = lock_alloc(top->s3, top->state_key, &top->o);
	m->in_hold_member = 1; /* the top owns what its options own */
	set_record(m, record_ddb_new(top->o.ddb, top->path));
	lock_body_init(m, &top->o);
	free(m->mine.id);
	free(m->mine.created);
	m->mine.id = xstrdup(top->mine.id);
	m->mine.created = xstrdup(top->mine.created);
	return m;
}

struct lock *lock_new(struct s3_client *s3, const char *state_key, const struct lock_opts *o,
                      struct tf_error *err)
{
	struct record_s3_opts ro;
	struct lock *l;
	if (!state_key || !*state_key) {
		err_set(err, ERR_USAGE, "empty state key");
		return NULL;
	}
	l = lock_alloc(s3, state_key, o);
	if (o->ddb && o->no_file) {
		set_record(l, record_ddb_new(o->ddb, l->path));
	} else {
		memset(&ro, 0, sizeof(ro));
		ro.put_headers = o->put_headers;
		ro.nput_headers = o->nput_headers;
		ro.no_checksum = o->no_checksum;
		ro.tagging = o->tagging;
		set_record(l, record_s3_new(s3, l->lock_key, &ro));
	}
	lock_body_init(l, o);
	if (o->ddb && !o->no_file) {
		l->next = member_new(l);
		l->in_hold = l->next->in_hold = 1;
	}
	l->hold_desc = l->next ? xasprintf("%s and %s", l->url, l->next->url) : xstrdup(l->url);
	return l;
}

void lock_free(struct lock *l)
{
	if (!l)
		return;
	lock_free(l->next);
	if (!l->in_hold_member)
		queue_free(l->queue);
	free(l->hold_desc);
	if (l->o.ddb_owned && !l->in_hold_member)
		ddb_client_free(l->o.ddb);
	lock_view_free(&l->watch);
	free(l->state_key);
	free(l->lock_key);
	free(l->path);
	free(l->url);
	record_free(l->rec);
	lockinfo_free(&l->mine);
	free(l->live_info);
	lock_view_free(&l->last_holder);
	for (unsigned i = 0; i < l->nseen; i++) {
		free(l->seen[i].who);
		free(l->seen[i].operation);
		free(l->seen[i].id);
	}
	free(l);
}

const char *lock_url(const struct lock *l)
{
	return l->url;
}

const char *lock_state_key(const struct lock *l)
{
	return l->state_key;
}

const char *lock_id(const struct lock *l)
{
	return l->mine.id;
}

const char *lock_who(const struct lock *l)
{
	return l->mine.who;
}

int lock_is_held(const struct lock *l)
{
	return l->held || (l->next && l->next->held);
}

const struct lock_view *lock_last_holder(const struct lock *l)
{
	return &l->last_holder;
}

void lock_fresh_id(struct lock *l)
{
	char id[37], created[48];
	struct timespec now = clock_wall();
	lockinfo_new_id(id);
	lockinfo_format_created(&now, created);
	for (; l; l = l->next) {
		free(l->mine.id);
		free(l->mine.created);
		l->mine.id = xstrdup(id);
		l->mine.created = xstrdup(created);
		l->mine.tf.seq = 0;
		l->id_first_send = 0;
		l->maybe_created = 0;
	}
}

struct lock *lock_member(struct lock *l, unsigned i)
{
	while (l && i--)
		l = l->next;
	return l;
}

const char *lock_describe_hold(const struct lock *l)
{
	return l->hold_desc;
}

int64_t lock_renew_send_ns(const struct lock *l)
{
	if (l->next && l->next->held && (!l->held || l->next->renew_send_ns < l->renew_send_ns))
		return l->next->renew_send_ns;
	return l->renew_send_ns;
}

int64_t lock_lease_ms(const struct lock *l)
{
	return l->o.lease_ms;
}

const char *lock_version(const struct lock *l)
{
	return l->etag;
}

const struct record_caps *lock_caps(const struct lock *l)
{
	return &l->rec->caps;
}

const char *lock_store_describe(const struct lock *l)
{
	return l->rec->ops->describe_store(l->rec);
}

void lock_get_stats(const struct lock *l, struct lock_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->wait_start_ns = l->wait_start_ns;
	st->acquired_ns = l->acquired_ns;
	st->released_ns = l->released_ns;
	st->heartbeats = l->heartbeats;
	st->heartbeat_failures = l->heartbeat_failures;
	st->holders_seen = l->holders_seen;
	st->requests = l->rec->requests + (l->queue ? queue_requests(l->queue) : 0);
	st->took_over = l->took_over;
	st->takeover_why = l->takeover_why;
	st->nseen = l->nseen;
	for (unsigned i = 0; i < l->nseen && i < LOCK_SEEN_MAX; i++) {
		st->seen[i].who = l->seen[i].who;
		st->seen[i].operation = l->seen[i].operation;
		st->seen[i].id = l->seen[i].id;
	}
	for (const struct lock *m = l->next; m; m = m->next) { /* B12: the hold's */
		if (m->acquired_ns > st->acquired_ns)
			st->acquired_ns = m->acquired_ns;
		if (m->released_ns > st->released_ns)
			st->released_ns = m->released_ns;
		st->heartbeat_failures += m->heartbeat_failures;
		st->holders_seen += m->holders_seen;
		st->requests += m->rec->requests;
		st->took_over |= m->took_over;
		if (!*st->takeover_why)
			st->takeover_why = m->takeover_why;
		for (unsigned i = 0; i < m->nseen && st->nseen < LOCK_SEEN_MAX; i++) {
			st->seen[st->nseen].who = m->seen[i].who;
			st->seen[st->nseen].operation = m->seen[i].operation;
			st->seen[st->nseen++].id = m->seen[i].id;
		}
	}
}

void lock_set_cancel(struct lock *l, volatile sig_atomic_t *flag)
{
	for (; l; l = l->next)
		l->o.cancel = flag;
}

void lock_mark_reentered(struct lock *l)
{
	for (; l; l = l->next)
		l->wait_start_ns = l->acquired_ns = clock_boot_ns();
}

static const char *const outcome_names[LOCK_NOUTCOMES] = {
	"ok",   "held",         "lost",      "cancelled", "unavailable",
	"free", "store-broken", "transport", "bad-input", "error",
};

const char *lock_outcome_name(int outcome)
{
	return outcome >= 0 && outcome < LOCK_NOUTCOMES ? outcome_names[outcome] : "error";
}

int lock_outcome(const struct lock *l, int ret)
{
	if (ret >= 0)
		return ret;
	if (ret == ERR_USAGE)
		return LOCK_BAD_INPUT;
	if (ret == ERR_CANCELLED)
		return LOCK_CANCELLED;
	if (l->broken || ret == ERR_CREDENTIALS)
		return LOCK_STORE_BROKEN;
	if (ret == ERR_CONNECT)
		return LOCK_TRANSPORT;
	return LOCK_ERROR;
}

void lock_describe_holder(const struct lock_view *v, char *out, size_t size)
{
	const struct lockinfo *li = &v->li;
	struct buf b = BUF_INIT;
	struct timespec created;
	char since[64] = "";
	if (li->created && lockinfo_parse_time(li->created, &created) == 0) {
		struct tm tm;
		time_t t = created.tv_sec;
		struct timespec now = clock_wall();
		gmtime_r(&t, &tm);
		strftime(since, sizeof(since), "since %H:%M:%S UTC", &tm);
		if (now.tv_sec >= t) {
			char ago[32];
			dur_format((int64_t)(now.tv_sec - t) * 1000, ago, sizeof(ago));
			snprintf(since + strlen(since), sizeof(since) - strlen(since), ", %s ago",
			         ago);
		}
	}
	/* every field is the holder's text: escaped and cut here, once (sanitize.h) */
	sanitize_text(&b, li->who && *li->who ? li->who : "unknown holder", DESCRIBE_WHO_MAX);
	buf_adds(&b, " (");
	sanitize_text(&b, li->operation && *li->operation ? li->operation : "no operation",
	              DESCRIBE_OP_MAX);
	buf_addf(&b, "%s%s, ID ", *since ? ", " : "", since);
	sanitize_text(&b, li->id && *li->id ? li->id : "none", DESCRIBE_ID_MAX);
	buf_addc(&b, ')');
	sanitize_to(out, size, b.data, 0);
	buf_free(&b);
}

/* Fill a view from a read of the record. */
static void view_from_reply(const struct record_reply *rep, struct lock_view *v)
{
	struct tf_error perr;
	int changed = strcmp(v->etag, rep->version) != 0 || !v->present;
	err_clear(&perr);
	if (changed) {
		lockinfo_free(&v->li);
		lockinfo_init(&v->li);
		v->klass = lockinfo_parse(rep->body.data, rep->body.len, &v->li, &perr);
		snprintf(v->why, sizeof(v->why), "%s", perr.msg);
		snprintf(v->etag, sizeof(v->etag), "%s", rep->version);
		v->first_seen_ns = rep->t_recv;
		v->holder_lease_ms = 0;
		/* the holder's own lease, as its body states it: lease_ms when the holder
		 * runs with a time scale (tests), never scaled by ours */
		if (v->klass == LOCKINFO_TFLOCK && !v->li.tf.park.parked) /* B14.4: no lease */
			v->holder_lease_ms = v->li.tf.lease_ms > 0 ? v->li.tf.lease_ms
			                                           : (int64_t)v->li.tf.lease * 1000;
	}
	v->present = 1;
}

static int same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

int lock_written_by_us(const struct lock *l, const struct lock_view *v)
{
	const struct lockinfo_tflock *t = &v->li.tf, *m = &l->mine.tf;
	if (!v->present || !v->li.id || strcmp(v->li.id, l->mine.id))
		return 0;
	/* B14.4: a parked lock's ID passes from the parker to its resumer (and a
	 * handle could be resumed twice): our ID alone does not make a body ours */
	return v->klass == LOCKINFO_TFLOCK && t->pid == m->pid && same_str(t->host, m->host) &&
	       same_str(t->boot_id, m->boot_id) && same_str(t->pidns, m->pidns);
}

int lock_read_rec(struct lock *l, struct lock_view *v, int poll, int *broken, struct tf_error *err)
{
	struct record_reply rep;
	struct record_call c;
	int ret;
	memset(&c, 0, sizeof(c));
	c.timeout_ms = (long)lock_request_timeout_ms(l);
	c.abortable = poll || l->in_acquire;
	c.no_retry = poll; /* the caller's loop is the retry */
	record_reply_init(&rep);
	ret = l->rec->ops->read(l->rec, poll && v->present && v->etag[0] ? v->etag : NULL, &c, &rep,
	                        err);
	*broken = l->broken = ret < 0 && rep.broken;
	if (ret == REC_DONE)
		view_from_reply(&rep, v);
	else if (ret == REC_ABSENT)
		lock_view_free(v);
	if (ret > 0)
		ret = 0; /* absent, or unchanged: v says */
	record_reply_free(&rep);
	return ret;
}

int lock_read(struct lock *l, struct lock_view *v, struct tf_error *err)
{
	int broken;
	return lock_outcome(l, lock_read_rec(l, v, 0, &broken, err));
}

/*
 * B2 read-back after a conditional write that did not answer 2xx. Reads until it
 * gets an answer or the deadline passes.
 */
static int read_back(struct lock *l, unsigned long long wrote_seq, int64_t deadline,
                     struct tf_error *err)
{
	struct lock_view v;
	int ret, attempt = 0, broken;
	lock_view_init(&v);
	for (;;) {
		struct tf_error rerr;
		err_clear(&rerr);
		ret = lock_read_rec(l, &v, 0, &broken, &rerr);
		if (ret == 0)
			break;
		if (broken || clock_boot_ns() >= deadline || (l->in_acquire && lock_cancelled(l))) {
			*err = rerr;
			err_prefix(err, "cannot read %s back to learn whether a write applied",
			           l->url);
			lock_view_free(&v);
			return ret;
		}
		lock_sleep_ms(l, backoff_full_jitter((unsigned)attempt++, lock_scaled(l, 100),
		                                     lock_scaled(l, 2000), rand_u64_default, NULL));
	}
	if (!v.present) {
		ret = W_ABSENT;
	} else if (lock_written_by_us(l, &v)) {
		snprintf(l->etag, sizeof(l->etag), "%s", v.etag);
		ret = (v.klass == LOCKINFO_TFLOCK && v.li.tf.seq == wrote_seq) ? W_APPLIED
		                                                               : W_NOT_APPLIED;
		log_debug("read-back: our lock, seq %llu (wrote %llu): %s", v.li.tf.seq, wrote_seq,
		          ret == W_APPLIED ? "applied" : "not applied");
	} else {
		lock_view_free(&l->last_holder);
		l->last_holder = v;
		lock_view_init(&v);
		ret = W_OTHER;
	}
	lock_view_free(&v);
	return ret;
}

/* A write that did not answer 2xx: the read-back decides (B2), never a resend. */
static int write_unconfirmed(struct lock *l, unsigned long long seq, int64_t send, int64_t deadline,
                             struct tf_error *err)
{
	struct tf_error werr = *err;
	int ret;
	log_debug("conditional PUT of %s (seq %llu) not confirmed: %s; reading it back",
	          l->lock_key, seq, err->msg);
	/* the read-back always gets at least a lease's heartbeat worth of time */
	if (deadline < clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS)
		deadline = clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS;
	err_clear(err);
	ret = read_back(l, seq, deadline, err);
	if (ret == W_APPLIED)
		l->renew_send_ns = send;
	else if (ret < 0)
		err_prefix(err, "%s", werr.msg);
	return ret;
}

/*
 * The one conditional write (B2). Writes our body with the next seq, either
 * creating (if absent) or replacing (if the record still has etag). When it
 * applied, renew_send_ns is the send of the first attempt of this seq (a lease
 * counts from the earliest moment the write can have committed, B4), never a
 * resend's. A failure of the write itself is kept in l->write_err (kind 0 when it
 * was answered 2xx or with a failed condition) so callers can tell a taken lock
 * from a failing store.
 */
int lock_write(struct lock *l, enum lock_cond cond, const char *etag, int64_t deadline,
               struct tf_error *err)
{
	struct record_reply rep;
	struct record_call c;
	struct buf body = BUF_INIT;
	unsigned long long seq;
	int ret;

	err_clear(&l->write_err);
	l->broken = 0;
	seq = ++l->mine.tf.seq;
	if (lockinfo_to_json(&l->mine, &body)) {
		buf_free(&body);
		return err_set(err, ERR_INTERNAL, "cannot encode the lock body for %s", l->url);
	}
	memset(&c, 0, sizeof(c));
	c.timeout_ms = (long)lock_request_timeout_ms(l);
	c.deadline_ns = deadline;
	c.abortable = l->in_acquire;
	record_reply_init(&rep);
	if (cond == C_CREATE)
		ret = l->rec->ops->create(l->rec, &body, &c, &rep, err);
	else
		ret = l->rec->ops->replace(l->rec, etag, &body, &c, &rep, err);
	l->broken = ret < 0 && rep.broken;
	if (rep.t_first_send && (!l->id_first_send || rep.t_first_send < l->id_first_send))
		l->id_first_send = rep.t_first_send;
	if (cond == C_CREATE && ret != ERR_CONNECT && ret != REC_PRECONDITION)
		l->maybe_created = 1; /* until a read-back or a release says otherwise */
	if (ret == REC_DONE && rep.version[0]) {
		snprintf(l->etag, sizeof(l->etag), "%s", rep.version);
		l->renew_send_ns = rep.t_first_send;
		ret = W_APPLIED;
	} else if (ret == REC_DONE) {
		/* applied, but no version in the reply: learn it by reading back */
		ret = read_back(l, seq, deadline, err);
		if (ret == W_APPLIED)
			l->renew_send_ns = rep.t_first_send;
	} else if (ret == ERR_HTTP && rep.broken) {
		l->write_err = *err; /* 403, 400, NoSuchBucket, wrong region: no read-back */
	} else {
		if (ret < 0)
			l->write_err = *err;
		ret = write_unconfirmed(l, seq, rep.t_first_send, deadline, err);
	}
	if (ret == W_ABSENT || ret == W_OTHER)
		l->maybe_created = 0; /* read back: not (or no longer) ours */
	record_reply_free(&rep);
	buf_free(&body);
	return ret;
}

/* ---- self-test (B6) ---- */

static int selftest_one(struct lock *l, int force, struct tf_error *err)
{
	struct record_probe p;
	int ret;
	if (l->rec->caps.known && !force)
		return LOCK_OK;
	memset(&p, 0, sizeof(p));
	p.timeout_ms = (long)lock_request_timeout_ms(l);
	p.patience_ms = lock_patience_ms(l);
	p.scale = l->o.time_scale;
	ret = l->rec->ops->probe(l->rec, &p, err);
	if (ret == ERR_USAGE)
		return LOCK_BAD_INPUT;
	if (ret == ERR_CANCELLED)
		return LOCK_CANCELLED;
	if (ret)
		return LOCK_STORE_BROKEN; /* a store that fails its self-test is unusable */
	if (!l->rec->caps.cond_delete && l->o.lease_s < LOCK_MIN_LEASE_NO_COND_DELETE) {
		err_set(err, ERR_USAGE,
		        "lease %lds is too short for this store: it ignores conditional DELETE, so "
		        "a "
		        "release relies on the store executing a DELETE within a bound derived "
		        "from the lease (docs/PROTOCOL.md B5); use --lease %lds or more",
		        l->o.lease_s, LOCK_MIN_LEASE_NO_COND_DELETE);
		return LOCK_BAD_INPUT;
	}
	return LOCK_OK;
}

int lock_selftest(struct lock *l, int force, struct tf_error *err)
{
	int ret = LOCK_OK;
	for (; l && ret == LOCK_OK; l = l->next)
		ret = selftest_one(l, force, err);
	return ret;
}

/* ---- heartbeat ---- */

static int renew(struct lock *l, struct tf_error *err)
{
	int64_t deadline = clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS;
	/* B4: past send + L - m a waiter may be taking over with If-Match on the same
	 * ETag; a store whose If-Match is not atomic (RGW) could then let both writes
	 * apply. A holder never writes once its lease ran out: it has lost the lock. */
	if (l->renew_send_ns &&
	    clock_boot_ns() >= l->renew_send_ns + (l->o.lease_ms - lock_margin_ms(l)) * NS_PER_MS) {
		l->held = 0;
		log_event("lost %s id=%s (lease ran out)", l->url, l->mine.id);
		err_set(err, ERR_NONE,
		        "%s: no successful renewal for a whole lease; it may be taken over, so "
		        "it is not written again",
		        l->url);
		return LOCK_LOST;
	}
	for (int tries = 0; tries < 3; tries++) {
		int ret;
		log_event("renewing %s seq=%llu", l->url, l->mine.tf.seq + 1);
		ret = lock_write(l, C_MATCH, l->etag, deadline, err);
		if (ret == W_APPLIED) {
			l->heartbeats++;
			log_event("renewed %s id=%s seq=%llu send=%lld", l->url, l->mine.id,
			          l->mine.tf.seq, (long long)l->renew_send_ns);
			return 0;
		}
		if (ret == W_NOT_APPLIED)
			continue; /* still ours, etag refreshed: write again with a new seq */
		if (ret == W_OTHER || ret == W_ABSENT) {
			l->held = 0;
			log_event("lost %s id=%s", l->url, l->mine.id);
			if (ret == W_ABSENT)
				err_set(err, ERR_NONE, "%s was deleted by someone else", l->url);
			else {
				char who[512];
				lock_describe_holder(&l->last_holder, who, sizeof(who));
				err_set(err, ERR_NONE, "%s is now held by %s", l->url, who);
			}
			return LOCK_LOST;
		}
		l->heartbeat_failures++;
		return ret;
	}
	l->heartbeat_failures++;
	return err_set(err, ERR_INTERNAL, "renewal of %s kept reading back as not applied", l->url);
}

/* B12: every member still ours, each round, even after another failed (a
 * force-unlock of one must be seen while the other's store fails). A lost
 * member is the outcome (the members still ours are released by
 * lock_release()); else the first failure. */
static int each_member(struct lock *l, int (*one)(struct lock *, struct tf_error *),
                       struct tf_error *err)
{
	int ret = LOCK_OK;
	for (; l; l = l->next) {
		struct tf_error e;
		int r;
		if (!l->held)
			continue;
		err_clear(&e);
		r = one(l, &e);
		if (r != LOCK_OK && (ret == LOCK_OK || (r == LOCK_LOST && ret != LOCK_LOST))) {
			ret = r;
			*err = e;
		}
	}
	return ret;
}

int lock_renew_one(struct lock *l, struct tf_error *err)
{
	return lock_outcome(l, renew(l, err));
}

int lock_renew(struct lock *l, struct tf_error *err)
{
	return each_member(l, lock_renew_one, err);
}

int64_t lock_check_ms(const struct lock *l)
{
	int64_t every = lock_scaled(l, 3000);
	return lock_heartbeat_ms(l) > every ? every : 0;
}

static int check_one(struct lock *l, struct tf_error *err)
{
	struct lock_view v;
	int ret, broken;
	lock_view_init(&v);
	snprintf(v.etag, sizeof(v.etag), "%s", l->etag);
	v.present = 1;
	ret = lock_read_rec(l, &v, 1, &broken, err); /* GET If-None-Match: "<our etag>" */
	if (ret)
		goto out;
	if (!v.present) {
		l->held = 0;
		log_event("lost %s id=%s (deleted)", l->url, l->mine.id);
		err_set(err, ERR_NONE, "%s was deleted by someone else (terraform force-unlock?)",
		        l->url);
		ret = LOCK_LOST;
	} else if (strcmp(v.etag, l->etag)) {
		if (lock_written_by_us(l, &v)) {
			/* one of our own writes landed late: still ours */
			snprintf(l->etag, sizeof(l->etag), "%s", v.etag);
		} else {
			char who[512];
			l->held = 0;
			lock_describe_holder(&v, who, sizeof(who));
			log_event("lost %s id=%s (now %s)", l->url, l->mine.id,
			          v.li.id ? v.li.id : "");
			err_set(err, ERR_NONE, "%s is now held by %s", l->url, who);
			lock_view_free(&l->last_holder);
			l->last_holder = v;
			lock_view_init(&v);
			ret = LOCK_LOST;
		}
	}
out:
	lock_view_free(&v);
	return lock_outcome(l, ret);
}

int lock_check(struct lock *l, struct tf_error *err)
{
	return each_member(l, check_one, err);
}

/* ---- release (B5) ---- */

static int remove_rec(struct lock *l, const char *version, long timeout_ms, int *broken,
                      struct tf_error *err)
{
	struct record_reply rep;
	struct record_call c;
	int ret;
	memset(&c, 0, sizeof(c));
	c.timeout_ms = timeout_ms;
	c.no_retry = 1;
	record_reply_init(&rep);
	ret = l->rec->ops->remove(l->rec, version, &c, &rep, err);
	*broken = l->broken = ret < 0 && rep.broken;
	record_reply_free(&rep);
	return ret;
}

static int released(struct lock *l)
{
	l->held = 0;
	l->released_ns = clock_boot_ns();
	log_verbose("released %s", l->url);
	log_event("released %s id=%s", l->url, l->mine.id);
	return 0;
}

/* A read-back found another holder: the lock was lost before we released it. */
static int lost_to_other(struct lock *l, struct tf_error *err)
{
	char who[512];
	l->held = 0;
	lock_describe_holder(&l->last_holder, who, sizeof(who));
	err_set(err, ERR_NONE, "%s is now held by %s", l->url, who);
	return LOCK_LOST;
}

/* B5 on a store that honours conditional DELETE: DELETE If-Match our version. */
static int release_conditional(struct lock *l, struct tf_error *err)
{
	for (int tries = 0; tries < 4; tries++) {
		int broken, ret = remove_rec(l, l->etag, (long)lock_request_timeout_ms(l), &broken,
		                             err);
		if (ret == REC_DONE || ret == REC_ABSENT)
			return released(l);
		if (broken)
			return ret;
		ret = read_back(l, l->mine.tf.seq,
		                clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS, err);
		if (ret == W_ABSENT)
			return released(l);
		if (ret == W_OTHER)
			return lost_to_other(l, err);
		if (ret < 0)
			return ret;
		/* still ours (etag refreshed): delete again */
	}
	return err_set(err, ERR_INTERNAL, "release of %s did not converge", l->url);
}

/* No conditional DELETE (Ceph RGW 16): renew, then an unconditional DELETE sent
 * within B of that renewal's send and abandoned by then. Nobody can take over
 * before send + L; the store executing a request within T = L - m - B of its
 * sending (B5's assumption) makes the DELETE land before that. */
static int release_renew_delete(struct lock *l, struct tf_error *err)
{
	int64_t window_ms, left;
	int ret, broken;
	char d[32];
	ret = lock_outcome(l, renew(l, err));
	if (ret)
		return ret; /* LOCK_LOST, or failed: the lease bounds the leak */
	window_ms = lock_delete_budget_ms(l);
	left = (l->renew_send_ns + window_ms * NS_PER_MS - clock_boot_ns()) / NS_PER_MS;
	dur_format(l->o.lease_ms, d, sizeof(d));
	if (left <= 0)
		return err_set(err, ERR_TIMEOUT,
		               "release of %s abandoned: too late after the last renewal to "
		               "delete safely; the lock expires within %s",
		               l->url, d);
	if (left > lock_request_timeout_ms(l))
		left = lock_request_timeout_ms(l);
	log_event("release-delete %s renew_send=%lld budget_ms=%lld transit_ms=%lld", l->url,
	          (long long)l->renew_send_ns, (long long)window_ms,
	          (long long)lock_delete_transit_ms(l));
	ret = remove_rec(l, NULL, (long)left, &broken, err);
	if (ret == REC_DONE || ret == REC_ABSENT)
		return released(l);
	/* never repeat that DELETE; a read tells whether it applied (a store that
	 * refused it, 403 or NoSuchBucket, did not apply it) */
	if (!broken) {
		struct tf_error rerr;
		int rb;
		err_clear(&rerr);
		rb = read_back(l, l->mine.tf.seq,
		               clock_boot_ns() + lock_request_timeout_ms(l) * NS_PER_MS, &rerr);
		if (rb == W_ABSENT) {
			err_clear(err);
			return released(l);
		}
		if (rb == W_OTHER)
			return lost_to_other(l, err);
	}
	err_prefix(err, "release of %s FAILED (not retried: the lock expires within %s)", l->url,
	           d);
	return ret < 0 ? ret : ERR_HTTP;
}

static int release_one(struct lock *l, struct tf_error *err)
{
	if (!l->held)
		return LOCK_OK;
	return lock_outcome(l, l->rec->caps.cond_delete ? release_conditional(l, err)
	                                                : release_renew_delete(l, err));
}

/* B12: in reverse order, every member still ours, whatever the later ones
 * answered (an item that stays is still a barrier for all who need it). The
 * first failure is the outcome. */
int lock_release(struct lock *l, struct tf_error *err)
{
	int ret = LOCK_OK, r2 = LOCK_OK;
	struct tf_error e2;
	err_clear(&e2);
	if (l->next)
		r2 = lock_release(l->next, &e2);
	ret = release_one(l, err);
	if (r2 != LOCK_OK) {
		if (ret != LOCK_OK)
			log_error("%s", err->msg);
		*err = e2;
		return r2;
	}
	return ret;
}

int lock_release_first(struct lock *l, struct tf_error *err)
{
	return release_one(l, err);
}

int lock_remove_version(struct lock *l, const char *version, struct tf_error *err)
{
	int ret, broken;
	if (l->mine.tf.park.parked) { /* a takeover below writes a live body (B14.4) */
		l->mine.tf.v = LOCKINFO_VERSION;
		lockinfo_park_free(&l->mine.tf.park);
	}
	if (l->rec->caps.cond_delete) {
		ret = remove_rec(l, version, (long)lock_request_timeout_ms(l), &broken, err);
		if (ret == REC_DONE || ret == REC_ABSENT) {
			ret = 0;
		} else if (ret == REC_PRECONDITION) {
			err_set(err, ERR_NONE, "%s changed while unlocking: nothing removed",
			        l->url);
			ret = LOCK_HELD;
		}
		return ret;
	}
	/* take over with If-Match (exactly one writer wins), then release as ours */
	ret = lock_write(l, C_MATCH, version, clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS,
	                 err);
	if (ret == W_APPLIED || ret == W_NOT_APPLIED) {
		l->held = 1;
		ret = release_one(l, err);
	} else if (ret == W_ABSENT) {
		ret = 0;
	} else if (ret == W_OTHER) {
		err_set(err, ERR_NONE, "%s changed while unlocking: nothing removed", l->url);
		ret = LOCK_HELD;
	}
	return ret;
}

static int unlock_one(struct lock *l, const char *id, struct tf_error *err)
{
	struct lock_view v;
	int ret;
	lock_view_init(&v);
	ret = lock_read(l, &v, err);
	if (ret)
		goto out;
	if (!v.present) {
		err_set(err, ERR_NONE, "%s is not locked", l->url);
		ret = LOCK_FREE;
		goto out;
	}
	if (!v.li.id || strcmp(v.li.id, id)) {
		char who[512];
		lock_describe_holder(&v, who, sizeof(who));
		err_set(err, ERR_NONE, "%s is held by %s, not by ID %s: nothing removed", l->url,
		        who, id);
		ret = LOCK_HELD;
		goto out;
	}
	ret = lock_remove_version(l, v.etag, err);
out:
	lock_view_free(&v);
	return lock_outcome(l, ret);
}

/* B12: the item, then the file, each only on the version that carried ID. */
int lock_unlock_id(struct lock *l, const char *id, struct tf_error *err)
{
	int r1, r2;
	struct tf_error e2;
	if (!l->next)
		return unlock_one(l, id, err);
	err_clear(&e2);
	r2 = lock_unlock_id(l->next, id, &e2);
	r1 = unlock_one(l, id, err);
	if (r1 == LOCK_FREE && r2 == LOCK_FREE) {
		err_set(err, ERR_NONE, "%s: not locked", l->hold_desc);
		return LOCK_FREE;
	}
	if (r2 != LOCK_OK && r2 != LOCK_FREE && (r1 == LOCK_OK || r1 == LOCK_FREE)) {
		*err = e2;
		return r2;
	}
	if (r1 == LOCK_FREE)
		r1 = LOCK_OK; /* the item was removed; the file was not there */
	return r1;
}
