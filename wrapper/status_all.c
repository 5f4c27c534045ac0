/*
 * status_all.c — `tflock status --all` (status_all.h).
 */
#include "status_all.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "clock.h"
#include "ddb.h"
#include "dur.h"
#include "lockinfo.h"
#include "log.h"
#include "outcome.h"
#include "record.h"
#include "report.h"
#include "s3.h"
#include "sanitize.h"

#define TFLOCK_SUFFIX ".tflock"
#define TICKET_DIGITS 16

/* ---- the pure parts ---- */

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && !memcmp(s + n - k, suffix, k);
}

static int all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return 0;
	return 1;
}

/* R (n bytes) ends in ".<8 lowercase hex>.selftest" after a non-empty P:
 * the length of P, else 0. */
static size_t selftest_state(const char *r, size_t n)
{
	const size_t k = 1 + 8 + sizeof(".selftest") - 1;
	if (n <= k || !ends_with(r, n, ".selftest") || r[n - k] != '.' ||
	    !all_of(r + n - k + 1, 8, "0123456789abcdef"))
		return 0;
	return n - k;
}

enum sa_key status_all_classify(const char *name, int item, int has_info, size_t *state_len)
{
	size_t n = strlen(name), r, p;
	const size_t qlen = sizeof(".queue.") - 1;
	*state_len = 0;
	if (item) {
		if (ends_with(name, n, TFLOCK_SUFFIX) &&
		    (p = selftest_state(name, n - strlen(TFLOCK_SUFFIX)))) {
			*state_len = p;
			return SA_KEY_SELFTEST;
		}
		if (!has_info && n > 4 && ends_with(name, n, "-md5")) {
			*state_len = n - 4;
			return SA_KEY_DIGEST;
		}
		*state_len = n;
		return n ? SA_KEY_LOCK : SA_KEY_OTHER;
	}
	if (!ends_with(name, n, TFLOCK_SUFFIX) || n == strlen(TFLOCK_SUFFIX))
		return SA_KEY_OTHER;
	r = n - strlen(TFLOCK_SUFFIX); /* name[0..r) = R */
	if (r > 8 && ends_with(name, r, ".applied")) {
		*state_len = r - 8;
		return SA_KEY_APPLIED;
	}
	if (r > 11 && ends_with(name, r, ".queue.next")) {
		*state_len = r - 11;
		return SA_KEY_QUEUE_NEXT;
	}
	if (r > qlen + TICKET_DIGITS && !memcmp(name + r - TICKET_DIGITS - qlen, ".queue.", qlen) &&
	    all_of(name + r - TICKET_DIGITS, TICKET_DIGITS, "0123456789")) {
		*state_len = r - TICKET_DIGITS - qlen;
		return SA_KEY_TICKET;
	}
	if ((p = selftest_state(name, r))) {
		*state_len = p;
		return SA_KEY_SELFTEST;
	}
	*state_len = r;
	return SA_KEY_LOCK;
}

enum sa_state status_all_state(int klass, int parked, int64_t age_ms, int64_t lease_ms)
{
	if (klass == LOCKINFO_MALFORMED)
		return SA_MALFORMED;
	if (klass != LOCKINFO_TFLOCK)
		return SA_PLAIN;
	if (parked)
		return SA_PARKED;
	if (age_ms < 0)
		return SA_HELD_AGE_UNKNOWN;
	return age_ms > lease_ms ? SA_LIKELY_STALE : SA_LIVE;
}

const char *status_all_state_text(enum sa_state s)
{
	switch (s) {
	case SA_LIKELY_STALE:
		return "likely stale";
	case SA_MALFORMED:
		return "malformed";
	case SA_PLAIN:
		return "plain terraform";
	case SA_HELD_AGE_UNKNOWN:
		return "held, age unknown";
	case SA_PARKED:
		return "parked";
	case SA_LIVE:
		return "held live";
	}
	return "?";
}

const char *status_all_state_json(enum sa_state s)
{
	switch (s) {
	case SA_LIKELY_STALE:
		return "likely_stale";
	case SA_MALFORMED:
		return "malformed";
	case SA_PLAIN:
		return "plain";
	case SA_HELD_AGE_UNKNOWN:
		return "held_age_unknown";
	case SA_PARKED:
		return "parked";
	case SA_LIVE:
		return "live";
	}
	return "?";
}

