/*
 * Unit tests for wrapper/s3err: real AWS and Ceph RGW error bodies, hostile bodies,
 * and the one-line descriptions.
 */
#include "s3err.h"
#include "buf.h"
#include "xml.h"
#include "tap/basic.h"

#include <stdlib.h>
#include <string.h>

#define XMLDECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

static int parse(const char *body, struct s3err *e)
{
	return s3err_parse(body, strlen(body), e);
}

static const char *describe(long status, const struct s3err *e)
{
	static char line[512];
	return s3err_describe(status, e, line, sizeof(line));
}

/* Every field: NUL-terminated, no control character, valid UTF-8, no edge space. */
static int clean(const char *s, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, size);
	if (n == size)
		return 0;
	if (n && (s[0] == ' ' || s[n - 1] == ' '))
		return 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t k = c < 0x80                 ? 1
		           : c >= 0xC2 && c <= 0xDF ? 2
		           : c >= 0xE0 && c <= 0xEF ? 3
		           : c >= 0xF0 && c <= 0xF4 ? 4
		                                    : 0;
		if (c < 0x20 || c == 0x7F || k == 0 || i + k > n)
			return 0;
		for (size_t j = 1; j < k; j++)
			if ((p[i + j] & 0xC0) != 0x80)
				return 0;
		if (c == 0xC2 && p[i + 1] < 0xA0) /* C1 controls */
			return 0;
		i += k;
	}
	return 1;
}

static int all_clean(const struct s3err *e)
{
	return clean(e->code, sizeof(e->code)) && clean(e->message, sizeof(e->message)) &&
	       clean(e->request_id, sizeof(e->request_id)) && clean(e->region, sizeof(e->region)) &&
	       clean(e->endpoint, sizeof(e->endpoint));
}

