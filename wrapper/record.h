/*
 * record — one stored lock record, written only conditionally (docs/PROTOCOL.md
 * B2, B6). The lock engine (lock.c) holds the protocol's rules and reaches the
 * store only through this interface; each kind of record is one implementation:
 *
 *   record_s3.c   the S3 object KEY.tflock (Terraform >= 1.10's lock file)
 *   record_ddb.c  the DynamoDB item LockID = BUCKET/KEY (dynamodb_table)
 *
 * Queue tickets and the queue's counter (B13) are S3 objects too.
 *
 * Operations (struct record_ops), each one request (or one bounded series of
 * resends the store guarantees are harmless):
 *   read     the record's body and version; with `if_changed` set, REC_UNCHANGED
 *            when it still has that version (S3: GET If-None-Match, 304)
 *   create   write the body only if no record exists (S3: PUT If-None-Match: *)
 *   replace  write the body only if the record still has `version` (If-Match)
 *   remove   delete it, only if it still has `version` where the store honours
 *            that (caps.cond_delete); unconditionally when `version` is NULL
 *   list     the names and versions of records whose name starts with a
 *            prefix (queue tickets, B13), every page; NULL where the kind
 *            cannot list (S3: ListObjectsV2 with encoding-type=url, at most
 *            20 pages; record_s3_list_all() for more)
 *   probe    learn the store's capabilities (B6's self-test), filling caps
 *
 * Results: REC_DONE (read: present; write/remove: applied), REC_ABSENT,
 * REC_UNCHANGED, REC_PRECONDITION (the condition failed: the record has another
 * version, or exists for a create), or a negative ERR_* kind with err filled. A
 * negative result of a write means its outcome is unknown unless the request
 * was never sent (ERR_CONNECT without an HTTP status); the engine resolves that
 * by reading back (B2), never by resending. reply->broken is set when a failure
 * says the store is unusable as configured (credentials, bucket, region,
 * permissions): no retry helps, exit 69.
 *
 * Versions: an opaque token naming one stored state of the record (S3: the ETag,
 * normalised). A version alone could in principle repeat; the engine pairs it
 * with the body's seq, which every write of ours increments, so a comparison of
 * "our ID and the seq we wrote" never suffers ABA (B2).
 *
 * Memory: a record owns its name and its implementation's state; record_free()
 * releases them (NULL-safe). A reply owns its body; record_reply_free(). Not
 * thread-safe: one caller at a time.
 */
#ifndef TFLOCK_RECORD_H
#define TFLOCK_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

enum record_status {
	REC_DONE = 0,
	REC_ABSENT = 1,
	REC_UNCHANGED = 2,
	REC_PRECONDITION = 3,
};

#define RECORD_VERSION_MAX 128

/* What the store does with conditions (B6). Known up front for AWS; learned by
 * probe() elsewhere. */
struct record_caps {
	int known;        /* probed, or known without probing */
	int match_quoted; /* S3: If-Match takes the quoted ETag (AWS); else unquoted (RGW 16) */
	int cond_delete;  /* remove() honours the version: B5's direct path */
	int not_modified; /* read(if_changed) can answer REC_UNCHANGED without a body */
	int replicated;   /* DynamoDB: a global table (replicas in other regions: writes
	                     there do not exclude each other) */
	long read_units;  /* DynamoDB: provisioned read capacity, 0 on demand (B11:
	                     every waiter's poll is a consistent read) */
};

/* How one call may spend time. */
struct record_call {
	long timeout_ms;     /* per request */
	int64_t deadline_ns; /* CLOCK_BOOTTIME; 0: none beyond the request's timeout */
	int no_retry;        /* one attempt (a poll: the caller's loop is the retry) */
	int abortable;       /* end when a cancelling signal arrives (http_set_abort) */
};

struct record_reply {
	char version[RECORD_VERSION_MAX]; /* after a read, or an applied write that
	                                     reported it ("" when it did not) */
	struct buf body;                  /* read: the record's body */
	int broken;                       /* the failure says the store is unusable */
	int64_t t_first_send;             /* CLOCK_BOOTTIME of the first attempt's send */
	int64_t t_recv;                   /* of the answer's receipt */
};

struct record;

