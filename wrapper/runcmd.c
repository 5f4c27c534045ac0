#include "runcmd.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "buf.h"
#include "dur.h"
#include "gitcheck.h"
#include "http.h"
#include "lock.h"
#include "log.h"
#include "park.h"
#include "report.h"
#include "outcome.h"
#include "preapply.h"
#include "run.h"
#include "s3.h"

enum { GO_ON = -1 }; /* a step's result when the run goes on */

static volatile sig_atomic_t cancel_sig;

static void on_cancel(int sig)
{
	cancel_sig = sig;
}

/* What a run holds between its steps. */
struct runctx {
	struct invocation *s;
	char **argv;
	int64_t timeout_ms; /* waiting limit (unscaled, -1 none): wait_limit() */
	char *ident;        /* target_ident(): what a nested tflock compares */
	char *info;         /* the lock body's Info */
	struct s3_client *s3;
	struct lock *l;
	int hook;   /* the cleanup hook releasing l on die(), -1 none */
	int nested; /* a nested terraform: the outer's lock, re-entered */
	int git_active;
	struct preapply_opts po;
	struct preapply_store store; /* for the record of the applied commit */
	struct run_opts ro;
	struct run_result rr;
	struct ci_api ci_api; /* B14.2: asking a holder's CI */
	char *extra[16], *henv[16], *hook_path, *hook_argv[2];
	size_t n, hn;
};

static void release_on_die(void *arg)
{
	struct lock *l = arg;
	struct tf_error err;
	err_clear(&err);
	if (lock_is_held(l) && lock_release(l, &err))
		log_error("while stopping: %s", err.msg);
}

static enum on_lost on_lost_of(const struct config *c)
{
	return !c->on_lost || !strcmp(c->on_lost, "interrupt") ? ON_LOST_INTERRUPT
	       : !strcmp(c->on_lost, "kill")                   ? ON_LOST_KILL
	                                                       : ON_LOST_REPORT;
}

/* What every run of a command takes from the configuration. */
static void base_run_opts(const struct config *c, struct run_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	ro->on_lost = on_lost_of(c);
	ro->lost_exit_code = (int)c->lost_exit_code;
	ro->refused_exit_code = EXIT_REFUSED;
	ro->unavailable_exit_code = EXIT_UNAVAILABLE;
	ro->unsafe_keep_running = c->unsafe_keep_running;
	ro->max_hold_ms = c->max_hold_ms ? config_scaled(c, c->max_hold_ms) : 0;
	ro->grace_ms = config_scaled(c, c->grace_ms);
	ro->term_grace_ms = config_scaled(c, c->term_grace_ms);
	sigemptyset(&ro->orig_mask);
}

/* A nested run's last word: an error when the outer's lock was lost. */
static void nested_said(const struct run_result *rr, char *const argv[])
{
	if (rr->lost)
		log_error("%s: '%s' exited %d", rr->outcome, argv[0], rr->child_code);
	else
		log_verbose("%s: '%s' exited %d", rr->outcome, argv[0], rr->child_code);
}

/* B7: 1 when the inherited TFLOCK_HELD_* name a verified ancestor holding
 * ident (any lock when NULL), s->re filled; 0 with the reason logged. */
static int reenter(struct invocation *s, const char *ident)
{
	char why[512];
	if (reentry_check(&s->re, ident, why, sizeof(why)))
		return 1;
	log_verbose("not re-entering an outer lock: %s", why);
	return 0;
}

/* B7: take the siblings' local lock under the outer tflock's (make -j4 runs one
 * at a time), waiting up to timeout_ms (unscaled, -1 none); dies with 75/76/70
 * when that cannot be had. */
