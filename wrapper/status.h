/*
 * status — who holds a lock, told to a person (text) or a program (--json):
 * `tflock status`; and whether a tflock holder is alive, by watching its lock
 * for one lease (--watch, and `tflock unlock --force`, reclaim.h).
 *
 * Everything a lock body holds is foreign: the text form escapes and cuts it
 * (sanitize_text()), the JSON form writes it exactly (report_json_string()).
 */
#ifndef TFLOCK_STATUS_H
#define TFLOCK_STATUS_H

#include "config.h"
#include "error.h"
#include "lock.h"
#include "target.h"

/* `tflock status`: read the lock once (and watch it with --watch), print it on
 * stdout. Returns 0 when free, c's --conflict-exit-code when held; dies (69,
 * 70) when the store cannot be read. */
int status_main(const struct config *c, const struct target *t);

/* Watch the tflock lock in v for one of its holder's leases (a lock tflock did
 * not write, or none, is not watched: *stale 0). *stale is 1 when its ETag never
 * changed: its holder is gone. v is re-read meanwhile (!v->present: released).
 * LOCK_OK, or the failure outcome of lock_read(). */
int status_watch_stale(struct lock *l, struct lock_view *v, int *stale, struct tf_error *err);

#endif
