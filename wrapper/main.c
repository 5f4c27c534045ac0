/*
 * tflock — serialise Terraform runs on Terraform's own S3 lock object.
 *
 * main.c: parse the command line, build the configuration, dispatch to the
 * subcommand, map outcomes to exit codes. Data path of `tflock -- CMD`:
 * config → credentials (s3 client) → self-test → acquire → run (child +
 * heartbeat) → release → report.
 */
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "buf.h"
#include "ci.h"
#include "config.h"
#include "doctor.h"
#include "dur.h"
#include "lock.h"
#include "gitinfo.h"
#include "guardian.h"
#include "liveness.h"
#include "log.h"
#include "preapply.h"
#include "reentry.h"
#include "report.h"
#include "run.h"
#include "s3.h"
#include "sanitize.h"
#include "tfcmd.h"

static volatile sig_atomic_t cancel_sig;
static struct backend backend; /* the initialised Terraform backend, if found */
static int backend_found;
static struct backend_headers put_headers; /* SSE / ACL mirrored on the lock PUT */

static void on_cancel(int sig)
{
	cancel_sig = sig;
}

static void die_usage(const struct tf_error *err)
{
	die(EXIT_USAGE, "%s", err->msg);
}

/* PROTOCOL A1: the state object for a workspace (Go's path.Join, as Terraform). */
static char *state_key_for(const struct config *c)
{
	if (backend_found && c->src[O_KEY] == SRC_BACKEND && c->src[O_WORKSPACE] <= SRC_BACKEND &&
	    c->src[O_WORKSPACE_KEY_PREFIX] <= SRC_BACKEND)
		return xstrdup(backend.state_key); /* exactly what terraform computed */
	return backend_state_key(c->key, c->workspace ? c->workspace : "default",
	                         c->workspace_key_prefix ? c->workspace_key_prefix : "env:");
}

static int exit_for_error(const struct tf_error *err)
{
	if (err->kind == ERR_USAGE)
		return EXIT_USAGE;
	if (err->kind == ERR_CREDENTIALS || lock_error_is_store(err) ||
	    !strcmp(err->s3_code, "SelfTestFailed"))
		return EXIT_UNAVAILABLE;
	if (err->kind == ERR_CONNECT)
		return EXIT_UNAVAILABLE;
	return EXIT_INTERNAL;
}

/* the store as every subcommand reaches it: endpoint, addressing, credentials */
static void store_config(const struct config *c, struct s3_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->endpoint = c->endpoint;
	sc->region = c->region;
	sc->bucket = c->bucket;
	sc->path_style = c->path_style;
	sc->timeout_ms = 10000;
	sc->creds.profile = c->profile;
	sc->creds.region = c->region;
	sc->use_fips = c->use_fips;
	sc->use_dualstack = c->use_dualstack;
	sc->creds.shared_credentials_file = c->shared_credentials_file;
	sc->creds.shared_config_file = c->shared_config_file;
	sc->creds.sts_endpoint = c->sts_endpoint;
	sc->creds.assume_role.role_arn = c->role_arn;
	sc->creds.assume_role.session_name = c->session_name;
	sc->creds.assume_role.external_id = c->external_id;
}

/* The store's settings for a hook or the command to reach the same store
 * (tflock removes the TFLOCK_* option variables from their environment):
 * TFLOCK_HELD_S3_ENDPOINT (only when an endpoint was set), TFLOCK_HELD_REGION,
 * TFLOCK_HELD_PATH_STYLE=true (only when set). Up to 3 strings to out. */
static size_t store_env(const struct config *c, char **out)
{
	size_t n = 0;
	if (c->endpoint && *c->endpoint)
		out[n++] = xasprintf("TFLOCK_HELD_S3_ENDPOINT=%s", c->endpoint);
	out[n++] = xasprintf("TFLOCK_HELD_REGION=%s",
	                     c->region && *c->region ? c->region : "us-east-1");
	if (c->path_style)
		out[n++] = xstrdup("TFLOCK_HELD_PATH_STYLE=true");
	return n;
}

static struct s3_client *open_store(const struct config *c)
{
	struct s3_config sc;
	struct s3_client *s3 = NULL;
	struct tf_error err;
	err_clear(&err);
	store_config(c, &sc);
	if (s3_client_new(&sc, &s3, &err))
		die(exit_for_error(&err), "%s", err.msg);
	return s3;
}

static void setup_lock(struct lock *l, struct s3_client *s3, const struct config *c,
                       const char *operation, const char *info, const struct ci_identity *ci)
{
	struct lock_opts o;
	struct tf_error err;
	char *key = state_key_for(c);
	memset(&o, 0, sizeof(o));
	err_clear(&err);
	o.time_scale = c->time_scale;
	o.lease_s = (long)(c->lease_ms / 1000);
	o.lease_ms = config_scaled(c, c->lease_ms);
	o.timeout_ms = c->timeout_ms >= 0 ? config_scaled(c, c->timeout_ms) : -1;
	o.no_wait = c->no_wait;
	o.operation = operation;
	o.info = info;
	o.who = ci ? ci->who : NULL;
	o.ci = ci ? ci->url : NULL;
	o.ci_job = ci ? ci->job : NULL;
	o.version = "tflock-" PACKAGE_VERSION;
	o.inherited_id = getenv("TFLOCK_HELD_ID");
	o.put_headers = put_headers.h;
	o.nput_headers = put_headers.n;
	o.no_checksum = c->skip_s3_checksum;
	o.tagging = c->lock_tagging;
	if (lock_init(l, s3, key, &o, &err))
		die(exit_for_error(&err), "%s", err.msg);
	free(key);
}

static void release_on_die(void *arg)
{
	struct lock *l = arg;
	struct tf_error err;
	err_clear(&err);
	if (l->held && lock_release(l, &err))
		log_error("while stopping: %s", err.msg);
}

/* "  Label:     value\n" with the value (foreign: from the lock body) escaped and cut. */
static void status_field(struct buf *b, const char *label, const char *value, size_t max)
{
	buf_addf(b, "  %-10s ", label);
	sanitize_text(b, value, max);
	buf_addc(b, '\n');
}

