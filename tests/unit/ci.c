#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ci.h"
#include "tap/basic.h"

static const char *const vars[] = {
	"GITHUB_ACTIONS",     "GITHUB_SERVER_URL",   "GITHUB_REPOSITORY",   "GITHUB_RUN_ID",
	"GITHUB_RUN_ATTEMPT", "GITHUB_ACTOR",        "GITHUB_JOB",          "GITLAB_CI",
	"GITLAB_USER_LOGIN",  "CI_JOB_URL",          "CI_JOB_ID",           "CI",
	"RUNNER_NAME",        "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT",       "GITHUB_SHA",
	"CI_COMMIT_SHA",      "GITHUB_API_URL",      "TFLOCK_GITHUB_TOKEN", "GITHUB_TOKEN",
	"GH_TOKEN",           "CI_API_V4_URL",       "CI_PROJECT_ID",       "GITLAB_TOKEN",
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

/* The predicates: which values count as "on", per use (ci.h). */
static void test_predicates(void)
{
	static const struct {
		const char *value; /* NULL: unset */
		int github, gitlab_sections, api;
	} cases[] = {
		{ NULL, 0, 0, 0 },   { "", 0, 0, 0 },      { "true", 1, 1, 1 }, { "1", 1, 0, 1 },
		{ "TRUE", 0, 0, 1 }, { "false", 0, 0, 1 }, { "yes", 0, 0, 1 },
	};
	struct ci_api api;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *shown = cases[i].value ? cases[i].value : "(unset)";
		clear();
		if (cases[i].value)
			setenv("GITHUB_ACTIONS", cases[i].value, 1);
		is_int(cases[i].github, ci_on_github(), "ci_on_github: GITHUB_ACTIONS=%s", shown);
		ci_api_get(&api);
		is_int(cases[i].api ? CI_GITHUB : CI_NONE, api.kind,
		       "ci_api_get: GITHUB_ACTIONS=%s", shown);
		clear();
		if (cases[i].value)
			setenv("GITLAB_CI", cases[i].value, 1);
		is_int(cases[i].gitlab_sections, ci_gitlab_sections(),
		       "ci_gitlab_sections: GITLAB_CI=%s", shown);
		ci_api_get(&api);
		is_int(cases[i].api ? CI_GITLAB : CI_NONE, api.kind, "ci_api_get: GITLAB_CI=%s",
		       shown);
	}
	/* GitLab's "1" still makes a GitLab identity (ci_detect's rule) */
	{
		struct ci_identity id;
		clear();
		setenv("GITLAB_CI", "1", 1);
		ci_detect(&id);
		is_int(CI_GITLAB, id.kind, "ci_detect: GITLAB_CI=1 is GitLab");
		ci_identity_free(&id);
	}
	/* both set: GitHub's API is asked, and both reporters are on */
	clear();
	setenv("GITHUB_ACTIONS", "true", 1);
	setenv("GITLAB_CI", "true", 1);
	ci_api_get(&api);
	is_int(CI_GITHUB, api.kind, "ci_api_get: GitHub first");
	ok(ci_on_github() && ci_gitlab_sections(), "both platforms' reports are on");
	clear();
}

static void test_values(void)
{
	struct ci_api api;

	/* GitHub's file commands */
	clear();
	ok(!ci_github_step_summary() && !ci_github_output(), "no step summary, no outputs file");
	setenv("GITHUB_STEP_SUMMARY", "", 1);
	setenv("GITHUB_OUTPUT", "", 1);
	ok(!ci_github_step_summary() && !ci_github_output(), "empty variables are unset");
	setenv("GITHUB_STEP_SUMMARY", "/r/summary", 1);
	setenv("GITHUB_OUTPUT", "/r/output", 1);
	is_string("/r/summary", ci_github_step_summary(), "the step summary file");
	is_string("/r/output", ci_github_output(), "the outputs file");

	/* the job's commit */
	clear();
	ok(!ci_commit_sha(), "no commit outside CI");
	setenv("CI_COMMIT_SHA", "bbbb", 1);
	is_string("bbbb", ci_commit_sha(), "GitLab's CI_COMMIT_SHA");
	setenv("GITHUB_SHA", "", 1);
	is_string("bbbb", ci_commit_sha(), "an empty GITHUB_SHA is skipped");
	setenv("GITHUB_SHA", "aaaa", 1);
	is_string("aaaa", ci_commit_sha(), "GITHUB_SHA first");

	/* GitHub's API */
	clear();
	setenv("GITHUB_ACTIONS", "true", 1);
	ci_api_get(&api);
	ok(api.kind == CI_GITHUB && !strcmp(api.url, "https://api.github.com") && !api.project &&
	           !api.token,
	   "GitHub: the default API URL, no repository, no token");
	setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3", 1);
	setenv("GITHUB_REPOSITORY", "o/r", 1);
	setenv("GH_TOKEN", "gh", 1);
	ci_api_get(&api);
	is_string("https://ghe.example.com/api/v3", api.url, "GitHub: GITHUB_API_URL");
	is_string("o/r", api.project, "GitHub: the repository");
	is_string("gh", api.token, "GitHub: GH_TOKEN last");
	setenv("GITHUB_TOKEN", "ghs", 1);
	ci_api_get(&api);
	is_string("ghs", api.token, "GitHub: GITHUB_TOKEN before GH_TOKEN");
	setenv("TFLOCK_GITHUB_TOKEN", "action", 1);
	ci_api_get(&api);
	is_string("action", api.token, "GitHub: TFLOCK_GITHUB_TOKEN first");
	setenv("TFLOCK_GITHUB_TOKEN", "", 1);
	ci_api_get(&api);
	is_string("ghs", api.token, "GitHub: an empty TFLOCK_GITHUB_TOKEN is skipped");

	/* GitLab's API */
	clear();
	setenv("GITLAB_CI", "true", 1);
	setenv("GITHUB_TOKEN", "ghs", 1);
	ci_api_get(&api);
	ok(api.kind == CI_GITLAB && !api.url && !api.project && !api.token,
	   "GitLab: no default URL, no project, GitHub's token not taken");
	setenv("CI_API_V4_URL", "https://gitlab.example.com/api/v4", 1);
	setenv("CI_PROJECT_ID", "42", 1);
	setenv("GITLAB_TOKEN", "glpat", 1);
	ci_api_get(&api);
	is_string("https://gitlab.example.com/api/v4", api.url, "GitLab: CI_API_V4_URL");
	is_string("42", api.project, "GitLab: CI_PROJECT_ID");
	is_string("glpat", api.token, "GitLab: GITLAB_TOKEN");

	/* neither */
	clear();
	setenv("CI", "true", 1);
	setenv("GITHUB_TOKEN", "ghs", 1);
	ci_api_get(&api);
	ok(api.kind == CI_NONE && !api.url && !api.project && !api.token,
	   "other CI: no API, every field NULL");
	clear();
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

	test_predicates();
	test_values();
	clear();
	return 0;
}
