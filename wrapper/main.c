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
#include "gitcheck.h"
#include "outcome.h"
#include "reclaim.h"
#include "status.h"
#include "target.h"

static volatile sig_atomic_t cancel_sig;
static struct target target; /* the lock's store and key, the backend they came from */
static struct outcome xr;    /* what an exit of `tflock run` reports */

static void on_cancel(int sig)
{
	cancel_sig = sig;
}

static void die_usage(const struct tf_error *err)
{
	die(EXIT_USAGE, "%s", err->msg);
}

static void setup_lock(struct lock *l, struct s3_client *s3, const struct config *c,
                       const char *operation, const char *info, const struct ci_identity *ci)
{
	struct lock_opts o;
	target_lock_opts(&target, c, &o);
	o.operation = operation;
	o.info = info;
	o.who = ci->who;
	o.ci = ci->url;
	o.ci_job = ci->job;
	target_lock(l, s3, &target, c, &o);
}

static void release_on_die(void *arg)
{
	struct lock *l = arg;
	struct tf_error err;
	err_clear(&err);
	if (l->held && lock_release(l, &err))
		log_error("while stopping: %s", err.msg);
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
	target_s3_config(c, &sc);
	printf("tflock doctor: s3://%s/%s\n", c->bucket, c->key);
	if (s3_client_new(&sc, &s3, &err)) {
		in.creds_error = err.msg;
		fails = doctor_run(&in);
		printf("%d check(s) failed\n", fails);
		return fails ? EXIT_UNAVAILABLE : 0;
	}
	{
		struct lock_opts o;
		target_lock_opts(&target, c, &o);
		o.operation = "doctor";
		o.info = "tflock doctor";
		target_lock(&l, s3, &target, c, &o);
	}
	in.s3 = s3;
	in.lock = &l;
	in.use_lockfile = target.backend_found ? target.backend.use_lockfile : -1;
	in.backend_found = target.backend_found;
	in.dynamodb_table = target.backend_found ? target.backend.dynamodb_table : NULL;
	in.lock_tags = c->lock_tags;
	fails = doctor_run(&in);
	printf("%d check(s) failed\n", fails);
	lock_free(&l);
	s3_client_free(s3);
	return fails ? EXIT_UNAVAILABLE : 0;
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
	if (!tf->is_terraform || !target.backend_found)
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
	ident = target_ident(&target, c);
	tfcmd_parse(&tf, argv);
	xr.tf = &tf;
	if (getenv("TFLOCK_HELD_DIR")) {
		char why[512];
		if (reentry_check(&re, ident, why, sizeof(why))) {
			if (!tf.is_terraform || !target.backend_found) {
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
	s3 = target_open_store(c);
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
		outcome_exit(&xr, EXIT_UNAVAILABLE, err.msg, "unavailable");
		die(EXIT_UNAVAILABLE, "not acquired: %s", err.msg);
	}
	if (ret == LOCK_HELD) {
		char who[512], *msg;
		if (err.msg[0] && err.kind == ERR_USAGE)
			die(c->conflict_exit_code, "%s", err.msg);
		lock_describe_holder(&l.last_holder, who, sizeof(who));
		msg = xasprintf("not acquired: held by %s", who);
		outcome_exit(&xr, (int)c->conflict_exit_code, msg, "held");
		free(msg);
		die(c->conflict_exit_code, "%s is held by %s: %s", l.url, who,
		    c->no_wait ? "not waiting (--no-wait)" : "gave up waiting (--timeout)");
	}
	if (ret == LOCK_CANCELLED) {
		char *msg = xasprintf("interrupted while waiting for %s", l.url);
		log_error("%s", msg);
		ret = 128 + (int)cancel_sig;
		outcome_exit(&xr, ret, msg, "cancelled");
		free(msg);
		goto out;
	}
	if (ret)
		die(outcome_exit_for_error(&err), "%s", err.msg);
	hook = cleanup_register(release_on_die, &l);
	if (cancel_sig) {
		lock_release(&l, &err);
		log_error("interrupted right after acquiring %s: released it", l.url);
		cleanup_unregister(hook);
		ret = 128 + (int)cancel_sig;
		outcome_exit(&xr, ret, "interrupted right after acquiring the lock: released it",
		             "cancelled");
		goto out;
	}
	log_info("acquired %s%s", l.url, l.took_over ? " (taken over from a dead holder)" : "");

held:
	/* the pre-apply checks run under the lock: the record cannot change meanwhile */
	memset(&po, 0, sizeof(po));
	po.mode = gitcheck_mode(c);
	po.is_apply = tf.is_terraform && tf.sub &&
	              (!strcmp(tf.sub, "apply") || !strcmp(tf.sub, "destroy"));
	po.dir = tf.chdir;
	po.expect_commit = c->expect_commit;
	po.allow_dirty = c->allow_dirty;
	po.allow_older = c->allow_older;
	ret = preapply_check(&l, &po, &gi, &git_active, &err);
	if (ret) {
		struct tf_error rerr;
		int code = ret == PREAPPLY_REFUSED ? EXIT_REFUSED : outcome_exit_for_error(&err);
		err_clear(&rerr);
		log_error("%s", err.msg);
		if (!nested && lock_release(&l, &rerr))
			log_error("%s", rerr.msg);
		if (hook >= 0)
			cleanup_unregister(hook);
		ret = code;
		outcome_exit(&xr, code, err.msg, NULL);
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
		n += target_held_env(c, extra + n);
	}
	if (target.backend_found && tf.is_terraform) {
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
		ro.before_release = gitcheck_record_applied;
		ro.before_release_arg = &gi;
	}
	if (git_active && (hook_path = preapply_hook(&gi))) {
		hook_argv[0] = hook_path;
		hook_argv[1] = NULL;
		ro.hook_argv = hook_argv;
		if (!nested) {
			henv[hn++] = xasprintf("TFLOCK_HELD_ID=%s", l.mine.id);
			henv[hn++] = xasprintf("TFLOCK_HELD_LOCK=%s", l.url);
			hn += target_held_env(c, henv + hn);
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
		gitcheck_record_applied(&l, &gi);
	if (nested) {
		if (rr.lost)
			log_error("%s: '%s' exited %d", rr.outcome, argv[0], rr.child_code);
		else
			log_verbose("%s: '%s' exited %d", rr.outcome, argv[0], rr.child_code);
	} else {
		outcome_summary(&l, &rr, argv);
	}
	outcome_report_run(&xr, c, &l, &rr, nested, ret);
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

static int do_release(const struct config *c)
{
	struct ci_identity ci;
	int ret;
	ci_detect(&ci);
	ret = reclaim_release(c, &target, &ci);
	ci_identity_free(&ci);
	return ret;
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
	target_init(&target);
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
		outcome_arm(&xr, &c);
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
		if (nested && tf0.is_terraform && target_backend_present(tf0.chdir))
			nested = 0;
		if (!nested && (!c.bucket || !c.key || tf0.is_terraform))
			target_from_backend(&target, &c, cmd, cmd == CMD_RUN ? &tf0 : NULL);
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
		ret = status_main(&c, &target);
	else if (cmd == CMD_DOCTOR)
		ret = cmd_doctor(&c);
	else if (cmd == CMD_RELEASE)
		ret = do_release(&c);
	else if (cmd == CMD_CHECK_GIT)
		ret = gitcheck_main(&c, &target);
	else if (cmd == CMD_UNLOCK)
		ret = reclaim_unlock(&c, &target,
		                     optind_out < sub_argc ? sub_argv[optind_out] : NULL);
	else
		ret = cmd_run(&c, sub_argv + optind_out);
	config_free(&c);
	target_free(&target);
	return ret;
}
