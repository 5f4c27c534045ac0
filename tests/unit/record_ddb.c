/*
 * Unit tests for wrapper/record_ddb.c and wrapper/ddb.c (docs/PROTOCOL.md B11):
 * the exact requests the DynamoDB record sends and how it reads the answers,
 * against canned answers (tests/helpers/stub-http standing in for DynamoDB),
 * so that what the test server cannot do is covered too: throttling, a 500
 * on a write, AccessDenied, a body whose TflockSeq disagrees with its Tflock.
 * The real server (dynalite) is checked by tests/integration/ddb-lock.sh.
 */
#include "ddb.h"
#include "fixture.h"
#include "lockinfo.h"
#include "record.h"
#include "s3.h"
#include "tap/basic.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "b/env:/prod/k.tfstate"

static struct server srv;
static struct s3_client *s3;
static struct ddb_client *dc;
static struct record *rec;

/* A fresh stand-in answering routes, and a record on it. */
static void open_stub(const char *name, const char *routes)
{
	struct s3_config sc;
	struct ddb_config dcfg;
	struct tf_error err;
	stub_start(&srv, name, routes);
	memset(&sc, 0, sizeof(sc));
	sc.endpoint = srv.url;
	sc.bucket = "b";
	sc.path_style = 1;
	err_clear(&err);
	if (s3_client_new(&sc, &s3, &err))
		bail("s3_client_new: %s", err.msg);
	memset(&dcfg, 0, sizeof(dcfg));
	dcfg.table = "locks";
	dcfg.endpoint = srv.url;
	dcfg.timeout_ms = 3000;
	if (ddb_client_new(&dcfg, s3, &dc, &err))
		bail("ddb_client_new: %s", err.msg);
	rec = record_ddb_new(dc, KEY);
}

/* Stop it; its request log (malloc'd). */
static char *close_stub(void)
{
	char *log = server_stop(&srv, NULL);
	record_free(rec);
	ddb_client_free(dc);
	s3_client_free(s3);
	return log;
}

/* The body of request n (1-based) in a stub-http log, parsed (NULL: none). */
static cJSON *req_json(const char *log, int n)
{
	char head[32], *p, *end;
	snprintf(head, sizeof(head), "=== %d POST", n);
	p = strstr(log, head);
	if (!p || !(p = strstr(p, "\n\n")))
		return NULL;
	p += 2;
	end = strstr(p, "\n=== end");
	return cJSON_ParseWithLength(p, end ? (size_t)(end - p) : strlen(p));
}

static const char *jstr(const cJSON *j, const char *path)
{
	char buf[256], *save = NULL, *tok;
	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save))
		j = cJSON_GetObjectItemCaseSensitive(j, tok);
	return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* B1's body with the given seq; its seven keys alone to info7. */
static void body_with(unsigned long long seq, struct buf *full, struct buf *info7)
{
	struct lockinfo li;
	lockinfo_init(&li);
	li.id = xstrdup("0a1b2c3d-0000-1111-2222-333344445555");
	li.operation = xstrdup("OperationTypeApply");
	li.info = xstrdup("held by tflock <&> for ci");
	li.who = xstrdup("ci@runner");
	li.version = xstrdup("tflock-0.1.0");
	li.created = xstrdup("2026-12-06T06:29:55.9113574Z");
	li.path = xstrdup("b/env:/prod/k.tfstate");
	li.has_tflock = 1;
	li.tf.v = 1;
	li.tf.lease = 120;
	li.tf.seq = seq;
	li.tf.pid = 42;
	li.tf.host = xstrdup("runner");
	if (lockinfo_to_json(&li, full))
		bail("lockinfo_to_json");
	li.has_tflock = 0;
	if (info7 && lockinfo_to_json(&li, info7))
		bail("lockinfo_to_json");
	lockinfo_free(&li);
}

static struct record_call call_opts(void)
{
	struct record_call c;
	memset(&c, 0, sizeof(c));
	c.timeout_ms = 3000;
	return c;
}