/* How far past its lease a tflock lock is (the age for the others); the
 * order's second key. */
static int64_t overdue(const struct sa_rank *r)
{
	return r->state == SA_LIKELY_STALE || r->state == SA_LIVE ? r->age_ms - r->lease_ms
	                                                          : r->age_ms;
}

int status_all_cmp(const struct sa_rank *a, const struct sa_rank *b)
{
	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;
	if ((a->age_ms < 0) != (b->age_ms < 0))
		return a->age_ms < 0 ? 1 : -1;
	if (a->age_ms >= 0 && overdue(a) != overdue(b))
		return overdue(a) > overdue(b) ? -1 : 1;
	return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

/* ---- collecting the locks ---- */

struct sa_lock {
	struct sa_rank rank; /* rank.name is url */
	char *url;           /* s3://B/P.tflock or dynamodb://T/B/P */
	char *state_key;     /* P */
	int item;            /* a DynamoDB item */
	int klass;           /* LOCKINFO_* */
	struct lockinfo li;
	char why[ERR_MSG_SIZE]; /* why plain or malformed */
	size_t queue;           /* live tickets of P's queue */
};

struct sa_set {
	struct sa_lock *v;
	size_t n;
	char **tickets; /* the state key of each live ticket listed */
	size_t nt;
};

static struct sa_lock *sa_add(struct sa_set *s)
{
	struct sa_lock *l;
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	l = &s->v[s->n++];
	memset(l, 0, sizeof(*l));
	lockinfo_init(&l->li);
	return l;
}

static void sa_set_free(struct sa_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].url);
		free(s->v[i].state_key);
		lockinfo_free(&s->v[i].li);
	}
	for (size_t i = 0; i < s->nt; i++)
		free(s->tickets[i]);
	free(s->v);
	free(s->tickets);
	memset(s, 0, sizeof(*s));
}

/* Parse body into l: class, fields, why, and the holder's lease (B1: lease_ms
 * when present, else lease seconds; never scaled by ours). */
static void sa_parse(struct sa_lock *l, const char *data, size_t len)
{
	struct tf_error perr;
	err_clear(&perr);
	l->klass = lockinfo_parse(data ? data : "", len, &l->li, &perr);
	snprintf(l->why, sizeof(l->why), "%s", perr.msg);
	if (l->klass == LOCKINFO_TFLOCK)
		l->rank.lease_ms =
		        l->li.tf.lease_ms > 0 ? l->li.tf.lease_ms : (int64_t)l->li.tf.lease * 1000;
}

static int64_t http_date_ms(const char *s, int64_t add)
{
	time_t t;
	return s && !clock_parse_http_date(s, &t) ? (int64_t)t * 1000 + add : -1;
}

/* The object's age from the reply that read it: its Date (whole seconds, the
 * start of that second) minus LastModified, the listing's (milliseconds) when
 * the reply has the listed ETag, else the reply's Last-Modified header at the
 * end of its second. Both ends err towards a younger lock. -1: unknown. */
static int64_t reply_age_ms(const struct s3_reply *sr, const char *listed_etag, int64_t listed_ms)
{
	int64_t now = http_date_ms(sr->date, 0), mod;
	if (listed_ms >= 0 && !strcmp(sr->etag, listed_etag))
		mod = listed_ms;
	else
		mod = http_date_ms(http_response_header(&sr->http, "last-modified"), 999);
	if (now < 0 || mod < 0)
		return -1;
	return now > mod ? now - mod : 0;
}

/* Read the lock object key once into a new row (none when it is gone). Dies
 * when it cannot be read. */
