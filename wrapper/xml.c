/*
 * xml — the one small XML scanner. See xml.h.
 */
#include "xml.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"

/* The first needle in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	while ((size_t)(end - p) >= n) {
		const char *q = memchr(p, needle[0], (size_t)(end - p) - n + 1);
		if (!q)
			return NULL;
		if (!memcmp(q, needle, n))
			return q;
		p = q + 1;
	}
	return NULL;
}

static int ends_name(char c)
{
	return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The next start tag <name ...> or <name/> in [p, end), skipping comments. Sets
 * *content to just after the tag and *empty for a self-closing one. NULL if none.
 */
static const char *find_open(const char *p, const char *end, const char *name, const char **content,
                             int *empty)
{
	size_t n = strlen(name);
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p)), *gt;
		if (!lt)
			return NULL;
		if ((size_t)(end - lt) >= 4 && !memcmp(lt, "<!--", 4)) {
			const char *close = find(lt + 4, end, "-->");
			if (!close)
				return NULL;
			p = close + 3;
			continue;
		}
		p = lt + 1;
		if ((size_t)(end - p) <= n || memcmp(p, name, n) || !ends_name(p[n]))
			continue;
		gt = memchr(p + n, '>', (size_t)(end - (p + n)));
		if (!gt)
			return NULL;
		*empty = gt[-1] == '/';
		*content = gt + 1;
		return lt;
	}
	return NULL;
}

int xml_find(const char *p, const char *end, const char *name, const char **content,
             const char **content_end)
{
	char close[64];
	int empty;

	*content = *content_end = NULL;
	if (!p || !find_open(p, end, name, content, &empty))
		return 0;
	if (empty) {
		*content_end = *content;
		return 1;
	}
	snprintf(close, sizeof(close), "</%s>", name);
	*content_end = find(*content, end, close);
	return 1;
}

static int digit_value(char c, int hex)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (hex && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (hex && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "&#ddd;" or "&#xhh;" at p (left >= 4 bytes): as xml_entity. */
static size_t char_ref(const char *p, const char *end, uint32_t *cp)
{
	int hex = p[2] == 'x' || p[2] == 'X';
	const char *q = p + 2 + hex;
	uint32_t v = 0;
	int digits = 0, d;

	for (; q < end && digits < 8 && (d = digit_value(*q, hex)) >= 0; q++, digits++)
		v = v * (hex ? 16 : 10) + (uint32_t)d;
	if (!digits || q >= end || *q != ';')
		return 0;
	*cp = v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ? '?' : v;
	return (size_t)(q + 1 - p);
}

size_t xml_entity(const char *p, const char *end, uint32_t *cp)
{
	static const struct {
		const char *name;
		char c;
	} named[] = { { "&amp;", '&' },
		      { "&lt;", '<' },
		      { "&gt;", '>' },
		      { "&quot;", '"' },
		      { "&apos;", '\'' } };
	size_t left = (size_t)(end - p);

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t n = strlen(named[i].name);
		if (left >= n && !memcmp(p, named[i].name, n)) {
			*cp = (uint32_t)named[i].c;
			return n;
		}
	}
	if (left >= 4 && p[1] == '#')
		return char_ref(p, end, cp);
	return 0;
}

char *xml_decode(const char *p, const char *end)
{
	struct buf o = BUF_INIT;
	/* never longer than the input: one allocation, no stray copy of a secret */
	buf_grow(&o, (size_t)(end - p));
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		uint32_t cp;
		size_t k;
		if (!amp) {
			buf_add(&o, p, (size_t)(end - p));
			break;
		}
		buf_add(&o, p, (size_t)(amp - p));
		k = xml_entity(amp, end, &cp);
		if (k) {
			buf_add_utf8(&o, cp);
			p = amp + k;
		} else {
			buf_addc(&o, '&');
			p = amp + 1;
		}
	}
	return buf_detach(&o, NULL);
}

char *xml_text(const char *p, const char *end, const char *name)
{
	const char *b, *e;
	if (!xml_find(p, end, name, &b, &e) || !e)
		return NULL;
	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	return xml_decode(b, e);
}
