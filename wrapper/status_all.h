/*
 * status_all — `tflock status --all`: every lock in a bucket under a prefix,
 * and every lock item of the DynamoDB table when one is configured, each with
 * its state, holder, operation, age, lease left and queue length, stalest
 * first, for platform teams with hundreds of state files.
 *
 * Finding them: one ListObjectsV2 of the prefix, every page, keys decoded
 * (encoding-type=url; needs s3:ListBucket); a listed key is a lock only as
 * docs/PROTOCOL.md C says (status_all_classify()). Each lock is then read once
 * (GET, needs s3:GetObject); its age is the server's Date of that reply minus
 * the object's LastModified. With a table: a Scan for LockID beginning with
 * BUCKET/ + prefix, every page (needs dynamodb:Scan); an item has no
 * modification time, so its age is unknown and a tflock item is never called
 * stale (SA_HELD_AGE_UNKNOWN).
 *
 * Everything read (keys, lock bodies, items) is foreign: the text form escapes
 * it (sanitize_text()), the JSON form writes it exactly (report_json_string()).
 *
 * The pure parts (classification, state, order) are exported for the unit
 * test; status_all_main() is the subcommand.
 */
#ifndef TFLOCK_STATUS_ALL_H
#define TFLOCK_STATUS_ALL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "target.h"

/* What a listed name is (PROTOCOL C), by its name alone. */
enum sa_key {
	SA_KEY_LOCK,       /* P.tflock (S3), or the item BUCKET/P (DynamoDB) */
	SA_KEY_APPLIED,    /* P.applied.tflock */
	SA_KEY_SELFTEST,   /* P.<8 hex>.selftest.tflock, as a key or an item */
	SA_KEY_QUEUE_NEXT, /* P.queue.next.tflock */
	SA_KEY_TICKET,     /* P.queue.<16 digits>.tflock */
	SA_KEY_DIGEST,     /* the item BUCKET/P-md5 without Info: Terraform's digest */
	SA_KEY_OTHER,      /* not tflock's (the state itself, anything else) */
};

/*
 * Classify name: an S3 key (item 0), or a DynamoDB LockID with its "BUCKET/"
 * removed (item 1; has_info: the item has an Info string). *state_len is the
 * length of the state key P the name belongs to (0 for SA_KEY_OTHER).
 *
 * S3: a name ending in ".tflock" is, by the rest R before it: R ending in
 * ".applied" an applied marker, ".queue.next" the queue's counter,
 * ".queue.<exactly 16 digits>" a ticket, ".<8 lowercase hex>.selftest" a
 * self-test scratch key (the ID prefix tflock writes), each only when the P
 * before that suffix is not empty; else the lock of state R. A state key that
 * itself ends in one of those suffixes (a state "x.applied") is therefore
 * never listed as a lock: its lock name is also the name of x's marker, and
 * the name alone decides (`tflock status --key x.applied` still reads it).
 * DynamoDB: a self-test scratch item as above, a digest item (a name ending in
 * "-md5" with no Info), else a lock.
 */
enum sa_key status_all_classify(const char *name, int item, int has_info, size_t *state_len);

/* A lock's state; the order is the listing's order (stalest first). */
enum sa_state {
	SA_LIKELY_STALE,     /* tflock: unchanged for longer than its lease */
	SA_MALFORMED,        /* Terraform cannot read it either */
	SA_PLAIN,            /* plain Terraform/OpenTofu (or a body tflock does not
	                        take over): no lease, never taken over */
	SA_HELD_AGE_UNKNOWN, /* tflock, but no modification time (a DynamoDB item,
	                        a reply without Date): no evidence either way */
	SA_PARKED,           /* tflock, parked (B14.4): held by no process until its
	                        end; never "likely stale" */
	SA_LIVE,             /* tflock, written within its lease */
};

/* The state of a lock of lockinfo class klass (lockinfo.h), parked or not,
 * unchanged for age_ms (-1: unknown), whose holder keeps lease_ms: likely
 * stale when age_ms > lease_ms (never when parked). Pure. */
enum sa_state status_all_state(int klass, int parked, int64_t age_ms, int64_t lease_ms);
/* "likely stale", "malformed", "plain terraform", "held, age unknown", "parked",
 * "held live" */
const char *status_all_state_text(enum sa_state s);
/* "likely_stale", "malformed", "plain", "held_age_unknown", "parked", "live" (--json) */
const char *status_all_state_json(enum sa_state s);

/* What the order compares, for one lock. */
struct sa_rank {
	enum sa_state state;
	int64_t age_ms;   /* -1: unknown */
	int64_t lease_ms; /* tflock: the holder's lease; else 0 */
	const char *name; /* its URL: the last tie-break */
};
/* The listing's order: by state (enum order), then the most overdue first
 * (age − lease for tflock locks, the age for the others; an unknown age
 * last), then by name. qsort()-style. */
int status_all_cmp(const struct sa_rank *a, const struct sa_rank *b);

/* `tflock status --all`: print every lock (text, or --json: one object with
 * an array "locks"). Returns 0 when no lock is likely stale or malformed, else
 * EXIT_STALE_FOUND (78); dies with 69 when a listing, read or Scan is refused
 * (naming the missing permission), 70 for an unusable reply. */
int status_all_main(const struct config *c, const struct target *t);

#endif