/* A GetItem answer holding the item made of these attributes (NULL: absent). */
static char *item_file(const char *name, const char *info, const char *tf, const char *seq)
{
	cJSON *j = cJSON_CreateObject(), *it = cJSON_AddObjectToObject(j, "Item");
	char *s, *path;
	cJSON_AddStringToObject(cJSON_AddObjectToObject(it, "LockID"), "S", KEY);
	if (info)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(it, "Info"), "S", info);
	if (tf)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(it, "Tflock"), "S", tf);
	if (seq)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(it, "TflockSeq"), "N", seq);
	s = cJSON_PrintUnformatted(j);
	path = xstrdup(wfile(name, s));
	free(s);
	cJSON_Delete(j);
	return path;
}

/* create, then read it back, then replace and remove on its version */
static void test_write_read_cycle(void)
{
	struct buf full = BUF_INIT, info7 = BUF_INIT, full2 = BUF_INIT;
	struct record_reply rep;
	struct record_call c = call_opts();
	struct tf_error err;
	char version[RECORD_VERSION_MAX], *item, *routes, *log;
	const char *tf;
	cJSON *j;
	int ret;

	body_with(1, &full, &info7);
	tf = strstr(full.data, ",\"Tflock\":") + 10;
	{
		char *tfs = xstrndup(tf, strlen(tf) - 1);
		item = item_file("item1", info7.data, tfs, "1");
		free(tfs);
	}
	wfile("empty", "{}");
	/* the 4 POSTs answer in turn: PutItem {}, GetItem item, PutItem {}, DeleteItem {} */
	routes = xasprintf("POST / 200 %s\nPOST / 200 %s\nPOST / 200 %s\nPOST / 200 %s\n",
	                   path_in("empty"), item, path_in("empty"), path_in("empty"));
	open_stub("cycle", routes);
	record_reply_init(&rep);
	err_clear(&err);
	ret = rec->ops->create(rec, &full, &c, &rep, &err);
	is_int(REC_DONE, ret, "create: applied on 200");
	is_int(32, (long)strlen(rep.version), "create: the version is 32 hex digits");
	snprintf(version, sizeof(version), "%s", rep.version);
	record_reply_free(&rep);

	ret = rec->ops->read(rec, NULL, &c, &rep, &err);
	is_int(REC_DONE, ret, "read: present");
	is_string(full.data, rep.body.data,
	          "read: the body is B1's, byte for byte (Info + Tflock)");
	is_string(version, rep.version, "read: the same content has the same version");
	record_reply_free(&rep);

	body_with(2, &full2, NULL);
	ret = rec->ops->replace(rec, version, &full2, &c, &rep, &err);
	is_int(REC_DONE, ret, "replace: applied on 200");
	ok(strcmp(version, rep.version) != 0, "replace: a new seq is a new version");
	record_reply_free(&rep);
	ret = rec->ops->remove(rec, version, &c, &rep, &err);
	is_int(REC_DONE, ret, "remove: applied on 200");
	record_reply_free(&rep);
	log = close_stub();

	contains(log, "X-Amz-Target: DynamoDB_20120810.PutItem", "the create is a PutItem");
	contains(log, "X-Amz-Target: DynamoDB_20120810.GetItem", "the read is a GetItem");
	contains(log, "X-Amz-Target: DynamoDB_20120810.DeleteItem", "the remove is a DeleteItem");
	is_int(4, count(log, "Content-Type: application/x-amz-json-1.0"),
	       "every request is JSON 1.0");
	is_int(4,
	       count(log, "/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;"
	                  "x-amz-date;x-amz-target,"),
	       "every request is signed for dynamodb, content type and target included");
	lacks(log, "UpdateItem", "never UpdateItem (Terraform's IAM policy does not grant it)");

	j = req_json(log, 1);
	is_string("locks", jstr(j, "TableName"), "create: the table");
	is_string(KEY, jstr(j, "Item.LockID.S"), "create: LockID = BUCKET/P");
	is_string(info7.data, jstr(j, "Item.Info.S"), "create: Info is the seven keys exactly");
	ok(jstr(j, "Item.Info.S") && !strstr(jstr(j, "Item.Info.S"), "Tflock"),
	   "create: Info has no Tflock key");
	ok(jstr(j, "Item.Tflock.S") &&
	           !strncmp(jstr(j, "Item.Tflock.S"), "{\"v\":1,\"lease\":120,", 19),
	   "create: Tflock holds the lease part");
	is_string("1", jstr(j, "Item.TflockSeq.N"), "create: TflockSeq is the body's seq");
	is_string("attribute_not_exists(LockID)", jstr(j, "ConditionExpression"),
	          "create: only if absent");
	cJSON_Delete(j);

	j = req_json(log, 2);
	ok(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ConsistentRead")),
	   "read: a consistent read");
	is_string(KEY, jstr(j, "Key.LockID.S"), "read: by key");
	cJSON_Delete(j);

	j = req_json(log, 3);
	is_string("Info = :info AND TflockSeq = :seq AND Tflock = :tf",
	          jstr(j, "ConditionExpression"), "replace: on the version's three attributes");
	is_string(info7.data, jstr(j, "ExpressionAttributeValues.:info.S"),
	          "replace: :info is the stored Info");
	is_string("1", jstr(j, "ExpressionAttributeValues.:seq.N"), "replace: :seq the stored seq");
	is_string("2", jstr(j, "Item.TflockSeq.N"), "replace: writes the new seq");
	is_string(info7.data, jstr(j, "Item.Info.S"), "replace: Info unchanged by a renewal");
	cJSON_Delete(j);

	j = req_json(log, 4);
	is_string("Info = :info AND TflockSeq = :seq AND Tflock = :tf",
	          jstr(j, "ConditionExpression"), "remove: on the version too");
	cJSON_Delete(j);
	free(log);
	free(routes);
	free(item);
	buf_free(&full);
	buf_free(&full2);
	buf_free(&info7);
}

