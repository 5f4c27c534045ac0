/*
 * Unit tests for wrapper/dur: durations, bounded numbers, booleans, and the
 * printed form of durations.
 */
#include "dur.h"
#include "tap/basic.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int one_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
			return 0;
	return 1;
}

/* s with control and non-ASCII bytes as \xNN, for a TAP description (4 rotating buffers). */
static const char *esc(const char *s)
{
	static char bufs[4][256];
	static int k;
	char *o = bufs[k++ % 4];
	size_t n = 0;
	for (; s && *s && n + 5 < sizeof(bufs[0]); s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7F)
			o[n++] = (char)c;
		else
			n += (size_t)snprintf(o + n, 5, "\\x%02x", c);
	}
	o[n] = '\0';
	return o;
}

static void test_dur_good(void)
{
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = {
		{ "0", 0 },
		{ "0s", 0 },
		{ "0ms", 0 },
		{ "0h0m", 0 },
		{ "90", 90000 },
		{ "90s", 90000 },
		{ "5m", 300000 },
		{ "1h", 3600000 },
		{ "1m30s", 90000 },
		{ "1h30m", 5400000 },
		{ "1500ms", 1500 },
		{ "1s500ms", 1500 },
		{ "2h3m4s500ms", 7384500 },
		{ "1h0.25s", 3600250 },
		{ "007s", 7000 },
		{ "120", 120000 },
		{ "3600s", 3600000 },
		{ "90m", 5400000 },
		{ "0.5s", 500 },
		{ "0.5", 500 },
		{ "1.5m", 90000 },
		{ "2.25h", 8100000 },
		{ "1.000s", 1000 },
		{ "0.001s", 1 },
		{ "0.0010000000000s", 1 },
		{ "0.00001h", 36 },
		{ "0.0000125h", 45 },
		{ "1.5", 1500 },
		{ "9223372036854775807ms", INT64_MAX },
		{ "2562047788015h775807ms", INT64_MAX },
		{ "2562047788015h12m55.807s", INT64_MAX },
		{ "9223372036854775.807", INT64_MAX },
		{ "0.50000000000000000000000000000000000000000000000000000000000000000000000000s",
		  500 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tf_error err;
		int64_t ms = -42;
		err_clear(&err);
		int rc = dur_parse(good[i].s, &ms, &err);
		ok(rc == 0 && ms == good[i].ms && err.msg[0] == '\0',
		   "dur_parse \"%s\" = %lld ms (got %lld%s%s)", good[i].s, (long long)good[i].ms,
		   (long long)ms, err.msg[0] ? ": " : "", err.msg);
	}
}

static void test_dur_bad(void)
{
	static const struct {
		const char *s, *why;
	} bad[] = {
		{ "", "empty" },
		{ "-1", "negative" },
		{ "-1s", "negative" },
		{ "+5", "no sign" },
		{ " 5", "spaces" },
		{ "5 ", "spaces" },
		{ "5 s", "spaces" },
		{ "1m 30s", "spaces" },
		{ "5s\n", "spaces" },
		{ "\t5", "spaces" },
		{ "5x", "unknown unit \"x\"" },
		{ "5M", "unknown unit \"M\"" },
		{ "5S", "unknown unit \"S\"" },
		{ "1d", "unknown unit \"d\"" },
		{ "5sec", "unknown unit \"sec\"" },
		{ "1hm", "unknown unit \"hm\"" },
		{ "5us", "unknown unit \"us\"" },
		{ "5s!", "unknown unit \"s!\"" },
		{ "5\x1b[2J", "unknown unit \"\\x1b[\"" },
		{ "m", "a number must come before each unit" },
		{ "s5", "a number must come before each unit" },
		{ "abc", "a number must come before each unit" },
		{ "\xef\xbc\x95s", "a number must come before each unit" },
		{ "1m30", "without a unit must stand alone" },
		{ "1h30", "without a unit must stand alone" },
		{ "30s1m", "largest to smallest" },
		{ "1m1m", "largest to smallest" },
		{ "1ms1s", "largest to smallest" },
		{ "1s1s", "largest to smallest" },
		{ ".5s", "before the decimal point" },
		{ ".5", "before the decimal point" },
		{ "1.s", "follow the decimal point" },
		{ "1.", "follow the decimal point" },
		{ "1..5s", "follow the decimal point" },
		{ "1.5.5s", "only one decimal point" },
		{ "1,5s", "unknown unit \",\"" },
		{ "0.0005s", "finer than a millisecond" },
		{ "1.5ms", "finer than a millisecond" },
		{ "0.1ms", "finer than a millisecond" },
		{ "0.0000001h", "finer than a millisecond" },
		{ "0.0000005h", "finer than a millisecond" },
		{ "0.000001h", "finer than a millisecond" },
		{ "0.0000000001s", "finer than a millisecond" },
		{ "1.0000000001s", "finer than a millisecond" },
		{ "0.1000000000000000000000001s", "finer than a millisecond" },
		{ "1.00000000000000000000000000000000000000000000000000000000000000000000001h",
		  "finer than a millisecond" },
		{ "1e3s", "unknown unit \"e\"" },
		{ "0x10s", "unknown unit \"x\"" },
		{ "9223372036854775808ms", "too large" },
		{ "2562047788016h", "too large" },
		{ "2562047788015h775808ms", "too large" },
		{ "99999999999999999999", "too large" },
		{ "99999999999999999999999999999999s", "too large" },
		{ "9223372036854775.808", "too large" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tf_error err;
		int64_t ms = -42;
		err_clear(&err);
		int rc = dur_parse(bad[i].s, &ms, &err);
		ok(rc == ERR_USAGE && err.kind == ERR_USAGE && ms == -42 &&
		           strstr(err.msg, bad[i].why) && strstr(err.msg, "invalid duration \"") &&
		           one_line(err.msg),
		   "dur_parse rejects \"%s\": %s", esc(bad[i].s), err.msg);
	}
	struct tf_error err;
	int64_t ms = -42;
	is_int(ERR_USAGE, dur_parse(NULL, &ms, &err), "dur_parse rejects NULL");
	is_int(ERR_USAGE, dur_parse("5x", &ms, NULL), "dur_parse works with err NULL");
	dur_parse("5q", &ms, &err);
	is_string("invalid duration \"5q\": unknown unit \"q\" (units: h, m, s, ms) "
	          "(use e.g. 90, 90s, 5m, 1h30m or 1500ms)",
	          err.msg, "dur_parse message: the value, the reason, examples");
	char longv[200];
	memset(longv, '9', sizeof(longv) - 2);
	longv[sizeof(longv) - 2] = 'x';
	longv[sizeof(longv) - 1] = '\0';
	dur_parse(longv, &ms, &err);
	ok(strstr(err.msg, "\"9999999999999999999999999999999999999999...\"") != NULL,
	   "dur_parse message: long value cut: %s", err.msg);
}

static void test_num(void)
{
	static const struct {
		const char *s;
		long min, max, want;
	} good[] = {
		{ "5", 5, 3600, 5 },
		{ "3600", 5, 3600, 3600 },
		{ "120", 5, 3600, 120 },
		{ "007", 0, 10, 7 },
		{ "0", 0, 0, 0 },
		{ "-1", -5, 5, -1 },
		{ "-0", 0, 0, 0 },
		{ "9223372036854775807", LONG_MIN, LONG_MAX, LONG_MAX },
		{ "-9223372036854775808", LONG_MIN, LONG_MAX, LONG_MIN },
	};
	static const struct {
		const char *s;
		long min, max;
		const char *msg;
	} bad[] = {
		{ "4", 5, 3600, "number \"4\" is out of range: it must be from 5 to 3600" },
		{ "3601", 5, 3600, "number \"3601\" is out of range: it must be from 5 to 3600" },
		{ "-1", 0, 10, "number \"-1\" is out of range: it must be from 0 to 10" },
		{ "9223372036854775808", LONG_MIN, LONG_MAX,
		  "number \"9223372036854775808\" is out of range: it must be from "
		  "-9223372036854775808 to 9223372036854775807" },
		{ "-9223372036854775809", 0, 10,
		  "number \"-9223372036854775809\" is out of range: it must be from 0 to 10" },
		{ "99999999999999999999999", 0, 10,
		  "number \"99999999999999999999999\" is out of range: it must be from 0 to 10" },
		{ "", 0, 10, "invalid number \"\": expected a whole number from 0 to 10" },
		{ "abc", 0, 10, "invalid number \"abc\": expected a whole number from 0 to 10" },
		{ "1.5", 0, 10, "invalid number \"1.5\": expected a whole number from 0 to 10" },
		{ "0x10", 0, 100,
		  "invalid number \"0x10\": expected a whole number from 0 to 100" },
		{ " 5", 0, 10, "invalid number \" 5\": expected a whole number from 0 to 10" },
		{ "5 ", 0, 10, "invalid number \"5 \": expected a whole number from 0 to 10" },
		{ "+5", 0, 10, "invalid number \"+5\": expected a whole number from 0 to 10" },
		{ "-", 0, 10, "invalid number \"-\": expected a whole number from 0 to 10" },
		{ "--5", -10, 10,
		  "invalid number \"--5\": expected a whole number from -10 to 10" },
		{ "5s", 0, 10, "invalid number \"5s\": expected a whole number from 0 to 10" },
		{ "1e3", 0, 10000,
		  "invalid number \"1e3\": expected a whole number from 0 to 10000" },
		{ "99999999999999999999999x", 0, 10,
		  "invalid number \"99999999999999999999999x\": expected a whole number from 0 to "
		  "10" },
		{ "7\n", 0, 10, "invalid number \"7\\x0a\": expected a whole number from 0 to 10" },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct tf_error err;
		long v = 42;
		int rc = num_parse(good[i].s, good[i].min, good[i].max, &v, &err);
		ok(rc == 0 && v == good[i].want, "num_parse \"%s\" in [%ld, %ld] = %ld", good[i].s,
		   good[i].min, good[i].max, good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tf_error err;
		long v = 42;
		err_clear(&err);
		int rc = num_parse(bad[i].s, bad[i].min, bad[i].max, &v, &err);
		ok(rc == ERR_USAGE && v == 42 && err.kind == ERR_USAGE, "num_parse rejects \"%s\"",
		   esc(bad[i].s));
		is_string(bad[i].msg, err.msg, "num_parse message for \"%s\"", esc(bad[i].s));
	}
	long v = 42;
	is_int(ERR_USAGE, num_parse(NULL, 0, 1, &v, NULL), "num_parse rejects NULL, err NULL");
	is_int(42, v, "num_parse leaves *out on error");
}

static void test_bool(void)
{
	static const struct {
		const char *s;
		int want;
	} good[] = { { "1", 1 },     { "true", 1 },  { "TRUE", 1 }, { "True", 1 }, { "tRuE", 1 },
		     { "yes", 1 },   { "YES", 1 },   { "Yes", 1 },  { "0", 0 },    { "false", 0 },
		     { "FALSE", 0 }, { "False", 0 }, { "no", 0 },   { "NO", 0 },   { "nO", 0 } };
	static const char *bad[] = { "",
		                     "2",
		                     "-1",
		                     "y",
		                     "n",
		                     "t",
		                     "f",
		                     "on",
		                     "off",
		                     "true ",
		                     " yes",
		                     "truee",
		                     "yess",
		                     "01",
		                     "00",
		                     "1.0",
		                     "enable",
		                     "nope",
		                     "tru",
		                     ("\xc4\xb0"
		                      "1") };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int v = -1;
		ok(bool_parse(good[i].s, &v, NULL) == 0 && v == good[i].want,
		   "bool_parse \"%s\" = %d", good[i].s, good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tf_error err;
		int v = -1;
		err_clear(&err);
		ok(bool_parse(bad[i], &v, &err) == ERR_USAGE && v == -1 && err.kind == ERR_USAGE &&
		           strstr(err.msg, "invalid boolean \"") && one_line(err.msg),
		   "bool_parse rejects \"%s\": %s", esc(bad[i]), err.msg);
	}
	struct tf_error err;
	int v = -1;
	is_int(ERR_USAGE, bool_parse(NULL, &v, &err), "bool_parse rejects NULL");
	bool_parse("maybe", &v, &err);
	is_string("invalid boolean \"maybe\": use true or false, yes or no, 1 or 0", err.msg,
	          "bool_parse message");
}

static void test_format(void)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ 0, "0s" },
		{ 1, "1ms" },
		{ 750, "750ms" },
		{ 999, "999ms" },
		{ 1000, "1s" },
		{ 1001, "1.001s" },
		{ 1250, "1.25s" },
		{ 1500, "1.5s" },
		{ 45000, "45s" },
		{ 59999, "59.999s" },
		{ 60000, "1m" },
		{ 80000, "1m20s" },
		{ 240000, "4m" },
		{ 3599000, "59m59s" },
		{ 3600000, "1h" },
		{ 3600250, "1h0.25s" },
		{ 3660000, "1h1m" },
		{ 7380000, "2h3m" },
		{ 7384500, "2h3m4.5s" },
		{ 86400000, "24h" },
		{ -1500, "-1.5s" },
		{ -500, "-500ms" },
		{ INT64_MAX, "2562047788015h12m55.807s" },
		{ INT64_MIN, "-2562047788015h12m55.808s" },
	};
	char buf[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dur_format(cases[i].ms, buf, sizeof(buf));
		is_string(cases[i].want, buf, "dur_format %lld", (long long)cases[i].ms);
	}
	dur_format(7380000, buf, 4);
	is_string("2h3", buf, "dur_format: cut to the buffer, NUL-terminated");
	buf[0] = 'x';
	dur_format(7380000, buf, 1);
	is_string("", buf, "dur_format: size 1 gives \"\"");
	buf[0] = 'x';
	dur_format(7380000, buf, 0);
	is_int('x', buf[0], "dur_format: size 0 writes nothing");

	/* what dur_format prints, dur_parse reads back */
	int bad = 0;
	for (int64_t ms = 0; ms <= 200000; ms++) {
		int64_t back = -1;
		dur_format(ms, buf, sizeof(buf));
		if (dur_parse(buf, &back, NULL) != 0 || back != ms) {
			if (!bad)
				diag("%lld printed as %s read back as %lld", (long long)ms, buf,
				     (long long)back);
			bad++;
		}
	}
	unsigned seed = 1234;
	for (int i = 0; i < 200000; i++) {
		int64_t ms = (int64_t)(((uint64_t)rand_r(&seed) << 33 ^
		                        (uint64_t)rand_r(&seed) << 11 ^ (uint64_t)rand_r(&seed)) >>
		                               (rand_r(&seed) % 63) &
		                       (uint64_t)INT64_MAX);
		int64_t back = -1;
		dur_format(ms, buf, sizeof(buf));
		if (dur_parse(buf, &back, NULL) != 0 || back != ms) {
			if (!bad)
				diag("%lld printed as %s read back as %lld", (long long)ms, buf,
				     (long long)back);
			bad++;
		}
	}
	dur_format(INT64_MAX, buf, sizeof(buf));
	int64_t back = 0;
	if (dur_parse(buf, &back, NULL) != 0 || back != INT64_MAX)
		bad++;
	is_int(0, bad, "dur_parse(dur_format(x)) == x for 0..200000 ms, 200000 random, INT64_MAX");
}

