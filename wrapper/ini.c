/* memmem, pipe2, close_range, timegm: GNU/BSD extensions (the build's
 * ac-config.h also asks for them; this keeps the file buildable without it) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "ini.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

#define INI_MAX_FILE (4 * 1024 * 1024) /* shared files are small; refuse absurd ones */

void ini_init(struct ini *ini)
{
	memset(ini, 0, sizeof(*ini));
}

void ini_free(struct ini *ini)
{
	if (!ini)
		return;
	for (size_t i = 0; i < ini->nsections; i++) {
		struct ini_section *s = &ini->sections[i];
		for (size_t j = 0; j < s->nprops; j++) {
			secure_free_str(s->props[j].key);
			secure_free_str(s->props[j].value);
		}
		free(s->props);
		free(s->name);
	}
	free(ini->sections);
	free(ini->path);
	ini_init(ini);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* [b, e) trimmed of spaces and tabs on both ends */
static void trim(const char **b, const char **e)
{
	while (*b < *e && is_space(**b))
		(*b)++;
	while (*e > *b && is_space((*e)[-1]))
		(*e)--;
}

static struct ini_section *section_open(struct ini *ini, const char *name, unsigned line)
{
	for (size_t i = 0; i < ini->nsections; i++)
		if (!strcmp(ini->sections[i].name, name))
			return &ini->sections[i];
	ini->sections = xrealloc(ini->sections, (ini->nsections + 1) * sizeof(*ini->sections));
	struct ini_section *s = &ini->sections[ini->nsections++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	s->line = line;
	return s;
}

static struct ini_prop *prop_find(struct ini_section *s, const char *key)
{
	for (size_t i = 0; i < s->nprops; i++)
		if (!strcasecmp(s->props[i].key, key))
			return &s->props[i];
	return NULL;
}

/* Takes ownership of key and value; returns the property's index. */
static size_t prop_set(struct ini_section *s, char *key, char *value, unsigned line)
{
	struct ini_prop *p = prop_find(s, key);
	if (p) {
		secure_free_str(p->value);
		secure_free_str(key);
		p->value = value;
		p->line = line;
		return (size_t)(p - s->props);
	}
	s->props = xrealloc(s->props, (s->nprops + 1) * sizeof(*s->props));
	p = &s->props[s->nprops];
	p->key = key;
	p->value = value;
	p->line = line;
	return s->nprops++;
}

/* The SDK's legacy value conversions: one pair of surrounding quotes removed
 * (only when something is between them), then \" \' and \n expanded. */
static char *value_convert(const char *b, const char *e)
{
	size_t n = (size_t)(e - b);
	struct buf out;
	buf_init(&out);
	if (n > 2 && ((b[0] == '"' && e[-1] == '"') || (b[0] == '\'' && e[-1] == '\''))) {
		b++;
		e--;
	}
	for (const char *p = b; p < e; p++) {
		if (*p == '\\' && p + 1 < e && (p[1] == '"' || p[1] == '\'')) {
			buf_addc(&out, p[1]);
			p++;
		} else if (*p == '\\' && p + 1 < e && p[1] == 'n') {
			buf_addc(&out, '\n');
			p++;
		} else {
			buf_addc(&out, *p);
		}
	}
	return buf_detach(&out, NULL);
}

static char *key_convert(const char *b, const char *e)
{
	char *k = xstrndup(b, (size_t)(e - b));
	for (char *p = k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

/* Split "key = value" (or the legacy "key: value") in [b, e). */
static int split_property(const char *b, const char *e, const char **kb, const char **ke,
                          const char **vb, const char **ve)
{
	const char *eq = memchr(b, '=', (size_t)(e - b));
	const char *colon = memchr(b, ':', (size_t)(e - b));
	const char *sep = eq;
	if (!eq || (colon && colon < eq))
		sep = colon;
	if (!sep)
		return 0;
	*kb = b;
	*ke = sep;
	*vb = sep + 1;
	*ve = e;
	trim(kb, ke);
	trim(vb, ve);
	return 1;
}

static const char *comment_start(const char *b, const char *e)
{
	for (const char *p = b; p < e; p++)
		if (*p == '#' || *p == ';')
			return p;
	return e;
}

int ini_parse(struct ini *ini, const char *text, size_t len, const char *name, struct tf_error *err)
{
	const char *p = text, *end = text + len;
	struct ini_section *cur = NULL;
	size_t cur_prop = (size_t)-1; /* index of the last property in cur */
	unsigned lineno = 0;

	ini_free(ini);
	ini->path = xstrdup(name ? name : "");

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *lb = p;
		const char *tb, *te;
		p = nl ? nl + 1 : end;
		lineno++;
		if (le > lb && le[-1] == '\r')
			le--;
		tb = lb;
		te = le;
		trim(&tb, &te);
		if (tb == te || *tb == '#' || *tb == ';')
			continue; /* blank or comment line */

		if (!is_space(*lb)) {
			const char *ce = comment_start(lb, le), *cb = lb;
			trim(&cb, &ce);
			/* section header */
			if (ce > cb && *cb == '[' && ce[-1] == ']') {
				const char *nb = cb + 1, *ne = ce - 1, *sp;
				struct buf n;
				buf_init(&n);
				trim(&nb, &ne);
				if (nb == ne) {
					ini_free(ini);
					return err_set(err, ERR_USAGE, "%s:%u: empty section name",
					               name ? name : "", lineno);
				}
				/* "type   name" → "type name" */
				sp = nb;
				while (sp < ne && !is_space(*sp))
					sp++;
				if (sp < ne) {
					const char *rest = sp;
					while (rest < ne && is_space(*rest))
						rest++;
					buf_add(&n, nb, (size_t)(sp - nb));
					buf_addc(&n, ' ');
					buf_add(&n, rest, (size_t)(ne - rest));
				} else {
					buf_add(&n, nb, (size_t)(ne - nb));
				}
				cur = section_open(ini, n.data, lineno);
				buf_free(&n);
				cur_prop = (size_t)-1;
				continue;
			}
			/* property */
			{
				const char *kb, *ke, *vb, *ve;
				if (!split_property(cb, ce, &kb, &ke, &vb, &ve)) {
					ini_free(ini);
					return err_set(err, ERR_USAGE,
					               "%s:%u: not a section, property or comment: "
					               "expected \"[name]\" or \"key = value\"",
					               name ? name : "", lineno);
				}
				if (!cur)
					continue; /* global property: ignored, as the SDK does */
				cur_prop = prop_set(cur, key_convert(kb, ke), value_convert(vb, ve),
				                    lineno);
				continue;
			}
		}

		/* indented line: sub-property or continuation of the last property */
		if (!cur || cur_prop == (size_t)-1)
			continue;
		{
			struct ini_prop *last = &cur->props[cur_prop];
			const char *kb, *ke, *vb, *ve;
			if (split_property(tb, te, &kb, &ke, &vb, &ve)) {
				if (!*last->value) {
					/* prop_set may move the array; cur_prop still names the parent */
					char *k = key_convert(kb, ke);
					char *full = xasprintf("%s.%s", last->key, k);
					free(k);
					prop_set(cur, full, value_convert(vb, ve), lineno);
				}
				continue;
			}
			if (*last->value) {
				size_t old = strlen(last->value), add = (size_t)(te - tb);
				char *v = xmalloc(old + 1 + add + 1);
				memcpy(v, last->value, old);
				v[old] = '\n';
				memcpy(v + old + 1, tb, add);
				v[old + 1 + add] = '\0';
				secure_free_str(last->value);
				last->value = v;
			}
		}
	}
	return 0;
}

int ini_load(struct ini *ini, const char *path, struct tf_error *err)
{
	struct buf b = BUF_INIT;
	int ret;

	ini_free(ini);
	ret = buf_read_file(&b, path, INI_MAX_FILE, err);
	if (!ret)
		ret = ini_parse(ini, b.data, b.len, path, err);
	buf_wipe(&b);
	return ret;
}

const struct ini_section *ini_section(const struct ini *ini, const char *name)
{
	if (!ini)
		return NULL;
	for (size_t i = 0; i < ini->nsections; i++)
		if (!strcmp(ini->sections[i].name, name))
			return &ini->sections[i];
	return NULL;
}

const struct ini_prop *ini_prop(const struct ini_section *s, const char *key)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->nprops; i++)
		if (!strcasecmp(s->props[i].key, key))
			return &s->props[i];
	return NULL;
}

const char *ini_get(const struct ini_section *s, const char *key)
{
	const struct ini_prop *p = ini_prop(s, key);
	return p ? p->value : NULL;
}