static void print_status_text(const struct lock *l, const struct lock_view *v, int stale_known,
                              int stale)
{
	struct buf b = BUF_INIT;
	char who[512];
	sanitize_text(&b, l->url, 0);
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
	if (v->klass == LOCKINFO_TFLOCK) {
		buf_addf(&b, "  Lease:     %lds (tflock protocol v%d, seq %llu, pid %ld on ",
		         v->li.tf.lease, v->li.tf.v, v->li.tf.seq, v->li.tf.pid);
		sanitize_text(&b, v->li.tf.host ? v->li.tf.host : "?", SANITIZE_FIELD_MAX);
		buf_adds(&b, ")\n");
		if (v->li.tf.lease_ms > 0)
			buf_addf(&b,
			         "  Scaled:    the holder runs with a time scale: its lease is "
			         "really %ld ms\n",
			         v->li.tf.lease_ms);
		if (v->li.tf.ci && *v->li.tf.ci)
			status_field(&b, "CI job:", v->li.tf.ci, SANITIZE_FIELD_MAX);
	} else if (v->klass == LOCKINFO_FOREIGN) {
		buf_adds(&b, "  Kind:      not a tflock lock (");
		sanitize_text(&b, *v->why ? v->why : "plain Terraform/OpenTofu lock",
		              SANITIZE_TEXT_MAX);
		buf_adds(&b, "): never taken over automatically\n");
	} else {
		buf_adds(&b, "  Kind:      MALFORMED (");
		sanitize_text(&b, v->why, SANITIZE_TEXT_MAX);
		buf_adds(&b, "): Terraform cannot use it either\n");
	}
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
	json_str(&b, "lock", l->url, 0);
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
		if (v->klass != LOCKINFO_TFLOCK)
			json_str(&b, "why", v->why, 1);
		if (stale_known)
			buf_addf(&b, ",\"stale\":%s", stale ? "true" : "false");
	}
	buf_adds(&b, "}\n");
	fputs(b.data, stdout);
	buf_free(&b);
}

/* Watch a tflock lock for one of its leases: stale when its ETag never changed. */
static int watch_stale(struct lock *l, struct lock_view *v, int *stale, struct tf_error *err)
{
	char etag[128];
	int64_t lease_ns;
	*stale = 0;
	if (!v->present || v->klass != LOCKINFO_TFLOCK)
		return 0;
	snprintf(etag, sizeof(etag), "%s", v->etag);
	lease_ns = v->holder_lease_ms * 1000000LL;
	log_info("watching %s for one lease (%lds) to tell whether its holder is alive...", l->url,
	         v->li.tf.lease);
	for (;;) {
		struct timespec ts = { 0, 0 };
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
		ts.tv_sec = step / 1000;
		ts.tv_nsec = (step % 1000) * 1000000;
		nanosleep(&ts, NULL);
	}
}

static int cmd_status(struct config *c)
{
	struct s3_client *s3 = open_store(c);
	struct lock l;
	struct lock_view v;
	struct tf_error err;
	int stale = 0, ret;
	err_clear(&err);
	setup_lock(&l, s3, c, NULL, NULL, NULL);
	lock_view_init(&v);
	if (lock_read(&l, &v, &err))
		die(exit_for_error(&err), "%s", err.msg);
	if (c->watch && watch_stale(&l, &v, &stale, &err))
		die(exit_for_error(&err), "%s", err.msg);
	if (c->json)
		print_status_json(&l, &v, c->watch && v.present && v.klass == LOCKINFO_TFLOCK,
		                  stale);
	else
		print_status_text(&l, &v, c->watch && v.present && v.klass == LOCKINFO_TFLOCK,
		                  stale);
	ret = v.present ? (int)c->conflict_exit_code : 0;
	lock_view_free(&v);
	lock_free(&l);
	s3_client_free(s3);
	return ret;
}

static int cmd_unlock(struct config *c, const char *id)
{
	struct s3_client *s3 = open_store(c);
	struct lock l;
	struct tf_error err;
	struct lock_view v;
	int ret;
	char *want = NULL;
	err_clear(&err);
	lock_view_init(&v);
	setup_lock(&l, s3, c, "unlock", "tflock unlock", NULL);
	if (!id) {
		int stale = 0;
		if (lock_read(&l, &v, &err))
			die(exit_for_error(&err), "%s", err.msg);
		if (!v.present) {
			log_info("%s is not locked", l.url);
			ret = 0;
			goto out;
		}
		if (v.klass != LOCKINFO_TFLOCK)
			die(c->conflict_exit_code,
			    "%s is not a tflock lock with a lease (%s): --force cannot prove it "
			    "stale; if you know its run is gone: tflock unlock %s",
			    l.url, *v.why ? v.why : "plain Terraform/OpenTofu lock",
			    v.li.id ? v.li.id : "ID");
		if (watch_stale(&l, &v, &stale, &err))
			die(exit_for_error(&err), "%s", err.msg);
		if (!v.present) {
			log_info("%s was released while watching", l.url);
			ret = 0;
			goto out;
		}
		if (!stale)
			die(c->conflict_exit_code,
			    "%s is alive (renewed while watched): not removed", l.url);
		want = xstrdup(v.li.id);
		id = want;
	}
	if (lock_selftest(&l, 0, &err))
		die(EXIT_UNAVAILABLE, "%s", err.msg);
	ret = lock_unlock_id(&l, id, &err);
	if (ret == 0) {
		log_info("unlocked %s (ID %s)", l.url, id);
	} else if (ret == ERR_NOT_FOUND) {
		log_info("%s", err.msg);
		ret = 0;
	} else if (ret == LOCK_HELD) {
		log_error("%s", err.msg);
		ret = (int)c->conflict_exit_code;
	} else {
		log_error("%s", err.msg);
		ret = exit_for_error(&err);
	}
out:
	free(want);
	lock_view_free(&v);
	lock_free(&l);
	s3_client_free(s3);
	return ret;
}

/*
 * `tflock release`: the cleanup step (if: always(), after_script). Releases the
 * lock only when its holder is provably gone (PROTOCOL B8, liveness.h): its pid
 * is dead in our PID namespace on our boot, or it was left by this very CI job.
 * Never a live holder's, never another job's.
 */
