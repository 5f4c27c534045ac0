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
#include "dur.h"
#include "guardian.h"
#include "log.h"
#include "sentinel.h"

#define NS_PER_MS 1000000LL

struct hb {
	struct reentry *outer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lock *l;
	int stop;
	int lost;
	int failing;
	int64_t renew_send_ns;
	char msg[768];
	int wake_fd;
};

static void wake(struct hb *h)
{
	uint64_t one = 1;
	if (write(h->wake_fd, &one, sizeof(one)) < 0) {
		/* the eventfd counter cannot overflow in practice; nothing to do */
	}
}

static void abs_monotonic_in(int64_t ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * NS_PER_MS;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static void *hb_main(void *arg)
{
	struct hb *h = arg;
	struct lock *l = h->l;
	int64_t hb_ms = lock_heartbeat_ms(l), check_ms = lock_check_ms(l);
	int64_t last_check = h->renew_send_ns;
	unsigned fails = 0;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		int64_t wait_ms;
		struct timespec ts;
		struct tf_error err;
		int ret, check = 0;
		if (!fails)
			wait_ms = (h->renew_send_ns + hb_ms * NS_PER_MS - clock_boot_ns()) /
			          NS_PER_MS;
		else /* renewal failing: try again soon, with jitter, never slower than H/4 */
			wait_ms = backoff_full_jitter(fails, hb_ms / 16 + 1, hb_ms / 4 + 1,
			                              rand_u64_default, NULL);
		/* B4: between renewals a cheap conditional GET notices a force-unlock or
		 * a takeover within seconds, not at the next renewal */
		if (check_ms && !fails) {
			int64_t to_check =
			        (last_check + check_ms * NS_PER_MS - clock_boot_ns()) / NS_PER_MS;
			if (to_check < wait_ms) {
				wait_ms = to_check;
				check = 1;
			}
		}
		if (wait_ms > 0) {
			abs_monotonic_in(wait_ms, &ts);
			while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &ts) != ETIMEDOUT)
				;
			if (h->stop)
				break;
		}
		pthread_mutex_unlock(&h->mu);
		err_clear(&err);
		if (check) {
			ret = lock_check(l, &err);
			last_check = clock_boot_ns();
			pthread_mutex_lock(&h->mu);
			if (ret == LOCK_LOST) {
				reentry_set_state(h->outer, "lost");
				h->lost = 1;
				snprintf(h->msg, sizeof(h->msg), "%s", err.msg);
				wake(h);
				break;
			}
			if (ret)
				log_verbose("checking %s failed: %s (the next renewal decides)",
				            l->url, err.msg);
			continue;
		}
		ret = lock_renew(l, &err);
		last_check = clock_boot_ns();
		pthread_mutex_lock(&h->mu);
		if (ret == 0) {
			h->renew_send_ns = l->renew_send_ns;
			reentry_set_state(h->outer, "held");
			if (fails)
				log_info("renewal of %s works again", l->url);
			fails = 0;
			h->failing = 0;
			wake(h); /* the main loop hands the send time to the guardian (B9) */
			log_debug("heartbeat %u: renewed %s (etag %s)", l->heartbeats, l->url,
			          l->etag);
		} else if (ret == LOCK_LOST) {
			reentry_set_state(h->outer, "lost");
			h->lost = 1;
			snprintf(h->msg, sizeof(h->msg), "%s", err.msg);
			wake(h);
			break;
		} else {
			fails++;
			h->failing = 1;
			snprintf(h->msg, sizeof(h->msg), "%s", err.msg);
			log_warn("renewal of %s failed: %s", l->url, err.msg);
			wake(h);
		}
	}
	pthread_mutex_unlock(&h->mu);
	/* OpenSSL 3 keeps per-thread state (the private DRBG a TLS handshake
	 * seeds); free it now rather than rely on its thread-exit hook */
	OPENSSL_thread_stop();
	return NULL;
}

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
	int done;
	int status, code;
	int64_t exit_ns;
	int sent_lease_int, sent_lease_kill, sent_lost_action, sent_max_hold;
	int killing; /* the whole tree is being killed */
	pid_t stuck; /* a descendant we could not kill (said once) */
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
 * descendant; our own sweep (reap_children) catches orphans if it died first. */
