/*
 * park — the command side of parked locks (docs/PROTOCOL.md B14.4): the
 * handle, `tflock hold`'s parking, `run --resume`'s resume and `release
 * --handle-file`. The engine's part is lock_park(), lock_resume() and
 * lock_release_parked() (lock.h).
 *
 * The handle is one line of JSON, written atomically with mode 0600 to
 * --handle-file (default tflock-handle.json) and, on GitHub Actions, as the
 * step output `handle`:
 *   {"v":1,"lock":"s3://B/K.tflock","id":"…","versions":["…"],"run":"…"}
 * lock is lock_describe_hold() (both records with a table), versions one per
 * record, run the parking CI run ("" outside CI). It holds no secret (B14.4):
 * it is bound to the records' exact versions.
 */
#ifndef TFLOCK_PARK_H
#define TFLOCK_PARK_H

#include <stddef.h>

#include "ci.h"
#include "config.h"
#include "lock.h"
#include "target.h"

#define PARK_MAX_RECORDS 2
#define PARK_HANDLE_DEFAULT "tflock-handle.json"

struct park_handle {
	char *lock, *id, *run;
	char *versions[PARK_MAX_RECORDS];
	size_t n;
};

void park_handle_free(struct park_handle *h);
/* Read and check path's handle: 0, or ERR_USAGE / ERR_IO with err saying what
 * is wrong (one line, escaped). */
int park_handle_read(const char *path, struct park_handle *h, struct tf_error *err);

/* `tflock hold`: park the held hold l for c->park_for_ms, write the handle,
 * say so. Returns 0 (parked), or the exit code of the failure (said). */
int park_hold(struct lock *l, const struct config *c, const struct ci_identity *ci);

/* `run --resume FILE`: take the parked hold c->resume names (lock_resume()).
 * A LOCK_* outcome with err filled; a handle that cannot be read or is for
 * another lock is LOCK_BAD_INPUT. */
int park_resume(struct lock *l, const struct config *c, const struct ci_identity *ci,
                struct tf_error *err);

/* `release --handle-file FILE`: drop that parked lock. Returns the exit code. */
int park_release(const struct config *c, const struct target *t);

#endif
