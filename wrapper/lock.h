/*
 * lock — Terraform's S3 lock object, held with a lease (PROTOCOL.md part B).
 *
 * Every conditional write (acquire, heartbeat, takeover, release) goes through
 * one function, write_lock(), which implements rule B2: 2xx means applied;
 * anything else is resolved by reading the lock back and comparing ID and seq,
 * never by retrying blindly.
 *
 * Outcomes callers branch on are positive: LOCK_HELD (someone else holds it:
 * --no-wait, --timeout), LOCK_LOST (it is no longer ours). Negative values are
 * ERR_* kinds from error.h with err filled; LOCK_FATAL_STORE marks errors that
 * mean the store is unusable (auth, bucket, self-test) for exit 69.
 *
 * Times are CLOCK_BOOTTIME nanoseconds. The holder counts its lease from the
 * send time of its last successful write (renew_send_ns); a waiter counts from
 * the receipt of the response that first showed the holder's current ETag. No
 * wall clocks are compared between machines.
 *
 * struct lock owns its strings and lockinfo; lock_free() releases them. The
 * s3 client is borrowed and must outlive the lock. Not thread-safe: the runner
 * uses one thread at a time.
 */
#ifndef TFLOCK_LOCK_H
#define TFLOCK_LOCK_H

#include <signal.h>
#include <stdint.h>

#include "error.h"
#include "http.h"
#include "lockinfo.h"
#include "record.h"
#include "s3.h"

/* Outcomes callers branch on. LOCK_UNAVAILABLE: the store, not a holder, kept us
 * from the lock (every request failing for the patience budget, or at the
 * waiting limit while the store was failing); err says what failed. */
enum { LOCK_OK = 0, LOCK_HELD = 1, LOCK_LOST = 2, LOCK_CANCELLED = 3, LOCK_UNAVAILABLE = 4 };

/* PROTOCOL B5: on a store that ignores conditional DELETE the release DELETE is
 * sent within B = (L - m)/4 of a renewal's send and the store must execute it
 * within T = L - m - B of its sending; a lease below this many (protocol)
 * seconds leaves T too short to rely on, and is refused there. */
#define LOCK_MIN_LEASE_NO_COND_DELETE 20L

struct lock_store {
	int known;       /* learned by the self-test (or known: AWS) */
	int etag_quoted; /* If-Match works with the quoted ETag (AWS); else unquoted (RGW 16) */
	int cond_delete; /* DELETE honours If-Match */
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
	const char *ci;                        /* CI job URL or "" */
	const char *ci_job;                    /* CI job id or "" */
	const struct http_header *put_headers; /* SSE / ACL headers mirrored from the backend */
	size_t nput_headers;
	int no_checksum;               /* skip_s3_checksum */
	const char *tagging;           /* x-amz-tagging value for every lock write, or NULL */
	const char *inherited_id;      /* an outer tflock's ID that must never be waited for */
	volatile sig_atomic_t *cancel; /* set by a signal handler: stop waiting */
};

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

struct lock {
	struct s3_client *s3;
	struct record *rec; /* the lock record (record_s3: KEY.tflock) */
	char *state_key;    /* P */
	char *lock_key;     /* P.tflock */
	char *path;         /* BUCKET/P (the body's Path) */
	char *url;          /* s3://BUCKET/P.tflock */
	struct lock_opts o;
	struct lock_store store;
	struct lockinfo mine;
	char etag[128]; /* current ETag of our lock, normalised */
	int held;
	int in_acquire;            /* requests may be abandoned on a cancelling signal */
	int maybe_created;         /* a create of ours may have applied, unconfirmed */
	int64_t id_first_send;     /* send of the first write carrying our ID (B2, B4) */
	struct tf_error write_err; /* the last conditional write's own failure */
	int64_t renew_send_ns;
	int64_t wait_start_ns, acquired_ns, released_ns;
	/* statistics for reports */
	unsigned heartbeats, heartbeat_failures, holders_seen, requests;
	int took_over;
	struct lock_view last_holder; /* the last other holder seen */
	/* distinct holders seen while waiting, for reports (owned strings) */
	struct {
		char *who, *operation, *id;
	} seen[16];
	unsigned nseen;
	int in_section; /* a GitLab collapsible section is open */
};

/* What reports and summaries need (times CLOCK_BOOTTIME ns, 0: not yet). The
 * strings are the lock's; they live until lock_free(). */
#define LOCK_SEEN_MAX 16
struct lock_stats {
	int64_t wait_start_ns, acquired_ns, released_ns;
	unsigned heartbeats, heartbeat_failures, holders_seen, requests;
	int took_over;
	unsigned nseen; /* distinct holders seen while waiting, the first LOCK_SEEN_MAX */
	struct lock_seen {
		const char *who, *operation, *id;
	} seen[LOCK_SEEN_MAX];
};

/* Accessors. */
const char *lock_url(const struct lock *l);       /* s3://BUCKET/P.tflock */
const char *lock_state_key(const struct lock *l); /* P */
const char *lock_id(const struct lock *l);        /* our ID (in every body we write) */
const char *lock_who(const struct lock *l);       /* our Who */
int lock_is_held(const struct lock *l);
/* The other holder last seen (by acquire, a renewal or a check that lost). */
const struct lock_view *lock_last_holder(const struct lock *l);
/* The send of our last successful write: the lease counts from it (B4). */
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

/* Lock key and body path for a state key (PROTOCOL A1 done by the caller). */
int lock_init(struct lock *l, struct s3_client *s3, const char *state_key,
              const struct lock_opts *o, struct tf_error *err);
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

/* B6: probe the store once (skipped for AWS, which is known). */
int lock_selftest(struct lock *l, int force, struct tf_error *err);

/* B3/B4: acquire, waiting and taking over a dead tflock holder. */
int lock_acquire(struct lock *l, struct tf_error *err);
/* B4: renew once (PUT If-Match). 0, LOCK_LOST, or a negative transient error. */
int lock_renew(struct lock *l, struct tf_error *err);
/* B4: between renewals, one conditional GET (If-None-Match: our ETag): 0 when
 * the lock is unchanged, LOCK_LOST when it was removed (force-unlock) or holds
 * another ID, or a negative transient error (the next renewal decides). */
int lock_check(struct lock *l, struct tf_error *err);
/* How often the holder checks between renewals (0: renewals are often enough). */
int64_t lock_check_ms(const struct lock *l);
/* B5: release. 0, LOCK_LOST, or negative (lock left to expire; err says so). */
int lock_release(struct lock *l, struct tf_error *err);

/* Read the lock once (GET, no writes) into v. */
int lock_read(struct lock *l, struct lock_view *v, struct tf_error *err);
/* Remove a lock with the given ID (unlock ID): B5, taking over first on stores
 * without conditional DELETE. LOCK_HELD when the ID is not the holder's. */
int lock_unlock_id(struct lock *l, const char *id, struct tf_error *err);

/* One human line about a holder: "alice@host (OperationTypeApply, since 12:03:11
 * UTC, 4m ago, ID x)". The holder's fields are escaped for a terminal and cut
 * (sanitize_text()); the line fits size, ending in "…" when cut. */
void lock_describe_holder(const struct lock_view *v, char *out, size_t size);

/* Is this error a sign the store is unusable (exit 69)? */
int lock_error_is_store(const struct tf_error *err);

#endif
