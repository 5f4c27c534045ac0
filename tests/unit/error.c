#include <string.h>

#include "error.h"
#include "tap/basic.h"

static int err_null_calls(void *unused)
{
	err_prefix(NULL, "x");
	err_clear(NULL);
	return 0;
}

int main(void)
{
	struct tf_error e;
	char big[2000];

	plan_lazy();

	err_clear(&e);
	is_int(ERR_NONE, e.kind, "cleared kind");
	is_string("", e.msg, "cleared msg");
	is_int(ERR_USAGE, err_set(&e, ERR_USAGE, "bad %s %d", "thing", 42), "err_set returns kind");
	is_int(ERR_USAGE, e.kind, "kind stored");
	is_string("bad thing 42", e.msg, "message formatted");
	is_int(ERR_SYSTEM, err_set(NULL, ERR_SYSTEM, "x"), "NULL error still returns kind");
	ok_returns(err_null_calls, NULL, "err_prefix(NULL, ...) and err_clear(NULL) return");

	err_prefix(&e, "--lease");
	is_string("--lease: bad thing 42", e.msg, "prefix prepended");
	err_prefix(&e, "in %s", "config");
	is_string("in config: --lease: bad thing 42", e.msg, "prefixes nest");
	is_int(ERR_USAGE, e.kind, "prefix keeps kind");

	/* truncation */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, ERR_PARSE, "%s", big);
	is_int(ERR_MSG_SIZE - 1, (long long)strlen(e.msg), "err_set truncates to the buffer");
	err_prefix(&e, "ctx");
	is_int(ERR_MSG_SIZE - 1, (long long)strlen(e.msg), "prefix keeps it within the buffer");
	ok(!strncmp(e.msg, "ctx: aaa", 8), "prefix kept, tail dropped");
	err_set(&e, ERR_PARSE, "tail");
	big[400] = '\0';
	err_prefix(&e, "%s", big);
	is_int(255 + 2 + 4, (long long)strlen(e.msg), "a long prefix is cut to 255 bytes");
	ok(!strcmp(e.msg + 255, ": tail"), "then the old message");
	big[400] = 'a';
	err_set(&e, ERR_PARSE, "m");
	big[ERR_MSG_SIZE + 10] = '\0';
	err_prefix(&e, "%.*s", 250, big);
	is_int(250 + 3, (long long)strlen(e.msg), "short old message fits");

	return 0;
}
