/*
 * record_ddb — the lock record as Terraform's DynamoDB lock item (record.h's
 * second kind; docs/PROTOCOL.md A5, B11).
 *
 * The engine hands us B1's body (seven LockInfo keys, then "Tflock"); we store
 * the seven keys as `Info` (Go's bytes: the body up to its Tflock member), the
 * Tflock object as `Tflock` and its seq as `TflockSeq`, and give the same body
 * back on a read. Versions are a digest of those three attributes; the record
 * remembers the values behind the versions it last saw or wrote, so that a
 * condition on a version is a condition on the values (B11).
 */
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backoff.h"
#include "clock.h"
#include "ddb.h"
#include "dur.h"
#include "lockinfo.h"
#include "log.h"
#include "sigv4.h"

#define VCACHE 8
#define TFLOCK_MEMBER ",\"Tflock\":{"

/* One stored state of the item: its version and the attributes behind it. */
struct vstate {
	char version[RECORD_VERSION_MAX];
	char *info, *tf, *seq; /* NULL: attribute absent */
};

struct rddb {
	struct ddb_client *c;
	char *key; /* LockID: BUCKET/P */
	struct vstate cache[VCACHE];
	unsigned next;
};

static struct rddb *impl(const struct record *r)
{
	return r->impl;
}

static void vstate_clear(struct vstate *v)
{
	free(v->info);
	free(v->tf);
	free(v->seq);
	memset(v, 0, sizeof(*v));
}

/* The version of (info, tf, seq): SHA-256 over the length-prefixed values,
 * an absent one distinct from an empty one; 32 hex digits. */
static void version_of(const char *info, const char *tf, const char *seq, char *out)
{
	const char *v[3] = { info, tf, seq };
	struct buf b = BUF_INIT;
	char hex[65];
	for (int i = 0; i < 3; i++) {
		if (v[i])
			buf_addf(&b, "%zu:%s;", strlen(v[i]), v[i]);
		else
			buf_adds(&b, "-;");
	}
	sha256_hex(b.data, b.len, hex);
	buf_free(&b);
	snprintf(out, 33, "%.32s", hex);
}

/* Remember a state; its version to out. */
static void remember(struct rddb *d, const char *info, const char *tf, const char *seq,
                     char out[RECORD_VERSION_MAX])
{
	struct vstate *v;
	version_of(info, tf, seq, out);
	for (unsigned i = 0; i < VCACHE; i++)
		if (!strcmp(d->cache[i].version, out))
			return;
	v = &d->cache[d->next++ % VCACHE];
	vstate_clear(v);
	snprintf(v->version, sizeof(v->version), "%s", out);
	v->info = info ? xstrdup(info) : NULL;
	v->tf = tf ? xstrdup(tf) : NULL;
	v->seq = seq ? xstrdup(seq) : NULL;
}

static const struct vstate *lookup(const struct rddb *d, const char *version)
{
	for (unsigned i = 0; i < VCACHE; i++)
		if (d->cache[i].version[0] && !strcmp(d->cache[i].version, version))
			return &d->cache[i];
	return NULL;
}

/* {"TableName":T,"Key":{"LockID":{"S":key}}} */
static cJSON *request_for(const struct rddb *d)
{
	cJSON *j = cJSON_CreateObject(), *k = cJSON_AddObjectToObject(j, "Key");
	cJSON_AddStringToObject(j, "TableName", ddb_client_table(d->c));
	cJSON_AddStringToObject(cJSON_AddObjectToObject(k, "LockID"), "S", d->key);
	return j;
}

static void add_value(cJSON *vals, const char *name, const char *type, const char *value)
{
	cJSON_AddStringToObject(cJSON_AddObjectToObject(vals, name), type, value);
}

