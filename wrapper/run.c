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
#include "log.h"

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
	int64_t hb_ms = lock_heartbeat_ms(l);
	unsigned fails = 0;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		int64_t wait_ms;
		struct timespec ts;
		struct tf_error err;
		int ret;
		if (!fails)
			wait_ms = (h->renew_send_ns + hb_ms * NS_PER_MS - clock_boot_ns()) /
			          NS_PER_MS;
		else /* renewal failing: try again soon, with jitter, never slower than H/4 */
			wait_ms = backoff_full_jitter(fails, hb_ms / 16 + 1, hb_ms / 4 + 1,
			                              rand_u64_default, NULL);
		if (wait_ms > 0) {
			abs_monotonic_in(wait_ms, &ts);
			while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &ts) != ETIMEDOUT)
				;
			if (h->stop)
				break;
		}
		pthread_mutex_unlock(&h->mu);
		err_clear(&err);
		ret = lock_renew(l, &err);
		pthread_mutex_lock(&h->mu);
		if (ret == 0) {
			h->renew_send_ns = l->renew_send_ns;
			reentry_set_state(h->outer, "held");
			if (fails)
				log_info("renewal of %s works again", l->url);
			fails = 0;
			h->failing = 0;
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

static void send_child(pid_t pid, pid_t pgid, int sig)
{
	if (pgid > 0)
		kill(-pgid, sig);
	else if (pid > 0)
		kill(pid, sig);
}

/* Kill the whole group, and with it the descendants that stayed in it. */
static void kill_child_tree(pid_t pid, pid_t pgid)
{
	if (pgid > 0)
		kill(-pgid, SIGKILL);
	if (pid > 0)
		kill(pid, SIGKILL);
}

int run_child(struct lock *l, char **argv, const struct run_opts *o, struct run_result *res)
{
	sigset_t mask;
	int sfd = -1, efd = -1, ret, own_group, tty;
	struct child ch;
	struct hb h;
	pthread_t tid;
	int hb_started = 0, child_done = 0;
	int nested = l == NULL;
	int64_t L = nested ? o->nested_lease_ms : l->o.lease_ms;
	int64_t m = nested ? 0 : lock_margin_ms(l);
	const char *url = nested ? "the outer tflock's lock" : l->url;
	int64_t max_hold_at = 0, child_exit_ns = 0;
	int sent_lease_int = 0, sent_lease_kill = 0, sent_lost_action = 0, sent_max_hold = 0;
	char **env = NULL;
	struct tf_error err;

	memset(res, 0, sizeof(*res));
	res->child_status = -1;
	memset(&h, 0, sizeof(h));
	err_clear(&err);

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
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sfd < 0 || efd < 0) {
		snprintf(res->outcome, sizeof(res->outcome), "internal error: %s", strerror(errno));
		res->child_code = 70;
		goto release;
	}
	/* descendants that outlive the child are reparented to us, so we can wait for
	 * them before releasing (B7) */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	tty = isatty(STDIN_FILENO);
	own_group = !tty;
	env = child_env_build(o->extra_env);
	ret = child_spawn(&ch, argv, env, own_group, &o->orig_mask, &err);
	if (ret) {
		log_error("%s", err.msg);
		res->exec_failed = 1;
		res->child_code = ret == ERR_NOT_FOUND ? 127 : 126;
		goto release;
	}
	log_event("child-start pid=%d pgid=%d", (int)ch.pid, (int)ch.pgid);
	log_verbose("started '%s' (pid %d%s) holding %s", argv[0], (int)ch.pid,
	            own_group ? ", own process group" : ", foreground group", url);

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
	h.wake_fd = efd;
	if (nested) {
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
		max_hold_at =
		        (nested ? clock_boot_ns() : l->acquired_ns) + o->max_hold_ms * NS_PER_MS;

	for (;;) {
		struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { efd, POLLIN, 0 } };
		int64_t now = clock_boot_ns(), next = now + 60000 * NS_PER_MS, renew_send;
		int lost, failing;
		char msg[768];
		int timeout;

		if (nested && !h.lost) {
			/* follow the outer tflock: its state file, refreshed on each renewal */
			const char *st = reentry_outer_state(o->nested);
			long long stamp = reentry_outer_stamp(o->nested);
			if (stamp > h.renew_send_ns)
				h.renew_send_ns = stamp;
			if (!strcmp(st, "held") && stamp && now - stamp > L * NS_PER_MS) {
				h.lost = 1;
				snprintf(h.msg, sizeof(h.msg),
				         "the outer tflock has not renewed its lock for a whole "
				         "lease");
			} else if (strcmp(st, "held")) {
				h.lost = 1;
				snprintf(h.msg, sizeof(h.msg), "the outer tflock's lock is %s",
				         !strcmp(st, "gone") ? "gone (the outer tflock exited)"
				                             : st);
			}
			if (now + 100 * NS_PER_MS < next)
				next = now + 100 * NS_PER_MS;
		}
		pthread_mutex_lock(&h.mu);
		renew_send = h.renew_send_ns;
		lost = h.lost;
		failing = h.failing;
		snprintf(msg, sizeof(msg), "%s", h.msg);
		pthread_mutex_unlock(&h.mu);
		(void)failing;

		if (lost && !res->lost) {
			res->lost = 1;
			log_error("LOST the lock %s while '%s' runs: %s", url, argv[0], msg);
			snprintf(res->outcome, sizeof(res->outcome), "LOST: %s", msg);
		}
		if (res->lost && !sent_lost_action && !child_done) {
			sent_lost_action = 1;
			if (o->on_lost == ON_LOST_INTERRUPT) {
				log_error("interrupting '%s' (SIGINT): it no longer holds the lock",
				          argv[0]);
				send_child(ch.pid, ch.pgid, SIGINT);
			} else if (o->on_lost == ON_LOST_KILL) {
				log_error("killing '%s': it no longer holds the lock", argv[0]);
				kill_child_tree(ch.pid, ch.pgid);
			}
		}
		/* the lease bounds the child, whatever --on-lost says */
		if (!child_done && !o->unsafe_keep_running && !nested) {
			int64_t int_at = renew_send + (L / 2) * NS_PER_MS;
			int64_t kill_at = renew_send + (L - m) * NS_PER_MS;
			if (!sent_lease_int && now >= int_at) {
				char d[32];
				sent_lease_int = 1;
				res->interrupted_for_lease = 1;
				dur_format((now - renew_send) / NS_PER_MS, d, sizeof(d));
				log_error("no successful renewal of %s for %s (half the lease): "
				          "interrupting '%s' (SIGINT)",
				          url, d, argv[0]);
				log_event("lease-interrupt renew_send=%lld", (long long)renew_send);
				send_child(ch.pid, ch.pgid, SIGINT);
			}
			if (!sent_lease_kill && now >= kill_at) {
				sent_lease_kill = 1;
				res->killed_for_lease = 1;
				log_error("lease of %s about to expire without renewal: killing "
				          "'%s' and its process group",
				          url, argv[0]);
				log_event("lease-kill renew_send=%lld", (long long)renew_send);
				kill_child_tree(ch.pid, ch.pgid);
			}
			if (!sent_lease_int && int_at < next)
				next = int_at;
			if (!sent_lease_kill && kill_at < next)
				next = kill_at;
		}
		if (!child_done && max_hold_at) {
			if (!sent_max_hold && now >= max_hold_at) {
				sent_max_hold = 1;
				log_error("'%s' reached --max-hold: interrupting it (SIGINT)",
				          argv[0]);
				send_child(ch.pid, ch.pgid, SIGINT);
			} else if (sent_max_hold == 1 &&
			           now >= max_hold_at +
			                           (L / 2 - m > 0 ? L / 2 - m : m) * NS_PER_MS) {
				sent_max_hold = 2;
				log_error("'%s' still running after --max-hold: killing its "
				          "process group",
				          argv[0]);
				kill_child_tree(ch.pid, ch.pgid);
			}
			if (sent_max_hold == 0 && max_hold_at < next)
				next = max_hold_at;
			else if (sent_max_hold == 1)
				next = now + 100 * NS_PER_MS;
		}
		if (child_done) {
			/* wait for descendants still running (reparented to us) */
			pid_t p;
			int st;
			while ((p = waitpid(-1, &st, REAP_FLAGS)) > 0)
				;
			if (p < 0 && errno == ECHILD)
				break;
			if (now >= child_exit_ns + o->grace_ms * NS_PER_MS) {
				log_warn("processes started by '%s' are still running after %lld "
				         "ms; releasing anyway",
				         argv[0], (long long)o->grace_ms);
				break;
			}
			next = now + 50 * NS_PER_MS;
			if (next > child_exit_ns + o->grace_ms * NS_PER_MS)
				next = child_exit_ns + o->grace_ms * NS_PER_MS;
		}

		timeout = (int)((next - now) / NS_PER_MS) + 1;
		if (timeout < 0)
			timeout = 0;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN) {
			uint64_t v;
			if (read(efd, &v, sizeof(v)) < 0) {
				/* nonblocking: spurious wake */
			}
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				int sig = (int)si.ssi_signo;
				if (sig == SIGCHLD) {
					pid_t p;
					int st;
					while ((p = waitpid(-1, &st, REAP_FLAGS)) > 0) {
						if (p == ch.pid && !child_done) {
							child_done = 1;
							child_exit_ns = clock_boot_ns();
							res->child_status = st;
							res->child_code = child_exit_code(st);
							log_verbose("'%s' exited with status %d",
							            argv[0], res->child_code);
							log_event("child-exit code=%d",
							          res->child_code);
						}
					}
					continue;
				}
				if (sig == SIGPIPE)
					continue;
				if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP ||
				    sig == SIGQUIT)
					res->self_signal = sig;
				if (child_done)
					continue;
				if (tty && si.ssi_code == SI_KERNEL) {
					/* typed at the terminal: the child, in the foreground group,
					 * got it from the kernel already */
					log_debug("signal %d from the terminal: not forwarded",
					          sig);
					continue;
				}
				log_verbose("forwarding signal %d to '%s'", sig, argv[0]);
				log_event("forward signal=%d code=%d", sig, (int)si.ssi_code);
				send_child(ch.pid, ch.pgid, sig);
				res->signals_forwarded++;
			}
		}
	}

release:
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
		pthread_cond_destroy(&h.cv);
		pthread_mutex_destroy(&h.mu);
	}
	if (nested) {
		if (!res->lost)
			snprintf(res->outcome, sizeof(res->outcome),
			         "done (re-entered the outer lock)");
	} else if (!res->lost) {
		if (o->before_release && res->child_code == 0 && !res->exec_failed)
			o->before_release(l, o->before_release_arg);
		err_clear(&err);
		ret = lock_release(l, &err);
		if (ret == 0) {
			snprintf(res->outcome, sizeof(res->outcome), "released");
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
	if (sfd >= 0)
		close(sfd);
	if (efd >= 0)
		close(efd);
	if (res->lost)
		return o->lost_exit_code;
	return res->child_code;
}
