/*
 * Unit tests for wrapper/queue.c (docs/PROTOCOL.md B13) and record_s3's
 * listing: ticket keys and bodies, and the exact requests of joining, peeking
 * and listing against canned answers (tests/helpers/stub-http standing in for
 * S3), for what the real gateway will not show on demand: a listing in pages,
 * a lost reply to a ticket's create resolved by reading it back, a counter
 * that is not tflock's, a listing refused with 403. The real gateway is
 * exercised by tests/integration/queue.sh.
 */
#include "fixture.h"
#include "queue.h"
#include "record.h"
#include "s3.h"
#include "tap/basic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PFX "k/t.tfstate.queue."

static struct server srv;
static struct s3_client *s3;

static void open_stub(const char *name, const char *routes)
{
	struct s3_config sc;
	struct tf_error err;
	stub_start(&srv, name, routes);
	memset(&sc, 0, sizeof(sc));
	sc.endpoint = srv.url;
	sc.bucket = "b";
	sc.path_style = 1;
	sc.timeout_ms = 3000;
	sc.max_attempts = 1;
	err_clear(&err);
	if (s3_client_new(&sc, &s3, &err))
		bail("s3_client_new: %s", err.msg);
}

static char *close_stub(void)
{
	char *log = server_stop(&srv, NULL);
	s3_client_free(s3);
	return log;
}

static struct queue *new_queue(void)
{
	struct queue_opts o;
	memset(&o, 0, sizeof(o));
	o.s3 = s3;
	o.state_key = "k/t.tfstate";
	o.id = "ID-1";
	o.who = "me@host";
	o.operation = "OperationTypeApply";
	o.lease_ms = 4000;
	o.poll_ms = 10;
	o.timeout_ms = 2000;
	return queue_new(&o);
}

static void test_keys(void)
{
	unsigned long long pos = 0;
	ok(queue_key_position(PFX "0000000000000042.tflock", PFX, &pos) && pos == 42,
	   "a ticket key gives its position");
	ok(!queue_key_position(PFX "next.tflock", PFX, &pos), "the counter is not a ticket");
	ok(!queue_key_position(PFX "42.tflock", PFX, &pos), "fewer than 16 digits is not a ticket");
	ok(!queue_key_position(PFX "0000000000000042.tflockx", PFX, &pos),
	   "a longer suffix is not a ticket");
	ok(!queue_key_position("other.queue.0000000000000042.tflock", PFX, &pos),
	   "another state's queue is not ours");
	ok(!queue_key_position(PFX "000000000000004x.tflock", PFX, &pos), "a letter in the digits");
}

static void test_parse(void)
{
	struct queue_ticket t;
	struct tf_error e;
	const char *good = "{\"v\":1,\"ID\":\"a\",\"seq\":3,\"lease_ms\":40000,\"Who\":\"w\","
	                   "\"Operation\":\"op\",\"ci\":\"https://ci/1\",\"host\":\"h\",\"pid\":7,"
	                   "\"Created\":\"2026-01-01T00:00:00Z\"}";
	static const struct {
		const char *body, *why;
	} bad[] = {
		{ "[]", "not a JSON object" },
		{ "{\"v\":2,\"ID\":\"a\",\"seq\":1,\"lease_ms\":4000}", "not a version 1" },
		{ "{\"v\":1,\"seq\":1,\"lease_ms\":4000}", "missing" },
		{ "{\"v\":1,\"ID\":\"a\",\"seq\":1,\"lease_ms\":0}", "out of range" },
		{ "{\"v\":1,\"ID\":\"a\",\"seq\":1,\"lease_ms\":3600001}", "out of range" },
		{ "{\"v\":1,\"ID\":\"a\",\"seq\":-1,\"lease_ms\":4000}", "missing" },
		{ "{\"v\":1,\"ID\":7,\"seq\":1,\"lease_ms\":4000}", "missing" },
		{ "{\"v\":1,", "not a JSON object" },
	};
	err_clear(&e);
	is_int(0, queue_ticket_parse(good, strlen(good), &t, &e), "a ticket parses");
	is_int(40000, (long)t.lease_ms, "its lease");
	is_int(3, (long)t.seq, "its seq");
	is_string("https://ci/1", t.ci, "its CI job");
	is_int(7, t.pid, "its pid");
	queue_ticket_free(&t);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		is_int(ERR_PARSE, queue_ticket_parse(bad[i].body, strlen(bad[i].body), &t, &e),
		       "refused: %s", bad[i].body);
		ok(strstr(e.msg, bad[i].why) != NULL, "saying '%s' (%s)", bad[i].why, e.msg);
		queue_ticket_free(&t);
	}
}