/* The condition "the item is still in state v" (B11). */
static void add_condition(cJSON *j, const struct vstate *v)
{
	cJSON *vals = cJSON_AddObjectToObject(j, "ExpressionAttributeValues");
	add_value(vals, ":info", "S", v->info ? v->info : "");
	if (v->tf && v->seq) {
		cJSON_AddStringToObject(j, "ConditionExpression",
		                        "Info = :info AND TflockSeq = :seq AND Tflock = :tf");
		add_value(vals, ":seq", "N", v->seq);
		add_value(vals, ":tf", "S", v->tf);
	} else {
		cJSON_AddStringToObject(j, "ConditionExpression",
		                        "Info = :info AND attribute_not_exists(Tflock) AND "
		                        "attribute_not_exists(TflockSeq)");
	}
}

/* One request; times copied out, failures classified. */
static int call(struct record *r, const char *op, cJSON *j, const struct record_call *rc,
                struct ddb_reply *dr, struct record_reply *out, struct tf_error *err)
{
	struct ddb_call c;
	char *body = cJSON_PrintUnformatted(j);
	int ret;
	memset(&c, 0, sizeof(c));
	c.timeout_ms = rc->timeout_ms;
	c.deadline_ns = rc->deadline_ns;
	c.no_retry = rc->no_retry;
	c.abortable = rc->abortable;
	r->requests++;
	ret = ddb_request(impl(r)->c, op, body, &c, dr, err);
	free(body);
	out->t_first_send = dr->t_first_send;
	out->t_recv = dr->t_recv;
	if (ret == ERR_HTTP && ddb_error_condition(err))
		return REC_PRECONDITION;
	if (ret < 0)
		out->broken = ddb_error_unusable(err);
	return ret;
}

static const char *attr(const cJSON *item, const char *name, const char *type)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, type);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* B11's body from the attributes: Info alone, or Info with the Tflock member
 * spliced in before its final '}' when the tflock attributes agree (record.h). */
void record_ddb_body(const char *info, const char *tf, const char *seq, struct buf *out)
{
	size_t n = info ? strlen(info) : 0;
	buf_reset(out);
	if (!info)
		return; /* no Info: nothing Terraform can read (MALFORMED) */
	if (tf && seq && n && info[n - 1] == '}') {
		struct lockinfo li;
		struct buf b = BUF_INIT;
		char want[32];
		buf_add(&b, info, n - 1);
		buf_addf(&b, "%s\"Tflock\":%s}", n > 2 ? "," : "", tf);
		lockinfo_init(&li);
		lockinfo_parse(b.data, b.len, &li, NULL);
		snprintf(want, sizeof(want), "%llu", li.tf.seq);
		lockinfo_free(&li);
		if (!strcmp(want, seq)) {
			buf_add(out, b.data, b.len);
			buf_free(&b);
			return;
		}
		buf_free(&b);
		log_verbose("dynamodb item: TflockSeq %s disagrees with its Tflock attribute", seq);
	}
	buf_add(out, info, n); /* a plain Terraform/OpenTofu item (FOREIGN) */
}

static int rddb_read(struct record *r, const char *if_changed, const struct record_call *c,
                     struct record_reply *out, struct tf_error *err)
{
	struct rddb *d = impl(r);
	struct ddb_reply dr;
	cJSON *j = request_for(d);
	int ret;
	(void)if_changed; /* no "unchanged" answer: the engine compares versions */
	cJSON_AddBoolToObject(j, "ConsistentRead", 1);
	ddb_reply_init(&dr);
	ret = call(r, "GetItem", j, c, &dr, out, err);
	cJSON_Delete(j);
	if (ret == 0) {
		const cJSON *item = cJSON_GetObjectItemCaseSensitive(dr.json, "Item");
		if (!cJSON_IsObject(item)) {
			ret = REC_ABSENT;
		} else {
			const char *info = attr(item, "Info", "S"), *tf = attr(item, "Tflock", "S"),
			           *seq = attr(item, "TflockSeq", "N");
			remember(d, info, tf, seq, out->version);
			record_ddb_body(info, tf, seq, &out->body);
			ret = REC_DONE;
		}
	}
	ddb_reply_free(&dr);
	return ret;
}

