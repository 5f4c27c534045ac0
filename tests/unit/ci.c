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
};

static void clear(void)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
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
	is_string("https://github.com/o/r/actions/runs/123", id.url, "default server url");
	is_string("123/1/plan", id.job, "job without attempt");
	is_string("octocat@https://github.com/o/r/actions/runs/123", id.who, "who");
	ci_identity_free(&id);
	setenv("GITHUB_SERVER_URL", "https://ghe.example.com", 1);
	setenv("GITHUB_RUN_ATTEMPT", "2", 1);
	ci_detect(&id);
	is_string("https://ghe.example.com/o/r/actions/runs/123/attempts/2", id.url,
	          "enterprise server and attempt");
	is_string("123/2/plan", id.job, "job with attempt");
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
	is_string("0/1/job", id.job, "fallback job");
	ci_identity_free(&id);

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
	ci_identity_free(NULL);
	ok(1, "ci_identity_free(NULL) is safe");
	clear();
	return 0;
}
