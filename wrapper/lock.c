#include "lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "buf.h"
#include "dur.h"
#include "liveness.h"
#include "log.h"
#include "report.h"
#include "sanitize.h"

/* Results of write_lock() (B2). */
enum { W_APPLIED = 10, W_NOT_APPLIED, W_OTHER, W_ABSENT };
enum cond { C_CREATE, C_MATCH };

#define NS_PER_MS 1000000LL
#define PRINT_EVERY_NS (10000 * NS_PER_MS) /* progress lines: a human pace */

static int64_t scaled(const struct lock *l, int64_t ms)
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
	int64_t m = l->o.lease_ms / 10, floor = scaled(l, 2000);
	return m > floor ? m : floor;
}

int64_t lock_request_timeout_ms(const struct lock *l)
{
	int64_t t = l->o.lease_ms / 8, cap = scaled(l, 10000);
	return t < cap ? t : cap;
}

int64_t lock_poll_ms(const struct lock *l)
{
	return scaled(l, 250);
}

int64_t lock_delete_budget_ms(const struct lock *l)
{
	return (l->o.lease_ms - lock_margin_ms(l)) / 4;
}

int64_t lock_delete_transit_ms(const struct lock *l)
{
	return l->o.lease_ms - lock_margin_ms(l) - lock_delete_budget_ms(l);
}

static int64_t patience_ms(const struct lock *l)
{
	return l->o.patience_ms > 0 ? l->o.patience_ms : scaled(l, 60000);
}

/* Is this 404 the object's absence (S3's NoSuchKey, or a HEAD without a body),
 * rather than a proxy's or a misrouted server's page? */
static int absent_404(const struct s3_reply *r, const struct tf_error *err)
{
	return r->status == 404 && (!strcmp(err->s3_code, "NoSuchKey") || r->body.len == 0);
}

static volatile sig_atomic_t *cancel_flag;

static int cancelled(void)
{
	return cancel_flag && *cancel_flag;
}

/* Sleep, cut short by a cancelling signal. */
static void sleep_ms(int64_t ms)
{
	struct timespec ts;
	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * NS_PER_MS;
	while (nanosleep(&ts, &ts) == -1 && !cancelled())
		;
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

int lock_init(struct lock *l, struct s3_client *s3, const char *state_key,
              const struct lock_opts *o, struct tf_error *err)
{
	char id[37], created[48], host[256] = "";
	struct timespec now;
	memset(l, 0, sizeof(*l));
	lockinfo_init(&l->mine);
	lock_view_init(&l->last_holder);
	if (!state_key || !*state_key)
		return err_set(err, ERR_USAGE, "empty state key");
	l->s3 = s3;
	l->o = *o;
	if (l->o.time_scale <= 0)
		l->o.time_scale = 1.0;
	l->state_key = xstrdup(state_key);
	l->lock_key = xasprintf("%s.tflock", state_key);
	l->path = xasprintf("%s/%s", s3_client_bucket(s3), state_key);
	l->url = xasprintf("s3://%s/%s", s3_client_bucket(s3), l->lock_key);
	if (s3_client_is_aws(s3)) {
		l->store.known = 1;
		l->store.etag_quoted = 1;
		l->store.cond_delete = 1;
	}

	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &now);
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
	/* B1: other people's plain terraform shows these raw ("Lock Info") */
	sanitize_strip_all(l->mine.operation, l->mine.info, l->mine.who, l->mine.version,
	                   l->mine.tf.host, l->mine.tf.ci, l->mine.tf.ci_job, (char *)NULL);
	return 0;
}

void lock_free(struct lock *l)
{
	if (!l)
		return;
	free(l->state_key);
	free(l->lock_key);
	free(l->path);
	free(l->url);
	lockinfo_free(&l->mine);
	lock_view_free(&l->last_holder);
	for (unsigned i = 0; i < l->nseen; i++) {
		free(l->seen[i].who);
		free(l->seen[i].operation);
		free(l->seen[i].id);
	}
	memset(l, 0, sizeof(*l));
}

int lock_error_is_store(const struct tf_error *err)
{
	if (err->kind == ERR_CREDENTIALS)
		return 1;
	if (err->kind != ERR_HTTP)
		return 0;
	return err->http_status == 400 || err->http_status == 401 || err->http_status == 403 ||
	       err->http_status == 301 || err->http_status == 405 ||
	       !strcmp(err->s3_code, "NoSuchBucket");
}

static const char *if_match_value(const struct lock *l, const char *etag, char *tmp, size_t n)
{
	if (l->store.etag_quoted)
		snprintf(tmp, n, "\"%s\"", etag);
	else
		snprintf(tmp, n, "%s", etag);
	return tmp;
}

/* Visible characters of each field in a one-line description (callers give
 * 512 bytes; sanitize_to() cuts what still does not fit). */
#define DESCRIBE_WHO_MAX 128
#define DESCRIBE_OP_MAX 64
#define DESCRIBE_ID_MAX 96

