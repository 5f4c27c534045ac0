#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void oom(void)
{
	fputs("tflock: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return buf_detach(&b, NULL);
}

void secure_zero(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

void secure_free(void *p, size_t n)
{
	if (!p)
		return;
	secure_zero(p, n);
	free(p);
}

void secure_free_str(char *s)
{
	if (s)
		secure_free(s, strlen(s));
}

const char *getenv_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

char buf_empty[1];

void buf_init(struct buf *b)
{
	b->data = buf_empty;
	b->len = 0;
	b->cap = 0;
}

void buf_free(struct buf *b)
{
	if (!b)
		return;
	if (b->cap)
		free(b->data);
	buf_init(b);
}

void buf_wipe(struct buf *b)
{
	if (!b)
		return;
	if (b->cap)
		secure_free(b->data, b->cap);
	buf_init(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = '\0';
}

void buf_grow(struct buf *b, size_t extra)
{
	size_t need;
	if (extra > SIZE_MAX - b->len - 1)
		oom();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->cap) {
		b->data = xrealloc(b->data, cap);
	} else {
		b->data = xmalloc(cap);
		b->data[0] = '\0';
	}
	b->cap = cap;
}

void buf_add(struct buf *b, const void *data, size_t len)
{
	if (!len)
		return;
	buf_grow(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	char probe[1];
	int n;
	va_copy(cp, ap);
	n = vsnprintf(probe, sizeof(probe), fmt, cp);
	va_end(cp);
	if (n < 0)
		oom();
	buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

/* Make room for extra more bytes without leaving a copy of the old ones in freed
 * memory (buf_grow's realloc would). */
static void grow_wiped(struct buf *b, size_t extra)
{
	struct buf bigger = BUF_INIT;
	if (b->cap && b->cap - b->len > extra)
		return;
	buf_grow(&bigger, b->len + extra);
	buf_add(&bigger, b->data, b->len);
	buf_wipe(b);
	*b = bigger;
}

int buf_read_file(struct buf *b, const char *path, size_t max, struct tf_error *err)
{
	return buf_read_file_opt(b, path, max, 0, err);
}

/* Read fd (path, for messages) to its end into the empty b: at most max bytes
 * under BUF_READ_HEAD, else ERR_USAGE past max. On failure b is wiped. */
static int read_fd(struct buf *b, int fd, const char *path, size_t max, int flags,
                   struct tf_error *err)
{
	int head = flags & BUF_READ_HEAD;
	ssize_t n = 0;
	for (;;) {
		size_t room;
		if (head && b->len == max)
			break;
		grow_wiped(b, 1);
		room = b->cap - b->len - 1;
		if (head && room > max - b->len)
			room = max - b->len;
		n = read(fd, b->data + b->len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		if (b->len > max) {
			buf_wipe(b);
			return err_set(err, ERR_USAGE, "\"%s\" is larger than %zu bytes", path,
			               max);
		}
	}
	if (n < 0) {
		int e = errno;
		buf_wipe(b);
		return err_set(err, ERR_SYSTEM, "cannot read \"%s\": %s", path, strerror(e));
	}
	return 0;
}

int buf_read_file_opt(struct buf *b, const char *path, size_t max, int flags, struct tf_error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | (flags & BUF_READ_NOFOLLOW ? O_NOFOLLOW : 0));
	int ret;

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return err_set(err, ERR_NOT_FOUND, "\"%s\" does not exist", path);
		return err_set(err, ERR_SYSTEM, "cannot open \"%s\": %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0)
		memset(&st, 0, sizeof(st)); /* read it anyway, growing as it comes */
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return err_set(err, ERR_SYSTEM, "cannot read \"%s\": is a directory", path);
	}
	/* one allocation for a regular file that stays as it is */
	if (S_ISREG(st.st_mode) && (size_t)st.st_size <= max)
		grow_wiped(b, (size_t)st.st_size + 1);
	else if (S_ISREG(st.st_mode) && (flags & BUF_READ_HEAD))
		grow_wiped(b, max + 1);
	ret = read_fd(b, fd, path, max, flags, err);
	close(fd);
	return ret;
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p;
	if (len)
		*len = b->len;
	if (!b->cap)
		p = xstrdup("");
	else
		p = b->data;
	buf_init(b);
	return p;
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;
	uint32_t v;

	if (c < 0x80) {
		if (cp)
			*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	v = (v << 6) | (s[1] & 0x3F);
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (cp)
		*cp = v;
	return len;
}

size_t utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

void buf_add_utf8(struct buf *b, uint32_t cp)
{
	char t[4];
	size_t n = utf8_encode(cp, t);
	buf_add(b, t, n);
}

void buf_add_json_string(struct buf *b, const char *str, int go_html)
{
	static const char hex[] = "0123456789abcdef", from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s), i = 0, start = 0;

	buf_addc(b, '"');
	while (i < n) {
		unsigned char c = s[i];
		const char *esc = NULL, *short_esc = c ? strchr(from, c) : NULL;
		char u[8];
		size_t len = 1;
		if (short_esc) {
			u[0] = '\\';
			u[1] = to[short_esc - from];
			u[2] = '\0';
			esc = u;
		} else if (c < 0x20 || (go_html ? c == '<' || c == '>' || c == '&' : c == 0x7F)) {
			snprintf(u, sizeof(u), "\\u00%c%c", hex[c >> 4], hex[c & 15]);
			esc = u;
		} else if (!go_html && c == '[' && i >= 2 && s[i - 1] == '#' && s[i - 2] == '#') {
			esc = "\\u005b"; /* no "##[" in our JSON: a runner's legacy command */
		} else if (c >= 0x80) {
			uint32_t cp = 0;
			len = utf8_decode(s + i, n - i, &cp);
			if (!len) {
				len = 1;
				esc = "\\ufffd";
			} else if (cp == 0x2028 || cp == 0x2029 ||
			           (!go_html && utf8_is_control(cp))) {
				snprintf(u, sizeof(u), "\\u%04x", (unsigned)cp);
				esc = u;
			}
		}
		if (esc) {
			buf_add(b, s + start, i - start);
			buf_adds(b, esc);
			start = i + len;
		}
		i += len;
	}
	buf_add(b, s + start, n - start);
	buf_addc(b, '"');
}

int utf8_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E ||
	       cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