struct record_list {
	char **names;         /* whole names (S3: keys), in the store's order (S3: lexical) */
	char **versions;      /* each one's version, as a read would give it */
	int64_t *sizes;       /* each one's size in bytes (-1: not said) */
	int64_t *modified_ms; /* each one's LastModified, ms since the Unix epoch
	                         (-1: not said) */
	size_t n;
	int64_t t_recv; /* CLOCK_BOOTTIME receipt of the last page (B13 counts a
	                   ticket's staleness from it) */
};

/* The self-test's budget, and its verdict. */
struct record_probe {
	long timeout_ms;     /* per request */
	int64_t patience_ms; /* give up after failing this long (or 8 rounds) */
	double scale;        /* multiplies the pauses between rounds (tests) */
	int broken;          /* out: the store is unusable as a lock store */
};

struct record_ops {
	const char *kind; /* "s3-object" */
	int (*read)(struct record *r, const char *if_changed, const struct record_call *c,
	            struct record_reply *out, struct tf_error *err);
	int (*create)(struct record *r, const struct buf *body, const struct record_call *c,
	              struct record_reply *out, struct tf_error *err);
	int (*replace)(struct record *r, const char *version, const struct buf *body,
	               const struct record_call *c, struct record_reply *out, struct tf_error *err);
	int (*remove)(struct record *r, const char *version, const struct record_call *c,
	              struct record_reply *out, struct tf_error *err);
	int (*list)(struct record *r, const char *prefix, const struct record_call *c,
	            struct record_list *out, struct tf_error *err);
	/* B6: probe with scratch records. 0 with caps filled, else ERR_* with
	 * p->broken set when the store answered and cannot serve as a lock store. */
	int (*probe)(struct record *r, struct record_probe *p, struct tf_error *err);
	const char *(*describe_store)(const struct record *r);
	void (*free)(struct record *r);
};

struct record {
	const struct record_ops *ops;
	char *name; /* for humans and logs: s3://BUCKET/KEY */
	struct record_caps caps;
	unsigned requests; /* requests sent so far, for reports */
	int costly_reads;  /* each read costs the table capacity: poll slowly (B11) */
	void *impl;
};

void record_reply_init(struct record_reply *rep);
void record_reply_free(struct record_reply *rep);
void record_list_free(struct record_list *l);
void record_free(struct record *r);

/* The record kinds. */
struct s3_client;
struct http_header;
struct record_s3_opts {
	const struct http_header *put_headers; /* SSE / ACL mirrored from the backend */
	size_t nput_headers;
	int no_checksum;     /* skip_s3_checksum */
	const char *tagging; /* x-amz-tagging for every write, or NULL */
};
/* The S3 object `key` in the client's bucket. The client is borrowed and must
 * outlive the record. */
struct record *record_s3_new(struct s3_client *s3, const char *key, const struct record_s3_opts *o);
/* record_s3's listing with a page limit (0: none; `tflock status --all`): every
 * page of ListObjectsV2 of prefix, keys decoded (encoding-type=url), their
 * LastModified kept; more pages than max_pages is ERR_PARSE. A page holds
 * TFLOCK_LIST_PAGE_KEYS keys (1..1000, a test setting) when set. Errors as
 * s3_request()'s (ERR_HTTP with 403: no s3:ListBucket). */
int record_s3_list_all(struct record *r, const char *prefix, const struct record_call *c,
                       unsigned max_pages, struct record_list *out, struct tf_error *err);
/* One page of a ListObjectsV2 reply (xml[0..len)) appended to out: each
 * <Contents>'s Key (decoded when the page says <EncodingType>url), ETag
 * (normalised), Size and LastModified; *token the continuation token (malloc'd)
 * when the page is truncated, else NULL. ERR_PARSE for a truncated page without
 * a token. For tests and record_s3_list_all(). */
int record_s3_list_page(const char *xml, size_t len, struct record_list *out, char **token,
                        struct tf_error *err);
/* Terraform's DynamoDB lock item LockID = lock_id (BUCKET/P) in the client's
 * table (B11). The client is borrowed and must outlive the record. */
struct ddb_client;
struct record *record_ddb_new(struct ddb_client *c, const char *lock_id);
/* B11's lock body from an item's attributes (each NULL when absent): Info
 * alone, or Info with the Tflock member spliced in when TflockSeq agrees with
 * it; empty without Info (MALFORMED). out is replaced. */
void record_ddb_body(const char *info, const char *tf, const char *seq, struct buf *out);

#endif
