/*
 * target — the lock an invocation works on and how the store is reached: the
 * S3 backend `terraform init` set up (backend.h) mapped into the configuration
 * below flags and TFLOCK_* variables ("zero configuration"), and from the
 * final configuration the state key (PROTOCOL A1), the lock's identity a
 * nested tflock compares (B7), the store's settings for the s3 client and for
 * a child's environment, and the struct lock every subcommand sets up.
 *
 * struct target owns the backend it read and the PUT headers mirrored from it
 * (SSE, ACL); target_init() empties it, target_free() releases it.
 * Functions named "die" in their comment end the process with die() (exit
 * 64 for configuration, 69 for an unusable store, 70 otherwise,
 * outcome_exit_for_error()); the others do not fail.
 */
#ifndef TFLOCK_TARGET_H
#define TFLOCK_TARGET_H

#include <stddef.h>

#include "backend.h"
#include "config.h"
#include "lock.h"
#include "s3.h"
#include "tfcmd.h"

struct target {
	struct backend backend; /* the initialised Terraform backend, if found */
	int backend_found;
	struct backend_headers put_headers; /* SSE / ACL mirrored on the lock PUT */
};

void target_init(struct target *t);
void target_free(struct target *t);

/* Does the directory (after -chdir, NULL: ".") have a usable s3 backend from
 * `terraform init`? */
int target_backend_present(const char *chdir);

/* Read the backend `terraform init` set up (after tf's -chdir; tf NULL for a
 * subcommand other than run) into t and use it in c below flags and TFLOCK_*
 * variables. Dies (64) when there is none and c names no lock, when a
 * terraform command's --bucket/--key contradict it, and for a run when it
 * sets neither use_lockfile nor dynamodb_table (unless --no-lockfile-check).
 * A backend with dynamodb_table and without use_lockfile makes the lock the
 * table item alone (c->no_file). */
void target_from_backend(struct target *t, struct config *c, unsigned cmd, const struct tfcmd *tf);

/* The state key for c's workspace (malloc'd): exactly terraform's when every
 * part of it came from the backend. */
char *target_state_key(const struct target *t, const struct config *c);
/* What a nested tflock compares with its outer: "endpoint|bucket|key" (malloc'd). */
char *target_ident(const struct target *t, const struct config *c);

/* The store as every subcommand reaches it: endpoint, addressing, credentials.
 * sc borrows c's strings. */
void target_s3_config(const struct config *c, struct s3_config *sc);
/* The store's settings for a hook or the command to reach the same store
 * (tflock removes the TFLOCK_* option variables from their environment):
 * TFLOCK_HELD_S3_ENDPOINT (only when an endpoint was set), TFLOCK_HELD_REGION,
 * TFLOCK_HELD_PATH_STYLE=true (only when set), TFLOCK_HELD_DYNAMODB_TABLE and
 * _ENDPOINT (when a table is held). Up to 5 malloc'd strings to out; returns
 * how many. */
size_t target_held_env(const struct config *c, char **out);
/* An s3 client for c's store; dies when credentials or the endpoint fail. */
struct s3_client *target_open_store(const struct config *c);

/* The lock options c and t give (lease, waiting limit, tags, checksum, PUT
 * headers, version, an inherited ID); Operation, Info and the CI fields are
 * left NULL for the caller. o borrows from c and t. */
void target_lock_opts(const struct target *t, const struct config *c, struct lock_opts *o);
/* lock_new() on c's state key with o (the caller lock_free()s it); dies when
 * it fails. */
struct lock *target_lock(struct s3_client *s3, const struct target *t, const struct config *c,
                         const struct lock_opts *o);

#endif
