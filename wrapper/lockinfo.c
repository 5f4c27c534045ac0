/*
 * lockinfo — the lock body. See lockinfo.h for the contract.
 *
 * The reader is a single pass over the bytes: a strict JSON scanner (Go's grammar,
 * iterative, so depth costs no C stack) that decodes the fields it knows and only
 * validates everything else. The first syntax error stops it; fields read before it
 * stay filled for display.
 */
#include "lockinfo.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/rand.h>

#include "rfc3339.h"

#define JSON_MAX_DEPTH 10000 /* Go encoding/json maxNestingDepth */
#define SNIP 40              /* bytes of a bad value quoted in a message */

/* ---------------------------------------------------------------- helpers */

static void set_owned(char **dst, char *v)
{
	free(*dst);
	*dst = v;
}

/* Quote up to SNIP bytes of s for a message: printable ASCII as is, the rest \xNN. */
static void snippet(char *out, size_t size, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, lim = n > SNIP ? SNIP : n;

	if (size == 0)
		return;
	/* cppcheck-suppress knownConditionTrueFalse ; false positive: 2.10 takes lim for 0 */
	for (size_t i = 0; i < lim && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	/* cppcheck-suppress knownConditionTrueFalse ; false positive, as above */
	if (n > lim && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ------------------------------------------------------------ time format */

int lockinfo_parse_time(const char *s, struct timespec *out)
{
	return rfc3339_parse(s, RFC3339_GO, out);
}

void lockinfo_format_created(const struct timespec *utc, char out[48])
{
	rfc3339_format(utc, out);
}

/* -------------------------------------------------------------------- ID */

void lockinfo_new_id(char out[37])
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1) {
		size_t got = 0;
		while (got < sizeof(r)) {
			ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fputs("tflock: no random source for a lock ID\n", stderr);
				abort();
			}
			got += (size_t)n;
		}
	}
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
	         r[13], r[14], r[15]);
}

/* ---------------------------------------------------------------- writer */

/* Append s as a JSON string the way Go's encoding/json (>= 1.22) writes it. */
static void go_json_string(struct buf *b, const char *str)
{
	buf_add_json_string(b, str, 1);
}

static void member(struct buf *b, const char *key, const char *val, int first)
{
	if (!first)
		buf_addc(b, ',');
	buf_addc(b, '"');
	buf_adds(b, key);
	buf_adds(b, "\":");
	go_json_string(b, val);
}

/* B14.1: the holder's CI job, only what is known */
static void cijob_members(struct buf *b, const struct lockinfo_cijob *cj)
{
	const struct {
		const char *key, *val;
	} m[] = { { "cip", cj->cip }, { "srv", cj->srv }, { "proj", cj->proj },
		  { "run", cj->run }, { "att", cj->att }, { "jid", cj->jid } };
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (m[i].val && *m[i].val)
			member(b, m[i].key, m[i].val, 0);
	if (cj->eph == 1)
		buf_adds(b, ",\"eph\":1");
}

int lockinfo_to_json(const struct lockinfo *li, struct buf *out)
{
	buf_reset(out);
	if (!li || !li->id || !*li->id || !li->created ||
	    lockinfo_parse_time(li->created, NULL) != 0)
		return ERR_INTERNAL;
	buf_addc(out, '{');
	member(out, "ID", li->id, 1);
	member(out, "Operation", li->operation, 0);
	member(out, "Info", li->info, 0);
	member(out, "Who", li->who, 0);
	member(out, "Version", li->version, 0);
	member(out, "Created", li->created, 0);
	member(out, "Path", li->path, 0);
	if (li->has_tflock) {
		const struct lockinfo_tflock *t = &li->tf;
		buf_addf(out, ",\"Tflock\":{\"v\":%d,\"lease\":%ld,\"seq\":%llu,\"pid\":%ld", t->v,
		         t->lease, t->seq, t->pid);
		member(out, "host", t->host, 0);
		member(out, "boot", t->boot_id, 0);
		member(out, "ci", t->ci, 0);
		member(out, "job", t->ci_job, 0);
		member(out, "pidns", t->pidns, 0);
		if (t->lease_ms > 0)
			buf_addf(out, ",\"lease_ms\":%ld", t->lease_ms);
		cijob_members(out, &t->cj);
		if (t->park.parked) {
			const struct lockinfo_park *p = &t->park;
			buf_adds(out, ",\"park\":{");
			member(out, "until", p->until, 1);
			buf_addf(out, ",\"for_ms\":%lld", p->for_ms);
			member(out, "note", p->note, 0);
			member(out, "by", p->by, 0);
			member(out, "tie", p->tie, 0);
			member(out, "jname", p->jname, 0);
			buf_addc(out, '}');
		}
		buf_addc(out, '}');
	}
	buf_addc(out, '}');
	return 0;
}

/* ---------------------------------------------------------------- scanner */

struct jp {
	const unsigned char *s, *p, *end;
	int failed;
	char err[300];
};

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && is_ws(*j->p))
		j->p++;
}

