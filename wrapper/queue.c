/*
 * queue.c — the FIFO queue of waiters (docs/PROTOCOL.md B13; queue.h says
 * what it does). Joining, keeping the ticket alive, judging the tickets ahead
 * (clock-free, from the receipt of the listing that first showed each
 * version), and leaving.
 */
#include "queue.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "clock.h"
#include "dur.h"
#include "lockinfo.h"
#include "log.h"
#include "sanitize.h"

#define QUEUE_VERSION 1
#define POS_DIGITS 16
#define TICKET_LEASE_MIN_MS 1L /* scaled runs write short leases (a test's 0.1) */
#define TICKET_LEASE_MAX_MS 3600000L
#define PEEK_MAX_FAILURES 3        /* listings failing before joining: no queue this run */
#define TICKET_LEASE_CAP_MS 60000L /* a longer declared ticket lease counts as this */
#define JOIN_MAX_ROUNDS 64         /* counter CAS attempts before giving up */
#define PRINT_EVERY_NS (10000 * NS_PER_MS)
#define HOLDER_EVERY_NS (30000 * NS_PER_MS)

/* Failures in a row: how many, and the first one's time (0: none). */
struct streak {
	unsigned n;
	int64_t since;
};

static void streak_fail(struct streak *s)
{
	s->n++;
	if (!s->since)
		s->since = clock_boot_ns();
}

/* A ticket as seen in the listings. */
struct seen {
	unsigned long long pos;
	char *key;
	char version[RECORD_VERSION_MAX];
	int64_t first_seen; /* receipt of the listing that first showed this version */
	int64_t lease_ms;   /* declared; 0: not read yet; -1: not a v1 ticket (ignored) */
	char *who;          /* for the waiting line (the writer's bytes) */
	char *created;
	int listed; /* in the latest listing */
};

struct queue {
	struct queue_opts o;
	char *id, *who, *operation, *ci, *host;
	char *prefix;           /* P.queue. */
	struct record *counter; /* P.queue.next.tflock (also lists the prefix) */
	struct record *mine;    /* our ticket, NULL when not in the queue */
	unsigned long long pos;
	char version[RECORD_VERSION_MAX]; /* our ticket's */
	unsigned long long seq;           /* of our last queue write attempt */
	int64_t next_renew;
	int64_t created_send; /* before our ticket's create was sent (events) */
	struct seen *t;       /* tickets other than ours, by position */
	size_t nt;
	struct streak failed; /* queue requests left unresolved, in a row */
	struct streak list;   /* listings failed in a row (other requests may
	                         succeed meanwhile: renewals, watches) */
	int broken;           /* 403, a counter not ours: the queue is off for the run */
	struct tf_error last_err;
	int64_t renew_ok_send;     /* before the send of our ticket's last successful write */
	unsigned long long maxpos; /* the highest ticket position in the last listing */
	struct record *maybe;      /* a ticket whose create's outcome is unknown (leave
	                              deletes it) */
	int mine_listed;           /* our ticket was in the last listing */
	unsigned requests_gone;    /* of records already freed */
	int64_t last_print, last_holder;
	char holder_line[512];
	unsigned long long printed_ahead;
};

static void seen_free(struct seen *s)
{
	free(s->key);
	free(s->who);
	free(s->created);
}

struct queue *queue_new(const struct queue_opts *o)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	char *ckey;
	q->o = *o;
	q->id = xstrdup(o->id ? o->id : "");
	q->who = xstrdup(o->who ? o->who : "");
	q->operation = xstrdup(o->operation ? o->operation : "");
	q->ci = xstrdup(o->ci ? o->ci : "");
	q->host = xstrdup(o->host ? o->host : "");
	q->o.id = q->o.who = q->o.operation = q->o.ci = q->o.host = NULL;
	sanitize_strip_all(q->who, q->operation, q->ci, q->host, (char *)NULL);
	q->prefix = xasprintf("%s.queue.", o->state_key);
	q->o.state_key = NULL;
	ckey = xasprintf("%snext.tflock", q->prefix);
	q->counter = record_s3_new(o->s3, ckey, &o->rec);
	free(ckey);
	return q;
}

void queue_free(struct queue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nt; i++)
		seen_free(&q->t[i]);
	free(q->t);
	record_free(q->counter);
	record_free(q->mine);
	record_free(q->maybe);
	free(q->prefix);
	free(q->id);
	free(q->who);
	free(q->operation);
	free(q->ci);
	free(q->host);
	free(q);
}

void queue_set_caps(struct queue *q, const struct record_caps *caps)
{
	if (caps && caps->known) {
		q->counter->caps = *caps;
		if (q->mine)
			q->mine->caps = *caps;
	}
}

unsigned long long queue_position(const struct queue *q)
{
	return q->mine ? q->pos : 0;
}

unsigned queue_requests(const struct queue *q)
{
	return q->requests_gone + q->counter->requests + (q->mine ? q->mine->requests : 0);
}

static int cancelled(const struct queue *q)
{
	return q->o.cancel && *q->o.cancel;
}

static int stop_sleep(const void *arg)
{
	return cancelled(arg);
}

static void call_init(const struct queue *q, struct record_call *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = q->o.timeout_ms;
	c->no_retry = 1; /* the waiting loop is the retry */
	c->abortable = 1;
}

