#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tap/basic.h"

static void check(const char *in, const char *want, const char *what)
{
	char *out = log_redact_header(in, strlen(in));
	is_string(want, out, "%s", what);
	free(out);
}

static int order[8], norder;

static void hook(void *arg)
{
	if (norder < 8)
		order[norder++] = *(int *)arg;
}

int main(void)
{
	char *out;
	plan_lazy();

	check("Authorization: AWS4-HMAC-SHA256 Credential=AKID/...", "Authorization: [redacted]",
	      "authorization redacted");
	check("authorization:Bearer x", "authorization: [redacted]", "lower case, no space");
	check("AUTHORIZATION: x", "AUTHORIZATION: [redacted]", "upper case");
	check("X-Amz-Security-Token: FQoGZXIvYXdz", "X-Amz-Security-Token: [redacted]",
	      "session token redacted");
	check("x-amz-server-side-encryption-customer-key: c2VjcmV0",
	      "x-amz-server-side-encryption-customer-key: [redacted]", "SSE-C key redacted");
	check("x-amz-copy-source-server-side-encryption-customer-key: c2VjcmV0",
	      "x-amz-copy-source-server-side-encryption-customer-key: [redacted]",
	      "copy-source SSE-C key redacted");
	check("X-aws-ec2-metadata-token: AQAEA", "X-aws-ec2-metadata-token: [redacted]",
	      "IMDS token redacted");
	check("x-amz-server-side-encryption-customer-key-MD5: abc==",
	      "x-amz-server-side-encryption-customer-key-MD5: abc==",
	      "SSE-C key MD5 is not secret");
	check("Host: bucket.s3.amazonaws.com", "Host: bucket.s3.amazonaws.com", "Host untouched");
	check("x-amz-date: 20240101T000000Z", "x-amz-date: 20240101T000000Z",
	      "x-amz-date untouched");
	check("Content-Type: application/json", "Content-Type: application/json",
	      "content type untouched");
	check("X-Authorization-Hint: yes", "X-Authorization-Hint: yes",
	      "header merely containing the word untouched");
	check("Authorization", "Authorization", "no colon: unchanged");
	check("", "", "empty line");

	/* len bounds the line */
	out = log_redact_header("Host: a.example\r\nAuthorization: x", 15);
	is_string("Host: a.example", out, "only len bytes copied");
	free(out);
	out = log_redact_header("Authorization: secret\r\n", 21);
	is_string("Authorization: [redacted]", out, "redacted within len");
	free(out);

	/* cleanup hooks: reverse order, unregistered ones skipped, each at most once */
	{
		int a = 1, b = 2, c = 3, hb;
		cleanup_register(hook, &a);
		hb = cleanup_register(hook, &b);
		cleanup_register(hook, &c);
		cleanup_unregister(hb);
		cleanup_run();
		is_int(2, norder, "two hooks ran");
		is_int(3, order[0], "last registered first");
		is_int(1, order[1], "first registered last");
		cleanup_run();
		is_int(2, norder, "hooks run at most once");
	}
	return 0;
}