/* What a read makes of items others wrote. */
static void test_foreign_reads(void)
{
	struct buf full = BUF_INIT, info7 = BUF_INIT;
	struct record_reply rep;
	struct record_call c = call_opts();
	struct tf_error err;
	struct lockinfo li;
	char *plain, *bad, *noinfo, *routes;
	const char *tf;
	int ret;

	body_with(3, &full, &info7);
	tf = strstr(full.data, ",\"Tflock\":") + 10;
	{
		char *tfs = xstrndup(tf, strlen(tf) - 1);
		plain = item_file("plain", info7.data, NULL, NULL);
		bad = item_file("bad", info7.data, tfs, "4"); /* TflockSeq disagrees */
		free(tfs);
	}
	noinfo = item_file("noinfo", NULL, NULL, NULL);
	routes = xasprintf("POST / 200 %s\nPOST / 200 %s\nPOST / 200 %s\nPOST / 200 %s\n", plain,
	                   bad, noinfo, wfile("empty", "{}"));
	open_stub("foreign", routes);
	record_reply_init(&rep);
	err_clear(&err);
	lockinfo_init(&li);

	ret = rec->ops->read(rec, NULL, &c, &rep, &err);
	is_int(REC_DONE, ret, "plain item: present");
	is_string(info7.data, rep.body.data, "plain item: the body is Info alone");
	is_int(LOCKINFO_FOREIGN, lockinfo_parse(rep.body.data, rep.body.len, &li, NULL),
	       "plain item: FOREIGN (never taken over)");
	record_reply_free(&rep);

	ret = rec->ops->read(rec, NULL, &c, &rep, &err);
	is_int(REC_DONE, ret, "TflockSeq disagreeing with Tflock: present");
	is_string(info7.data, rep.body.data,
	          "TflockSeq disagreeing with Tflock: Info alone (FOREIGN), not a tflock body");
	record_reply_free(&rep);

	ret = rec->ops->read(rec, NULL, &c, &rep, &err);
	is_int(REC_DONE, ret, "an item without Info: present");
	is_int(0, (long)rep.body.len, "an item without Info: an empty body (MALFORMED)");
	record_reply_free(&rep);

	ret = rec->ops->read(rec, NULL, &c, &rep, &err);
	is_int(REC_ABSENT, ret, "no item: absent");
	record_reply_free(&rep);
	lockinfo_free(&li);
	free(close_stub());
	free(routes);
	free(plain);
	free(bad);
	free(noinfo);
	buf_free(&full);
	buf_free(&info7);
}