static void test_real_bodies(void)
{
	struct s3err e;

	/* AWS, as S3 sends it */
	is_int(0,
	       parse(XMLDECL "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
	                     "<RequestId>4442587FB7D0A2F9</"
	                     "RequestId><HostId>vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQ"
	                     "jryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=</HostId></Error>",
	             &e),
	       "aws AccessDenied: found");
	is_string("AccessDenied", e.code, "aws AccessDenied: code");
	is_string("Access Denied", e.message, "aws AccessDenied: message");
	is_string("4442587FB7D0A2F9", e.request_id, "aws AccessDenied: request id");
	is_string("", e.region, "aws AccessDenied: no region");
	is_string("access denied (403 AccessDenied: Access Denied, request id 4442587FB7D0A2F9)",
	          describe(403, &e), "aws AccessDenied: described");

	/* Ceph RGW 16: empty Message, BucketName, RequestId tx..., HostId */
	is_int(0,
	       parse(XMLDECL "<Error><Code>PreconditionFailed</Code><Message></Message>"
	                     "<BucketName>b</"
	                     "BucketName><RequestId>tx00000a1b2c3d4e5f60718-0067c6f1a0-1012-default"
	                     "</RequestId><HostId>1012-default-default</HostId></Error>",
	             &e),
	       "rgw PreconditionFailed: found");
	is_string("PreconditionFailed", e.code, "rgw PreconditionFailed: code");
	is_string("", e.message, "rgw PreconditionFailed: empty message stays empty");
	is_string("tx00000a1b2c3d4e5f60718-0067c6f1a0-1012-default", e.request_id,
	          "rgw PreconditionFailed: request id");
	is_string("precondition failed (412 PreconditionFailed, request id "
	          "tx00000a1b2c3d4e5f60718-0067c6f1a0-1012-default)",
	          describe(412, &e), "rgw PreconditionFailed: described without an empty message");

	/* AWS PermanentRedirect: Endpoint, no Region (the region is in a header) */
	is_int(0,
	       parse(XMLDECL "<Error><Code>PermanentRedirect</Code><Message>The bucket you are "
	                     "attempting to access must be addressed using the specified endpoint. "
	                     "Please send "
	                     "all future requests to this "
	                     "endpoint.</Message><Endpoint>tfstate.s3.eu-west-1."
	                     "amazonaws.com</Endpoint><Bucket>tfstate</"
	                     "Bucket><RequestId>J1V0T9EXAMPLE</RequestId>"
	                     "<HostId>abc=</HostId></Error>",
	             &e),
	       "aws PermanentRedirect: found");
	is_string("tfstate.s3.eu-west-1.amazonaws.com", e.endpoint,
	          "aws PermanentRedirect: endpoint");
	is_string(
	        "the bucket is in another region (301 PermanentRedirect: The bucket you are "
	        "attempting to access must be addressed using the specified endpoint. Please send "
	        "all future requests to this endpoint., endpoint "
	        "tfstate.s3.eu-west-1.amazonaws.com, "
	        "request id J1V0T9EXAMPLE)",
	        describe(301, &e), "aws PermanentRedirect: described with the endpoint");
	strcpy(e.region, "eu-west-1"); /* as the caller does from x-amz-bucket-region */
	is_string("the bucket is in another region, eu-west-1 (301 PermanentRedirect: The bucket "
	          "you are attempting to access must be addressed using the specified endpoint. "
	          "Please "
	          "send all future requests to this endpoint., endpoint "
	          "tfstate.s3.eu-west-1.amazonaws.com, request id J1V0T9EXAMPLE)",
	          describe(301, &e), "aws PermanentRedirect: region from the header leads");

	/* PermanentRedirect with a <Region> element (S3-compatible stores) */
	is_int(0,
	       parse("<Error><Code>PermanentRedirect</Code><Message>m</Message><Region>us-west-2"
	             "</Region><Endpoint>s3.us-west-2.amazonaws.com</Endpoint></Error>",
	             &e),
	       "PermanentRedirect with Region: found");
	is_string("us-west-2", e.region, "PermanentRedirect with Region: region");
	is_string("s3.us-west-2.amazonaws.com", e.endpoint,
	          "PermanentRedirect with Region: endpoint");

	/* AuthorizationHeaderMalformed names the right region */
	is_int(0,
	       parse(XMLDECL "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The "
	                     "authorization header is malformed; the region 'us-east-1' is wrong; "
	                     "expecting "
	                     "'eu-central-1'</Message><Region>eu-central-1</Region><RequestId>R1</"
	                     "RequestId>"
	                     "<HostId>H</HostId></Error>",
	             &e),
	       "AuthorizationHeaderMalformed: found");
	is_string(
	        "the request was signed for the wrong region (400 AuthorizationHeaderMalformed: "
	        "The authorization header is malformed; the region 'us-east-1' is wrong; expecting "
	        "'eu-central-1', region eu-central-1, request id R1)",
	        describe(400, &e), "AuthorizationHeaderMalformed: described with the region");

	/* RequestTimeTooSkewed: extra elements ignored */
	is_int(0,
	       parse(XMLDECL
	             "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference "
	             "between the request time and the current time is too large.</Message>"
	             "<RequestTime>20250304T123456Z</RequestTime><ServerTime>2025-03-04T12:50:00Z"
	             "</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>"
	             "<RequestId>T1</RequestId><HostId>H</HostId></Error>",
	             &e),
	       "RequestTimeTooSkewed: found");
	is_string("this machine's clock is too far from the store's (403 RequestTimeTooSkewed: The "
	          "difference between the request time and the current time is too large., "
	          "request id T1)",
	          describe(403, &e), "RequestTimeTooSkewed: described");

	/* MinIO NoSuchBucket, SlowDown, ConditionalRequestConflict */
	is_int(0,
	       parse(XMLDECL
	             "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does "
	             "not exist</Message><Key></Key><BucketName>nope</BucketName><Resource>/nope"
	             "</Resource><RequestId>17F9A1B2C3D4E5F6</RequestId><HostId>dd9025</HostId></"
	             "Error>",
	             &e),
	       "minio NoSuchBucket: found");
	is_string(
	        "no such bucket (404 NoSuchBucket: The specified bucket does not exist, request id "
	        "17F9A1B2C3D4E5F6)",
	        describe(404, &e), "minio NoSuchBucket: described");
	parse("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
	      "<RequestId>S</RequestId></Error>",
	      &e);
	is_string("the store asks to slow down (503 SlowDown: Please reduce your request rate., "
	          "request id S)",
	          describe(503, &e), "SlowDown: described");
	parse("<Error><Code>ConditionalRequestConflict</Code><Message>A conflicting conditional "
	      "operation is currently in progress against this resource. Please try again."
	      "</Message></Error>",
	      &e);
	is_string(
	        "a concurrent conditional write conflicted (409 ConditionalRequestConflict: A "
	        "conflicting conditional operation is currently in progress against this resource. "
	        "Please try again.)",
	        describe(409, &e), "ConditionalRequestConflict: described");
}

