/*
 * buf — a growable, always NUL-terminated byte buffer.
 *
 * struct buf owns its memory: buf_init() sets it empty without allocating,
 * buf_free() releases it and leaves it empty again (safe on an empty or freed
 * buf, and buf_free(NULL) is a no-op). Allocation failure aborts the program
 * (xmalloc semantics): callers never check for it. buf_wipe() zeroes the bytes
 * before freeing, for buffers that held a secret.
 *
 * buf_read_file() is the one whole-file reader: it treats every file as if it
 * held a secret (credentials, tokens, shared config), so no byte of it is left
 * behind in freed memory, and it reports failures in a struct tf_error.
 *
 * Beside the buffer, the small helpers every module uses: allocation that
 * aborts on failure, the secret wipers, UTF-8 and JSON string encoding, and
 * getenv_nonempty().
 */
#ifndef TFLOCK_BUF_H
#define TFLOCK_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct buf {
	char *data; /* NUL-terminated; "" (static) when nothing is allocated */
	size_t len;
	size_t cap;
};

extern char buf_empty[1]; /* shared "" for empty bufs; never written */
#define BUF_INIT                                                                                   \
	{                                                                                          \
		buf_empty, 0, 0                                                                    \
	}

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_wipe(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the allocation */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
__attribute__((format(printf, 2, 3))) void buf_addf(struct buf *b, const char *fmt, ...);
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Hand the data over to the caller (malloc'd, never NULL) and reset b. */
char *buf_detach(struct buf *b, size_t *len);
/*
 * Read the whole file at path into b, which must be empty. 0 with the bytes in b
 * (NUL-terminated; the caller wipes b if they are secret). On failure b is wiped
 * and empty, and err says why, naming the file in quotes: ERR_NOT_FOUND (it does
 * not exist: ENOENT or ENOTDIR), ERR_SYSTEM (cannot open or read it, or it is a
 * directory), ERR_USAGE (larger than max bytes); err may be NULL. Every buffer
 * the bytes passed through is wiped before it is freed.
 */
int buf_read_file(struct buf *b, const char *path, size_t max, struct tf_error *err);
/* buf_read_file() with flags (0 is buf_read_file() itself), for small files read
 * in place of a fixed buffer: */
#define BUF_READ_NOFOLLOW 1 /* refuse a symbolic link (O_NOFOLLOW): ERR_SYSTEM */
#define BUF_READ_HEAD 2     /* a file larger than max: its first max bytes, not ERR_USAGE */
int buf_read_file_opt(struct buf *b, const char *path, size_t max, int flags, struct tf_error *err);

/* One UTF-8 code point from s (n > 0 bytes): its length in bytes, with *cp
 * set when cp is not NULL; 0 for a malformed, overlong, surrogate or
 * out-of-range sequence (the rules of Go's utf8.DecodeRune). */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Code point cp (at most U+10FFFF; the caller keeps surrogates out) as UTF-8
 * into out: the number of bytes written, 1 to 4. */
size_t utf8_encode(uint32_t cp, char out[4]);
/* Append cp as UTF-8 (see utf8_encode). */
void buf_add_utf8(struct buf *b, uint32_t cp);
/* Whether code point cp must never reach a terminal, a log or a CI runner as is:
 * C0 controls (NUL..US), DEL, C1 controls (U+0080..U+009F), the bidi controls
 * (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and the line and
 * paragraph separators U+2028/U+2029. The one list sanitize.c, the JSON writer
 * and the lock-body stripper share. */
int utf8_is_control(uint32_t cp);
/* The value of a hexadecimal digit (either case), or -1. */
int hex_value(int c);
/* s (NULL is "") as a JSON string literal. UTF-8 is kept; every byte of an
 * invalid sequence becomes \ufffd; '"', '\\', C0 controls and U+2028/U+2029 are
 * escaped. go_html: escape <, > and & too and leave DEL, byte for byte as Go's
 * encoding/json writes (the lock body). Otherwise (tflock's own JSON: report,
 * status --json) every utf8_is_control() code point is escaped as \uNNNN (DEL,
 * C1, bidi controls too), and the '[' of "##[" as \u005b, so that a JSON line
 * read by a CI runner can hold no raw control and no legacy "##[command]"; a
 * JSON decoder gets the original string back. Each character is escaped once. */
void buf_add_json_string(struct buf *b, const char *s, int go_html);

/* Allocation helpers that abort on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
__attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...);
/* Zero n bytes in a way the compiler cannot elide, then free. */
void secure_free(void *p, size_t n);
void secure_zero(void *p, size_t n);
/* The one secret-string wiper: zero the NUL-terminated s, then free it; NULL is a
 * no-op. For keys, tokens and anything that held one. */
void secure_free_str(char *s);

/* The value of the environment variable name, or NULL when it is unset or empty
 * (what every "is it set?" in tflock means). It points into the environment:
 * not to be freed, nor kept past a change of the environment. */
const char *getenv_nonempty(const char *name);

#endif