/* One PutItem against canned failures: the result, broken, and how many
 * requests went out. */
static void put_against(const char *name, const char *routes, int want_ret, int want_broken,
                        int want_requests, const char *what)
{
	struct buf full = BUF_INIT;
	struct record_reply rep;
	struct record_call c = call_opts();
	struct tf_error err;
	char *log, desc[256];
	int ret;
	body_with(1, &full, NULL);
	open_stub(name, routes);
	record_reply_init(&rep);
	err_clear(&err);
	ret = rec->ops->create(rec, &full, &c, &rep, &err);
	snprintf(desc, sizeof(desc), "%s: result", what);
	is_int(want_ret, ret, "%s", desc);
	snprintf(desc, sizeof(desc), "%s: broken = %d", what, want_broken);
	is_int(want_broken, rep.broken, "%s", desc);
	record_reply_free(&rep);
	log = close_stub();
	snprintf(desc, sizeof(desc), "%s: %d request(s)", what, want_requests);
	is_int(want_requests, count(log, "=== end"), "%s", desc);
	if (want_ret == ERR_HTTP && want_broken)
		ok(strstr(err.msg, "'locks'") != NULL, "%s: the message names the table (%s)", what,
		   err.msg);
	free(log);
	buf_free(&full);
}

static char *error_file(const char *name, const char *type, const char *msg)
{
	char *s =
	        xasprintf("{\"__type\":\"com.amazonaws.dynamodb.v20120810#%s\",\"message\":\"%s\"}",
	                  type, msg);
	char *p = xstrdup(wfile(name, s));
	free(s);
	return p;
}

static void test_failures(void)
{
	char *ccf = error_file("ccf", "ConditionalCheckFailedException",
	                       "The conditional request failed");
	char *rnf = error_file("rnf", "ResourceNotFoundException", "Requested resource not found");
	char *ade = error_file("ade", "AccessDeniedException",
	                       "not authorized to perform: dynamodb:PutItem");
	char *thr = error_file("thr", "ProvisionedThroughputExceededException", "slow down");
	char *ise = error_file("ise", "InternalServerError", "oops");
	char *val = error_file("val", "ValidationException",
	                       "One of the required keys was not given a value");
	char *esc = error_file("esc", "AccessDeniedException", "\\u001b[31mred\\u001b[0m");
	char *r;

	r = xasprintf("POST / 400 %s\n", ccf);
	put_against("ccf", r, REC_PRECONDITION, 0, 1, "ConditionalCheckFailed");
	free(r);
	r = xasprintf("POST / 400 %s\n", rnf);
	put_against("rnf", r, ERR_HTTP, 1, 1, "a missing table");
	free(r);
	r = xasprintf("POST / 400 %s\n", ade);
	put_against("ade", r, ERR_HTTP, 1, 1, "AccessDenied");
	free(r);
	r = xasprintf("POST / 400 %s\n", val);
	put_against("val", r, ERR_HTTP, 1, 1, "a wrong key schema (ValidationException)");
	free(r);
	r = xasprintf("POST / 400 %s\nPOST / 200 %s\n", thr, wfile("empty", "{}"));
	put_against("thr", r, REC_DONE, 0, 2,
	            "a throttled write (never executed): resent, applied");
	free(r);
	r = xasprintf("POST / 500 %s\nPOST / 200 %s\n", ise, path_in("empty"));
	put_against("ise", r, ERR_HTTP, 0, 1, "a 500 on a write: unknown, never resent");
	free(r);
	r = xstrdup("POST / close -\nPOST / 200 -\n");
	put_against("close", r, ERR_TRANSPORT, 0, 1,
	            "a lost reply to a write: unknown, never resent");
	free(r);

	{ /* the server's own message is escaped for a terminal */
		struct buf full = BUF_INIT;
		struct record_reply rep;
		struct record_call c = call_opts();
		struct tf_error err;
		body_with(1, &full, NULL);
		r = xasprintf("POST / 400 %s\n", esc);
		open_stub("esc", r);
		record_reply_init(&rep);
		err_clear(&err);
		rec->ops->create(rec, &full, &c, &rep, &err);
		ok(!strchr(err.msg, '\033'),
		   "a server message's escape bytes never reach the terminal");
		record_reply_free(&rep);
		free(close_stub());
		free(r);
		buf_free(&full);
	}
	free(ccf);
	free(rnf);
	free(ade);
	free(thr);
	free(ise);
	free(val);
	free(esc);
}

