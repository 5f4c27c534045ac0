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

/* The engine's state (lock.h keeps it opaque). */
struct lock {
	struct s3_client *s3;
	struct record *rec; /* the lock record (record_s3: KEY.tflock) */
	char *state_key;    /* P */
	char *lock_key;     /* P.tflock */
	char *path;         /* BUCKET/P (the body's Path) */
	char *url;          /* s3://BUCKET/P.tflock */
	struct lock_opts o;
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
	unsigned heartbeats, heartbeat_failures, holders_seen;
	int took_over;
	struct lock_view last_holder; /* the last other holder seen */
	/* distinct holders seen while waiting, for reports (owned strings) */
	struct {
		char *who, *operation, *id;
	} seen[LOCK_SEEN_MAX];
	unsigned nseen;
	int waiting;            /* on_wait(LOCK_WAIT_BEGIN) was called, END not yet */
	struct lock *next;      /* the hold's next record (B12: the item), or NULL */
	char *hold_desc;        /* lock_describe_hold() */
	struct lock_view watch; /* the holder as last seen while acquiring, kept across
	                            acquire calls (B12: the watch of the item) */
	int64_t wait_deadline;  /* the hold's waiting limit (CLOCK_BOOTTIME), 0: own */
	int acq_mode;           /* ACQ_FULL, ACQ_ONCE, ACQ_WATCH */
	int in_hold;            /* a member of a hold of two (B12) */
	int in_hold_member;     /* the second member (owns nothing of o) */
	char dead_id[64];       /* B12: the ID of the hold whose file this round took
	                           over; its item is taken over without a second lease */
	int broken;             /* the last record call's failure said the store is unusable */
	struct queue *queue;    /* B13: our place in the queue (the first member owns it;
	                           the item of a hold borrows it), NULL: none */
	int trying;             /* B13: one create before joining: no waiting display */
	char counted_id[64];    /* the holder last counted in holders_seen */
	/* B14.2: what the CI said about the holder last asked about */
	struct ci_watch {
		char id[LOCKINFO_ID_LEN + 28]; /* the holder's lock ID ("": none yet) */
		char etag[128];                /* the version current when the question was sent */
		int verdict;                   /* enum cijob_verdict */
		int64_t t_recv;                /* the answer's receipt (CLOCK_BOOTTIME) */
		int64_t next_ask;              /* no question before this; INT64_MAX: never */
		int warned, said_ended;        /* the one line each, per holder */
		int asks;                      /* questions asked about this holder */
		int shared_runner;             /* cijob_answer's */
		char what[96], state[96];
		long long ended_ago_s;
	} ciw;
	char takeover_why[320]; /* why the last takeover happened (reports) */
	int took_over_by_ci;    /* the last takeover was B14.3's, not B4's lease */
	int parked;             /* B14.4: parked by us (held by no process) */
	char *live_info;        /* B14.4: the file's Info before parking rewrote it */
};

/* How lock_acquire_one() acquires: wait and take over as needed (B3, B4); one
 * create, or a takeover of a holder already watched for its whole lease, else
 * LOCK_HELD at once (B12 step 2); or only watch, without writing, until the
 * record is free or its holder has been silent for its lease (B12 step 3). */
enum { ACQ_FULL = 0, ACQ_ONCE, ACQ_WATCH };
int lock_acquire_one(struct lock *l, struct tf_error *err);
/* dst (initialised, empty) becomes a deep copy of src. */
void lock_view_copy(struct lock_view *dst, const struct lock_view *src);
/* B4 for l's own record only. */
int lock_renew_one(struct lock *l, struct tf_error *err);
/* B12: a fresh ID and Created for every member (each round of a hold's
 * acquisition is a new acquisition, B1: a leftover of an earlier round is
 * then someone else's lock, never adopted). */
void lock_fresh_id(struct lock *l);
/* Release l's own record only (B12: the file, when the item could not be had). */
int lock_release_first(struct lock *l, struct tf_error *err);

/* B13, internal: the head's ticket was removed or expired while it acquired:
 * it stops acquiring and joins the queue again (never returned to callers). */
#define LOCK_REQUEUE 100

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
/* Did this process write v's body (our ID, and our pid, host, boot and PID
 * namespace: B14.4, a parked lock's ID is shared by its parker and resumer)? */
int lock_written_by_us(const struct lock *l, const struct lock_view *v);
/* B5's removal of l's record at exactly that version (B8, unlock ID, a
 * parked lock's handle): conditional DELETE, or on a store that ignores it a
 * takeover with If-Match then a release. 0, LOCK_HELD (it has another version
 * now: nothing removed), or a failure. */
int lock_remove_version(struct lock *l, const char *version, struct tf_error *err);
/* B2: the one conditional write of our body with the next seq. */
int lock_write(struct lock *l, enum lock_cond cond, const char *etag, int64_t deadline,
               struct tf_error *err);
/* The lock is ours from now on (how: "created", "taken over"). */
int lock_acquired(struct lock *l, const char *how);
/* The public outcome of an internal result: LOCK_* values pass, a negative
 * ERR_* becomes the outcome it means (l->broken: LOCK_STORE_BROKEN). */
int lock_outcome(const struct lock *l, int ret);

#endif