/* Split B1's body into Info and the Tflock object; the seq from the body. */
static int split_body(const struct buf *body, char **info, char **tf, char **seq,
                      struct tf_error *err)
{
	const char *p = NULL, *s = body->data;
	struct lockinfo li;
	for (const char *q = s; (q = strstr(q, TFLOCK_MEMBER)) != NULL; q++)
		p = q; /* the last: a string's quote is always escaped */
	if (!p || body->len < 2 || s[body->len - 1] != '}')
		return err_set(err, ERR_INTERNAL, "lock body without a Tflock member");
	*info = xasprintf("%.*s}", (int)(p - s), s);
	p += strlen(TFLOCK_MEMBER) - 1;
	*tf = xstrndup(p, (size_t)(s + body->len - 1 - p));
	lockinfo_init(&li);
	lockinfo_parse(s, body->len, &li, NULL);
	*seq = xasprintf("%llu", li.tf.seq);
	lockinfo_free(&li);
	return 0;
}

/* PutItem of the whole item, on a condition (NULL: create). */
static int put(struct record *r, const struct vstate *cond, const struct buf *body,
               const struct record_call *c, struct record_reply *out, struct tf_error *err)
{
	struct rddb *d = impl(r);
	struct ddb_reply dr;
	char *info = NULL, *tf = NULL, *seq = NULL;
	cJSON *j, *item;
	int ret;
	if (split_body(body, &info, &tf, &seq, err))
		return ERR_INTERNAL;
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "TableName", ddb_client_table(d->c));
	item = cJSON_AddObjectToObject(j, "Item");
	add_value(item, "LockID", "S", d->key);
	add_value(item, "Info", "S", info);
	add_value(item, "Tflock", "S", tf);
	add_value(item, "TflockSeq", "N", seq);
	if (cond)
		add_condition(j, cond);
	else
		cJSON_AddStringToObject(j, "ConditionExpression", "attribute_not_exists(LockID)");
	ddb_reply_init(&dr);
	ret = call(r, "PutItem", j, c, &dr, out, err);
	if (ret == 0)
		remember(d, info, tf, seq, out->version);
	ddb_reply_free(&dr);
	cJSON_Delete(j);
	free(info);
	free(tf);
	free(seq);
	return ret;
}

static int rddb_create(struct record *r, const struct buf *body, const struct record_call *c,
                       struct record_reply *out, struct tf_error *err)
{
	return put(r, NULL, body, c, out, err);
}

static int rddb_replace(struct record *r, const char *version, const struct buf *body,
                        const struct record_call *c, struct record_reply *out, struct tf_error *err)
{
	const struct vstate *v = lookup(impl(r), version);
	if (!v)
		return err_set(err, ERR_INTERNAL, "%s: version %s was never seen", r->name,
		               version);
	return put(r, v, body, c, out, err);
}

static int rddb_remove(struct record *r, const char *version, const struct record_call *c,
                       struct record_reply *out, struct tf_error *err)
{
	struct ddb_reply dr;
	cJSON *j;
	int ret;
	if (version && !lookup(impl(r), version))
		return err_set(err, ERR_INTERNAL, "%s: version %s was never seen", r->name,
		               version);
	j = request_for(impl(r));
	if (version)
		add_condition(j, lookup(impl(r), version));
	ddb_reply_init(&dr);
	ret = call(r, "DeleteItem", j, c, &dr, out, err);
	ddb_reply_free(&dr);
	cJSON_Delete(j);
	return ret;
}

/* ---- self-test (B6, B11) ---- */