void lock_describe_holder(const struct lock_view *v, char *out, size_t size)
{
	const struct lockinfo *li = &v->li;
	struct buf b = BUF_INIT;
	struct timespec created;
	char since[64] = "", ago[32] = "";
	if (li->created && lockinfo_parse_time(li->created, &created) == 0) {
		struct tm tm;
		time_t t = created.tv_sec;
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&t, &tm);
		strftime(since, sizeof(since), "since %H:%M:%S UTC", &tm);
		if (now.tv_sec >= t) {
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

/* Fill a view from a 200 reply. */
static void view_from_reply(struct lock *l, const struct s3_reply *r, struct lock_view *v)
{
	struct tf_error perr;
	int changed = strcmp(v->etag, r->etag) != 0 || !v->present;
	err_clear(&perr);
	if (changed) {
		lockinfo_free(&v->li);
		lockinfo_init(&v->li);
		v->klass = lockinfo_parse(r->body.data, r->body.len, &v->li, &perr);
		snprintf(v->why, sizeof(v->why), "%s", perr.msg);
		snprintf(v->etag, sizeof(v->etag), "%s", r->etag);
		v->first_seen_ns = r->t_recv;
		v->holder_lease_ms = 0;
		/* the holder's own lease, as its body states it: lease_ms when the holder
		 * runs with a time scale (tests), never scaled by ours */
		if (v->klass == LOCKINFO_TFLOCK)
			v->holder_lease_ms = v->li.tf.lease_ms > 0 ? v->li.tf.lease_ms
			                                           : (int64_t)v->li.tf.lease * 1000;
	}
	v->present = 1;
}

int lock_read(struct lock *l, struct lock_view *v, struct tf_error *err)
{
	struct s3_reply r;
	struct s3_request req;
	int ret;
	s3_reply_init(&r);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.key = l->lock_key;
	req.timeout_ms = lock_request_timeout_ms(l);
	req.abortable = l->in_acquire;
	l->requests++;
	ret = s3_request(l->s3, &req, &r, err);
	if (ret == 0) {
		view_from_reply(l, &r, v);
	} else if (ret == ERR_HTTP && absent_404(&r, err)) {
		lock_view_free(v);
		err_clear(err);
		ret = 0;
	}
	s3_reply_free(&r);
	return ret;
}

/*
 * B2 read-back after a conditional write that did not answer 2xx. Reads until it
 * gets an answer or the deadline passes.
 */
static int read_back(struct lock *l, unsigned long long wrote_seq, int64_t deadline,
                     struct tf_error *err)
{
	struct lock_view v;
	int ret, attempt = 0;
	lock_view_init(&v);
	for (;;) {
		struct tf_error rerr;
		err_clear(&rerr);
		ret = lock_read(l, &v, &rerr);
		if (ret == 0)
			break;
		if (lock_error_is_store(&rerr) || clock_boot_ns() >= deadline ||
		    (l->in_acquire && cancelled())) {
			*err = rerr;
			err_prefix(err, "cannot read %s back to learn whether a write applied",
			           l->url);
			lock_view_free(&v);
			return ret;
		}
		sleep_ms(backoff_full_jitter((unsigned)attempt++, scaled(l, 100), scaled(l, 2000),
		                             rand_u64_default, NULL));
	}
	if (!v.present) {
		ret = W_ABSENT;
	} else if (v.li.id && !strcmp(v.li.id, l->mine.id)) {
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

/*
 * The one conditional write (B2). Writes our body with the next seq, either
 * creating (If-None-Match: *) or replacing (If-Match: etag). When it applied,
 * renew_send_ns is the send of the first attempt of this seq (a lease counts
 * from the earliest moment the write can have committed, B4), never a resend's.
 * A failure of the write itself is kept in l->write_err (kind 0 when it was
 * answered 2xx or 412) so callers can tell a taken lock from a failing store.
 */
static int write_lock(struct lock *l, enum cond cond, const char *etag, int64_t deadline,
                      struct tf_error *err)
{
	struct http_header h[20];
	struct s3_request req;
	struct s3_reply r;
	struct buf body = BUF_INIT;
	char cval[160], sum[64];
	size_t n = 0;
	int ret;
	unsigned long long seq;

	err_clear(&l->write_err);
	l->mine.tf.seq++;
	seq = l->mine.tf.seq;
	if (lockinfo_to_json(&l->mine, &body)) {
		buf_free(&body);
		return err_set(err, ERR_INTERNAL, "cannot encode the lock body for %s", l->url);
	}

	h[n].name = "Content-Type";
	h[n++].value = "application/json";
	if (cond == C_CREATE) {
		h[n].name = "If-None-Match";
		h[n++].value = "*";
	} else {
		h[n].name = "If-Match";
		h[n++].value = if_match_value(l, etag, cval, sizeof(cval));
	}
	if (!l->o.no_checksum) {
		s3_checksum_sha256_b64(body.data, body.len, sum);
		h[n].name = "x-amz-checksum-sha256";
		h[n++].value = sum;
	}
	for (size_t i = 0; i < l->o.nput_headers && n < 15; i++)
		h[n++] = l->o.put_headers[i];
	if (l->o.tagging) { /* a write replaces the object, tags included: every write */
		h[n].name = "x-amz-tagging";
		h[n++].value = l->o.tagging;
	}

	memset(&req, 0, sizeof(req));
	req.method = "PUT";
	req.key = l->lock_key;
	req.headers = h;
	req.nheaders = n;
	req.body = body.data;
	req.body_len = body.len;
	req.timeout_ms = lock_request_timeout_ms(l);
	req.deadline_ns = deadline;
	req.abortable = l->in_acquire;
	s3_reply_init(&r);
	l->requests++;
	ret = s3_request(l->s3, &req, &r, err);
	if (r.t_first_send && (!l->id_first_send || r.t_first_send < l->id_first_send))
		l->id_first_send = r.t_first_send;
	if (cond == C_CREATE && ret != ERR_CONNECT && !(ret == ERR_HTTP && r.status == 412))
		l->maybe_created = 1; /* until a read-back or a release says otherwise */
	if (ret == 0 && r.etag[0]) {
		snprintf(l->etag, sizeof(l->etag), "%s", r.etag);
		l->renew_send_ns = r.t_first_send;
		ret = W_APPLIED;
		goto out;
	}
	if (ret == 0) {
		/* applied, but no ETag in the reply: learn it by reading back */
		int64_t send = r.t_first_send;
		ret = read_back(l, seq, deadline, err);
		if (ret == W_APPLIED)
			l->renew_send_ns = send;
		goto out;
	}
	if (!(ret == ERR_HTTP && r.status == 412))
		l->write_err = *err;
	if (ret == ERR_HTTP && (lock_error_is_store(err) && r.status != 409)) {
		goto out; /* 403, 400, NoSuchBucket, wrong region: no retry, no read-back */
	}
	log_debug("conditional PUT of %s (seq %llu) not confirmed: %s; reading it back",
	          l->lock_key, seq, err->msg);
	{
		int64_t send = r.t_first_send;
		struct tf_error werr = *err;
		int64_t rb_deadline = deadline;
		/* the read-back always gets at least a lease's heartbeat worth of time */
		if (rb_deadline < clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS)
			rb_deadline = clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS;
		err_clear(err);
		ret = read_back(l, seq, rb_deadline, err);
		if (ret == W_APPLIED)
			l->renew_send_ns = send;
		else if (ret < 0)
			err_prefix(err, "%s", werr.msg);
	}
out:
	if (ret == W_ABSENT || ret == W_OTHER)
		l->maybe_created = 0; /* read back: not (or no longer) ours */
	s3_reply_free(&r);
	buf_free(&body);
	return ret;
}

/* ---- self-test (B6) ---- */

static int probe_put(struct lock *l, const char *key, const char *cond_name, const char *cond_val,
                     const char *body, struct s3_reply *r, struct tf_error *err)
{
	struct http_header h[2];
	struct s3_request req;
	size_t n = 0;
	h[n].name = "Content-Type";
	h[n++].value = "application/json";
	if (cond_name) {
		h[n].name = cond_name;
		h[n++].value = cond_val;
	}
	memset(&req, 0, sizeof(req));
	req.method = "PUT";
	req.key = key;
	req.headers = h;
	req.nheaders = n;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = lock_request_timeout_ms(l);
	req.abortable = 1;
	s3_reply_free(r);
	l->requests++;
	return s3_request(l->s3, &req, r, err); /* resent only when never sent */
}

/* A probe's answer that says nothing about the store's conditions: a failure of
 * the store or the network (5xx, 429, timeouts, resets, a lost reply). The round
 * is abandoned and a new one started on a fresh key. */
static int probe_transient(int ret, const struct s3_reply *r, const struct tf_error *err)
{
	if (ret == 0)
		return 0;
	if (ret == ERR_HTTP)
		return r->status >= 500 || r->status == 429 || r->status == 408 ||
		       (r->status == 404 && !strcmp(err->s3_code, "") && r->body.len);
	/* not a proxy refusing the tunnel (its answer in http_status): configuration */
	if (ret == ERR_CONNECT)
		return err->http_status == 0;
	return ret == ERR_TIMEOUT || ret == ERR_TRANSPORT;
}

enum { PROBE_OK = 0, PROBE_AGAIN = 1 };

/*
 * One round of B6 on `key`. PROBE_OK with l->store filled, PROBE_AGAIN (err says
 * what failed) when an answer was a transient failure, or a negative error when
 * the store answered and is unusable (SelfTestFailed, 403, NoSuchBucket, ...).
 */
static int selftest_round(struct lock *l, const char *key, int *created, struct tf_error *err)
{
	char quoted[160], etag[128];
	struct s3_reply r;
	struct tf_error e;
	int ret, quoted_ok = 0, unquoted_ok = 0;

	s3_reply_init(&r);
	err_clear(&e);
	ret = probe_put(l, key, "If-None-Match", "*", "{\"selftest\":1}", &r, err);
	/* a create never sent, or refused by the store, left nothing to remove */
	*created = !(ret == ERR_CONNECT || ret == ERR_CREDENTIALS || ret == ERR_USAGE ||
	             (ret == ERR_HTTP && r.status >= 400 && r.status < 500));
	if (ret) {
		err_prefix(err, "store self-test: creating %s failed", key);
		ret = probe_transient(ret, &r, err) ? PROBE_AGAIN : ret;
		goto out;
	}
	snprintf(etag, sizeof(etag), "%s", r.etag);
	ret = probe_put(l, key, "If-None-Match", "*", "{\"selftest\":2}", &r, &e);
	if (ret && r.status != 412) {
		*err = e;
		err_prefix(err, "store self-test: the second create of %s failed", key);
		ret = probe_transient(ret, &r, &e) ? PROBE_AGAIN : ret;
		goto out;
	}
	if (ret == 0) {
		ret = err_set(err, ERR_HTTP,
		              "store does not enforce If-None-Match (a second create of %s "
		              "succeeded, not 412): versioned or Object Lock bucket on Ceph RGW? "
		              "Such a store gives no mutual exclusion",
		              key);
		err->http_status = 412;
		snprintf(err->s3_code, sizeof(err->s3_code), "SelfTestFailed");
		goto out;
	}
	ret = probe_put(l, key, "If-Match", "\"0123456789abcdef0123456789abcdef\"",
	                "{\"selftest\":3}", &r, &e);
	if (ret && r.status != 412 && r.status != 409) {
		*err = e;
		err_prefix(err, "store self-test: a PUT of %s with a wrong ETag failed", key);
		ret = probe_transient(ret, &r, &e) ? PROBE_AGAIN : ret;
		goto out;
	}
	if (ret == 0) {
		ret = err_set(err, ERR_HTTP,
		              "store does not enforce If-Match (a PUT with a wrong ETag "
		              "succeeded, not 412)");
		snprintf(err->s3_code, sizeof(err->s3_code), "SelfTestFailed");
		goto out;
	}
	snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
	ret = probe_put(l, key, "If-Match", quoted, "{\"selftest\":4}", &r, &e);
	if (ret == 0) {
		quoted_ok = 1;
		snprintf(etag, sizeof(etag), "%s", r.etag);
	} else if (r.status != 412) {
		*err = e;
		err_prefix(err, "store self-test: a PUT of %s with its quoted ETag failed", key);
		ret = probe_transient(ret, &r, &e) ? PROBE_AGAIN : ret;
		goto out;
	}
	ret = probe_put(l, key, "If-Match", etag, "{\"selftest\":5}", &r, &e);
	if (ret == 0) {
		unquoted_ok = 1;
	} else if (r.status != 412) {
		*err = e;
		err_prefix(err, "store self-test: a PUT of %s with its unquoted ETag failed", key);
		ret = probe_transient(ret, &r, &e) ? PROBE_AGAIN : ret;
		goto out;
	}
	if (!quoted_ok && !unquoted_ok) {
		ret = err_set(err, ERR_HTTP,
		              "store does not honour If-Match with the object's own ETag (quoted "
		              "or not)");
		snprintf(err->s3_code, sizeof(err->s3_code), "SelfTestFailed");
		goto out;
	}
	l->store.etag_quoted = quoted_ok;
	{
		struct s3_request req;
		struct http_header h = { "If-Match", "\"0123456789abcdef0123456789abcdef\"" };
		memset(&req, 0, sizeof(req));
		req.method = "DELETE";
		req.key = key;
		req.headers = &h;
		req.nheaders = 1;
		req.abortable = 1;
		req.timeout_ms = lock_request_timeout_ms(l);
		l->requests++;
		ret = s3_request(l->s3, &req, &r, &e);
		if (ret == 0) {
			l->store.cond_delete = 0; /* deleted despite the wrong ETag */
		} else if (r.status == 412) {
			struct s3_reply g;
			s3_reply_init(&g);
			l->requests++;
			ret = s3_head(l->s3, key, NULL, &g, &e);
			l->store.cond_delete = ret == 0 && g.status == 200;
			if (ret && !(ret == ERR_HTTP && g.status == 404)) {
				*err = e;
				err_prefix(err, "store self-test: reading %s failed", key);
				ret = probe_transient(ret, &g, &e) ? PROBE_AGAIN : ret;
				s3_reply_free(&g);
				goto out;
			}
			s3_reply_free(&g);
		} else {
			*err = e;
			err_prefix(err, "store self-test: a DELETE of %s with a wrong ETag failed",
			           key);
			ret = probe_transient(ret, &r, &e) ? PROBE_AGAIN : ret;
			goto out;
		}
	}
	ret = PROBE_OK;
out:
	s3_reply_free(&r);
	return ret;
}

/* The scratch key: P.<8 hex>.selftest.tflock, P cut (at a UTF-8 boundary) so the
 * key stays within S3's 1024 bytes when the lock key itself is near the limit. */
static char *selftest_key(const char *state_key, const char *rnd)
{
	size_t n = strlen(state_key), max = 1024 - 25;
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)state_key[n] & 0xC0) == 0x80)
			n--;
	}
	return xasprintf("%.*s.%s.selftest.tflock", (int)n, state_key, rnd);
}

