#include "buf.h"
#include "tap/basic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* buf_read_file() and buf_read_file_opt() on files made in a temporary directory. */
static void read_files(void)
{
	char dir[] = "/tmp/tflock-buf.XXXXXX", *f, *link, *none;
	struct buf b = BUF_INIT;
	struct tf_error err;
	FILE *fp;
	int rc;

	if (!mkdtemp(dir))
		bail("mkdtemp: cannot create a temporary directory");
	f = xasprintf("%s/f", dir);
	link = xasprintf("%s/link", dir);
	none = xasprintf("%s/none", dir);
	fp = fopen(f, "w");
	if (!fp || fputs("hello\n", fp) < 0 || fclose(fp) || symlink(f, link))
		bail("cannot write %s", f);

	rc = buf_read_file(&b, f, 6, &err);
	ok(rc == 0 && b.len == 6 && !strcmp(b.data, "hello\n"),
	   "read: a file of exactly max bytes");
	buf_wipe(&b);
	rc = buf_read_file(&b, f, 5, &err);
	ok(rc == ERR_USAGE && b.len == 0, "read: one byte over max is ERR_USAGE, b left empty");
	ok(strstr(err.msg, "is larger than 5 bytes") != NULL, "  and says so: %s", err.msg);
	rc = buf_read_file(&b, none, 100, &err);
	ok(rc == ERR_NOT_FOUND && strstr(err.msg, "does not exist"), "read: a missing file");
	rc = buf_read_file(&b, dir, 100, &err);
	ok(rc == ERR_SYSTEM && strstr(err.msg, "is a directory"), "read: a directory");
	rc = buf_read_file(&b, link, 100, NULL);
	ok(rc == 0 && !strcmp(b.data, "hello\n"), "read: through a symbolic link, err NULL");
	buf_wipe(&b);
	rc = buf_read_file_opt(&b, link, 100, BUF_READ_NOFOLLOW, &err);
	ok(rc == ERR_SYSTEM && b.len == 0, "BUF_READ_NOFOLLOW: a symbolic link is refused");
	rc = buf_read_file_opt(&b, f, 100, BUF_READ_NOFOLLOW, &err);
	ok(rc == 0 && !strcmp(b.data, "hello\n"), "BUF_READ_NOFOLLOW: a plain file is read");
	buf_wipe(&b);
	rc = buf_read_file_opt(&b, f, 3, BUF_READ_HEAD, &err);
	ok(rc == 0 && b.len == 3 && !strcmp(b.data, "hel"), "BUF_READ_HEAD: the first max bytes");
	buf_wipe(&b);
	rc = buf_read_file_opt(&b, f, 0, BUF_READ_HEAD, &err);
	ok(rc == 0 && b.len == 0 && !strcmp(b.data, ""), "BUF_READ_HEAD: max 0 reads nothing");
	buf_wipe(&b);
	/* a /proc file says it has 0 bytes */
	rc = buf_read_file_opt(&b, "/proc/self/stat", 5, BUF_READ_HEAD, &err);
	ok(rc == 0 && b.len == 5, "BUF_READ_HEAD: 5 bytes of /proc/self/stat");
	buf_wipe(&b);
	rc = buf_read_file(&b, "/proc/self/stat", 4096, &err);
	ok(rc == 0 && b.len > 5 && strchr(b.data, ')'), "read: /proc/self/stat whole");
	buf_wipe(&b);

	unlink(link);
	unlink(f);
	rmdir(dir);
	free(f);
	free(link);
	free(none);
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

	read_files();
	unsetenv("TFLOCK_TEST_BUF_ENV");
	ok(getenv_nonempty("TFLOCK_TEST_BUF_ENV") == NULL, "getenv_nonempty: unset is NULL");
	setenv("TFLOCK_TEST_BUF_ENV", "", 1);
	ok(getenv_nonempty("TFLOCK_TEST_BUF_ENV") == NULL, "getenv_nonempty: empty is NULL");
	setenv("TFLOCK_TEST_BUF_ENV", "v", 1);
	is_string("v", getenv_nonempty("TFLOCK_TEST_BUF_ENV"), "getenv_nonempty: the value");
	unsetenv("TFLOCK_TEST_BUF_ENV");

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
