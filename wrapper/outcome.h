/*
 * outcome — how an invocation of tflock ends: the exit code an error maps to,
 * and what a run reports when it ends (the --report file, GitHub Actions'
 * step summary, outputs and annotation, GitLab's log section, the summary
 * line), however it ends.
 *
 * A run reports every exit (issue 16.2): the end of its command
 * (outcome_report_run()), an outcome decided before the command ran
 * (outcome_exit(): not acquired, held, cancelled, refused) and, once armed,
 * every die() (outcome_arm()). struct outcome is the context those reports
 * read; it borrows everything it points to, and a report is written once:
 * the first of these calls sets reported, later ones do nothing.
 *
 * report.h escapes what it writes; nothing here prints foreign text itself
 * but through log.h, which escapes too. Failing to write a report is logged
 * (an error for --report, a warning for a CI's files), never fatal.
 */
#ifndef TFLOCK_OUTCOME_H
#define TFLOCK_OUTCOME_H

#include "config.h"
#include "error.h"
#include "lock.h"
#include "run.h"
#include "tfcmd.h"

struct outcome {
	const struct config *c; /* set by outcome_arm(); NULL: not armed (a nested run) */
	const struct lock *l;   /* NULL until the lock is set up */
	const struct tfcmd *tf; /* NULL until the run looks at its command */
	int reported;
};

/* The exit code for an error from a module: 64 usage, 69 store unusable
 * (credentials, the store's own refusals, a failed self-test, no connection),
 * else 70. */
int outcome_exit_for_error(const struct tf_error *err);
/* The exit code for a lock engine outcome (lock.h), from one table: held and
 * lost give c's --conflict-exit-code and --lost-exit-code; cancelled 130 (a
 * caller that saw the signal uses 128 + it). */
int outcome_exit_for_lock(int outcome, const struct config *c);

/* From now on every die() in this process reports through o, with c's
 * --report and exit codes. o must outlive the process's last die(). */
void outcome_arm(struct outcome *o, const struct config *c);

/* Report an exit before the command ran: msg is the outcome, kind the
 * outcome kind (NULL: derived from code). Once per run. */
void outcome_exit(struct outcome *o, int code, const char *msg, const char *kind);

/* Report the end of a run whose command ran (r), with c's --report; kind as
 * the run ended: lost, release-failed, re-entered (nested) or released. */
void outcome_report_run(struct outcome *o, const struct config *c, const struct lock *l,
                        const struct run_result *r, int nested, int exit_code);

/* The line a direct run ends with: "LOCK released: waited 1s, held 4s, 2
 * renewals; 'terraform' exited 0" (an error when lost or not released). */
void outcome_summary(const struct lock *l, const struct run_result *r, char *const argv[]);

#endif