int lock_selftest(struct lock *l, int force, struct tf_error *err)
{
	char rnd[37];
	char *keys[8];
	int created[8];
	unsigned nkeys = 0, round;
	int64_t start = clock_boot_ns(), last_print = 0;
	int ret = 0;

	if (l->store.known && !force)
		return 0;
	/* Rounds on fresh keys until one gets answers that speak about the store's
	 * conditions; a lost reply makes a probe's effect unknown, so its round is
	 * never continued. Bounded by the patience budget and 8 rounds. */
	for (round = 0;; round++) {
		lockinfo_new_id(rnd);
		rnd[8] = '\0';
		keys[nkeys] = selftest_key(l->state_key, rnd);
		ret = selftest_round(l, keys[nkeys], &created[nkeys], err);
		nkeys++;
		if (ret != PROBE_AGAIN)
			break;
		if (http_aborting()) {
			err_prefix(err, "interrupted");
			ret = ERR_CANCELLED;
			break;
		}
		if (nkeys >= 8 || clock_boot_ns() - start >= patience_ms(l) * NS_PER_MS) {
			char d[32];
			dur_format((clock_boot_ns() - start) / NS_PER_MS, d, sizeof(d));
			err_prefix(err, "store unusable: self-test failed %u times in %s", nkeys,
			           d);
			err->kind = ERR_CONNECT;
			ret = ERR_CONNECT;
			break;
		}
		if (!last_print || clock_boot_ns() - last_print >= scaled(l, 5000) * NS_PER_MS) {
			log_warn("%s; retrying", err->msg);
			last_print = clock_boot_ns();
		}
		sleep_ms(scaled(l, 200) + backoff_full_jitter(round, scaled(l, 200),
		                                              scaled(l, 5000), rand_u64_default,
		                                              NULL));
	}
	if (ret == PROBE_OK) {
		l->store.known = 1;
		log_verbose("store self-test passed: If-Match takes the %s ETag; conditional "
		            "DELETE %s",
		            l->store.etag_quoted ? "quoted" : "unquoted",
		            l->store.cond_delete ? "honoured" : "ignored (release renews first)");
		if (!l->store.cond_delete && l->o.lease_s < LOCK_MIN_LEASE_NO_COND_DELETE)
			ret = err_set(err, ERR_USAGE,
			              "lease %lds is too short for this store: it ignores "
			              "conditional DELETE, so a release relies on the store "
			              "executing a DELETE within a bound derived from the lease "
			              "(docs/PROTOCOL.md B5); use --lease %lds or more",
			              l->o.lease_s, LOCK_MIN_LEASE_NO_COND_DELETE);
	}
	/* scratch objects, also those of abandoned rounds (a lost reply may have
	 * created one): unconditional, each key is ours alone */
	for (unsigned i = 0; i < nkeys; i++) {
		struct s3_reply r;
		struct tf_error e;
		s3_reply_init(&r);
		err_clear(&e);
		if (created[i]) {
			l->requests++;
			s3_delete(l->s3, keys[i], NULL, &r, &e);
		}
		s3_reply_free(&r);
		free(keys[i]);
	}
	return ret;
}