static int cmd_release(struct config *c)
{
	struct s3_client *s3 = open_store(c);
	struct ci_identity ci;
	struct lock l;
	struct lock_view v;
	struct tf_error err;
	struct liveness_self self;
	char *bid = liveness_read_boot_id(), *pidns = liveness_read_pidns();
	const char *why = "";
	char who[512];
	enum liveness gone;
	int ret = 0;

	err_clear(&err);
	ci_detect(&ci);
	lock_view_init(&v);
	setup_lock(&l, s3, c, "release", "tflock release", NULL);
	if (lock_read(&l, &v, &err))
		die(exit_for_error(&err), "%s", err.msg);
	if (!v.present) {
		log_info("'%s' is free: nothing to release", l.url);
		goto out;
	}
	if (v.klass != LOCKINFO_TFLOCK) {
		log_info("'%s' is held by a lock tflock did not write (%s): not ours to release",
		         l.url, v.li.who ? v.li.who : "?");
		goto out;
	}
	self.boot_id = bid;
	self.pidns = pidns;
	self.ci_job = ci.job;
	gone = liveness_judge(&v.li.tf, &self, liveness_probe_kill, NULL, &why);
	lock_describe_holder(&v, who, sizeof(who));
	if (gone == LIVENESS_ALIVE_HERE) {
		log_error("'%s' is held by a live tflock on this machine (pid %ld): not released; "
		          "let it finish, or stop it and run tflock release again",
		          l.url, v.li.tf.pid);
		ret = (int)c->conflict_exit_code;
		goto out;
	}
	if (gone == LIVENESS_UNKNOWN) {
		log_info("'%s' is held by %s, not provably gone (%s%s): not released; if you know "
		         "its run has ended: tflock unlock %s",
		         l.url, who, why, *ci.job ? "; not left by this CI job" : "", v.li.id);
		goto out;
	}
	if (lock_selftest(&l, 0, &err))
		die(EXIT_UNAVAILABLE, "%s", err.msg);
	ret = lock_unlock_id(&l, v.li.id, &err);
	if (ret == 0) {
		log_info("released '%s' left by %s (%s)", l.url, v.li.who ? v.li.who : "?",
		         gone == LIVENESS_GONE_PID ? "its process is gone" : "this CI job");
	} else if (ret == LOCK_HELD) {
		log_info("'%s' changed meanwhile: not released", l.url);
		ret = 0;
	} else {
		log_error("%s", err.msg);
		ret = exit_for_error(&err);
	}
out:
	free(bid);
	free(pidns);
	ci_identity_free(&ci);
	lock_view_free(&v);
	lock_free(&l);
	s3_client_free(s3);
	return ret;
}

static int cmd_doctor(struct config *c)
{
	struct s3_config sc;
	struct s3_client *s3 = NULL;
	struct tf_error err;
	struct doctor_input in;
	struct lock l;
	int fails;
	memset(&in, 0, sizeof(in));
	err_clear(&err);
	store_config(c, &sc);
	printf("tflock doctor: s3://%s/%s\n", c->bucket, c->key);
	if (s3_client_new(&sc, &s3, &err)) {
		in.creds_error = err.msg;
		fails = doctor_run(&in);
		printf("%d check(s) failed\n", fails);
		return fails ? EXIT_UNAVAILABLE : 0;
	}
	setup_lock(&l, s3, c, "doctor", "tflock doctor", NULL);
	in.s3 = s3;
	in.lock = &l;
	in.use_lockfile = backend_found ? backend.use_lockfile : -1;
	in.backend_found = backend_found;
	in.dynamodb_table = backend_found ? backend.dynamodb_table : NULL;
	in.lock_tags = c->lock_tags;
	fails = doctor_run(&in);
	printf("%d check(s) failed\n", fails);
	lock_free(&l);
	s3_client_free(s3);
	return fails ? EXIT_UNAVAILABLE : 0;
}

static void record_applied(struct lock *l, void *arg)
{
	const struct gitinfo *gi = arg;
	struct tf_error err;
	err_clear(&err);
	if (preapply_record(l, gi, &err))
		log_warn("could not record commit %.12s as applied: %s", gi->head, err.msg);
	else
		log_verbose("recorded commit %.12s as the last applied to %s", gi->head, l->url);
}

static enum preapply_mode git_mode(const struct config *c)
{
	if (!c->git_check || !strcmp(c->git_check, "auto"))
		return GIT_CHECK_AUTO;
	return !strcmp(c->git_check, "on")       ? GIT_CHECK_ON
	       : !strcmp(c->git_check, "strict") ? GIT_CHECK_STRICT
	                                         : GIT_CHECK_OFF;
}

/* `tflock check-git`: the built-in pre-apply checks, reading (never writing) the
 * record of the last applied commit; for hooks and manual use. */
static int cmd_check_git(struct config *c)
{
	struct s3_client *s3 = open_store(c);
	struct lock l;
	struct gitinfo gi;
	struct preapply_opts po;
	struct tf_error err;
	int active = 0, ret;
	err_clear(&err);
	memset(&po, 0, sizeof(po));
	memset(&gi, 0, sizeof(gi));
	setup_lock(&l, s3, c, "check-git", "tflock check-git", NULL);
	po.mode = git_mode(c) == GIT_CHECK_STRICT ? GIT_CHECK_STRICT : GIT_CHECK_ON;
	po.origin = "tflock check-git";
	po.is_apply = 1;
	po.expect_commit = c->expect_commit;
	po.allow_dirty = c->allow_dirty;
	po.allow_older = c->allow_older;
	ret = preapply_check(&l, &po, &gi, &active, &err);
	if (ret == PREAPPLY_REFUSED) {
		log_error("%s", err.msg);
		ret = EXIT_REFUSED;
	} else if (ret) {
		log_error("%s", err.msg);
		ret = exit_for_error(&err);
	} else {
		log_info("git checks pass: %.12s%s%s is clean and not older than the last applied "
		         "commit",
		         gi.head, gi.branch ? " on " : "", gi.branch ? gi.branch : "");
	}
	gitinfo_free(&gi);
	lock_free(&l);
	s3_client_free(s3);
	return ret;
}

/* --report FILE and, on GitHub Actions, the step summary, outputs and
 * annotations. r is NULL when the command never ran (not acquired). */
