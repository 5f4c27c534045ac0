#include "buf.h"
#include "tap/basic.h"

#include <stdlib.h>
#include <string.h>

/* For ok_returns: an empty buf freed and wiped again, and NULL; still empty. */
static int buf_free_again(void *arg)
{
	struct buf *b = arg;
	buf_free(b);
	buf_wipe(b);
	buf_free(NULL);
	buf_wipe(NULL);
	return !(b->data == buf_empty && b->len == 0 && b->cap == 0);
}

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
	ok(b.data == buf_empty && b.len == 0 && b.cap == 0, "free leaves the buf empty (BUF_INIT)");
	ok_returns(buf_free_again, &b,
	           "free and wipe of an empty buf and of NULL return, still empty");
	p = xasprintf("%s=%d", "k", 7);
	is_string("k=7", p, "xasprintf formats");
	free(p);

	/* UTF-8 decoding, as Go decodes */
	{
		static const struct {
			const char *s;
			size_t len;
			uint32_t cp;
		} u[] = {
			{ "A", 1, 0x41 },
			{ "\xc3\xa9", 2, 0xe9 },
			{ "\xe2\x80\xa8", 3, 0x2028 },
			{ "\xf0\x9f\x98\x80", 4, 0x1f600 },
			{ "\xc0\xaf", 0, 0 },         /* overlong */
			{ "\xed\xa0\x80", 0, 0 },     /* surrogate */
			{ "\xf4\x90\x80\x80", 0, 0 }, /* over U+10FFFF */
			{ "\xe2\x80", 0, 0 },         /* cut short */
			{ "\xff", 0, 0 },
			{ "\x80", 0, 0 }, /* a lone continuation byte */
		};
		for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
			uint32_t cp = 0;
			size_t n = utf8_decode((const unsigned char *)u[i].s, strlen(u[i].s), &cp);
			ok(n == u[i].len && (!n || cp == u[i].cp),
			   "utf8_decode case %zu: %zu bytes", i, n);
		}
	}
	/* JSON strings: the lock body's Go-exact form and the plain form */
	{
		static const char in[] = "q\"b\\n\nt\t\b\f\x01 <a>&\x7f \xe2\x80\xa8\xff\xc3\xa9";
		buf_add_json_string(&b, in, 1);
		is_string("\"q\\\"b\\\\n\\nt\\t\\b\\f\\u0001 \\u003ca\\u003e\\u0026\x7f "
		          "\\u2028\\ufffd\xc3\xa9\"",
		          b.data, "go_html: <, > and & escaped, DEL kept");
		buf_reset(&b);
		buf_add_json_string(&b, in, 0);
		is_string("\"q\\\"b\\\\n\\nt\\t\\b\\f\\u0001 <a>&\\u007f "
		          "\\u2028\\ufffd\xc3\xa9\"",
		          b.data, "plain: DEL escaped, <, > and & kept");
		buf_reset(&b);
		buf_add_json_string(&b, NULL, 0);
		is_string("\"\"", b.data, "NULL is the empty string");
		buf_reset(&b);
		/* tflock's own JSON: C1, bidi controls and "##[" escaped; Go's form keeps them */
		buf_add_json_string(&b, "\xc2\x9b\xe2\x80\xae\xd8\x9c ##[x] #[", 0);
		is_string("\"\\u009b\\u202e\\u061c ##\\u005bx] #[\"", b.data,
		          "plain: C1, bidi and the [ of ##[ escaped");
		buf_reset(&b);
		buf_add_json_string(&b, "\xc2\x9b\xe2\x80\xae ##[x]", 1);
		is_string("\"\xc2\x9b\xe2\x80\xae ##[x]\"", b.data, "go_html: kept, as Go writes");
		buf_reset(&b);
		ok(utf8_is_control(0x1b) && utf8_is_control(0x7f) && utf8_is_control(0x85) &&
		           utf8_is_control(0x202e) && utf8_is_control(0x2069) &&
		           utf8_is_control(0x2028) && !utf8_is_control(' ') &&
		           !utf8_is_control(0xa0) && !utf8_is_control(0x2030) &&
		           !utf8_is_control(0xe9),
		   "utf8_is_control: controls and bidi, not text");
		buf_free(&b);
	}
	return 0;
}
