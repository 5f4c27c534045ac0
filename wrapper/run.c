#include "run.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "backoff.h"
#include "child.h"
#include "clock.h"
#include "dur.h"
#include "guardian.h"
#include "log.h"
#include "plan.h"
#include "sentinel.h"

#define IDLE_NS (60000 * NS_PER_MS) /* nothing due: look again after a minute */
#define FOLLOW_NS (100 * NS_PER_MS) /* nested: read the outer's state this often */

/* ---- the heartbeat thread: renews, and checks between renewals (B4) ---- */

struct hb {
	struct reentry *outer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lock *l;
	int stop;
	int lost;
	int failing;
	int64_t renew_send_ns;
	int64_t rest_send_ns; /* after a hold was lost: the renewals of the records
	                         still ours (PROTOCOL B12), kept alive until they are
	                         released; never the guardian's deadline */
	char msg[768];
	int wake_fd;
};

static unsigned heartbeats_of(const struct lock *l)
{
	struct lock_stats st;
	lock_get_stats(l, &st);
	return st.heartbeats;
}

static int64_t acquired_ns_of(const struct lock *l)
{
	struct lock_stats st;
	lock_get_stats(l, &st);
	return st.acquired_ns;
}

static void wake(struct hb *h)
{
	uint64_t one = 1;
	if (write(h->wake_fd, &one, sizeof(one)) < 0) {
		/* the eventfd counter cannot overflow in practice; nothing to do */
	}
}

/* Carry out the request a (called without h->mu; returns with it held).
 * Returns 1 when the lock is lost: the thread ends. */
static int hb_request(struct hb *h, struct plan_hb *p, enum plan_hb_action a)
{
	struct lock *l = h->l;
	struct tf_error err;
	int ret;

	err_clear(&err);
	ret = a == PLAN_CHECK ? lock_check(l, &err) : lock_renew(l, &err);
	p->last_check_ns = clock_boot_ns();
	pthread_mutex_lock(&h->mu);
	if (h->lost) { /* B12: the rest of a lost hold, renewed quietly until released */
		if (ret == 0 && a != PLAN_CHECK)
			h->rest_send_ns = lock_renew_send_ns(l);
		return !lock_is_held(l);
	}
	if (ret == LOCK_LOST) {
		reentry_set_state(h->outer, "lost");
		h->lost = 1;
		h->rest_send_ns = lock_renew_send_ns(l);
		snprintf(h->msg, sizeof(h->msg), "%s", err.msg);
		wake(h);
		return !lock_is_held(l); /* a hold's other records are kept until released */
	}
	if (a == PLAN_CHECK) {
		if (ret)
			log_verbose("checking %s failed: %s (the next renewal decides)",
			            lock_url(l), err.msg);
		return 0;
	}
	if (ret == 0) {
		h->renew_send_ns = lock_renew_send_ns(l);
		reentry_set_state(h->outer, "held");
		if (p->fails)
			log_info("renewal of %s works again", lock_url(l));
		p->fails = 0;
		h->failing = 0;
		wake(h); /* the main loop hands the send time to the guardian (B9) */
		log_debug("heartbeat %u: renewed %s (etag %s)", heartbeats_of(l), lock_url(l),
		          lock_version(l));
	} else {
		p->fails++;
		h->failing = 1;
		snprintf(h->msg, sizeof(h->msg), "%s", err.msg);
		log_warn("renewal of %s failed: %s", lock_url(l), err.msg);
		wake(h);
	}
	return 0;
}