static void write_reports(const struct config *c, const struct lock *l, const struct run_result *r,
                          const struct tfcmd *tf, const char *outcome, const char *kind,
                          int exit_code)
{
	struct report rep;
	struct report_holder hs[16];
	struct tf_error err;
	char cmd[512], started[48];
	struct timespec now;
	static const struct lock none; /* an exit before the lock was set up */
	const char *report_path = c && c->report ? c->report : getenv("TFLOCK_REPORT");
	int64_t end;
	if (!l)
		l = &none;
	end = l->released_ns ? l->released_ns : clock_boot_ns();
	/* no early return when not in CI: report_github() and report_gitlab()
	 * each decide that for their own CI */
	if (report_path && !*report_path)
		report_path = NULL;
	memset(&rep, 0, sizeof(rep));
	err_clear(&err);
	snprintf(cmd, sizeof(cmd), "%s%s%s", tf && tf->program ? tf->program : "",
	         tf && tf->sub ? " " : "", tf && tf->sub ? tf->sub : "");
	clock_gettime(CLOCK_REALTIME, &now);
	if (l->wait_start_ns)
		now.tv_sec -= (clock_boot_ns() - l->wait_start_ns) / 1000000000;
	now.tv_nsec = 0;
	lockinfo_format_created(&now, started);
	for (unsigned i = 0; i < l->nseen && i < 16; i++) {
		hs[i].who = l->seen[i].who;
		hs[i].operation = l->seen[i].operation;
		hs[i].id = l->seen[i].id;
	}
	rep.lock_url = l->url ? l->url : "";
	rep.lock_id = l->acquired_ns ? l->mine.id : "";
	rep.command = cmd;
	rep.acquired = l->acquired_ns != 0;
	rep.took_over = l->took_over;
	rep.waited_s = l->wait_start_ns
	                       ? ((l->acquired_ns ? l->acquired_ns : end) - l->wait_start_ns) / 1e9
	                       : 0;
	rep.held_s = l->acquired_ns ? (end - l->acquired_ns) / 1e9 : 0;
	rep.heartbeats = l->heartbeats;
	rep.heartbeat_failures = l->heartbeat_failures;
	rep.requests = l->requests;
	rep.holders = hs;
	rep.nholders = l->nseen < 16 ? l->nseen : 16;
	rep.child_ran = r && r->child_status != -1;
	rep.child_status_code = r ? r->child_code : 0;
	rep.child_signal = r && r->child_status != -1 && WIFSIGNALED(r->child_status)
	                           ? WTERMSIG(r->child_status)
	                           : 0;
	rep.exit_code = exit_code;
	rep.outcome = outcome;
	rep.outcome_kind = kind;
	rep.started_utc = started;
	if (report_path && report_write_json(&rep, report_path, &err))
		log_error("%s", err.msg);
	err_clear(&err);
	if (report_github(&rep, &err))
		log_warn("GitHub Actions report: %s", err.msg);
	err_clear(&err);
	if (report_gitlab(&rep, &err))
		log_warn("GitLab CI report: %s", err.msg);
}

/* What an exit of `tflock run` reports, however it comes (die() included): the
 * --report file, and on GitHub the outputs, summary and an annotation. */
static struct {
	const struct config *c;
	const struct lock *l; /* NULL until set up */
	const struct tfcmd *tf;
	int reported;
} xr;

static const char *kind_of_exit(int code)
{
	switch (code) {
	case EXIT_USAGE:
		return "usage";
	case EXIT_UNAVAILABLE:
		return "unavailable";
	case EXIT_REFUSED:
		return "refused";
	default:
		break;
	}
	if (code > 128 && code <= 128 + 64)
		return "cancelled"; /* a signal to tflock before the command ran */
	if (xr.c && code == (int)xr.c->conflict_exit_code)
		return "held";
	if (xr.c && code == (int)xr.c->lost_exit_code)
		return "lost";
	return "error";
}

static void report_exit(int code, const char *msg, const char *kind)
{
	if (xr.reported)
		return;
	xr.reported = 1;
	write_reports(xr.c, xr.l, NULL, xr.tf, msg, kind ? kind : kind_of_exit(code), code);
}

static void report_on_die(int code, const char *msg)
{
	report_exit(code, msg, NULL);
}

static void summary(const struct lock *l, const struct run_result *r, char *const argv[])
{
	char waited[32], held[32];
	dur_format((l->acquired_ns - l->wait_start_ns) / 1000000, waited, sizeof(waited));
	dur_format(((l->released_ns ? l->released_ns : clock_boot_ns()) - l->acquired_ns) / 1000000,
	           held, sizeof(held));
	if (r->lost || r->release_failed)
		log_error("%s %s: waited %s, held %s, %u renewal%s; '%s' exited %d", l->url,
		          r->outcome, waited, held, l->heartbeats, l->heartbeats == 1 ? "" : "s",
		          argv[0], r->child_code);
	else
		log_info("%s %s: waited %s, held %s, %u renewal%s; '%s' exited %d", l->url,
		         r->outcome, waited, held, l->heartbeats, l->heartbeats == 1 ? "" : "s",
		         argv[0], r->child_code);
}

/* What a nested tflock compares with its outer: the same store, bucket and key. */
static char *lock_ident(const struct config *c)
{
	char *key = state_key_for(c), *id;
	id = xasprintf("%s|%s|%s", c->endpoint ? c->endpoint : "aws", c->bucket, key);
	free(key);
	return id;
}