static void kill_child_tree(struct stage *st)
{
	guardian_kill(&st->g);
	st->killing = 1;
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
			st->killing = 1;
		}
		if (!st->g.exited) { /* the command died of its parent-death signal */
			st->g.exited = 1;
			st->g.status = SIGKILL;
			st->g.exit_ns = clock_boot_ns();
		}
	}
	return p < 0 && errno == ECHILD;
}

struct run_ctx {
	struct lock *l; /* NULL when nested */
	const struct run_opts *o;
	struct run_result *res;
	struct hb *h;
	int sfd, efd, tty, own_group, nested;
	int64_t L, m, max_hold_at;
	const char *url;
	int64_t cancel_ns;  /* the first terminating signal (CLOCK_BOOTTIME), 0: none */
	int64_t cancel_end; /* then: when the command's tree is killed */
};

/*
 * A cancel (CI runners: GitHub sends SIGINT, SIGTERM 7.5 s later and SIGKILL
 * 2.5 s after that): the command and everything it started get --grace from
 * the first terminating signal, and a SIGTERM after it, the CI's "now", cuts
 * what is left to --term-grace. At the deadline the whole tree is killed; the
 * lock is released once it is gone (B9), so inside the CI's window.
 */
static void cancel_deadline(struct run_ctx *x, int sig)
{
	int64_t now = clock_boot_ns(), ms, end;
	const char *why;
	if (!x->cancel_ns) {
		x->cancel_ns = now;
		ms = x->o->grace_ms;
		why = "grace";
	} else if (sig == SIGTERM) {
		ms = x->o->term_grace_ms;
		why = "term-grace";
	} else {
		return;
	}
	end = now + ms * NS_PER_MS;
	if (x->cancel_end && end >= x->cancel_end)
		return;
	x->cancel_end = end;
	log_event("cancel-deadline at=%lld from=%lld signal=%d %s_ms=%lld", (long long)end,
	          (long long)now, sig, why, (long long)ms);
	log_verbose("signal %d: the command and what it started have %lld ms (--%s) before "
	            "they are killed",
	            sig, (long long)ms, why);
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
	const struct run_opts *o = x->o;
	struct run_result *res = x->res;
	struct hb *h = x->h;
	int ret;

	{
		struct guardian_opts go;
		memset(&go, 0, sizeof(go));
		go.own_group = x->own_group;
		/* nested: the outer's guardian bounds us; --unsafe-keep-running: no lease
		 * kill (the tree still dies with tflock) */
		go.lease_ms = x->nested || o->unsafe_keep_running ? 0 : x->L;
		go.margin_ms = x->m;
		pthread_mutex_lock(&h->mu);
		go.renew_send_ns = h->renew_send_ns;
		pthread_mutex_unlock(&h->mu);
		go.orig_mask = &o->orig_mask;
		ret = guardian_spawn(&st->g, argv, env, &go, err);
		if (ret)
			return ret;
		st->g.sent_renewal = go.renew_send_ns;
	}
	log_event("child-start pid=%d pgid=%d name=%s guardian=%d", (int)st->g.cmd_pid,
	          (int)st->g.cmd_pgid, argv[0], (int)st->g.pid);
	log_verbose("started '%s' (pid %d%s, guardian %d) holding %s", argv[0], (int)st->g.cmd_pid,
	            x->own_group ? ", own process group" : ", foreground group", (int)st->g.pid,
	            x->url);
	if (sentinel_start(&st->sent, x->own_group ? st->g.cmd_pgid : 0))
		log_debug("no sentinel: every signal will be forwarded");

	for (;;) {
		struct pollfd pfd[3] = { { x->sfd, POLLIN, 0 },
			                 { x->efd, POLLIN, 0 },
			                 { st->g.st_fd, POLLIN, 0 } };
		int64_t now = clock_boot_ns(), next = now + 60000 * NS_PER_MS, renew_send;
		int lost;
		char msg[768];
		int timeout;
		int64_t L = x->L, m = x->m;

		if (x->nested && !h->lost) {
			/* follow the outer tflock: its state file, refreshed on each renewal */
			const char *ost = reentry_outer_state(o->nested);
			long long stamp = reentry_outer_stamp(o->nested);
			if (stamp > h->renew_send_ns)
				h->renew_send_ns = stamp;
			if (!strcmp(ost, "held") && stamp && now - stamp > L * NS_PER_MS) {
				h->lost = 1;
				snprintf(h->msg, sizeof(h->msg),
				         "the outer tflock has not renewed its lock for a whole "
				         "lease");
			} else if (strcmp(ost, "held")) {
				h->lost = 1;
				snprintf(h->msg, sizeof(h->msg), "the outer tflock's lock is %s",
				         !strcmp(ost, "gone") ? "gone (the outer tflock exited)"
				                              : ost);
			}
			if (now + 100 * NS_PER_MS < next)
				next = now + 100 * NS_PER_MS;
		}
		pthread_mutex_lock(&h->mu);
		renew_send = h->renew_send_ns;
		lost = h->lost;
		snprintf(msg, sizeof(msg), "%s", h->msg);
		pthread_mutex_unlock(&h->mu);
		if (!x->nested)
			guardian_renewed(&st->g, renew_send);
		guardian_read(&st->g);
		if (st->g.exited && !st->done) {
			st->done = 1;
			st->exit_ns = st->g.exit_ns ? st->g.exit_ns : now;
			st->status = st->g.status;
			st->code = child_exit_code(st->g.status);
			log_verbose("'%s' exited with status %d", st->name, st->code);
			log_event("child-exit code=%d name=%s", st->code, argv[0]);
		}
		if (st->g.lease_int && !st->sent_lease_int) {
			st->sent_lease_int = 1;
			res->interrupted_for_lease = 1;
			log_error("no successful renewal of %s for half the lease: the guardian "
			          "interrupted '%s' (SIGINT)",
			          x->url, st->name);
			log_event("lease-interrupt renew_send=%lld by=guardian",
			          (long long)renew_send);
		}
		if (st->g.lease_kill && !st->sent_lease_kill) {
			st->sent_lease_kill = 1;
			res->killed_for_lease = 1;
			st->killing = 1;
			log_error("lease of %s about to expire without renewal: the guardian "
			          "killed '%s' and everything it started",
			          x->url, st->name);
			log_event("lease-kill renew_send=%lld by=guardian", (long long)renew_send);
		}

		if (lost && !res->lost) {
			res->lost = 1;
			log_error("LOST the lock %s while '%s' runs: %s", x->url, st->name, msg);
			snprintf(res->outcome, sizeof(res->outcome), "LOST: %s", msg);
		}
		if (res->lost && !st->sent_lost_action && !st->done) {
			st->sent_lost_action = 1;
			if (o->on_lost == ON_LOST_INTERRUPT) {
				log_error("interrupting '%s' (SIGINT): it no longer holds the lock",
				          st->name);
				send_child(st, SIGINT);
			} else if (o->on_lost == ON_LOST_KILL) {
				log_error("killing '%s': it no longer holds the lock", st->name);
				kill_child_tree(st);
			}
		}
		/* the lease bounds the child, whatever --on-lost says */
		if (!st->done && !o->unsafe_keep_running && !x->nested) {
			int64_t int_at = renew_send + (L / 2) * NS_PER_MS;
			int64_t kill_at = renew_send + (L - m) * NS_PER_MS;
			if (!st->sent_lease_int && now >= int_at) {
				char d[32];
				st->sent_lease_int = 1;
				res->interrupted_for_lease = 1;
				dur_format((now - renew_send) / NS_PER_MS, d, sizeof(d));
				log_error("no successful renewal of %s for %s (half the lease): "
				          "interrupting '%s' (SIGINT)",
				          x->url, d, st->name);
				log_event("lease-interrupt renew_send=%lld", (long long)renew_send);
				guardian_interrupt(&st->g); /* the guardian's own, at most once */
			}
			if (!st->sent_lease_kill && now >= kill_at) {
				st->sent_lease_kill = 1;
				res->killed_for_lease = 1;
				log_error("lease of %s about to expire without renewal: killing "
				          "'%s' and everything it started",
				          x->url, st->name);
				log_event("lease-kill renew_send=%lld", (long long)renew_send);
				kill_child_tree(st);
			}
			if (!st->sent_lease_int && int_at < next)
				next = int_at;
			if (!st->sent_lease_kill && kill_at < next)
				next = kill_at;
		}
		if (!st->done && x->max_hold_at) {
			if (!st->sent_max_hold && now >= x->max_hold_at) {
				st->sent_max_hold = 1;
				log_error("'%s' reached --max-hold: interrupting it (SIGINT)",
				          st->name);
				send_child(st, SIGINT);
			} else if (st->sent_max_hold == 1 &&
			           now >= x->max_hold_at +
			                           (L / 2 - m > 0 ? L / 2 - m : m) * NS_PER_MS) {
				st->sent_max_hold = 2;
				log_error("'%s' still running after --max-hold: killing it and "
				          "everything it started",
				          st->name);
				kill_child_tree(st);
			}
			if (st->sent_max_hold == 0 && x->max_hold_at < next)
				next = x->max_hold_at;
			else if (st->sent_max_hold == 1)
				next = now + 100 * NS_PER_MS;
		}
		if (x->cancel_end && !st->killing) {
			if (now >= x->cancel_end) {
				char d[32];
				dur_format((now - x->cancel_ns) / NS_PER_MS, d, sizeof(d));
				log_error(
				        "cancelled %s ago: killing '%s' and everything it started",
				        d, st->name);
				log_event("cancel-kill");
				res->killed_for_grace = 1;
				kill_child_tree(st);
			} else if (x->cancel_end < next) {
				next = x->cancel_end;
			}
		}
		if (st->done) {
			/* wait for the descendants still running (the guardian's, or ours if
			 * it died); when --grace ends, or the lease would, kill them; the lock
			 * is released only once every one is gone (B9) */
			int64_t grace_end = st->exit_ns + o->grace_ms * NS_PER_MS;
			int64_t kill_at = renew_send + (L - m) * NS_PER_MS;
			int lease_applies = !o->unsafe_keep_running && !x->nested;
			sentinel_stop(&st->sent); /* not a descendant to wait for */
			if (reap_children(st))
				break;
			if (!st->killing && now >= grace_end) {
				log_warn("processes started by '%s' are still running after %lld "
				         "ms: "
				         "killing them",
				         st->name, (long long)o->grace_ms);
				kill_child_tree(st);
			} else if (!st->killing && lease_applies && now >= kill_at) {
				log_error(
				        "lease of %s about to expire without renewal: killing what "
				        "'%s' left running",
				        x->url, st->name);
				res->killed_for_lease = 1;
				kill_child_tree(st);
			}
			if (st->killing) {
				pid_t stuck;
				/* orphans that came to us: every child of ours but a live guardian */
				guardian_kill_round(0, st->g.pid, &stuck);
				if (stuck && stuck != st->stuck)
					log_error(
					        "cannot kill process %d, started by '%s': the lock "
					        "is kept while it runs",
					        (int)stuck, st->name);
				st->stuck = stuck;
				next = now + 10 * NS_PER_MS;
			} else {
				next = now + 50 * NS_PER_MS;
				if (next > grace_end)
					next = grace_end;
				if (lease_applies && next > kill_at)
					next = kill_at;
			}
		}

		timeout = (int)((next - now) / NS_PER_MS) + 1;
		if (timeout < 0)
			timeout = 0;
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN) {
			uint64_t v;
			if (read(x->efd, &v, sizeof(v)) < 0) {
				/* nonblocking: spurious wake */
			}
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(x->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				int sig = (int)si.ssi_signo;
				if (sig == SIGCHLD) {
					reap_children(st);
					continue;
				}
				if (sig == SIGPIPE)
					continue;
				if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP ||
				    sig == SIGQUIT) {
					res->self_signal = sig;
					cancel_deadline(x, sig);
				}
				/* once the command exited, a signal goes to what it left
				 * running (the guardian's children: a wrapper's terraform) */
				if (st->done && (!st->g.pid || st->g.gone || st->killing))
					continue;
				if (x->tty && si.ssi_code == SI_KERNEL) {
					/* typed at the terminal: the child, in the foreground group,
					 * got it from the kernel already */
					log_debug("signal %d from the terminal: not forwarded",
					          sig);
					continue;
				}
				if (sentinel_saw(&st->sent, sig, (pid_t)si.ssi_pid)) {
					/* its sender signalled the command's group too */
					log_verbose("signal %d from pid %d reached '%s' too: not "
					            "forwarded",
					            sig, (int)si.ssi_pid, st->name);
					log_event("not-forwarded signal=%d from=%d", sig,
					          (int)si.ssi_pid);
					continue;
				}
				log_verbose("forwarding signal %d to %s'%s'", sig,
				            st->done ? "what is left of " : "", st->name);
				log_event("forward signal=%d code=%d%s", sig, (int)si.ssi_code,
				          st->done ? " to=left" : "");
				send_child(st, sig);
				res->signals_forwarded++;
			}
		}
	}
	sentinel_stop(&st->sent);
	guardian_close(&st->g);
	return 0;
}