static void nested_enter(const struct config *c, struct reentry *re, int64_t timeout_ms)
{
	int ret;
	long long wait_ms = c->no_wait ? 0 : timeout_ms >= 0 ? config_scaled(c, timeout_ms) : -1;
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
 * no S3 at all. (A nested terraform goes through runcmd_main, minus the lock
 * writes.) */
static int run_nested(const struct config *c, struct reentry *re, char **argv)
{
	struct run_opts ro;
	struct run_result rr;
	int ret;
	nested_enter(c, re, c->timeout_ms);
	base_run_opts(c, &ro);
	ro.nested = re;
	ro.nested_lease_ms = config_scaled(c, c->lease_ms);
	run_command(NULL, argv, &ro, &rr);
	ret = run_release(NULL, &ro, &rr);
	nested_said(&rr, argv);
	return ret;
}

int runcmd_reenters_any(const struct config *c, const struct tfcmd *tf)
{
	if (!getenv("TFLOCK_HELD_DIR") || c->bucket || c->key)
		return 0;
	/* a nested terraform with an initialised backend is checked like a direct
	 * run (and re-enters only when that backend is the outer's lock) */
	return !(tf->is_terraform && target_backend_present(tf->chdir));
}

int runcmd_nested_any(struct invocation *s, char **argv)
{
	int ret;
	if (!reenter(s, NULL))
		return -1;
	log_level = s->c.quiet ? 0 : 1 + s->c.verbose; /* config_finish() is not for us */
	ret = run_nested(&s->c, &s->re, argv);
	reentry_free(&s->re);
	return ret;
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
static void check_command(struct tfcmd *tf, int backend_found)
{
	int eff;
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

/* The waiting limit (unscaled ms, -1 none): --timeout or TFLOCK_TIMEOUT when
 * given, else terraform's -lock-timeout (the command's or TF_CLI_ARGS*'s): with
 * a shorter one terraform would refuse the run after we acquired. The
 * configuration itself stays as config_finish() left it. Dies (64) when the
 * -lock-timeout cannot be parsed. */
static int64_t wait_limit(const struct config *c, const struct tfcmd *tf)
{
	struct tf_error err;
	int64_t ms;
	if (!tf->lock_timeout)
		return c->timeout_ms;
	err_clear(&err);
	if (dur_parse_go(tf->lock_timeout, &ms, &err))
		die(EXIT_USAGE, "%s -lock-timeout: %s", tf->program, err.msg);
	/* beyond --timeout's own limit (366 days) is waiting without limit */
	if (c->src[O_TIMEOUT] < SRC_ENV && !c->no_wait)
		return ms <= 0 ? 0 : ms > 366LL * 86400000 ? -1 : ms;
	return c->timeout_ms;
}

/* The lock body's Info: who runs what, at which commit (malloc'd). The
 * repository is read here, before the wait, for this one line only; the
 * pre-apply checks read it again under the lock (preapply_check()), on
 * purpose: the working tree may change while we wait (another step of the same
 * job checking out a commit), and the checks must judge the tree the command
 * will run on. */
static char *info_line(const struct tfcmd *tf, const struct ci_identity *ci)
{
	struct gitinfo g0;
	struct tf_error gerr;
	char at[160] = "";
	err_clear(&gerr);
	if (gitinfo_read(tf->chdir ? tf->chdir : ".", &g0, &gerr) == 0) {
		snprintf(at, sizeof(at), " at commit %.12s%s%s", g0.head, g0.branch ? " on " : "",
		         g0.branch ? g0.branch : "");
		gitinfo_free(&g0);
	}
	return xasprintf("held by tflock for %s running '%s%s%s'%s%s%s; 'tflock status' shows more",
	                 ci->who, tf->program, tf->sub ? " " : "", tf->sub ? tf->sub : "", at,
	                 *ci->url ? " in " : "", ci->url);
}

/* Step 1: re-entry, the command, the waiting limit, the Info line. */
static int prepare(struct runctx *r)
{
	struct invocation *s = r->s;
	r->ident = target_ident(&s->t, &s->c);
	s->xr.tf = &s->tf;
	if (getenv("TFLOCK_HELD_DIR")) {
		if (reenter(s, r->ident)) {
			if (!s->tf.is_terraform || !s->t.backend_found)
				return run_nested(&s->c, &s->re, r->argv);
			/* a nested terraform: exactly as a direct run (injection, git
			 * checks, reports), minus the lock's own writes */
			r->nested = 1;
		} else {
			unsetenv("TFLOCK_HELD_DIR");
			unsetenv("TFLOCK_HELD_TOKEN");
		}
	}
	check_command(&s->tf, s->t.backend_found);
	r->timeout_ms = wait_limit(&s->c, &s->tf);
	r->info = r->argv[0] ? info_line(&s->tf, &s->ci)
	                     : xasprintf("held by tflock hold for %s%s%s; 'tflock status' shows "
	                                 "more",
	                                 s->ci.who, *s->ci.url ? " in " : "", s->ci.url);
	return GO_ON;
}

/* A3's trap: for a non-default workspace whose state object does not exist
 * yet, terraform takes the lock itself (even with -lock=false) and would
 * fail on ours. Stop before acquiring, with the one command to run first. */
static void workspace_trap(struct runctx *r)
{
	const struct config *c = &r->s->c;
	const struct tfcmd *tf = &r->s->tf;
	struct s3_reply hr;
	struct tf_error err;
	if (!tf->is_terraform || !c->workspace || !strcmp(c->workspace, "default") || !tf->sub ||
	    !strcmp(tf->sub, "workspace new") || !strcmp(tf->sub, "init"))
		return;
	err_clear(&err);
	s3_reply_init(&hr);
	if (s3_head(r->s3, lock_state_key(r->l), NULL, &hr, &err) != 0 && hr.status == 404 &&
	    strcmp(err.s3_code, "NoSuchBucket"))
		die(EXIT_USAGE,
		    "workspace '%s' has no state yet (s3://%s/%s): terraform would take "
		    "the lock itself and fail on tflock's; run '%s workspace new %s' "
		    "(outside tflock) first",
		    c->workspace, c->bucket, lock_state_key(r->l), tf->program, c->workspace);
	s3_reply_free(&hr);
}

static void catch_cancels(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cancel; /* no SA_RESTART: a wait is cut short */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
}

/* lock_opts.on_wait: on GitLab, the wait is a collapsible section of the log. */
static void wait_section(void *arg, int event)
{
	(void)arg;
	if (!ci_gitlab_sections())
		return;
	if (event == LOCK_WAIT_BEGIN)
		report_gitlab_section_start("tflock_wait", "tflock: waiting for the state lock",
		                            stderr);
	else
		report_gitlab_section_end("tflock_wait", stderr);
}

/* lock_acquire()'s outcome: GO_ON when held, the exit code of a cancel, or die. */
static int acquired(struct runctx *r, int ret, struct tf_error *err)
{
	const struct config *c = &r->s->c;
	struct outcome *xr = &r->s->xr;
	struct lock_stats st;
	if (ret == LOCK_UNAVAILABLE) {
		outcome_exit(xr, EXIT_UNAVAILABLE, err->msg, "unavailable");
		die(EXIT_UNAVAILABLE, "not acquired: %s", err->msg);
	}
	if (ret == LOCK_HELD) {
		char who[512], *msg;
		if (err->msg[0] && err->kind == ERR_USAGE)
			die(c->conflict_exit_code, "%s", err->msg);
		lock_describe_holder(lock_last_holder(r->l), who, sizeof(who));
		msg = xasprintf("not acquired: held by %s", who);
		outcome_exit(xr, (int)c->conflict_exit_code, msg, "held");
		free(msg);
		die(c->conflict_exit_code, "%s is held by %s: %s", lock_describe_hold(r->l), who,
		    c->no_wait ? "not waiting (--no-wait)" : "gave up waiting (--timeout)");
	}
	if (ret == LOCK_CANCELLED) {
		char *msg = xasprintf("interrupted while waiting for %s", lock_describe_hold(r->l));
		log_error("%s", msg);
		ret = 128 + (int)cancel_sig;
		outcome_exit(xr, ret, msg, "cancelled");
		free(msg);
		return ret;
	}
	if (ret)
		die(outcome_exit_for_lock(ret, c), "%s", err->msg);
	r->hook = cleanup_register(release_on_die, r->l);
	if (cancel_sig) {
		lock_release(r->l, err);
		log_error("interrupted right after acquiring %s: released it",
		          lock_describe_hold(r->l));
		cleanup_unregister(r->hook);
		r->hook = -1;
		ret = 128 + (int)cancel_sig;
		outcome_exit(xr, ret, "interrupted right after acquiring the lock: released it",
		             "cancelled");
		return ret;
	}
	lock_get_stats(r->l, &st);
	log_info("acquired %s%s", lock_describe_hold(r->l),
	         st.took_over ? " (taken over from a dead holder)" : "");
	return GO_ON;
}

/* Step 2: the store and the lock; acquire it, or re-enter the outer's. */
static int acquire(struct runctx *r)
{
	struct invocation *s = r->s;
	const struct config *c = &s->c;
	struct lock_opts o;
	struct tf_error err;
	int ret;
	err_clear(&err);
	r->s3 = target_open_store(c);
	target_lock_opts(&s->t, c, &o);
	o.timeout_ms = r->timeout_ms >= 0 ? config_scaled(c, r->timeout_ms) : -1;
	/* hold without a command holds for a later apply (B14.4) */
	o.operation = c->operation             ? c->operation
	              : s->hold && !r->argv[0] ? "OperationTypeApply"
	                                       : s->tf.operation;
	o.info = r->info;
	o.who = s->ci.who;
	o.ci = s->ci.url;
	o.ci_job = s->ci.job;
	o.cj = &s->ci.cj;
	ci_api_get(&r->ci_api);
	o.ci_api = &r->ci_api;
	o.ci_takeover = !c->ci_takeover || !strcmp(c->ci_takeover, "auto") ? LOCK_CI_AUTO
	                : !strcmp(c->ci_takeover, "off")                   ? LOCK_CI_OFF
	                                                                   : LOCK_CI_ANY;
	o.park_job = s->hold ? ci_job_name() : NULL; /* B14.4: a re-run re-parks */
	o.cancel = &cancel_sig;
	o.on_wait = wait_section;
	r->l = target_lock(r->s3, &s->t, c, &o);
	s->xr.l = r->l;
	workspace_trap(r);
	catch_cancels();
	if (r->nested) {
		nested_enter(c, &s->re, r->timeout_ms);
		lock_mark_reentered(r->l);
		log_verbose("re-entered %s, held by the outer tflock", lock_url(r->l));
		return GO_ON;
	}
	http_set_abort(&cancel_sig); /* requests while acquiring end on a signal */
	ret = lock_selftest(r->l, 0, &err);
	if (ret) {
		if (cancel_sig)
			die(128 + (int)cancel_sig, "interrupted during the store self-test");
		die(outcome_exit_for_lock(ret, c), "%s", err.msg);
	}
	/* B14.4: a resume takes the parked lock its handle names, or fails at once */
	ret = c->resume ? park_resume(r->l, c, &s->ci, &err) : lock_acquire(r->l, &err);
	http_set_abort(NULL);
	return acquired(r, ret, &err);
}

/* Step 3a: the pre-apply checks run under the lock: the record cannot change
 * meanwhile. A refusal or an error releases the lock (a direct run's). */
static int git_checks(struct runctx *r)
{
	struct invocation *s = r->s;
	const struct config *c = &s->c;
	const struct tfcmd *tf = &s->tf;
	struct tf_error err, rerr;
	int ret, code;
	err_clear(&err);
	memset(&r->po, 0, sizeof(r->po));
	r->po.mode = gitcheck_mode(c);
	r->po.is_apply = tf->is_terraform && tf->sub &&
	                 (!strcmp(tf->sub, "apply") || !strcmp(tf->sub, "destroy"));
	r->po.dir = tf->chdir;
	r->po.expect_commit = c->expect_commit;
	r->po.allow_dirty = c->allow_dirty;
	r->po.allow_older = c->allow_older;
	gitcheck_store(&r->store, r->s3, r->l);
	ret = preapply_check(&r->store, &r->po, &s->gi, &r->git_active, &err);
	if (!ret)
		return GO_ON;
	code = ret == PREAPPLY_REFUSED ? EXIT_REFUSED : outcome_exit_for_error(&err);
	err_clear(&rerr);
	log_error("%s", err.msg);
	if (!r->nested && lock_release(r->l, &rerr))
		log_error("%s", rerr.msg);
	if (r->hook >= 0) {
		cleanup_unregister(r->hook);
		r->hook = -1;
	}
	outcome_exit(&s->xr, code, err.msg, NULL);
	return code;
}

/* B7: terraform must not lock again what we hold; only for subcommands that
 * define -lock, appended to what the user set. */
static void inject_no_lock(struct runctx *r)
{
	const struct tfcmd *tf = &r->s->tf;
	char *var = NULL, *val = NULL;
	if (tf->lock_flag == TFCMD_LOCK_TRUE || tf->env_lock_flag == TFCMD_LOCK_TRUE)
		log_warn("%s passes -lock=true: terraform will try to take the lock "
		         "tflock holds and fail",
		         tf->lock_flag == TFCMD_LOCK_TRUE ? "the command" : "TF_CLI_ARGS");
	if (tfcmd_lock_injection(tf, &var, &val, NULL) == 1) {
		const char *cur = getenv(var);
		char *name = var;
		free(val);
		val = NULL;
		var = NULL;
		tfcmd_lock_injection(tf, &var, &val, cur);
		free(name);
		r->extra[r->n++] = xasprintf("%s=%s", var, val);
		log_verbose("passing %s=%s to terraform", var, val);
	}
	free(var);
	free(val);
}

/* Step 3c: the repository's pre-apply hook, run under the lock as the command. */
static void hook_setup(struct runctx *r)
{
	const struct config *c = &r->s->c;
	if (!r->git_active || !(r->hook_path = preapply_hook(&r->s->gi)))
		return;
	r->hook_argv[0] = r->hook_path;
	r->hook_argv[1] = NULL;
	r->ro.hook_argv = r->hook_argv;
	if (!r->nested) {
		r->henv[r->hn++] = xasprintf("TFLOCK_HELD_ID=%s", lock_id(r->l));
		r->henv[r->hn++] = xasprintf("TFLOCK_HELD_LOCK=%s", lock_url(r->l));
		r->hn += target_held_env(c, r->henv + r->hn);
	}
	/* the user's overrides reach the hook, which runs `tflock check-git`
	 * (TFLOCK_* options are removed from a child's environment) */
	if (c->allow_older)
		r->henv[r->hn++] = xstrdup("TFLOCK_HELD_ALLOW_OLDER=true");
	if (c->allow_dirty)
		r->henv[r->hn++] = xstrdup("TFLOCK_HELD_ALLOW_DIRTY=true");
	if (c->expect_commit && *c->expect_commit)
		r->henv[r->hn++] = xasprintf("TFLOCK_HELD_EXPECT_COMMIT=%s", c->expect_commit);
	if (c->git_check && *c->git_check)
		r->henv[r->hn++] = xasprintf("TFLOCK_HELD_GIT_CHECK=%s", c->git_check);
	r->henv[r->hn] = NULL;
	r->ro.hook_env = r->henv;
	log_verbose("running the pre-apply hook %s under the lock", r->hook_path);
}

/* Step 3b: the command's environment and how run_command() runs it. */
static void child_setup(struct runctx *r)
{
	struct invocation *s = r->s;
	const struct config *c = &s->c;
	struct tf_error err;
	err_clear(&err);
	base_run_opts(c, &r->ro);
	if (!r->nested) { /* a nested run's child inherits the outer's TFLOCK_HELD_* */
		r->extra[r->n++] = xasprintf("TFLOCK_HELD_ID=%s", lock_id(r->l));
		r->extra[r->n++] = xasprintf("TFLOCK_HELD_LOCK=%s", lock_url(r->l));
		r->extra[r->n++] = xasprintf("TFLOCK_HELD_ENDPOINT=%s", s3_client_describe(r->s3));
		r->n += target_held_env(c, r->extra + r->n);
	}
	if (s->t.backend_found && s->tf.is_terraform)
		inject_no_lock(r);
	if (r->nested) {
		r->ro.nested = &s->re;
		r->ro.nested_lease_ms = config_scaled(c, c->lease_ms);
	} else if (reentry_create(&s->re, r->ident, lock_id(r->l), &err) == 0) {
		r->n += (size_t)reentry_env(&s->re, r->extra + r->n, 2);
		r->ro.outer = &s->re;
	} else {
		log_warn("nested tflock runs will not re-enter this lock: %s", err.msg);
	}
	r->extra[r->n] = NULL;
	r->ro.extra_env = r->extra;
	hook_setup(r);
	r->ro.pending_signal = &cancel_sig;
}

/* Step 4 and 5: run the command, release, tell how it went. */
static int run_and_report(struct runctx *r)
{
	struct invocation *s = r->s;
	const struct run_result *rr = &r->rr;
	int ret;
	run_command(r->nested ? NULL : r->l, r->argv, &r->ro, &r->rr);
	/* under the lock (the outer's, when nested), before it is released */
	if (r->git_active && r->po.is_apply && run_succeeded(rr))
		gitcheck_record_applied(&r->store, &s->gi, lock_url(r->l));
	if (s->hold && !r->nested && run_changes_planned(rr)) {
		/* B14.4: the plan has changes: park the lock for its apply */
		ret = park_hold(r->l, &s->c, &s->ci);
		snprintf(r->rr.outcome, sizeof(r->rr.outcome), "%s",
		         ret ? "parking FAILED" : "parked");
		if (ret && lock_is_held(r->l))
			run_release(r->l, &r->ro, &r->rr); /* not parked: give it back */
	} else {
		ret = run_release(r->nested ? NULL : r->l, &r->ro, &r->rr);
	}
	if (r->hook >= 0) {
		cleanup_unregister(r->hook);
		r->hook = -1;
	}
	if (r->nested)
		nested_said(rr, r->argv);
	else
		outcome_summary(r->l, rr, r->argv);
	outcome_report_run(&s->xr, &s->c, r->l, rr, r->nested, ret);
	return ret;
}

/* Asked to stop by a signal and the command died of that same signal:
 * re-raise it, so that our parent sees what it would without tflock. */
static void reraise(const struct run_result *rr)
{
	sigset_t set;
	if (rr->lost || !rr->self_signal || rr->child_status == -1 ||
	    !WIFSIGNALED(rr->child_status) || WTERMSIG(rr->child_status) != rr->self_signal)
		return;
	signal(rr->self_signal, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, rr->self_signal);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(rr->self_signal);
}

int runcmd_main(struct invocation *s, char **argv)
{
	struct runctx r;
	int ret;
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.argv = argv;
	r.hook = -1;
	r.rr.child_status = -1;
	ret = prepare(&r);
	if (ret == GO_ON)
		ret = acquire(&r);
	if (ret == GO_ON && s->hold && !argv[0]) { /* hold without a command: park now */
		ret = park_hold(r.l, &s->c, &s->ci);
		if (r.hook >= 0)
			cleanup_unregister(r.hook);
		r.hook = -1;
		if (ret && lock_is_held(r.l)) {
			struct tf_error rerr;
			err_clear(&rerr);
			if (lock_release(r.l, &rerr))
				log_error("%s", rerr.msg);
		}
		outcome_exit(&s->xr, ret, ret ? "not parked" : "parked", ret ? NULL : "parked");
	} else if (ret == GO_ON) {
		ret = git_checks(&r);
	}
	if (ret == GO_ON && argv[0]) {
		child_setup(&r);
		ret = run_and_report(&r);
	}
	for (size_t i = 0; i < r.n; i++)
		free(r.extra[i]);
	for (size_t i = 0; i < r.hn; i++)
		free(r.henv[i]);
	free(r.hook_path);
	reentry_free(&s->re); /* removes our run directory, before a re-raise */
	gitinfo_free(&s->gi);
	free(r.ident);
	free(r.info);
	s->xr.l = NULL;
	lock_free(r.l);
	s3_client_free(r.s3);
	reraise(&r.rr);
	return ret;
}
