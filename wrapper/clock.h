/*
 * clock — every clock tflock reads and every sleep it takes.
 *
 * Three clocks, each with its one use:
 *
 *   CLOCK_BOOTTIME  clock_boot_ns(), nanoseconds. Every lease, deadline and
 *                   timeout is counted on it: the holder's deadline from the
 *                   send time of its last successful renewal, a waiter's from
 *                   the receipt of the reply that first showed an ETag, request
 *                   t_send/t_recv, the guardian's and sentinel's readings, the
 *                   event log and re-entry state stamps (docs/PROTOCOL.md B, B4,
 *                   B9). Why boottime: a lease runs in the store, for everybody,
 *                   while this machine is suspended too. CLOCK_MONOTONIC stops
 *                   during a suspend (a laptop's lid, a paused VM), so a holder
 *                   counting on it would, after waking, believe its lease still
 *                   runs when others have taken the lock over. BOOTTIME never
 *                   goes back and counts the suspended time.
 *   CLOCK_MONOTONIC clock_mono_ns(), clock_mono_in(). Only where an API takes
 *                   no other clock: pthread_cond_timedwait() on a condition
 *                   variable set to CLOCK_MONOTONIC (glibc accepts only it and
 *                   CLOCK_REALTIME there), and as a seed where no random source
 *                   is at hand. Never to decide whether a lease has run out.
 *   CLOCK_REALTIME  clock_wall(), or time(NULL) for whole seconds: the wall
 *                   clock, which an administrator or NTP may step. Only for
 *                   values other people or programs read as dates: the lock
 *                   body's Created and the applied record's time, the report's
 *                   start, GitLab's section markers, SigV4's request date and
 *                   credential expiry (compared with what the issuer wrote), the
 *                   clock-skew check against a server's Date, and "since 12:00
 *                   UTC, 5m ago" in messages. No wall-clock times are compared
 *                   to decide anything about a lock (PROTOCOL B4).
 *
 * clock_parse_http_date() reads a server's Date header (the clock-skew check
 * and the RequestTimeTooSkewed message compare it with clock_wall()).
 *
 * Sleeps: clock_sleep_ms() is one nanosleep(2) that any signal handled
 * meanwhile ends early (the caller's loop looks again); clock_sleep_ms_unless()
 * sleeps through signals and ends early only when the caller's stop() says so
 * (a cancelling signal). Neither allocates; nothing here can fail (the clocks
 * exist on every Linux tflock builds on).
 */
#ifndef TFLOCK_CLOCK_H
#define TFLOCK_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* CLOCK_BOOTTIME in nanoseconds: leases, deadlines, timestamps of events. */
int64_t clock_boot_ns(void);

/* CLOCK_MONOTONIC in nanoseconds (see above for its few uses). */
int64_t clock_mono_ns(void);

/* The CLOCK_MONOTONIC time ms milliseconds from now, normalised (0 <= tv_nsec
 * < 1e9), as pthread_cond_timedwait() takes it; a negative ms gives a time in
 * the past. */
struct timespec clock_mono_in(int64_t ms);

/* CLOCK_REALTIME: the wall clock, for dates others read (see above). */
struct timespec clock_wall(void);

/* ms as a relative timespec; ms <= 0 gives { 0, 0 }. */
struct timespec clock_ts_of_ms(int64_t ms);

/* An HTTP Date header in the IMF-fixdate form servers send, "Sun, 06 Nov 1994
 * 08:49:37 GMT" (RFC 9110 5.6.7; what follows the GMT is ignored): 0 with the
 * time in *out (seconds since the epoch, UTC), or -1 for NULL or another form. */
int clock_parse_http_date(const char *s, time_t *out);

/* Sleep ms (ms <= 0: return at once). Returns 0 after the whole time, -1 when a
 * signal handled meanwhile ended the sleep early. */
int clock_sleep_ms(int64_t ms);

/* Sleep ms through any signal handled meanwhile, unless stop(arg) then answers
 * non-zero: the sleep ends there. stop NULL: the whole ms. */
void clock_sleep_ms_unless(int64_t ms, int (*stop)(const void *arg), const void *arg);

#endif
