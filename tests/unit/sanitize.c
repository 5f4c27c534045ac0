/* sanitize: hostile strings in every flavour (terminal/log, workflow command,
 * step output heredoc, Markdown, JSON), truncation, idempotence, stripping. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lockinfo.h"
#include "sanitize.h"
#include "tap/basic.h"

struct row {
	const char *what, *in;
	const char *text; /* sanitize_text(), no limit; also the heredoc's value line */
	const char *wf;   /* sanitize_workflow(), message */
	const char *prop; /* sanitize_workflow(), property */
	const char *md;   /* sanitize_markdown(), no limit */
	const char *json; /* buf_add_json_string(.., 0) */
};

static const struct row rows[] = {
	{ "CSI clear screen", "\x1b[2J", "\\x1b[2J", "\\x1b[2J", "\\x1b[2J", "\\\\x1b\\[2J",
	  "\"\\u001b[2J\"" },
	{ "OSC window title ended by BEL", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07",
	  "\\x1b]0;pwned\\x07", "\\x1b]0;pwned\\x07", "\\\\x1b\\]0;pwned\\\\x07",
	  "\"\\u001b]0;pwned\\u0007\"" },
	{ "issue 14's Who", "\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07",
	  "\\x1b[2J\\x1b]0;pwned\\x07", "\\x1b[2J\\x1b]0;pwned\\x07",
	  "\\\\x1b\\[2J\\\\x1b\\]0;pwned\\\\x07", "\"\\u001b[2J\\u001b]0;pwned\\u0007\"" },
	{ "OSC 8 hyperlink", "\x1b]8;;http://e\x1b\\click\x1b]8;;\x1b\\",
	  "\\x1b]8;;http://e\\x1b\\click\\x1b]8;;\\x1b\\",
	  "\\x1b]8;;http://e\\x1b\\click\\x1b]8;;\\x1b\\",
	  "\\x1b]8;;http%3A//e\\x1b\\click\\x1b]8;;\\x1b\\",
	  "\\\\x1b\\]8;;http://e\\\\x1b\\\\click\\\\x1b\\]8;;\\\\x1b\\\\",
	  "\"\\u001b]8;;http://e\\u001b\\\\click\\u001b]8;;\\u001b\\\\\"" },
	{ "CR overwrites the line", "ok\rEVIL", "ok\\rEVIL", "ok\\rEVIL", "ok\\rEVIL",
	  "ok\\\\rEVIL", "\"ok\\rEVIL\"" },
	{ "newline then ::add-mask::", "\n::add-mask::x", "\\n::add-mask::x", "\\n::add-mask::x",
	  "\\n%3A%3Aadd-mask%3A%3Ax", "\\\\n::add-mask::x", "\"\\n::add-mask::x\"" },
	{ "newline then ::stop-commands::", "a\n::stop-commands::tok", "a\\n::stop-commands::tok",
	  "a\\n::stop-commands::tok", "a\\n%3A%3Astop-commands%3A%3Atok",
	  "a\\\\n::stop-commands::tok", "\"a\\n::stop-commands::tok\"" },
	{ "CRLF then ::error::", "x\r\n::error::y", "x\\r\\n::error::y", "x\\r\\n::error::y",
	  "x\\r\\n%3A%3Aerror%3A%3Ay", "x\\\\r\\\\n::error::y", "\"x\\r\\n::error::y\"" },
	{ "leading spaces then ::error::", "  ::error::x", "  \\x3a:error::x", "  \\x3a:error::x",
	  "  \\x3a%3Aerror%3A%3Ax", "  \\\\x3a:error::x", "\"  ::error::x\"" },
	{ "U+3000 then ::warning::", "\xe3\x80\x80::warning::x", "\xe3\x80\x80\\x3a:warning::x",
	  "\xe3\x80\x80\\x3a:warning::x", "\xe3\x80\x80\\x3a%3Awarning%3A%3Ax",
	  "\xe3\x80\x80\\\\x3a:warning::x", "\"\xe3\x80\x80::warning::x\"" },
	{ "legacy ##[error]", "##[error]x", "##\\x5berror]x", "##\\x5berror]x", "##\\x5berror]x",
	  "##\\\\x5berror\\]x", "\"##\\u005berror]x\"" },
	{ "##[ inside a line", "a ##[group]b", "a ##\\x5bgroup]b", "a ##\\x5bgroup]b",
	  "a ##\\x5bgroup]b", "a ##\\\\x5bgroup\\]b", "\"a ##\\u005bgroup]b\"" },
	{ "GitLab section marker", "section_start:1:x", "section_start:1:x", "section_start:1:x",
	  "section_start%3A1%3Ax", "section\\_start:1:x", "\"section_start:1:x\"" },
	{ "GitLab section marker with CR ESC[0K", "\r\x1b[0Ksection_start:1:x[collapsed=true]",
	  "\\r\\x1b[0Ksection_start:1:x[collapsed=true]",
	  "\\r\\x1b[0Ksection_start:1:x[collapsed=true]",
	  "\\r\\x1b[0Ksection_start%3A1%3Ax[collapsed=true]",
	  "\\\\r\\\\x1b\\[0Ksection\\_start:1:x\\[collapsed=true\\]",
	  "\"\\r\\u001b[0Ksection_start:1:x[collapsed=true]\"" },
	{ "bidi override U+202E", "evil\xe2\x80\xaetxt.exe", "evil\\u202etxt.exe",
	  "evil\\u202etxt.exe", "evil\\u202etxt.exe", "evil\\\\u202etxt.exe",
	  "\"evil\\u202etxt.exe\"" },
	{ "bidi isolates and marks", "\xe2\x81\xa6x\xe2\x81\xa9\xe2\x80\x8f\xd8\x9c",
	  "\\u2066x\\u2069\\u200f\\u061c", "\\u2066x\\u2069\\u200f\\u061c",
	  "\\u2066x\\u2069\\u200f\\u061c", "\\\\u2066x\\\\u2069\\\\u200f\\\\u061c",
	  "\"\\u2066x\\u2069\\u200f\\u061c\"" },
	{ "invalid UTF-8",
	  "a\xff"
	  "b\xc3",
	  "a\\xffb\\xc3", "a\\xffb\\xc3", "a\\xffb\\xc3", "a\\\\xffb\\\\xc3",
	  "\"a\\ufffdb\\ufffd\"" },
	{ "overlong NUL and a surrogate", "\xc0\x80|\xed\xa0\x80", "\\xc0\\x80|\\xed\\xa0\\x80",
	  "\\xc0\\x80|\\xed\\xa0\\x80", "\\xc0\\x80|\\xed\\xa0\\x80",
	  "\\\\xc0\\\\x80\\|\\\\xed\\\\xa0\\\\x80", "\"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\"" },
	{ "C1 CSI as UTF-8",
	  "\xc2\x9b"
	  "31m",
	  "\\u009b31m", "\\u009b31m", "\\u009b31m", "\\\\u009b31m", "\"\\u009b31m\"" },
	{ "C1 CSI as a raw byte",
	  "\x9b"
	  "31m",
	  "\\x9b31m", "\\x9b31m", "\\x9b31m", "\\\\x9b31m", "\"\\ufffd31m\"" },
	{ "C1 NEL",
	  "a\xc2\x85"
	  "b",
	  "a\\u0085b", "a\\u0085b", "a\\u0085b", "a\\\\u0085b", "\"a\\u0085b\"" },
	{ "DEL",
	  "a\x7f"
	  "b",
	  "a\\x7fb", "a\\x7fb", "a\\x7fb", "a\\\\x7fb", "\"a\\u007fb\"" },
	{ "tab and other C0", "a\tb\x01\x1f", "a\\tb\\x01\\x1f", "a\\tb\\x01\\x1f",
	  "a\\tb\\x01\\x1f", "a\\\\tb\\\\x01\\\\x1f", "\"a\\tb\\u0001\\u001f\"" },
	{ "line separator U+2028",
	  "a\xe2\x80\xa8"
	  "b",
	  "a\\u2028b", "a\\u2028b", "a\\u2028b", "a\\\\u2028b", "\"a\\u2028b\"" },
	{ "HTML and Markdown", "<img src=x onerror=alert(1)>|*_[a](b)&amp;$x$`~",
	  "<img src=x onerror=alert(1)>|*_[a](b)&amp;$x$`~",
	  "<img src=x onerror=alert(1)>|*_[a](b)&amp;$x$`~",
	  "<img src=x onerror=alert(1)>|*_[a](b)&amp;$x$`~",
	  "\\<img src=x onerror=alert(1)\\>\\|\\*\\_\\[a\\](b)\\&amp;\\$x\\$\\`\\~",
	  "\"<img src=x onerror=alert(1)>|*_[a](b)&amp;$x$`~\"" },
	{ "percent, colon, comma", "100%:a,b%0A", "100%:a,b%0A", "100%25:a,b%250A",
	  "100%25%3Aa%2Cb%250A", "100%:a,b%0A", "\"100%:a,b%0A\"" },
	{ "backslashes are kept", "C:\\path\\x1b", "C:\\path\\x1b", "C:\\path\\x1b",
	  "C%3A\\path\\x1b", "C:\\\\path\\\\x1b", "\"C:\\\\path\\\\x1b\"" },
	{ "plain text unchanged", "alice@laptop (OperationTypeApply)",
	  "alice@laptop (OperationTypeApply)", "alice@laptop (OperationTypeApply)",
	  "alice@laptop (OperationTypeApply)", "alice@laptop (OperationTypeApply)",
	  "\"alice@laptop (OperationTypeApply)\"" },
	{ "UTF-8 text unchanged", "J\xc3\xb6rg \xe2\x80\x94 \xf0\x9f\x94\x92",
	  "J\xc3\xb6rg \xe2\x80\x94 \xf0\x9f\x94\x92", "J\xc3\xb6rg \xe2\x80\x94 \xf0\x9f\x94\x92",
	  "J\xc3\xb6rg \xe2\x80\x94 \xf0\x9f\x94\x92", "J\xc3\xb6rg \xe2\x80\x94 \xf0\x9f\x94\x92",
	  "\"J\xc3\xb6rg \xe2\x80\x94 \xf0\x9f\x94\x92\"" },
};

