#include "buf.h"
#include "tap/basic.h"

#include <stdlib.h>
#include <string.h>

int main(void)
{
	struct buf b = BUF_INIT;
	plan_lazy();

	is_string("", b.data, "empty buf is the empty string");
	buf_adds(&b, "abc");
	buf_addc(&b, '-');
	buf_addf(&b, "%d/%s", 42, "x");
	is_string("abc-42/x", b.data, "adds, addc and addf append");
	is_int(8, (long long)b.len, "length tracks the content");
	for (int i = 0; i < 1000; i++)
		buf_adds(&b, "0123456789");
	is_int(10008, (long long)b.len, "grows past many reallocations");
	ok(b.data[b.len] == '\0', "always NUL-terminated");
	buf_reset(&b);
	is_string("", b.data, "reset empties but keeps the buffer");
	buf_add(&b, "a\0b", 3);
	ok(b.len == 3 && memcmp(b.data, "a\0b", 3) == 0, "binary data with NUL kept");
	size_t len;
	char *p = buf_detach(&b, &len);
	is_int(3, (long long)len, "detach hands over the length");
	is_string("", b.data, "detach leaves the buf empty");
	free(p);
	buf_free(&b);
	buf_free(NULL);
	buf_wipe(&b);
	ok(1, "free of an empty buf and of NULL is safe");
	p = xasprintf("%s=%d", "k", 7);
	is_string("k=7", p, "xasprintf formats");
	free(p);
	return 0;
}