static void *hb_main(void *arg)
{
	struct hb *h = arg;
	int64_t hb_ms = lock_heartbeat_ms(h->l);
	struct plan_hb p;

	memset(&p, 0, sizeof(p));
	p.hb_ns = hb_ms * NS_PER_MS;
	p.check_ns = lock_check_ms(h->l) * NS_PER_MS;
	p.last_check_ns = h->renew_send_ns;
	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		int64_t now = clock_boot_ns(), at, wait_ms;
		enum plan_hb_action a;
		p.send_ns = h->lost ? h->rest_send_ns : h->renew_send_ns;
		p.retry_ns = 0;
		if (p.fails) /* renewal failing: try again soon, with jitter, never slower than H/4 */
			p.retry_ns = backoff_full_jitter(p.fails, hb_ms / 16 + 1, hb_ms / 4 + 1,
			                                 rand_u64_default, NULL) *
			             NS_PER_MS;
		a = plan_heartbeat(&p, now, &at);
		wait_ms = (at - now) / NS_PER_MS;
		if (wait_ms > 0) {
			struct timespec ts = clock_mono_in(wait_ms);
			while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &ts) != ETIMEDOUT)
				;
			if (h->stop)
				break;
		}
		pthread_mutex_unlock(&h->mu);
		if (hb_request(h, &p, a))
			break;
	}
	pthread_mutex_unlock(&h->mu);
	/* OpenSSL 3 keeps per-thread state (the private DRBG a TLS handshake
	 * seeds); free it now rather than rely on its thread-exit hook */
	OPENSSL_thread_stop();
	return NULL;
}

/* ---- one supervised process: the hook, or the command ---- */

/*
 * Reaping in the loop: children of this thread only. The child and the
 * descendants reparented to us (subreaper) are this thread's; a
 * credential_process started by the heartbeat thread is that thread's, and
 * reaping it here would steal its exit status from the thread waiting for it.
 */
#define REAP_FLAGS (WNOHANG | __WNOTHREAD)

/* What one supervised process (the hook, or the command) needs across loop turns. */
struct stage {
	const char *name;     /* for messages: the command's argv[0], or "the pre-apply hook" */
	struct guardian g;    /* the command runs under its guardian (PROTOCOL B9) */
	struct sentinel sent; /* tells a whole-tree signal from one for tflock alone */
	struct plan_run p;    /* the planner's view: what happened, what was done */
	int status, code;
	pid_t stuck; /* a descendant we could not kill (said once) */
};

struct run_ctx {
	struct lock *l; /* NULL when nested */
	const struct run_opts *o;
	struct run_result *res;
	struct hb h;
	pthread_t tid;
	int hb_inited, hb_started;
	int sfd, efd, tty, own_group, nested;
	int64_t L, m, max_hold_at;
	const char *url;
	struct plan_cancel cancel; /* the first terminating signal, and the deadline it set */
};

/*
 * The command is the guardian's child, not ours: signals and kills go through
 * the guardian, which alone may signal pids it has not reaped (B9).
 */
static void send_child(struct stage *st, int sig)
{
	guardian_signal(&st->g, sig);
}

/* Kill the whole tree: the guardian kills the command's group and every
 * descendant; our own sweep (PLAN_SWEEP) catches orphans if it died first. */
static void kill_child_tree(struct stage *st)
{
	guardian_kill(&st->g);
	st->p.killing = 1;
}

/* Reap our children: the guardian, and orphans reparented to us when the
 * guardian died first. Returns 1 when we have no child left. */
static int reap_children(struct stage *st)
{
	pid_t p;
	int ws;
	while ((p = waitpid(-1, &ws, REAP_FLAGS)) > 0) {
		if (p == sentinel_pid(&st->sent))
			sentinel_reaped(&st->sent);
		if (p != st->g.pid)
			continue;
		st->g.pid = 0;
		guardian_read(&st->g); /* what it said before it exited */
		if (!st->g.gone) {
			log_error("the guardian of '%s' died (status %d): killing what is left "
			          "of its process tree",
			          st->name, ws);
			st->p.killing = 1;
		}
		if (!st->g.exited) { /* the command died of its parent-death signal */
			st->g.exited = 1;
			st->g.status = SIGKILL;
			st->g.exit_ns = clock_boot_ns();
		}
	}
	return p < 0 && errno == ECHILD;
}

