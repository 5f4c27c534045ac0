#include "backoff.h"

#include <sys/random.h>

#include "clock.h"

uint64_t rand_u64_default(void *arg)
{
	static uint64_t state;
	uint64_t v;
	(void)arg;
	if (getrandom(&v, sizeof(v), 0) == (ssize_t)sizeof(v))
		return v;
	if (!state)
		state = (uint64_t)clock_mono_ns() ^ 0x9e3779b97f4a7c15ULL;
	/* xorshift64* */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dULL;
}

int64_t backoff_full_jitter(unsigned attempt, int64_t base_ms, int64_t cap_ms, rand_fn rnd,
                            void *arg)
{
	int64_t ceiling = base_ms;
	if (base_ms <= 0 || cap_ms <= 0)
		return 0;
	for (unsigned i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	return (int64_t)(rnd(arg) % (uint64_t)(ceiling + 1));
}

int64_t jitter_down_pct(int64_t ms, unsigned pct, rand_fn rnd, void *arg)
{
	int64_t span;
	if (ms <= 0 || pct == 0)
		return ms;
	if (pct > 100)
		pct = 100;
	span = ms * (int64_t)pct / 100;
	return ms - (int64_t)(rnd(arg) % (uint64_t)(span + 1));
}