/* ---- keys and bodies ---- */

int queue_key_position(const char *key, const char *prefix, unsigned long long *pos)
{
	size_t n = strlen(prefix);
	unsigned long long v = 0;
	if (strncmp(key, prefix, n))
		return 0;
	key += n;
	for (int i = 0; i < POS_DIGITS; i++) {
		if (key[i] < '0' || key[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(key[i] - '0');
	}
	if (strcmp(key + POS_DIGITS, ".tflock"))
		return 0;
	*pos = v;
	return 1;
}

static char *ticket_key(const struct queue *q, unsigned long long pos)
{
	return xasprintf("%s%0*llu.tflock", q->prefix, POS_DIGITS, pos);
}

static void ticket_body(const struct queue *q, struct buf *out)
{
	cJSON *j = cJSON_CreateObject();
	char created[48], *s;
	struct timespec now = clock_wall();
	lockinfo_format_created(&now, created);
	cJSON_AddNumberToObject(j, "v", QUEUE_VERSION);
	cJSON_AddStringToObject(j, "ID", q->id);
	cJSON_AddNumberToObject(j, "seq", (double)q->seq);
	cJSON_AddNumberToObject(j, "lease_ms", (double)q->o.lease_ms);
	cJSON_AddStringToObject(j, "Who", q->who);
	cJSON_AddStringToObject(j, "Operation", q->operation);
	cJSON_AddStringToObject(j, "ci", q->ci);
	cJSON_AddStringToObject(j, "host", q->host);
	cJSON_AddNumberToObject(j, "pid", (double)q->o.pid);
	cJSON_AddStringToObject(j, "Created", created);
	s = cJSON_PrintUnformatted(j);
	buf_reset(out);
	buf_adds(out, s ? s : "{}");
	cJSON_free(s);
	cJSON_Delete(j);
}

static void counter_body(const struct queue *q, unsigned long long next, struct buf *out)
{
	buf_reset(out);
	buf_addf(out, "{\"v\":%d,\"next\":%llu,\"ID\":\"%s\",\"seq\":%llu}", QUEUE_VERSION, next,
	         q->id, q->seq);
}

static const char *jstr(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jnum(const cJSON *j, const char *name, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
	if (!cJSON_IsNumber(v))
		return 0;
	*out = v->valuedouble;
	return 1;
}

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

void queue_ticket_free(struct queue_ticket *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->who);
	free(t->operation);
	free(t->ci);
	free(t->host);
	free(t->created);
	memset(t, 0, sizeof(*t));
}

int queue_ticket_parse(const char *data, size_t len, struct queue_ticket *out, struct tf_error *err)
{
	cJSON *j;
	double v, seq, lease, pid = 0;
	memset(out, 0, sizeof(*out));
	if (len > LOCKINFO_MAX_BODY)
		return err_set(err, ERR_PARSE, "a ticket of %zu bytes", len);
	j = cJSON_ParseWithLength(data, len);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return err_set(err, ERR_PARSE, "not a JSON object");
	}
	if (!jnum(j, "v", &v) || v != QUEUE_VERSION) {
		cJSON_Delete(j);
		return err_set(err, ERR_PARSE, "not a version %d ticket", QUEUE_VERSION);
	}
	if (!jstr(j, "ID") || !jnum(j, "seq", &seq) || !jnum(j, "lease_ms", &lease) || seq < 0 ||
	    seq > 9e15) {
		cJSON_Delete(j);
		return err_set(err, ERR_PARSE, "ID, seq or lease_ms missing");
	}
	if (!(lease >= TICKET_LEASE_MIN_MS && lease <= TICKET_LEASE_MAX_MS)) {
		cJSON_Delete(j);
		return err_set(err, ERR_PARSE, "lease_ms out of range (1ms..1h)");
	}
	jnum(j, "pid", &pid);
	out->id = dup_or_empty(jstr(j, "ID"));
	out->who = dup_or_empty(jstr(j, "Who"));
	out->operation = dup_or_empty(jstr(j, "Operation"));
	out->ci = dup_or_empty(jstr(j, "ci"));
	out->host = dup_or_empty(jstr(j, "host"));
	out->created = dup_or_empty(jstr(j, "Created"));
	out->seq = (long long)seq;
	out->lease_ms = (int64_t)lease;
	out->pid = pid >= 0 && pid < 1e9 ? (long)pid : 0;
	cJSON_Delete(j);
	return 0;
}

/* Our ID and seq in a body read back (B2)? 2: that seq; 1: an older one; 0: not ours. */
static int body_is_ours(const struct queue *q, const struct buf *body, unsigned long long seq)
{
	cJSON *j = cJSON_ParseWithLength(body->data, body->len);
	const char *id = jstr(j, "ID");
	double s;
	int ret = 0;
	if (id && !strcmp(id, q->id) && jnum(j, "seq", &s))
		ret = (unsigned long long)s == seq ? 2 : 1;
	cJSON_Delete(j);
	return ret;
}

/* ---- B2 for queue objects ---- */

enum { QW_APPLIED = 1, QW_NOT_APPLIED, QW_OTHER, QW_GONE };

/* A queue request left unresolved (B13: contention resolved by a read-back is
 * not a failure). */
static void fail(struct queue *q, const struct tf_error *e)
{
	streak_fail(&q->failed);
	q->last_err = *e;
	log_verbose("queue: %s", e->msg);
}

static void ok_req(struct queue *q)
{
	q->failed = (struct streak){ 0 };
}

/* The queue is off for this run: refused (403, a counter not ours), or its
 * requests failed for the whole patience budget. */
static int give_up(const struct queue *q)
{
	int64_t now = clock_boot_ns(), patience = q->o.patience_ms * NS_PER_MS;
	return q->broken || (q->failed.since && now - q->failed.since >= patience) ||
	       (q->list.since && now - q->list.since >= patience);
}

/*
 * One conditional write of a queue object (version NULL: create), resolved by
 * B2: QW_APPLIED (version_out set), QW_NOT_APPLIED (ours, an older seq: it did
 * not apply), QW_OTHER (another body: the condition failed), QW_GONE, or a
 * negative ERR_* (the read-back failed too; fail() was called).
 */
static int qwrite(struct queue *q, struct record *r, const char *version, const struct buf *body,
                  char *version_out, struct tf_error *err)
{
	struct record_call c;
	struct record_reply rep;
	int ret, mine;
	call_init(q, &c);
	record_reply_init(&rep);
	ret = version ? r->ops->replace(r, version, body, &c, &rep, err)
	              : r->ops->create(r, body, &c, &rep, err);
	if (ret == REC_DONE && rep.version[0]) {
		snprintf(version_out, RECORD_VERSION_MAX, "%s", rep.version);
		record_reply_free(&rep);
		ok_req(q);
		return QW_APPLIED;
	}
	if (ret < 0 && rep.broken) {
		record_reply_free(&rep);
		fail(q, err);
		q->broken = 1;
		return ret;
	}
	/* 412, an unknown outcome, or a 2xx without an ETag: read it back */
	record_reply_free(&rep);
	record_reply_init(&rep);
	c.no_retry = 0;
	ret = r->ops->read(r, NULL, &c, &rep, err);
	if (ret < 0) {
		record_reply_free(&rep);
		fail(q, err);
		return ret;
	}
	ok_req(q);
	if (ret == REC_ABSENT) {
		record_reply_free(&rep);
		return QW_GONE;
	}
	mine = body_is_ours(q, &rep.body, q->seq);
	if (mine == 2)
		snprintf(version_out, RECORD_VERSION_MAX, "%s", rep.version);
	record_reply_free(&rep);
	return mine == 2 ? QW_APPLIED : mine == 1 ? QW_NOT_APPLIED : QW_OTHER;
}

/* ---- listing ---- */

static struct seen *find_seen(struct queue *q, unsigned long long pos)
{
	for (size_t i = 0; i < q->nt; i++)
		if (q->t[i].pos == pos)
			return &q->t[i];
	return NULL;
}

static int seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Take one listing in: new tickets and new versions count from its receipt. */
static void absorb(struct queue *q, const struct record_list *l, unsigned long long *maxpos)
{
	for (size_t i = 0; i < q->nt; i++)
		q->t[i].listed = 0;
	*maxpos = 0;
	q->mine_listed = 0;
	for (size_t i = 0; i < l->n; i++) {
		unsigned long long pos;
		struct seen *s;
		if (!queue_key_position(l->names[i], q->prefix, &pos))
			continue;
		if (pos > *maxpos)
			*maxpos = pos;
		if (l->sizes[i] == 0) /* a removed ticket's tombstone (B13): gone */
			continue;
		if (q->mine && pos == q->pos) {
			q->mine_listed = 1;
			continue;
		}
		s = find_seen(q, pos);
		if (!s) {
			q->t = xrealloc(q->t, (q->nt + 1) * sizeof(*q->t));
			s = &q->t[q->nt++];
			memset(s, 0, sizeof(*s));
			s->pos = pos;
			s->key = xstrdup(l->names[i]);
			s->first_seen = l->t_recv;
		}
		if (strcmp(s->version, l->versions[i])) {
			snprintf(s->version, sizeof(s->version), "%s", l->versions[i]);
			s->first_seen = l->t_recv;
		}
		s->listed = 1;
	}
	for (size_t i = 0; i < q->nt;) { /* gone from the listing: gone */
		if (!q->t[i].listed) {
			seen_free(&q->t[i]);
			q->t[i] = q->t[--q->nt];
		} else {
			i++;
		}
	}
	if (q->nt > 1)
		qsort(q->t, q->nt, sizeof(*q->t), seen_cmp);
}

/* List the queue; *maxpos: the highest ticket position listed (0: none). */
static int qlist(struct queue *q, unsigned long long *maxpos, struct tf_error *err)
{
	struct record_call c;
	struct record_list l;
	int ret;
	call_init(q, &c);
	ret = q->counter->ops->list(q->counter, q->prefix, &c, &l, err);
	if (ret < 0) {
		int broken = err->kind == ERR_HTTP &&
		             (err->http_status == 403 || err->http_status == 400);
		fail(q, err);
		streak_fail(&q->list);
		if (broken)
			q->broken = 1;
		return ret;
	}
	ok_req(q);
	q->list = (struct streak){ 0 };
	absorb(q, &l, maxpos);
	q->maxpos = *maxpos;
	record_list_free(&l);
	return 0;
}

/* Read the body of every ticket ahead not read yet (its lease, who it is). */
static void read_new(struct queue *q)
{
	for (size_t i = 0; i < q->nt; i++) {
		struct seen *s = &q->t[i];
		struct record *r;
		struct record_call c;
		struct record_reply rep;
		struct queue_ticket t;
		struct tf_error e;
		int ret;
		if (s->lease_ms || (q->mine && s->pos > q->pos))
			continue;
		r = record_s3_new(q->o.s3, s->key, &q->o.rec);
		call_init(q, &c);
		c.no_retry = 0;
		record_reply_init(&rep);
		err_clear(&e);
		ret = r->ops->read(r, NULL, &c, &rep, &e);
		q->requests_gone += r->requests;
		record_free(r);
		if (ret == REC_DONE &&
		    queue_ticket_parse(rep.body.data, rep.body.len, &t, &e) == 0) {
			s->lease_ms =
			        t.lease_ms < TICKET_LEASE_CAP_MS ? t.lease_ms : TICKET_LEASE_CAP_MS;
			s->who = xstrdup(*t.ci ? t.ci : t.who);
			s->created = xstrdup(t.created);
			queue_ticket_free(&t);
		} else if (ret == REC_DONE) {
			char k[256];
			sanitize_to(k, sizeof(k), s->key, 0);
			log_warn("queue: %s is not a tflock ticket (%s): skipped", k, e.msg);
			s->lease_ms = -1;
		} else if (ret < 0) {
			fail(q, &e);
		}
		record_reply_free(&rep);
	}
}

/* Has this ticket been unchanged for its whole declared lease (B13, B4)? */
static int stale(const struct seen *s, int64_t now)
{
	return s->lease_ms < 0 ||
	       (s->lease_ms > 0 && now - s->first_seen >= s->lease_ms * NS_PER_MS);
}

/* The first live ticket in line (the head when it is not ours), and how many
 * live ones are ahead of ours. */
static struct seen *first_ahead(const struct queue *q, int64_t now, unsigned *ahead)
{
	struct seen *h = NULL;
	*ahead = 0;
	for (size_t i = 0; i < q->nt; i++) /* sorted by position */
		if (q->t[i].pos < q->pos && !stale(&q->t[i], now)) {
			if (!h)
				h = &q->t[i];
			(*ahead)++;
		}
	return h;
}

int queue_peek(struct queue *q, struct tf_error *err)
{
	unsigned long long maxpos;
	/* a failing listing is tried again, up to the queue's failure limit */
	while (qlist(q, &maxpos, err)) {
		if (q->broken || q->failed.n >= PEEK_MAX_FAILURES || cancelled(q))
			return QUEUE_OFF;
		clock_sleep_ms_unless(backoff_full_jitter(q->failed.n, q->o.poll_ms,
		                                          q->o.poll_ms * 8, rand_u64_default, NULL),
		                      stop_sleep, q);
	}
	return q->nt ? QUEUE_OK : QUEUE_EMPTY;
}

/* ---- joining ---- */

/* Win a position by advancing the counter (CAS): 0 with *pos, 1 to try again,
 * or a negative ERR_* (give_up() says whether to give up). */
static int advance(struct queue *q, unsigned long long *pos, struct tf_error *err)
{
	struct record_call c;
	struct record_reply rep;
	struct buf body = BUF_INIT;
	char ver[RECORD_VERSION_MAX] = "", got[RECORD_VERSION_MAX];
	unsigned long long next = 0, maxpos;
	int ret;
	call_init(q, &c);
	c.no_retry = 0;
	record_reply_init(&rep);
	ret = q->counter->ops->read(q->counter, NULL, &c, &rep, err);
	if (ret < 0) {
		record_reply_free(&rep);
		fail(q, err);
		return ret;
	}
	if (ret == REC_ABSENT) { /* the first joiner ever, or the counter was deleted */
		record_reply_free(&rep);
		if ((ret = qlist(q, &maxpos, err)))
			return ret;
		next = maxpos + 1;
	} else {
		cJSON *j = cJSON_ParseWithLength(rep.body.data, rep.body.len);
		double v, n;
		if (!j || !jnum(j, "v", &v) || v != QUEUE_VERSION || !jnum(j, "next", &n) ||
		    n < 1 || n > 9e15) {
			cJSON_Delete(j);
			record_reply_free(&rep);
			q->broken = 1;
			return err_set(err, ERR_PARSE, "%s is not tflock's queue counter",
			               q->counter->name);
		}
		/* never below a ticket already listed: a late (RGW) CAS may have moved
		 * the counter back (B13) */
		next = (unsigned long long)n > q->maxpos ? (unsigned long long)n : q->maxpos + 1;
		snprintf(ver, sizeof(ver), "%s", rep.version);
		cJSON_Delete(j);
		record_reply_free(&rep);
	}
	q->seq++;
	counter_body(q, next + 1, &body);
	ret = qwrite(q, q->counter, *ver ? ver : NULL, &body, got, err);
	buf_free(&body);
	if (ret == QW_APPLIED) {
		*pos = next;
		return 0;
	}
	return ret < 0 ? ret : 1;
}

/* Create our ticket at pos: 0 (ours), 1 (the position is taken: join again), or
 * a negative ERR_*. */
static int create_ticket(struct queue *q, unsigned long long pos, struct tf_error *err)
{
	struct buf body = BUF_INIT;
	char *key = ticket_key(q, pos);
	struct record *r = record_s3_new(q->o.s3, key, &q->o.rec);
	int ret;
	free(key);
	r->caps = q->counter->caps;
	q->seq++;
	ticket_body(q, &body);
	q->created_send = clock_boot_ns(); /* no later than the create's send */
	ret = qwrite(q, r, NULL, &body, q->version, err);
	buf_free(&body);
	if (ret == QW_APPLIED) {
		record_free(q->mine);
		q->mine = r;
		q->pos = pos;
		q->renew_ok_send = q->created_send;
		q->next_renew = clock_boot_ns() + q->o.lease_ms / 4 * NS_PER_MS;
		return 0;
	}
	if (ret < 0) { /* unknown: it may land; leaving deletes that position's key */
		if (q->maybe)
			q->requests_gone += q->maybe->requests;
		record_free(q->maybe);
		q->maybe = r;
		return ret;
	}
	q->requests_gone += r->requests;
	record_free(r);
	return 1;
}

int queue_join(struct queue *q, struct tf_error *err)
{
	for (int round = 0; round < JOIN_MAX_ROUNDS; round++) {
		unsigned long long pos;
		int ret;
		if (cancelled(q))
			return QUEUE_CANCELLED;
		ret = advance(q, &pos, err);
		if (ret == 0) {
			ret = create_ticket(q, pos, err);
			if (ret == 0) {
				log_event("queue-join %s pos=%llu id=%s send=%lld", q->mine->name,
				          pos, q->id, (long long)q->created_send);
				log_verbose("joined the queue at position %llu", pos);
				return QUEUE_OK;
			}
		}
		if (give_up(q))
			return QUEUE_OFF;
		/* contention on the counter, or a failure: again after a jittered pause */
		clock_sleep_ms_unless(backoff_full_jitter(round < 6 ? (unsigned)round + 1 : 6,
		                                          q->o.poll_ms / 4 + 1, q->o.poll_ms * 4,
		                                          rand_u64_default, NULL),
		                      stop_sleep, q);
	}
	err_set(err, ERR_INTERNAL, "the queue's counter kept changing (%d attempts)",
	        JOIN_MAX_ROUNDS);
	return QUEUE_OFF;
}

/* ---- keeping the ticket ---- */

/* Our ticket is gone (removed, or expired): out of the queue. */
static void drop_mine(struct queue *q, const char *event)
{
	log_event("%s %s pos=%llu", event, q->mine->name, q->pos);
	q->requests_gone += q->mine->requests;
	record_free(q->mine);
	q->mine = NULL;
}

/* Delete a ticket key once, unconditionally, bounded by the request timeout
 * (our own: positions are never given out twice). */
static void delete_key(struct queue *q, struct record *r)
{
	struct record_call c;
	struct record_reply rep;
	struct tf_error e;
	call_init(q, &c);
	c.abortable = 0; /* leaving must not be cut short by the signal that made us leave */
	record_reply_init(&rep);
	err_clear(&e);
	if (r->ops->remove(r, NULL, &c, &rep, &e) < 0)
		log_verbose("queue: deleting %s failed (%s): it is skipped after its lease",
		            r->name, e.msg);
	record_reply_free(&rep);
}

/* B13: a ticket is never written once its last successful write's send + Q - m
 * has passed (a waiter stopped that long may have been judged stale and its
 * ticket taken over: on RGW a late If-Match could still apply). */
static int expired(const struct queue *q, int64_t now)
{
	int64_t m = q->o.lease_ms / 10 > 0 ? q->o.lease_ms / 10 : 1;
	return q->mine && now >= q->renew_ok_send + (q->o.lease_ms - m) * NS_PER_MS;
}

static void expire(struct queue *q)
{
	log_warn("queue: our ticket at position %llu was not renewed within its lease: this run "
	         "joins again at the back",
	         q->pos);
	delete_key(q, q->mine);
	drop_mine(q, "queue-expired");
}

/* Renew our ticket (B2). 0, 1 when it was removed or expired (we are out of the
 * queue), or a negative ERR_*. */
static int renew(struct queue *q, struct tf_error *err)
{
	struct buf body = BUF_INIT;
	char got[RECORD_VERSION_MAX];
	int64_t send = clock_boot_ns(); /* no later than the first write's send */
	int ret = 0;
	if (expired(q, send)) {
		expire(q);
		return 1;
	}
	for (int tries = 0; tries < 4; tries++) {
		q->seq++;
		ticket_body(q, &body);
		ret = qwrite(q, q->mine, q->version, &body, got, err);
		if (ret != QW_NOT_APPLIED)
			break;
	}
	buf_free(&body);
	if (ret == QW_APPLIED) {
		snprintf(q->version, sizeof(q->version), "%s", got);
		q->renew_ok_send = send;
		q->next_renew = clock_boot_ns() + q->o.lease_ms / 4 * NS_PER_MS;
		log_event("queue-renew %s pos=%llu send=%lld", q->mine->name, q->pos,
		          (long long)send);
		return 0;
	}
	if (ret == QW_OTHER || ret == QW_GONE) {
		log_warn("queue: our ticket at position %llu was removed (judged stale: this "
		         "run did not renew it for its lease)",
		         q->pos);
		drop_mine(q, "queue-removed");
		return 1;
	}
	q->next_renew = clock_boot_ns() + q->o.poll_ms * NS_PER_MS; /* soon again */
	return ret;
}

int queue_keepalive(struct queue *q)
{
	struct tf_error e;
	if (!q || !q->mine || clock_boot_ns() < q->next_renew)
		return 0;
	err_clear(&e);
	return renew(q, &e) == 1;
}

void queue_leave(struct queue *q, const char *why)
{
	if (!q)
		return;
	if (q->maybe) { /* a create whose outcome we never learned */
		delete_key(q, q->maybe);
		q->requests_gone += q->maybe->requests;
		record_free(q->maybe);
		q->maybe = NULL;
	}
	if (!q->mine)
		return;
	if (q->mine->caps.cond_delete) {
		struct record_call c;
		struct record_reply rep;
		struct tf_error e;
		call_init(q, &c);
		c.abortable = 0;
		record_reply_init(&rep);
		err_clear(&e);
		if (q->mine->ops->remove(q->mine, q->version, &c, &rep, &e) < 0)
			log_verbose("queue: deleting our ticket failed (%s): it is skipped after "
			            "its lease",
			            e.msg);
		record_reply_free(&rep);
	} else {
		delete_key(q, q->mine); /* the key is ours; a remover would delete it anyway */
	}
	log_event("queue-leave %s pos=%llu why=%s", q->mine->name, q->pos, why);
	q->requests_gone += q->mine->requests;
	record_free(q->mine);
	q->mine = NULL;
}

/*
 * Remove one stale ticket ahead (B13). Where the store honours conditional
 * DELETE: DELETE If-Match its version. Elsewhere: take it over with If-Match
 * and a zero-length body (a tombstone: listed with size 0 it is gone for every
 * waiter, and it never repeats a live ticket's ETag), then DELETE it. Returns
 * 0 (removed), 1 when the ticket proved alive (412, or it changed: its lease
 * starts again), -1 when a request failed (it stays stale).
 */
static int remove_one(struct queue *q, struct seen *s, struct record *r)
{
	struct record_call c;
	struct record_reply rep;
	struct tf_error e;
	struct buf empty = BUF_INIT;
	int ret, alive = 0;
	call_init(q, &c);
	record_reply_init(&rep);
	err_clear(&e);
	if (r->caps.cond_delete) {
		ret = r->ops->remove(r, s->version, &c, &rep, &e);
		record_reply_free(&rep);
		return ret == REC_PRECONDITION ? 1 : ret < 0 ? -1 : 0;
	}
	ret = r->ops->replace(r, s->version, &empty, &c, &rep, &e);
	record_reply_free(&rep);
	record_reply_init(&rep);
	if (ret != REC_DONE) { /* resolve by reading it (B2) */
		c.no_retry = 0;
		ret = r->ops->read(r, NULL, &c, &rep, &e);
		if (ret == REC_ABSENT) {
			record_reply_free(&rep);
			return 0;
		}
		if (ret == REC_DONE && rep.body.len > 0 && strcmp(rep.version, s->version))
			alive = 1; /* its owner wrote since */
		else if (!(ret == REC_DONE && rep.body.len == 0))
			ret = -1; /* unchanged or unreadable: it stays stale */
		record_reply_free(&rep);
		record_reply_init(&rep);
	}
	if (!alive && ret >= 0 && r->ops->remove(r, NULL, &c, &rep, &e) < 0)
		ret = -1;
	record_reply_free(&rep);
	buf_free(&empty);
	return alive ? 1 : ret < 0 ? -1 : 0;
}

/* The head removes the stale tickets ahead of it. Returns how many proved
 * alive meanwhile (then it is not the head after all). */
static unsigned remove_stale(struct queue *q, int64_t now)
{
	unsigned alive = 0;
	for (size_t i = 0; i < q->nt; i++) {
		struct seen *s = &q->t[i];
		struct record *r;
		int a;
		if (s->pos >= q->pos || !stale(s, now) || s->lease_ms < 0)
			continue;
		r = record_s3_new(q->o.s3, s->key, &q->o.rec);
		r->caps = q->counter->caps;
		a = remove_one(q, s, r);
		log_event("queue-skip %s pos=%llu removed=%s", s->key, s->pos,
		          a > 0   ? "alive"
		          : a < 0 ? "failed"
		                  : "yes");
		if (a > 0) {
			s->first_seen = clock_boot_ns(); /* it lives: its lease starts again */
			s->version[0] = '\0';
			alive++;
		}
		q->requests_gone += r->requests;
		record_free(r);
	}
	return alive;
}

/* ---- waiting ---- */

static const char *ordinal(unsigned long long n)
{
	unsigned long long t = n % 100;
	if (t >= 11 && t <= 13)
		return "th";
	return n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
}

/* "pipeline-B (waiting 40s)" for a ticket ahead, escaped and cut. */
static void describe_ticket(const struct seen *s, struct buf *b)
{
	struct timespec created, now = clock_wall();
	sanitize_text(b, s->who && *s->who ? s->who : "a waiter", 128);
	if (s->created && lockinfo_parse_time(s->created, &created) == 0 &&
	    now.tv_sec >= created.tv_sec) {
		char d[32];
		dur_format((int64_t)(now.tv_sec - created.tv_sec) * 1000, d, sizeof(d));
		buf_addf(b, " (waiting %s)", d);
	}
}

static void print_line(struct queue *q, int64_t now, int64_t start, const char *url,
                       queue_holder_fn holder, void *arg)
{
	struct buf b = BUF_INIT;
	unsigned ahead, shown = 0;
	char waited[32], u[512];
	first_ahead(q, now, &ahead);
	if (now - q->last_holder >= HOLDER_EVERY_NS || !q->last_holder) {
		q->holder_line[0] = '\0';
		if (holder)
			holder(arg, q->holder_line, sizeof(q->holder_line));
		q->last_holder = now;
	}
	if (q->last_print && now - q->last_print < PRINT_EVERY_NS && ahead == q->printed_ahead)
		return;
	buf_addf(&b, "%u%s in line", ahead + 1, ordinal(ahead + 1));
	for (size_t i = q->nt; i-- > 0;) { /* the nearest first */
		const struct seen *s = &q->t[i];
		if (s->pos >= q->pos || stale(s, now))
			continue;
		if (shown == 2) {
			buf_addf(&b, " and %u more", ahead - shown);
			break;
		}
		buf_adds(&b, shown ? ", " : ", behind ");
		describe_ticket(s, &b);
		shown++;
	}
	if (q->holder_line[0])
		buf_addf(&b, "; held by %s", q->holder_line);
	dur_format((now - start) / NS_PER_MS, waited, sizeof(waited));
	sanitize_to(u, sizeof(u), url, 0);
	log_info("waiting for %s: %s — waited %s", u, b.data, waited);
	buf_free(&b);
	q->last_print = now;
	q->printed_ahead = ahead;
}

/* How long until the next look at the head's ticket (B13 "Pace"): the next
 * head every 2p, the k-th behind the head every (6k - 4)p up to 20p (8p, 14p,
 * then 20p), so that news of each acquisition reaches the waiters about to move
 * up before their turn. */
static int64_t watch_in_ns(const struct queue *q, unsigned ahead)
{
	unsigned polls = ahead <= 1 ? 2 : 6 * ahead - 4;
	if (polls > 20)
		polls = 20;
	return jitter_down_pct(q->o.poll_ms * polls, 20, rand_u64_default, NULL) * NS_PER_MS;
}

/* One look at the head's ticket (GET If-None-Match: 304 while it is
 * unchanged). 1 when the queue must be listed again (it is gone, or stale),
 * else 0. */
static int watch(struct queue *q, struct seen *p)
{
	struct record *r = record_s3_new(q->o.s3, p->key, &q->o.rec);
	struct record_call c;
	struct record_reply rep;
	struct tf_error e;
	int ret, relist = 0;
	call_init(q, &c);
	record_reply_init(&rep);
	err_clear(&e);
	ret = r->ops->read(r, p->version[0] ? p->version : NULL, &c, &rep, &e);
	if (ret == REC_ABSENT || (ret == REC_DONE && rep.body.len == 0)) {
		relist = 1; /* gone (or a tombstone): who is ahead now? */
	} else if (ret == REC_DONE && strcmp(rep.version, p->version)) {
		snprintf(p->version, sizeof(p->version), "%s", rep.version);
		p->first_seen = rep.t_recv; /* renewed: its lease starts again */
	} else if (ret < 0) {
		fail(q, &e);
	}
	if (ret >= 0)
		ok_req(q);
	q->requests_gone += r->requests;
	record_free(r);
	record_reply_free(&rep);
	return relist || stale(p, clock_boot_ns());
}

/* Positions between the last ticket listed ahead of ours and ours: joiners
 * whose tickets were not created yet when we listed (or holes that stay
 * empty). Counted as waiters ahead for the pace within Q/4 of joining, a
 * joiner's time to create its ticket (B13 "Pace"); 0 after that. */
static unsigned unseen_ahead(const struct queue *q, int64_t now)
{
	unsigned long long hi = 0;
	if (now - q->created_send >= q->o.lease_ms / 4 * NS_PER_MS)
		return 0;
	for (size_t i = 0; i < q->nt; i++)
		if (q->t[i].pos < q->pos && q->t[i].pos > hi)
			hi = q->t[i].pos;
	if (!hi || q->pos - hi <= 1)
		return 0;
	return q->pos - hi - 1 < 64 ? (unsigned)(q->pos - hi - 1) : 64;
}

/* List the queue and decide: 1 when we are the head, 0 when we wait (next
 * watch due at *next_watch, next listing in *relist_in unless that is left
 * alone), -1 when our ticket is gone (join again). */
static int look(struct queue *q, int64_t *next_watch, int64_t *relist_in)
{
	unsigned long long maxpos;
	unsigned ahead, unseen;
	struct tf_error e;
	int64_t now;
	err_clear(&e);
	if (qlist(q, &maxpos, &e)) {
		/* list again after a backoff (p .. 8p), watching nothing meanwhile:
		 * never a loop of failing listings at the store's pace */
		int64_t ms = backoff_full_jitter(q->list.n, q->o.poll_ms, q->o.poll_ms * 8,
		                                 rand_u64_default, NULL);
		*relist_in = (ms > q->o.poll_ms ? ms : q->o.poll_ms) * NS_PER_MS;
		*next_watch = INT64_MAX;
		return 0;
	}
	if (!q->mine_listed) { /* removed (or a tombstone): B13 */
		log_warn("queue: our ticket at position %llu is gone: this run joins again at the "
		         "back",
		         q->pos);
		drop_mine(q, "queue-removed");
		return -1;
	}
	read_new(q);
	now = clock_boot_ns();
	if (!first_ahead(q, now, &ahead)) {
		if (!remove_stale(q, now))
			return 1;
		ahead = 1; /* one was alive after all: it is the head */
	}
	unseen = unseen_ahead(q, now);
	if (unseen)
		*relist_in = q->o.poll_ms * 8 * NS_PER_MS;
	*next_watch = now + watch_in_ns(q, ahead + unseen);
	return 0;
}

int queue_wait(struct queue *q, int64_t deadline, const char *url, queue_holder_fn holder,
               void *arg, struct tf_error *err)
{
	int64_t start = clock_boot_ns(), next_list = 0, next_watch = INT64_MAX;
	/* a full listing now and then, for the waiting line, to notice a removed
	 * ticket of ours and to see the others' tickets change (every 120p, and
	 * within half a ticket lease: a ticket not listed for Q would look stale);
	 * between them only the head's ticket is watched (B13) */
	int64_t relist_ns =
	        (q->o.poll_ms * 120 < q->o.lease_ms / 2 ? q->o.poll_ms * 120 : q->o.lease_ms / 2) *
	        NS_PER_MS;
	for (;;) {
		int64_t now = clock_boot_ns(), wake;
		unsigned ahead;
		struct seen *p;
		if (cancelled(q))
			return QUEUE_CANCELLED;
		if (deadline && now >= deadline)
			return QUEUE_TIMEOUT;
		if (give_up(q))
			break;
		if (!q->mine) { /* removed or expired: again at the back */
			int r = queue_join(q, err);
			if (r != QUEUE_OK)
				return r;
			next_list = 0;
		}
		if (now >= q->next_renew && renew(q, err) == 1)
			continue;
		if (now >= next_list) {
			int64_t relist_in = relist_ns;
			int r = look(q, &next_watch, &relist_in);
			if (r < 0)
				continue;
			if (r > 0) {
				log_event("queue-head %s pos=%llu", q->mine->name, q->pos);
				return QUEUE_OK;
			}
			next_list = clock_boot_ns() + relist_in;
			print_line(q, clock_boot_ns(), start, url, holder, arg);
		} else if (now >= next_watch) {
			p = first_ahead(q, now, &ahead);
			if (!p || watch(q, p)) {
				next_list = 0;
				continue;
			}
			now = clock_boot_ns();
			next_watch = now + watch_in_ns(q, ahead + unseen_ahead(q, now));
			print_line(q, clock_boot_ns(), start, url, holder, arg);
		}
		wake = next_list < q->next_renew ? next_list : q->next_renew;
		if (next_watch < wake)
			wake = next_watch;
		if (deadline && deadline < wake)
			wake = deadline;
		now = clock_boot_ns();
		if (wake > now)
			clock_sleep_ms_unless((wake - now) / NS_PER_MS + 1, stop_sleep, q);
	}
	*err = q->last_err;
	return QUEUE_OFF;
}

/* ---- status ---- */

int queue_list_tickets(struct queue *q, struct queue_ticket **out, size_t *n, struct tf_error *err)
{
	unsigned long long maxpos;
	int ret;
	*out = NULL;
	*n = 0;
	if ((ret = qlist(q, &maxpos, err)))
		return ret;
	*out = xcalloc(q->nt + 1, sizeof(**out));
	for (size_t i = 0; i < q->nt; i++) {
		struct record *r = record_s3_new(q->o.s3, q->t[i].key, &q->o.rec);
		struct record_call c;
		struct record_reply rep;
		struct queue_ticket *t = &(*out)[*n];
		struct tf_error e;
		call_init(q, &c);
		c.no_retry = 0;
		record_reply_init(&rep);
		err_clear(&e);
		ret = r->ops->read(r, NULL, &c, &rep, &e);
		record_free(r);
		if (ret == REC_DONE && queue_ticket_parse(rep.body.data, rep.body.len, t, &e)) {
			memset(t, 0, sizeof(*t));
			t->who = xstrdup("(not a tflock ticket)");
		}
		record_reply_free(&rep);
		if (ret == REC_ABSENT)
			continue;
		if (ret < 0) {
			*err = e;
			for (size_t k = 0; k < *n; k++)
				queue_ticket_free(&(*out)[k]);
			free(*out);
			*out = NULL;
			*n = 0;
			return ret;
		}
		t->pos = q->t[i].pos;
		(*n)++;
	}
	return 0;
}
