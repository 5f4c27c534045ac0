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

enum ci_kind { CI_NONE, CI_GITHUB, CI_GITLAB, CI_OTHER };

struct ci_identity {
	enum ci_kind kind;
	char *who;
	char *url;
	char *job;
};

void ci_detect(struct ci_identity *id);
void ci_identity_free(struct ci_identity *id);

/* On GitHub Actions: GITHUB_ACTIONS is "true" or "1" (ci_detect()'s rule). */
int ci_on_github(void);
/* GitHub's file commands: the files $GITHUB_STEP_SUMMARY and $GITHUB_OUTPUT name. */
const char *ci_github_step_summary(void);
const char *ci_github_output(void);

/* GitLab's collapsible log sections are written: GITLAB_CI is exactly "true". */
int ci_gitlab_sections(void);

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
 *           GITLAB_TOKEN
 * url is not checked here (gitapi.c sends a token only over https or to
 * loopback). A token is a secret: never logged, never in a message.
 */
struct ci_api {
	enum ci_kind kind;
	const char *url, *project, *token;
};
void ci_api_get(struct ci_api *out);

#endif