static void read_file_lock(struct s3_client *s3, struct sa_set *set, const char *key,
                           size_t state_len, const char *etag, int64_t modified)
{
	static const struct http_header no_cache = { "Cache-Control", "no-cache" };
	struct s3_request req;
	struct s3_reply sr;
	struct tf_error err;
	struct sa_lock *l;
	int ret;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.key = key;
	req.headers = &no_cache;
	req.nheaders = 1;
	req.abortable = 1;
	err_clear(&err);
	s3_reply_init(&sr);
	ret = s3_request(s3, &req, &sr, &err);
	if (ret == ERR_HTTP && sr.status == 404) {
		log_verbose("%s was released while listed", key);
		s3_reply_free(&sr);
		return;
	}
	if (ret) {
		s3_reply_free(&sr);
		if (err.kind == ERR_HTTP && err.http_status == 403)
			die(EXIT_UNAVAILABLE,
			    "not allowed to read s3://%s/%s (s3:GetObject): grant it on "
			    "*.tflock (examples/iam)",
			    s3_client_bucket(s3), key);
		die(outcome_exit_for_error(&err), "reading s3://%s/%s: %s", s3_client_bucket(s3),
		    key, err.msg);
	}
	l = sa_add(set);
	l->url = xasprintf("s3://%s/%s", s3_client_bucket(s3), key);
	l->state_key = xstrndup(key, state_len);
	sa_parse(l, sr.body.data, sr.body.len);
	l->rank.age_ms = reply_age_ms(&sr, etag, modified);
	s3_reply_free(&sr);
}

/* Every lock object under prefix, and the queue tickets' state keys. */
static void collect_files(struct s3_client *s3, const char *prefix, struct sa_set *set)
{
	struct record *r = record_s3_new(s3, prefix, NULL);
	struct record_call call;
	struct record_list lst;
	struct tf_error err;
	memset(&call, 0, sizeof(call));
	call.abortable = 1;
	err_clear(&err);
	if (record_s3_list_all(r, prefix, &call, 0, &lst, &err)) {
		record_free(r);
		if (err.kind == ERR_HTTP && err.http_status == 403)
			die(EXIT_UNAVAILABLE,
			    "not allowed to list bucket '%s' (s3:ListBucket, which status --all "
			    "needs): grant it on arn:aws:s3:::%s",
			    s3_client_bucket(s3), s3_client_bucket(s3));
		die(outcome_exit_for_error(&err), "listing s3://%s/%s: %s", s3_client_bucket(s3),
		    prefix, err.msg);
	}
	for (size_t i = 0; i < lst.n; i++) {
		size_t sl;
		enum sa_key k;
		/* a key listed twice in a row is one object: RGW's bucket index can
		 * show an object being overwritten twice while it is listed */
		if (i && !strcmp(lst.names[i], lst.names[i - 1]))
			continue;
		k = status_all_classify(lst.names[i], 0, 0, &sl);
		if (k == SA_KEY_TICKET && lst.sizes[i] != 0) { /* size 0: a tombstone (B13) */
			set->tickets =
			        xrealloc(set->tickets, (set->nt + 1) * sizeof(*set->tickets));
			set->tickets[set->nt++] = xstrndup(lst.names[i], sl);
		} else if (k == SA_KEY_LOCK) {
			read_file_lock(s3, set, lst.names[i], sl, lst.versions[i],
			               lst.modified_ms ? lst.modified_ms[i] : -1);
		}
	}
	log_verbose("listed %zu keys under s3://%s/%s", lst.n, s3_client_bucket(s3), prefix);
	record_list_free(&lst);
	record_free(r);
}

static const char *item_attr(const cJSON *item, const char *name, const char *type)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(item, name), type);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* One item of the Scan, when it is a lock. */
static void add_item(struct sa_set *set, const char *table, const char *bucket, const cJSON *it)
{
	const char *id = item_attr(it, "LockID", "S"), *info = item_attr(it, "Info", "S");
	size_t bl = strlen(bucket), sl;
	struct buf body = BUF_INIT;
	struct sa_lock *l;
	if (!id || strncmp(id, bucket, bl) || id[bl] != '/' ||
	    status_all_classify(id + bl + 1, 1, info != NULL, &sl) != SA_KEY_LOCK)
		return;
	record_ddb_body(info, item_attr(it, "Tflock", "S"), item_attr(it, "TflockSeq", "N"), &body);
	l = sa_add(set);
	l->item = 1;
	l->url = xasprintf("dynamodb://%s/%s", table, id);
	l->state_key = xstrndup(id + bl + 1, sl);
	sa_parse(l, body.data, body.len);
	l->rank.age_ms = -1; /* an item has no modification time */
	buf_free(&body);
}

