/*
 * dur — parse and print option values: durations, bounded integers, booleans.
 *
 * The same rules serve flags, TFLOCK_* environment variables and backend config
 * values. Parsers return 0 and set *out, or ERR_USAGE with err->msg one line that
 * quotes the bad value (non-printable bytes shown as \xNN) and says what is
 * accepted; *out is then left unchanged. err may be NULL. Nothing is allocated.
 *
 * Durations (dur_parse), in milliseconds:
 *   "90"       a bare number is seconds
 *   "90s" "5m" "1h" "1500ms"
 *   "1m30s" "1h30m" "2h3m4s500ms"   units from largest to smallest, each at most once
 *   "0.5s" "1.5m" "2.25h" "0.5"     a decimal fraction is accepted when the result is a
 *                                   whole number of milliseconds ("0.0005s" is not)
 * Units are lower case (h, m, s, ms). Rejected: "", signs ("-1", "+5"), any space,
 * unknown units ("5x", "5M", "1d", "1hm"), a unit without a number ("m"), a number
 * without a unit after another part ("1m30"), ".5s" and "1.s", values that overflow
 * int64 milliseconds. Zero ("0", "0s") is valid; callers check their own range.
 *
 * dur_format() prints what dur_parse() reads back: "0s", "750ms", "45s", "1.5s",
 * "4m", "1m20s", "2h3m", "1h0.25s"; negative values get a leading "-".
 */
#ifndef TFLOCK_DUR_H
#define TFLOCK_DUR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

int dur_parse(const char *s, int64_t *out_ms, struct tf_error *err);

/* A duration as Terraform and OpenTofu read -lock-timeout (Go's
 * time.ParseDuration): an optional sign, then one or more decimal numbers,
 * each with an optional fraction ("1.5", ".5", "1.") and a unit (ns, us, µs,
 * μs, ms, s, m, h), in any order and repeated ("1m1m" is 2m); "0" alone needs
 * no unit, any other bare number ("90") is refused, as terraform refuses it.
 * Sub-millisecond remainders round up; a negative value gives a negative
 * *out_ms. Over ~292 years (int64 nanoseconds) is refused. */
int dur_parse_go(const char *s, int64_t *out_ms, struct tf_error *err);

/* A decimal integer ("-" allowed, no "+", no spaces, no hex) within [min, max]. */
int num_parse(const char *s, long min, long max, long *out, struct tf_error *err);

/* 1/true/yes -> 1, 0/false/no -> 0, case-insensitive; nothing else. */
int bool_parse(const char *s, int *out, struct tf_error *err);

/* Writes at most size bytes, NUL included (truncated if small). */
void dur_format(int64_t ms, char *buf, size_t size);

#endif
