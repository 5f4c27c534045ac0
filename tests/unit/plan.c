/* The deadline planner: every deadline and every ordering of signals, as
 * tables of numbers (PROTOCOL B4, B7, B9). */
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "plan.h"
#include "tap/basic.h"

#define MS 1000000LL
#define S_ 1000000000LL

/* The run every table starts from: L = 1 s, m = 200 ms, the last successful
 * renewal sent at T, the command running, nothing done yet. */
#define T (100 * S_)
#define L (1000 * MS)
#define M (200 * MS)
#define IDLE (60 * S_)
/* A case names only what differs from that run: a zero send_ns, margin_ns or
 * idle_ns takes the base's; lease_bounds is the table's. */

struct rcase {
	const char *name;
	struct plan_run p;
	int64_t now;
	enum plan_action want;
	int64_t next; /* for PLAN_WAIT; -1: not checked */
};

static struct plan_run with_base(const struct rcase *c, int lease_bounds)
{
	struct plan_run p = c->p;
	if (!p.send_ns)
		p.send_ns = T;
	p.lease_ns = L;
	if (!p.margin_ns)
		p.margin_ns = M;
	p.lease_bounds = lease_bounds;
	p.grace_ns = 500 * MS;
	if (!p.idle_ns)
		p.idle_ns = IDLE;
	return p;
}