/* DescribeTable: ACTIVE (or UPDATING), key schema exactly LockID S HASH. */
static int check_table(struct record *r, long timeout_ms, int *broken, struct tf_error *err)
{
	struct rddb *d = impl(r);
	struct record_call c = { timeout_ms, 0, 0, 1 };
	struct record_reply rep;
	struct ddb_reply dr;
	const cJSON *t, *ks, *ad, *k0, *st, *rep_list;
	const char *type = NULL;
	cJSON *j = cJSON_CreateObject();
	int ret;
	cJSON_AddStringToObject(j, "TableName", ddb_client_table(d->c));
	ddb_reply_init(&dr);
	record_reply_init(&rep);
	ret = call(r, "DescribeTable", j, &c, &dr, &rep, err);
	cJSON_Delete(j);
	*broken = rep.broken;
	if (ret)
		goto out;
	t = cJSON_GetObjectItemCaseSensitive(dr.json, "Table");
	ks = cJSON_GetObjectItemCaseSensitive(t, "KeySchema");
	ad = cJSON_GetObjectItemCaseSensitive(t, "AttributeDefinitions");
	st = cJSON_GetObjectItemCaseSensitive(t, "TableStatus");
	k0 = cJSON_GetArrayItem(ks, 0);
	cJSON *a;
	cJSON_ArrayForEach(a, ad)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "AttributeName");
		if (cJSON_IsString(n) && !strcmp(n->valuestring, "LockID"))
			type = cJSON_GetStringValue(
			        cJSON_GetObjectItemCaseSensitive(a, "AttributeType"));
	}
	if (cJSON_GetArraySize(ks) != 1 ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(k0, "AttributeName")) ||
	    strcmp(cJSON_GetObjectItemCaseSensitive(k0, "AttributeName")->valuestring, "LockID") ||
	    !type || strcmp(type, "S")) {
		*broken = 1;
		ret = err_set(
		        err, ERR_HTTP,
		        "DynamoDB table '%s' has the wrong key schema: it must have exactly one "
		        "key, the partition key LockID of type String (S)",
		        ddb_client_table(d->c));
		goto out;
	}
	if (cJSON_IsString(st) && strcmp(st->valuestring, "ACTIVE") &&
	    strcmp(st->valuestring, "UPDATING")) {
		ret = err_set(err, ERR_TRANSPORT, "DynamoDB table '%s' is %.40s, not ACTIVE",
		              ddb_client_table(d->c), st->valuestring);
		goto out;
	}
	rep_list = cJSON_GetObjectItemCaseSensitive(t, "Replicas");
	r->caps.replicated = cJSON_GetArraySize(rep_list) > 0;
	{ /* provisioned, not on demand: its read capacity */
		const cJSON *bm = cJSON_GetObjectItemCaseSensitive(
		        cJSON_GetObjectItemCaseSensitive(t, "BillingModeSummary"), "BillingMode");
		const cJSON *rcu = cJSON_GetObjectItemCaseSensitive(
		        cJSON_GetObjectItemCaseSensitive(t, "ProvisionedThroughput"),
		        "ReadCapacityUnits");
		r->caps.read_units = 0;
		if (!(cJSON_IsString(bm) && !strcmp(bm->valuestring, "PAY_PER_REQUEST")) &&
		    cJSON_IsNumber(rcu) && rcu->valuedouble > 0)
			r->caps.read_units = (long)rcu->valuedouble;
	}
	if (r->caps.replicated)
		log_warn("DynamoDB table '%s' is a global table (%d replicas): writes in different "
		         "regions do not exclude each other; lock through one region only",
		         ddb_client_table(d->c), cJSON_GetArraySize(rep_list));
out:
	ddb_reply_free(&dr);
	record_reply_free(&rep);
	return ret;
}

