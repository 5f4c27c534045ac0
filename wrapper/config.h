/*
 * config — every setting tflock has, from one table that serves command-line
 * flags, TFLOCK_* environment variables and values read from the Terraform
 * backend, with the precedence written down once:
 *
 *     flag  >  TFLOCK_* variable  >  backend config  >  outer tflock  >  AWS_* variable
 *           >  default
 *
 * "outer tflock": a tflock run by the command of another tflock gets the outer
 * run's store settings in TFLOCK_HELD_S3_ENDPOINT, TFLOCK_HELD_REGION and
 * TFLOCK_HELD_PATH_STYLE (the outer removes the TFLOCK_* option variables from
 * its command's environment). config_finish() uses them, as one set, when the
 * endpoint was not given by a flag, a TFLOCK_* variable or the backend: a
 * nested run reaches the outer run's store, never AWS's default endpoint
 * behind the user's back.
 *
 * config_finish() also checks what S3 would refuse, wherever the value came
 * from (s3.h: endpoint port, bucket name, region syntax, the lock key's length
 * of at most 1024 bytes), so such input is a usage error before any request.
 *
 * config_set() keeps a value only if its source ranks at least as high as the
 * one already recorded, so layers can be applied in any order. Every value
 * remembers where it came from (config_dump() prints them for -v, secrets
 * redacted).
 *
 * struct config owns its strings; config_free() releases them (NULL-safe).
 * Errors: ERR_USAGE with a one-line message naming the option or variable.
 */
#ifndef TFLOCK_CONFIG_H
#define TFLOCK_CONFIG_H

#include <stdint.h>

#include "error.h"

enum cfg_source {
	SRC_UNSET = 0,
	SRC_DEFAULT,
	SRC_AWS_ENV,
	SRC_HELD, /* the outer tflock's TFLOCK_HELD_* */
	SRC_BACKEND,
	SRC_ENV,
	SRC_FLAG
};

enum cfg_cmd {
	CMD_RUN = 1 << 0,
	CMD_STATUS = 1 << 1,
	CMD_UNLOCK = 1 << 2,
	CMD_DOCTOR = 1 << 3,
	CMD_RELEASE = 1 << 4,
	CMD_CHECK_GIT = 1 << 5,
	CMD_HOLD = 1 << 6, /* hold: run's options too (config.c applies()) */
	CMD_ALL = 0xff,
};

enum cfg_opt {
	O_BUCKET,
	O_KEY,
	O_REGION,
	O_ENDPOINT,
	O_PATH_STYLE,
	O_WORKSPACE,
	O_WORKSPACE_KEY_PREFIX,
	O_PROFILE,
	O_LEASE,
	O_TIMEOUT,
	O_NO_WAIT,
	O_NO_QUEUE,
	O_CI_TAKEOVER,
	O_FOR,
	O_NOTE,
	O_TIE,
	O_HANDLE_FILE,
	O_RESUME,
	O_POLL,
	O_CONFLICT_EXIT_CODE,
	O_QUIET,
	O_VERBOSE,
	O_JSON,
	O_WATCH,
	O_ALL,
	O_PREFIX,
	O_FORCE,
	O_OPERATION,
	O_ON_LOST,
	O_LOST_EXIT_CODE,
	O_UNSAFE_KEEP_RUNNING,
	O_MAX_HOLD,
	O_GRACE,
	O_TERM_GRACE,
	O_GIT_CHECK,
	O_EXPECT_COMMIT,
	O_ALLOW_DIRTY,
	O_ALLOW_OLDER,
	O_REPORT,
	O_NO_LOCKFILE_CHECK,
	O_LOCK_TAGS,
	O_DYNAMODB_TABLE,
	O_DYNAMODB_ENDPOINT,
	O_MAX,
};