/* A version the record never saw: refused before any request. */
static void test_unknown_version(void)
{
	struct buf full = BUF_INIT;
	struct record_reply rep;
	struct record_call c = call_opts();
	struct tf_error err;
	char *log;
	body_with(2, &full, NULL);
	open_stub("unknown", "POST / 200 -\n");
	record_reply_init(&rep);
	err_clear(&err);
	is_int(ERR_INTERNAL,
	       rec->ops->replace(rec, "00000000000000000000000000000000", &full, &c, &rep, &err),
	       "replace on a version never seen: refused");
	record_reply_free(&rep);
	log = close_stub();
	is_int(0, count(log, "=== end"), "and nothing was sent");
	free(log);
	buf_free(&full);
}

/* One probe (B11's self-test) against answers in turn; the result. */
static int probe_against(const char *name, const char *routes, struct record_probe *pb,
                         struct tf_error *err, char **log)
{
	int ret;
	open_stub(name, routes);
	memset(pb, 0, sizeof(*pb));
	pb->timeout_ms = 3000;
	pb->patience_ms = 1000;
	pb->scale = 1;
	err_clear(err);
	ret = rec->ops->probe(rec, pb, err);
	if (name[0] == 'g')
		ok(rec->caps.replicated, "%s: a table with replicas is marked replicated", name);
	if (!strcmp(name, "low"))
		is_int(2, rec->caps.read_units, "%s: its provisioned read capacity is known", name);
	if (!strcmp(name, "ok"))
		is_int(0, rec->caps.read_units, "%s: on demand (no capacity named): 0", name);
	*log = close_stub();
	return ret;
}