/* A scratch item: B6's conditions on a key of its own. */
static int probe_item(struct record *r, long timeout_ms, int *broken, struct tf_error *err)
{
	struct rddb *d = impl(r);
	char rnd[37], *key = d->key;
	struct record_call c = { timeout_ms, 0, 0, 1 };
	struct record_reply rep;
	struct lockinfo li;
	struct buf body = BUF_INIT;
	int ret;
	lockinfo_new_id(rnd);
	rnd[8] = '\0';
	d->key = xasprintf("%s.%s.selftest.tflock", key, rnd);
	lockinfo_init(&li);
	li.id = xstrdup(rnd);
	li.created = xstrdup("2000-01-01T00:00:00Z");
	li.has_tflock = 1;
	li.tf.v = 1;
	li.tf.lease = 5;
	lockinfo_to_json(&li, &body);
	record_reply_init(&rep);
	ret = put(r, NULL, &body, &c, &rep, err);
	if (ret == 0) {
		ret = put(r, NULL, &body, &c, &rep, err);
		if (ret == 0)
			ret = err_set(err, ERR_HTTP,
			              "DynamoDB store does not enforce "
			              "attribute_not_exists (a second create succeeded)");
		else if (ret == REC_PRECONDITION)
			ret = 0;
	}
	if (ret == 0) {
		/* a delete on a wrong version must fail and leave the item */
		char wrong[RECORD_VERSION_MAX];
		remember(d, "{}", "{}", "0", wrong);
		ret = rddb_remove(r, wrong, &c, &rep, err);
		if (ret == 0)
			ret = err_set(err, ERR_HTTP,
			              "DynamoDB store does not enforce a condition on "
			              "DeleteItem");
		else if (ret == REC_PRECONDITION)
			ret = rddb_read(r, NULL, &c, &rep, err) == REC_DONE
			              ? 0
			              : err_set(err, ERR_HTTP,
			                        "DynamoDB store deleted an item on a "
			                        "failed condition");
	}
	*broken = ret == ERR_HTTP || rep.broken;
	record_reply_free(&rep);
	rddb_remove(r, NULL, &c, &rep, NULL); /* the scratch item is ours alone */
	record_reply_free(&rep);
	lockinfo_free(&li);
	buf_free(&body);
	free(d->key);
	d->key = key;
	return ret;
}

static int rddb_probe(struct record *r, struct record_probe *p, struct tf_error *err)
{
	int ret;
	p->broken = 0;
	ret = check_table(r, p->timeout_ms, &p->broken, err);
	if (ret == 0 && !r->caps.known)
		ret = probe_item(r, p->timeout_ms, &p->broken, err);
	if (ret == 0) {
		r->caps.known = 1;
		log_verbose("DynamoDB self-test passed: table '%s' at %s",
		            ddb_client_table(impl(r)->c), ddb_client_describe(impl(r)->c));
	} else {
		err_prefix(err, "DynamoDB self-test");
	}
	return ret;
}

static const char *rddb_describe_store(const struct record *r)
{
	return ddb_client_describe(impl(r)->c);
}

static void rddb_free(struct record *r)
{
	struct rddb *d = impl(r);
	if (!d)
		return;
	for (unsigned i = 0; i < VCACHE; i++)
		vstate_clear(&d->cache[i]);
	free(d->key);
	free(d);
}

static const struct record_ops ddb_ops = {
	.kind = "dynamodb-item",
	.read = rddb_read,
	.create = rddb_create,
	.replace = rddb_replace,
	.remove = rddb_remove,
	.list = NULL, /* a table Scan arrives with a bucket-wide status (issue 20) */
	.probe = rddb_probe,
	.describe_store = rddb_describe_store,
	.free = rddb_free,
};

struct record *record_ddb_new(struct ddb_client *c, const char *lock_id)
{
	struct record *r = xcalloc(1, sizeof(*r));
	struct rddb *d = xcalloc(1, sizeof(*d));
	d->c = c;
	d->key = xstrdup(lock_id);
	r->ops = &ddb_ops;
	r->impl = d;
	r->name = xasprintf("dynamodb://%s/%s", ddb_client_table(c), lock_id);
	r->caps.cond_delete = 1;
	r->caps.not_modified = 0;
	r->caps.known = ddb_client_is_aws(c);
	r->costly_reads = 1;
	return r;
}