static void test_shapes(void)
{
	struct s3err e;

	is_int(0,
	       parse("<Error xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  <Code>\n"
	             "    NoSuchKey\n  </Code>\n  <Message>The specified\n\tkey does   not exist."
	             "</Message>\n</Error>\n",
	             &e),
	       "namespaced, pretty-printed: found");
	is_string("NoSuchKey", e.code, "pretty-printed: code trimmed");
	is_string("The specified key does not exist.", e.message,
	          "pretty-printed: whitespace collapsed");

	is_int(0,
	       parse("<ErrorResponse "
	             "xmlns=\"x\"><Error><Type>Sender</Type><Code>InvalidClientTokenId"
	             "</Code><Message>The security token included in the request is "
	             "invalid.</Message>"
	             "</Error><RequestId>abc-123</RequestId></ErrorResponse>",
	             &e),
	       "ErrorResponse form: found");
	is_string("InvalidClientTokenId", e.code, "ErrorResponse form: code");
	is_string("HTTP 403 Forbidden (InvalidClientTokenId: The security token included in the "
	          "request is invalid.)",
	          describe(403, &e), "unknown code: status leads, code follows");

	is_int(0,
	       parse("<Errors><Error><ErrorCode>no</ErrorCode><Code>Real</Code><Codes>x</Codes>"
	             "</Error></Errors>",
	             &e),
	       "similar names are not matched");
	is_string("Real", e.code, "<ErrorCode> and <Codes> are not <Code>");

	is_int(0,
	       parse("<!-- <Error><Code>Fake</Code></Error> --><Error><!-- <Code>Fake2</Code> -->"
	             "<Code>Real</Code></Error>",
	             &e),
	       "comments skipped: found");
	is_string("Real", e.code, "comments skipped: fake codes in comments ignored");

	is_int(-1, parse("<Error><Code/><Message>m</Message></Error>", &e), "<Code/> is no code");
	is_int(-1, parse("<Error/>", &e), "<Error/> is no error");
	is_int(0, parse("<Error><Message/><Code>X</Code><Message>later</Message></Error>", &e),
	       "<Message/> then a code: found");
	is_string("", e.message, "<Message/> is an empty message (the first one wins)");
	is_int(-1, parse("<Error><Message>only a message</Message></Error>", &e), "no <Code>: -1");
	is_string("only a message", e.message, "no <Code>: message still read");
	is_int(-1, parse("<Error><Code>   </Code></Error>", &e), "blank <Code>: -1");
	is_int(-1, parse("<Code>Orphan</Code>", &e), "<Code> outside <Error>: -1");

	parse("<Error><Code>X</Code><Message>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; "
	      "&#65;&#x42;&#x1F600; &unknown; &amp &#0; &#xD800; &#;</Message></Error>",
	      &e);
	is_string("a & b <c> \"d\" 'e' AB\xf0\x9f\x98\x80 &unknown; &amp ? ? &#;", e.message,
	          "entities and character references decoded");

	parse("<Error><Code>X</Code><Message>see <a href=\"x\">the docs</a>.</Message></Error>",
	      &e);
	is_string("see the docs .", e.message, "inner tags dropped");

	parse("<Error><Code>Acc\x01\x1b[31mess</Code><Message>bad\xff\xfe utf8 \xc2\x9b"
	      "31m c1 \xe2\x80\xae rtl\x7f del &#27;[0m</Message>"
	      "<RequestId>\r\nid\t</RequestId></Error>",
	      &e);
	is_string("Acc [31mess", e.code, "control characters become one space");
	is_string("bad?? utf8 31m c1 rtl del [0m", e.message,
	          "invalid UTF-8 as ?, C1, bidi, DEL and &#27; removed");
	is_string("id", e.request_id, "CR LF and tab trimmed");
	ok(all_clean(&e), "hostile values: every field clean");
}