/* Start the stage's process under its guardian; fill the planner's constants. */
static int stage_start(struct run_ctx *x, char *const *argv, char **env, struct stage *st,
                       struct tf_error *err)
{
	const struct run_opts *o = x->o;
	struct guardian_opts go;
	int ret;

	memset(&go, 0, sizeof(go));
	go.own_group = x->own_group;
	/* nested: the outer's guardian bounds us; --unsafe-keep-running: no lease
	 * kill (the tree still dies with tflock) */
	go.lease_ms = x->nested || o->unsafe_keep_running ? 0 : x->L;
	go.margin_ms = x->m;
	pthread_mutex_lock(&x->h.mu);
	go.renew_send_ns = x->h.renew_send_ns;
	pthread_mutex_unlock(&x->h.mu);
	go.orig_mask = &o->orig_mask;
	ret = guardian_spawn(&st->g, argv, env, &go, err);
	if (ret)
		return ret;
	st->g.sent_renewal = go.renew_send_ns;
	log_event("child-start pid=%d pgid=%d name=%s guardian=%d", (int)st->g.cmd_pid,
	          (int)st->g.cmd_pgid, argv[0], (int)st->g.pid);
	log_verbose("started '%s' (pid %d%s, guardian %d) holding %s", argv[0], (int)st->g.cmd_pid,
	            x->own_group ? ", own process group" : ", foreground group", (int)st->g.pid,
	            x->url);
	if (sentinel_start(&st->sent, x->own_group ? st->g.cmd_pgid : 0))
		log_debug("no sentinel: every signal will be forwarded");

	st->p.lease_ns = x->L * NS_PER_MS;
	st->p.margin_ns = x->m * NS_PER_MS;
	st->p.lease_bounds = go.lease_ms > 0;
	st->p.on_lost = o->on_lost;
	st->p.max_hold_at = x->max_hold_at;
	st->p.grace_ns = o->grace_ms * NS_PER_MS;
	return 0;
}

/* Nested: follow the outer tflock through its state file, refreshed on each
 * of its renewals. */
static void follow_outer(struct run_ctx *x, int64_t now)
{
	struct hb *h = &x->h;
	const char *ost = reentry_outer_state(x->o->nested);
	long long stamp = reentry_outer_stamp(x->o->nested);
	if (stamp > h->renew_send_ns)
		h->renew_send_ns = stamp;
	if (!strcmp(ost, "held") && stamp && now - stamp > x->L * NS_PER_MS) {
		h->lost = 1;
		snprintf(h->msg, sizeof(h->msg),
		         "the outer tflock has not renewed its lock for a whole lease");
	} else if (strcmp(ost, "held")) {
		h->lost = 1;
		snprintf(h->msg, sizeof(h->msg), "the outer tflock's lock is %s",
		         !strcmp(ost, "gone") ? "gone (the outer tflock exited)" : ost);
	}
}

/* What the guardian reported: the command's exit, and the lease actions it
 * took on its own clock (B9). */
static void note_guardian(struct run_ctx *x, struct stage *st, const char *argv0, int64_t now)
{
	struct run_result *res = x->res;
	int64_t renew_send = st->p.send_ns;

	guardian_read(&st->g);
	if (st->g.exited && !st->p.exited) {
		st->p.exited = 1;
		st->p.exit_ns = st->g.exit_ns ? st->g.exit_ns : now;
		st->status = st->g.status;
		st->code = child_exit_code(st->g.status);
		log_verbose("'%s' exited with status %d", st->name, st->code);
		log_event("child-exit code=%d name=%s", st->code, argv0);
	}
	if (st->g.lease_int && !st->p.lease_int_sent) {
		st->p.lease_int_sent = 1;
		res->interrupted_for_lease = 1;
		log_error("no successful renewal of %s for half the lease: the guardian "
		          "interrupted '%s' (SIGINT)",
		          x->url, st->name);
		log_event("lease-interrupt renew_send=%lld by=guardian", (long long)renew_send);
	}
	if (st->g.lease_kill && !st->p.lease_kill_sent) {
		st->p.lease_kill_sent = 1;
		res->killed_for_lease = 1;
		st->p.killing = 1;
		log_error("lease of %s about to expire without renewal: the guardian "
		          "killed '%s' and everything it started",
		          x->url, st->name);
		log_event("lease-kill renew_send=%lld by=guardian", (long long)renew_send);
	}
}

