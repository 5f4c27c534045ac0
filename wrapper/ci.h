/*
 * ci — who is running: the CI actor and job URL, or user@host.
 *
 * ci_detect() reads the environment (GitHub Actions, GitLab CI, else generic
 * CI=true, else a person) into struct ci_identity, which owns its strings.
 * who is what Terraform shows as "Who" ("alice@https://github.com/o/r/actions/
 * runs/1/job/2" on CI, "alice@laptop" otherwise), url the job URL or "".
 *
 * job identifies this CI job, or is "" when the environment gives nothing that
 * no other job running at the same time could also have. `tflock release`
 * releases a lock whose body names our job (PROTOCOL B8), so two jobs that
 * can run at once must never get the same non-empty job:
 *   GitLab  CI_JOB_ID: every job (each retry, each parallel:matrix leg) gets its
 *           own id from the instance.
 *   GitHub  "RUN_ID/RUN_ATTEMPT/GITHUB_JOB/RUNNER_NAME@hostname". The legs of a
 *           matrix (and the callers of one reusable workflow) share run id,
 *           attempt and GITHUB_JOB; the environment gives no per-job number
 *           (job.check_run_id exists only as an expression). What tells
 *           running legs apart is the runner: a runner runs one job at a time,
 *           so two jobs running at once run on two runners. A runner's name is
 *           unique within its scope, but a repository-level and an
 *           organisation-level runner may share one, hence the host name too
 *           (GitHub-hosted runners are one fresh machine per job). Empty when
 *           GITHUB_RUN_ID, GITHUB_JOB or RUNNER_NAME is unset. Two legs run
 *           one after the other on one runner do share it: the earlier one has
 *           ended by then, so what it left is left behind.
 *   Other CI and people: "".
 *
 * who, url and job come from CI variables and the user and host names: control
 * and bidi characters (utf8_is_control()) are removed from them (sanitize_strip()),
 * since they are written into the lock body.
 *
 * This module is the only one in wrapper/ that reads CI variables; the others
 * take what they need from the accessors below. Each reads the environment when
 * called (nothing is cached, so what a test sets is seen at once). A returned
 * string points into the environment, unescaped: the caller neither frees nor
 * keeps it past a change of the environment, and escapes it for where it goes
 * (sanitize.h). NULL means unset or empty; nothing here fails or allocates.
 * Which values count as "on" differs by use, exactly as it always has:
 *   ci_detect(), ci_on_github()  GITHUB_ACTIONS, GITLAB_CI, CI: "true" or "1"
 *   ci_gitlab_sections()         GITLAB_CI: exactly "true" (what GitLab sets)
 *   ci_api_get()                 GITHUB_ACTIONS, GITLAB_CI: any non-empty value
 */
#ifndef TFLOCK_CI_H
#define TFLOCK_CI_H

#include "lockinfo.h"

enum ci_kind { CI_NONE, CI_GITHUB, CI_GITLAB, CI_OTHER };

/*
 * cj is what the lock body says about this CI job (PROTOCOL B14.1), so that a
 * waiter can ask the CI whether it has ended: each value only when it passes
 * its check below (else ""), eph 1 on an ephemeral hosted runner:
 *   GitHub  cip "github", srv GITHUB_SERVER_URL (default https://github.com),
 *           proj GITHUB_REPOSITORY, run GITHUB_RUN_ID, att GITHUB_RUN_ATTEMPT,
 *           jid TFLOCK_GITHUB_JOB_ID (the action passes job.check_run_id), eph
 *           when RUNNER_ENVIRONMENT is "github-hosted"
 *   GitLab  cip "gitlab", srv CI_SERVER_URL, proj CI_PROJECT_ID, run
 *           CI_PIPELINE_ID, jid CI_JOB_ID, eph when srv is https://gitlab.com
 *           and CI_RUNNER_DESCRIPTION names a runner of *.runners-manager.gitlab.com
 */
struct ci_identity {
	enum ci_kind kind;
	char *who;
	char *url;
	char *job;
	struct lockinfo_cijob cj;
};

/* A CI API's URL a token may be sent to: https, or loopback written as
 * http://127.0.0.1: or http://[::1]: (the tests' stand-ins) */
int ci_url_may_get_token(const char *url);
/* url's length without trailing slashes (an API base before "/path") */
int ci_url_len(const char *url);

/* B14.1's checks, for what ci_detect() writes and what a waiter reads from a
 * body before it builds a URL (cijob.c). */
int ci_valid_id(const char *s);          /* ^[1-9][0-9]{0,18}$ */
int ci_valid_github_repo(const char *s); /* owner/repo, [A-Za-z0-9_.-]{1,100} each, not . or .. */
/* an https:// URL, or http://127.0.0.1: / http://[::1]: (tests): no user info, query,
 * fragment, space or control character; a trailing '/' is allowed */
int ci_valid_server_url(const char *s);
/* a and b name the same server: equal, trailing slashes aside */
int ci_same_server(const char *a, const char *b);

void ci_detect(struct ci_identity *id);
void ci_identity_free(struct ci_identity *id);

/* On GitHub Actions: GITHUB_ACTIONS is "true" or "1" (ci_detect()'s rule). */
int ci_on_github(void);
/* GitHub's file commands: the files $GITHUB_STEP_SUMMARY and $GITHUB_OUTPUT name. */
const char *ci_github_step_summary(void);
const char *ci_github_output(void);

/* GitLab's collapsible log sections are written: GITLAB_CI is exactly "true". */
int ci_gitlab_sections(void);

/* This job's name, for a parked lock (B14.4): GITHUB_JOB, else CI_JOB_NAME; "" */
const char *ci_job_name(void);

/* The commit this job was started for: GITHUB_SHA, else CI_COMMIT_SHA. */
const char *ci_commit_sha(void);

/*
 * What asking the forge's API how two commits relate needs (gitapi.c). kind is
 * CI_GITHUB when GITHUB_ACTIONS is set, else CI_GITLAB when GITLAB_CI is, else
 * CI_NONE with the rest NULL.
 *   GitHub  url GITHUB_API_URL (default "https://api.github.com"), project
 *           GITHUB_REPOSITORY ("owner/repo"), token TFLOCK_GITHUB_TOKEN (the
 *           action's, kept from the command), else GITHUB_TOKEN, else GH_TOKEN
 *   GitLab  url CI_API_V4_URL (no default), project CI_PROJECT_ID, token
 *           TFLOCK_GITLAB_TOKEN, else GITLAB_TOKEN
 * url is not checked here (gitapi.c sends a token only over https or to
 * loopback). A token is a secret: never logged, never in a message.
 */
struct ci_api {
	enum ci_kind kind;
	const char *url, *project, *token;
	/* B14.2: the web server the waiter's own jobs run on (GITHUB_SERVER_URL,
	 * default https://github.com; CI_SERVER_URL). GitLab's token for the jobs
	 * API is TFLOCK_GITLAB_TOKEN, else GITLAB_TOKEN (read_api). */
	const char *server;
};
void ci_api_get(struct ci_api *out);

#endif