/* Every lock item of the table whose LockID starts with BUCKET/prefix. */
static void collect_items(struct s3_client *s3, const struct config *c, struct sa_set *set)
{
	static const char *const attrs[] = { "LockID", "Info", "Tflock", "TflockSeq" };
	struct ddb_config dc;
	struct ddb_client *d = NULL;
	struct ddb_call call;
	struct tf_error err;
	cJSON *items = NULL;
	const cJSON *it;
	char *want = xasprintf("%s/%s", c->bucket, c->prefix ? c->prefix : "");
	memset(&dc, 0, sizeof(dc));
	memset(&call, 0, sizeof(call));
	call.abortable = 1;
	dc.table = c->dynamodb_table;
	dc.endpoint = c->dynamodb_endpoint;
	dc.region = c->region;
	dc.use_fips = c->use_fips;
	err_clear(&err);
	if (ddb_client_new(&dc, s3, &d, &err))
		die(EXIT_USAGE, "%s", err.msg);
	if (ddb_scan_prefix(d, "LockID", want, attrs, sizeof(attrs) / sizeof(attrs[0]), &call,
	                    &items, &err))
		die(ddb_error_unusable(&err) ? EXIT_UNAVAILABLE : outcome_exit_for_error(&err),
		    "%s", err.msg);
	cJSON_ArrayForEach(it, items)
	{
		add_item(set, c->dynamodb_table, c->bucket, it);
	}
	cJSON_Delete(items);
	ddb_client_free(d);
	free(want);
}

static void count_queues(struct sa_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < set->nt; j++)
			set->v[i].queue += !strcmp(set->v[i].state_key, set->tickets[j]);
}

static int lock_cmp(const void *a, const void *b)
{
	const struct sa_lock *x = a, *y = b;
	return status_all_cmp(&x->rank, &y->rank);
}

/* ---- output ---- */

static const char *kind_json(int klass)
{
	return klass == LOCKINFO_TFLOCK    ? "tflock"
	       : klass == LOCKINFO_FOREIGN ? "foreign"
	                                   : "malformed";
}

/* A duration for a person: whole seconds from 10 s on. */
static void human_dur(int64_t ms, char *out, size_t size)
{
	dur_format(ms >= 10000 ? ms / 1000 * 1000 : ms, out, size);
}

/* "lease left 7s" / "lease left 0s (expired 3s ago)" / "lease left -" */
static void text_lease(struct buf *b, const struct sa_lock *l)
{
	char d[32];
	if (l->klass != LOCKINFO_TFLOCK) {
		buf_adds(b, "lease left -");
	} else if (l->rank.age_ms < 0) {
		human_dur(l->rank.lease_ms, d, sizeof(d));
		buf_addf(b, "lease left ? (lease %s)", d);
	} else if (l->rank.age_ms > l->rank.lease_ms) {
		human_dur(l->rank.age_ms - l->rank.lease_ms, d, sizeof(d));
		buf_addf(b, "lease left 0s (expired %s ago)", d);
	} else {
		human_dur(l->rank.lease_ms - l->rank.age_ms, d, sizeof(d));
		buf_addf(b, "lease left %s", d);
	}
}

/* One line: state, lock, holder, operation, age, lease left, queue. */
static void print_line(struct buf *b, const struct sa_lock *l)
{
	char d[32] = "?";
	buf_addf(b, "%-17s ", status_all_state_text(l->rank.state));
	sanitize_text(b, l->url, SANITIZE_FIELD_MAX);
	buf_adds(b, "  Who: ");
	sanitize_text(b, *l->li.who ? l->li.who : "?", 128);
	buf_adds(b, "  Operation: ");
	sanitize_text(b, *l->li.operation ? l->li.operation : "?", 64);
	if (l->rank.age_ms >= 0)
		human_dur(l->rank.age_ms, d, sizeof(d));
	buf_addf(b, "  age %s  ", d);
	if (l->rank.state == SA_PARKED) {
		buf_adds(b, "parked until ");
		sanitize_text(b, l->li.tf.park.until, 40);
	} else {
		text_lease(b, l);
	}
	buf_addf(b, "  queue %zu\n", l->queue);
}

static void json_field(struct buf *b, const char *k, const char *v)
{
	buf_addf(b, ",\"%s\":", k);
	report_json_string(b, v);
}

static void json_ms(struct buf *b, const char *k, int64_t v)
{
	if (v < 0)
		buf_addf(b, ",\"%s\":null", k);
	else
		buf_addf(b, ",\"%s\":%lld", k, (long long)v);
}