/* Fold what happened since the last turn into the planner's view: the outer's
 * state (nested), the heartbeat's news, the guardian's reports, and, once the
 * command exited, what is left of its tree. */
static void stage_observe(struct run_ctx *x, struct stage *st, const char *argv0, int64_t now)
{
	struct hb *h = &x->h;
	struct run_result *res = x->res;
	char msg[768];
	int lost;

	st->p.idle_ns = IDLE_NS;
	if (x->nested && !h->lost) {
		follow_outer(x, now);
		st->p.idle_ns = FOLLOW_NS;
	}
	pthread_mutex_lock(&h->mu);
	st->p.send_ns = h->renew_send_ns;
	lost = h->lost;
	snprintf(msg, sizeof(msg), "%s", h->msg);
	pthread_mutex_unlock(&h->mu);
	if (!x->nested)
		guardian_renewed(&st->g, st->p.send_ns);
	note_guardian(x, st, argv0, now);
	if (lost && !res->lost) {
		res->lost = 1;
		log_error("LOST the lock %s while '%s' runs: %s", x->url, st->name, msg);
		snprintf(res->outcome, sizeof(res->outcome), "LOST: %s", msg);
	}
	st->p.lost = res->lost;
	st->p.cancel = x->cancel;
	if (st->p.exited) {
		/* wait for the descendants still running (the guardian's, or ours if
		 * it died); the lock is released only once every one is gone (B9) */
		sentinel_stop(&st->sent); /* not a descendant to wait for */
		st->p.gone = reap_children(st);
	}
}

/* Interrupt the command: the lost lock, the lease, or --max-hold. */
static void stage_interrupt(struct run_ctx *x, struct stage *st, enum plan_action a, int64_t now)
{
	int64_t renew_send = st->p.send_ns;
	char d[32];

	if (a == PLAN_LOST_INTERRUPT) {
		st->p.lost_acted = 1;
		log_error("interrupting '%s' (SIGINT): it no longer holds the lock", st->name);
		send_child(st, SIGINT);
	} else if (a == PLAN_LEASE_INTERRUPT) {
		st->p.lease_int_sent = 1;
		x->res->interrupted_for_lease = 1;
		dur_format((now - renew_send) / NS_PER_MS, d, sizeof(d));
		log_error("no successful renewal of %s for %s (half the lease): "
		          "interrupting '%s' (SIGINT)",
		          x->url, d, st->name);
		log_event("lease-interrupt renew_send=%lld", (long long)renew_send);
		guardian_interrupt(&st->g); /* the guardian's own, at most once */
	} else if (a == PLAN_HOLD_INTERRUPT) {
		st->p.hold_stage = 1;
		log_error("'%s' reached --max-hold: interrupting it (SIGINT)", st->name);
		send_child(st, SIGINT);
	}
}