struct config {
	char *bucket;
	char *key; /* state key P for workspace "default" */
	char *region;
	char *endpoint;
	int path_style;
	char *workspace;
	char *workspace_key_prefix;
	char *profile;
	int64_t lease_ms;
	int64_t timeout_ms; /* -1: wait without limit */
	int no_wait;
	int no_queue;    /* B13: wait without the queue */
	int64_t poll_ms; /* --poll; 0: the default */
	long conflict_exit_code;
	int quiet;
	int verbose;
	int json;
	int watch;
	int all;      /* status --all: every lock in the bucket under prefix */
	char *prefix; /* status --all --prefix */
	int force;
	char *operation;     /* Operation written in the lock body */
	char *on_lost;       /* interrupt | kill | report */
	char *ci_takeover;   /* B14: auto | off | any (NULL: auto) */
	int64_t park_for_ms; /* hold --for: the parking time (B14.4); 0: not given */
	char *note;          /* hold --note */
	char *tie;           /* hold --tie: run | none (NULL: none) */
	char *handle_file;   /* hold, release --handle-file */
	char *resume;        /* run --resume FILE */
	long lost_exit_code;
	int unsafe_keep_running;
	int64_t max_hold_ms;   /* 0: none */
	int64_t grace_ms;      /* after a cancel's first signal, or the command's exit */
	int64_t term_grace_ms; /* after a later SIGTERM */
	char *git_check;       /* on | off | auto */
	char *expect_commit;
	int allow_dirty;
	int allow_older;
	char *report; /* --report FILE */
	int no_lockfile_check;
	char *lock_tags;         /* --lock-tags "k=v,k2=v2" */
	char *dynamodb_table;    /* Terraform's DynamoDB lock table (PROTOCOL B11) */
	char *dynamodb_endpoint; /* its endpoint; NULL: AWS's */
	int no_file;             /* the lock is the table item alone (a backend with
	                            dynamodb_table and without use_lockfile) */
	/* from the Terraform backend (not options): */
	int use_fips, use_dualstack, skip_s3_checksum;
	char *shared_credentials_file, *shared_config_file, *sts_endpoint;
	char *role_arn, *session_name, *external_id;
	/* the outer tflock's store (TFLOCK_HELD_*), applied by config_finish() */
	char *held_endpoint, *held_region, *held_ddb_table, *held_ddb_endpoint;
	int held_path_style;
	enum cfg_source src[O_MAX];
	/* derived */
	char *lock_tagging; /* lock_tags as an x-amz-tagging value ("k=v&k2=v2"), or NULL */
	double time_scale;  /* TFLOCK_TIME_SCALE (tests): scales every duration */
};

void config_init(struct config *c);
void config_free(struct config *c);
/* Apply TFLOCK_* variables and AWS_* fallbacks (region, endpoint, profile);
 * note the outer tflock's TFLOCK_HELD_* store settings. */
int config_from_env(struct config *c, struct tf_error *err);
/* Parse flags for subcommand cmd; *optind_out is the index of the first
 * non-option (the child command for CMD_RUN). Returns 1 for --help/--version
 * handled (printed), 0 to go on, or a negative error. */
int config_from_args(struct config *c, unsigned cmd, int argc, char **argv, int *optind_out,
                     struct tf_error *err);
int config_set(struct config *c, enum cfg_opt opt, const char *value, enum cfg_source src,
               struct tf_error *err);
/* Use the outer tflock's store unless told otherwise, check combinations and
 * what S3 would refuse, fill derived values. */
int config_finish(struct config *c, unsigned cmd, struct tf_error *err);
void config_dump(const struct config *c);
const char *config_source_name(enum cfg_source s);
/* Scale a duration by the test time scale. */
int64_t config_scaled(const struct config *c, int64_t ms);
/* Object tags "k=v,k2=v2" (at most 10; keys 1..128 and values 0..256
 * characters of letters, digits, spaces and _ . : / = + - @; no key twice,
 * none starting with "aws:") as the URL-encoded x-amz-tagging value. 0 and
 * *out (malloc'd), or ERR_USAGE naming the tag and what is wrong with it. */
int config_lock_tagging(const char *list, char **out, struct tf_error *err);

/* Exit codes (README, --help and the man page list the same). */
enum {
	EXIT_HELD = 75,        /* not acquired: held (timeout, --no-wait, unlock of another ID) */
	EXIT_LOST = 76,        /* the lock was lost while held */
	EXIT_USAGE = 64,       /* usage or configuration error */
	EXIT_UNAVAILABLE = 69, /* store unusable: credentials, bucket, self-test */
	EXIT_INTERNAL = 70,    /* internal error */
	EXIT_REFUSED = 77,     /* the pre-apply check refused the run */
	EXIT_STALE_FOUND = 78, /* status --all: a lock is likely stale or malformed */
};

#endif