static void test_hostile(void)
{
	struct s3err e;
	struct buf b;
	char *mb;
	const char *full =
	        XMLDECL "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
	                "<RequestId>RID</RequestId></Error>";

	/* truncation at every length: never a crash, never an unclean field, and a
	 * value is only taken once its closing tag is there */
	int bad = 0, found_before_code_closed = 0;
	size_t code_closed = (size_t)(strstr(full, "</Code>") - full) + 7;
	for (size_t n = 0; n <= strlen(full); n++) {
		char *cut = xmalloc(n ? n : 1);
		memcpy(cut, full, n);
		int rc = s3err_parse(cut, n, &e);
		if (!all_clean(&e))
			bad++;
		if (rc == 0 && n < code_closed)
			found_before_code_closed++;
		if (rc == 0 && strcmp(e.code, "AccessDenied"))
			bad++;
		free(cut);
	}
	is_int(0, bad, "truncated at every length: fields clean, code exact when found");
	is_int(0, found_before_code_closed, "truncated: no code before </Code> arrived");
	is_int(0, s3err_parse(full, strlen(full) - 12, &e),
	       "truncated after </Message>: code found");
	is_string("Access Denied", e.message, "truncated after </Message>: message found");
	is_string("", e.request_id, "truncated in <RequestId>: no partial request id");

	is_int(-1, s3err_parse("", 0, &e), "empty body: -1");
	is_int(-1, s3err_parse(NULL, 0, &e), "NULL body: -1");
	is_int(-1,
	       parse("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
	             "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
	             "</body>\r\n</html>\r\n",
	             &e),
	       "HTML error page: -1");
	is_string("HTTP 502 Bad Gateway", describe(502, &e), "HTML: described by the status");
	is_int(-1, parse("{\"message\":\"Internal server error\"}", &e), "JSON body: -1");

	/* binary */
	unsigned seed = 99;
	bad = 0;
	mb = xmalloc(4096);
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)(rand_r(&seed) % 4096);
		for (size_t i = 0; i < n; i++)
			mb[i] = (char)(rand_r(&seed) % 4 ? rand_r(&seed)
			                                 : "<Error>/Code&#;x"[rand_r(&seed) % 16]);
		if (round % 3 == 0 && n > 40)
			memcpy(mb + n / 2, "<Error><Code>", 13);
		s3err_parse(mb, n, &e);
		if (!all_clean(&e))
			bad++;
	}
	free(mb);
	is_int(0, bad, "300 binary bodies: no crash, fields always clean");

	/* 1 MB: only the first 64 KiB are looked at */
	buf_init(&b);
	while (b.len < 1024 * 1024)
		buf_adds(&b, "                                ");
	buf_adds(&b, "<Error><Code>Late</Code></Error>");
	is_int(-1, s3err_parse(b.data, b.len, &e), "1 MB body, <Error> past 64 KiB: not scanned");
	buf_reset(&b);
	buf_adds(&b, "<Error><Code>InternalError</Code><Message>");
	while (b.len < 1024 * 1024)
		buf_adds(&b, "\xc3\xa9\xc3\xa9 0123456789 ");
	buf_adds(&b, "</Message><RequestId>R</RequestId></Error>");
	is_int(0, s3err_parse(b.data, b.len, &e), "1 MB body, <Error> first: code found");
	is_string("InternalError", e.code, "1 MB body: code");
	is_string("", e.message, "1 MB body: a message closed past 64 KiB is not taken");
	buf_reset(&b);
	buf_adds(&b, "<Error><Code>InternalError</Code><Message>");
	for (int i = 0; i < 300; i++)
		buf_adds(&b, "\xc3\xa9");
	buf_adds(&b, "</Message></Error>");
	s3err_parse(b.data, b.len, &e);
	is_int(254, (long long)strlen(e.message),
	       "long message cut to the field, whole characters");
	ok(all_clean(&e), "long message: still valid UTF-8");
	buf_reset(&b);
	buf_adds(&b, "<Error><Code>");
	for (int i = 0; i < 200; i++)
		buf_addc(&b, 'C');
	buf_adds(&b, "</Code></Error>");
	s3err_parse(b.data, b.len, &e);
	is_int(63, (long long)strlen(e.code), "long code cut to 63 bytes");
	buf_free(&b);
}