/* Kill the command's whole tree, or, once it exited, what it left. */
static void stage_kill(struct run_ctx *x, struct stage *st, enum plan_action a, int64_t now)
{
	struct run_result *res = x->res;
	char d[32];

	if (a == PLAN_LOST_KILL) {
		st->p.lost_acted = 1;
		log_error("killing '%s': it no longer holds the lock", st->name);
	} else if (a == PLAN_LEASE_KILL) {
		st->p.lease_kill_sent = 1;
		res->killed_for_lease = 1;
		log_error("lease of %s about to expire without renewal: killing "
		          "'%s' and everything it started",
		          x->url, st->name);
		log_event("lease-kill renew_send=%lld", (long long)st->p.send_ns);
	} else if (a == PLAN_HOLD_KILL) {
		st->p.hold_stage = 2;
		log_error("'%s' still running after --max-hold: killing it and "
		          "everything it started",
		          st->name);
	} else if (a == PLAN_CANCEL_KILL) {
		dur_format((now - x->cancel.first_ns) / NS_PER_MS, d, sizeof(d));
		log_error("cancelled %s ago: killing '%s' and everything it started", d, st->name);
		log_event("cancel-kill");
		res->killed_for_grace = 1;
	} else if (a == PLAN_LEFT_GRACE_KILL) {
		log_warn("processes started by '%s' are still running after %lld ms: killing them",
		         st->name, (long long)x->o->grace_ms);
	} else if (a == PLAN_LEFT_LEASE_KILL) {
		log_error("lease of %s about to expire without renewal: killing what "
		          "'%s' left running",
		          x->url, st->name);
		res->killed_for_lease = 1;
	}
	kill_child_tree(st);
}

/* One kill round over our own children: orphans that came to us, every child
 * of ours but a live guardian. */
static void stage_sweep(struct stage *st, int64_t now)
{
	pid_t stuck;
	guardian_kill_round(0, st->g.pid, &stuck);
	if (stuck && stuck != st->stuck)
		log_error("cannot kill process %d, started by '%s': the lock is kept while it runs",
		          (int)stuck, st->name);
	st->stuck = stuck;
	st->p.swept_ns = now;
}

/* Carry out every action due at now; returns PLAN_DONE, or PLAN_WAIT with
 * *next set. */
static enum plan_action stage_act(struct run_ctx *x, struct stage *st, int64_t now, int64_t *next)
{
	enum plan_action a;
	while ((a = plan_run(&st->p, now, next)) != PLAN_WAIT && a != PLAN_DONE) {
		if (a == PLAN_SWEEP)
			stage_sweep(st, now);
		else if (a == PLAN_LOST_INTERRUPT || a == PLAN_LEASE_INTERRUPT ||
		         a == PLAN_HOLD_INTERRUPT)
			stage_interrupt(x, st, a, now);
		else
			stage_kill(x, st, a, now);
	}
	return a;
}

/*
 * A cancel (CI runners: GitHub sends SIGINT, SIGTERM 7.5 s later and SIGKILL
 * 2.5 s after that): the command and everything it started get --grace from
 * the first terminating signal, and a SIGTERM after it, the CI's "now", cuts
 * what is left to --term-grace. At the deadline the whole tree is killed; the
 * lock is released once it is gone (B9), so inside the CI's window.
 */
static void cancel_deadline(struct run_ctx *x, int sig)
{
	int64_t now = clock_boot_ns(), ms;
	const char *why;
	enum plan_cancel_why w = plan_cancel(&x->cancel, sig, now, x->o->grace_ms * NS_PER_MS,
	                                     x->o->term_grace_ms * NS_PER_MS);
	if (w == PLAN_CANCEL_SAME)
		return;
	ms = w == PLAN_CANCEL_GRACE ? x->o->grace_ms : x->o->term_grace_ms;
	why = w == PLAN_CANCEL_GRACE ? "grace" : "term-grace";
	log_event("cancel-deadline at=%lld from=%lld signal=%d %s_ms=%lld",
	          (long long)x->cancel.end_ns, (long long)now, sig, why, (long long)ms);
	log_verbose("signal %d: the command and what it started have %lld ms (--%s) before "
	            "they are killed",
	            sig, (long long)ms, why);
}

