/*
 * backoff — retry delays and jitter, pure functions of a caller-given random
 * source (so tests can pin it).
 *
 * backoff_full_jitter: uniform in [0, min(cap, base * 2^attempt)] (attempt 0 =
 * first retry). jitter_down_pct: ms scaled by a uniform factor in [1-pct, 1]:
 * waiters spread out, and none ever waits longer than ms (the handoff bound).
 * rand_u64_default() reads getrandom(2) and never fails (falls back to a
 * time-seeded generator if the syscall is unavailable).
 */
#ifndef TFLOCK_BACKOFF_H
#define TFLOCK_BACKOFF_H

#include <stdint.h>

typedef uint64_t (*rand_fn)(void *arg);

uint64_t rand_u64_default(void *arg);
int64_t backoff_full_jitter(unsigned attempt, int64_t base_ms, int64_t cap_ms, rand_fn rnd,
                            void *arg);
int64_t jitter_down_pct(int64_t ms, unsigned pct, rand_fn rnd, void *arg);

#endif
