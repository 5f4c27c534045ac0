#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "clock.h"
#include "tap/basic.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* SIGALRM once, ms from now; the handler does not restart system calls. */
static void alarm_in_ms(long ms)
{
	struct itimerval it;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = ms % 1000 * 1000;
	alarms = 0;
	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
		bail("setitimer failed");
}

static int after_an_alarm(const void *arg)
{
	(void)arg;
	return alarms > 0;
}

static int never(const void *arg)
{
	(void)arg;
	return 0;
}

static int64_t raw_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void test_reads(void)
{
	int64_t lo, v, hi, m;
	struct timespec w;
	time_t t0, t1;

	lo = raw_ns(CLOCK_BOOTTIME);
	v = clock_boot_ns();
	hi = raw_ns(CLOCK_BOOTTIME);
	ok(lo <= v && v <= hi, "clock_boot_ns reads CLOCK_BOOTTIME in ns");
	lo = raw_ns(CLOCK_MONOTONIC);
	m = clock_mono_ns();
	hi = raw_ns(CLOCK_MONOTONIC);
	ok(lo <= m && m <= hi, "clock_mono_ns reads CLOCK_MONOTONIC in ns");
	ok(clock_boot_ns() >= m, "boottime is never behind monotonic (it adds suspended time)");
	t0 = time(NULL);
	w = clock_wall();
	t1 = time(NULL);
	ok(w.tv_sec >= t0 - 1 && w.tv_sec <= t1 + 1 && w.tv_nsec >= 0 && w.tv_nsec < 1000000000,
	   "clock_wall is the wall clock, normalised");
}

static void test_ts_of_ms(void)
{
	static const struct {
		int64_t ms;
		long long sec;
		long nsec;
	} cases[] = {
		{ 0, 0, 0 },
		{ -1, 0, 0 },
		{ -1500, 0, 0 },
		{ 1, 0, 1000000 },
		{ 999, 0, 999000000 },
		{ 1000, 1, 0 },
		{ 1500, 1, 500000000 },
		{ 90061001, 90061, 1000000 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct timespec ts = clock_ts_of_ms(cases[i].ms);
		ok(ts.tv_sec == cases[i].sec && ts.tv_nsec == cases[i].nsec,
		   "clock_ts_of_ms(%lld) = { %lld, %ld }", (long long)cases[i].ms, cases[i].sec,
		   cases[i].nsec);
	}
}

static void test_mono_in(void)
{
	static const int64_t ms[] = { 0, 1, 999, 1000, 1999, 60000, 3600001, -1, -999, -1001 };
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		int64_t lo = raw_ns(CLOCK_MONOTONIC) + ms[i] * NS_PER_MS, got, hi;
		struct timespec ts = clock_mono_in(ms[i]);
		hi = raw_ns(CLOCK_MONOTONIC) + ms[i] * NS_PER_MS;
		got = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
		ok(ts.tv_nsec >= 0 && ts.tv_nsec < NS_PER_S && lo <= got && got <= hi,
		   "clock_mono_in(%lld): now + ms, normalised", (long long)ms[i]);
	}
}

static void test_sleeps(void)
{
	struct sigaction sa;
	int64_t t;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);

	t = clock_boot_ns();
	is_int(0, clock_sleep_ms(0), "clock_sleep_ms(0) returns 0");
	is_int(0, clock_sleep_ms(-5), "clock_sleep_ms(-5) returns 0");
	clock_sleep_ms_unless(0, NULL, NULL);
	ok(clock_boot_ns() - t < 50 * NS_PER_MS, "sleeps of 0 or less return at once");

	t = clock_boot_ns();
	rc = clock_sleep_ms(30);
	t = clock_boot_ns() - t;
	ok(rc == 0 && t >= 30 * NS_PER_MS, "clock_sleep_ms(30) sleeps 30 ms (%lld ms)",
	   (long long)(t / NS_PER_MS));

	alarm_in_ms(20);
	t = clock_boot_ns();
	rc = clock_sleep_ms(2000);
	t = clock_boot_ns() - t;
	ok(rc == -1 && alarms == 1 && t < 1000 * NS_PER_MS,
	   "clock_sleep_ms: a signal ends the sleep early, -1 (%lld ms)",
	   (long long)(t / NS_PER_MS));

	alarm_in_ms(20);
	t = clock_boot_ns();
	clock_sleep_ms_unless(300, never, NULL);
	t = clock_boot_ns() - t;
	ok(alarms == 1 && t >= 300 * NS_PER_MS,
	   "clock_sleep_ms_unless: sleeps on through a signal stop() does not want (%lld ms)",
	   (long long)(t / NS_PER_MS));

	alarm_in_ms(20);
	t = clock_boot_ns();
	clock_sleep_ms_unless(300, NULL, NULL);
	t = clock_boot_ns() - t;
	ok(alarms == 1 && t >= 300 * NS_PER_MS,
	   "clock_sleep_ms_unless: no stop(): the whole time (%lld ms)",
	   (long long)(t / NS_PER_MS));

	alarm_in_ms(20);
	t = clock_boot_ns();
	clock_sleep_ms_unless(2000, after_an_alarm, NULL);
	t = clock_boot_ns() - t;
	ok(alarms == 1 && t < 1000 * NS_PER_MS,
	   "clock_sleep_ms_unless: ends when stop() says so after a signal (%lld ms)",
	   (long long)(t / NS_PER_MS));
}

static void test_http_date(void)
{
	time_t t = 1;
	ok(clock_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t) == 0 && t == 784111777,
	   "clock_parse_http_date: RFC 9110's example");
	ok(clock_parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", &t) == 0 && t == 0,
	   "clock_parse_http_date: the epoch");
	ok(clock_parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT; x", &t) == 0 && t == 1835481599,
	   "clock_parse_http_date: a leap day, what follows GMT ignored");
	t = 7;
	ok(clock_parse_http_date(NULL, &t) == -1 && t == 7, "clock_parse_http_date: NULL");
	ok(clock_parse_http_date("", &t) == -1, "clock_parse_http_date: empty");
	ok(clock_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t) == -1,
	   "clock_parse_http_date: the obsolete RFC 850 form is refused");
	ok(clock_parse_http_date("2024-01-01T00:00:00Z", &t) == -1,
	   "clock_parse_http_date: RFC 3339 is refused");
	ok(clock_parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC", &t) == -1,
	   "clock_parse_http_date: only GMT");
}

int main(void)
{
	plan_lazy();
	test_reads();
	test_ts_of_ms();
	test_mono_in();
	test_sleeps();
	test_http_date();
	return 0;
}