/* One signal read from the signalfd: reap, start or cut a cancel, forward. */
static void stage_signal(struct run_ctx *x, struct stage *st, const struct signalfd_siginfo *si)
{
	int sig = (int)si->ssi_signo;

	if (sig == SIGCHLD) {
		reap_children(st);
		return;
	}
	if (sig == SIGPIPE)
		return;
	if (plan_is_cancel(sig)) {
		x->res->self_signal = sig;
		cancel_deadline(x, sig);
	}
	/* once the command exited, a signal goes to what it left running (the
	 * guardian's children: a wrapper's terraform) */
	if (st->p.exited && (!st->g.pid || st->g.gone || st->p.killing))
		return;
	if (x->tty && si->ssi_code == SI_KERNEL) {
		/* typed at the terminal: the child, in the foreground group, got it
		 * from the kernel already */
		log_debug("signal %d from the terminal: not forwarded", sig);
		return;
	}
	if (sentinel_saw(&st->sent, sig, (pid_t)si->ssi_pid)) {
		/* its sender signalled the command's group too */
		log_verbose("signal %d from pid %d reached '%s' too: not forwarded", sig,
		            (int)si->ssi_pid, st->name);
		log_event("not-forwarded signal=%d from=%d", sig, (int)si->ssi_pid);
		return;
	}
	log_verbose("forwarding signal %d to %s'%s'", sig, st->p.exited ? "what is left of " : "",
	            st->name);
	log_event("forward signal=%d code=%d%s", sig, (int)si->ssi_code,
	          st->p.exited ? " to=left" : "");
	send_child(st, sig);
	x->res->signals_forwarded++;
}

/* Sleep until next or an event: a signal, the heartbeat's wake-up, a report
 * of the guardian's. Returns -1 when poll() itself fails. */
static int stage_wait(struct run_ctx *x, struct stage *st, int64_t now, int64_t next)
{
	struct pollfd pfd[3] = { { x->sfd, POLLIN, 0 },
		                 { x->efd, POLLIN, 0 },
		                 { st->g.st_fd, POLLIN, 0 } };
	int timeout = (int)((next - now) / NS_PER_MS) + 1;

	if (timeout < 0)
		timeout = 0;
	if (poll(pfd, 3, timeout) < 0 && errno != EINTR)
		return -1;
	if (pfd[1].revents & POLLIN) {
		uint64_t v;
		if (read(x->efd, &v, sizeof(v)) < 0) {
			/* nonblocking: spurious wake */
		}
	}
	if (pfd[0].revents & POLLIN) {
		struct signalfd_siginfo si;
		while (read(x->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			stage_signal(x, st, &si);
	}
	return 0;
}

/*
 * Run one process to its end under the held lock: forward signals, enforce the
 * lease (B4) and --max-hold, act on a lost lock, then wait (bounded by --grace)
 * for the descendants reparented to us. Returns 0 when it ran (st filled), or a
 * negative error when it could not be started (err filled).
 */
static int supervise(struct run_ctx *x, char *const *argv, char **env, struct stage *st,
                     struct tf_error *err)
{
	int ret = stage_start(x, argv, env, st, err);
	if (ret)
		return ret;
	for (;;) {
		int64_t now = clock_boot_ns(), next;
		stage_observe(x, st, argv[0], now);
		if (stage_act(x, st, now, &next) == PLAN_DONE || stage_wait(x, st, now, next) < 0)
			break;
	}
	sentinel_stop(&st->sent);
	guardian_close(&st->g);
	return 0;
}

/* ---- the run ---- */

/* Block the signals the loop reads and open its descriptors; a signal that
 * came while acquiring stops the run here. 0, or -1 with res filled. */
static int run_setup(struct run_ctx *x, char **argv)
{
	struct run_result *res = x->res;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	x->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	x->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->sfd < 0 || x->efd < 0) {
		snprintf(res->outcome, sizeof(res->outcome), "internal error: %s", strerror(errno));
		res->child_code = 70;
		return -1;
	}
	/* a signal that came while acquiring (its handler ran before the mask): the
	 * caller passes it on, so nothing starts */
	if (x->o->pending_signal && *x->o->pending_signal) {
		int sig = (int)*x->o->pending_signal;
		res->self_signal = sig;
		res->child_code = 128 + sig;
		log_error("stopped by signal %d before '%s' started", sig, argv[0]);
		snprintf(res->outcome, sizeof(res->outcome), "stopped by signal %d before '%s'",
		         sig, argv[0]);
		return -1;
	}
	/* descendants that outlive the child are reparented to us, so we can wait for
	 * them before releasing (B7) */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	x->tty = isatty(STDIN_FILENO);
	x->own_group = !x->tty;
	return 0;
}

/* The heartbeat thread (nested: none, the outer renews); then --max-hold's
 * deadline. */
static void hb_start(struct run_ctx *x)
{
	struct hb *h = &x->h;
	pthread_condattr_t ca;

	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	x->hb_inited = 1;
	h->l = x->l;
	h->outer = x->o->outer;
	h->wake_fd = x->efd;
	if (x->nested) {
		h->renew_send_ns = clock_boot_ns();
	} else {
		h->renew_send_ns = lock_renew_send_ns(x->l);
		if (pthread_create(&x->tid, NULL, hb_main, h) == 0)
			x->hb_started = 1;
		else
			log_error("cannot start the heartbeat thread: the lease will bound the "
			          "command");
	}
	if (x->o->max_hold_ms > 0)
		x->max_hold_at = (x->nested ? clock_boot_ns() : acquired_ns_of(x->l)) +
		                 x->o->max_hold_ms * NS_PER_MS;
}

/* Stop the heartbeat thread; a loss it found late is the run's. */
static void hb_stop(struct run_ctx *x)
{
	struct hb *h = &x->h;
	struct run_result *res = x->res;

	if (x->hb_started) {
		pthread_mutex_lock(&h->mu);
		h->stop = 1;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(x->tid, NULL);
		if (h->lost && !res->lost) {
			res->lost = 1;
			snprintf(res->outcome, sizeof(res->outcome), "LOST: %s", h->msg);
		}
	}
	if (x->hb_inited) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
	}
}

