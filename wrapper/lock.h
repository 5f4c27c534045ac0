/*
 * lock — the lock engine: Terraform's lock record held with a lease
 * (docs/PROTOCOL.md part B), behind one small interface.
 *
 * The engine reaches the store only through a record (record.h; today the S3
 * object KEY.tflock, record_s3.c). Every conditional write (acquire, renewal,
 * takeover, release) follows rule B2 in one function: 2xx means applied;
 * anything else is resolved by reading the record back and comparing ID and
 * seq, never by retrying blindly.
 *
 * Every public function returns one of enum lock_outcome, with err filled
 * when it is not LOCK_OK; callers branch on outcomes, never on error strings
 * or HTTP statuses, and map them to exit codes in one table (outcome.h).
 *
 * Times are CLOCK_BOOTTIME nanoseconds. The holder counts its lease from the
 * send time of its last successful write (lock_renew_send_ns()); a waiter
 * counts from the receipt of the response that first showed the holder's
 * current version. No wall clocks are compared between machines.
 *
 * struct lock is opaque: lock_new() makes one, lock_free() releases it and
 * everything it owns (NULL-safe). The s3 client is borrowed and must outlive
 * the lock. One thread at a time: while a command runs, the heartbeat thread
 * alone calls lock_renew()/lock_check(); the main thread reads accessors only
 * after it has stopped.
 */
#ifndef TFLOCK_LOCK_H
#define TFLOCK_LOCK_H

#include <signal.h>
#include <stdint.h>

#include "error.h"
#include "lockinfo.h"
#include "rfc3339.h"
#include "record.h"
#include "s3.h"

/* The outcomes of the engine's calls. */
enum lock_outcome {
	LOCK_OK = 0,          /* done: acquired, renewed, unchanged, released, removed, read */
	LOCK_HELD = 1,        /* another holder has it (--no-wait, --timeout; unlock: not
	                          that ID, or it changed meanwhile) */
	LOCK_LOST = 2,        /* it is no longer ours (taken over, force-unlocked, lease ran out) */
	LOCK_CANCELLED = 3,   /* a cancelling signal ended the wait */
	LOCK_UNAVAILABLE = 4, /* the store, not a holder, kept us from the lock: every
	                          request failing for the patience budget, or at the
	                          waiting limit while the store was failing */
	LOCK_FREE = 5,        /* unlock: there is no lock to remove */
	LOCK_STORE_BROKEN = 6, /* the store is unusable as configured: credentials,
	                          bucket, region, permissions, a failed self-test (B6) */
	LOCK_TRANSPORT = 7,    /* the store could not be reached (connect failed) */
	LOCK_BAD_INPUT = 8,    /* refused settings (a lease too short for this store) */
	LOCK_ERROR = 9,        /* any other failure: err says what */
};
#define LOCK_NOUTCOMES 10
/*
 * Parked locks (PROTOCOL B14.4, lock_park.c).
 * lock_park(): the held hold becomes parked: each record a v 2 body with p's
 *   park (for_ms from now on the wall clock: until, written to `until`), same
 *   ID and Created; afterwards the hold is held by no process (no renewal, no
 *   release). The caller has stopped renewing. LOCK_OK; LOCK_LOST when a
 *   record was no longer ours; else a failure outcome (the hold is then as
 *   before, held or lost).
 * lock_resume(): the records (file, item) must still be parked with ID id at
 *   versions[i] (and, tie "run", by run); each becomes our live body. LOCK_OK
 *   (held: renew and release as after lock_acquire()); LOCK_LOST (released,
 *   taken over, re-parked or resumed: err says which); LOCK_BAD_INPUT
 *   (another run's parking, or a handle for another number of records).
 * lock_release_parked(): the same checks (any run), then the records are
 *   removed as `unlock ID` removes them (B5). The handle's versions are
 *   lock_version(lock_member(l, i)) right after lock_park().
 */
struct lock;
struct lock_park_opts {
	int64_t for_ms;
	const char *note, *by, *tie, *jname;
};
int lock_park(struct lock *l, const struct lock_park_opts *p, char until[RFC3339_MAX],
              struct tf_error *err);
int lock_resume(struct lock *l, const char *id, const char *const *versions, size_t n,
                const char *run, struct tf_error *err);
int lock_release_parked(struct lock *l, const char *id, const char *const *versions, size_t n,
                        struct tf_error *err);

/* "held", "lost", "store-broken", ... */
const char *lock_outcome_name(int outcome);

/* PROTOCOL B5: on a store that ignores conditional DELETE the release DELETE is
 * sent within B = (L - m)/4 of a renewal's send and the store must execute it
 * within T = L - m - B of its sending; a lease below this many (protocol)
 * seconds leaves T too short to rely on, and is refused there. */