static int jp_fail(struct jp *j, const char *context)
{
	size_t off = (size_t)(j->p - j->s);
	if (j->failed)
		return -1;
	j->failed = 1;
	if (j->p >= j->end) {
		snprintf(j->err, sizeof(j->err),
		         "unexpected end of JSON input at byte %zu (truncated?)", off);
	} else if (*j->p == '\0') {
		snprintf(j->err, sizeof(j->err), "NUL byte at byte %zu, not JSON", off);
	} else {
		char ch[8];
		if (*j->p >= 0x20 && *j->p < 0x7F)
			snprintf(ch, sizeof(ch), "'%c'", *j->p);
		else
			snprintf(ch, sizeof(ch), "0x%02x", *j->p);
		snprintf(j->err, sizeof(j->err), "invalid character %s %s at byte %zu, not JSON",
		         ch, context, off);
	}
	return -1;
}

/* The 4 hex digits at p (n bytes available) or -1. */
static long hex4(const unsigned char *p, size_t n)
{
	long v = 0;
	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hex_value(p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

#define STR_HAD_NUL 1

/*
 * The string at j->p (which is '"'): validate it as Go's scanner does and, when out
 * is not NULL, decode it as Go's unquote does (bad UTF-8 and lone surrogates become
 * U+FFFD). *flags gets STR_HAD_NUL for a \u0000.
 */
static int jp_string(struct jp *j, struct buf *out, unsigned *flags)
{
	j->p++;
	for (;;) {
		if (j->p >= j->end)
			return jp_fail(j, "in string literal");
		unsigned char c = *j->p;
		if (c == '"') {
			j->p++;
			return 0;
		}
		if (c < 0x20)
			return jp_fail(j, "in string literal");
		if (c == '\\') {
			long rr;
			j->p++;
			if (j->p >= j->end)
				return jp_fail(j, "in string escape code");
			switch (*j->p) {
			case '"':
			case '\\':
			case '/':
				if (out)
					buf_addc(out, (char)*j->p);
				j->p++;
				continue;
			case 'b':
				rr = '\b';
				break;
			case 'f':
				rr = '\f';
				break;
			case 'n':
				rr = '\n';
				break;
			case 'r':
				rr = '\r';
				break;
			case 't':
				rr = '\t';
				break;
			case 'u':
				j->p++;
				rr = hex4(j->p, (size_t)(j->end - j->p));
				if (rr < 0) {
					while (j->p < j->end && hex_value(*j->p) >= 0)
						j->p++;
					return jp_fail(j, "in \\u hexadecimal character escape");
				}
				j->p += 3;
				if (rr >= 0xD800 && rr <= 0xDFFF) {
					const unsigned char *q = j->p + 1;
					size_t left = (size_t)(j->end - q);
					long lo = left >= 6 && q[0] == '\\' && q[1] == 'u'
					                  ? hex4(q + 2, left - 2)
					                  : -1;
					if (rr < 0xDC00 && lo >= 0xDC00 && lo <= 0xDFFF) {
						rr = 0x10000 + ((rr - 0xD800) << 10) +
						     (lo - 0xDC00);
						j->p += 6;
					} else {
						rr = 0xFFFD;
					}
				}
				if (rr == 0 && flags)
					*flags |= STR_HAD_NUL;
				break;
			default:
				return jp_fail(j, "in string escape code");
			}
			if (out)
				buf_add_utf8(out, (uint32_t)rr);
			j->p++;
			continue;
		}
		if (c < 0x80) {
			if (out)
				buf_addc(out, (char)c);
			j->p++;
			continue;
		}
		size_t len = utf8_decode(j->p, (size_t)(j->end - j->p), NULL);
		if (len == 0) {
			if (out)
				buf_add_utf8(out, 0xFFFD);
			j->p++;
		} else {
			if (out)
				buf_add(out, j->p, len);
			j->p += len;
		}
	}
}

static int is_digit(const struct jp *j)
{
	return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

/* A number; *is_int tells whether it had neither fraction nor exponent. */
static int jp_number(struct jp *j, int *is_int)
{
	*is_int = 1;
	if (*j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return jp_fail(j, "in numeric literal");
	if (*j->p == '0') {
		j->p++;
	} else if (*j->p >= '1' && *j->p <= '9') {
		while (is_digit(j))
			j->p++;
	} else {
		return jp_fail(j, "in numeric literal");
	}
	if (j->p < j->end && *j->p == '.') {
		*is_int = 0;
		j->p++;
		if (!is_digit(j))
			return jp_fail(j, "after decimal point in numeric literal");
		while (is_digit(j))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		*is_int = 0;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!is_digit(j))
			return jp_fail(j, "in exponent of numeric literal");
		while (is_digit(j))
			j->p++;
	}
	return 0;
}

static int jp_literal(struct jp *j)
{
	const char *w = *j->p == 't' ? "true" : *j->p == 'f' ? "false" : "null";
	for (size_t i = 0; w[i]; i++, j->p++)
		if (j->p >= j->end || *j->p != (unsigned char)w[i])
			return jp_fail(j, i ? "in literal" : "looking for beginning of value");
	return 0;
}

/*
 * Validate one value of any kind without keeping it, at nesting depth `depth`
 * (containers already open around it). Iterative: one byte of stack per level.
 */
static int jp_skip(struct jp *j, int depth)
{
	unsigned char *st = NULL;
	int n = 0, rc = -1;
	int isint;

	for (;;) {
		/* a value */
		jp_ws(j);
		if (j->p >= j->end) {
			jp_fail(j, "looking for beginning of value");
			goto out;
		}
		switch (*j->p) {
		case '{':
		case '[':
			if (depth + n + 1 > JSON_MAX_DEPTH) {
				snprintf(j->err, sizeof(j->err),
				         "JSON nested deeper than %d levels at byte %zu",
				         JSON_MAX_DEPTH, (size_t)(j->p - j->s));
				j->failed = 1;
				goto out;
			}
			if (!st)
				st = xmalloc(JSON_MAX_DEPTH + 1);
			st[n++] = *j->p;
			j->p++;
			jp_ws(j);
			if (j->p < j->end && *j->p == (st[n - 1] == '{' ? '}' : ']')) {
				j->p++;
				n--;
				break; /* an empty container is a complete value */
			}
			if (st[n - 1] == '{')
				goto key;
			continue;
		case '"':
			if (jp_string(j, NULL, NULL))
				goto out;
			break;
		case 't':
		case 'f':
		case 'n':
			if (jp_literal(j))
				goto out;
			break;
		default:
			if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
				if (jp_number(j, &isint))
					goto out;
				break;
			}
			jp_fail(j, "looking for beginning of value");
			goto out;
		}
		/* after a complete value: close containers or move to the next element */
		for (;;) {
			if (n == 0) {
				rc = 0;
				goto out;
			}
			jp_ws(j);
			if (j->p >= j->end) {
				jp_fail(j, "");
				goto out;
			}
			if (st[n - 1] == '{') {
				if (*j->p == ',') {
					j->p++;
					goto key;
				}
				if (*j->p == '}') {
					j->p++;
					n--;
					continue;
				}
				jp_fail(j, "after object key:value pair");
				goto out;
			}
			if (*j->p == ',') {
				j->p++;
				break;
			}
			if (*j->p == ']') {
				j->p++;
				n--;
				continue;
			}
			jp_fail(j, "after array element");
			goto out;
		}
		continue;
	key:
		jp_ws(j);
		if (j->p >= j->end || *j->p != '"') {
			jp_fail(j, "looking for beginning of object key string");
			goto out;
		}
		if (jp_string(j, NULL, NULL))
			goto out;
		jp_ws(j);
		if (j->p >= j->end || *j->p != ':') {
			jp_fail(j, "after object key");
			goto out;
		}
		j->p++;
	}
out:
	free(st);
	return rc;
}

static const char *kind_name(unsigned char c)
{
	switch (c) {
	case '{':
		return "an object";
	case '[':
		return "an array";
	case '"':
		return "a string";
	case 't':
	case 'f':
		return "a boolean";
	case 'n':
		return "null";
	default:
		return "a number";
	}
}

/*
 * Fold a decoded key the way Go's encoding/json does for field matching (ASCII
 * upper-cased, U+017F to S, U+212A to K) into out; returns -1 when the key has
 * any other non-ASCII character (it then cannot match one of our ASCII names).
 */
static int fold_key(const struct buf *key, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)key->data;
	size_t i = 0, o = 0;
	while (i < key->len) {
		uint32_t cp;
		size_t len = utf8_decode(s + i, key->len - i, &cp);
		char c;
		if (len == 0 || cp == 0) /* a \u0000 in a key never matches a name */
			return -1;
		if (cp >= 'a' && cp <= 'z')
			c = (char)(cp - 'a' + 'A');
		else if (cp < 0x80)
			c = (char)cp;
		else if (cp == 0x017F)
			c = 'S';
		else if (cp == 0x212A)
			c = 'K';
		else
			return -1;
		if (o + 1 >= size)
			return -1;
		out[o++] = c;
		i += len;
	}
	out[o] = '\0';
	return 0;
}

/* ------------------------------------------------------------ the reader */

enum field { F_NONE, F_ID, F_OPERATION, F_INFO, F_WHO, F_VERSION, F_CREATED, F_PATH, F_TFLOCK };

static const struct {
	const char *folded, *name;
	enum field f;
} fields[] = {
	{ "ID", "ID", F_ID },
	{ "OPERATION", "Operation", F_OPERATION },
	{ "INFO", "Info", F_INFO },
	{ "WHO", "Who", F_WHO },
	{ "VERSION", "Version", F_VERSION },
	{ "CREATED", "Created", F_CREATED },
	{ "PATH", "Path", F_PATH },
	{ "TFLOCK", "Tflock", F_TFLOCK },
};

enum tfield {
	T_NONE,
	T_V,
	T_LEASE,
	T_SEQ,
	T_PID,
	T_HOST,
	T_BOOT,
	T_CI,
	T_JOB,
	T_PIDNS,
	T_LEASE_MS,
	T_CIP, /* B14.1: optional, never a reason to call a body foreign */
	T_SRV,
	T_PROJ,
	T_RUN,
	T_ATT,
	T_JID,
	T_EPH,
	T_PARK, /* B14.4: an object, read by read_park() */
	T_LAST = T_PARK
};

static const struct {
	const char *folded, *name;
	enum tfield f;
} tfields[] = {
	{ "V", "v", T_V },
	{ "LEASE", "lease", T_LEASE },
	{ "SEQ", "seq", T_SEQ },
	{ "PID", "pid", T_PID },
	{ "HOST", "host", T_HOST },
	{ "BOOT", "boot", T_BOOT },
	{ "CI", "ci", T_CI },
	{ "JOB", "job", T_JOB },
	{ "PIDNS", "pidns", T_PIDNS },
	{ "LEASE_MS", "lease_ms", T_LEASE_MS },
	{ "CIP", "cip", T_CIP },
	{ "SRV", "srv", T_SRV },
	{ "PROJ", "proj", T_PROJ },
	{ "RUN", "run", T_RUN },
	{ "ATT", "att", T_ATT },
	{ "JID", "jid", T_JID },
	{ "EPH", "eph", T_EPH },
	{ "PARK", "park", T_PARK },
};

struct state {
	struct lockinfo *li;
	char type_err[300];    /* first LockInfo field of the wrong type (Go UnmarshalTypeError) */
	char created_err[300]; /* first Created Go's time.Time rejects */
	int created_seen;      /* a non-null Created string was read */
	char nul_field[16];    /* first field whose value holds \u0000 */
	/* the (last) Tflock part; within it, the last of duplicate keys wins */
	int tf_seen;                /* a non-null Tflock value was read */
	int park_object;            /* the (last) park value was an object */
	char tf_problem[200];       /* Tflock not an object */
	int have[T_LAST + 1];       /* field present (non-null) */
	char prob[T_LAST + 1][300]; /* what is wrong with the field's last value */
};

static void first_msg(char *dst, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void first_msg(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	if (dst[0])
		return;
	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

/* A JSON string value into *dst (NUL characters become U+FFFD and are noted). */
static int read_string(struct jp *j, struct state *st, const char *name, char **dst)
{
	struct buf v;
	unsigned flags = 0;

	buf_init(&v);
	if (jp_string(j, &v, &flags)) {
		buf_free(&v);
		return -1;
	}
	if (flags & STR_HAD_NUL) {
		struct buf clean;
		buf_init(&clean);
		for (size_t i = 0; i < v.len; i++)
			if (v.data[i])
				buf_addc(&clean, v.data[i]);
			else
				buf_add_utf8(&clean, 0xFFFD);
		buf_free(&v);
		v = clean;
		first_msg(st->nul_field, sizeof(st->nul_field), "%s", name);
	}
	set_owned(dst, buf_detach(&v, NULL));
	return 0;
}

/* A LockInfo string field: a string replaces it, null leaves it, anything else is
 * a type error (Terraform's Unmarshal fails). */
static int read_tf_field(struct jp *j, struct state *st, const char *name, char **dst)
{
	if (*j->p == '"')
		return read_string(j, st, name, dst);
	if (*j->p != 'n')
		first_msg(st->type_err, sizeof(st->type_err), "%s is %s, not a string", name,
		          kind_name(*j->p));
	return jp_skip(j, 1);
}

static int read_created(struct jp *j, struct state *st)
{
	const unsigned char *raw = j->p + 1;
	char *tmp;
	size_t rawlen;

	if (*j->p != '"') {
		if (*j->p != 'n')
			first_msg(st->created_err, sizeof(st->created_err),
			          "Created is %s, not an RFC 3339 time string", kind_name(*j->p));
		return jp_skip(j, 1);
	}
	if (read_string(j, st, "Created", &st->li->created))
		return -1;
	/* Go's time.Time.UnmarshalJSON parses the raw bytes between the quotes */
	rawlen = (size_t)(j->p - 1 - raw);
	tmp = xstrndup((const char *)raw, rawlen);
	if (strlen(tmp) != rawlen || lockinfo_parse_time(tmp, NULL) != 0) {
		char snip[SNIP * 4 + 8];
		snippet(snip, sizeof(snip), (const char *)raw, rawlen);
		first_msg(st->created_err, sizeof(st->created_err),
		          "Created \"%s\" is not an RFC 3339 time", snip);
	}
	free(tmp);
	st->created_seen = 1;
	return 0;
}

/* Parse the integer token [a, b) (JSON integer syntax already checked). */
static int token_ull(const unsigned char *a, const unsigned char *b, int *neg,
                     unsigned long long *v)
{
	unsigned long long x = 0;
	*neg = 0;
	if (a < b && *a == '-') {
		*neg = 1;
		a++;
	}
	for (; a < b; a++) {
		unsigned d = (unsigned)(*a - '0');
		if (x > (ULLONG_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

void lockinfo_park_free(struct lockinfo_park *p)
{
	free(p->until);
	free(p->note);
	free(p->by);
	free(p->tie);
	free(p->jname);
	memset(p, 0, sizeof(*p));
}

void lockinfo_cijob_free(struct lockinfo_cijob *cj)
{
	free(cj->cip);
	free(cj->srv);
	free(cj->proj);
	free(cj->run);
	free(cj->att);
	free(cj->jid);
	memset(cj, 0, sizeof(*cj));
}

static void tflock_reset(struct lockinfo *li, struct state *st)
{
	free(li->tf.host);
	free(li->tf.boot_id);
	free(li->tf.ci);
	free(li->tf.ci_job);
	free(li->tf.pidns);
	lockinfo_cijob_free(&li->tf.cj);
	lockinfo_park_free(&li->tf.park);
	memset(&li->tf, 0, sizeof(li->tf));
	li->has_tflock = 0;
	st->tf_problem[0] = '\0';
	st->park_object = 0;
	memset(st->have, 0, sizeof(st->have));
	memset(st->prob, 0, sizeof(st->prob));
}

static int read_tflock_number(struct jp *j, struct state *st, enum tfield f, const char *name)
{
	const unsigned char *a = j->p;
	struct lockinfo_tflock *tf = &st->li->tf;
	unsigned long long v = 0;
	int isint, neg = 0, big;
	char tok[SNIP * 4 + 8], *prob = st->prob[f];

	if (jp_number(j, &isint))
		return -1;
	snippet(tok, sizeof(tok), (const char *)a, (size_t)(j->p - a));
	big = isint ? token_ull(a, j->p, &neg, &v) : -1;
	prob[0] = '\0';
	st->have[f] = 1;
	switch (f) {
	case T_V:
		if (isint && !big && !neg && v <= INT_MAX)
			tf->v = (int)v;
		else
			tf->v = -1;
		if (tf->v != LOCKINFO_VERSION && tf->v != LOCKINFO_VERSION_PARKED)
			snprintf(prob, sizeof(st->prob[f]), "unknown tflock protocol version %s",
			         tok);
		break;
	case T_LEASE:
		tf->lease = isint && !big && v <= LONG_MAX ? (neg ? -(long)v : (long)v) : 0;
		if (!isint)
			snprintf(prob, sizeof(st->prob[f]),
			         "tflock lease %s is not a whole number of seconds", tok);
		else if (big || neg || v < (unsigned long long)LOCKINFO_LEASE_MIN ||
		         v > (unsigned long long)LOCKINFO_LEASE_MAX)
			snprintf(prob, sizeof(st->prob[f]),
			         "tflock lease %s s is out of range (%ld to %ld s)", tok,
			         LOCKINFO_LEASE_MIN, LOCKINFO_LEASE_MAX);
		break;
	case T_LEASE_MS:
		tf->lease_ms = isint && !big && !neg && v >= 1 &&
		                               v <= (unsigned long long)LOCKINFO_LEASE_MS_MAX
		                       ? (long)v
		                       : 0;
		if (!tf->lease_ms)
			snprintf(prob, sizeof(st->prob[f]),
			         "tflock lease_ms %s is not a whole number of ms in 1..%ld", tok,
			         LOCKINFO_LEASE_MS_MAX);
		break;
	default: /* seq, pid */
		if (!isint || big || neg || (f == T_PID && v > INT_MAX)) {
			snprintf(prob, sizeof(st->prob[f]),
			         "tflock %s %s is not a non-negative whole number", name, tok);
			break;
		}
		if (f == T_SEQ)
			tf->seq = v;
		else
			tf->pid = (long)v;
	}
	return 0;
}

/* Step through an object whose '{' is at j->p, *more starting at 0: 1 with the
 * next member's key in key and j->p at its value, 0 past the closing '}', or
 * -1 on a syntax error (with Go's message). Call again after the value. */
static int jp_member(struct jp *j, struct buf *key, int *more)
{
	if (!*more) {
		j->p++;
		jp_ws(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return 0;
		}
		*more = 1;
	} else {
		jp_ws(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return 0;
		}
		if (j->p >= j->end || *j->p != ',') {
			jp_fail(j, "after object key:value pair");
			return -1;
		}
		j->p++;
		jp_ws(j);
	}
	if (j->p >= j->end || *j->p != '"') {
		jp_fail(j, "looking for beginning of object key string");
		return -1;
	}
	buf_reset(key);
	if (jp_string(j, key, NULL))
		return -1;
	jp_ws(j);
	if (j->p >= j->end || *j->p != ':') {
		jp_fail(j, "after object key");
		return -1;
	}
	j->p++;
	jp_ws(j);
	if (j->p >= j->end) {
		jp_fail(j, "looking for beginning of value");
		return -1;
	}
	return 1;
}

/* B14.1's keys: a string (eph: the number 1) is kept, any other value is absent */
static int read_cijob(struct jp *j, struct state *st, enum tfield f, const char *name)
{
	struct lockinfo_cijob *cj = &st->li->tf.cj;
	char **dst = f == T_CIP    ? &cj->cip
	             : f == T_SRV  ? &cj->srv
	             : f == T_PROJ ? &cj->proj
	             : f == T_RUN  ? &cj->run
	             : f == T_ATT  ? &cj->att
	                           : &cj->jid;
	if (f == T_EPH) {
		const unsigned char *a = j->p;
		int isint;
		if (*j->p != '-' && (*j->p < '0' || *j->p > '9'))
			return jp_skip(j, 2);
		if (jp_number(j, &isint))
			return -1;
		cj->eph = isint && j->p - a == 1 && *a == '1';
		return 0;
	}
	if (*j->p == '"') {
		char fname[24];
		snprintf(fname, sizeof(fname), "Tflock.%s", name);
		return read_string(j, st, fname, dst);
	}
	free(*dst);
	*dst = NULL;
	return jp_skip(j, 2);
}

/* B14.4's "park" object: its own keys, exactly; the last of duplicates wins */
static int read_park(struct jp *j, struct state *st)
{
	struct lockinfo_park *p = &st->li->tf.park;
	struct buf key;
	int rc, more = 0;
	lockinfo_park_free(p);
	st->park_object = 0;
	if (*j->p != '{')
		return jp_skip(j, 2);
	st->park_object = 1;
	buf_init(&key);
	while ((rc = jp_member(j, &key, &more)) > 0) {
		const char *k = key.data ? key.data : "";
		char **dst = !strcmp(k, "until")   ? &p->until
		             : !strcmp(k, "note")  ? &p->note
		             : !strcmp(k, "by")    ? &p->by
		             : !strcmp(k, "tie")   ? &p->tie
		             : !strcmp(k, "jname") ? &p->jname
		                                   : NULL;
		if (dst && *j->p == '"') {
			if (read_string(j, st, "Tflock.park", dst))
				break;
		} else if (!strcmp(k, "for_ms") &&
		           (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
			const unsigned char *a = j->p;
			unsigned long long v = 0;
			int isint, neg = 0;
			if (jp_number(j, &isint))
				break;
			p->for_ms = isint && !token_ull(a, j->p, &neg, &v) && !neg &&
			                            v <= (unsigned long long)LOCKINFO_PARK_MS_MAX
			                    ? (long long)v
			                    : -1;
		} else if (jp_skip(j, 3)) {
			break;
		}
	}
	buf_free(&key);
	return rc < 0 || j->failed ? -1 : 0;
}

/* A v 2 body is parked only with a valid park (B14.4) */
static int park_valid(const struct state *st, const struct lockinfo_park *p)
{
	return st->park_object && p->until && lockinfo_parse_time(p->until, NULL) == 0 &&
	       p->for_ms >= 1 && p->tie && (!strcmp(p->tie, "run") || !strcmp(p->tie, "none"));
}

static int read_tflock(struct jp *j, struct state *st)
{
	struct lockinfo *li = st->li;
	struct buf key;
	int rc = -1, more = 0;

	if (*j->p == 'n') /* null: Go leaves the field as it was */
		return jp_literal(j);
	tflock_reset(li, st);
	st->tf_seen = 1;
	if (*j->p != '{') {
		first_msg(st->tf_problem, sizeof(st->tf_problem), "Tflock is %s, not an object",
		          kind_name(*j->p));
		return jp_skip(j, 1);
	}
	li->has_tflock = 1;
	buf_init(&key);
	while ((rc = jp_member(j, &key, &more)) > 0) {
		char folded[16];
		enum tfield f = T_NONE;
		const char *name = "";

		rc = -1;
		if (fold_key(&key, folded, sizeof(folded)) == 0)
			for (size_t i = 0; i < sizeof(tfields) / sizeof(tfields[0]); i++)
				if (!strcmp(folded, tfields[i].folded)) {
					f = tfields[i].f;
					name = tfields[i].name;
				}
		if (f == T_NONE) {
			if (jp_skip(j, 2))
				goto out;
		} else if (*j->p == 'n') { /* null leaves the field as it was */
			if (jp_literal(j))
				goto out;
		} else if (f == T_PARK) {
			if (read_park(j, st))
				goto out;
		} else if (f >= T_CIP) {
			if (read_cijob(j, st, f, name))
				goto out;
		} else if (f == T_V || f == T_LEASE || f == T_SEQ || f == T_PID ||
		           f == T_LEASE_MS) {
			if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
				if (read_tflock_number(j, st, f, name))
					goto out;
			} else {
				st->have[f] = 1;
				snprintf(st->prob[f], sizeof(st->prob[f]),
				         "tflock %s is %s, not a number", name, kind_name(*j->p));
				if (jp_skip(j, 2))
					goto out;
			}
		} else {
			char **dst = f == T_HOST   ? &li->tf.host
			             : f == T_BOOT ? &li->tf.boot_id
			             : f == T_CI   ? &li->tf.ci
			             : f == T_JOB  ? &li->tf.ci_job
			                           : &li->tf.pidns;
			st->have[f] = 1;
			if (*j->p == '"') {
				char fname[24];
				snprintf(fname, sizeof(fname), "Tflock.%s", name);
				st->prob[f][0] = '\0';
				if (read_string(j, st, fname, dst))
					goto out;
			} else {
				snprintf(st->prob[f], sizeof(st->prob[f]),
				         "tflock %s is %s, not a string", name, kind_name(*j->p));
				if (jp_skip(j, 2))
					goto out;
			}
		}
	}
out:
	buf_free(&key);
	return rc;
}

/* The top-level object's members. */
static int read_object(struct jp *j, struct state *st)
{
	struct lockinfo *li = st->li;
	struct buf key;
	int rc, more = 0;

	buf_init(&key);
	while ((rc = jp_member(j, &key, &more)) > 0) {
		char folded[16];
		enum field f = F_NONE;
		const char *name = "";

		if (fold_key(&key, folded, sizeof(folded)) == 0)
			for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
				if (!strcmp(folded, fields[i].folded)) {
					f = fields[i].f;
					name = fields[i].name;
				}
		switch (f) {
		case F_ID:
			rc = read_tf_field(j, st, name, &li->id);
			break;
		case F_OPERATION:
			rc = read_tf_field(j, st, name, &li->operation);
			break;
		case F_INFO:
			rc = read_tf_field(j, st, name, &li->info);
			break;
		case F_WHO:
			rc = read_tf_field(j, st, name, &li->who);
			break;
		case F_VERSION:
			rc = read_tf_field(j, st, name, &li->version);
			break;
		case F_PATH:
			rc = read_tf_field(j, st, name, &li->path);
			break;
		case F_CREATED:
			rc = read_created(j, st);
			break;
		case F_TFLOCK:
			rc = read_tflock(j, st);
			break;
		default:
			rc = jp_skip(j, 1);
		}
		if (rc)
			break;
	}
	buf_free(&key);
	return rc;
}

void lockinfo_init(struct lockinfo *li)
{
	if (li)
		memset(li, 0, sizeof(*li));
}

void lockinfo_free(struct lockinfo *li)
{
	if (!li)
		return;
	free(li->id);
	free(li->operation);
	free(li->info);
	free(li->who);
	free(li->version);
	free(li->created);
	free(li->path);
	free(li->tf.host);
	free(li->tf.boot_id);
	free(li->tf.ci);
	free(li->tf.ci_job);
	free(li->tf.pidns);
	lockinfo_cijob_free(&li->tf.cj);
	lockinfo_park_free(&li->tf.park);
	lockinfo_init(li);
}

static char *dup_opt(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void lockinfo_copy(struct lockinfo *dst, const struct lockinfo *src)
{
	lockinfo_free(dst);
	*dst = *src;
	dst->id = dup_opt(src->id);
	dst->operation = dup_opt(src->operation);
	dst->info = dup_opt(src->info);
	dst->who = dup_opt(src->who);
	dst->version = dup_opt(src->version);
	dst->created = dup_opt(src->created);
	dst->path = dup_opt(src->path);
	dst->tf.host = dup_opt(src->tf.host);
	dst->tf.boot_id = dup_opt(src->tf.boot_id);
	dst->tf.ci = dup_opt(src->tf.ci);
	dst->tf.ci_job = dup_opt(src->tf.ci_job);
	dst->tf.pidns = dup_opt(src->tf.pidns);
	dst->tf.cj.cip = dup_opt(src->tf.cj.cip);
	dst->tf.cj.srv = dup_opt(src->tf.cj.srv);
	dst->tf.cj.proj = dup_opt(src->tf.cj.proj);
	dst->tf.cj.run = dup_opt(src->tf.cj.run);
	dst->tf.cj.att = dup_opt(src->tf.cj.att);
	dst->tf.cj.jid = dup_opt(src->tf.cj.jid);
	dst->tf.park.until = dup_opt(src->tf.park.until);
	dst->tf.park.note = dup_opt(src->tf.park.note);
	dst->tf.park.by = dup_opt(src->tf.park.by);
	dst->tf.park.tie = dup_opt(src->tf.park.tie);
	dst->tf.park.jname = dup_opt(src->tf.park.jname);
}

static void fill_empty(char **s)
{
	if (!*s)
		*s = xstrdup("");
}

static int classify(struct lockinfo *li, struct tf_error *err, int cls, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int classify(struct lockinfo *li, struct tf_error *err, int cls, const char *fmt, ...)
{
	fill_empty(&li->id);
	fill_empty(&li->operation);
	fill_empty(&li->info);
	fill_empty(&li->who);
	fill_empty(&li->version);
	fill_empty(&li->created);
	fill_empty(&li->path);
	fill_empty(&li->tf.host);
	fill_empty(&li->tf.boot_id);
	fill_empty(&li->tf.ci);
	fill_empty(&li->tf.ci_job);
	fill_empty(&li->tf.pidns);
	fill_empty(&li->tf.cj.cip);
	fill_empty(&li->tf.cj.srv);
	fill_empty(&li->tf.cj.proj);
	fill_empty(&li->tf.cj.run);
	fill_empty(&li->tf.cj.att);
	fill_empty(&li->tf.cj.jid);
	fill_empty(&li->tf.park.until);
	fill_empty(&li->tf.park.note);
	fill_empty(&li->tf.park.by);
	fill_empty(&li->tf.park.tie);
	fill_empty(&li->tf.park.jname);
	if (err) {
		err_clear(err);
		if (cls == LOCKINFO_MALFORMED)
			err->kind = ERR_PARSE;
		if (fmt) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
			va_end(ap);
		}
	}
	return cls;
}

int lockinfo_parse(const char *data, size_t len, struct lockinfo *out, struct tf_error *err)
{
	struct state st;
	struct jp j;
	size_t bad_utf8 = SIZE_MAX;
	unsigned char top = 0;

	lockinfo_free(out);
	if (!data)
		len = 0;
	if (len > LOCKINFO_MAX_BODY)
		return classify(
		        out, err, LOCKINFO_MALFORMED,
		        "lock body is %zu bytes, more than the %d bytes a lock body may have", len,
		        LOCKINFO_MAX_BODY);
	if (len == 0)
		return classify(out, err, LOCKINFO_MALFORMED, "empty lock body");

	memset(&st, 0, sizeof(st));
	st.li = out;
	memset(&j, 0, sizeof(j));
	j.s = j.p = (const unsigned char *)data;
	j.end = j.s + len;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_decode(j.s + i, len - i, NULL);
		if (n == 0) {
			bad_utf8 = i;
			break;
		}
		i += n;
	}

	jp_ws(&j);
	if (j.p < j.end)
		top = *j.p;
	if (top == '{') {
		read_object(&j, &st);
	} else {
		jp_skip(&j, 0);
	}
	if (!j.failed) {
		jp_ws(&j);
		if (j.p < j.end)
			jp_fail(&j, "after top-level value");
	}

	if (j.failed)
		return classify(out, err, LOCKINFO_MALFORMED, "%s", j.err);
	if (top != '{')
		return classify(out, err, LOCKINFO_MALFORMED, "lock body is %s, not a JSON object",
		                kind_name(top));
	if (st.type_err[0])
		return classify(out, err, LOCKINFO_MALFORMED, "%s", st.type_err);
	if (st.created_err[0])
		return classify(out, err, LOCKINFO_MALFORMED, "%s", st.created_err);
	if (!out->id)
		return classify(out, err, LOCKINFO_MALFORMED, "lock body has no ID");
	if (!out->id[0])
		return classify(out, err, LOCKINFO_MALFORMED, "lock body has an empty ID");

	/* Terraform can use it. Is it one of ours, and one we understand? */
	if (bad_utf8 != SIZE_MAX)
		return classify(out, err, LOCKINFO_FOREIGN, "invalid UTF-8 at byte %zu", bad_utf8);
	if (st.nul_field[0])
		return classify(out, err, LOCKINFO_FOREIGN, "NUL character (\\u0000) in %s",
		                st.nul_field);
	if (!st.tf_seen)
		return classify(out, err, LOCKINFO_FOREIGN,
		                "no Tflock part: a plain Terraform or OpenTofu lock");
	if (!out->has_tflock)
		return classify(out, err, LOCKINFO_FOREIGN, "%s", st.tf_problem);
	if (!st.have[T_V])
		return classify(out, err, LOCKINFO_FOREIGN, "Tflock part has no protocol version");
	for (int f = T_V; f <= T_LAST; f++)
		if (st.prob[f][0])
			return classify(out, err, LOCKINFO_FOREIGN, "%s", st.prob[f]);
	if (!st.have[T_LEASE] || !st.have[T_SEQ] || !st.have[T_PID])
		return classify(out, err, LOCKINFO_FOREIGN, "Tflock part has no %s",
		                !st.have[T_LEASE] ? "lease"
		                : !st.have[T_SEQ] ? "seq"
		                                  : "pid");
	if (!st.created_seen)
		return classify(out, err, LOCKINFO_FOREIGN, "lock body has no Created time");
	if (out->tf.v == LOCKINFO_VERSION_PARKED) {
		if (!park_valid(&st, &out->tf.park))
			return classify(
			        out, err, LOCKINFO_FOREIGN,
			        "a parked lock (tflock protocol version 2) without a valid park");
		out->tf.park.parked = 1;
	} else {
		lockinfo_park_free(&out->tf.park); /* only a v 2 body is parked */
	}
	return classify(out, err, LOCKINFO_TFLOCK, NULL);
}
