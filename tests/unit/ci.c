#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ci.h"
#include "tap/basic.h"

static const char *const vars[] = {
	"GITHUB_ACTIONS",     "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID",
	"GITHUB_RUN_ATTEMPT", "GITHUB_ACTOR",      "GITHUB_JOB",        "GITLAB_CI",
	"GITLAB_USER_LOGIN",  "CI_JOB_URL",        "CI_JOB_ID",         "CI",
	"RUNNER_NAME",
};

static void clear(void)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static int ci_free_null(void *unused)
{
	ci_identity_free(NULL);
	return 0;
}

int main(void)
{
	struct ci_identity id;
	char host[256] = "", want[512];

	plan_lazy();
	gethostname(host, sizeof(host) - 1);

	/* a person */
	clear();
	setenv("USER", "alice", 1);
	ci_detect(&id);
	is_int(CI_NONE, id.kind, "no CI");
	snprintf(want, sizeof(want), "alice@%s", host);
	is_string(want, id.who, "who is user@host");
	is_string("", id.url, "no url");
	is_string("", id.job, "no job");
	ci_identity_free(&id);
	ok(id.who == NULL && id.url == NULL, "free clears the record");

	/* generic CI */
	setenv("CI", "true", 1);
	ci_detect(&id);
	is_int(CI_OTHER, id.kind, "CI=true is other CI");
	is_string(want, id.who, "who still user@host");
	ci_identity_free(&id);
	setenv("CI", "false", 1);
	ci_detect(&id);
	is_int(CI_NONE, id.kind, "CI=false is no CI");
	ci_identity_free(&id);

	/* GitHub Actions */
	clear();
	setenv("GITHUB_ACTIONS", "true", 1);
	setenv("GITHUB_REPOSITORY", "o/r", 1);
	setenv("GITHUB_RUN_ID", "123", 1);
	setenv("GITHUB_ACTOR", "octocat", 1);
	setenv("GITHUB_JOB", "plan", 1);
	ci_detect(&id);
	is_int(CI_GITHUB, id.kind, "GitHub detected");
	is_string("", id.job, "no RUNNER_NAME: no job identity (matrix legs would share it)");
	ci_identity_free(&id);
	setenv("RUNNER_NAME", "GitHub Actions 7", 1);
	ci_detect(&id);
	is_string("https://github.com/o/r/actions/runs/123", id.url, "default server url");
	snprintf(want, sizeof(want), "123/1/plan/GitHub Actions 7@%s", host);
	is_string(want, id.job, "job without attempt: run/1/job/runner@host");
	is_string("octocat@https://github.com/o/r/actions/runs/123", id.who, "who");
	ci_identity_free(&id);
	setenv("GITHUB_SERVER_URL", "https://ghe.example.com", 1);
	setenv("GITHUB_RUN_ATTEMPT", "2", 1);
	ci_detect(&id);
	is_string("https://ghe.example.com/o/r/actions/runs/123/attempts/2", id.url,
	          "enterprise server and attempt");
	snprintf(want, sizeof(want), "123/2/plan/GitHub Actions 7@%s", host);
	is_string(want, id.job, "job with attempt");
	ci_identity_free(&id);
	setenv("GITLAB_CI", "true", 1);
	ci_detect(&id);
	is_int(CI_GITHUB, id.kind, "GitHub wins over GitLab");
	ci_identity_free(&id);

	/* GitHub with nothing else set */
	clear();
	setenv("GITHUB_ACTIONS", "1", 1);
	ci_detect(&id);
	is_int(CI_GITHUB, id.kind, "GITHUB_ACTIONS=1");
	is_string("github@https://github.com/unknown/actions/runs/0", id.who, "fallbacks");
	is_string("", id.job, "no run, job or runner: no job identity");
	ci_identity_free(&id);

	/* two legs of one matrix job: same run, attempt and job, other runners */
	{
		char leg_a[512];
		clear();
		setenv("GITHUB_ACTIONS", "true", 1);
		setenv("GITHUB_RUN_ID", "9876", 1);
		setenv("GITHUB_RUN_ATTEMPT", "1", 1);
		setenv("GITHUB_JOB", "plan", 1);
		setenv("RUNNER_NAME", "runner-a", 1);
		ci_detect(&id);
		snprintf(leg_a, sizeof(leg_a), "%s", id.job);
		ci_identity_free(&id);
		setenv("RUNNER_NAME", "runner-b", 1);
		ci_detect(&id);
		ok(*leg_a && *id.job && strcmp(leg_a, id.job) != 0,
		   "matrix legs on two runners get two job identities (%s, %s)", leg_a, id.job);
		ci_identity_free(&id);
		setenv("RUNNER_NAME", "runner-a", 1);
		ci_detect(&id);
		is_string(leg_a, id.job, "the same leg's later step gets the same identity");
		ci_identity_free(&id);
		setenv("GITHUB_RUN_ATTEMPT", "2", 1);
		ci_detect(&id);
		ok(strcmp(leg_a, id.job) != 0, "a re-run attempt is another job");
		ci_identity_free(&id);
		/* GitLab: parallel:matrix legs differ in CI_JOB_ID */
		clear();
		setenv("GITLAB_CI", "true", 1);
		setenv("CI_JOB_ID", "501", 1);
		ci_detect(&id);
		snprintf(leg_a, sizeof(leg_a), "%s", id.job);
		ci_identity_free(&id);
		setenv("CI_JOB_ID", "502", 1);
		ci_detect(&id);
		ok(strcmp(leg_a, id.job) != 0, "GitLab legs get two job identities");
		ci_identity_free(&id);
	}

	/* GitLab */
	clear();
	setenv("GITLAB_CI", "true", 1);
	setenv("GITLAB_USER_LOGIN", "bob", 1);
	setenv("CI_JOB_URL", "https://gitlab.example.com/g/p/-/jobs/77", 1);
	setenv("CI_JOB_ID", "77", 1);
	setenv("CI", "true", 1);
	ci_detect(&id);
	is_int(CI_GITLAB, id.kind, "GitLab detected");
	is_string("https://gitlab.example.com/g/p/-/jobs/77", id.url, "job url");
	is_string("77", id.job, "job id");
	is_string("bob@https://gitlab.example.com/g/p/-/jobs/77", id.who, "who");
	ci_identity_free(&id);
	unsetenv("CI_JOB_URL");
	unsetenv("GITLAB_USER_LOGIN");
	ci_detect(&id);
	snprintf(want, sizeof(want), "gitlab@%s", host);
	is_string(want, id.who, "no job url: gitlab@host");
	is_string("", id.url, "empty url");
	ci_identity_free(&id);
	ok(!id.who && !id.url && !id.job, "ci_identity_free empties it");
	ok_returns(ci_free_null, NULL, "ci_identity_free(NULL) returns");

	/* CI variables go into the lock body: controls and bidi stripped */
	clear();
	setenv("GITLAB_CI", "true", 1);
	setenv("GITLAB_USER_LOGIN", "eve\x1b]0;t\x07\n::add-mask::x", 1);
	setenv("CI_JOB_URL", "https://g.example/j\xe2\x80\xae/1\r", 1);
	setenv("CI_JOB_ID", "7\x7f\xc2\x85", 1);
	ci_detect(&id);
	is_string("eve]0;t::add-mask::x@https://g.example/j/1", id.who,
	          "who: controls and bidi stripped");
	is_string("https://g.example/j/1", id.url, "url: stripped");
	is_string("7", id.job, "job: DEL and C1 stripped");
	ci_identity_free(&id);
	clear();
	return 0;
}
