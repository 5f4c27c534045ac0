/*
 * ci — who is running: the CI actor and job URL, or user@host.
 *
 * ci_detect() reads the environment (GitHub Actions, GitLab CI, else generic
 * CI=true, else a person) into struct ci_identity, which owns its strings.
 * who is what Terraform shows as "Who" ("alice@https://github.com/o/r/actions/
 * runs/1/job/2" on CI, "alice@laptop" otherwise), url the job URL or "", job
 * a job id or "".
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
