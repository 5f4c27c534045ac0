/*
 * queue — the FIFO queue of tflock waiters (docs/PROTOCOL.md B13).
 *
 * Waiters line up with tickets next to the lock: a counter object advanced by
 * CAS gives each its position (the commit order of those writes, no clock),
 * a ticket at that position is kept alive like a lease, and only the head — the
 * waiter with no live ticket ahead — goes on to acquire the lock (B3/B4, by the
 * lock engine, unchanged). The queue is advisory: it writes only P.queue.*
 * objects, deletes only tickets, and decides only when a waiter starts B3,
 * never whether a write to the lock is allowed.
 *
 *   P.queue.next.tflock         the counter {"v":1,"next":N,"ID":…,"seq":K}
 *   P.queue.<16 digits>.tflock  a ticket {"v":1,"ID":…,"seq":K,"lease_ms":Q,…}
 *
 * Every queue write follows B2: a reply other than 2xx is resolved by reading
 * the object back and comparing our ID and the seq just written.
 *
 * Memory: queue_new() copies what it keeps; queue_free() frees everything
 * (NULL-safe) but deletes nothing: leave the queue first (queue_leave()). The
 * s3 client is borrowed. One thread at a time.
 */
#ifndef TFLOCK_QUEUE_H
#define TFLOCK_QUEUE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "record.h"

struct s3_client;

struct queue_opts {
	struct s3_client *s3;
	const char *state_key;     /* P */
	struct record_s3_opts rec; /* SSE / ACL headers, checksum, --lock-tags */
	const char *id;            /* our lock ID, for the ticket and B2 */
	const char *who, *operation, *ci, *host;
	long pid;
	int64_t lease_ms;    /* our ticket's lease Q (scaled) */
	int64_t poll_ms;     /* the lock's poll interval p (scaled) */
	long timeout_ms;     /* per request (B13: at most Q/8) */
	int64_t patience_ms; /* leave the queue when its requests fail this long */
	volatile sig_atomic_t *cancel;
};

/* The waiting line's holder part: fills out with a description of the lock's
 * holder ("" when unknown); called at a human pace (a read of the lock). */
typedef void (*queue_holder_fn)(void *arg, char *out, size_t size);

struct queue;

struct queue *queue_new(const struct queue_opts *o);
void queue_free(struct queue *q);
/* The capabilities the lock's self-test learned (If-Match form, conditional
 * DELETE); before this, record_s3's defaults. */
void queue_set_caps(struct queue *q, const struct record_caps *caps);

/* Results. QUEUE_OFF: the queue cannot be used for this run (403, a counter
 * that is not ours, failing requests): err says why, the caller waits without
 * it (B13 fallback). */
enum { QUEUE_OK = 0, QUEUE_EMPTY, QUEUE_OFF, QUEUE_CANCELLED, QUEUE_TIMEOUT };

/* List the queue: QUEUE_EMPTY when it has no ticket, QUEUE_OK when it has,
 * QUEUE_OFF. */
int queue_peek(struct queue *q, struct tf_error *err);
/* Join at the back: QUEUE_OK (our position known), QUEUE_OFF, QUEUE_CANCELLED. */
int queue_join(struct queue *q, struct tf_error *err);
/* Wait until we are the head (QUEUE_OK; stale tickets ahead are removed on
 * the way), the waiting limit passes (deadline, CLOCK_BOOTTIME ns, 0: none;
 * QUEUE_TIMEOUT), a cancelling signal arrives, or the queue fails (QUEUE_OFF).
 * Prints the waiting line at a human pace, naming url and the holder. */
int queue_wait(struct queue *q, int64_t deadline, const char *url, queue_holder_fn holder,
               void *arg, struct tf_error *err);
/* While the head acquires: renew our ticket when it is due (cheap otherwise).
 * 1 when the ticket was found removed or let expire: we are no longer the head
 * and must join again (B13); else 0. */
int queue_keepalive(struct queue *q);
/* Leave: delete our ticket, if we have one (why: "acquired", "timeout", ...). */
void queue_leave(struct queue *q, const char *why);

/* Our position (0: not in the queue), requests sent, times our ticket was
 * found removed and we joined again. */
unsigned long long queue_position(const struct queue *q);
unsigned queue_requests(const struct queue *q);

/* For status and tests: one ticket as read. */
struct queue_ticket {
	unsigned long long pos;
	char *id, *who, *operation, *ci, *host, *created;
	long pid;
	long long seq;
	int64_t lease_ms; /* declared; 0: the body is not a v1 ticket */
};
void queue_ticket_free(struct queue_ticket *t);
/* Parse a ticket body: 0, or ERR_PARSE with err saying why (the fields are the
 * writer's bytes: escape them where they are printed). */
int queue_ticket_parse(const char *data, size_t len, struct queue_ticket *out,
                       struct tf_error *err);
/* The position in a queue key "P.queue.<16 digits>.tflock" after prefix: 1 and
 * *pos, or 0 when key is not a ticket's. */
int queue_key_position(const char *key, const char *prefix, unsigned long long *pos);
/* Every ticket of the queue, in order (status): 0 with *out and *n (free each with
 * queue_ticket_free, then the array), or an ERR_* kind. */
int queue_list_tickets(struct queue *q, struct queue_ticket **out, size_t *n, struct tf_error *err);

#endif
