/*
 * lock_int — what the lock engine's own files share (lock.c: the B2 write and
 * read-back, renew, check, release, unlock; lock_acquire.c: waiting and
 * takeover). Not for callers: they use lock.h.
 */
#ifndef TFLOCK_LOCK_INT_H
#define TFLOCK_LOCK_INT_H

#include "clock.h"
#include "lock.h"
#include "record.h"

/* Visible characters of each field in a one-line description (callers give
 * 512 bytes; sanitize_to() cuts what still does not fit). */
#define DESCRIBE_WHO_MAX 128
#define DESCRIBE_OP_MAX 64
#define DESCRIBE_ID_MAX 96

/* Results of lock_write() and lock_read_back() (B2). */
enum { W_APPLIED = 10, W_NOT_APPLIED, W_OTHER, W_ABSENT };
enum lock_cond { C_CREATE, C_MATCH };

int64_t lock_scaled(const struct lock *l, int64_t ms);
int64_t lock_patience_ms(const struct lock *l);
/* A cancelling signal arrived (lock_opts.cancel). */
int lock_cancelled(const struct lock *l);
/* Sleep, cut short by a cancelling signal. */
void lock_sleep_ms(const struct lock *l, int64_t ms);

/* One read of the lock record into v; *broken when the failure says the store is
 * unusable. 0 (present or absent: v->present), or a negative ERR_*. A poll is one
 * attempt, abandoned on a cancelling signal, and asks only for a change of v's
 * version (an unchanged record leaves v as it is). */
int lock_read_rec(struct lock *l, struct lock_view *v, int poll, int *broken, struct tf_error *err);
/* B2: the one conditional write of our body with the next seq. */
int lock_write(struct lock *l, enum lock_cond cond, const char *etag, int64_t deadline,
               struct tf_error *err);
/* The lock is ours from now on (how: "created", "taken over"). */
int lock_acquired(struct lock *l, const char *how);

#endif