/* The pre-apply hook runs under the lock exactly as the command does: renewed,
 * bounded by the lease, signals forwarded. Returns 1 when the command must not
 * start (res filled). */
static int run_hook(struct run_ctx *x, char **argv)
{
	const struct run_opts *o = x->o;
	struct run_result *res = x->res;
	struct stage hook;
	struct tf_error err;
	char **henv;
	int ret;

	if (!o->hook_argv)
		return 0;
	memset(&hook, 0, sizeof(hook));
	err_clear(&err);
	henv = child_env_build(o->hook_env);
	hook.name = "the pre-apply hook";
	ret = supervise(x, o->hook_argv, henv, &hook, &err);
	child_env_free(henv);
	if (ret) {
		log_error("%s", err.msg);
		res->hook_refused = 1;
		res->child_code = o->refused_exit_code;
		snprintf(res->outcome, sizeof(res->outcome), "pre-apply hook failed: %s", err.msg);
		return 1;
	}
	res->hook_code = hook.code;
	if (res->self_signal || res->lost || res->interrupted_for_lease || res->killed_for_lease) {
		res->child_code = res->self_signal ? 128 + res->self_signal : hook.code;
		log_error("the pre-apply hook was stopped: '%s' is not started", argv[0]);
		return 1;
	}
	if (hook.code != 0) {
		res->hook_refused = 1;
		res->child_code = o->refused_exit_code;
		log_error("the pre-apply hook %s refused (exit %d)", o->hook_argv[0], hook.code);
		snprintf(res->outcome, sizeof(res->outcome),
		         "refused by the pre-apply hook (exit %d)", hook.code);
		return 1;
	}
	return 0;
}