/* A listing in two pages: every key, in order, ETags unquoted; the second
 * request carries the continuation token, encoded. */
static void test_list_pages(void)
{
	char *p1 = wfile("p1.xml",
	                 "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>"
	                 "<Contents><Key>" PFX "0000000000000001.tflock</Key>"
	                 "<ETag>&quot;e1&quot;</ETag></Contents>"
	                 "<Contents><Key>" PFX "next.tflock</Key><ETag>\"c\"</ETag></Contents>"
	                 "<NextContinuationToken>t+/=</NextContinuationToken></ListBucketResult>");
	char *p2 = wfile("p2.xml", "<ListBucketResult><IsTruncated>false</IsTruncated>"
	                           "<Contents><Key>" PFX "0000000000000003.tflock</Key>"
	                           "<ETag>&quot;e3&quot;</ETag></Contents></ListBucketResult>");
	char routes[1024], *log;
	struct record *r;
	struct record_list l;
	struct record_call c;
	struct tf_error e;
	snprintf(routes, sizeof(routes), "GET /b/? 200 %s\nGET /b/? 200 %s\n", p1, p2);
	open_stub("pages", routes);
	r = record_s3_new(s3, PFX "next.tflock", NULL);
	memset(&c, 0, sizeof(c));
	c.timeout_ms = 2000;
	err_clear(&e);
	is_int(0, r->ops->list(r, PFX, &c, &l, &e), "a listing of two pages (%s)", e.msg);
	is_int(3, (long)l.n, "three keys");
	if (l.n == 3) {
		is_string(PFX "0000000000000001.tflock", l.names[0], "the first page's first");
		is_string("e1", l.versions[0], "its ETag, entities decoded and unquoted");
		is_string("c", l.versions[1], "a quoted ETag, unquoted");
		is_string(PFX "0000000000000003.tflock", l.names[2], "the second page's");
	}
	ok(l.t_recv > 0, "the receipt of the listing is kept");
	is_int(2, (long)r->requests, "two requests");
	record_list_free(&l);
	record_free(r);
	log = close_stub();
	ok(count(log, "=== 1 GET /b/?encoding-type=url&list-type=2&prefix=k%2Ft.tfstate.queue.") ==
	           1,
	   "the first asks for the prefix");
	ok(count(log, "continuation-token=t%2B%2F%3D&encoding-type=url&list-type=2&prefix=") == 1,
	   "the second passes the token, encoded");
	free(log);
}

/* Joining with no counter: positions go on above the highest ticket listed; the
 * ticket's create loses its reply and is read back as ours (B2). */
static void test_join(void)
{
	char *lst =
	        wfile("l.xml",
	              "<ListBucketResult><IsTruncated>false</IsTruncated>"
	              "<Contents><Key>" PFX "0000000000000005.tflock</Key><ETag>a</ETag></Contents>"
	              "<Contents><Key>" PFX "0000000000000007.tflock</Key><ETag>b</ETag></Contents>"
	              "</ListBucketResult>");
	char *mine = wfile("mine.json", "{\"v\":1,\"ID\":\"ID-1\",\"seq\":2,\"lease_ms\":4000}");
	char routes[2048], *log;
	struct queue *q;
	struct tf_error e;
	snprintf(routes, sizeof(routes),
	         "GET /b/?encoding-type=url&list-type 200 %s\n"
	         "GET /b/" PFX "next.tflock 404 -\n"
	         "PUT /b/" PFX "next.tflock 200 -\n  ETag: \"c1\"\n"
	         "PUT /b/" PFX "0000000000000008.tflock close -\n"
	         "GET /b/" PFX "0000000000000008.tflock 200 %s\n  ETag: \"t8\"\n",
	         lst, mine);
	open_stub("join", routes);
	q = new_queue();
	err_clear(&e);
	is_int(QUEUE_OK, queue_peek(q, &e), "peek: the queue has tickets");
	is_int(QUEUE_OK, queue_join(q, &e), "joined (%s)", e.msg);
	is_int(8, (long)queue_position(q), "at position 8, above the highest listed");
	queue_free(q);
	log = close_stub();
	ok(count(log, "PUT /b/" PFX "next.tflock") == 1, "one write of the counter");
	ok(strstr(log, "If-None-Match: *") != NULL, "an absent counter is created if absent");
	ok(strstr(log, "{\"v\":1,\"next\":9,\"ID\":\"ID-1\",\"seq\":1}") != NULL,
	   "the counter now says 9, with our ID and seq");
	ok(count(log, "GET /b/" PFX "0000000000000008.tflock") == 1,
	   "the ticket's lost reply was resolved by one read");
	ok(count(log, "PUT /b/" PFX "0000000000000008.tflock") == 1, "never written twice");
	free(log);
}

