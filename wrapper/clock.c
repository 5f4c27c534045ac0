#include "clock.h"

#include <errno.h>
#include <string.h>

static int64_t ns_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t clock_boot_ns(void)
{
	return ns_of(CLOCK_BOOTTIME);
}

int64_t clock_mono_ns(void)
{
	return ns_of(CLOCK_MONOTONIC);
}

struct timespec clock_mono_in(int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000 * NS_PER_MS);
	if (ts.tv_nsec >= NS_PER_S) {
		ts.tv_sec++;
		ts.tv_nsec -= NS_PER_S;
	} else if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += NS_PER_S;
	}
	return ts;
}

struct timespec clock_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

struct timespec clock_ts_of_ms(int64_t ms)
{
	struct timespec ts = { 0, 0 };
	if (ms > 0) {
		ts.tv_sec = (time_t)(ms / 1000);
		ts.tv_nsec = (long)(ms % 1000 * NS_PER_MS);
	}
	return ts;
}

int clock_parse_http_date(const char *s, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s || !strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return -1;
	*out = timegm(&tm);
	return 0;
}

int clock_sleep_ms(int64_t ms)
{
	struct timespec ts = clock_ts_of_ms(ms);
	if (ms <= 0)
		return 0;
	return nanosleep(&ts, NULL) == 0 ? 0 : -1;
}

void clock_sleep_ms_unless(int64_t ms, int (*stop)(const void *arg), const void *arg)
{
	struct timespec ts = clock_ts_of_ms(ms);
	if (ms <= 0)
		return;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !(stop && stop(arg)))
		;
}