static const char *action_name(enum plan_action a)
{
	static const char *const names[] = { "WAIT",
		                             "LOST_INTERRUPT",
		                             "LOST_KILL",
		                             "LEASE_INTERRUPT",
		                             "LEASE_KILL",
		                             "HOLD_INTERRUPT",
		                             "HOLD_KILL",
		                             "CANCEL_KILL",
		                             "LEFT_GRACE_KILL",
		                             "LEFT_LEASE_KILL",
		                             "SWEEP",
		                             "DONE" };
	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

static void run_table(const char *title, const struct rcase *c, size_t n, int lease_bounds)
{
	for (size_t i = 0; i < n; i++) {
		int64_t next = -1;
		struct plan_run p = with_base(&c[i], lease_bounds);
		enum plan_action a = plan_run(&p, c[i].now, &next);
		int good = a == c[i].want && (a != PLAN_WAIT || c[i].next < 0 || next == c[i].next);
		ok(good, "%s: %s: %s, next T%+lld ms", title, c[i].name, action_name(a),
		   (long long)((next - T) / MS));
		if (!good)
			diag("wanted %s, next T%+lld ms", action_name(c[i].want),
			     (long long)((c[i].next - T) / MS));
	}
}

#define N(c) (sizeof(c) / sizeof((c)[0]))

static void lease_and_lost(void)
{
	const struct rcase c[] = {
		{ "fresh renewal: wait for L/2", { 0 }, T, PLAN_WAIT, T + L / 2 },
		{ "at L/2: SIGINT", { 0 }, T + L / 2, PLAN_LEASE_INTERRUPT, -1 },
		{ "SIGINT sent: wait for L - m",
		  { .lease_int_sent = 1 },
		  T + L / 2,
		  PLAN_WAIT,
		  T + L - M },
		{ "renewal failing, 1 ms before L - m: still waiting",
		  { .lease_int_sent = 1 },
		  T + L - M - MS,
		  PLAN_WAIT,
		  T + L - M },
		{ "renewal failing until L - m: kill the tree",
		  { .lease_int_sent = 1 },
		  T + L - M,
		  PLAN_LEASE_KILL,
		  -1 },
		{ "past L - m without the SIGINT: the SIGINT first",
		  { 0 },
		  T + L,
		  PLAN_LEASE_INTERRUPT,
		  -1 },
		{ "then the kill in the same turn",
		  { .lease_int_sent = 1 },
		  T + L,
		  PLAN_LEASE_KILL,
		  -1 },
		{ "both sent: nothing more for the lease",
		  { .lease_int_sent = 1, .lease_kill_sent = 1 },
		  T + L,
		  PLAN_WAIT,
		  T + L + IDLE },
		{ "the guardian killed first (reported): not again",
		  { .lease_int_sent = 1, .lease_kill_sent = 1, .killing = 1 },
		  T + 2 * L,
		  PLAN_WAIT,
		  T + 2 * L + IDLE },
		{ "a renewal moved the send: the deadlines move with it",
		  { .send_ns = T + 400 * MS },
		  T + L / 2,
		  PLAN_WAIT,
		  T + 400 * MS + L / 2 },
		{ "lost, --on-lost interrupt: SIGINT", { .lost = 1 }, T, PLAN_LOST_INTERRUPT, -1 },
		{ "lost, --on-lost kill: kill the tree",
		  { .lost = 1, .on_lost = ON_LOST_KILL },
		  T,
		  PLAN_LOST_KILL,
		  -1 },
		{ "lost, --on-lost report: nothing but the lease",
		  { .lost = 1, .on_lost = ON_LOST_REPORT },
		  T,
		  PLAN_WAIT,
		  T + L / 2 },
		{ "lost, report: the lease still bounds the command",
		  { .lost = 1, .on_lost = ON_LOST_REPORT },
		  T + L / 2,
		  PLAN_LEASE_INTERRUPT,
		  -1 },
		{ "lost and past L/2: the lost lock's action first",
		  { .lost = 1 },
		  T + L,
		  PLAN_LOST_INTERRUPT,
		  -1 },
		{ "lost, acted on: then the lease's",
		  { .lost = 1, .lost_acted = 1 },
		  T + L,
		  PLAN_LEASE_INTERRUPT,
		  -1 },
		{ "lost after the command exited: nothing to interrupt",
		  { .lost = 1, .exited = 1, .exit_ns = T, .gone = 1 },
		  T + MS,
		  PLAN_DONE,
		  -1 },
	};
	/* nested, or --unsafe-keep-running */
	const struct rcase u[] = {
		{ "no lease deadline", { 0 }, T + 10 * L, PLAN_WAIT, T + 10 * L + IDLE },
		{ "following an outer tflock: look again after idle_ns",
		  { .idle_ns = 100 * MS },
		  T,
		  PLAN_WAIT,
		  T + 100 * MS },
		{ "lost, --on-lost interrupt: SIGINT all the same",
		  { .lost = 1 },
		  T + L,
		  PLAN_LOST_INTERRUPT,
		  -1 },
		{ "lost, --on-lost report: nothing at all",
		  { .lost = 1, .on_lost = ON_LOST_REPORT },
		  T + L,
		  PLAN_WAIT,
		  T + L + IDLE },
	};
	run_table("lease", c, N(c), 1);
	run_table("no lease bound", u, N(u), 0);
}

static void max_hold(void)
{
	const int64_t H = T + 300 * MS; /* --max-hold reached */
	const struct rcase c[] = {
		{ "before --max-hold: wait for it", { .max_hold_at = H }, T, PLAN_WAIT, H },
		{ "--max-hold before L/2: it comes first",
		  { .max_hold_at = H },
		  H,
		  PLAN_HOLD_INTERRUPT,
		  -1 },
		{ "after its SIGINT, with the lease: L/2 comes first",
		  { .max_hold_at = H, .hold_stage = 1 },
		  H,
		  PLAN_WAIT,
		  T + L / 2 },
		{ "the command exited before --max-hold: no SIGINT",
		  { .max_hold_at = H, .exited = 1, .exit_ns = T + 100 * MS },
		  H,
		  PLAN_WAIT,
		  H + PLAN_REAP_NS },
		{ "the lost lock's action before --max-hold's",
		  { .lost = 1, .max_hold_at = H },
		  H,
		  PLAN_LOST_INTERRUPT,
		  -1 },
	};
	const struct rcase u[] = {
		{ "after its SIGINT: the kill at + L/2 - m",
		  { .max_hold_at = H, .hold_stage = 1 },
		  H,
		  PLAN_WAIT,
		  H + L / 2 - M },
		{ "at + L/2 - m: kill the tree",
		  { .max_hold_at = H, .hold_stage = 1 },
		  H + L / 2 - M,
		  PLAN_HOLD_KILL,
		  -1 },
		{ "L/2 - m not positive: the kill m after",
		  { .margin_ns = 600 * MS, .max_hold_at = H, .hold_stage = 1 },
		  H + 599 * MS,
		  PLAN_WAIT,
		  H + 600 * MS },
		{ "both done: nothing more",
		  { .max_hold_at = H, .hold_stage = 2, .killing = 1 },
		  H + L,
		  PLAN_WAIT,
		  H + L + IDLE },
		{ "nested: --max-hold all the same",
		  { .max_hold_at = H },
		  H,
		  PLAN_HOLD_INTERRUPT,
		  -1 },
	};
	run_table("max-hold", c, N(c), 1);
	run_table("max-hold, no lease bound", u, N(u), 0);
	ok(plan_hold_kill_after(L, M) == L / 2 - M, "hold kill after L/2 - m");
	ok(plan_hold_kill_after(L, L / 2) == L / 2, "or m when L/2 - m is 0");
}

static void cancel_and_exit(void)
{
	const struct plan_cancel cx = { T, T + 300 * MS }; /* a cancel at T, its end */
	const int64_t E = T + 100 * MS;                    /* the command's exit */
	const struct rcase c[] = {
		{ "cancelled: wait for the grace's end",
		  { .cancel = cx },
		  T,
		  PLAN_WAIT,
		  T + 300 * MS },
		{ "grace ran out: kill the tree",
		  { .cancel = cx },
		  T + 300 * MS,
		  PLAN_CANCEL_KILL,
		  -1 },
		{ "grace ran out, already killing: not again",
		  { .cancel = cx,
		    .lost = 1,
		    .on_lost = ON_LOST_KILL,
		    .lost_acted = 1,
		    .killing = 1 },
		  T + 300 * MS,
		  PLAN_WAIT,
		  T + L / 2 },
		{ "lease SIGINT and the grace's end at once: the lease first",
		  { .cancel = { T, T + L / 2 } },
		  T + L / 2,
		  PLAN_LEASE_INTERRUPT,
		  -1 },
		{ "lease kill and the grace's end at once: the lease kill",
		  { .lease_int_sent = 1, .cancel = { T, T + L - M } },
		  T + L - M,
		  PLAN_LEASE_KILL,
		  -1 },
		{ "exited, tree gone: done",
		  { .exited = 1, .exit_ns = E, .gone = 1 },
		  E,
		  PLAN_DONE,
		  -1 },
		{ "exited before L/2: no lease SIGINT; wait for what it left",
		  { .exited = 1, .exit_ns = E },
		  T + L / 2,
		  PLAN_WAIT,
		  T + L / 2 + PLAN_REAP_NS },
		{ "exited: --grace's end bounds the wait",
		  { .exited = 1, .exit_ns = E },
		  E + 480 * MS,
		  PLAN_WAIT,
		  E + 500 * MS },
		{ "exited, --grace ran out: kill what it left",
		  { .exited = 1, .exit_ns = E },
		  E + 500 * MS,
		  PLAN_LEFT_GRACE_KILL,
		  -1 },
		{ "exited after L/2: the lease's kill comes before --grace's end",
		  { .lease_int_sent = 1, .exited = 1, .exit_ns = T + 700 * MS },
		  T + L - M,
		  PLAN_LEFT_LEASE_KILL,
		  -1 },
		{ "exited, killing: a sweep at once",
		  { .exited = 1, .exit_ns = E, .killing = 1 },
		  E + 600 * MS,
		  PLAN_SWEEP,
		  -1 },
		{ "exited, killing, just swept: the next sweep",
		  { .exited = 1, .exit_ns = E, .killing = 1, .swept_ns = E + 600 * MS },
		  E + 600 * MS,
		  PLAN_WAIT,
		  E + 600 * MS + PLAN_SWEEP_NS },
		{ "exited, killing, gone: done",
		  { .exited = 1, .exit_ns = E, .killing = 1, .gone = 1 },
		  E + 600 * MS,
		  PLAN_DONE,
		  -1 },
		{ "exited, the grace's end before --grace's: the cancel's kill",
		  { .exited = 1, .exit_ns = E, .cancel = cx },
		  T + 300 * MS,
		  PLAN_CANCEL_KILL,
		  -1 },
		{ "exited, waiting: the grace's end is a deadline too",
		  { .exited = 1, .exit_ns = E, .cancel = cx },
		  T + 280 * MS,
		  PLAN_WAIT,
		  T + 300 * MS },
		{ "exited and gone as the grace ran out: the cancel's kill, then done",
		  { .exited = 1, .exit_ns = E, .gone = 1, .cancel = cx },
		  T + 300 * MS,
		  PLAN_CANCEL_KILL,
		  -1 },
	};
	const struct rcase u[] = {
		{ "exited: --grace only",
		  { .exited = 1, .exit_ns = T + 700 * MS },
		  T + L - M,
		  PLAN_WAIT,
		  T + L - M + PLAN_REAP_NS },
		{ "exited, --grace ran out: kill what it left",
		  { .exited = 1, .exit_ns = E },
		  E + 500 * MS,
		  PLAN_LEFT_GRACE_KILL,
		  -1 },
	};
	run_table("cancel/exit", c, N(c), 1);
	run_table("cancel/exit, no lease bound", u, N(u), 0);
}

/* The same schedule at --time-scale 1, 0.1 and 0.01: every deadline scales
 * with the durations (the caller scales them; the planner has no scale). */
static void time_scale(void)
{
	static const int64_t div[] = { 1, 10, 100 };
	for (size_t i = 0; i < sizeof(div) / sizeof(div[0]); i++) {
		const int64_t l = 120 * S_ / div[i], m = 12 * S_ / div[i], g = 10 * S_ / div[i];
		const int64_t hold = T + 30 * S_ / div[i];
		struct plan_run p;
		int64_t next;
		int good = 1;
		memset(&p, 0, sizeof(p));
		p.send_ns = T;
		p.lease_ns = l;
		p.margin_ns = m;
		p.lease_bounds = 0; /* --max-hold alone first */
		p.grace_ns = g;
		p.idle_ns = IDLE;
		p.max_hold_at = hold;
		good &= plan_run(&p, T, &next) == PLAN_WAIT && next == hold;
		good &= plan_run(&p, hold, &next) == PLAN_HOLD_INTERRUPT;
		p.hold_stage = 1;
		good &= plan_run(&p, hold, &next) == PLAN_WAIT && next == hold + l / 2 - m;
		p.max_hold_at = 0;
		p.lease_bounds = 1;
		good &= plan_run(&p, T + l / 2, &next) == PLAN_LEASE_INTERRUPT;
		p.lease_int_sent = 1;
		good &= plan_run(&p, T + l / 2, &next) == PLAN_WAIT && next == T + l - m;
		good &= plan_run(&p, T + l - m, &next) == PLAN_LEASE_KILL;
		p.exited = 1;
		p.exit_ns = T + l / 4;
		good &= plan_run(&p, T + l / 4 + g, &next) == PLAN_LEFT_GRACE_KILL;
		ok(good, "time scale 1/%lld: --max-hold, L/2, L - m and --grace scale together",
		   (long long)div[i]);
	}
}

/* Carry out an action on p as run.c's loop does. */
static void carry_out(struct plan_run *p, enum plan_action a, int64_t now)
{
	switch (a) {
	case PLAN_LOST_INTERRUPT:
		p->lost_acted = 1;
		break;
	case PLAN_LOST_KILL:
		p->lost_acted = 1;
		p->killing = 1;
		break;
	case PLAN_LEASE_INTERRUPT:
		p->lease_int_sent = 1;
		break;
	case PLAN_LEASE_KILL:
		p->lease_kill_sent = 1;
		p->killing = 1;
		break;
	case PLAN_HOLD_INTERRUPT:
		p->hold_stage = 1;
		break;
	case PLAN_HOLD_KILL:
		p->hold_stage = 2;
		p->killing = 1;
		break;
	case PLAN_CANCEL_KILL:
	case PLAN_LEFT_GRACE_KILL:
	case PLAN_LEFT_LEASE_KILL:
		p->killing = 1;
		break;
	case PLAN_SWEEP:
		p->swept_ns = now;
		break;
	case PLAN_WAIT:
	case PLAN_DONE:
		break;
	}
}

/* Whatever the state and time: asking again until PLAN_WAIT ends, no action
 * comes twice, and a wait's deadline is in the future. */
static void replay(void)
{
	unsigned long seed = 12345;
	int bounded = 1, once = 1, future = 1;
	for (int i = 0; i < 20000; i++) {
		struct plan_run p;
		int64_t now, next;
		unsigned seen = 0;
		int steps = 0;
		enum plan_action a;
#define RND(n) ((seed = seed * 6364136223846793005ULL + 1442695040888963407ULL) >> 33) % (n)
		memset(&p, 0, sizeof(p));
		p.send_ns = T;
		p.lease_ns = L;
		p.margin_ns = M;
		p.lease_bounds = RND(2);
		p.lost = RND(2);
		p.on_lost = (enum on_lost)RND(3);
		p.max_hold_at = RND(2) ? T + (int64_t)RND(2000) * MS : 0;
		p.grace_ns = (int64_t)RND(1000) * MS;
		p.idle_ns = RND(2) ? IDLE : 100 * MS;
		if (RND(2))
			plan_cancel(&p.cancel, SIGINT, T + (int64_t)RND(1000) * MS, p.grace_ns,
			            100 * MS);
		p.exited = RND(2);
		p.exit_ns = T + (int64_t)RND(1500) * MS;
		p.gone = p.exited && RND(3) == 0;
		now = T + (int64_t)RND(2500) * MS;
		while ((a = plan_run(&p, now, &next)) != PLAN_WAIT && a != PLAN_DONE) {
			if (seen & (1u << a))
				once = 0;
			seen |= 1u << a;
			carry_out(&p, a, now);
			if (++steps > 16) {
				bounded = 0;
				break;
			}
		}
		if (a == PLAN_WAIT && next <= now)
			future = 0;
#undef RND
	}
	ok(bounded, "replay: every turn ends in PLAN_WAIT or PLAN_DONE");
	ok(once, "replay: no action twice in a turn");
	ok(future, "replay: a wait is always for a time after now");
}

static void lease_deadlines(void)
{
	struct plan_lease d = plan_lease(T, L, M);
	ok(d.int_at == T + L / 2 && d.kill_at == T + L - M, "lease: SIGINT at L/2, kill at L - m");
	d = plan_lease(T, 1001 * MS, M);
	ok(d.int_at == T + 500500 * 1000LL, "lease: L/2 in nanoseconds, not rounded to ms");
	d = plan_lease(T, 0, M);
	ok(d.int_at == INT64_MAX && d.kill_at == INT64_MAX, "lease 0: never");
}

struct hcase {
	const char *name;
	struct plan_hb h;
	int64_t now;
	enum plan_hb_action want;
	int64_t at;
};

static void heartbeat(void)
{
	const int64_t H = 30 * S_, C = 3 * S_;
	const struct hcase c[] = {
		{ "fresh renewal: a check after C", { T, H, C, T, 0, 0 }, T, PLAN_CHECK, T + C },
		{ "checked: the next check",
		  { T, H, C, T + C, 0, 0 },
		  T + C,
		  PLAN_CHECK,
		  T + 2 * C },
		{ "the renewal before the next check",
		  { T, H, C, T + 28 * S_, 0, 0 },
		  T + 28 * S_,
		  PLAN_RENEW,
		  T + H },
		{ "a check due with the renewal: the renewal",
		  { T, H, C, T + H - C, 0, 0 },
		  T + H - C,
		  PLAN_RENEW,
		  T + H },
		{ "no checks (H <= 3 s): renew at send + H",
		  { T, H, 0, T, 0, 0 },
		  T,
		  PLAN_RENEW,
		  T + H },
		{ "renewal overdue: at once",
		  { T, H, 0, T, 0, 0 },
		  T + 40 * S_,
		  PLAN_RENEW,
		  T + H },
		{ "renewal failing: retry after the drawn delay, no checks",
		  { T, H, C, T + 31 * S_, 2, 700 * MS },
		  T + 31 * S_,
		  PLAN_RENEW,
		  T + 31 * S_ + 700 * MS },
		{ "failing past L - m: still a renewal (the lock refuses and says lost)",
		  { T, H, C, T + 200 * S_, 9, 100 * MS },
		  T + 200 * S_,
		  PLAN_RENEW,
		  T + 200 * S_ + 100 * MS },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int64_t at = -1;
		enum plan_hb_action a = plan_heartbeat(&c[i].h, c[i].now, &at);
		ok(a == c[i].want && at == c[i].at, "heartbeat: %s (%s at T%+lld ms)", c[i].name,
		   a == PLAN_CHECK ? "check" : "renew", (long long)((at - T) / MS));
	}
}

/* A signal sequence: each step's signal, time, and what the deadline becomes. */
struct cstep {
	int sig;
	int64_t at;
	enum plan_cancel_why why;
	int64_t end; /* 0: no cancel */
};

static void cancels(void)
{
	const int64_t G = 10 * S_, TG = 1 * S_; /* --grace, --term-grace */
	static const struct {
		const char *name;
		struct cstep s[4];
	} c[] = {
		{ "GitHub: INT, TERM 7.5 s later cuts to term-grace",
		  { { SIGINT, T, PLAN_CANCEL_GRACE, T + 10 * S_ },
		    { SIGTERM, T + 7500 * MS, PLAN_CANCEL_TERM_GRACE, T + 8500 * MS } } },
		{ "a second INT does not move it",
		  { { SIGINT, T, PLAN_CANCEL_GRACE, T + 10 * S_ },
		    { SIGINT, T + S_, PLAN_CANCEL_SAME, T + 10 * S_ } } },
		{ "HUP first, then QUIT: the grace from the HUP",
		  { { SIGHUP, T, PLAN_CANCEL_GRACE, T + 10 * S_ },
		    { SIGQUIT, T + S_, PLAN_CANCEL_SAME, T + 10 * S_ } } },
		{ "TERM first: the grace, not the term-grace",
		  { { SIGTERM, T, PLAN_CANCEL_GRACE, T + 10 * S_ } } },
		{ "TERM, TERM: the second cuts to term-grace",
		  { { SIGTERM, T, PLAN_CANCEL_GRACE, T + 10 * S_ },
		    { SIGTERM, T + S_, PLAN_CANCEL_TERM_GRACE, T + 2 * S_ } } },
		{ "a TERM that would end later does not move it",
		  { { SIGINT, T, PLAN_CANCEL_GRACE, T + 10 * S_ },
		    { SIGTERM, T + 7500 * MS, PLAN_CANCEL_TERM_GRACE, T + 8500 * MS },
		    { SIGTERM, T + 8 * S_, PLAN_CANCEL_SAME, T + 8500 * MS },
		    { SIGINT, T + 8200 * MS, PLAN_CANCEL_SAME, T + 8500 * MS } } },
		{ "USR1, CHLD: no cancel",
		  { { SIGUSR1, T, PLAN_CANCEL_SAME, 0 }, { SIGCHLD, T, PLAN_CANCEL_SAME, 0 } } },
		{ "USR1 first, INT later: the grace from the INT",
		  { { SIGUSR1, T, PLAN_CANCEL_SAME, 0 },
		    { SIGINT, T + S_, PLAN_CANCEL_GRACE, T + 11 * S_ } } },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct plan_cancel pc = { 0, 0 };
		int64_t first = 0;
		int good = 1;
		for (size_t k = 0; k < 4 && c[i].s[k].sig; k++) {
			const struct cstep *s = &c[i].s[k];
			enum plan_cancel_why w = plan_cancel(&pc, s->sig, s->at, G, TG);
			if (!first && s->why == PLAN_CANCEL_GRACE)
				first = s->at;
			if (w != s->why || pc.end_ns != s->end || pc.first_ns != first) {
				good = 0;
				diag("step %zu: why %d end T%+lld first T%+lld", k, (int)w,
				     (long long)((pc.end_ns - T) / MS),
				     (long long)((pc.first_ns - T) / MS));
			}
		}
		ok(good, "cancel: %s", c[i].name);
	}
	ok(plan_is_cancel(SIGINT) && plan_is_cancel(SIGTERM) && plan_is_cancel(SIGHUP) &&
	           plan_is_cancel(SIGQUIT) && !plan_is_cancel(SIGUSR1) && !plan_is_cancel(SIGPIPE),
	   "cancel signals: INT, TERM, HUP, QUIT");
}

int main(void)
{
	plan_lazy();
	lease_deadlines();
	heartbeat();
	cancels();
	lease_and_lost();
	max_hold();
	cancel_and_exit();
	time_scale();
	replay();
	return 0;
}
