#include "plan.h"

#include <signal.h>

struct plan_lease plan_lease(int64_t send_ns, int64_t lease_ns, int64_t margin_ns)
{
	struct plan_lease d = { INT64_MAX, INT64_MAX };
	if (lease_ns > 0) {
		d.int_at = send_ns + lease_ns / 2;
		d.kill_at = send_ns + lease_ns - margin_ns;
	}
	return d;
}

enum plan_hb_action plan_heartbeat(const struct plan_hb *h, int64_t now, int64_t *at)
{
	int64_t check_at;
	if (h->fails) { /* failing: try again soon; no check decides anything meanwhile */
		*at = now + h->retry_ns;
		return PLAN_RENEW;
	}
	*at = h->send_ns + h->hb_ns;
	if (!h->check_ns)
		return PLAN_RENEW;
	check_at = h->last_check_ns + h->check_ns;
	if (check_at < *at) {
		*at = check_at;
		return PLAN_CHECK;
	}
	return PLAN_RENEW;
}

int plan_is_cancel(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT;
}

enum plan_cancel_why plan_cancel(struct plan_cancel *c, int sig, int64_t now, int64_t grace_ns,
                                 int64_t term_grace_ns)
{
	int64_t end;
	if (!plan_is_cancel(sig))
		return PLAN_CANCEL_SAME;
	if (!c->first_ns) {
		c->first_ns = now;
		c->end_ns = now + grace_ns;
		return PLAN_CANCEL_GRACE;
	}
	if (sig != SIGTERM)
		return PLAN_CANCEL_SAME;
	end = now + term_grace_ns;
	if (end >= c->end_ns)
		return PLAN_CANCEL_SAME;
	c->end_ns = end;
	return PLAN_CANCEL_TERM_GRACE;
}

int64_t plan_hold_kill_after(int64_t lease_ns, int64_t margin_ns)
{
	int64_t d = lease_ns / 2 - margin_ns;
	return d > 0 ? d : margin_ns;
}

static void earliest(int64_t *next, int64_t t)
{
	if (t < *next)
		*next = t;
}

/* While the command runs: the lost lock, the lease, --max-hold. */
static enum plan_action plan_running(const struct plan_run *p, int64_t now, int64_t *next)
{
	if (p->lost && !p->lost_acted) {
		if (p->on_lost == ON_LOST_INTERRUPT)
			return PLAN_LOST_INTERRUPT;
		if (p->on_lost == ON_LOST_KILL)
			return PLAN_LOST_KILL;
	}
	if (p->lease_bounds) {
		struct plan_lease d = plan_lease(p->send_ns, p->lease_ns, p->margin_ns);
		if (!p->lease_int_sent && now >= d.int_at)
			return PLAN_LEASE_INTERRUPT;
		if (!p->lease_kill_sent && now >= d.kill_at)
			return PLAN_LEASE_KILL;
		if (!p->lease_int_sent)
			earliest(next, d.int_at);
		if (!p->lease_kill_sent)
			earliest(next, d.kill_at);
	}
	if (p->max_hold_at) {
		int64_t kill_at = p->max_hold_at + plan_hold_kill_after(p->lease_ns, p->margin_ns);
		if (p->hold_stage == 0 && now >= p->max_hold_at)
			return PLAN_HOLD_INTERRUPT;
		if (p->hold_stage == 1 && now >= kill_at)
			return PLAN_HOLD_KILL;
		if (p->hold_stage == 0)
			earliest(next, p->max_hold_at);
		else if (p->hold_stage == 1)
			earliest(next, kill_at);
	}
	return PLAN_WAIT;
}

/* Once the command exited: wait for what it left (B7), bounded by --grace and
 * the lease, then kill it; the stage is over only when every process is gone. */
static enum plan_action plan_exited(const struct plan_run *p, int64_t now, int64_t *next)
{
	int64_t grace_end = p->exit_ns + p->grace_ns;
	int64_t kill_at = p->lease_bounds
	                          ? plan_lease(p->send_ns, p->lease_ns, p->margin_ns).kill_at
	                          : INT64_MAX;
	if (p->gone)
		return PLAN_DONE;
	if (p->killing) {
		if (now >= p->swept_ns + PLAN_SWEEP_NS)
			return PLAN_SWEEP;
		earliest(next, p->swept_ns + PLAN_SWEEP_NS);
		return PLAN_WAIT;
	}
	if (now >= grace_end)
		return PLAN_LEFT_GRACE_KILL;
	if (now >= kill_at)
		return PLAN_LEFT_LEASE_KILL;
	earliest(next, now + PLAN_REAP_NS);
	earliest(next, grace_end);
	earliest(next, kill_at);
	return PLAN_WAIT;
}

enum plan_action plan_run(const struct plan_run *p, int64_t now, int64_t *next)
{
	enum plan_action a;
	*next = now + p->idle_ns;
	if (!p->exited && (a = plan_running(p, now, next)) != PLAN_WAIT)
		return a;
	if (p->cancel.end_ns && !p->killing) {
		if (now >= p->cancel.end_ns)
			return PLAN_CANCEL_KILL;
		earliest(next, p->cancel.end_ns);
	}
	if (p->exited)
		return plan_exited(p, now, next);
	return PLAN_WAIT;
}