#define LOCK_MIN_LEASE_NO_COND_DELETE 20L

struct ci_api;
struct lockinfo_cijob;

/* B14.3: when a finished CI job lets a waiter take a live lock over early */
enum lock_ci_takeover {
	LOCK_CI_AUTO = 0, /* a holder on an ephemeral hosted runner (its body's eph) */
	LOCK_CI_OFF,      /* never: the lease alone */
	LOCK_CI_ANY,      /* any holder whose job the CI says has ended */
};

struct lock_opts {
	int64_t lease_ms;    /* our lease, scaled for tests */
	long lease_s;        /* our lease as declared in the body (unscaled seconds) */
	double time_scale;   /* multiplies every internal duration (tests) */
	int64_t timeout_ms;  /* waiting limit; -1 none */
	int64_t patience_ms; /* give up (LOCK_UNAVAILABLE) when every request failed this
	                        long; 0: 60 s scaled */
	int no_wait;
	const char *operation;
	const char *who;
	const char *info;
	const char *version;
	const char *ci;                  /* CI job URL or "" */
	const char *ci_job;              /* CI job id or "" */
	const struct lockinfo_cijob *cj; /* B14.1: our CI job, for the body; NULL none */
	/* B14.2: asking a holder's CI whether its job ended, with the waiter's own
	 * API access (NULL: never asked) */
	const struct ci_api *ci_api;
	enum lock_ci_takeover ci_takeover;
	/* B14.4: tflock hold's job name (GITHUB_JOB, CI_JOB_NAME): a lock parked by
	 * the same job of the same CI run (a re-run of the plan job) is taken at
	 * once; NULL or "": never */
	const char *park_job;
	const struct http_header *put_headers; /* SSE / ACL headers mirrored from the backend */
	size_t nput_headers;
	int no_checksum;          /* skip_s3_checksum */
	const char *tagging;      /* x-amz-tagging value for every lock write, or NULL */
	const char *inherited_id; /* an outer tflock's ID that must never be waited for */
	/* Terraform's DynamoDB lock item (PROTOCOL B11), borrowed: NULL none. With
	 * no_file the item is the only record; otherwise the hold is [file, item]
	 * (B12), one ID for both. */
	struct ddb_client *ddb;
	int ddb_owned; /* lock_free() frees ddb */
	int no_file;
	/* B13: wait in the FIFO queue next to the lock (not with no_wait) */
	int queue;
	int64_t poll_ms;               /* the waiting poll (scaled); 0: the default (B3, B11) */
	volatile sig_atomic_t *cancel; /* set by a signal handler: stop waiting */
	/* Waiting, for the caller's own display (a CI's collapsible section): called
	 * with LOCK_WAIT_BEGIN when acquire first sees a holder, LOCK_WAIT_END when
	 * that wait ends (acquired, or not). The engine's own progress lines go to
	 * the log either way. NULL: nothing. */
	void (*on_wait)(void *arg, int event);
	void *on_wait_arg;
};
enum { LOCK_WAIT_BEGIN = 1, LOCK_WAIT_END = 2 };

/* What a reader sees (status, waiting). */
struct lock_view {
	int present; /* 0: no lock object */
	int klass;   /* LOCKINFO_TFLOCK / FOREIGN / MALFORMED */
	struct lockinfo li;
	char etag[128];
	char why[768];           /* why foreign/malformed */
	int64_t first_seen_ns;   /* receipt of the first response showing this ETag */
	int64_t holder_lease_ms; /* scaled; 0 when not a takeover candidate */
};

struct lock; /* opaque */

/* What reports and summaries need (times CLOCK_BOOTTIME ns, 0: not yet). The
 * strings are the lock's; they live until lock_free(). */
#define LOCK_SEEN_MAX 16
struct lock_stats {
	int64_t wait_start_ns, acquired_ns, released_ns;
	unsigned heartbeats, heartbeat_failures, holders_seen, requests;
	int took_over;
	const char *takeover_why; /* "" or why the last takeover happened (B14.3) */
	unsigned nseen;           /* distinct holders seen while waiting, the first LOCK_SEEN_MAX */
	struct lock_seen {
		const char *who, *operation, *id;
	} seen[LOCK_SEEN_MAX];
};

/* Accessors. */
const char *lock_url(const struct lock *l); /* s3://BUCKET/P.tflock (the first record's) */
/* The hold's records (B10, B12): member 0 is l itself, member 1 the DynamoDB
 * item of a two-record hold; NULL past the last. Accessors and lock_read()
 * work on a member; acquire, renew, check, release and unlock act on the
 * whole hold through l. */