int run_child(struct lock *l, char **argv, const struct run_opts *o, struct run_result *res)
{
	sigset_t mask;
	struct run_ctx x;
	struct stage cmd, hook;
	struct hb h;
	pthread_t tid;
	int hb_started = 0, ret;
	char **env = NULL;
	struct tf_error err;

	memset(res, 0, sizeof(*res));
	res->child_status = -1;
	memset(&h, 0, sizeof(h));
	memset(&x, 0, sizeof(x));
	memset(&cmd, 0, sizeof(cmd));
	memset(&hook, 0, sizeof(hook));
	err_clear(&err);
	x.l = l;
	x.o = o;
	x.res = res;
	x.h = &h;
	x.nested = l == NULL;
	x.L = x.nested ? o->nested_lease_ms : l->o.lease_ms;
	x.m = x.nested ? 0 : lock_margin_ms(l);
	x.url = x.nested ? "the outer tflock's lock" : l->url;
	x.sfd = x.efd = -1;

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
	x.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	x.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x.sfd < 0 || x.efd < 0) {
		snprintf(res->outcome, sizeof(res->outcome), "internal error: %s", strerror(errno));
		res->child_code = 70;
		goto release;
	}
	/* a signal that came while acquiring (its handler ran before the mask): the
	 * caller passes it on, so nothing starts */
	if (o->pending_signal && *o->pending_signal) {
		int sig = (int)*o->pending_signal;
		res->self_signal = sig;
		res->child_code = 128 + sig;
		log_error("stopped by signal %d before '%s' started", sig, argv[0]);
		snprintf(res->outcome, sizeof(res->outcome), "stopped by signal %d before '%s'",
		         sig, argv[0]);
		goto release;
	}
	/* descendants that outlive the child are reparented to us, so we can wait for
	 * them before releasing (B7) */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	x.tty = isatty(STDIN_FILENO);
	x.own_group = !x.tty;

	pthread_mutex_init(&h.mu, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h.cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	h.l = l;
	h.outer = o->outer;
	h.wake_fd = x.efd;
	if (x.nested) {
		h.renew_send_ns = clock_boot_ns();
	} else {
		h.renew_send_ns = l->renew_send_ns;
		if (pthread_create(&tid, NULL, hb_main, &h) == 0)
			hb_started = 1;
		else
			log_error("cannot start the heartbeat thread: the lease will bound the "
			          "command");
	}
	if (o->max_hold_ms > 0)
		x.max_hold_at =
		        (x.nested ? clock_boot_ns() : l->acquired_ns) + o->max_hold_ms * NS_PER_MS;

	/* the pre-apply hook runs under the lock exactly as the command does:
	 * renewed, bounded by the lease, signals forwarded */
	if (o->hook_argv) {
		char **henv = child_env_build(o->hook_env);
		hook.name = "the pre-apply hook";
		ret = supervise(&x, o->hook_argv, henv, &hook, &err);
		child_env_free(henv);
		if (ret) {
			log_error("%s", err.msg);
			res->hook_refused = 1;
			res->child_code = o->refused_exit_code;
			snprintf(res->outcome, sizeof(res->outcome), "pre-apply hook failed: %s",
			         err.msg);
			goto stop;
		}
		res->hook_code = hook.code;
		if (res->self_signal || res->lost || res->interrupted_for_lease ||
		    res->killed_for_lease) {
			res->child_code = res->self_signal ? 128 + res->self_signal : hook.code;
			log_error("the pre-apply hook was stopped: '%s' is not started", argv[0]);
			goto stop;
		}
		if (hook.code != 0) {
			res->hook_refused = 1;
			res->child_code = o->refused_exit_code;
			log_error("the pre-apply hook %s refused (exit %d)", o->hook_argv[0],
			          hook.code);
			snprintf(res->outcome, sizeof(res->outcome),
			         "refused by the pre-apply hook (exit %d)", hook.code);
			goto stop;
		}
	}

	env = child_env_build(o->extra_env);
	cmd.name = argv[0];
	ret = supervise(&x, argv, env, &cmd, &err);
	if (ret) {
		log_error("%s", err.msg);
		res->exec_failed = 1;
		res->child_code = ret == ERR_NOT_FOUND ? 127 : 126;
		goto stop;
	}
	res->child_status = cmd.status;
	res->child_code = cmd.code;
	if (res->killed_for_grace)
		snprintf(res->outcome, sizeof(res->outcome),
		         "cancelled by signal %d: '%s' and what it started were killed when the "
		         "grace ran out",
		         res->self_signal, argv[0]);

stop:
	if (hb_started) {
		pthread_mutex_lock(&h.mu);
		h.stop = 1;
		pthread_cond_signal(&h.cv);
		pthread_mutex_unlock(&h.mu);
		pthread_join(tid, NULL);
		if (h.lost && !res->lost) {
			res->lost = 1;
			snprintf(res->outcome, sizeof(res->outcome), "LOST: %s", h.msg);
		}
	}
	pthread_cond_destroy(&h.cv);
	pthread_mutex_destroy(&h.mu);
release:
	if (x.nested) {
		if (!res->lost && !res->outcome[0])
			snprintf(res->outcome, sizeof(res->outcome),
			         "done (re-entered the outer lock)");
	} else if (!res->lost) {
		size_t used = strlen(res->outcome); /* what stopped the run, if anything */
		if (o->before_release && res->child_code == 0 && !res->exec_failed &&
		    !res->hook_refused && res->child_status != -1)
			o->before_release(l, o->before_release_arg);
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
	reentry_set_state(o->outer, res->lost ? "lost" : "released");
	child_env_free(env);
	if (x.sfd >= 0)
		close(x.sfd);
	if (x.efd >= 0)
		close(x.efd);
	/* the lease cut the run short: its status is tflock's doing, not the command's */
	if (res->lost || res->interrupted_for_lease || res->killed_for_lease)
		return o->lost_exit_code;
	if (res->release_failed && res->child_code == 0)
		return o->unavailable_exit_code;
	return res->child_code;
}
