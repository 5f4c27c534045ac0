/*
 * dur — parse and print option values. See dur.h.
 */
#include "dur.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define EXAMPLES "use e.g. 90, 90s, 5m, 1h30m or 1500ms"

/* The value as it may appear in a message: printable ASCII, the rest \xNN, cut. */
static void quote(char *out, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;
	int more = 0;

	/* cppcheck-suppress arrayIndexOutOfBoundsCond ; s is NUL-terminated */
	for (i = 0; s[i]; i++) {
		if (i >= 40 || o + 5 >= size) {
			more = 1;
			break;
		}
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
	if (more && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static int bad_dur(struct tf_error *err, const char *s, const char *why)
{
	char q[200];
	quote(q, sizeof(q), s);
	return err_set(err, ERR_USAGE, "invalid duration \"%s\": %s (%s)", q, why, EXAMPLES);
}

/* Digits at *p into *v (unsigned, overflow checked). Returns the count, or -1. */
static int digits(const char **p, uint64_t *v)
{
	int n = 0;
	*v = 0;
	while (**p >= '0' && **p <= '9') {
		unsigned d = (unsigned)(**p - '0');
		if (*v > (UINT64_MAX - d) / 10)
			return -1;
		*v = *v * 10 + d;
		(*p)++;
		n++;
	}
	return n;
}

static int bad_go(struct tf_error *err, const char *s, const char *why)
{
	char q[200];
	quote(q, sizeof(q), s);
	return err_set(err, ERR_USAGE,
	               "invalid duration \"%s\": %s (terraform reads Go durations: e.g. 90s, 5m, "
	               "1h30m)",
	               q, why);
}

int dur_parse_go(const char *s, int64_t *out_ms, struct tf_error *err)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		/* longer names first where one is a prefix of another */
		{ "ns", 1 },
		{ "us", 1000 },
		{ "\xc2\xb5s", 1000 }, /* U+00B5 micro sign */
		{ "\xce\xbcs", 1000 }, /* U+03BC Greek mu */
		{ "ms", 1000000 },
		{ "s", 1000000000ULL },
		{ "m", 60000000000ULL },
		{ "h", 3600000000000ULL },
	};
	const uint64_t limit = (uint64_t)INT64_MAX;
	const char *p = s;
	uint64_t total = 0;
	int neg = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!strcmp(p, "0")) {
		*out_ms = 0;
		return 0;
	}
	if (!*p)
		return bad_go(err, s, "no number");
	while (*p) {
		uint64_t v, frac = 0, scale = 1, unit = 0;
		const char *q = p;
		int nint, nfrac = 0;
		size_t ulen = 0;

		nint = digits(&p, &v);
		if (nint < 0)
			return bad_go(err, s, "too large");
		if (*p == '.') {
			p++;
			for (; *p >= '0' && *p <= '9'; p++, nfrac++) {
				if (scale > UINT64_MAX / 100)
					continue; /* precision beyond 10^-18 is dropped, as Go does */
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		}
		if (nint == 0 && nfrac == 0)
			return bad_go(err, s, *q == '.' ? "a lone '.'" : "a unit without a number");
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].name);
			if (!strncmp(p, units[i].name, n) && n > ulen) {
				ulen = n;
				unit = units[i].ns;
			}
		}
		if (!ulen)
			return bad_go(
			        err, s,
			        *p ? "unknown unit (ns, us, ms, s, m, h)"
			           : "a number needs a unit: terraform refuses a bare number");
		p += ulen;
		if (v > limit / unit)
			return bad_go(err, s, "too large");
		v *= unit;
		if (frac) {
			/* whole part of frac * unit / scale, without overflow */
			uint64_t add = (uint64_t)((long double)frac * ((long double)unit / scale));
			v += add;
			if (v > limit)
				return bad_go(err, s, "too large");
		}
		if (total > limit - v)
			return bad_go(err, s, "too large");
		total += v;
	}
	{
		int64_t ms = (int64_t)(total / 1000000 + (total % 1000000 ? 1 : 0));
		*out_ms = neg ? -ms : ms;
	}
	return 0;
}