/* No byte a terminal or runner acts on: C0, DEL; and no "##[". */
static int clean_bytes(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
			return 0;
	return strstr(s, "##[") == NULL;
}

/* Is every line's start, after spaces, other than "::"? (one line here) */
static int no_command_start(const char *s)
{
	s += strspn(s, " ");
	return strncmp(s, "::", 2) != 0;
}

/* Every < > & | [ in Markdown comes after a backslash: no tag, entity, cell or link. */
static int md_inert(const char *s)
{
	for (size_t i = 0; s[i]; i++)
		if (strchr("<>&|[", s[i]) && (i == 0 || s[i - 1] != '\\'))
			return 0;
	return 1;
}

static void check_row(const struct row *r)
{
	struct buf b = BUF_INIT, again = BUF_INIT, want = BUF_INIT;

	sanitize_text(&b, r->in, 0);
	is_string(r->text, b.data, "text: %s", r->what);
	ok(clean_bytes(b.data) && no_command_start(b.data),
	   "text: %s: no control, ##[ or ::", r->what);
	sanitize_text(&again, b.data, 0);
	is_string(b.data, again.data, "text: %s: idempotent (never escaped twice)", r->what);

	buf_reset(&b);
	sanitize_workflow(&b, r->in, 0);
	is_string(r->wf, b.data, "workflow message: %s", r->what);
	ok(clean_bytes(b.data), "workflow message: %s: no control or ##[", r->what);
	buf_reset(&b);
	sanitize_workflow(&b, r->in, 1);
	is_string(r->prop, b.data, "workflow property: %s", r->what);
	ok(!strchr(b.data, ':') && !strchr(b.data, ','), "workflow property: %s: no : or ,",
	   r->what);

	buf_reset(&b);
	sanitize_markdown(&b, r->in, 0);
	is_string(r->md, b.data, "markdown: %s", r->what);
	ok(clean_bytes(b.data) && md_inert(b.data) && no_command_start(b.data),
	   "markdown: %s: no control, ##[, tag or ::", r->what);

	buf_reset(&b);
	ok(sanitize_heredoc(&b, "outcome", r->in, "0123abcd") == 0, "heredoc: %s: written",
	   r->what);
	buf_addf(&want, "outcome<<ghadelimiter_0123abcd\n%s\nghadelimiter_0123abcd\n", r->text);
	is_string(want.data, b.data, "heredoc: %s: three lines, value in the text flavour",
	          r->what);

	buf_reset(&b);
	buf_add_json_string(&b, r->in, 0);
	is_string(r->json, b.data, "json: %s", r->what);
	ok(clean_bytes(b.data), "json: %s: no control or ##[", r->what);

	buf_free(&b);
	buf_free(&again);
	buf_free(&want);
}

