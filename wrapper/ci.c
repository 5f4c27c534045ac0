#include "ci.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "sanitize.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int env_true(const char *name)
{
	const char *v = env(name);
	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static char *local_user(void)
{
	const char *u = env("USER");
	if (!u) {
		struct passwd *pw = getpwuid(getuid());
		u = pw ? pw->pw_name : "unknown";
	}
	return xstrdup(u);
}

void ci_detect(struct ci_identity *id)
{
	char host[256] = "";
	memset(id, 0, sizeof(*id));
	gethostname(host, sizeof(host) - 1);
	if (ci_on_github()) {
		const char *server =
		        env("GITHUB_SERVER_URL") ? env("GITHUB_SERVER_URL") : "https://github.com";
		const char *repo = env("GITHUB_REPOSITORY") ? env("GITHUB_REPOSITORY") : "unknown";
		const char *run = env("GITHUB_RUN_ID") ? env("GITHUB_RUN_ID") : "0";
		const char *attempt = env("GITHUB_RUN_ATTEMPT");
		const char *actor = env("GITHUB_ACTOR") ? env("GITHUB_ACTOR") : "github";
		id->kind = CI_GITHUB;
		if (attempt)
			id->url = xasprintf("%s/%s/actions/runs/%s/attempts/%s", server, repo, run,
			                    attempt);
		else
			id->url = xasprintf("%s/%s/actions/runs/%s", server, repo, run);
		/* unique among jobs running at the same time: see ci.h */
		if (env("GITHUB_RUN_ID") && env("GITHUB_JOB") && env("RUNNER_NAME") && *host)
			id->job = xasprintf("%s/%s/%s/%s@%s", run, attempt ? attempt : "1",
			                    env("GITHUB_JOB"), env("RUNNER_NAME"), host);
		else
			id->job = xstrdup("");
		id->who = xasprintf("%s@%s", actor, id->url);
	} else if (env_true("GITLAB_CI")) {
		const char *actor = env("GITLAB_USER_LOGIN") ? env("GITLAB_USER_LOGIN") : "gitlab";
		id->kind = CI_GITLAB;
		id->url = xstrdup(env("CI_JOB_URL") ? env("CI_JOB_URL") : "");
		id->job = xstrdup(env("CI_JOB_ID") ? env("CI_JOB_ID") : "");
		id->who = xasprintf("%s@%s", actor, *id->url ? id->url : host);
	} else {
		char *u = local_user();
		id->kind = env_true("CI") ? CI_OTHER : CI_NONE;
		id->url = xstrdup("");
		id->job = xstrdup("");
		id->who = xasprintf("%s@%s", u, host);
		free(u);
	}
	/* these go into the lock body, which other people's terraform shows raw, and
	 * `tflock release` matches job against the body: the same stripped text both
	 * ways (sanitize.h) */
	sanitize_strip_all(id->who, id->url, id->job, (char *)NULL);
}

void ci_identity_free(struct ci_identity *id)
{
	if (!id)
		return;
	free(id->who);
	free(id->url);
	free(id->job);
	memset(id, 0, sizeof(*id));
}

int ci_on_github(void)
{
	return env_true("GITHUB_ACTIONS");
}

const char *ci_github_step_summary(void)
{
	return env("GITHUB_STEP_SUMMARY");
}

const char *ci_github_output(void)
{
	return env("GITHUB_OUTPUT");
}

int ci_gitlab_sections(void)
{
	const char *v = env("GITLAB_CI");
	return v && !strcmp(v, "true");
}

const char *ci_commit_sha(void)
{
	return env("GITHUB_SHA") ? env("GITHUB_SHA") : env("CI_COMMIT_SHA");
}

void ci_api_get(struct ci_api *out)
{
	memset(out, 0, sizeof(*out));
	if (env("GITHUB_ACTIONS")) {
		out->kind = CI_GITHUB;
		out->url = env("GITHUB_API_URL") ? env("GITHUB_API_URL") : "https://api.github.com";
		out->project = env("GITHUB_REPOSITORY");
		out->token = env("TFLOCK_GITHUB_TOKEN") ? env("TFLOCK_GITHUB_TOKEN")
		             : env("GITHUB_TOKEN")      ? env("GITHUB_TOKEN")
		                                        : env("GH_TOKEN");
	} else if (env("GITLAB_CI")) {
		out->kind = CI_GITLAB;
		out->url = env("CI_API_V4_URL");
		out->project = env("CI_PROJECT_ID");
		out->token = env("GITLAB_TOKEN");
	} else {
		out->kind = CI_NONE;
	}
}