int dur_parse(const char *s, int64_t *out_ms, struct tf_error *err)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 } };
	const char *p = s;
	uint64_t total = 0;
	int last = -1, parts = 0;

	if (!s || !*s)
		return bad_dur(err, s ? s : "", "empty");
	if (strpbrk(s, " \t\n\r\v\f"))
		return bad_dur(err, s, "spaces are not allowed");
	if (*s == '-')
		return bad_dur(err, s, "negative durations are not allowed");
	if (*s == '+')
		return bad_dur(err, s, "no sign is allowed");

	while (*p) {
		uint64_t whole, frac = 0, scale = 1, part;
		const char *fstart = NULL;
		int nd, u;
		const char *ustart;

		nd = digits(&p, &whole);
		if (nd < 0)
			return bad_dur(err, s, "too large");
		if (nd == 0)
			return bad_dur(err, s,
			               *p == '.' ? "a digit must come before the decimal point"
			                         : "a number must come before each unit");
		if (*p == '.') {
			int nf = 0, sig = 0;
			fstart = ++p;
			while (*p >= '0' && *p <= '9') {
				if (*p != '0')
					sig = nf + 1; /* digits up to the last non-zero one */
				nf++;
				p++;
			}
			if (nf == 0)
				return bad_dur(err, s, "a digit must follow the decimal point");
			/* a unit is at most 2^7 * 5^5 ms, so a fraction with more than 7
			 * significant digits is never a whole number of milliseconds */
			if (sig > 9)
				return bad_dur(err, s, "finer than a millisecond");
			for (int i = 0; i < sig; i++) {
				frac = frac * 10 + (uint64_t)(fstart[i] - '0');
				scale *= 10;
			}
		}
		ustart = p;
		while (*p && !(*p >= '0' && *p <= '9') && *p != '.')
			p++;
		if (p == ustart) {
			if (*p == '.')
				return bad_dur(err, s, "only one decimal point per number");
			if (parts == 0 && !*p) /* a bare number: seconds */
				u = 2;
			else
				return bad_dur(err, s, "a number without a unit must stand alone");
		} else {
			u = -1;
			for (int i = 0; i < 4; i++)
				if ((size_t)(p - ustart) == strlen(units[i].name) &&
				    !strncmp(ustart, units[i].name, (size_t)(p - ustart)))
					u = i;
			if (u < 0) {
				char why[160], q[100], unit[21];
				size_t ul = (size_t)(p - ustart) < 20 ? (size_t)(p - ustart) : 20;
				memcpy(unit, ustart, ul);
				unit[ul] = '\0';
				quote(q, sizeof(q), unit);
				snprintf(why, sizeof(why),
				         "unknown unit \"%s\" (units: h, m, s, ms)", q);
				return bad_dur(err, s, why);
			}
			if (u <= last)
				return bad_dur(err, s,
				               "units must go from largest to smallest, each once "
				               "(h, m, s, ms)");
		}
		last = u;
		parts++;
		if (whole > UINT64_MAX / units[u].ms)
			return bad_dur(err, s, "too large");
		part = whole * units[u].ms;
		if (frac) { /* frac < 1e9, unit <= 3.6e6: no overflow */
			uint64_t num = frac * units[u].ms;
			if (num % scale)
				return bad_dur(err, s, "finer than a millisecond");
			if (part > UINT64_MAX - num / scale)
				return bad_dur(err, s, "too large");
			part += num / scale;
		}
		if (part > (uint64_t)INT64_MAX - total)
			return bad_dur(err, s, "too large");
		total += part;
	}
	*out_ms = (int64_t)total;
	return 0;
}

int num_parse(const char *s, long min, long max, long *out, struct tf_error *err)
{
	char q[200];
	const char *p = s;
	unsigned long v = 0, lim;
	int neg = 0;

	if (s && *p == '-') {
		neg = 1;
		p++;
	}
	if (!s || !(*p >= '0' && *p <= '9')) {
		quote(q, sizeof(q), s ? s : "");
		return err_set(err, ERR_USAGE,
		               "invalid number \"%s\": expected a whole number from %ld to %ld", q,
		               min, max);
	}
	lim = neg ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (lim - d) / 10) {
			while (*p >= '0' && *p <= '9')
				p++;
			if (*p)
				break;
			quote(q, sizeof(q), s);
			return err_set(err, ERR_USAGE,
			               "number \"%s\" is out of range: it must be from %ld to %ld",
			               q, min, max);
		}
		v = v * 10 + d;
	}
	if (*p) {
		quote(q, sizeof(q), s);
		return err_set(err, ERR_USAGE,
		               "invalid number \"%s\": expected a whole number from %ld to %ld", q,
		               min, max);
	}
	long x = neg ? (v == (unsigned long)LONG_MAX + 1 ? LONG_MIN : -(long)v) : (long)v;
	if (x < min || x > max) {
		quote(q, sizeof(q), s);
		return err_set(err, ERR_USAGE,
		               "number \"%s\" is out of range: it must be from %ld to %ld", q, min,
		               max);
	}
	*out = x;
	return 0;
}

int bool_parse(const char *s, int *out, struct tf_error *err)
{
	static const char *const yes[] = { "1", "true", "yes" }, *const no[] = { "0", "false",
		                                                                 "no" };
	char q[200];

	for (size_t i = 0; s && i < 3; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	quote(q, sizeof(q), s ? s : "");
	return err_set(err, ERR_USAGE,
	               "invalid boolean \"%s\": use true or false, yes or no, 1 or 0", q);
}

void dur_format(int64_t ms, char *buf, size_t size)
{
	uint64_t v, h, m, rest;
	char tmp[64];
	size_t o = 0;

	if (!buf || size == 0)
		return;
	if (ms < 0) {
		tmp[o++] = '-';
		v = (uint64_t)(-(ms + 1)) + 1; /* INT64_MIN too */
	} else {
		v = (uint64_t)ms;
	}
	if (v == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	if (v < 1000) {
		snprintf(tmp + o, sizeof(tmp) - o, "%llums", (unsigned long long)v);
		snprintf(buf, size, "%s", tmp);
		return;
	}
	h = v / 3600000;
	m = v / 60000 % 60;
	rest = v % 60000;
	if (h)
		o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "%lluh", (unsigned long long)h);
	if (m)
		o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "%llum", (unsigned long long)m);
	if (rest) {
		o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "%llu",
		                      (unsigned long long)(rest / 1000));
		if (rest % 1000) {
			char frac[8];
			int last = 3;
			snprintf(frac, sizeof(frac), ".%03llu", (unsigned long long)(rest % 1000));
			while (frac[last] == '0')
				frac[last--] = '\0';
			o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "%s", frac);
		}
		snprintf(tmp + o, sizeof(tmp) - o, "s");
	}
	snprintf(buf, size, "%s", tmp);
}