/* ---- acquire and wait (B3, B4) ---- */

static void progress(struct lock *l, const struct lock_view *v, int64_t now)
{
	char who[512], waited[32], hb[32];
	int64_t since_change = (now - v->first_seen_ns) / NS_PER_MS;
	lock_describe_holder(v, who, sizeof(who));
	dur_format((now - l->wait_start_ns) / NS_PER_MS, waited, sizeof(waited));
	dur_format(since_change < 0 ? 0 : since_change, hb, sizeof(hb));
	if (v->klass == LOCKINFO_TFLOCK)
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

static int poll_lock(struct lock *l, struct lock_view *v, struct tf_error *err)
{
	struct s3_request req;
	struct s3_reply r;
	struct http_header h;
	char q[160];
	int ret;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.key = l->lock_key;
	req.timeout_ms = lock_request_timeout_ms(l);
	req.no_retry = 1; /* the wait loop is the retry */
	req.abortable = 1;
	if (v->present && v->etag[0]) {
		snprintf(q, sizeof(q), "\"%s\"", v->etag);
		h.name = "If-None-Match";
		h.value = q;
		req.headers = &h;
		req.nheaders = 1;
	}
	s3_reply_init(&r);
	l->requests++;
	ret = s3_request(l->s3, &req, &r, err);
	if (ret == 0 && r.status == 304) {
		/* unchanged */
	} else if (ret == 0) {
		view_from_reply(l, &r, v);
	} else if (ret == ERR_HTTP && absent_404(&r, err)) {
		lock_view_free(v);
		err_clear(err);
		ret = 0;
	}
	s3_reply_free(&r);
	return ret;
}

static void close_section(struct lock *l)
{
	if (l->in_section) {
		report_gitlab_section_end("tflock_wait", stderr);
		l->in_section = 0;
	}
}

static int acquired(struct lock *l, const char *how)
{
	close_section(l);
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
	int slow = e->kind == ERR_HTTP && (e->http_status == 429 || e->http_status == 503);
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
	return acquired(l, how);
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
		if (lock_release(l, &e))
			log_warn("a create of %s sent before the signal had applied; releasing "
			         "it failed: %s",
			         l->url, e.msg);
		else
			log_info("released %s: a create sent before the signal had applied",
			         l->url);
	}
	lock_view_free(&v);
}

