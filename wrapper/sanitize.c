#include "sanitize.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* What .NET's String.Trim() removes (GitHub's runner trims a line so before it
 * looks for "::"), apart from the controls, which are escaped anyway. */
static int trim_space(uint32_t cp)
{
	return cp == ' ' || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
	       cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

void sanitize_text(struct buf *b, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), i = 0, shown = 0;
	int at_start = 1; /* only whitespace so far */

	while (i < n) {
		uint32_t cp = 0;
		size_t k = utf8_decode(p + i, n - i, &cp), vis = 1;
		char esc[8] = "";

		if (!k) {
			k = 1;
			snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
		} else if (cp == '\n' || cp == '\r' || cp == '\t') {
			snprintf(esc, sizeof(esc), "\\%c",
			         cp == '\n'   ? 'n'
			         : cp == '\r' ? 'r'
			                      : 't');
		} else if (cp < 0x80 && utf8_is_control(cp)) {
			snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)cp);
		} else if (utf8_is_control(cp)) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
		} else if (cp == ':' && at_start && i + 1 < n && p[i + 1] == ':') {
			snprintf(esc, sizeof(esc), "\\x3a");
		} else if (cp == '[' && b->len >= 2 && b->data[b->len - 1] == '#' &&
		           b->data[b->len - 2] == '#') {
			snprintf(esc, sizeof(esc), "\\x5b");
		}
		if (*esc)
			vis = strlen(esc);
		if (max && shown + vis > max) {
			buf_adds(b, "\xE2\x80\xA6"); /* … */
			return;
		}
		if (*esc)
			buf_adds(b, esc);
		else
			buf_add(b, p + i, k);
		shown += vis;
		at_start = at_start && !*esc && trim_space(cp);
		i += k;
	}
}

void sanitize_to(char *out, size_t size, const char *s, size_t max)
{
	struct buf b = BUF_INIT;
	size_t n;

	if (!out || !size)
		return;
	sanitize_text(&b, s, max);
	n = b.len;
	if (n > size - 1) {
		int room = size - 1 >= 3 + 1;
		n = room ? size - 1 - 3 : size - 1;
		/* cut before a character, never inside one */
		while (n && ((unsigned char)b.data[n] & 0xC0) == 0x80)
			n--;
		memcpy(out, b.data, n);
		if (room) {
			memcpy(out + n, "\xE2\x80\xA6", 3);
			n += 3;
		}
	} else {
		memcpy(out, b.data, n);
	}
	out[n] = '\0';
	buf_free(&b);
}

void sanitize_workflow(struct buf *b, const char *s, int property)
{
	struct buf t = BUF_INIT;

	sanitize_text(&t, s, 0);
	for (const char *p = t.data; *p; p++) {
		if (*p == '%')
			buf_adds(b, "%25");
		else if (*p == '\r')
			buf_adds(b, "%0D");
		else if (*p == '\n')
			buf_adds(b, "%0A");
		else if (property && *p == ':')
			buf_adds(b, "%3A");
		else if (property && *p == ',')
			buf_adds(b, "%2C");
		else
			buf_addc(b, *p);
	}
	buf_free(&t);
}

void sanitize_markdown(struct buf *b, const char *s, size_t max)
{
	struct buf t = BUF_INIT;

	sanitize_text(&t, s, max);
	for (const char *p = t.data; *p; p++) {
		if (strchr("\\`*_[]<>|~&$", *p))
			buf_addc(b, '\\');
		buf_addc(b, *p);
	}
	buf_free(&t);
}

int sanitize_heredoc(struct buf *b, const char *name, const char *value, const char *token)
{
	struct buf v = BUF_INIT, delim = BUF_INIT;
	int ret = 0;

	buf_adds(&delim, "ghadelimiter_");
	buf_adds(&delim, token ? token : "");
	sanitize_text(&v, value, 0);
	if (strstr(v.data, delim.data) || strstr(name ? name : "", delim.data)) {
		ret = -1;
		goto out;
	}
	buf_addf(b, "%s<<%s\n%s\n%s\n", name ? name : "", delim.data, v.data, delim.data);
out:
	buf_free(&v);
	buf_free(&delim);
	return ret;
}

void sanitize_strip(char *s)
{
	size_t n, i = 0, o = 0;

	if (!s)
		return;
	n = strlen(s);
	while (i < n) {
		uint32_t cp = 0;
		size_t k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (!k) {
			s[o++] = s[i++]; /* invalid: kept, the body writer makes it U+FFFD */
			continue;
		}
		if (!utf8_is_control(cp)) {
			memmove(s + o, s + i, k);
			o += k;
		}
		i += k;
	}
	s[o] = '\0';
}

void sanitize_strip_all(char *s, ...)
{
	va_list ap;

	va_start(ap, s);
	for (char *p = s; p; p = va_arg(ap, char *))
		sanitize_strip(p);
	va_end(ap);
}
