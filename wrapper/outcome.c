#include "outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "dur.h"
#include "clock.h"
#include "lockinfo.h"
#include "log.h"
#include "report.h"
#include "s3err.h"

/* The one table from the lock engine's outcomes to exit codes (README, "Exit
 * codes"); held and lost give the configured codes (below). */
static const int lock_exit[LOCK_NOUTCOMES] = {
	[LOCK_OK] = 0,
	[LOCK_HELD] = 0,
	[LOCK_LOST] = 0,
	[LOCK_CANCELLED] = 128 + 2, /* callers that saw the signal use 128 + it */
	[LOCK_UNAVAILABLE] = EXIT_UNAVAILABLE,
	[LOCK_FREE] = 0,
	[LOCK_STORE_BROKEN] = EXIT_UNAVAILABLE,
	[LOCK_TRANSPORT] = EXIT_UNAVAILABLE,
	[LOCK_BAD_INPUT] = EXIT_USAGE,
	[LOCK_ERROR] = EXIT_INTERNAL,
};

int outcome_exit_for_lock(int outcome, const struct config *c)
{
	if (outcome < 0 || outcome >= LOCK_NOUTCOMES)
		return EXIT_INTERNAL;
	if (outcome == LOCK_HELD)
		return (int)c->conflict_exit_code;
	if (outcome == LOCK_LOST)
		return (int)c->lost_exit_code;
	return lock_exit[outcome];
}

int outcome_exit_for_error(const struct tf_error *err)
{
	if (err->kind == ERR_USAGE)
		return EXIT_USAGE;
	if (err->kind == ERR_CREDENTIALS || err->kind == ERR_CONNECT || s3err_store_unusable(err))
		return EXIT_UNAVAILABLE;
	return EXIT_INTERNAL;
}

/* --report FILE and, on GitHub Actions, the step summary, outputs and
 * annotations. l is NULL before the lock was set up; r is NULL when the
 * command never ran (not acquired). */
static void write_reports(const struct config *c, const struct lock *l, const struct run_result *r,
                          const struct tfcmd *tf, const char *outcome, const char *kind,
                          int exit_code)
{
	struct report rep;
	struct report_holder hs[LOCK_SEEN_MAX];
	struct lock_stats st;
	struct tf_error err;
	char cmd[512], started[48];
	struct timespec now = clock_wall();
	const char *report_path = c && c->report ? c->report : getenv("TFLOCK_REPORT");
	const char *url = l ? lock_describe_hold(l) : NULL;
	int64_t end;
	if (l)
		lock_get_stats(l, &st);
	else
		memset(&st, 0, sizeof(st));
	end = st.released_ns ? st.released_ns : clock_boot_ns();
	/* no early return when not in CI: report_github() and report_gitlab()
	 * each decide that for their own CI */
	if (report_path && !*report_path)
		report_path = NULL;
	memset(&rep, 0, sizeof(rep));
	err_clear(&err);
	snprintf(cmd, sizeof(cmd), "%s%s%s", tf && tf->program ? tf->program : "",
	         tf && tf->sub ? " " : "", tf && tf->sub ? tf->sub : "");
	if (st.wait_start_ns)
		now.tv_sec -= (clock_boot_ns() - st.wait_start_ns) / NS_PER_S;
	now.tv_nsec = 0;
	lockinfo_format_created(&now, started);
	for (unsigned i = 0; i < st.nseen && i < LOCK_SEEN_MAX; i++) {
		hs[i].who = st.seen[i].who;
		hs[i].operation = st.seen[i].operation;
		hs[i].id = st.seen[i].id;
	}
	rep.lock_url = url ? url : "";
	rep.lock_id = st.acquired_ns ? lock_id(l) : "";
	rep.command = cmd;
	rep.acquired = st.acquired_ns != 0;
	rep.took_over = st.took_over;
	rep.takeover_why = st.takeover_why;
	rep.waited_s = st.wait_start_ns
	                       ? ((st.acquired_ns ? st.acquired_ns : end) - st.wait_start_ns) / 1e9
	                       : 0;
	rep.held_s = st.acquired_ns ? (end - st.acquired_ns) / 1e9 : 0;
	rep.heartbeats = st.heartbeats;
	rep.heartbeat_failures = st.heartbeat_failures;
	rep.requests = st.requests;
	rep.holders = hs;
	rep.nholders = st.nseen < LOCK_SEEN_MAX ? st.nseen : LOCK_SEEN_MAX;
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

static const char *kind_of_exit(const struct outcome *o, int code)
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
	if (o->c && code == (int)o->c->conflict_exit_code)
		return "held";
	if (o->c && code == (int)o->c->lost_exit_code)
		return "lost";
	return "error";
}

void outcome_exit(struct outcome *o, int code, const char *msg, const char *kind)
{
	if (o->reported)
		return;
	o->reported = 1;
	write_reports(o->c, o->l, NULL, o->tf, msg, kind ? kind : kind_of_exit(o, code), code);
}

/* die()'s reporter has no argument: the context outcome_arm() was given */
static struct outcome *armed;

static void report_on_die(int code, const char *msg)
{
	if (armed)
		outcome_exit(armed, code, msg, NULL);
}

void outcome_arm(struct outcome *o, const struct config *c)
{
	o->c = c;
	armed = o;
	die_report_set(report_on_die);
}

void outcome_report_run(struct outcome *o, const struct config *c, const struct lock *l,
                        const struct run_result *r, int nested, int exit_code)
{
	o->reported = 1;
	write_reports(c, l, r, o->tf, r->outcome,
	              r->lost             ? "lost"
	              : r->release_failed ? "release-failed"
	              : nested            ? "re-entered"
	                                  : "released",
	              exit_code);
}

void outcome_summary(const struct lock *l, const struct run_result *r, char *const argv[])
{
	struct lock_stats st;
	char waited[32], held[32];
	lock_get_stats(l, &st);
	dur_format((st.acquired_ns - st.wait_start_ns) / NS_PER_MS, waited, sizeof(waited));
	dur_format(((st.released_ns ? st.released_ns : clock_boot_ns()) - st.acquired_ns) /
	                   NS_PER_MS,
	           held, sizeof(held));
	if (r->lost || r->release_failed)
		log_error("%s %s: waited %s, held %s, %u renewal%s; '%s' exited %d",
		          lock_describe_hold(l), r->outcome, waited, held, st.heartbeats,
		          st.heartbeats == 1 ? "" : "s", argv[0], r->child_code);
	else
		log_info("%s %s: waited %s, held %s, %u renewal%s; '%s' exited %d",
		         lock_describe_hold(l), r->outcome, waited, held, st.heartbeats,
		         st.heartbeats == 1 ? "" : "s", argv[0], r->child_code);
}