int lock_acquire(struct lock *l, struct tf_error *err)
{
	struct lock_view v;
	struct trouble t;
	int64_t deadline = 0, last_print = 0;
	int ret, creates = 0;
	char last_id[64] = "";

	lock_view_init(&v);
	memset(&t, 0, sizeof(t));
	cancel_flag = l->o.cancel;
	l->in_acquire = 1;
	l->maybe_created = 0;
	l->id_first_send = 0;
	l->wait_start_ns = clock_boot_ns();
	if (l->o.timeout_ms >= 0)
		deadline = l->wait_start_ns + l->o.timeout_ms * NS_PER_MS;

	for (;;) {
		int64_t now, poll;
		if (cancelled()) {
			ret = LOCK_CANCELLED;
			goto out;
		}
		/* try to create the lock */
		ret = write_lock(l, C_CREATE, NULL,
		                 clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS, err);
		creates++;
		if (ret == W_APPLIED) {
			ret = acquired(l, "created");
			goto out;
		}
		if (ret == W_NOT_APPLIED) { /* an earlier create of ours applied */
			ret = adopt(l, "created", err);
			if (ret != LOCK_LOST)
				goto out;
			ret = W_OTHER;
		}
		if (ret < 0) {
			if (lock_error_is_store(err))
				goto out;
			if (cancelled()) {
				ret = LOCK_CANCELLED;
				goto out;
			}
			trouble_fail(l, &t, err);
		} else if (l->write_err.kind) {
			trouble_fail(l, &t,
			             &l->write_err); /* the PUT failed; its read-back did not */
		} else {
			trouble_ok(l, &t);
		}
		if (ret == W_OTHER) {
			lock_view_free(&v);
			v = l->last_holder; /* read_back() left the holder there */
			lock_view_init(&l->last_holder);
		} else if (ret == W_ABSENT) {
			lock_view_free(&v);
			if (!t.errors && creates < 1000)
				continue; /* freed between our 412 and our read: again at once */
		}

		/* wait: poll until free, changed, or its lease runs out */
		for (;;) {
			if (cancelled()) {
				ret = LOCK_CANCELLED;
				goto held;
			}
			if (v.present && v.li.id && l->o.inherited_id &&
			    !strcmp(v.li.id, l->o.inherited_id)) {
				err_set(err, ERR_USAGE,
				        "%s is held by the tflock that started this one (ID %s), "
				        "but this run could not verify it may re-enter: not "
				        "waiting for our own parent",
				        l->url, v.li.id);
				ret = LOCK_HELD;
				goto held;
			}
			now = clock_boot_ns();
			if (t.since && now - t.since >= patience_ms(l) * NS_PER_MS) {
				ret = unavailable(l, &t, err);
				goto held;
			}
			if (v.present) {
				const char *hid = v.li.id ? v.li.id : "";
				int new_holder = strcmp(last_id, hid) != 0 || !last_print;
				if (new_holder) {
					l->holders_seen++;
					if (l->nseen < 16) {
						l->seen[l->nseen].who =
						        xstrdup(v.li.who ? v.li.who : "");
						l->seen[l->nseen].operation = xstrdup(
						        v.li.operation ? v.li.operation : "");
						l->seen[l->nseen].id = xstrdup(hid);
						l->nseen++;
					}
					if (!l->in_section && getenv("GITLAB_CI") &&
					    !strcmp(getenv("GITLAB_CI"), "true")) {
						report_gitlab_section_start(
						        "tflock_wait",
						        "tflock: waiting for the state lock",
						        stderr);
						l->in_section = 1;
					}
					if (v.klass != LOCKINFO_TFLOCK)
						report_foreign(l, &v);
				}
				if (!l->o.no_wait &&
				    (new_holder || now - last_print >= PRINT_EVERY_NS)) {
					progress(l, &v, now);
					last_print = now;
					snprintf(last_id, sizeof(last_id), "%s", hid);
				}
			}
			if (l->o.no_wait && v.present && !t.errors) {
				ret = LOCK_HELD;
				goto held;
			}
			if (deadline && now >= deadline) {
				ret = t.errors ? unavailable(l, &t, err) : LOCK_HELD;
				goto held;
			}
			/* B4: takeover of a tflock holder silent for its whole lease */
			if (v.present && v.klass == LOCKINFO_TFLOCK && v.holder_lease_ms > 0 &&
			    now - v.first_seen_ns >= v.holder_lease_ms * NS_PER_MS) {
				char who[512];
				lock_describe_holder(&v, who, sizeof(who));
				log_debug("takeover: %s unchanged since %lld ns (receipt), lease "
				          "%lld ms",
				          v.etag, (long long)v.first_seen_ns,
				          (long long)v.holder_lease_ms);
				ret = write_lock(l, C_MATCH, v.etag,
				                 now + lock_heartbeat_ms(l) * NS_PER_MS, err);
				if (ret == W_APPLIED || ret == W_NOT_APPLIED) {
					l->took_over = 1;
					log_event("takeover %s from=%s etag=%s first_seen=%lld "
					          "lease_ms=%lld",
					          l->url, v.li.id, v.etag,
					          (long long)v.first_seen_ns,
					          (long long)v.holder_lease_ms);
					log_warn("took over %s from %s: unchanged for its whole "
					         "lease (%lds) — its holder is gone",
					         l->url, who, v.li.tf.lease);
					lock_view_free(&l->last_holder);
					l->last_holder = v;
					lock_view_init(&v);
					if (ret == W_NOT_APPLIED) {
						ret = adopt(l, "taken over", err);
						if (ret == LOCK_LOST)
							continue;
					} else {
						ret = acquired(l, "taken over");
					}
					goto out;
				}
				if (ret == W_ABSENT) {
					if (l->write_err.kind)
						trouble_fail(l, &t, &l->write_err);
					break; /* create again */
				}
				if (ret == W_OTHER) {
					if (l->write_err.kind)
						trouble_fail(l, &t, &l->write_err);
					else
						trouble_ok(l, &t);
					lock_view_free(&v);
					v = l->last_holder;
					lock_view_init(&l->last_holder);
					continue;
				}
				if (lock_error_is_store(err))
					goto out;
				trouble_fail(l, &t, err);
			}
			poll = jitter_down_pct(lock_poll_ms(l), 20, rand_u64_default, NULL);
			if (v.holder_lease_ms > 0 && poll > v.holder_lease_ms / 4)
				poll = v.holder_lease_ms / 4;
			poll = trouble_delay(l, &t, poll);
			if (deadline && clock_boot_ns() + poll * NS_PER_MS > deadline)
				poll = (deadline - clock_boot_ns()) / NS_PER_MS;
			sleep_ms(poll);
			if (cancelled())
				continue;
			ret = poll_lock(l, &v, err);
			if (ret) {
				if (lock_error_is_store(err))
					goto out;
				if (ret != ERR_CANCELLED)
					trouble_fail(l, &t, err);
				continue;
			}
			if (v.present) /* an absent lock says nothing: the create will */
				trouble_ok(l, &t);
			if (!v.present)
				break; /* free: create at once */
		}
	}
held:
	lock_view_free(&l->last_holder);
	l->last_holder = v;
	lock_view_init(&v);
out:
	if (ret == LOCK_CANCELLED)
		cancel_cleanup(l);
	l->in_acquire = 0;
	close_section(l);
	lock_view_free(&v);
	return ret;
}