struct lock *lock_member(struct lock *l, unsigned i);
/* "s3://B/P.tflock", or "s3://B/P.tflock and dynamodb://T/B/P" for a hold. */
const char *lock_describe_hold(const struct lock *l);
const char *lock_state_key(const struct lock *l); /* P */
const char *lock_id(const struct lock *l);        /* our ID (in every body we write) */
const char *lock_who(const struct lock *l);       /* our Who */
int lock_is_held(const struct lock *l);
/* The other holder last seen (by acquire, a renewal or a check that lost). */
const struct lock_view *lock_last_holder(const struct lock *l);
/* The send of our last successful write: the lease counts from it (B4); for a
 * hold, the earliest of its members' (B12). */
int64_t lock_renew_send_ns(const struct lock *l);
int64_t lock_lease_ms(const struct lock *l);    /* ours, scaled */
const char *lock_version(const struct lock *l); /* of our record, for logs */
const struct record_caps *lock_caps(const struct lock *l);
const char *lock_store_describe(const struct lock *l); /* where requests go */
void lock_get_stats(const struct lock *l, struct lock_stats *st);
/* A flag a signal handler sets: waits and abortable requests end (B3). */
void lock_set_cancel(struct lock *l, volatile sig_atomic_t *flag);
/* B7: a nested run holds nothing itself; its times count from now. */
void lock_mark_reentered(struct lock *l);

void lock_view_init(struct lock_view *v);
void lock_view_free(struct lock_view *v);

/* The lock on the state key (PROTOCOL A1 done by the caller): its record, and
 * our body (B1) with a fresh ID. NULL with err set (ERR_USAGE) when it cannot be. */
struct lock *lock_new(struct s3_client *s3, const char *state_key, const struct lock_opts *o,
                      struct tf_error *err);
void lock_free(struct lock *l);

/* Derived durations (scaled). */
int64_t lock_heartbeat_ms(const struct lock *l);
int64_t lock_margin_ms(const struct lock *l);
int64_t lock_request_timeout_ms(const struct lock *l);
int64_t lock_poll_ms(const struct lock *l);
/* B5 without conditional DELETE: the DELETE is sent within this of the renewal's
 * send (B), and the store is assumed to execute it within lock_delete_transit_ms
 * (T = L - m - B) of its sending. */
int64_t lock_delete_budget_ms(const struct lock *l);
int64_t lock_delete_transit_ms(const struct lock *l);

/* B6: probe the store once (skipped for AWS, which is known; force: always).
 * LOCK_OK, LOCK_STORE_BROKEN, LOCK_BAD_INPUT (our lease is too short for a store
 * without conditional DELETE, B5), LOCK_CANCELLED. */
int lock_selftest(struct lock *l, int force, struct tf_error *err);

/* B3/B4: acquire, waiting and taking over a dead tflock holder. LOCK_OK,
 * LOCK_HELD (--no-wait, --timeout, or our own parent's lock: err says so),
 * LOCK_CANCELLED, LOCK_UNAVAILABLE, or a failure outcome. */
int lock_acquire(struct lock *l, struct tf_error *err);
/* B4: renew once (PUT If-Match). LOCK_OK, LOCK_LOST, or a failure outcome
 * (transient: the next renewal decides, until the lease runs out). */
int lock_renew(struct lock *l, struct tf_error *err);
/* B4: between renewals, one conditional GET (If-None-Match: our version):
 * LOCK_OK when unchanged, LOCK_LOST when it was removed (force-unlock) or holds
 * another ID, or a failure outcome (the next renewal decides). */
int lock_check(struct lock *l, struct tf_error *err);
/* How often the holder checks between renewals (0: renewals are often enough). */
int64_t lock_check_ms(const struct lock *l);
/* B5: release. LOCK_OK (also when not held), LOCK_LOST, or a failure outcome
 * (the lock is left to expire; err says so). */
int lock_release(struct lock *l, struct tf_error *err);

/* Read the lock once (GET, no writes) into v (v->present: held). LOCK_OK or a
 * failure outcome. */
int lock_read(struct lock *l, struct lock_view *v, struct tf_error *err);
/* Remove a lock with the given ID (unlock ID): B5, taking over first on stores
 * without conditional DELETE. LOCK_OK, LOCK_FREE (nothing there), LOCK_HELD
 * (another ID, or it changed meanwhile), or a failure outcome. */
int lock_unlock_id(struct lock *l, const char *id, struct tf_error *err);

/* One human line about a holder: "alice@host (OperationTypeApply, since 12:03:11
 * UTC, 4m ago, ID x)". The holder's fields are escaped for a terminal and cut
 * (sanitize_text()); the line fits size, ending in "…" when cut. */
void lock_describe_holder(const struct lock_view *v, char *out, size_t size);

#endif