static void test_describe(void)
{
	struct s3err e;
	char small[16];

	memset(&e, 0, sizeof(e));
	is_string("HTTP 502 Bad Gateway", describe(502, NULL), "NULL error: status and reason");
	is_string("HTTP 500 Internal Server Error", describe(500, &e),
	          "empty code: status and reason");
	is_string("HTTP 418", describe(418, &e),
	          "unknown status: no reason phrase, no trailing space");
	is_string("no HTTP status", describe(0, &e), "status 0");
	strcpy(e.request_id, "RID");
	is_string("HTTP 503 Service Unavailable (request id RID)", describe(503, &e),
	          "no code but a request id");
	strcpy(e.code, "AccessDenied");
	is_string("access denied (AccessDenied, request id RID)", describe(0, &e),
	          "known code without status");
	strcpy(e.code, "WeirdCode");
	strcpy(e.message, "m");
	is_string("HTTP 400 Bad Request (WeirdCode: m, request id RID)", describe(400, &e),
	          "unknown code");

	memset(&e, 0, sizeof(e));
	strcpy(e.code, "AccessDenied");
	strcpy(e.region, "eu\x1b[2J\nwest");
	is_string("access denied (403 AccessDenied, region eu [2J west)", describe(403, &e),
	          "caller-filled fields are cleaned too");
	memset(e.code, 'A', sizeof(e.code)); /* no NUL: must not read past */
	memset(e.region, 0, sizeof(e.region));
	ok(strlen(describe(403, &e)) < 512, "unterminated code field handled");

	memset(&e, 0, sizeof(e));
	strcpy(e.code, "AccessDenied");
	strcpy(e.message, "Access Denied");
	s3err_describe(403, &e, small, sizeof(small));
	is_string("access denied (", small, "small buffer: cut, NUL-terminated");
	ok(s3err_describe(403, &e, small, 1) == small && small[0] == '\0', "size 1: empty string");
	small[0] = 'x';
	s3err_describe(403, &e, small, 0);
	is_int('x', small[0], "size 0: nothing written");
}

static size_t entity(const char *s, uint32_t *cp)
{
	return xml_entity(s, s + strlen(s), cp);
}

/* wrapper/xml: the scanner s3err shares with the STS replies in creds. */
static void test_xml(void)
{
	static const char doc[] = "<R><!-- <A>no</A> --><A x=\"1\">  a &amp;&lt;&#65;&#x42;&#233;"
	                          "&#0;&bogus; <i>t</i> </A><B/><C>open";
	const char *end = doc + strlen(doc), *b, *e;
	char *t;
	uint32_t cp;

	ok(xml_find(doc, end, "A", &b, &e) && e && !strncmp(b, "  a &amp;", 9),
	   "xml_find: first element after the comment, attributes allowed");
	ok(xml_find(doc, end, "B", &b, &e) && b == e, "xml_find: <B/> is empty");
	ok(xml_find(doc, end, "C", &b, &e) && !e && !strcmp(b, "open"),
	   "xml_find: no closing tag: content_end NULL");
	ok(!xml_find(doc, end, "D", &b, &e), "xml_find: absent");
	ok(!xml_find(doc, end, "R2", &b, &e), "xml_find: a longer name is not a prefix match");
	t = xml_text(doc, end, "A");
	is_string("a &<AB\xc3\xa9?&bogus; <i>t</i>", t,
	          "xml_text: trimmed, entities decoded, unknown ones and tags kept");
	free(t);
	ok(xml_text(doc, end, "C") == NULL, "xml_text: unclosed is NULL");
	t = xml_text(doc, end, "B");
	is_string("", t, "xml_text: empty element");
	free(t);
	is_int(5, entity("&#65;", &cp), "xml_entity: decimal length");
	is_int('A', cp, "xml_entity: decimal value");
	is_int(0, entity("&#65", &cp), "xml_entity: no semicolon");
	is_int(0, entity("&#123456789;", &cp), "xml_entity: more than 8 digits");
	is_int(8, entity("&#xD800;", &cp), "xml_entity: surrogate length");
	is_int('?', cp, "xml_entity: surrogate is '?'");
	{
		static const char twice[] = "x&amp;amp;y";
		t = xml_decode(twice, twice + strlen(twice));
	}
	is_string("x&amp;y", t, "xml_decode: decoded once");
	free(t);
}

int main(void)
{
	plan_lazy();
	test_xml();
	test_real_bodies();
	test_shapes();
	test_hostile();
	test_describe();
	return 0;
}