/* The command itself. */
static void run_cmd(struct run_ctx *x, char **argv)
{
	struct run_result *res = x->res;
	struct stage cmd;
	struct tf_error err;
	char **env;
	int ret;

	memset(&cmd, 0, sizeof(cmd));
	err_clear(&err);
	env = child_env_build(x->o->extra_env);
	cmd.name = argv[0];
	ret = supervise(x, argv, env, &cmd, &err);
	child_env_free(env);
	if (ret) {
		log_error("%s", err.msg);
		res->exec_failed = 1;
		res->child_code = ret == ERR_NOT_FOUND ? 127 : 126;
		return;
	}
	res->child_status = cmd.status;
	res->child_code = cmd.code;
	if (res->killed_for_grace)
		snprintf(res->outcome, sizeof(res->outcome),
		         "cancelled by signal %d: '%s' and what it started were killed when the "
		         "grace ran out",
		         res->self_signal, argv[0]);
}

void run_command(struct lock *l, char **argv, const struct run_opts *o, struct run_result *res)
{
	struct run_ctx x;

	memset(res, 0, sizeof(*res));
	res->child_status = -1;
	memset(&x, 0, sizeof(x));
	x.l = l;
	x.o = o;
	x.res = res;
	x.nested = l == NULL;
	x.L = x.nested ? o->nested_lease_ms : lock_lease_ms(l);
	x.m = x.nested ? 0 : lock_margin_ms(l);
	x.url = x.nested ? "the outer tflock's lock" : lock_describe_hold(l);
	x.sfd = x.efd = -1;

	if (run_setup(&x, argv) == 0) {
		hb_start(&x);
		if (run_hook(&x, argv) == 0)
			run_cmd(&x, argv);
		hb_stop(&x);
	}
	if (x.sfd >= 0)
		close(x.sfd);
	if (x.efd >= 0)
		close(x.efd);
}

/* The lease cut the run short: its status is tflock's doing, not the command's. */
static int run_exit_code(const struct run_opts *o, const struct run_result *res)
{
	if (res->lost || res->interrupted_for_lease || res->killed_for_lease)
		return o->lost_exit_code;
	if (res->release_failed && res->child_code == 0)
		return o->unavailable_exit_code;
	return res->child_code;
}

int run_release(struct lock *l, const struct run_opts *o, struct run_result *res)
{
	struct tf_error err;
	int ret;

	if (!l) {
		if (!res->lost && !res->outcome[0])
			snprintf(res->outcome, sizeof(res->outcome),
			         "done (re-entered the outer lock)");
	} else if (!res->lost) {
		size_t used = strlen(res->outcome); /* what stopped the run, if anything */
		err_clear(&err);
		ret = lock_release(l, &err);
		if (ret == 0) {
			snprintf(res->outcome + used, sizeof(res->outcome) - used, "%sreleased",
			         used ? "; " : "");
		} else if (ret == LOCK_LOST) {
			res->lost = 1;
			snprintf(res->outcome, sizeof(res->outcome), "LOST: %s", err.msg);
			log_error("LOST the lock before releasing it: %s", err.msg);
		} else {
			res->release_failed = 1;
			snprintf(res->outcome, sizeof(res->outcome), "release FAILED: %s", err.msg);
			log_error("%s", err.msg);
		}
	}
	if (l && res->lost && lock_is_held(l)) {
		/* PROTOCOL B12: a hold lost through one record gives the others back */
		err_clear(&err);
		if (lock_release(l, &err))
			log_warn("releasing the rest of the lost hold failed: %s", err.msg);
		else
			log_info("released the records of the lost hold still held");
	}
	reentry_set_state(o->outer, res->lost ? "lost" : "released");
	return run_exit_code(o, res);
}

int run_changes_planned(const struct run_result *res)
{
	/* a cancelled or lease-cut run never parks: its plan is not the one to apply */
	return res->child_code == 2 && !res->lost && !res->exec_failed && !res->hook_refused &&
	       res->child_status != -1 && !res->release_failed && !res->self_signal &&
	       !res->interrupted_for_lease && !res->killed_for_lease && !res->killed_for_grace;
}

int run_succeeded(const struct run_result *res)
{
	return res->child_code == 0 && !res->lost && !res->exec_failed && !res->hook_refused &&
	       res->child_status != -1;
}