static void test_probe(void)
{
	const char *ok_table =
	        "{\"Table\":{\"TableName\":\"locks\",\"TableStatus\":\"ACTIVE\","
	        "\"KeySchema\":[{\"AttributeName\":\"LockID\",\"KeyType\":\"HASH\"}],"
	        "\"AttributeDefinitions\":[{\"AttributeName\":\"LockID\",\"AttributeType\":\"S\"}]}"
	        "}";
	const char *global =
	        "{\"Table\":{\"TableName\":\"locks\",\"TableStatus\":\"ACTIVE\","
	        "\"KeySchema\":[{\"AttributeName\":\"LockID\",\"KeyType\":\"HASH\"}],"
	        "\"AttributeDefinitions\":[{\"AttributeName\":\"LockID\",\"AttributeType\":\"S\"}],"
	        "\"Replicas\":[{\"RegionName\":\"eu-west-1\"}]}}";
	const char *low =
	        "{\"Table\":{\"TableName\":\"locks\",\"TableStatus\":\"ACTIVE\","
	        "\"KeySchema\":[{\"AttributeName\":\"LockID\",\"KeyType\":\"HASH\"}],"
	        "\"AttributeDefinitions\":[{\"AttributeName\":\"LockID\",\"AttributeType\":\"S\"}],"
	        "\"ProvisionedThroughput\":{\"ReadCapacityUnits\":2,\"WriteCapacityUnits\":2}}}";
	const char *wrong =
	        "{\"Table\":{\"TableName\":\"locks\",\"TableStatus\":\"ACTIVE\","
	        "\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}],"
	        "\"AttributeDefinitions\":[{\"AttributeName\":\"id\",\"AttributeType\":\"S\"}]}}";
	struct record_probe pb;
	struct tf_error err;
	char *ccf = xstrdup(wfile("pccf", "{\"__type\":\"x#ConditionalCheckFailedException\"}"));
	char *item = item_file("pitem", "{}", NULL, NULL);
	char *empty = xstrdup(wfile("pempty", "{}"));
	char *t_ok = xstrdup(wfile("t_ok", ok_table)), *t_gl = xstrdup(wfile("t_gl", global)),
	     *t_wr = xstrdup(wfile("t_wr", wrong));
	char *r, *log;
	int ret;

	/* DescribeTable, create 200, create again CCF, delete on a wrong version
	 * CCF, read: still there, the clean-up delete */
	r = xasprintf("POST / 200 %s\nPOST / 200 %s\nPOST / 400 %s\nPOST / 400 %s\n"
	              "POST / 200 %s\nPOST / 200 %s\n",
	              t_ok, empty, ccf, ccf, item, empty);
	ret = probe_against("ok", r, &pb, &err, &log);
	is_int(0, ret, "self-test: passes on a conforming table (%s)", err.msg);
	is_int(0, pb.broken, "self-test: not broken");
	is_int(6, count(log, "=== end"), "self-test: DescribeTable and five item requests");
	contains(log, ".selftest.tflock", "self-test: on a scratch item next to the lock");
	lacks(log, "\"S\":\"" KEY "\"}", "self-test: never on the lock item itself");
	free(log);
	free(r);

	r = xasprintf("POST / 200 %s\nPOST / 200 %s\nPOST / 400 %s\nPOST / 400 %s\n"
	              "POST / 200 %s\nPOST / 200 %s\n",
	              t_gl, empty, ccf, ccf, item, empty);
	ret = probe_against("global", r, &pb, &err, &log);
	is_int(0, ret, "global table: the self-test passes (doctor warns)");
	free(log);
	free(r);

	{
		char *t_low = xstrdup(wfile("t_low", low));
		r = xasprintf("POST / 200 %s\nPOST / 200 %s\nPOST / 400 %s\nPOST / 400 %s\n"
		              "POST / 200 %s\nPOST / 200 %s\n",
		              t_low, empty, ccf, ccf, item, empty);
		ret = probe_against("low", r, &pb, &err, &log);
		is_int(0, ret, "2 RCU provisioned: the self-test passes (doctor warns)");
		free(log);
		free(r);
		free(t_low);
	}

	r = xasprintf("POST / 200 %s\n", t_wr);
	ret = probe_against("wrong", r, &pb, &err, &log);
	ok(ret < 0 && pb.broken, "a wrong key schema: broken");
	ok(strstr(err.msg, "partition key LockID of type String") != NULL,
	   "saying what the table must look like (%s)", err.msg);
	is_int(1, count(log, "=== end"), "and nothing written");
	free(log);
	free(r);

	r = xasprintf("POST / 200 %s\nPOST / 200 %s\nPOST / 200 %s\nPOST / 200 %s\n", t_ok, empty,
	              empty, empty);
	ret = probe_against("noenforce", r, &pb, &err, &log);
	ok(ret < 0 && pb.broken, "a store that lets a second create through: broken");
	ok(strstr(err.msg, "attribute_not_exists") != NULL, "saying so (%s)", err.msg);
	contains(log, "DeleteItem", "the scratch item is removed all the same");
	free(log);
	free(r);
	free(ccf);
	free(item);
	free(empty);
	free(t_ok);
	free(t_gl);
	free(t_wr);
}

int main(void)
{
	plan_lazy();
	fixture_init("record_ddb");
	fixture_static_keys();
	test_write_read_cycle();
	test_foreign_reads();
	test_failures();
	test_unknown_version();
	test_probe();
	fixture_done();
	return 0;
}