/* ---- heartbeat ---- */

int lock_renew(struct lock *l, struct tf_error *err)
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
		ret = write_lock(l, C_MATCH, l->etag, deadline, err);
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

int64_t lock_check_ms(const struct lock *l)
{
	int64_t every = scaled(l, 3000);
	return lock_heartbeat_ms(l) > every ? every : 0;
}

int lock_check(struct lock *l, struct tf_error *err)
{
	struct lock_view v;
	int ret;
	lock_view_init(&v);
	snprintf(v.etag, sizeof(v.etag), "%s", l->etag);
	v.present = 1;
	ret = poll_lock(l, &v, err); /* GET If-None-Match: "<our etag>" */
	if (ret)
		goto out;
	if (!v.present) {
		l->held = 0;
		log_event("lost %s id=%s (deleted)", l->url, l->mine.id);
		ret = err_set(err, ERR_NONE,
		              "%s was deleted by someone else (terraform force-unlock?)", l->url);
		ret = LOCK_LOST;
	} else if (strcmp(v.etag, l->etag)) {
		if (v.li.id && !strcmp(v.li.id, l->mine.id)) {
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
	return ret;
}

/* ---- release (B5) ---- */

static int delete_once(struct lock *l, const char *if_match, long timeout_ms, struct s3_reply *r,
                       struct tf_error *err)
{
	struct s3_request req;
	struct http_header h;
	char q[160];
	memset(&req, 0, sizeof(req));
	req.method = "DELETE";
	req.key = l->lock_key;
	req.no_retry = 1;
	req.timeout_ms = timeout_ms;
	if (if_match) {
		h.name = "If-Match";
		h.value = if_match_value(l, if_match, q, sizeof(q));
		req.headers = &h;
		req.nheaders = 1;
	}
	l->requests++;
	return s3_request(l->s3, &req, r, err);
}

static int released(struct lock *l)
{
	l->held = 0;
	l->released_ns = clock_boot_ns();
	log_verbose("released %s", l->url);
	log_event("released %s id=%s", l->url, l->mine.id);
	return 0;
}

int lock_release(struct lock *l, struct tf_error *err)
{
	struct s3_reply r;
	int ret = 0;
	s3_reply_init(&r);
	if (!l->held)
		return 0;
	if (l->store.cond_delete) {
		for (int tries = 0; tries < 4; tries++) {
			ret = delete_once(l, l->etag, (long)lock_request_timeout_ms(l), &r, err);
			if (ret == 0 || r.status == 404) {
				ret = released(l);
				goto out;
			}
			if (lock_error_is_store(err) && r.status != 412)
				goto out;
			ret = read_back(l, l->mine.tf.seq,
			                clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS, err);
			if (ret == W_ABSENT) {
				ret = released(l);
				goto out;
			}
			if (ret == W_OTHER) {
				char who[512];
				l->held = 0;
				lock_describe_holder(&l->last_holder, who, sizeof(who));
				err_set(err, ERR_NONE, "%s is now held by %s", l->url, who);
				ret = LOCK_LOST;
				goto out;
			}
			if (ret < 0)
				goto out;
			/* still ours (etag refreshed): delete again */
		}
		ret = err_set(err, ERR_INTERNAL, "release of %s did not converge", l->url);
		goto out;
	}
	/* No conditional DELETE (Ceph RGW 16): renew, then an unconditional DELETE sent
	 * within B of that renewal's send and abandoned by then. Nobody can take over
	 * before send + L; the store executing a request within T = L - m - B of its
	 * sending (B5's assumption) makes the DELETE land before that. */
	ret = lock_renew(l, err);
	if (ret)
		goto out; /* LOCK_LOST, or failed: the lease bounds the leak */
	{
		int64_t window_ms = lock_delete_budget_ms(l);
		int64_t left =
		        (l->renew_send_ns + window_ms * NS_PER_MS - clock_boot_ns()) / NS_PER_MS;
		if (left <= 0) {
			char d[32];
			dur_format(l->o.lease_ms, d, sizeof(d));
			ret = err_set(err, ERR_TIMEOUT,
			              "release of %s abandoned: too late after the last renewal to "
			              "delete safely; the lock expires within %s",
			              l->url, d);
			goto out;
		}
		if (left > lock_request_timeout_ms(l))
			left = lock_request_timeout_ms(l);
		log_event("release-delete %s renew_send=%lld budget_ms=%lld transit_ms=%lld",
		          l->url, (long long)l->renew_send_ns, (long long)window_ms,
		          (long long)lock_delete_transit_ms(l));
		ret = delete_once(l, NULL, (long)left, &r, err);
		if (ret == 0 || r.status == 404) {
			ret = released(l);
			goto out;
		}
		{
			/* never repeat that DELETE; a read tells whether it applied */
			struct tf_error rerr;
			int rb;
			err_clear(&rerr);
			rb = read_back(l, l->mine.tf.seq,
			               clock_boot_ns() + lock_request_timeout_ms(l) * NS_PER_MS,
			               &rerr);
			if (rb == W_ABSENT) {
				ret = released(l);
				err_clear(err);
				goto out;
			}
			if (rb == W_OTHER) {
				char who[512];
				l->held = 0;
				lock_describe_holder(&l->last_holder, who, sizeof(who));
				err_set(err, ERR_NONE, "%s is now held by %s", l->url, who);
				ret = LOCK_LOST;
				goto out;
			}
		}
		{
			char d[32];
			dur_format(l->o.lease_ms, d, sizeof(d));
			err_prefix(err,
			           "release of %s FAILED (not retried: the lock expires within %s)",
			           l->url, d);
		}
	}
out:
	s3_reply_free(&r);
	return ret;
}

int lock_unlock_id(struct lock *l, const char *id, struct tf_error *err)
{
	struct lock_view v;
	int ret;
	lock_view_init(&v);
	ret = lock_read(l, &v, err);
	if (ret)
		goto out;
	if (!v.present) {
		ret = err_set(err, ERR_NOT_FOUND, "%s is not locked", l->url);
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
	if (l->store.cond_delete) {
		struct s3_reply r;
		s3_reply_init(&r);
		ret = delete_once(l, v.etag, (long)lock_request_timeout_ms(l), &r, err);
		if (ret == 0 || r.status == 404)
			ret = 0;
		else if (r.status == 412) {
			err_set(err, ERR_NONE, "%s changed while unlocking: nothing removed",
			        l->url);
			ret = LOCK_HELD;
		}
		s3_reply_free(&r);
		goto out;
	}
	/* take over with If-Match (exactly one writer wins), then release as ours */
	ret = write_lock(l, C_MATCH, v.etag, clock_boot_ns() + lock_heartbeat_ms(l) * NS_PER_MS,
	                 err);
	if (ret == W_APPLIED || ret == W_NOT_APPLIED) {
		l->held = 1;
		ret = lock_release(l, err);
	} else if (ret == W_ABSENT) {
		ret = 0;
	} else if (ret == W_OTHER) {
		err_set(err, ERR_NONE, "%s changed while unlocking: nothing removed", l->url);
		ret = LOCK_HELD;
	}
out:
	lock_view_free(&v);
	return ret;
}
