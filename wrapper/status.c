#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "outcome.h"
#include "queue.h"
#include "report.h"
#include "sanitize.h"

/* "  Label:     value\n" with the value (foreign: from the lock body) escaped and cut. */
static void status_field(struct buf *b, const char *label, const char *value, size_t max)
{
	buf_addf(b, "  %-10s ", label);
	sanitize_text(b, value, max);
	buf_addc(b, '\n');
}

/* The lines after the holder's fields: what kind of lock it is, and why. */
static void status_kind(struct buf *b, const struct lock_view *v)
{
	if (v->klass == LOCKINFO_TFLOCK) {
		buf_addf(b, "  Lease:     %lds (tflock protocol v%d, seq %llu, pid %ld on ",
		         v->li.tf.lease, v->li.tf.v, v->li.tf.seq, v->li.tf.pid);
		sanitize_text(b, v->li.tf.host ? v->li.tf.host : "?", SANITIZE_FIELD_MAX);
		buf_adds(b, ")\n");
		if (v->li.tf.lease_ms > 0)
			buf_addf(b,
			         "  Scaled:    the holder runs with a time scale: its lease is "
			         "really %ld ms\n",
			         v->li.tf.lease_ms);
		if (v->li.tf.ci && *v->li.tf.ci)
			status_field(b, "CI job:", v->li.tf.ci, SANITIZE_FIELD_MAX);
		if (v->li.tf.park.parked) { /* B14.4 */
			const struct lockinfo_park *p = &v->li.tf.park;
			buf_adds(b, "  Parked:    until ");
			sanitize_text(b, p->until, 40);
			buf_addf(b,
			         " (tie %s): no process holds it; 'tflock run --resume HANDLE' "
			         "takes it, 'tflock release --handle-file HANDLE' drops it\n",
			         !strcmp(p->tie, "run") ? "run: ends with its CI run" : "none");
			if (*p->note)
				status_field(b, "Note:", p->note, SANITIZE_TEXT_MAX);
			if (*p->by)
				status_field(b, "Parked by:", p->by, SANITIZE_FIELD_MAX);
		}
	} else if (v->klass == LOCKINFO_FOREIGN) {
		buf_adds(b, "  Kind:      not a tflock lock (");
		sanitize_text(b, *v->why ? v->why : "plain Terraform/OpenTofu lock",
		              SANITIZE_TEXT_MAX);
		buf_adds(b, "): never taken over automatically\n");
	} else {
		buf_adds(b, "  Kind:      MALFORMED (");
		sanitize_text(b, v->why, SANITIZE_TEXT_MAX);
		buf_adds(b, "): Terraform cannot use it either\n");
	}
}

static void print_status_text(const struct lock *l, const struct lock_view *v, int stale_known,
                              int stale)
{
	struct buf b = BUF_INIT;
	char who[512];
	sanitize_text(&b, lock_url(l), 0);
	if (!v->present) {
		buf_adds(&b, ": free\n");
		goto out;
	}
	lock_describe_holder(v, who, sizeof(who));
	buf_addf(&b, ": held by %s\n", who);
	status_field(&b, "ID:", v->li.id, SANITIZE_FIELD_MAX);
	status_field(&b, "Operation:", v->li.operation, SANITIZE_FIELD_MAX);
	status_field(&b, "Who:", v->li.who, SANITIZE_FIELD_MAX);
	status_field(&b, "Version:", v->li.version, SANITIZE_FIELD_MAX);
	status_field(&b, "Created:", v->li.created, SANITIZE_FIELD_MAX);
	status_field(&b, "Path:", v->li.path, SANITIZE_FIELD_MAX);
	status_field(&b, "Info:", v->li.info, SANITIZE_TEXT_MAX);
	status_kind(&b, v);
	if (stale_known)
		buf_addf(&b, "  Stale:     %s\n",
		         stale ? "yes: unchanged for its whole lease (holder gone)"
		               : "no: renewed while watched");
	if (v->li.id && *v->li.id) {
		struct buf id = BUF_INIT;
		sanitize_text(&id, v->li.id, SANITIZE_FIELD_MAX);
		buf_addf(&b, "  Unlock:    tflock unlock %s   (or: terraform force-unlock %s)\n",
		         id.data, id.data);
		buf_free(&id);
	}
out:
	fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
}