static int strip_null(void *unused)
{
	sanitize_strip(NULL);
	return 0;
}

int main(void)
{
	struct buf b = BUF_INIT;
	char out[64];
	size_t nrows = sizeof(rows) / sizeof(rows[0]);

	plan_lazy();
	ok(nrows >= 20, "at least 20 hostile strings (%zu)", nrows);
	for (size_t i = 0; i < nrows; i++)
		check_row(&rows[i]);

	/* "##[" made of tflock's text and the foreign text next to it */
	buf_adds(&b, "held by #");
	sanitize_text(&b, "#[error]x", 0);
	is_string("held by ##\\x5berror]x", b.data, "text: ##[ across the boundary is caught");
	buf_reset(&b);

	/* NULL is "" everywhere */
	sanitize_text(&b, NULL, 0);
	sanitize_markdown(&b, NULL, 0);
	sanitize_workflow(&b, NULL, 1);
	is_string("", b.data, "NULL is the empty string");

	/* truncation: visible characters, never inside an escape or a character */
	{
		char in[301];
		memset(in, 'x', 300);
		in[300] = '\0';
		sanitize_text(&b, in, SANITIZE_FIELD_MAX);
		ok(b.len == 256 + 3 && !strcmp(b.data + 256, "\xE2\x80\xA6") &&
		           strspn(b.data, "x") == 256,
		   "300 characters cut to 256 and an ellipsis");
		buf_reset(&b);
		memset(in, 'a', 255);
		strcpy(in + 255, "\x1b[2J");
		sanitize_text(&b, in, 256);
		ok(strspn(b.data, "a") == 255 && !strcmp(b.data + 255, "\xE2\x80\xA6"),
		   "an escape that does not fit is left out whole");
		buf_reset(&b);
		sanitize_text(&b, "\xc3\xa9\xc3\xa9\xc3\xa9", 2);
		is_string("\xc3\xa9\xc3\xa9\xE2\x80\xA6", b.data,
		          "a limit counts characters, not bytes");
		buf_reset(&b);
		sanitize_text(&b, "abc", 3);
		is_string("abc", b.data, "exactly the limit: not cut");
		buf_reset(&b);
	}

	/* a 64 KiB hostile string: escaped whole, cut for a field */
	{
		size_t n = 65536;
		char *big = xmalloc(n + 1);
		for (size_t i = 0; i < n; i++)
			big[i] = "A\x1b\n\r\x07"[i % 5];
		big[n] = '\0';
		sanitize_text(&b, big, 0);
		ok(clean_bytes(b.data) && b.len == n / 5 * (1 + 4 + 2 + 2 + 4) + 1,
		   "64 KiB: every control escaped, nothing lost (%zu bytes)", b.len);
		buf_reset(&b);
		sanitize_text(&b, big, SANITIZE_FIELD_MAX);
		ok(clean_bytes(b.data) && b.len <= 256 + 3, "64 KiB: a field shows at most 256");
		buf_reset(&b);
		buf_add_json_string(&b, big, 0);
		ok(clean_bytes(b.data), "64 KiB: JSON holds no raw control");
		buf_reset(&b);
		sanitize_markdown(&b, big, SANITIZE_FIELD_MAX);
		ok(clean_bytes(b.data), "64 KiB: Markdown holds no raw control");
		buf_reset(&b);
		free(big);
	}

	/* sanitize_to: fits the array, cut at a character, ends in an ellipsis */
	sanitize_to(out, sizeof(out), "short\x1b", 0);
	is_string("short\\x1b", out, "sanitize_to: fits");
	sanitize_to(out, 8, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 0);
	is_string("\xc3\xa9\xc3\xa9\xE2\x80\xA6", out, "sanitize_to: cut before a character");
	sanitize_to(out, 3, "abcdef", 0);
	is_string("ab", out, "sanitize_to: no room for an ellipsis: just cut");
	sanitize_to(out, 1, "abc", 0);
	is_string("", out, "sanitize_to: size 1 is the empty string");

	/* the heredoc never uses a delimiter found in the value */
	ok(sanitize_heredoc(&b, "outcome", "x\nghadelimiter_T\nlock-id=evil", "T") == -1 &&
	           b.len == 0,
	   "heredoc: a delimiter inside the value is refused, nothing written");
	ok(sanitize_heredoc(&b, "outcome", "x\nghadelimiter_T\nlock-id=evil", "U") == 0,
	   "heredoc: another token works");
	is_string("outcome<<ghadelimiter_U\nx\\nghadelimiter_T\\nlock-id=evil\nghadelimiter_U\n",
	          b.data, "heredoc: the value is one line, no variable of its own");
	buf_reset(&b);

	/* the lock body's writer stays Go's (bidi and C1 raw, as encoding/json writes) */
	buf_add_json_string(&b, "a\xe2\x80\xae\xc2\x85##[b", 1);
	is_string("\"a\xe2\x80\xae\xc2\x85##[b\"", b.data,
	          "json for the lock body: byte-exact Go, unchanged");
	buf_reset(&b);

	/* a \u0000 in a lock body: stored as U+FFFD, then shown as such */
	{
		static const char body[] =
		        "{\"ID\":\"a\\u0000b\",\"Operation\":\"\\u001b[2J\",\"Info\":\"\","
		        "\"Who\":\"x\\n::add-mask::y\",\"Version\":\"\",\"Created\":"
		        "\"2024-05-01T12:00:00Z\",\"Path\":\"\"}";
		struct lockinfo li;
		lockinfo_init(&li);
		lockinfo_parse(body, sizeof(body) - 1, &li, NULL);
		sanitize_text(&b, li.id, SANITIZE_FIELD_MAX);
		is_string("a\xef\xbf\xbd"
		          "b",
		          b.data, "\\u0000 in the body: shown as U+FFFD");
		buf_reset(&b);
		buf_add_json_string(&b, li.operation, 0);
		is_string("\"\\u001b[2J\"", b.data, "an escaped ESC in the body: \\u001b in JSON");
		buf_reset(&b);
		sanitize_text(&b, li.who, SANITIZE_FIELD_MAX);
		is_string("x\\n::add-mask::y", b.data, "a newline in the body: shown as \\n");
		buf_reset(&b);
		lockinfo_free(&li);
	}

	/* stripping what tflock writes into a lock */
	{
		char s1[] = "al\x1b[2Jice\xe2\x80\xae@host\n::add-mask::x\t\xc2\x85\x7f\xc3\xa9";
		char s2[] = "\xff ok";
		char s3[] = "";
		sanitize_strip_all(s1, s2, s3, (char *)NULL);
		is_string("al[2Jice@host::add-mask::x\xc3\xa9", s1,
		          "strip: controls, bidi, C1 and DEL removed, text kept");
		is_string("\xff ok", s2,
		          "strip: invalid UTF-8 kept (the body writer makes it U+FFFD)");
		is_string("", s3, "strip: empty stays empty");
		ok_returns(strip_null, NULL, "strip: NULL returns");
	}

	buf_free(&b);
	return 0;
}
