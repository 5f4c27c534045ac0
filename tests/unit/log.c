#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap/basic.h"

static void check(const char *in, const char *want, const char *what)
{
	char *out = log_redact_header(in, strlen(in));
	is_string(want, out, "%s", what);
	free(out);
}

/* What one log call writes to stderr. */
static char *logged(void (*fn)(const char *, ...), const char *arg)
{
	char path[] = "/tmp/tflock-log-test.XXXXXX", *text;
	int fd = mkstemp(path), saved = dup(2);
	long n;
	FILE *f;
	fflush(stderr);
	dup2(fd, 2);
	fn("held by %s: waiting", arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	if (fread(text, 1, (size_t)n, f) != (size_t)n)
		text[0] = '\0';
	fclose(f);
	unlink(path);
	return text;
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

	/* every message is one escaped line: the sink's net (sanitize_text) */
	out = logged(log_warn,
	             "\x1b[2J\x1b]0;pwned\x07\n::add-mask::x\r##[error]y\xe2\x80\xae\xff");
	is_string("tflock: warning: held by \\x1b[2J\\x1b]0;pwned\\x07\\n::add-mask::x\\r"
	          "##\\x5berror]y\\u202e\\xff: waiting\n",
	          out, "log: a foreign argument's controls, ##[ and bidi shown escaped, one line");
	free(out);
	out = logged(log_info, "alice@laptop (OperationTypeApply) \xe2\x80\x94 \\x1b");
	is_string("tflock: held by alice@laptop (OperationTypeApply) \xe2\x80\x94 \\x1b: waiting\n",
	          out, "log: plain text, UTF-8 and an already escaped field unchanged");
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