static void json_str(struct buf *b, const char *k, const char *v, int comma)
{
	buf_addf(b, "%s\"%s\":", comma ? "," : "", k);
	report_json_string(b, v);
}

static void print_status_json(const struct lock *l, const struct lock_view *v, int stale_known,
                              int stale)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "{");
	json_str(&b, "lock", lock_url(l), 0);
	buf_addf(&b, ",\"held\":%s", v->present ? "true" : "false");
	if (v->present) {
		json_str(&b, "kind",
		         v->klass == LOCKINFO_TFLOCK    ? "tflock"
		         : v->klass == LOCKINFO_FOREIGN ? "foreign"
		                                        : "malformed",
		         1);
		json_str(&b, "id", v->li.id, 1);
		json_str(&b, "operation", v->li.operation, 1);
		json_str(&b, "who", v->li.who, 1);
		json_str(&b, "version", v->li.version, 1);
		json_str(&b, "created", v->li.created, 1);
		json_str(&b, "path", v->li.path, 1);
		json_str(&b, "info", v->li.info, 1);
		json_str(&b, "etag", v->etag, 1);
		if (v->klass == LOCKINFO_TFLOCK)
			buf_addf(
			        &b,
			        ",\"lease_seconds\":%ld,\"lease_ms\":%lld,\"seq\":%llu,\"pid\":%ld",
			        v->li.tf.lease, (long long)v->holder_lease_ms, v->li.tf.seq,
			        v->li.tf.pid);
		if (v->klass == LOCKINFO_TFLOCK && v->li.tf.park.parked) {
			buf_adds(&b, ",\"parked\":{");
			json_str(&b, "until", v->li.tf.park.until, 0);
			json_str(&b, "note", v->li.tf.park.note, 1);
			json_str(&b, "by", v->li.tf.park.by, 1);
			json_str(&b, "tie", v->li.tf.park.tie, 1);
			buf_addf(&b, ",\"for_ms\":%lld}", v->li.tf.park.for_ms);
		}
		if (v->klass != LOCKINFO_TFLOCK)
			json_str(&b, "why", v->why, 1);
		if (stale_known)
			buf_addf(&b, ",\"stale\":%s", stale ? "true" : "false");
	}
	buf_adds(&b, "}\n");
	fputs(b.data, stdout);
	buf_free(&b);
}

int status_watch_stale(struct lock *l, struct lock_view *v, int *stale, struct tf_error *err)
{
	char etag[128];
	int64_t lease_ns;
	*stale = 0;
	if (!v->present || v->klass != LOCKINFO_TFLOCK)
		return 0;
	if (v->li.tf.park.parked) { /* B14.4: no process renews it; never "stale" */
		log_info("%s is parked: no process renews it, so watching it tells nothing; "
		         "'tflock release --handle-file HANDLE' drops it",
		         lock_url(l));
		return 0;
	}
	snprintf(etag, sizeof(etag), "%s", v->etag);
	lease_ns = v->holder_lease_ms * NS_PER_MS;
	log_info("watching %s for one lease (%lds) to tell whether its holder is alive...",
	         lock_url(l), v->li.tf.lease);
	for (;;) {
		int64_t step = lock_poll_ms(l);
		int ret = lock_read(l, v, err);
		if (ret)
			return ret;
		if (!v->present || strcmp(etag, v->etag))
			return 0; /* changed: alive (or released) */
		if (clock_boot_ns() - v->first_seen_ns >= lease_ns) {
			*stale = 1;
			return 0;
		}
		clock_sleep_ms(step);
	}
}