/* -lock-timeout as terraform reads it (Go's time.ParseDuration) */
static void test_go(void)
{
	static const struct {
		const char *in;
		int64_t ms;
	} good[] = {
		{ "0", 0 },
		{ "0s", 0 },
		{ "+0", 0 },
		{ "-0", 0 },
		{ "90s", 90000 },
		{ "5m", 300000 },
		{ "1h30m", 5400000 },
		{ "1m1m", 120000 }, /* repeated units add up */
		{ "30s1m", 90000 }, /* any order */
		{ "1.5s", 1500 },
		{ ".5s", 500 },  /* Go takes a fraction without a leading digit */
		{ "1.s", 1000 }, /* ... and a '.' without digits after it */
		{ "1500ms", 1500 },
		{ "1500us", 2 },     /* 1.5 ms rounds up */
		{ "1\xc2\xb5s", 1 }, /* micro sign */
		{ "1\xce\xbcs", 1 }, /* Greek mu */
		{ "1ns", 1 },
		{ "1000000ns", 1 },
		{ "1000001ns", 2 },
		{ "-1s", -1000 },
		{ "+5s", 5000 },
		{ "2562047h", 2562047LL * 3600000 },
		{ "0.000000001s", 1 },
		{ "1.0000000000000000000000001h", 3600000 },
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "", "no number" },
		{ "-", "no number" },
		{ "90", "a number needs a unit" },
		{ "1m30", "a number needs a unit" },
		{ "5d", "unknown unit" },
		{ "5M", "unknown unit" },
		{ "5 s", "unknown unit" },
		{ "s", "a unit without a number" },
		{ ".s", "a lone '.'" },
		{ "1s.", "a lone '.'" },
		{ "--1s", "a unit without a number" },
		{ "2562048h", "too large" },
		{ "99999999999999999999s", "too large" },
		{ "9223372036s854775808ns", "too large" },
	};
	struct tf_error err;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t ms = -12345;
		err_clear(&err);
		is_int(0, dur_parse_go(good[i].in, &ms, &err), "go \"%s\" parses", good[i].in);
		ok(ms == good[i].ms, "go \"%s\" = %lld ms (got %lld)", good[i].in,
		   (long long)good[i].ms, (long long)ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = -12345;
		err_clear(&err);
		is_int(ERR_USAGE, dur_parse_go(bad[i].in, &ms, &err), "go \"%s\" refused",
		       bad[i].in);
		ok(strstr(err.msg, bad[i].why) != NULL && strstr(err.msg, "Go durations") != NULL,
		   "go \"%s\": %s", bad[i].in, err.msg);
		ok(ms == -12345, "go \"%s\": output untouched", bad[i].in);
	}
}

int main(void)
{
	plan_lazy();
	test_go();
	test_dur_good();
	test_dur_bad();
	test_num();
	test_bool();
	test_format();
	return 0;
}