static void print_json_lock(struct buf *b, const struct sa_lock *l)
{
	int tf = l->klass == LOCKINFO_TFLOCK;
	buf_adds(b, "{\"lock\":");
	report_json_string(b, l->url);
	json_field(b, "record", l->item ? "dynamodb" : "s3");
	json_field(b, "state_key", l->state_key);
	json_field(b, "state", status_all_state_json(l->rank.state));
	json_field(b, "kind", kind_json(l->klass));
	json_field(b, "id", l->li.id);
	json_field(b, "who", l->li.who);
	json_field(b, "operation", l->li.operation);
	json_field(b, "created", l->li.created);
	json_ms(b, "age_ms", l->rank.age_ms);
	json_ms(b, "lease_ms", tf ? l->rank.lease_ms : -1);
	json_ms(b, "lease_left_ms",
	        !tf || l->rank.age_ms < 0           ? -1
	        : l->rank.age_ms > l->rank.lease_ms ? 0
	                                            : l->rank.lease_ms - l->rank.age_ms);
	buf_addf(b, ",\"queue\":%zu", l->queue);
	if (l->rank.state == SA_PARKED)
		json_field(b, "parked_until", l->li.tf.park.until);
	if (!tf)
		json_field(b, "why", l->why);
	buf_adds(b, "}");
}

static void print_all(const struct config *c, const struct sa_set *set)
{
	struct buf b = BUF_INIT;
	if (c->json) {
		buf_adds(&b, "{\"bucket\":");
		report_json_string(&b, c->bucket);
		json_field(&b, "prefix", c->prefix ? c->prefix : "");
		if (c->dynamodb_table && *c->dynamodb_table)
			json_field(&b, "table", c->dynamodb_table);
		else
			buf_adds(&b, ",\"table\":null");
		buf_adds(&b, ",\"locks\":[");
		for (size_t i = 0; i < set->n; i++) {
			if (i)
				buf_addc(&b, ',');
			print_json_lock(&b, &set->v[i]);
		}
		buf_adds(&b, "]}\n");
	} else {
		for (size_t i = 0; i < set->n; i++)
			print_line(&b, &set->v[i]);
	}
	if (b.len)
		fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
}

/* The summary on stderr; returns the exit code. */
static int summarise(const struct config *c, const struct sa_set *set)
{
	size_t n[SA_LIVE + 1] = { 0 };
	for (size_t i = 0; i < set->n; i++)
		n[set->v[i].rank.state]++;
	log_info("%zu lock(s) under s3://%s/%s%s%s: %zu likely stale, %zu malformed, %zu plain "
	         "terraform, %zu held (age unknown), %zu parked, %zu held live",
	         set->n, c->bucket, c->prefix ? c->prefix : "",
	         c->dynamodb_table && *c->dynamodb_table ? " and in table " : "",
	         c->dynamodb_table && *c->dynamodb_table ? c->dynamodb_table : "",
	         n[SA_LIKELY_STALE], n[SA_MALFORMED], n[SA_PLAIN], n[SA_HELD_AGE_UNKNOWN],
	         n[SA_PARKED], n[SA_LIVE]);
	return n[SA_LIKELY_STALE] || n[SA_MALFORMED] ? EXIT_STALE_FOUND : 0;
}

int status_all_main(const struct config *c, const struct target *t)
{
	struct s3_client *s3 = target_open_store(c);
	struct sa_set set;
	int code;
	(void)t;
	memset(&set, 0, sizeof(set));
	collect_files(s3, c->prefix ? c->prefix : "", &set);
	if (c->dynamodb_table && *c->dynamodb_table)
		collect_items(s3, c, &set);
	count_queues(&set);
	for (size_t i = 0; i < set.n; i++) {
		struct sa_lock *l = &set.v[i];
		l->rank.name = l->url;
		l->rank.state = status_all_state(l->klass, l->li.tf.park.parked, l->rank.age_ms,
		                                 l->rank.lease_ms);
	}
	if (set.n > 1)
		qsort(set.v, set.n, sizeof(*set.v), lock_cmp);
	print_all(c, &set);
	code = summarise(c, &set);
	sa_set_free(&set);
	s3_client_free(s3);
	return code;
}
