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

#endif
