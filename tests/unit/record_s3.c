/*
 * Unit tests for wrapper/record_s3.c's listing: a ListObjectsV2 page asked
 * with encoding-type=url decoded (spaces as AWS's '+' and RGW's %20, '+' as
 * %2B, UTF-8, a newline, XML entities before the percent escapes), its
 * LastModified kept; and the requests of a listing in pages against canned
 * answers (tests/helpers/stub-http standing in for S3): encoding-type=url on
 * every page, TFLOCK_LIST_PAGE_KEYS as max-keys, no page limit for
 * record_s3_list_all(..., 0, ...). The queue's own listing is tested in
 * tests/unit/queue.c, the real gateway by tests/integration/status-all.sh.
 */
#include "fixture.h"
#include "record.h"
#include "s3.h"
#include "tap/basic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_page(void)
{
	static const char xml[] =
	        "<?xml version=\"1.0\"?><ListBucketResult><EncodingType>url</EncodingType>"
	        "<IsTruncated>false</IsTruncated>"
	        "<Contents><Key>dir/a%2Bb+c%20d%C3%A9.tfstate.tflock</Key>"
	        "<LastModified>2026-01-02T03:04:05.678Z</LastModified>"
	        "<ETag>&quot;e1&quot;</ETag><Size>12</Size></Contents>"
	        "<Contents><Key>x%0Ay%25z%2&amp;.tflock</Key><ETag>\"e2\"</ETag>"
	        "<Size>0</Size></Contents>"
	        "<Contents><Key>keep%00%zz%</Key></Contents>"
	        "</ListBucketResult>";
	static const char raw[] = "<ListBucketResult><IsTruncated>true</IsTruncated>"
	                          "<NextContinuationToken>tok</NextContinuationToken>"
	                          "<Contents><Key>a+b%20c</Key></Contents></ListBucketResult>";
	struct record_list l;
	struct tf_error e;
	static char unset[] = "unset";
	char *token = unset;
	memset(&l, 0, sizeof(l));
	err_clear(&e);
	is_int(0, record_s3_list_page(xml, strlen(xml), &l, &token, &e), "a url-encoded page");
	ok(token == NULL, "not truncated: no token");
	is_int(3, (long)l.n, "three keys");
	if (l.n == 3) {
		is_string("dir/a+b c d\xc3\xa9.tfstate.tflock", l.names[0],
		          "%%2B is '+', '+' and %%20 are spaces, UTF-8 decoded");
		is_int(1767323045678LL, (long long)l.modified_ms[0], "LastModified in ms");
		is_string("e1", l.versions[0], "its ETag");
		is_int(12, (long)l.sizes[0], "its size");
		is_string("x\ny%z%2&.tflock", l.names[1],
		          "a newline and '%%' decoded, a cut escape kept, entities decoded first");
		is_int(-1, (long long)l.modified_ms[1], "no LastModified: -1");
		is_int(0, (long)l.sizes[1], "size 0");
		is_string("keep%00%zz%", l.names[2], "%%00 and invalid escapes kept as they are");
	}
	record_list_free(&l);
	err_clear(&e);
	is_int(0, record_s3_list_page(raw, strlen(raw), &l, &token, &e), "a page without encoding");
	is_string("tok", token, "its continuation token");
	is_string("a+b%20c", l.n ? l.names[0] : "", "a key not url-encoded is taken as it is");
	free(token);
	record_list_free(&l);
	err_clear(&e);
	is_int(ERR_PARSE,
	       record_s3_list_page("<IsTruncated>true</IsTruncated>", 31, &l, &token, &e),
	       "truncated without a token: refused");
	record_list_free(&l);
}

/* 25 pages of one key each: more than the queue's 20, fine without a limit */
static void test_pages(void)
{
	struct server srv;
	struct s3_config sc;
	struct s3_client *s3 = NULL;
	struct record *r;
	struct record_list l;
	struct record_call c;
	struct tf_error e;
	struct buf routes = BUF_INIT;
	char *log;
	for (int i = 0; i < 25; i++) {
		char name[32], body[512];
		snprintf(name, sizeof(name), "page%d.xml", i);
		snprintf(body, sizeof(body),
		         "<ListBucketResult><EncodingType>url</EncodingType>"
		         "<IsTruncated>%s</IsTruncated><NextContinuationToken>t%d"
		         "</NextContinuationToken><Contents><Key>k%%20%02d.tflock</Key>"
		         "</Contents></ListBucketResult>",
		         i < 24 ? "true" : "false", i + 1, i);
		buf_addf(&routes, "GET /b/? 200 %s\n", wfile(name, body));
	}
	stub_start(&srv, "pages", routes.data);
	buf_free(&routes);
	memset(&sc, 0, sizeof(sc));
	sc.endpoint = srv.url;
	sc.bucket = "b";
	sc.path_style = 1;
	sc.timeout_ms = 3000;
	sc.max_attempts = 1;
	err_clear(&e);
	if (s3_client_new(&sc, &s3, &e))
		bail("s3_client_new: %s", e.msg);
	r = record_s3_new(s3, "p/", NULL);
	memset(&c, 0, sizeof(c));
	c.timeout_ms = 2000;
	setenv("TFLOCK_LIST_PAGE_KEYS", "1", 1);
	is_int(0, record_s3_list_all(r, "p/", &c, 0, &l, &e), "25 pages without a limit (%s)",
	       e.msg);
	is_int(25, (long)l.n, "every page's key");
	if (l.n == 25) {
		is_string("k 00.tflock", l.names[0], "the first, decoded");
		is_string("k 24.tflock", l.names[24], "the last");
	}
	is_int(25, (long)r->requests, "one request a page");
	record_list_free(&l);
	unsetenv("TFLOCK_LIST_PAGE_KEYS");
	record_free(r);
	log = server_stop(&srv, NULL);
	s3_client_free(s3);
	is_int(25, count(log, "encoding-type=url&list-type=2&max-keys=1&prefix=p%2F"),
	       "every page asks for url-encoded keys, TFLOCK_LIST_PAGE_KEYS keys a page");
	is_int(1, count(log, "continuation-token=t24&encoding-type=url"), "the last token passed");
	free(log);
}

int main(void)
{
	plan_lazy();
	fixture_static_keys();
	fixture_init("record_s3");
	test_page();
	test_pages();
	fixture_done();
	return 0;
}