/* B13: the queue of waiters next to the lock, in line order. A listing the
 * store refuses is said, not fatal: the lock's status stands on its own. */
static void print_queue(struct s3_client *s3, const struct lock *l, int json)
{
	struct queue_opts qo;
	struct queue *q;
	struct queue_ticket *t = NULL;
	struct tf_error err;
	struct buf b = BUF_INIT;
	size_t n = 0;
	memset(&qo, 0, sizeof(qo));
	qo.s3 = s3;
	qo.state_key = lock_state_key(l);
	qo.timeout_ms = (long)lock_request_timeout_ms(l);
	q = queue_new(&qo);
	err_clear(&err);
	if (queue_list_tickets(q, &t, &n, &err)) {
		if (!json) {
			buf_adds(&b, "  Queue:     not listed (");
			sanitize_text(&b, err.msg, SANITIZE_TEXT_MAX);
			buf_adds(&b, ")\n");
		}
	} else if (!json) {
		buf_addf(&b, "  Queue:     %zu waiting%s\n", n, n ? ", in line order:" : "");
		for (size_t i = 0; i < n; i++) {
			buf_addf(&b, "    %zu. ", i + 1);
			sanitize_text(&b, t[i].ci && *t[i].ci ? t[i].ci : t[i].who, 128);
			buf_adds(&b, " (");
			sanitize_text(&b, t[i].operation && *t[i].operation ? t[i].operation : "?",
			              64);
			buf_adds(&b, ", joined ");
			sanitize_text(&b, t[i].created && *t[i].created ? t[i].created : "?", 64);
			buf_addf(&b, ", position %llu, ID ", t[i].pos);
			sanitize_text(&b, t[i].id && *t[i].id ? t[i].id : "none", 64);
			buf_adds(&b, ")\n");
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			buf_addf(&b, "{\"queue_position\":%llu,\"place\":%zu", t[i].pos, i + 1);
			json_str(&b, "id", t[i].id ? t[i].id : "", 1);
			json_str(&b, "who", t[i].who ? t[i].who : "", 1);
			json_str(&b, "operation", t[i].operation ? t[i].operation : "", 1);
			json_str(&b, "ci", t[i].ci ? t[i].ci : "", 1);
			json_str(&b, "created", t[i].created ? t[i].created : "", 1);
			buf_addf(&b, ",\"lease_ms\":%lld}\n", (long long)t[i].lease_ms);
		}
	}
	if (b.len)
		fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	for (size_t i = 0; i < n; i++)
		queue_ticket_free(&t[i]);
	free(t);
	queue_free(q);
}

int status_main(const struct config *c, const struct target *t)
{
	struct s3_client *s3 = target_open_store(c);
	struct lock_opts o;
	struct lock *l = NULL, *m;
	struct tf_error err;
	int held = 0;
	err_clear(&err);
	target_lock_opts(t, c, &o);
	l = target_lock(s3, t, c, &o);
	/* each record of the hold (B12): the file, then the DynamoDB item; --json
	 * prints one object a line, one line a record */
	for (unsigned i = 0; (m = lock_member(l, i)) != NULL; i++) {
		struct lock_view v;
		int stale = 0, rd, watched;
		lock_view_init(&v);
		if ((rd = lock_read(m, &v, &err)))
			die(outcome_exit_for_lock(rd, c), "%s", err.msg);
		if (c->watch && (rd = status_watch_stale(m, &v, &stale, &err)))
			die(outcome_exit_for_lock(rd, c), "%s", err.msg);
		watched =
		        c->watch && v.present && v.klass == LOCKINFO_TFLOCK && !v.li.tf.park.parked;
		if (c->json)
			print_status_json(m, &v, watched, stale);
		else
			print_status_text(m, &v, watched, stale);
		held |= v.present;
		lock_view_free(&v);
	}
	print_queue(s3, l, c->json);
	lock_free(l);
	s3_client_free(s3);
	return held ? (int)c->conflict_exit_code : 0;
}