/* Contention: the counter moved under us (412), read again, won the next. */
static void test_join_contention(void)
{
	char *c1 = wfile("c1.json", "{\"v\":1,\"next\":3,\"ID\":\"x\",\"seq\":1}");
	char *c2 = wfile("c2.json", "{\"v\":1,\"next\":4,\"ID\":\"y\",\"seq\":1}");
	char routes[2048], *log;
	struct queue *q;
	struct tf_error e;
	snprintf(routes, sizeof(routes),
	         "GET /b/" PFX "next.tflock 200 %s\n  ETag: \"v1\"\n"
	         "GET /b/" PFX "next.tflock 200 %s\n  ETag: \"v2\"\n"
	         "GET /b/" PFX "next.tflock 200 %s\n  ETag: \"v2\"\n"
	         "PUT /b/" PFX "next.tflock 412 -\n"
	         "PUT /b/" PFX "next.tflock 200 -\n  ETag: \"v3\"\n"
	         "PUT /b/" PFX "0000000000000004.tflock 200 -\n  ETag: \"t\"\n",
	         c1, c2, c2);
	open_stub("contention", routes);
	q = new_queue();
	err_clear(&e);
	is_int(QUEUE_OK, queue_join(q, &e), "joined after a lost race (%s)", e.msg);
	is_int(4, (long)queue_position(q), "at the position read the second time");
	queue_free(q);
	log = close_stub();
	ok(strstr(log, "If-Match: v1") != NULL, "the first CAS was on the first version");
	ok(strstr(log, "If-Match: v2") != NULL, "the second on the version read again");
	ok(strstr(log, "\"next\":5") != NULL, "which it advanced to 5");
	free(log);
}

/* A counter that is not tflock's: the queue is off for the run, never written. */
static void test_foreign_counter(void)
{
	char *c = wfile("f.json", "{\"next\":\"soon\"}");
	char routes[1024], *log;
	struct queue *q;
	struct tf_error e;
	snprintf(routes, sizeof(routes), "GET /b/" PFX "next.tflock 200 %s\n  ETag: \"f\"\n", c);
	open_stub("foreign", routes);
	q = new_queue();
	err_clear(&e);
	is_int(QUEUE_OFF, queue_join(q, &e), "a counter that is not tflock's: off");
	ok(strstr(e.msg, "is not tflock's queue counter") != NULL, "saying so (%s)", e.msg);
	queue_free(q);
	log = close_stub();
	is_int(0, count(log, "PUT "), "and nothing was written");
	free(log);
}

/* 403 on the listing: off at once, no retry. */
static void test_denied(void)
{
	char *d = wfile("d.xml", "<Error><Code>AccessDenied</Code><Message>no</Message></Error>");
	char routes[512], *log;
	struct queue *q;
	struct tf_error e;
	snprintf(routes, sizeof(routes), "GET /b/?encoding-type=url&list-type 403 %s\n", d);
	open_stub("denied", routes);
	q = new_queue();
	err_clear(&e);
	is_int(QUEUE_OFF, queue_peek(q, &e), "a listing refused with 403: off");
	ok(strstr(e.msg, "403") != NULL || strstr(e.msg, "AccessDenied") != NULL,
	   "the reason is kept (%s)", e.msg);
	queue_free(q);
	log = close_stub();
	is_int(1, count(log, "=== end"), "one request, not retried");
	free(log);
}

int main(void)
{
	plan_lazy();
	fixture_static_keys();
	fixture_init("queue");
	test_keys();
	test_parse();
	test_list_pages();
	test_join();
	test_join_contention();
	test_foreign_counter();
	test_denied();
	fixture_done();
	return 0;
}
