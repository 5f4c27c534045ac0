/*
 * report — what happened, told once the run is over: a JSON document, the
 * GitHub Actions job summary, step outputs and annotations, GitLab log
 * sections.
 *
 * The caller fills struct report; every pointer in it is borrowed and only read
 * during the call. A NULL string counts as "". Nothing here is secret, but much
 * of it comes from other people: a holder's Who/Operation/ID come from the lock
 * object in the bucket, the outcome and command quote them. So every string is
 * escaped here, for where it goes, by sanitize.h's one set of rules: JSON
 * (buf_add_json_string(), invalid UTF-8 as U+FFFD), Markdown
 * (sanitize_markdown()), workflow commands (sanitize_workflow()), output files
 * (sanitize_heredoc()), a terminal (sanitize_text()); controls, bidi controls
 * and invalid bytes are shown as \xNN / \uNNNN / \n everywhere but JSON. No
 * value can add a JSON key, a table row, a workflow command, a step output or
 * a line of its own.
 *
 * Errors: report_write_json(), report_github() and report_gitlab() return 0 or
 * ERR_SYSTEM with err filled ("cannot write report \"PATH\": REASON").
 * report_github() tries every destination even after one fails and reports the
 * first failure.
 */
#ifndef TFLOCK_REPORT_H
#define TFLOCK_REPORT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "error.h"

/* Version of the JSON document ("version" key); bumped on incompatible change. */
#define REPORT_JSON_VERSION 1

struct report_holder {
	const char *who, *operation, *id; /* a holder seen while waiting */
};

struct report {
	const char *lock_url; /* s3://bucket/key.tflock */
	const char *lock_id;  /* our ID ("" if never acquired) */
	const char *command;  /* argv joined for display (argv[0] + subcommand) */
	int acquired, took_over;
	const char *takeover_why; /* why (B14.3), or NULL/"" */
	double waited_s, held_s;  /* seconds */
	unsigned heartbeats, heartbeat_failures, requests;
	const struct report_holder *holders;
	size_t nholders;
	int child_ran;
	int child_status_code;    /* exit code or 128+signal */
	int child_signal;         /* 0, or the signal that killed the child */
	int exit_code;            /* tflock's own exit status */
	const char *outcome;      /* "released", "LOST: ...", "release FAILED: ...",
				     "not acquired: held by ..." */
	const char *outcome_kind; /* released | re-entered | lost | release-failed | held |
				     refused | cancelled | unavailable | usage | error */
	const char *started_utc;  /* RFC 3339 */
};

/*
 * Write the report as one JSON document (2-space indented, ending in a
 * newline) to path, atomically: a temporary file in the same directory
 * (O_EXCL, mode 0666 & ~umask), fsync, rename over path, so a reader sees the
 * old file or the whole new one, never a part. path "-" writes to stdout
 * instead (not atomic). Keys, in this order:
 *   version (number), lock, id (string; null when empty), command,
 *   acquired, took_over (booleans), takeover_reason (string: why the
 *   takeover happened, the lease or the holder's CI job, B14.3; null without
 *   one), started (string; null when NULL),
 *   waited_seconds, held_seconds (numbers, millisecond precision),
 *   heartbeats, heartbeat_failures, requests (numbers),
 *   holders_seen [{who, operation, id}],
 *   child {ran (boolean), exit_code (number; null when it did not run),
 *          signal (number; null when not killed by a signal)},
 *   exit_code (number), outcome, outcome_kind (strings).
 */
int report_write_json(const struct report *r, const char *path, struct tf_error *err);

/*
 * On GitHub Actions (ci_on_github(): GITHUB_ACTIONS "true" or "1"; otherwise a
 * no-op returning 0):
 *  - appends a Markdown table to the file $GITHUB_STEP_SUMMARY names;
 *  - appends the step outputs lock-id, waited-seconds, held-seconds, outcome
 *    and outcome-kind to $GITHUB_OUTPUT, each as "name<<DELIM", the value
 *    (escaped: one line), "DELIM", with a random 128-bit DELIM
 *    ("ghadelimiter_<32 hex>") that does not occur in the value;
 *  - prints workflow commands on stdout (where the runner reads them):
 *    one "::error title=...::" (or "::warning", for cancelled) for every
 *    outcome kind but released and re-entered: the title names the cause, the
 *    message is "LOCK: OUTCOME (exit N)", then, after a %0A, "Fix: " and what
 *    to do (the same table as report_gitlab()); "::warning title=...::" when
 *    we took over a stale lock and when we waited for other holders. Data is
 *    escaped as for a terminal, then % CR LF -> %25 %0D %0A, properties also
 *    : , -> %3A %2C, so each command is exactly one line.
 * An unset or empty variable skips its destination.
 */
int report_github(const struct report *r, struct tf_error *err);

/*
 * GitLab collapsible log sections:
 *   "\e[0Ksection_start:<unix time>:<name>[collapsed=true]\r\e[0K<title>\n"
 *   "\e[0Ksection_end:<unix time>:<name>\r\e[0K\n"
 * GitLab accepts names of [A-Za-z0-9_.-] only: other bytes become '_' (an
 * empty name becomes "section"). The title is escaped (sanitize_text(): no
 * control, CR or ESC of its own). out NULL means stdout; out is flushed. The
 * _at variants take the time as an argument (tests).
 */
void report_gitlab_section_start(const char *name, const char *title, FILE *out);
void report_gitlab_section_end(const char *name, FILE *out);
void report_gitlab_section_start_at(const char *name, const char *title, time_t now, FILE *out);
void report_gitlab_section_end_at(const char *name, time_t now, FILE *out);

/*
 * On GitLab CI (ci_gitlab_sections(): GITLAB_CI exactly "true"; otherwise a
 * no-op returning 0), for every outcome kind but released and re-entered, one
 * log section on stderr, the counterpart of report_github()'s annotation, from
 * the same table:
 *   section_start (name "tflock_<kind>", not collapsed for an error, collapsed
 *                  for a warning (cancelled); title naming the cause, e.g.
 *                  "tflock: not acquired, the lock is held")
 *   LOCK: OUTCOME (exit N)
 *   Fix: what to do next
 *   section_end
 * Both body lines are escaped with sanitize_text() (one line each, no CR or
 * ESC of their own), so foreign text in the outcome can neither end the
 * section nor start one. Written with one fwrite and flushed.
 * report_gitlab_at() does the same whatever GITLAB_CI says, at time now, to out
 * (NULL: stderr).
 */
int report_gitlab(const struct report *r, struct tf_error *err);
int report_gitlab_at(const struct report *r, time_t now, FILE *out, struct tf_error *err);

/* s as a JSON string literal, appended to b: buf_add_json_string(b, s, 0) (UTF-8
 * kept, invalid bytes become U+FFFD, controls, DEL, C1, bidi controls and
 * U+2028/U+2029 \u-escaped, no "##["); NULL is "". (The lock body has its own
 * Go-exact writer in lockinfo.c.) */
void report_json_string(struct buf *b, const char *s);

/* Write b to path atomically (a temporary file in its directory, fsync,
 * rename), created with mode (& ~umask); what names it in errors ("report"). */
int report_write_atomic(const char *path, const struct buf *b, mode_t mode, const char *what,
                        struct tf_error *err);

/* Durations as the reports show them: "0.4s", "42s", "1m20s", "1h2m3s". */
void report_format_duration(double seconds, char *buf, size_t size);

#endif
