#include "backoff.h"
#include "tap/basic.h"

static uint64_t fixed(void *arg)
{
	return *(uint64_t *)arg;
}

int main(void)
{
	uint64_t r;
	plan_lazy();

	r = 0;
	is_int(0, backoff_full_jitter(0, 100, 10000, fixed, &r), "full jitter lower bound is 0");
	r = 100;
	is_int(100, backoff_full_jitter(0, 100, 10000, fixed, &r), "attempt 0 ceiling is base");
	r = 1000;
	is_int(1000 % 101, backoff_full_jitter(0, 100, 10000, fixed, &r),
	       "value folded into [0, base]");
	r = 800;
	is_int(800, backoff_full_jitter(3, 100, 10000, fixed, &r), "attempt 3 ceiling is base*8");
	r = 801;
	is_int(0, backoff_full_jitter(3, 100, 10000, fixed, &r), "never above base*2^attempt");
	r = 10000;
	is_int(10000, backoff_full_jitter(60, 100, 10000, fixed, &r),
	       "huge attempts stop at the cap");
	r = 10001;
	is_int(0, backoff_full_jitter(60, 100, 10000, fixed, &r), "and never exceed it");
	r = 0;
	is_int(250, jitter_down_pct(250, 20, fixed, &r), "jitter 0 keeps the value (the top)");
	r = 50;
	is_int(200, jitter_down_pct(250, 20, fixed, &r), "jitter -20%% at the low end");
	r = 51;
	is_int(250, jitter_down_pct(250, 20, fixed, &r), "and wraps, never above the value");
	r = 25;
	is_int(225, jitter_down_pct(250, 20, fixed, &r), "in between");
	is_int(250, jitter_down_pct(250, 0, fixed, &r), "0%% jitter is identity");
	r = 7;
	is_int(0, jitter_down_pct(7, 100, fixed, &r), "100%% can reach 0");
	int inrange = 1, lo = 0, hi = 0;
	for (int i = 0; i < 10000; i++) {
		int64_t v = jitter_down_pct(1000, 20, rand_u64_default, NULL);
		if (v < 800 || v > 1000)
			inrange = 0;
		lo += v < 850;
		hi += v > 950;
	}
	ok(inrange, "default random jitter stays within [-20%%, 0]");
	ok(lo > 1000 && hi > 1000, "and spreads over the range (lo %d, hi %d of 10000)", lo, hi);
	return 0;
}