static enum on_lost on_lost_of(const struct config *c)
{
	return !c->on_lost || !strcmp(c->on_lost, "interrupt") ? ON_LOST_INTERRUPT
	       : !strcmp(c->on_lost, "kill")                   ? ON_LOST_KILL
	                                                       : ON_LOST_REPORT;
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

/*
 * What terraform will do with the lock tflock holds, decided before anything is
 * taken: TF_CLI_ARGS* read as terraform reads them (-lock, -lock-timeout), the
 * commands in front of it, and console, which locks without a -lock flag. Dies
 * with 64 where the run could only fail on tflock's own lock.
 */
static void check_command(const struct config *c, struct tfcmd *tf)
{
	int eff;
	(void)c;
	if (tfcmd_apply_env(tf, env_get) < 0)
		die(EXIT_USAGE,
		    "TF_CLI_ARGS or %s cannot be parsed as terraform parses it (an "
		    "open quote or a final backslash)",
		    tf->cli_args_var);
	if (tf->setsid_nowait)
		die(EXIT_USAGE,
		    "setsid without -w returns before '%s' ends: tflock would release the lock "
		    "while it still runs; use 'setsid -w'",
		    tf->program);
	if (tf->prefix && !tf->is_terraform)
		log_verbose("'%s' runs '%s': not terraform, nothing injected", tf->prefix,
		            tf->program);
	if (!tf->is_terraform || !backend_found)
		return;
	if (tf->prefix)
		log_verbose("looked through '%s' to '%s %s'", tf->prefix, tf->program,
		            tf->sub ? tf->sub : "");
	eff = tfcmd_effective_lock(tf);
	if (tf->locks_without_flag && eff != TFCMD_LOCK_FALSE)
		die(EXIT_USAGE,
		    "'%s %s' takes the state lock itself and has no -lock flag, so it cannot run "
		    "while tflock holds that lock: run it without tflock (it only reads the "
		    "state), or with a %s that accepts '%s -lock=false'",
		    tf->program, tf->sub, tf->is_tofu ? "tofu" : "version", tf->sub);
	if (!tf->inject_lock || eff == TFCMD_LOCK_FALSE || eff == TFCMD_LOCK_TRUE)
		return;
	if (tf->env_cleared)
		die(EXIT_USAGE,
		    "'env -i' in front of %s clears the environment, so tflock's %s=-lock=false "
		    "cannot reach it and it would fail on the lock tflock holds: drop -i, or "
		    "pass -lock=false to %s yourself",
		    tf->program, tf->cli_args_var, tf->program);
	if (tf->env_sets && !strcmp(tf->env_sets, tf->cli_args_var))
		die(EXIT_USAGE,
		    "'env %s=...' in front of %s replaces tflock's %s=-lock=false, so it would "
		    "fail on the lock tflock holds: add -lock=false to that value",
		    tf->env_sets, tf->program, tf->cli_args_var);
}

/* B7: take the siblings' local lock under the outer tflock's (make -j4 runs one
 * at a time); dies with 75/76/70 when that cannot be had. */
static void nested_enter(const struct config *c, struct reentry *re)
{
	int ret;
	long long wait_ms = c->no_wait           ? 0
	                    : c->timeout_ms >= 0 ? config_scaled(c, c->timeout_ms)
	                                         : -1;
	log_verbose("re-entering the lock held by the outer tflock (%s)", re->dir);
	ret = reentry_lock_siblings(re, wait_ms, (volatile int *)&cancel_sig);
	if (ret == 1)
		die(c->conflict_exit_code, "a sibling run holds the outer tflock's lock: %s",
		    c->no_wait ? "not waiting (--no-wait)" : "gave up waiting");
	if (ret == 2)
		die(c->lost_exit_code, "the outer tflock no longer holds the lock (%s)",
		    reentry_outer_state(re));
	if (ret < 0)
		die(EXIT_INTERNAL, "cannot lock %s/siblings", re->dir);
}

/* B7: run a command that is not terraform under the lock an outer tflock holds;
 * no S3 at all. (A nested terraform goes through cmd_run, minus the lock writes.) */
static int run_nested(struct config *c, struct reentry *re, char **argv)
{
	struct run_opts ro;
	struct run_result rr;
	int ret;
	nested_enter(c, re);
	memset(&ro, 0, sizeof(ro));
	ro.on_lost = on_lost_of(c);
	ro.lost_exit_code = (int)c->lost_exit_code;
	ro.refused_exit_code = EXIT_REFUSED;
	ro.unavailable_exit_code = EXIT_UNAVAILABLE;
	ro.unsafe_keep_running = c->unsafe_keep_running;
	ro.max_hold_ms = c->max_hold_ms ? config_scaled(c, c->max_hold_ms) : 0;
	ro.grace_ms = config_scaled(c, c->grace_ms);
	ro.term_grace_ms = config_scaled(c, c->term_grace_ms);
	ro.nested = re;
	ro.nested_lease_ms = config_scaled(c, c->lease_ms);
	sigemptyset(&ro.orig_mask);
	ret = run_child(NULL, argv, &ro, &rr);
	if (rr.lost)
		log_error("%s: '%s' exited %d", rr.outcome, argv[0], rr.child_code);
	else
		log_verbose("%s: '%s' exited %d", rr.outcome, argv[0], rr.child_code);
	return ret;
}

static int cmd_run(struct config *c, char **argv)
{
	struct s3_client *s3;
	struct lock l;
	struct tf_error err;
	struct tfcmd tf;
	struct ci_identity ci;
	struct run_opts ro;
	struct run_result rr;
	struct sigaction sa;
	char *info, *extra[16], *ident;
	int ret, hook = -1, n = 0;
	sigset_t none;
	struct reentry re;
	struct preapply_opts po;
	struct gitinfo gi;
	int git_active = 0, nested = 0;
	char *hook_path = NULL, *hook_argv[2], *henv[16];
	size_t hn = 0;

	err_clear(&err);
	memset(&gi, 0, sizeof(gi));
	memset(&rr, 0, sizeof(rr));
	rr.child_status = -1;
	reentry_init(&re);
	ident = lock_ident(c);
	tfcmd_parse(&tf, argv);
	xr.tf = &tf;
	if (getenv("TFLOCK_HELD_DIR")) {
		char why[512];
		if (reentry_check(&re, ident, why, sizeof(why))) {
			if (!tf.is_terraform || !backend_found) {
				ret = run_nested(c, &re, argv);
				reentry_free(&re);
				tfcmd_free(&tf);
				free(ident);
				return ret;
			}
			/* a nested terraform: exactly as a direct run (injection, git
			 * checks, reports), minus the lock's own writes */
			nested = 1;
		} else {
			log_verbose("not re-entering an outer lock: %s", why);
			unsetenv("TFLOCK_HELD_DIR");
			unsetenv("TFLOCK_HELD_TOKEN");
		}
	}
	check_command(c, &tf);
	ci_detect(&ci);
	if (tf.lock_timeout) {
		/* terraform would refuse the run after we acquired: refuse it now */
		int64_t ms;
		if (dur_parse_go(tf.lock_timeout, &ms, &err))
			die(EXIT_USAGE, "%s -lock-timeout: %s", tf.program, err.msg);
		/* beyond --timeout's own limit (366 days) is waiting without limit */
		if (c->src[O_TIMEOUT] < SRC_ENV && !c->no_wait)
			c->timeout_ms = ms <= 0 ? 0 : ms > 366LL * 86400000 ? -1 : ms;
	}
	{
		struct gitinfo g0;
		struct tf_error gerr;
		char at[160] = "";
		err_clear(&gerr);
		if (gitinfo_read(tf.chdir ? tf.chdir : ".", &g0, &gerr) == 0) {
			snprintf(at, sizeof(at), " at commit %.12s%s%s", g0.head,
			         g0.branch ? " on " : "", g0.branch ? g0.branch : "");
			gitinfo_free(&g0);
		}
		info = xasprintf(
		        "held by tflock for %s running '%s%s%s'%s%s%s; 'tflock status' shows more",
		        ci.who, tf.program, tf.sub ? " " : "", tf.sub ? tf.sub : "", at,
		        *ci.url ? " in " : "", ci.url);
	}
	s3 = open_store(c);
	setup_lock(&l, s3, c, c->operation ? c->operation : tf.operation, info, &ci);
	xr.l = &l;

	/* A3's trap: for a non-default workspace whose state object does not exist
	 * yet, terraform takes the lock itself (even with -lock=false) and would
	 * fail on ours. Stop before acquiring, with the one command to run first. */
	if (tf.is_terraform && c->workspace && strcmp(c->workspace, "default") && tf.sub &&
	    strcmp(tf.sub, "workspace new") && strcmp(tf.sub, "init")) {
		struct s3_reply hr;
		s3_reply_init(&hr);
		if (s3_head(s3, l.state_key, NULL, &hr, &err) != 0 && hr.status == 404 &&
		    strcmp(err.s3_code, "NoSuchBucket"))
			die(EXIT_USAGE,
			    "workspace '%s' has no state yet (s3://%s/%s): terraform would take "
			    "the lock itself and fail on tflock's; run '%s workspace new %s' "
			    "(outside tflock) first",
			    c->workspace, c->bucket, l.state_key, tf.program, c->workspace);
		s3_reply_free(&hr);
		err_clear(&err);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel; /* no SA_RESTART: a wait is cut short */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	l.o.cancel = &cancel_sig;
	if (nested) {
		nested_enter(c, &re);
		l.wait_start_ns = l.acquired_ns = clock_boot_ns();
		log_verbose("re-entered %s, held by the outer tflock", l.url);
		goto held;
	}
	http_set_abort(&cancel_sig); /* requests while acquiring end on a signal */

	if (lock_selftest(&l, 0, &err)) {
		if (cancel_sig)
			die(128 + (int)cancel_sig, "interrupted during the store self-test");
		die(err.kind == ERR_USAGE ? EXIT_USAGE : EXIT_UNAVAILABLE, "%s", err.msg);
	}
	ret = lock_acquire(&l, &err);
	http_set_abort(NULL);
	if (ret == LOCK_UNAVAILABLE) {
		report_exit(EXIT_UNAVAILABLE, err.msg, "unavailable");
		die(EXIT_UNAVAILABLE, "not acquired: %s", err.msg);
	}
	if (ret == LOCK_HELD) {
		char who[512], *msg;
		if (err.msg[0] && err.kind == ERR_USAGE)
			die(c->conflict_exit_code, "%s", err.msg);
		lock_describe_holder(&l.last_holder, who, sizeof(who));
		msg = xasprintf("not acquired: held by %s", who);
		report_exit((int)c->conflict_exit_code, msg, "held");
		free(msg);
		die(c->conflict_exit_code, "%s is held by %s: %s", l.url, who,
		    c->no_wait ? "not waiting (--no-wait)" : "gave up waiting (--timeout)");
	}
	if (ret == LOCK_CANCELLED) {
		char *msg = xasprintf("interrupted while waiting for %s", l.url);
		log_error("%s", msg);
		ret = 128 + (int)cancel_sig;
		report_exit(ret, msg, "cancelled");
		free(msg);
		goto out;
	}
	if (ret)
		die(exit_for_error(&err), "%s", err.msg);
	hook = cleanup_register(release_on_die, &l);
	if (cancel_sig) {
		lock_release(&l, &err);
		log_error("interrupted right after acquiring %s: released it", l.url);
		cleanup_unregister(hook);
		ret = 128 + (int)cancel_sig;
		report_exit(ret, "interrupted right after acquiring the lock: released it",
		            "cancelled");
		goto out;
	}
	log_info("acquired %s%s", l.url, l.took_over ? " (taken over from a dead holder)" : "");

held:
	/* the pre-apply checks run under the lock: the record cannot change meanwhile */
	memset(&po, 0, sizeof(po));
	po.mode = git_mode(c);
	po.is_apply = tf.is_terraform && tf.sub &&
	              (!strcmp(tf.sub, "apply") || !strcmp(tf.sub, "destroy"));
	po.dir = tf.chdir;
	po.expect_commit = c->expect_commit;
	po.allow_dirty = c->allow_dirty;
	po.allow_older = c->allow_older;
	ret = preapply_check(&l, &po, &gi, &git_active, &err);
	if (ret) {
		struct tf_error rerr;
		int code = ret == PREAPPLY_REFUSED ? EXIT_REFUSED : exit_for_error(&err);
		err_clear(&rerr);
		log_error("%s", err.msg);
		if (!nested && lock_release(&l, &rerr))
			log_error("%s", rerr.msg);
		if (hook >= 0)
			cleanup_unregister(hook);
		ret = code;
		report_exit(code, err.msg, NULL);
		goto out;
	}

	memset(&ro, 0, sizeof(ro));
	ro.on_lost = on_lost_of(c);
	ro.lost_exit_code = (int)c->lost_exit_code;
	ro.unsafe_keep_running = c->unsafe_keep_running;
	ro.max_hold_ms = c->max_hold_ms ? config_scaled(c, c->max_hold_ms) : 0;
	ro.grace_ms = config_scaled(c, c->grace_ms);
	ro.term_grace_ms = config_scaled(c, c->term_grace_ms);
	if (!nested) { /* a nested run's child inherits the outer's TFLOCK_HELD_* */
		extra[n++] = xasprintf("TFLOCK_HELD_ID=%s", l.mine.id);
		extra[n++] = xasprintf("TFLOCK_HELD_LOCK=%s", l.url);
		extra[n++] = xasprintf("TFLOCK_HELD_ENDPOINT=%s", s3_client_describe(s3));
		n += store_env(c, extra + n);
	}
	if (backend_found && tf.is_terraform) {
		/* B7: terraform must not lock again what we hold; only for subcommands
		 * that define -lock, appended to what the user set */
		char *var = NULL, *val = NULL;
		if (tf.lock_flag == TFCMD_LOCK_TRUE || tf.env_lock_flag == TFCMD_LOCK_TRUE)
			log_warn("%s passes -lock=true: terraform will try to take the lock "
			         "tflock holds and fail",
			         tf.lock_flag == TFCMD_LOCK_TRUE ? "the command" : "TF_CLI_ARGS");
		if (tfcmd_lock_injection(&tf, &var, &val, NULL) == 1) {
			const char *cur = getenv(var);
			char *name = var;
			free(val);
			val = NULL;
			var = NULL;
			tfcmd_lock_injection(&tf, &var, &val, cur);
			free(name);
			extra[n++] = xasprintf("%s=%s", var, val);
			log_verbose("passing %s=%s to terraform", var, val);
		}
		free(var);
		free(val);
	}
	if (nested) {
		ro.nested = &re;
		ro.nested_lease_ms = config_scaled(c, c->lease_ms);
	} else if (reentry_create(&re, ident, l.mine.id, &err) == 0) {
		n += reentry_env(&re, extra + n, 2);
		ro.outer = &re;
	} else {
		log_warn("nested tflock runs will not re-enter this lock: %s", err.msg);
	}
	extra[n] = NULL;
	ro.extra_env = extra;
	sigemptyset(&none);
	ro.orig_mask = none;
	if (git_active && po.is_apply && !nested) {
		ro.before_release = record_applied;
		ro.before_release_arg = &gi;
	}
	if (git_active && (hook_path = preapply_hook(&gi))) {
		hook_argv[0] = hook_path;
		hook_argv[1] = NULL;
		ro.hook_argv = hook_argv;
		if (!nested) {
			henv[hn++] = xasprintf("TFLOCK_HELD_ID=%s", l.mine.id);
			henv[hn++] = xasprintf("TFLOCK_HELD_LOCK=%s", l.url);
			hn += store_env(c, henv + hn);
		}
		/* the user's overrides reach the hook, which runs `tflock check-git`
		 * (TFLOCK_* options are removed from a child's environment) */
		if (c->allow_older)
			henv[hn++] = xstrdup("TFLOCK_HELD_ALLOW_OLDER=true");
		if (c->allow_dirty)
			henv[hn++] = xstrdup("TFLOCK_HELD_ALLOW_DIRTY=true");
		if (c->expect_commit && *c->expect_commit)
			henv[hn++] = xasprintf("TFLOCK_HELD_EXPECT_COMMIT=%s", c->expect_commit);
		if (c->git_check && *c->git_check)
			henv[hn++] = xasprintf("TFLOCK_HELD_GIT_CHECK=%s", c->git_check);
		henv[hn] = NULL;
		ro.hook_env = henv;
		log_verbose("running the pre-apply hook %s under the lock", hook_path);
	}
	ro.pending_signal = &cancel_sig;
	ro.refused_exit_code = EXIT_REFUSED;
	ro.unavailable_exit_code = EXIT_UNAVAILABLE;

	ret = run_child(nested ? NULL : &l, argv, &ro, &rr);
	if (hook >= 0)
		cleanup_unregister(hook);
	/* under the outer's lock, as a direct run records it before releasing */
	if (nested && git_active && po.is_apply && rr.child_code == 0 && !rr.lost &&
	    !rr.exec_failed && !rr.hook_refused)
		record_applied(&l, &gi);
	if (nested) {
		if (rr.lost)
			log_error("%s: '%s' exited %d", rr.outcome, argv[0], rr.child_code);
		else
			log_verbose("%s: '%s' exited %d", rr.outcome, argv[0], rr.child_code);
	} else {
		summary(&l, &rr, argv);
	}
	xr.reported = 1;
	write_reports(c, &l, &rr, &tf, rr.outcome,
	              rr.lost             ? "lost"
	              : rr.release_failed ? "release-failed"
	              : nested            ? "re-entered"
	                                  : "released",
	              ret);
out:
	for (int i = 0; i < n; i++)
		free(extra[i]);
	for (size_t i = 0; i < hn; i++)
		free(henv[i]);
	free(hook_path);
	reentry_free(&re);
	gitinfo_free(&gi);
	free(ident);
	free(info);
	tfcmd_free(&tf);
	ci_identity_free(&ci);
	lock_free(&l);
	s3_client_free(s3);
	/* asked to stop by a signal and the child died of that same signal: re-raise */
	if (!rr.lost && rr.self_signal && rr.child_status != -1 && WIFSIGNALED(rr.child_status) &&
	    WTERMSIG(rr.child_status) == rr.self_signal) {
		sigset_t s;
		signal(rr.self_signal, SIG_DFL);
		sigemptyset(&s);
		sigaddset(&s, rr.self_signal);
		pthread_sigmask(SIG_UNBLOCK, &s, NULL);
		raise(rr.self_signal);
	}
	return ret;
}

/* Does the directory (after -chdir) have a usable s3 backend from `terraform init`? */
static int backend_present(const char *chdir)
{
	struct backend b;
	struct tf_error err;
	int ret;
	err_clear(&err);
	backend_init(&b);
	ret = backend_load(chdir, &b, &err);
	backend_free(&b);
	return ret == 0;
}

static void set_from_backend(struct config *c, enum cfg_opt opt, const char *v)
{
	struct tf_error err;
	err_clear(&err);
	if (v && *v && config_set(c, opt, v, SRC_BACKEND, &err))
		die(EXIT_USAGE, "%s", err.msg);
}

static int same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/*
 * Zero configuration: read the backend `terraform init` set up (after the
 * wrapped terraform's -chdir) and use it below flags and TFLOCK_* variables.
 * For a terraform child, a --bucket/--key that contradicts it is an error: tflock
 * must lock the very object terraform writes to.
 */
static void apply_backend(struct config *c, unsigned cmd, const struct tfcmd *tf)
{
	struct tf_error err;
	int ret, explicit_loc = c->bucket || c->key;
	err_clear(&err);
	backend_init(&backend);
	ret = backend_load(tf && tf->chdir ? tf->chdir : NULL, &backend, &err);
	if (ret == ERR_NOT_FOUND) {
		if (!explicit_loc)
			die(EXIT_USAGE, "%s", err.msg);
		return;
	}
	if (ret) {
		if (!explicit_loc || (tf && tf->is_terraform))
			die(EXIT_USAGE, "%s", err.msg);
		log_verbose("ignoring the terraform backend: %s", err.msg);
		return;
	}
	backend_found = 1;
	if (tf && tf->is_terraform && explicit_loc &&
	    ((c->bucket && !same(c->bucket, backend.bucket)) ||
	     (c->key && !same(c->key, backend.key))))
		die(EXIT_USAGE,
		    "--bucket/--key (s3://%s/%s) contradict the backend terraform uses "
		    "(s3://%s/%s, from %s): tflock would lock a different object than terraform "
		    "writes",
		    c->bucket ? c->bucket : backend.bucket, c->key ? c->key : backend.key,
		    backend.bucket, backend.key, backend.state_file);
	set_from_backend(c, O_BUCKET, backend.bucket);
	set_from_backend(c, O_KEY, backend.key);
	set_from_backend(c, O_REGION, backend.region);
	set_from_backend(c, O_ENDPOINT, backend.endpoint);
	set_from_backend(c, O_WORKSPACE, backend.workspace);
	set_from_backend(c, O_WORKSPACE_KEY_PREFIX, backend.workspace_key_prefix);
	set_from_backend(c, O_PROFILE, backend.profile);
	if (backend.path_style && c->src[O_PATH_STYLE] <= SRC_BACKEND) {
		c->path_style = 1;
		c->src[O_PATH_STYLE] = SRC_BACKEND;
	}
	c->use_fips = backend.use_fips;
	c->use_dualstack = backend.use_dualstack;
	c->skip_s3_checksum = backend.skip_s3_checksum;
	c->shared_credentials_file =
	        backend.shared_credentials_file ? xstrdup(backend.shared_credentials_file) : NULL;
	c->shared_config_file =
	        backend.shared_config_file ? xstrdup(backend.shared_config_file) : NULL;
	c->sts_endpoint = backend.sts_endpoint ? xstrdup(backend.sts_endpoint) : NULL;
	c->role_arn = backend.role_arn ? xstrdup(backend.role_arn) : NULL;
	c->session_name = backend.session_name ? xstrdup(backend.session_name) : NULL;
	c->external_id = backend.external_id ? xstrdup(backend.external_id) : NULL;
	if (backend_put_headers(&backend, &put_headers, &err))
		die(EXIT_USAGE, "%s", err.msg);
	log_verbose("terraform backend from %s: s3://%s/%s (workspace %s)", backend.state_file,
	            backend.bucket, backend.state_key,
	            backend.workspace ? backend.workspace : "default");
	if (cmd == CMD_RUN && backend.use_lockfile != 1 && !c->no_lockfile_check)
		die(EXIT_USAGE,
		    "the s3 backend in %s does not set use_lockfile = true: plain terraform runs "
		    "would not see tflock's lock; add use_lockfile = true to the backend and run "
		    "'terraform init -reconfigure' (or pass --no-lockfile-check to serialise "
		    "tflock runs only)",
		    backend.state_file);
	if (backend.dynamodb_table && *backend.dynamodb_table)
		log_warn("the backend also sets dynamodb_table = \"%s\": clients configured with "
		         "only the DynamoDB table are not excluded by tflock yet; remove it once "
		         "every client uses the lock file",
		         backend.dynamodb_table);
}

int main(int argc, char **argv)
{
	struct config c;
	struct tf_error err;
	unsigned cmd = CMD_RUN;
	int first = 1, optind_out = 0, ret;
	char **sub_argv;
	int sub_argc;

	if (argc > 0 && !strcmp(argv[0], GUARDIAN_ARGV0)) /* tflock's own helper (B9) */
		return guardian_main(argc, argv);
	/* Before anything opens a file or a socket: a descriptor 0, 1 or 2 closed at
	 * start (`tflock ... 2>&-`) would be reused by the next open (a libcurl socket)
	 * and log lines, status output or the command's own output would go there. */
	for (int fd = 0; fd <= 2; fd++) {
		int nul;
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		nul = open("/dev/null", O_RDWR);
		if (nul < 0)
			return EXIT_INTERNAL; /* nowhere to say so: stderr may be closed */
		if (nul != fd) {
			dup2(nul, fd);
			close(nul);
		}
	}
	config_init(&c);
	err_clear(&err);
	if (argc > 1) {
		if (!strcmp(argv[1], "status"))
			cmd = CMD_STATUS;
		else if (!strcmp(argv[1], "unlock"))
			cmd = CMD_UNLOCK;
		else if (!strcmp(argv[1], "doctor"))
			cmd = CMD_DOCTOR;
		else if (!strcmp(argv[1], "release"))
			cmd = CMD_RELEASE;
		else if (!strcmp(argv[1], "check-git"))
			cmd = CMD_CHECK_GIT;
		else if (!strcmp(argv[1], "run"))
			cmd = CMD_RUN;
		else
			first = 0;
	} else {
		first = 0;
	}
	sub_argv = argv + first;
	sub_argc = argc - first;
	sub_argv[0] = argv[0];
	if (cmd == CMD_RUN && !getenv("TFLOCK_HELD_DIR")) {
		/* every exit of a run is reported, a usage error too (issue 16.2);
		 * a nested run leaves that to the outer tflock */
		xr.c = &c;
		die_report_set(report_on_die);
	}

	ret = config_from_args(&c, cmd, sub_argc, sub_argv, &optind_out, &err);
	if (ret == 1) {
		config_free(&c);
		return 0;
	}
	if (ret)
		die_usage(&err);
	if (config_from_env(&c, &err))
		die_usage(&err);
	if (cmd == CMD_RUN && optind_out >= sub_argc)
		die(EXIT_USAGE, "no command given: usage: tflock [OPTIONS] [--] COMMAND [ARGS...]");
	if (cmd == CMD_STATUS && optind_out < sub_argc)
		die(EXIT_USAGE, "status takes no arguments (got '%s')", sub_argv[optind_out]);
	{
		/* zero configuration from `terraform init`, unless everything was given */
		struct tfcmd tf0;
		memset(&tf0, 0, sizeof(tf0));
		if (cmd == CMD_RUN && optind_out < sub_argc)
			tfcmd_parse(&tf0, sub_argv + optind_out);
		int nested = cmd == CMD_RUN && getenv("TFLOCK_HELD_DIR") && !c.bucket && !c.key;
		/* a nested terraform with an initialised backend is checked like a direct
		 * run (and re-enters only when that backend is the outer's lock) */
		if (nested && tf0.is_terraform && backend_present(tf0.chdir))
			nested = 0;
		if (!nested && (!c.bucket || !c.key || tf0.is_terraform))
			apply_backend(&c, cmd, cmd == CMD_RUN ? &tf0 : NULL);
		tfcmd_free(&tf0);
	}
	if (cmd == CMD_UNLOCK) {
		if (optind_out < sub_argc - 1)
			die(EXIT_USAGE, "unlock takes one ID (got '%s' too)",
			    sub_argv[optind_out + 1]);
		if (optind_out == sub_argc && !c.force)
			die(EXIT_USAGE,
			    "unlock needs the lock ID (see 'tflock status'), or --force");
		if (optind_out < sub_argc && c.force)
			die(EXIT_USAGE, "unlock: give an ID or --force, not both");
	}
	/* B7: a nested run given no lock of its own (its TFLOCK_* options were not
	 * passed down) re-enters the lock its verified ancestor holds */
	if (cmd == CMD_RUN && getenv("TFLOCK_HELD_DIR") && !c.bucket && !c.key) {
		struct reentry re;
		char why[512];
		reentry_init(&re);
		if (reentry_check(&re, NULL, why, sizeof(why))) {
			log_level = c.quiet ? 0 : 1 + c.verbose;
			ret = run_nested(&c, &re, sub_argv + optind_out);
			reentry_free(&re);
			config_free(&c);
			return ret;
		}
		log_verbose("not re-entering an outer lock: %s", why);
	}
	if (config_finish(&c, cmd, &err))
		die_usage(&err);
	http_set_trace(c.verbose > 0);
	config_dump(&c);

	if ((cmd == CMD_DOCTOR || cmd == CMD_RELEASE || cmd == CMD_CHECK_GIT) &&
	    optind_out < sub_argc)
		die(EXIT_USAGE, "%s takes no arguments (got '%s')",
		    cmd == CMD_DOCTOR    ? "doctor"
		    : cmd == CMD_RELEASE ? "release"
		                         : "check-git",
		    sub_argv[optind_out]);
	if (cmd == CMD_STATUS)
		ret = cmd_status(&c);
	else if (cmd == CMD_DOCTOR)
		ret = cmd_doctor(&c);
	else if (cmd == CMD_RELEASE)
		ret = cmd_release(&c);
	else if (cmd == CMD_CHECK_GIT)
		ret = cmd_check_git(&c);
	else if (cmd == CMD_UNLOCK)
		ret = cmd_unlock(&c, optind_out < sub_argc ? sub_argv[optind_out] : NULL);
	else
		ret = cmd_run(&c, sub_argv + optind_out);
	config_free(&c);
	backend_headers_free(&put_headers);
	backend_free(&backend);
	return ret;
}
