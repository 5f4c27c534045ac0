/*
 * rfc3339 — the one RFC 3339 time parser and writer. See rfc3339.h.
 */
#include "rfc3339.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct fields {
	int year, mon, day, hour, min, sec;
};

static int is_leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12; a day past
 * the month's end counts on into the next). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;
	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n ASCII digits at s (stops at a NUL): 0 and *v, or -1. */
static int digits(const char *s, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS" at s (at least 20 bytes long), range-checked. */
static int parse_fields(const char *s, int aws, struct fields *f)
{
	int sep = s[10] == 'T' || (aws && (s[10] == 't' || s[10] == ' '));
	if (digits(s, 4, &f->year) || s[4] != '-' || digits(s + 5, 2, &f->mon) || s[7] != '-' ||
	    digits(s + 8, 2, &f->day) || !sep || digits(s + 11, 2, &f->hour) || s[13] != ':' ||
	    digits(s + 14, 2, &f->min) || s[16] != ':' || digits(s + 17, 2, &f->sec))
		return -1;
	if (f->mon < 1 || f->mon > 12 || f->day < 1 || f->hour > 23 || f->min > 59)
		return -1;
	if (f->day > (aws ? 31 : days_in_month(f->year, f->mon)) || f->sec > (aws ? 60 : 59))
		return -1;
	return 0;
}

/* An optional ".d+" at p: what follows it, with *nsec set; NULL for a '.'
 * without a digit. */
static const char *parse_fraction(const char *p, long *nsec)
{
	int n = 0;
	*nsec = 0;
	if (p[0] != '.')
		return p;
	if (p[1] < '0' || p[1] > '9')
		return NULL;
	for (p++; *p >= '0' && *p <= '9'; p++, n++)
		if (n < 9)
			*nsec = *nsec * 10 + (*p - '0');
	for (; n < 9; n++)
		*nsec *= 10;
	return p;
}

/* The zone, all of the rest of the string: 0 and its offset east of UTC in
 * seconds, or -1. */
static int parse_zone(const char *p, int aws, int64_t *off)
{
	size_t n = strlen(p);
	int oh, om;

	*off = 0;
	if (!strcmp(p, "Z") || (aws && (!strcmp(p, "z") || !strcmp(p, "UTC"))))
		return 0;
	if (p[0] != '+' && p[0] != '-')
		return -1;
	if (n == 6 && p[3] == ':' && !digits(p + 1, 2, &oh) && !digits(p + 4, 2, &om))
		; /* +hh:mm */
	else if (aws && n == 5 && !digits(p + 1, 2, &oh) && !digits(p + 3, 2, &om))
		; /* +hhmm */
	else
		return -1;
	if (oh > 23 || om > 59)
		return -1;
	*off = (int64_t)(oh * 60 + om) * 60 * (p[0] == '-' ? -1 : 1);
	return 0;
}

int rfc3339_parse(const char *s, enum rfc3339_dialect dialect, struct timespec *out)
{
	int aws = dialect == RFC3339_AWS;
	struct fields f;
	const char *p;
	int64_t off, t;
	long nsec;

	if (!s || strlen(s) < 20 || parse_fields(s, aws, &f))
		return -1;
	p = parse_fraction(s + 19, &nsec);
	if (!p || parse_zone(p, aws, &off))
		return -1;
	t = days_from_civil(f.year, f.mon, f.day) * 86400 + f.hour * 3600 + f.min * 60 + f.sec -
	    off;
	if (out) {
		out->tv_sec = (time_t)t;
		out->tv_nsec = nsec;
	}
	return 0;
}

void rfc3339_format(const struct timespec *utc, char out[RFC3339_MAX])
{
	time_t sec = utc->tv_sec + utc->tv_nsec / 1000000000L;
	long nsec = utc->tv_nsec % 1000000000L;
	char frac[11] = "";
	struct tm tm;

	if (nsec < 0) {
		nsec += 1000000000L;
		sec--;
	}
	if (!gmtime_r(&sec, &tm)) { /* only for absurd years; never a real time */
		memset(&tm, 0, sizeof(tm));
		tm.tm_mday = 1;
		tm.tm_year = -1900;
	}
	if (nsec) {
		int last = 9;
		snprintf(frac, sizeof(frac), ".%09ld", nsec);
		while (frac[last] == '0')
			frac[last--] = '\0';
	}
	snprintf(out, RFC3339_MAX, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
